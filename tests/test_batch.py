"""The recurrent-artefact filter of a batch (imtfusion.batch, `imtfusion batch-artefacts`).

Aggregation is tested on candidate tables written here by hand; one test runs the whole
thing on small BAMs through the command line: the first pass (`call --candidates-only`),
`batch-artefacts`, then `call --artefacts`.
"""

from __future__ import annotations

import csv
import inspect
import random
from pathlib import Path

import pytest

from imtfusion.batch import (
    ARTEFACT_COLUMNS,
    CANDIDATE_COLUMNS,
    RULE_BELOW_STRONGEST,
    RULE_MANY_WEAK,
    Artefacts,
    BatchRules,
    BatchTableError,
    Breakpoint,
    SampleCandidate,
    aggregate,
    read_artefacts,
    read_batch,
    read_candidates,
)
from imtfusion.cli import main as cli
from imtfusion.errors import ConfigError
from imtfusion.pipeline import run_sample
from test_calling import PARTP_ALK_READ, add_background, make_toy

BP5, BP3 = "chr4:4150", "chr2:20150"  # PARTP exon 2 :: ALK exon 3 of the toy genome


def cand(sample: str, fragments: int, bp5: str = BP5, bp3: str = BP3, exact: bool = True,
         gene5: str = "PARTP", gene3: str = "ALK") -> SampleCandidate:
    return SampleCandidate(sample, gene5, gene3, Breakpoint.parse(bp5), Breakpoint.parse(bp3), exact, fragments)


def batch_of(n: int) -> list[str]:
    return [f"S{i:02d}" for i in range(1, n + 1)]


def flagged(rows, fragments: int, bp5: str = BP5, bp3: str = BP3, gene5: str = "PARTP", gene3: str = "ALK"):
    return Artefacts(tuple(rows)).match(gene5, gene3, bp5, bp3, fragments)


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def write_candidates(path: Path, rows: list[dict[str, object]], columns=CANDIDATE_COLUMNS) -> Path:
    lines = ["\t".join(columns)]
    for r in rows:
        full = {"fusion": f"{r.get('gene5', 'PARTP')}::{r.get('gene3', 'ALK')}", "gene5": "PARTP", "gene3": "ALK",
                "breakpoint5": BP5, "breakpoint3": BP3, "breakpoint_precision": "exact", "split_reads": r["fragments"],
                "discordant_pairs": 0, "filters": ".", **r}
        lines.append("\t".join(str(full.get(c, ".")) for c in columns))
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- the rules


def test_weak_copies_of_one_strong_sample_are_flagged_and_the_strong_sample_is_not():
    samples = batch_of(20)
    rows = aggregate([cand("S01", 40), cand("S02", 1), cand("S03", 2)], samples)
    [row] = rows
    assert row.rule == RULE_BELOW_STRONGEST
    assert row.flagged_samples == ("S02", "S03")
    assert (row.strongest_sample, row.strongest_fragments, row.samples_seen, row.batch_samples) == ("S01", 40, 3, 20)
    assert row.max_fragments == 5  # min(max_fragments, below 20% of 40)
    assert "40 fragments in S01" in flagged(rows, 2)
    assert flagged(rows, 1) is not None
    assert flagged(rows, 40) is None


def test_the_share_of_the_strongest_sample_bounds_what_is_flagged():
    # 12 fragments in the strongest: less than 20% of it is at most 2
    rows = aggregate([cand("S01", 12), cand("S02", 2), cand("S03", 3)], batch_of(20))
    [row] = rows
    assert row.max_fragments == 2 and row.flagged_samples == ("S02",)
    assert flagged(rows, 2) and not flagged(rows, 3)


def test_low_support_in_many_samples_is_flagged_in_all_of_them():
    samples = batch_of(20)
    rows = aggregate([cand(s, f) for s, f in zip(samples[:6], [1, 3, 2, 1, 2, 3])], samples)
    [row] = rows
    assert row.rule == RULE_MANY_WEAK
    assert row.flagged_samples == tuple(samples[:6])
    assert flagged(rows, 3) == "seen in 6 of 20 samples of the batch with 1-3 fragments each"
    assert flagged(rows, 5) is not None and flagged(rows, 6) is None


