"""3'/5' expression imbalance and ALK-ATI, on BAMs built here.

Toy genome: ALK on chr2 (- strand) with the 29 exons of its canonical transcript (100 bp
each, introns of 300 bp, intron 19 of 1,500 bp), and a partner gene PARTP on chr4 (+).
Reads are 50 bp, single-end, placed inside exons (or inside intron 19). Each test builds
a batch of negatives (wild-type ALK: every exon at the same depth) as the reference and
the sample it judges: a fusion whose junction reads are absent (exons 20-28 over-expressed)
must be flagged, a balanced sample must not; transcripts starting in intron 19 are ALK-ATI,
not a fusion, unless a read is chimeric.
"""

from __future__ import annotations

import json
import random

import jsonschema
import pytest

from imtfusion.imbalance import (
    VERDICT_ATI,
    VERDICT_BALANCED,
    VERDICT_IMBALANCE,
    VERDICT_NOT_ASSESSED,
    KinaseSplit,
    ProfileError,
    RatioObservation,
    load_splits,
    observe,
    profile_text,
    read_profile,
    reference_for,
    shipped_profile,
)
from imtfusion.params import CallParameters
from imtfusion.pipeline import STATUS_IMBALANCE, imbalance_observations, run_sample
from toolkit import Toy

EXON, INTRON, INTRON19 = 100, 300, 1500
ATI_STATUS = "ALK-ATI (3' ALK expression from intron 19), not a fusion"


def alk_exons() -> list[tuple[int, int]]:
    """ALK's 29 exons in transcript order (exon 1 at the highest coordinate: - strand)."""
    out, pos = [], 60_000
    for number in range(1, 30):
        end = pos
        out.append((end - EXON, end))
        pos = end - EXON - (INTRON19 if number == 19 else INTRON)
    return out


def make_toy(seed: int = 7) -> Toy:
    toy = Toy({"chr2": 62_000, "chr4": 9_000}, seed=seed)
    toy.add_gene("ALK", "chr2", "-", alk_exons())
    toy.add_gene("PARTP", "chr4", "+", [(1000, 1200), (4000, 4150), (7000, 7300)])
    return toy


def reads_in(toy: Toy, name: str, start: int, end: int, n: int, rng: random.Random) -> None:
    """``n`` 50-base reads wholly inside [start, end)."""
    for i in range(n):
        s = rng.randint(start, end - 50)
        toy.fragment(f"{name}{i}", [("chr2", s, "+", 50)])


def sample(toy: Toy, wild_type: int = 40, excess: int = 0, ati_reads: int = 0, seed: int = 1) -> Toy:
    """Wild-type reads on every ALK exon, ``excess`` more on exons 20-29 (the 3' part of a
    fusion or of ATI transcripts), ``ati_reads`` in intron 19's last 400 bases."""
    rng = random.Random(seed)
    exons = alk_exons()
    for number, (s, e) in enumerate(exons, start=1):
        reads_in(toy, f"wt{number}_", s, e, wild_type, rng)
        if number >= 20:
            reads_in(toy, f"x{number}_", s, e, excess, rng)
    if ati_reads:
        e20_end = exons[19][1]  # intron 19 lies above exon 20 (- strand)
        reads_in(toy, "ati", e20_end, e20_end + 400, ati_reads, rng)
    return toy


