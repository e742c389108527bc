"""The per-sample HTML report: one self-contained page a molecular lab can act on.

Inline CSS and SVG only (no script, font, image or link to anything outside the file), so
it opens from a USB stick and prints to PDF. Every string that comes from the inputs
(sample, gene, transcript, contig, file and read names, notes) goes through :func:`esc`,
in HTML text, attributes and SVG alike. Apart from the date, the page is a function of
its inputs.

The exon structures of the reported transcripts come from the annotation, which is
passed next to the :class:`~imtfusion.results.SampleResult` (anything with the two
look-ups of :class:`TranscriptSource`, e.g. an :class:`~imtfusion.annotation.Annotation`).
Without it the report is complete except for the exon drawings.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from typing import TYPE_CHECKING, Iterable, Protocol, Sequence

from imtfusion.annotation import Transcript
from imtfusion.bamio import is_url
from imtfusion.callrecord import CallRecord, call_record
from imtfusion.diagram import (
    COLOUR_3,
    COLOUR_5,
    COLOUR_BREAK,
    COLOUR_KINASE,
    COLOUR_LOST,
    Partner,
    esc,
    exon_profile_svg,
    fusion_svg,
    gene_coverage_svg,
)
from imtfusion.lod import base_status, percent, verdict_sentence
from imtfusion.params import CallParameters
from imtfusion.report_words import WORDS_CSS, words_section_html
from imtfusion.specimen import signoff_html, specimen_html

if TYPE_CHECKING:  # pragma: no cover
    from imtfusion.calling import Candidate
    from imtfusion.knowledge import KnownFusion
    from imtfusion.model import ReadExample
    from imtfusion.results import SampleResult

__all__ = ["CSS", "STATUS_CLASS", "TranscriptSource", "esc", "headline", "render_sample_report", "status_badge"]

READ_WINDOW = 50  # read bases shown on each side of the junction
MAX_DISCARDED_ROWS = 50


class TranscriptSource(Protocol):
    """What the report needs from the annotation (an ``Annotation`` has both)."""

    def transcript(self, transcript_id: str) -> Transcript: ...

    def canonical_transcript(self, gene_id: str, preference: Iterable[str] = ...) -> Transcript | None: ...


CSS = """
:root{--c5:%(c5)s;--c3:%(c3)s;--brk:%(brk)s;--kin:%(kin)s;--lost:%(lost)s}
*{box-sizing:border-box}
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:1.2em auto;max-width:64em;padding:0 1em;
color:#1f2933;line-height:1.4;font-size:15px}
h1{font-size:1.55em;margin:.1em 0 .1em}h1 small{font-weight:400;color:#5f6b7a;font-size:.6em;display:block}
h2{font-size:1.2em;border-bottom:2px solid #d5d9e0;padding-bottom:.15em;margin-top:1.7em}
h3{font-size:1.08em;margin:.1em 0 .35em}h4{font-size:.95em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0;font-size:.88em}
th,td{border:1px solid #d5d9e0;padding:.22em .5em;text-align:left;vertical-align:top}
th{background:#f1f3f6;font-weight:600}td.nw{white-space:nowrap}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.meta{width:100%%}.meta td:first-child{font-weight:600;white-space:nowrap;width:11em;background:#f8f9fb}
.mono,code{font-family:Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.86em}
.wrap{word-break:break-all;overflow-wrap:anywhere}
.note{color:#5f6b7a;font-size:.88em}
.verdicts{display:grid;gap:.35em;margin:.5em 0}
.verdict{display:grid;grid-template-columns:6.5em 12.5em 1fr;align-items:baseline;gap:.6em;padding:.45em .7em;
border-radius:4px;border:1px solid;border-left-width:7px}
.verdict .gene{font-weight:700;font-size:1.1em}.verdict .state{font-weight:700;letter-spacing:.02em}
.v-detected{background:#fdecea;border-color:#c0392b;color:#7b1d14}
.v-notdetected{background:#eaf6ee;border-color:#2e8b57;color:#1d5235}
.v-notassessable{background:#fff6dc;border-color:#c99a06;color:#6b5100;border-left-style:double}
.v-failed{background:#2d2d2d;border-color:#000;color:#fff}
.detected{background:#fde2e1;color:#8a1410;font-weight:700}.notdetected{background:#e3f4e6;color:#1d5e2a;font-weight:700}
.notassessable{background:#fff3cd;color:#7a5a00;font-weight:700}.failed{background:#333;color:#fff;font-weight:700}
.imbalance{background:#fbe3d0;color:#8a3b00;font-weight:700}.ati{background:#e6eef8;color:#23466e;font-weight:700}
.v-imbalance{background:#fdf0e6;border-color:#d35400;color:#7a3300}
.v-ati{background:#eef3fa;border-color:#4a6fa5;color:#23466e}
.badge{display:inline-block;padding:.05em .5em;border-radius:3px;font-weight:700;font-size:.82em;letter-spacing:.03em;
border:1px solid;vertical-align:.1em}
.conf-high{background:#c0392b;color:#fff;border-color:#c0392b}.conf-medium{background:#f4b860;color:#3d2a00;border-color:#d9962f}
.conf-low{background:#fff;color:#6b5100;border-color:#c99a06}
.card{border:1px solid #cfd5de;border-radius:6px;padding:.7em 1em .8em;margin:1em 0;background:#fff}
.card .id{color:#5f6b7a;font-size:.85em}
.headline{font-size:1.12em;line-height:1.35}
.headline .g5{color:var(--c5)}.headline .g3{color:var(--c3)}
.facts{display:grid;grid-template-columns:1fr 1fr;gap:0 1.2em}
.facts table{width:100%%}.facts td:first-child{white-space:nowrap;font-weight:600;background:#f8f9fb;width:9.5em}
svg.diagram{width:100%%;height:auto;display:block;margin:.4em 0}
.seq{font-family:Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.82em;word-break:break-all;overflow-wrap:anywhere;
background:#f8f9fb;border:1px solid #e1e4e8;padding:.35em .5em;border-radius:3px;margin:.2em 0 .5em}
.seq .j,.reads .j{color:var(--brk);font-weight:700}.seq .p5{color:var(--c5)}.seq .p3{color:var(--c3)}
.reads{font-size:.8em}.reads td.aln{font-family:Menlo,Consolas,"DejaVu Sans Mono",monospace;white-space:pre;
padding:.1em .4em;border:none}
.reads td{border:none;border-bottom:1px solid #eef0f3;padding:.1em .4em}.reads tr.ref td{background:#f1f3f6;font-weight:600}
.reads .mm{color:#b00020;font-weight:700;background:#ffe3e3}.reads .name{font-family:Menlo,Consolas,monospace;color:#3d4a5c}
.filters td:nth-child(8){font-family:Menlo,Consolas,monospace;font-size:.95em}
ul.notes{margin:.3em 0}
.qcgene{break-inside:avoid;page-break-inside:avoid;margin:.6em 0}
footer{margin-top:2em;color:#5f6b7a;font-size:.8em;border-top:1px solid #d5d9e0;padding-top:.4em}
table.specimen{margin:.5em 0 .2em}table.specimen td{font-weight:600;min-width:7em}
.signoff{break-inside:avoid;page-break-inside:avoid;margin-top:1.5em}
.signoff-lines{width:100%%;font-size:1em}.signoff-lines th{width:12em;border:none;background:none;padding:1.1em .5em .1em 0;
vertical-align:bottom}.signoff-lines td.line{border:none;border-bottom:1px solid #1f2933;height:2.4em}
@page{size:A4;margin:12mm 12mm 14mm;@bottom-right{content:"page " counter(page) " of " counter(pages);font-size:8pt;
color:#5f6b7a}}
@media print{body{margin:0;max-width:none;font-size:10pt;padding:0}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.card,.verdict,table,figure,.signoff{break-inside:avoid;page-break-inside:avoid}
h2,h3,h4{break-after:avoid;page-break-after:avoid}h2{margin-top:1.1em}
.verdicts{gap:.2em}.verdict{padding:.25em .6em}
.card{border-color:#999;padding:.35em .7em .4em;margin:.6em 0}.card h4{margin:.45em 0 .15em}
.card svg.diagram{width:80%%;margin:.2em auto}.facts{font-size:8pt;gap:0 .8em}.facts table{margin:.1em 0}
.facts td{padding:.1em .4em}.seq{font-size:7pt;padding:.15em .4em;margin:.1em 0 .3em}
.reads{font-size:6.5pt}.reads td{padding:0 .3em}.card p.note{font-size:7.5pt;margin:.2em 0}}
""" % {"c5": COLOUR_5, "c3": COLOUR_3, "brk": COLOUR_BREAK, "kin": COLOUR_KINASE, "lost": COLOUR_LOST} + WORDS_CSS

# table-cell classes (also used by the batch summary) and the verdict boxes of this page
IMBALANCE_STATUS = "imbalance: fusion suspected, partner not identified"
STATUS_CLASS = {"detected": "detected", "not detected": "notdetected", "not assessable": "notassessable", "failed": "failed",
                IMBALANCE_STATUS: "imbalance"}
VERDICT_CLASS = {
    "detected": "v-detected",
    "not detected": "v-notdetected",
    "not assessable": "v-notassessable",
    "failed": "v-failed",
    IMBALANCE_STATUS: "v-imbalance",
}
STATUS_TEXT = {
    "detected": "● FUSION DETECTED",
    "not detected": "○ no fusion detected",
    "not assessable": "? NOT ASSESSABLE",
    "failed": "✕ FAILED",
    IMBALANCE_STATUS: "◐ FUSION SUSPECTED",
}


def status_class(status: str) -> str:
    """The table-cell class of a status; an ATI status (``ALK-ATI (...), not a fusion``)
    reads as a negative with a remark; the LoD forms (``not detected (LoD 3.4% ...)``) as
    their base status."""
    status = base_status(status)
    if status in STATUS_CLASS:
        return STATUS_CLASS[status]
    return "ati" if "-ATI (" in status else ""


def _verdict_words(status: str) -> tuple[str, str]:
    """(verdict box class, its state text)."""
    status = base_status(status)
    if status in VERDICT_CLASS:
        return VERDICT_CLASS[status], STATUS_TEXT[status]
    if "-ATI (" in status:
        return "v-ati", "○ " + status.split(" (", 1)[0] + ", no fusion"
    return "", status.upper()


def filter_descriptions() -> dict[str, str]:
    """Filter name -> what it means, from the filters' own docstrings."""
    from imtfusion.filters import FILTERS

    return {f.name: f.doc for f in FILTERS}


# -- small helpers ---------------------------------------------------------------------------


def _table(columns: Sequence[str], rows: Iterable[Sequence[object]], raw: set[int] | None = None,
           numeric: set[int] | None = None, cls: str = "", nowrap: set[int] | None = None) -> str:
    raw = raw or set()
    numeric = numeric or set()
    nowrap = nowrap or set()

    def klass(i: int) -> str:
        names = (["num"] if i in numeric else []) + (["nw"] if i in nowrap else [])
        return f' class="{" ".join(names)}"' if names else ""

    head = "".join(f"<th{klass(i)}>{esc(c)}</th>" for i, c in enumerate(columns))
    body = []
    for row in rows:
        cells = "".join(f"<td{klass(i)}>{v if i in raw else esc(v)}</td>" for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _rows(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table; values are HTML (callers escape)."""
    return "<table>" + "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{n:,} bytes" if unit == "bytes" else f"{value:.1f} {unit} ({n:,} bytes)"
        value /= 1000
    return f"{n:,} bytes"  # pragma: no cover


def _file_facts(path: str | None) -> str:
    if not path:
        return "—"
    if is_url(path):
        return "read over the network (URL shown without credentials)"
    try:
        return _size(os.stat(path).st_size)
    except OSError:
        return "not readable when the report was written"


def _small_checksum(path: str, limit: int = 50_000_000) -> str | None:
    """sha256 of a small file (an index), None when absent or too large."""
    try:
        if os.stat(path).st_size > limit:
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def status_badge(status: str) -> str:
    """A target status as a coloured label (text, not colour alone)."""
    return f'<span class="{status_class(status)}">&nbsp;{esc(status.upper())}&nbsp;</span>'


def confidence_badge(tier: str) -> str:
    cls = {"high": "conf-high", "medium": "conf-medium", "low": "conf-low"}.get(tier, "conf-low")
    return f'<span class="badge {cls}">{esc(tier.upper())} confidence</span>'


# -- call text -------------------------------------------------------------------------------------


def _end_phrase(gene: str, exon: int | None, site: str, role: str) -> str:
    if site == "intergenic":
        return f"{gene} (intergenic)"
    if exon is None:
        return gene
    if site == "intronic":
        return f"{gene} intron {exon if role == '5' else exon - 1}"
    if site == "upstream":
        return f"{gene} from exon 1 (breakpoint upstream)"
    if site == "downstream":
        return f"{gene} whole transcript (breakpoint downstream)"
    return f"{gene} exon {exon}"


def known_entries(c: "Candidate", known: Sequence["KnownFusion"]) -> list["KnownFusion"]:
    out, seen = [], set()
    for k in known:
        if (k.gene5, k.gene3) == (c.gene5.name, c.gene3.name) and (k.tumour_types, k.source) not in seen:
            seen.add((k.tumour_types, k.source))
            out.append(k)
    return out


def kinase_phrase(c: "Candidate") -> str:
    a = c.annotation
    if a is None:
        return "kinase domain not assessed"
    gene = next((g for g, doms in ((c.gene3.name, a.domains3), (c.gene5.name, a.domains5))
                 if any(kind == "kinase" for _, kind, _ in doms)), "")
    prefix = f"{gene} kinase domain" if gene else "kinase domain"
    if a.kinase_domain == "retained":
        return f"{prefix} retained"
    if a.kinase_domain == "lost":
        return f"{prefix} lost"
    return "no declared kinase domain in either partner"


def frame_phrase(frame: str) -> str:
    return frame if frame in ("in-frame", "out-of-frame") else "reading frame unknown"


def headline(c: "Candidate", known: Sequence["KnownFusion"]) -> str:
    """The one line a lab acts on (plain text), e.g. ``TPM3 exon 7 :: ALK exon 20, in-frame,
    ALK kinase domain retained, known fusion (IMT; ALCL)``."""
    a = c.annotation
    if a is not None:
        left = _end_phrase(c.gene5.name, a.exon5, a.site5, "5")
        right = _end_phrase(c.gene3.name, a.exon3, a.site3, "3")
        parts = [f"{left} :: {right}", frame_phrase(a.reading_frame), kinase_phrase(c)]
    else:
        parts = [f"{c.gene5.name} :: {c.gene3.name}", "not annotated"]
    entries = known_entries(c, known)
    if entries:
        types = "; ".join(dict.fromkeys(t.strip() for k in entries for t in k.tumour_types.split(";") if t.strip()))
        parts.append(f"known fusion ({types})" if types else "known fusion")
    elif c.known:
        parts.append("known fusion")
    else:
        parts.append("novel (not in the known-fusion table)")
    return ", ".join(parts)


def _primer_phrase(r: CallRecord) -> str:
    """The evidence table's primer row (with a primer BED): the anchored reads and their primers."""
    if not r.primer_reads:
        return "no read starts at a primer of the panel's BED"
    names = ", ".join(esc(n) for n in r.primers)
    return (f"{r.primer_reads} fragment(s) read from primer(s) {names}; {r.start_sites} distinct partner-side "
            "start site(s) (anchored multiplex PCR: these, not mate pairs, tell molecules apart)")


# -- the diagram inputs -------------------------------------------------------------------------------


def _lookup(source: TranscriptSource | None, transcript_id: str | None) -> Transcript | None:
    if source is None or not transcript_id or transcript_id == ".":
        return None
    try:
        return source.transcript(transcript_id)
    except Exception:  # an annotation that does not hold it: draw without exons
        return None


def partner(c: "Candidate", role: str, result: "SampleResult", source: TranscriptSource | None) -> Partner:
    gene = c.gene5 if role == "5" else c.gene3
    end = c.end5 if role == "5" else c.end3
    a = c.annotation
    tid = (a.transcript5 if role == "5" else a.transcript3) if a else None
    transcript = _lookup(source, tid)
    cov = None if gene.intergenic else result.gene_coverage.get(gene.name)
    if cov is not None and cov.chrom != end.chrom:
        cov = None
    return Partner(
        gene=gene.name,
        role=role,
        strand=transcript.strand if transcript is not None else gene.strand,
        chrom=end.chrom,
        transcript=transcript,
        boundary=end.pos + 1 if end.side == "L" else end.pos,
        breakpoint_label=end.label() + ("" if c.precision == "exact" else " (approximate)"),
        exon=(a.exon5 if role == "5" else a.exon3) if a else None,
        site=(a.site5 if role == "5" else a.site3) if a else (c.site5 if role == "5" else c.site3),
        coverage=cov,
        domains=tuple((a.domains5 if role == "5" else a.domains3) if a else ()),
    )


# -- sequences and reads --------------------------------------------------------------------------------


def _junction_seq(seq: str) -> str:
    if "|" not in seq:
        return esc(seq)
    left, right = seq.split("|", 1)
    return f'<span class="p5">{esc(left)}</span><span class="j">|</span><span class="p3">{esc(right)}</span>'


def reference_around_junction(c: "Candidate") -> tuple[str, str, str]:
    """(5' side, 3' side, what it is) to compare junction reads with."""
    a = c.annotation
    if a is not None and a.fusion_transcript and "|" in a.fusion_transcript:
        left, right = a.fusion_transcript.split("|", 1)
        return left, right, "fusion transcript"
    if c.sequence5 or c.sequence3:
        return c.sequence5[::-1], c.sequence3, "read consensus"
    return "", "", ""


def _marked(read: str, ref: str, five: bool) -> str:
    """Read bases with the ones that differ from ``ref`` in lower case and highlighted.
    ``five``: both end at the junction (compare from the right); else both start there."""
    out = []
    n = len(read)
    for i, base in enumerate(read):
        j = len(ref) - (n - i) if five else i
        r = ref[j] if 0 <= j < len(ref) else ""
        if r and base.upper() != r.upper() and base.upper() in "ACGT":
            out.append(f'<span class="mm">{esc(base.lower())}</span>')
        else:
            out.append(esc(base))
    return "".join(out)


def reads_table(c: "Candidate", examples: "tuple[ReadExample, ...] | list[ReadExample]" = ()) -> str:
    """The call's junction reads (``examples``: :func:`imtfusion.evidence_bam.junction_examples`)."""
    if not examples:
        return '<p class="note">No junction read to show (the call rests on discordant mates, or its reads are hard-clipped).</p>'
    ref5, ref3, what = reference_around_junction(c)
    w5 = min(READ_WINDOW, max(len(e.five) for e in examples))
    w3 = min(READ_WINDOW, max(len(e.three) for e in examples))
    rows = []
    if ref5 or ref3:
        r5, r3 = ref5[-w5:], ref3[:w3]
        rows.append(
            f'<tr class="ref"><td>{esc(what)}</td><td></td><td class="aln">{" " * (w5 - len(r5))}'
            f'<span style="color:{COLOUR_5}">{esc(r5)}</span><span class="j">|</span>'
            f'<span style="color:{COLOUR_3}">{esc(r3)}</span></td></tr>'
        )
    for e in examples:
        five, three = e.five[-w5:], e.three[:w3]
        cells = (" " * (w5 - len(five)) + _marked(five, ref5, True) + '<span class="j">|</span>'
                 + _marked(three, ref3, False) + " " * (w3 - len(three)))
        rows.append(f'<tr><td class="name">{esc(e.name)}</td><td>{esc(e.kind)}</td><td class="aln">{cells}</td></tr>')
    head = "<tr><th>read</th><th>kind</th><th>5′ gene … | … 3′ gene (transcript orientation)</th></tr>"
    note = ("Reads are cut at the junction and shown in transcript orientation; up to "
            f"{READ_WINDOW} bases per side. Bases differing from the reference row are in lower case on red.")
    return f'<table class="reads"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table><p class="note">{note}</p>'


# -- sections -----------------------------------------------------------------------------------------


SHOWN_ISOFORMS = 3  # other junctions of a call listed on its card; more would make it taller than a page


def _other_junctions(c: "Candidate") -> str:
    """The call's other junctions of the gene pair, the first :data:`SHOWN_ISOFORMS` of them
    (a card must fit on one printed page; the TSV and JSON list them all)."""
    if not c.isoforms:
        return "none: this is the only junction of the gene pair"
    lines = [
        f"{esc(k.end5.label())} :: {esc(k.end3.label())} ({k.split_reads} split, {k.discordant_pairs} discordant, "
        f"{esc(k.precision)}; {esc(k.call_id)})"
        for k in c.isoforms[:SHOWN_ISOFORMS]
    ]
    more = len(c.isoforms) - SHOWN_ISOFORMS
    if more > 0:
        lines.append(f"and {more} more (all in the column <code>isoforms</code> of fusions.tsv)")
    return "<br>".join(lines) + "<br>part of this fusion: isoforms, its pre-mRNA or mates"


def _call_card(c: "Candidate", result: "SampleResult", source: TranscriptSource | None) -> str:
    a = c.annotation
    p5, p3 = partner(c, "5", result, source), partner(c, "3", result, source)
    note = frame_phrase(a.reading_frame) if a else ""
    svg = fusion_svg(p5, p3, junction_note=note, label=f"{c.fusion} fusion diagram")
    head = esc(headline(c, result.known))
    g5, g3 = esc(c.gene5.name), esc(c.gene3.name)
    # colour the gene names of the headline's first part (escaped text, so match the escaped names)
    first, sep, rest = head.partition(", ")
    first = first.replace(g5, f'<span class="g5">{g5}</span>', 1)
    idx = first.find(" :: ")
    if idx >= 0:
        first = first[: idx + 4] + first[idx + 4:].replace(g3, f'<span class="g3">{g3}</span>', 1)
    head_html = first + sep + rest

    entries = known_entries(c, result.known)
    if entries:
        known_html = "<br>".join(f"known: {esc(k.tumour_types)} — <i>{esc(k.source)}</i>" for k in entries)
    elif c.known:
        known_html = "known partner"
    else:
        known_html = "novel: not in the known-fusion table"
    r = call_record(c)
    clipped = r.clipped_split_reads
    primed = [("primers", _primer_phrase(r))] if result.primers else []
    evidence = _rows(primed + [
        ("fragments", f"<b>{r.fragments}</b> supporting fragments: {r.molecules} unique molecule(s) by "
                      + ("UMI family" if r.umis else "read and mate positions (no UMIs)")
                      + f", read from {r.start_sites} partner-side position(s) (a PCR artefact has one or two)"),
        ("split reads", f"{r.split_reads} fragment(s) with a read across the junction"
                        + (f" ({clipped} of them soft-clipped only)" if clipped else "")
                        + (f"; {r.ambiguous_split_reads} of them placed ambiguously by the aligner (MAPQ "
                           + ("0" if result.params.min_mapq == 1 else f"below {result.params.min_mapq}")
                           + " or as a secondary alignment: a pseudogene or paralog shares the bases), counted "
                           "because they split at this "
                           "very junction; they did not make the call"
                           if r.ambiguous_split_reads else "")),
        ("discordant pairs", f"{r.discordant_pairs} more fragment(s) with one mate in each gene"
         + (f" ({r.unplaced_pairs} of them left unmapped by the aligner, both reads placed on the fused transcript)"
            if r.unplaced_pairs else "")
         + (f"; {r.ambiguous_pairs} of them with one mate placed ambiguously by the aligner (MAPQ below "
            f"{result.params.min_discordant_mapq}: a pseudogene or paralog shares its bases), counted because they "
            "fit this junction; they did not make the call" if r.ambiguous_pairs else "")),
        ("confidence", f"{confidence_badge(r.confidence)} "
                       f"{esc(r.confidence_reason)}"),
        ("best anchor", f"{r.best_anchor} bp on the shorter side of the best junction read"),
        ("junction", f"{r.homology} bp microhomology; moved {r.junction_shift:+d} bp from the aligner's placement"),
        ("evidence BAM", f"reads tagged <code>XI:Z:{esc(r.id)}</code>" if r.id else "—"),
        ("other junctions", _other_junctions(c)),
    ])
    frame = esc(frame_phrase(r.reading_frame)) if a else "unknown"
    if a and r.site5 == r.site3 == "intronic" and r.exon5 is not None and r.exon3 is not None:
        frame += (f" (a genomic breakpoint read in pre-mRNA, intronic on both sides: frame, domains and peptide are "
                  f"those of the mRNA spliced across it, {esc(r.gene5)} exon {r.exon5} :: {esc(r.gene3)} exon {r.exon3})")
    annot = _rows([
        ("5′ breakpoint", f"<b>{esc(r.breakpoint5)}</b> ({esc(r.strand5)} strand), {esc(r.site5.replace('_', ' '))}"),
        ("3′ breakpoint", f"<b>{esc(r.breakpoint3)}</b> ({esc(r.strand3)} strand), {esc(r.site3.replace('_', ' '))}"),
        ("precision", esc(r.breakpoint_precision) + (
            " (from reads across the junction)" if r.breakpoint_precision == "exact"
            else " (from mates only: the exon boundaries next to them; junction reads were seen, but the partner's "
                 "bases are too thinly read to place them without the FASTA: give it for the exact breakpoint)"
            if r.breakpoint_precision == "exon-level (no FASTA)"
            else " (from mates only: the exon boundary just past them)")),
        ("transcripts", f"{esc(r.transcript5)} exon {esc(r.exon5 if r.exon5 is not None else '?')} → "
                        f"{esc(r.transcript3)} exon {esc(r.exon3 if r.exon3 is not None else '?')}" if a else "—"),
        ("reading frame", frame),
        ("kinase domain", esc(r.kinase_domain if a else "not assessed")),
        ("domains kept", esc("; ".join(r.retained_domains)) if r.retained_domains else "none of the declared domains"),
        ("partner", known_html),
    ])
    seqs = []
    if a is not None and a.fusion_transcript:
        seqs.append("<h4>Fused transcript around the junction (5′→3′; intronic bases in lower case)</h4>"
                    f'<div class="seq">{_junction_seq(a.fusion_transcript)}</div>')
        if a.peptide:
            seqs.append("<h4>Peptide across the junction (one-letter code)</h4>"
                        f'<div class="seq">{_junction_seq(a.peptide)}</div>')
    elif c.sequence5 or c.sequence3:
        seqs.append("<h4>Read consensus around the junction</h4>"
                    f'<div class="seq">{_junction_seq(c.sequence5[:60][::-1] + "|" + c.sequence3[:60])}</div>'
                    '<p class="note">The fused transcript and peptide are spelled out when a genome FASTA is given.</p>')
    return (
        f'<section class="card">'
        f'<div class="id">{esc(c.call_id)} · {esc(c.fusion)} · {confidence_badge(c.confidence)}</div>'
        f'<h3 class="headline">{head_html}</h3>'
        f"{svg}"
        f'<div class="facts"><div><h4>Evidence</h4>{evidence}</div><div><h4>Annotation</h4>{annot}</div></div>'
        f"{''.join(seqs)}"
        f"<h4>Supporting reads at the junction</h4>{reads_table(c, result.examples.get(c.call_id, ()))}"
        f"</section>"
    )


def _verdicts(result: "SampleResult") -> str:
    out = []
    for s in result.statuses:
        calls = [c for c in result.called if s.target in c.targets]
        what = esc(s.reason)
        if s.lod is not None and base_status(s.status) != s.status:
            what = esc(verdict_sentence(s.lod))
        if calls:
            what = "; ".join(f"<b>{esc(c.fusion)}</b> ({esc(c.confidence)} confidence)" for c in calls)
        klass, state = _verdict_words(s.status)
        out.append(
            f'<div class="verdict {klass}"><span class="gene">{esc(s.target)}</span>'
            f'<span class="state">{esc(state)}</span><span>{what}</span></div>'
        )
    return f'<div class="verdicts">{"".join(out)}</div>'


def _meta(result: "SampleResult", now: _dt.datetime) -> str:
    b = result.bam
    fai = f"{result.fasta}.fai" if result.fasta else None
    fai_sum = _small_checksum(fai) if fai else None
    rows = [
        ("sample", f"<b>{esc(result.sample)}</b>"),
        ("report date", esc(now.strftime("%Y-%m-%d %H:%M UTC") if now.tzinfo else now.strftime("%Y-%m-%d %H:%M"))),
        ("pipeline", f"imtfusion {esc(result.version)}"),
        ("BAM", f'<span class="mono wrap">{esc(b.path)}</span><br>{esc(_file_facts(b.path))}'),
        ("BAM index", f'<span class="mono wrap">{esc(b.index)}</span>'),
        ("aligner (@PG)", esc(b.aligner) + (f"; sorted by {esc(b.sorted_by)}" if b.sorted_by else "")),
        ("annotation", f'<span class="mono wrap">{esc(result.annotation_source)}</span><br>'
                       f'sha256 <span class="mono wrap">{esc(result.annotation_checksum)}</span>'),
        ("genome FASTA", (f'<span class="mono wrap">{esc(result.fasta)}</span><br>{esc(_file_facts(result.fasta))}'
                          + (f'; sha256 of its .fai (contig names and lengths) <span class="mono wrap">{esc(fai_sum)}</span>'
                             if fai_sum else ""))
         if result.fasta else "not given: breakpoints from read alignments only, no fused transcript or peptide"),
        ("known fusions", f"{len(result.known)} curated entries"),
        ("targets", esc(", ".join(f"{l.name} {l.label()}" for l in result.loci))),
    ]
    if result.command:
        rows.append(("command", f'<span class="mono wrap">{esc(result.command)}</span>'))
    return '<table class="meta">' + "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _discarded(result: "SampleResult") -> str:
    rows = sorted((c for c in result.discarded if c.fragments >= 2),
                  key=lambda c: (-c.fragments, c.fusion, c.end5, c.end3))
    if not rows:
        return "<p>None with two or more supporting fragments.</p>"
    shown = rows[:MAX_DISCARDED_ROWS]

    def exons(c: "Candidate") -> str:
        a = c.annotation
        if a is None:
            return "—"
        return f"{a.exon5 if a.exon5 is not None else '?'} / {a.exon3 if a.exon3 is not None else '?'}"

    table = _table(
        ["fusion", "breakpoint 5′", "breakpoint 3′", "exons 5′/3′", "split reads", "discordant pairs", "fragments",
         "filters"],
        [[c.fusion, c.end5.label(), c.end3.label(), exons(c), c.split_reads, c.discordant_pairs, c.fragments,
          ", ".join(c.filters)] for c in shown],
        numeric={4, 5, 6},
        cls="filters",
        nowrap={1, 2},
    )
    used = sorted({f for c in shown for f in c.filters})
    text = filter_descriptions()
    legend = "".join(f"<li><code>{esc(f)}</code>: {esc(text.get(f, ''))}</li>" for f in used)
    more = f"<p class='note'>{len(rows) - len(shown)} more not shown.</p>" if len(rows) > len(shown) else ""
    return f'{table}{more}<ul class="note">{legend}</ul>'


def _qc(result: "SampleResult", source: TranscriptSource | None) -> str:
    rows = []
    sample_qc = result.sample_qc
    for s in result.statuses:
        q = s.qc
        total = q.reads + q.duplicates
        rate = f"{100 * q.duplicates / total:.1f}%" if total else "—"
        unique = sample_qc.unique_fragments_of(q) if sample_qc is not None else None
        rows.append([s.target, q.locus, f"{q.reads:,}", f"{q.exon_reads:,}", f"{q.mean_exon_coverage:.1f}",
                     "—" if unique is None else f"{unique:,}",
                     f"{q.duplicates:,}", rate, f"{q.low_mapq:,}", f"{q.chimeric_records:,}", f"{q.split_reads:,}",
                     f"{q.discordant_reads:,}", f"{q.clipped_reads:,}"])
    by_umis = sample_qc is not None and sample_qc.duplicates_from == "UMIs"
    table = _table(
        ["target", "locus", "reads", "reads on exons", "mean exon depth",
         "unique molecules (UMI families)" if by_umis else "unique fragments", "duplicates", "duplicate rate",
         "low MAPQ", "chimeric records", "split-read records", "discordant records", "clipped records"],
        rows, numeric=set(range(2, 13)), nowrap={1},
    )
    chim_records = sum(s.qc.chimeric_records for s in result.statuses)
    if result.bam.has_chimeric_options or chim_records:
        why = []
        if result.bam.has_chimeric_options:
            why.append("the @PG header shows STAR run with <code>--chimOutType WithinBAM</code>")
        if chim_records:
            why.append(f"{chim_records:,} SA-tagged record{'s' if chim_records != 1 else ''} in the target loci")
        chim = f"<b>yes</b> ({'; '.join(why)})"
    else:
        chim = ("<b>no</b>: neither the header nor the target loci show chimeric (SA-tagged) alignments; calls rely on "
                "discordant mates, soft clips and spliced alignments, so sensitivity is lower")
    facts = _rows([
        ("aligner", esc(result.bam.aligner)),
        ("chimeric alignments", chim),
        ("contig names", esc(", ".join(f"GTF {g} = BAM {b}" for g, b in sorted(result.contig_renames.items())[:12])
                             + (" …" if len(result.contig_renames) > 12 else ""))
         if result.contig_renames else "GTF and BAM use the same contig names"),
    ])
    gates = _sample_qc(result)
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.notes)
    plots = []
    for locus in result.loci:
        cov = result.gene_coverage.get(locus.name)
        transcript = None
        if source is not None:
            tags = result.params.transcript_tag_list
            try:
                transcript = source.canonical_transcript(locus.gene.gene_id, tags)
            except Exception:
                transcript = None
        status = next((s for s in result.statuses if s.target == locus.name), None)
        label = f" — {status.status}" if status else ""
        plots.append(
            f'<div class="qcgene"><h4>{esc(locus.name)}{esc(label)}</h4>'
            + gene_coverage_svg(locus.name, locus.gene.strand, locus.chrom, transcript, cov,
                                label=f"{locus.name} coverage")
            + "</div>"
        )
    duprate = ("<p class='note'>This table counts BAM <i>records</i> in each target locus: one fragment can "
               "have several (two mates, a supplementary alignment), so its split-read and discordant records "
               "are not the calls' split-read and discordant <i>fragments</i>, which count each fragment once. "
               "Duplicate rate = duplicates / (reads + duplicates). Reads are primary, mapped, "
               "non-duplicate records in the locus; low-MAPQ reads are counted and otherwise ignored.</p>")
    return (f"{gates}{_lod_table(result)}{table}{duprate}{facts}" + (f'<ul class="notes note">{notes}</ul>' if notes else "")
            + "<h3>Coverage of the target genes</h3>"
            + "<p class='note'>Mean depth in equal bins along each gene, drawn 5′→3′ above its exons "
              "(introns shortened, so intronic bins are narrow).</p>" + "".join(plots))


def _lod_table(result: "SampleResult") -> str:
    """Per target: the limit of detection and what it comes from."""
    rows = []
    for s in result.statuses:
        v = s.lod
        if v is None:
            continue
        rows.append([s.target, v.region, f"{v.depth:.1f}", "—" if v.lod is None else percent(v.lod),
                     "—" if v.lod_known is None else percent(v.lod_known),
                     "—" if v.lod is None else f"{v.fragments_at(v.lod):.1f}", "yes" if v.assessable else "no"])
    if not rows:
        return ""
    first = next(s.lod for s in result.statuses if s.lod is not None)
    table = _table(["target", "breakpoint exons", "mean depth", "LoD, any partner", "LoD, known partner",
                    "junction fragments expected at the LoD", f"LoD ≤ {percent(first.max_fraction)}"],
                   rows, numeric={2, 3, 4, 5})
    return ("<h3>Limit of detection</h3>" + table
            + f"<p class='note'>LoD: the smallest share of a target's transcripts that, fused, would be detected "
              f"with {first.probability:.0%} probability, from the depth on the exons where its fusions join their "
              f"partners, the library ({esc(first.library.describe())}) and the calling thresholds (README, "
              "\"Limit of detection\"). A target without a call whose LoD is above the limit is not assessable.</p>")


def _sample_qc(result: "SampleResult") -> str:
    """The sample QC gates: each figure, its limit, pass / FAIL / not measured."""
    qc = result.sample_qc
    if qc is None:
        return ""
    words = {True: "pass", False: "FAIL", None: "not measured"}
    rows = [[g.label, "—" if g.value is None else f"{g.value:,.4g}", f"{g.limit:g}", words[g.passed], g.name, g.text]
            for g in qc.gates]
    table = _table(["figure", "value", "limit", "gate", "parameter", "in words"], rows, numeric={1, 2}, nowrap={4})
    verdict = ("<p><b>Sample QC: pass.</b></p>" if qc.passed else
               f"<p><b>Sample QC: FAIL</b> — targets without a call are not assessable: {esc(qc.reason())}.</p>")
    house = ", ".join(f"{g} ({'—' if r is None else f'{r:.2f}'})" for g, r in qc.housekeeping) or "none"
    missing = f"; not in the annotation or BAM: {esc(', '.join(qc.missing_housekeeping))}" if qc.missing_housekeeping else ""
    return ("<h3>Sample QC gates</h3>" + verdict + table
            + f"<p class='note'>Figures of the target and housekeeping loci; duplicates by {esc(qc.duplicates_from)}. "
              f"Housekeeping genes (their 5′/3′ coverage): {esc(house)}{missing}.</p>")


def _imbalance(result: "SampleResult") -> str:
    """The exon coverage of each kinase target whose 3'/5' ratio was measured."""
    charts = []
    for s in result.statuses:
        v = s.imbalance
        if v is None or not v.split_exon or not v.exon_depths:
            continue
        charts.append(f'<div class="qcgene"><h4>{esc(s.target)} — {esc(v.verdict)}</h4>'
                      + exon_profile_svg(v, label=f"{s.target} exon coverage") + f'<p class="note">{esc(v.reason)}</p></div>')
    if not charts:
        return "<p>No kinase target with an exon model to measure.</p>"
    p = result.params
    return ("<p class='note'>Mean depth on each exon of the reported transcript (exon 1 on the left). A fusion that keeps "
            "the kinase's 3′ part raises the exons after the split (resources/kinase_splits.tsv) above those before it, "
            "whether or not a junction read was found. The ratio of the two parts' mean depths (first and last exon left "
            "out) is compared with the same ratio in other samples: z = (ln ratio − the reference's median) / SD, "
            f"flagged at z ≥ {p.imbalance_min_z:g} and a ratio ≥ {p.imbalance_min_ratio:g}x the reference's. "
            "Transcripts starting in the intron before the split exon with no chimeric read (ALK-ATI) are said so, "
            "not called a fusion.</p>" + "".join(charts))


def _methods(result: "SampleResult") -> str:
    p = result.params
    params = ", ".join(f"{k}={v}" for k, v in p.as_dict().items())
    return f"""
<p>Reads were fetched through the BAM index from each target gene &plusmn; {p.margin:,} bp only. Split reads
(supplementary alignments with SA tags, and spliced alignments leaving the gene), discordant mates and soft-clipped
reads (clip &ge; {p.min_clip} bp) were collected; secondary, QC-fail and duplicate-flagged records were skipped.
Split reads were grouped by junction, allowing for microhomology, and placed on annotated exon boundaries where the
alignment allows; each fragment is counted once. Candidates were oriented as transcripts with the GTF gene strands
and filtered ({esc(", ".join(n.replace("_", " ") for n in filter_descriptions()))}; read-through means same-strand
neighbours within {p.read_through_distance:,} bp; at least {p.min_fragments} supporting fragments are needed, {p.min_fragments_known}
for a known partner). Exon numbers, reading frame and domains refer to the
reported transcript of each partner (tag preference {esc(p.transcript_tags)}, then the longest CDS); the frame
follows from the CDS phases; protein domains come from the curated domain table mapped through the CDS.</p>
<p><b>Confidence tiers</b> (as in the README). <i>High</i>: at least 2 split-read fragments and 4 fragments in all, an
exact breakpoint, and either both breakpoints on exon boundaries, a known partner, or at least 10 fragments.
<i>Medium</i>: at least 1 split-read fragment and 3 fragments; or a known partner with at least 1 split-read fragment;
or at least 5 discordant pairs without a junction read. <i>Low</i>: anything else that passed the filters.</p>
<p><b>Limitations.</b> Fusions are only found when at least one breakpoint lies in a target gene; a fusion whose
transcript is not expressed, or whose junction reads were not kept in the BAM, cannot be seen. "Not assessable"
means fewer than {p.min_target_reads} reads covered the target's exons, the sample failed a QC gate, or the limit of
detection (the share of the target's transcripts a fusion must reach to be detected with {p.lod_probability:.0%}
probability, from the depth on the target's breakpoint exons, the read and fragment lengths and the thresholds above)
is above {percent(p.lod_max_fraction)}, so the absence of a fusion cannot be claimed. Breakpoints from discordant mates alone are approximate. Coverage is drawn from primary non-duplicate
reads in coarse bins and is no expression measurement. This is a research-use tool: results need confirmation by an
orthogonal method (e.g. FISH, RT-PCR or IHC) before clinical use.</p>
<p class="note">Parameters: <span class="mono wrap">{esc(params)}</span></p>"""


def render_sample_report(result: "SampleResult", annotation: TranscriptSource | None = None,
                         now: _dt.datetime | None = None) -> str:
    """The report of one sample as a self-contained HTML page.

    ``annotation`` supplies the exon structures of the reported transcripts (e.g. the
    :class:`~imtfusion.annotation.Annotation` the sample was called with); without it the
    diagrams show coverage and breakpoints but no exons.
    """
    now = now or _dt.datetime.now(_dt.timezone.utc)
    if result.called:
        calls = "".join(_call_card(c, result, annotation) for c in result.called)
    else:
        calls = "<p>No fusion of the target genes passed the filters.</p>"
    detected = sum(1 for s in result.statuses if s.status == "detected")
    summary = (f"{len(result.called)} fusion call(s); {detected} of {len(result.statuses)} target gene(s) with a "
               "detected fusion")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imtfusion report: {esc(result.sample)}</title>
<style>{CSS}</style></head><body>
<header><h1>Fusion report: {esc(result.sample)}<small>{esc(' / '.join(s.target for s in result.statuses))} fusions from RNA-seq · imtfusion {esc(result.version)}</small></h1></header>
<p class="note">Sample <b>{esc(result.sample)}</b> · report of {esc(now.strftime("%Y-%m-%d %H:%M"))} · inputs, checksums and the command under Provenance at the end.</p>
{specimen_html(result.specimen)}
<h2>Verdict per target gene</h2>
<p class="note">{esc(summary)}</p>
{_verdicts(result)}
<h2>Fusion calls</h2>
{calls}
{words_section_html(result.called)}
<h2>Discarded candidates (two or more supporting fragments)</h2>
{_discarded(result)}
<p class="note">Every discarded candidate, with all the filters that removed it, is in {esc(result.sample)}.fusions.discarded.tsv.</p>
<h2>Exon coverage of the kinase genes: 3′/5′ imbalance</h2>
{_imbalance(result)}
<h2>Quality control</h2>
{_qc(result, annotation)}
<h2>Methods and limitations</h2>
{_methods(result)}
<h2>Provenance</h2>
{_meta(result, now)}
{signoff_html(result.sample)}
<footer>imtfusion {esc(result.version)} · research use only · page generated {esc(now.strftime("%Y-%m-%d %H:%M"))}</footer>
</body></html>
"""