def test_many_weak_samples_beside_a_strong_one_are_flagged_but_not_the_strong_one():
    samples = batch_of(20)
    rows = aggregate([cand("S01", 8)] + [cand(s, 3) for s in samples[1:5]], samples)
    [row] = rows
    assert row.rule == RULE_MANY_WEAK and "S01" not in row.flagged_samples and len(row.flagged_samples) == 4
    assert flagged(rows, 3) and not flagged(rows, 8)


def test_a_real_recurrent_fusion_with_many_reads_is_never_flagged():
    samples = batch_of(20)
    strong = [cand(s, f) for s, f in zip(samples, [30, 55, 80, 120])]
    assert aggregate(strong, samples) == ()
    # a weak copy of it in a fifth sample is, but none of the four patients' calls
    rows = aggregate(strong + [cand("S05", 1)], samples)
    assert [r.flagged_samples for r in rows] == [("S05",)]
    for f in (30, 55, 80, 120):
        assert flagged(rows, f) is None


def test_a_batch_of_two_never_flags():
    assert aggregate([cand("S01", 1), cand("S02", 1)], batch_of(2)) == ()
    assert aggregate([cand("S01", 40), cand("S02", 1)], batch_of(2)) == ()


def test_min_samples_protects_a_small_batch_and_min_fraction_a_large_one():
    # one sample of three is a third of the batch, but never "many samples"
    assert aggregate([cand("S01", 1)], batch_of(3)) == ()
    # three weak samples: enough in a batch of 20, not in one of 100 (0.1 of it is 10)
    weak = [cand(s, 1) for s in batch_of(3)]
    assert aggregate(weak, batch_of(20)) != ()
    assert aggregate(weak, batch_of(100)) == ()
    assert aggregate([cand(s, 1) for s in batch_of(10)], batch_of(100)) != ()
    assert aggregate(weak, batch_of(20), BatchRules(min_samples=4)) == ()


def test_breakpoints_a_few_bases_apart_are_one_junction():
    samples = batch_of(20)
    rows = aggregate(
        [cand("S01", 2, "chr4:4150"), cand("S02", 1, "chr4:4147", "chr2:20152"), cand("S03", 2, "chr4:4150")], samples
    )
    [row] = rows
    assert row.breakpoint5 == Breakpoint("chr4", 4150)  # the breakpoints seen in most samples
    assert row.samples_seen == 3
    assert flagged(rows, 1, "chr4:4146", "chr2:20155")
    assert not flagged(rows, 1, "chr4:4144")  # 6 bases off
    assert not flagged(rows, 1, "chr5:4150")
    # farther apart than the tolerance: three junctions seen once each
    apart = [cand("S01", 2, "chr4:4150"), cand("S02", 1, "chr4:4160"), cand("S03", 2, "chr4:4170")]
    assert aggregate(apart, samples) == ()
    assert aggregate(apart, samples, BatchRules(breakpoint_tolerance=20)) != ()  # all within 20 of the first


def test_the_gene_pair_is_part_of_the_junction():
    samples = batch_of(20)
    rows = aggregate([cand("S01", 1), cand("S02", 1, gene5="OTHER"), cand("S03", 1)], samples)
    assert rows == ()
    rows = aggregate([cand(s, 1) for s in samples[:3]], samples)
    assert flagged(rows, 1) and not flagged(rows, 1, gene5="OTHER") and not flagged(rows, 1, gene5="ALK", gene3="PARTP")


def test_approximate_candidates_are_one_junction_per_gene_pair():
    samples = batch_of(20)
    # mates only: the estimated breakpoints differ from sample to sample
    approximate = [cand("S01", 1, "chr4:4150", "chr2:20150", exact=False),
                   cand("S02", 2, "chr4:7300", "chr2:20150", exact=False),
                   cand("S03", 1, "chr4:4150", "chr2:26200", exact=False)]
    rows = aggregate(approximate, samples)
    assert {r.flagged_samples for r in rows} == {("S01", "S02", "S03")}
    for c in approximate:
        assert flagged(rows, c.fragments, c.breakpoint5.label(), c.breakpoint3.label())
    # an exact junction of the pair elsewhere in a sample is not reached by those rows
    assert not flagged(rows, 1, "chr4:1200", "chr2:32400")


