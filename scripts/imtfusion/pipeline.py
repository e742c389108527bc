"""One sample, start to end: BAM -> evidence -> candidates -> calls -> files.

:func:`run_sample` is the API the CLI and the Snakemake rule use; it computes
everything in memory and then :func:`write_sample_outputs` writes each file atomically,
so a failure at any point leaves earlier results untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import itertools
from pathlib import Path
from typing import TYPE_CHECKING

from imtfusion import umis
from imtfusion.annotate import Domain, FusionAnnotation, annotate_fusion, load_domains
from imtfusion.annotation import Annotation, load_annotation
from imtfusion.boundaries import boundary_key  # noqa: F401  (commands.index_gtf names it from here)
from imtfusion.callrecord import call_record
from imtfusion.calling import UNMAPPED_WINDOW, Candidate, call_candidates, pairs_fitting
from imtfusion.errors import AlignmentFileError, ConfigError, ImtfusionError
from imtfusion.bamio import AlignmentInfo
from imtfusion.evidence import BreakendReads, Evidence, EvidenceSource, PileupReference
from imtfusion.features import (
    add_ambiguous_pairs,
    add_ambiguous_support,
    add_unmapped_support,
    ambiguous_pairs,
    assess_mismapping,
    molecule_keys,
    mark_primed,
    primed_bases,
    mark_promiscuous,
    usable_discordants,
)
from imtfusion.genelookup import GeneLookup
from imtfusion.copies import target_copies
from imtfusion.unmapped import K as UNMAPPED_K, EndFilter, TargetTranscripts, exon_flank_codes, scan_reads
from imtfusion.unplaced import (PairCollector, ShortSideFilter, UnplacedPair, fused_transcript, own_continuations,
                               pairs_on_fused, short_side_reads)
from imtfusion.filters import FilterContext, apply_filters
from imtfusion.knowledge import KnownFusion, known_pairs, load_known_fusions
from imtfusion.lod import assess_lod
from imtfusion.evidence_bam import breakend_base, junction_examples, collect_support, gene_coverage, write_evidence_bam
from imtfusion.model import Breakend, ClippedRead, DiscordantRead, GeneCoverage, TargetQC
from imtfusion.outputs import write_text, write_tsv
from imtfusion.params import CallParameters
from imtfusion.reference import Reference
from imtfusion.sampleqc import assess_sample_qc, housekeeping_genes
from imtfusion.samplesheet import check_sample_name
from imtfusion.registry import default_targets
from imtfusion.results import (  # noqa: F401  (the records and statuses, also named from here)
    STATUS_DETECTED,
    STATUS_IMBALANCE,
    STATUS_NOT_ASSESSABLE,
    STATUS_NOT_DETECTED,
    SampleResult,
    TargetStatus,
)
from imtfusion.targets import ContigMap, TargetLocus, resolve_genes, resolve_targets

if TYPE_CHECKING:
    from imtfusion.batch import Artefacts
    from imtfusion.imbalance import ImbalanceResult, RatioObservation
    from imtfusion.lod import LodResult
    from imtfusion.primers import PrimerSet


FUSION_COLUMNS = [
    "sample",
    "fusion",
    "gene5",
    "gene3",
    "breakpoint5",
    "breakpoint3",
    "split_reads",
    "discordant_pairs",
    "confidence",
    "fragments",
    "molecules",
    "start_sites",
    "primer_reads",
    "primers",
    "target",
    "known",
    "transcript5",
    "transcript3",
    "exon5",
    "exon3",
    "site5",
    "site3",
    "reading_frame",
    "kinase_domain",
    "retained_domains",
    "strand5",
    "strand3",
    "breakpoint_precision",
    "homology",
    "junction_shift",
    "best_anchor",
    "gene_id5",
    "gene_id3",
    "sequence",
    "fusion_transcript",
    "peptide",
    "isoforms",
]
# the junction in words (imtfusion.nomenclature), after the columns that came before them
WORDS_COLUMNS = ["hgvs", "exon_description"]
DISCARDED_COLUMNS = FUSION_COLUMNS + ["filters", "main_call"] + WORDS_COLUMNS
FUSION_COLUMNS = FUSION_COLUMNS + WORDS_COLUMNS
TARGET_COLUMNS = [
    "sample",
    "target",
    "status",
    "fusions",
    "reason",
    "locus",
    "reads",
    "exon_reads",
    "mean_exon_coverage",
    "duplicates",
    "chimeric_records",
    # 3'/5' expression imbalance (imtfusion.imbalance)
    "imbalance",
    "imbalance_z",
    "imbalance_ratio",
    "depth5",
    "depth3",
    "imbalance_reference",
    # the sample QC gates (imtfusion.sampleqc): pass, or fail: the failed gates
    "sample_qc",
    # the limit of detection (imtfusion.lod)
    "lod",
    "lod_known",
    "lod_exons",
    "lod_depth",
    # panel QC (imtfusion.sampleqc): the target's unique fragments; the sample's on-target
    # fraction, control-gene junction reads, duplicate rate and median insert
    "unique_fragments",
    "on_target_fraction",
    "control_junction_reads",
    "duplicate_rate",
    "median_insert",
]
CONFIDENCE_ORDER = {"high": 0, "medium": 1, "low": 2, ".": 3}


def annotate_candidate(
    c: Candidate,
    annotation: Annotation,
    contigs: ContigMap,
    domains: list[Domain],
    tags: tuple[str, ...],
    fetch,
) -> FusionAnnotation:
    return annotate_fusion(
        annotation,
        None if c.gene5.intergenic else c.gene5.gene_id,
        None if c.gene3.intergenic else c.gene3.gene_id,
        c.end5.pos,
        c.end5.side,
        c.end3.pos,
        c.end3.side,
        c.gene5.name,
        c.gene3.name,
        domains,
        tags,
        fetch,
    )


def _call_gene_coverage(source: EvidenceSource, annotation: Annotation, contigs: ContigMap, loci: list[TargetLocus],
                        qc: dict[str, TargetQC], called: list[Candidate]) -> dict[str, GeneCoverage]:
    """Depth along every gene of a called fusion (targets from the first pass)."""
    out: dict[str, GeneCoverage] = {}
    for locus in loci:
        g = locus.gene
        out[g.name] = GeneCoverage(g.name, locus.chrom, g.start, g.end, tuple(qc[g.name].coverage_bins))
    for c in called:
        for ref in (c.gene5, c.gene3):
            if ref.intergenic or ref.name in out:
                continue
            gene = next((g for g in annotation.genes_overlapping(contigs.to_gtf(c.end5.chrom if ref is c.gene5 else c.end3.chrom),
                                                                 (c.end5 if ref is c.gene5 else c.end3).pos)
                         if g.gene_id == ref.gene_id), None)
            chrom = contigs.to_bam(gene.chrom) if gene else None
            if gene is None or chrom is None:
                continue
            out[ref.name] = gene_coverage(source, ref.name, chrom, gene.start, gene.end)
    return out


def _partner_scan_on(params: CallParameters) -> bool:
    return params.partner_scan.strip().lower() not in ("no", "false", "0")


NO_FASTA_PRECISION = "exon-level (no FASTA)"
LOOSE_CLIPS = 2  # junction reads left unplaced at a target end that make a mates-only call "exon-level"


def _say_exon_level(candidates: list[Candidate], clips, lookup: GeneLookup) -> list[Candidate]:
    """Without a FASTA, a call from mates only whose target gene has junction reads (soft
    clips, two or more on the side of its target end) that could not be placed says so:
    its breakpoints are the exon boundaries next to the mates, and the partner's bases
    were too thinly read to place the junction reads exactly (``exon-level (no FASTA)``,
    which the FASTA would make exact) -- the call is kept, not dropped."""
    placed = {f for c in candidates for f in c.split_fragments}
    loose: dict[tuple[str, str], list] = {}
    for clip in clips:
        if clip.fragment not in placed:
            loose.setdefault((clip.end.chrom, clip.end.side), []).append(clip)
    out = []
    for c in candidates:
        if c.precision == "approximate":
            for end, gene in ((c.end5, c.gene5), (c.end3, c.gene3)):
                if gene.name not in c.targets:
                    continue
                here = [k for k in loose.get((end.chrom, end.side), ())
                        if any(g.gene_id == gene.gene_id for g in lookup.genes_at(k.end.chrom, k.end.pos))]
                if len({k.fragment for k in here}) >= LOOSE_CLIPS:
                    c = dataclasses.replace(c, precision=NO_FASTA_PRECISION)
                    break
        out.append(c)
    return out


PARTNER_UNMAPPED_FLANK = 1_000  # bases around a known partner gene whose unmapped reads are looked at


def _scans_partners(params: CallParameters, chimeric: bool) -> bool:
    """Whether the reads outside the target loci are scanned for junction reads
    (``scan_unmapped``): not with ``no``, and with ``auto`` only in a BAM without chimeric
    alignments (an aligner that writes them has split the junction reads it could)."""
    mode = params.scan_unmapped.strip().lower()
    return mode not in ("no", "false", "0") and (not chimeric or mode == "yes")


def _unmapped_at_partners(ends: BreakendReads, loci: list[TargetLocus], partners: dict[str, list], contigs: ContigMap,
                          params: CallParameters, chimeric: bool) -> list:
    """Unmapped reads placed next to their mates in the targets' known partner genes, in
    a BAM without chimeric alignments (``scan_unmapped`` not ``no``): HISAT2 and STAR
    defaults leave a junction read unmapped whose mate lies in the partner, outside the
    target loci (anchored multiplex PCR reads every junction from a target primer so)."""
    if not _scans_partners(params, chimeric):
        return []
    out: dict[str, object] = {}
    for chrom, start, end in _partner_spans(loci, partners, contigs):
        for u in ends.unmapped(chrom, start, end):
            out.setdefault(u.fragment, u)
    return list(out.values())


def _unmapped_genome_wide(source: EvidenceSource, loci: list[TargetLocus], primed: bool, params: CallParameters,
                          chimeric: bool) -> tuple[list[tuple[str, str, str]], list[str]]:
    """The unmapped reads placed next to their mates anywhere outside the target loci, for
    an anchored multiplex PCR panel (``primed``: a primer BED) in a BAM without chimeric
    alignments (``scan_unmapped`` not ``no``; ``yes`` also with them): every junction read
    starts at a target primer, and one whose target part is too short to align lies
    unmapped beside its mate in the partner, known or not (HISAT2's DES::ALK: all five
    molecules). One pass of the BAM's placed records (a panel's BAM is small); (reads,
    notes)."""
    if not primed or not _scans_partners(params, chimeric):
        return [], []
    count = source.placed_unmapped_count()
    if not count:
        return [], []
    if count > params.max_unmapped_scan:
        return [], [f"{count:,} unmapped reads placed beside their mates were not scanned for junction reads "
                    f"outside the target loci (more than max_unmapped_scan={params.max_unmapped_scan:,})"]
    if source.whole_bam_pass_skipped(params.scan_unmapped):
        return [], [f"{count:,} unmapped reads placed beside their mates outside the target loci were not scanned "
                    "for junction reads: the BAM is read over the network (scan_unmapped: yes reads them)"]
    reads = list(source.placed_unmapped([(l.chrom, l.start, l.end) for l in loci]))
    return reads, [f"{len(reads):,} unmapped reads placed beside their mates outside the target loci were scanned "
                   "for junction reads (a primer panel's partners need not be known)"]


def _clips_at_partners(ends: BreakendReads, loci: list[TargetLocus], partners: dict[str, list], contigs: ContigMap,
                       params: CallParameters, chimeric: bool) -> list[ClippedRead]:
    """Soft-clipped reads of the targets' known partner genes whose clip may be target
    bases (``K`` of them at least), in a BAM without chimeric alignments (as
    :func:`_unmapped_at_partners`): STAR's defaults and HISAT2 soft-clip the target side
    of a junction read whose mate lies in the partner too, so nothing of that molecule is
    aligned in the target locus (YWHAE::ROS1 read 39S36M in YWHAE)."""
    if not _scans_partners(params, chimeric):
        return []
    out: dict[tuple[str, Breakend], ClippedRead] = {}
    for chrom, start, end in _partner_spans(loci, partners, contigs):
        for c in ends.clipped(chrom, start, end):
            if len(c.outward) >= UNMAPPED_K:
                out.setdefault((c.fragment, c.end), c)
    return [out[k] for k in sorted(out, key=lambda k: (k[0], k[1].chrom, k[1].pos, k[1].side))]


def _partner_clip_reads(clips: list[ClippedRead]) -> list[tuple[str, str, str]]:
    """(name, bases, UMI) of partner-side clipped reads as :func:`~imtfusion.unmapped.scan_reads`
    takes them: the clip and the aligned bases beside it in the read's order (genome strand)."""
    out = []
    for c in clips:
        bases = c.inward[::-1] + c.outward if c.end.side == "L" else c.outward[::-1] + c.inward
        out.append((c.fragment, bases, c.dup_key[-1] if c.dup_key else ""))
    return out


