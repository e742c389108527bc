"""Called fusions as VCF 4.3 breakend (BND) records.

Each fusion is one novel adjacency and becomes two records, one per breakend, that name
each other in ``MATEID`` and share ``EVENT`` (the call ID). The ALT allele follows from the
breakend sides of :mod:`imtfusion.model`: a side ``L`` breakend keeps the bases up to
``pos`` and has the partner joined after them, so its REF base comes first in the ALT
(``t[p[`` / ``t]p]``); a side ``R`` breakend has the partner joined before it (``]p]t`` /
``[p[t``). The bracket shows which way the mate's retained sequence extends from ``p``:
``[`` to the right (mate side ``R``), ``]`` to the left (mate side ``L``).

The text has no date or run-specific line, so the same inputs give the same bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imtfusion.callrecord import CallRecord, call_record
from imtfusion.model import Breakend

if TYPE_CHECKING:
    from imtfusion.calling import Candidate
    from imtfusion.results import SampleResult

# INFO keys in header order: (ID, Number, Type, Description)
INFO_FIELDS = [
    ("SVTYPE", "1", "String", "Type of structural variant: BND (one breakend of a fusion junction)"),
    ("MATEID", ".", "String", "ID of the mate breakend (the other partner of the fusion)"),
    ("EVENT", "1", "String", "ID of the fusion call both breakends belong to (as in the fusions table)"),
    ("IMPRECISE", "0", "Flag", "Breakpoint estimated from discordant mates only (approximate)"),
    ("HOMLEN", "1", "Integer", "Bases shared by both partners at the junction (0 without a FASTA)"),
    ("GENE", "1", "String", "Gene at this breakend (nearest gene when intergenic)"),
    ("FUSION", "1", "String", "Fusion name GENE5::GENE3, 5' partner first"),
    ("SPLIT_READS", "1", "Integer", "Fragments with a read across the junction"),
    ("DISCORDANT_PAIRS", "1", "Integer", "Further fragments whose mates lie on either side of the junction"),
    ("MOLECULES", "1", "Integer", "Supporting fragments less unflagged PCR duplicates (UMI families where the reads carry UMIs)"),
    ("START_SITES", "1", "Integer", "Distinct partner-side read positions of the supporting fragments"),
    ("PRIMER_READS", "1", "Integer", "Supporting fragments with a read starting at a primer of the primer BED (0 without one)"),
    ("PRIMERS", ".", "String", "Primers those reads start at, sorted (absent when none or without a primer BED)"),
    ("CONFIDENCE", "1", "String", "Confidence tier: high, medium or low"),
    ("KNOWN", "0", "Flag", "The gene pair is a known fusion partner pair"),
    ("READING_FRAME", "1", "String", "in-frame, out-of-frame or unknown"),
    ("KINASE_DOMAIN", "1", "String", "Declared kinase domain of the partners in the fusion product: retained, lost or not applicable (no kinase declared for either gene)"),
    ("EXON", "1", "Integer", "Exon number at this breakend in TRANSCRIPT (absent when intergenic or unknown)"),
    ("TRANSCRIPT", "1", "String", "Transcript used to annotate this breakend"),
    ("HGVS", "1", "String", "HGVS adjoined-transcript description of the fusion junction (the same on both breakends; absent when a partner is intergenic)"),
]

# VCF 4.3 section 1.2: characters with a meaning in the INFO column are percent-encoded.
# ':' is harmless in INFO values and kept so FUSION reads GENE5::GENE3.
_ENCODE = {"%": "%25", ";": "%3B", "=": "%3D", ",": "%2C", " ": "%20", "\t": "%09", "\n": "%0A", "\r": "%0D"}


def encode_info(value: object) -> str:
    """An INFO string value with VCF's special characters percent-encoded."""
    return "".join(_ENCODE.get(ch, ch) for ch in str(value))


def breakend_alt(ref_base: str, end: Breakend, mate: Breakend) -> str:
    """ALT of the record at ``end`` joined to ``mate`` (VCF 4.3 section 5.4)."""
    bracket = "[" if mate.side == "R" else "]"
    p = f"{bracket}{mate.chrom}:{mate.pos + 1}{bracket}"
    return f"{ref_base}{p}" if end.side == "L" else f"{p}{ref_base}"


def _ref_base(base: str) -> str:
    base = (base or "N").upper()
    return base if base in ("A", "C", "G", "T") else "N"


