"""Target loci and contig naming between the GTF and the BAM.

A target locus is the target gene's span from the GTF plus a margin on both sides, in
the BAM's contig names. ``chr2`` vs ``2`` (and ``chrM`` vs ``MT``) are resolved
automatically when exactly one BAM contig matches; the renaming is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from imtfusion.annotation import Annotation, Gene
from imtfusion.errors import ContigMismatchError, TargetGeneNotFoundError
from imtfusion.registry import BUILDS, TargetRegistry, default_targets, load_registry

# Human assemblies are told apart by contig lengths (bp) and by where the target genes start
# (1-based), both from the target registry (resources/targets.tsv). A BAM of one build
# with a GTF of the other puts every gene a few hundred kb off while still inside the
# contig: only these figures reveal it.
GENE_START_TOLERANCE = 60_000  # annotation versions move gene starts by less than this


def _aliases(name: str) -> list[str]:
    out = [name]
    if name.startswith("chr"):
        bare = name[3:]
        out.append(bare)
        if bare == "M":
            out.append("MT")
    else:
        out.append("chr" + name)
        if name == "MT":
            out.append("chrM")
    return out


@dataclass
class ContigMap:
    """Name translation between annotation (GTF) contigs and alignment (BAM) contigs."""

    gtf_to_bam: dict[str, str]
    bam_to_gtf: dict[str, str]
    bam_lengths: dict[str, int]

    @classmethod
    def build(cls, gtf_contigs: list[str], bam_lengths: dict[str, int]) -> "ContigMap":
        gtf_to_bam: dict[str, str] = {}
        for name in gtf_contigs:
            matches = [a for a in _aliases(name) if a in bam_lengths]
            if matches:
                gtf_to_bam[name] = matches[0]
        bam_to_gtf = {b: g for g, b in gtf_to_bam.items()}
        return cls(gtf_to_bam, bam_to_gtf, dict(bam_lengths))

    @property
    def renamed(self) -> dict[str, str]:
        return {g: b for g, b in self.gtf_to_bam.items() if g != b}

    def to_bam(self, gtf_contig: str) -> str | None:
        return self.gtf_to_bam.get(gtf_contig)

    def to_gtf(self, bam_contig: str) -> str:
        return self.bam_to_gtf.get(bam_contig, bam_contig)


@dataclass(frozen=True, slots=True)
class TargetLocus:
    """A target gene and the region fetched for it (BAM contig names, 0-based)."""

    gene: Gene  # GTF coordinates and names
    chrom: str  # BAM contig name
    start: int
    end: int
    exons: tuple[tuple[int, int], ...]  # merged exons of the gene (GTF == BAM coordinates)
    # the exons of the transcript a report numbers exons by (transcript_tags, then the
    # longest CDS), exon 1 first: the exon-level coverage (3'/5' imbalance) is theirs
    transcript_id: str = ""
    transcript_exons: tuple[tuple[int, int], ...] = ()

    @property
    def name(self) -> str:
        return self.gene.name

    def label(self) -> str:
        return f"{self.chrom}:{self.start + 1}-{self.end}"

    def contains(self, chrom: str, pos: int) -> bool:
        return chrom == self.chrom and self.start <= pos < self.end


def _bare(name: str) -> str:
    return name[3:] if name.startswith("chr") else name


def __getattr__(name: str):
    # DEFAULT_TARGETS is the registry's default set, read when first asked for (a
    # malformed registry then fails as a one-line error, not at import)
    if name == "DEFAULT_TARGETS":
        return default_targets()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def bam_build(bam_lengths: dict[str, int], registry: TargetRegistry | None = None) -> str | None:
    """GRCh37 or GRCh38 when the BAM's contig lengths match one of them, else None."""
    registry = registry or load_registry()
    bare = {_bare(k): v for k, v in bam_lengths.items()}
    for build in BUILDS:
        lengths = registry.contig_lengths(build)
        shared = [c for c in lengths if c in bare]
        if shared and all(bare[c] == lengths[c] for c in shared):
            return build
    return None


def gtf_build(genes: dict[str, tuple[str, int]], registry: TargetRegistry | None = None) -> str | None:
    """GRCh37 or GRCh38 when the target genes of the GTF sit where that build has them.

    ``genes`` maps a gene name to (contig, 1-based start)."""
    registry = registry or load_registry()
    for build in BUILDS:
        known = registry.gene_starts(build)
        hits = [
            name
            for name, (chrom, start) in genes.items()
            if name in known and _bare(chrom) == known[name][0] and abs(start - known[name][1]) <= GENE_START_TOLERANCE
        ]
        if hits and len(hits) == len([n for n in genes if n in known]):
            return build
    return None


