"""A judged and annotated candidate as one flat, frozen record: the writers' one flattener.

:func:`call_record` reads a candidate once, after the filters, the annotation and the
call IDs, into a :class:`CallRecord` of typed values (numbers as numbers, lists as
tuples, ``None`` where a value is missing); the fusions TSVs
(:func:`imtfusion.pipeline.candidate_row`), the JSON (:mod:`imtfusion.jsonout`), the VCF
(:mod:`imtfusion.vcf`) and the report's call cards (:mod:`imtfusion.report`) all write
from it, each in its own format. A field added here is one place to read it from; how
each format spells it stays with the format.

Values are kept as the annotation gives them (a transcript may be ``"."`` when the GTF
has none): the TSV writes them as they are, the JSON turns ``""`` and ``"."`` into
``null``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from imtfusion.model import Breakend

if TYPE_CHECKING:  # pragma: no cover
    from imtfusion.calling import Candidate

SEQUENCE_SHOWN = 30  # read bases each side of the junction in the tables


@dataclass(frozen=True, slots=True)
class IsoformRecord:
    """Another junction of a call's gene pair, listed with the call."""

    id: str
    breakpoint5: str
    breakpoint3: str
    split_reads: int
    discordant_pairs: int
    breakpoint_precision: str

    def label(self) -> str:
        return (f"{self.breakpoint5}::{self.breakpoint3} ({self.split_reads} split, {self.discordant_pairs} "
                f"discordant, {self.breakpoint_precision}; {self.id})")


@dataclass(frozen=True, slots=True)
class CallRecord:
    """Everything the outputs say of one candidate (README, "Outputs", for each column)."""

    id: str
    fusion: str
    gene5: str
    gene3: str
    gene_id5: str
    gene_id3: str
    strand5: str
    strand3: str
    intergenic5: bool
    intergenic3: bool
    breakend5: Breakend
    breakend3: Breakend
    split_reads: int
    clipped_split_reads: int  # of the split-read fragments, those seen as soft clips only
    ambiguous_split_reads: int  # of them, those placed below min_mapq or as secondary alignments, counted once the call was made
    discordant_pairs: int
    unplaced_pairs: int  # of those, pairs the aligner left unmapped, placed on the fused transcript
    ambiguous_pairs: int  # of those, pairs with one mate placed below min_discordant_mapq, counted once the call was made
    fragments: int
    molecules: int
    umis: bool
    start_sites: int
    primer_reads: int
    primers: tuple[str, ...]
    confidence: str
    confidence_reason: str
    targets: tuple[str, ...]
    known: bool
    transcript5: str | None
    transcript3: str | None
    exon5: int | None
    exon3: int | None
    site5: str
    site3: str
    reading_frame: str
    kinase_domain: str | None
    retained_domains: tuple[str, ...] | None  # None: not annotated
    breakpoint_precision: str
    homology: int
    junction_shift: int
    best_anchor: int
    sequence5: str  # the 5' read bases next to the junction, junction last (transcript orientation)
    sequence3: str  # the 3' read bases next to the junction, junction first
    fusion_transcript: str | None
    peptide: str | None
    filters: tuple[str, ...]
    isoforms: tuple[IsoformRecord, ...]
    main_call: str | None
    refseq5: str | None
    refseq3: str | None
    hgvs: str | None
    exon_description: str | None
    ref_base5: str
    ref_base3: str

    @property
    def breakpoint5(self) -> str:
        return self.breakend5.label()

    @property
    def breakpoint3(self) -> str:
        return self.breakend3.label()

    @property
    def sequence(self) -> str:
        """The TSV's ``sequence``: 5' bases | 3' bases, or '' without junction reads."""
        return f"{self.sequence5}|{self.sequence3}" if (self.sequence5 or self.sequence3) else ""


def isoform_record(c: "Candidate") -> IsoformRecord:
    return IsoformRecord(c.call_id, c.end5.label(), c.end3.label(), c.split_reads, c.discordant_pairs, c.precision)


def call_record(c: "Candidate") -> CallRecord:
    """The record of a candidate the filters judged (annotated, with its call ID)."""
    a = c.annotation
    return CallRecord(
        id=c.call_id,
        fusion=c.fusion,
        gene5=c.gene5.name,
        gene3=c.gene3.name,
        gene_id5=c.gene5.gene_id,
        gene_id3=c.gene3.gene_id,
        strand5=c.gene5.strand,
        strand3=c.gene3.strand,
        intergenic5=bool(c.gene5.intergenic),
        intergenic3=bool(c.gene3.intergenic),
        breakend5=c.end5,
        breakend3=c.end3,
        split_reads=c.split_reads,
        clipped_split_reads=len(c.clipped_fragments),
        ambiguous_split_reads=len(c.ambiguous_fragments),
        discordant_pairs=c.discordant_pairs,
        unplaced_pairs=len(c.unplaced_pairs),
        ambiguous_pairs=len(c.ambiguous_pairs),
        fragments=c.fragments,
        molecules=c.molecules,
        umis=bool(c.umis),
        start_sites=c.start_sites,
        primer_reads=c.primer_reads,
        primers=tuple(c.primer_names),
        confidence=c.confidence,
        confidence_reason=c.verdict.reason if c.verdict is not None else "not rated",
        targets=tuple(c.targets),
        known=bool(c.known),
        transcript5=a.transcript5 if a else None,
        transcript3=a.transcript3 if a else None,
        exon5=a.exon5 if a else None,
        exon3=a.exon3 if a else None,
        site5=a.site5 if a else c.site5,
        site3=a.site3 if a else c.site3,
        reading_frame=a.reading_frame if a else "unknown",
        kinase_domain=a.kinase_domain if a else None,
        retained_domains=tuple(a.retained_domains) if a else None,
        breakpoint_precision=c.precision,
        homology=int(c.homology),
        junction_shift=int(c.shifted),
        best_anchor=int(c.best_anchor),
        sequence5=c.sequence5[:SEQUENCE_SHOWN][::-1],
        sequence3=c.sequence3[:SEQUENCE_SHOWN],
        fusion_transcript=a.fusion_transcript if a else None,
        peptide=a.peptide if a else None,
        filters=tuple(c.filters),
        isoforms=tuple(isoform_record(k) for k in c.isoforms),
        main_call=c.main_call,
        refseq5=a.junction5.refseq if a and a.junction5 else None,
        refseq3=a.junction3.refseq if a and a.junction3 else None,
        hgvs=a.hgvs if a else None,
        exon_description=a.exon_description if a else None,
        ref_base5=c.ref_base5,
        ref_base3=c.ref_base3,
    )
