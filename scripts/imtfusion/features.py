"""Features of candidates that the filters judge, beyond their read counts.

* :func:`usable_discordants` -- mate pairs that can count as evidence at all: both mates
  aligned with MAPQ >= ``min_discordant_mapq`` and neither of low complexity (poly-G
  reads of a two-colour sequencer place anywhere, with a low MAPQ).
* :func:`assess_mismapping` -- per junction read, whether its partner bases are the
  sequence that follows one end in its own gene after all (Arriba's ``filter_mismappers``
  idea): the genome past the end, an annotated exon spliced to it, what the other reads
  aligned through that end show, or where the reads split at it continue (from the
  FASTA, else from the reads' pile-up: a transcribed paralog has reads of its own); with
  a FASTA also a copy of the partner bases within ``mismap_search_window`` of an end.
  The partner bases of a better junction at the same breakpoint count too (a pseudogene
  of the real partner), and a pseudogene's junction explained that way gives its reads
  to the gene's junction. Mates are tested against the exons of the read they pair with.
* :func:`mark_promiscuous` -- breakpoints the sample joins to many different genes.
* :func:`mark_primed` -- with a primer BED, the fragments read from a primer and the
  target bases their molecules hold beyond it (primer bases are not evidence).

Each takes the sample's candidates and the reading functions it needs and returns new,
frozen candidate records with those features (for a pseudogene's junction, the gene's
junction with its reads and the copy naming it in ``part_of``), before the filters
judge them.

:func:`features_of` then takes the frozen :class:`Features` record of each candidate:
all the filters and the confidence tiers read (:mod:`imtfusion.filters` judges it
without the candidate, the BAM or the reads), so a filter is tested on a record
written in the test.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable

from imtfusion import umis
from imtfusion.calling import Candidate, JunctionView, canonical, clip_matches, junction_invariant
from imtfusion.evidence import ClippedRead, MateRecord, complement, is_low_complexity
from imtfusion.genelookup import GeneLookup, GeneRef
from imtfusion.junctions import beyond_bases, consensus_of, identity, junction_probes, partner_outward, reads_spanning
from imtfusion.model import Breakend, DiscordantRead, SplitRead, UnmappedMate
from imtfusion.params import CallParameters
from imtfusion.reference import Reference

if TYPE_CHECKING:
    from imtfusion.annotate import FusionAnnotation
    from imtfusion.evidence import BreakendReads
    from imtfusion.primers import PrimerSet

@dataclass(frozen=True, slots=True)
class Features:
    """What the filters and the confidence tiers know of one candidate: its ends and
    genes, its support, and the features measured on its reads (frozen; no reads)."""

    gene5: GeneRef
    gene3: GeneRef
    end5: Breakend
    end3: Breakend
    targets: tuple[str, ...] = ()
    oriented: bool = True  # a transcript can be read across the junction
    precision: str = "exact"  # exact: split reads place it; approximate: mates only
    site5: str = "."  # splice_site, exonic, intronic, intergenic (annotate.Location.site)
    site3: str = "."
    split_reads: int = 0  # fragments with a read across the junction
    discordant_pairs: int = 0  # fragments with mates in the two genes and no junction read
    fragments: int = 0
    duplicates: int = 0  # fragments repeating another's molecule
    best_anchor: int = 0  # largest min(anchor5, anchor3) of the junction reads
    low_mapq_fraction: float = 0.0
    self_similar: float = 0.0
    tested_reads: int = 0  # junction reads and mates the mismapping test compared
    mismapped_reads: int = 0  # of those, the ones an end's own sequence explains
    promiscuous: bool = False  # at a hot spot joined to many genes, not dominating it
    sequence5: str = ""  # read bases next to the junction, transcript orientation
    sequence3: str = ""
    known: bool = False  # the gene pair is in the curated known fusions
    part_of_call: bool = False  # phase 2: another junction of the gene pair is the call
    start_sites: int = 0  # distinct partner-side read starts of the supporting fragments
    primed_fragments: int = 0  # supporting fragments read from a primer (primer BED)
    max_beyond_primer: int = 0  # most target bases one of them holds beyond its primer
    # the transcript-level annotation (frame, domains, exons), for the filters that read it
    # (Filter.reads_annotation; None when no active filter does)
    annotation: "FusionAnnotation | None" = None

    @property
    def primed(self) -> bool:
        return self.primed_fragments > 0

    @property
    def fusion(self) -> str:
        return f"{self.gene5.name}::{self.gene3.name}"

    @property
    def exon_to_exon(self) -> bool:
        return self.site5 == "splice_site" and self.site3 == "splice_site"


def features_of(c: Candidate, known_pairs: frozenset[tuple[str, str]] = frozenset()) -> Features:
    """The frozen record the filters judge, from a candidate whose features are measured."""
    return Features(
        gene5=c.gene5, gene3=c.gene3, end5=c.end5, end3=c.end3, targets=tuple(c.targets), oriented=c.oriented,
        precision=c.precision, site5=c.site5, site3=c.site3, split_reads=c.split_reads,
        discordant_pairs=c.discordant_pairs, fragments=c.fragments, duplicates=c.duplicates,
        best_anchor=c.best_anchor, low_mapq_fraction=c.low_mapq_fraction, self_similar=c.self_similar,
        tested_reads=c.tested_reads, mismapped_reads=c.mismapped_reads, promiscuous=c.promiscuous,
        sequence5=c.sequence5, sequence3=c.sequence3, known=(c.gene5.name, c.gene3.name) in known_pairs,
        part_of_call=c.part_of is not None, start_sites=c.start_sites, primed_fragments=len(c.primed),
        max_beyond_primer=max(c.primed.values(), default=0),
    )


MIN_COMPARED = 15  # partner bases a read needs for the mismapping test
COMPARED = 40  # bases compared at most
MAX_TESTED_READS = 200  # junction reads tested per candidate (the fraction is what counts)
SEED = 20  # exact bases that locate a copy of the partner bases near an end (FASTA)
PROBE = 30  # bases of the consensus compared at a copy
PARTNER_GUARD = 2_000  # copies this close to the other end are the partner itself


def mate_of(read: DiscordantRead, mates: dict[tuple[str, str, int], MateRecord]) -> MateRecord | None:
    return mates.get((read.fragment, read.mate_end.chrom, read.mate_end.pos))


def _low_mates(read: DiscordantRead, mates: dict[tuple[str, str, int], MateRecord], params: CallParameters) -> int | None:
    """How many of a discordant pair's two mates are placed below ``min_discordant_mapq``
    (the mate counted only where it was read); None when the pair can be no evidence at
    all: the mate of low complexity or placed by fewer than ``min_anchor`` aligned bases."""
    mate = mate_of(read, mates)
    if mate is not None and (is_low_complexity(mate.sequence) or mate.aligned < params.min_anchor):
        return None
    return (read.mapq < params.min_discordant_mapq) + (mate is not None and mate.mapq < params.min_discordant_mapq)


def usable_discordants(
    reads: Iterable[DiscordantRead], mates: dict[tuple[str, str, int], MateRecord], params: CallParameters
) -> list[DiscordantRead]:
    """The discordant reads whose pair can count as evidence of a junction: both mates
    placed well (``min_discordant_mapq``), the mate not a low-complexity sequence, and
    placed by at least ``min_anchor`` aligned bases (STAR's chimeric output may write a
    mate as ``10M65S`` at a chance match, its 65 bases a supplementary elsewhere: the
    pair says nothing of the place of those 10)."""
    return [read for read in reads if _low_mates(read, mates, params) == 0]


def ambiguous_pairs(
    reads: Iterable[DiscordantRead], mates: dict[tuple[str, str, int], MateRecord], params: CallParameters
) -> list[DiscordantRead]:
    """The discordant reads whose pair :func:`usable_discordants` leaves out only because
    one of its mates (the one in the target locus or its mate) was placed below
    ``min_discordant_mapq`` as the aligner's primary place, the other placed well: a copy
    of that mate's gene (a paralog, a pseudogene) spells its bases as well, so they make no
    call; :func:`add_ambiguous_pairs` counts them for a call they fit."""
    return [read for read in reads if mate_of(read, mates) is not None and _low_mates(read, mates, params) == 1]


def assess_mismapping(
    candidates: list[Candidate],
    ends: "BreakendReads",
    lookup: GeneLookup,
    params: CallParameters,
    ref: Reference | None = None,
    mates: dict[tuple[str, str, int], MateRecord] | None = None,
    discordants: Iterable[DiscordantRead] = (),
) -> list[Candidate]:
    """The candidates with ``tested_reads``, ``mismapped_reads`` and (with a FASTA)
    ``self_similar`` measured (new records, in the same order);
    ``mates`` (:func:`imtfusion.evidence.collect_mates`) of the ``discordants`` let the
    mate pairs be tested too.

    ``ends`` reads what the other reads at a breakend show
    (:class:`imtfusion.evidence.BreakendReads`); without a FASTA its pile-up spells the
    sequences the FASTA would give."""
    def own(end: Breakend, other: Breakend, cand: Candidate) -> list[str]:
        return _own_continuations(end, other, ends, lookup, params, ref, cand.split_fragments | cand.discordant_fragments)

    out = list(candidates)
    exact = [i for i, c in enumerate(out) if c.junction is not None and c.precision == "exact"]
    bases = ref if ref is not None else ends.pileup
    partner_bases: dict[tuple[Breakend, Breakend], str] = {}

    def partner(end: Breakend, other: Breakend) -> str:
        """What the genome (or the reads' pile-up) at ``other`` puts beyond ``end``."""
        if (end, other) not in partner_bases:
            partner_bases[(end, other)] = partner_outward(bases, end, other, COMPARED) if bases.has(other.chrom) else ""
        return partner_bases[(end, other)]

    # per breakend: (rank, index into out, the junction's other end) of the exact junctions there
    at_end: dict[Breakend, list[tuple[tuple, int, Breakend]]] = defaultdict(list)
    for i in exact:
        c = out[i]
        at_end[c.junction.a].append((_rank(c), i, c.junction.b))
        at_end[c.junction.b].append((_rank(c), i, c.junction.a))

    def rivals(end: Breakend, i: int) -> list[str]:
        """Partner bases of better junctions at the same breakend: reads of a real fusion
        whose partner part went to a pseudogene of the partner spell them too."""
        mine = _rank(out[i])
        return [partner(end, other) for rank, j, other in at_end[end] if j != i and rank > mine]

    def landed(end: Breakend, other: Breakend, cand: Candidate) -> list[tuple[str, bool]]:
        """Partner bases of the places where more of the reads split at ``end`` (or up to
        ``SHIFT`` bases off it: the same junction shifted along a microhomology) continue,
        placed there uniquely (MAPQ >= ``UNIQUE_LANDING_MAPQ``), than continue at
        ``other``, at least two: junctions at the same breakend that make no candidate.
        A partner joined to a target's paralog (EML4 to ALKP2's copy of ALK exon 20) has
        its reads there, and the few an aligner gave the target instead read as the
        paralog's (:func:`_better_elsewhere`). Places that only two-place reads reach (a
        copy identical over the reads' bases) are no such junction: which of the two an
        aligner chose is chance. Each with whether it holds most of the reads split there
        (then a read it spells only as well as the aligner's place is its too). Not asked
        at a target's end: every junction there is a candidate (``rivals``)."""
        if any(g.name in cand.targets for g in lookup.genes_at(end.chrom, end.pos)):
            return []
        near = params.junction_window
        counts: Counter[Breakend] = Counter()
        at: dict[Breakend, Breakend] = {}
        mine = 0
        landings = ends.landings_near(end, SHIFT)
        for shifted, landing, mapq in landings:
            if landing.chrom == other.chrom and abs(landing.pos - other.pos) <= near:
                mine += 1
            elif mapq >= UNIQUE_LANDING_MAPQ:
                counts[landing] += 1
                at.setdefault(landing, shifted)
        return [(b, 2 * n > len(landings)) for landing, n in sorted(counts.items()) if n >= 2 and n > mine
                if (b := partner(at[landing], landing))]

    for i in exact:
        cand = out[i]
        view = cand.junction
        own_a = own(view.a, view.b, cand) + rivals(view.a, i)
        own_b = own(view.b, view.a, cand) + rivals(view.b, i)
        # a record not seen (a hard-clipped supplementary's partner): the partner's bases
        fill_a, fill_b = partner(view.a, view.b), partner(view.b, view.a)
        reads = sorted(cand.junction_reads)[:MAX_TESTED_READS]
        # only a read that differs from the bases it was placed on can be better elsewhere
        away_a = landed(view.a, view.b, cand) if _differs((r[1] for r in reads), fill_a) else []
        away_b = landed(view.b, view.a, cand) if _differs((r[2] for r in reads), fill_b) else []
        tested = mismapped = 0
        for _, beyond_a, beyond_b in reads:
            verdicts = []
            for probe, continuations, fill, away in ((beyond_a or fill_a, own_a, fill_a, away_a),
                                                     (beyond_b or fill_b, own_b, fill_b, away_b)):
                if probe.count("N") * 4 >= len(probe):
                    continue
                if len(probe) >= MIN_COMPARED:
                    verdicts.append(_explained(probe, continuations, params.max_self_similarity)
                                    or _better_elsewhere(probe, fill, away, params.max_self_similarity))
                elif len(probe) >= MIN_SHORT_COMPARED and away:
                    # a short clip of a partner-side read: that junction's if it spells it exactly
                    verdicts.append(_better_elsewhere(probe, fill, away, 1.0))
            if verdicts:
                tested += 1
                mismapped += any(verdicts)
        similar = self_similarity(ref, view, lookup, params.mismap_search_window) if ref is not None else cand.self_similar
        out[i] = replace(cand, tested_reads=tested, mismapped_reads=mismapped, self_similar=similar)
    for i in exact:
        _give_to_the_gene(i, out, at_end, partner, params)
    if mates:
        for i, (tested, mismapped) in _assess_mates(out, mates, discordants, lookup, bases).items():
            c = out[i]
            out[i] = replace(c, tested_reads=c.tested_reads + tested, mismapped_reads=c.mismapped_reads + mismapped)
    return out


MATE_SEED = 20  # bases of a mate looked up in the target gene's exons
MATE_SEEDS_NEEDED = 2


def _holds(words: frozenset[str], seeds: list[str], needed: int) -> bool:
    """Whether at least ``needed`` of ``seeds`` are among ``words`` (a text's substrings of
    the seeds' length: :func:`_words`), looked for until that many are found."""
    found = 0
    for seed in seeds:
        if seed in words:
            found += 1
            if found >= needed:
                return True
    return False


def _words(text: str, length: int) -> frozenset[str]:
    """Every substring of ``text`` ``length`` long: a seed of that length occurs in the
    text exactly when it is one of them, looked up at once however long the text."""
    return frozenset(text[i:i + length] for i in range(len(text) - length + 1))


def _assess_mates(candidates: list[Candidate], mates: dict[tuple[str, str, int], MateRecord], reads: Iterable[DiscordantRead],
                  lookup: GeneLookup, bases) -> dict[int, tuple[int, int]]:
    """Mates whose sequence is the own gene's of the read they pair with (a normal
    fragment of that gene whose mate was aligned to a paralog or pseudogene elsewhere)
    are mismappers too: at least two of the mate's 20-base seeds lie in the exons of the
    read's gene (the FASTA, else the reads' pile-up there). Returns, per candidate
    (index) with mates tested, (mates tested, mismappers among them)."""
    exon_words: dict[str, frozenset[str] | None] = {}  # gene -> its exons' MATE_SEED-mers (None: no bases)
    by_fragment: dict[str, list[DiscordantRead]] = defaultdict(list)
    for read in reads:
        by_fragment[read.fragment].append(read)

    def exons_of(end: Breakend, gene_id: str) -> frozenset[str] | None:
        if gene_id not in exon_words:
            gene = next((g for g in lookup.genes_at(end.chrom, end.pos) if g.gene_id == gene_id), None)
            spans = lookup.exons(gene) if gene is not None else []
            text = "|".join(bases.fetch(end.chrom, s, e) for s, e in spans) if bases.has(end.chrom) else ""
            exon_words[gene_id] = _words(text, MATE_SEED) if text else None
        return exon_words[gene_id]

    counts: dict[int, tuple[int, int]] = {}
    for k, cand in enumerate(candidates):
        tested = mismapped = 0
        fragments = sorted(cand.discordant_fragments - cand.split_fragments)
        genes = {g.gene_id for g in (cand.gene5, cand.gene3) if not g.intergenic}
        for fragment in fragments[:MAX_TESTED_READS]:
            for read in by_fragment.get(fragment, []):
                mate = mate_of(read, mates)
                if mate is None or len(mate.sequence) < MATE_SEED * 2:
                    continue
                own = [exons_of(read.read_end, g.gene_id) for g in lookup.genes_at(read.read_end.chrom, read.read_end.pos)
                       if g.gene_id in genes and not (read.mate_end.chrom == read.read_end.chrom
                                                      and g.start <= read.mate_end.pos < g.end)]
                own = [w for w in own if w is not None]
                if own:
                    break
            else:
                continue
            tested += 1
            seq = mate.sequence.upper()
            seeds = [seq[i:i + MATE_SEED] for i in range(0, len(seq) - MATE_SEED + 1, MATE_SEED // 2)]
            seeds += [complement(x)[::-1] for x in seeds]
            if any(_holds(words, seeds, MATE_SEEDS_NEEDED) for words in own):
                mismapped += 1
        if tested:
            counts[k] = (tested, mismapped)
    return counts


def _give_to_the_gene(i: int, out: list[Candidate], at_end, partner, params: CallParameters) -> None:
    """A pseudogene's junction (``out[i]``) whose reads are mismappers of a real gene's
    junction at the same breakend (the partner bases of both alike) gives its reads to
    that junction, and names it in ``part_of``: the reads' partner part lies where gene
    and pseudogene are the same, so they are the gene's as much as the copy's, and a
    pseudogene is not a fusion partner. Their ambiguity between the two is what gave the
    reads a low MAPQ, so the gene's junction is not ``multimapping`` on their account.
    Both are replaced in ``out`` by their new records."""
    copy = out[i]
    if _rank(copy)[0] or not copy.tested_reads or copy.mismapped_reads < params.max_mismapped_fraction * copy.tested_reads:
        return
    view = copy.junction
    for end, other in ((view.a, view.b), (view.b, view.a)):
        mine = partner(end, other)
        for rank, j, gene_other in sorted(at_end[end], key=lambda x: x[0], reverse=True):
            if j == i or not rank[0]:
                continue
            n, ident = identity(mine, partner(end, gene_other))
            if n >= MIN_COMPARED and ident >= params.max_self_similarity:
                gene = out[j]
                dup_keys = {f: set(k) for f, k in gene.dup_keys.items()}
                for fragment, keys in copy.dup_keys.items():
                    dup_keys.setdefault(fragment, set()).update(keys)
                anchors = dict(gene.anchors)
                for fragment, anchor in copy.anchors.items():
                    anchors[fragment] = max(anchors.get(fragment, 0), anchor)
                out[j] = replace(
                    gene,
                    split_fragments=gene.split_fragments | copy.split_fragments,
                    clipped_fragments=gene.clipped_fragments | copy.clipped_fragments,
                    unmapped_fragments=gene.unmapped_fragments | copy.unmapped_fragments,
                    discordant_fragments=gene.discordant_fragments | copy.discordant_fragments,
                    dup_keys=dup_keys,
                    best_anchor=max(gene.best_anchor, copy.best_anchor),
                    anchors=anchors,
                    low_mapq_fraction=0.0,
                )
                out[i] = replace(copy, part_of=gene.key)
                return


def _rank(c: Candidate) -> tuple:
    """Which of two junctions at one breakend the reads belong to: genes that are not
    pseudogenes first, then the more junction reads and fragments."""
    real = all("pseudogene" not in g.gene_type for g in (c.gene5, c.gene3))
    return (real, c.split_reads, c.fragments)


SHIFT = 3  # bases a read's partner bases may sit off the placed junction (an indel, a mismatch next to it)


def _differs(probes: Iterable[str], placed: str) -> bool:
    """Whether a read's bases past an end (those long enough to test) differ from the
    bases it was placed on."""
    return bool(placed) and any(len(p) >= MIN_SHORT_COMPARED and identity(p[:COMPARED], placed)[1] < 1.0
                                for p in probes)


MIN_SHORT_COMPARED = 8  # a shorter probe (a partner-side read's short clip) is tested only against a better junction, exactly
UNIQUE_LANDING_MAPQ = 10  # a read split at a breakend continues uniquely elsewhere (STAR 255, BWA/HISAT2/minimap2 up to 60)


def _best_identity(probe: str, seq: str, least: int) -> float:
    """The best identity of ``probe`` with ``seq`` over at least ``least`` bases, allowing it
    to start up to ``SHIFT`` bases off (a junction shifted along a microhomology)."""
    best = 0.0
    for shift in range(-SHIFT, SHIFT + 1):
        n, ident = identity(probe[max(0, -shift):], seq[max(0, shift):])
        if n >= least:
            best = max(best, ident)
    return best


def _better_elsewhere(probe: str, placed: str, elsewhere: list[tuple[str, bool]], threshold: float) -> bool:
    """Whether one of the ``elsewhere`` partner bases (a junction at the same breakend with
    more uniquely placed reads; :func:`assess_mismapping`'s ``landed``) spells ``probe`` (a
    junction read's bases past the end) at ``threshold`` identity and better than the bases
    the read was placed on (``placed``), both allowing a shift of up to ``SHIFT`` bases: the
    read is that junction's. As well only counts where that junction holds most of the
    reads split there (an aligner may prefer the target's splice site on a tie; where most
    reads are two-place between the target and a copy, which one an aligner chose is
    chance)."""
    if not placed or not elsewhere:
        return False
    probe = probe[:COMPARED]
    least = min(MIN_COMPARED, len(probe))
    if least < MIN_SHORT_COMPARED:
        return False
    here = _best_identity(probe, placed, least)
    for seq, dominant in elsewhere:
        there = _best_identity(probe, seq, least)
        if there >= threshold and (there > here or dominant and there == here):
            return True
    return False


def _explained(probe: str, own: list[str], threshold: float) -> bool:
    """Whether one of the ``own`` continuations spells ``probe`` at ``threshold``
    identity, allowing it to start up to ``SHIFT`` bases off."""
    probe = probe[:COMPARED]
    return any(_best_identity(probe, seq, MIN_COMPARED) >= threshold for seq in own)


def _own_continuations(
    end: Breakend,
    other: Breakend,
    ends: "BreakendReads",
    lookup: GeneLookup,
    params: CallParameters,
    ref: Reference | None,
    own_reads: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Sequences that follow ``end`` in its own gene, adjacent base first: what at least
    two reads aligned through it show (contiguous, or spliced within a gene of ``end``),
    where at least two reads split at it continue within such a gene, the genome past it
    and the exons its genes splice to it (the FASTA, else the reads' pile-up). Junctions
    to the candidate's other end are the candidate itself and do not count, nor do the
    candidate's own reads (``own_reads``): an aligner may splice a junction read's few
    partner bases to a chance match inside the target gene, and at panel depth two PCR
    copies of it would make that the gene's own continuation."""
    genes = {g.gene_id for g in lookup.genes_at(end.chrom, end.pos)}
    bases = ref if ref is not None else ends.pileup

    def own_gene(landing: Breakend) -> bool:
        if landing.chrom == other.chrom and abs(landing.pos - other.pos) <= params.junction_window:
            return False
        return landing.chrom == end.chrom and bool(genes & {g.gene_id for g in lookup.genes_at(end.chrom, landing.pos)})

    out: list[str] = []
    observed = ends.continuations(end)
    for key in sorted(observed):
        if key == ("c",) and ref is not None:
            continue  # with a FASTA the genome past the end is added below: reads aligned
            # through it that differ from it are junction reads a permissive aligner
            # extended through their junction with mismatches (STAR defaults, capture depth)
        reads = [bases for name, bases in observed[key] if name not in own_reads]
        if len(reads) < 2:
            continue
        if key[0] == "n" and not own_gene(Breakend(end.chrom, key[1], "R" if end.side == "L" else "L")):
            continue
        out.append(consensus_of(reads, COMPARED))
    landings = Counter(ends.landings(end))
    partners = {landing for landing, n in landings.items() if n >= 2 and own_gene(landing)}
    if bases.has(end.chrom):
        out.append(beyond_bases(bases, end, COMPARED))
        for gene in lookup.genes_at(end.chrom, end.pos):
            for pos, side in lookup.intron_pairs(gene).get((end.pos, end.side), ()):
                partner = Breakend(end.chrom, pos, side)
                if own_gene(partner):
                    partners.add(partner)
        for partner in sorted(partners):
            out.append(partner_outward(bases, end, partner, COMPARED))
    return [s for s in out if s.count("N") * 4 < len(s)]


def self_similarity(ref: Reference, view: JunctionView, lookup: GeneLookup, window: int) -> float:
    """Evidence that the consensus partner bases are the end's own sequence after all.

    For each end: identity between the bases the reads have beyond it and (1) the
    reference bases that would follow it without a junction (a read with mismatches, a
    repeat), (2) the bases its own gene splices to it (a paralog or pseudogene copy of
    the neighbouring exon), and (3) a copy anywhere within ``window`` of the end on either
    strand, found by an exact seed and compared base by base (a paralog whose next exon
    lies far away, a processed pseudogene); copies at the junction's other end, or in its
    genes, are the partner itself and do not count. Returns the highest identity."""
    best = 0.0
    for end, other, outward in ((view.a, view.b, view.outward_a), (view.b, view.a, view.outward_b)):
        probe = outward[:PROBE]
        if len(probe) < MIN_COMPARED:
            continue
        _, ident = identity(probe, beyond_bases(ref, end, len(probe)))
        best = max(best, ident)
        for gene in lookup.genes_at(end.chrom, end.pos):
            for pos, side in sorted(lookup.intron_pairs(gene).get((end.pos, end.side), ())):
                own = partner_outward(ref, end, Breakend(end.chrom, pos, side), len(probe))
                _, ident = identity(probe, own)
                best = max(best, ident)
        if len(probe) >= SEED:
            best = max(best, _copy_identity(ref, end, other, probe, window, lookup))
    return best


def _copy_identity(ref: Reference, end: Breakend, other: Breakend, probe: str, window: int, lookup: GeneLookup) -> float:
    start = max(0, end.pos - window)
    region = ref.fetch(end.chrom, start, end.pos + window, remember=False)
    partner_genes = {g.gene_id for g in lookup.genes_at(other.chrom, other.pos)}
    best = 0.0
    # the probe is in the end's plus-strand letters, read away from it: a copy may stand
    # in either direction on either strand
    for form in (probe, probe[::-1], complement(probe), complement(probe)[::-1]):
        seed = form[:SEED]
        hit = region.find(seed)
        while hit >= 0:
            if not _is_partner(end.chrom, start + hit, other, partner_genes, lookup):
                _, ident = identity(form, region[hit : hit + len(form)])
                best = max(best, ident)
            hit = region.find(seed, hit + 1)
    return best


def _is_partner(chrom: str, pos: int, other: Breakend, partner_genes: set[str], lookup: GeneLookup) -> bool:
    if chrom != other.chrom:
        return False
    if abs(pos - other.pos) <= PARTNER_GUARD:
        return True
    return bool(partner_genes & {g.gene_id for g in lookup.genes_at(chrom, pos)})


PROMISCUOUS_MOLECULES = 3  # distinct molecules that count as independent evidence at a hot spot


def _long_molecules(c: Candidate, params: CallParameters) -> int:
    """Distinct molecules among the fragments with a junction read aligned ``min_anchor``
    bases or more on both sides: what a hot spot's short-anchored artefact reads are
    not, and PCR copies of one molecule are one of."""
    long = {f for f, anchor in c.anchors.items() if anchor >= params.min_anchor}
    keys = {f: k for f, k in c.dup_keys.items() if f in long}
    use = params.uses_umis
    return len(keys) - umis.count_duplicates(keys, use, params.umi_mismatches)


def mark_promiscuous(candidates: list[Candidate], params: CallParameters) -> list[Candidate]:
    """The candidates, ``promiscuous`` set on those at a breakpoint joined to
    ``max_partners`` or more different genes, except a partner that dominates it with
    independent evidence (see :func:`imtfusion.filters.promiscuous_breakpoint`).
    Breakends within ``junction_window`` bases on the same side are one breakpoint."""
    ends: dict[tuple[str, str], list[tuple[int, Candidate, str]]] = defaultdict(list)
    for c in candidates:
        if c.precision != "exact" or not c.split_reads or c.part_of is not None:
            continue  # a pseudogene's junction whose reads went to the gene's is no partner of its own
        ends[(c.end5.chrom, c.end5.side)].append((c.end5.pos, c, c.gene3.gene_id))
        ends[(c.end3.chrom, c.end3.side)].append((c.end3.pos, c, c.gene5.gene_id))
    flagged: set[int] = set()
    for key in sorted(ends):
        spots = sorted(ends[key], key=lambda x: (x[0], x[1].end5, x[1].end3))
        cluster = [spots[0]]
        for spot in spots[1:]:
            if spot[0] - cluster[-1][0] > params.junction_window:
                flagged |= _judge_hotspot(cluster, params)
                cluster = []
            cluster.append(spot)
        flagged |= _judge_hotspot(cluster, params)
    return [replace(c, promiscuous=True) if id(c) in flagged and not c.promiscuous else c for c in candidates]


def _judge_hotspot(cluster: list[tuple[int, Candidate, str]], params: CallParameters) -> set[int]:
    """The candidates (``id``) of a cluster at one breakpoint that are promiscuous."""
    flagged: set[int] = set()
    partners = {partner for _, _, partner in cluster}
    if len(partners) < params.max_partners:
        return flagged
    total = sum(c.fragments for _, c, _ in cluster)
    for _, c, _ in cluster:
        # mate pairs, or where a library has hardly any (anchored multiplex PCR reads
        # every fragment from a primer across the junction) distinct molecules
        independent = c.best_anchor >= params.min_anchor and (
            c.start_sites >= params.min_start_sites if c.primed
            else c.discordant_pairs > 0 or _long_molecules(c, params) >= PROMISCUOUS_MOLECULES)
        dominant = c.fragments >= params.promiscuous_dominance * total
        on_exons = c.site5 == "splice_site" and c.site3 == "splice_site"
        if not (independent and (dominant or on_exons)):
            flagged.add(id(c))
    return flagged


def primed_bases(keys: Iterable[tuple], ends: tuple[Breakend, ...], primers: "PrimerSet",
                  contig_names: dict[int, str]) -> tuple[str, int] | None:
    """(primer name, target bases beyond it) of a fragment whose record starts at a
    primer and runs toward one of the junction's ends (the nearer one if both), else
    None."""
    best: tuple[int, str] | None = None
    for key in keys:
        hit = primers.primer_of_key(key, contig_names)
        if hit is None:
            continue
        primer, reverse = hit
        for end in ends:
            beyond = primer.bases_beyond(end, reverse)
            if beyond is not None and (best is None or (beyond, primer.name) < best):
                best = (beyond, primer.name)
    return None if best is None else (best[1], best[0])


def mark_primed(candidates: list[Candidate], primers: "PrimerSet", contig_names: dict[int, str]) -> list[Candidate]:
    """The candidates with ``primed`` and ``primer_names`` set: their supporting fragments
    with a record starting at a primer of the BED (``contig_names``: the BAM's reference
    id -> name), and the target bases each molecule holds between that primer and the
    junction. A primer's bases are synthesised, not read from the RNA: a junction read's
    anchor on the primer side counts only the bases beyond the primer (``anchors``,
    ``best_anchor``), so a read whose only target-side bases are primer is not evidence of
    the junction."""
    out = []
    for c in candidates:
        names = set()
        primed = dict(c.primed)
        anchors = dict(c.anchors)
        for fragment in sorted(c.split_fragments | c.discordant_fragments):
            found = primed_bases(c.dup_keys.get(fragment, ()), (c.end5, c.end3), primers, contig_names)
            if found is None:
                continue
            name, beyond = found
            names.add(name)
            primed[fragment] = beyond
            if fragment in anchors:
                anchors[fragment] = min(anchors[fragment], beyond)
        best_anchor = max(anchors.values()) if primed and anchors else c.best_anchor
        out.append(replace(c, primed=primed, anchors=anchors, primer_names=tuple(sorted(names)),
                           best_anchor=best_anchor))
    return out


def add_ambiguous_support(called: list[Candidate], splits: dict[int, list[SplitRead]],
                          params: CallParameters, clips: "dict[int, list[ClippedRead]] | None" = None
                          ) -> list[Candidate]:
    """The calls with the split reads the aligner placed below ``min_mapq`` or as
    secondary alignments counted for them (``splits``: candidate key -> those read at its
    target breakend, :meth:`imtfusion.evidence.BreakendReads.ambiguous`), where a read
    splits at the call's own junction: both ends on its two contigs and sides, the same fused sequence
    and within ``junction_window`` bases, as the calling joins the uniquely placed ones.
    A processed pseudogene or a paralog that shares a partner's or the target's exon
    gives the junction's reads MAPQ 0 (BWA-MEM's TPM3::ALK: TPM3P1 and the ALK
    paralogs); once uniquely placed reads made the call, they are its molecules too
    (:func:`molecule_keys`). They are added after the filters, so they never make a call
    or raise its tier; a read split elsewhere (the pseudogene's own position, another
    junction) is not counted.

    ``clips`` (candidate key -> clips at its target breakend,
    :meth:`imtfusion.evidence.BreakendReads.ambiguous_clips`): such reads without an SA
    tag, counted where the clip spells the call's partner as a uniquely placed clip must
    (:func:`imtfusion.calling.clip_matches`: exactly when shorter than ``min_clip``)."""
    clips = clips or {}
    out: list[Candidate] = []
    for c in called:
        reads, clipped = splits.get(c.key, ()), clips.get(c.key, ())
        if not (reads or clipped) or c.precision != "exact":
            out.append(c)
            continue
        own = canonical(SplitRead("", c.end5, c.end3, 0, 0, 0, 0, ""))
        shape = (own.end_a.chrom, own.end_a.side, own.end_b.chrom, own.end_b.side)
        invariant = junction_invariant(own.end_a, own.end_b)
        have = c.split_fragments | c.discordant_fragments
        found: dict[str, set] = {}
        for read in reads:
            s = canonical(read)
            if ((s.end_a.chrom, s.end_a.side, s.end_b.chrom, s.end_b.side) != shape
                    or junction_invariant(s.end_a, s.end_b) != invariant
                    or abs(s.end_a.pos - own.end_a.pos) > params.junction_window or read.fragment in have):
                continue
            found.setdefault(read.fragment, set()).add(read.dup_key)
        view = c.junction
        by_clip: set[str] = set()
        for clip in clipped:
            if clip.fragment in have or clip.fragment in found or view is None:
                continue
            for end, consensus in ((view.a, view.outward_a), (view.b, view.outward_b)):
                if (consensus and (end.chrom, end.side) == (clip.end.chrom, clip.end.side)
                        and clip_matches(clip, end, consensus, params)):
                    found.setdefault(clip.fragment, set()).add(clip.dup_key)
                    by_clip.add(clip.fragment)
                    break
        if not found:
            out.append(c)
            continue
        keys = dict(c.dup_keys)
        for fragment, k in found.items():
            keys[fragment] = frozenset(k)
        out.append(replace(c, split_fragments=c.split_fragments | found.keys(),
                           clipped_fragments=c.clipped_fragments | by_clip,
                           ambiguous_fragments=c.ambiguous_fragments | found.keys(), dup_keys=keys))
    return out


def add_ambiguous_pairs(called: list[Candidate], fitting: dict[int, list[DiscordantRead]]) -> list[Candidate]:
    """The calls with the mate pairs of :func:`ambiguous_pairs` that fit their junction
    (``fitting``: candidate key -> those reads, :func:`imtfusion.calling.pairs_fitting`)
    counted for them as discordant pairs (``discordant_pairs``, ``fragments``,
    ``molecules``), as :func:`add_ambiguous_support` counts the split reads placed below
    ``min_mapq``: after the filters, so they never make a call or raise its tier; a
    fragment the call has already is not counted again."""
    out: list[Candidate] = []
    for c in called:
        have = c.split_fragments | c.discordant_fragments
        reads = [r for r in fitting.get(c.key, ()) if r.fragment not in have]
        if not reads:
            out.append(c)
            continue
        keys = dict(c.dup_keys)
        for r in reads:
            keys[r.fragment] = frozenset(keys.get(r.fragment, frozenset()) | {r.dup_key})
        new = frozenset(r.fragment for r in reads)
        out.append(replace(c, discordant_fragments=c.discordant_fragments | new,
                           ambiguous_pairs=c.ambiguous_pairs | new, dup_keys=keys))
    return out


def add_unmapped_support(called: list[Candidate], pools: "dict[int, list[UnmappedMate]]") -> list[Candidate]:
    """The calls with the unmapped reads of ``pools`` (candidate key -> reads placed by
    their mates on a copy of the call's target beside its breakend, :func:`imtfusion.pipeline.count_ambiguous`)
    that spell their junction counted for them (``split_reads``, ``fragments``, ``molecules``),
    as the calling counts the unmapped reads beside its own ends (the junction probes of
    its second pass): after the filters, never making a call; a read with a UMI is keyed
    by it alone (``umis.COPY_PLACED``: its mate's place is the aligner's pick among the copies)."""
    out: list[Candidate] = []
    for c in called:
        pool, view = pools.get(c.key), c.junction
        if not pool or view is None:
            out.append(c)
            continue
        new = reads_spanning(junction_probes(*view.molecule()), pool) - c.split_fragments - c.discordant_fragments
        if not new:
            out.append(c)
            continue
        umi_of = {u.fragment: u.umi for u in pool if u.umi}
        keys = dict(c.dup_keys)
        for fragment in new:
            if fragment in umi_of:
                keys[fragment] = frozenset(keys.get(fragment, frozenset()) | {umis.COPY_PLACED + (umi_of[fragment],)})
        found = frozenset(new)
        out.append(replace(c, split_fragments=c.split_fragments | found, unmapped_fragments=c.unmapped_fragments | found,
                           ambiguous_fragments=c.ambiguous_fragments | found, dup_keys=keys))
    return out


def molecule_keys(c: Candidate, lookup: GeneLookup, contig_names: list[str]) -> dict[str, set[tuple]]:
    """The candidate's duplicate keys as its molecules are counted: where the reads carry
    UMIs, a key with its record or mate in pseudogenes only is its UMI alone
    (``umis.COPY_PLACED``; an ambiguous fragment's, :func:`add_ambiguous_support`, too
    where it lies there, its place at the call's junction being the gene's). Such a
    place is the aligner's pick among the copies (one PCR copy's TPM3 part on TPM3,
    another's on TPM3P1, their mates likewise), so positions would split one molecule in
    several; its UMI, matched exactly, tells it from the junction's other molecules
    (:func:`imtfusion.umis.count_duplicates`). Without UMIs the keys are the
    candidate's own."""
    keys = {f: set(k) for f, k in c.dup_keys.items()}
    if not umis.has_umis(keys):
        return keys

    def in_copy(ref_id: int, pos: int) -> bool:
        if not 0 <= ref_id < len(contig_names):
            return False
        genes = lookup.genes_at(contig_names[ref_id], pos)
        return bool(genes) and all("pseudogene" in g.gene_type for g in genes)

    for f, ks in keys.items():
        keys[f] = {umis.COPY_PLACED + k[-1:]
                   if k and k[-1] and k[0] >= 0 and (in_copy(k[0], k[1]) or in_copy(k[3], k[4]))
                   else k for k in ks}
    return keys
