"""`snakemake --report` on the demo batch, whose sample sheet carries specimen columns."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from test_workflow import DEMO, REPO, read_tsv, run_snakemake


def report_variable(html: str, name: str):
    """A JSON value the Snakemake report embeds as ``<script id="NAME">var x = {...}``."""
    m = re.search(rf'<script id="{name}">\s*var \w+ = ', html)
    assert m, f"no {name} in the Snakemake report"
    value, _ = json.JSONDecoder().raw_decode(html, m.end())
    return value


@pytest.mark.slow
def test_snakemake_report_holds_the_summary_and_each_samples_report_and_tables(tmp_path):
    samples = [r["sample"] for r in read_tsv(DEMO / "samples.tsv")]
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tbam\tspecimen\ttumour_content\n" + "".join(
        f"{s}\t{REPO / 'resources' / 'demo' / 'bam' / s}.bam\tS26-{i:04d}\t{10 * i}\n"
        for i, s in enumerate(samples, start=1)))
    outdir = tmp_path / "results"
    config = {"samples": str(sheet), "gtf": str(DEMO / "annotation.gtf"), "fasta": str(DEMO / "genome.fa"),
              "outdir": str(outdir)}
    proc = run_snakemake(tmp_path, config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the sheet's specimen columns reach each report
    for i, s in enumerate(samples, start=1):
        html = (outdir / s / f"{s}.report.html").read_text()
        assert f"<td>S26-{i:04d}</td><td>{10 * i}%</td>" in html, s

    proc = run_snakemake(tmp_path, config, "--report", str(tmp_path / "report.html"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    results = report_variable(html, "results")
    categories = report_variable(html, "categories")

    want = {outdir / "summary.tsv", outdir / "summary.html"}
    for s in samples:
        want |= {outdir / s / f"{s}.report.html", outdir / s / f"{s}.fusions.tsv", outdir / s / f"{s}.targets.tsv"}
    assert {Path(p) for p in results} == want
    for path, entry in results.items():
        # each file embedded as it is in the results folder, with its caption
        data = base64.b64decode(entry["data_uri"].split(";base64,", 1)[1])
        assert data == Path(path).read_bytes(), path
        assert entry["caption"].strip(), path
        if Path(path).parent != outdir:  # a per-sample file
            sample = Path(path).parent.name
            assert f"<strong>{sample}</strong>" in entry["caption"], path  # the wildcard filled in
            assert entry["labels"]["sample"] == sample

    def files(category: str) -> set[Path]:
        return {Path(p) for paths in categories[category].values() for p in paths}

    assert set(categories) == {"Batch summary", "Sample reports", "Fusion tables"}
    assert files("Batch summary") == {outdir / "summary.tsv", outdir / "summary.html"}
    assert files("Sample reports") == {outdir / s / f"{s}.report.html" for s in samples}
    assert set(categories["Fusion tables"]) == {"fusions", "target statuses"}
    assert {Path(p) for p in categories["Fusion tables"]["fusions"]} == {
        outdir / s / f"{s}.fusions.tsv" for s in samples}
    # the workflow's description names the batch it was made for
    desc = html[html.index('<script id="workflow-desc">'):]
    desc = desc[:desc.index("</script>")]
    assert "ALK, ROS1, ETV6, NTRK3" in desc and str(outdir) in desc and str(sheet) in desc
