rule batch_candidates:
    """First pass of the batch filter and profile: every candidate of one sample and its
    kinase targets' 3'-to-5' ratios, no report."""
    input:
        bam=get_bam,
        index=get_usable_bam_index,
        annotation=rules.index_annotation.output[0],
        fasta=get_fasta_input,
        primers=get_primers_input,
    output:
        candidates=f"{OUTDIR}/batch/candidates/{{sample}}.candidates.tsv",
        ratios=f"{OUTDIR}/batch/ratios/{{sample}}.ratios.tsv",
    log:
        f"{OUTDIR}/logs/batch_candidates/{{sample}}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/batch_candidates/{{sample}}.tsv"
    conda:
        "../envs/imtfusion.yaml"
    threads: 1
    resources:
        mem_mb=call_mem_mb,
        runtime=30,
    params:
        bam=get_bam_args,
        index=get_index_args,
        fasta=get_fasta_args(),
        targets=get_targets_args(),
        extra=get_param_args(),
        primers=get_primers_args,
    shell:
        "imtfusion call {params.bam} {params.index} --temporary-index --gtf {input.annotation:q} "
        "--sample {wildcards.sample} --candidates-only {output.candidates:q} "
        "--exon-ratios {output.ratios:q} {params.fasta} "
        "--targets {params.targets} {params.extra} {params.primers} --threads {threads} "
        "--record-failure > {log:q} 2>&1"


rule batch_artefacts:
    """Junctions recurring with low support across the batch (and the known artefacts)."""
    input:
        candidates=expand(
            f"{OUTDIR}/batch/candidates/{{sample}}.candidates.tsv", sample=SAMPLES
        ),
        known=get_known_artefacts_input(),
    output:
        f"{OUTDIR}/batch/artefacts.tsv",
    log:
        f"{OUTDIR}/logs/batch_artefacts.log",
    conda:
        "../envs/imtfusion.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        known=get_known_artefacts_args(),
        rules=get_batch_filter_args(),
    shell:
        "imtfusion batch-artefacts --candidates {input.candidates:q} {params.known} "
        "{params.rules} --output {output:q} > {log:q} 2>&1"


rule batch_profile:
    """The batch's 3'-to-5' ratios of the kinase targets: each sample's reference."""
    input:
        ratios=expand(f"{OUTDIR}/batch/ratios/{{sample}}.ratios.tsv", sample=SAMPLES),
    output:
        f"{OUTDIR}/batch/imbalance_profile.tsv",
    log:
        f"{OUTDIR}/logs/batch_profile.log",
    conda:
        "../envs/imtfusion.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    shell:
        "imtfusion batch-profile --ratios {input.ratios:q} --output {output:q} > {log:q} 2>&1"