def _partner_spans(loci: list[TargetLocus], partners: dict[str, list], contigs: ContigMap) -> list[tuple[str, int, int]]:
    """The known partner genes' regions (``PARTNER_UNMAPPED_FLANK`` around each) that the
    target loci do not hold, in BAM contig names, sorted."""
    spans = set()
    for genes in partners.values():
        for g in genes:
            chrom = contigs.to_bam(g.chrom)
            if chrom is not None:
                spans.add((chrom, max(0, g.start - PARTNER_UNMAPPED_FLANK), g.end + PARTNER_UNMAPPED_FLANK))
    return [(c, s, e) for c, s, e in sorted(spans)
            if not any(l.chrom == c and l.start <= s and e <= l.end for l in loci)]  # read with the target locus already


def _carries_umis(evidence, params: CallParameters, clips: list = ()) -> bool:
    """Whether the evidence reads of the target loci (and ``clips``, found beside them)
    carry UMIs that count molecules."""
    keys = itertools.chain((r.dup_key for r in evidence.split_reads), (c.dup_key for c in evidence.clipped_reads),
                           (c.dup_key for c in clips), (d.dup_key for d in evidence.discordant_reads))
    return params.uses_umis and any(k and k[-1] for k in keys)


def _scan_unmapped(source: EvidenceSource, loci: list[TargetLocus], annotation: Annotation, ref: "Reference | PileupReference", evidence,
                   params: CallParameters, chimeric: bool,
                   at_partners: list | None = None,
                   partner_clips: list[ClippedRead] | None = None,
                   genome_wide: list[tuple[str, str, str]] | None = None
                   ) -> tuple[list[ClippedRead], list[str], list[UnplacedPair], list[tuple[str, str, str]]]:
    """Junction reads among the unmapped reads: those placed next to their mates in the
    target loci (always) and in the known partners (``at_partners``), the soft-clipped
    reads of the known partners whose clips spell the target (``partner_clips``), those placed
    anywhere else that a primer panel gives (``genome_wide``: (name, sequence, UMI)), and those without
    a position (both mates unmapped, or single-end reads) unless the BAM has chimeric
    alignments and its reads no UMIs (``scan_unmapped: auto``): an aligner that writes
    chimeric alignments has aligned the junction reads it could, but the molecules of a
    UMI panel are counted, and STAR leaves the pairs of its shortest junction fragments
    unmapped (a panel's BAM is small). They become soft clips at exact target
    breakends: returns (those clips, notes, the unplaced pairs of which a read may lie in a
    target transcript: :mod:`imtfusion.unplaced`, and with the FASTA the reads without a
    position that may end in 10-19 bases of a target exon: ShortSideFilter); ``evidence``
    is not changed."""
    index: TargetTranscripts | None = None  # built only when there are reads to scan
    from_reads = getattr(ref, "from_reads", False)  # no FASTA: the reads' pile-up spells the target

    def copy_source(spliced: list) -> list:
        return target_copies(spliced, annotation, ref)

    def transcripts() -> TargetTranscripts:
        return index if index is not None else TargetTranscripts(loci, annotation, ref.fetch, flanks=not from_reads,
                                                                 copies=None if from_reads else copy_source)

    found: list[ClippedRead] = []
    in_loci = {u.fragment for u in evidence.unmapped_reads}
    placed = [(u.fragment, u.sequence, u.umi) for u in evidence.unmapped_reads]
    placed += [(u.fragment, u.sequence, u.umi) for u in (at_partners or []) if u.fragment not in in_loci]
    if genome_wide:
        have = {r[0] for r in placed}
        placed += [r for r in genome_wide if r[0] not in have]
    if placed:
        index = transcripts()
        found += scan_reads(placed, index, params.min_clip)
    if partner_clips:
        # a partner-side read whose clip spells the target: a clip at the target breakend,
        # with the partner read's own position and UMI as its duplicate key
        index = transcripts()
        keys = {c.fragment: c.dup_key for c in partner_clips}
        done = {c.fragment for c in found}
        found += [dataclasses.replace(c, dup_key=keys[c.fragment])
                  for c in scan_reads(_partner_clip_reads(partner_clips), index, params.min_clip)
                  if c.fragment not in done]
    notes: list[str] = []
    mode = params.scan_unmapped.strip().lower()
    unplaced = 0
    if not (mode in ("no", "false", "0") or (mode == "auto" and chimeric and not _carries_umis(evidence, params, found))):
        unplaced = source.unplaced_count()
        if unplaced > params.max_unmapped_scan:
            notes.append(
                f"{unplaced:,} unmapped reads without a position were not scanned for junction reads "
                f"(more than max_unmapped_scan={params.max_unmapped_scan:,})"
            )
            unplaced = 0
        elif unplaced and source.whole_bam_pass_skipped(mode):
            notes.append(
                f"{unplaced:,} unmapped reads without a position were not scanned for junction reads: the BAM is "
                "read over the network and they would be downloaded (scan_unmapped: yes reads them)"
            )
            unplaced = 0

    pairs: list[UnplacedPair] = []
    short: list[tuple[str, str, str]] = []
    if unplaced:
        index = transcripts()
        collector = PairCollector(EndFilter(index, also=exon_flank_codes(loci, ref.fetch)).hits)
        # reads that may hold 10-19 target bases at a junction (count_short_sides; those
        # placed beside their mates are looked at around each breakpoint by the second pass)
        ends = None if from_reads else ShortSideFilter(index.exon_sequences())

        def collected():
            for record in source.unplaced_reads():
                collector.add(*record)
                if ends is not None and len(short) < MAX_SHORT_SIDE_READS and ends(record[1]):
                    short.append(record)
                yield record

        found += scan_reads(collected(), index, params.min_clip)
        pairs = collector.finish()
        notes.append(f"{unplaced:,} unmapped reads without a position were scanned for junction reads")
    filled = index.filled() if index is not None and from_reads else None
    if filled is not None:
        # without a FASTA: target bases no aligned read spells, as the junction reads just
        # matched spell them, let the other unmapped reads be matched there too (a second look)
        done = {c.fragment for c in itertools.chain(evidence.clipped_reads, found)}
        again = [r for r in placed if r[0] not in done]
        if unplaced:
            again = itertools.chain(again, (r for r in source.unplaced_reads() if r[0] not in done))
        found += scan_reads(again, filled, params.min_clip)
    return found, notes, pairs, short


