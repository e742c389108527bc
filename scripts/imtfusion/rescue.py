"""Soft-clip rescue: place clipped reads on their partner without any SA tag.

Aligners without chimeric detection (STAR defaults, HISAT2, minimap2, BWA-MEM on short
overhangs) leave a junction read aligned on one side with the partner bases soft-clipped.
Clipped reads sharing a breakend in a target locus are pooled into a consensus clip,
which is placed (with the genome FASTA):

1. on an annotated exon boundary of a candidate partner gene -- the genes the discordant
   mates of that breakend point to, and the target's known partners -- since RNA fusions
   join exons; the boundary must give a transcribable orientation;
2. otherwise by searching the consensus in the regions the discordant mates point to.

Each placed read becomes a split read of kind ``clip`` and goes through the same
junction clustering as SA-tagged reads.
"""

from __future__ import annotations

import bisect
import math

from collections import Counter, defaultdict

from typing import TYPE_CHECKING

from imtfusion.annotation import Gene
from imtfusion.evidence import RegionReads, complement, is_low_complexity, reverse_complement
from imtfusion.genelookup import GeneLookup
from imtfusion.junctions import PROBE, consensus_of, identity, inward_bases, junction_probes, partner_outward, reads_spanning
from imtfusion.model import Breakend, ClippedRead, DiscordantRead, SplitRead, UnmappedMate, is_five_prime, is_three_prime
from imtfusion.params import CallParameters
from imtfusion.reference import Reference

if TYPE_CHECKING:  # pragma: no cover
    from imtfusion.boundaries import BoundaryIndex

SEARCH_FLANK = 20_000  # bases searched on each side of a discordant mate
MAX_SEARCH = 5_000_000  # cap on bases searched per clip cluster
MIN_IDENTITY = 0.9
SEED = 20


def _comparable(consensus: str, outward: str, ref: Reference) -> tuple[str, str] | None:
    """The clip consensus and a partner's bases, as far as they can be compared; None when
    the partner's bases are fewer than the clip's.

    The reads' pile-up (no FASTA) spells a partner only where reads are aligned: an exon
    end covered for 24 bases spells 24 bases and then ``N``s. A clip longer than that is
    compared on the bases the pile-up knows, when they are ``SEED`` or more (as many as
    the genome-wide boundary lookup needs to be unique)."""
    if getattr(ref, "from_reads", False):
        known = len(outward.rstrip("N"))  # an N among known bases counts as a mismatch
        if known < len(consensus):
            if known < SEED:
                return None
            consensus, outward = consensus[:known], outward[:known]
    if len(outward) < len(consensus):
        return None
    return consensus, outward


def _needed_identity(length: int) -> float:
    """Short clips could match an exon boundary by chance with a mismatch: exact only."""
    return MIN_IDENTITY if length >= SEED else 1.0


def _mates_of(end: Breakend, discordants: "list[DiscordantRead] | MateIndex", limit: int) -> list[Breakend]:
    """Mate positions of discordant reads lying on the retained side of ``end``."""
    if isinstance(discordants, MateIndex):
        return discordants.mates_of(end, limit)
    out = []
    for d in discordants:
        r = d.read_end
        if r.chrom != end.chrom or r.side != end.side:
            continue
        delta = end.pos - r.pos if end.side == "L" else r.pos - end.pos
        if -10 <= delta <= limit:
            out.append(d.mate_end)
    return out


class MateIndex:
    """Discordant reads by contig and side of their read end, sorted by position: the
    mates of the reads on the retained side of a breakend (:func:`_mates_of`) by
    bisection, in the reads' order, instead of looking at every read for every breakend."""

    def __init__(self, discordants: list[DiscordantRead]):
        self.discordants = discordants
        by_side: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for i, d in enumerate(discordants):
            by_side[(d.read_end.chrom, d.read_end.side)].append((d.read_end.pos, i))
        self._sorted = {k: sorted(v) for k, v in by_side.items()}
        self._positions = {k: [p for p, _ in v] for k, v in self._sorted.items()}

    def mates_of(self, end: Breakend, limit: int) -> list[Breakend]:
        key = (end.chrom, end.side)
        spots = self._sorted.get(key)
        if not spots:
            return []
        # delta = end.pos - r.pos (L) or r.pos - end.pos (R) within [-10, limit]
        low, high = (end.pos - limit, end.pos + 10) if end.side == "L" else (end.pos - 10, end.pos + limit)
        lo = bisect.bisect_left(self._positions[key], low)
        hi = bisect.bisect_right(self._positions[key], high)
        return [self.discordants[i].mate_end for i in sorted(i for _, i in spots[lo:hi])]


