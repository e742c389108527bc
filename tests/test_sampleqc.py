"""Sample QC gates, each with a BAM built here that fails it beside one that passes.

Toy genome: ALK on chr2 (+, exons [1000,1400) [3000,3400) [5000,5400)), the housekeeping
genes ACTB on chr7 and GAPDH on chr12 (+, a 100-base first exon, a 1,600-base second and a
100-base third; B2M is left out of the GTF), and PARTP on chr4 for a fusion. Reads are
pairs of 50-base reads, their TLEN set as aligners set it. A good library: 150 ALK pairs
and 120 pairs per housekeeping gene, 200-base inserts spread along the exons.
"""

from __future__ import annotations

import json
import random

import jsonschema
import pytest

from imtfusion.params import CallParameters
from imtfusion.pipeline import run_sample, status_rows
from imtfusion.sampleqc import five_to_three, housekeeping_genes
from toolkit import Toy

ALK = [(1000, 1400), (3000, 3400), (5000, 5400)]
HOUSE = [(1000, 1100), (2000, 3600), (4000, 4100)]


def make_toy() -> Toy:
    toy = Toy({"chr2": 7000, "chr4": 9000, "chr7": 5000, "chr12": 5000})
    toy.add_gene("ALK", "chr2", "+", ALK)
    toy.add_gene("PARTP", "chr4", "+", [(1000, 1200), (4000, 4150), (7000, 7300)])
    toy.add_gene("ACTB", "chr7", "+", HOUSE)
    toy.add_gene("GAPDH", "chr12", "+", HOUSE)
    return toy


def pair(toy: Toy, name: str, chrom: str, start: int, insert: int, duplicate: bool = False) -> None:
    records = toy.fragment(name, [(chrom, start, "+", 50)], [(chrom, start + insert - 50, "-", 50)],
                           duplicate=duplicate)
    records[0].template_length, records[1].template_length = insert, -insert


def pairs_in(toy: Toy, prefix: str, chrom: str, exons, n: int, rng: random.Random, insert=(180, 220),
             copies: int = 1, flag_copies: bool = False, lo: float = 0.0) -> None:
    """``n`` pairs inside the exons (a start from ``lo`` of the way along), each ``copies`` times."""
    spans = [(s + round(lo * (e - s)), e) for s, e in exons if e - s > 260]
    for i in range(n):
        s, e = spans[i % len(spans)]
        size = rng.randint(*insert)
        start = rng.randint(s, e - size)
        for k in range(copies):
            pair(toy, f"{prefix}{i}_{k}", chrom, start, size, duplicate=flag_copies and k > 0)


def library(alk: int = 150, house: int = 120, seed: int = 1, **kw) -> Toy:
    toy = make_toy()
    rng = random.Random(seed)
    house_kw = {k: v for k, v in kw.items() if k in ("lo",)}
    both = {k: v for k, v in kw.items() if k not in ("lo",)}
    pairs_in(toy, "alk", "chr2", ALK, alk, rng, **both)
    for chrom in ("chr7", "chr12"):
        pairs_in(toy, f"h{chrom}_", chrom, HOUSE, house, rng, **both, **house_kw)
    return toy


def call(tmp_path, toy: Toy, name: str = "S", **params):
    folder = tmp_path / name
    folder.mkdir()
    bam = toy.write_bam(folder / "s.bam")
    gtf = toy.write_gtf(folder / "a.gtf")
    fasta = toy.write_fasta(folder / "g.fa")
    return run_sample(bam, gtf, name, targets=["ALK"], fasta=fasta, params=CallParameters.from_mapping(params))


def gate(result, name):
    return next(g for g in result.sample_qc.gates if g.name == name)


def alk(result):
    return next(s for s in result.statuses if s.target == "ALK")


