"""imtfusion: targeted detection of the kinase fusions of inflammatory myofibroblastic tumour in
RNA-seq BAMs (target genes: the registry resources/targets.tsv, imtfusion.registry)."""

__version__ = "0.1.0"