def _place_on_boundaries(
    end: Breakend,
    consensus: str,
    genes: list[Gene],
    target_strands: list[str],
    lookup: GeneLookup,
    ref: Reference,
) -> tuple[Breakend, float] | None:
    """The exon boundary of ``genes`` whose bases the consensus spells, and how well."""
    five = any(is_five_prime(s, end.side) for s in target_strands)
    three = any(is_three_prime(s, end.side) for s in target_strands)
    scored: list[tuple[float, int, Breakend]] = []
    for gene in genes:
        chrom = lookup.contigs.to_bam(gene.chrom)
        if chrom is None:
            continue
        for pos, side in sorted(lookup.splice_breakends(gene)):
            # the partner must continue the transcript the target end starts or ends
            if not ((five and is_three_prime(gene.strand, side)) or (three and is_five_prime(gene.strand, side))):
                continue
            partner = Breakend(chrom, pos, side)
            if partner == end:
                continue
            pair = _comparable(consensus, partner_outward(ref, end, partner, len(consensus)), ref)
            if pair is None:
                continue
            clip, outward = pair
            needed = _needed_identity(len(clip))
            allowed = len(clip) - math.ceil(needed * len(clip) - 1e-9)  # mismatches (or N) that still pass
            if _head_mismatches(clip, outward) > allowed:
                continue  # cannot reach the identity needed: no need to score it
            n, ident = identity(clip, outward)
            if ident >= needed:
                scored.append((ident, n, partner, "pseudogene" in gene.gene_type))
    if not scored:
        return None
    scored.sort(key=lambda t: (-t[0], -t[1], t[2]))
    best = [t for t in scored if t[0] == scored[0][0]]
    if len(best) > 1:
        # two boundaries spell the clip equally well: ambiguous, unless all but one are
        # pseudogenes (a copy of the real partner's exon, which fusions do not join)
        real = [t for t in best if not t[3]]
        if len(real) != 1:
            return None
        best = real
    return best[0][2], best[0][0]


def _head_mismatches(consensus: str, outward: str, head: int = 12) -> int:
    """Positions among the first ``head`` that :func:`identity` does not count as equal."""
    return sum(1 for a, b in zip(consensus[:head], outward[:head]) if a != b or a == "N")


def _place_anywhere(
    end: Breakend, consensus: str, strands_at_end: list[str], boundaries: "BoundaryIndex", lookup: GeneLookup, ref: Reference
) -> Breakend | None:
    """The one exon boundary of the genome whose bases the consensus spells, in a
    transcribable orientation and not in the end's own gene."""
    five = any(is_five_prime(s, end.side) for s in strands_at_end)
    three = any(is_three_prime(s, end.side) for s in strands_at_end)
    own = {g.gene_id for g in lookup.genes_at(end.chrom, end.pos)}
    seed = consensus[:SEED]
    hits = [h for h in boundaries.lookup(seed) if h[2] != end.side]
    hits += [h for h in boundaries.lookup(complement(seed)) if h[2] == end.side]
    good: dict[Breakend, tuple[float, bool]] = {}
    for chrom, pos, side, gene_id in hits:
        if gene_id in own:
            continue
        bam_chrom = lookup.contigs.to_bam(chrom)
        if bam_chrom is None:
            continue
        partner = Breakend(bam_chrom, pos, side)
        genes = [g for g in lookup.genes_at(bam_chrom, pos) if g.gene_id == gene_id]
        if not genes or not ((five and is_three_prime(genes[0].strand, side)) or (three and is_five_prime(genes[0].strand, side))):
            continue
        pair = _comparable(consensus, partner_outward(ref, end, partner, len(consensus)), ref)
        if pair is None:
            continue
        n, ident = identity(*pair)
        if ident >= MIN_IDENTITY:
            good[partner] = (ident, "pseudogene" in genes[0].gene_type)
    if len(good) > 1:
        # as on the candidate genes' boundaries: a tie with pseudogenes' copies of the
        # partner's exon goes to the one real gene
        top = max(ident for ident, _ in good.values())
        real = [e for e, (ident, pseudo) in good.items() if ident == top and not pseudo]
        good = {real[0]: good[real[0]]} if len(real) == 1 else good
    if len(good) != 1:
        return None
    return next(iter(good))


