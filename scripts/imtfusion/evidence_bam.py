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


def _regions(loci: list[TargetLocus], calls: list[Candidate], lengths: dict[str, int],
             extra: Iterable[tuple[str, int, int]] = ()) -> list[tuple[str, int, int]]:
    regions = [(l.chrom, l.start, l.end) for l in loci]
    regions += [(c, max(0, s), min(lengths[c], e)) for c, s, e in extra if c in lengths]
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
    record_names: dict[str, RecordNames] | None = None, extra: Iterable[tuple[str, int, int]] = (),
) -> list[pysam.AlignedSegment]:
    """Tagged records of every call's supporting fragments, sorted by position, read from
    the call's :class:`~imtfusion.evidence.EvidenceSource`.

    ``record_names`` (from :func:`collect_evidence`) says where in each target locus the
    records with a given name start, so those loci are not read again: only small windows
    at the supporting fragments' records, and the partner windows outside the loci.
    ``extra``: more regions (0-based, half-open) where supporting records lie: the copies
    of a call's target where an aligner placed some of its reads."""
    owners: dict[str, list[tuple[Candidate, str]]] = {}
    for c in calls:
        for name in sorted(c.split_fragments):
            owners.setdefault(name, []).append((c, "split"))
        for name in sorted(c.discordant_fragments - c.split_fragments):
            owners.setdefault(name, []).append((c, "discordant"))
    if not owners:
        return []
    # the tags of a fragment's records (XI, XF, XE), once per fragment, not per record
    tags = {name: (",".join(c.call_id for c, _ in who), ",".join(c.fusion for c, _ in who), who[0][1])
            for name, who in owners.items()}
    wanted = np.asarray(sorted({scan.name_key(name) for name in owners}), dtype=np.uint64)
    known = [record_names[l.name] for l in loci if record_names and l.name in record_names]
    regions = [piece for region in _regions(loci, calls, source.contig_lengths, extra)
               for piece in _subtract(region, known)]
    regions += [window for names in known for window in _position_windows(names, wanted)]
    seen: set[tuple] = set()
    out: list[pysam.AlignedSegment] = []
    for read in source.records_named(regions, wanted):
        if read.flag & (FLAG_SECONDARY | FLAG_QCFAIL):
            continue
        name = read.query_name
        found = tags.get(name)
        if found is None:
            continue
        key = (name, read.flag, read.reference_id, read.reference_start, read.cigarstring)
        if key in seen:
            continue
        seen.add(key)
        call_ids, fusions, kind = found
        read.set_tag("XI", call_ids, "Z")
        read.set_tag("XF", fusions, "Z")
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


def _junction_cut(read: pysam.AlignedSegment, c: Candidate) -> tuple[int, Breakend, int] | None:
    """Where a soft-clipped junction record is cut at the call's breakpoint: (index in its
    stored sequence, the breakend, 5 or 3 for the gene there); None when the record does
    not end at either breakend."""
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
        elif end.side == "R" and lead and abs(read.reference_start - end.pos) <= 10:
            cut = qstart + (end.pos - read.reference_start)
        else:
            continue
        if not (0 < cut < len(seq)):
            continue
        return cut, end, role
    return None


def _junction_example(read: pysam.AlignedSegment, cut: int, end: Breakend, role: int) -> ReadExample:
    """A junction record cut at ``cut`` (:func:`_junction_cut`), in transcript orientation."""
    seq = read.query_sequence
    left, right = seq[:cut], seq[cut:]
    # genomic + orientation -> transcript orientation of the gene at this end
    plus = (role == 5 and end.side == "L") or (role == 3 and end.side == "R")
    if plus:
        five, three = left, right
    else:
        five, three = reverse_complement(right), reverse_complement(left)
    kind = "split" if read.has_tag("SA") else "clipped"
    return ReadExample(read.query_name, five, three, kind)


def junction_examples(records: Iterable[pysam.AlignedSegment], calls: list[Candidate]) -> dict[str, tuple[ReadExample, ...]]:
    """A few junction reads of each call, for the report: call ID -> examples, the ones
    with the longest shorter side first. Every junction record is ranked (by where it is
    cut: the sides' lengths), only the few shown are cut into examples."""
    by_id = {c.call_id: c for c in calls}
    # the first junction record of each read: (shorter side, record, cut, breakend, role)
    found: dict[str, dict[str, tuple]] = {c.call_id: {} for c in calls}
    for read in records:
        if read.get_tag("XE") != "split":
            continue
        name = read.query_name
        for call_id in read.get_tag("XI").split(","):
            c = by_id.get(call_id)
            if c is None or name in found[call_id]:
                continue
            place = _junction_cut(read, c)
            if place is not None:
                cut = place[0]
                found[call_id][name] = (min(cut, len(read.query_sequence) - cut), read) + place
    out: dict[str, tuple[ReadExample, ...]] = {}
    for c in calls:
        ranked = sorted(found[c.call_id].items(), key=lambda item: (-item[1][0], item[0]))
        out[c.call_id] = tuple(_junction_example(*place[1:]) for _, place in ranked[:MAX_EXAMPLES])
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
