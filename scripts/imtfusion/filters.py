"""Candidate filters and confidence tiers.

Each filter is one named idea (the name is what the discarded table shows), a small
function ``(candidate, context) -> bool`` returning True when the candidate must be
discarded. They run in the order of :data:`FILTERS`; every failing filter is recorded,
so a discarded candidate lists all its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from imtfusion.calling import Candidate
from imtfusion.params import CallParameters


@dataclass(frozen=True)
class FilterContext:
    params: CallParameters
    known_pairs: frozenset[tuple[str, str]]  # (gene5, gene3) pairs from the curated table


def is_known(candidate: Candidate, known_pairs: frozenset[tuple[str, str]]) -> bool:
    return (candidate.gene5.name, candidate.gene3.name) in known_pairs


def not_transcribable(c: Candidate, ctx: FilterContext) -> bool:
    """Both ends keep the 5' part (or both the 3' part) of their genes: no transcript
    can be read across the junction."""
    return not c.oriented


def intragenic(c: Candidate, ctx: FilterContext) -> bool:
    """Both ends in the same gene: back-splicing, intragenic rearrangement or a
    non-canonical splice, not a gene fusion."""
    return not c.gene5.intergenic and c.gene5.gene_id == c.gene3.gene_id


def read_through(c: Candidate, ctx: FilterContext) -> bool:
    """Neighbouring genes on the same strand joined in transcription order: a
    read-through transcript, frequent in normal tissue."""
    if c.gene5.intergenic or c.gene3.intergenic or c.end5.chrom != c.end3.chrom:
        return False
    if c.gene5.strand != c.gene3.strand:
        return False
    downstream = c.end3.pos > c.end5.pos if c.gene5.strand == "+" else c.end3.pos < c.end5.pos
    return downstream and abs(c.end3.pos - c.end5.pos) <= ctx.params.read_through_distance


def multimapping(c: Candidate, ctx: FilterContext) -> bool:
    """Most supporting reads map with low MAPQ: the junction may be a mismapping."""
    return c.low_mapq_fraction > ctx.params.max_low_mapq_fraction


def short_anchor(c: Candidate, ctx: FilterContext) -> bool:
    """Fewer than 3 junction reads, none aligned ``min_anchor`` bases on both sides, and
    fewer than 3 mate pairs: the junction itself is not credible (a read's tail aligned by
    chance). Three or more independent junction reads, or mates, make it so, and so does
    a known partner joined exon to exon."""
    if c.known and c.site5 == "splice_site" and c.site3 == "splice_site":
        return False  # a known partner joined exon to exon is credible with short reads
    return 0 < c.split_reads < 3 and c.best_anchor < ctx.params.min_anchor and c.discordant_pairs < 3


def needed_fragments(c: Candidate, ctx: FilterContext) -> int:
    return ctx.params.min_fragments_known if c.known else ctx.params.min_fragments


def mismapping(c: Candidate, ctx: FilterContext) -> bool:
    """The partner bases also spell the sequence at or near one end itself (a paralog,
    a repeat, or reads with mismatches aligned in two pieces). Needs a FASTA."""
    return c.self_similar >= ctx.params.max_self_similarity


def low_complexity(c: Candidate, ctx: FilterContext) -> bool:
    """Homopolymer or dinucleotide-repeat sequence at the junction: places anywhere."""
    from imtfusion.rescue import is_low_complexity

    sides = [s[:20] for s in (c.sequence5, c.sequence3) if len(s) >= 12]
    return any(is_low_complexity(s) for s in sides)


def intronic_no_split(c: Candidate, ctx: FilterContext) -> bool:
    """Both breakpoints intronic and no read across the junction."""
    return c.site5 == "intronic" and c.site3 == "intronic" and c.split_reads == 0


def duplicates(c: Candidate, ctx: FilterContext) -> bool:
    """Enough support only when unflagged PCR duplicates (same positions) are counted."""
    return c.fragments >= needed_fragments(c, ctx) > c.fragments - c.duplicates


def min_support(c: Candidate, ctx: FilterContext) -> bool:
    """Fewer supporting fragments than required (a lower bar for known partners)."""
    return c.fragments < needed_fragments(c, ctx)


FILTERS: list[tuple[str, Callable[[Candidate, FilterContext], bool]]] = [
    ("not_transcribable", not_transcribable),
    ("intragenic", intragenic),
    ("read_through", read_through),
    ("multimapping", multimapping),
    ("mismapping", mismapping),
    ("low_complexity", low_complexity),
    ("intronic_no_split", intronic_no_split),
    ("short_anchor", short_anchor),
    ("duplicates", duplicates),
    ("min_support", min_support),
]


def confidence(c: Candidate) -> str:
    """The tier written in the README:

    * high: >= 2 split-read fragments, >= 4 fragments in all, exact breakpoint, and both
      breakpoints on exon boundaries, or a known partner, or >= 10 fragments;
    * medium: >= 1 split-read fragment and >= 3 fragments; or a known partner with >= 1
      split-read fragment; or >= 5 discordant pairs without a junction read;
    * low: anything else that passed the filters.
    """
    split, total = c.split_reads, c.fragments
    splice = c.site5 == "splice_site" and c.site3 == "splice_site"
    if split >= 2 and total >= 4 and c.precision == "exact" and (splice or c.known or total >= 10):
        return "high"
    if (split >= 1 and total >= 3) or (c.known and split >= 1) or c.discordant_pairs >= 5:
        return "medium"
    return "low"


def apply_filters(candidates: list[Candidate], ctx: FilterContext) -> tuple[list[Candidate], list[Candidate]]:
    """Split candidates into (called, discarded); set ``known``, ``filters`` and
    ``confidence`` on each."""
    called: list[Candidate] = []
    discarded: list[Candidate] = []
    for c in candidates:
        c.known = is_known(c, ctx.known_pairs)
        c.filters = [name for name, rule in FILTERS if rule(c, ctx)]
        c.confidence = confidence(c)
        (discarded if c.filters else called).append(c)
    return called, discarded
