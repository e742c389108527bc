"""Bad input: every problem in the README's "When things go wrong" table, built here,
with the message the user gets. Each error is an ImtfusionError naming the file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pysam
import pytest

from imtfusion.errors import (
    AlignmentFileError,
    AlignmentFileNotIndexedError,
    AnnotationError,
    ContigMismatchError,
    FastaError,
    SampleSheetError,
    TargetGeneNotFoundError,
)
from imtfusion.pipeline import run_sample
from imtfusion.samplesheet import read_sample_sheet
from test_calling import PARTP_ALK_READ, TARGETS, add_background, make_toy


@pytest.fixture()
def good(tmp_path):
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
    bam = toy.write_bam(tmp_path / "good.bam")
    gtf = toy.write_gtf(tmp_path / "genes.gtf")
    fasta = toy.write_fasta(tmp_path / "genome.fa")
    return toy, bam, gtf, fasta


def call(bam, gtf, **kw):
    return run_sample(bam, gtf, "S1", targets=TARGETS, **kw)


# ---------------------------------------------------------------- BAM files
def test_missing_bam(good, tmp_path):
    _, _, gtf, _ = good
    with pytest.raises(AlignmentFileError, match=r"BAM not found: .*nope\.bam; check the 'bam' column"):
        call(tmp_path / "nope.bam", gtf)


def test_directory_instead_of_bam(good, tmp_path):
    _, _, gtf, _ = good
    (tmp_path / "dir.bam").mkdir()
    with pytest.raises(AlignmentFileError, match="not a file"):
        call(tmp_path / "dir.bam", gtf)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_bam(good):
    _, bam, gtf, _ = good
    bam.chmod(0)
    try:
        with pytest.raises(AlignmentFileError, match="permission denied"):
            call(bam, gtf)
    finally:
        bam.chmod(0o644)


def test_not_a_bam(good, tmp_path):
    _, _, gtf, _ = good
    sam = tmp_path / "reads.sam"
    sam.write_text("@HD\tVN:1.6\n")
    with pytest.raises(AlignmentFileError, match="not a BAM or CRAM"):
        call(sam, gtf)


def test_empty_file(good, tmp_path):
    _, _, gtf, _ = good
    empty = tmp_path / "empty.bam"
    empty.write_bytes(b"")
    with pytest.raises(AlignmentFileError, match="empty"):
        call(empty, gtf)


def test_truncated_bam(good, tmp_path):
    _, bam, gtf, _ = good
    cut = tmp_path / "cut.bam"
    cut.write_bytes(bam.read_bytes()[: len(bam.read_bytes()) // 2])
    os.utime(Path(str(bam) + ".bai"))
    Path(str(cut) + ".bai").write_bytes(Path(str(bam) + ".bai").read_bytes())
    with pytest.raises(AlignmentFileError, match="truncated"):
        call(cut, gtf)


def test_missing_index_says_how_to_make_one(good, tmp_path):
    _, bam, gtf, _ = good
    copy = tmp_path / "noindex.bam"
    copy.write_bytes(bam.read_bytes())
    with pytest.raises(AlignmentFileNotIndexedError, match=r"samtools index .*noindex\.bam"):
        call(copy, gtf)
    assert not Path(str(copy) + ".bai").exists()  # nothing written next to the input


def test_index_older_than_bam(good):
    _, bam, gtf, _ = good
    old = time.time() - 3600
    os.utime(Path(str(bam) + ".bai"), (old, old))
    with pytest.raises(AlignmentFileNotIndexedError, match="older than the BAM"):
        call(bam, gtf)


def test_bam_sorted_by_name(good, tmp_path):
    _, bam, gtf, _ = good
    named = tmp_path / "named.bam"
    pysam.sort("-n", "-o", str(named), str(bam))
    Path(str(named) + ".bai").write_bytes(Path(str(bam) + ".bai").read_bytes())
    with pytest.raises(AlignmentFileError, match="sorted by queryname, not by coordinate"):
        call(named, gtf)


def test_unsorted_bam_cannot_be_indexed(good, tmp_path):
    from imtfusion.commands.index_bam import index_bam

    _, bam, _, _ = good
    shuffled = tmp_path / "shuffled.bam"
    with pysam.AlignmentFile(str(bam)) as src:
        header = src.header.to_dict()
        header["HD"]["SO"] = "unsorted"
        records = list(src.fetch(until_eof=True))
    with pysam.AlignmentFile(str(shuffled), "wb", header=header) as out:
        for rec in reversed(records):
            out.write(rec)
    with pytest.raises(AlignmentFileError, match=r"not sorted by coordinate .*samtools sort"):
        index_bam(shuffled, tmp_path / "x.bai")
    assert not (tmp_path / "x.bai").exists()


def test_cram_without_reference(good, tmp_path):
    _, bam, gtf, fasta = good
    cram = tmp_path / "s.cram"
    pysam.view("-C", "-T", str(fasta), "-o", str(cram), str(bam), catch_stdout=False)
    pysam.index(str(cram))
    with pytest.raises(AlignmentFileError, match="CRAM needs its reference FASTA"):
        call(cram, gtf)
    result = call(cram, gtf, fasta=fasta, params=None)
    assert [c.fusion for c in result.called] == ["PARTP::ALK"]


def test_bam_without_reads_is_not_assessable(good, tmp_path):
    toy, _, gtf, _ = good
    toy.records = []
    empty = toy.write_bam(tmp_path / "noreads.bam")
    result = call(empty, gtf)
    assert {s.status for s in result.statuses} == {"not assessable"}


def test_reads_only_outside_the_targets_is_not_assessable(good, tmp_path):
    toy, _, gtf, _ = good
    toy.records = []
    for i in range(30):
        toy.fragment(f"o{i}", [("chr4", 1000 + i, "+", 100)], [("chr4", 1100 + i, "-", 100)])
    bam = toy.write_bam(tmp_path / "elsewhere.bam")
    result = call(bam, gtf)
    assert {s.status for s in result.statuses} == {"not assessable"}
    assert all("fewer than" in s.reason for s in result.statuses)


# ------------------------------------------------------ annotation and contigs
def test_chr_prefix_mismatch_is_resolved_and_reported(good, tmp_path):
    toy, bam, _, _ = good
    gtf = toy.write_gtf(tmp_path / "ensembl.gtf")
    text = gtf.read_text().replace("chr", "")  # Ensembl names: 2, 4, ...
    gtf.write_text(text)
    result = call(bam, gtf)
    assert [c.fusion for c in result.called] == ["PARTP::ALK"]
    assert any("matched to the BAM's" in n for n in result.notes)


def test_gtf_of_another_build_is_refused(tmp_path):
    # a GRCh38 BAM header (contig lengths) and a GTF with ALK where GRCh37 has it
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": "chr2", "LN": 242_193_529}, {"SN": "chr6", "LN": 170_805_979}]}
    bam = tmp_path / "grch38.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header):
        pass
    pysam.index(str(bam))
    gtf = tmp_path / "grch37.gtf"
    attrs = 'gene_id "ENSG00000171094"; gene_name "ALK"; gene_type "protein_coding";'
    gtf.write_text(f"chr2\tx\tgene\t29415640\t30144432\t.\t-\t.\t{attrs}\n"
                   f"chr2\tx\texon\t29415640\t29416788\t.\t-\t.\t{attrs} transcript_id \"T1\";\n")
    with pytest.raises(ContigMismatchError, match="aligned to GRCh38 .* as in GRCh37"):
        run_sample(bam, gtf, "S1", targets=["ALK"])


def test_gene_beyond_the_contig_end_is_refused(good, tmp_path):
    toy, bam, _, _ = good
    gtf = toy.write_gtf(tmp_path / "shifted.gtf")
    lines = []
    for line in gtf.read_text().splitlines():
        f = line.split("\t")
        if f[0] == "chr2":
            f[3], f[4] = str(int(f[3]) + 100_000), str(int(f[4]) + 100_000)
        lines.append("\t".join(f))
    gtf.write_text("\n".join(lines) + "\n")
    with pytest.raises(ContigMismatchError, match="different genome builds"):
        call(bam, gtf)


def test_gtf_without_the_target_gene(good, tmp_path):
    _, bam, gtf, _ = good
    with pytest.raises(TargetGeneNotFoundError, match="gene 'ROS1' is not in the annotation"):
        run_sample(bam, gtf, "S1", targets=["ALK", "ROS1"])


def test_gtf_that_is_not_a_gtf(good, tmp_path):
    _, bam, _, _ = good
    bed = tmp_path / "genes.bed"
    bed.write_text("chr2\t100\t200\tALK\n")
    with pytest.raises(AnnotationError, match="has 4 tab-separated columns"):
        call(bam, bed)


def test_fasta_of_other_contig_lengths(good, tmp_path):
    toy, bam, gtf, _ = good
    other = tmp_path / "other.fa"
    other.write_text(">chr2\n" + "ACGT" * 100 + "\n")
    pysam.faidx(str(other))
    with pytest.raises(FastaError, match="chr2 is 400 bp in the FASTA but 36000 bp in the BAM"):
        call(bam, gtf, fasta=other)


def test_fasta_sharing_no_contig(good, tmp_path):
    _, bam, gtf, _ = good
    other = tmp_path / "other.fa"
    other.write_text(">scaffold1\n" + "ACGT" * 100 + "\n")
    pysam.faidx(str(other))
    with pytest.raises(FastaError, match="none of its contigs"):
        call(bam, gtf, fasta=other)


def test_fasta_without_index(good, tmp_path):
    _, bam, gtf, fasta = good
    bare = tmp_path / "bare.fa"
    bare.write_text(fasta.read_text())
    with pytest.raises(FastaError, match="samtools faidx"):
        call(bam, gtf, fasta=bare)
    assert not Path(str(bare) + ".fai").exists()


# --------------------------------------------------------------- sample sheets
def sheet(tmp_path, content: bytes | str) -> Path:
    path = tmp_path / "samples.tsv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_sheet_with_bom_crlf_blank_lines_and_comments(tmp_path):
    path = sheet(tmp_path, b"\xef\xbb\xbfsample\tbam\r\n\r\n# a comment\r\nA1\ta.bam\r\nB-2.x\t/abs/b.bam\r\n\r\n")
    entries = read_sample_sheet(path, base_dir="/data")
    assert [(e.sample, e.bam) for e in entries] == [("A1", "/data/a.bam"), ("B-2.x", "/abs/b.bam")]


@pytest.mark.parametrize(
    "content, message",
    [
        ("sample\tbam\nA\ta.bam\nA\tb.bam\n", "sample 'A' appears on lines 2 and 3"),
        ("name\tpath\nA\ta.bam\n", "missing column(s) sample, bam"),
        ("sample,bam\nA,a.bam\n", "comma-separated; use tabs"),
        ("sample\tbam\nmy sample\ta.bam\n", "'my sample' is not allowed"),
        ("sample\tbam\n../up\ta.bam\n", "'../up' is not allowed"),
        ("sample\tbam\na/b\ta.bam\n", "'a/b' is not allowed"),
        ("sample\tbam\n.hidden\ta.bam\n", "'.hidden' is not allowed"),
        ("sample\tbam\nA\t\n", "empty 'sample' or 'bam' cell"),
        ("sample\tbam\n", "has a header but no samples"),
        ("", "the sample sheet is empty"),
    ],
)
def test_bad_sample_sheets(tmp_path, content, message):
    with pytest.raises(SampleSheetError) as err:
        read_sample_sheet(sheet(tmp_path, content))
    assert message in str(err.value) and "samples.tsv" in str(err.value)


def test_sheet_that_is_not_text(tmp_path):
    with pytest.raises(SampleSheetError, match="not UTF-8"):
        read_sample_sheet(sheet(tmp_path, b"\xff\xfe\x00s\x00a"))
