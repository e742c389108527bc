"""A batch killed with SIGKILL in the middle: rerunning completes it, nothing from the
killed job passes for complete, and samples finished before the kill stay untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from test_calling import PARTP_ALK_READ, add_background, make_toy
from test_workflow import REPO

SAMPLES = ["S1", "S2", "S3", "S4", "S5", "S6"]
TABLES = ["fusions.tsv", "fusions.discarded.tsv", "targets.tsv", "fusions.vcf", "fusions.json"]


def snakemake_cmd(workdir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
            "--configfile", str(workdir / "config.yaml"), "--directory", str(workdir), "--cores", "1", *extra]


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    return e


def batch(workdir: Path, outdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    lines = ["sample\tbam"]
    for k, name in enumerate(SAMPLES):
        toy = make_toy()
        add_background(toy)
        for i in range(k % 3 + 2):
            toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
        lines.append(f"{name}\t{toy.write_bam(workdir / f'{name}.bam')}")
        gtf = toy.write_gtf(workdir / "genes.gtf")
    (workdir / "samples.tsv").write_text("\n".join(lines) + "\n")
    config = {"samples": str(workdir / "samples.tsv"), "gtf": str(gtf), "outdir": str(outdir), "targets": ["ALK", "ETV6"]}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.mark.slow
def test_killed_batch_is_completed_by_a_rerun(tmp_path):
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    batch(ref_dir, ref_dir / "results")
    batch(run_dir, run_dir / "results")
    assert subprocess.run(snakemake_cmd(ref_dir), env=env(), capture_output=True).returncode == 0
    out = run_dir / "results"

    proc = subprocess.Popen(snakemake_cmd(run_dir), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*/*.targets.tsv"))) < 2:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {
        p.parent.name: p.stat().st_mtime_ns
        for p in out.glob("*/*.report.html")
    }
    assert done_before, "the kill came before any sample finished"
    assert len(done_before) < len(SAMPLES), "the kill came after the batch finished"
    incomplete = (run_dir / ".snakemake" / "incomplete")
    flagged = {f.name for f in incomplete.iterdir()} if incomplete.exists() else set()
    assert not (out / "summary.tsv").exists()

    # the lock of the killed run has to be lifted once, as Snakemake itself says
    subprocess.run(snakemake_cmd(run_dir, "--unlock"), env=env(), capture_output=True, check=True)
    rerun = subprocess.run(snakemake_cmd(run_dir), env=env(), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    for sample in SAMPLES:
        for table in TABLES:
            a = (ref_dir / "results" / sample / f"{sample}.{table}").read_bytes()
            b = (out / sample / f"{sample}.{table}").read_bytes()
            assert a.replace(str(ref_dir).encode(), b"") == b.replace(str(run_dir).encode(), b""), (sample, table)
        assert not list((out / sample).glob(".*.tmp"))
    # samples that were complete before the kill (no incomplete marker) were not redone
    import base64

    flagged_paths = {base64.b64decode(f).decode() for f in flagged}
    for sample, mtime in done_before.items():
        report = out / sample / f"{sample}.report.html"
        if str(report) not in flagged_paths:
            assert report.stat().st_mtime_ns == mtime, sample
    assert (out / "summary.tsv").exists()