def test_a_good_library_passes_every_gate_and_the_figures_are_measured(tmp_path):
    result = call(tmp_path, library())
    qc = result.sample_qc
    assert qc.passed and qc.summary() == "pass"
    assert qc.fragments == qc.unique_fragments == 150 + 240 and qc.duplicate_rate == 0
    assert qc.on_target_reads == 300
    assert 180 <= qc.median_insert <= 220
    assert dict(qc.housekeeping).keys() == {"ACTB", "GAPDH"} and 0.6 < qc.five_to_three < 1.6
    assert qc.missing_housekeeping == ("B2M",)
    assert any("B2M" in n and "left out of the sample QC" in n for n in result.notes)
    assert alk(result).status == "not detected (LoD 24% of ALK transcripts)"


@pytest.mark.parametrize("fault, gates", [
    ("few fragments", {"qc_min_unique_fragments"}),
    ("little on target", {"qc_min_on_target_reads"}),
    ("unflagged PCR copies", {"qc_max_duplicate_rate"}),
    ("flagged PCR copies", {"qc_max_duplicate_rate"}),
    ("short inserts", {"qc_min_median_insert"}),
    ("degraded RNA", {"qc_min_five_to_three"}),
])
def test_each_gate_stops_its_faulty_library_and_no_target_reads_not_detected(tmp_path, fault, gates):
    toy = {
        "few fragments": lambda: library(alk=40, house=30),  # 100 unique fragments, 80 on-target reads
        "little on target": lambda: library(alk=10, house=150),  # 20 reads on ALK's exons
        "unflagged PCR copies": lambda: library(alk=30, house=20, copies=12),  # 70 unique of 840
        "flagged PCR copies": lambda: library(alk=30, house=20, copies=12, flag_copies=True),
        "short inserts": lambda: library(insert=(55, 70)),
        "degraded RNA": lambda: library(lo=0.7),  # the housekeeping genes read only near their 3' ends
    }[fault]()
    params = {"qc_min_unique_fragments": 60} if "PCR" in fault else {}
    result = call(tmp_path, toy, **params)
    qc = result.sample_qc
    assert {g.name for g in qc.failures} == gates, [g.text for g in qc.gates]
    status = alk(result)
    assert status.status == "not assessable"
    assert status.reason.startswith("sample QC failed: ") and all(g in status.reason for g in gates)
    [row] = status_rows(result)
    assert row["sample_qc"] == "fail: " + ", ".join(g.name for g in qc.failures)
    if fault == "flagged PCR copies":
        assert qc.duplicates_from == "flags"
    if fault == "unflagged PCR copies":
        assert qc.duplicates_from == "start positions" and qc.duplicate_rate > 0.9


def test_a_call_stands_in_a_failing_sample_and_its_reason_says_so(tmp_path):
    toy = library(insert=(55, 70))
    for i in range(4):  # PARTP exon 2 joined to ALK exon 2
        toy.fragment(f"fus{i}", [("chr4", 4090 + i, "+", 60), ("chr2", 3000, "+", 40)], [("chr2", 3100 + i, "-", 50)])
    result = call(tmp_path, toy, min_fragments=2)
    assert [c.fusion for c in result.called] == ["PARTP::ALK"]
    status = alk(result)
    assert status.status == "detected" and "sample QC failed: median insert" in status.reason


def test_what_cannot_be_measured_does_not_fail(tmp_path):
    toy = make_toy()
    rng = random.Random(3)
    for chrom, exons, n in (("chr2", ALK, 150), ("chr7", HOUSE, 120), ("chr12", HOUSE, 120)):
        spans = [(s, e) for s, e in exons if e - s > 100]
        for i in range(n):  # single-end reads: no insert size
            s, e = spans[i % len(spans)]
            toy.fragment(f"{chrom}_{i}", [(chrom, rng.randint(s, e - 50), "+", 50)])
    result = call(tmp_path, toy)
    qc = result.sample_qc
    assert qc.median_insert is None and gate(result, "qc_min_median_insert").passed is None
    assert "not measured" in gate(result, "qc_min_median_insert").text
    # single-end reads of 50 bases: a junction read is the only evidence, so the LoD is high
    assert qc.passed and alk(result).status == "not assessable (LoD above 25%)"
    assert alk(result).reason.startswith("no fusion passed the filters")
    # no housekeeping gene in the annotation: the 5'->3' figure is not measured either
    nothing = call(tmp_path, library(), "N", qc_housekeeping_genes="NOPE1,NOPE2")
    assert nothing.sample_qc.five_to_three is None and nothing.sample_qc.missing_housekeeping == ("NOPE1", "NOPE2")
    assert gate(nothing, "qc_min_five_to_three").passed is None


