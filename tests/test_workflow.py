"""The Snakemake workflow end to end: the demo batch, and a batch with broken samples."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from imtfusion.lod import base_status
import yaml

from test_calling import PARTP_ALK_READ, add_background, make_toy

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def run_snakemake(workdir: Path, config: dict, *extra: str) -> subprocess.CompletedProcess:
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = dict(os.environ)
    # the rules call `imtfusion`: make the interpreter's scripts folder visible
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "workflow" / "Snakefile"),
        "--configfile", str(config_path),
        "--directory", str(workdir),
        "--cores", "2",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)


def demo_sample_sheet(path: Path) -> Path:
    rows = read_tsv(DEMO / "samples.tsv")
    lines = ["sample\tbam"] + [f"{r['sample']}\t{REPO / r['bam']}" for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("target_set", ["default", "imt-extended"])
def test_demo_batch_finds_every_truth_fusion_of_its_targets_exactly(tmp_path, target_set):
    """With the default targets the demo's TPM3::NTRK1 (IMT06) is in no table, and IMT06
    reads as negative; with imt-extended every truth fusion is called."""
    from imtfusion.registry import resolve_target_names

    outdir = tmp_path / "results"
    config = {
        "samples": str(demo_sample_sheet(tmp_path / "samples.tsv")),
        "gtf": str(DEMO / "annotation.gtf"),
        "fasta": str(DEMO / "genome.fa"),
        "outdir": str(outdir),
        "targets": target_set,
    }
    targets = resolve_target_names(target_set)
    proc = run_snakemake(tmp_path, config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    all_truth = read_tsv(DEMO / "truth.tsv")
    truth = [t for t in all_truth if t["gene5"] in targets or t["gene3"] in targets]
    if target_set == "default":
        assert [t["fusion"] for t in all_truth if t not in truth] == ["TPM3::NTRK1"]
        assert "NTRK1" not in (outdir / "IMT06" / "IMT06.fusions.discarded.tsv").read_text()
    else:
        assert truth == all_truth
    samples = [r["sample"] for r in read_tsv(DEMO / "samples.tsv")]
    assert {t["sample"] for t in truth} < set(samples)  # at least one negative sample
    for sample in samples:
        calls = read_tsv(outdir / sample / f"{sample}.fusions.tsv")
        expected = [t for t in truth if t["sample"] == sample]
        found = {(c["fusion"], c["breakpoint5"], c["breakpoint3"]) for c in calls}
        want = {(t["fusion"], t["breakpoint5"], t["breakpoint3"]) for t in expected}
        assert found == want, f"{sample}: called {found}, truth {want}"
        for t in expected:
            [c] = [c for c in calls if c["fusion"] == t["fusion"]]
            assert (c["exon5"], c["exon3"]) == (t["exon5"], t["exon3"]), sample
            assert (c["transcript5"], c["transcript3"]) == (t["transcript5"], t["transcript3"]), sample
            assert c["reading_frame"] == t["reading_frame"], sample
            assert c["kinase_domain"] == "retained", sample  # every demo fusion keeps the 3' kinase
            assert c["known"] == "known", sample
        assert (outdir / sample / f"{sample}.report.html").stat().st_size > 0
    summary = read_tsv(outdir / "summary.tsv")
    assert len(summary) == len(samples) * len(targets)
    assert (outdir / "imtfusion_mqc.yaml").exists()
    exons = {(r["sample"], r["fusions"]): r["exons"] for r in summary if r["fusions"] != "."}
    for t in truth:
        assert exons[(t["sample"], t["fusion"])] == f"{t['gene5']} e{t['exon5']}::{t['gene3']} e{t['exon3']}"
    detected = {(r["sample"], r["target"]) for r in summary if r["status"] == "detected"}
    want_detected = set()
    for t in truth:
        for gene in (t["gene5"], t["gene3"]):
            if gene in targets:
                want_detected.add((t["sample"], gene))
    assert detected == want_detected
    negatives = [s for s in samples if s not in {t["sample"] for t in truth}]
    for s in negatives:
        # the demo is shallow: a negative target reads not detected or, LoD above
        # lod_max_fraction, not assessable (LoD above 25%); never detected or suspected
        assert {base_status(r["status"]) for r in summary if r["sample"] == s} <= {"not detected", "not assessable"}


def fusion_toy():
    """The toy genome with a PARTP::ALK fusion of four fragments."""
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
    return toy


def test_a_broken_sample_does_not_stop_the_batch(tmp_path):
    toy = fusion_toy()
    good = toy.write_bam(tmp_path / "good.bam")
    truncated = tmp_path / "truncated.bam"
    truncated.write_bytes(good.read_bytes()[:-28])
    unindexed = tmp_path / "unindexed.bam"
    unindexed.write_bytes(good.read_bytes())
    gtf = toy.write_gtf(tmp_path / "genes.gtf")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(
        "sample\tbam\n"
        f"good\t{good}\n"
        f"missing\t{tmp_path / 'missing.bam'}\n"
        f"truncated\t{truncated}\n"
        f"unindexed\t{unindexed}\n"
    )
    outdir = tmp_path / "results"
    config = {
        "samples": str(sheet), "gtf": str(gtf), "outdir": str(outdir), "targets": ["ALK", "ETV6"],
        # parameters of every type pass the config schema and reach the calls
        "params": {"min_fragments": 3, "scan_unmapped": "auto", "clip_identity": 0.9, "transcript_tags": "MANE_Select"},
    }
    proc = run_snakemake(tmp_path, config, "--keep-going")
    assert proc.returncode != 0  # the failures are reported to the shell
    summary = {(r["sample"], r["target"]): r for r in read_tsv(outdir / "summary.tsv")}
    assert summary[("good", "ALK")]["status"] == "detected"
    assert summary[("missing", "ALK")]["status"] == "failed"
    assert "BAM not found" in summary[("missing", "ALK")]["reason"]
    assert summary[("truncated", "ALK")]["status"] == "failed"
    assert "truncated" in summary[("truncated", "ALK")]["reason"]
    # a BAM without index is indexed into the results folder, not next to the input
    assert summary[("unindexed", "ALK")]["status"] == "detected"
    assert (outdir / "unindexed" / "index" / "unindexed.bam.bai").exists()
    assert not Path(str(unindexed) + ".bai").exists()
    # failed samples have no result files that could pass for finished ones
    assert not (outdir / "truncated" / "truncated.fusions.tsv").exists()
    assert not (outdir / "missing" / "missing.fusions.tsv").exists()


def test_bad_sample_sheet_stops_before_any_job(tmp_path):
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tbam\nA\ta.bam\nA\tb.bam\n")
    config = {"samples": str(sheet), "gtf": str(DEMO / "annotation.gtf"), "outdir": str(tmp_path / "r"), "targets": ["ALK"]}
    proc = run_snakemake(tmp_path, config)
    assert proc.returncode != 0
    assert "sample 'A' appears on lines 2 and 3" in proc.stderr + proc.stdout
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- the batch artefact filter


def planned_jobs(workdir: Path, config: dict, *extra: str) -> tuple[dict[str, int], str]:
    """Jobs of a dry run by rule, and the shell commands it would run."""
    proc = run_snakemake(workdir, config, "--dry-run", "--printshellcmds", *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    counts: dict[str, int] = {}
    lines = text.split("Job stats:", 1)[1].splitlines()
    for line in lines[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts, text


def demo_config(tmp_path: Path, **extra) -> dict:
    return {
        "samples": str(demo_sample_sheet(tmp_path / "samples.tsv")),
        "gtf": str(DEMO / "annotation.gtf"),
        "fasta": str(DEMO / "genome.fa"),
        "outdir": str(tmp_path / "results"),
        "targets": ["ALK", "ROS1", "ETV6", "NTRK3"],
        **extra,
    }


def test_the_first_pass_runs_only_with_the_batch_filter_on_a_large_enough_batch(tmp_path):
    n = len(read_tsv(DEMO / "samples.tsv"))  # the demo's samples, defaults
    jobs, shell = planned_jobs(tmp_path, demo_config(tmp_path))
    assert jobs["batch_candidates"] == n and jobs["batch_artefacts"] == 1 and jobs["call_fusions"] == n
    assert "--artefacts" in shell and "batch/artefacts.tsv" in shell
    for batch_filter in ({"enabled": False}, {"min_samples": n + 1}):
        jobs, shell = planned_jobs(tmp_path, demo_config(tmp_path, batch_filter=batch_filter))
        assert "batch_candidates" not in jobs and "batch_artefacts" not in jobs, batch_filter
        assert jobs["call_fusions"] == n and "--artefacts" not in shell
    # without the batch filter, the known artefacts go to the calls directly
    known = tmp_path / "known.tsv"
    known.write_text("gene5\tgene3\tbreakpoint5\tbreakpoint3\tnote\nETV6\tNTRK3\t*\t*\tnot ours\n")
    jobs, shell = planned_jobs(tmp_path, demo_config(tmp_path, batch_filter={"enabled": False}, known_artefacts=str(known)))
    assert "batch_artefacts" not in jobs and f"--artefacts {known}" in shell
    # with it, they reach the calls through the batch table
    jobs, shell = planned_jobs(tmp_path, demo_config(tmp_path, known_artefacts=str(known)))
    assert jobs["batch_artefacts"] == 1 and f"--known-artefacts {known}" in shell


def test_the_batch_profile_runs_on_a_batch_large_enough_to_be_its_own_reference(tmp_path):
    # 6 demo samples: 5 others each, fewer than imbalance_min_reference (8): the shipped profile
    n = len(read_tsv(DEMO / "samples.tsv"))
    assert n < 8 + 1
    jobs, shell = planned_jobs(tmp_path, demo_config(tmp_path))
    assert "batch_profile" not in jobs and "--imbalance-profile" not in shell
    params = {"imbalance_min_reference": 2, "imbalance_min_reads": 20}
    jobs, shell = planned_jobs(tmp_path, demo_config(tmp_path, params=params, batch_filter={"enabled": False}))
    assert jobs["batch_candidates"] == n and jobs["batch_profile"] == 1 and "batch_artefacts" not in jobs
    assert "--exon-ratios" in shell and "--imbalance-profile" in shell and "--artefacts" not in shell
    jobs, _ = planned_jobs(tmp_path, demo_config(tmp_path, params=params, batch_profile={"enabled": False}))
    assert "batch_profile" not in jobs
    # run it: the demo's ALK without a call (IMT03-06) is compared with the other three
    proc = run_snakemake(tmp_path, demo_config(tmp_path, params=params))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = tmp_path / "results"
    rows = [line.split("\t") for line in (results / "batch" / "imbalance_profile.tsv").read_text().splitlines()
            if line and not line.startswith("#")]
    alk = sorted(r[0] for r in rows[1:] if r[1] == "ALK")
    assert alk == ["IMT03", "IMT04", "IMT05", "IMT06"]  # IMT01, IMT02: ALK detected, no reference for the others
    [imt03] = [r for r in read_tsv(results / "IMT03" / "IMT03.targets.tsv") if r["target"] == "ALK"]
    assert imt03["imbalance_reference"].startswith("batch (3 other samples")
    [imt01] = [r for r in read_tsv(results / "IMT01" / "IMT01.targets.tsv") if r["target"] == "ALK"]
    assert imt01["status"] == "detected" and imt01["imbalance_reference"].startswith("batch (4 other samples")


@pytest.mark.parametrize("params, message", [
    ({"min_fragment": 3}, "unknown parameter 'min_fragment'; did you mean 'min_fragments'?"),
    ({"scan_unmapped": "sometimes"}, "parameter 'scan_unmapped' must be auto, yes or no, got 'sometimes'"),
])
def test_a_mistyped_calling_parameter_stops_the_workflow_before_any_job(tmp_path, params, message):
    proc = run_snakemake(tmp_path, demo_config(tmp_path, params=params))
    assert proc.returncode != 0
    out = proc.stderr + proc.stdout
    assert "config key 'params' (or 'sample_qc'): " + message in out
    assert not (tmp_path / "results").exists()


def test_a_malformed_known_artefact_table_stops_before_any_job(tmp_path):
    known = tmp_path / "known.tsv"
    known.write_text("gene5\tgene3\tbreakpoint5\tbreakpoint3\tnote\nETV6\tNTRK3\tchr12\t*\tx\n")
    proc = run_snakemake(tmp_path, demo_config(tmp_path, known_artefacts=str(known)))
    assert proc.returncode != 0
    assert f"{known}: line 2: breakpoint5 'chr12' is not a 1-based chr:pos" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


def test_the_batch_discards_weak_copies_of_a_junction_and_a_failed_sample_does_not_stop_it(tmp_path):
    lines = ["sample\tbam"]
    for sample, n in {"strong": 20, "weak1": 2, "weak2": 2}.items():
        toy = make_toy()
        add_background(toy)
        for i in range(n):
            toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
        lines.append(f"{sample}\t{toy.write_bam(tmp_path / f'{sample}.bam')}")
    lines.append(f"missing\t{tmp_path / 'missing.bam'}")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("\n".join(lines) + "\n")
    outdir = tmp_path / "results"
    config = {"samples": str(sheet), "gtf": str(toy.write_gtf(tmp_path / "genes.gtf")), "outdir": str(outdir),
              "targets": ["ALK", "ETV6"],
              # toy libraries of a few dozen fragments: the QC gates lowered (test_sampleqc.py tests them)
              "params": {"min_fragments": 2, "qc_min_unique_fragments": 10, "qc_min_on_target_reads": 10}}
    proc = run_snakemake(tmp_path, config, "--keep-going")
    assert proc.returncode != 0  # the missing BAM fails its own sample
    summary = {(r["sample"], r["target"]): r for r in read_tsv(outdir / "summary.tsv")}
    assert summary[("missing", "ALK")]["status"] == "failed"
    assert summary[("strong", "ALK")]["status"] == "detected"
    [row] = read_tsv(outdir / "batch" / "artefacts.tsv")
    assert (row["gene5"], row["gene3"], row["batch_samples"], row["flagged_samples"]) == ("PARTP", "ALK", "3", "weak1,weak2")
    for sample in ("weak1", "weak2"):
        assert base_status(summary[(sample, "ALK")]["status"]) in {"not detected", "not assessable"}
        [d] = read_tsv(outdir / sample / f"{sample}.fusions.discarded.tsv")
        assert d["fusion"] == "PARTP::ALK" and "recurrent_in_batch" in d["filters"].split(",")
    assert "missing" in (outdir / "logs" / "batch_artefacts.log").read_text()


def test_summary_and_multiqc_keep_the_sample_sheets_order(tmp_path):
    toy = fusion_toy()
    bam = toy.write_bam(tmp_path / "s.bam")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"sample\tbam\nzeta\t{bam}\nalpha\t{bam}\nmid\t{bam}\n")
    outdir = tmp_path / "results"
    config = {"samples": str(sheet), "gtf": str(toy.write_gtf(tmp_path / "g.gtf")), "outdir": str(outdir),
              "targets": ["ALK", "ETV6"]}
    proc = run_snakemake(tmp_path, config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    order = list(dict.fromkeys(r["sample"] for r in read_tsv(outdir / "summary.tsv")))
    assert order == ["zeta", "alpha", "mid"]
    multiqc = yaml.safe_load((outdir / "imtfusion_mqc.yaml").read_text())
    rows = multiqc["data"]
    assert list(rows) == ["zeta", "alpha", "mid"]


def test_a_target_set_in_the_config_becomes_its_genes_and_a_wrong_one_is_one_line(tmp_path):
    from imtfusion.registry import resolve_target_names

    sheet = demo_sample_sheet(tmp_path / "samples.tsv")
    config = {"samples": str(sheet), "gtf": str(DEMO / "annotation.gtf"), "outdir": str(tmp_path / "r"),
              "targets": "imt-extended"}
    proc = run_snakemake(tmp_path, config, "-n", "-p")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"--targets {' '.join(resolve_target_names('imt-extended'))} " in proc.stdout
    proc = run_snakemake(tmp_path, dict(config, targets=["imt-extended", "TPM4"]), "-n", "-p")
    assert proc.returncode == 0 and f"{' '.join(resolve_target_names('imt-extended'))} TPM4 " in proc.stdout
    proc = run_snakemake(tmp_path, dict(config, targets="imt-extendd"), "-n")
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "config key 'targets': no target set 'imt-extendd'" in text and "Traceback" not in text


def test_config_defaults_and_one_line_per_problem(tmp_path):
    sheet = demo_sample_sheet(tmp_path / "samples.tsv")
    config = {"samples": str(sheet), "gtf": str(DEMO / "annotation.gtf"), "outdir": str(tmp_path / "r")}
    proc = run_snakemake(tmp_path, config, "-n")  # no targets given: the default four
    assert proc.returncode == 0, proc.stderr[-3000:]
    bad = dict(config, targets=[], batch_filter={"min_samples": 1}, tragets=["ALK"])
    proc = run_snakemake(tmp_path, bad, "-n")
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "fix these keys" in text
    assert "targets: [] should be non-empty" in text
    assert "batch_filter.min_samples: 1 is less than the minimum of 2" in text
    assert "'tragets' was unexpected" in text
    assert "$schema" not in text and "description" not in text  # no schema dump


def test_a_url_in_the_sample_sheet_is_read_remotely_not_missing(tmp_path):
    # a BAM on a web server (and its index given by a column) is no local input: the
    # dry run neither calls it missing nor plans to index it, and the call gets the URL
    sheet = tmp_path / "samples.tsv"
    rows = read_tsv(DEMO / "samples.tsv")
    url = "https://data.example.org/run7/R1.bam"
    sheet.write_text("sample\tbam\tbam_index\n" + f"{rows[0]['sample']}\t{REPO / rows[0]['bam']}\t\n"
                     + f"R1\t{url}\t{url}.csi\n")
    config = {"samples": str(sheet), "gtf": str(DEMO / "annotation.gtf"), "outdir": str(tmp_path / "r"),
              "batch_filter": {"enabled": False, "min_samples": 2}}
    proc = run_snakemake(tmp_path, config, "-n", "-p")
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout + proc.stderr
    assert "not found" not in text and "R1/index/" not in text  # no index made for the URL
    assert f"--bam {url}" in text and f"--bam-index {url}.csi" in text


def test_a_dry_run_names_every_missing_bam_at_once(tmp_path):
    sheet = tmp_path / "samples.tsv"
    rows = read_tsv(DEMO / "samples.tsv")
    sheet.write_text("sample\tbam\n" + f"{rows[0]['sample']}\t{REPO / rows[0]['bam']}\n"
                     + f"lost1\t{tmp_path / 'lost1.bam'}\nlost2\t{tmp_path / 'lost2.bam'}\n")
    config = {"samples": str(sheet), "gtf": str(DEMO / "annotation.gtf"), "outdir": str(tmp_path / "r")}
    proc = run_snakemake(tmp_path, config, "-n")
    assert proc.returncode == 0, proc.stderr[-2000:]  # the others still run
    text = proc.stdout + proc.stderr
    assert "2 of 3 BAM(s)" in text and "lost1 (" in text and "lost2 (" in text


def test_every_rule_that_reads_a_bam_leaves_a_benchmark():
    rules = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name, body = block.split(":", 1)
            rules[name.strip()] = body
    reading = {n for n, body in rules.items() if re.search(r"^\s+bam=get_bam,", body, re.M)}
    assert reading == {"index_bam", "batch_candidates", "call_fusions"}
    for name in reading:
        assert re.search(rf'^    benchmark:\n\s+f"{{OUTDIR}}/benchmarks/{name}/{{{{sample}}}}\.tsv"', rules[name], re.M), name
