"""Supporting reads of each call: an IGV-ready BAM, example reads and gene coverage.

A second, small pass through the index: the target loci and a window around each
partner breakpoint. Records of the fragments that support a call are kept and tagged

* ``XI:Z`` call id (``SAMPLE_F1`` ...), ``XF:Z`` fusion name,
* ``XE:Z`` ``split`` (the fragment has a junction read) or ``discordant``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pysam

from imtfusion import __version__, scan
from imtfusion.calling import Candidate
from imtfusion.evidence import FLAG_QCFAIL, FLAG_SECONDARY, EvidenceSource, RecordNames, reverse_complement
from imtfusion.model import Breakend, GeneCoverage, ReadExample
from imtfusion.outputs import atomic_path
from imtfusion.targets import TargetLocus

PARTNER_WINDOW = 50_000  # bases fetched on each side of a partner breakpoint
MAX_EXAMPLES = 6
COVERAGE_BINS = 120


def _regions(loci: list[TargetLocus], calls: list[Candidate], lengths: dict[str, int]) -> list[tuple[str, int, int]]:
    regions = [(l.chrom, l.start, l.end) for l in loci]
    for c in calls:
        for end in (c.end5, c.end3):
            if end.chrom in lengths:
                regions.append((end.chrom, max(0, end.pos - PARTNER_WINDOW), min(lengths[end.chrom], end.pos + PARTNER_WINDOW)))
    regions.sort()
    merged: list[list] = []
    for chrom, s, e in regions:
        if merged and merged[-1][0] == chrom and s <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], e)
        else:
            merged.append([chrom, s, e])
    return [(c, s, e) for c, s, e in merged]


def _subtract(region: tuple[str, int, int], known: list[RecordNames]) -> list[tuple[str, int, int]]:
    """The parts of ``region`` outside the loci whose records are already indexed."""
    chrom, start, end = region
    parts = [(start, end)]
    for names in known:
        if names.chrom != chrom:
            continue
        parts = [piece for s, e in parts for piece in ((s, min(e, names.start)), (max(s, names.end), e)) if piece[0] < piece[1]]
    return [(chrom, s, e) for s, e in parts]


def _position_windows(names: RecordNames, wanted: np.ndarray, gap: int = 1000) -> list[tuple[str, int, int]]:
    """Small windows around the starts of the indexed records with a wanted name key."""
    windows: list[list[int]] = []
    for p in names.positions_of(wanted).tolist():
        if windows and p <= windows[-1][1] + gap:
            windows[-1][1] = p + 1
        else:
            windows.append([p, p + 1])
    return [(names.chrom, s, e) for s, e in windows]


def collect_support(
    source: EvidenceSource, loci: list[TargetLocus], calls: list[Candidate],
    record_names: dict[str, RecordNames] | None = None,
) -> list[pysam.AlignedSegment]:
    """Tagged records of every call's supporting fragments, sorted by position, read from
    the call's :class:`~imtfusion.evidence.EvidenceSource`.

    ``record_names`` (from :func:`collect_evidence`) says where in each target locus the
    records with a given name start, so those loci are not read again: only small windows
    at the supporting fragments' records, and the partner windows outside the loci."""
    owners: dict[str, list[tuple[Candidate, str]]] = {}
    for c in calls:
        for name in sorted(c.split_fragments):
            owners.setdefault(name, []).append((c, "split"))
        for name in sorted(c.discordant_fragments - c.split_fragments):
            owners.setdefault(name, []).append((c, "discordant"))
    if not owners:
        return []
    wanted = np.asarray(sorted({scan.name_key(name) for name in owners}), dtype=np.uint64)
    known = [record_names[l.name] for l in loci if record_names and l.name in record_names]
    regions = [piece for region in _regions(loci, calls, source.contig_lengths) for piece in _subtract(region, known)]
    regions += [window for names in known for window in _position_windows(names, wanted)]
    seen: set[tuple] = set()
    out: list[pysam.AlignedSegment] = []
    for read in source.records_named(regions, owners):
        if read.flag & (FLAG_SECONDARY | FLAG_QCFAIL):
            continue
        who = owners.get(read.query_name)
        if not who:
            continue
        key = (read.query_name, read.flag, read.reference_id, read.reference_start, read.cigarstring)
        if key in seen:
            continue
        seen.add(key)
        call, kind = who[0]
        read.set_tag("XI", ",".join(c.call_id for c, _ in who), "Z")
        read.set_tag("XF", ",".join(c.fusion for c, _ in who), "Z")
        read.set_tag("XE", kind, "Z")
        out.append(read)
    out.sort(key=lambda r: (r.reference_id, r.reference_start, r.query_name, r.flag))
    return out