def _search(end: Breakend, consensus: str, regions: list[tuple[str, int, int]], ref: Reference) -> Breakend | None:
    """Find where the clip continues: partner ``E`` with ``partner_outward(end, E)`` equal
    to the consensus, by exact search of its first bases."""
    if len(consensus) < SEED:
        return None  # a shorter seed finds chance matches in megabases of sequence
    seed = consensus[:SEED]
    # partner side R reads forward from E; side L reads backward; complemented when the
    # junction joins equal sides (a strand switch)
    patterns = {
        "R": seed if end.side == "L" else complement(seed),
        "L": seed[::-1] if end.side == "R" else reverse_complement(seed),
    }
    hits: set[Breakend] = set()
    for chrom, start, stop in regions:
        text = ref.fetch(chrom, start, stop)
        for side, pattern in patterns.items():
            i = text.find(pattern)
            while i >= 0:
                pos = start + i if side == "R" else start + i + len(pattern) - 1
                hits.add(Breakend(chrom, pos, side))
                i = text.find(pattern, i + 1)
    good = []
    for partner in sorted(hits):
        if partner.chrom == end.chrom and abs(partner.pos - end.pos) < 2 * len(consensus):
            continue  # the clip continuing the target itself is not a junction
        pair = _comparable(consensus, partner_outward(ref, end, partner, len(consensus)), ref)
        if pair is None:
            continue
        n, ident = identity(*pair)
        if ident >= MIN_IDENTITY:
            good.append((ident, partner))
    if len(good) != 1:
        return None
    return good[0][1]


PLACEMENT_OFFSETS = (0, 1, -1, 2, -2, 3, -3)  # re-cuts tried when the aligner cut a few bases off


def _recut(end: Breakend, group: list[ClippedRead], d: int) -> tuple[Breakend, list[ClippedRead]] | None:
    """The group re-cut ``d`` bases into the target (d > 0: the aligner kept ``d`` partner
    bases that happen to match the target; d < 0: it clipped target bases)."""
    moved_end = Breakend(end.chrom, end.pos - d if end.side == "L" else end.pos + d, end.side)
    moved = [_moved(c, moved_end) for c in group]
    if any(m is None for m in moved):
        return None
    return moved_end, [m for m in moved if m is not None]


def place_cluster(
    end: Breakend,
    group: list[ClippedRead],
    genes: list[Gene],
    strands_at_end: list[str],
    mates: list[Breakend],
    lookup: GeneLookup,
    ref: Reference,
    params: CallParameters,
    boundaries: "BoundaryIndex | None" = None,
) -> list[SplitRead]:
    """Split reads for the clipped reads of one breakend, once their consensus clip is
    placed on an exon boundary of ``genes``, near ``mates``, or (two reads or more) on any
    exon boundary of the genome; [] when it is not. Exon boundaries are tried with the
    clips re-cut a few bases either way, since homology or a mismatch next to the
    junction moves where aligners clip."""
    attempts = []
    for d in PLACEMENT_OFFSETS:
        recut = _recut(end, group, d)
        if recut is None:
            continue
        consensus = consensus_of([c.outward for c in recut[1]], limit=50)
        if len(consensus) >= params.min_clip and not is_low_complexity(consensus):
            attempts.append((recut[0], recut[1], consensus))
    if not attempts or attempts[0][0] != end:
        return []  # the clip as aligned must be usable itself
    # the re-cut whose clip spells an exon boundary best (the cut as aligned on a tie)
    placed = None
    best = -1.0
    for e, g, consensus in attempts:
        found = _place_on_boundaries(e, consensus, genes, strands_at_end, lookup, ref)
        if found is not None and found[1] > best:
            placed, best = (e, g, found[0]), found[1]
    if placed is None:
        # not at an exon boundary: search where the mates point, and along the candidate
        # partner genes (a breakpoint inside an exon, or intronic bases kept)
        spans = [(m.chrom, max(0, m.pos - SEARCH_FLANK), m.pos + SEARCH_FLANK) for m in mates]
        for gene in genes:
            chrom = lookup.contigs.to_bam(gene.chrom)
            if chrom is not None:
                spans.append((chrom, max(0, gene.start - 1000), gene.end + 1000))
        regions: list[tuple[str, int, int]] = []
        for chrom, lo, hi in sorted(spans):
            if regions and regions[-1][0] == chrom and lo <= regions[-1][2]:
                regions[-1] = (chrom, regions[-1][1], max(hi, regions[-1][2]))
            else:
                regions.append((chrom, lo, hi))
        if regions and sum(e - s for _, s, e in regions) <= MAX_SEARCH:
            partner = _search(end, attempts[0][2], regions, ref)
            if partner is not None:
                placed = (end, attempts[0][1], partner)
    if placed is None and boundaries is not None and len(group) >= 2:
        # nothing points at the partner: any exon boundary of the genome (a novel partner)
        for e, g, consensus in attempts:
            if len(consensus) < SEED:
                continue
            partner = _place_anywhere(e, consensus, strands_at_end, boundaries, lookup, ref)
            if partner is not None:
                placed = (e, g, partner)
                break
    if placed is None:
        return []
    end, group, partner = placed
    # every read must spell the placed partner itself, not only the consensus
    expected = partner_outward(ref, end, partner, max(len(c.outward) for c in group))
    if getattr(ref, "from_reads", False):
        expected = expected.rstrip("N")  # the pile-up's known bases only
    group = [c for c in group if _agrees(c.outward, expected)]
    return [
        SplitRead(
            fragment=c.fragment,
            end_a=end,
            end_b=partner,
            anchor_a=c.anchor,
            anchor_b=len(c.outward),
            mapq_a=c.mapq,
            mapq_b=c.mapq,
            kind="clip",
            outward_a=c.outward,
            inward_a=c.inward,
            dup_key=c.dup_key,
        )
        for c in group
    ]


