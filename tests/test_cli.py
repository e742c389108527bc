"""`imtfusion call` as a user runs it: files, columns, errors, atomicity, determinism."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imtfusion.pipeline import FUSION_COLUMNS
from test_calling import PARTP_ALK_READ, add_background, make_toy

FIRST_COLUMNS = ["sample", "fusion", "gene5", "gene3", "breakpoint5", "breakpoint3", "split_reads", "discordant_pairs", "confidence"]


def imtfusion(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imtfusion.cli", *args], capture_output=True, text=True)


@pytest.fixture()
def sample_files(tmp_path):
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
    bam = toy.write_bam(tmp_path / "tumour.bam")
    gtf = toy.write_gtf(tmp_path / "genes.gtf")
    fasta = toy.write_fasta(tmp_path / "genome.fa")
    return bam, gtf, fasta


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def call_args(bam, gtf, outdir, *extra):
    # a toy library of a few dozen fragments: the unique-fragment gate lowered (test_sampleqc.py tests it)
    return ["call", "--bam", str(bam), "--gtf", str(gtf), "--sample", "T1", "--outdir", str(outdir),
            "--targets", "ALK", "ETV6", "--param", "qc_min_unique_fragments=10", *extra]


def test_call_writes_the_per_sample_files(sample_files, tmp_path):
    bam, gtf, fasta = sample_files
    out = tmp_path / "res"
    proc = imtfusion(*call_args(bam, gtf, out, "--fasta", str(fasta)))
    assert proc.returncode == 0, proc.stderr
    folder = out / "T1"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "T1.evidence.bam", "T1.evidence.bam.bai", "T1.fusions.discarded.tsv", "T1.fusions.json",
        "T1.fusions.tsv", "T1.fusions.vcf", "T1.report.html", "T1.targets.tsv", "T1.vicc.json",
    ]
    import pysam

    with pysam.AlignmentFile(str(folder / "T1.evidence.bam")) as ev:
        records = list(ev.fetch())
    # 4 fragments: read 1 primary + supplementary, read 2 -- all tagged with the call
    assert len(records) == 12
    assert {r.get_tag("XI") for r in records} == {"T1_F1"} and {r.get_tag("XE") for r in records} == {"split"}
    header = (folder / "T1.fusions.tsv").read_text().splitlines()[0].split("\t")
    assert header[: len(FIRST_COLUMNS)] == FIRST_COLUMNS
    assert header == FUSION_COLUMNS
    [row] = read_tsv(folder / "T1.fusions.tsv")
    assert row["fusion"] == "PARTP::ALK"
    assert (row["breakpoint5"], row["breakpoint3"]) == ("chr4:4150", "chr2:20150")
    assert row["split_reads"] == "4" and row["confidence"] == "high"
    # the junction sequence: PARTP exon 2 end | ALK exon 3 start, in transcript orientation
    left, right = row["sequence"].split("|")
    from toolkit import revcomp

    toy = make_toy()
    assert toy.seq["chr4"][4150 - len(left):4150] == left
    assert revcomp(toy.seq["chr2"][20150 - len(right):20150]) == right
    targets = {r["target"]: r["status"] for r in read_tsv(folder / "T1.targets.tsv")}
    assert targets == {"ALK": "detected", "ETV6": "not assessable (LoD above 25%)"}  # a shallow toy
    html = (folder / "T1.report.html").read_text()
    assert "PARTP::ALK" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_empty_result_keeps_its_header(tmp_path):
    toy = make_toy()
    add_background(toy)
    bam = toy.write_bam(tmp_path / "neg.bam")
    gtf = toy.write_gtf(tmp_path / "genes.gtf")
    proc = imtfusion(*call_args(bam, gtf, tmp_path / "res"))
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "res" / "T1" / "T1.fusions.tsv").read_text().splitlines()
    assert lines == ["\t".join(FUSION_COLUMNS)]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, sample_files):
    _, gtf, _ = sample_files
    proc = imtfusion(*call_args(tmp_path / "nope.bam", gtf, tmp_path / "res"))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "nope.bam" in proc.stderr and "not found" in proc.stderr
    assert not (tmp_path / "res").exists()


def test_a_failed_rerun_leaves_the_earlier_result_untouched(sample_files, tmp_path):
    bam, gtf, _ = sample_files
    out = tmp_path / "res"
    assert imtfusion(*call_args(bam, gtf, out)).returncode == 0
    before = {p.name: p.read_bytes() for p in (out / "T1").iterdir()}
    broken = tmp_path / "broken.bam"
    broken.write_bytes(bam.read_bytes()[:-28])  # no EOF block
    Path(str(broken) + ".bai").write_bytes(Path(str(bam) + ".bai").read_bytes())
    proc = imtfusion(*call_args(broken, gtf, out, "--record-failure"))
    assert proc.returncode == 1 and "truncated" in proc.stderr
    after = {p.name: p.read_bytes() for p in (out / "T1").iterdir() if p.name != "T1.error.txt"}
    assert after == before
    assert "truncated" in (out / "T1" / "T1.error.txt").read_text()
    assert not [p for p in (out / "T1").iterdir() if p.name.endswith(".tmp")]


def test_same_inputs_give_byte_identical_tables(sample_files, tmp_path):
    bam, gtf, fasta = sample_files
    for run in ("a", "b"):
        assert imtfusion(*call_args(bam, gtf, tmp_path / run, "--fasta", str(fasta))).returncode == 0
    for name in ("T1.fusions.tsv", "T1.fusions.discarded.tsv", "T1.targets.tsv", "T1.fusions.vcf", "T1.fusions.json"):
        assert (tmp_path / "a" / "T1" / name).read_bytes() == (tmp_path / "b" / "T1" / name).read_bytes()


def test_annotation_index_gives_the_same_calls_as_the_gtf(sample_files, tmp_path):
    bam, gtf, _ = sample_files
    idx = tmp_path / "ann.idx"
    assert imtfusion("index-gtf", "--gtf", str(gtf), "--output", str(idx)).returncode == 0
    assert imtfusion(*call_args(bam, gtf, tmp_path / "gtf")).returncode == 0
    assert imtfusion(*call_args(bam, idx, tmp_path / "idx")).returncode == 0
    a = (tmp_path / "gtf" / "T1" / "T1.fusions.tsv").read_bytes()
    b = (tmp_path / "idx" / "T1" / "T1.fusions.tsv").read_bytes()
    assert a == b


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--param", "min_fragments"], "expected NAME=VALUE"),
        (["--param", "no_such=1"], "unknown parameter 'no_such'"),
        (["--param", "min_fragments=many"], "must be a int"),
        (["--targets", "NOTAGENE"], "gene 'NOTAGENE' is not in the annotation"),
    ],
)
def test_bad_options_are_reported(sample_files, tmp_path, extra, message):
    bam, gtf, _ = sample_files
    args = call_args(bam, gtf, tmp_path / "res")
    if extra[0] == "--targets":
        args = args[: args.index("--targets")] + extra
    else:
        args += extra
    proc = imtfusion(*args)
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_unsafe_sample_names_are_refused(sample_files, tmp_path):
    bam, gtf, _ = sample_files
    for name in ("../escape", "a/b", "has space", ".hidden"):
        proc = imtfusion("call", "--bam", str(bam), "--gtf", str(gtf), "--sample", name, "--outdir", str(tmp_path / "res"))
        assert proc.returncode == 1 and "not allowed" in proc.stderr
    assert not (tmp_path / "res").exists() and not (tmp_path / "escape").exists()


def test_index_with_fasta_stores_the_exon_boundary_index_for_later(sample_files, tmp_path):
    from imtfusion.annotation import load_annotation
    from imtfusion.boundaries import BoundaryIndex
    from imtfusion.pipeline import boundary_key

    _, gtf, fasta = sample_files
    idx = tmp_path / "ann.idx"
    proc = imtfusion("index-gtf", "--gtf", str(gtf), "--fasta", str(fasta), "--output", str(idx))
    assert proc.returncode == 0, proc.stderr
    ann = load_annotation(idx)
    key = boundary_key(fasta)
    assert key in ann.stored and key not in ann.cache  # not loaded until asked for
    boundaries = ann.cached(key)
    assert isinstance(boundaries, BoundaryIndex)
    # PARTP exon 2 ends at 4149 (0-based): its last 20 bases, read backwards, find it
    from toolkit import Toy  # noqa: F401  (same toy genome as the fixture)
    from test_calling import make_toy

    toy = make_toy()
    kmer = toy.seq["chr4"][4130:4150][::-1]
    assert ("chr4", 4149, "L", ann.find_gene("PARTP").gene_id) in boundaries.lookup(kmer)


@pytest.mark.parametrize("preset", [None, "4"])
def test_a_call_starts_numpy_with_one_blas_thread_unless_told_otherwise(preset):
    """numpy is imported by the command module, after main() has set OPENBLAS_NUM_THREADS
    (imtfusion does no linear algebra; OpenBLAS's threads only cost CPU at start)."""
    probe = ("import os, sys\n"
             "from imtfusion import cli\n"
             "assert 'numpy' not in sys.modules\n"
             "try:\n"
             "    cli.main(['call', '--help'])\n"
             "except SystemExit:\n"
             "    pass\n"
             "assert 'numpy' in sys.modules\n"
             "print(os.environ['OPENBLAS_NUM_THREADS'])\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == (preset or "1")


def test_an_unknown_parameter_name_suggests_the_closest_one(sample_files, tmp_path):
    bam, gtf, _ = sample_files
    proc = imtfusion(*call_args(bam, gtf, tmp_path / "res", "--param", "min_fragment=3"))
    assert proc.returncode == 1
    assert "unknown parameter 'min_fragment'; did you mean 'min_fragments'?" in proc.stderr


def test_the_summary_line_says_when_no_target_is_assessable(sample_files, tmp_path):
    bam, gtf, fasta = sample_files
    ok = imtfusion(*call_args(bam, gtf, tmp_path / "a", "--fasta", str(fasta)))
    assert ok.returncode == 0 and "1 fusion(s) called (PARTP::ALK); targets: 1 detected, 1 not assessable" in ok.stderr
    # demand more exon reads than the BAM has: no target can be ruled in or out
    blind = imtfusion(*call_args(bam, gtf, tmp_path / "b", "--fasta", str(fasta), "--param", "min_target_reads=100000",
                                 "--param", "min_fragments=50", "--param", "min_fragments_known=50"))
    assert blind.returncode == 0, blind.stderr  # documented: the files were written
    assert "no target assessable (2 not assessable" in blind.stderr and "fusion(s) called" not in blind.stderr


def test_call_help_lists_every_output():
    proc = imtfusion("call", "--help")
    text = " ".join(proc.stdout.split())
    for output in (".fusions.tsv", ".fusions.discarded.tsv", ".targets.tsv", ".fusions.vcf", ".fusions.json",
                   ".report.html", ".evidence.bam", ".vicc.json"):
        assert output in text, output
    assert "exit status is 0" in text


def test_the_missing_index_message_names_index_bam_for_read_only_storage(sample_files, tmp_path):
    bam, gtf, _ = sample_files
    copy = tmp_path / "ro.bam"
    copy.write_bytes(bam.read_bytes())
    proc = imtfusion(*call_args(copy, gtf, tmp_path / "res"))
    assert proc.returncode == 1
    assert "imtfusion index-bam --bam" in proc.stderr and "--bam-index" in proc.stderr
