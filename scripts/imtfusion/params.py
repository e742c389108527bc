"""Calling parameters: one frozen dataclass, filled from the config or the CLI.

Each default is the value the README documents; change them in ``config/config.yaml``
under ``params:`` or with ``imtfusion call --param name=value``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from imtfusion.errors import ConfigError


@dataclass(frozen=True)
class CallParameters:
    # --- evidence extraction
    margin: int = 10_000  # bases fetched on both sides of each target gene
    min_mapq: int = 1  # reads below are counted as low-MAPQ; a junction read below counts only for a call at its own junction
    min_clip: int = 12  # shortest soft-clip consensus placed on a partner (clip rescue)
    min_clip_match: int = 8  # shortest clip counted when it spells a known junction exactly
    # --- calling
    junction_window: int = 6  # split reads whose junctions differ by a shift <= this merge
    max_snap: int = 5  # without FASTA, shift a junction at most this far onto exon boundaries
    discordant_max_distance: int = 500_000  # a mate assigned to a junction lies within this of it
    clip_identity: float = 0.85  # clip vs junction sequence identity needed to count a clipped read
    # --- filters
    min_fragments: int = 3  # supporting fragments (split + discordant) to report a novel fusion
    ambiguous_junction_molecules: int = 3  # a target without a call holding a junction of this many molecules placed below min_mapq is not assessable; a detected one's reason names such a junction to another partner (0: off)
    min_fragments_known: int = 2  # the same for a known partner of the target
    max_self_similarity: float = 0.9  # partner bases matching an end's own neighbourhood this well: mismapping
    # UMIs: "auto" takes a fragment's UMI from the MI tag (a molecule id), else the RX tag,
    # else a read-name suffix (_ACGTACGT or :ACGTACGT), and counts molecules by them;
    # "no" ignores UMIs (duplicates by positions alone)
    umi: str = "auto"
    umi_mismatches: int = 1  # UMIs this many bases apart at the same position are one molecule (directional)
    min_anchor: int = 20  # at least one split read must align this many bases on both sides
    read_through_distance: int = 100_000  # same-strand neighbours closer than this: read-through
    max_low_mapq_fraction: float = 0.5  # more supporting reads than this with low MAPQ: mismapping
    max_mismapped_fraction: float = 0.5  # this share of the junction reads fit an end's own continuation: mismapping
    mismap_search_window: int = 100_000  # bases on each side of an end searched for a copy of the partner bases (FASTA)
    min_discordant_mapq: int = 10  # a discordant pair counts only when both mates map at least this well
    max_partners: int = 3  # a breakpoint joined to this many different genes is promiscuous
    promiscuous_dominance: float = 0.75  # share of a promiscuous breakpoint's fragments a partner needs to be kept
    # anchored multiplex PCR, with a primer BED (imtfusion.primers)
    min_beyond_primer: int = 8  # target bases beyond the primer a primed molecule needs to be evidence
    min_start_sites: int = 3  # distinct partner-side start sites that stand in for mate pairs
    disabled_filters: str = ""  # filters switched off by name, comma-separated
    # --- annotation
    transcript_tags: str = "Ensembl_canonical,MANE_Select"  # transcript preference, then longest CDS
    # --- unmapped reads (need a FASTA)
    # unmapped reads without a position: "auto" scans them when the BAM has no chimeric
    # (SA) alignments and is not read over the network, "yes" always, "no" never (placed
    # ones are always looked at)
    scan_unmapped: str = "auto"
    max_unmapped_scan: int = 5_000_000  # skip the scan (with a note) when the BAM has more (unpositioned; for a primer panel also placed)
    # without a FASTA and chimeric alignments, soft clips at target breakends that no mate
    # or known partner places are looked for in one pass of the whole BAM ("auto": for a local
    # BAM, not one read over the network; "yes": for either), or not ("no")
    partner_scan: str = "auto"
    max_partner_scan: int = 200_000_000  # records read by that pass at most (then a note)
    # --- target status
    min_target_reads: int = 10  # reads in the target's exons needed to call it assessable
    # --- limit of detection (imtfusion.lod): the fusion fraction detected with lod_probability
    lod_probability: float = 0.95  # detection probability the LoD is the fusion fraction of
    lod_max_fraction: float = 0.25  # a target without a call whose LoD is above this is not assessable
    # --- sample QC gates (imtfusion.sampleqc): a failing sample cannot rule a fusion out
    qc_min_unique_fragments: int = 200  # non-duplicate fragments in the target and housekeeping loci
    qc_min_on_target_reads: int = 40  # reads on the targets' exons, all targets together
    qc_max_duplicate_rate: float = 0.9  # share of those loci's fragments that are duplicates
    qc_min_median_insert: int = 80  # median fragment length of pairs within one exon (paired libraries)
    qc_min_insert_pairs: int = 20  # fewer such pairs: the insert size is not measured
    qc_min_five_to_three: float = 0.3  # housekeeping genes' 5' over 3' coverage (median); below: degraded RNA
    qc_min_housekeeping_depth: float = 5.0  # a housekeeping gene shallower than this is not used for it
    qc_transcript_trim: int = 250  # bases at each transcript end left out of it (library geometry, not RNA)
    qc_housekeeping_genes: str = ""  # comma-separated; empty: the genes of resources/housekeeping.tsv
    # targeted panels: off (0) by default, a panel's config sets them
    qc_min_on_target_fraction: float = 0.0  # records in the target loci over the BAM's mapped records
    qc_min_control_junction_reads: int = 0  # spliced first reads in the housekeeping (control) genes
    # --- 3'/5' expression imbalance of the kinase targets (imtfusion.imbalance)
    imbalance_min_z: float = 3.0  # z of the 3'/5' ratio over the reference above which a target without a call is flagged
    imbalance_min_ratio: float = 1.25  # and its 3'/5' ratio over the reference's at least this
    imbalance_min_reads: int = 50  # reads on each side of the split needed to assess the ratio
    imbalance_min_sd: float = 0.05  # least between-sample SD of the ln ratio assumed for the reference
    imbalance_min_reference: int = 8  # other samples of the batch profile needed (a batch of mostly fusion-free samples); fewer: the shipped profile
    # --- ALK-ATI: 3' expression from an alternative transcription start in the intron before the split exon
    ati_skip: int = 100  # that intron's bases next to the split exon left out (fusions keeping a few intronic bases cover them)
    ati_window: int = 400  # bases ati_skip..ati_window before the split exon looked at (ALK-ATI: about 400 bases)
    ati_min_fraction: float = 0.2  # their depth must reach this share of the 3' exons' excess depth
    ati_min_enrichment: float = 5.0  # and this many times the depth on the intron beyond them

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "CallParameters":
        params = cls()
        if not values:
            return params
        known = {f.name: f for f in fields(cls)}
        updates: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"unknown parameter {key!r}{hint} known parameters: {', '.join(sorted(known))}"
                )
            default = getattr(params, key)
            if isinstance(default, bool):
                text = str(value).strip().lower()
                if text not in ("true", "false", "yes", "no", "1", "0"):
                    raise ConfigError(f"parameter {key!r} must be true or false, got {value!r}")
                updates[key] = text in ("true", "yes", "1")
                continue
            if key == "scan_unmapped" and str(value).strip().lower() not in ("auto", "yes", "no", "true", "false", "1", "0"):
                raise ConfigError(f"parameter 'scan_unmapped' must be auto, yes or no, got {value!r}")
            if key == "umi" and str(value).strip().lower() not in ("auto", "no", "false", "0"):
                raise ConfigError(f"parameter 'umi' must be auto or no, got {value!r}")
            if key == "partner_scan" and str(value).strip().lower() not in ("auto", "yes", "no", "true", "false", "1", "0"):
                raise ConfigError(f"parameter 'partner_scan' must be auto, yes or no, got {value!r}")
            try:
                updates[key] = type(default)(value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"parameter {key!r} must be a {type(default).__name__}, got {value!r}"
                ) from None
            if isinstance(default, (int, float)) and not isinstance(default, bool) and updates[key] < 0:
                raise ConfigError(f"parameter {key!r} must not be negative, got {value!r}")
        out = replace(params, **updates)
        if not 0 < out.lod_probability < 1:
            raise ConfigError(f"parameter 'lod_probability' must be between 0 and 1, got {out.lod_probability}")
        if not 0 < out.lod_max_fraction < 1:
            raise ConfigError(f"parameter 'lod_max_fraction' must be between 0 and 1 (a fusion fraction), got "
                              f"{out.lod_max_fraction}")
        if out.ati_skip >= out.ati_window:
            raise ConfigError(f"parameter 'ati_skip' ({out.ati_skip}) must be smaller than 'ati_window' "
                              f"({out.ati_window})")
        return out

    @property
    def transcript_tag_list(self) -> tuple[str, ...]:
        """The tags of ``transcript_tags``, in order, blanks left out."""
        return tuple(t.strip() for t in self.transcript_tags.split(",") if t.strip())

    @property
    def uses_umis(self) -> bool:
        """Whether UMIs tell molecules apart (``umi`` is not ``no``)."""
        return self.umi.strip().lower() not in ("no", "false", "0")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