def genome_seeds(clips: list[ClippedRead], params: CallParameters) -> set[str]:
    """The bases :func:`place_cluster` looks up among the exon boundaries of the whole
    genome (breakends with two clips or more, each re-cut), as they can read along the
    genome's forward strand: reads aligned at a boundary that continues such a clip
    contain one of them."""
    out: set[str] = set()
    for end, group in group_clips(clips):
        if len(group) < 2:
            continue
        for d in PLACEMENT_OFFSETS:
            recut = _recut(end, group, d)
            if recut is None:
                continue
            consensus = consensus_of([c.outward for c in recut[1]], limit=50)
            if len(consensus) < SEED or is_low_complexity(consensus):
                continue
            seed = consensus[:SEED]
            out |= {seed, seed[::-1], complement(seed), reverse_complement(seed)}
    return out


def _agrees(x: str, y: str) -> bool:
    n, ident = identity(x, y)
    return n >= 8 and ident >= (MIN_IDENTITY if n >= SEED else 1.0)


CLIP_WINDOW = 5  # clips this close on one side are one breakend placed differently


def _moved(clip: ClippedRead, end: Breakend) -> ClippedRead | None:
    """The clip re-cut at ``end`` (same side, a few bases away): bases move between the
    aligned side and the clip (homology, or a mismatch next to the junction, lets aligners
    cut a few bases apart)."""
    gain = (clip.end.pos - end.pos) if end.side == "L" else (end.pos - clip.end.pos)
    if gain == 0:
        return clip
    if gain > 0:  # the alignment kept ``gain`` bases beyond ``end``: they belong to the clip
        if len(clip.inward) < gain:
            return None
        outward = clip.inward[:gain][::-1] + clip.outward
        inward = clip.inward[gain:]
    else:  # the clip holds ``-gain`` target bases before ``end``
        d = -gain
        if len(clip.outward) <= d:
            return None
        outward = clip.outward[d:]
        inward = clip.outward[:d][::-1] + clip.inward
    return ClippedRead(clip.fragment, end, outward, clip.anchor + (len(clip.outward) - len(outward)), clip.mapq,
                       inward, clip.dup_key)


