"""Candidate filters and confidence tiers.

Every filter is one named idea, registered once in :data:`FILTERS` as a :class:`Filter`:
its name (what the discarded table shows), a predicate ``(features, context) -> bool``
on the candidate's frozen :class:`~imtfusion.features.Features` record, True when the
candidate must be discarded, and the calling parameters it reads. The outcome of one
candidate is a :class:`Verdict`: the filters it failed, its confidence tier and the
facts behind the tier (:func:`judge`; the report prints the reason as it is).
The README's filter table, the JSON schema's list of filter names and the report's
glossary are all derived from this list (``python -m imtfusion.filters README.md
scripts/imtfusion/schemas/fusions.schema.json`` rewrites the first two;
``tests/test_filters.py`` fails when they drift).

Filters run in two phases. Phase 1 looks at one candidate at a time; every failing
filter is recorded, so a discarded candidate lists all its reasons. Phase 2 looks at the
survivors of phase 1 together (one call per gene pair and junction family): it needs to
know which candidates are calls. Any filter can be switched off by name with the
``disabled_filters`` parameter. A filter that needs the transcript-level annotation
(reading frame, retained domains, exons) says so (``reads_annotation``): its records then
carry it (``Features.annotation``, from the context's ``annotate``; no other call pays for it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from imtfusion.calling import Candidate
from imtfusion.errors import ConfigError
from imtfusion.evidence import is_low_complexity, looks_like_adapter
from imtfusion.features import Features, features_of
from imtfusion.params import CallParameters

if TYPE_CHECKING:  # the batch table is read only when a batch gives one
    from imtfusion.annotate import FusionAnnotation
    from imtfusion.batch import Artefacts


@dataclass(frozen=True)
class FilterContext:
    params: CallParameters
    known_pairs: frozenset[tuple[str, str]]  # (gene5, gene3) pairs from the curated table
    artefacts: "Artefacts | None" = None  # recurrent junctions of the batch and known artefacts
    # a candidate's transcript-level annotation (frame, domains): asked for only when an
    # active filter reads it (Filter.reads_annotation), then given in Features.annotation
    annotate: "Callable[[Candidate], FusionAnnotation] | None" = None


@dataclass(frozen=True)
class Filter:
    """One named filter: ``predicate(features, context)`` is True to discard."""

    name: str
    predicate: Callable[[Features, FilterContext], bool]
    parameters: tuple[str, ...] = ()
    needs: str = ""  # an input the filter needs to act at all (shown in the README table)
    phase: int = 1
    reads_annotation: bool = False  # its predicate reads Features.annotation (frame, domains, exons)
    decoy: str = ""  # what in the accuracy benchmark's simulated panel it must remove
    tests: tuple[str, ...] = ()  # tests/FILE::TEST of a candidate it must discard beside one it must keep

    @property
    def doc(self) -> str:
        """The first paragraph of the predicate's docstring, on one line."""
        text = (self.predicate.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(text.split()).replace("``", "`")


def not_transcribable(f: Features, ctx: FilterContext) -> bool:
    """Both ends keep the 5' part (or both the 3' part) of their genes: no transcript
    can be read across the junction."""
    return not f.oriented


def intragenic(f: Features, ctx: FilterContext) -> bool:
    """Both ends in the same gene: back-splicing, intragenic rearrangement or a
    non-canonical splice, not a gene fusion."""
    return not f.gene5.intergenic and f.gene5.gene_id == f.gene3.gene_id


def read_through(f: Features, ctx: FilterContext) -> bool:
    """Neighbouring genes on the same strand joined in transcription order within
    ``read_through_distance``: a read-through transcript, frequent in normal tissue."""
    if f.gene5.intergenic or f.gene3.intergenic or f.end5.chrom != f.end3.chrom:
        return False
    if f.gene5.strand != f.gene3.strand:
        return False
    downstream = f.end3.pos > f.end5.pos if f.gene5.strand == "+" else f.end3.pos < f.end5.pos
    return downstream and abs(f.end3.pos - f.end5.pos) <= ctx.params.read_through_distance


def multimapping(f: Features, ctx: FilterContext) -> bool:
    """More than ``max_low_mapq_fraction`` of the supporting reads map with a MAPQ below
    ``min_mapq``: the junction may be a mismapping. Reads whose low MAPQ comes only from a pseudogene copy of
    the partner (its junction's reads given to the gene's, see `mismapping`) do not count."""
    return f.low_mapq_fraction > ctx.params.max_low_mapq_fraction


def mismapping(f: Features, ctx: FilterContext) -> bool:
    """The partner bases also spell the sequence that follows one end in its own gene:
    the genome past it, an annotated exon spliced to it, a copy within
    ``mismap_search_window`` (a paralog or pseudogene), or what the other reads at that
    end show (no FASTA needed); or they spell the partner of a better junction at the
    same breakpoint (a pseudogene of the real partner), or, better than the aligner's
    place does (as well where that place holds most reads split there), the bases of a
    place where more reads split at that breakpoint continue uniquely (MAPQ >= 10; a
    partner joined to a target's paralog, whose few reads an aligner gave the target); or
    a mate is the own gene's
    sequence of the read it pairs with (a normal fragment whose mate went to a paralog).
    Discarded when at least ``max_mismapped_fraction`` of the
    junction reads and mates tested are such mismappers (or their consensus is, at
    ``max_self_similarity``)."""
    return f.self_similar >= ctx.params.max_self_similarity or (
        f.mismapped_reads > 0 and f.mismapped_reads >= ctx.params.max_mismapped_fraction * f.tested_reads
    )


def pseudogene_partner(f: Features, ctx: FilterContext) -> bool:
    """The partner gene is annotated as a pseudogene (GTF gene type `*pseudogene`): its
    junction reads are a parent gene's reads, or the copy's own transcripts, aligned as a
    chimera, and a call naming a pseudogene would point a lab at the wrong gene. Junction
    reads whose partner bases a real gene's exon boundary spells were placed on that gene
    before the filters (soft-clip rescue); this discards what is left."""
    return any("pseudogene" in g.gene_type and g.name not in f.targets for g in (f.gene5, f.gene3) if not g.intergenic)


ADAPTER_MATCH = 10  # adapter bases the partner side must begin with (a chance match: 1 in a million)


def adapter_partner(f: Features, ctx: FilterContext) -> bool:
    """The bases next to the junction on one side begin as a sequencing adapter (TruSeq
    or Nextera, read on either strand, its first 10 bases or more): a read of an insert
    shorter than the read whose adapter tail an aligner placed by chance as a chimeric
    segment, not a partner gene's RNA."""
    return any(looks_like_adapter(side, ADAPTER_MATCH) for side in (f.sequence5, f.sequence3))  # adjacent base first


def low_complexity(f: Features, ctx: FilterContext) -> bool:
    """Homopolymer or dinucleotide-repeat sequence next to the junction: such bases
    align anywhere."""
    sides = [s[:20] for s in (f.sequence5, f.sequence3) if len(s) >= 12]
    return any(is_low_complexity(s) for s in sides)


def intronic_no_split(f: Features, ctx: FilterContext) -> bool:
    """Both breakpoints intronic and no read across the junction."""
    return f.site5 == "intronic" and f.site3 == "intronic" and f.split_reads == 0


def short_anchor(f: Features, ctx: FilterContext) -> bool:
    """No junction read aligned `min_anchor` bases on both sides, and either fewer than 3
    junction reads and fewer than 3 mate pairs, or a junction off the exon boundaries with
    no mate pair at all: the reads' short side may have aligned by chance (a breakpoint
    whose junction reads all place the same few bases there is the signature of an
    artefact; real junction reads cross at every offset). A known partner joined exon to
    exon is credible with short reads. With a primer BED, a candidate read from primers
    needs `min_start_sites` distinct partner-side start sites where others need mate
    pairs, and its anchors count no primer bases."""
    if f.split_reads == 0 or f.best_anchor >= ctx.params.min_anchor:
        return False
    exon_to_exon = f.exon_to_exon
    if f.known and exon_to_exon:
        return False
    if f.primed:  # anchored multiplex PCR has no mate pairs: distinct start sites stand in for them
        independent = f.start_sites >= ctx.params.min_start_sites
        return not independent if f.split_reads < 3 else not exon_to_exon and not independent
    if f.split_reads < 3:
        return f.discordant_pairs < 3
    return not exon_to_exon and f.discordant_pairs == 0


def promiscuous_breakpoint(f: Features, ctx: FilterContext) -> bool:
    """One end is a breakpoint that the sample's junction reads join to at least
    ``max_partners`` different genes (an artefact hot spot), and this candidate does not
    dominate it: a dominant partner has at least ``promiscuous_dominance`` of the
    fragments there (or joins exon to exon) and evidence beyond short-anchored reads: a
    read aligned ``min_anchor`` bases on both sides, and mate pairs or, as anchored
    multiplex PCR panels have hardly any, 3 or more distinct molecules among such reads
    (with a primer BED, `min_start_sites` distinct partner-side start sites)."""
    return f.promiscuous


def primer_only_anchor(f: Features, ctx: FilterContext) -> bool:
    """Every supporting fragment was read from a primer (primer BED) whose molecule holds
    fewer than ``min_beyond_primer`` target bases beyond the primer: the target side is
    the primer's own synthesised sequence, joined to whatever it misprimed on, not RNA
    of the target."""
    return 0 < f.primed_fragments == f.fragments and f.max_beyond_primer < ctx.params.min_beyond_primer


def recurrent_in_batch(f: Features, ctx: FilterContext) -> bool:
    """The junction is in the batch's table of recurrent artefacts (seen in many samples
    of the batch with low support in each) or in the user's table of known artefacts,
    and this sample's support for it is no stronger than that."""
    if ctx.artefacts is None:
        return False
    return ctx.artefacts.match(f.gene5.name, f.gene3.name, f.end5.label(), f.end3.label(), f.fragments) is not None


def needed_fragments(f: Features, ctx: FilterContext) -> int:
    return ctx.params.min_fragments_known if f.known else ctx.params.min_fragments


def duplicates(f: Features, ctx: FilterContext) -> bool:
    """Enough fragments only if unflagged PCR duplicates are counted: fragments with
    identical read and mate positions and, where the reads carry UMIs (`umi`), the same
    UMI family (`molecules` counts the rest)."""
    return f.fragments >= needed_fragments(f, ctx) > f.fragments - f.duplicates


def min_support(f: Features, ctx: FilterContext) -> bool:
    """Fewer than ``min_fragments`` fragments (``min_fragments_known`` for a known
    partner)."""
    return f.fragments < needed_fragments(f, ctx)


def same_event(f: Features, ctx: FilterContext) -> bool:
    """Another junction of the same 5' and 3' genes is called with more support: this
    one is part of that fusion (a splice isoform of the fused transcript, reads of its
    pre-mRNA, mates only, or the same junction a few bases off) and is listed with it
    (``isoforms`` of the call; ``main_call`` here names it)."""
    return f.part_of_call


UNIT = "test_filters.py::test_filter_discards_one_record_and_keeps_the_other"

FILTERS: tuple[Filter, ...] = (
    Filter("not_transcribable", not_transcribable, decoy="random chimeras joined against the strands",
           tests=(UNIT, "test_calling.py::test_wrong_orientation_is_not_transcribable")),
    Filter("intragenic", intragenic, decoy="paralog reads split within ALKP1/ALKP2 by BWA-MEM", tests=(UNIT,)),
    Filter("read_through", read_through, ("read_through_distance",), decoy="ETV6::BCL2L14 read-through",
           tests=(UNIT, "test_calling.py::test_read_through_to_a_neighbour_is_discarded")),
    Filter("multimapping", multimapping, ("min_mapq", "max_low_mapq_fraction"),
           decoy="reads of the ALKP1 paralog (98% identical) with MAPQ 0", tests=(UNIT,)),
    Filter("mismapping", mismapping, ("max_mismapped_fraction", "max_self_similarity", "mismap_search_window"),
           decoy="transcribed ALK paralogs ALKP1 (98%), ALKP2 (spliced, 92% with a 70 bp identical stretch) and "
           "ALKP3 (processed), TPM3P1; EML4 joined to ALKP2's copy of ALK exon 20 (`COPY_CHIMERA`, BN07-BN11), "
           "whose reads STAR's chimeric mode gave ALK in capture BN10 (seed 20240611): 3 molecules called EML4::ALK",
           tests=(UNIT, "test_precision.py::test_a_transcribed_paralog_chimera_is_mismapping_beside_a_real_fusion",
                  "test_precision.py::test_an_unannotated_copy_far_from_the_end_is_found_with_the_fasta",
                  "test_precision.py::test_reads_of_a_real_fusion_on_a_pseudogene_of_the_partner_are_mismapping",
                  "test_precision.py::test_mates_of_a_target_fragment_placed_on_a_pseudogene_are_mismapping",
                  "test_precision.py::test_junction_reads_an_aligner_wrote_into_the_target_are_not_its_own_continuation",
                  "test_calling.py::test_a_paralog_copy_of_the_neighbouring_exon_is_mismapping",
                  "test_copies.py::test_reads_at_a_partner_breakpoint_whose_junction_goes_to_a_copy_are_the_copys",
                  "test_copies.py::test_reads_a_copy_spells_only_as_well_go_to_it_where_its_unique_reads_are_most_of_the_breakpoints")),
    Filter("pseudogene_partner", pseudogene_partner, decoy="TPM3P1 (a processed pseudogene of TPM3 exons 1-7)",
           tests=(UNIT, "test_precision.py::test_a_pseudogene_junction_the_gene_does_not_spell_stays_the_pseudogenes",
                           "test_precision.py::test_a_fusion_whose_partner_parts_all_went_to_a_pseudogene_is_called_on_the_gene",
                           "test_precision.py::test_a_fusion_whose_partner_parts_all_went_to_a_pseudogene_split_past_its_end_is_called_on_the_gene")),
    Filter("adapter_partner", adapter_partner,
           decoy="capture with adapters left in the reads (`--protocol capture --adapters`): STAR's chimeric mode "
           "aligned 11 adapter bases of a wild-type ROS1 read at chr6:31,635 in EEF1A1 (BN09), an EEF1A1::ROS1 "
           "call in a negative",
           tests=(UNIT, "test_adapters.py::test_a_junction_to_adapter_bases_aligned_by_chance_is_no_fusion")),
    Filter("low_complexity", low_complexity, decoy="the G-rich stretch", tests=(UNIT,)),
    Filter("intronic_no_split", intronic_no_split, decoy="mates of fused pre-mRNA", tests=(UNIT,)),
    Filter("short_anchor", short_anchor, ("min_anchor",), decoy="random single-fragment chimeras", tests=(UNIT,)),
    Filter("promiscuous_breakpoint", promiscuous_breakpoint, ("max_partners", "promiscuous_dominance", "min_anchor"),
           decoy="an ALK intron 19 position joined to six genes by 12-16 bp anchors",
           tests=(UNIT, "test_precision.py::test_a_breakpoint_joined_to_many_genes_is_promiscuous",
                  "test_precision.py::test_a_partner_that_dominates_the_breakpoint_with_mates_is_kept",
                  "test_precision.py::test_a_dominant_partner_without_mates_is_kept_by_its_molecules_not_by_copies")),
    Filter("primer_only_anchor", primer_only_anchor, ("min_beyond_primer",), needs="a primer BED (`primers`)",
           decoy="mispriming chimeras: a target primer's sequence joined to off-target RNA (`--protocol amp`)",
           tests=(UNIT, "test_primers.py::test_a_mispriming_chimera_is_discarded_beside_a_true_amp_fusion")),
    Filter("recurrent_in_batch", recurrent_in_batch, needs="the batch table (workflow) or a known-artefact table",
           decoy="the same weak junction in several samples of a batch (test BAMs)",
           tests=(UNIT, "test_batch.py::test_weak_copies_of_a_junction_are_discarded_and_the_strong_call_is_kept")),
    Filter("duplicates", duplicates, ("min_fragments", "min_fragments_known", "umi", "umi_mismatches"),
           decoy="unflagged PCR duplicates",
           tests=(UNIT, "test_calling.py::test_unflagged_duplicates_do_not_make_support",
                  "test_umis.py::test_one_molecule_amplified_with_a_umi_error_is_one_molecule",
                  "test_umis.py::test_fragments_at_one_position_with_different_umis_are_different_molecules",
                  "test_precision.py::test_single_end_reads_of_one_junction_are_not_duplicates_unless_they_start_together")),
    Filter("min_support", min_support, ("min_fragments", "min_fragments_known"), decoy="random single-fragment chimeras",
           tests=(UNIT, "test_calling.py::test_known_partners_need_less_support_than_novel_ones")),
    Filter("same_event", same_event, phase=2, decoy="isoforms, near junctions and fused pre-mRNA of true fusions",
           tests=("test_filters.py::test_same_event_keeps_the_best_junction_of_a_gene_pair_and_lists_the_others",
                  "test_precision.py::test_isoforms_near_duplicates_and_mates_of_one_fusion_are_one_call")),
)

FILTER_NAMES: tuple[str, ...] = tuple(f.name for f in FILTERS)


def active_filters(params: CallParameters) -> tuple[Filter, ...]:
    """The registered filters less those switched off with ``disabled_filters``."""
    off = {name.strip() for name in params.disabled_filters.split(",") if name.strip()}
    unknown = sorted(off - set(FILTER_NAMES))
    if unknown:
        raise ConfigError(
            f"disabled_filters names unknown filter(s) {', '.join(unknown)}; the filters are {', '.join(FILTER_NAMES)}"
        )
    return tuple(f for f in FILTERS if f.name not in off)


#: Evidence rules: what never becomes evidence at all, so no candidate names them; the
#: README's filter table lists them after the filters.
EVIDENCE_RULES: tuple[tuple[str, str, tuple[str, ...], str, tuple[str, ...]], ...] = (
    ("unusable_mates",
     "A mate pair counts as discordant evidence only when both mates map with MAPQ >= `min_discordant_mapq`, "
     "neither read is of low complexity (poly-G reads of two-colour sequencers, microsatellites), and the mate "
     "is placed by at least `min_anchor` aligned bases (STAR's chimeric output can write a mate as `10M65S` at a "
     "chance match, its other 65 bases a supplementary elsewhere).",
     ("min_discordant_mapq", "min_anchor"),
     "poly-G mates placed on the G-rich stretch; STAR's 10-base ETV6::NTRK3 mates beside KRAS (capture, seed 31337)",
     ("test_precision.py::test_discordant_mates_of_low_complexity_or_low_mapq_do_not_count",
      "test_calling.py::test_a_mate_placed_by_a_few_bases_is_no_discordant_evidence")),
    ("unplaceable_reads",
     "A junction read that keeps fewer than `min_clip_match` bases on a side placed off the exon boundaries (after "
     "the junction is placed) does not place the junction: an aligner writes a few bases wherever they match.",
     ("min_clip_match",), "hybrid-capture YWHAE::ROS1 reads that STAR wrote 40 kb from their ROS1 exon (`--protocol capture`)",
     ("test_precision.py::test_a_few_bases_aligned_mid_exon_do_not_place_a_junction",)),
    ("ambiguous_split_reads",
     "A junction read the aligner placed with MAPQ below `min_mapq` or wrote as a secondary alignment (a pseudogene "
     "or paralog shares its bases; STAR's chimeric multimappers put its chosen place on the copy) makes "
     "no candidate and raises no tier; once uniquely placed reads made a call it counts for it (`split_reads`, "
     "`fragments`, `molecules`) only when it splits at that call's own junction: the same fused sequence, within "
     "`junction_window` bases; such a read soft-clipped there without an SA tag, or with one to a copy of the partner, counts "
     "where its clip spells the call's partner as a uniquely placed clip must (exactly when shorter than `min_clip`), "
     "and so does one the aligner placed on a copy of the call's target bases next to its breakend (with the FASTA: "
     "`imtfusion.copies`), its clip as far past the target's breakend as it lies past the copy's, and a read left "
     "unmapped beside a mate placed within 2 kb of such a copy that spells the call's junction (HISAT2's capture "
     "EML4::ALK in BP13, seed 31337). With UMIs a read whose record or mate lies on a pseudogene is told from the call's other "
     "molecules by its UMI alone, matched exactly: that position is the aligner's pick among the copies.",
     ("min_mapq", "junction_window"),
     "BWA-MEM's TPM3::ALK reads with MAPQ 0 on TPM3P1 and the ALK paralogs (`--protocol amp|capture`); STAR's "
     "EML4::ALK reads with their ALK part chosen on ALKP1 and minimap2's MAPQ-0 `87M13S` ones (`--protocol capture "
     "--seed 31337`); the paralog "
     "chimeras of the negatives",
     ("test_ambiguous.py::test_reads_split_ambiguously_at_a_calls_junction_are_its_molecules",
      "test_ambiguous.py::test_reads_split_ambiguously_make_no_call_on_their_own",
      "test_ambiguous.py::test_reads_split_ambiguously_elsewhere_are_not_counted",
      "test_ambiguous.py::test_a_secondary_alignment_of_a_counted_fragment_is_not_counted_twice",
      "test_ambiguous.py::test_ambiguous_clips_that_spell_a_calls_partner_are_its_molecules",
      "test_ambiguous.py::test_ambiguous_clips_of_other_bases_are_not_counted_and_make_no_call",
      "test_ambiguous.py::test_ambiguous_reads_split_to_a_copy_of_the_partner_count_by_their_clip",
      "test_ambiguous.py::test_an_ambiguous_copy_of_a_molecule_joins_it_by_umi",
      "test_copies.py::test_a_calls_reads_that_an_aligner_placed_on_a_copy_of_the_target_count_for_it",
      "test_copies.py::test_a_junction_read_left_unmapped_beside_a_mate_on_a_copy_of_the_target_counts_for_the_call")),
    ("ambiguous_mate_pairs",
     "A mate pair with one mate placed below `min_discordant_mapq` (at least `min_mapq`: a record below that is not "
     "read) as the aligner's primary place, the other placed well, is no discordant evidence (`unusable_mates`) and "
     "makes no candidate; once uniquely placed reads made a call it counts for it (`discordant_pairs`, `fragments`, "
     "`molecules`) when it fits the call's junction as the calling's pairs must: each mate within its gene, on the "
     "side the fusion keeps, the junction it fits best (a pair whose partner mate lies past the breakpoint, or with "
     "both mates low, is not counted).",
     ("min_discordant_mapq", "min_mapq"),
     "HISAT2's capture RANBP2::ALK molecule read only by a pair whose ALK mate ALKP1 shares (MAPQ 1; `--protocol "
     "capture --seed 31337`, BP09); the pairs split between ALK and its paralogs (MAPQ 0-3, mates on the copies) and "
     "the random chimeras of the same target exons with other genes of the partner's chromosome (deep capture) are the "
     "pairs it must leave",
     ("test_ambiguous.py::test_pairs_with_one_mate_placed_below_min_discordant_mapq_count_for_the_call_they_fit",)),
    ("spliced_block_clips",
     "A block of 6 to 24 bases between an intron gap and a soft clip of at least `min_clip_match` at a read's end "
     "(STAR's defaults splice a few partner bases to a chance match in an exon far away) is read as clip too, from the "
     "base before the gap; such a clip makes no junction and goes to no rescue: it counts only for a junction other "
     "reads made whose partner its block and clip spell (`clip_identity`).",
     ("min_clip_match", "clip_identity"),
     "the target's own exon spliced to it and then clipped (`test_block_clips.py`); capture YWHAE::ROS1 "
     "`35M43139N17M23S` with STAR defaults (`--protocol capture`) is the read it must keep",
     ("test_block_clips.py::test_block_clips_spelling_a_calls_partner_count_for_it",
      "test_block_clips.py::test_block_clips_of_the_targets_own_exons_do_not_count",
      "test_block_clips.py::test_block_clips_alone_make_no_junction")),
    ("intron_flank_reads",
     "An unmapped read (or a known partner's clip) whose target part runs from an exon into the intron beside it, "
     "within 300 bases of the exon (a fused transcript that kept intron bases of the target: EML4::ALK often keeps "
     "some of ALK intron 19), becomes a clip at the intron base where its match ends, as an aligned read clipped "
     "there would; the match must go more than 10 bases into the intron (fewer are partner bases that happen to "
     "match it: the junction is the exon's edge), and a read of exon and intron bases alone (pre-mRNA) is no "
     "junction read. With the genome FASTA only: without it the reads' pile-up spells the intron, and a junction "
     "read whose partner bases the aligner wrote into the intron as mismatches makes it spell them.",
     ("min_clip",),
     "unmapped reads of target pre-mRNA and of intron bases beside bases of no gene (`test_rescue.py`); without a "
     "FASTA, STAR's `67M8S` TPM4::ALK read with 9 mismatches in ALK intron 19 (seed 20240611, BP14); HISAT2's "
     "capture EML4::ALK junction reads with 53 bases of ALK intron 19 (`--seed 31337 --protocol capture`, BP04) are "
     "the reads it must keep",
     ("test_rescue.py::test_unmapped_reads_of_a_junction_that_kept_intron_bases_count",
      "test_rescue.py::test_unmapped_reads_of_a_5prime_target_that_kept_intron_bases_count",
      "test_rescue.py::test_without_a_fasta_the_intron_flanks_are_not_used")),
    ("short_side_reads",
     "A read without a position whose target side at the junction is 10-19 bases (no 20-base K-mer of a target "
     "finds it: at seed 31337 HISAT2 left capture ETV6::CALR reads with 15 and 19 ETV6 bases unmapped on both "
     "mates) counts for a call only: kept while the unplaced reads are scanned when it ends in a target exon's "
     "first or last 10-19 bases, then aligned ungapped on the call's fused transcript, at least 10 bases on each "
     "side, the short side exactly and unlike what the other gene itself has there (its pre-mRNA and its "
     "neighbouring exon, as far as that exon reaches, two differences at least: a wild-type read of it is no "
     "junction read); its UMI its molecule's key. It makes no candidate and raises no tier. With the FASTA only.",
     ("scan_unmapped",),
     "the paralog chimeras and single-fragment chimeras of the negatives (unplaced reads of them reach no call); "
     "over-counted molecules would miss the panels' 10%; in the tests, a wild-type partner read whose exon begins "
     "as the target's, a side the partner shares, a misread side and 9 bases are the reads it must leave",
     ("test_unplaced.py::test_reads_without_a_position_with_10_to_19_target_bases_count_for_the_call",
      "test_unplaced.py::test_ten_target_bases_unlike_the_partners_own_count",
      "test_unplaced.py::test_reads_with_a_short_target_side_make_no_call_of_their_own",
      "test_unplaced.py::test_a_short_side_is_compared_with_a_neighbouring_exon_shorter_than_it_where_the_exon_reaches")),
    ("unmapped_adapter_trim",
     "An unmapped read's bases lose their adapter read-through before any look-up (an FFPE insert shorter than the "
     "read goes on into the 3' adapter, TruSeq or Nextera: cut where its first 12 bases begin, or where 7-11 of them "
     "end the read, or, stored reverse-complemented, up to where they end): the aligner soft-clips such an adapter "
     "and imtfusion ignores the clip, but an unmapped read keeps it, and a junction read's target bases at its end "
     "would be hidden from the look-up of its last 20 bases.",
     (),
     "the simulator's `--adapters` (reads of short inserts not trimmed: `imtfusion benchmark accuracy --adapters`); "
     "in the tests a wild-type read with the same adapter tail and an adapter dimer, which it must leave",
     ("test_adapters.py::test_unplaced_junction_reads_with_adapter_read_through_count",
      "test_adapters.py::test_the_adapter_is_cut_where_it_begins_on_either_strand",
      "test_adapters.py::test_the_simulator_reads_short_inserts_into_the_adapters_and_draws_the_same_molecules")),
    ("copy_placed_reads",
     "A read the aligner left unmapped (or a partner's clip) whose target part imtfusion places on a target "
     "transcript is compared with every other place of the genome (the BAM's contigs in the FASTA, `_alt` contigs "
     "left out) that spells a 20-base K-mer of that part, on either strand: a copy that spells the part with fewer "
     "mismatches makes the read a mismapping at the target (MAPQ 0: an aligner would have placed it on the copy); "
     "n - 1 copies that spell it as well give it n places and the SAM specification's MAPQ, -10 log10(1 - 1/n) "
     "rounded down (3 for two places, 1 for three or four, 0 beyond: what STAR writes), so `min_mapq` and "
     "`multimapping` weigh it as an aligned read with those places. The genome is read once a sample, when the "
     "first such read is placed (compiled, about 5 ns a base: some 20 s for a human genome). With the FASTA only: "
     "without it such reads keep MAPQ 60.",
     ("min_mapq",),
     "EML4 joined to ALKP2's copy of ALK exon 20 (92% identical) in BN07-BN11 (`COPY_CHIMERA`): the reads an aligner "
     "leaves unmapped the scan would place on ALK exon 20 past lone mismatches; ALK's own junction reads beside an "
     "identical copy are the reads it must keep (at seed 31337 ALKP1 spells ALK exon 20's first 100 bases: two "
     "places, MAPQ 3, counted at `min_mapq` 1 as STAR's own NH:2 reads are)",
     ("test_copies.py::test_reads_a_copy_spells_better_are_a_copys_chimera_not_the_targets",
      "test_copies.py::test_reads_a_copy_spells_as_well_have_two_places_and_min_mapq_weighs_them_as_starts",
      "test_copies.py::test_a_read_is_unique_shared_or_the_copys")),
)


def filter_table() -> str:
    """The README's filter table (Markdown), from the registry."""
    rows = ["| filter | removes | parameters | decoy in the benchmark | tests |", "| --- | --- | --- | --- | --- |"]
    entries = [(f.name, f.doc + (f" (needs {f.needs})" if f.needs else ""), f.parameters, f.decoy, f.tests) for f in FILTERS]
    for name, doc, parameters, decoy, tests in entries + [(n, d, p, y, t) for n, d, p, y, t in EVIDENCE_RULES]:
        params = ", ".join(f"`{p}`" for p in parameters) or "–"
        shown = ", ".join(f"`{t.split('::')[1]}`" for t in tests if t != UNIT)
        rows.append(f"| `{name}` | {doc} | {params} | {decoy or '–'} | {shown or 'unit test'} |")
    return "\n".join(rows)


TABLE_START = "<!-- filter table: generated by imtfusion.filters.filter_table(); refresh with python -m imtfusion.filters README.md -->"
TABLE_END = "<!-- end of filter table -->"


def refresh_readme(path: str) -> None:
    """Write the registry's filter table between the README's table markers."""
    from pathlib import Path

    text = Path(path).read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    Path(path).write_text(text[:start] + "\n" + filter_table() + "\n" + text[end:])


SCHEMA_ENUM = re.compile(r'("filters": \{"description": "Filters that removed the candidate[^\n]*?"enum": )\[[^\]]*\]')


def refresh_schema(path: str) -> None:
    """Write the registry's filter names into the JSON schema's enumeration of a
    candidate's ``filters`` (the schema file is formatted by hand: only that list changes)."""
    import json
    from pathlib import Path

    text = Path(path).read_text()
    names = "[" + ", ".join(json.dumps(n) for n in FILTER_NAMES) + "]"
    new, count = SCHEMA_ENUM.subn(lambda m: m.group(1) + names, text)
    if count != 1:
        raise ValueError(f"{path}: no single filters enumeration to refresh")
    Path(path).write_text(new)


def confidence(f: Features, min_start_sites: int = CallParameters.min_start_sites) -> str:
    """The tier written in the README:

    * high: >= 2 split-read fragments, >= 4 fragments in all, exact breakpoint, and both
      breakpoints on exon boundaries, or a known partner, or >= 10 fragments;
    * medium: >= 1 split-read fragment and >= 3 fragments; or a known partner with >= 1
      split-read fragment; or >= 5 discordant pairs without a junction read;
    * low: anything else that passed the filters, and, with a primer BED, a candidate
      read from primers with fewer than ``min_start_sites`` distinct partner-side start
      sites (one molecule amplified many times: a PCR jackpot has one or two).
    """
    if f.primed and f.start_sites < min_start_sites:
        return "low"
    split, total = f.split_reads, f.fragments
    if split >= 2 and total >= 4 and f.precision == "exact" and (f.exon_to_exon or f.known or total >= 10):
        return "high"
    if (split >= 1 and total >= 3) or (f.known and split >= 1) or f.discordant_pairs >= 5:
        return "medium"
    return "low"


def tier_reason(f: Features, tier: str, min_start_sites: int = CallParameters.min_start_sites) -> str:
    """The facts behind the tier, in the words of :func:`confidence`'s rules."""
    split, total = f.split_reads, f.fragments
    if tier == "high":
        why = [f"{split} split-read fragments (≥ 2)", f"{total} fragments in all (≥ 4)", "exact breakpoint"]
        extra = [x for x, ok in (("both breakpoints on exon boundaries", f.exon_to_exon), ("known partner", f.known),
                                 ("≥ 10 fragments", total >= 10)) if ok]
        return ", ".join(why + extra)
    if tier == "medium":
        if split >= 1 and total >= 3:
            return f"{split} split-read fragment(s) and {total} fragments in all (≥ 1 and ≥ 3)"
        if f.known and split >= 1:
            return f"known partner with {split} split-read fragment(s)"
        return f"{f.discordant_pairs} discordant pairs without a junction read (≥ 5)"
    if f.primed and f.start_sites < min_start_sites:
        return (f"read from primers at {f.start_sites} partner-side start site(s), fewer than {min_start_sites}: "
                "one molecule amplified many times looks so")
    return "passed the filters but meets no rule of a higher tier (e.g. discordant pairs only)"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the filters decided of one candidate: the filters it failed (none: a call),
    its confidence tier and the facts behind the tier."""

    filters: tuple[str, ...]
    tier: str
    reason: str

    @property
    def called(self) -> bool:
        return not self.filters


def judge(f: Features, ctx: FilterContext, chosen: Sequence[Filter] | None = None) -> Verdict:
    """The phase-1 verdict of one record (``chosen``: the filters to apply, default the
    active phase-1 filters)."""
    if chosen is None:
        chosen = [x for x in active_filters(ctx.params) if x.phase == 1]
    sites = ctx.params.min_start_sites
    tier = confidence(f, sites)
    return Verdict(tuple(x.name for x in chosen if x.predicate(f, ctx)), tier, tier_reason(f, tier, sites))


EVENT_WINDOW = 50  # junctions of one gene pair this close at both ends are one junction


def group_events(calls: Iterable[Candidate]) -> dict[int, tuple[int, ...]]:
    """One call per gene pair and junction family: the best-supported exact junction of
    a 5'/3' gene pair is the call; every other candidate of that pair is listed with it
    and names it. Between junctions with as many junction reads, one with both ends in
    introns (a fused pre-mRNA's DNA junction) comes after the others, whatever mates it
    has more (seed 31337's capture TPM3::ALK with BWA-MEM: 66 junction reads each, the
    pre-mRNA's 3 mates more); between junctions the same reads support equally (an
    aligner's clipped copy of a junction a few bases off), the one with more reads split
    by the aligner itself, then the one joining exon boundaries at both ends, is the call. Returns main
    candidate's ``key`` -> its members' keys (in rank order), for every gene pair (members:
    none, when the pair has one junction); call IDs are not known yet, so the candidates
    name each other by ``key``."""
    events: dict[tuple[str, str], tuple[int, list[int]]] = {}
    ranked = sorted(
        calls,
        key=lambda c: (c.precision != "exact", -c.split_reads, c.site5 == c.site3 == "intronic", -c.fragments,
                       -len(c.split_fragments - c.clipped_fragments),
                       not (c.site5 == "splice_site" and c.site3 == "splice_site"), c.end5, c.end3),
    )
    for c in ranked:
        pair = (c.gene5.gene_id, c.gene3.gene_id)
        if pair not in events:
            events[pair] = (c.key, [])
        else:
            events[pair][1].append(c.key)
    return {main: tuple(members) for main, members in events.values()}


def apply_filters(candidates: list[Candidate], ctx: FilterContext) -> tuple[list[Candidate], list[Candidate]]:
    """Split candidates into (called, discarded), as new records: each candidate's
    :class:`Features` record is judged (:func:`judge`); the survivors are grouped into
    one call per gene pair (:func:`group_events`: a member's ``part_of`` names its main
    candidate, whose ``member_keys`` name them) and judged by the phase-2 filters; each
    candidate then holds its final ``features`` and ``verdict``. Candidates without
    distinct keys (made by hand) are numbered in their order first."""
    cands = list(candidates)
    if len({c.key for c in cands}) != len(cands):
        cands = [replace(c, key=k) for k, c in enumerate(cands)]
    chosen = active_filters(ctx.params)
    first = [f for f in chosen if f.phase == 1]
    second = [f for f in chosen if f.phase == 2]
    records = [features_of(c, ctx.known_pairs) for c in cands]
    if ctx.annotate is not None and any(f.reads_annotation for f in chosen):
        records = [replace(r, annotation=ctx.annotate(c)) for r, c in zip(records, cands)]
    verdicts = [judge(f, ctx, first) for f in records]
    if second:
        events = group_events(c for c, v in zip(cands, verdicts) if v.called)
        main_of = {m: main for main, members in events.items() for m in members}
        for k, c in enumerate(cands):
            if c.key in main_of:
                c = replace(c, part_of=main_of[c.key])
            if c.key in events:
                c = replace(c, member_keys=events[c.key])
            cands[k] = c
            if verdicts[k].called:
                records[k] = replace(records[k], part_of_call=c.part_of is not None)  # grouped now
                verdicts[k] = replace(verdicts[k], filters=tuple(x.name for x in second if x.predicate(records[k], ctx)))
    judged = [replace(c, features=f, verdict=v) for c, f, v in zip(cands, records, verdicts)]
    called = [c for c, v in zip(judged, verdicts) if v.called]
    discarded = [c for c, v in zip(judged, verdicts) if not v.called]
    return called, discarded


if __name__ == "__main__":
    # python -m imtfusion.filters README.md [scripts/imtfusion/schemas/fusions.schema.json]
    import sys

    refresh_readme(sys.argv[1])
    if len(sys.argv) > 2:
        refresh_schema(sys.argv[2])