MAX_SHORT_SIDE_READS = 100_000  # reads without a position kept for short_side_reads (memory bound)


def _place_unplaced_pairs(candidates: list[Candidate], pairs: list[UnplacedPair], annotation: Annotation,
                          ref) -> list[Candidate]:  # type: ignore[no-untyped-def]
    """The candidates with the unplaced pairs their fused transcripts explain added as
    discordant pairs (:mod:`imtfusion.unplaced`; the reads of a pair that spelled a
    junction were clips already), each with its UMI and no position as its duplicate key."""
    if not pairs:
        return candidates
    taken = {f for c in candidates for f in c.split_fragments | c.discordant_fragments}
    pairs = [p for p in pairs if p.fragment not in taken]
    fused = _fused_transcripts(candidates, annotation, ref)
    found = pairs_on_fused(pairs, fused) if pairs and fused else {}
    return [_with_unplaced(c, found[c.key], pairs=True) if found.get(c.key) else c for c in candidates]


def _fused_transcripts(candidates: list[Candidate], annotation: Annotation, ref) -> list:  # type: ignore[no-untyped-def]
    """The fused transcripts (:func:`imtfusion.unplaced.fused_transcript`) of the exact,
    oriented candidates, each with its split-read fragments as its support."""
    return [t for c in candidates if c.precision == "exact" and c.oriented
            if (t := fused_transcript(c.key, c.end5, c.end3, c.gene5.gene_id, c.gene3.gene_id, annotation,
                                      ref.fetch, support=len(c.split_fragments))) is not None]


def _with_unplaced(c: Candidate, found, pairs: bool) -> Candidate:  # type: ignore[no-untyped-def]
    """The candidate with fragments that have no position (``found``: their ``fragment``
    and ``umi``) added, each with its UMI and no position as its duplicate key: as
    discordant pairs (``pairs``, :mod:`imtfusion.unplaced`'s pairs) or as junction reads."""
    names = frozenset(f.fragment for f in found)
    keys = dict(c.dup_keys)
    for f in found:
        keys[f.fragment] = frozenset({umis.UNPLACED + (f.umi,)})
    if pairs:
        return dataclasses.replace(c, discordant_fragments=c.discordant_fragments | names,
                                   unmapped_fragments=c.unmapped_fragments | names,
                                   unplaced_pairs=c.unplaced_pairs | names, dup_keys=keys)
    return dataclasses.replace(c, split_fragments=c.split_fragments | names,
                               unmapped_fragments=c.unmapped_fragments | names, dup_keys=keys)


def _known_partner_genes(annotation: Annotation, loci: list[TargetLocus], known: list[KnownFusion]) -> dict[str, list]:
    """Target gene id -> genes of its known partners that the annotation has."""
    out: dict[str, list] = {}
    for locus in loci:
        names = sorted({k.gene5 if k.gene3 == locus.name else k.gene3 for k in known if locus.name in (k.gene5, k.gene3)})
        genes = []
        for name in names:
            try:
                genes.append(annotation.find_gene(name, by_id=False))  # curated names are HGNC symbols
            except ImtfusionError:
                continue
        out[locus.gene.gene_id] = genes
    return out


def target_statuses(
    loci: list[TargetLocus],
    qc: dict[str, TargetQC],
    called: list[Candidate],
    params: CallParameters,
    blind: str | None = None,
    imbalance: "dict[str, ImbalanceResult] | None" = None,
    qc_failure: str = "",
    lod: "dict[str, LodResult] | None" = None,
    ambiguous: "dict[str, str] | None" = None,
) -> list[TargetStatus]:
    """Status per target. ``blind`` is the reason a fusion cannot be ruled out whatever
    the coverage (e.g. no chimeric alignments and no FASTA): targets without a call are
    then *not assessable*, never *not detected*. ``imbalance`` (target -> verdict): a
    target without a call whose kinase exons show a 3' excess is *imbalance: fusion
    suspected* (also without chimeric alignments or FASTA: the coverage says it), or its
    ATI status when transcripts starting in the intron explain the excess. ``qc_failure``
    (the failed sample QC gates, :mod:`imtfusion.sampleqc`): every target without a call
    is *not assessable* for that reason; a call stands, its reason naming the failure.
    ``lod`` (target -> :class:`~imtfusion.lod.LodResult`): a target that would otherwise be
    *not detected* is ``not detected (LoD 3.4% of ALK transcripts)``, or ``not assessable
    (LoD above 25%)`` when its limit of detection is above ``lod_max_fraction``.
    ``ambiguous`` (target -> reason, :func:`ambiguous_junctions`): a target that would be
    *not detected* but holds a junction whose reads were all placed ambiguously is *not
    assessable* for that reason; a detected target's reason adds it (another partner's
    junction)."""
    from imtfusion.imbalance import VERDICT_ATI, VERDICT_IMBALANCE

    imbalance = imbalance or {}
    lod = lod or {}
    ambiguous = ambiguous or {}
    out = []
    for locus in loci:
        q = qc[locus.name]
        verdict = imbalance.get(locus.name)
        limit = lod.get(locus.name)
        fusions = sorted({c.fusion for c in called if locus.name in c.targets})
        if fusions:
            best = min((CONFIDENCE_ORDER[c.confidence] for c in called if locus.name in c.targets))
            tier = [k for k, v in CONFIDENCE_ORDER.items() if v == best][0]
            reason = (f"{tier} confidence call" + (f"; {qc_failure}" if qc_failure else "")
                      + (f"; also {ambiguous[locus.name]}" if locus.name in ambiguous else ""))
            out.append(TargetStatus(locus.name, STATUS_DETECTED, fusions, reason, q, verdict))
        elif qc_failure:
            out.append(TargetStatus(locus.name, STATUS_NOT_ASSESSABLE, [], qc_failure, q, verdict))
        elif q.exon_reads < params.min_target_reads:
            reason = (
                f"{q.exon_reads} reads on {locus.name} exons, fewer than the {params.min_target_reads} "
                "needed to rule a fusion out"
            )
            out.append(TargetStatus(locus.name, STATUS_NOT_ASSESSABLE, [], reason, q, verdict))
        elif verdict is not None and verdict.verdict == VERDICT_IMBALANCE:
            out.append(TargetStatus(locus.name, STATUS_IMBALANCE, [], verdict.reason, q, verdict))
        elif verdict is not None and verdict.verdict == VERDICT_ATI and not blind:
            out.append(TargetStatus(locus.name, verdict.status_text, [], verdict.reason, q, verdict))
        elif blind:
            reason = blind
            if verdict is not None and verdict.verdict == VERDICT_ATI:
                reason = f"{verdict.reason}; but {blind}"
            out.append(TargetStatus(locus.name, STATUS_NOT_ASSESSABLE, [], reason, q, verdict))
        elif locus.name in ambiguous:
            out.append(TargetStatus(locus.name, STATUS_NOT_ASSESSABLE, [], ambiguous[locus.name], q, verdict))
        else:
            reason = (f"no fusion passed the filters; {q.exon_reads} reads on {locus.name} exons"
                      + (f"; {limit.sentence()}" if limit is not None else "")
                      + (f"; {verdict.reason}" if verdict is not None and verdict.verdict != "not assessed" else ""))
            status = limit.status() if limit is not None else STATUS_NOT_DETECTED
            out.append(TargetStatus(locus.name, status, [], reason, q, verdict))
    for s in out:
        s.lod = lod.get(s.target)
    return out