def group_clips(clips: list[ClippedRead]) -> list[tuple[Breakend, list[ClippedRead]]]:
    """Clips by breakend, and at one breakend by sequence: two partners joined to the same
    target base (EML4::ALK and TPM3::ALK at ALK exon 20) are two groups. Clips a few bases
    apart on the same side are re-cut where most of them are."""
    by_side: dict[tuple[str, str], list[ClippedRead]] = defaultdict(list)
    for clip in clips:
        by_side[(clip.end.chrom, clip.end.side)].append(clip)
    by_end: dict[Breakend, list[ClippedRead]] = defaultdict(list)
    for (chrom, side), members in by_side.items():
        members.sort(key=lambda c: (c.end.pos, c.fragment))
        runs: list[list[ClippedRead]] = []
        for clip in members:
            if runs and clip.end.pos - runs[-1][0].end.pos <= CLIP_WINDOW:
                runs[-1].append(clip)
            else:
                runs.append([clip])
        for run in runs:
            # the position most clips agree on; ties: the one keeping fewer target bases
            counts: dict[int, int] = defaultdict(int)
            for clip in run:
                counts[clip.end.pos] += 1
            pos = max(counts, key=lambda p: (counts[p], -p if side == "L" else p))
            end = Breakend(chrom, pos, side)
            for clip in run:
                moved = _moved(clip, end)
                by_end[end if moved is not None else clip.end].append(moved or clip)
    out: list[tuple[Breakend, list[ClippedRead]]] = []
    for end in sorted(by_end):
        groups: list[list[ClippedRead]] = []
        # the longest clips first, and among them the sequence most of them read: a group's
        # first clip is what the others are compared with, and one with a sequencing error
        # would turn away the shorter clips of the same junction (an exact match is asked of
        # those under SEED bases). A clip joins the first group whose first clip it agrees
        # with; clips with the same bases join the same group (its first clips never
        # change), so each distinct sequence is compared with the groups once: at a deep
        # junction most clips repeat a few sequences, and the cost grows with the clips,
        # not clips times groups
        spelled = Counter(c.outward for c in by_end[end])
        home_of: dict[str, list[ClippedRead]] = {}
        for clip in sorted(by_end[end], key=lambda c: (-len(c.outward), -spelled[c.outward], c.fragment)):
            home = home_of.get(clip.outward)
            if home is None:
                home = next((g for g in groups if _agrees(clip.outward, g[0].outward)), None)
                if home is None:
                    home = [clip]
                    groups.append(home)
                    if _agrees(clip.outward, clip.outward):  # (not for a short clip or one of Ns)
                        home_of[clip.outward] = home
                    continue
                home_of[clip.outward] = home
            home.append(clip)
        out.extend((end, g) for g in groups)
    return out


def rescue_clips(
    clips: list[ClippedRead],
    discordants: list[DiscordantRead],
    lookup: GeneLookup,
    target_ids: set[str],
    known_partners: dict[str, list[Gene]],
    ref: Reference,
    params: CallParameters,
    boundaries: "BoundaryIndex | None" = None,
) -> list[SplitRead]:
    out: list[SplitRead] = []
    index = MateIndex(discordants)
    for end, group in group_clips(clips):
        targets = [g for g in lookup.genes_at(end.chrom, end.pos) if g.gene_id in target_ids]
        if not targets:
            continue
        mates = _mates_of(end, index, params.discordant_max_distance)
        genes: dict[str, Gene] = {}
        for m in mates:
            for g in lookup.genes_at(m.chrom, m.pos):
                genes[g.gene_id] = g
        for t in targets:
            for g in known_partners.get(t.gene_id, []):
                genes[g.gene_id] = g
        out += place_cluster(
            end, group, [genes[k] for k in sorted(genes)], [t.strand for t in targets], mates, lookup, ref, params,
            boundaries,
        )
    return out


PARTNER_FETCH_FLANK = 2_000
PARTNER_FETCH_MAX = 500_000