def call(tmp_path, toy: Toy, name: str, profile=None, **params):
    folder = tmp_path / name
    folder.mkdir()
    bam = toy.write_bam(folder / f"{name}.bam")
    gtf = toy.write_gtf(folder / "a.gtf")
    fasta = toy.write_fasta(folder / "g.fa")
    return run_sample(bam, gtf, name, targets=["ALK"], fasta=fasta, params=CallParameters.from_mapping(params),
                      imbalance_profile=profile)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The ratios of nine negatives (random read placement, so the ratios differ a little)."""
    tmp = tmp_path_factory.mktemp("batch")
    rows = []
    for k in range(9):
        result = call(tmp, sample(make_toy(), seed=100 + k), f"N{k}")
        rows += imbalance_observations(result)
    return rows


# a target without a call and without a 3' excess: one of the statuses the limit of detection gives
NEGATIVE = ("not detected (LoD", "not assessable (LoD above")


def alk(result):
    return next(s for s in result.statuses if s.target == "ALK")


def test_a_3prime_excess_without_junction_reads_is_flagged_beside_a_balanced_sample(tmp_path, batch):
    hidden = alk(call(tmp_path, sample(make_toy(), excess=40), "H", batch))
    balanced = alk(call(tmp_path, sample(make_toy(), seed=2), "B", batch))
    assert hidden.status == STATUS_IMBALANCE
    assert hidden.imbalance.verdict == VERDICT_IMBALANCE and hidden.imbalance.z >= 3
    assert hidden.imbalance.ratio == pytest.approx(2.0, rel=0.2)
    assert hidden.imbalance.reference == "batch (9 other samples)"
    assert "exons 20-28" in hidden.reason and "no junction read names a partner" in hidden.reason
    assert balanced.status.startswith(NEGATIVE)
    assert balanced.imbalance.verdict == VERDICT_BALANCED and abs(balanced.imbalance.z) < 3
    assert "no 3' excess" in balanced.reason


def test_a_small_excess_is_not_flagged_and_the_thresholds_decide(tmp_path, batch):
    toy = sample(make_toy(), excess=8)
    weak = alk(call(tmp_path, toy, "W", batch))
    assert weak.status.startswith(NEGATIVE) and weak.imbalance.ratio < 1.25
    strict = alk(call(tmp_path, sample(make_toy(), excess=40), "S", batch, imbalance_min_z=50))
    assert strict.status.startswith(NEGATIVE)


def test_transcripts_starting_in_intron_19_are_ati_not_a_fusion(tmp_path, batch):
    ati = alk(call(tmp_path, sample(make_toy(), excess=40, ati_reads=60), "A", batch))
    assert ati.status == ATI_STATUS
    assert ati.imbalance.verdict == VERDICT_ATI
    assert ati.imbalance.window_depth > 5 * ati.imbalance.rest_depth
    # a fused pre-mRNA's intronic reads: a tenth of the excess over the whole intron, no ATI
    toy = sample(make_toy(), excess=40)
    e20_end = alk_exons()[19][1]
    reads_in(toy, "pre", e20_end, e20_end + INTRON19, 6, random.Random(3))
    premrna = alk(call(tmp_path, toy, "P", batch))
    assert premrna.status == STATUS_IMBALANCE


def test_an_ati_pattern_with_a_chimeric_read_stays_a_suspected_fusion(tmp_path, batch):
    toy = sample(make_toy(), excess=40, ati_reads=60)
    # PARTP exon 2 joined to ALK exon 20 (its first base is the exon's highest coordinate)
    e20_start, e20_end = alk_exons()[19]
    for i in range(3):
        toy.fragment(f"chim{i}", [("chr4", 4090 + i, "+", 60), ("chr2", e20_end - 40, "-", 40)])
    result = call(tmp_path, toy, "C", batch, min_fragments=99, min_fragments_known=99)
    assert not result.called  # the junction is too weak to call: it only speaks against ATI
    assert alk(result).status == STATUS_IMBALANCE


def test_without_a_batch_the_shipped_profile_is_the_reference(tmp_path):
    hidden = alk(call(tmp_path, sample(make_toy(), excess=40), "H"))
    assert hidden.imbalance.reference.startswith("shipped profile (12 simulated samples")
    assert hidden.status == STATUS_IMBALANCE
    few = alk(call(tmp_path, sample(make_toy(), wild_type=1, excess=1), "F"))
    assert few.imbalance.verdict == VERDICT_NOT_ASSESSED and "imbalance_min_reads" in few.imbalance.reason


def test_a_suspected_fusion_is_an_inferred_vicc_fusion_of_an_unknown_partner(tmp_path):
    from fusor_models import validate_assayed_fusion
    from imtfusion.vicc import load_vicc_schema, render_vicc

    result = call(tmp_path, sample(make_toy(), excess=40), "H")
    assert alk(result).status == STATUS_IMBALANCE and not result.called
    data = json.loads(render_vicc(result))
    jsonschema.Draft202012Validator(load_vicc_schema()).validate(data)
    [suspected] = data["suspected"]
    assert suspected["target"] == "ALK" and suspected["reason"] == alk(result).reason
    fusion = suspected["assayedFusion"]
    validate_assayed_fusion(fusion)
    assert fusion["assay"]["fusionDetection"] == "inferred"
    assert [e["type"] for e in fusion["structure"]] == ["UnknownGeneElement", "GeneElement"]
    gene_id = next(lo.gene.gene_id for lo in result.loci if lo.name == "ALK")
    assert fusion["viccNomenclature"] == f"?(::)ALK(ensembl:{gene_id.partition('.')[0]})"
    balanced = call(tmp_path, sample(make_toy(), seed=2), "B")
    assert json.loads(render_vicc(balanced))["suspected"] == []


def test_the_targets_table_and_json_carry_the_verdict(tmp_path, batch):
    from imtfusion.jsonout import load_schema, render_json
    from imtfusion.pipeline import TARGET_COLUMNS, status_rows

    for name, toy in (("H", sample(make_toy(), excess=40)), ("A", sample(make_toy(), excess=40, ati_reads=60))):
        result = call(tmp_path, toy, name, batch)
        [row] = status_rows(result)
        assert set(TARGET_COLUMNS) <= set(row)
        assert row["imbalance"] in (VERDICT_IMBALANCE, VERDICT_ATI) and row["imbalance_z"] >= 3
        data = json.loads(render_json(result))
        jsonschema.Draft202012Validator(load_schema()).validate(data)
        target = data["targets"][0]
        assert target["status"] == row["status"]
        assert len(target["imbalance"]["exon_depths"]) == 29 and target["imbalance"]["split_exon"] == 20


def test_the_report_draws_the_exon_profile(tmp_path, batch):
    from imtfusion.report import render_sample_report

    result = call(tmp_path, sample(make_toy(), excess=40), "H", batch)
    html = render_sample_report(result, result.annotation)
    assert "3′/5′ imbalance" in html and 'aria-label="ALK exon coverage"' in html
    assert "FUSION SUSPECTED" in html
    assert html.count('<title>exon ') == 29


# -- the pure parts ----------------------------------------------------------------------------


def obs(sample_name: str, ln_ratio: float, target: str = "ALK", variance: float = 0.002) -> RatioObservation:
    return RatioObservation(sample_name, target, "T1", 20, ln_ratio, variance, 1000.0, 800.0)


def test_the_reference_leaves_out_the_sample_and_its_outliers():
    rows = [obs(f"N{i}", 0.01 * (i - 5)) for i in range(10)] + [obs("F1", 0.9), obs("F2", 1.4), obs("ME", 3.0)]
    ref = reference_for("ME", "ALK", rows, [], 5, 0.05)
    assert ref.kind == "batch" and ref.samples == 10 and ref.left_out == 2
    assert abs(ref.centre) < 0.02 and ref.between == 0.05
    assert ref.label() == "batch (10 other samples; 2 more left out, a 3' excess of their own)"
    # too few other samples in the batch: the shipped profile
    shipped = [obs(f"P{i}", 0.1) for i in range(4)]
    assert reference_for("ME", "ALK", rows[:3], shipped, 5, 0.05).kind == "shipped"
    assert reference_for("ME", "ROS1", rows, shipped, 5, 0.05) is None


def test_a_transcript_of_another_exon_count_is_not_measured():
    from imtfusion.model import ExonProfile

    profile = ExonProfile("T1", (100,) * 27, (5000,) * 27, (100, 400), (300,) * 26, (0,) * 26, (0,) * 26, (0,) * 26, 50.0)
    split = KinaseSplit("ALK", 20, 29, True, "s")
    why = observe("S", "ALK", profile, split, 50)
    assert isinstance(why, str) and "has 27 exons, not the 29" in why
    assert isinstance(observe("S", "ETV6", profile, None, 50), str)


def test_the_shipped_tables_are_complete():
    splits = load_splits()
    assert {(t, s.split_exon, s.exons) for t, s in splits.items()} == {("ALK", 20, 29), ("ROS1", 33, 43), ("NTRK3", 14, 20)}
    assert splits["ALK"].ati and not splits["ROS1"].ati and all(s.source for s in splits.values())
    rows = shipped_profile()
    assert {r.target for r in rows} == {"ALK", "ROS1", "NTRK3"} and len({r.sample for r in rows}) == 12


def test_profile_files_round_trip_and_bad_ones_fail_in_one_line(tmp_path):
    rows = [obs("A", 0.1), obs("B", -0.05, "ROS1")]
    good = tmp_path / "p.tsv"
    good.write_text(profile_text(rows, ["a comment"]))
    assert [(r.sample, r.target, round(r.ln_ratio, 5)) for r in read_profile(good)] == [("A", "ALK", 0.1), ("B", "ROS1", -0.05)]
    bad = tmp_path / "bad.tsv"
    bad.write_text("sample\ttarget\nA\tALK\n")
    with pytest.raises(ProfileError, match=r"bad.tsv: the imbalance profile lacks the column\(s\) transcript"):
        read_profile(bad)
    bad.write_text(good.read_text().replace("0.10000", "x"))
    with pytest.raises(ProfileError, match="not a number"):
        read_profile(bad)


def test_batch_profile_joins_the_first_passes_and_refuses_a_sample_twice(tmp_path, batch, capsys):
    from imtfusion.cli import main

    files = []
    for name in ("N0", "N1"):
        path = tmp_path / f"{name}.ratios.tsv"
        path.write_text(profile_text([r for r in batch if r.sample == name]))
        files.append(str(path))
    out = tmp_path / "profile.tsv"
    assert main(["batch-profile", "--ratios", *files, "--output", str(out)]) == 0
    assert {r.sample for r in read_profile(out)} == {"N0", "N1"}
    first = out.read_bytes()
    main(["batch-profile", "--ratios", *files, "--output", str(out)])
    assert out.read_bytes() == first
    capsys.readouterr()
    assert main(["batch-profile", "--ratios", files[0], files[0], "--output", str(tmp_path / "x.tsv")]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert "N0.ratios.tsv: sample N0 has ratios in" in line and not (tmp_path / "x.tsv").exists()


def test_the_first_pass_writes_ratios_and_the_call_reads_the_profile(tmp_path, batch, capsys):
    from imtfusion.cli import main

    toy = sample(make_toy(), excess=40)
    bam = toy.write_bam(tmp_path / "h.bam")
    gtf = toy.write_gtf(tmp_path / "a.gtf")
    fasta = toy.write_fasta(tmp_path / "g.fa")
    ratios = tmp_path / "h.ratios.tsv"
    common = ["call", "--bam", str(bam), "--gtf", str(gtf), "--fasta", str(fasta), "--sample", "H", "--targets", "ALK"]
    assert main([*common, "--candidates-only", str(tmp_path / "h.candidates.tsv"), "--exon-ratios", str(ratios)]) == 0
    [row] = read_profile(ratios)
    assert row.sample == "H" and row.ln_ratio > 0.5
    profile = tmp_path / "batch.tsv"
    profile.write_text(profile_text(batch))
    assert main([*common, "--outdir", str(tmp_path / "out"), "--imbalance-profile", str(profile)]) == 0
    table = (tmp_path / "out" / "H" / "H.targets.tsv").read_text()
    assert STATUS_IMBALANCE in table and "batch (9 other samples)" in table
    capsys.readouterr()
    assert main([*common, "--outdir", str(tmp_path / "o2"), "--exon-ratios", str(ratios)]) == 1
    assert "--exon-ratios goes with --candidates-only" in capsys.readouterr().err


def test_the_summary_grid_and_multiqc_carry_the_new_statuses_and_z():
    import yaml

    from imtfusion.multiqc import render_multiqc
    from imtfusion.summary import SummaryRow, batch_tally, render_summary_html, sample_overall

    def row(sample, target, status, z=""):
        return SummaryRow(sample, target, status, "", "", "", "", "", "why", f"{sample}/{sample}.report.html",
                          "imbalance" if status == STATUS_IMBALANCE else "balanced", z)

    rows = [row("H", "ALK", STATUS_IMBALANCE, "6.2"), row("H", "ETV6", "not detected"),
            row("A", "ALK", ATI_STATUS, "9.1"), row("A", "ETV6", "not detected"),
            row("N", "ALK", "not detected", "0.3"), row("N", "ETV6", "not detected")]
    assert [sample_overall([r for r in rows if r.sample == s]) for s in "HAN"] == ["fusion suspected", "negative",
                                                                                   "negative"]
    assert batch_tally(rows) == "3 sample(s): 1 fusion suspected, 2 negative; 0 fusion(s) called"
    html = render_summary_html(rows, ["ALK", "ETV6"])
    assert 'class="imbalance"' in html and 'class="ati"' in html and "3′/5′ z = 6.2" in html
    doc = yaml.safe_load(render_multiqc(rows, ["ALK", "ETV6"]))
    assert list(doc["headers"]) == ["detected_targets", "ALK", "ETV6", "ALK_imbalance_z"]
    assert doc["data"]["H"]["ALK"] == STATUS_IMBALANCE and doc["data"]["H"]["ALK_imbalance_z"] == 6.2
    assert "ETV6_imbalance_z" not in doc["data"]["H"]


def test_without_fasta_or_chimeric_alignments_a_3prime_excess_is_still_flagged_but_ati_is_not_claimed(tmp_path, batch):
    def call_without_fasta(toy, name):
        folder = tmp_path / name
        folder.mkdir()
        bam = toy.write_bam(folder / "s.bam")
        return run_sample(bam, toy.write_gtf(folder / "a.gtf"), name, targets=["ALK"], imbalance_profile=batch)

    hidden = alk(call_without_fasta(sample(make_toy(), excess=40), "H"))
    assert hidden.status == STATUS_IMBALANCE  # the coverage says it, whatever the junction reads
    ati = alk(call_without_fasta(sample(make_toy(), excess=40, ati_reads=60), "A"))
    assert ati.status == "not assessable" and ati.imbalance.verdict == VERDICT_ATI
    assert "explained by transcripts starting in intron 19" in ati.reason and "rerun with the FASTA" in ati.reason


def test_rna_degradation_is_fitted_on_the_5prime_parts_and_taken_off_the_ratio():
    import math

    from imtfusion.imbalance import degradation_ln_ratio, fit_decay
    from imtfusion.model import ExonProfile

    split = KinaseSplit("ALK", 20, 29, True, "s")
    lengths = tuple(150 for _ in range(29))
    rate = 1 / 3000  # coverage falls e-fold every 3,000 bases from the 3' end

    def profile(excess: float) -> ExonProfile:
        bases = []
        for i in range(29):
            t = 150 * (28 - i) + 75  # exon midpoint's distance from the 3' end
            depth = 100 * math.exp(-rate * t) * (1 + excess if i >= 19 else 1)
            bases.append(round(depth * 150))
        return ExonProfile("T1", lengths, tuple(bases), (100, 400), (300,) * 28, (0,) * 28, (0,) * 28, (0,) * 28, 100.0)

    decay = fit_decay({"ALK": profile(1.0)}, {"ALK": split})  # a fusion doubling exons 20-29
    assert decay.rate == pytest.approx(rate, rel=0.05) and decay.exons == 18
    degraded = observe("S", "ALK", profile(0.0), split, 50, decay)
    raw = observe("S", "ALK", profile(0.0), split, 50)
    assert raw.ln_ratio > 0.25 and abs(degraded.ln_ratio) < 0.02  # degradation alone: no excess left
    assert degraded.degradation == pytest.approx(degradation_ln_ratio(profile(0.0), split, decay.rate))
    assert degraded.variance > raw.variance  # the correction's uncertainty counts
    fused = observe("S", "ALK", profile(1.0), split, 50, decay)
    assert fused.ln_ratio == pytest.approx(math.log(2), abs=0.03)
