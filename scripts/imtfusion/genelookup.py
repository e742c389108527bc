"""The genes at a breakend: which annotated genes lie at a BAM-named position (cached),
their exon boundaries and introns, and what a breakend is in its gene (splice site, exonic,
intronic, intergenic with the nearest gene).

Shared by the stages that place junctions on genes: :mod:`imtfusion.calling`,
:mod:`imtfusion.rescue` and :mod:`imtfusion.features` (and made once per sample by
:mod:`imtfusion.pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from imtfusion.annotation import Annotation, Gene
from imtfusion.model import Breakend
from imtfusion.targets import ContigMap


@dataclass(frozen=True, slots=True)
class GeneRef:
    """The gene at a breakend, or the nearest one when the breakend is intergenic."""

    name: str
    gene_id: str
    strand: str  # "+", "-" or "." when unknown
    gene_type: str
    intergenic: bool = False
    distance: int = 0

    @classmethod
    def of(cls, gene: Gene) -> "GeneRef":
        return cls(gene.name, gene.gene_id, gene.strand, gene.gene_type)


class GeneLookup:
    """Genes at BAM-named positions, cached."""

    def __init__(self, annotation: Annotation, contigs: ContigMap):
        self.annotation = annotation
        self.contigs = contigs
        self._splice: dict[str, set[tuple[int, str]]] = {}
        self._exons: dict[str, list[tuple[int, int]]] = {}
        self._genes_cache: dict[tuple[str, int], list[Gene]] = {}
        self._introns: dict[str, dict[tuple[int, str], set[tuple[int, str]]]] = {}

    def prefetch(self, positions: Iterable[tuple[str, int]]) -> None:
        """Annotate many positions at once against every gene of the GTF (any gene, not a
        fixed list, can be a partner): the annotation's interval index, one bisection each."""
        for chrom, pos in sorted({p for p in positions if p not in self._genes_cache}):
            self.genes_at(chrom, pos)

    def genes_at(self, chrom: str, pos: int) -> list[Gene]:
        cached = self._genes_cache.get((chrom, pos))
        if cached is not None:
            return cached
        genes = self.annotation.genes_overlapping(self.contigs.to_gtf(chrom), pos)
        self._genes_cache[(chrom, pos)] = genes
        return genes

    def in_pseudogenes_only(self, chrom: str, pos: int) -> bool:
        """Whether ``pos`` lies in genes and all of them are pseudogenes (GTF gene type
        ``*pseudogene``): a copy's place, not a gene's."""
        genes = self.genes_at(chrom, pos)
        return bool(genes) and all("pseudogene" in g.gene_type for g in genes)

    def splice_breakends(self, gene: Gene) -> set[tuple[int, str]]:
        if gene.gene_id not in self._splice:
            self._splice[gene.gene_id] = self.annotation.splice_breakends(gene.gene_id)
        return self._splice[gene.gene_id]

    def intron_pairs(self, gene: Gene) -> dict[tuple[int, str], set[tuple[int, str]]]:
        if gene.gene_id not in self._introns:
            self._introns[gene.gene_id] = self.annotation.intron_pairs(gene.gene_id)
        return self._introns[gene.gene_id]

    def exons(self, gene: Gene) -> list[tuple[int, int]]:
        if gene.gene_id not in self._exons:
            self._exons[gene.gene_id] = self.annotation.exon_intervals(gene.gene_id)
        return self._exons[gene.gene_id]

    def site(self, gene: GeneRef, end: Breakend) -> str:
        if gene.intergenic:
            return "intergenic"
        genes = [g for g in self.genes_at(end.chrom, end.pos) if g.gene_id == gene.gene_id]
        if not genes:
            return "intergenic"
        g = genes[0]
        if (end.pos, end.side) in self.splice_breakends(g):
            return "splice_site"
        for s, e in self.exons(g):
            if s <= end.pos < e:
                return "exonic"
        return "intronic"

    def nearest(self, end: Breakend) -> GeneRef:
        near = self.annotation.nearest_genes(self.contigs.to_gtf(end.chrom), end.pos)
        if not near:
            return GeneRef(f"intergenic@{end.chrom}:{end.pos + 1}", ".", ".", "intergenic", True, 0)
        gene, dist = near[0]
        return GeneRef(gene.name, gene.gene_id, gene.strand, gene.gene_type, True, dist)