def ambiguous_junctions(qc: dict[str, TargetQC], lookup: GeneLookup, params: CallParameters,
                        called: "dict[str, set[str]] | None" = None, primers: "PrimerSet | None" = None,
                        contig_names: "dict[int, str] | None" = None) -> dict[str, str]:
    """Target -> why a fusion of it cannot be ruled out, for the targets whose locus holds a
    junction with at least ``ambiguous_junction_molecules`` molecules (by UMI and read
    places, PCR copies one) whose junction reads were all placed below ``min_mapq``
    (:meth:`imtfusion.evidence._LocusScan.note_ambiguous`): a paralog or pseudogene shares
    their bases, so the aligner could not say whether the target is fused, and no uniquely
    placed read made a call to count them for. A junction whose other side lies in a
    pseudogene only (the copy's own chimeric transcripts) does not count. Such a target is
    no negative a lab can sign. ``called`` (target -> the genes of its calls' partners): a
    target with a call gets the reason too, as another fusion that cannot be ruled out,
    when the junction's partner is none of those (the reads of a call's own junction
    placed ambiguously are counted for it). With a primer BED (``primers``; ``contig_names``
    the BAM's reference id -> name), a fragment read from a primer that holds fewer than
    ``min_beyond_primer`` target bases beyond it does not count, as for a call
    (``primer_only_anchor``: the primer misprimed on the partner's RNA)."""
    out: dict[str, str] = {}
    if params.ambiguous_junction_molecules <= 0:
        return out
    called = called or {}
    for target, q in qc.items():
        junctions = []
        for molecules, pos, side, chrom, at, fragments in q.ambiguous_junctions:
            if primers is not None:
                end = Breakend(q.locus.split(":")[0], pos, side)
                kept = {}
                for name, keys in fragments:
                    primed = primed_bases(keys, (end,), primers, contig_names or {})
                    if primed is None or primed[1] >= params.min_beyond_primer:
                        kept[name] = set(keys)
                molecules = len(kept) - umis.count_duplicates(kept, params.uses_umis)
            junctions.append((molecules, pos, side, chrom, at))
        for molecules, pos, side, chrom, at in sorted(junctions, key=lambda j: (-j[0], j[1:])):
            if molecules < params.ambiguous_junction_molecules:
                break
            if lookup.in_pseudogenes_only(chrom, at):
                continue
            genes = {g.name for g in lookup.genes_at(chrom, at)}
            if target in called and (genes & called[target] or not genes):
                continue
            partner = "/".join(sorted(genes)) or f"{chrom}:{at + 1:,}"
            what = (f"another fusion of {target} cannot be ruled out" if target in called
                    else "a fusion cannot be ruled out")
            out[target] = (f"{molecules} molecules have junction reads from {target} ({q.locus.split(':')[0]}:"
                           f"{pos + 1:,}) to {partner} that the aligner placed with MAPQ below {params.min_mapq} "
                           f"or as secondary alignments (a paralog or pseudogene shares their bases), so {what}; "
                           "confirm with another method")
            break
    return out


#: why an anchored multiplex PCR library has no 3'/5' verdict
AMP_NO_IMBALANCE = ("not assessed: an anchored multiplex PCR library (primer BED) reads its molecules from the "
                    "panel's primers, so the exon coverage follows the primers, not the transcript's expression")


def assess_imbalance(sample: str, loci: list[TargetLocus], qc: dict[str, TargetQC], candidates: list[Candidate],
                     params: CallParameters, batch: "list[RatioObservation] | None",
                     housekeeping: list | None = None, primed: bool = False) -> "dict[str, ImbalanceResult]":
    """The 3'/5' verdict of every target (imtfusion.imbalance); ``housekeeping``: those
    genes' exon profiles (the sample's RNA degradation). ``primed`` (a primer BED was
    given): none, the coverage of such a library says nothing of 3'/5' expression."""
    from imtfusion.imbalance import VERDICT_NOT_ASSESSED, ImbalanceResult, assess_sample, load_splits, shipped_profile

    if primed:
        return {locus.name: ImbalanceResult(locus.name, VERDICT_NOT_ASSESSED, AMP_NO_IMBALANCE) for locus in loci}
    profiles = {locus.name: qc[locus.name].profile for locus in loci}
    return assess_sample(sample, profiles, load_splits(), batch, shipped_profile(), candidates, params,
                         housekeeping or [])


def imbalance_observations(result: SampleResult) -> "list[RatioObservation]":
    """The sample's 3'/5' ratios for a batch profile (``imtfusion batch-profile``): those of
    the kinase targets without a call (a target with a detected fusion is no reference for
    the others) and with enough reads, of a sample that passed the QC gates."""
    from imtfusion.imbalance import fit_decay, load_splits, observe

    splits = load_splits()
    out = []
    if result.sample_qc is not None and not result.sample_qc.passed:
        return out
    decay = fit_decay({s.target: s.qc.profile for s in result.statuses}, splits, result.housekeeping_profiles)
    for s in result.statuses:
        if s.fusions:
            continue
        seen = observe(result.sample, s.target, s.qc.profile, splits.get(s.target), result.params.imbalance_min_reads,
                       decay)
        if not isinstance(seen, str):
            out.append(seen)
    return out


def _count_molecules(candidates: list[Candidate], contig_ids: dict[str, int], params: CallParameters,
                     lookup: GeneLookup) -> list[Candidate]:
    """The candidates with their duplicates counted again (a pseudogene's junction may
    have given its reads to the gene's; a copy's places are UMIs alone there,
    :func:`imtfusion.features.molecule_keys`) and their partner-side start sites
    (``contig_ids``: the BAM's contig name -> id)."""
    names = sorted(contig_ids, key=contig_ids.__getitem__)
    out = []
    for c in candidates:
        partner, target = ((c.end3, c.end5) if c.gene5.name in c.targets and c.gene3.name not in c.targets
                           else (c.end5, c.end3))
        out.append(dataclasses.replace(
            c, duplicates=umis.count_duplicates(molecule_keys(c, lookup, names), params.uses_umis,
                                                params.umi_mismatches),
            start_sites=umis.start_sites(c.dup_keys, contig_ids.get(partner.chrom, -1), partner.pos,
                                         target=(contig_ids.get(target.chrom, -1), target.pos))))
    return out


def name_calls(sample: str, called: list[Candidate], discarded: list[Candidate], annotation: Annotation,
               contigs: ContigMap, domains: list[Domain], params: CallParameters,
               ref: Reference | None) -> tuple[list[Candidate], list[Candidate]]:
    """The annotated calls, as new records: transcripts, exons, frame and domains (the
    calls' sequences from the FASTA when there is one), the call IDs (``SAMPLE_F1``, ...
    in the order of ``called``; ``SAMPLE_D1``, ... of ``discarded``), the calls'
    reference bases at the breakpoints, and each one's ``main_call`` (the ID of the call
    it is part of) and ``isoforms`` (its other junctions, in the order of the discarded
    table)."""
    fetch = None
    if ref is not None:
        reference = ref

        def fetch(gtf_chrom: str, start: int, end: int) -> str:
            bam_chrom = contigs.to_bam(gtf_chrom)
            return reference.fetch(bam_chrom, start, end) if bam_chrom else ""

    tags = params.transcript_tag_list
    ids = {c.key: f"{sample}_F{i}" for i, c in enumerate(called, start=1)}
    ids.update({c.key: f"{sample}_D{i}" for i, c in enumerate(discarded, start=1)})
    named: dict[int, Candidate] = {}
    for c in called:
        named[c.key] = dataclasses.replace(
            c, annotation=annotate_candidate(c, annotation, contigs, domains, tags, fetch), call_id=ids[c.key],
            ref_base5=breakend_base(ref, c.end5), ref_base3=breakend_base(ref, c.end3))
    for c in discarded:
        named[c.key] = dataclasses.replace(
            c, annotation=annotate_candidate(c, annotation, contigs, domains, tags, None), call_id=ids[c.key])
    for key, c in named.items():
        if c.part_of is not None:
            named[key] = c = dataclasses.replace(c, main_call=ids[c.part_of])
    order = {c.key: i for i, c in enumerate(discarded)}
    for key, c in named.items():  # members have none of their own: theirs are final now
        if c.member_keys:
            named[key] = dataclasses.replace(c, isoforms=tuple(named[k] for k in sorted(c.member_keys, key=order.__getitem__)))
    return [named[c.key] for c in called], [named[c.key] for c in discarded]


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a call is asked to do: parameters, target genes, annotation and curated tables."""

    params: CallParameters
    targets: tuple[str, ...]
    annotation: Annotation
    known: list[KnownFusion]
    domains: list[Domain]


@dataclasses.dataclass(frozen=True)
class Inputs:
    """The opened inputs beside the BAM's evidence source: the loci of the targets in the
    BAM's contig names, the FASTA (None without one) and the primers of a panel."""

    settings: Settings
    info: AlignmentInfo
    contigs: ContigMap
    loci: list[TargetLocus]
    primer_set: object | None
    ref: Reference | None

    @property
    def params(self) -> CallParameters:
        return self.settings.params

    @property
    def annotation(self) -> Annotation:
        return self.settings.annotation


