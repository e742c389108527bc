"""The workflow's own hygiene: snakefmt formatting and snakemake --lint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    return e


@pytest.mark.skipif(shutil.which("snakefmt", path=env()["PATH"]) is None, reason="snakefmt is not installed (test extra)")
def test_snakefiles_are_formatted():
    proc = subprocess.run(["snakefmt", "--check", "workflow"], cwd=REPO, env=env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_lint_reports_nothing():
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", "workflow/Snakefile", "--configfile", "config/config.yaml", "--lint"],
        cwd=REPO, env=env(), capture_output=True, text=True,
    )
    out = proc.stdout + proc.stderr
    lints = [line.strip() for line in out.splitlines() if line.strip().startswith("* ") or line.startswith("Lints for")]
    assert proc.returncode == 0 and not lints, out[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in out


# -- software deployment: conda environment and container image -----------------------------------

ENV_FILE = REPO / "workflow" / "envs" / "imtfusion.yaml"
POST_DEPLOY = REPO / "workflow" / "envs" / "imtfusion.post-deploy.sh"
CONTAINERFILE = REPO / "workflow" / "Containerfile"
# pip name -> conda name, where they differ
CONDA_NAMES = {"isal": "python-isal", "snakemake": "snakemake-minimal"}


def test_every_rule_has_the_conda_env_and_it_holds_the_packages_dependencies():
    import tomllib

    import yaml
    from packaging.requirements import Requirement

    from imtfusion import __version__

    rules = sorted((REPO / "workflow" / "rules").glob("*.smk"))
    for path in rules:
        text = path.read_text()
        assert text.count("\n    conda:\n        \"../envs/imtfusion.yaml\"\n") == text.count("\n    shell:\n"), path
    text = ENV_FILE.read_text()
    # the version is in the file, so a new version gets a new environment (Snakemake hashes the file)
    assert text.splitlines()[0].startswith(f"# imtfusion {__version__} "), text.splitlines()[0]
    env_spec = yaml.safe_load(text)
    assert env_spec["channels"][:2] == ["conda-forge", "bioconda"]
    deps = {}
    for item in env_spec["dependencies"]:
        name, _, version = item.partition(" ")
        deps[name] = version.replace(" ", "")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert deps["python"] == "=" + project["project"]["requires-python"].removeprefix(">=")
    for line in project["project"]["dependencies"]:
        req = Requirement(line)
        name = CONDA_NAMES.get(req.name, req.name)
        assert deps.get(name) == str(req.specifier), f"{name}: {deps.get(name)!r} in {ENV_FILE.name}, {req} in pyproject"
    # what the post-deploy script's pip install --no-build-isolation needs to build the package
    for requirement in project["build-system"]["requires"]:
        req = Requirement(requirement)
        assert deps.get(req.name) == str(req.specifier), req
    assert os.access(POST_DEPLOY, os.X_OK)


@pytest.mark.slow
def test_post_deploy_script_installs_the_package_into_the_environment(tmp_path):
    """The script run as Snakemake runs it in a new conda env: an environment with the
    dependencies (here: a venv that sees this one's packages) gets the package from the
    checkout named by IMTFUSION_SOURCE (here: a copy, so the checkout gets no build/)."""
    import sysconfig

    source = tmp_path / "src"
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "scripts", source / "scripts",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"))
    shutil.copytree(REPO / "resources", source / "resources", ignore=shutil.ignore_patterns("demo"))
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "setuptools>=68", "wheel"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot install setuptools and wheel into a venv (no package index?): {proc.stderr[-300:]}")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # numpy, pysam, ... from this environment, after the venv's own packages
    Path(purelib, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run_env = {"PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path),
               "IMTFUSION_SOURCE": str(source)}
    proc = subprocess.run(["bash", str(POST_DEPLOY)], env=run_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    from imtfusion import __version__

    assert proc.stdout.strip().splitlines()[-1] == f"imtfusion {__version__}"
    probe = "import imtfusion, sys; print(imtfusion.__file__)"
    where = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout
    assert where.startswith(purelib), where  # installed into the environment, not found elsewhere
    # without IMTFUSION_SOURCE (not through the Snakefile) it says what is missing
    del run_env["IMTFUSION_SOURCE"]
    proc = subprocess.run(["bash", str(POST_DEPLOY)], env=run_env, capture_output=True, text=True)
    assert proc.returncode != 0 and "IMTFUSION_SOURCE is not set" in proc.stderr


def test_containerfile_copies_what_pip_install_needs_and_its_ignore_file_lets_it_through():
    text = CONTAINERFILE.read_text()
    # the registry base is the default; the offline base (workflow/container/build.sh) is a build argument
    assert text.startswith("#") and "\nARG BASE=python:3.11-slim-bookworm\nFROM ${BASE}\n" in text
    copied = []
    for line in text.splitlines():
        if line.startswith("COPY "):
            copied += line.split()[1:-1]
    assert set(copied) == {"pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "scripts", "resources"}
    for name in copied:
        assert (REPO / name).exists(), name
    ignore = (REPO / "workflow" / "Containerfile.dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*")] == "*"
    for name in copied:
        assert f"!{name}" in ignore or f"!{name}/" in ignore, name
    assert "pip install --no-cache-dir /src" in text and "imtfusion --version" in text
    assert "python3 -m venv /opt/imtfusion" in text and "ENV PATH=/opt/imtfusion/bin:$PATH" in text


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "info"], capture_output=True).returncode != 0,
    reason="no docker daemon to build workflow/Containerfile",
)
def test_container_image_builds_and_runs_imtfusion(tmp_path):
    from imtfusion import __version__

    tag = f"imtfusion-test:{__version__}"
    build = subprocess.run(["docker", "build", "-f", str(CONTAINERFILE), "-t", tag, str(REPO)],
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run(["docker", "run", "--rm", tag, "imtfusion", "--version"], capture_output=True, text=True)
    assert run.stdout.strip() == f"imtfusion {__version__}", run.stderr


def test_sdm_apptainer_without_an_image_stops_with_one_line(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("container: null\n")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", "workflow/Snakefile", "--configfile", str(config),
         "-n", "--sdm", "apptainer"],
        cwd=REPO, env=env(), capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert ("--sdm apptainer needs the image: set the config key 'container' to the image built from "
            "workflow/Containerfile") in proc.stdout + proc.stderr


def test_the_readme_demo_command_loads_the_config_once():
    import re
    import shlex

    readme = (REPO / "README.md").read_text()
    first = re.search(r"\*\*1\. Install and run the demo batch\*\*.*?```bash\n(.*?)\n```", readme, re.S).group(1)
    [snakemake] = [part.strip() for part in first.split("&&") if part.strip().startswith("snakemake ")]
    args = shlex.split(snakemake)[1:]
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args, "-n"], cwd=REPO, env=env(),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "extended by additional config" not in proc.stdout + proc.stderr
