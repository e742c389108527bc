"""Evidence extraction: one pass through the BAM index over the target loci.

For every record in a target locus (secondary, QC-fail, duplicate and unmapped records
skipped and counted) we keep only what can support a fusion:

* **split reads** -- a record with an ``SA`` tag (STAR ``WithinBAM``, BWA-MEM, minimap2)
  gives the junction between its segments exactly; a spliced alignment whose ``N`` gap
  leaves the target gene (read-through, local deletions) is a split read too;
* **discordant reads** -- a primary record whose mate is on another contig, outside the
  locus, or in an orientation no transcript produces;
* **clipped reads** -- a soft clip long enough to carry partner sequence, without an
  ``SA`` tag (aligners without chimeric detection leave junction reads like this).

Everything else is only counted for QC. Fragments are keyed by read name; the caller
counts each fragment once whatever number of its records it saw.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Protocol

import numpy as np
import pysam

from imtfusion.bamio import bam_name
from imtfusion.errors import AlignmentFileError
from imtfusion.model import (
    Breakend,
    ClippedRead,
    DiscordantRead,
    ExonProfile,
    LibraryCounts,
    SplitRead,
    TargetQC,
    UnmappedMate,
)
from imtfusion.params import CallParameters
from imtfusion import umis
from imtfusion.scan import SEQ_CODES, pile_up
from imtfusion.targets import TargetLocus

if TYPE_CHECKING:
    from imtfusion.annotation import Gene

# Records never used: secondary alignments (the primary/supplementary carry the read),
# QC failures, PCR/optical duplicates (counted for QC) and unmapped records.
FLAG_UNMAPPED = 0x4
FLAG_SECONDARY = 0x100
FLAG_QCFAIL = 0x200
FLAG_DUPLICATE = 0x400
FLAG_SUPPLEMENTARY = 0x800
EXCLUDED_FLAGS = FLAG_UNMAPPED | FLAG_SECONDARY | FLAG_QCFAIL | FLAG_DUPLICATE

# CIGAR operation codes (pysam): M I D N S H P = X
_M, _I, _D, _N, _S, _H, _P, _EQ, _X = range(9)
_QUERY_OPS = (_M, _I, _EQ, _X)  # consume query and are aligned
_REF_OPS = (_M, _D, _N, _EQ, _X)
_CIGAR_RE = re.compile(r"(\d+)([MIDNSHP=X])")
_CIGAR_CODES = {c: i for i, c in enumerate("MIDNSHP=X")}
# Illumina adapter starts: a clip that begins with one is library, not partner, sequence.
_ADAPTERS = ("AGATCGGAAGAG", "CTGTCTCTTATA")  # TruSeq, Nextera
ADAPTER_SHIFT = 2  # bases of a clip that may precede the adapter
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
COVERAGE_BINS = 120
INWARD_BASES = 60  # aligned bases kept next to a junction, to spell the target side without a FASTA


def complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


@dataclass(frozen=True, slots=True)
class Segment:
    """One alignment of a read, with its place in the read (read order, not BAM order)."""

    chrom: str
    ref_start: int
    ref_end: int
    reverse: bool
    read_start: int  # first read base aligned, in sequencing order
    read_end: int  # one past the last aligned read base
    read_length: int  # including hard-clipped bases
    mapq: int

    def junction_after(self) -> Breakend:
        """Breakend when the partner follows this segment in the read."""
        if self.reverse:
            return Breakend(self.chrom, self.ref_start, "R")
        return Breakend(self.chrom, self.ref_end - 1, "L")

    def junction_before(self) -> Breakend:
        """Breakend when the partner precedes this segment in the read."""
        if self.reverse:
            return Breakend(self.chrom, self.ref_end - 1, "L")
        return Breakend(self.chrom, self.ref_start, "R")


def parse_cigar_string(cigar: str) -> list[tuple[int, int]]:
    ops = [(_CIGAR_CODES[op], int(n)) for n, op in _CIGAR_RE.findall(cigar)]
    if not ops or "".join(f"{n}{'MIDNSHP=X'[op]}" for op, n in ops) != cigar:
        raise ValueError(f"malformed CIGAR {cigar!r}")
    return ops


def cigar_geometry(cigartuples: list[tuple[int, int]]) -> tuple[int, int, int, int]:
    """(leading clip, aligned query bases, trailing clip, reference span) of a CIGAR."""
    lead = 0
    i = 0
    n = len(cigartuples)
    while i < n and cigartuples[i][0] in (_S, _H):
        lead += cigartuples[i][1]
        i += 1
    trail = 0
    j = n - 1
    while j >= i and cigartuples[j][0] in (_S, _H):
        trail += cigartuples[j][1]
        j -= 1
    aligned = 0
    ref = 0
    for k in range(i, j + 1):
        op, length = cigartuples[k]
        if op in _QUERY_OPS or op == _S:  # an inner S is malformed but consumes query
            aligned += length
        if op in _REF_OPS:
            ref += length
    return lead, aligned, trail, ref


def make_segment(chrom: str, pos: int, reverse: bool, cigartuples: list[tuple[int, int]], mapq: int) -> Segment:
    lead, aligned, trail, ref = cigar_geometry(cigartuples)
    total = lead + aligned + trail
    if reverse:
        read_start, read_end = trail, trail + aligned
    else:
        read_start, read_end = lead, lead + aligned
    return Segment(chrom, pos, pos + ref, reverse, read_start, read_end, total, mapq)


def parse_sa_tag(tag: str) -> list[Segment]:
    """Segments of an ``SA:Z`` tag (``rname,pos,strand,CIGAR,mapQ,NM;`` entries).

    Malformed entries are skipped: a damaged tag must not lose the rest of the read."""
    return list(_sa_segments(tag))


@functools.lru_cache(maxsize=8_192)
def _sa_segments(tag: str) -> tuple[Segment, ...]:
    # the reads of one junction repeat a few tags (same partner alignment): parsed once each
    out: list[Segment] = []
    for entry in tag.split(";"):
        if not entry:
            continue
        parts = entry.split(",")
        if len(parts) < 6 or parts[2] not in ("+", "-"):
            continue
        try:
            pos = int(parts[1]) - 1
            mapq = int(parts[4])
            ops = parse_cigar_string(parts[3])
        except ValueError:
            continue
        if pos < 0:
            continue
        out.append(make_segment(parts[0], pos, parts[2] == "-", ops, mapq))
    return tuple(out)


def outward_bases(seq: str | None, lead_hard: int, read_length: int, reverse: bool, junction_read_pos: int, side: str) -> str:
    """Bases of a record beyond its breakend, adjacent base first.

    ``junction_read_pos`` is the junction in read (sequencing) order. The string is in the
    record's genome orientation, read away from the breakend: for side ``L`` the bases to
    the right, for side ``R`` the bases to the left, reversed. Hard-clipped bases are not
    in the record, so the result may be shorter or empty."""
    if not seq:
        return ""
    stored = read_length - junction_read_pos if reverse else junction_read_pos
    stored -= lead_hard
    stored = min(max(stored, 0), len(seq))
    if side == "L":
        return seq[stored:]
    return seq[:stored][::-1]


def is_low_complexity(seq: str) -> bool:
    """Homopolymer- or dinucleotide-repeat-like sequence (poly-G reads of a two-colour
    sequencer with no signal, microsatellites), which aligns anywhere."""
    seq = seq.upper()
    if len(seq) < 8:
        return True
    if max(seq.count(b) for b in "ACGT") >= 0.75 * len(seq):
        return True
    if len(set(seq)) == 4:
        return False  # four bases in 8 or more make at least four dinucleotides
    return len({seq[i:i + 2] for i in range(len(seq) - 1)}) <= 3


def looks_like_adapter(outward: str, least: int = 0) -> bool:
    """Clipped bases that are adapter read-through (short inserts) rather than partner.

    A forward read's 3' adapter is a right clip read as is; a reverse read's 3' adapter
    is a left clip, which read outward is the complement of the adapter. With ``least``:
    whether the bases begin with at least that many (at most 12) bases of an adapter or
    its complement, however many follow (a junction's side, ``adapter_partner``)."""
    # The aligner's clip may start a base or two before the adapter: a first adapter base
    # that matches the genome by chance is aligned, a sequencing error next to it is clipped.
    for shift in range(ADAPTER_SHIFT + 1):
        head = outward[shift:shift + 12].upper()
        if len(head) < (least or 8):
            break
        for text in (head, complement(head)):
            for adapter in _ADAPTERS:
                if text.startswith(adapter[:least]) if least else adapter.startswith(text) or text.startswith(adapter):
                    return True
    return False


ADAPTER_SEEDS = tuple(a[1:7] for a in _ADAPTERS) + tuple(reverse_complement(a[1:7]) for a in _ADAPTERS)
MIN_ADAPTER_END = 7  # adapter bases at a read's end (or, reverse-complemented, its start) trimmed at least


def trim_adapter(seq: str) -> str:
    """An unmapped read's bases without its adapter read-through (an insert shorter than
    the read: the read goes on into the adapter, as FFPE libraries' often do): from the
    first place where the adapter begins (its first ``MIN_ADAPTER_END`` bases or more,
    ending the read) to the end, or, stored reverse-complemented, up to where it ends.
    The aligner never saw these reads' adapter as a clip to ignore; an adapter tail would
    hide the target bases at the read's end from the look-up of its last 20 bases."""
    if not any(seed in seq for seed in ADAPTER_SEEDS):
        return seq  # most reads: four look-ups
    upper = seq.upper()
    for adapter in _ADAPTERS:
        at = upper.find(adapter)
        if at >= 0:
            return seq[:at]
        for k in range(len(adapter) - 1, MIN_ADAPTER_END - 1, -1):
            if upper.endswith(adapter[:k]):
                return seq[:-k]
        rc = reverse_complement(adapter)
        at = upper.find(rc)
        if at >= 0:
            return seq[at + len(rc):]
        for k in range(len(rc) - 1, MIN_ADAPTER_END - 1, -1):
            if upper.startswith(rc[-k:]):
                return seq[k:]
    return seq


@dataclass
class Evidence:
    """Everything extracted from one BAM."""

    split_reads: list[SplitRead] = field(default_factory=list)
    discordant_reads: list[DiscordantRead] = field(default_factory=list)
    clipped_reads: list[ClippedRead] = field(default_factory=list)
    qc: dict[str, TargetQC] = field(default_factory=dict)
    unmapped_reads: list[UnmappedMate] = field(default_factory=list)
    # clips that count only for a junction other reads made (block_clips_of)
    block_clips: list[ClippedRead] = field(default_factory=list)
    # per target locus read in bulk: where its records start, by read-name key
    # (:func:`imtfusion.scan.name_key`), so supporting reads are found again without a re-read
    record_names: dict[str, "RecordNames"] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RecordNames:
    """Name keys and start positions of every record of a locus (BAM contig names)."""

    chrom: str
    start: int
    end: int
    keys: np.ndarray  # uint64
    positions: np.ndarray  # int64, 0-based

    def positions_of(self, keys: np.ndarray) -> np.ndarray:
        """Sorted distinct start positions of the records whose name key is in ``keys``."""
        from imtfusion.scan import among, sorted_unique

        return sorted_unique(self.positions[among(self.keys, keys)])


def _split_from_record(
    read: pysam.AlignedSegment, chrom: str, sa_tag: str, locus: TargetLocus
) -> list[SplitRead]:
    cigar = read.cigartuples or []
    this = make_segment(chrom, read.reference_start, read.is_reverse, cigar, read.mapping_quality)
    # query_sequence lacks hard-clipped bases; in BAM order they precede it
    lead_hard = cigar[0][1] if cigar and cigar[0][0] == _H else 0
    others = parse_sa_tag(sa_tag)
    # SA entries of a read whose length disagrees with ours belong to something else
    segments = [this] + [s for s in others if s.read_length == this.read_length and s != this]
    segments.sort(key=lambda s: (s.read_start, s.read_end, s.chrom, s.ref_start))
    seq = read.query_sequence
    key = dup_key(read)
    out: list[SplitRead] = []
    for first, second in zip(segments, segments[1:]):
        if first is not this and second is not this:
            continue
        end_a = first.junction_after()
        end_b = second.junction_before()
        overlap = first.read_end - second.read_start
        anchor_b = second.read_end - second.read_start
        if overlap > 0:
            # both segments claim the same read bases: give them to the first segment
            end_b = end_b.shifted(overlap if end_b.side == "R" else -overlap)
            anchor_b -= overlap
        if _is_colinear_splice(end_a, end_b, locus):
            continue
        junction_a = first.read_end
        junction_b = max(second.read_start, first.read_end)
        out_a = out_b = in_a = in_b = ""
        if first is this:
            out_a = outward_bases(seq, lead_hard, this.read_length, this.reverse, junction_a, end_a.side)
            in_a = outward_bases(seq, lead_hard, this.read_length, this.reverse, junction_a, "R" if end_a.side == "L" else "L")
        if second is this:
            out_b = outward_bases(seq, lead_hard, this.read_length, this.reverse, junction_b, end_b.side)
            in_b = outward_bases(seq, lead_hard, this.read_length, this.reverse, junction_b, "R" if end_b.side == "L" else "L")
        out.append(
            SplitRead(
                fragment=read.query_name,
                end_a=end_a,
                end_b=end_b,
                anchor_a=first.read_end - first.read_start,
                anchor_b=max(anchor_b, 0),
                mapq_a=first.mapq,
                mapq_b=second.mapq,
                kind="supplementary",
                outward_a=out_a,
                outward_b=out_b,
                inward_a=in_a[:INWARD_BASES],
                inward_b=in_b[:INWARD_BASES],
                dup_key=key,
            )
        )
    return out


def _clipped_end(cigar) -> bool:
    """Whether the alignment is soft- or hard-clipped at either end (where a split read
    continues elsewhere)."""
    return bool(cigar) and (cigar[0][0] in (_S, _H) or cigar[-1][0] in (_S, _H))


_NAME_UMI = umis.NAME_UMI


def umi_of(read: pysam.AlignedSegment) -> str:
    """The fragment's UMI: its ``MI`` tag (a molecule id that fgbio or umi-tools already
    gave, kept as ``MI:<id>``), else its ``RX`` tag (the raw UMI bases; the two halves of
    a duplex UMI joined), else a read-name suffix of bases (umi-tools' ``READ_ACGTACGT``,
    bcl-convert's ``READ:...:ACGTACGT``); "" without one."""
    if read.has_tag("MI"):
        return f"MI:{read.get_tag('MI')}"
    if read.has_tag("RX"):
        return str(read.get_tag("RX")).upper().replace("-", "").replace("+", "")
    m = _NAME_UMI.search(read.query_name or "")
    return m.group(1).replace("+", "").replace("-", "") if m else ""


def dup_key(read: pysam.AlignedSegment) -> tuple:
    """Where the record's unclipped 5' end lies, and its mate's start: two fragments
    sharing it are duplicates, unless their UMIs (the last element, :func:`umi_of`)
    differ. The unclipped end (clipped bases included, as Picard counts them) tells the
    reads of one junction apart: their records at the junction all start there, but
    their clips differ in length."""
    cigar = read.cigartuples or []
    if read.is_reverse:
        tail = cigar[-1][1] if cigar and cigar[-1][0] in (_S, _H) else 0
        five = (read.reference_end or read.reference_start) + tail
    else:
        five = read.reference_start - (cigar[0][1] if cigar and cigar[0][0] in (_S, _H) else 0)
    umi = umi_of(read)
    if read.flag & 0x1 and not read.flag & 0x8:
        return (read.reference_id, five, read.is_reverse, read.next_reference_id, read.next_reference_start, umi)
    return (read.reference_id, five, read.is_reverse, -1, -1, umi)


AMBIGUOUS_BIN = 1000  # bases: junction reads placed below min_mapq are grouped by their SA's place to this
MAX_AMBIGUOUS_JUNCTIONS = 5  # kept per target, the most molecules first
TINY_BLOCK = 5  # an aligned block this short after an intron gap is a spliced-in artefact


SPLICED_BLOCK = 24  # a block up to this long between an intron gap and a soft clip may be partner bases too


def clip_geometry(cigar: list[tuple[int, int]], ref_start: int, ref_end: int,
                  tiny: int = TINY_BLOCK) -> tuple[int, int, int, int]:
    """(left clip, right clip, first aligned base, one past the last) of a record.

    A block of at most ``tiny`` (``TINY_BLOCK``) bases hanging after an ``N`` gap at
    either end (HISAT2's ``85M6500N1M14S``) is a few partner bases spliced to a chance
    match: it is counted as part of the clip, and the breakend is the base before the
    gap. So is a block of at most ``TINY_BLOCK`` bases between a soft clip and a deletion
    or insertion (minimap2's ``14S4M1D57M``: 4 partner bases matched by chance a base
    before the exon, the gap bridging them to it), an insertion's bases with it."""
    left = cigar[0][1] if cigar[0][0] == _S else 0
    right = cigar[-1][1] if cigar[-1][0] == _S else 0
    j = 1 if left else 0
    if j + 1 < len(cigar) and (slack := _end_block(cigar[j], cigar[j + 1], tiny, left > 0)) is not None:
        left += slack[0]
        ref_start += slack[1]
    k = len(cigar) - (1 if right else 0)
    if k >= 2 and (slack := _end_block(cigar[k - 1], cigar[k - 2], tiny, right > 0)) is not None:
        right += slack[0]
        ref_end -= slack[1]
    return left, right, ref_start, ref_end


def _end_block(block: tuple[int, int], gap: tuple[int, int], tiny: int, clipped: bool) -> tuple[int, int] | None:
    """(read bases, reference bases) that an end block and the gap beside it add to the
    clip (:func:`clip_geometry`), or None when they are alignment."""
    if block[0] not in (_M, _EQ, _X):
        return None
    if gap[0] == _N and block[1] <= tiny:
        return block[1], block[1] + gap[1]
    if clipped and block[1] <= TINY_BLOCK and gap[0] in (_D, _I):
        return (block[1], block[1] + gap[1]) if gap[0] == _D else (block[1] + gap[1], block[1])
    return None


def block_clips_of(read: pysam.AlignedSegment, chrom: str, min_clip: int) -> list[ClippedRead]:
    """The clips a record would have if a block of ``TINY_BLOCK`` + 1 to
    ``SPLICED_BLOCK`` bases between an intron gap and a soft clip at an end were clip
    too (STAR's defaults: YWHAE::ROS1 read ``35M43139N17M23S``, 17 bases of YWHAE
    spliced to a chance match in a ROS1 exon 43 kb away). Such a clip is no evidence of
    a junction of its own: it counts only where it spells the partner of one that other
    reads made (:func:`imtfusion.calling.call_candidates`), as a spliced read of the
    target's own exons spells none."""
    cigar = read.cigartuples
    if not cigar or len(cigar) < 3 or not (cigar[0][0] == _S or cigar[-1][0] == _S):
        return []
    plain = clip_geometry(cigar, read.reference_start, read.reference_end)
    wide = clip_geometry(cigar, read.reference_start, read.reference_end, SPLICED_BLOCK)
    if plain == wide:
        return []
    # only the ends the wider block changed, and only where a soft clip of ``min_clip``
    # follows the block (the records the bulk reader chooses for their clips: scan.classify)
    left_changed = plain[0] != wide[0] and cigar[0][0] == _S and cigar[0][1] >= min_clip
    right_changed = plain[1] != wide[1] and cigar[-1][0] == _S and cigar[-1][1] >= min_clip
    return [c for c in clips_of(read, chrom, min_clip, SPLICED_BLOCK)
            if (c.end.side == "L" and right_changed) or (c.end.side == "R" and left_changed)]


def clips_of(read: pysam.AlignedSegment, chrom: str, min_clip: int, tiny: int = TINY_BLOCK) -> list[ClippedRead]:
    """Soft clips of at least ``min_clip`` bases that do not look like adapter (a block of
    at most ``tiny`` bases after an intron gap at an end counted in, :func:`clip_geometry`)."""
    cigar = read.cigartuples
    if not cigar:
        return []
    left, right, ref_start, ref_end = clip_geometry(cigar, read.reference_start, read.reference_end, tiny)
    if left < min_clip and right < min_clip:
        return []
    seq = read.query_sequence or ""
    anchor = read.query_alignment_length - max(0, left - (cigar[0][1] if cigar[0][0] == _S else 0)) - max(
        0, right - (cigar[-1][1] if cigar[-1][0] == _S else 0)
    )
    out = []
    key = dup_key(read)
    # the adapter test reads the soft clip itself: a tiny block hanging after an intron
    # gap (counted into the clip above) would hide an adapter behind a few genome bases
    soft_left = cigar[0][1] if cigar[0][0] == _S else 0
    soft_right = cigar[-1][1] if cigar[-1][0] == _S else 0
    if right >= min_clip:
        cut = len(seq) - right
        outward = seq[cut:]
        if not (looks_like_adapter(outward) or looks_like_adapter(seq[len(seq) - soft_right:] if soft_right else "")):
            inward = seq[max(0, cut - INWARD_BASES):cut][::-1]
            out.append(ClippedRead(read.query_name, Breakend(chrom, ref_end - 1, "L"), outward, anchor,
                                   read.mapping_quality, inward, key))
    if left >= min_clip:
        outward = seq[:left][::-1]
        if not (looks_like_adapter(outward) or looks_like_adapter(seq[:soft_left][::-1])):
            inward = seq[left:left + INWARD_BASES]
            out.append(ClippedRead(read.query_name, Breakend(chrom, ref_start, "R"), outward, anchor,
                                   read.mapping_quality, inward, key))
    return out


def collect_region(bam: pysam.AlignmentFile, chrom: str, start: int, end: int,
                   params: CallParameters) -> tuple[list[ClippedRead], list[UnmappedMate]]:
    """The clipped reads of a small region (soft clips of ``min_clip_match`` bases or more,
    :func:`clips_of`, of primary records with ``min_mapq`` and no SA tag: the partner side
    of a candidate) and its unmapped reads placed next to their mapped mates, in one pass
    of its records."""
    clipped: list[ClippedRead] = []
    unmapped: list[UnmappedMate] = []
    for read in safe_fetch(bam, chrom, max(0, start), end):
        flag = read.flag
        if flag & FLAG_UNMAPPED:
            if not flag & (FLAG_SECONDARY | FLAG_QCFAIL | FLAG_DUPLICATE | 0x8) and read.query_sequence:
                unmapped.append(UnmappedMate(read.query_name, trim_adapter(read.query_sequence), chrom,
                                             read.reference_start, umi_of(read)))
            continue
        if flag & EXCLUDED_FLAGS or read.mapping_quality < params.min_mapq or read.has_tag("SA"):
            continue
        clipped.extend(c for c in clips_of(read, chrom, params.min_clip_match) if start <= c.end.pos < end)
    return clipped, unmapped


CONTINUATION_READS = 64  # reads through a breakend looked at: enough for a consensus, bounded at 5,000x
MIN_CONTINUATION = 15  # aligned bases a read needs past a breakend to show what follows it
# A read spliced from a breakend that aligns fewer bases than this past the intron before
# a soft clip shows no continuation: an aligner splices a junction read's first partner
# bases to a chance match in the target gene (STAR's defaults with 19 TPM4 bases in ALK)
SPLICED_BEFORE_CLIP = 20


def _continuation_of(read: pysam.AlignedSegment, end: Breakend, n: int) -> tuple[tuple, str] | None:
    """(key, bases) a record shows past ``end`` (:attr:`AtBreakend.continuations`), or None."""
    if read.flag & EXCLUDED_FLAGS or not read.cigartuples:
        return None
    seq = read.query_sequence
    if not seq:
        return None
    found = _continuation(read.cigartuples, read.reference_start, end.pos, end.side, seq, n)
    if found is None or len(found[1]) < MIN_CONTINUATION:
        return None  # too few aligned bases past the breakend to compare
    return found


def _continuation(cigar: list[tuple[int, int]], ref: int, pos: int, side: str, seq: str, n: int):
    """(key, bases) of one record at ``pos`` (see :attr:`AtBreakend.continuations`), or None.

    Soft-clipped bases are not the reference's continuation (a junction read aligned a few
    bases past its junction by chance): the bases stop where the clip starts."""
    first = cigar[0][1] if cigar[0][0] == _S else 0
    last = len(seq) - (cigar[-1][1] if cigar[-1][0] == _S else 0)
    q = 0
    for i, (op, length) in enumerate(cigar):
        if op in (_M, _EQ, _X):
            if ref <= pos < ref + length:
                qpos = q + pos - ref
                if side == "L":
                    stop = min(qpos + 1 + n, last)
                    if pos < ref + length - 1:
                        return ("c",), seq[qpos + 1 : stop]
                    nxt = cigar[i + 1] if i + 1 < len(cigar) else None
                    if nxt is not None and nxt[0] == _N:
                        if cigar[-1][0] == _S and last - (qpos + 1) < SPLICED_BEFORE_CLIP:
                            return None  # a few bases spliced to a chance match, then clipped
                        return ("n", ref + length + nxt[1]), seq[qpos + 1 : stop]
                    return None  # clipped, indel or read end at the breakend
                begin = max(qpos - n, first)
                if pos > ref:
                    return ("c",), seq[begin:qpos][::-1]
                prv = cigar[i - 1] if i > 0 else None
                if prv is not None and prv[0] == _N:
                    if cigar[0][0] == _S and qpos - first < SPLICED_BEFORE_CLIP:
                        return None
                    return ("n", ref - prv[1] - 1), seq[begin:qpos][::-1]
                return None
            ref += length
            q += length
        elif op in (_I, _S):
            q += length
        elif op in (_D, _N):
            if ref <= pos < ref + length:
                return None  # the breakend is not aligned in this record
            ref += length
    return None


class PileupReference:
    """Reference bases spelled by the reads themselves, for a BAM without its FASTA.

    ``fetch`` returns, for each base of a window, the most common base of the reads
    aligned there (htslib's pile-up counts, bases of quality 15 or more; duplicate,
    secondary and QC-failed records skipped), ``N`` where none is;
    :class:`imtfusion.reference.Reference` has the same interface. Counted in blocks of
    ``BLOCK`` bases, each once."""

    BLOCK = 1_024
    from_reads = True  # not the genome: bases where no read is aligned are unknown (N)

    def __init__(self, bam: pysam.AlignmentFile):
        self.bam = bam
        self._contigs = dict(zip(bam.references, bam.lengths))
        self._blocks: dict[tuple[str, int], str] = {}

    def has(self, chrom: str) -> bool:
        return chrom in self._contigs

    def fetch(self, chrom: str, start: int, end: int, remember: bool = True) -> str:
        length = self._contigs.get(chrom)
        if length is None:
            return ""
        start, end = max(0, start), min(end, length)
        if end <= start:
            return ""
        first, last = start // self.BLOCK, (end - 1) // self.BLOCK
        text = "".join(self._block(chrom, k) for k in range(first, last + 1))
        offset = first * self.BLOCK
        return text[start - offset : end - offset]

    def _block(self, chrom: str, k: int) -> str:
        key = (chrom, k)
        if key not in self._blocks:
            start = k * self.BLOCK
            end = min(start + self.BLOCK, self._contigs[chrom])
            try:
                counts = np.asarray(self.bam.count_coverage(chrom, start, end), dtype=np.int64)
            except (OSError, ValueError) as exc:
                raise AlignmentFileError(
                    f"{bam_name(self.bam)}: "
                    f"cannot be read in {chrom}:{start + 1}-{end} ({exc}); the BAM or its index is damaged: "
                    "re-create both"
                ) from None
            best = counts.argmax(axis=0)
            letters = np.frombuffer(b"ACGT", dtype=np.uint8)[best]
            letters[counts.max(axis=0) == 0] = ord("N")
            self._blocks[key] = letters.tobytes().decode()
        return self._blocks[key]


    def without(self, fragments: frozenset[str]) -> "PileupExcluding":
        """The same pile-up without the reads of ``fragments`` (a junction's own reads)."""
        return PileupExcluding(self, fragments)


class PileupExcluding:
    """Bases spelled by the reads other than some fragments' (``Reference`` interface).

    A junction read aligned past its junction spells the partner's bases there as if they
    were the genome's: the microhomology the junction may shift by is read from the other
    reads only (at most ``MAX_READS`` records per window), and is ``N`` where they do not
    reach."""

    MAX_READS = 500
    from_reads = True

    def __init__(self, pileup: PileupReference, fragments: frozenset[str]):
        self.pileup = pileup
        self.fragments = fragments

    def has(self, chrom: str) -> bool:
        return self.pileup.has(chrom)

    def fetch(self, chrom: str, start: int, end: int) -> str:
        length = self.pileup._contigs.get(chrom)
        if length is None:
            return ""
        start, end = max(0, start), min(end, length)
        if end <= start:
            return ""
        counts = np.zeros((4, end - start), dtype=np.int64)
        code = {"A": 0, "C": 1, "G": 2, "T": 3}
        seen = 0
        try:
            for read in self.pileup.bam.fetch(chrom, start, end):
                if read.is_unmapped or read.is_secondary or read.is_duplicate or read.is_qcfail:
                    continue
                if read.query_name in self.fragments:
                    continue
                seen += 1
                if seen > self.MAX_READS:
                    break
                seq, quals = read.query_sequence, read.query_qualities
                if seq is None:
                    continue
                for q, r in read.get_aligned_pairs(matches_only=True):
                    if start <= r < end and (quals is None or quals[q] >= 15):
                        k = code.get(seq[q])
                        if k is not None:
                            counts[k, r - start] += 1
        except (OSError, ValueError) as exc:
            raise AlignmentFileError(
                f"{bam_name(self.pileup.bam)}: "
                f"cannot be read in {chrom}:{start + 1}-{end} ({exc}); the BAM or its index is damaged: re-create both"
            ) from None
        letters = np.frombuffer(b"ACGT", dtype=np.uint8)[counts.argmax(axis=0)].copy()
        letters[counts.max(axis=0) == 0] = ord("N")
        return letters.tobytes().decode()


SPLIT_LANDING_READS = 256  # SA-tagged records at a breakend looked at: a sample, bounded at any depth


def _landing_of(read: pysam.AlignedSegment, end: Breakend) -> tuple[Breakend, int] | None:
    """Where an SA-tagged record split at ``end`` continues (:attr:`AtBreakend.landings`)
    and the MAPQ of the segment there, or None."""
    cigar = read.cigartuples
    this = make_segment(end.chrom, read.reference_start, read.is_reverse, cigar, read.mapping_quality)
    if this.junction_after() == end:
        following = [o for o in parse_sa_tag(read.get_tag("SA"))
                     if o.read_length == this.read_length and o.read_start >= this.read_end - 5]
        if following:
            nxt = min(following, key=lambda o: o.read_start)
            return nxt.junction_before(), nxt.mapq
    elif this.junction_before() == end:
        preceding = [o for o in parse_sa_tag(read.get_tag("SA"))
                     if o.read_length == this.read_length and o.read_end <= this.read_start + 5]
        if preceding:
            prev = max(preceding, key=lambda o: o.read_end)
            return prev.junction_after(), prev.mapq
    return None


AMBIGUOUS_READS = 2_048  # low-MAPQ SA-tagged records split at a breakend kept: bounded at any depth


def landings_near(bam: pysam.AlignmentFile, end: Breakend, shift: int) -> list[tuple[Breakend, Breakend, int]]:
    """(breakend, landing, MAPQ there) of the SA-tagged records split at ``end`` or up to
    ``shift`` bases off it on its side (the same junction shifted along a microhomology),
    as :attr:`AtBreakend.landings` takes them, from one pass of the records there (at
    most ``SPLIT_LANDING_READS`` a breakend)."""
    out: list[tuple[Breakend, Breakend, int]] = []
    taken: dict[Breakend, int] = {}
    for read in safe_fetch(bam, end.chrom, max(0, end.pos - shift), end.pos + shift + 1):
        if read.flag & EXCLUDED_FLAGS or not read.cigartuples or not read.has_tag("SA"):
            continue
        this = make_segment(end.chrom, read.reference_start, read.is_reverse, read.cigartuples, read.mapping_quality)
        for at in (this.junction_after(), this.junction_before()):
            if at.side == end.side and abs(at.pos - end.pos) <= shift and taken.get(at, 0) < SPLIT_LANDING_READS:
                landing = _landing_of(read, at)
                if landing is not None:
                    taken[at] = taken.get(at, 0) + 1
                    out.append((at, landing[0], landing[1]))
    return out


def _split_near(read: pysam.AlignedSegment, end: Breakend, window: int) -> bool:
    """Whether the record's alignment stops within ``window`` bases of ``end``, on its side
    (where a junction read of ``end`` continues elsewhere)."""
    this = make_segment(end.chrom, read.reference_start, read.is_reverse, read.cigartuples, read.mapping_quality)
    return any(e.side == end.side and abs(e.pos - end.pos) <= window
               for e in (this.junction_after(), this.junction_before()))


def splits_of_records(records: Iterable[pysam.AlignedSegment], chrom: str, locus: TargetLocus) -> list[SplitRead]:
    """The split reads of SA-tagged records of ``chrom`` (:func:`_split_from_record`)."""
    return [split for read in records for split in _split_from_record(read, chrom, read.get_tag("SA"), locus)]


@dataclass(frozen=True)
class AtBreakend:
    """What the records through a breakend show, from one pass of them (:func:`reads_at`).

    ``continuations``: what the reads aligned through it show beyond it, without a
    junction there. Keys ``("c",)`` for reads aligned contiguously past it, ``("n", pos)``
    for reads spliced from it to ``pos`` (the first base past the intron); values (read
    name, the read bases beyond it, adjacent base first, as :func:`outward_bases` orients
    them), of the first ``CONTINUATION_READS`` reads that show one. Reads clipped there
    (junction reads themselves) or with an indel there say nothing and are left out.

    ``landings``: where the reads split at it (clipped there, with an SA tag) continue:
    the breakend of the neighbouring segment in the read, one per read, of the first
    ``SPLIT_LANDING_READS`` SA-tagged records.

    ``ambiguous``: the first ``AMBIGUOUS_READS`` SA-tagged clipped records placed below
    ``min_mapq`` or written as secondary alignments (a pseudogene or paralog shares their
    bases: STAR's chimeric multimappers put the place it chose on the copy and this one
    as a secondary supplementary) whose alignment stops within
    ``junction_window`` of it, on its side (the others of a paralog's deep exon are not
    kept: they cannot be a call's junction reads here); they never make a call
    (:func:`imtfusion.features.add_ambiguous_support` counts those split exactly at a
    call's junction for it).

    ``ambiguous_clips``: the same without an SA tag, soft-clipped within
    ``AMBIGUOUS_CLIP_REACH`` bases of it on its side (an aligner without chimeric
    output, minimap2's MAPQ-0 ``87M13S``); counted for a call only where the clip spells
    its partner (:func:`imtfusion.features.add_ambiguous_support`)."""

    continuations: dict[tuple, list[tuple[str, str]]]
    landings: list[Breakend]
    ambiguous: list[pysam.AlignedSegment]
    ambiguous_clips: list[pysam.AlignedSegment]


_NOT_A_COPY = EXCLUDED_FLAGS & ~FLAG_SECONDARY  # a secondary alignment is one of a copy's places


def reads_at(bam: pysam.AlignmentFile, end: Breakend, params: CallParameters, n: int = 40) -> AtBreakend:
    """The :class:`AtBreakend` of ``end`` (``n``: continuation bases kept), each of its
    three views as if read alone, from one pass of the records through it: at a deep
    locus a point fetch reads up to an index window (16 kb) of records before it, so a
    breakend is read once, until all three have what they take."""
    continuations: dict[tuple, list[tuple[str, str]]] = {}
    landings: list[Breakend] = []
    ambiguous: list[pysam.AlignedSegment] = []
    clips: list[pysam.AlignedSegment] = []
    shown = looked = low = clipped = 0

    def done() -> bool:
        return (shown >= CONTINUATION_READS and looked >= SPLIT_LANDING_READS and low >= AMBIGUOUS_READS
                and clipped >= AMBIGUOUS_READS)

    for read in safe_fetch(bam, end.chrom, max(0, end.pos), end.pos + 1):
        if shown < CONTINUATION_READS:
            found = _continuation_of(read, end, n)
            if found is not None:
                continuations.setdefault(found[0], []).append((read.query_name, found[1]))
                shown += 1
        secondary = read.flag & FLAG_SECONDARY
        # one of a copy's places: placed below min_mapq, or a secondary alignment
        copy_place = not read.flag & _NOT_A_COPY and (secondary or read.mapping_quality < params.min_mapq)
        if (read.flag & _NOT_A_COPY or not read.cigartuples or secondary and not read.query_sequence
                or not read.has_tag("SA")):
            if (clipped < AMBIGUOUS_READS and copy_place and read.cigartuples and read.query_sequence
                    and _soft_clipped_near(read, end, params.min_clip_match)):
                clipped += 1
                clips.append(read)
            if done():
                break
            continue
        if looked < SPLIT_LANDING_READS and not secondary:
            looked += 1
            landing = _landing_of(read, end)
            if landing is not None:
                landings.append(landing[0])
        if (low < AMBIGUOUS_READS and copy_place and _clipped_end(read.cigartuples) and _split_near(read, end, params.junction_window)):
            low += 1
            ambiguous.append(read)
        if done():
            break
    return AtBreakend(continuations, landings, ambiguous, clips)


AMBIGUOUS_CLIP_REACH = 24  # bases past a breakend an ambiguous clip may start: calling.EXTENDED_ALIGNMENT (tested)


def _soft_clipped_near(read: pysam.AlignedSegment, end: Breakend, min_clip: int) -> bool:
    """Whether the record has a soft clip of ``min_clip`` bases or more on ``end``'s side
    starting within ``AMBIGUOUS_CLIP_REACH`` bases of it."""
    cigar = read.cigartuples
    if end.side == "L":
        op, length = cigar[-1]
        at = (read.reference_end or 0) - 1
    else:
        op, length = cigar[0]
        at = read.reference_start
    return op == _S and length >= min_clip and abs(at - end.pos) <= AMBIGUOUS_CLIP_REACH


SPELL_WORD = 12  # bases of a seed looked up per read window; seeds are longer
SPELL_STRETCHES = 100_000  # distinct aligned stretches kept (memory bound at any depth)


@dataclass(frozen=True)
class SpelledAt:
    """The aligned stretches of the BAM whose bases contain a seed, and how many
    records were read to find them."""

    stretches: tuple[tuple[str, int, int], ...]  # (contig, start, end), 0-based half-open, distinct
    records: int
    complete: bool  # False when ``max_records`` stopped the pass


def reads_spelling(bam: pysam.AlignmentFile, seeds: Iterable[str], max_records: int) -> SpelledAt:
    """Every primary aligned record of the BAM whose aligned bases (soft clips left out)
    contain one of ``seeds`` exactly, read once from start to end: without a FASTA this
    is how the bases of a soft clip are found in the genome, through the reads aligned
    where they come from.

    Each read is looked at in windows of ``SPELL_WORD`` bases every ``len(seed) -
    SPELL_WORD + 1`` bases, so a read that holds a whole seed has a window inside it;
    only reads with such a window are searched for the seeds themselves."""
    seeds = sorted({x.upper() for x in seeds if len(x) >= SPELL_WORD and "N" not in x.upper()})
    if not seeds:
        return SpelledAt((), 0, True)
    stride = min(len(x) for x in seeds) - SPELL_WORD + 1
    words: dict[str, list[str]] = {}
    for x in seeds:
        for i in range(len(x) - SPELL_WORD + 1):
            words.setdefault(x[i : i + SPELL_WORD], []).append(x)
    found: list[tuple[str, int, int]] = []
    seen: set[tuple[str, int, int]] = set()
    records = 0
    for chrom, length in zip(bam.references, bam.lengths):
        for read in safe_fetch(bam, chrom, 0, length):
            records += 1
            if records > max_records:
                return SpelledAt(tuple(found), records - 1, False)
            if read.flag & (EXCLUDED_FLAGS | FLAG_SUPPLEMENTARY):
                continue
            bases = read.query_alignment_sequence
            if not bases:
                continue
            last = len(bases) - SPELL_WORD
            for i in range(0, last + 1, stride):
                hit = words.get(bases[i : i + SPELL_WORD])
                if hit and any(x in bases for x in hit):
                    # a seed in a highly expressed gene: its genes are known after a few reads
                    stretch = (chrom, read.reference_start, read.reference_end)
                    if len(found) < SPELL_STRETCHES and stretch not in seen:
                        seen.add(stretch)
                        found.append(stretch)
                    break
    return SpelledAt(tuple(found), records, True)


class RegionReads(Protocol):
    """The reads of a region that the later passes of a call ask for (the partner-side
    passes of :mod:`imtfusion.calling` and :mod:`imtfusion.rescue`): soft-clipped records
    and unmapped reads placed there, and (without a FASTA) the exon boundaries where reads
    spell some bases. :class:`BreakendReads` is the one that reads a BAM; the stages take
    this interface, not the BAM."""

    def clipped(self, chrom: str, start: int, end: int) -> list[ClippedRead]: ...

    def unmapped(self, chrom: str, start: int, end: int) -> list[UnmappedMate]: ...

    def boundaries_spelling(self, seeds: Iterable[str], lookup, contigs): ...


class BreakendReads:
    """What the reads at a breakend show, read once per breakend: the continuations of
    the reads aligned through it, where the reads split at it continue, and a pile-up
    that spells the reference without a FASTA; and the clipped and unmapped reads of a
    region (:class:`RegionReads`), each block of the genome read once per call; and,
    without a FASTA, the exon boundaries of the genes whose reads spell some bases (one
    pass of the whole BAM, :meth:`boundaries_spelling`). ``whole_bam_pass``: whether
    that pass may be made (not over the network unless asked for). ``notes`` say what
    such passes read, for the report."""

    def __init__(self, bam: pysam.AlignmentFile, params: CallParameters | None = None, whole_bam_pass: bool = True):
        self.bam = bam
        self.params = params or CallParameters()
        self.whole_bam_pass = whole_bam_pass
        self.notes: list[str] = []
        self.pileup = PileupReference(bam)
        self._reads_at: dict[Breakend, AtBreakend] = {}
        self._near: dict[tuple[Breakend, int], list[tuple[Breakend, Breakend, int]]] = {}
        self._clipped: dict[tuple[str, int], list[ClippedRead]] = {}
        self._unmapped: dict[tuple[str, int], list[UnmappedMate]] = {}

    def _at(self, end: Breakend) -> AtBreakend:
        """:func:`reads_at` of ``end``, read once per breakend."""
        if end not in self._reads_at:
            self._reads_at[end] = reads_at(self.bam, end, self.params)
        return self._reads_at[end]

    def continuations(self, end: Breakend) -> dict[tuple, list[tuple[str, str]]]:
        """:attr:`AtBreakend.continuations` of ``end``."""
        return self._at(end).continuations

    def landings(self, end: Breakend) -> list[Breakend]:
        """:attr:`AtBreakend.landings` of ``end``."""
        return self._at(end).landings

    def landings_near(self, end: Breakend, shift: int) -> list[tuple[Breakend, Breakend, int]]:
        """:func:`landings_near` of ``end``, read once per breakend."""
        key = (end, shift)
        if key not in self._near:
            self._near[key] = landings_near(self.bam, end, shift)
        return self._near[key]

    def ambiguous(self, end: Breakend, locus: TargetLocus) -> list[SplitRead]:
        """The split reads of :attr:`AtBreakend.ambiguous` at ``end`` (of the target ``locus``)."""
        return splits_of_records(self._at(end).ambiguous, end.chrom, locus)

    def ambiguous_clips(self, end: Breakend) -> list[ClippedRead]:
        """The soft clips on ``end``'s side of :attr:`AtBreakend.ambiguous_clips` and
        :attr:`AtBreakend.ambiguous` (:func:`clips_of`, down to ``min_clip_match`` bases):
        an SA-tagged read whose other part the aligner put on a copy of the partner
        (BWA-MEM's TPM3::ALK read on TPM3P1) still spells the partner in its clip."""
        at = self._at(end)
        return [c for read in itertools.chain(at.ambiguous, at.ambiguous_clips)
                for c in clips_of(read, end.chrom, self.params.min_clip_match) if c.end.side == end.side]

    REGION_BLOCK = 4_096  # the partner-side passes read the BAM in blocks this long, each once

    def clipped(self, chrom: str, start: int, end: int, params: CallParameters | None = None) -> list[ClippedRead]:
        """The clipped reads of a region (:func:`collect_region`; with the call's parameters unless given),
        each block of the genome read once per call however many candidates ask for it."""
        found = self._blocks(self._clipped, chrom, start, end, params or self.params)
        return [c for c in found if start <= c.end.pos < end]

    def unmapped(self, chrom: str, start: int, end: int) -> list[UnmappedMate]:
        """The unmapped reads of a region (:func:`collect_region`), read by blocks as :meth:`clipped` (a block
        read for one is read for the other)."""
        found = self._blocks(self._unmapped, chrom, start, end, self.params)
        return [u for u in found if start <= u.pos < end]

    def boundaries_spelling(self, seeds: Iterable[str], lookup, contigs):
        """Without a FASTA, the stand-in for the genome-wide exon-boundary index: the exon
        boundaries of the genes where reads spell one of ``seeds`` (one pass of the BAM,
        :func:`reads_spelling`), their bases from the reads' pile-up; ``lookup`` is the
        call's :class:`~imtfusion.genelookup.GeneLookup`, ``contigs`` its
        :class:`~imtfusion.targets.ContigMap`. None, with a note, when the whole-BAM pass
        may not be made."""
        from imtfusion.boundaries import BoundaryIndex

        if not self.whole_bam_pass:
            self.notes.append(
                "the BAM is read over the network: without a FASTA, soft clips that no mate or known partner "
                "places were not looked for in a pass of the whole BAM (it would download all of it); give the "
                "FASTA, or set partner_scan: yes, for novel partners of such clips"
            )
            return None
        found = reads_spelling(self.bam, seeds, self.params.max_partner_scan)
        genes: dict[str, object] = {}
        for chrom, start, end in found.stretches:
            for pos in (start, end - 1):
                for gene in lookup.genes_at(chrom, pos):
                    genes.setdefault(gene.gene_id, gene)
        rows = []
        for gene_id in sorted(genes):
            gene = genes[gene_id]
            rows += [(gene.chrom, pos, side, gene_id) for pos, side in sorted(lookup.splice_breakends(gene))]

        def fetch_gtf(chrom: str, start: int, end: int) -> str:
            bam_chrom = contigs.to_bam(chrom)
            return self.pileup.fetch(bam_chrom, start, end) if bam_chrom else ""

        index = BoundaryIndex.of_breakends([rows] if rows else [], fetch_gtf)
        scope = "the whole BAM" if found.complete else f"the first {found.records:,} records (max_partner_scan)"
        self.notes.append(
            f"without a FASTA, {scope} was read for the bases of the soft clips at target breakends that no mate "
            f"or known partner placed: {len(found.stretches):,} read(s) in {len(genes)} gene(s) spell them, and "
            "those genes' exon boundaries were tried as partners"
        )
        return index

    def _blocks(self, cache: dict, chrom: str, start: int, end: int, params: CallParameters) -> list:
        out: list = []
        for k in range(max(0, start) // self.REGION_BLOCK, (max(start, end - 1)) // self.REGION_BLOCK + 1):
            key = (chrom, k)
            if key not in cache:
                lo = k * self.REGION_BLOCK
                self._clipped[key], self._unmapped[key] = collect_region(self.bam, chrom, lo, lo + self.REGION_BLOCK,
                                                                         params)
            out.extend(cache[key])
        return out


@dataclass(frozen=True, slots=True)
class MateRecord:
    """What a discordant read's mate looks like where it aligned."""

    mapq: int
    sequence: str
    aligned: int  # bases of the record aligned there (M, = and X)


def collect_mates(
    bam: pysam.AlignmentFile, reads: Iterable[DiscordantRead], gap: int = 1_000
) -> dict[tuple[str, str, int], MateRecord]:
    """The primary mate records of discordant reads, by (fragment, contig, start) -- both
    reads of a fragment can be discordant reads of two target loci -- read in windows
    around the mates' positions (one fetch for mates within ``gap`` of each other)."""
    wanted: dict[str, dict[str, set[int]]] = {}
    for r in reads:
        wanted.setdefault(r.mate_end.chrom, {}).setdefault(r.fragment, set()).add(r.mate_end.pos)
    out: dict[tuple[str, str, int], MateRecord] = {}
    for chrom in sorted(wanted):
        if bam.get_tid(chrom) < 0:
            continue
        mates = wanted[chrom]
        windows: list[list[int]] = []
        for p in sorted({p for spots in mates.values() for p in spots}):
            if windows and p - windows[-1][1] <= gap:
                windows[-1][1] = p
            else:
                windows.append([p, p])
        for lo, hi in windows:
            for read in safe_fetch(bam, chrom, lo, hi + 1):
                if read.flag & (FLAG_SECONDARY | FLAG_SUPPLEMENTARY | FLAG_UNMAPPED):
                    continue
                spots = mates.get(read.query_name)
                if spots is None or read.reference_start not in spots:
                    continue
                out.setdefault((read.query_name, chrom, read.reference_start),
                               MateRecord(read.mapping_quality, read.query_sequence or "",
                                          sum(n for op, n in read.cigartuples or () if op in (0, 7, 8))))
    return out


def _is_colinear_splice(a: Breakend, b: Breakend, locus: TargetLocus) -> bool:
    """A 'split' that is ordinary splicing inside the target gene (non-splice-aware
    aligners such as BWA-MEM write exon-exon reads this way)."""
    if a.chrom != b.chrom or a.chrom != locus.chrom:
        return False
    gene = locus.gene
    if not (gene.start <= a.pos < gene.end and gene.start <= b.pos < gene.end):
        return False
    if a.side == "L" and b.side == "R":
        forward = b.pos > a.pos
    elif a.side == "R" and b.side == "L":
        forward = b.pos < a.pos
    else:
        return False
    return forward and abs(b.pos - a.pos) < (gene.end - gene.start)


def _spliced_out_of_gene(
    read: pysam.AlignedSegment, chrom: str, locus: TargetLocus, min_anchor: int
) -> tuple[list[SplitRead], list[ClippedRead]]:
    """N gaps that join the target gene to sequence outside it (read-through, deletions).

    When the part outside the gene is shorter than ``min_anchor``, the aligner most likely
    spliced a few partner bases to a chance match: the read is kept as a soft clip at the
    gene-side end of the gap instead, so the clip is matched or placed like any other."""
    gene = locus.gene
    splits: list[SplitRead] = []
    clips: list[ClippedRead] = []
    seq = read.query_sequence or ""
    pos = read.reference_start
    query = 0  # index in the stored sequence (soft clips included, hard clips not)
    blocks: list[int] = []  # aligned query bases per block between N gaps
    aligned = 0
    gaps: list[tuple[int, int, int, int]] = []  # (last base before, first base after, block index, query index)
    for op, length in read.cigartuples or []:
        if op == _N:
            gaps.append((pos - 1, pos + length, len(blocks), query))
            blocks.append(aligned)
            aligned = 0
            pos += length
            continue
        if op in _QUERY_OPS:
            aligned += length
        if op in _QUERY_OPS or op == _S:
            query += length
        if op in (_M, _D, _EQ, _X):
            pos += length
    blocks.append(aligned)
    for left, right, idx, q in gaps:
        inside_left = gene.start <= left < gene.end
        inside_right = gene.start <= right < gene.end
        if inside_left == inside_right:
            continue
        anchor_left = sum(blocks[: idx + 1])
        anchor_right = sum(blocks[idx + 1 :])
        outside = anchor_right if inside_left else anchor_left
        if outside < min_anchor and seq:
            if inside_left:
                end, outward, inward = Breakend(chrom, left, "L"), seq[q:], seq[:q][::-1]
            else:
                end, outward, inward = Breakend(chrom, right, "R"), seq[:q][::-1], seq[q:]
            if not looks_like_adapter(outward):
                clips.append(ClippedRead(read.query_name, end, outward, anchor_left if inside_left else anchor_right,
                                         read.mapping_quality, inward[:INWARD_BASES], dup_key(read)))
            continue
        splits.append(
            SplitRead(
                fragment=read.query_name,
                end_a=Breakend(chrom, left, "L"),
                end_b=Breakend(chrom, right, "R"),
                anchor_a=anchor_left,
                anchor_b=anchor_right,
                mapq_a=read.mapping_quality,
                mapq_b=read.mapping_quality,
                kind="spliced",
                dup_key=dup_key(read),
            )
        )
    return splits, clips


def _is_discordant(read: pysam.AlignedSegment, chrom_id: int, locus: TargetLocus) -> bool:
    if read.next_reference_id != chrom_id:
        return True
    mate_pos = read.next_reference_start
    if not (locus.start <= mate_pos < locus.end):
        return True
    if read.is_reverse == read.mate_is_reverse:
        return True  # FF/RR: an inversion, no transcript gives this
    # outward-facing (RF) beyond a read length: back-splicing or a duplication
    length = read.query_length or read.infer_read_length() or 0
    if read.is_reverse:
        return mate_pos > read.reference_end + length
    return mate_pos + length < read.reference_start


def _aligned_span(read: pysam.AlignedSegment, gene: "Gene | None" = None) -> tuple[int, int]:
    """The record's first aligned base and one past its last, without a tiny block spliced
    to a chance match at either end (:func:`clip_geometry`: HISAT2's ``98M6500N1M1S`` ends
    where its 98 bases do, not 6,501 bases further on, out of its gene). With the ``gene``
    the record lies in, an end block of up to ``SPLICED_BLOCK`` bases spliced out of the
    gene is such a chance match too (STAR's ``69M65396N6M``: 6 partner bases 65 kb away,
    past the gene's end); one spliced within the gene is a splice."""
    cigar = read.cigartuples or []
    if len(cigar) < 2:
        return read.reference_start, read.reference_end
    _, _, start, end = clip_geometry(cigar, read.reference_start, read.reference_end)
    if gene is not None and (start < gene.start or end > gene.end):
        _, _, inner_start, inner_end = clip_geometry(cigar, read.reference_start, read.reference_end, SPLICED_BLOCK)
        if start < gene.start <= inner_start:
            start = inner_start
        if inner_end <= gene.end < end:
            end = inner_end
    return start, end


def _pair_end(read: pysam.AlignedSegment, chrom: str, gene: "Gene | None" = None) -> Breakend:
    """A mate pair's read as a breakend: its base nearest to the junction, which lies
    beyond the read's 3' end (:func:`_aligned_span`)."""
    start, end = _aligned_span(read, gene)
    if read.is_reverse:
        return Breakend(chrom, start, "R")
    return Breakend(chrom, end - 1, "L")


def safe_fetch(bam: pysam.AlignmentFile, chrom: str, start: int, end: int):
    """``bam.fetch`` that turns a decoding failure into an error naming the file and region."""
    iterator = bam.fetch("*") if chrom == "*" else bam.fetch(chrom, start, end)
    while True:
        try:
            read = next(iterator)
        except StopIteration:
            return
        except (OSError, ValueError) as exc:
            raise AlignmentFileError(
                f"{bam_name(bam)}: cannot be read in "
                f"{chrom}:{start + 1}-{end} ({exc}); the BAM or its index is damaged: re-create both"
            ) from None
        yield read


def collect_evidence(
    bam: pysam.AlignmentFile,
    loci: Iterable[TargetLocus],
    params: CallParameters,
    columnar: bool = True,
    threads: int = 1,
) -> Evidence:
    """Fetch every target locus through the index and extract fusion evidence.

    With ``columnar`` (the default) a BAM locus is read by :mod:`imtfusion.scan`: counts
    and coverage in bulk, and only records that may carry evidence looked at one by one;
    otherwise (and for CRAM) every record goes through pysam. Both give the same result.
    ``threads`` > 1 inflates a BAM's blocks in a second thread."""
    evidence = Evidence()
    for locus in loci:
        scan = _LocusScan(bam, locus, params, evidence)
        if columnar and scan.read_columnar(threads):
            scan.finish()
            if locus.name not in evidence.record_names:  # an empty locus
                evidence.record_names[locus.name] = RecordNames(
                    locus.chrom, locus.start, locus.end, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64))
            continue
        scan = _LocusScan(bam, locus, params, evidence)
        for read in safe_fetch(bam, locus.chrom, locus.start, locus.end):
            scan.add_read(read)
        scan.finish()
    return evidence


def collect_housekeeping(
    bam: pysam.AlignmentFile,
    loci: Iterable[TargetLocus],
    params: CallParameters,
    threads: int = 1,
) -> dict[str, TargetQC]:
    """Counts, depth and library figures of the housekeeping genes' loci (sample QC), read
    through the index in bulk like the target loci, without looking for evidence."""
    out: dict[str, TargetQC] = {}
    for locus in loci:
        scratch = Evidence()
        scan = _LocusScan(bam, locus, params, scratch, collect=False)
        if not scan.read_columnar(threads):
            scan = _LocusScan(bam, locus, params, scratch, collect=False)
            for read in safe_fetch(bam, locus.chrom, locus.start, locus.end):
                scan.add_read(read)
        scan.finish()
        out[locus.name] = scratch.qc[locus.name]
    return out


class _LocusScan:
    """The evidence and QC of one target locus, filled record by record or in bulk."""

    def __init__(self, bam: pysam.AlignmentFile, locus: TargetLocus, params: CallParameters, evidence: Evidence,
                 collect: bool = True):
        # collect=False: counts, depth and library figures only (housekeeping genes), no evidence
        self.collect = collect
        self.bam = bam
        self.locus = locus
        self.params = params
        self.evidence = evidence
        self.qc = TargetQC(target=locus.name, locus=locus.label())
        self.chrom = locus.chrom
        self.chrom_id = bam.get_tid(locus.chrom)
        gene = locus.gene
        self.gene = gene
        self.diff = np.zeros(gene.end - gene.start + 1, dtype=np.int64)
        self.exon_starts = [s for s, _ in locus.exons]
        self.exon_ends = [e for _, e in locus.exons]
        self.exon_start_array = np.asarray(self.exon_starts, dtype=np.int64)
        self.exon_end_array = np.asarray(self.exon_ends, dtype=np.int64)
        self.qc.exon_length = sum(e - s for s, e in locus.exons)
        # what is found goes to these lists first, so an abandoned columnar pass leaves no trace
        self.split_reads: list[SplitRead] = []
        self.clipped_reads: list[ClippedRead] = []
        self.discordant_reads: list[DiscordantRead] = []
        self.unmapped_reads: list[UnmappedMate] = []
        self.block_clips: list[ClippedRead] = []
        self.chosen: list[bytes] = []  # records of the columnar pass to examine one by one
        self.ambiguous_raw: list[bytes] = []  # its clipped records placed below min_mapq
        # (note_ambiguous) junction -> its fragments' duplicate keys and the first base of its SA places
        self.ambiguous: dict[tuple[int, str, str, int], tuple[dict[str, set[tuple]], int]] = {}
        self.name_keys: list[np.ndarray] = []
        self.name_positions: list[np.ndarray] = []
        # the library (sample QC): one start key per fragment, duplicates, insert sizes
        self.start_keys: list[np.ndarray] = []
        self.read_start_keys: list[int] = []  # the same from records read one by one
        # and their UMIs (molecules, :func:`imtfusion.umis.molecules_at_starts`), once the
        # first fragment read shows where the reads carry them ("?": not seen yet)
        self.umi_source: str | None = "?" if params.uses_umis else None
        self.umi_keys: list[np.ndarray] = []
        self.read_umis: list[bytes] = []
        self.fragments = self.flagged_duplicates = self.paired = self.spliced = 0
        self.insert_counts = np.zeros(MAX_INSERT + 1, dtype=np.int64)
        self.read_length_counts = np.zeros(MAX_READ_LENGTH + 1, dtype=np.int64)  # of the first reads (LoD)

    # -- one record at a time (pysam) ------------------------------------------------
    def add_read(self, read: pysam.AlignedSegment) -> None:
        qc, gene = self.qc, self.gene
        flag = read.flag
        if not flag & (FLAG_UNMAPPED | FLAG_SECONDARY | FLAG_QCFAIL | FLAG_SUPPLEMENTARY) and (
                not flag & 0x1 or flag & 0x40):
            self._library_read(read)
        if flag & EXCLUDED_FLAGS:
            if flag & FLAG_DUPLICATE:
                qc.duplicates += 1
            elif flag & FLAG_SECONDARY:
                qc.secondary += 1
                if self.collect and not flag & _NOT_A_COPY:
                    self.note_ambiguous(read)  # one of a copy's places (STAR's chimeric multimappers)
            elif flag & FLAG_QCFAIL:
                qc.qc_fail += 1
            elif flag & 0x1 and not flag & 0x8 and read.query_sequence and self.collect:
                self.add_unmapped(read)
            return
        if not flag & FLAG_SUPPLEMENTARY:
            qc.reads += 1
            start = read.reference_start
            if start < gene.end and (read.reference_end or start + 1) > gene.start:
                in_exon = False
                diff, exon_starts, exon_ends = self.diff, self.exon_starts, self.exon_ends
                for b_start, b_end in read.get_blocks():
                    lo = max(b_start, gene.start) - gene.start
                    hi = min(b_end, gene.end) - gene.start
                    if hi > lo:
                        diff[lo] += 1
                        diff[hi] -= 1
                    if not in_exon:
                        k = bisect.bisect_right(exon_ends, b_start)
                        in_exon = k < len(exon_starts) and exon_starts[k] < b_end
                if in_exon:
                    qc.exon_reads += 1
        if read.mapping_quality < self.params.min_mapq:
            qc.low_mapq += 1
            if self.collect:
                self.note_ambiguous(read)
            return
        if self.collect:
            self.examine(read)

    def note_ambiguous(self, read: pysam.AlignedSegment) -> None:
        """A record placed below ``min_mapq`` or written as a secondary alignment (STAR's
        chimeric multimappers put the place they chose on a copy) that looks like a
        junction read (a soft or hard clip of ``min_clip_match`` bases or more at an end,
        an SA tag to a place outside its own gene): its fragment is counted for its clip
        breakend and the SA's place (to ``AMBIGUOUS_BIN``), in molecules as a call's are
        (its UMI and places: :func:`imtfusion.umis.count_duplicates`; PCR copies are one), so that a
        target whose junction reads a paralog or pseudogene made ambiguous is not signed
        *not detected* (:func:`imtfusion.pipeline.ambiguous_junctions`). Never evidence."""
        cigar = read.cigartuples
        if not cigar or not read.has_tag("SA"):
            return
        lead = cigar[0][1] if cigar[0][0] in (_S, _H) else 0
        trail = cigar[-1][1] if cigar[-1][0] in (_S, _H) else 0
        if max(lead, trail) < self.params.min_clip_match:
            return
        pos, side = (read.reference_end - 1, "L") if trail >= lead else (read.reference_start, "R")
        segments = parse_sa_tag(read.get_tag("SA"))
        if not segments:
            return
        chrom, at = segments[0].chrom, segments[0].ref_start
        if chrom == self.chrom and self.gene.start - AMBIGUOUS_BIN <= at < self.gene.end + AMBIGUOUS_BIN:
            return  # within its own gene: a splice written as a split (BWA-MEM), not a fusion
        # its fragment's duplicate key: molecules are counted as a call's are (umis.count_duplicates)
        key = (pos, side, chrom, at // AMBIGUOUS_BIN)
        fragments, first = self.ambiguous.get(key, ({}, at))
        fragments.setdefault(read.query_name, set()).add(dup_key(read))
        self.ambiguous[key] = (fragments, min(first, at))

    def _library_read(self, read: pysam.AlignedSegment) -> None:
        """A fragment's first read (or an unpaired read), as :meth:`_library_batch` counts them."""
        flag = read.flag
        paired = bool(flag & 0x1)
        pos = read.reference_start
        other = read.next_reference_start if paired else (read.reference_end or pos + 1)
        self.read_start_keys.append(int(start_key(np.asarray([pos]), np.asarray([other]),
                                                  np.asarray([bool(flag & 0x10)]))[0]))
        if self.umi_source == "?":
            self.umi_source = umis.umi_source(read)
        if self.umi_source is not None:
            self.read_umis.append(umis.umi_bytes(umi_of(read)))
        self.fragments += 1
        self.flagged_duplicates += bool(flag & FLAG_DUPLICATE)
        self.paired += paired
        self.spliced += any(op == _N for op, _ in read.cigartuples or ())
        length = read.query_length
        if 0 < length <= MAX_READ_LENGTH:
            self.read_length_counts[length] += 1
        size = abs(read.template_length)
        if (paired and not flag & (0x8 | FLAG_DUPLICATE) and self.insert_counts.sum() < MAX_INSERT_PAIRS and read.next_reference_id == read.reference_id
                and 0 < size <= MAX_INSERT and not any(op == _N for op, _ in read.cigartuples or ())):
            k1 = bisect.bisect_right(self.exon_ends, pos)
            k2 = bisect.bisect_right(self.exon_ends, read.next_reference_start)
            # the fragment ends in that exon too: a spliced mate's TLEN spans the intron
            if (k1 == k2 < len(self.exon_starts) and self.exon_starts[k1] <= pos
                    and self.exon_starts[k2] <= read.next_reference_start
                    and min(pos, read.next_reference_start) + size <= self.exon_ends[k1]):
                self.insert_counts[size] += 1

    def _library_batch(self, batch) -> None:
        """The fragments of a batch: their start keys, duplicates, pairs and insert sizes."""
        from imtfusion import scan

        fixed = batch.fixed
        flag = fixed["flag"].astype(np.int64)
        first = (((flag & (FLAG_UNMAPPED | FLAG_SECONDARY | FLAG_QCFAIL | FLAG_SUPPLEMENTARY)) == 0)
                 & (((flag & 0x1) == 0) | ((flag & 0x40) != 0)))
        idx = np.flatnonzero(first)
        if not len(idx):
            return
        f = flag[idx]
        pos = fixed["pos"][idx].astype(np.int64)
        paired = (f & 0x1) != 0
        next_pos = fixed["next_pos"][idx].astype(np.int64)
        self.start_keys.append(start_key(pos, np.where(paired, next_pos, batch.end[idx]), (f & 0x10) != 0))
        if self.umi_source == "?":
            [read] = scan.materialize(self.bam, batch.raw(idx[:1]))
            self.umi_source = umis.umi_source(read)
        if self.umi_source is not None:
            self.umi_keys.append(umis.batch_umis(batch, idx, self.umi_source))
        self.fragments += len(idx)
        self.flagged_duplicates += int(((f & FLAG_DUPLICATE) != 0).sum())
        self.paired += int(paired.sum())
        self.spliced += int(batch.has_op(scan.OP_N)[idx].sum())
        lengths = fixed["l_seq"][idx].astype(np.int64)
        lengths = lengths[(lengths > 0) & (lengths <= MAX_READ_LENGTH)]
        if len(lengths):
            self.read_length_counts += np.bincount(lengths, minlength=MAX_READ_LENGTH + 1)[:MAX_READ_LENGTH + 1]
        if self.insert_counts.sum() >= MAX_INSERT_PAIRS:
            return  # enough pairs for a median
        size = np.abs(fixed["tlen"][idx].astype(np.int64))
        ok = (paired & ((f & (0x8 | FLAG_DUPLICATE)) == 0) & (fixed["next_tid"][idx] == fixed["tid"][idx])
              & (size > 0) & (size <= MAX_INSERT) & ~batch.has_op(scan.OP_N)[idx])
        starts, ends = self.exon_start_array, self.exon_end_array
        if ok.any() and len(starts):
            k1 = np.searchsorted(ends, pos, side="right")
            k2 = np.searchsorted(ends, next_pos, side="right")
            inside = (k1 == k2) & (k1 < len(starts))
            inside[inside] &= ((starts[k1[inside]] <= pos[inside]) & (starts[k2[inside]] <= next_pos[inside])
                               # the fragment ends in that exon too: a spliced mate's TLEN spans the intron
                               & (np.minimum(pos, next_pos)[inside] + size[inside] <= ends[k1[inside]]))
            ok &= inside
            # the first pairs up to the cap, in file order, as record by record (_library_read)
            sizes = size[ok][:MAX_INSERT_PAIRS - int(self.insert_counts.sum())]
            self.insert_counts += np.bincount(sizes, minlength=MAX_INSERT + 1)[:MAX_INSERT + 1]

    def add_unmapped(self, read: pysam.AlignedSegment) -> None:
        """An unmapped read placed with its mapped mate: may hold a junction no aligner split."""
        self.unmapped_reads.append(UnmappedMate(read.query_name, trim_adapter(read.query_sequence), self.chrom,
                                                read.reference_start, umi_of(read)))

    def examine(self, read: pysam.AlignedSegment) -> None:
        """The evidence of a mapped, counted record of sufficient MAPQ (nothing for most)."""
        qc, gene, chrom, locus = self.qc, self.gene, self.chrom, self.locus
        flag = read.flag
        if _clipped_end(read.cigartuples) and read.has_tag("SA"):
            # an SA tag on a record with no clipped bases locates no junction in it: such
            # a record is read as an ordinary alignment
            qc.chimeric_records += 1
            splits = _split_from_record(read, chrom, read.get_tag("SA"), locus)
            if splits:
                qc.split_reads += 1
                self.split_reads.extend(splits)
        else:
            cigar = read.cigartuples
            if not cigar:
                return
            if any(op == _N for op, _ in cigar) and (
                read.reference_start < gene.start or read.reference_end > gene.end
            ):
                spliced, spliced_clips = _spliced_out_of_gene(read, chrom, locus, self.params.min_anchor)
                if spliced:
                    qc.split_reads += 1
                    self.split_reads.extend(spliced)
                self.clipped_reads.extend(spliced_clips)
                qc.clipped_reads += len(spliced_clips)
            if cigar[0][0] == _S or cigar[-1][0] == _S:
                clips = clips_of(read, chrom, self.params.min_clip_match)
                self.clipped_reads.extend(clips)
                qc.clipped_reads += len(clips)
                self.block_clips.extend(block_clips_of(read, chrom, self.params.min_clip_match))
        if flag & FLAG_SUPPLEMENTARY or not (flag & 0x1) or (flag & 0x8):
            return
        if _is_discordant(read, self.chrom_id, locus):
            qc.discordant_reads += 1
            if is_low_complexity(read.query_sequence or ""):
                return  # poly-G (no signal on two-colour sequencers) and repeats place anywhere
            read_end = _pair_end(read, chrom, gene)
            mate_end = Breakend(
                read.next_reference_name, read.next_reference_start, "R" if read.mate_is_reverse else "L"
            )
            self.discordant_reads.append(
                DiscordantRead(read.query_name, read_end, mate_end, read.mapping_quality, *_aligned_span(read, gene),
                               dup_key(read))
            )

    # -- in bulk (imtfusion.scan) -------------------------------------------------------
    def read_columnar(self, threads: int = 1) -> bool:
        """Read the locus with :mod:`imtfusion.scan`; False (and nothing kept) when the file
        cannot be read that way, so the caller reads it with pysam instead."""
        from imtfusion import scan

        try:
            first, batches = scan.scan_region(self.bam, self.chrom, self.locus.start, self.locus.end,
                                              threads=threads)
            if first is not None:
                self.add_read(first)
                self.name_keys.append(np.asarray([scan.name_key(first.query_name)], dtype=np.uint64))
                self.name_positions.append(np.asarray([first.reference_start], dtype=np.int64))
            for batch in batches:
                self.add_batch(batch)
            self.examine_chosen()
        except (scan.ScanError, OSError, ValueError):
            # not readable in bulk (or damaged): pysam reads it, and names the damage if any
            return False
        return True

    def add_batch(self, batch) -> None:
        from imtfusion import scan

        qc, gene = self.qc, self.gene
        self.name_keys.append(batch.name_suffix_keys())
        self.name_positions.append(batch.fixed["pos"].astype(np.int64))
        in_gene, chosen, counts = scan.classify(batch, self.settings, ADAPTER_CODES)
        duplicates, secondary, qc_fail, reads, low_mapq = (int(c) for c in counts)
        qc.duplicates += duplicates
        qc.secondary += secondary
        qc.qc_fail += qc_fail
        qc.reads += reads
        qc.low_mapq += low_mapq
        if in_gene.any():
            qc.exon_reads += scan.gene_depth(batch, in_gene, self.diff, gene.start, gene.end, self.exon_start_array,
                                             self.exon_end_array)
        self._library_batch(batch)
        if self.collect:
            self.chosen.extend(batch.raw(np.flatnonzero(chosen)))
            fixed, min_clip = batch.fixed, self.params.min_clip_match
            flag = fixed["flag"]
            low = (((fixed["mapq"] < self.params.min_mapq) & ((flag & EXCLUDED_FLAGS) == 0))
                   | (((flag & FLAG_SECONDARY) != 0) & ((flag & _NOT_A_COPY) == 0)))
            if low.any():  # clipped records placed below min_mapq or as secondaries: note_ambiguous
                first, first_len, last, last_len = batch.edge_ops()
                clips = (scan.OP_S, scan.OP_H)
                clipped = (np.isin(first, clips) & (first_len >= min_clip)) | (np.isin(last, clips) & (last_len >= min_clip))
                self.ambiguous_raw.extend(batch.raw(np.flatnonzero(low & clipped)))

    @functools.cached_property
    def settings(self) -> np.ndarray:
        """The locus and parameters as the compiled classification takes them (scan.classify)."""
        gene, locus, params = self.gene, self.locus, self.params
        return np.asarray([self.chrom_id, gene.start, gene.end, locus.start, locus.end, params.min_mapq,
                           params.min_clip_match, TINY_BLOCK, ADAPTER_SHIFT], dtype=np.int64)

    def examine_chosen(self) -> None:
        from imtfusion import scan

        for read in scan.materialize(self.bam, self.chosen):
            if read.flag & FLAG_UNMAPPED:
                self.add_unmapped(read)
            else:
                self.examine(read)
        self.chosen = []
        for read in scan.materialize(self.bam, self.ambiguous_raw):
            self.note_ambiguous(read)
        self.ambiguous_raw = []

    def finish(self) -> None:
        qc, gene, evidence = self.qc, self.gene, self.evidence
        evidence.qc[self.locus.name] = qc
        use_umis = self.params.uses_umis
        ranked = sorted(
            ((len(fragments) - umis.count_duplicates(fragments, use_umis), pos, side, chrom, first, fragments)
             for (pos, side, chrom, _), (fragments, first) in self.ambiguous.items()),
            key=lambda j: (-j[0], j[1:5]))[:MAX_AMBIGUOUS_JUNCTIONS]
        qc.ambiguous_junctions = tuple(
            (molecules, pos, side, chrom, first,
             tuple((name, tuple(sorted(keys))) for name, keys in sorted(fragments.items())))
            for molecules, pos, side, chrom, first, fragments in ranked)
        evidence.split_reads.extend(self.split_reads)
        evidence.clipped_reads.extend(self.clipped_reads)
        evidence.discordant_reads.extend(self.discordant_reads)
        evidence.unmapped_reads.extend(self.unmapped_reads)
        evidence.block_clips.extend(self.block_clips)
        if self.name_keys:
            evidence.record_names[self.locus.name] = RecordNames(
                self.chrom, self.locus.start, self.locus.end, np.concatenate(self.name_keys),
                np.concatenate(self.name_positions))
        depth = np.cumsum(self.diff[:-1])
        exon_bases = 0
        for s, e in zip(self.exon_starts, self.exon_ends):
            lo, hi = max(s, gene.start) - gene.start, min(e, gene.end) - gene.start
            if hi > lo:
                exon_bases += int(depth[lo:hi].sum())
        qc.exon_bases = exon_bases
        qc.coverage_bins = _bin_depth(depth)
        keys = np.concatenate(self.start_keys + [np.asarray(self.read_start_keys, dtype=np.uint64)])
        # records come by position, so the keys are nearly sorted: a radix sort counts them fast
        keys = np.sort(keys, kind="stable")
        distinct = int(len(keys) and 1 + np.count_nonzero(keys[1:] != keys[:-1]))
        molecules = None
        if self.umi_source not in (None, "?"):
            keys = np.concatenate(self.start_keys + [np.asarray(self.read_start_keys, dtype=np.uint64)])
            found = np.concatenate(self.umi_keys + [np.asarray(self.read_umis, dtype=f"S{umis.UMI_WIDTH}")])
            molecules = umis.molecules_at_starts(keys, found, self.params.umi_mismatches)
        sizes = np.flatnonzero(self.insert_counts)
        lengths = np.flatnonzero(self.read_length_counts)
        qc.library = LibraryCounts(self.fragments, self.flagged_duplicates, distinct, self.paired,
                                   tuple((int(k), int(self.insert_counts[k])) for k in sizes),
                                   tuple((int(k), int(self.read_length_counts[k])) for k in lengths),
                                   self.spliced, molecules)
        qc.transcript_bins = transcript_bins(depth, gene.start, self.locus, self.params.qc_transcript_trim)
        qc.profile = exon_profile(depth, gene.start, gene.strand, self.locus,
                                  (self.params.ati_skip, self.params.ati_window),
                                  exon_bases / qc.exon_reads if qc.exon_reads else 0.0)


# the adapters and their complements as the 4-bit base codes of BAM sequences, one after
# the other (scan.classify)
ADAPTER_CODES = np.asarray([SEQ_CODES.index(base) for adapter in _ADAPTERS
                            for text in (adapter, complement(adapter)) for base in text], dtype=np.uint8)


MAX_INSERT = 1000  # longer |TLEN| of a fragment within one exon is not counted (sample QC)
MAX_READ_LENGTH = 2_000  # longer reads (long-read RNA) are not counted in the read lengths (LoD)
MAX_INSERT_PAIRS = 20_000  # pairs per locus enough for the median insert: later ones are not looked at
TRANSCRIPT_BINS = 10


def start_key(pos: np.ndarray, other: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """One uint64 per fragment from its start, its mate's start (or its end when unpaired)
    and its strand: fragments with equal keys started together (PCR duplicates, flagged
    or not)."""
    other = (np.asarray(other, dtype=np.int64) & 0x7FFFFFFF).astype(np.uint64)
    return ((np.asarray(pos, dtype=np.int64).astype(np.uint64) << np.uint64(32))
            | (other << np.uint64(1)) | np.asarray(reverse, dtype=np.uint64))


def transcript_bins(depth: np.ndarray, offset: int, locus: TargetLocus, trim: int = 0) -> tuple[float, ...]:
    """Mean depth in :data:`TRANSCRIPT_BINS` equal bins along the reported transcript,
    5' end first (its exons joined in transcript order), ``trim`` bases at each end left
    out (how a library's fragments and reads cover transcript ends depends on their
    lengths, not on the RNA); () without a transcript or with fewer than 2 * trim + 500
    bases."""
    exons = locus.transcript_exons
    if not exons:
        return ()
    pieces = []
    for s, e in exons:
        lo, hi = max(s - offset, 0), min(e - offset, len(depth))
        piece = depth[lo:hi] if hi > lo else depth[:0]
        pieces.append(piece[::-1] if locus.gene.strand == "-" else piece)
    joined = np.concatenate(pieces) if pieces else depth[:0]
    if len(joined) < 2 * trim + 500:
        return ()
    joined = joined[trim:len(joined) - trim] if trim else joined
    edges = np.linspace(0, len(joined), TRANSCRIPT_BINS + 1).astype(int)
    return tuple(round(float(joined[a:b].mean()), 2) for a, b in zip(edges[:-1], edges[1:]))


def exon_profile(depth: np.ndarray, offset: int, strand: str, locus: TargetLocus, window: tuple[int, int],
                 read_bases: float) -> ExonProfile | None:
    """The exon-level coverage of the locus's reported transcript from the depth along the
    gene (``depth[i]`` is the depth at ``offset + i``); None without a transcript.
    ``window``: (near, far) bases before each exon whose intronic depth is summed apart."""
    exons = locus.transcript_exons
    if not exons:
        return None
    sums = np.concatenate([[0], np.cumsum(depth, dtype=np.int64)])

    def bases(start: int, end: int) -> tuple[int, int]:
        lo, hi = max(start - offset, 0), min(end - offset, len(depth))
        return (int(sums[hi] - sums[lo]), hi - lo) if hi > lo else (0, 0)

    exon_bases, exon_lengths = zip(*(bases(s, e) for s, e in exons))
    window_b, window_l, rest_b, rest_l = [], [], [], []
    near, far = window
    for (s1, e1), (s2, e2) in zip(exons, exons[1:]):
        # the intron between them; its window lies before the downstream exon (transcript order)
        if strand == "-":
            lo, hi = e2, s1  # exon 2 lies left of exon 1
            win = (min(hi, lo + near), min(hi, lo + far))
            rest = (win[1], hi)
        else:
            lo, hi = e1, s2
            win = (max(lo, hi - far), max(lo, hi - near))
            rest = (lo, win[0])
        for (b, n), out_b, out_l in ((bases(*win), window_b, window_l), (bases(*rest), rest_b, rest_l)):
            out_b.append(b)
            out_l.append(n)
    return ExonProfile(locus.transcript_id, tuple(exon_lengths), tuple(exon_bases), window, tuple(window_l),
                       tuple(window_b), tuple(rest_l), tuple(rest_b), round(float(read_bases), 3))


def _bin_depth(depth: np.ndarray) -> list[float]:
    if len(depth) == 0:
        return []
    edges = np.linspace(0, len(depth), COVERAGE_BINS + 1).astype(int)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        out.append(float(depth[lo:hi].mean()) if hi > lo else 0.0)
    return [round(x, 2) for x in out]


PAIRING_PROBE = 2_000  # primary records of the target loci looked at to tell whether the BAM lost its pairing
_NOT_PRIMARY = FLAG_UNMAPPED | FLAG_SECONDARY | FLAG_SUPPLEMENTARY | FLAG_QCFAIL | FLAG_DUPLICATE


def lost_pairing(bam: pysam.AlignmentFile, loci: list[TargetLocus]) -> bool:
    """Whether the reads of a pair were written as two unpaired records (minimap2 ``-ax
    splice`` given two FASTQs): no primary record of the first ``PAIRING_PROBE`` in the
    target loci is flagged paired, and some name is on two of them."""
    seen: set[str] = set()
    twice = False
    n = 0
    for locus in loci:
        for read in safe_fetch(bam, locus.chrom, locus.start, locus.end):
            if read.flag & _NOT_PRIMARY:
                continue
            if read.flag & 0x1:
                return False
            twice = twice or read.query_name in seen
            seen.add(read.query_name)
            n += 1
            if n >= PAIRING_PROBE:
                return twice
    return twice


def pairs_without_mate_fields(bam: pysam.AlignmentFile, loci: list[TargetLocus],
                              spans: list[tuple[str, int, int]], params: CallParameters) -> list[DiscordantRead]:
    """Discordant pairs of a BAM that lost its pairing: a target locus's unpaired primary
    record whose name is on an unpaired primary record in one of ``spans`` (the known
    partner genes, outside the target loci), or in another target locus (ETV6::NTRK3 joins
    two targets), is a read whose mate lies there, as mate fields would have said (a pair
    of two target loci gives one for each of its reads, as mate fields do). Both need
    ``min_discordant_mapq`` and no low-complexity sequence (the rule of the other mate
    pairs); the duplicate key holds the other read's start where a mate's would be."""
    def usable(read: pysam.AlignedSegment) -> bool:
        return (not read.flag & (_NOT_PRIMARY | 0x1) and read.mapping_quality >= params.min_discordant_mapq
                and not is_low_complexity(read.query_sequence or ""))

    partner: dict[str, pysam.AlignedSegment] = {}
    for chrom, start, end in spans:
        for read in safe_fetch(bam, chrom, start, end):
            if usable(read):
                partner.setdefault(read.query_name, read)
    # the names on usable reads of two target loci, found by their hashes first (a deep
    # panel's loci hold millions of reads: 8 bytes each, not a record each), then the reads
    hashes = []
    for locus in loci:
        names = [hash(r.query_name) for r in safe_fetch(bam, locus.chrom, locus.start, locus.end) if usable(r)]
        hashes.append(np.unique(np.asarray(names, dtype=np.int64)))
    crossing: set[int] = set()
    if len(loci) > 1 and hashes:
        values, counts = np.unique(np.concatenate(hashes), return_counts=True)
        crossing = set(values[counts > 1].tolist())
    in_loci: dict[str, list[tuple[int, pysam.AlignedSegment]]] = {}
    for k, locus in enumerate(loci):
        for read in safe_fetch(bam, locus.chrom, locus.start, locus.end):
            name = read.query_name
            if (name in partner or hash(name) in crossing) and usable(read):
                seen = in_loci.setdefault(name, [])
                if all(other.reference_start != read.reference_start or other.reference_id != read.reference_id
                       for _, other in seen):  # a read in two overlapping loci once
                    seen.append((k, read))
    out: list[DiscordantRead] = []
    for name in sorted(in_loci):
        reads = in_loci[name]
        for k, read in reads:
            mate = partner.get(name)
            if mate is None:  # the other read in another target locus
                others = [r for j, r in reads if j != k and r is not read]
                if len(others) != 1:
                    continue
                mate = others[0]
            read_end = _pair_end(read, loci[k].chrom, loci[k].gene)
            mate_end = Breakend(mate.reference_name, mate.reference_start, "R" if mate.is_reverse else "L")
            key = dup_key(read)
            out.append(DiscordantRead(read.query_name, read_end, mate_end, min(read.mapping_quality, mate.mapping_quality),
                                      *_aligned_span(read, loci[k].gene),
                                      key[:3] + (mate.reference_id, mate.reference_start, key[-1])))
    return out


class EvidenceSource(BreakendReads):
    """The one reader of a call's BAM: it owns the opened file (:meth:`open`), and every
    record or index figure a call uses comes from it -- the target loci's evidence and
    QC (:meth:`target_evidence`), the housekeeping genes' (:meth:`housekeeping`), the
    discordant reads' mates, the pairing of a BAM without mate fields, the unmapped reads
    without a position (:meth:`unplaced_reads`), the mapped records of the index
    statistics, the supporting records for the evidence BAM (:meth:`records_named`) and a
    gene's depth (:meth:`depth`); and, as a :class:`BreakendReads`, the reads at a
    breakend and of a region the later passes ask for. The stages get records and figures
    from it, never the file."""

    def __init__(self, bam: pysam.AlignmentFile, params: CallParameters | None = None, whole_bam_pass: bool = True,
                 threads: int = 1):
        super().__init__(bam, params, whole_bam_pass)
        self.threads = threads
        self.contig_lengths = dict(zip(bam.references, bam.lengths))

    @classmethod
    def open(cls, path, index=None, reference: str | None = None, params: CallParameters | None = None,
             threads: int = 1):
        """The source of the BAM/CRAM at ``path`` and its :class:`~imtfusion.bamio.AlignmentInfo`
        (:func:`~imtfusion.bamio.open_alignment`); without a FASTA the whole-BAM pass for
        the exon boundaries is not made over the network unless asked for."""
        from imtfusion.bamio import open_alignment

        bam, info = open_alignment(path, index, reference, threads=threads)
        source = cls(bam, params, threads=threads)
        source.whole_bam_pass = not source.whole_bam_pass_skipped(source.params.partner_scan)
        return source, info

    def close(self) -> None:
        self.bam.close()

    def whole_bam_pass_skipped(self, mode: str) -> bool:
        """A pass over all of the BAM (or its unmapped end) is not made over the network
        unless asked for (``yes``): it would download that much of the file."""
        from imtfusion.bamio import is_remote

        return is_remote(self.bam) and mode.strip().lower() == "auto"

    def header(self) -> dict:
        return self.bam.header.to_dict()

    def target_evidence(self, loci: Iterable[TargetLocus]) -> Evidence:
        """:func:`collect_evidence` of the target loci."""
        return collect_evidence(self.bam, loci, self.params, threads=self.threads)

    def housekeeping(self, loci: Iterable[TargetLocus]) -> dict[str, TargetQC]:
        """:func:`collect_housekeeping` of the housekeeping genes' loci."""
        return collect_housekeeping(self.bam, loci, self.params, threads=self.threads)

    def mates(self, reads: Iterable[DiscordantRead]) -> dict[tuple[str, str, int], MateRecord]:
        """:func:`collect_mates` of discordant reads."""
        return collect_mates(self.bam, reads)

    def lost_pairing(self, loci: list[TargetLocus]) -> bool:
        """:func:`lost_pairing`."""
        return lost_pairing(self.bam, loci)

    def pairs_without_mate_fields(self, loci: list[TargetLocus], spans: list[tuple[str, int, int]]) -> list[DiscordantRead]:
        """:func:`pairs_without_mate_fields` with the call's parameters."""
        return pairs_without_mate_fields(self.bam, loci, spans, self.params)

    def mapped_records(self) -> int | None:
        """The BAM's mapped records from its index statistics (every alignment: secondary and
        supplementary ones too), None when the index has none (a CRAM index)."""
        try:
            stats = self.bam.get_index_statistics()
        except (ValueError, AttributeError, OSError, NotImplementedError):
            return None
        return sum(s.mapped for s in stats) or None

    def placed_unmapped_count(self) -> int:
        """The unmapped reads placed next to their mates, from the index (0 when it does not say)."""
        try:
            return sum(s.unmapped for s in self.bam.get_index_statistics())
        except (ValueError, AttributeError, OSError, NotImplementedError):
            return 0

    def placed_unmapped(self, skip: Iterable[tuple[str, int, int]] = ()) -> Iterable[tuple[str, str, str]]:
        """(name, sequence, UMI) of every unmapped read placed next to its mapped mate,
        outside the ``skip`` regions (contig, start, end), in file order: one pass of the
        BAM's placed records, in bulk (only the unmapped ones decoded) where it can be."""
        from imtfusion import scan

        def select(batch: scan.RecordBatch) -> np.ndarray:
            flag = batch.fixed["flag"]
            return ((flag & FLAG_UNMAPPED) != 0) & ((flag & (FLAG_SECONDARY | FLAG_QCFAIL | FLAG_DUPLICATE | 0x8)) == 0)

        skipped: dict[str, list[tuple[int, int]]] = {}
        for chrom, start, end in skip:
            skipped.setdefault(chrom, []).append((start, end))
        for chrom, length in zip(self.bam.references, self.bam.lengths):
            records = scan.fetch_selected(self.bam, chrom, 0, length, select)
            for read in records if records is not None else safe_fetch(self.bam, chrom, 0, length):
                flag = read.flag
                if (flag & FLAG_UNMAPPED and not flag & (FLAG_SECONDARY | FLAG_QCFAIL | FLAG_DUPLICATE | 0x8)
                        and read.query_sequence
                        and not any(s <= read.reference_start < e for s, e in skipped.get(chrom, ()))):
                    yield read.query_name, trim_adapter(read.query_sequence), umi_of(read)

    def unplaced_count(self) -> int:
        """The unmapped reads without a position, from the index (0 when it does not say)."""
        try:
            return max(0, self.bam.nocoordinate)
        except (ValueError, AttributeError):
            return 0

    def unplaced_reads(self) -> Iterable[tuple[str, str, str]]:
        """(name, sequence, UMI) of every read without a position that has a sequence, in
        file order (one pass of the BAM's unmapped end each time it is iterated)."""
        return ((r.query_name, trim_adapter(r.query_sequence), umi_of(r)) for r in safe_fetch(self.bam, "*", 0, 0)
                if r.query_sequence)

    def records_named(self, regions: Iterable[tuple[str, int, int]], wanted: np.ndarray) -> Iterable[pysam.AlignedSegment]:
        """The records of each region in turn (file order) worth looking at for reads
        whose name keys (:func:`imtfusion.scan.name_key`, uint64) are ``wanted``: read in
        bulk, only records whose name key is among them and that are neither secondary nor
        QC-failed are decoded (and each region's first record); the caller compares names
        exactly. Record by record where the file cannot be read in bulk."""
        from imtfusion import scan

        def select(batch: scan.RecordBatch) -> np.ndarray:
            # names are compared exactly by the caller; this picks the few records worth decoding
            keys = batch.name_suffix_keys()
            return scan.among(keys, wanted) & ((batch.fixed["flag"] & (FLAG_SECONDARY | FLAG_QCFAIL)) == 0)

        for chrom, start, end in regions:
            # in bulk even for a small window: at a deep locus it holds thousands of records
            records = scan.fetch_selected(self.bam, chrom, start, end, select)
            yield from records if records is not None else safe_fetch(self.bam, chrom, start, end)

    def depth(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Depth per base of ``[start, end)`` (at least one base) from primary,
        non-duplicate records."""
        from imtfusion import scan

        span = max(1, end - start)
        skipped = FLAG_UNMAPPED | FLAG_SECONDARY | FLAG_QCFAIL | 0x400 | 0x800
        diff = np.zeros(span + 1, dtype=np.int64)
        reads: Iterable[pysam.AlignedSegment] = ()
        try:
            first, batches = scan.scan_region(self.bam, chrom, start, end)
            partial = np.zeros_like(diff)
            for batch in batches:
                _, b_start, b_end = scan.aligned_blocks(batch, (batch.fixed["flag"] & skipped) == 0)
                pile_up(partial, start, end, b_start, b_end)
            diff = partial
            reads = [first] if first is not None else []
        except (scan.ScanError, OSError, ValueError):
            reads = safe_fetch(self.bam, chrom, start, end)  # not readable in bulk: one record at a time
        for read in reads:
            if read.flag & skipped:
                continue
            for b_start, b_end in read.get_blocks():
                lo, hi = max(b_start, start) - start, min(b_end, end) - start
                if hi > lo:
                    diff[lo] += 1
                    diff[hi] -= 1
        return np.cumsum(diff[:-1])