@dataclasses.dataclass(frozen=True)
class Gathered:
    """The sample's evidence: that of the target loci (discordant reads judged by their
    mates, pairs of a BAM without mate fields, junction reads among the unmapped reads
    added), the housekeeping genes' QC, the mapped records, the known partner genes, the
    unplaced pairs, the bases the reads are placed on (the FASTA, or without it the reads'
    pile-up) and what was said on the way."""

    evidence: Evidence
    mates: dict
    mapped_records: int | None
    house: dict[str, TargetQC]
    house_missing: list[str]
    chimeric: bool
    partners: dict[str, list]
    unplaced_pairs: list[UnplacedPair]
    spelled: "Reference | PileupReference"
    notes: tuple[str, ...]
    paired_by_name: bool = False  # the BAM lost its pairing: reads were paired by name
    # reads without a position that may end in 10-19 bases of a target exon (name, sequence,
    # UMI; with the FASTA): placed on the calls' fused transcripts (count_short_sides)
    short_side_reads: tuple[tuple[str, str, str], ...] = ()
    # discordant reads with one mate placed below min_discordant_mapq (features.ambiguous_pairs):
    # counted for the calls they fit (count_ambiguous)
    ambiguous_pairs: tuple[DiscordantRead, ...] = ()


@dataclasses.dataclass(frozen=True)
class Found:
    """The candidates of a sample (before their features) and the gene lookup they were
    placed with; ``notes``: what the evidence source's passes read."""

    candidates: list[Candidate]
    lookup: GeneLookup
    notes: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Named:
    """The judged calls, annotated and named, and what shows them: supporting records of
    the evidence BAM, example reads, gene coverage, the BAM header, the sequences' accessions."""

    called: list[Candidate]
    discarded: list[Candidate]
    accessions: dict[str, str]
    support: list
    examples: dict
    coverage: dict[str, GeneCoverage]
    header: dict


@dataclasses.dataclass(frozen=True)
class Assessment:
    """The sample's QC, every target's status, and the notes of the assessment."""

    sample_qc: object
    statuses: list[TargetStatus]
    notes: tuple[str, ...]


def check_settings(sample: str, annotation: Annotation | str | Path, targets, params: CallParameters | None,
                   known_partners, domains_file) -> Settings:
    """The call's settings, checked (sample name, target genes) and loaded (annotation,
    known fusions, domains)."""
    check_sample_name(sample)
    params = params or CallParameters()
    if targets is None:
        targets = default_targets()
    if not targets:
        raise ConfigError(f"no target genes given; list at least one (e.g. {' '.join(default_targets())})")
    if len(set(targets)) != len(targets):
        raise ConfigError(f"target genes listed twice: {', '.join(targets)}")
    if not isinstance(annotation, Annotation):
        annotation = load_annotation(annotation)
    return Settings(params, tuple(targets), annotation, load_known_fusions(known_partners), load_domains(domains_file))


def open_inputs(settings: Settings, info: AlignmentInfo, fasta: str | Path | None,
                primers: str | Path | None) -> Inputs:
    """The target loci in the BAM's contig names, the primers and the FASTA (opened last:
    an error before leaves nothing open)."""
    annotation, params = settings.annotation, settings.params
    contigs = ContigMap.build(annotation.contigs, info.contig_lengths)
    primer_set = None
    if primers:  # imported only for a panel with a primer BED (a call without one does not pay for it)
        from imtfusion.primers import read_primer_bed

        primer_set = read_primer_bed(primers, info.contig_lengths)
    loci = resolve_targets(annotation, list(settings.targets), params.margin, contigs, info.path,
                           params.transcript_tag_list)
    ref = Reference(fasta, info.contig_lengths) if fasta else None
    return Inputs(settings, info, contigs, loci, primer_set, ref)


def gather_evidence(inputs: Inputs, source: EvidenceSource) -> Gathered:
    """The sample's evidence from the source: the target loci, the mapped records, the
    housekeeping genes, the discordant reads' mates, pairs by name where the BAM lost its
    pairing, and the junction reads among the unmapped reads."""
    annotation, params, loci, contigs, ref = inputs.annotation, inputs.params, inputs.loci, inputs.contigs, inputs.ref
    notes: list[str] = []
    evidence = source.target_evidence(loci)
    mapped_records = source.mapped_records()
    house_loci, house_missing = resolve_genes(annotation, housekeeping_genes(params.qc_housekeeping_genes),
                                              contigs, params.transcript_tag_list)
    house = source.housekeeping(house_loci)
    mates = source.mates(evidence.discordant_reads)
    low_pairs = tuple(ambiguous_pairs(evidence.discordant_reads, mates, params))
    evidence = dataclasses.replace(
        evidence, discordant_reads=usable_discordants(evidence.discordant_reads, mates, params)
    )
    # without a FASTA the reads spell the reference where they are aligned (partner
    # exons, the target's transcripts), so soft clips and unmapped reads are still
    # placed; the genome-wide exon-boundary index needs the FASTA
    spelled = ref if ref is not None else source.pileup
    chimeric = inputs.info.has_chimeric_options or any(q.chimeric_records for q in evidence.qc.values())
    partners = _known_partner_genes(annotation, loci, inputs.settings.known)
    paired_by_name = source.lost_pairing(loci)
    if paired_by_name:
        # no mate fields: the known partners' reads name the target reads' mates
        found = source.pairs_without_mate_fields(loci, _partner_spans(loci, partners, contigs))
        evidence = dataclasses.replace(evidence, discordant_reads=evidence.discordant_reads + found)
        notes.append(f"the BAM's reads are unpaired (no mate fields): {len(found)} target read(s) were paired "
                     "by name with reads of the known partner genes")
    genome_wide, wide_notes = _unmapped_genome_wide(source, loci, inputs.primer_set is not None, params, chimeric)
    notes += wide_notes
    at_partners = _unmapped_at_partners(source, loci, partners, contigs, params, chimeric)
    found, said, unplaced_pairs, short_side = _scan_unmapped(
        source, loci, annotation, spelled, evidence, params, chimeric, at_partners,
        _clips_at_partners(source, loci, partners, contigs, params, chimeric), genome_wide)
    # the unmapped reads read in the known partners join those of the loci for the
    # junction probes of the second pass (which looks only 2 kb around a partner's
    # breakpoint itself: a mate across an intron upstream lies farther, HISAT2's TFG::ROS1
    # read 33M2899N42M 3 kb before it, its unmapped junction read beside it)
    in_loci = {u.fragment for u in evidence.unmapped_reads}
    evidence = dataclasses.replace(evidence, clipped_reads=evidence.clipped_reads + found,
                                   unmapped_reads=evidence.unmapped_reads
                                   + [u for u in at_partners if u.fragment not in in_loci])
    return Gathered(evidence, mates, mapped_records, house, house_missing, chimeric, partners, unplaced_pairs, spelled,
                    tuple(notes + said), paired_by_name, tuple(short_side), low_pairs)


NAME_PAIRED_PARTNERS = 20  # partner genes at most (the best-supported junctions') read again to pair by name