def _info(r: CallRecord, mate_id: str, gene: str, exon: int | None, transcript: str | None) -> str:
    items: list[str] = ["SVTYPE=BND", f"MATEID={mate_id}", f"EVENT={encode_info(r.id)}"]
    if r.breakpoint_precision != "exact":
        items.append("IMPRECISE")
    items.append(f"HOMLEN={r.homology}")
    items.append(f"GENE={encode_info(gene)}")
    items.append(f"FUSION={encode_info(r.fusion)}")
    items.append(f"SPLIT_READS={r.split_reads}")
    items.append(f"DISCORDANT_PAIRS={r.discordant_pairs}")
    items.append(f"MOLECULES={r.molecules}")
    items.append(f"START_SITES={r.start_sites}")
    items.append(f"PRIMER_READS={r.primer_reads}")
    if r.primers:
        items.append("PRIMERS=" + ",".join(encode_info(n) for n in r.primers))
    if r.confidence and r.confidence != ".":
        items.append(f"CONFIDENCE={encode_info(r.confidence)}")
    if r.known:
        items.append("KNOWN")
    items.append(f"READING_FRAME={encode_info(r.reading_frame)}")
    if r.kinase_domain:
        items.append(f"KINASE_DOMAIN={encode_info(r.kinase_domain)}")
    if exon is not None:
        items.append(f"EXON={int(exon)}")
    if transcript and transcript != ".":
        items.append(f"TRANSCRIPT={encode_info(transcript)}")
    if r.hgvs:
        items.append(f"HGVS={encode_info(r.hgvs)}")
    return ";".join(items)


def vcf_records(c: Candidate) -> list[tuple[str, int, str, str, str, str]]:
    """The two records of a called fusion: (chrom, 1-based pos, ID, REF, ALT, INFO), from
    its record (:mod:`imtfusion.callrecord`)."""
    r = call_record(c)
    id5, id3 = f"{r.id}_5", f"{r.id}_3"
    ref5, ref3 = _ref_base(r.ref_base5), _ref_base(r.ref_base3)
    end5, end3 = r.breakend5, r.breakend3
    return [
        (end5.chrom, end5.pos + 1, id5, ref5, breakend_alt(ref5, end5, end3),
         _info(r, id3, r.gene5, r.exon5, r.transcript5)),
        (end3.chrom, end3.pos + 1, id3, ref3, breakend_alt(ref3, end3, end5),
         _info(r, id5, r.gene3, r.exon3, r.transcript3)),
    ]


def _meta_value(text: str) -> str:
    return str(text).replace("\n", " ").replace("\r", " ")


def vcf_header(result: SampleResult) -> list[str]:
    lines = ["##fileformat=VCFv4.3", f"##source=imtfusion {result.version}"]
    lines.append(f"##reference={_meta_value(result.fasta or result.annotation_source)}")
    for name, length in result.bam.contig_lengths.items():
        lines.append(f"##contig=<ID={name},length={length}>")
    lines.append('##FILTER=<ID=PASS,Description="All filters passed">')
    lines.append('##ALT=<ID=BND,Description="Breakend of a novel adjacency (fusion junction)">')
    for key, number, kind, desc in INFO_FIELDS:
        lines.append(f'##INFO=<ID={key},Number={number},Type={kind},Description="{desc}">')
    lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype (not determined for fusions: ./.)">')
    lines.append(f"##imtfusion_annotation={_meta_value(result.annotation_source)}")
    lines.append(f"##imtfusion_annotation_sha256={result.annotation_checksum}")
    lines.append("#" + "\t".join(["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", result.sample]))
    return lines


def render_vcf(result: SampleResult) -> str:
    """VCF 4.3 text of ``result.called``: two BND records per fusion, sorted by contig
    (BAM header order), position and ID."""
    order = {name: i for i, name in enumerate(result.bam.contig_lengths)}
    records = [r for c in result.called for r in vcf_records(c)]
    records.sort(key=lambda r: (order.get(r[0], len(order)), r[0], r[1], r[2]))
    lines = vcf_header(result)
    for chrom, pos, rid, ref, alt, info in records:
        lines.append("\t".join([chrom, str(pos), rid, ref, alt, ".", "PASS", info, "GT", "./."]))
    return "\n".join(lines) + "\n"
