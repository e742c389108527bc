"""The workflow on a real (single-node, throwaway) SLURM cluster through Snakemake's
SLURM executor and workflow/profiles/slurm: the demo batch gives the same tables as a
local run of the same config, and a failing sample is retried, then reported failed
while the others finish.

Skipped unless run as root with the Debian packages munge, mariadb-server, slurmdbd,
slurmctld, slurmd and slurm-client installed, and snakemake-executor-plugin-slurm in
the Python environment.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from imtfusion.lod import base_status
import yaml

from slurm_cluster import SlurmCluster, unavailable_reason

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
PER_SAMPLE_TSVS = ("fusions.tsv", "fusions.discarded.tsv", "targets.tsv")
RUN_TIMEOUT = 300  # seconds per Snakemake run; a SLURM run of the demo takes about a minute


@pytest.fixture(scope="module")
def slurm_cluster(request):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no SLURM test cluster: {reason}")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("snakemake-executor-plugin-slurm is not installed (pip install snakemake-executor-plugin-slurm)")
    # IMTFUSION_KEEP_SLURM=1 keeps the cluster's folder (configs, daemon logs) for debugging
    cluster = SlurmCluster(keep=bool(os.environ.get("IMTFUSION_KEEP_SLURM")))
    # registered before start(): whatever was started is stopped, also when start fails
    request.addfinalizer(cluster.stop)
    cluster.start()
    return cluster


def demo_bams() -> dict[str, Path]:
    with open(DEMO / "samples.tsv") as fh:
        return {r["sample"]: REPO / r["bam"] for r in csv.DictReader(fh, delimiter="\t")}


def demo_config(workdir: Path, bams: dict[str, Path] | None = None) -> Path:
    """The demo batch (or the given samples) with absolute paths, results inside workdir."""
    workdir.mkdir(parents=True)
    bams = demo_bams() if bams is None else bams
    sheet = workdir / "samples.tsv"
    sheet.write_text("sample\tbam\n" + "".join(f"{name}\t{bam}\n" for name, bam in bams.items()))
    config = {
        "samples": str(sheet),
        "gtf": str(DEMO / "annotation.gtf"),
        "fasta": str(DEMO / "genome.fa"),
        "outdir": str(workdir / "results"),
        "targets": ["ALK", "ROS1", "ETV6", "NTRK3"],
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(workdir: Path, env: dict[str, str], *extra: str, bams: dict[str, Path] | None = None):
    cmd = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "workflow" / "Snakefile"),
        "--configfile", str(demo_config(workdir, bams)),
        "--directory", str(workdir),
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=RUN_TIMEOUT)


def with_venv_first(env: dict[str, str], *before: Path) -> dict[str, str]:
    # The rules call `imtfusion`; SLURM jobs get the submitting environment (sbatch
    # --export=ALL), so this interpreter's scripts folder goes first on PATH.
    env = dict(env)
    env["PATH"] = os.pathsep.join([*map(str, before), str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def samples() -> list[str]:
    return list(demo_bams())


def on_slurm(cluster: SlurmCluster, workdir: Path, bams: dict[str, Path] | None = None):
    """Run with the SLURM profile; returns the process, its log and this run's SLURM jobs."""
    proc = snakemake(
        workdir, with_venv_first(cluster.env, cluster.bin),
        "--workflow-profile", str(PROFILE),
        # The plugin waits 40 s between status checks after a job finished; fine on a
        # busy cluster, needlessly slow for jobs of a few seconds.
        "--slurm-init-seconds-before-status-checks", "2",
        bams=bams,
    )
    log = proc.stdout + proc.stderr
    run_ids = re.findall(r"SLURM run ID: (\S+)", log)
    assert len(run_ids) == 1, f"{log[-4000:]}\n{cluster.log_tails()}"
    jobs = cluster.sacct("--name", run_ids[0])
    # Every job Snakemake reports as submitted is one the accounting database has under
    # this run's name, and nothing else is.
    assert {j["JobIDRaw"] for j in jobs} == set(re.findall(r"has been submitted with SLURM jobid (\d+)", log))
    return proc, log, jobs


@pytest.mark.slow
def test_demo_batch_on_slurm_gives_the_same_tables_as_a_local_run(slurm_cluster, tmp_path):
    local = snakemake(tmp_path / "local", with_venv_first(dict(os.environ)), "--cores", "2")
    assert local.returncode == 0, local.stderr[-3000:]
    assert "SLURM run ID" not in local.stdout + local.stderr  # the reference run stayed local

    proc, log, jobs = on_slurm(slurm_cluster, tmp_path / "slurm")
    assert proc.returncode == 0, f"{log[-4000:]}\n{slurm_cluster.log_tails()}"
    # every rule that does work went through SLURM, and each job completed
    assert {j["State"] for j in jobs} == {"COMPLETED"}, jobs
    # the batch artefact filter's first pass and its batch table are jobs too (the demo's
    # five samples are a batch large enough for it)
    assert sorted(j["Comment"] for j in jobs) == sorted(
        ["rule_index_annotation", "rule_summary", "rule_batch_artefacts"]
        + [f"rule_{rule}_wildcards_{s}" for s in samples() for rule in ("call_fusions", "batch_candidates")]
    )

    # same tables, byte for byte
    for sample in samples():
        for suffix in PER_SAMPLE_TSVS:
            name = f"{sample}/{sample}.{suffix}"
            ours = (tmp_path / "slurm" / "results" / name).read_bytes()
            assert ours == (tmp_path / "local" / "results" / name).read_bytes(), f"{name} differs"
    summary = (tmp_path / "slurm" / "results" / "summary.tsv").read_bytes()
    assert summary == (tmp_path / "local" / "results" / "summary.tsv").read_bytes()
    assert b"\tdetected\t" in summary  # the comparison is not between two empty batches


@pytest.mark.slow
def test_a_failing_sample_is_retried_on_slurm_and_reported_failed(slurm_cluster, tmp_path):
    good = samples()[0]
    bams = {good: demo_bams()[good], "gone": tmp_path / "gone.bam"}
    proc, log, jobs = on_slurm(slurm_cluster, tmp_path / "slurm", bams)
    assert proc.returncode != 0  # the failure reaches the shell

    states: dict[str, list[str]] = {}
    for j in jobs:
        states.setdefault(j["Comment"], []).append(j["State"])
    assert states == {
        "rule_index_annotation": ["COMPLETED"],
        f"rule_call_fusions_wildcards_{good}": ["COMPLETED"],
        "rule_call_fusions_wildcards_gone": ["FAILED", "FAILED"],  # `retries: 1` in the profile
    }, states
    # keep-going: the good sample finished; the summary written after the failure lists both
    with open(tmp_path / "slurm" / "results" / "summary.tsv") as fh:
        summary = {(r["sample"], r["target"]): r for r in csv.DictReader(fh, delimiter="\t")}
    assert summary[("gone", "ALK")]["status"] == "failed"
    assert "BAM not found" in summary[("gone", "ALK")]["reason"]
    assert {base_status(r["status"]) for (s, _), r in summary.items() if s == good} <= {"detected", "not detected", "not assessable"}
