"""Typed records passed between the stages (evidence -> candidates -> calls -> reports).

Coordinates inside the package are 0-based. A *breakend* is one side of a junction: the
base ``pos`` is the last base retained on that side, and ``side`` says in which direction
the retained sequence extends from it:

* ``"L"``: retained bases are at ``<= pos``; the partner is joined after ``pos``.
* ``"R"``: retained bases are at ``>= pos``; the partner is joined before ``pos``.

With gene strands this fixes the transcript orientation: a breakend is the 5' end of a
fusion when its gene is on ``+`` and the side is ``L`` (or ``-`` and ``R``), and the 3'
end when its gene is on ``+`` and the side is ``R`` (or ``-`` and ``L``). Only outputs
convert to 1-based ``chr:pos``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SIDES = ("L", "R")


@dataclass(frozen=True, slots=True, order=True)
class Breakend:
    chrom: str
    pos: int
    side: str

    def shifted(self, delta: int) -> "Breakend":
        return Breakend(self.chrom, self.pos + delta, self.side)

    def label(self) -> str:
        """1-based ``chr:pos`` for outputs."""
        return f"{self.chrom}:{self.pos + 1}"


def is_five_prime(strand: str, side: str) -> bool:
    """Whether a breakend on a gene of ``strand`` keeps that gene's 5' part."""
    return (strand == "+" and side == "L") or (strand == "-" and side == "R")


def is_three_prime(strand: str, side: str) -> bool:
    """Whether a breakend on a gene of ``strand`` keeps that gene's 3' part."""
    return (strand == "+" and side == "R") or (strand == "-" and side == "L")


@dataclass(frozen=True, slots=True)
class SplitRead:
    """One read that spans a junction: two aligned segments of the same read.

    ``end_a`` precedes ``end_b`` in the fused molecule (read order). ``outward_a`` /
    ``outward_b`` are the read bases beyond each end, oriented as described in
    :func:`imtfusion.evidence.outward_clip` (empty when the record is hard-clipped or
    the end was not observed as a record).
    """

    fragment: str
    end_a: Breakend
    end_b: Breakend
    anchor_a: int
    anchor_b: int
    mapq_a: int
    mapq_b: int
    kind: str  # "supplementary" (SA tag), "spliced" (an N gap leaving the gene) or "clip" (a placed soft clip)
    outward_a: str = ""
    outward_b: str = ""
    inward_a: str = ""  # the record's own aligned bases at end_a, adjacent base first
    inward_b: str = ""
    dup_key: tuple = ()  # position signature: equal keys in two fragments mean PCR duplicates


@dataclass(frozen=True, slots=True)
class DiscordantRead:
    """A read in a target locus whose mate cannot come from one normal transcript."""

    fragment: str
    read_end: Breakend  # pos = the read's base nearest to the junction
    mate_end: Breakend  # pos = mate start (its leftmost aligned base)
    mapq: int
    read_start: int
    read_stop: int  # exclusive
    dup_key: tuple = ()


@dataclass(frozen=True, slots=True)
class ClippedRead:
    """A read with a long soft clip and no supplementary alignment."""

    fragment: str
    end: Breakend
    outward: str  # clipped bases, the one adjacent to the junction first
    anchor: int
    mapq: int
    inward: str = ""  # aligned bases next to the clip, adjacent base first
    dup_key: tuple = ()


@dataclass(frozen=True, slots=True)
class UnmappedMate:
    """An unmapped read placed at its mapped mate's position (SAM convention). When the
    junction lies inside it, aligners without chimeric output often leave it unmapped."""

    fragment: str
    sequence: str  # as sequenced (unmapped records are not reverse-complemented)
    chrom: str
    pos: int  # the mate's position
    umi: str = ""  # the read's UMI (imtfusion.evidence.umi_of), "" without one


@dataclass
class TargetQC:
    target: str
    locus: str  # 1-based chr:start-end as fetched
    reads: int = 0  # primary, non-duplicate, mapped records in the locus
    exon_reads: int = 0  # of those, the ones overlapping the target's exons
    duplicates: int = 0
    secondary: int = 0
    qc_fail: int = 0
    low_mapq: int = 0
    chimeric_records: int = 0  # clipped records with an SA tag (split alignments)
    split_reads: int = 0
    discordant_reads: int = 0
    clipped_reads: int = 0
    exon_bases: int = 0  # aligned bases falling in the target's exons
    exon_length: int = 0
    coverage_bins: list[float] = field(default_factory=list)  # mean depth along the gene
    profile: "ExonProfile | None" = None  # exon-level coverage of the reported transcript
    library: "LibraryCounts | None" = None  # fragments, duplicates, insert sizes (sample QC)
    transcript_bins: tuple[float, ...] = ()  # mean depth in 10 equal bins along the transcript, 5' first
    # junction reads of the locus placed below min_mapq or as secondaries (a copy shares their
    # bases), by junction: (molecules, counted as a call's: UMIs and read places; clip breakend
    # pos, side, SA contig, its first SA pos, (fragment, its records' duplicate keys) sorted),
    # most first
    ambiguous_junctions: tuple[tuple[int, int, str, str, int, tuple[tuple[str, tuple[tuple, ...]], ...]], ...] = ()

    @property
    def mean_exon_coverage(self) -> float:
        return self.exon_bases / self.exon_length if self.exon_length else 0.0


@dataclass(frozen=True, slots=True)
class LibraryCounts:
    """What a locus says of the library (sample QC gates, :mod:`imtfusion.sampleqc`).

    ``fragments``: primary mapped records that are the first read of a pair or unpaired
    (one per fragment), duplicate-flagged or not; ``flagged_duplicates`` those flagged;
    ``distinct_starts`` the distinct (position, mate position or end, strand) among them,
    flagged or not (unflagged PCR duplicates share them); ``paired`` those of a pair.
    ``insert_sizes``: (|TLEN|, fragments) of the unspliced first reads whose mate starts
    in the same exon of the gene (their TLEN is the fragment length, not an intron span);
    at most 1,000 bases. ``read_lengths``: (sequenced bases, records) of those first reads
    (the limit of detection, :mod:`imtfusion.lod`). ``spliced``: those first reads aligned
    across an intron (an ``N`` in the CIGAR): in a housekeeping gene, the control gene's
    junction reads a panel's QC asks for. ``molecules``: the distinct molecules among those
    fragments, by start key and UMI family (:func:`imtfusion.umis.molecules_at_starts`),
    None when the reads carry no UMI (or ``umi: no``)."""

    fragments: int
    flagged_duplicates: int
    distinct_starts: int
    paired: int
    insert_sizes: tuple[tuple[int, int], ...]
    read_lengths: tuple[tuple[int, int], ...] = ()
    spliced: int = 0
    molecules: int | None = None


@dataclass(frozen=True, slots=True)
class ExonProfile:
    """Exon-level coverage of a target's reported transcript, from the same depth the
    locus QC counts (primary, non-duplicate records; the same pass over the BAM).

    ``exon_bases[i]`` are the aligned bases on exon ``i + 1`` (transcript order) and
    ``exon_lengths[i]`` its length in the gene; ``window_bases[i]``/``window_lengths[i]``
    the aligned bases on intron ``i + 1`` from ``window[0]`` to ``window[1]`` bases before
    exon ``i + 2`` (in transcript orientation; the bases right next to the exon are left
    out) and ``rest_bases[i]``/``rest_lengths[i]`` on the part of that intron farther
    than ``window[1]`` from the exon. ``read_bases``: mean aligned bases on the exons per
    record that touches them (turns bases into read counts)."""

    transcript_id: str
    exon_lengths: tuple[int, ...]
    exon_bases: tuple[int, ...]
    window: tuple[int, int]
    window_lengths: tuple[int, ...]
    window_bases: tuple[int, ...]
    rest_lengths: tuple[int, ...]
    rest_bases: tuple[int, ...]
    read_bases: float

    def exon_depth(self, number: int) -> float:
        """Mean depth on exon ``number`` (1-based, transcript order)."""
        length = self.exon_lengths[number - 1]
        return self.exon_bases[number - 1] / length if length else 0.0


@dataclass(frozen=True, slots=True)
class GeneCoverage:
    """Mean read depth in equal bins along a gene span, in genomic order (BAM contig names)."""

    gene: str
    chrom: str
    start: int
    end: int
    bins: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ReadExample:
    """One supporting read shown in the report, cut at the junction, in transcript
    orientation: ``five`` ends with the 5' gene's last base, ``three`` starts with the
    3' gene's first base. ``kind`` is "split" or "clipped"."""

    name: str
    five: str
    three: str
    kind: str