def test_approximate_weak_copies_of_a_strong_exact_call_are_flagged():
    samples = batch_of(20)
    rows = aggregate(
        [cand("S01", 30), cand("S02", 1, "chr4:4150", "chr2:26200", exact=False), cand("S03", 1, exact=False)],
        samples,
    )
    assert flagged(rows, 1, "chr4:4150", "chr2:26200")
    assert flagged(rows, 1)  # S03's estimate: the strong junction itself, weakly
    assert not flagged(rows, 30)
    assert all("S01" not in r.flagged_samples for r in rows)


def test_rows_do_not_depend_on_the_order_of_the_candidates():
    rng = random.Random(3)
    samples = batch_of(20)
    cands = [cand("S01", 40)] + [cand(s, rng.randint(1, 3), f"chr4:{4148 + rng.randint(0, 4)}") for s in samples[1:7]]
    cands += [cand(s, 1, "chr4:1200", "chr2:32400", exact=False, gene5="NEIGH") for s in samples[3:8]]
    expected = aggregate(cands, samples)
    for _ in range(5):
        rng.shuffle(cands)
        assert aggregate(cands, list(reversed(samples))) == expected


@pytest.mark.parametrize("kwargs", [
    {"min_samples": 1}, {"min_fraction": 1.5}, {"max_fragments": 0}, {"max_share": 0}, {"breakpoint_tolerance": -1},
])
def test_bad_rules_are_refused(kwargs):
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        BatchRules(**kwargs)


# ---------------------------------------------------------------- tables


def test_candidate_tables_are_read_by_column_name(tmp_path):
    # a fusions.tsv with more columns, in another order
    columns = ["fusion", "sample", "breakpoint3", "gene3", "gene5", "breakpoint5", "fragments", "confidence",
               "breakpoint_precision", "peptide"]
    path = write_candidates(tmp_path / "A.fusions.tsv", [{"sample": "A", "fragments": 7, "confidence": "high"}], columns)
    [c] = read_candidates(path).candidates
    assert c == cand("A", 7)
    # a table without rows is its file name's sample
    empty = write_candidates(tmp_path / "B.fusions.discarded.tsv", [])
    assert read_candidates(empty).samples == ("B",)
    batch = read_batch([path, empty, write_candidates(tmp_path / "B.fusions.tsv", [])])
    assert batch.samples == ("A", "B")


def test_a_sample_whose_first_pass_failed_is_left_out_of_the_batch(tmp_path):
    from imtfusion.batch import candidate_failure_text

    failed = tmp_path / "X.candidates.tsv"
    failed.write_text(candidate_failure_text("X", "BAM not found: x.bam; check\nthe sheet"))
    ok = write_candidates(tmp_path / "A.candidates.tsv", [{"sample": "A", "fragments": 1}])
    batch = read_batch([failed, ok])
    assert batch.samples == ("A",)
    assert batch.failed == (("X", "BAM not found: x.bam; check the sheet"),)


def test_known_artefacts_match_any_support_and_star_breakpoints(tmp_path):
    table = tmp_path / "known.tsv"
    table.write_text(
        "# artefacts of our library kit\n"
        "gene5\tgene3\tbreakpoint5\tbreakpoint3\tnote\n"
        "PARTP\tALK\t*\t*\tkit artefact\n"
        "\n"
        "ETV6\tNEIGH\tchr3:3200\t*\tread-through seen in normals\n"
        "NEIGH\tALK\tchr3:14100\tchr2:20150\t.\n"
    )
    art = Artefacts.load([table])
    assert art.match("PARTP", "ALK", "chr4:1", "chr2:1", 500) == "listed as a known artefact: kit artefact"
    assert art.match("ETV6", "NEIGH", "chr3:3203", "chr3:17001", 9)
    assert art.match("ETV6", "NEIGH", "chr3:3300", "chr3:17001", 9) is None
    assert art.match("NEIGH", "ALK", "chr3:14100", "chr2:20150", 2) == "listed as a known artefact"
    assert art.match("ALK", "PARTP", "chr2:1", "chr4:1", 1) is None
    assert Artefacts.load([]).match("PARTP", "ALK", BP5, BP3, 1) is None


