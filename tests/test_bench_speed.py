"""The speed benchmark's logic, without timing anything: the generated BAMs, the regions
compared with samtools, per-child memory, the batch inputs, the bars and the report."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pysam
import pytest

from imtfusion_tools.bench import speed
from imtfusion.params import CallParameters
from imtfusion.pipeline import run_sample
from imtfusion.targets import DEFAULT_TARGETS

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
SOURCE = DEMO / "bam" / "IMT01.bam"

needs_samtools = pytest.mark.skipif(shutil.which("samtools") is None, reason="samtools not installed")


def count_records(path: Path) -> int:
    with pysam.AlignmentFile(str(path), "rb") as bam:
        return sum(1 for _ in bam.fetch(until_eof=True))


def samtools_count(path: Path, regions: list[str]) -> int:
    out = subprocess.run(["samtools", "view", "-c", str(path), *regions], capture_output=True, text=True, check=True)
    return int(out.stdout)


# --------------------------------------------------------------------------
# BAM generation
# --------------------------------------------------------------------------


@needs_samtools
def test_built_bam_holds_the_source_plus_the_intended_background_sorted_and_indexed(tmp_path):
    contigs = speed.background_contigs(3, 200_000)
    built = speed.build_bam(SOURCE, tmp_path / "bg.bam", 3401, contigs=contigs, seed=5, unmapped=400)
    source_records = count_records(SOURCE)
    assert built.source_records == source_records
    assert (built.background, built.unmapped) == (3401, 400)
    assert built.records == source_records + 3401 == count_records(built.path)
    assert built.megabytes == pytest.approx(built.path.stat().st_size / 1e6)
    assert subprocess.run(["samtools", "quickcheck", str(built.path)]).returncode == 0

    with pysam.AlignmentFile(str(built.path), "rb") as bam:
        assert bam.header.to_dict()["HD"]["SO"] == "coordinate"
        with pysam.AlignmentFile(str(SOURCE), "rb") as src:
            # source contigs keep their ids, the background ones come after them
            assert bam.references == src.references + ("chrBG1", "chrBG2", "chrBG3")
        assert bam.lengths[-3:] == (200_000,) * 3
        assert bam.check_index()
        records = list(bam.fetch(until_eof=True))
        # coordinate order, unplaced reads last
        keys = [(r.reference_id if r.reference_id >= 0 else 1 << 30, r.reference_start) for r in records]
        assert keys == sorted(keys)
        assert records[-1].reference_id == -1
        # unplaced: the source's, then 200 unmapped background pairs
        with pysam.AlignmentFile(str(SOURCE), "rb") as src:
            source_unplaced = [r.query_name for r in src.fetch(until_eof=True) if r.reference_id < 0]
        unplaced = [r for r in records if r.reference_id < 0]
        assert [r.query_name for r in unplaced[:len(source_unplaced)]] == source_unplaced
        synthetic = unplaced[len(source_unplaced):]
        assert len(synthetic) == 400 and all(r.query_name.startswith("UN:") for r in synthetic)
        assert [r.flag for r in synthetic[:2]] == [77, 141] and all(r.is_unmapped for r in synthetic)
        assert all(len(r.query_sequence) == len(r.query_qualities) == 100 for r in synthetic)
        assert bam.nocoordinate == len(source_unplaced) + 400
        background = [r for r in records if r.query_name.startswith("BG:")]
        assert len(background) == 3001
        assert {r.reference_name for r in background} == {"chrBG1", "chrBG2", "chrBG3"}
        for r in background:
            assert len(r.query_sequence) == len(r.query_qualities) == 100
            assert set(r.query_sequence) <= set("ACGT")
            assert r.get_tag("RG") == "IMT01"
            assert r.reference_end <= 200_000
        # proper pairs pointing at each other, and one single read for the odd record
        by_name = defaultdict(list)
        for r in background:
            by_name[r.query_name].append(r)
        singles = [v for v in by_name.values() if len(v) == 1]
        assert len(singles) == 1 and not singles[0][0].is_paired
        for mates in (v for v in by_name.values() if len(v) == 2):
            first, second = sorted(mates, key=lambda r: r.flag)
            assert (first.flag, second.flag) == (99, 147)
            assert first.next_reference_start == second.reference_start
            assert second.next_reference_start == first.reference_start
            assert first.template_length == -second.template_length > 0
        # the index answers region queries on the new contigs
        assert sum(bam.count(c) for c, _ in contigs) == 3001
    with pytest.raises(ValueError):
        speed.build_bam(SOURCE, tmp_path / "bad.bam", 10, unmapped=11)


def test_background_fasta_is_the_base_plus_the_background_contigs(tmp_path):
    contigs = [("chrBG1", 1_000), ("chrBG2", 6_000_061)]
    out = tmp_path / "genome.fa"
    speed.write_background_fasta(DEMO / "genome.fa", out, contigs, seed=3)
    with pysam.FastaFile(str(out)) as fa, pysam.FastaFile(str(DEMO / "genome.fa")) as base:
        assert tuple(fa.references) == tuple(base.references) + ("chrBG1", "chrBG2")
        assert tuple(fa.lengths[-2:]) == (1_000, 6_000_061)
        assert fa.fetch("chr2", 100, 200) == base.fetch("chr2", 100, 200)
        tail = fa.fetch("chrBG2", 5_999_900, 6_000_061)
        assert len(tail) == 161 and set(tail) <= set("ACGT")
    lines = out.read_text().splitlines()
    assert max(len(line) for line in lines if not line.startswith(">")) == 60


def test_unmapped_count_is_whole_pairs():
    assert speed.unmapped_count(100_000, 0.05) == 5_000
    assert speed.unmapped_count(1_001, 0.05) == 50
    assert speed.unmapped_count(30, 0.05) == 2
    assert speed.unmapped_count(7, 1.0) == 7  # never more than the background
    assert speed.unmapped_count(1_000, 0.0) == 0


@needs_samtools
def test_background_leaves_the_target_regions_untouched(tmp_path):
    built = speed.build_bam(SOURCE, tmp_path / "bg.bam", 2000, contigs=speed.background_contigs(2, 100_000))
    regions = speed.target_regions(DEMO / "annotation.gtf", built.path, DEFAULT_TARGETS)
    assert samtools_count(built.path, regions) == samtools_count(SOURCE, regions) > 0


def test_header_gets_the_background_contigs_after_the_last_sq():
    header = "@HD\tVN:1.6\tSO:coordinate\n@SQ\tSN:a\tLN:10\n@SQ\tSN:b\tLN:20\n@RG\tID:x\n@PG\tID:p\n"
    lines = speed.header_with_background(header, [("chrBG1", 5), ("chrBG2", 6)], 7).splitlines()
    assert lines[:6] == ["@HD\tVN:1.6\tSO:coordinate", "@SQ\tSN:a\tLN:10", "@SQ\tSN:b\tLN:20",
                         "@SQ\tSN:chrBG1\tLN:5", "@SQ\tSN:chrBG2\tLN:6", "@RG\tID:x"]
    assert lines[-1].startswith("@CO\t") and "7 synthetic" in lines[-1]


def test_background_sam_is_sorted_per_contig_and_counts_exactly():
    contigs = [("chrBG1", 10_000), ("chrBG2", 10_000)]
    lines = [line for chunk in speed.background_sam(101, contigs, 50, None, seed=2, chunk=7)
             for line in chunk.splitlines()]
    assert len(lines) == 101
    fields = [line.split("\t") for line in lines]
    assert [f[2] for f in fields] == sorted(f[2] for f in fields)  # contig blocks in header order
    for contig in ("chrBG1", "chrBG2"):
        positions = [int(f[3]) for f in fields if f[2] == contig]
        assert positions == sorted(positions)
    assert all(len(f[9]) == len(f[10]) == 50 and f[5] == "50M" for f in fields)
    assert list(speed.background_sam(0, contigs, 50, None, seed=2)) == []


def test_scaled_annotation_adds_the_intended_genes_inside_the_contigs(tmp_path):
    from imtfusion.annotation import read_gtf

    contigs = speed.background_contigs(2, 300_000)
    counts = speed.write_scaled_gtf(DEMO / "annotation.gtf", tmp_path / "big.gtf", 25, contigs, seed=4)
    base = speed.gtf_counts(DEMO / "annotation.gtf")
    assert counts["gene"] == base["gene"] + 25
    assert counts["transcript"] == base["transcript"] + 25 * speed.TRANSCRIPTS_PER_GENE
    assert counts["exon"] == base["exon"] + 25 * speed.TRANSCRIPTS_PER_GENE * speed.EXONS_PER_TRANSCRIPT
    assert speed.gtf_counts(tmp_path / "big.gtf") == counts
    genes = [line.split("\t") for line in (tmp_path / "big.gtf").read_text().splitlines()
             if "\tgene\t" in line and 'gene_name "SYN' in line]
    assert len(genes) == 25
    assert {g[0] for g in genes} == {"chrBG1", "chrBG2"}
    assert all(1 <= int(g[3]) < int(g[4]) <= 300_000 for g in genes)
    annotation = read_gtf(tmp_path / "big.gtf")  # the caller's own parser takes it
    gene = annotation.find_gene("SYN7")
    transcripts = annotation.transcripts_of(gene.gene_id)
    assert len(transcripts) == speed.TRANSCRIPTS_PER_GENE
    for t in transcripts:
        assert len(t.exons) == speed.EXONS_PER_TRANSCRIPT
        ordered = sorted(t.exons)
        assert all(a[1] < b[0] for a, b in zip(ordered, ordered[1:]))  # disjoint, in order
        assert len(t.cds) == speed.EXONS_PER_TRANSCRIPT - 2
    assert sum("Ensembl_canonical" in t.tags for t in transcripts) == 1


# --------------------------------------------------------------------------
# dense target content
# --------------------------------------------------------------------------

GTF = DEMO / "annotation.gtf"
FASTA = DEMO / "genome.fa"
DENSE_FRAGMENTS = 2000


@pytest.fixture(scope="module")
def dense_bam(tmp_path_factory):
    if shutil.which("samtools") is None:
        pytest.skip("samtools not installed")
    out = tmp_path_factory.mktemp("dense") / "dense.bam"
    return speed.build_bam(SOURCE, out, 1000, contigs=speed.background_contigs(2, 100_000), seed=3, unmapped=100,
                           target_fragments=DENSE_FRAGMENTS, annotation=GTF, fasta=FASTA)


def dense_reads(path: Path) -> list[pysam.AlignedSegment]:
    with pysam.AlignmentFile(str(path), "rb") as bam:
        return [r for r in bam.fetch(until_eof=True) if r.query_name.startswith(speed.TARGET_READ_PREFIX)]


def canonical_exons() -> dict[str, tuple[str, list[tuple[int, int]]]]:
    """Contig -> (gene, ascending exons of its canonical transcript), for the demo targets."""
    from imtfusion.annotation import load_annotation

    annotation = load_annotation(GTF)
    out = {}
    for name in DEFAULT_TARGETS:
        transcript = annotation.canonical_transcript(annotation.find_gene(name).gene_id)
        assert transcript.chrom not in out  # one target per contig in the demo
        out[transcript.chrom] = (name, sorted(transcript.exons))
    return out


def test_dense_content_is_sorted_indexed_and_inside_the_target_loci(dense_bam):
    source_records = count_records(SOURCE)
    assert dense_bam.target == 2 * DENSE_FRAGMENTS
    assert dense_bam.records == source_records + 1000 + 2 * DENSE_FRAGMENTS == count_records(dense_bam.path)
    assert subprocess.run(["samtools", "quickcheck", str(dense_bam.path)]).returncode == 0
    with pysam.AlignmentFile(str(dense_bam.path), "rb") as bam:
        assert bam.check_index()
        keys = [(r.reference_id if r.reference_id >= 0 else 1 << 30, r.reference_start)
                for r in bam.fetch(until_eof=True)]
        assert keys == sorted(keys)
        assert "non-chimeric target records" in str(bam.header)
    regions = speed.target_regions(GTF, dense_bam.path, DEFAULT_TARGETS)
    assert samtools_count(dense_bam.path, regions) == samtools_count(SOURCE, regions) + 2 * DENSE_FRAGMENTS
    reads = dense_reads(dense_bam.path)
    assert len(reads) == 2 * DENSE_FRAGMENTS
    # every dense record lies inside one locus
    loci = [(r.split(":")[0], *map(int, r.split(":")[1].split("-"))) for r in regions]
    for read in reads:
        assert any(read.reference_name == c and a - 1 <= read.reference_start and read.reference_end <= b
                   for c, a, b in loci)
    # round-robin over the four targets
    per_contig = defaultdict(int)
    for read in reads:
        per_contig[read.reference_name] += 1
    assert sorted(per_contig.values()) == [DENSE_FRAGMENTS // 2] * 4


def test_dense_reads_follow_the_canonical_transcripts(dense_bam):
    models = canonical_exons()
    pre_mrna = set()
    for read in dense_reads(dense_bam.path):
        _, exons = models[read.reference_name]
        introns = {(a[1], b[0]) for a, b in zip(exons, exons[1:])}
        assert exons[0][0] <= read.reference_start and read.reference_end <= exons[-1][1]  # never off the ends
        blocks = read.get_blocks()
        ops = [op for op, _ in read.cigartuples]
        assert set(ops) <= {0, 3, 4}  # M, N, S
        gaps = [(a[1], b[0]) for a, b in zip(blocks, blocks[1:])]
        assert len(gaps) == ops.count(3)
        assert set(gaps) <= introns  # every N is an intron of the transcript
        if any(not any(s <= a and b <= e for s, e in exons) for a, b in blocks):
            assert len(blocks) == 1  # pre-mRNA: unspliced, over an intron
            assert any(a < e and s < b for s, e in introns for a, b in blocks)
            pre_mrna.add(read.query_name)
        else:  # spliced: the blocks are consecutive exon stretches
            for (a, b), (c, d) in zip(blocks, blocks[1:]):
                assert any(e == b for _, e in exons) and any(s == c for s, _ in exons)
    assert 0.02 * DENSE_FRAGMENTS <= len(pre_mrna) <= 0.09 * DENSE_FRAGMENTS  # ~5% of the fragments


def substitutions(reads) -> tuple[int, int]:
    """(bases differing from the genome, aligned bases) of ``reads``; each read's NM tag
    must count its own."""
    mismatches = bases = 0
    with pysam.FastaFile(str(FASTA)) as fasta:
        for read in reads:
            reference = "".join(fasta.fetch(read.reference_name, a, b) for a, b in read.get_blocks()).upper()
            aligned = read.query_alignment_sequence
            assert len(aligned) == len(reference)
            differ = sum(x != y for x, y in zip(aligned, reference))
            assert read.get_tag("NM") == differ
            mismatches += differ
            bases += len(aligned)
    return mismatches, bases


def test_dense_reads_spell_the_genome_up_to_the_counted_substitutions(dense_bam):
    reads = list(dense_reads(dense_bam.path))
    assert all(len(r.query_sequence) == len(r.query_qualities) == 100 for r in reads)
    mismatches, bases = substitutions(reads)
    assert 0.0015 < mismatches / bases < 0.0045  # ~0.3%


def test_dense_reads_clips_duplicates_and_tags(dense_bam):
    adapters = [a for a in speed.TRUSEQ_ADAPTERS]
    clipped = 0
    duplicate_names = set()
    for read in dense_reads(dense_bam.path):
        assert read.flag & ~0x400 in (99, 147, 163, 83)
        assert not read.has_tag("SA") and not read.is_supplementary and not read.is_secondary
        assert read.mapping_quality == 255 and read.get_tag("NH") == 1 and read.get_tag("RG") == "IMT01"
        if read.is_duplicate:
            duplicate_names.add(read.query_name)
        first, last = read.cigartuples[0], read.cigartuples[-1]
        adapter = adapters[0 if read.is_read1 else 1]
        if read.is_reverse:  # the 3' end is the leftmost base: a leading clip, the adapter reverse-complemented
            assert last[0] != 4
            if first[0] == 4:
                clipped += 1
                assert 5 <= first[1] <= 20
                tail = read.query_sequence[:first[1]]
                assert speed._reverse_complement(tail) == adapter[:first[1]]
        else:  # a forward read ends in S
            assert first[0] != 4
            if last[0] == 4:
                clipped += 1
                assert 5 <= last[1] <= 20
                assert read.query_sequence[-last[1]:] == adapter[:last[1]]
    assert 0.01 * 2 * DENSE_FRAGMENTS <= clipped <= 0.035 * 2 * DENSE_FRAGMENTS  # ~2% of the reads
    assert 0.07 * DENSE_FRAGMENTS <= len(duplicate_names) <= 0.13 * DENSE_FRAGMENTS  # ~10% of the fragments


def test_dense_mates_point_at_each_other(dense_bam):
    by_name = defaultdict(list)
    for read in dense_reads(dense_bam.path):
        by_name[read.query_name].append(read)
    assert len(by_name) == DENSE_FRAGMENTS
    for mates in by_name.values():
        assert len(mates) == 2
        forward, reverse = sorted(mates, key=lambda r: r.is_reverse)
        assert not forward.is_reverse and reverse.is_reverse and forward.mate_is_reverse and not reverse.mate_is_reverse
        assert forward.is_read1 != reverse.is_read1
        assert forward.is_duplicate == reverse.is_duplicate
        assert forward.is_proper_pair and reverse.is_proper_pair
        assert forward.reference_id == reverse.reference_id == forward.next_reference_id == reverse.next_reference_id
        assert forward.next_reference_start == reverse.reference_start
        assert reverse.next_reference_start == forward.reference_start
        assert forward.reference_start <= reverse.reference_start
        span = max(forward.reference_end, reverse.reference_end) - min(forward.reference_start, reverse.reference_start)
        assert forward.template_length == -reverse.template_length == span > 0


def test_dense_content_is_deterministic_in_the_seed():
    with pysam.AlignmentFile(str(SOURCE), "rb") as bam:
        references = list(zip(bam.references, bam.lengths))
    one = "".join(speed.target_sam(50, GTF, FASTA, references, 100, None, seed=4, chunk=17))
    assert one == "".join(speed.target_sam(50, GTF, FASTA, references, 100, None, seed=4))
    assert one != "".join(speed.target_sam(50, GTF, FASTA, references, 100, None, seed=5))
    lines = one.splitlines()
    assert len(lines) == 100 and all(line.startswith("TD:") for line in lines)
    assert list(speed.target_sam(0, GTF, FASTA, references)) == []
    with pytest.raises(ValueError):
        speed.build_bam(SOURCE, Path("unused.bam"), 10, target_fragments=5)  # no annotation or FASTA


@needs_samtools
def test_dense_content_adds_no_fusion_call(dense_bam, tmp_path):
    cmd = [sys.executable, "-m", "imtfusion.cli", "call", "--bam", str(dense_bam.path), "--gtf", str(GTF),
           "--fasta", str(FASTA), "--sample", "DENSE", "--outdir", str(tmp_path), "--targets", *DEFAULT_TARGETS]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = (tmp_path / "DENSE" / "DENSE.fusions.tsv").read_text().splitlines()
    assert [line.split("\t")[1] for line in rows[1:]] == ["TPM3::ALK"]


# --------------------------------------------------------------------------
# chimeric evidence
# --------------------------------------------------------------------------

CHIMERIC_FRAGMENTS = 200
SPEC = speed.FusionSpec("IMT01", "TPM3::ALK", "TPM3", "ALK", "chr1:149500", "chr2:57509", "ENST90000000103.1",
                        "ENST90000000104.1")


def source_references() -> list[tuple[str, int]]:
    with pysam.AlignmentFile(str(SOURCE), "rb") as bam:
        return list(zip(bam.references, bam.lengths))


@pytest.fixture(scope="module")
def fused():
    return speed.fused_transcript(SPEC, GTF, FASTA, source_references())


@pytest.fixture(scope="module")
def chimeric_bam(tmp_path_factory):
    if shutil.which("samtools") is None:
        pytest.skip("samtools not installed")
    out = tmp_path_factory.mktemp("chimeric") / "chimeric.bam"
    return speed.build_bam(SOURCE, out, 1000, contigs=speed.background_contigs(2, 100_000), seed=3, unmapped=100,
                           chimeric_fragments=CHIMERIC_FRAGMENTS, annotation=GTF, fasta=FASTA, fusion=SPEC)


def chimeric_reads(path: Path) -> dict[str, list[pysam.AlignedSegment]]:
    by_name = defaultdict(list)
    with pysam.AlignmentFile(str(path), "rb") as bam:
        for r in bam.fetch(until_eof=True):
            if r.query_name.startswith(speed.CHIMERIC_READ_PREFIX):
                by_name[r.query_name].append(r)
    return by_name


def test_the_fusion_comes_from_the_truth_table_and_the_fused_transcript_joins_the_breakpoints(fused):
    assert speed.bam_sample(SOURCE) == "IMT01"
    assert speed.fusion_from_truth(DEMO / "truth.tsv", "IMT01") == SPEC
    with pytest.raises(ValueError, match="no fusion of sample"):
        speed.fusion_from_truth(DEMO / "truth.tsv", "IMT05")  # the demo's negative sample
    assert fused.chroms == ("chr1", "chr2") and fused.strands == ("-", "-")
    # the junction: TPM3's base at breakpoint5 then ALK's at breakpoint3, both on the minus strand
    assert fused.positions[fused.junction - 1] + 1 == 149_500 and fused.positions[fused.junction] + 1 == 57_509
    with pysam.FastaFile(str(FASTA)) as fa:
        five = speed._reverse_complement(fa.fetch("chr1", 149_499, 149_499 + 30).upper())
        three = speed._reverse_complement(fa.fetch("chr2", 57_508 - 29, 57_509).upper())
    assert fused.bases[fused.junction - 30:fused.junction + 30].tobytes().decode() == five + three
    # the caller's own junction sequence of the demo's call
    assert fused.bases[fused.junction - 30:fused.junction + 30].tobytes().decode() == (
        "CCAACCTACTATATCCCGTTAATCGCAGAA" + "TTCGCATCCAGCCTACTTAGATACCAAACG")
    with pytest.raises(ValueError, match="not in an exon"):
        speed.fused_transcript(dataclasses.replace(SPEC, breakpoint5="chr1:149400"), GTF, FASTA, source_references())


def test_chimeric_content_is_deterministic_in_the_seed(fused):
    one = speed.chimeric_sam(60, fused, 100, None, seed=4)
    assert one == speed.chimeric_sam(60, fused, 100, None, seed=4)
    assert one != speed.chimeric_sam(60, fused, 100, None, seed=5)
    lines = one.splitlines()
    assert all(line.startswith(speed.CHIMERIC_READ_PREFIX) for line in lines)
    assert len({line.split("\t")[0] for line in lines}) == 60
    # 18 split hard, 18 split soft (3 records each), 12 soft clip only, 12 discordant (2 each)
    assert len(lines) == 36 * 3 + 24 * 2
    assert speed.chimeric_sam(0, fused) == ""
    keys = [key for key, _ in speed.chimeric_records(60, fused, seed=4)]
    assert keys == sorted(keys)
    with pytest.raises(ValueError):
        speed.build_bam(SOURCE, Path("unused.bam"), 10, chimeric_fragments=5, annotation=GTF, fasta=FASTA)  # no fusion


def test_chimeric_bam_is_sorted_indexed_and_counts_its_records(chimeric_bam):
    source_records = count_records(SOURCE)
    assert chimeric_bam.chimeric == 120 * 3 + 80 * 2
    assert chimeric_bam.records == source_records + 1000 + chimeric_bam.chimeric == count_records(chimeric_bam.path)
    assert subprocess.run(["samtools", "quickcheck", str(chimeric_bam.path)]).returncode == 0
    with pysam.AlignmentFile(str(chimeric_bam.path), "rb") as bam:
        assert bam.check_index() and bam.header.to_dict()["HD"]["SO"] == "coordinate"
        keys = [(r.reference_id if r.reference_id >= 0 else 1 << 30, r.reference_start)
                for r in bam.fetch(until_eof=True)]
        assert keys == sorted(keys)
        assert f"{CHIMERIC_FRAGMENTS} TPM3::ALK fragments" in str(bam.header)
    # the ALK side is in the target loci, the TPM3 side (chr1, not a target) outside
    regions = speed.target_regions(GTF, chimeric_bam.path, DEFAULT_TARGETS)
    on_alk = sum(1 for reads in chimeric_reads(chimeric_bam.path).values() for r in reads if r.reference_name == "chr2")
    assert samtools_count(chimeric_bam.path, regions) == samtools_count(SOURCE, regions) + on_alk


def test_chimeric_reads_are_written_as_star_writes_them(chimeric_bam):
    kinds = defaultdict(int)
    anchors = set()
    for name, reads in chimeric_reads(chimeric_bam.path).items():
        primary = [r for r in reads if not r.is_supplementary]
        assert len(primary) == 2 and not any(r.is_secondary for r in reads)
        first, second = sorted(primary, key=lambda r: r.is_read2)
        assert first.is_read1 and second.is_read2
        assert all(r.mapping_quality == 255 and r.get_tag("NH") == 1 and r.get_tag("RG") == "IMT01" for r in reads)
        assert first.next_reference_start == second.reference_start and second.next_reference_start == first.reference_start
        assert first.mate_is_reverse == second.is_reverse and second.mate_is_reverse == first.is_reverse
        supplementary = [r for r in reads if r.is_supplementary]
        if supplementary:  # a split read: primary + supplementary pointing at each other, in the two genes
            [supp] = supplementary
            [split] = [r for r in primary if r.is_read1 == supp.is_read1]
            assert {split.reference_name, supp.reference_name} == {"chr1", "chr2"}
            assert split.get_tag("SA").split(",")[:2] == [supp.reference_name, str(supp.reference_start + 1)]
            assert supp.get_tag("SA").split(",")[:3] == [split.reference_name, str(split.reference_start + 1),
                                                          "-" if split.is_reverse else "+"]
            assert supp.get_tag("SA").split(",")[3] == split.cigarstring
            assert supp.next_reference_start == (second if split is first else first).reference_start
            assert not supp.is_proper_pair and supp.template_length == 0
            hard = supp.cigartuples[0][0] == 5 or supp.cigartuples[-1][0] == 5
            kinds["split hard" if hard else "split soft"] += 1
            assert len(supp.query_sequence) == (supp.query_alignment_length if hard else 100)
            anchors.add(supp.query_alignment_length)
            assert split.is_proper_pair and {r.reference_name for r in primary} == {split.reference_name}
        elif primary[0].reference_name != primary[1].reference_name:  # a discordant pair
            kinds["discordant"] += 1
            assert {r.reference_name for r in primary} == {"chr1", "chr2"}
            assert all(not r.is_proper_pair and r.template_length == 0 and not r.has_tag("SA") for r in primary)
            assert all(r.cigartuples[0][0] != 4 and r.cigartuples[-1][0] != 4 for r in primary)
        else:  # one read with only a soft clip of the partner's bases, no SA
            kinds["soft clip only"] += 1
            assert all(r.is_proper_pair and not r.has_tag("SA") for r in primary)
            clips = [op[1] for r in primary for op in (r.cigartuples[0], r.cigartuples[-1]) if op[0] == 4]
            assert len(clips) == 1 and speed.CLIP_ONLY_BASES[0] <= clips[0] <= speed.CLIP_ONLY_BASES[1]
    assert kinds == {"split hard": 60, "split soft": 60, "soft clip only": 40, "discordant": 40}
    # junction positions spread over the read
    assert min(anchors) <= 25 and max(anchors) >= 75 and len(anchors) > 40


def test_chimeric_reads_spell_the_genome_up_to_the_counted_substitutions(chimeric_bam):
    mismatches, bases = substitutions([r for reads in chimeric_reads(chimeric_bam.path).values() for r in reads])
    assert 0.001 < mismatches / bases < 0.006  # ~0.3%


def fusion_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@needs_samtools
def test_the_call_finds_the_fusion_with_the_added_support(chimeric_bam, tmp_path):
    def call(bam: Path, sample: str) -> dict[str, str]:
        cmd = [sys.executable, "-m", "imtfusion.cli", "call", "--bam", str(bam), "--gtf", str(GTF), "--fasta",
               str(FASTA), "--sample", sample, "--outdir", str(tmp_path), "--targets", *DEFAULT_TARGETS]
        run = subprocess.run(cmd, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        [row] = fusion_rows(tmp_path / sample / f"{sample}.fusions.tsv")  # the one fusion, nothing else
        return row

    before, after = call(SOURCE, "SRC"), call(chimeric_bam.path, "CHIM")
    assert after["fusion"] == "TPM3::ALK"
    assert (after["breakpoint5"], after["breakpoint3"]) == (SPEC.breakpoint5, SPEC.breakpoint3)
    added = int(after["fragments"]) - int(before["fragments"])
    split = int(after["split_reads"]) - int(before["split_reads"])
    assert abs(added - CHIMERIC_FRAGMENTS) <= 0.05 * CHIMERIC_FRAGMENTS  # every kind is evidence
    assert abs(split - 0.8 * CHIMERIC_FRAGMENTS) <= 0.05 * CHIMERIC_FRAGMENTS  # split reads and soft clips
    assert speed.fusion_call(tmp_path / "CHIM" / "CHIM.fusions.tsv", SPEC) == (
        int(after["split_reads"]), int(after["fragments"]), True)
    assert speed.fusion_call(tmp_path / "CHIM" / "CHIM.fusions.tsv",
                             dataclasses.replace(SPEC, fusion="ETV6::NTRK3")) == (None, None, False)


@pytest.mark.skipif(shutil.which("STAR") is None or shutil.which("samtools") is None, reason="STAR or samtools absent")
def test_simulated_chimeric_bams_come_from_the_simulator_and_each_aligner_writes_its_own_layout(tmp_path):
    exons = speed.fusion_exons(DEMO / "truth.tsv", "IMT01")
    assert exons == (7, 20)
    layouts = {}
    for aligner in ("star_chimeric", "star_default"):
        built = speed.simulated_chimeric_bam(tmp_path, aligner, 200, SPEC, exons, FASTA, GTF, 20240611)
        with pysam.AlignmentFile(str(built.path), "rb") as bam:
            records = list(bam.fetch(until_eof=True))
        assert built.records == len(records) and 2 * 200 <= built.chimeric < built.records
        assert built.unmapped == sum(r.is_unmapped and r.reference_id < 0 for r in records)
        layouts[aligner] = sum(r.has_tag("SA") for r in records)
        again = speed.simulated_chimeric_bam(tmp_path, aligner, 200, SPEC, exons, FASTA, GTF, 20240611)
        assert again == built  # cached
    assert layouts["star_chimeric"] > 200 and layouts["star_default"] == 0  # split reads only in chimeric mode


def test_simulated_rows_get_their_own_table_and_bars_per_aligner_and_fasta():
    rows = [dataclasses.replace(r, aligner=aligner, with_fasta=fa) for aligner in ("star_chimeric", "star_default")
            for fa in (True, False) for r in CHIMERIC_ROWS]
    table = speed.simulated_chimeric_table(rows, {("star_default", 10_000): 4_000})
    lines = table.splitlines()
    assert lines[0].startswith("| aligner | FASTA | fusion fragments |") and len(lines) == 2 + len(rows)
    assert len({line.count("|") for line in lines}) == 1
    assert "| star_default | no | 10,000 | 137,262 | 30,000 | 4,000 |" in table
    bars = speed.evaluate_bars(ROWS, BATCH, chimeric_rows=CHIMERIC_ROWS + rows)
    names = [b.name for b in bars]
    assert "call with 10,000 chimeric fragments (star_default, no FASTA) <= 12x the call with 1,000 (linear)" in names
    assert sum("chimeric" in n for n in names) == 3 * 5  # the synthetic rows and four simulated groups
    report = speed.render_report({}, "cmd", "date", ROWS, [], None, 3, BATCH, None, bars,
                                 chimeric_rows=CHIMERIC_ROWS + rows)
    assert report.index("## Chimeric evidence density:") < report.index("simulated and aligned") < report.index("## Bars")
    assert speed.chimeric_table(CHIMERIC_ROWS) in report and table.splitlines()[2] in report


def test_rows_on_dense_target_content_get_their_own_table_and_bars():
    rows = [dataclasses.replace(r, dense=1_000_000, samtools_s=0.4, call_s=r.call_s + 0.8) for r in CHIMERIC_ROWS]
    bars = speed.evaluate_bars(ROWS, BATCH, chimeric_rows=CHIMERIC_ROWS + rows)
    names = [b.name for b in bars]
    assert ("call with 10,000 chimeric fragments (on 1,000,000 dense target fragments) <= 3x samtools view -c of the "
            "same regions") in names
    [on_dense] = [b for b in bars if b.name.startswith("call with 10,000 chimeric fragments (on 1,000,000") and "samtools" in b.name]
    assert on_dense.verdict == "FAIL" and on_dense.measured.startswith("5.0x")  # 2.0 s against 0.4 s
    report = speed.render_report({}, "cmd", "date", ROWS, [], None, 3, BATCH, None, bars,
                                 chimeric_rows=CHIMERIC_ROWS + rows)
    assert report.index("## Chimeric evidence density:") < report.index("in a panel's loci") < report.index("## Bars")
    assert speed.chimeric_table(rows) in report and speed.chimeric_table(CHIMERIC_ROWS) in report


# --------------------------------------------------------------------------
# regions compared with samtools
# --------------------------------------------------------------------------


def test_regions_are_the_loci_the_caller_fetches(tmp_path):
    regions = speed.target_regions(DEMO / "annotation.gtf", SOURCE, DEFAULT_TARGETS)
    # from the GTF by hand: the gene span +- the calling margin, clipped to the contig
    margin = CallParameters().margin
    lengths = dict(line.split("\t")[:2] for line in (DEMO / "genome.fa.fai").read_text().splitlines())
    expected = {}
    for line in (DEMO / "annotation.gtf").read_text().splitlines():
        f = line.split("\t")
        if len(f) > 8 and f[2] == "gene":
            name = f[8].split('gene_name "')[1].split('"')[0]
            expected[name] = f"{f[0]}:{max(1, int(f[3]) - margin)}-{min(int(lengths[f[0]]), int(f[4]) + margin)}"
    assert regions == [expected[t] for t in DEFAULT_TARGETS]
    # and as the caller reports them (the `locus` column of SAMPLE.targets.tsv)
    result = run_sample(SOURCE, DEMO / "annotation.gtf", "IMT01")
    assert regions == [s.qc.locus for s in result.statuses]


@pytest.fixture
def recorded_commands(monkeypatch) -> list[list[str]]:
    """The commands the benchmark runs (still run), in order."""
    commands: list[list[str]] = []
    real = speed.run_child

    def recorded(cmd, env=None, cwd=None):
        commands.append(list(cmd))
        return real(cmd, env=env, cwd=cwd)

    monkeypatch.setattr(speed, "run_child", recorded)
    return commands


@needs_samtools
@pytest.mark.parametrize("threads", [1, 2])
def test_a_cell_runs_the_call_and_samtools_with_the_same_threads(tmp_path, recorded_commands, threads):
    commands = recorded_commands
    regions = speed.target_regions(GTF, SOURCE, DEFAULT_TARGETS)
    built = speed.BuiltBam(SOURCE, count_records(SOURCE), 0, count_records(SOURCE), SOURCE.stat().st_size / 1e6)
    row = speed.measure_size(built, 1, GTF, FASTA, regions, DEFAULT_TARGETS, tmp_path, runs=1, threads=threads)
    assert row.target_records == samtools_count(SOURCE, regions) and row.calls == 1
    calls = [c for c in commands if "call" in c]
    views = [c for c in commands if c[:3] == ["samtools", "view", "-c"]]
    assert len(calls) == len(views) == 2  # warm-up and one timed run each
    if threads == 1:
        assert all("--threads" not in c for c in calls) and all("-@" not in c for c in views)
    else:
        assert all(c[c.index("--threads") + 1] == "2" for c in calls)
        assert all(c[c.index("-@") + 1] == "1" for c in views)


def test_the_annotations_are_timed_side_by_side(tmp_path, recorded_commands):
    """Each run calls once with every annotation in turn, so the machine's load falls on
    all of them; each row has its own times, memory and calls."""
    commands = recorded_commands
    index = tmp_path / "copy.gtf"  # a call reads a GTF as well as an index
    shutil.copyfile(GTF, index)
    built = speed.BuiltBam(SOURCE, count_records(SOURCE), 0, count_records(SOURCE), SOURCE.stat().st_size / 1e6)
    entries = [speed.AnnotationEntry("gtf", {"gene": 28}, GTF, (0.1, 50.0)),
               speed.AnnotationEntry("copy", {"gene": 28, "exon": 465}, index, (0.2, 60.0))]
    rows = speed.measure_annotations(entries, built, FASTA, DEFAULT_TARGETS, tmp_path / "calls", runs=2)
    used = [c[c.index("--gtf") + 1] for c in commands if c[1:3] == ["-m", "imtfusion.cli"]]
    assert used == [str(GTF), str(index)] * 3  # warm-up, then two runs taking turns
    assert [r.label for r in rows] == ["gtf", "copy"]
    assert [r.genes for r in rows] == [28, 28] and rows[1].exons == 465
    assert [(r.index_s, r.index_rss_mb) for r in rows] == [(0.1, 50.0), (0.2, 60.0)]
    assert all(r.call_s > 0 and r.call_rss_mb > 0 and r.calls == 1 for r in rows)
    # then each annotation's call once more, made to load the boundary index
    assert all(r.boundary_rss_mb > 0 for r in rows)
    forced = [c for c in commands if "-c" in c and speed.BOUNDARY_MARK in c[c.index("-c") + 1]]
    assert [c[c.index("--gtf") + 1] for c in forced] == [str(GTF), str(index)]
    assert all(c[c.index("--outdir") + 1] == str(tmp_path / "calls" / "boundaries") and "--fasta" in c for c in forced)
    assert all(r.boundary_rss_mb is None for r in speed.measure_annotations(entries[:1], built, None, DEFAULT_TARGETS,
                                                                            tmp_path / "nofasta", runs=1))


def test_the_forced_call_loads_the_boundary_index_and_calls_as_usual(tmp_path):
    """The worst-case call of the benchmark really loads the genome-wide boundary index
    (its mark on stderr) and otherwise runs the CLI unchanged."""
    idx = tmp_path / "ann.idx"
    assert speed.run_child(speed.imtfusion_cmd("index-gtf", "--gtf", str(GTF), "--fasta", str(FASTA), "--output",
                                               str(idx))).returncode == 0
    call = speed.imtfusion_cmd("call", "--bam", str(SOURCE), "--gtf", str(idx), "--fasta", str(FASTA), "--sample", "W",
                               "--outdir", str(tmp_path / "out"))
    plain = speed.run_child(call)
    forced = speed.run_child(speed.boundary_forced(call))
    assert plain.returncode == forced.returncode == 0
    assert speed.BOUNDARY_MARK not in plain.stderr
    assert f"{speed.BOUNDARY_MARK} " in forced.stderr
    assert int(forced.stderr.split(speed.BOUNDARY_MARK)[1].split()[0]) > 100
    assert (tmp_path / "out" / "W" / "W.fusions.tsv").exists()
    with pytest.raises(ValueError):
        speed.boundary_forced(["samtools", "view"])


# --------------------------------------------------------------------------
# timing one child
# --------------------------------------------------------------------------


def test_run_child_reports_the_memory_of_that_child_only():
    big = speed.run_child([sys.executable, "-c", "b = bytearray(160 * 2**20)\nb[::4096] = b'x' * len(range(0, len(b), 4096))"])
    assert big.returncode == 0
    assert big.max_rss_mb > 160
    # neither the earlier child's peak (RUSAGE_CHILDREN would give it) nor this process's
    # footprint (an exec keeps the replaced image's high-water mark)
    ballast = bytearray(200 * 2**20)
    ballast[::4096] = b"x" * len(range(0, len(ballast), 4096))
    small = speed.run_child([sys.executable, "-c", "pass"])
    assert small.returncode == 0
    assert small.max_rss_mb < 50
    del ballast


def test_run_child_reports_a_command_that_cannot_start():
    run = speed.run_child(["/nonexistent/imtfusion-speed-test"])
    assert run.returncode != 0 and "No such file" in run.stderr


def test_run_child_keeps_output_and_exit_code():
    run = speed.run_child(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (run.returncode, run.stdout, run.stderr) == (3, "out\n", "err\n")
    with pytest.raises(RuntimeError, match="exited with 3"):
        speed._checked(run, ["sh"])


# --------------------------------------------------------------------------
# Snakemake batch inputs
# --------------------------------------------------------------------------


def test_batch_sheet_links_the_demo_bams_in_turn(tmp_path):
    demo_bams = sorted((DEMO / "bam").glob("*.bam"))
    sheet = speed.make_batch_sheet(tmp_path, demo_bams, 7)
    rows = [line.split("\t") for line in sheet.read_text().splitlines()]
    assert rows[0] == ["sample", "bam"]
    assert [r[0] for r in rows[1:]] == [f"S{i:03d}" for i in range(1, 8)]
    for i, (_, bam) in enumerate(rows[1:]):
        assert Path(bam).resolve() == demo_bams[i % len(demo_bams)].resolve()
        assert Path(bam + ".bai").resolve() == Path(str(demo_bams[i % len(demo_bams)]) + ".bai").resolve()
    speed.make_batch_sheet(tmp_path, demo_bams, 7)  # a second run replaces the links


def test_benchmark_seconds_reads_the_s_column(tmp_path):
    head = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (tmp_path / "A.tsv").write_text(head + "1.25\t0:00:01\t80\t90\t70\t75\t0\t1\t90\t1.1\n")
    (tmp_path / "B.tsv").write_text(head + "0.75\t0:00:00\t80\t90\t70\t75\t0\t1\t90\t0.7\n")
    (tmp_path / "notes.txt").write_text("ignored")
    assert speed.benchmark_seconds(tmp_path) == [1.25, 0.75]


# --------------------------------------------------------------------------
# bars and report
# --------------------------------------------------------------------------

ROWS = [
    speed.SizeRow(1, 107_262, 5.6, 802, 0.010, 1.00, 90.4, 1, target_fragments=0),
    speed.SizeRow(50, 5_007_262, 207.2, 802, 0.020, 1.20, 95.0, 1, target_fragments=0),
]
DEEP_ROWS = [
    speed.SizeRow(1, 607_262, 18.0, 500_802, 0.100, 0.30, 150.0, 1, target_fragments=250_000),
    speed.SizeRow(50, 5_507_262, 220.0, 500_802, 0.110, 0.50, 160.0, 1, target_fragments=250_000),
]
BATCH = [speed.BatchRow(1, 50, 70.0, 100.0, 2), speed.BatchRow(2, 50, 74.0, 104.0, 2),
         speed.BatchRow(3, 50, 90.0, 100.0, 2)]


def test_bars_pass_and_fail_on_the_limits():
    bars = speed.evaluate_bars(ROWS, BATCH)
    assert [b.verdict for b in bars] == ["FAIL", "PASS", "PASS", "PASS"]
    assert bars[0].measured.startswith("60.0x")  # 1.20 / 0.020 at the largest size
    assert bars[1].measured.startswith("1.20x")
    assert bars[2].measured == "95 MB (max)"
    assert bars[3].measured == "22.0 s (median)"  # overheads 20, 22, 40
    slow = [ROWS[0], speed.SizeRow(50, 1, 1.0, 802, 0.5, 1.6, 400.0, 1)]
    assert [b.verdict for b in speed.evaluate_bars(slow, [speed.BatchRow(1, 50, 200.0, 100.0, 2)])] == [
        "PASS", "FAIL", "FAIL", "FAIL"]
    assert speed.evaluate_bars(ROWS, [])[-1].verdict == "NOT RUN"


def test_bars_are_evaluated_per_target_depth():
    bars = speed.evaluate_bars(ROWS + DEEP_ROWS, BATCH)
    # the ratio to samtools is the issue's bar at the largest BAM only; the shallower loci
    # are held to it for reference; growth with the background is a bar at every depth
    assert [b.verdict for b in bars] == ["above (reference)", "PASS", "PASS", "FAIL", "PASS", "PASS"]
    assert [b.binding for b in bars] == [False, True, True, True, True, True]
    assert bars[0].name == "call wall time <= 5x samtools view -c, at 50x, 802 target records"
    assert bars[1].name == ("call wall time <= 5x samtools view -c, at 50x, 500,802 target records "
                            "(the largest BAM: the issue's bar)")
    assert bars[1].measured.startswith("4.5x")  # 0.50 / 0.110
    slow_deep = [DEEP_ROWS[0], speed.SizeRow(50, 5_507_262, 220.0, 500_802, 0.110, 0.60, 160.0, 1,
                                             target_fragments=250_000)]
    fast_shallow = [ROWS[0], speed.SizeRow(50, 5_007_262, 207.2, 802, 0.500, 1.20, 95.0, 1, target_fragments=0)]
    assert [b.verdict for b in speed.evaluate_bars(fast_shallow + slow_deep, BATCH)][:2] == [
        "within (reference)", "FAIL"]  # 2.4x, 5.5x
    table = speed.bars_table(bars)
    assert "| above (reference) |" in table and "not the issue's bar" in table
    assert "reference" not in speed.bars_table(speed.evaluate_bars(ROWS, BATCH))  # one depth: it is the bar
    assert bars[2].name == "call at 50x <= 1.5x call at 1x, 802 target records"
    assert bars[3].name == "call at 50x <= 1.5x call at 1x, 500,802 target records"
    assert bars[3].measured.startswith("1.67x")  # 0.50 / 0.30
    assert bars[4].measured == "160 MB (max)"  # over every row
    table = speed.size_table(ROWS + DEEP_ROWS)
    assert "| 250,000 | 50x | 5,507,262 | 0 | 220.0 | 500,802 | 0.110 | 0.50 | 4.5 | 160 | 1 |" in table
    assert table.splitlines()[0].startswith("| target fragments | BAM |")


ANNOTATION_ROWS = [
    speed.AnnotationRow("annotation.gtf", 28, 31, 200, 0.1, 0.4, 80.0, 1.2, 95.0, 1),
    speed.AnnotationRow("annotation.gtf + 60,000 synthetic genes", 60_028, 240_031, 1_920_200, 182.7, 52.6, 1400.0,
                        2.9, 686.0, 1),
]


def test_annotation_rows_add_a_memory_bar_and_a_table():
    bars = speed.evaluate_bars(ROWS, BATCH, ANNOTATION_ROWS)
    assert [b.verdict for b in bars] == ["FAIL", "PASS", "PASS", "FAIL", "PASS"]
    assert "60,028-gene annotation" in bars[3].name and bars[3].measured == "686 MB (max)"
    table = speed.annotation_table(ANNOTATION_ROWS)
    assert "| annotation.gtf + 60,000 synthetic genes | 60,028 | 240,031 | 1,920,200 | 182.70 | 52.60 | 1400 | 2.90 | 686 | – | 1 |" in table
    # with the boundary index loaded too: the bar takes the larger of the two peaks
    small, big = ANNOTATION_ROWS
    for call_rss, boundary_rss, verdict in ((250.0, 290.0, "PASS"), (250.0, 320.0, "FAIL"), (310.0, 120.0, "FAIL")):
        row = dataclasses.replace(big, call_rss_mb=call_rss, boundary_rss_mb=boundary_rss)
        [bar] = [b for b in speed.evaluate_bars(ROWS, BATCH, [small, row]) if "60,028-gene" in b.name]
        assert bar.verdict == verdict and bar.name.endswith("with its boundary index loaded")
        assert bar.measured == f"{max(call_rss, boundary_rss):.0f} MB (max)"
    assert "| 2.90 | 250 | 290 | 1 |" in speed.annotation_table([dataclasses.replace(big, call_rss_mb=250.0,
                                                                                     boundary_rss_mb=290.0)])
    report = speed.render_report({}, "cmd", "date", ROWS, [], None, 3, BATCH, None, bars,
                                 annotation_rows=ANNOTATION_ROWS, largest=50)
    assert report.index("## BAM size") < report.index("## Annotation size") < report.index("## Snakemake") < report.index("## Bars")
    assert "the 50x BAM" in report


def chimeric_row(fragments: int, call_s: float, samtools_s: float = 0.5, rss: float = 60.0) -> speed.ChimericRow:
    return speed.ChimericRow(fragments, 107_262 + 3 * fragments, 5.6, 3 * fragments, 802 + 2 * fragments, samtools_s,
                             call_s, rss, 1, "TPM3::ALK", 19 + fragments * 4 // 5, 22 + fragments, True)


CHIMERIC_ROWS = [chimeric_row(0, 0.30), chimeric_row(10, 0.30), chimeric_row(100, 0.31), chimeric_row(1_000, 0.40),
                 chimeric_row(10_000, 1.20)]


def test_chimeric_bars_follow_their_rules():
    growth, ratio, memory = speed.chimeric_bars(CHIMERIC_ROWS)
    # 1,000 -> 10,000 fragments: at most 12x (linear); the 10,000 call within 3x samtools; memory at every density
    assert growth.name == "call with 10,000 chimeric fragments <= 12x the call with 1,000 (linear)"
    assert (growth.measured, growth.limit, growth.verdict) == ("3.00x (1.20 s vs 0.40 s)", "<= 12x", "PASS")
    assert ratio.name == "call with 10,000 chimeric fragments <= 3x samtools view -c of the same regions"
    assert (ratio.measured, ratio.verdict) == ("2.4x (1.20 s vs 0.500 s)", "PASS")
    assert (memory.measured, memory.verdict) == ("60 MB (max)", "PASS")
    worse = CHIMERIC_ROWS[:3] + [chimeric_row(1_000, 0.10), chimeric_row(10_000, 1.21, 0.40, 301.0)]
    assert [b.verdict for b in speed.chimeric_bars(worse)] == ["FAIL", "FAIL", "FAIL"]  # 12.1x, 3.0x, 301 MB
    edge = CHIMERIC_ROWS[:3] + [chimeric_row(1_000, 0.10), chimeric_row(10_000, 1.20, 0.40, 300.0)]
    assert [b.verdict for b in speed.chimeric_bars(edge)] == ["PASS", "PASS", "PASS"]  # 12.0x, 3.0x, 300 MB
    # without the row of a tenth of the most: the next density down, the limit scaled to its ratio
    [growth, *_] = speed.chimeric_bars([chimeric_row(0, 0.3), chimeric_row(500, 0.4), chimeric_row(10_000, 1.2)])
    assert growth.name.endswith("<= 24x the call with 500 (linear)") and growth.passed
    # one density: nothing to grow from
    assert [b.verdict for b in speed.chimeric_bars([chimeric_row(0, 0.3), chimeric_row(100, 0.4, 0.1)])] == [
        "NOT RUN", "FAIL", "PASS"]
    assert speed.chimeric_bars([chimeric_row(0, 0.3)]) == speed.chimeric_bars([]) == []
    # after the size bars, before the annotation and batch bars
    bars = speed.evaluate_bars(ROWS, BATCH, ANNOTATION_ROWS, CHIMERIC_ROWS)
    assert [b.name for b in bars[3:6]] == [b.name for b in speed.chimeric_bars(CHIMERIC_ROWS)]
    assert "60,028-gene" in bars[6].name and "Snakemake" in bars[7].name
    assert [b.verdict for b in speed.evaluate_bars(ROWS, BATCH)] == ["FAIL", "PASS", "PASS", "PASS"]


def test_chimeric_table_and_report():
    table = speed.chimeric_table(CHIMERIC_ROWS)
    lines = table.splitlines()
    assert lines[0].startswith("| chimeric fragments | records |") and "| TPM3::ALK fragments |" in lines[0]
    assert len({line.count("|") for line in lines}) == 1
    assert "| 10,000 | 137,262 | 30,000 | 5.6 | 20,802 | 0.500 | 1.20 | 2.4 | 60 | 1 | 8,019 | 10,022 | yes |" in table
    missed = dataclasses.replace(CHIMERIC_ROWS[1], split_reads=None, supporting=None, at_truth=False)
    assert "| not called | not called | no |" in speed.chimeric_table([missed])
    bars = speed.evaluate_bars(ROWS, BATCH, chimeric_rows=CHIMERIC_ROWS)
    report = speed.render_report({}, "cmd", "date", ROWS, [], None, 3, BATCH, None, bars, "## Profile of one call",
                                 chimeric_rows=CHIMERIC_ROWS)
    assert (report.index("## BAM size") < report.index("## Chimeric evidence density") < report.index("## Snakemake")
            < report.index("## Bars") < report.index("## Profile"))
    assert table in report and "with N TPM3::ALK fragments" in report
    assert "## Chimeric" not in speed.render_report({}, "cmd", "date", ROWS, [], None, 3, BATCH, None, bars)


def test_markdown_tables():
    assert speed.markdown_table(("a", "b"), [(1, "x")]) == "| a | b |\n|---|---:|\n| 1 | x |\n"
    with pytest.raises(ValueError):
        speed.markdown_table(("a", "b"), [(1,)])
    for table in (speed.size_table(ROWS), speed.batch_table(BATCH), speed.bars_table(speed.evaluate_bars(ROWS, BATCH))):
        lines = table.splitlines()
        assert len({line.count("|") for line in lines}) == 1
    assert "| 0 | 50x | 5,007,262 | 0 | 207.2 | 802 | 0.020 | 1.20 | 60.0 | 95 | 1 |" in speed.size_table(ROWS)
    batch = speed.batch_table(BATCH).splitlines()
    assert batch[2] == "| 1 | 50 | 70.0 | 100.0 | 50.0 | 20.0 | 2.00 |"
    assert batch[-1] == "| median | 50 | 74.0 | 100.0 | 50.0 | 22.0 | 2.00 |"


def test_report_has_the_tables_in_order_then_the_bars():
    bars = speed.evaluate_bars(ROWS, BATCH)
    report = speed.render_report({"cores (nproc)": "2", "cpu": "X"}, "imtfusion benchmark speed", "2024-01-01",
                                 ROWS, ["chr2:1-10"], 0.55, 3, BATCH, (0.8, 0.7), bars)
    sections = [report.index(s) for s in ("- cores (nproc): 2", "## BAM size", "| 0 | 50x |", "chr2:1-10", "(interpreter start", "0.55 s",
                                          "## Snakemake batch: 50", "| median |", "0.80 s (index-gtf)", "## Bars",
                                          "| FAIL |")]
    assert sections == sorted(sections)
    assert speed.size_table(ROWS, 0.55) in report and speed.bars_table(bars) in report
    assert "| 0 | 50x | 5,007,262 | 0 | 207.2 | 802 | 0.020 | 1.20 | 0.65 | 60.0 | 95 | 1 |" in report


def test_defaults_match_the_plan():
    parser = argparse.ArgumentParser()
    speed.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.base, args.scales, args.runs, args.batch_samples, args.batch_runs, args.cores) == (
        100_000, [1, 10, 50], 3, 50, 3, 2)
    assert args.annotation_genes == 60_000 and args.unmapped_fraction == 0.05
    assert args.target_fragments == [0, 250_000, 1_000_000]
    assert args.chimeric_fragments == [0, 10, 100, 1_000, 10_000]
    assert "--chimeric-fragments 0 10 100 1000 10000" in speed.command_line(args)
    assert speed.command_line(args).startswith(
        "imtfusion benchmark speed --base 100000 --scales 1 10 50 --target-fragments 0 250000 1000000")


def test_find_repo_finds_this_checkout():
    assert speed.find_repo() == REPO


def test_registered_as_a_benchmark_subcommand_when_listed():
    from imtfusion_tools.bench.cli import SUBCOMMANDS

    if "speed" not in SUBCOMMANDS:
        pytest.skip("imtfusion_tools.bench.cli does not list 'speed' yet")
    out = subprocess.run([sys.executable, "-m", "imtfusion.cli", "benchmark", "speed", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "--batch-samples" in out.stdout


@needs_samtools
def test_a_tiny_run_end_to_end(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    speed.add_arguments(parser)
    args = parser.parse_args(["--base", "300", "--scales", "2", "--target-fragments", "0", "300",
                              "--chimeric-fragments", "0", "40", "--runs", "1",
                              "--batch-runs", "0", "--annotation-genes", "0", "--contig-mb", "1",
                              "--workdir", str(tmp_path / "work"), "--output", str(tmp_path / "speed.md")])
    speed.main(args)
    report = capsys.readouterr().out
    assert (tmp_path / "speed.md").read_text() == report
    source = count_records(SOURCE)
    regions = speed.target_regions(DEMO / "annotation.gtf", SOURCE, DEFAULT_TARGETS)
    in_loci = samtools_count(SOURCE, regions)
    for depth in (0, 300):
        row = next(line for line in report.splitlines() if line.startswith(f"| {depth} | 2x |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == f"{source + 600 + 2 * depth:,}"
        assert cells[3] == "30"  # 5% of the background, whole pairs
        assert cells[5] == f"{in_loci + 2 * depth:,}"  # records in target regions
        assert cells[-1] == "1"  # IMT01's TPM3::ALK, whatever the background and the target depth
        assert f"call wall time <= 5x samtools view -c, at 2x, {in_loci + 2 * depth:,} target records" in report
    assert "| Snakemake overhead < 60 s | – | < 60 s | NOT RUN |" in report
    from imtfusion.scan import reader_kind

    assert f"- record reader: {reader_kind()}" in report and "- threads per call: 1" in report
    assert (tmp_path / "work" / "bams" / "bg2x.bam.json").exists()  # a re-run reuses the BAM
    assert (tmp_path / "work" / "bams" / "t300_bg2x.bam.json").exists()
    # chimeric evidence on the 1x background: the demo's own support, then 40 fragments more
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
            for line in report.splitlines() if line.startswith(("| 0 | ", "| 40 | "))
            and not line.split("|")[2].strip().endswith("x")}  # not the size table's "| 0 | 2x |" rows
    assert rows["0"][1] == f"{source + 300:,}" and rows["0"][2] == "0"
    assert rows["40"][-1] == rows["0"][-1] == "yes" and rows["40"][9] == "1"
    assert int(rows["40"][-2]) - int(rows["0"][-2]) == 40  # fragments of TPM3::ALK
    assert "call with 40 chimeric fragments <= 3x samtools view -c of the same regions" in report
    assert "## Profile of one call at" in report and "with 40 chimeric fragments of TPM3::ALK" in report
    assert (tmp_path / "work" / "bams" / "c40_bg1x.bam.json").exists()
    # the target sets on one BAM (2x, 300 fragments over the 9 genes of both sets): each set's
    # call against samtools over its own loci, the extended set reading more of them
    from imtfusion.registry import resolve_target_names

    sets = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
            for line in report.splitlines() if line.startswith(("| default |", "| imt-extended |"))}
    assert sets["default"][1] == "4" and sets["imt-extended"][1] == str(len(resolve_target_names("imt-extended")))
    sets_bam = tmp_path / "work" / "bams" / "sets9_t300_bg2x.bam"
    for name in ("default", "imt-extended"):
        regions = speed.target_regions(DEMO / "annotation.gtf", sets_bam, resolve_target_names(name))
        assert sets[name][2] == f"{samtools_count(sets_bam, regions):,}"
        assert sets[name][-1] == "1"  # IMT01's TPM3::ALK either way
    assert int(sets["imt-extended"][2].replace(",", "")) > int(sets["default"][2].replace(",", ""))
    assert "call / samtools view -c with imt-extended (9 targets" in report and "the extra targets add only their loci" in report


def test_the_chimeric_option_parses_and_refuses_negative_counts(tmp_path):
    from imtfusion.errors import ConfigError

    parser = argparse.ArgumentParser()
    speed.add_arguments(parser)
    args = parser.parse_args(["--chimeric-fragments", "0", "50", "5000"])
    assert args.chimeric_fragments == [0, 50, 5000]
    assert "--chimeric-fragments 0 50 5000" in speed.command_line(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["--chimeric-fragments", "many"])
    with pytest.raises(ConfigError, match="--chimeric-fragments must be at least 0"):
        speed.main(parser.parse_args(["--chimeric-fragments", "-1", "--workdir", str(tmp_path)]))
    help_text = subprocess.run([sys.executable, "-m", "imtfusion.cli", "benchmark", "speed", "--help"],
                               capture_output=True, text=True).stdout
    assert "--chimeric-fragments" in help_text


def test_call_threads_below_one_are_refused(tmp_path):
    from imtfusion.errors import ConfigError

    parser = argparse.ArgumentParser()
    speed.add_arguments(parser)
    args = parser.parse_args(["--call-threads", "0", "--workdir", str(tmp_path)])
    with pytest.raises(ConfigError, match="--call-threads must be at least 1"):
        speed.main(args)


def test_a_scaled_index_is_rebuilt_when_the_indexing_code_changes(tmp_path, monkeypatch):
    """index-gtf's time and memory in the report are of the code being measured: a
    cached index made by other code is built again."""
    key = speed.indexer_code_key()
    assert len(key) == 16 and key == speed.indexer_code_key()
    contigs = speed.background_contigs(1, 200_000)
    first = speed.cached_scaled_index(DEMO / "annotation.gtf", tmp_path, 3, 1, None, contigs=contigs)
    index = Path(first["index"])
    made = index.stat().st_mtime_ns
    again = speed.cached_scaled_index(DEMO / "annotation.gtf", tmp_path, 3, 1, None, contigs=contigs)
    assert (again["index"], again["index_s"], again["counts"]) == (first["index"], first["index_s"], first["counts"])
    assert index.stat().st_mtime_ns == made  # reused
    monkeypatch.setattr(speed, "indexer_code_key", lambda: "other code")
    speed.cached_scaled_index(DEMO / "annotation.gtf", tmp_path, 3, 1, None, contigs=contigs)
    assert index.stat().st_mtime_ns != made


def test_the_target_set_bar_fails_when_extra_targets_cost_more_than_their_loci():
    import dataclasses

    default = speed.TargetSetRow("default", tuple("ABCD"), 1_000_000, 0.50, 5.0, 120, 1)
    flat = speed.TargetSetRow("imt-extended", tuple("ABCDEFGHI"), 2_000_000, 1.00, 10.5, 140, 1)
    [bar] = speed.target_set_bars([default, flat])
    assert bar.passed and bar.measured.startswith("1.05x")
    [bar] = speed.target_set_bars([default, dataclasses.replace(flat, call_s=15.0)])  # 15x vs 10x
    assert bar.passed is False
    assert speed.target_set_bars([default]) == []  # one set alone: the part did not run