def check_build(annotation_genes: dict[str, tuple[str, int]], bam_lengths: dict[str, int], bam_path: str, gtf: str) -> None:
    """Stop when the BAM and the GTF are recognisably of different human builds."""
    b, g = bam_build(bam_lengths), gtf_build(annotation_genes)
    if b and g and b != g:
        raise ContigMismatchError(
            f"{bam_path} is aligned to {b} (its contig lengths) but the GTF {gtf} places the target genes "
            f"as in {g}; use the {b} GTF the BAM was aligned against (or realign)"
        )


def _find_target(annotation: Annotation, name: str) -> Gene:
    """The target's gene; when the GTF lacks it but has one of its registry aliases (an
    annotation older than the HGNC symbol), the error says so."""
    try:
        return annotation.find_gene(name)
    except TargetGeneNotFoundError as exc:
        registry = load_registry()
        entry = registry.gene(name)
        for alias in entry.aliases if entry else ():
            try:
                annotation.find_gene(alias, by_id=False)
            except TargetGeneNotFoundError:
                continue
            raise TargetGeneNotFoundError(
                f"{exc}; the annotation has {alias}, an earlier symbol or alias of {name} ({registry.path}): use a GTF "
                f"that names the gene {name}"
            ) from None
        raise


def _numbered_transcript(annotation: Annotation, gene: Gene, tags: tuple[str, ...] | None) -> dict:
    """The transcript_id and exons (exon 1 first) of the gene's reported transcript."""
    transcript = (annotation.canonical_transcript(gene.gene_id, tags) if tags is not None
                  else annotation.canonical_transcript(gene.gene_id))
    if transcript is None:
        return {}
    return {"transcript_id": transcript.transcript_id, "transcript_exons": tuple(transcript.exons)}


def resolve_targets(
    annotation: Annotation,
    names: list[str] | tuple[str, ...],
    margin: int,
    contigs: ContigMap,
    bam_path: str,
    transcript_tags: tuple[str, ...] | None = None,
) -> list[TargetLocus]:
    """Look up each target gene and translate it to a BAM region.

    Raises :class:`ContigMismatchError` when the gene's contig is absent from the BAM or
    the gene lies beyond the contig's end (the GTF is of another genome build).
    """
    genes = {name: _find_target(annotation, name) for name in names}
    check_build({n: (g.chrom, g.start + 1) for n, g in genes.items()}, contigs.bam_lengths, bam_path, annotation.source)
    loci: list[TargetLocus] = []
    for name in names:
        gene = genes[name]
        bam_chrom = contigs.to_bam(gene.chrom)
        if bam_chrom is None:
            sample = ", ".join(sorted(contigs.bam_lengths)[:5])
            raise ContigMismatchError(
                f"{bam_path}: no contig matches {gene.chrom!r} where the GTF puts {gene.name} "
                f"(BAM contigs: {sample}, ...); use the GTF the reads were aligned against"
            )
        length = contigs.bam_lengths[bam_chrom]
        if gene.end > length:
            raise ContigMismatchError(
                f"{bam_path}: {gene.name} ends at {gene.chrom}:{gene.end} in the GTF but contig "
                f"{bam_chrom} is only {length} bp long in the BAM: the GTF and the BAM are of different "
                "genome builds (e.g. GRCh37 vs GRCh38); use the GTF of the build the BAM was aligned to"
            )
        loci.append(
            TargetLocus(
                gene=gene,
                chrom=bam_chrom,
                start=max(0, gene.start - margin),
                end=min(length, gene.end + margin),
                exons=tuple(annotation.exon_intervals(gene.gene_id)),
                **_numbered_transcript(annotation, gene, transcript_tags),
            )
        )
    return loci


def resolve_genes(
    annotation: Annotation,
    names: list[str] | tuple[str, ...],
    contigs: ContigMap,
    transcript_tags: tuple[str, ...] | None = None,
) -> tuple[list[TargetLocus], list[str]]:
    """Loci (the gene spans) of genes read for the sample QC, e.g. housekeeping genes, and
    the names the annotation or the BAM lacks (left out, not an error)."""
    from imtfusion.errors import ImtfusionError

    loci, missing = [], []
    for name in names:
        try:
            gene = annotation.find_gene(name, by_id=False)
        except ImtfusionError:
            missing.append(name)
            continue
        bam_chrom = contigs.to_bam(gene.chrom)
        if bam_chrom is None or gene.end > contigs.bam_lengths[bam_chrom]:
            missing.append(name)
            continue
        loci.append(TargetLocus(gene=gene, chrom=bam_chrom, start=gene.start, end=gene.end,
                                exons=tuple(annotation.exon_intervals(gene.gene_id)),
                                **_numbered_transcript(annotation, gene, transcript_tags)))
    return loci, missing
