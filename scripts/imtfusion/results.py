"""What one sample's call produced: the per-target statuses and the sample's result.

:func:`imtfusion.pipeline.run_sample` makes a :class:`SampleResult`; the writers
(:mod:`imtfusion.outputs`, :mod:`imtfusion.jsonout`, :mod:`imtfusion.vcf`,
:mod:`imtfusion.vicc`, :mod:`imtfusion.report`) read it. It lives apart from the pipeline
so that the writers depend on the record, not on the pipeline that imports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from imtfusion import __version__

if TYPE_CHECKING:
    from imtfusion.annotation import Annotation
    from imtfusion.bamio import AlignmentInfo
    from imtfusion.calling import Candidate
    from imtfusion.imbalance import ImbalanceResult
    from imtfusion.lod import LodResult
    from imtfusion.knowledge import KnownFusion
    from imtfusion.model import GeneCoverage, TargetQC
    from imtfusion.params import CallParameters
    from imtfusion.sampleqc import SampleQC
    from imtfusion.targets import TargetLocus

STATUS_DETECTED = "detected"
STATUS_NOT_DETECTED = "not detected"
STATUS_NOT_ASSESSABLE = "not assessable"
STATUS_IMBALANCE = "imbalance: fusion suspected, partner not identified"


@dataclass
class TargetStatus:
    """One target gene's verdict in one sample (a row of ``{sample}.targets.tsv``)."""

    target: str
    status: str
    fusions: list[str]
    reason: str
    qc: TargetQC
    imbalance: "ImbalanceResult | None" = None
    lod: "LodResult | None" = None  # the limit of detection (imtfusion.lod)


@dataclass
class SampleResult:
    """Everything one sample's call found and read, as the writers need it."""

    sample: str
    bam: AlignmentInfo
    annotation_source: str
    annotation_checksum: str
    fasta: str | None
    loci: list[TargetLocus]
    called: list[Candidate]
    discarded: list[Candidate]
    statuses: list[TargetStatus]
    params: CallParameters
    contig_renames: dict[str, str]
    known: list[KnownFusion]
    version: str = __version__
    notes: list[str] = field(default_factory=list)
    evidence_records: list = field(default_factory=list, repr=False)  # tagged pysam records
    bam_header: dict = field(default_factory=dict, repr=False)
    gene_coverage: dict[str, GeneCoverage] = field(default_factory=dict, repr=False)
    command: str = ""
    annotation: Annotation | None = field(default=None, repr=False)  # exon structures for the report
    specimen: dict[str, str] = field(default_factory=dict)  # imtfusion.specimen fields, for the report
    sample_qc: "SampleQC | None" = None  # the sample QC gates
    housekeeping_profiles: list = field(default_factory=list, repr=False)  # their ExonProfiles (RNA degradation)
    sequence_accessions: dict[str, str] = field(default_factory=dict)  # refget accession per called contig (FASTA)
    primers: str | None = None  # the primer BED of an anchored multiplex PCR panel (imtfusion.primers), if given
    examples: dict[str, tuple] = field(default_factory=dict, repr=False)  # call ID -> a few junction ReadExamples (report)