def assert_one_line_error(read, path, text: str, message: str) -> None:
    """``read(path)`` of a table holding ``text`` fails with one line naming the file."""
    path.write_text(text)
    with pytest.raises(BatchTableError) as info:
        read(path)
    assert message in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("gene5\tgene3\tbreakpoint5\n", "missing column(s) breakpoint3"),
    ("gene5,gene3,breakpoint5,breakpoint3,note\nA,B,*,*,x\n", "comma-separated"),
    ("gene5\tgene3\tbreakpoint5\tbreakpoint3\tnote\nA\tB\tchr1-5\t*\tx\n", "line 2: breakpoint5 'chr1-5' is not"),
    ("gene5\tgene3\tbreakpoint5\tbreakpoint3\tnote\nA\tB\t*\n", "line 2 has 3 tab-separated columns"),
    ("gene5\tgene3\tbreakpoint5\tbreakpoint3\tmax_fragments\nA\tB\t*\t*\tmany\n", "max_fragments 'many'"),
    ("", "is empty"),
])
def test_bad_artefact_tables_give_one_line_naming_the_file(tmp_path, text, message):
    assert_one_line_error(read_artefacts, tmp_path / "known.tsv", text, message)


@pytest.mark.parametrize("text, message", [
    ("sample\tgene5\tgene3\tbreakpoint5\tbreakpoint3\tfragments\n", "missing column(s) breakpoint_precision"),
    ("\t".join(CANDIDATE_COLUMNS) + "\nA\tP::A\tP\tA\tchr1:5\tchr2:6\tsomewhat\t1\t0\t1\t.\n", "breakpoint_precision"),
    ("\t".join(CANDIDATE_COLUMNS) + "\nA\tP::A\tP\tA\tchr1:5\tchr2:6\texact\t1\t0\t-1\t.\n", "fragments '-1'"),
    ("\t".join(CANDIDATE_COLUMNS) + "\nA\tP::A\tP\tA\tchr1:0\tchr2:6\texact\t1\t0\t1\t.\n", "breakpoint5 'chr1:0'"),
])
def test_bad_candidate_tables_give_one_line_naming_the_file(tmp_path, text, message):
    assert_one_line_error(read_candidates, tmp_path / "A.candidates.tsv", text, message)


def test_unreadable_tables_are_named(tmp_path):
    with pytest.raises(BatchTableError, match="missing.tsv: candidate table not found"):
        read_candidates(tmp_path / "missing.tsv")
    binary = tmp_path / "b.tsv"
    binary.write_bytes(b"\xff\xfe\x00gene5")
    with pytest.raises(BatchTableError, match="not UTF-8"):
        read_artefacts(binary)
    with pytest.raises(BatchTableError, match="a directory"):
        read_artefacts(tmp_path)


def test_the_command_writes_the_same_bytes_for_the_same_inputs(tmp_path, capsys):
    samples = batch_of(6)
    tables = [write_candidates(tmp_path / f"{s}.candidates.tsv", [{"sample": s, "fragments": 30 if s == "S01" else 1}])
              for s in samples]
    known = tmp_path / "known.tsv"
    known.write_text("gene5\tgene3\tbreakpoint5\tbreakpoint3\tnote\nETV6\tNEIGH\t*\t*\tread-through\n")
    outputs = []
    for k, order in enumerate([tables, list(reversed(tables))]):
        out = tmp_path / f"artefacts{k}.tsv"
        argv = ["batch-artefacts", "--candidates", *map(str, order), "--known-artefacts", str(known), "--output", str(out)]
        assert cli(argv) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    rows = read_tsv(tmp_path / "artefacts0.tsv")
    assert list(rows[0]) == ARTEFACT_COLUMNS
    assert [(r["gene5"], r["rule"]) for r in rows] == [("PARTP", "many_weak_samples"), ("ETV6", "known_artefact")]
    assert rows[0]["flagged_samples"] == "S02,S03,S04,S05,S06"
    assert rows[0]["fragments_by_sample"] == "S01:30,S02:1,S03:1,S04:1,S05:1,S06:1"
    # the table reads back with the same matches
    art = Artefacts.load([tmp_path / "artefacts0.tsv"])
    assert art.match("PARTP", "ALK", BP5, BP3, 1) and art.match("PARTP", "ALK", BP5, BP3, 30) is None
    assert art.match("ETV6", "NEIGH", "chr3:3200", "chr3:14001", 40)