def pair_with_found_partners(inputs: Inputs, gathered: Gathered, found: Found, source: EvidenceSource) -> Gathered | None:
    """In a BAM that lost its pairing: the gathered evidence with the target reads paired
    by name with reads of the partner genes of the exact junctions found (the known
    partners' were paired already), or None when there is nothing new. A partner the
    known-partner list does not hold (EEF1A1::ETV6, minimap2 on two FASTQs: five of 40
    molecules were only pairs) has its pairs counted then, as mate fields would have."""
    if not gathered.paired_by_name:
        return None
    target_ids = {locus.gene.gene_id for locus in inputs.loci}
    known = {g.gene_id for genes in gathered.partners.values() for g in genes}
    support: dict[str, int] = {}
    for c in found.candidates:
        if c.precision != "exact" or c.split_reads < 2:
            continue
        for g in (c.gene5, c.gene3):
            if not g.intergenic and g.gene_id not in target_ids and g.gene_id not in known:
                support[g.gene_id] = max(support.get(g.gene_id, 0), c.split_reads)
    if not support:
        return None
    ranked = sorted(support, key=lambda gid: (-support[gid], gid))[:NAME_PAIRED_PARTNERS]
    genes = [inputs.annotation.find_gene(gid, by_id=True) for gid in ranked]
    spans = _partner_spans(inputs.loci, {"": genes}, inputs.contigs)
    have = {(d.fragment, d.read_end) for d in gathered.evidence.discordant_reads}
    new = [d for d in source.pairs_without_mate_fields(inputs.loci, spans)
           if (d.fragment, d.read_end) not in have
           and any(c == d.mate_end.chrom and s <= d.mate_end.pos < e for c, s, e in spans)]
    if not new:
        return None
    evidence = dataclasses.replace(gathered.evidence, discordant_reads=gathered.evidence.discordant_reads + new)
    note = (f"{len(new)} more target read(s) were paired by name with reads of the partner genes the junction "
            f"reads found ({', '.join(g.name for g in genes)})")
    return dataclasses.replace(gathered, evidence=evidence, notes=gathered.notes + (note,))


def find_candidates(inputs: Inputs, gathered: Gathered, source: EvidenceSource) -> Found:
    """The candidates of the evidence (:func:`imtfusion.calling.call_candidates`; the
    partner-side passes read the source's regions)."""
    ref = inputs.ref
    lookup = GeneLookup(inputs.annotation, inputs.contigs)
    candidates = call_candidates(
        gathered.evidence, inputs.loci, inputs.annotation, inputs.contigs, inputs.params, gathered.spelled, source,
        gathered.partners, lookup=lookup,
        genome_boundaries=ref is not None,
        spelled_boundaries=ref is None and not gathered.chimeric and _partner_scan_on(inputs.params),
    )
    return Found(candidates, lookup, tuple(source.notes))


def measure_candidates(inputs: Inputs, gathered: Gathered, found: Found, source: EvidenceSource) -> list[Candidate]:
    """The candidates with their features: mismapping, the unplaced pairs their fused
    transcripts explain, molecules and start sites, primer reads, hot spots, and without a
    FASTA the mates-only calls whose junction reads could not be placed."""
    params, ref, lookup = inputs.params, inputs.ref, found.lookup
    contig_ids = {c: i for i, c in enumerate(inputs.info.contig_lengths)}
    candidates = assess_mismapping(found.candidates, source, lookup, params, ref, gathered.mates,
                                   gathered.evidence.discordant_reads)
    candidates = _place_unplaced_pairs(candidates, gathered.unplaced_pairs, inputs.annotation, gathered.spelled)
    candidates = _count_molecules(candidates, contig_ids, params, lookup)
    if inputs.primer_set is not None:
        candidates = mark_primed(candidates, inputs.primer_set, dict(enumerate(inputs.info.contig_lengths)))
    candidates = mark_promiscuous(candidates, params)
    if ref is None:
        candidates = _say_exon_level(candidates, gathered.evidence.clipped_reads, lookup)
    return candidates


def judge_candidates(candidates: list[Candidate], inputs: Inputs,
                     artefacts: "Artefacts | None") -> tuple[list[Candidate], list[Candidate]]:
    """(called, discarded) by the filters; the calls in the order of their confidence."""
    tags = inputs.params.transcript_tag_list

    def annotate(c: Candidate) -> FusionAnnotation:  # for a filter that reads frame or domains
        return annotate_candidate(c, inputs.annotation, inputs.contigs, inputs.settings.domains, tags, None)

    called, discarded = apply_filters(candidates, FilterContext(inputs.params, known_pairs(inputs.settings.known),
                                                                artefacts, annotate))
    called.sort(key=lambda c: (CONFIDENCE_ORDER[c.confidence], -c.fragments, c.fusion, c.end5, c.end3))
    return called, discarded


def count_ambiguous(judged: tuple[list[Candidate], list[Candidate]], inputs: Inputs, gathered: Gathered,
                    found: Found, source: EvidenceSource, copies: CopyEnds) -> tuple[list[Candidate], list[Candidate]]:
    """The calls with the junction reads placed below ``min_mapq`` at their target
    breakend or at a copy of it counted for them (:func:`imtfusion.features.add_ambiguous_support`),
    the unmapped reads beside such a copy that spell their junction
    (:func:`imtfusion.features.add_unmapped_support`) and the mate pairs with one mate
    placed below ``min_discordant_mapq`` that fit their junction
    (:func:`imtfusion.features.add_ambiguous_pairs`), their molecules and start sites
    counted again; the discarded candidates as they were. ``copies``: the calls' copy
    breakends (:func:`_copy_ends`)."""
    called, discarded = judged
    loci = {locus.gene.gene_id: locus for locus in inputs.loci}
    splits, clips, beside = {}, {}, {}
    for c in called:
        if c.precision != "exact":
            continue
        locus = loci.get(c.gene5.gene_id) or loci.get(c.gene3.gene_id)
        if locus is None:
            continue
        end = c.end5 if locus.gene.gene_id == c.gene5.gene_id else c.end3
        splits[c.key] = source.ambiguous(end, locus)
        clips[c.key] = source.ambiguous_clips(end)
        for copy_end, flipped in copies.get(c.key, ()):
            clips[c.key] += [_as_target_clip(clip, copy_end, end, flipped)
                             for clip in source.ambiguous_clips(copy_end)]
            # a junction read left unmapped beside a mate the aligner put on the copy
            beside.setdefault(c.key, []).extend(
                source.unmapped(copy_end.chrom, max(0, copy_end.pos - UNMAPPED_WINDOW), copy_end.pos + UNMAPPED_WINDOW))
    counted = add_ambiguous_support(called, splits, inputs.params, clips)
    counted = add_unmapped_support(counted, beside)
    if gathered.ambiguous_pairs:
        counted = add_ambiguous_pairs(counted, pairs_fitting(gathered.ambiguous_pairs, counted, discarded,
                                                             inputs.params, found.lookup))
    return _recounted(counted, called, inputs, found.lookup), discarded


MAX_COPY_ENDS = 4  # copies of a call's target breakend whose clipped reads are looked at, at most
CopyEnds = dict[int, list[tuple[Breakend, bool]]]  # call key -> (a copy's breakend, the copy on the other strand)


def _copy_ends(called: list[Candidate], inputs: Inputs) -> CopyEnds:
    """Per exact call: the places where a copy of its target (:mod:`imtfusion.copies`;
    with a FASTA) spells the target bases next to its breakend, as breakends there, and
    whether the copy lies on the other genome strand. An aligner places the reads of a
    molecule whose target part a copy shares on either (BWA-MEM's capture EML4::ALK read
    on ALKP1, MAPQ 0, its EML4 bases a soft clip): the clip there is as much the call's."""
    ref = inputs.ref
    exact = [c for c in called if c.precision == "exact"]
    if ref is None or getattr(ref, "from_reads", False) or not exact:
        return {}
    index = TargetTranscripts(inputs.loci, inputs.annotation, ref.fetch)
    spliced = index.spliced
    if not spliced:
        return {}
    found = target_copies(index.described(), inputs.annotation, ref)
    out: CopyEnds = {}
    for c in exact:
        for end, three, gene in ((c.end3, True, c.gene3), (c.end5, False, c.gene5)):
            if gene.name not in c.targets:
                continue
            ends: dict[Breakend, bool] = {}
            for t, copies in zip(spliced, found):
                if t.transcript.gene_id != gene.gene_id or t.chrom != end.chrom or not copies.places:
                    continue
                plus = t.transcript.strand == "+"
                for o in (k for k, g in enumerate(t.genomic) if g == end.pos):
                    # the K-mer of kept bases next to the junction, the junction's base in it
                    start, d = (o, 0) if three else (o - UNMAPPED_K + 1, UNMAPPED_K - 1)
                    for p in copies.places.get(start, ()):
                        # the kept bases run up the copy's genome when its strand and the kept side agree
                        side = "R" if p.forward == three else "L"
                        ends.setdefault(Breakend(p.chrom, p.base(d), side), p.forward != plus)
            if ends:
                out[c.key] = list(ends.items())[:MAX_COPY_ENDS]
    return out


