"""The accuracy benchmark: metric arithmetic on hand-made calls, the panel design, and a quick run."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from imtfusion_tools.bench.accuracy import (
    Call,
    Fraction,
    TableRow,
    TruthFusion,
    build_panel,
    call_cause,
    classify_fragment,
    compute_metrics,
    markdown_table,
    match_calls,
    planned_runs,
    truth_events,
)


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


# --------------------------------------------------------------------------
# metrics on hand-made inputs
# --------------------------------------------------------------------------

TRUTH = [
    TruthFusion("S1", "TPM3", "ALK", "chr1:100", "chr2:200", 40),
    TruthFusion("S1", "ETV6", "NTRK3", "chr12:10", "chr15:20", 3),
    TruthFusion("S2", "TFG", "ROS1", "chr3:5", "chr6:6", 5),
]
SAMPLES = ["S1", "S2", "S3"]  # S3 is negative


def calls() -> list[Call]:
    return [
        Call("S1", "TPM3", "ALK", "chr1:100", "chr2:200", split_reads=10, discordant_pairs=5, fragments=15),
        Call("S1", "TPM3", "ALK", "chr1:103", "chr2:200", split_reads=2, fragments=2),  # second, shifted junction
        Call("S1", "ALK", "TPM3", "chr2:200", "chr1:100", split_reads=3, fragments=3),  # reversed: not the fusion
        Call("S2", "TFG", "ROS1", "chr3:9", "chr6:6", discordant_pairs=4, fragments=4, precision="approximate"),
        Call("S2", "TPM3", "ALK", "chr1:100", "chr2:200", split_reads=2, fragments=2),  # true elsewhere, not here
        Call("S3", "ETV6", "NTRK3", "chr12:10", "chr15:20", split_reads=2, fragments=2),  # negative sample
        Call("S9", "TPM3", "ALK", "chr1:100", "chr2:200", split_reads=2, fragments=2),  # sample not benchmarked
    ]


def test_matching_is_by_sample_and_ordered_gene_pair() -> None:
    outcomes, flagged = match_calls(TRUTH, calls())
    assert [(o.truth.fusion, o.found, o.exact, o.n_calls) for o in outcomes] == [
        ("TPM3::ALK", True, True, 2),
        ("ETV6::NTRK3", False, False, 0),
        ("TFG::ROS1", True, False, 1),
    ]
    # the exact call represents the fusion even though it is not listed first
    assert outcomes[0].call == calls()[0]
    # one call represents a fusion; a second call of the same pair is a duplicate
    assert [v for _, v in flagged] == ["true", "duplicate", "false", "true", "false", "false", "false"]
    assert [o.duplicates for o in outcomes] == [1, 0, 0]


def test_the_representing_call_is_chosen_before_the_duplicates_whatever_the_order() -> None:
    t = TRUTH[0]
    shifted = Call("S1", "TPM3", "ALK", "chr1:103", "chr2:200", split_reads=20, fragments=30)
    exact = Call("S1", "TPM3", "ALK", "chr1:100", "chr2:200", split_reads=2, fragments=2)
    for order in ([shifted, exact], [exact, shifted]):
        [o], flagged = match_calls([t], order)
        assert o.call == exact and o.exact and o.n_calls == 2
        assert {c.breakpoint5: v for c, v in flagged} == {"chr1:100": "true", "chr1:103": "duplicate"}
    # equal calls: the first listed represents the fusion
    a = Call("S1", "TPM3", "ALK", "chr1:90", "chr2:200", split_reads=1, fragments=2)
    b = Call("S1", "TPM3", "ALK", "chr1:80", "chr2:200", split_reads=1, fragments=2)
    _, flagged = match_calls([t], [a, b])
    assert [v for _, v in flagged] == ["true", "duplicate"]


def test_truth_events_group_isoforms_and_the_dna_junction() -> None:
    base = {"sample": "S1", "gene5": "TPM3", "gene3": "ALK", "junction": "splice_site", "event": "TPM3::ALK",
            "premrna_fragments": "0", "dna_breakpoint5": ".", "dna_breakpoint3": "."}
    rows = [
        {**base, "breakpoint5": "chr1:100", "breakpoint3": "chr2:200", "fragments": "40", "isoform": "TPM3:7::ALK:20",
         "isoform_of": ".", "premrna_fragments": "20", "dna_breakpoint5": "chr1:50", "dna_breakpoint3": "chr2:900"},
        {**base, "breakpoint5": "chr1:300", "breakpoint3": "chr2:200", "fragments": "10", "isoform": "TPM3:6::ALK:20",
         "isoform_of": "TPM3:7::ALK:20"},
        {**base, "gene5": "ETV6", "gene3": "NTRK3", "event": "ETV6::NTRK3", "breakpoint5": "chr12:1",
         "breakpoint3": "chr15:2", "fragments": "3", "isoform": "ETV6:5::NTRK3:15", "isoform_of": "."},
    ]
    events = truth_events(rows)
    assert [(e.fusion, e.fragments) for e in events] == [("TPM3::ALK", 40), ("ETV6::NTRK3", 3)]
    tpm3 = events[0]
    assert tpm3.other_junctions == (("pre-mRNA DNA junction", "chr1:50", "chr2:900"),
                                    ("isoform TPM3:6::ALK:20", "chr1:300", "chr2:200"))
    main = Call("S1", "TPM3", "ALK", "chr1:100", "chr2:200", split_reads=9)
    iso = Call("S1", "TPM3", "ALK", "chr1:300", "chr2:200", split_reads=3)
    dna = Call("S1", "TPM3", "ALK", "chr1:50", "chr2:900", split_reads=2)
    near = Call("S1", "TPM3", "ALK", "chr1:100", "chr2:211", split_reads=2)
    assert [tpm3.junction_of(c) for c in (main, iso, dna, near)] == [
        "main", "isoform TPM3:6::ALK:20", "pre-mRNA DNA junction", "near main (0/11 bp off)"]
    # three calls of one event with an isoform and a DNA junction: one true, two duplicates
    m = compute_metrics(events, [iso, main, dna], ["S1"])
    assert (m.precision, m.duplicates, m.exact, m.recall) == (Fraction(1, 3), 2, Fraction(1, 1), Fraction(1, 2))
    # plain truth rows (no extended columns) are one event each
    plain = [{k: v for k, v in r.items() if k in ("sample", "gene5", "gene3", "breakpoint5", "breakpoint3",
                                                  "fragments", "junction")} for r in rows]
    assert len(truth_events(plain)) == 3


def test_false_call_causes() -> None:
    decoys = ["ALKP1", "ALKP2", "ALKP3", "TPM3P1"]
    t = TRUTH[0]
    dup = Call("S1", "TPM3", "ALK", "chr1:103", "chr2:200")
    assert call_cause(dup, "duplicate", t, decoys) == "duplicate: near main (3/0 bp off)"
    assert call_cause(Call("S1", "TPM3P1", "ALK", "chr7:5", "chr2:200"), "false", None, decoys) == "decoy TPM3P1"
    prom = Call("N1", "GAPDH", "ALK", "chr12:5", "chr2:60109", origin="promiscuous GAPDH::ALK=7; wild-type ALK=1")
    assert call_cause(prom, "false", None, decoys) == "promiscuous breakpoint"
    polyg = Call("N1", "ALK", "MYL6", "chr2:5", "chr12:6", origin="poly-G mate ALK=4")
    assert call_cause(polyg, "false", None, decoys) == "poly-G mates"
    assert call_cause(Call("N1", "A", "B", "c:1", "c:2", origin="decoy ALKP3=3"), "false", None, decoys) \
        == "decoy reads (decoy ALKP3)"
    assert call_cause(dup, "true", t, decoys) == ""


def test_best_call_without_an_exact_one_is_the_best_supported() -> None:
    t = TRUTH[0]
    weak = Call("S1", "TPM3", "ALK", "chr1:90", "chr2:200", split_reads=1, fragments=2)
    strong = Call("S1", "TPM3", "ALK", "chr1:95", "chr2:200", split_reads=4, fragments=9)
    [outcome], _ = match_calls([t], [weak, strong])
    assert outcome.call == strong and outcome.found and not outcome.exact


def test_metric_arithmetic() -> None:
    m = compute_metrics(TRUTH, calls(), SAMPLES)
    assert m.recall == Fraction(2, 3)
    assert m.recall_high == Fraction(2, 2)  # 40 and 5 fragments
    assert m.recall_low == Fraction(0, 1)  # 2-4 fragments: ETV6::NTRK3 (3), not found
    assert m.precision == Fraction(2, 6)  # S9 ignored; TPM3::ALK in S1 and TFG::ROS1 in S2; the 2nd TPM3::ALK is a duplicate
    assert m.exact == Fraction(1, 1)  # representing calls with split reads: the exact S1 TPM3::ALK
    assert m.negative_calls == 1
    assert (m.negative_samples, m.negative_rate) == (1, "1.00")
    assert m.duplicates == 1
    assert m.false_calls == 4  # the duplicate, the reversed pair, TPM3::ALK in S2, the S3 call


def test_metrics_without_calls_or_truth() -> None:
    m = compute_metrics(TRUTH, [], SAMPLES)
    assert (m.recall, m.precision, m.exact, m.negative_calls) == (Fraction(0, 3), Fraction(0, 0), Fraction(0, 0), 0)
    assert (m.duplicates, m.negative_rate) == (0, "0.00")
    assert compute_metrics(TRUTH, [], ["S1", "S2"]).negative_rate == "–"
    assert str(m.precision) == "–" and m.precision.value is None
    neg = compute_metrics([], [Call("N1", "A", "ALK", "chr1:1", "chr2:2", split_reads=2)], ["N1"])
    assert neg.recall == Fraction(0, 0) and neg.negative_calls == 1 and neg.precision == Fraction(0, 1)


def test_fraction_text_and_table() -> None:
    assert str(Fraction(17, 20)) == "17/20 (85%)"
    assert str(Fraction(0, 4)) == "0/4 (0%)"
    assert Fraction(1, 3).value == pytest.approx(1 / 3)
    m = compute_metrics(TRUTH, calls(), SAMPLES)
    text = markdown_table([
        TableRow("star_chimeric", m, 12.34, 1.0),
        TableRow("hisat2", None, note="not run: hisat2 not on PATH"),
    ])
    lines = text.splitlines()
    assert lines[0] == ("| aligner | recall | recall ≥5 frags | recall 2-4 frags | precision | exact breakpoints | "
                        "FP in negatives | FP per negative sample | duplicate calls | align s | call s |")
    assert lines[2] == ("| star_chimeric | 2/3 (67%) | 2/2 (100%) | 0/1 (0%) | 2/6 (33%) | 1/1 (100%) | 1 | 1.00 | 1 "
                        "| 12.3 | 1.0 |")
    assert lines[3].startswith("| hisat2 * | not run |")
    assert lines[-1] == "\\* hisat2: not run: hisat2 not on PATH"
    assert all(line.count("|") == lines[0].count("|") for line in lines[:4])


def test_planned_runs() -> None:
    aligners = ["star_chimeric", "hisat2", "star_default"]
    assert planned_runs(aligners) == [(a, True) for a in aligners] + [(a, False) for a in aligners]
    assert planned_runs(aligners, with_fasta=True) == [(a, True) for a in aligners]
    assert planned_runs(aligners, without_fasta=True) == [(a, False) for a in aligners]
    assert planned_runs(["hisat2"], True, True) == [("hisat2", True), ("hisat2", False)]


class _Rec:
    """Just the pysam.AlignedSegment attributes the census reads."""

    def __init__(self, *, unmapped: bool = False, supplementary: bool = False, sa: bool = False,
                 cigar: list[tuple[int, int]] | None = None, ref: int = 0, pos: int = 1000,
                 mate_ref: int = 0, mate_pos: int = 1200, paired: bool = True, mate_unmapped: bool = False) -> None:
        self.is_unmapped = unmapped
        self.is_secondary = False
        self.is_supplementary = supplementary
        self._sa = sa
        self.cigartuples = cigar if cigar is not None else [(0, 100)]
        self.reference_id, self.reference_start = ref, pos
        self.next_reference_id, self.next_reference_start = mate_ref, mate_pos
        self.is_paired = paired
        self.mate_is_unmapped = mate_unmapped

    def has_tag(self, tag: str) -> bool:
        return tag == "SA" and self._sa


def test_classify_fragment() -> None:
    assert classify_fragment([], 12) == "unmapped"
    assert classify_fragment([_Rec(unmapped=True), _Rec(unmapped=True)], 12) == "unmapped"
    assert classify_fragment([_Rec(sa=True, cigar=[(0, 60), (4, 40)]), _Rec()], 12) == "chimeric"
    assert classify_fragment([_Rec(cigar=[(4, 12), (0, 88)]), _Rec()], 12) == "clipped"
    assert classify_fragment([_Rec(cigar=[(4, 11), (0, 89)]), _Rec()], 12) == "plain"
    assert classify_fragment([_Rec(mate_ref=3), _Rec(ref=3, mate_ref=0)], 12) == "discordant"
    assert classify_fragment([_Rec(mate_pos=300_000)], 12) == "discordant"
    assert classify_fragment([_Rec(mate_unmapped=True), _Rec(unmapped=True)], 12) == "mate_unmapped"
    assert classify_fragment([_Rec(paired=False)], 12) == "plain"
    # minimap2 -ax splice writes the two reads of a pair unpaired: compare their records directly
    assert classify_fragment([_Rec(paired=False), _Rec(paired=False, ref=2)], 12) == "discordant"
    assert classify_fragment([_Rec(paired=False), _Rec(paired=False, pos=1300)], 12) == "plain"


# --------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def genome():
    from imtfusion_tools.bench.accuracy import BENCH_SEED, benchmark_layout
    from imtfusion_tools.sim.genome import build_genome

    return build_genome(benchmark_layout(), BENCH_SEED)


def test_panel_covers_the_design(genome) -> None:
    from imtfusion_tools.bench.accuracy import BENCH_SEED, decoy_spec
    from imtfusion.knowledge import known_pairs, load_known_fusions
    from imtfusion_tools.sim.reads import build_chimeric_transcript

    panel = build_panel(genome, BENCH_SEED)
    assert panel == build_panel(genome, BENCH_SEED)  # deterministic
    fusions = [f for p in panel for f in p.fusions]
    built = [build_chimeric_transcript(genome, f) for f in fusions]
    targets = {"ALK", "ROS1", "ETV6", "NTRK3"}
    assert targets <= {g for f in fusions for g in (f.gene5, f.gene3)}
    pairs = {(f.gene5, f.gene3) for f in fusions}
    for pair in [("TPM3", "ALK"), ("TPM4", "ALK"), ("CLTC", "ALK"), ("RANBP2", "ALK"), ("EML4", "ALK"),
                 ("TFG", "ROS1"), ("YWHAE", "ROS1"), ("ETV6", "NTRK3")]:
        assert pair in pairs
    assert pairs - set(known_pairs(load_known_fusions(None))), "no novel partner"
    assert {2, 3, 5, 8, 15, 40, 100, 300} <= {f.fragments for f in fusions}
    strand = {g.name: g.strand for g in genome.genes}
    assert {strand[f.gene5] for f in fusions} == {"+", "-"}
    assert {strand[f.gene3] for f in fusions} == {"+", "-"}
    assert {c.junction_type for c in built} == {"splice_site", "exonic", "intronic"}
    eml4 = [f for f in fusions if (f.gene5, f.gene3) == ("EML4", "ALK") and f.offset3 > 0]
    assert eml4 and eml4[0].exon3 == 20  # part of ALK intron 19 kept
    libs = {(p.library.paired, p.library.read_length, p.library.fragment_mean < 200, p.library.strandedness) for p in panel}
    assert {paired for paired, *_ in libs} == {True, False}
    assert {n for _, n, *_ in libs} == {75, 100}
    assert any(ffpe for *_, ffpe, _ in libs)
    assert {s for *_, s in libs} >= {"unstranded", "reverse"}
    negatives = [p for p in panel if p.negative]
    assert len(negatives) >= 3
    assert any(("ETV6", "BCL2L14") in {(r.gene5, r.gene3) for r in p.readthroughs} for p in negatives)
    assert all(p.decoy_fragments > 0 for p in negatives)
    decoy = genome.gene(decoy_spec().name)
    assert decoy.gene_type == "unprocessed_pseudogene"
    spec = negatives[0].sample_spec(genome, BENCH_SEED)
    assert (decoy.canonical.name, negatives[0].decoy_fragments) in (spec.expression or ())
    for p in panel:
        noise_pairs = {frozenset((c.gene5, c.gene3)) for c in p.noise}
        assert all(c.fragments == 1 and c.gene5 != c.gene3 for c in p.noise)
        assert len(noise_pairs) == len(p.noise)
        assert not noise_pairs & {frozenset((f.gene5, f.gene3)) for f in p.fusions}
    assert any(targets & {c.gene5, c.gene3} for p in negatives for c in p.noise)
    quick = build_panel(genome, BENCH_SEED, quick=True)
    assert [p.negative for p in quick] == [False, True]
    assert not {p.name for p in quick} & {p.name for p in panel}


def test_panel_has_the_decoys_of_issue_15(genome) -> None:
    from imtfusion_tools.bench.accuracy import BENCH_SEED, PROMISCUOUS_ANCHOR, promiscuous_offset

    panel = build_panel(genome, BENCH_SEED)
    # the decoys exist, are annotated as the kind of pseudogene they are, and have no CDS
    kinds = {g.name: (g.gene_type, len(g.canonical.exons), g.canonical.is_coding) for g in genome.genes}
    assert kinds["ALKP2"] == ("transcribed_unprocessed_pseudogene", 10, False)
    assert kinds["ALKP3"] == ("processed_pseudogene", 1, False)
    assert kinds["TPM3P1"] == ("processed_pseudogene", 1, False)
    assert [r.name for r in genome.layout.repeats] == ["POLYG1"]
    # ... and are transcribed in every sample, more in the negatives
    expressed = {p.name: dict(p.pseudogenes) for p in panel}
    for name in ("ALKP2", "ALKP3", "TPM3P1"):
        pos = [expressed[p.name][name] for p in panel if not p.negative]
        neg = [expressed[p.name][name] for p in panel if p.negative]
        assert min(pos) > 0 and min(neg) > max(pos), name
    assert all(p.decoy_fragments > 0 for p in panel)
    spec = panel[0].sample_spec(genome, BENCH_SEED)
    assert (genome.gene("ALKP2").canonical.name, expressed[panel[0].name]["ALKP2"]) in spec.extra_expression
    # pre-mRNA and isoforms in at least two positives, isoforms at 20-30% of the main junction
    fusions = {(p.name, f.name): f for p in panel for f in p.fusions}
    assert sum(any(f.premrna_fragments for f in p.fusions) for p in panel) >= 2
    assert sum(any(f.isoforms for f in p.fusions) for p in panel) >= 2
    tpm3 = next(f for (_, n), f in fusions.items() if n == "TPM3::ALK" and f.premrna_fragments)
    assert [(i.exon5, i.exon3) for i in tpm3.isoforms] == [(6, 20)]
    near = [i for f in fusions.values() for i in f.isoforms if (i.exon5, i.exon3) == (f.exon5, f.exon3)]
    assert near and all(8 <= abs(i.offset5 - f.offset5) + abs(i.offset3 - f.offset3) <= 15
                        for f in fusions.values() for i in f.isoforms if i in near)
    for f in fusions.values():
        for i in f.isoforms:
            assert 0.2 <= i.fragments / f.fragments <= 0.3, (f.name, i)
    # the promiscuous breakpoint: one ALK intron 19 position, six partners, 3-9 fragments, 12-16 ALK bases
    with_artefact = [p for p in panel if p.artefacts]
    assert sum(p.negative for p in with_artefact) >= 4 and sum(not p.negative for p in with_artefact) >= 2
    off = promiscuous_offset(genome)
    for p in with_artefact:
        assert len({a.gene5 for a in p.artefacts}) == len(p.artefacts) == 6
        assert {(a.gene3, a.exon3, a.offset3, a.anchor3) for a in p.artefacts} == {("ALK", 20, off, PROMISCUOUS_ANCHOR)}
        assert all(3 <= a.fragments <= 9 for a in p.artefacts)
        assert not {a.gene5 for a in p.artefacts} & {g for f in p.fusions for g in (f.gene5, f.gene3)}
    # poly-G mates: 3-10 pairs, paired libraries only, in several samples
    with_polyg = [p for p in panel if p.polyg]
    assert len(with_polyg) >= 6 and any(not p.negative for p in with_polyg)
    for p in with_polyg:
        assert p.library.paired and 3 <= sum(g.fragments for g in p.polyg) <= 10
    # the added negatives: decoys at hundreds of fragments with every look-alike, in 2x100, FFPE 2x75 and 1x75
    negatives = [p for p in panel if p.negative]
    assert len(negatives) >= 10
    heavy = [p for p in negatives if min(dict(p.pseudogenes).values()) >= 200]
    assert len(heavy) >= 4
    assert {(p.library.paired, p.library.read_length, p.library.fragment_mean < 200) for p in heavy} >= {
        (True, 100, False), (True, 75, True), (False, 75, False)}
    for p in heavy:
        assert p.artefacts and p.readthroughs and p.noise and (p.polyg or not p.library.paired)


def test_cli_registers_the_benchmark() -> None:
    from imtfusion.cli import build_parser

    args = build_parser().parse_args(["benchmark", "accuracy", "--outdir", "x", "--quick", "--aligners", "hisat2"])
    assert args._bench_module.__name__ == "imtfusion_tools.bench.accuracy"
    assert (args.quick, args.aligners, args.with_fasta, args.without_fasta) == (True, ["hisat2"], False, False)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["benchmark", "accuracy", "--outdir", "x", "--aligners", "nope"])


# --------------------------------------------------------------------------
# a quick run with real STAR
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.needs_tool
@pytest.mark.skipif(shutil.which("STAR") is None, reason="STAR (Debian package rna-star) is not on PATH")
def test_quick_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imtfusion.cli import main

    out = tmp_path / "bench"
    rc = main(["benchmark", "accuracy", "--outdir", str(out), "--quick", "--threads", "2",
               "--aligners", "star_chimeric", "star_default"])
    assert rc == 0, capsys.readouterr().err
    table = capsys.readouterr().out.splitlines()
    labels = [line.split("|")[1].strip() for line in table[2:] if line.startswith("|")]
    assert labels == ["star_chimeric", "star_default", "star_chimeric without FASTA", "star_default without FASTA"]
    for name in ("accuracy.md", "fusions.tsv", "calls.tsv", "discarded.tsv", "runs.tsv", "truth.tsv", "samples.tsv"):
        assert (out / name).stat().st_size > 0, name
    assert "\n".join(table) in (out / "accuracy.md").read_text()
    truth = read_tsv(out / "truth.tsv")
    assert sorted(t["fusion"] for t in truth) == ["ETV6::NTRK3", "TPM3::ALK"]
    rows = read_tsv(out / "fusions.tsv")
    assert len(rows) == len(truth) * 4
    star = {r["fusion"]: r for r in rows if r["aligner"] == "star_chimeric" and r["fasta"] == "yes"}
    tpm3 = star["TPM3::ALK"]  # 15 junction fragments in 2x100 reads: STAR's chimeric records show it
    assert tpm3["found"] == "yes" and tpm3["exact"] == "yes"
    assert int(tpm3["bam_chimeric"]) > 0 and int(tpm3["junction_in_read"]) + int(tpm3["junction_in_insert"]) == 15
    assert all(r["error"] == "." for r in read_tsv(out / "runs.tsv"))
    # a re-run into the same folder reuses the index and replaces the tables
    rc = main(["benchmark", "accuracy", "--outdir", str(out), "--quick", "--aligners", "star_chimeric", "--with-fasta"])
    assert rc == 0
    assert len(read_tsv(out / "fusions.tsv")) == len(truth)


def test_an_absent_aligner_gives_a_not_run_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import imtfusion_tools.bench.accuracy as acc

    monkeypatch.setattr(acc.shutil, "which", lambda name: None)
    result = acc.run_accuracy(tmp_path / "b", ["hisat2"], quick=True)
    assert [r.label for r in result.rows] == ["hisat2", "hisat2 without FASTA"]  # both modes by default
    for row in result.rows:
        assert row.metrics is None and "hisat2, hisat2-build not on PATH" in row.note
    assert "| hisat2 * | not run |" in result.table
    assert read_tsv(tmp_path / "b" / "fusions.tsv") == []
    assert len(read_tsv(tmp_path / "b" / "truth.tsv")) == 2