def test_the_command_reports_a_bad_table_in_one_line(tmp_path, capsys):
    bad = tmp_path / "A.candidates.tsv"
    bad.write_text("sample\tgene5\n")
    assert cli(["batch-artefacts", "--candidates", str(bad), "--output", str(tmp_path / "out.tsv")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("imtfusion batch-artefacts: error: ") and str(bad) in err and "\n" not in err
    assert not (tmp_path / "out.tsv").exists()


# ---------------------------------------------------------------- end to end, on BAMs


def fusion_bam(folder: Path, name: str, fragments: int) -> tuple[Path, Path]:
    """A toy BAM with ``fragments`` PARTP::ALK junction fragments (test_calling's genome)."""
    toy = make_toy()
    add_background(toy)
    for i in range(fragments):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i % 40, "+", 100)])
    return toy.write_bam(folder / f"{name}.bam"), toy.write_gtf(folder / "genes.gtf")


@pytest.mark.skipif(
    "artefacts" not in inspect.signature(run_sample).parameters,
    reason="run_sample(artefacts=...) has not landed in pipeline.py yet",
)
def test_weak_copies_of_a_junction_are_discarded_and_the_strong_call_is_kept(tmp_path, capsys):
    support = {"strong": 20, "weak1": 2, "weak2": 2, "weak3": 2, "none": 0}
    bams = {}
    for sample, n in support.items():
        bams[sample], gtf = fusion_bam(tmp_path, sample, n)
    common = ["--gtf", str(gtf), "--targets", "ALK", "ETV6", "--param", "min_fragments=2"]
    # pass 1: every candidate of every sample, nothing else (a missing BAM is recorded, not fatal)
    tables = []
    for sample in [*support, "missing"]:
        table = tmp_path / "batch" / f"{sample}.candidates.tsv"
        bam = bams.get(sample, tmp_path / "missing.bam")
        assert cli(["call", "--bam", str(bam), "--sample", sample, "--candidates-only", str(table), *common,
                    "--record-failure"]) == 0
        tables.append(table)
    assert not (tmp_path / "strong").exists()
    assert read_tsv(tmp_path / "batch" / "weak1.candidates.tsv")[0]["fragments"] == "2"
    artefacts = tmp_path / "batch" / "artefacts.tsv"
    assert cli(["batch-artefacts", "--candidates", *map(str, tables), "--output", str(artefacts)]) == 0
    assert "missing: left out of the batch" in capsys.readouterr().err
    [row] = read_tsv(artefacts)
    assert (row["gene5"], row["gene3"], row["breakpoint5"], row["breakpoint3"]) == ("PARTP", "ALK", BP5, BP3)
    assert row["batch_samples"] == "5" and row["flagged_samples"] == "weak1,weak2,weak3"
    # pass 2
    for sample in support:
        assert cli(["call", "--bam", str(bams[sample]), "--sample", sample, "--outdir", str(tmp_path / "out"),
                    *common, "--artefacts", str(artefacts)]) == 0
    out = tmp_path / "out"
    strong = read_tsv(out / "strong" / "strong.fusions.tsv")
    assert [c["fusion"] for c in strong] == ["PARTP::ALK"]
    for sample in ("weak1", "weak2", "weak3"):
        assert read_tsv(out / sample / f"{sample}.fusions.tsv") == []
        [d] = [d for d in read_tsv(out / sample / f"{sample}.fusions.discarded.tsv") if d["fusion"] == "PARTP::ALK"]
        assert "recurrent_in_batch" in d["filters"].split(",")
    # without the batch table the weak samples call it
    assert cli(["call", "--bam", str(bams["weak1"]), "--sample", "weak1", "--outdir", str(tmp_path / "alone"),
                *common]) == 0
    assert [c["fusion"] for c in read_tsv(tmp_path / "alone" / "weak1" / "weak1.fusions.tsv")] == ["PARTP::ALK"]


def test_the_first_pass_indexes_a_bam_without_index_into_a_temporary_file(tmp_path):
    bam, gtf = fusion_bam(tmp_path, "s", 3)
    unindexed = tmp_path / "unindexed.bam"
    unindexed.write_bytes(bam.read_bytes())
    table = tmp_path / "s.candidates.tsv"
    argv = ["call", "--bam", str(unindexed), "--gtf", str(gtf), "--sample", "s", "--targets", "ALK", "ETV6",
            "--candidates-only", str(table)]
    assert cli(argv) == 1  # without --temporary-index: no index, no call
    assert cli(argv + ["--temporary-index"]) == 0
    assert [r["fusion"] for r in read_tsv(table)] == ["PARTP::ALK"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["genes.gtf", "s.bam", "s.bam.bai", "unindexed.bam",
                                                                 "s.candidates.tsv"])
