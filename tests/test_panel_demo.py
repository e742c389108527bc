"""The demo's targeted-panel samples (issue #17, item 5): IMT07, anchored multiplex PCR
with its primer BED, and IMT08, hybrid capture, both FFPE with UMIs and 70% PCR copies,
simulated and aligned by STAR (resources/demo/panel); called here as a lab would."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from imtfusion.pipeline import run_sample
from test_workflow import read_tsv, run_snakemake

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
PANEL = DEMO / "panel"


def truth(sample: str) -> dict[str, str]:
    [row] = [r for r in read_tsv(PANEL / "truth.tsv") if r["sample"] == sample]
    return row


def call(sample: str, primers: Path | None = None):
    return run_sample(PANEL / f"{sample}.bam", DEMO / "annotation.gtf", sample, fasta=DEMO / "genome.fa",
                      primers=primers)


def test_the_panel_batch_has_its_sheet_primers_and_truth():
    rows = read_tsv(PANEL / "samples.tsv")
    assert [(r["sample"], r["primers"]) for r in rows] == [
        ("IMT07", "resources/demo/panel/IMT07.primers.bed"), ("IMT08", "")]
    for r in rows:
        assert (REPO / r["bam"]).exists() and (REPO / (r["bam"] + ".bai")).exists()
    with open(PANEL / "IMT07.primers.bed") as fh:
        beds = list(csv.reader(fh, delimiter="\t"))
    assert beds and all(len(b) == 6 and b[5] in "+-" for b in beds)
    assert any(b[3] == "ALK_e20_as" for b in beds)  # the primer that reads the ALK fusions
    assert [truth(s)["fusion"] for s in ("IMT07", "IMT08")] == ["RANBP2::ALK", "YWHAE::ROS1"]


def test_anchored_multiplex_pcr_calls_its_fusion_from_primer_reads_and_not_the_misprimed_decoy():
    result = call("IMT07", PANEL / "IMT07.primers.bed")
    t = truth("IMT07")
    [c] = result.called
    assert (c.fusion, c.end5.label(), c.end3.label()) == (t["fusion"], t["breakpoint5"], t["breakpoint3"])
    assert c.confidence == "high" and c.discordant_pairs == 0  # AMP: no mate pairs, start sites instead
    assert c.primer_names == ("ALK_e20_as",) and c.primer_reads > 0.5 * c.fragments
    assert c.start_sites >= 3 and c.umis
    assert abs(c.molecules - int(t["fragments"])) <= 0.1 * int(t["fragments"])  # 70% copies collapsed
    decoys = [d for d in result.discarded if d.fusion == "ACTB::ALK"]
    assert decoys and any("primer_only_anchor" in d.filters for d in decoys)
    # the 3'/5' imbalance says nothing of a library read from primers
    statuses = {s.target: s for s in result.statuses}
    assert statuses["ALK"].status == "detected"
    assert all(s.imbalance.verdict == "not assessed" and "primers" in s.imbalance.reason
               for s in result.statuses)
    assert not any(s.status.startswith("imbalance") for s in result.statuses)


def test_hybrid_capture_calls_its_fusion_and_counts_its_molecules():
    result = call("IMT08")
    t = truth("IMT08")
    [c] = result.called
    assert (c.fusion, c.end5.label(), c.end3.label()) == (t["fusion"], t["breakpoint5"], t["breakpoint3"])
    assert c.confidence == "high" and c.umis
    assert c.fragments > 2 * c.molecules  # the copies are there, and collapsed
    assert abs(c.molecules - int(t["fragments"])) <= 0.1 * int(t["fragments"])
    assert {s.target: s.status for s in result.statuses}["ROS1"] == "detected"
    # the targets' unique fragments are molecules too: UMI families, fewer than the fragments
    qc = result.sample_qc
    assert qc.duplicates_from == "UMIs"
    for s in result.statuses:
        lib = s.qc.library
        assert lib.molecules == qc.unique_fragments_of(s.qc) and 0 < lib.molecules < lib.fragments / 2


@pytest.mark.slow
def test_the_panel_batch_runs_with_its_config(tmp_path):
    """config/panel.yaml on top of config/config.yaml: the sheet's primers column reaches
    IMT07's call, both fusions are detected, the panel-relaxed QC gates pass."""
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(yaml.safe_load((REPO / "config" / "panel.yaml").read_text()))
    sheet = tmp_path / "panel.tsv"
    rows = read_tsv(PANEL / "samples.tsv")
    sheet.write_text("sample\tbam\tprimers\n" + "".join(
        f"{r['sample']}\t{REPO / r['bam']}\t{REPO / r['primers'] if r['primers'] else ''}\n" for r in rows))
    config.update(samples=str(sheet), outdir=str(tmp_path / "out"), gtf=str(DEMO / "annotation.gtf"),
                  fasta=str(DEMO / "genome.fa"))
    done = run_snakemake(tmp_path, config)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = read_tsv(tmp_path / "out" / "summary.tsv")
    detected = {(r["sample"], r["target"], r["fusions"]) for r in summary if r["status"] == "detected"}
    assert detected == {("IMT07", "ALK", "RANBP2::ALK"), ("IMT08", "ROS1", "YWHAE::ROS1")}
    [fusion] = read_tsv(tmp_path / "out" / "IMT07" / "IMT07.fusions.tsv")
    assert fusion["primers"] == "ALK_e20_as" and int(fusion["primer_reads"]) > 0
    for sample in ("IMT07", "IMT08"):
        rows = read_tsv(tmp_path / "out" / sample / f"{sample}.targets.tsv")
        assert {r["sample_qc"] for r in rows} == {"pass"}  # with the panel gates on
        assert float(rows[0]["on_target_fraction"]) >= 0.5 and int(rows[0]["control_junction_reads"]) >= 10
    mqc = yaml.safe_load((tmp_path / "out" / "imtfusion_mqc.yaml").read_text())
    assert {"on_target_percent", "control_junction_reads", "duplicate_percent", "median_insert", "ALK_unique",
            "ROS1_unique"} <= set(mqc["headers"])
    assert all(mqc["data"][s]["on_target_percent"] >= 50 for s in ("IMT07", "IMT08"))
    targets = {r["target"]: r for r in read_tsv(tmp_path / "out" / "IMT08" / "IMT08.targets.tsv")}
    assert mqc["data"]["IMT08"]["ROS1_unique"] == int(targets["ROS1"]["unique_fragments"]) > 0
    assert 50 < mqc["data"]["IMT08"]["duplicate_percent"] == round(100 * float(targets["ROS1"]["duplicate_rate"]), 1) < 90
    assert mqc["data"]["IMT08"]["median_insert"] == float(targets["ALK"]["median_insert"]) > 0
    report = (tmp_path / "out" / "IMT08" / "IMT08.report.html").read_text()
    assert "unique molecules (UMI families)" in report and "duplicates by UMIs" in report


def test_a_whole_transcriptome_sample_fails_the_panel_gates():
    """The demo's IMT01 (whole transcriptome) has a tenth of its records in the target
    loci: with config/panel.yaml's on-target gate it fails, and its targets without a
    call are not assessable."""
    from imtfusion.params import CallParameters

    result = run_sample(DEMO / "bam" / "IMT01.bam", DEMO / "annotation.gtf", "IMT01", fasta=DEMO / "genome.fa",
                        params=CallParameters.from_mapping({"qc_min_on_target_fraction": 0.5}))
    qc = result.sample_qc
    assert qc.on_target_fraction < 0.2 and qc.control_junction_reads > 100
    assert [g.name for g in qc.failures] == ["qc_min_on_target_fraction"]
    assert {s.target: s.status for s in result.statuses}["ALK"] == "detected"  # the call stands
