rule index_annotation:
    """Parse the GTF once per batch; every sample loads the compact index (with the FASTA,
    also the genome's exon boundaries and the copies of the target transcripts)."""
    input:
        gtf=config["gtf"],
        fasta=get_fasta_input,
    output:
        f"{OUTDIR}/annotation/annotation.idx",
    log:
        f"{OUTDIR}/logs/index_annotation.log",
    conda:
        "../envs/imtfusion.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        fasta=get_fasta_args(),
        # with the FASTA: where else the genome spells the targets' transcripts, found once per batch
        targets=get_targets_args(),
    shell:
        "imtfusion index-gtf --gtf {input.gtf:q} {params.fasta} --targets {params.targets} --output {output:q} "
        "> {log:q} 2>&1"
