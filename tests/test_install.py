"""The package installs without a C compiler: the compiled record reader is optional; CI
runs exactly the README's second command."""

from __future__ import annotations

import os
import re
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
    shutil.copytree(REPO / "tools", source / "tools", ignore=shutil.ignore_patterns("__pycache__"))
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
    # the simulator and the benchmarks stay in the checkout (tools/), out of a lab's install
    assert not [n for n in names if n.startswith(("imtfusion_tools/", "imtfusion/sim/", "imtfusion/bench/"))]


def test_outside_a_checkout_the_tools_commands_say_where_they_are(tmp_path, monkeypatch, capsys):
    """simulate/benchmark without tools/ on the path: one line naming the checkout and the
    variable, exit 1; with IMTFUSION_TOOLS they run."""
    import imtfusion.cli as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IMTFUSION_TOOLS", raising=False)
    monkeypatch.setattr(cli, "tools_dir", lambda: None)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if not p.endswith("tools")])
    for name in [m for m in sys.modules if m.split(".")[0] == "imtfusion_tools"]:
        monkeypatch.delitem(sys.modules, name)
    assert cli.main(["simulate", "genome", "--outdir", str(tmp_path / "g")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "checkout" in err and "IMTFUSION_TOOLS" in err
    with pytest.raises(SystemExit) as shown:  # the runtime commands need no tools
        cli.main(["call", "--help"])
    assert shown.value.code == 0
    monkeypatch.undo()
    monkeypatch.setenv("IMTFUSION_TOOLS", str(REPO / "tools"))
    assert cli.tools_dir() == REPO / "tools"


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_s_second_command():
    root = Path(__file__).resolve().parents[1]
    second = _bash_blocks((root / "README.md").read_text())[1].strip()
    assert "requirements-vicc.txt" in second and second.endswith("python -m pytest")
    ci = [line.strip() for line in (root / ".ci" / "run").read_text().splitlines() if "pytest" in line
          and not line.lstrip().startswith("#")]
    assert ci == [second]
    # the test-only FUSOR pins exist and are installed without their database services
    pins = [line for line in (root / "tests" / "requirements-vicc.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins) and "--no-deps" in second
