"""From evidence to fusion candidates.

1. Split reads are grouped by junction. Two reads describe the same junction when their
   breakends differ only by a shift along the junction (microhomology lets an aligner
   put the split anywhere in the shared bases): the quantity
   ``s_a * pos_a - s_b * pos_b`` is invariant under such a shift.
2. Each junction is placed exactly: on a pair of annotated exon boundaries if a shift
   within the homology reaches one (RNA fusions join exons), otherwise, with a FASTA,
   as far 3' in the fused transcript as the homology allows (the HGVS 3' rule).
3. Clipped reads whose clip matches the partner sequence of a junction, and discordant
   reads that lie on the retained sides of a junction, are added to it. Discordant
   reads left over form candidates of their own with approximate breakpoints.
4. Each candidate is oriented as a transcript (5' gene, 3' gene) from the gene strands.

Clipped reads that match no junction, and gene pairs seen only through mates, are handed
to :mod:`imtfusion.rescue`, which places their reads on a partner; their junctions are then
clustered, placed and oriented like the others (:func:`call_candidates` runs it all in order).
``rescue`` does not import this module: what both use is in :mod:`imtfusion.genelookup`
(genes at a position) and :mod:`imtfusion.junctions` (bases around a junction).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Iterable, Mapping

from imtfusion import boundaries as exon_boundaries
from imtfusion import umis
from imtfusion.annotate import FusionAnnotation

if TYPE_CHECKING:  # the records the filters make of a candidate (they import this module)
    from imtfusion.features import Features
    from imtfusion.filters import Verdict
from imtfusion.annotation import Annotation, Gene
from imtfusion.evidence import Evidence, RegionReads, complement
from imtfusion.genelookup import GeneLookup, GeneRef
from imtfusion.junctions import (
    beyond_bases,
    consensus_of,
    identity,
    in_frame_of,
    inward_bases,
    junction_probes,
    partner_outward,
    reads_spanning,
)
from imtfusion.model import (
    Breakend,
    ClippedRead,
    DiscordantRead,
    ReadExample,
    SplitRead,
    UnmappedMate,
    is_five_prime,
    is_three_prime,
)
from imtfusion.params import CallParameters
from imtfusion.reference import Reference
from imtfusion.rescue import SEED, genome_seeds, group_clips, refine_mate_pairs, rescue_clips
from imtfusion.targets import ContigMap, TargetLocus

HOMOLOGY_SCAN = 30  # longest microhomology looked for with a FASTA
PARTNER_PASS_WINDOW = 300  # clipped reads fetched on each side of a partner breakpoint
EXTENDED_ALIGNMENT = 24  # partner bases an aligner may align past a junction through mismatches before clipping
EXTENDED_INDEL = 2  # bases an indel in that extension may shift the read against the reference


def shift_sign_first(side: str) -> int:
    """Direction a breakend moves when it *gains* bases."""
    return 1 if side == "L" else -1


def shift_sign_second(side: str) -> int:
    """Direction a breakend moves when it *loses* bases."""
    return 1 if side == "R" else -1


def junction_invariant(a: Breakend, b: Breakend) -> int:
    return shift_sign_first(a.side) * a.pos - shift_sign_second(b.side) * b.pos


def shift_junction(a: Breakend, b: Breakend, d: int) -> tuple[Breakend, Breakend]:
    """Move the junction by ``d`` bases: ``a`` gains ``d`` bases and ``b`` loses them."""
    return (
        Breakend(a.chrom, a.pos + shift_sign_first(a.side) * d, a.side),
        Breakend(b.chrom, b.pos + shift_sign_second(b.side) * d, b.side),
    )


def canonical(split: SplitRead) -> SplitRead:
    """The same split read with its ends in a fixed order (so both views of one
    junction, from either target locus, compare equal)."""
    if (split.end_b.chrom, split.end_b.pos, split.end_b.side) < (split.end_a.chrom, split.end_a.pos, split.end_a.side):
        return SplitRead(
            fragment=split.fragment,
            end_a=split.end_b,
            end_b=split.end_a,
            anchor_a=split.anchor_b,
            anchor_b=split.anchor_a,
            mapq_a=split.mapq_b,
            mapq_b=split.mapq_a,
            kind=split.kind,
            outward_a=split.outward_b,
            outward_b=split.outward_a,
            inward_a=split.inward_b,
            inward_b=split.inward_a,
            dup_key=split.dup_key,
        )
    return split


@dataclass(frozen=True, slots=True)
class Candidate:
    """One putative fusion: two breakends in transcript order and their support (frozen).

    :func:`call_candidates` makes it complete; each later stage returns new records
    (``dataclasses.replace``): :mod:`imtfusion.features` the measured features,
    :mod:`imtfusion.filters` the :class:`~imtfusion.features.Features` record and the
    :class:`~imtfusion.filters.Verdict`, :mod:`imtfusion.pipeline` the annotation, the
    call ID and the reference bases. Sets are frozensets, lists tuples and mappings
    read-only (given otherwise, they are converted)."""

    end5: Breakend
    end3: Breakend
    gene5: GeneRef
    gene3: GeneRef
    split_fragments: frozenset[str] = frozenset()
    discordant_fragments: frozenset[str] = frozenset()
    clipped_fragments: frozenset[str] = frozenset()  # subset of split_fragments
    unmapped_fragments: frozenset[str] = frozenset()  # subset: unmapped reads spelling the junction
    # subset: split reads the aligner placed below min_mapq, counted once the call was made
    # (imtfusion.features.add_ambiguous_support)
    ambiguous_fragments: frozenset[str] = frozenset()
    # of discordant_fragments: pairs the aligner left unmapped, placed on the fused transcript (imtfusion.unplaced)
    unplaced_pairs: frozenset[str] = frozenset()
    # of discordant_fragments: pairs with one mate placed below min_discordant_mapq, counted once
    # the call was made (imtfusion.features.add_ambiguous_pairs)
    ambiguous_pairs: frozenset[str] = frozenset()
    precision: str = "exact"  # exact: split reads place it; approximate: mates only
    site5: str = "."
    site3: str = "."
    oriented: bool = True  # False when no transcript can be read across the junction
    targets: tuple[str, ...] = ()
    best_anchor: int = 0  # largest min(anchor5, anchor3) over the split reads
    anchors: Mapping[str, int] = field(default_factory=dict, repr=False)  # fragment -> its best min(anchor5, anchor3)
    low_mapq_fraction: float = 0.0
    homology: int = 0  # microhomology length at the junction (with FASTA)
    shifted: int = 0  # bases the 5' gene gained (>0) or lost (<0) relative to the aligners' placement
    sequence5: str = ""  # consensus read bases of the 5' side next to the junction
    sequence3: str = ""
    mapqs: tuple[int, ...] = ()
    junction: JunctionView | None = field(default=None, repr=False)
    evidence_kinds: frozenset[str] = frozenset()  # kinds of split evidence (supplementary, spliced, clip)
    dup_keys: Mapping[str, frozenset[tuple]] = field(default_factory=dict, repr=False)
    duplicates: int = 0  # supporting fragments that repeat another's molecule (unflagged PCR duplicates)
    umis: bool = False  # the supporting reads carry UMIs, which told their molecules apart
    start_sites: int = 0  # distinct partner-side read positions of the supporting fragments (umis.start_sites)
    # with a primer BED (imtfusion.primers): fragment -> target bases its molecule holds beyond
    # the primer it was read from, for the fragments with a read starting at a primer
    primed: Mapping[str, int] = field(default_factory=dict, repr=False)
    primer_names: tuple[str, ...] = ()  # the primers those reads start at, sorted
    self_similar: float = 0.0  # how well the partner bases also match one end's own neighbourhood (FASTA)
    junction_reads: tuple[tuple[str, str, str], ...] = field(default=(), repr=False)  # (fragment, bases beyond a, beyond b)
    tested_reads: int = 0  # junction reads whose partner bases could be compared with the ends' own continuations
    mismapped_reads: int = 0  # of those, the ones the own continuation of an end explains as well
    promiscuous: bool = False  # an end is a hot spot joined to many genes, and this candidate does not dominate it
    # which candidate is which, across the stages' new records: its place in call_candidates' list
    key: int = -1
    part_of: int | None = None  # the key of the candidate whose call this one is part of
    member_keys: tuple[int, ...] = field(default=(), repr=False)  # keys of the other junctions of its call
    # what the filters judged (imtfusion.filters.apply_filters): the frozen record and its outcome
    features: "Features | None" = field(default=None, repr=False)
    verdict: "Verdict | None" = None
    # the annotated call (imtfusion.pipeline)
    annotation: "FusionAnnotation | None" = None  # transcript-level annotation (annotate.py)
    call_id: str = ""  # SAMPLE_F1, SAMPLE_F2, ... in the order of the fusions table (D for discarded)
    ref_base5: str = "N"  # reference base at breakpoint5 (N without FASTA), for the VCF
    ref_base3: str = "N"
    main_call: str | None = None  # the call ID of the call this one is part of
    isoforms: tuple["Candidate", ...] = field(default=(), repr=False)  # other junctions of this call's gene pair

    def __post_init__(self) -> None:
        for name in ("split_fragments", "discordant_fragments", "clipped_fragments", "unmapped_fragments",
                     "ambiguous_fragments", "unplaced_pairs", "ambiguous_pairs", "evidence_kinds"):
            value = getattr(self, name)
            if not isinstance(value, frozenset):
                object.__setattr__(self, name, frozenset(value))
        for name in ("targets", "mapqs", "junction_reads", "primer_names", "member_keys", "isoforms"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if not isinstance(self.dup_keys, MappingProxyType):
            object.__setattr__(self, "dup_keys", MappingProxyType({f: frozenset(k) for f, k in self.dup_keys.items()}))
        for name in ("anchors", "primed"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))

    @property
    def filters(self) -> list[str]:
        """The filters that discarded it (empty: a call, or not judged yet)."""
        return list(self.verdict.filters) if self.verdict is not None else []

    @property
    def confidence(self) -> str:
        """Its tier (high, medium, low; "." before the filters)."""
        return self.verdict.tier if self.verdict is not None else "."

    @property
    def known(self) -> bool:
        """The gene pair is a curated known fusion (False before the filters)."""
        return self.features.known if self.features is not None else False

    @property
    def split_reads(self) -> int:
        return len(self.split_fragments)

    @property
    def discordant_pairs(self) -> int:
        return len(self.discordant_fragments - self.split_fragments)

    @property
    def fragments(self) -> int:
        return len(self.split_fragments | self.discordant_fragments)

    @property
    def molecules(self) -> int:
        """Supporting fragments less the duplicates: unique molecules (UMI families where
        the reads carry UMIs, else distinct positions)."""
        return self.fragments - self.duplicates

    @property
    def primer_reads(self) -> int:
        """Supporting fragments with a read that starts at a primer (anchored reads)."""
        return len(self.primed)

    @property
    def fusion(self) -> str:
        return f"{self.gene5.name}::{self.gene3.name}"


@dataclass
class _Draft:
    """A candidate while :func:`call_candidates` gathers its reads (mutable, private to
    this module; :func:`_freeze` makes the :class:`Candidate` of it)."""

    end5: Breakend
    end3: Breakend
    gene5: GeneRef
    gene3: GeneRef
    split_fragments: set[str] = field(default_factory=set)
    discordant_fragments: set[str] = field(default_factory=set)
    clipped_fragments: set[str] = field(default_factory=set)
    unmapped_fragments: set[str] = field(default_factory=set)
    precision: str = "exact"
    oriented: bool = True
    best_anchor: int = 0
    anchors: dict[str, int] = field(default_factory=dict, repr=False)
    homology: int = 0
    shifted: int = 0
    sequence5: str = ""
    sequence3: str = ""
    mapqs: list[int] = field(default_factory=list)
    junction: JunctionView | None = field(default=None, repr=False)
    evidence_kinds: set[str] = field(default_factory=set)
    dup_keys: dict[str, set[tuple]] = field(default_factory=dict, repr=False)
    junction_reads: list[tuple[str, str, str]] = field(default_factory=list, repr=False)

    split_reads = Candidate.split_reads
    discordant_pairs = Candidate.discordant_pairs
    fragments = Candidate.fragments
    fusion = Candidate.fusion


def _freeze(d: _Draft, key: int, lookup: GeneLookup, loci: list[TargetLocus], params: CallParameters) -> Candidate:
    """The complete :class:`Candidate` of a draft: its sites, targets, low-MAPQ fraction
    and duplicates."""
    low = sum(1 for q in d.mapqs if q < params.min_mapq)
    return Candidate(
        end5=d.end5, end3=d.end3, gene5=d.gene5, gene3=d.gene3,
        split_fragments=frozenset(d.split_fragments), discordant_fragments=frozenset(d.discordant_fragments),
        clipped_fragments=frozenset(d.clipped_fragments), unmapped_fragments=frozenset(d.unmapped_fragments),
        precision=d.precision,
        site5=lookup.site(d.gene5, d.end5),
        site3=lookup.site(d.gene3, d.end3),
        oriented=d.oriented,
        targets=tuple(sorted({locus.name for locus in loci if locus.gene.gene_id in (d.gene5.gene_id, d.gene3.gene_id)})),
        best_anchor=d.best_anchor, anchors=d.anchors,
        low_mapq_fraction=low / len(d.mapqs) if d.mapqs else 0.0,
        homology=d.homology, shifted=d.shifted, sequence5=d.sequence5, sequence3=d.sequence3,
        mapqs=tuple(d.mapqs), junction=d.junction, evidence_kinds=frozenset(d.evidence_kinds),
        dup_keys=d.dup_keys,
        duplicates=count_duplicates(d, params),
        umis=umis.has_umis(d.dup_keys) and params.uses_umis,
        junction_reads=tuple(d.junction_reads),
        key=key,
    )


@dataclass
class _Junction:
    a: Breakend
    b: Breakend
    reads: list[SplitRead]
    homology: int = 0
    shifted: int | None = 0  # None: homology known, placement decided after orientation
    bounds: tuple[int, int] = (0, 0)  # shifts that keep the fused sequence (with FASTA)


@dataclass(frozen=True, slots=True)
class JunctionView:
    """A junction as the read data saw it: ends in canonical order and the read bases
    beyond each end (partner sequence), used to match clipped and discordant reads."""

    a: Breakend
    b: Breakend
    outward_a: str
    outward_b: str
    inward_a: str = ""  # the end's own bases, adjacent first (reads, else FASTA)
    inward_b: str = ""

    def molecule(self) -> tuple[str, str]:
        """The fused molecule around the junction on ``a``'s plus strand: (bases before
        the junction, bases after it)."""
        if self.a.side == "L":
            return self.inward_a[::-1], self.outward_a
        return self.outward_a[::-1], self.inward_a


def _cluster_junctions(splits: Iterable[SplitRead], window: int) -> list[_Junction]:
    groups: dict[tuple, list[SplitRead]] = defaultdict(list)
    for split in splits:
        s = canonical(split)
        key = (s.end_a.chrom, s.end_a.side, s.end_b.chrom, s.end_b.side, junction_invariant(s.end_a, s.end_b))
        groups[key].append(s)
    junctions: list[_Junction] = []
    for key in sorted(groups):
        reads = sorted(groups[key], key=lambda r: (r.end_a.pos, r.fragment))
        cluster: list[SplitRead] = [reads[0]]
        for read in reads[1:]:
            if read.end_a.pos - cluster[-1].end_a.pos > window:
                junctions.append(_representative(cluster))
                cluster = []
            cluster.append(read)
        junctions.append(_representative(cluster))
    return junctions


def _representative(reads: list[SplitRead]) -> _Junction:
    counts = Counter((r.end_a, r.end_b) for r in reads)
    (a, b), _ = min(counts.items(), key=lambda kv: (-kv[1], kv[0][0].pos, kv[0][1].pos))
    return _Junction(a, b, reads)


def homology_range(ref: Reference, a: Breakend, b: Breakend, scan: int = HOMOLOGY_SCAN,
                   past: Reference | None = None) -> tuple[int, int]:
    """How far the junction can move (bases ``a`` can lose, bases ``a`` can gain) and
    still spell the same fused sequence. ``past`` spells the bases past each end, where
    they differ from ``ref``'s (a pile-up without the junction's own reads)."""
    past = past or ref
    gain_ref = beyond_bases(past, a, scan)
    gain_alt = in_frame_of(a, b, inward_bases(ref, b, scan))
    plus = 0
    while plus < min(len(gain_ref), len(gain_alt)) and gain_ref[plus] == gain_alt[plus] and gain_ref[plus] != "N":
        plus += 1
    lose_ref = beyond_bases(past, b, scan)
    lose_alt = in_frame_of(b, a, inward_bases(ref, a, scan))
    minus = 0
    while minus < min(len(lose_ref), len(lose_alt)) and lose_ref[minus] == lose_alt[minus] and lose_ref[minus] != "N":
        minus += 1
    return minus, plus


def _place_junction(
    junction: _Junction,
    lookup: GeneLookup,
    params: CallParameters,
    ref: Reference | None,
) -> None:
    a, b = junction.a, junction.b
    if ref is not None and not ref.from_reads and ref.has(a.chrom) and ref.has(b.chrom):
        minus, plus = homology_range(ref, a, b)
        junction.homology = minus + plus
        lo, hi = -minus, plus
        verified = True
    else:
        lo, hi = -params.max_snap, params.max_snap
        verified = False
    # the genes the shifted ends can fall in (a read split past a gene's end, a homology
    # base later, is still at its boundary)
    reach = max(-lo, hi)
    splice_a, splice_b = set(), set()
    for end, splice in ((a, splice_a), (b, splice_b)):
        genes = {g.gene_id: g for p in {end.pos - reach, end.pos, end.pos + reach} for g in lookup.genes_at(end.chrom, p)}
        for g in genes.values():
            splice |= lookup.splice_breakends(g)
    for d in sorted(range(lo, hi + 1), key=lambda x: (abs(x), x)):
        na, nb = shift_junction(a, b, d)
        if (na.pos, na.side) in splice_a and (nb.pos, nb.side) in splice_b:
            junction.a, junction.b, junction.shifted = na, nb, d
            return
    if ref is not None and ref.from_reads and hasattr(ref, "without") and ref.has(a.chrom) and ref.has(b.chrom):
        # not at exon boundaries, without a FASTA: the homology as the other reads spell
        # it (a junction read aligned past its junction spells its own), where they reach
        minus, plus = homology_range(ref, a, b, past=ref.without(frozenset(r.fragment for r in junction.reads)))
        junction.homology = minus + plus
        lo, hi, verified = -minus, plus, True
    if verified and (lo or hi):
        junction.shifted = None
        junction.bounds = (lo, hi)


def _outward_at(junction: _Junction) -> tuple[str, str]:
    """Consensus read bases beyond each end of the placed junction.

    A read split ``g`` bases earlier than the placed junction (``a`` keeps ``g`` more
    bases now) has ``g`` bases too many beyond ``a`` and ``g`` too few beyond ``b``."""
    beyond_a: list[str] = []
    beyond_b: list[str] = []
    for r in junction.reads:
        g = (junction.a.pos - r.end_a.pos) * shift_sign_first(junction.a.side)
        if r.outward_a and g >= 0:
            beyond_a.append(r.outward_a[g:])
        if r.outward_b and g <= 0:
            beyond_b.append(r.outward_b[-g:])
    return consensus_of(beyond_a), consensus_of(beyond_b)


def _read_partner_bases(junction: _Junction) -> list[tuple[str, str, str]]:
    """Per junction read: (fragment, its bases beyond ``a``, its bases beyond ``b``) at
    the placed junction. Where a record of the read was not seen (hard clips, the
    partner's record), the bases beyond one end are the read's own bases at the other."""
    out = []
    for r in junction.reads:
        g = (junction.a.pos - r.end_a.pos) * shift_sign_first(junction.a.side)
        beyond_a = r.outward_a[g:] if r.outward_a and g >= 0 else r.outward_a
        beyond_b = r.outward_b[-g:] if r.outward_b and g <= 0 else r.outward_b
        if not beyond_a and r.inward_b:
            beyond_a = in_frame_of(junction.a, junction.b, r.inward_b[g:] if g >= 0 else r.inward_b)
        if not beyond_b and r.inward_a:
            beyond_b = in_frame_of(junction.b, junction.a, r.inward_a[-g:] if g <= 0 else r.inward_a)
        out.append((r.fragment, beyond_a, beyond_b))
    return out


def _inward_at(junction: _Junction) -> tuple[str, str]:
    """Consensus of the reads' own aligned bases at each end of the placed junction."""
    at_a: list[str] = []
    at_b: list[str] = []
    for r in junction.reads:
        g = (junction.a.pos - r.end_a.pos) * shift_sign_first(junction.a.side)
        if r.inward_a and g <= 0:
            at_a.append(r.inward_a[-g:])
        if r.inward_b and g >= 0:
            at_b.append(r.inward_b[g:])
    return consensus_of(at_a), consensus_of(at_b)


def clip_matches(clip: ClippedRead, end: Breakend, consensus: str, params: CallParameters,
                  family: bool = False) -> bool:
    """A clip at ``clip.end`` supports the junction whose breakend (same side) is ``end``.

    The clip may sit a few bases off the junction (mismatches near the end, or homology):
    ``gained`` bases beyond ``end`` aligned before the clip starts. Up to
    ``EXTENDED_ALIGNMENT`` of them when the aligner extended the alignment through
    mismatches past the junction (STAR's local extension; an indel in it shifts the read
    by up to ``EXTENDED_INDEL`` bases): then the read's bases from ``end`` on, those
    aligned and the clip, must spell the partner. A clip shorter than
    ``min_clip`` must match exactly, unless ``family``: copies of its molecule (a UMI
    family) read the same clip, so a mismatch in it is the molecule's (FFPE damage, a
    variant), not a sequencing error, and one is allowed in a clip of at least
    ``FAMILY_MIN_CLIP`` bases."""
    gained = (clip.end.pos - end.pos) * (1 if end.side == "L" else -1)
    if params.junction_window < gained <= EXTENDED_ALIGNMENT:
        # the read bases aligned past ``end``: ``gained``, or a few more or fewer where the
        # extension holds an indel (minimap2's 53M1D9M10S), the nearest count first
        for shift in sorted(range(-EXTENDED_INDEL, EXTENDED_INDEL + 1), key=lambda d: (abs(d), d)):
            taken = gained + shift
            if taken <= 0 or len(clip.inward) < taken:
                continue
            n, ident = identity(clip.inward[:taken][::-1] + clip.outward, consensus)
            if n >= params.min_clip and ident >= params.clip_identity:
                return True
        return False
    if abs(gained) > params.junction_window:
        return False
    if gained >= 0:
        n, ident = identity(clip.outward, consensus[gained:])
    else:
        n, ident = identity(clip.outward[-gained:], consensus)
    if n < params.min_clip_match:
        return False
    if n >= params.min_clip:
        return ident >= params.clip_identity
    if family and n >= FAMILY_MIN_CLIP:
        return ident >= (n - 1) / n
    # a short clip could match by chance with a mismatch allowed: it must be exact
    return ident >= 1.0


FAMILY_MIN_CLIP = 10  # a clip this long may hold one mismatch when its UMI family reads it alike


def _orient(
    a: Breakend, b: Breakend, lookup: GeneLookup, target_ids: set[str]
) -> tuple[GeneRef, GeneRef, Breakend, Breakend, bool] | None:
    """Choose the genes at both ends and the transcript orientation.

    Returns (gene5, gene3, end5, end3, oriented) or None when no target gene is at
    either end."""
    genes_a = lookup.genes_at(a.chrom, a.pos)
    genes_b = lookup.genes_at(b.chrom, b.pos)
    if not any(g.gene_id in target_ids for g in genes_a + genes_b):
        return None
    refs_a = [GeneRef.of(g) for g in genes_a] or [lookup.nearest(a)]
    refs_b = [GeneRef.of(g) for g in genes_b] or [lookup.nearest(b)]
    best = None
    for ga in refs_a:
        for gb in refs_b:
            for first, second, gf, gs in ((a, b, ga, gb), (b, a, gb, ga)):
                ok5 = gf.intergenic or is_five_prime(gf.strand, first.side)
                ok3 = gs.intergenic or is_three_prime(gs.strand, second.side)
                involves_target = gf.gene_id in target_ids or gs.gene_id in target_ids
                if not involves_target:
                    continue
                score = (
                    ok5 and ok3,
                    not (gf.intergenic and gs.intergenic),
                    (first.pos, first.side) in _splice_of(lookup, gf, first)
                    and (second.pos, second.side) in _splice_of(lookup, gs, second),
                    gf.gene_type == "protein_coding" and gs.gene_type == "protein_coding",
                    gf.gene_id in target_ids and gs.gene_id in target_ids,
                    # deterministic tie-break
                    (gf.gene_id, gs.gene_id) < ("~", "~"),
                )
                key = (score, (gf.gene_id, gs.gene_id))
                if best is None or key[0] > best[0][0] or (key[0] == best[0][0] and key[1] < best[0][1]):
                    best = (key, (gf, gs, first, second, ok5 and ok3))
    if best is None:
        return None
    return best[1]


def _splice_of(lookup: GeneLookup, gene: GeneRef, end: Breakend) -> set[tuple[int, str]]:
    if gene.intergenic:
        return set()
    for g in lookup.genes_at(end.chrom, end.pos):
        if g.gene_id == gene.gene_id:
            return lookup.splice_breakends(g)
    return set()


DISCORDANT_TOLERANCE = 10  # bases a discordant read may lie past the junction end it fits


def _discordant_fits(read: DiscordantRead, read_end: Breakend, mate_end: Breakend, params: CallParameters,
                     limits: tuple[int, int] | None = None) -> int | None:
    """Distance of a discordant pair from a junction, or None when it cannot support it.
    ``limits``: how far from the read-side and the mate-side end the pair's reads may lie
    (:func:`_kept_span`); ``discordant_max_distance`` without."""
    r, m = read.read_end, read.mate_end
    if (r.chrom, r.side, m.chrom, m.side) != (read_end.chrom, read_end.side, mate_end.chrom, mate_end.side):
        return None
    tol = DISCORDANT_TOLERANCE
    dist = 0
    for obs, end, limit in ((r, read_end, limits[0] if limits else params.discordant_max_distance),
                            (m, mate_end, limits[1] if limits else params.discordant_max_distance)):
        delta = end.pos - obs.pos if end.side == "L" else obs.pos - end.pos
        if delta < -tol or delta > limit:
            return None
        dist += abs(delta)
    return dist


def _kept_span(end: Breakend, gene: GeneRef, lookup: GeneLookup, params: CallParameters) -> int:
    """How far from a junction end the reads of its fused transcript can lie: to the end
    of its gene on the side the fusion keeps (a mate beyond it lies in another gene, whose
    own junction it supports: at a deep panel's depth random chimeras of a target exon with
    several genes of one chromosome lend each other their mates), at most
    ``discordant_max_distance``; that distance for an intergenic end."""
    limit = params.discordant_max_distance
    g = _annotated_gene(end, gene, lookup)
    if g is None:
        return limit
    return max(0, min(limit, end.pos - g.start if end.side == "L" else g.end - 1 - end.pos))


FRAGMENT_REACH = 1_000  # transcript bases a discordant pair's two reads span at most around a junction


def _annotated_gene(end: Breakend, gene: GeneRef, lookup: GeneLookup) -> Gene | None:
    """The annotated gene of a junction end (``gene``, where it lies), None for an
    intergenic end."""
    if gene.intergenic:
        return None
    return next((g for g in lookup.genes_at(end.chrom, end.pos) if g.gene_id == gene.gene_id), None)


def _end_exons(end: Breakend, gene: GeneRef, lookup: GeneLookup) -> list[tuple[int, int]] | None:
    """The exons (all transcripts') of a junction end's gene, None for an intergenic end."""
    g = _annotated_gene(end, gene, lookup)
    return None if g is None else sorted(lookup.exons(g))


def _exonic_between(exons: list[tuple[int, int]] | None, a: int, b: int) -> int:
    """Exon bases from position ``a`` to ``b`` (either order; 0 without exons): how far
    apart two places of a gene are in its transcripts."""
    if not exons:
        return 0
    lo, hi = min(a, b), max(a, b) + 1
    return sum(min(e, hi) - max(s, lo) for s, e in exons if s < hi and e > lo)


def _end_gene(cand: "_Draft", end: Breakend) -> GeneRef:
    """The candidate's gene at one of its junction ends (the 5' or the 3' end nearer it)."""
    def off(e: Breakend) -> float:
        return abs(e.pos - end.pos) if (e.chrom, e.side) == (end.chrom, end.side) else float("inf")

    return cand.gene5 if off(cand.end5) <= off(cand.end3) else cand.gene3


def _junction_candidates(
    splits: Iterable[SplitRead],
    lookup: GeneLookup,
    target_ids: set[str],
    params: CallParameters,
    ref: Reference | None,
) -> list[_Draft]:
    """One candidate per junction of the split reads."""
    candidates: list[_Draft] = []
    for junction in _cluster_junctions(splits, params.junction_window):
        _place_junction(junction, lookup, params, ref)
        oriented = _orient(junction.a, junction.b, lookup, target_ids)
        if oriented is None:
            continue
        gene5, gene3, end5, end3, ok = oriented
        five_is_a = end5 == junction.a
        if junction.shifted is None:
            # FASTA-verified homology and no exon boundary in it: 3' rule, i.e. the 5'
            # gene keeps as much as the shared bases allow.
            lo, hi = junction.bounds
            d = hi if five_is_a else lo
            na, nb = shift_junction(junction.a, junction.b, d)
            junction.a, junction.b, junction.shifted = na, nb, d
            end5, end3 = (na, nb) if five_is_a else (nb, na)
        junction.reads = _placeable_reads(junction, lookup, params)
        if not junction.reads:
            continue
        reads = junction.reads
        cand = _Draft(
            end5=end5,
            end3=end3,
            gene5=gene5,
            gene3=gene3,
            split_fragments={r.fragment for r in reads},
            clipped_fragments={r.fragment for r in reads if r.kind == "clip"},
            unmapped_fragments={r.fragment for r in reads if r.kind == "unmapped"},
            oriented=ok,
            best_anchor=max(min(r.anchor_a, r.anchor_b) for r in reads),
            anchors=_best_anchors((r.fragment, min(r.anchor_a, r.anchor_b)) for r in reads),
            homology=junction.homology,
            # reported from the 5' gene's view: > 0 means it keeps more bases than aligned
            shifted=junction.shifted if five_is_a else -junction.shifted,
            mapqs=[min(r.mapq_a, r.mapq_b) for r in reads],
            evidence_kinds={r.kind for r in reads},
        )
        for r in reads:
            cand.dup_keys.setdefault(r.fragment, set()).add(r.dup_key)
        out_a, out_b = _outward_at(junction)
        in_a, in_b = _inward_at(junction)
        # the bases beyond an end are the other end's own bases: from reads, else the FASTA
        if not out_a and in_b:
            out_a = in_frame_of(junction.a, junction.b, in_b)
        if not out_b and in_a:
            out_b = in_frame_of(junction.b, junction.a, in_a)
        if ref is not None:
            if not out_a:
                out_a = partner_outward(ref, junction.a, junction.b, 60)
            if not out_b:
                out_b = partner_outward(ref, junction.b, junction.a, 60)
            in_a = in_a or inward_bases(ref, junction.a, 60)
            in_b = in_b or inward_bases(ref, junction.b, 60)
        in_a = in_a or in_frame_of(junction.a, junction.b, out_b)
        in_b = in_b or in_frame_of(junction.b, junction.a, out_a)
        cand.junction = JunctionView(junction.a, junction.b, out_a, out_b, in_a, in_b)
        cand.junction_reads = _read_partner_bases(junction)
        # read bases next to the junction, in transcript orientation, adjacent base first:
        # sequence3 runs into the 3' gene, sequence5 runs back into the 5' gene
        out5, out3 = (out_a, out_b) if five_is_a else (out_b, out_a)
        cand.sequence3 = out5 if end5.side == "L" else complement(out5)
        cand.sequence5 = out3 if end3.side == "R" else complement(out3)
        candidates.append(cand)
    return candidates


def _placeable_reads(junction: _Junction, lookup: GeneLookup, params: CallParameters) -> list[SplitRead]:
    """The junction's reads that can place it: those keeping at least ``min_clip_match``
    bases on each side as placed, or fewer only on a side placed at an exon boundary.

    A read with 6 bases of ROS1 says nothing of where in ROS1 its junction is: an aligner
    writes such bases wherever they happen to match (STAR put YWHAE::ROS1 junction reads
    40 kb from their ROS1 exon, mid-exon, with 11 bases of which 5 were YWHAE's own). At an
    exon boundary the same few bases are a junction read of the fusion the exons make."""
    def at_boundary(end: Breakend) -> bool:
        return any((end.pos, end.side) in lookup.splice_breakends(g) for g in lookup.genes_at(end.chrom, end.pos))

    a_ok, b_ok = at_boundary(junction.a), at_boundary(junction.b)
    if a_ok and b_ok:
        return list(junction.reads)
    out = []
    for r in junction.reads:
        gained = (junction.a.pos - r.end_a.pos) * shift_sign_first(junction.a.side)  # bases a keeps beyond the read's split
        if (r.anchor_a + gained < params.min_clip_match and not a_ok) or (r.anchor_b - gained < params.min_clip_match and not b_ok):
            continue
        out.append(r)
    return out


def _best_anchors(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for fragment, anchor in pairs:
        out[fragment] = max(out.get(fragment, 0), anchor)
    return out


def _add_clip(cand: _Draft, clip: ClippedRead, end: Breakend | None = None) -> None:
    if end is not None and cand.junction is not None and clip.fragment not in cand.split_fragments:
        at_a = end == cand.junction.a
        cand.junction_reads.append((clip.fragment, clip.outward if at_a else "", "" if at_a else clip.outward))
    cand.split_fragments.add(clip.fragment)
    cand.clipped_fragments.add(clip.fragment)
    cand.best_anchor = max(cand.best_anchor, min(clip.anchor, len(clip.outward)))
    cand.anchors[clip.fragment] = max(cand.anchors.get(clip.fragment, 0), min(clip.anchor, len(clip.outward)))
    cand.mapqs.append(clip.mapq)
    cand.dup_keys.setdefault(clip.fragment, set()).add(clip.dup_key)


def _match_clips(clips: Iterable[ClippedRead], candidates: list[_Draft], params: CallParameters) -> list[ClippedRead]:
    """Count clipped reads whose clip spells a junction's partner; return the others.

    The junction ends are indexed by contig, side and position, so a clip is compared
    only with the ends within ``junction_window`` of it (the only ones it can match), in
    the candidates' order (which decides ties)."""
    ends: dict[tuple[str, str], list[tuple[int, int, _Draft, Breakend, str]]] = defaultdict(list)
    for k, cand in enumerate(candidates):
        view = cand.junction
        if view is None:
            continue
        for j, (end, cons) in enumerate(((view.a, view.outward_a), (view.b, view.outward_b))):
            if cons:
                ends[(end.chrom, end.side)].append((end.pos, 2 * k + j, cand, end, cons))
    for spots in ends.values():
        spots.sort(key=lambda x: (x[0], x[1]))
    positions = {key: [x[0] for x in spots] for key, spots in ends.items()}
    unmatched = []
    for clip in clips:
        best = _best_junction(clip, ends, positions, params)
        if best is not None:
            _add_clip(best[0], clip, best[1])
        else:
            unmatched.append(clip)
    if params.uses_umis:
        unmatched = _match_family_clips(unmatched, ends, positions, params)
    return unmatched


def _best_junction(clip: ClippedRead, ends, positions, params: CallParameters,  # type: ignore[no-untyped-def]
                   family: bool = False) -> tuple[_Draft, Breakend] | None:
    """The junction end (of the indexed ``ends``) a clip supports: of those within reach
    that it matches (:func:`clip_matches`), the nearest, then the best-supported; in the
    candidates' order on ties."""
    key = (clip.end.chrom, clip.end.side)
    spots = ends.get(key)
    if not spots:
        return None
    reach = max(params.junction_window, EXTENDED_ALIGNMENT)
    lo = bisect.bisect_left(positions[key], clip.end.pos - reach)
    hi = bisect.bisect_right(positions[key], clip.end.pos + reach)
    best = None
    for _, _, cand, end, cons in sorted(spots[lo:hi], key=lambda x: x[1]):
        if clip_matches(clip, end, cons, params, family=family):
            rank = (abs(clip.end.pos - end.pos), -cand.split_reads)
            if best is None or rank < best[0]:
                best = (rank, cand, end)
    return None if best is None else (best[1], best[2])


def _match_family_clips(clips: list[ClippedRead], ends, positions, params: CallParameters) -> list[ClippedRead]:  # type: ignore[no-untyped-def]
    """The short clips no junction took exactly, a second look (FFPE): the copies of one
    molecule (fragments of one UMI at one clip end, reading the same clipped bases) that
    read a junction's partner but for one base count, all of them (:func:`clip_matches`
    with ``family``); a clip read by one fragment only is left as it is."""
    families: dict[tuple, list[ClippedRead]] = defaultdict(list)
    for clip in clips:
        umi = clip.dup_key[-1] if clip.dup_key else ""
        if umi and FAMILY_MIN_CLIP <= len(clip.outward) < params.min_clip:
            families[(clip.end, umi, clip.outward)].append(clip)
    taken: set[int] = set()
    for _, members in sorted(families.items(), key=lambda x: x[0]):
        if len({c.fragment for c in members}) < 2:
            continue
        best = _best_junction(members[0], ends, positions, params, family=True)
        if best is None:
            continue
        for clip in members:
            _add_clip(best[0], clip, best[1])
            taken.add(id(clip))
    return [c for c in clips if id(c) not in taken]


def _merge_near_duplicates(candidates: list[_Draft], window: int = 10) -> list[_Draft]:
    """Fold a junction a few bases off a better-supported one of the same gene pair into
    it (an aligner's mismatch near the junction, not a second isoform)."""
    ordered = sorted(candidates, key=lambda c: (-c.split_reads, -c.fragments, c.end5, c.end3))
    kept: list[_Draft] = []
    for cand in ordered:
        host = next(
            (
                k
                for k in kept
                if k.gene5.gene_id == cand.gene5.gene_id
                and k.gene3.gene_id == cand.gene3.gene_id
                and k.end5.chrom == cand.end5.chrom
                and k.end3.chrom == cand.end3.chrom
                and abs(k.end5.pos - cand.end5.pos) <= window
                and abs(k.end3.pos - cand.end3.pos) <= window
                and (k.end5.side, k.end3.side) == (cand.end5.side, cand.end3.side)
            ),
            None,
        )
        if host is None:
            kept.append(cand)
            continue
        present = {f for f, _, _ in host.junction_reads}
        host.junction_reads += [r for r in cand.junction_reads if r[0] not in present]
        host.split_fragments |= cand.split_fragments
        host.clipped_fragments |= cand.clipped_fragments
        host.unmapped_fragments |= cand.unmapped_fragments
        host.discordant_fragments |= cand.discordant_fragments
        host.mapqs += cand.mapqs
        host.best_anchor = max(host.best_anchor, cand.best_anchor)
        host.anchors = _best_anchors(list(host.anchors.items()) + list(cand.anchors.items()))
        host.evidence_kinds |= cand.evidence_kinds
        for f, keys in cand.dup_keys.items():
            host.dup_keys.setdefault(f, set()).update(keys)
    return kept


def call_candidates(
    evidence: Evidence,
    loci: list[TargetLocus],
    annotation: Annotation,
    contigs: ContigMap,
    params: CallParameters,
    ref: Reference | None = None,
    reads: RegionReads | None = None,
    known_partners: dict[str, list[Gene]] | None = None,
    lookup: GeneLookup | None = None,
    genome_boundaries: bool = False,
    spelled_boundaries: bool = False,
) -> list[Candidate]:
    """All candidates involving a target gene, unfiltered, in a deterministic order.

    ``reads`` gives the clipped records and unmapped reads of a partner region (the
    partner-anchored second pass; :class:`~imtfusion.evidence.RegionReads`, the BAM
    read by :class:`~imtfusion.evidence.BreakendReads`); ``known_partners`` maps a target gene id to the genes
    it is known to fuse with, where clipped reads are placed first; ``lookup`` (genes at
    positions, cached) may be shared with the stages after this one. With
    ``genome_boundaries`` (``ref`` is the FASTA) clips nothing else places are looked up
    in the genome-wide exon-boundary index (:func:`imtfusion.boundaries.genome_boundaries`);
    with ``spelled_boundaries`` (no FASTA) among the exon boundaries of the genes whose
    reads spell their bases (``reads`` makes that pass of the BAM:
    :meth:`~imtfusion.evidence.BreakendReads.boundaries_spelling`)."""
    lookup = lookup or GeneLookup(annotation, contigs)
    target_ids = {locus.gene.gene_id for locus in loci}
    lookup.prefetch(
        [(e.chrom, e.pos) for r in evidence.split_reads for e in (r.end_a, r.end_b)]
        + [(e.chrom, e.pos) for d in evidence.discordant_reads for e in (d.read_end, d.mate_end)]
    )
    candidates = _junction_candidates(evidence.split_reads, lookup, target_ids, params, ref)
    unmatched = _match_clips(evidence.clipped_reads, candidates, params)

    # soft-clip rescue: junctions no aligner wrote as split alignments
    if ref is not None:
        boundaries = None
        if genome_boundaries and _needs_boundary_index(unmatched, params):
            boundaries = exon_boundaries.genome_boundaries(annotation, contigs, ref)
        # split reads to a pseudogene are placed as clips too: the real gene whose exon
        # boundary spells them is the partner (their pseudogene junction gives its reads
        # to that one, see features.assess_mismapping)
        copies = _pseudogene_clips(evidence.split_reads, candidates, lookup, target_ids, params, ref)
        rescued = rescue_clips(
            unmatched + copies, evidence.discordant_reads, lookup, target_ids, known_partners or {}, ref, params,
            boundaries,
        )
        if spelled_boundaries and reads is not None:
            # without a FASTA: the clips no mate or known partner placed are looked up
            # among the exon boundaries whose reads spell their bases (one pass of the BAM)
            placed = {r.fragment for r in rescued}
            left = [c for c in unmatched if c.fragment not in placed]
            if _needs_boundary_index(left, params):
                spelled = reads.boundaries_spelling(genome_seeds(left, params), lookup, contigs)
                rescued += rescue_clips(left, evidence.discordant_reads, lookup, target_ids, {}, ref, params, spelled)
        if rescued:
            new = _junction_candidates(rescued, lookup, target_ids, params, ref)
            # the clips the rescue did not place (too short for a consensus of their own,
            # or a few bases past the junction where the aligner extended through it)
            # count for the rescued junctions as for the aligner's own (STAR defaults:
            # TPM4::ALK read 65M10S, 20 bases past the junction)
            placed = {r.fragment for r in rescued}
            _match_clips([c for c in unmatched if c.fragment not in placed], new, params)
            candidates += new

    # a short block spliced between the target and a soft clip (block_clips_of) counts
    # for a junction the other reads made when block and clip spell its partner; alone
    # it is no junction (a target exon spliced to its own next exon spells none)
    _match_clips(evidence.block_clips, candidates, params)
    _second_pass(candidates, loci, evidence, params, reads)
    candidates = _merge_near_duplicates(candidates)

    # discordant reads: to the best-supported junction they fit, else mate-only candidates
    leftovers = _assign_discordants(evidence.discordant_reads, candidates, params, lookup)
    if ref is not None and reads is not None and leftovers:
        # mates point at a gene pair but no junction read was placed yet: look for clipped
        # reads on both sides of the mates and place them on the other gene's exons
        remaining = [c for c in unmatched if not any(c.fragment in k.split_fragments for k in candidates)]
        refined = refine_mate_pairs(
            leftovers, remaining, lookup, target_ids, reads, ref, params, evidence.unmapped_reads
        )
        if refined:
            new = _junction_candidates(refined, lookup, target_ids, params, ref)
            _second_pass(new, loci, evidence, params, reads)
            candidates = _merge_near_duplicates(candidates + new)
            leftovers = _assign_discordants(leftovers, candidates, params, lookup)
    candidates.extend(_mate_only_candidates(leftovers, lookup, target_ids))

    candidates.sort(key=lambda c: (-c.fragments, c.fusion, c.end5, c.end3))
    return [_freeze(d, k, lookup, loci, params) for k, d in enumerate(candidates)]


def _assign_discordants(reads: Iterable[DiscordantRead], candidates: list[_Draft], params: CallParameters,
                        lookup: GeneLookup | None = None) -> list[DiscordantRead]:
    """Give each discordant read to the best-supported junction it fits (both reads within
    the genes of its ends, on the sides the fusion keeps: :func:`_kept_span`; without a
    ``lookup`` within ``discordant_max_distance``); return the rest. A junction whose
    fused transcript holds the pair within ``FRAGMENT_REACH`` bases (exon bases between
    each read and its end) goes first: the mates of an isoform's fragments (EML4 exon 6
    joined to ALK) also lie on the kept side of the main junction (EML4 exon 13), but too
    far from it in the transcript to be its fragments.

    The junction ends are indexed by the contigs and sides a fitting pair must have and
    sorted by the read-side position, so a read is compared only with the junctions whose
    read-side end lies within the distance a fitting pair can have (a bisection), in the
    candidates' order (which decides ties): the cost grows with the reads, not with reads
    times junctions."""
    fits = _PairFits(candidates, params, lookup)
    leftovers: list[DiscordantRead] = []
    for read in reads:
        host = fits.best(read)
        if host is None:
            leftovers.append(read)
            continue
        if read.fragment not in host.discordant_fragments:
            host.mapqs.append(read.mapq)
        host.discordant_fragments.add(read.fragment)
        host.dup_keys.setdefault(read.fragment, set()).add(read.dup_key)
    return leftovers


class _PairFits:
    """The junctions of ``candidates`` (drafts or candidates) indexed for the discordant
    pairs that fit them (:func:`_assign_discordants`)."""

    def __init__(self, candidates: list, params: CallParameters, lookup: GeneLookup | None) -> None:
        self.params = params
        fitting: dict[tuple[str, str, str, str], list[tuple]] = defaultdict(list)
        for k, cand in enumerate(candidates):
            view = cand.junction
            if view is None:
                continue
            spans = {id(e): _kept_span(e, _end_gene(cand, e), lookup, params) if lookup is not None
                     else params.discordant_max_distance for e in (view.a, view.b)}
            exons = {id(e): _end_exons(e, _end_gene(cand, e), lookup) if lookup is not None else None
                     for e in (view.a, view.b)}
            for j, (read_end, mate_end) in enumerate(((view.a, view.b), (view.b, view.a))):
                fitting[(read_end.chrom, read_end.side, mate_end.chrom, mate_end.side)].append(
                    (read_end.pos, 2 * k + j, cand, read_end, mate_end, (spans[id(read_end)], spans[id(mate_end)]),
                     (exons[id(read_end)], exons[id(mate_end)])))
        for spots in fitting.values():
            spots.sort(key=lambda x: (x[0], x[1]))
        self.fitting = fitting
        self.positions = {key: [x[0] for x in spots] for key, spots in fitting.items()}

    def best(self, read: DiscordantRead):  # type: ignore[no-untyped-def]
        """The best-supported junction the pair fits (the nearer in its fused transcript
        first), None when it fits none."""
        best = None
        r, m = read.read_end, read.mate_end
        key = (r.chrom, r.side, m.chrom, m.side)
        spots = self.fitting.get(key)
        if not spots:
            return None
        tol, limit = DISCORDANT_TOLERANCE, self.params.discordant_max_distance
        # _discordant_fits: end.pos - r.pos in [-tol, limit] (side L), r.pos - end.pos (side R)
        low, high = (r.pos - tol, r.pos + limit) if r.side == "L" else (r.pos - limit, r.pos + tol)
        lo = bisect.bisect_left(self.positions[key], low)
        hi = bisect.bisect_right(self.positions[key], high)
        for _, _, cand, read_end, mate_end, limits, exons in sorted(spots[lo:hi], key=lambda x: x[1]):
            dist = _discordant_fits(read, read_end, mate_end, self.params, limits)
            if dist is not None:
                spliced = (_exonic_between(exons[0], r.pos, read_end.pos)
                           + _exonic_between(exons[1], m.pos, mate_end.pos))
                rank = (spliced > FRAGMENT_REACH, -cand.split_reads, dist)
                if best is None or rank < best[0]:
                    best = (rank, cand)
        return None if best is None else best[1]


def pairs_fitting(reads: Iterable[DiscordantRead], calls: list["Candidate"], others: list["Candidate"],
                  params: CallParameters, lookup: GeneLookup) -> dict[int, list[DiscordantRead]]:
    """Call key -> the discordant ``reads`` whose pair fits its junction best among the
    junctions of ``calls`` and ``others`` (the discarded candidates), as
    :func:`_assign_discordants` gives the calling's pairs to junctions: a pair that fits a
    discarded junction better (an isoform of the call, whose fused transcript holds it
    within ``FRAGMENT_REACH``) is no call's."""
    called = {c.key for c in calls}
    fits = _PairFits([*calls, *others], params, lookup)
    out: dict[int, list[DiscordantRead]] = {}
    for read in reads:
        host = fits.best(read)
        if host is not None and host.key in called:
            out.setdefault(host.key, []).append(read)
    return out


UNMAPPED_WINDOW = 2_000  # unmapped reads fetched on each side of a partner breakpoint


def _pseudogene_clips(
    splits: list[SplitRead], candidates: list[_Draft], lookup: GeneLookup, target_ids: set[str],
    params: CallParameters, ref: Reference
) -> list[ClippedRead]:
    """The split reads from a target gene to a place where only pseudogenes lie, each as
    the soft clip it would be without that alignment, unless a junction of real genes
    has the read already.

    An aligner that places a read's partner part on a processed pseudogene (its exons
    contiguous: the read needs no splice there) hides the real partner: minimap2 writes
    TPM3::ALK reads as ALK + TPM3P1. As clips at the target end they are placed like any
    clip (mates, known partners, exon boundaries; a tie with a pseudogene's copy goes to
    the real gene)."""
    real = {
        f for c in candidates for f in c.split_fragments
        if not any("pseudogene" in g.gene_type for g in (c.gene5, c.gene3))
    }
    out = []
    for split in splits:
        if split.fragment in real:
            continue
        clip = _as_clip_at_target(split, lookup, target_ids, params, ref)
        if clip is not None:
            out.append(clip)
    return out


def _as_clip_at_target(split: SplitRead, lookup: GeneLookup, target_ids: set[str], params: CallParameters,
                       ref: Reference) -> ClippedRead | None:
    """The split read as the soft clip at its target end, when its other end lies only in
    pseudogenes. The clip's bases are the read's own, else (a hard-clipped record, the
    other record not read) the bases its partner part was aligned to."""
    for first in (True, False):
        end, other = (split.end_a, split.end_b) if first else (split.end_b, split.end_a)
        if not any(g.gene_id in target_ids for g in lookup.genes_at(end.chrom, end.pos)):
            continue
        if not _on_copy(lookup, other):
            continue
        outward = split.outward_a if first else split.outward_b
        if not outward:
            outward = in_frame_of(end, other, split.inward_b if first else split.inward_a)
        if not outward and ref.has(other.chrom):
            outward = partner_outward(ref, end, other, min(split.anchor_b if first else split.anchor_a, 60))
        if len(outward) < params.min_clip:
            continue
        return ClippedRead(
            fragment=split.fragment,
            end=end,
            outward=outward,
            anchor=split.anchor_a if first else split.anchor_b,
            mapq=split.mapq_a if first else split.mapq_b,
            inward=split.inward_a if first else split.inward_b,
            dup_key=split.dup_key,
        )
    return None


COPY_END_REACH = 3  # bases past a pseudogene's end an aligner may split a read whose part it placed there


def _on_copy(lookup: GeneLookup, end: Breakend) -> bool:
    """Whether a split read's end lies on pseudogenes only: at its place or, where no gene
    lies, up to ``COPY_END_REACH`` bases back on the side it keeps (the next base past a
    processed pseudogene's end can be the fusion's other gene's first: BWA-MEM and STAR
    split TPM3::ALK reads placed on TPM3P1 a base past its end, seed 31337)."""
    if lookup.in_pseudogenes_only(end.chrom, end.pos):
        return True
    if lookup.genes_at(end.chrom, end.pos):
        return False
    step = -1 if end.side == "L" else 1
    return any(lookup.in_pseudogenes_only(end.chrom, end.pos + step * d) for d in range(1, COPY_END_REACH + 1))


def _needs_boundary_index(clips: list[ClippedRead], params: CallParameters) -> bool:
    """Whether some breakend has two or more long clips: only those are placed genome-wide,
    so the index is built only then."""
    return any(len(group) >= 2 and max(len(c.outward) for c in group) >= SEED for _, group in group_clips(clips))


def _second_pass(
    candidates: list[_Draft],
    loci: list[TargetLocus],
    evidence: Evidence,
    params: CallParameters,
    reads: RegionReads | None,
) -> None:
    """Partner-anchored second pass over junction candidates: clipped reads on the
    partner side, and unmapped reads (placed by their mates near either end) that spell
    the junction -- HISAT2 and STAR defaults leave reads with long overhangs unmapped."""
    if reads is not None:
        for cand in candidates:
            view = cand.junction
            assert view is not None
            for end, cons in ((view.a, view.outward_a), (view.b, view.outward_b)):
                if not cons or any(l.contains(end.chrom, end.pos) for l in loci):
                    continue
                for clip in reads.clipped(end.chrom, end.pos - PARTNER_PASS_WINDOW, end.pos + PARTNER_PASS_WINDOW + 1):
                    if clip.end.side == end.side and clip.fragment not in cand.split_fragments and clip_matches(clip, end, cons, params):
                        _add_clip(cand, clip, end)
    near = UnmappedIndex(evidence.unmapped_reads)
    for cand in candidates:
        view = cand.junction
        assert view is not None
        pool = near.near((view.a, view.b), params.discordant_max_distance)
        if reads is not None:
            for end in (view.a, view.b):
                if not any(l.contains(end.chrom, end.pos) for l in loci):
                    pool += reads.unmapped(end.chrom, end.pos - UNMAPPED_WINDOW, end.pos + UNMAPPED_WINDOW)
        if not pool:
            continue
        umi_of = {u.fragment: u.umi for u in pool if u.umi}
        for fragment in sorted(reads_spanning(junction_probes(*view.molecule()), pool) - cand.split_fragments):
            cand.split_fragments.add(fragment)
            cand.unmapped_fragments.add(fragment)
            cand.evidence_kinds.add("unmapped")
            cand.mapqs.append(params.min_mapq)
            if fragment in umi_of:  # no position, but its UMI names its molecule
                cand.dup_keys.setdefault(fragment, set()).add(umis.UNPLACED + (umi_of[fragment],))


class UnmappedIndex:
    """Unmapped reads (placed by their mates) by contig, sorted by position: the reads
    within a distance of some breakends are found by bisection, in their original order,
    instead of looking at every read for every junction."""

    def __init__(self, reads: list[UnmappedMate]):
        self.reads = reads
        by_chrom: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, u in enumerate(reads):
            by_chrom[u.chrom].append((u.pos, i))
        self._sorted = {c: sorted(v) for c, v in by_chrom.items()}
        self._positions = {c: [p for p, _ in v] for c, v in self._sorted.items()}

    def near(self, ends: Iterable[Breakend], limit: int) -> list[UnmappedMate]:
        """The reads within ``limit`` bases of one of ``ends`` (same contig), in the
        order of the reads given (as ``[u for u in reads if near any end]``)."""
        found: set[int] = set()
        for e in ends:
            spots = self._sorted.get(e.chrom)
            if not spots:
                continue
            positions = self._positions[e.chrom]
            lo = bisect.bisect_left(positions, e.pos - limit)
            hi = bisect.bisect_right(positions, e.pos + limit)
            found.update(i for _, i in spots[lo:hi])
        return [self.reads[i] for i in sorted(found)]


def count_duplicates(cand: "Candidate | _Draft", params: CallParameters | None = None) -> int:
    """Fragments that repeat an earlier fragment's molecule (PCR duplicates the BAM did
    not flag): the same position signature and, where the reads carry UMIs (and
    ``umi`` is not ``no``), the same UMI family (:mod:`imtfusion.umis`)."""
    params = params or CallParameters()
    use = params.uses_umis
    return umis.count_duplicates(cand.dup_keys, use, params.umi_mismatches)


def _mate_only_candidates(
    reads: list[DiscordantRead], lookup: GeneLookup, target_ids: set[str]
) -> list[_Draft]:
    """Group discordant reads that fit no junction by the gene pair they connect.

    Their breakpoints are approximate: the exon boundary just past the reads. When both
    genes are targets the pair is seen from both loci; the two views are one group."""
    groups: dict[tuple, list[tuple[Breakend, Breakend, DiscordantRead]]] = defaultdict(list)
    for read in reads:
        r, m = read.read_end, read.mate_end
        genes_r = sorted(g.gene_id for g in lookup.genes_at(r.chrom, r.pos) if g.gene_id in target_ids)
        if not genes_r:
            continue
        genes_m = sorted(g.gene_id for g in lookup.genes_at(m.chrom, m.pos))
        partner = genes_m[0] if genes_m else f"{m.chrom}:{m.pos // 100_000}"
        first = (r.chrom, r.side, genes_r[0])
        second = (m.chrom, m.side, partner)
        if second < first:  # a canonical order of the two sides
            groups[second + first].append((m, r, read))
        else:
            groups[first + second].append((r, m, read))
    out: list[_Draft] = []
    for key in sorted(groups):
        group = groups[key]
        ends_a = [a for a, _, _ in group]
        ends_b = [b for _, b, _ in group]
        a_end = _estimate_boundary(ends_a, lookup)
        b_end = _estimate_boundary(ends_b, lookup)
        oriented = _orient(a_end, b_end, lookup, target_ids)
        if oriented is None:
            continue
        gene5, gene3, end5, end3, ok = oriented
        out.append(
            _Draft(
                end5=end5,
                end3=end3,
                gene5=gene5,
                gene3=gene3,
                discordant_fragments={x.fragment for _, _, x in group},
                precision="approximate",
                oriented=ok,
                mapqs=[x.mapq for _, _, x in group],
                dup_keys={x.fragment: {x.dup_key} for _, _, x in group},
            )
        )
    return out


def _estimate_boundary(ends: list[Breakend], lookup: GeneLookup) -> Breakend:
    """The exon boundary just past the reads/mates on their junction side.

    The read nearest the junction decides, unless it alone points past a boundary that
    no other read reaches (a mis-spliced or mismapped read) when there are 3 or more."""
    side = ends[0].side
    chrom = ends[0].chrom
    ordered = sorted({e.pos for e in ends}, reverse=(side == "L"))
    boundaries = [_next_boundary(Breakend(chrom, p, side), lookup) for p in ordered]
    if len(boundaries) >= 3 and boundaries[0] != boundaries[1]:
        return boundaries[1]
    return boundaries[0]


def _next_boundary(end: Breakend, lookup: GeneLookup) -> Breakend:
    """The nearest exon boundary at or beyond ``end`` in the junction direction."""
    best = None
    for gene in lookup.genes_at(end.chrom, end.pos):
        for pos, side in lookup.splice_breakends(gene):
            if side != end.side:
                continue
            if (side == "L" and pos >= end.pos) or (side == "R" and pos <= end.pos):
                dist = abs(pos - end.pos)
                if best is None or dist < best[0]:
                    best = (dist, pos)
    return Breakend(end.chrom, best[1], end.side) if best else end

