"""The per-sample HTML report: one self-contained page a molecular lab can read.

No external resources (inline CSS and SVG only), printable, and every string that comes
from the inputs (sample, gene, contig and file names) goes through :func:`esc`.
"""

from __future__ import annotations

import datetime as _dt
from html import escape
from typing import TYPE_CHECKING, Iterable

from imtfusion import __version__

if TYPE_CHECKING:  # pragma: no cover
    from imtfusion.calling import Candidate
    from imtfusion.pipeline import SampleResult, TargetStatus

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;max-width:60em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1.05em;margin-bottom:.3em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.meta td:first-child{font-weight:600;white-space:nowrap}
.detected{background:#fde2e1;color:#8a1410;font-weight:700}.notdetected{background:#e3f4e6;color:#1d5e2a;font-weight:700}
.notassessable{background:#fff3cd;color:#7a5a00;font-weight:700}.failed{background:#333;color:#fff;font-weight:700}
.mono{font-family:Menlo,Consolas,monospace;font-size:.85em;word-break:break-all}.note{color:#555;font-size:.9em}
.card{border:1px solid #ddd;border-radius:4px;padding:.6em 1em;margin:.8em 0;page-break-inside:avoid}
svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}.card{break-inside:avoid}}
"""

STATUS_CLASS = {"detected": "detected", "not detected": "notdetected", "not assessable": "notassessable", "failed": "failed"}


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def _table(columns: list[str], rows: Iterable[list[object]], raw: set[int] | None = None) -> str:
    raw = raw or set()
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = "".join(f"<td>{v if i in raw else esc(v)}</td>" for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def status_badge(status: str) -> str:
    return f'<span class="{STATUS_CLASS.get(status, "")}">&nbsp;{esc(status.upper())}&nbsp;</span>'


def coverage_svg(bins: list[float], width: int = 600, height: int = 60, label: str = "") -> str:
    """A small area plot of depth along the gene (5' left for + genes as in the genome)."""
    if not bins:
        return ""
    peak = max(bins) or 1.0
    step = width / len(bins)
    points = [f"0,{height}"]
    for i, v in enumerate(bins):
        y = height - (v / peak) * (height - 4)
        points.append(f"{i * step:.1f},{y:.1f}")
        points.append(f"{(i + 1) * step:.1f},{y:.1f}")
    points.append(f"{width},{height}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 14}" width="{width}" '
        f'height="{height + 14}" role="img" aria-label="coverage {esc(label)}">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fafafa" stroke="#ddd"/>'
        f'<polygon points="{" ".join(points)}" fill="#6c8ebf" stroke="none"/>'
        f'<text x="2" y="{height + 12}" font-size="10" fill="#555">max depth {peak:.0f} (genomic order)</text></svg>'
    )


def _call_rows(calls: list["Candidate"]) -> list[list[object]]:
    rows = []
    for c in calls:
        rows.append(
            [
                c.fusion,
                c.confidence,
                c.end5.label(),
                c.end3.label(),
                c.split_reads,
                c.discordant_pairs,
                f"{c.site5} / {c.site3}",
                "known" if c.known else "novel",
            ]
        )
    return rows


CALL_COLUMNS = ["fusion", "confidence", "breakpoint5", "breakpoint3", "split reads", "discordant pairs", "site 5'/3'", "partner"]


def _junction_sequence(c: "Candidate") -> str:
    if not (c.sequence5 or c.sequence3):
        return ""
    left = esc(c.sequence5[:40][::-1])
    right = esc(c.sequence3[:40])
    return f'<p class="mono">5\' …{left}<b>|</b>{right}… 3\'</p>'


def _target_section(status: "TargetStatus", result: "SampleResult") -> str:
    calls = [c for c in result.called if status.target in c.targets]
    parts = [f'<div class="card"><h3>{esc(status.target)} {status_badge(status.status)}</h3>']
    parts.append(f'<p class="note">{esc(status.reason)}</p>')
    for c in calls:
        parts.append(
            f"<p><b>{esc(c.fusion)}</b> &mdash; {esc(c.confidence)} confidence; "
            f"{c.split_reads} split-read and {c.discordant_pairs} discordant-pair fragments; "
            f"breakpoints {esc(c.end5.label())} ({esc(c.site5)}) :: {esc(c.end3.label())} ({esc(c.site3)}); "
            f"{'known' if c.known else 'novel'} partner; breakpoint {esc(c.precision)}.</p>"
        )
        parts.append(_junction_sequence(c))
    q = status.qc
    parts.append(
        _table(
            ["locus", "reads", "reads on exons", "mean exon depth", "duplicates", "chimeric records"],
            [[q.locus, q.reads, q.exon_reads, f"{q.mean_exon_coverage:.1f}", q.duplicates, q.chimeric_records]],
        )
    )
    parts.append(coverage_svg(q.coverage_bins, label=status.target))
    parts.append("</div>")
    return "".join(parts)


def render_sample_report(result: "SampleResult", now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    p = result.params
    verdicts = _table(
        ["target", "status", "fusions", "why"],
        [[s.target, status_badge(s.status), ", ".join(s.fusions) or "-", s.reason] for s in result.statuses],
        raw={1},
    )
    meta_rows = [
        ["sample", result.sample],
        ["date", now.strftime("%Y-%m-%d %H:%M UTC")],
        ["pipeline", f"imtfusion {__version__}"],
        ["BAM", result.bam.path],
        ["aligner (BAM header)", result.bam.aligner],
        ["annotation", f"{result.annotation_source} (sha256 {result.annotation_checksum[:16]}…)"],
        ["genome FASTA", result.fasta or "not given (breakpoints from read alignments only)"],
        ["targets", ", ".join(f"{l.name} {l.label()}" for l in result.loci)],
    ]
    meta = "<table class='meta'>" + "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in meta_rows) + "</table>"
    calls = _table(CALL_COLUMNS, _call_rows(result.called)) if result.called else "<p>No fusion of the target genes passed the filters.</p>"
    discarded = [c for c in result.discarded if c.fragments >= 2][:25]
    disc_html = (
        _table(
            ["fusion", "breakpoint5", "breakpoint3", "fragments", "filters"],
            [[c.fusion, c.end5.label(), c.end3.label(), c.fragments, ", ".join(c.filters)] for c in discarded],
        )
        if discarded
        else "<p>None with two or more supporting fragments.</p>"
    )
    qc_rows = [
        [s.target, s.qc.reads, s.qc.exon_reads, f"{s.qc.mean_exon_coverage:.1f}", s.qc.duplicates, s.qc.low_mapq,
         s.qc.chimeric_records, s.qc.split_reads, s.qc.discordant_reads, s.qc.clipped_reads]
        for s in result.statuses
    ]
    qc = _table(
        ["target", "reads", "reads on exons", "mean exon depth", "duplicates", "low MAPQ", "chimeric records",
         "split reads", "discordant reads", "clipped reads"],
        qc_rows,
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.notes)
    methods = f"""
<p>Reads were fetched through the BAM index from each target gene &plusmn; {p.margin:,} bp only. Split reads
(supplementary alignments / SA tags and spliced alignments leaving the gene), discordant mates and soft-clipped
reads (clip &ge; {p.min_clip} bp) were collected; secondary, QC-fail and duplicate-flagged records were skipped.
Split reads were grouped by junction (microhomology-aware) and placed on annotated exon boundaries where the
alignment allows; each fragment is counted once. Candidates were oriented with the GTF gene strands and filtered
(not transcribable, intragenic, read-through within {p.read_through_distance:,} bp, multimapping, short anchors,
fewer than {p.min_fragments} fragments). Confidence tiers are defined in the README.</p>
<p><b>Limitations.</b> Fusions are only found when at least one breakpoint lies in a target gene; a fusion whose
transcript is not expressed or whose junction reads were not retained in the BAM cannot be seen. "Not assessable"
means fewer than {p.min_target_reads} reads covered the target's exons, so absence of a fusion cannot be
claimed. Breakpoints from discordant mates alone are approximate (marked). This is a research-use tool; results
need confirmation by an orthogonal method before clinical use.</p>"""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>imtfusion report: {esc(result.sample)}</title>
<style>{CSS}</style></head><body>
<h1>Fusion report: {esc(result.sample)}</h1>
{meta}
<h2>Verdict per target gene</h2>
{verdicts}
<h2>Fusion calls</h2>
{calls}
<h2>Target genes</h2>
{''.join(_target_section(s, result) for s in result.statuses)}
<h2>Quality control</h2>
{qc}
{f'<ul class="note">{notes}</ul>' if notes else ''}
<h2>Discarded candidates</h2>
{disc_html}
<p class="note">All discarded candidates, with the filter that removed each, are in {esc(result.sample)}.fusions.discarded.tsv.</p>
<h2>Methods and limitations</h2>
{methods}
</body></html>
"""