def test_the_json_and_the_report_carry_the_gates(tmp_path):
    from imtfusion.jsonout import load_schema, render_json
    from imtfusion.report import render_sample_report

    result = call(tmp_path, library(insert=(55, 70)))
    data = json.loads(render_json(result))
    jsonschema.Draft202012Validator(load_schema()).validate(data)
    qc = data["sample_qc"]
    assert qc["passed"] is False and [g["name"] for g in qc["gates"] if g["passed"] is False] == ["qc_min_median_insert"]
    html = render_sample_report(result, result.annotation)
    assert "Sample QC gates" in html and "qc_min_median_insert" in html and "FAIL" in html


def test_pure_parts():
    assert five_to_three((2.0, 2.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 8.0, 8.0)) == 0.25
    assert five_to_three((1.0,) * 3) is None and five_to_three((1.0,) * 8 + (0.0, 0.0)) is None
    assert housekeeping_genes() == ["ACTB", "B2M", "GAPDH"]
    assert housekeeping_genes(" GAPDH, TBP ") == ["GAPDH", "TBP"]


def test_the_config_schema_states_the_parameters_defaults():
    from pathlib import Path

    import yaml

    schema = yaml.safe_load((Path(__file__).parents[1] / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = schema["properties"]["sample_qc"]["properties"]
    defaults = CallParameters()
    for key, spec in keys.items():
        value = getattr(defaults, f"qc_{key}")
        assert (spec["default"] == value) if key != "housekeeping_genes" else (spec["default"] == [] and value == ""), key
    config = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    assert {k: v for k, v in config["sample_qc"].items()} == {k: s["default"] for k, s in keys.items()}


def test_panel_figures_on_target_fraction_and_control_junction_reads(tmp_path):
    """Counted by hand: the toy holds 150 ALK pairs (300 records in the ALK locus), 240
    housekeeping pairs and some background pairs elsewhere; 7 housekeeping first reads are
    spliced across an intron. Off by default (limit 0); a panel's limits fail a WTS-like
    library."""
    toy = library()
    rng = random.Random(5)
    pairs_in(toy, "bg", "chr4", [(0, 9000)], 300, rng)  # background outside every target locus
    for i in range(7):  # single-end reads across ACTB's first intron (exon 1 ends at 1100, exon 2 starts at 2000)
        toy.spliced(f"sp{i}", "chr7", [(1060 + i, 1100), (2000, 2030)])
    result = call(tmp_path, toy)
    qc = result.sample_qc
    mapped = qc.mapped_records
    assert mapped == 2 * (150 + 240 + 300) + 7
    assert qc.on_target_fraction == round(300 / mapped, 4)
    assert qc.control_junction_reads == 7
    assert gate(result, "qc_min_on_target_fraction").passed and gate(result, "qc_min_control_junction_reads").passed
    rows = status_rows(result)
    assert {(r["on_target_fraction"], r["control_junction_reads"]) for r in rows} == {(qc.on_target_fraction, 7)}
    assert rows[0]["unique_fragments"] == 150
    strict = call(tmp_path, toy, "P", qc_min_on_target_fraction=0.5, qc_min_control_junction_reads=10)
    assert {g.name for g in strict.sample_qc.failures} == {"qc_min_on_target_fraction",
                                                             "qc_min_control_junction_reads"}
    assert "of the BAM's mapped records in the target loci, below 0.5" in strict.sample_qc.reason()
    assert alk(strict).status.startswith("not assessable")
