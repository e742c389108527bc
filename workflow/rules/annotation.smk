rule index_annotation:
    """Parse the GTF once per batch; every sample loads the compact index."""
    input:
        gtf=config["gtf"],
    output:
        f"{OUTDIR}/annotation/annotation.idx",
    log:
        f"{OUTDIR}/logs/index_annotation.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "imtfusion index-gtf --gtf {input.gtf:q} --output {output:q} > {log:q} 2>&1"