def refine_mate_pairs(
    discordants: list[DiscordantRead],
    clips: list[ClippedRead],
    lookup: GeneLookup,
    target_ids: set[str],
    region: RegionReads,
    ref: Reference,
    params: CallParameters,
    unmapped: list[UnmappedMate] | None = None,
) -> list[SplitRead]:
    """Junction reads for gene pairs seen only through mates.

    For each (target breakend side, partner side) group of discordant reads, clipped
    reads just beyond the reads on the target side, and just beyond the mates on the
    partner side (``region``: read now), are placed on the other gene's exon boundaries."""
    groups: dict[tuple, list[DiscordantRead]] = defaultdict(list)
    for d in discordants:
        r, m = d.read_end, d.mate_end
        if any(g.gene_id in target_ids for g in lookup.genes_at(r.chrom, r.pos)):
            groups[(r.chrom, r.side, m.chrom, m.side)].append(d)
    limit = params.discordant_max_distance
    out: list[SplitRead] = []
    for (r_chrom, r_side, m_chrom, m_side), group in sorted(groups.items()):
        reads = [d.read_end for d in group]
        mates = [d.mate_end for d in group]
        target_genes = {g.gene_id: g for e in reads for g in lookup.genes_at(e.chrom, e.pos) if g.gene_id in target_ids}
        partner_genes = {g.gene_id: g for e in mates for g in lookup.genes_at(e.chrom, e.pos)}
        if not target_genes or not partner_genes:
            continue
        # target side: clips past the reads, placed on the partner genes
        near_reads = [c for c in clips if c.end.chrom == r_chrom and c.end.side == r_side and _beyond_all(c.end, reads, limit)]
        for end, grp in group_clips(near_reads):
            out += place_cluster(end, grp, list(partner_genes.values()), [g.strand for g in target_genes.values()],
                                 [], lookup, ref, params)
        # partner side: clips past the mates, placed on the target genes
        lo = max(0, min(m.pos for m in mates) - PARTNER_FETCH_FLANK)
        hi = max(m.pos for m in mates) + PARTNER_FETCH_FLANK
        if hi - lo > PARTNER_FETCH_MAX:
            continue
        near_mates = [c for c in region.clipped(m_chrom, lo, hi) if c.end.side == m_side and _beyond_all(c.end, mates, limit)]
        for end, grp in group_clips(near_mates):
            strands = [g.strand for g in lookup.genes_at(end.chrom, end.pos)]
            out += place_cluster(end, grp, list(target_genes.values()), strands, [], lookup, ref, params)
        # unmapped reads next to the reads or the mates that spell an exon-exon junction
        # of the two genes (the few boundaries just past the reads and the mates)
        pool = [u for u in (unmapped or []) if u.chrom == r_chrom and any(abs(u.pos - e.pos) <= limit for e in reads)]
        pool += region.unmapped(m_chrom, lo, hi)
        if pool:
            out += _junctions_in_unmapped(reads, mates, target_genes, partner_genes, pool, lookup, ref, params)
    return out


BOUNDARIES_TRIED = 4  # exon boundaries tried on each side past the reads/mates


def _boundaries_past(observed: list[Breakend], genes: dict[str, Gene], lookup: GeneLookup, limit: int) -> list[Breakend]:
    side = observed[0].side
    chrom = observed[0].chrom
    found = set()
    for gene in genes.values():
        for pos, s in lookup.splice_breakends(gene):
            end = Breakend(chrom, pos, s)
            if s == side and _beyond_all(end, observed, limit):
                found.add(end)
    nearest = max(o.pos for o in observed) if side == "L" else min(o.pos for o in observed)
    return sorted(found, key=lambda e: (abs(e.pos - nearest), e.pos))[:BOUNDARIES_TRIED]


def _junctions_in_unmapped(
    reads: list[Breakend],
    mates: list[Breakend],
    target_genes: dict[str, Gene],
    partner_genes: dict[str, Gene],
    pool: list[UnmappedMate],
    lookup: GeneLookup,
    ref: Reference,
    params: CallParameters,
) -> list[SplitRead]:
    out: list[SplitRead] = []
    targets = _boundaries_past(reads, target_genes, lookup, params.discordant_max_distance)
    partners = _boundaries_past(mates, partner_genes, lookup, params.discordant_max_distance)
    strands_t = [g.strand for g in target_genes.values()]
    strands_p = [g.strand for g in partner_genes.values()]
    for t in targets:
        for p in partners:
            transcribable = (
                any(is_five_prime(a, t.side) for a in strands_t) and any(is_three_prime(b, p.side) for b in strands_p)
            ) or (any(is_three_prime(a, t.side) for a in strands_t) and any(is_five_prime(b, p.side) for b in strands_p))
            if not transcribable:
                continue
            inward = inward_bases(ref, t, PROBE)
            outward = partner_outward(ref, t, p, PROBE)
            left, right = (inward[::-1], outward) if t.side == "L" else (outward[::-1], inward)
            for fragment in sorted(reads_spanning(junction_probes(left, right), pool)):
                out.append(
                    SplitRead(
                        fragment=fragment,
                        end_a=t,
                        end_b=p,
                        anchor_a=PROBE // 2,
                        anchor_b=PROBE // 2,
                        mapq_a=params.min_mapq,
                        mapq_b=params.min_mapq,
                        kind="unmapped",
                    )
                )
    return out


def _beyond_all(end: Breakend, observed: list[Breakend], limit: int) -> bool:
    """``end`` lies on the junction side of every observed read/mate position (within a
    few bases) and not farther than ``limit`` from them."""
    if end.side == "L":
        return all(-10 <= end.pos - o.pos <= limit for o in observed) or (
            end.pos >= max(o.pos for o in observed) - 10 and end.pos - min(o.pos for o in observed) <= limit
        )
    return end.pos <= min(o.pos for o in observed) + 10 and max(o.pos for o in observed) - end.pos <= limit