def _as_target_clip(clip: ClippedRead, copy_end: Breakend, end: Breakend, flipped: bool) -> ClippedRead:
    """A clipped read at ``copy_end``, a copy's breakend, as if at the target's ``end``: as
    many bases past it (an aligner extends a read through a base the partner shares: the
    clip starts that much later, on the copy as it would on the target), its bases
    complemented when the copy lies on the other strand, its duplicate key the UMI alone
    (``umis.COPY_PLACED``): its place there is the aligner's pick."""
    from imtfusion.evidence import complement
    from imtfusion.umis import COPY_PLACED

    past = (clip.end.pos - copy_end.pos) * (1 if copy_end.side == "L" else -1)  # bases aligned past the breakend
    at = Breakend(end.chrom, end.pos + past * (1 if end.side == "L" else -1), end.side)
    outward, inward = (complement(clip.outward), complement(clip.inward)) if flipped else (clip.outward, clip.inward)
    key = COPY_PLACED + (clip.dup_key[-1],) if clip.dup_key and clip.dup_key[-1] else clip.dup_key
    return dataclasses.replace(clip, end=at, outward=outward, inward=inward, dup_key=key)


def _recounted(new: list[Candidate], old: list[Candidate], inputs: Inputs, lookup: GeneLookup) -> list[Candidate]:
    """``new`` (the calls ``old`` with support added to some) with the molecules and start
    sites of those that changed counted again (:func:`_count_molecules`)."""
    changed = [c for c, was in zip(new, old) if c is not was]
    if not changed:
        return new
    contig_ids = {c: i for i, c in enumerate(inputs.info.contig_lengths)}
    recounted = iter(_count_molecules(changed, contig_ids, inputs.params, lookup))
    return [next(recounted) if c is not was else c for c, was in zip(new, old)]


def count_short_sides(judged: tuple[list[Candidate], list[Candidate]], inputs: Inputs, gathered: Gathered,
                      lookup: GeneLookup) -> tuple[list[Candidate], list[Candidate]]:
    """The calls with the reads without a position that spell their junction with only
    10-19 bases on one side (:func:`imtfusion.unplaced.short_side_reads`; kept while the
    unplaced reads were scanned, with the FASTA) counted for them: junction reads of their
    fragments (``split_fragments``, ``unmapped_fragments``), each with its UMI and no
    position as its duplicate key, the molecules counted again. Counted only once the
    call was made (they never make one nor raise its tier); the discarded as they were."""
    called, discarded = judged
    ref = inputs.ref
    if not gathered.short_side_reads or ref is None:
        return judged
    fused = _fused_transcripts(called, inputs.annotation, ref)
    flank = max(len(r[1]) for r in gathered.short_side_reads)
    placed = {t.key for t in fused}
    transcripts = inputs.annotation.transcripts_of
    own = {c.key: (own_continuations(c.end5, transcripts(c.gene5.gene_id), ref.fetch, flank, three=False),
                   own_continuations(c.end3, transcripts(c.gene3.gene_id), ref.fetch, flank, three=True))
           for c in called if c.key in placed}
    found = short_side_reads(gathered.short_side_reads, fused, own) if fused else {}
    out = []
    for c in called:
        have = c.split_fragments | c.discordant_fragments
        mine = [r for r in found.get(c.key, ()) if r.fragment not in have]
        out.append(_with_unplaced(c, mine, pairs=False) if mine else c)
    return _recounted(out, called, inputs, lookup), discarded


def name_and_show(sample: str, judged: tuple[list[Candidate], list[Candidate]], inputs: Inputs, gathered: Gathered,
                  source: EvidenceSource, copies: CopyEnds) -> Named:
    """The calls annotated and named (:func:`name_calls`), and what shows them: the
    sequences' accessions, the evidence BAM's records (``copies``: the calls' copy
    breakends, :func:`_copy_ends`, whose windows hold some of them), example reads and
    gene coverage."""
    ref = inputs.ref
    called, discarded = name_calls(sample, *judged, inputs.annotation, inputs.contigs, inputs.settings.domains,
                                   inputs.params, ref)
    accessions = {} if ref is None else {
        chrom: acc for chrom in sorted({e.chrom for c in called for e in (c.end5, c.end3)})
        if (acc := ref.accession(chrom)) is not None
    }
    at_copies = [(end.chrom, end.pos - UNMAPPED_WINDOW, end.pos + UNMAPPED_WINDOW)
                 for c in called for end, _ in copies.get(c.key, ())]
    support = collect_support(source, inputs.loci, called, gathered.evidence.record_names, at_copies)
    examples = junction_examples(support, called)
    coverage = _call_gene_coverage(source, inputs.annotation, inputs.contigs, inputs.loci, gathered.evidence.qc,
                                   called)
    return Named(called, discarded, accessions, support, examples, coverage, source.header())


def assess(sample: str, inputs: Inputs, gathered: Gathered, named: Named,
           imbalance_profile: "list[RatioObservation] | None", lookup: GeneLookup) -> Assessment:
    """The sample QC gates, the 3'/5' imbalance, the limits of detection and every
    target's status, with the notes they give."""
    params, loci, qc, house = inputs.params, inputs.loci, gathered.evidence.qc, gathered.house
    notes: list[str] = []
    blind = None
    if not gathered.chimeric and inputs.ref is None:
        # junction reads are then soft clips or unmapped reads, placed without the genome
        # sequence only where other reads spell the partner: a negative cannot be signed
        blind = (
            "the BAM has no chimeric (SA) alignments and no genome FASTA was given, so soft-clipped and "
            "unmapped junction reads are placed only on partners whose exons other reads cover: a fusion "
            "cannot be ruled out; rerun with the FASTA"
        )
    sample_qc = assess_sample_qc(qc, house, gathered.house_missing, params, gathered.mapped_records)
    imbalance = assess_imbalance(sample, loci, qc, [*named.called, *named.discarded], params, imbalance_profile,
                                 [q.profile for q in house.values()], primed=inputs.primer_set is not None)
    if gathered.house_missing:
        notes.append(f"housekeeping gene(s) {', '.join(gathered.house_missing)} not in the annotation or the BAM: "
                     "left out of the sample QC")
    lod = assess_lod(qc, house, sample_qc, params)
    partners: dict[str, set[str]] = {}
    for c in named.called:
        for target in c.targets:
            partners.setdefault(target, set()).update({c.gene5.name, c.gene3.name} - {target})
    ambiguous = ambiguous_junctions(qc, lookup, params, partners, inputs.primer_set,
                                    dict(enumerate(inputs.info.contig_lengths)))
    statuses = target_statuses(loci, qc, named.called, params, blind, imbalance, sample_qc.reason(), lod, ambiguous)
    renames = inputs.contigs.renamed
    if renames:
        shown = ", ".join(f"{g}->{b}" for g, b in sorted(renames.items())[:4])
        notes.append(f"GTF contig names were matched to the BAM's by adding/removing 'chr' ({shown}, ...)")
    if not gathered.chimeric:
        notes.append(
            "the BAM carries no chimeric (SA-tagged) alignments in the target loci; calls rely on "
            "discordant mates, soft clips, unmapped reads and spliced alignments"
            + ("" if inputs.ref is not None else " and, without a FASTA, targets without a call are not assessable")
        )
    return Assessment(sample_qc, statuses, tuple(notes))


def sample_result(sample: str, inputs: Inputs, gathered: Gathered, found: Found, named: Named,
                  assessment: Assessment, fasta, primers) -> SampleResult:
    """The sample's :class:`SampleResult`; its notes in the order the stages gave them."""
    annotation = inputs.annotation
    return SampleResult(
        sample=sample,
        bam=inputs.info,
        annotation_source=annotation.source,
        annotation_checksum=annotation.checksum,
        fasta=str(fasta) if fasta else None,
        loci=inputs.loci,
        called=named.called,
        discarded=named.discarded,
        statuses=assessment.statuses,
        params=inputs.params,
        contig_renames=inputs.contigs.renamed,
        known=inputs.settings.known,
        notes=[*annotation.notes, *gathered.notes, *found.notes, *assessment.notes],
        evidence_records=named.support,
        bam_header=named.header,
        gene_coverage=named.coverage,
        annotation=annotation,
        sample_qc=assessment.sample_qc,
        housekeeping_profiles=[q.profile for q in gathered.house.values()],
        sequence_accessions=named.accessions,
        primers=str(primers) if primers else None,
        examples=named.examples,
    )


