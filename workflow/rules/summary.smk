rule summary:
    """The batch table and page: samples x targets."""
    input:
        expand(f"{OUTDIR}/{{sample}}/{{sample}}.targets.tsv", sample=SAMPLES),
        expand(f"{OUTDIR}/{{sample}}/{{sample}}.fusions.tsv", sample=SAMPLES),
    output:
        tsv=report(
            f"{OUTDIR}/summary.tsv",
            caption="../report/summary_tsv.rst",
            category="Batch summary",
            labels={"file": "summary.tsv"},
        ),
        html=report(
            f"{OUTDIR}/summary.html",
            caption="../report/summary_html.rst",
            category="Batch summary",
            labels={"file": "summary.html"},
        ),
        multiqc=f"{OUTDIR}/imtfusion_mqc.yaml",
    log:
        f"{OUTDIR}/logs/summary.log",
    conda:
        "../envs/imtfusion.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        outdir=results_dir,
        samples=" ".join(SAMPLES),
        targets=get_targets_args(),
    shell:
        "imtfusion summarize --outdir {params.outdir:q} --samples {params.samples} "
        "--targets {params.targets} > {log:q} 2>&1"
