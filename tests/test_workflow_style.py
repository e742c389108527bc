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


def test_lint_reports_nothing_but_the_deliberate_absence_of_conda_envs():
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", "workflow/Snakefile", "--configfile", "config/config.yaml", "--lint"],
        cwd=REPO, env=env(), capture_output=True, text=True,
    )
    lints = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip().startswith("* ")]
    # the package is installed with pip (README), not per rule through conda
    assert lints and all(l.startswith("* Specify a conda environment or container") for l in lints), lints


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
