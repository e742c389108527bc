rule index_bam:
    """Index a BAM that has no usable index, into the results folder."""
    input:
        bam=get_bam,
    output:
        f"{OUTDIR}/{{sample}}/index/{{sample}}.bam.bai",
    log:
        f"{OUTDIR}/logs/index_bam/{{sample}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/index_bam/{{sample}}.tsv"
    conda:
        "../envs/imtfusion.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    params:
        bam=get_bam_path,
        outdir=results_dir,
    shell:
        "imtfusion index-bam --bam {params.bam:q} --output {output:q} --sample {wildcards.sample} "
        "--outdir {params.outdir:q} --record-failure > {log:q} 2>&1"


rule call_fusions:
    """Fusions of the target genes in one sample, and its report."""
    input:
        bam=get_bam,
        index=get_bam_index,
        annotation=rules.index_annotation.output[0],
        fasta=get_fasta_input,
        artefacts=get_artefacts_input,
        imbalance=get_imbalance_profile_input,
        primers=get_primers_input,
    output:
        fusions=report(
            f"{OUTDIR}/{{sample}}/{{sample}}.fusions.tsv",
            caption="../report/fusions.rst",
            category="Fusion tables",
            subcategory="fusions",
            labels={"sample": "{sample}", "table": "fusions.tsv"},
        ),
        discarded=f"{OUTDIR}/{{sample}}/{{sample}}.fusions.discarded.tsv",
        targets=report(
            f"{OUTDIR}/{{sample}}/{{sample}}.targets.tsv",
            caption="../report/targets.rst",
            category="Fusion tables",
            subcategory="target statuses",
            labels={"sample": "{sample}", "table": "targets.tsv"},
        ),
        report=report(
            f"{OUTDIR}/{{sample}}/{{sample}}.report.html",
            caption="../report/sample_report.rst",
            category="Sample reports",
            labels={"sample": "{sample}"},
        ),
        vcf=f"{OUTDIR}/{{sample}}/{{sample}}.fusions.vcf",
        json=f"{OUTDIR}/{{sample}}/{{sample}}.fusions.json",
        vicc=f"{OUTDIR}/{{sample}}/{{sample}}.vicc.json",
        evidence_bam=f"{OUTDIR}/{{sample}}/{{sample}}.evidence.bam",
        evidence_bai=f"{OUTDIR}/{{sample}}/{{sample}}.evidence.bam.bai",
    log:
        f"{OUTDIR}/logs/call_fusions/{{sample}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/call_fusions/{{sample}}.tsv"
    conda:
        "../envs/imtfusion.yaml"
    threads: 1
    resources:
        mem_mb=call_mem_mb,
        runtime=30,
    params:
        bam=get_bam_args,
        index=get_index_args,
        outdir=results_dir,
        fasta=get_fasta_args(),
        targets=get_targets_args(),
        extra=get_param_args(),
        artefacts=get_artefacts_args,
        imbalance=get_imbalance_profile_args,
        specimen=get_specimen_args,
        primers=get_primers_args,
    shell:
        "imtfusion call {params.bam} {params.index} --gtf {input.annotation:q} "
        "--sample {wildcards.sample} "
        "--outdir {params.outdir:q} {params.fasta} --targets {params.targets} {params.extra} "
        "{params.artefacts} {params.imbalance} {params.specimen} {params.primers} "
        "--threads {threads} --record-failure > {log:q} 2>&1"
