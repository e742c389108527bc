"""The container image built without a registry: workflow/container/build.sh (debootstrap base +
podman build of workflow/Containerfile), run with workflow/container/run.sh."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "workflow" / "container" / "build.sh"
RUN = REPO / "workflow" / "container" / "run.sh"
DEMO = REPO / "resources" / "demo"
# names of their own, so the test neither uses nor replaces an image built by hand
BASE = f"localhost/imtfusion-test-base-{os.getpid()}:bookworm"  # a run of its own: concurrent runs do not collide


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (debootstrap and rootful podman)"
    for tool, package in (("debootstrap", "debootstrap"), ("podman", "podman")):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (Debian package {package})"
    if subprocess.run(["podman", "info"], capture_output=True).returncode != 0:
        return "podman info fails: no usable container storage"
    return None


def _fake_bin(tmp_path: Path, fake_id: str | None = None) -> dict:
    """A PATH with only what build.sh needs before its checks (no podman, no debootstrap)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(parents=True)
    for tool in ("dirname", "sed", "id", "mktemp"):
        (bindir / tool).symlink_to(shutil.which(tool))
    if fake_id is not None:
        (bindir / "id").unlink()
        (bindir / "id").write_text(f"#!/bin/sh\necho {fake_id}\n")
        (bindir / "id").chmod(0o755)
    return {"PATH": str(bindir), "HOME": str(tmp_path)}


def test_build_script_says_what_is_missing(tmp_path):
    bash = shutil.which("bash")
    proc = subprocess.run([bash, str(BUILD)], env=_fake_bin(tmp_path / "a", fake_id="1000"),
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "needs root" in proc.stderr, proc.stderr
    if os.geteuid() == 0:  # the real id says root: the next check is podman
        proc = subprocess.run([bash, str(BUILD)], env=_fake_bin(tmp_path / "b"), capture_output=True, text=True)
        assert proc.returncode != 0 and "podman not found: apt-get install podman" in proc.stderr, proc.stderr
    proc = subprocess.run([bash, str(BUILD), "--nope"], capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown option --nope" in proc.stderr
    proc = subprocess.run([bash, str(BUILD), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--archive FILE" in proc.stdout and "debootstrap" in proc.stdout


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from imtfusion import __version__

    tag = f"localhost/imtfusion-test-{os.getpid()}:{__version__}"
    archive = tmp_path_factory.mktemp("image") / "imtfusion.tar"
    start = time.monotonic()
    proc = subprocess.run([str(BUILD), "--tag", tag, "--base", BASE, "--rebuild-base", "--archive", str(archive)],
                          capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - start
    print(f"build.sh (base + image + archive): {seconds:.0f} s", file=sys.stderr)
    try:
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert proc.stdout.strip().splitlines()[-1] == tag
        yield {"tag": tag, "archive": archive, "seconds": seconds, "log": proc.stderr}
    finally:
        subprocess.run(["podman", "rmi", "-f", tag, BASE], capture_output=True)


def run(image, *args, volumes=()):
    cmd = [str(RUN)]
    for volume in volumes:
        cmd += ["--volume", volume]
    return subprocess.run(cmd + [image["tag"], *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.needs_tool
def test_the_image_runs_imtfusion_and_its_compiled_reader(image):
    from imtfusion import __version__

    proc = run(image, "imtfusion", "--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"imtfusion {__version__}", proc.stderr
    proc = run(image, "python", "-c", "import sys, imtfusion._bamwalk as b; print(sys.version_info >= (3, 11), b.__file__)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("True /opt/imtfusion/lib/python3.11/site-packages/imtfusion/_bamwalk"), proc.stdout
    # gcc was only for the build; the CA bundle mount (if any) left nothing behind
    proc = run(image, "sh", "-c", "command -v gcc || echo no gcc; ls -A /mnt")
    assert proc.stdout == "no gcc\n", proc.stdout


@pytest.mark.slow
@pytest.mark.needs_tool
def test_a_call_in_the_image_writes_what_the_call_outside_writes(image, tmp_path):
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    args = ["call", "--bam", "{d}/bam/IMT03.bam", "--gtf", "{d}/annotation.gtf", "--fasta", "{d}/genome.fa",
            "--sample", "IMT03", "--outdir", "{o}"]
    proc = run(image, "imtfusion", *[a.format(d="/demo", o="/out") for a in args],
               volumes=[f"{DEMO}:/demo:ro", f"{inside}:/out"])
    assert proc.returncode == 0 and "1 fusion(s) called (ETV6::NTRK3)" in proc.stderr, proc.stderr
    host = subprocess.run([str(Path(sys.executable).parent / "imtfusion"),
                           *[a.format(d=DEMO, o=outside) for a in args]], capture_output=True, text=True)
    assert host.returncode == 0, host.stderr
    for name in ("fusions.tsv", "fusions.discarded.tsv", "targets.tsv"):
        assert (inside / "IMT03" / f"IMT03.{name}").read_text() == (outside / "IMT03" / f"IMT03.{name}").read_text(), name


@pytest.mark.slow
@pytest.mark.needs_tool
def test_the_archive_is_a_docker_archive_of_the_image(image):
    # what `apptainer build imtfusion.sif docker-archive:FILE` reads
    with tarfile.open(image["archive"]) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = set(tar.getnames())
    [entry] = manifest
    assert image["tag"] in entry["RepoTags"]
    assert entry["Config"] in names and all(layer in names for layer in entry["Layers"])


@pytest.mark.slow
@pytest.mark.needs_tool
def test_the_demo_batch_in_the_image_writes_the_summary_of_the_batch_outside(image, tmp_path):
    # README command 1's snakemake run, inside the image (snakemake and imtfusion of /opt/imtfusion)
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    for where in (inside, outside):
        where.mkdir()
        for name in ("config", "workflow", "resources"):
            shutil.copytree(REPO / name, where / name, ignore=shutil.ignore_patterns("__pycache__"))
    cmd = ["snakemake", "--snakefile", "workflow/Snakefile", "--cores", "2"]
    proc = subprocess.run([str(RUN), "--volume", f"{inside}:/out", "--workdir", "/out", image["tag"], *cmd],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    host = subprocess.run(cmd, cwd=outside, env=env, capture_output=True, text=True, timeout=600)
    assert host.returncode == 0, host.stderr[-3000:]
    summary = (inside / "results" / "demo" / "summary.tsv").read_text()
    assert summary == (outside / "results" / "demo" / "summary.tsv").read_text()
    assert "\tdetected\tTPM3::ALK\t" in summary