def run_sample(
    bam_path: str | Path,
    annotation: Annotation | str | Path,
    sample: str,
    targets: list[str] | tuple[str, ...] | None = None,
    params: CallParameters | None = None,
    fasta: str | Path | None = None,
    bam_index: str | Path | None = None,
    known_partners: str | Path | None = None,
    threads: int = 1,
    domains_file: str | Path | None = None,
    artefacts: "Artefacts | None" = None,
    imbalance_profile: "list[RatioObservation] | None" = None,
    primers: str | Path | None = None,
) -> SampleResult:
    """Call fusions of ``targets`` (target genes; None: the registry's default set) in one
    BAM. Raises an :class:`ImtfusionError` on bad input.

    ``artefacts`` are the batch's recurrent junctions and the user's known artefacts
    (:mod:`imtfusion.batch`), discarded as ``recurrent_in_batch``. ``imbalance_profile``
    is the batch's 3'/5' ratios (:mod:`imtfusion.imbalance`; without it, or with too few
    other samples in it, the shipped profile is the reference). ``primers`` is the primer
    BED of an anchored multiplex PCR panel (:mod:`imtfusion.primers`): reads starting at a
    primer are anchored reads, their primer bases no evidence, and distinct partner-side
    start sites stand in for the mate pairs such a library does not have."""
    settings = check_settings(sample, annotation, targets, params, known_partners, domains_file)
    source, info = EvidenceSource.open(bam_path, bam_index, str(fasta) if fasta else None, settings.params,
                                       threads=threads)
    inputs = None
    try:
        inputs = open_inputs(settings, info, fasta, primers)
        gathered = gather_evidence(inputs, source)
        found = find_candidates(inputs, gathered, source)
        repaired = pair_with_found_partners(inputs, gathered, found, source)
        if repaired is not None:  # a BAM without mate fields: the new pairs are placed with the rest
            gathered, found = repaired, find_candidates(inputs, repaired, source)
        candidates = measure_candidates(inputs, gathered, found, source)
        judged = judge_candidates(candidates, inputs, artefacts)
        copies = _copy_ends(judged[0], inputs)  # where the calls' target bases lie elsewhere: found once
        judged = count_ambiguous(judged, inputs, gathered, found, source, copies)
        judged = count_short_sides(judged, inputs, gathered, found.lookup)
        named = name_and_show(sample, judged, inputs, gathered, source, copies)
    except UnicodeDecodeError:
        raise AlignmentFileError(
            f"{info.path}: holds read names or tags that are not text; the BAM is damaged: re-create it"
        ) from None
    finally:
        # closing a damaged file can raise too; the reading error is the one to report
        with contextlib.suppress(OSError):
            source.close()
        if inputs is not None and inputs.ref is not None:
            inputs.ref.close()
    assessment = assess(sample, inputs, gathered, named, imbalance_profile, found.lookup)
    return sample_result(sample, inputs, gathered, found, named, assessment, fasta, primers)


def candidate_row(sample: str, c: Candidate) -> dict[str, object]:
    """A row of the fusions TSVs (:data:`FUSION_COLUMNS`), from the call's record."""
    r = call_record(c)
    return {
        "sample": sample,
        "fusion": r.fusion,
        "gene5": r.gene5,
        "gene3": r.gene3,
        "breakpoint5": r.breakpoint5,
        "breakpoint3": r.breakpoint3,
        "split_reads": r.split_reads,
        "discordant_pairs": r.discordant_pairs,
        "confidence": r.confidence,
        "fragments": r.fragments,
        "molecules": r.molecules,
        "start_sites": r.start_sites,
        "primer_reads": r.primer_reads,
        "primers": ",".join(r.primers) or ".",
        "target": ",".join(r.targets),
        "known": "known" if r.known else "novel",
        "transcript5": r.transcript5,
        "transcript3": r.transcript3,
        "exon5": r.exon5,
        "exon3": r.exon3,
        "site5": r.site5,
        "site3": r.site3,
        "reading_frame": r.reading_frame,
        "kinase_domain": r.kinase_domain,
        "retained_domains": "; ".join(r.retained_domains) if r.retained_domains is not None else None,
        "strand5": r.strand5,
        "strand3": r.strand3,
        "breakpoint_precision": r.breakpoint_precision,
        "homology": r.homology,
        "junction_shift": r.junction_shift,
        "best_anchor": r.best_anchor,
        "gene_id5": r.gene_id5,
        "gene_id3": r.gene_id3,
        "sequence": r.sequence,
        "fusion_transcript": r.fusion_transcript,
        "peptide": r.peptide,
        "isoforms": "; ".join(k.label() for k in r.isoforms),
        "filters": ",".join(r.filters),
        "main_call": r.main_call if r.main_call is not None else "",
        "hgvs": r.hgvs,
        "exon_description": r.exon_description,
    }


def status_rows(result: SampleResult) -> list[dict[str, object]]:
    rows = []
    qc = result.sample_qc
    for s in result.statuses:
        rows.append(
            {
                "sample": result.sample,
                "target": s.target,
                "status": s.status,
                "fusions": ",".join(s.fusions),
                "reason": s.reason,
                "locus": s.qc.locus,
                "reads": s.qc.reads,
                "exon_reads": s.qc.exon_reads,
                "mean_exon_coverage": round(s.qc.mean_exon_coverage, 2),
                "duplicates": s.qc.duplicates,
                "chimeric_records": s.qc.chimeric_records,
                **imbalance_columns(s.imbalance),
                "sample_qc": result.sample_qc.summary() if result.sample_qc is not None else None,
                **lod_columns(s.lod),
                "unique_fragments": qc.unique_fragments_of(s.qc) if qc is not None else None,
                "on_target_fraction": qc.on_target_fraction if qc is not None else None,
                "control_junction_reads": qc.control_junction_reads if qc is not None else None,
                "duplicate_rate": qc.duplicate_rate if qc is not None else None,
                "median_insert": qc.median_insert if qc is not None else None,
            }
        )
    return rows


def imbalance_columns(v: "ImbalanceResult | None") -> dict[str, object]:
    """targets.tsv's imbalance columns ('.' where a figure is not there)."""
    if v is None:
        return {"imbalance": "not assessed", "imbalance_z": None, "imbalance_ratio": None, "depth5": None,
                "depth3": None, "imbalance_reference": None}
    measured = v.ln_ratio is not None
    return {
        "imbalance": v.verdict,
        "imbalance_z": v.z,
        "imbalance_ratio": v.ratio,
        "depth5": v.depth5 if measured else None,
        "depth3": v.depth3 if measured else None,
        "imbalance_reference": v.reference or None,
    }


def lod_columns(v: "LodResult | None") -> dict[str, object]:
    """targets.tsv's LoD columns: the fractions (4 decimals; '.' where none is reached), the
    region and its depth."""
    if v is None:
        return {"lod": None, "lod_known": None, "lod_exons": None, "lod_depth": None}
    return {"lod": None if v.lod is None else round(v.lod, 4),
            "lod_known": None if v.lod_known is None else round(v.lod_known, 4),
            "lod_exons": v.region, "lod_depth": round(v.depth, 2)}


def sample_paths(outdir: str | Path, sample: str) -> dict[str, Path]:
    base = Path(outdir) / sample
    return {
        "fusions": base / f"{sample}.fusions.tsv",
        "discarded": base / f"{sample}.fusions.discarded.tsv",
        "targets": base / f"{sample}.targets.tsv",
        "report": base / f"{sample}.report.html",
        "evidence_bam": base / f"{sample}.evidence.bam",
        "vcf": base / f"{sample}.fusions.vcf",
        "json": base / f"{sample}.fusions.json",
        "vicc": base / f"{sample}.vicc.json",
    }


def remove_stale_temporaries(folder: Path) -> None:
    """Temporary files of an earlier run that was killed before renaming them."""
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_sample_outputs(result: SampleResult, outdir: str | Path, now: _dt.datetime | None = None) -> dict[str, Path]:
    """Write every per-sample file; each replaces its predecessor only when complete."""
    from imtfusion.jsonout import render_json
    from imtfusion.report import render_sample_report
    from imtfusion.vcf import render_vcf
    from imtfusion.vicc import render_vicc

    paths = sample_paths(outdir, result.sample)
    remove_stale_temporaries(paths["fusions"].parent)
    write_evidence_bam(result.evidence_records, result.bam_header, paths["evidence_bam"], result.command or "imtfusion call")
    write_tsv(paths["fusions"], FUSION_COLUMNS, [candidate_row(result.sample, c) for c in result.called])
    write_tsv(paths["discarded"], DISCARDED_COLUMNS, [candidate_row(result.sample, c) for c in result.discarded])
    write_tsv(paths["targets"], TARGET_COLUMNS, status_rows(result))
    write_text(paths["vcf"], render_vcf(result))
    write_text(paths["json"], render_json(result))
    write_text(paths["vicc"], render_vicc(result))
    write_text(paths["report"], render_sample_report(result, result.annotation, now=now))
    return paths