def write_evidence_bam(records: list[pysam.AlignedSegment], header: dict, path: str | Path, command: str) -> None:
    """Write ``records`` (already sorted) as a BAM with an index next to it, atomically."""
    path = Path(path)
    header = {k: v for k, v in header.items()}
    header["HD"] = dict(header.get("HD", {"VN": "1.6"}), SO="coordinate")
    header["PG"] = list(header.get("PG", [])) + [
        {"ID": f"imtfusion.{len(header.get('PG', []))}", "PN": "imtfusion", "VN": __version__, "CL": command}
    ]
    index_path = Path(str(path) + ".bai")
    with atomic_path(path) as tmp_bam:
        with pysam.AlignmentFile(str(tmp_bam), "wb", header=header) as out:
            for rec in records:
                out.write(rec)
        with atomic_path(index_path) as tmp_index:
            pysam.index(str(tmp_bam), "-o", str(tmp_index))


def _junction_example(read: pysam.AlignedSegment, c: Candidate) -> ReadExample | None:
    """Cut a soft-clipped junction record at the call's breakpoint, in transcript
    orientation; None when the record does not end at either breakend."""
    cigar = read.cigartuples or []
    seq = read.query_sequence
    if not cigar or not seq:
        return None
    lead = cigar[0][1] if cigar[0][0] == 4 else 0
    trail = cigar[-1][1] if cigar[-1][0] == 4 else 0
    qstart, qend = lead, len(seq) - trail
    for end, role in ((c.end5, 5), (c.end3, 3)):
        if read.reference_name != end.chrom:
            continue
        if end.side == "L" and trail and abs(read.reference_end - 1 - end.pos) <= 10:
            cut = qend - (read.reference_end - 1 - end.pos)
            left, right = seq[:cut], seq[cut:]
        elif end.side == "R" and lead and abs(read.reference_start - end.pos) <= 10:
            cut = qstart + (end.pos - read.reference_start)
            left, right = seq[:cut], seq[cut:]
        else:
            continue
        if not (0 < cut < len(seq)):
            continue
        # genomic + orientation -> transcript orientation of the gene at this end
        plus = (role == 5 and end.side == "L") or (role == 3 and end.side == "R")
        if plus:
            five, three = left, right
        else:
            five, three = reverse_complement(right), reverse_complement(left)
        kind = "split" if read.has_tag("SA") else "clipped"
        return ReadExample(read.query_name, five, three, kind)
    return None


def junction_examples(records: Iterable[pysam.AlignedSegment], calls: list[Candidate]) -> dict[str, tuple[ReadExample, ...]]:
    """A few junction reads of each call, for the report: call ID -> examples, the ones
    with the longest shorter side first."""
    by_id = {c.call_id: c for c in calls}
    found: dict[str, dict[str, ReadExample]] = {c.call_id: {} for c in calls}  # the first example of each read
    for read in records:
        for call_id in read.get_tag("XI").split(","):
            c = by_id.get(call_id)
            if c is None or read.get_tag("XE") != "split":
                continue
            ex = _junction_example(read, c)
            if ex is not None:
                found[call_id].setdefault(ex.name, ex)
    out: dict[str, tuple[ReadExample, ...]] = {}
    for c in calls:
        ranked = sorted(found[c.call_id].values(), key=lambda e: (-min(len(e.five), len(e.three)), e.name))
        out[c.call_id] = tuple(ranked[:MAX_EXAMPLES])
    return out


def gene_coverage(source: EvidenceSource, name: str, chrom: str, start: int, end: int,
                  bins: int = COVERAGE_BINS) -> GeneCoverage:
    """Mean depth per bin over ``[start, end)`` from primary, non-duplicate records
    (:meth:`~imtfusion.evidence.EvidenceSource.depth`)."""
    span = max(1, end - start)
    depth = source.depth(chrom, start, end)
    edges = np.linspace(0, span, bins + 1).astype(int)
    values = tuple(round(float(depth[a:b].mean()), 2) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:]))
    return GeneCoverage(name, chrom, start, end, values)


def breakend_base(ref, end: Breakend) -> str:
    if ref is None:
        return "N"
    base = ref.fetch(end.chrom, end.pos, end.pos + 1)
    return base if base in ("A", "C", "G", "T") else "N"
