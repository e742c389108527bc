rule index_annotation:
    """Parse the GTF once per batch; every sample loads the compact index."""
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
    shell:
        "imtfusion index-gtf --gtf {input.gtf:q} {params.fasta} --output {output:q} > {log:q} 2>&1"
