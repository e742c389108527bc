"""Supporting reads of each call: an IGV-ready BAM, example reads and gene coverage.

A second, small pass through the index: the target loci and a window around each
partner breakpoint. Records of the fragments that support a call are kept and tagged

* ``XI:Z`` call id (``SAMPLE_F1`` ...), ``XF:Z`` fusion name,
* ``XE:Z`` ``split`` (the fragment has a junction read) or ``discordant``.
"""

from __future__ import annotations

import struct
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


def _owners(calls: list[Candidate]) -> dict[str, list[tuple[Candidate, str]]]:
    """Read name -> the calls it supports, each with ``split`` or ``discordant``."""
    owners: dict[str, list[tuple[Candidate, str]]] = {}
    for c in calls:
        for name in sorted(c.split_fragments):
            owners.setdefault(name, []).append((c, "split"))
        for name in sorted(c.discordant_fragments - c.split_fragments):
            owners.setdefault(name, []).append((c, "discordant"))
    return owners


def collect_support(
    source: EvidenceSource, loci: list[TargetLocus], calls: list[Candidate],
    record_names: dict[str, RecordNames] | None = None,
) -> list[bytes]:
    """Tagged records of every call's supporting fragments as BAM bytes, sorted by
    position, read from the call's :class:`~imtfusion.evidence.EvidenceSource`.

    ``record_names`` (from :func:`collect_evidence`) says where in each target locus the
    records with a given name start, so those loci are not read again: only small windows
    at the supporting fragments' records, and the partner windows outside the loci. The
    records stay bytes (the tags appended to them): no pysam object is made for them."""
    owners = _owners(calls)
    if not owners:
        return []
    # the tags of a fragment's records (XI, XF, XE), once per set of calls, not per record
    made: dict[tuple, bytes] = {}
    tags: dict[str, bytes] = {}
    for name, who in owners.items():
        key = (tuple(c.call_id for c, _ in who), who[0][1])
        found = made.get(key)
        if found is None:
            found = made[key] = _tag_bytes(",".join(key[0]), ",".join(c.fusion for c, _ in who), key[1])
        tags[name] = found
    wanted = np.asarray(sorted({scan.name_key(name) for name in owners}), dtype=np.uint64)
    known = [record_names[l.name] for l in loci if record_names and l.name in record_names]
    regions = [piece for region in _regions(loci, calls, source.contig_lengths) for piece in _subtract(region, known)]
    regions += [window for names in known for window in _position_windows(names, wanted)]
    seen: set[tuple] = set()
    ranked: list[tuple] = []
    unpack = scan.RECORD_FIELDS.unpack_from
    for raw in source.records_named(regions, wanted, tags):
        tid, pos, l_name, _, _, n_cigar, flag, l_seq, *_ = unpack(raw, 4)
        name = raw[36:35 + l_name]
        cigar_at = 36 + l_name
        aux_at = cigar_at + 4 * n_cigar
        # the same record read twice (regions that meet): once
        key = (name, flag, tid, pos, raw[cigar_at:aux_at])
        if key in seen:
            continue
        seen.add(key)
        ranked.append((tid, pos, name, flag, _with_tags(raw, aux_at + (l_seq + 1) // 2 + l_seq, tags[name.decode()])))
    ranked.sort()
    return [r[-1] for r in ranked]


def _tag_bytes(call_ids: str, fusions: str, kind: str) -> bytes:
    return b"".join(tag + b"Z" + value.encode() + b"\x00"
                    for tag, value in ((b"XI", call_ids), (b"XF", fusions), (b"XE", kind)))


_OWN_TAGS = (b"XI", b"XF", b"XE")
_AUX_SIZES = {ord(t): n for t, n in (("A", 1), ("c", 1), ("C", 1), ("s", 2), ("S", 2), ("i", 4), ("I", 4), ("f", 4))}


def _without_tags(aux: bytes, drop: tuple[bytes, ...]) -> bytes:
    """The aux fields of a record without the tags ``drop``."""
    kept, at = [], 0
    while at + 3 <= len(aux):
        kind = aux[at + 2]
        if kind in _AUX_SIZES:
            end = at + 3 + _AUX_SIZES[kind]
        elif kind in (ord("Z"), ord("H")):
            end = aux.index(b"\x00", at + 3) + 1
        elif kind == ord("B"):
            sub = aux[at + 3]
            count = struct.unpack_from("<i", aux, at + 4)[0]
            end = at + 8 + count * _AUX_SIZES[sub]
        else:
            raise ValueError(f"unknown aux type {chr(kind)!r}")
        if aux[at:at + 2] not in drop:
            kept.append(aux[at:end])
        at = end
    return b"".join(kept)


def _with_tags(raw: bytes, aux_at: int, tags: bytes) -> bytes:
    """A record (BAM bytes, its aux fields from ``aux_at``) with ``tags`` appended, as
    pysam's ``set_tag`` leaves it: a tag the record had already is replaced (taken out,
    the new one at the end)."""
    if b"XIZ" in raw or b"XFZ" in raw or b"XEZ" in raw:  # (rare: then read the fields properly)
        body = raw[4:aux_at] + _without_tags(raw[aux_at:], _OWN_TAGS) + tags
        return struct.pack("<i", len(body)) + body
    return struct.pack("<i", len(raw) - 4 + len(tags)) + raw[4:] + tags


def write_evidence_bam(records: list[bytes], header: dict, path: str | Path, command: str) -> None:
    """Write ``records`` (BAM bytes, already sorted) as a BAM with an index next to it,
    atomically (:func:`imtfusion.scan.write_bam`; htslib indexes it)."""
    path = Path(path)
    header = {k: v for k, v in header.items()}
    header["HD"] = dict(header.get("HD", {"VN": "1.6"}), SO="coordinate")
    header["PG"] = list(header.get("PG", [])) + [
        {"ID": f"imtfusion.{len(header.get('PG', []))}", "PN": "imtfusion", "VN": __version__, "CL": command}
    ]
    text = str(pysam.AlignmentHeader.from_dict(header))
    references = [(sq["SN"], int(sq["LN"])) for sq in header.get("SQ", [])]
    index_path = Path(str(path) + ".bai")
    with atomic_path(path) as tmp_bam:
        scan.write_bam(tmp_bam, scan.header_bytes(text, references), records)
        with atomic_path(index_path) as tmp_index:
            pysam.index(str(tmp_bam), "-o", str(tmp_index))


def _junction_cut(fields: tuple, cigar: memoryview, chrom: str, c: Candidate) -> tuple[int, Breakend, int] | None:
    """Where a soft-clipped junction record is cut at the call's breakpoint: (index in its
    stored sequence, the breakend, 5 or 3 for the gene there); None when the record does
    not end at either breakend. ``fields``: its fixed fields (:data:`imtfusion.scan.RECORD_FIELDS`);
    ``cigar``: its CIGAR operations (uint32, length << 4 | code)."""
    pos, l_seq = fields[1], fields[7]
    if not len(cigar) or not l_seq:
        return None
    lead = cigar[0] >> 4 if cigar[0] & 0xF == 4 else 0
    trail = cigar[-1] >> 4 if cigar[-1] & 0xF == 4 else 0
    qstart, qend = lead, l_seq - trail
    reference_end = None
    for end, role in ((c.end5, 5), (c.end3, 3)):
        if chrom != end.chrom:
            continue
        if end.side == "L" and trail:
            if reference_end is None:
                reference_end = pos + sum(op >> 4 for op in cigar if (1 << (op & 0xF)) & _REF_CONSUMING)
            if abs(reference_end - 1 - end.pos) > 10:
                continue
            cut = qend - (reference_end - 1 - end.pos)
        elif end.side == "R" and lead and abs(pos - end.pos) <= 10:
            cut = qstart + (end.pos - pos)
        else:
            continue
        if not (0 < cut < l_seq):
            continue
        return cut, end, role
    return None


_REF_CONSUMING = (1 << scan.OP_M) | (1 << scan.OP_D) | (1 << scan.OP_N) | (1 << scan.OP_EQ) | (1 << scan.OP_X)


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


def junction_examples(records: Iterable[bytes], calls: list[Candidate],
                      source: EvidenceSource) -> dict[str, tuple[ReadExample, ...]]:
    """A few junction reads of each call, for the report: call ID -> examples, the ones
    with the longest shorter side first. Every junction record (BAM bytes, of a fragment
    whose first call has it as a junction read: its ``XE`` is ``split``) is ranked by where
    it is cut (the sides' lengths) from its fixed fields and CIGAR; only the few shown are
    decoded (:meth:`~imtfusion.evidence.EvidenceSource.decode`) and cut into examples."""
    owners = _owners(calls)
    references = list(source.contig_lengths)
    unpack = scan.RECORD_FIELDS.unpack_from
    # the first junction record of each read: (shorter side, record, cut, breakend, role)
    found: dict[str, dict[str, tuple]] = {c.call_id: {} for c in calls}
    for raw in records:
        fields = unpack(raw, 4)
        name = raw[36:35 + fields[2]].decode()
        who = owners.get(name)
        if not who or who[0][1] != "split":
            continue
        cigar_at = 36 + fields[2]
        cigar = memoryview(raw)[cigar_at:cigar_at + 4 * fields[5]].cast("I")
        chrom = references[fields[0]] if fields[0] >= 0 else None
        for c, _ in who:
            if name in found[c.call_id]:
                continue
            place = _junction_cut(fields, cigar, chrom, c)
            if place is not None:
                cut = place[0]
                found[c.call_id][name] = (min(cut, fields[7] - cut), raw) + place
    chosen: dict[str, list[tuple]] = {}
    for c in calls:
        ranked = sorted(found[c.call_id].items(), key=lambda item: (-item[1][0], item[0]))
        chosen[c.call_id] = [place[1:] for _, place in ranked[:MAX_EXAMPLES]]
    shown = [place[0] for places in chosen.values() for place in places]
    decoded = dict(zip(map(id, shown), source.decode(shown)))
    return {call_id: tuple(_junction_example(decoded[id(place[0])], *place[1:]) for place in places)
            for call_id, places in chosen.items()}


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
