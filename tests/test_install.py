"""The package installs without a C compiler: the compiled record reader is optional."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_wheel_builds_without_a_c_compiler(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "scripts", source / "scripts", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    shutil.copytree(REPO / "resources", source / "resources")
    # a compiler that always fails, as on a machine without one; pip builds in isolation
    # with the setuptools pyproject.toml asks for
    env = {**os.environ, "CC": "/bin/false"}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "out"), str(source)],
        capture_output=True, text=True, env=env, cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    wheels = list((tmp_path / "out").glob("imtfusion-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "imtfusion/scan.py" in names
    assert not [n for n in names if "_bamwalk" in n and not n.endswith(".c")]
