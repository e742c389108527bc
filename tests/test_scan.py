"""The columnar region reader (imtfusion.scan) must see exactly what pysam's fetch sees,
and the evidence read through it must equal the evidence read record by record."""

from __future__ import annotations

import array
import contextlib
import os
import random
import shutil
import struct
import sysconfig
from pathlib import Path

import numpy as np
import pysam
import pytest

from imtfusion import scan
from imtfusion.annotation import load_annotation
from imtfusion.bamio import open_alignment
from imtfusion.errors import AlignmentFileError
from imtfusion.evidence import collect_evidence
from imtfusion.params import CallParameters
from imtfusion.targets import ContigMap, resolve_targets

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
CONTIGS = {"chrA": 300_000, "chrB": 200_000, "chrC": 5_000}


def _random_record(rng: random.Random, header: pysam.AlignmentHeader, i: int, contig: str) -> pysam.AlignedSegment:
    """One record of the kinds aligners write: spliced, clipped (soft and hard), long N
    gaps, supplementary with SA, secondary, duplicates, unmapped mates placed at their
    mate, mates on other contigs, records without a CIGAR, long names and short ones."""
    rec = pysam.AlignedSegment(header)
    name_kind = rng.random()
    rec.query_name = (f"r{i}" if name_kind < 0.2 else
                      f"A00123:45:HXXXXDSXY:1:{1101 + i % 7}:{rng.randint(1000, 32000)}:{i}")
    length = rng.choice([50, 76, 100, 150])
    seq = "".join(rng.choice("ACGT") for _ in range(length))
    kind = rng.random()
    flag = 0x1 | (0x40 if rng.random() < 0.5 else 0x80)
    if rng.random() < 0.5:
        flag |= 0x10
    if rng.random() < 0.5:
        flag |= 0x20
    if kind < 0.05:  # unmapped, placed at its mate
        flag |= 0x4
        flag &= ~0x10
        rec.cigartuples = None
    elif kind < 0.08:  # mapped without a CIGAR (seen in broken files; htslib copes)
        rec.cigartuples = None
    elif kind < 0.3:  # spliced, sometimes with a long intron (starts well before the region)
        first = rng.randint(1, length - 1)
        rec.cigartuples = [(0, first), (3, rng.choice([80, 2_000, 60_000])), (0, length - first)]
    elif kind < 0.45:  # soft clips of any length
        lead, trail = rng.randint(0, min(40, length // 3)), rng.randint(0, min(40, length // 3))
        middle = length - lead - trail
        ops = ([(4, lead)] if lead else []) + [(0, middle)] + ([(4, trail)] if trail else [])
        if middle > 20 and rng.random() < 0.4:  # a tiny block beside a gap at an end (minimap2's 14S4M1D57M)
            b, g, op = rng.randint(1, 7), rng.randint(1, 3), rng.choice([1, 2, 3])
            rest = middle - b - (g if op == 1 else 0)
            if rng.random() < 0.5:
                ops = ([(4, lead)] if lead else []) + [(0, b), (op, g), (0, rest)] + ([(4, trail)] if trail else [])
            else:
                ops = ([(4, lead)] if lead else []) + [(0, rest), (op, g), (0, b)] + ([(4, trail)] if trail else [])
        rec.cigartuples = ops
        if rng.random() < 0.6:  # adapter read-through, sometimes a few bases into the clip
            shift = rng.choice([0, 0, 1, 2, 3])
            adapter = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC" * 2
            if trail > shift:
                seq = seq[:length - trail + shift] + adapter[:trail - shift]
            if lead > shift:  # a reverse read: read outward, the clip spells the complement
                outward = adapter[:lead - shift].translate(str.maketrans("ACGT", "TGCA"))
                seq = outward[::-1] + seq[lead - shift:]
    elif kind < 0.55:  # supplementary, hard-clipped, with an SA tag
        flag |= 0x800
        clip = rng.randint(20, length - 20)
        rec.cigartuples = [(5, clip), (0, length - clip)]
        seq = seq[clip:]
        rec.set_tag("SA", f"chrB,{rng.randint(1, 150000)},+,{clip}M{length - clip}S,60,0;")
    elif kind < 0.6:  # primary with an SA tag: a long, short or no clip, sometimes adapter-like
        clip = rng.choice([0, 3, 16, max(0, length - 60)])
        rec.cigartuples = [(0, length - clip), (4, clip)] if clip else [(0, length)]
        if clip and rng.random() < 0.3:
            seq = seq[:length - clip] + ("AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC" * 4)[:clip]
        rec.set_tag("SA", f"chrA,{rng.randint(1, 250000)},-,{length - clip}S{max(1, clip)}M,60,1;")
    else:
        ops = [(0, length)]
        if rng.random() < 0.1:
            ops = [(0, 10), (1, 2), (0, length - 12)] if length > 20 else ops
        if rng.random() < 0.1:
            ops = [(0, 30), (2, 3), (0, length - 30)]
        rec.cigartuples = ops
    if rng.random() < 0.05:
        flag |= 0x100
    if rng.random() < 0.08:
        flag |= 0x400
    if rng.random() < 0.02:
        flag |= 0x200
    if rng.random() < 0.05:
        flag |= 0x8
    rec.flag = flag
    rec.query_sequence = seq
    rec.query_qualities = pysam.qualitystring_to_array("".join(rng.choice("F:,#") for _ in range(len(seq))))
    rec.reference_id = header.get_tid(contig)
    rec.mapping_quality = rng.choice([0, 1, 3, 60, 255])
    rec.next_reference_id = header.get_tid(rng.choice(list(CONTIGS))) if rng.random() < 0.2 else rec.reference_id
    rec.next_reference_start = max(0, rng.randint(-500, 500) + i)
    rec.template_length = rng.randint(-600, 600)
    rec.set_tag("NH", rng.choice([1, 2]))
    if rng.random() < 0.3:
        rec.set_tag("RG", "lib1")
    if rng.random() < 0.1:
        rec.set_tag("XB", array.array("i", [1, 2, 3]))
    return rec


def random_bam(path: Path, seed: int, n: int = 6000) -> Path:
    rng = random.Random(seed)
    header = pysam.AlignmentHeader.from_dict({
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": c, "LN": length} for c, length in CONTIGS.items()],
        "RG": [{"ID": "lib1"}],
    })
    records = []
    for i in range(n):
        contig = rng.choices(list(CONTIGS), weights=[6, 3, 1])[0]
        rec = _random_record(rng, header, i, contig)
        span = CONTIGS[contig]
        # dense clusters (a focal panel) and sparse reads elsewhere
        rec.reference_start = (rng.randint(100_000, 104_000) if contig == "chrA" and rng.random() < 0.5
                               else rng.randint(0, span - 70_000 if span > 80_000 else span - 200))
        records.append(rec)
    for i in range(20):  # unplaced unmapped reads at the end
        rec = pysam.AlignedSegment(header)
        rec.query_name = f"u{i}"
        rec.flag = 0x4
        rec.query_sequence = "ACGT" * 20
        rec.reference_id = -1
        rec.reference_start = -1
        records.append(rec)
    return _sorted_bam(path, header, records)


def _sorted_bam(path: Path, header: pysam.AlignmentHeader, records: list[pysam.AlignedSegment]) -> Path:
    """``records`` written to ``path``, sorted by position and indexed."""
    unsorted = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for rec in records:
            out.write(rec)
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    unsorted.unlink()
    return path


def _scanned(bam: pysam.AlignmentFile, chrom: str, start: int, end: int, blocks: int, threads: int = 1) -> list[str]:
    first, batches = scan.scan_region(bam, chrom, start, end, max_read=blocks * 20_000, threads=threads)
    out = [first.to_string()] if first is not None else []
    for batch in batches:
        out += [r.to_string() for r in scan.materialize(bam, batch.raw(np.arange(len(batch))))]
    return out


@pytest.fixture
def reader() -> str:
    """The compiled record reader (the one fast path: without it pysam reads the records)."""
    if scan._native is None:
        pytest.skip("the compiled reader is not built here (no C compiler at install time)")
    return "compiled"


@pytest.fixture(scope="module")
def diverse_bam(tmp_path_factory) -> Path:
    return random_bam(tmp_path_factory.mktemp("scan") / "diverse.bam", seed=11)


REGIONS = [
    ("chrA", 0, 300_000), ("chrA", 100_500, 101_000), ("chrA", 99_000, 105_000), ("chrA", 150_000, 150_001),
    ("chrA", 299_999, 300_000), ("chrB", 0, 1), ("chrB", 20_000, 90_000), ("chrC", 0, 5_000), ("chrC", 4_000, 4_500),
]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("blocks", [1, 2, 256])
def test_scan_yields_exactly_what_fetch_yields(diverse_bam, region, blocks, reader):
    # threads: htslib decompresses ahead; the position after the first record must still
    # be exact. And the reader's own inflating thread gives the same records.
    with pysam.AlignmentFile(str(diverse_bam), threads=2 if blocks == 2 else 1) as bam:
        expected = [r.to_string() for r in bam.fetch(*region)]
        assert _scanned(bam, *region, blocks) == expected
        if blocks != 1:
            assert _scanned(bam, *region, blocks, threads=2) == expected


def _batch_arrays(bam, region, max_read):
    """Per record of the region but its first: the compiled reader's arrays."""
    first, batches = scan.scan_region(bam, *region, max_read=max_read)
    out = []
    for b in batches:
        per = [[] for _ in range(len(b))]
        for r, code, length, ref in zip(b.op_record.tolist(), b.op_code.tolist(), b.op_length.tolist(),
                                        b.op_ref_start.tolist()):
            per[r].append((code, length, ref))
        blocks = [[] for _ in range(len(b))]
        for r, start, end in zip(*(x.tolist() for x in scan.aligned_blocks(b, np.ones(len(b), dtype=bool)))):
            blocks[r].append((start, end))
        edges = list(zip(*(x.tolist() for x in b.edge_ops())))
        codes = [[c for c in range(16) if b.has_op(c)[k]] for k in range(len(b))]
        out += list(zip(per, blocks, edges, codes, b.end.tolist(), b.name_suffix_keys().tolist()))
    return out


def _pysam_arrays(bam, region):
    """The same from pysam's records."""
    out = []
    for read in list(bam.fetch(*region))[1:]:
        ops, ref = [], read.reference_start
        for code, length in read.cigartuples or []:
            ops.append((code, length, ref))
            ref += length if code in (0, 2, 3, 7, 8) else 0
        cigar = read.cigartuples or []
        edges = (cigar[0][0], cigar[0][1], cigar[-1][0], cigar[-1][1]) if cigar else (-1, 0, -1, 0)
        end = read.reference_end if read.reference_end and not read.is_unmapped else read.reference_start + 1
        out.append((ops, [tuple(x) for x in read.get_blocks()], edges, sorted({c for c, _ in cigar}), end,
                    scan.name_key(read.query_name)))
    return out


@pytest.mark.parametrize("max_read", [20_000, 50_000, scan.MAX_READ_BYTES])
def test_the_compiled_reader_gives_the_fields_of_pysams_records(diverse_bam, reader, max_read):
    rng = random.Random(max_read)
    regions = [("chrA", 0, 300_000), ("chrB", 0, 200_000), ("chrC", 0, 5_000)]
    for _ in range(10):
        chrom = rng.choice(list(CONTIGS))
        start = rng.randint(0, CONTIGS[chrom] - 1)
        regions.append((chrom, start, start + rng.choice([1, 500, 20_000])))
    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        for region in regions:
            assert _batch_arrays(bam, region, max_read) == _pysam_arrays(bam, region)


def test_the_compiled_reader_is_built_where_a_c_compiler_is():
    # CI has a compiler: there the compiled path must be the one the other tests run
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None or os.environ.get("IMTFUSION_PURE_PYTHON"):
        pytest.skip("no C compiler (or IMTFUSION_PURE_PYTHON set): pysam reads the records")
    assert scan.reader_kind() == "compiled"


def _records_bytes(records: list[tuple[int, int, int, int, int]]) -> bytes:
    """BAM records (contig, position, name length, CIGAR operations, sequence length)
    with arbitrary contents, their sizes as the fields say (ops 10M each)."""
    out = b""
    for tid, pos, l_qname, n_cigar, l_seq in records:
        body = struct.pack("<iiBBHHHiiii", tid, pos, l_qname, 60, 0, n_cigar, 0, l_seq, -1, -1, 0)
        body += b"q" * (l_qname - 1) + b"\x00" + struct.pack("<I", (10 << 4)) * n_cigar
        body += bytes((l_seq + 1) // 2 + l_seq)
        out += struct.pack("<I", len(body)) + body
    return out


def test_the_compiled_walk_stops_at_the_region_end_and_at_a_cut_record():
    if scan._native is None:
        pytest.skip("the compiled reader is not built here (no C compiler at install time)")
    data = _records_bytes([(1, 10, 5, 1, 20), (1, 20, 9, 2, 30), (1, 30, 3, 0, 0), (2, 5, 4, 1, 10)])
    offsets, rest, ended, fixed, keys = scan._records(data, 1, 1_000)
    assert ended and len(offsets) == 3 and fixed["pos"].tolist() == [10, 20, 30]
    assert keys.tolist() == [scan.name_key("q" * 4), scan.name_key("q" * 8), scan.name_key("qq")]
    assert data[rest + 4:rest + 8] == struct.pack("<i", 2)  # the first record of contig 2
    offsets, rest, ended, fixed, _ = scan._records(data, 1, 30)  # the region ends just before 30
    assert ended and fixed["pos"].tolist() == [10, 20]
    offsets, rest, ended, fixed, _ = scan._records(data, 1, 25)
    assert ended and fixed["pos"].tolist() == [10, 20]
    cut = data[:rest - 3]  # the last record of the region cut short
    offsets, rest2, ended, fixed, _ = scan._records(cut, 1, 25)
    assert not ended and fixed["pos"].tolist() == [10] and rest2 == offsets[0] + 4 + fixed["block_size"][0]
    fixed, ends, ops, summary = scan._columns(data, offsets, fixed)
    batch = scan.RecordBatch(data, offsets, fixed, ends, *ops, None, summary)  # operations written when asked for
    assert batch.op_code.tolist() == [0] and batch.op_length.tolist() == [10] and batch.op_ref_start.tolist() == [10]
    assert ends.tolist() == [20]
    assert summary.tolist() == [[0, 10, 0, 10, 1]]


def test_the_compiled_walk_names_a_record_whose_fields_overflow_it():
    if scan._native is None:
        pytest.skip("the compiled reader is not built here (no C compiler at install time)")
    data = bytearray(_records_bytes([(1, 10, 5, 1, 20), (1, 20, 9, 2, 30)]))
    second = 4 + struct.unpack_from("<I", data, 0)[0]
    struct.pack_into("<H", data, second + 16, 4000)  # n_cigar far beyond the record
    with pytest.raises(scan.ScanError, match="x.bam: a record whose fields do not fit"):
        scan._records(bytes(data), 1, 1_000, "x.bam")
    struct.pack_into("<I", data, second, 20)  # shorter than the fixed fields
    with pytest.raises(scan.ScanError, match="shorter than its fixed fields"):
        scan._records(bytes(data), 1, 1_000, "x.bam")


def test_random_regions_match_fetch(diverse_bam, reader):
    rng = random.Random(5)
    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        regions = []
        for _ in range(25):
            chrom = rng.choice(list(CONTIGS))
            start = rng.randint(0, CONTIGS[chrom] - 1)
            regions.append((chrom, start, start + rng.choice([1, 50, 3_000, 80_000])))
        expected = {r: [x.to_string() for x in bam.fetch(*r)] for r in regions}
        for r in regions:
            assert _scanned(bam, *r, 2) == expected[r]


def test_columns_hold_the_records_fields(diverse_bam, reader):
    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        first, batches = scan.scan_region(bam, "chrA", 99_000, 105_000)
        reads = list(bam.fetch("chrA", 99_000, 105_000))[1:]
        got = {"flag": [], "pos": [], "end": [], "mapq": [], "next_pos": [], "n": [], "keys": []}
        for batch in batches:
            got["flag"] += batch.fixed["flag"].tolist()
            got["pos"] += batch.fixed["pos"].tolist()
            got["end"] += batch.end.tolist()
            got["mapq"] += batch.fixed["mapq"].tolist()
            got["next_pos"] += batch.fixed["next_pos"].tolist()
            got["n"] += batch.has_op(scan.OP_N).tolist()
            got["keys"] += batch.name_suffix_keys().tolist()
    assert got["flag"] == [r.flag for r in reads]
    assert got["pos"] == [r.reference_start for r in reads]
    assert got["end"] == [r.reference_end if r.reference_end and not r.is_unmapped else r.reference_start + 1
                          for r in reads]
    assert got["mapq"] == [r.mapping_quality for r in reads]
    assert got["next_pos"] == [r.next_reference_start for r in reads]
    assert got["n"] == [any(op == 3 for op, _ in (r.cigartuples or [])) for r in reads]
    assert got["keys"] == [scan.name_key(r.query_name) for r in reads]


def test_batches_kept_by_the_caller_stay_intact(diverse_bam, reader):
    # the reader reuses a batch's buffer only once nothing refers to the batch any more
    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        expected = [r.to_string() for r in bam.fetch("chrA", 0, 300_000)]
        first, batches = scan.scan_region(bam, "chrA", 0, 300_000, max_read=20_000)
        kept = list(batches)
        assert len(kept) > 10
        got = [first.to_string()] + [r.to_string() for b in kept for r in scan.materialize(bam, b.raw(np.arange(len(b))))]
    assert got == expected


def test_an_sa_tag_on_a_record_without_clipped_bases_is_no_split(tmp_path):
    """Such a record locates no junction: both readers take it as an ordinary alignment
    (with a clip, the same record is a split read)."""
    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                              "SQ": [{"SN": c, "LN": n} for c, n in CONTIGS.items()]})
    path = tmp_path / "sa.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i, cigar in enumerate(["100M", "70M30S", "100M"]):
            rec = pysam.AlignedSegment(header)
            rec.query_name, rec.flag, rec.reference_id = f"q{i}", 0, 0
            rec.reference_start, rec.mapping_quality, rec.cigarstring = 100_200 + 10 * i, 60, cigar
            rec.query_sequence = "ACGTTGCAAG" * 10
            rec.query_qualities = pysam.qualitystring_to_array("F" * 100)
            rec.set_tag("SA", "chrB,5001,+,70S30M,60,0;")
            out.write(rec)
    pysam.index(str(path))
    gtf = tmp_path / "g.gtf"
    attrs = 'gene_id "G1"; gene_name "GENEA"; gene_type "protein_coding";'
    gtf.write_text(f"chrA\tt\tgene\t100001\t101000\t.\t+\t.\t{attrs}\n"
                   f"chrA\tt\ttranscript\t100001\t101000\t.\t+\t.\t{attrs} transcript_id \"T1\";\n"
                   f"chrA\tt\texon\t100001\t101000\t.\t+\t.\t{attrs} transcript_id \"T1\"; exon_number \"1\";\n")
    bulk, single, _ = _evidence_both_ways(path, load_annotation(gtf), ["GENEA"])
    assert bulk == single
    assert bulk.qc["GENEA"].chimeric_records == 1
    assert {s.fragment for s in bulk.split_reads} == {"q1"}


def test_blocks_are_pysams_get_blocks(diverse_bam, reader):
    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        reads = list(bam.fetch("chrA", 0, 300_000))[1:]
        first, batches = scan.scan_region(bam, "chrA", 0, 300_000)
        blocks = []
        for batch in batches:
            record, start, end = scan.aligned_blocks(batch, np.ones(len(batch), dtype=bool))
            per = [[] for _ in range(len(batch))]
            for r, s, e in zip(record.tolist(), start.tolist(), end.tolist()):
                per[r].append((s, e))
            blocks += per
    assert blocks == [[tuple(b) for b in r.get_blocks()] for r in reads]


def test_cram_and_unknown_contigs_are_left_to_pysam(diverse_bam, tmp_path):
    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        with pytest.raises(scan.ScanError):
            scan.scan_region(bam, "chrZ", 0, 10)
        assert scan.fetch_selected(bam, "chrZ", 0, 10, lambda b: np.ones(len(b), dtype=bool)) is None


@pytest.mark.parametrize("threads", [1, 2])
def test_a_damaged_block_is_a_scan_error(diverse_bam, tmp_path, reader, threads):
    data = bytearray(diverse_bam.read_bytes())
    damaged = tmp_path / "damaged.bam"
    middle = len(data) // 2
    data[middle:middle + 200] = bytes(200)
    damaged.write_bytes(bytes(data))
    (tmp_path / "damaged.bam.bai").write_bytes(Path(str(diverse_bam) + ".bai").read_bytes())
    with pysam.AlignmentFile(str(damaged)) as bam:
        with pytest.raises((scan.ScanError, OSError)):
            _scanned(bam, "chrA", 0, 300_000, 2, threads)


# ----------------------------------------------------------------------------------
# evidence: bulk == record by record
# ----------------------------------------------------------------------------------


def _evidence_both_ways(bam_path: Path, annotation, targets, params=None):
    params = params or CallParameters()
    bam, info = open_alignment(bam_path)
    try:
        contigs = ContigMap.build(annotation.contigs, info.contig_lengths)
        loci = resolve_targets(annotation, list(targets), params.margin, contigs, str(bam_path))
        bulk = collect_evidence(bam, loci, params, columnar=True)
        single = collect_evidence(bam, loci, params, columnar=False)
        # and in bulk with the blocks inflated in a second thread
        assert collect_evidence(bam, loci, params, columnar=True, threads=2) == bulk
    finally:
        bam.close()
    return bulk, single, loci


@pytest.mark.parametrize("sample", ["IMT01", "IMT02", "IMT03", "IMT04", "IMT05"])
def test_demo_evidence_is_the_same_read_in_bulk_or_one_by_one(sample):
    annotation = load_annotation(DEMO / "annotation.gtf")
    bulk, single, loci = _evidence_both_ways(DEMO / "bam" / f"{sample}.bam", annotation, ["ALK", "ROS1", "ETV6", "NTRK3"])
    assert bulk == single
    assert set(bulk.record_names) == {l.name for l in loci}
    assert sum(q.reads for q in bulk.qc.values()) > 0


@pytest.mark.parametrize("sample", ["IMT07", "IMT08"])
def test_panel_demo_evidence_and_molecules_are_the_same_read_in_bulk_or_one_by_one(sample):
    # read-name UMIs: each target's molecules, bulk and record by record alike
    annotation = load_annotation(DEMO / "annotation.gtf")
    bulk, single, _ = _evidence_both_ways(DEMO / "panel" / f"{sample}.bam", annotation, ["ALK", "ROS1", "ETV6", "NTRK3"])
    assert bulk == single
    assert all(q.library.molecules for q in bulk.qc.values())


def _diverse_annotation(tmp_path: Path):
    """Three genes over the diverse BAM's contigs, one across its dense cluster."""
    gtf = tmp_path / "genes.gtf"
    rows = []
    for name, chrom, start, end, strand, exons in [
        ("GENEA", "chrA", 90_000, 120_000, "+", [(90_000, 91_000), (100_000, 101_500), (103_000, 104_200), (119_000, 120_000)]),
        ("GENEB", "chrB", 30_000, 80_000, "-", [(30_000, 31_000), (79_000, 80_000)]),
        ("GENEC", "chrC", 100, 4_900, "+", [(100, 900), (4_000, 4_900)]),
    ]:
        attrs = f'gene_id "{name}.1"; gene_name "{name}"; gene_type "protein_coding";'
        rows.append(f"{chrom}\tt\tgene\t{start + 1}\t{end}\t.\t{strand}\t.\t{attrs}")
        rows.append(f"{chrom}\tt\ttranscript\t{start + 1}\t{end}\t.\t{strand}\t.\t{attrs} transcript_id \"{name}T\";")
        for k, (s, e) in enumerate(exons, start=1):
            rows.append(f"{chrom}\tt\texon\t{s + 1}\t{e}\t.\t{strand}\t.\t{attrs} transcript_id \"{name}T\"; exon_number \"{k}\";")
    gtf.write_text("\n".join(rows) + "\n")
    return load_annotation(gtf)


def test_diverse_records_give_the_same_evidence_and_qc_both_ways(diverse_bam, tmp_path, reader):
    annotation = _diverse_annotation(tmp_path)
    for params in DIVERSE_PARAMS:
        bulk, single, _ = _evidence_both_ways(diverse_bam, annotation, ["GENEA", "GENEB", "GENEC"], params)
        assert bulk == single
        assert bulk.split_reads and bulk.clipped_reads and bulk.discordant_reads and bulk.unmapped_reads
        qc = bulk.qc["GENEA"]
        assert qc.duplicates and qc.secondary and qc.qc_fail and qc.exon_reads and qc.chimeric_records
        assert qc.low_mapq or params.min_mapq == 0


DIVERSE_PARAMS = [CallParameters(), CallParameters(min_mapq=0, min_clip_match=3, margin=200_000),
                  CallParameters(min_clip_match=14), CallParameters(min_clip_match=30, min_mapq=61)]


def _found(locus_scan) -> tuple[int, ...]:
    """What a locus scan has taken from its records so far."""
    q = locus_scan.qc
    return (len(locus_scan.split_reads), len(locus_scan.clipped_reads), len(locus_scan.discordant_reads),
            len(locus_scan.unmapped_reads), q.chimeric_records, q.split_reads, q.clipped_reads, q.discordant_reads)


def check_against_the_definition(bam, locus, params, max_read: int = scan.MAX_READ_BYTES) -> tuple[int, int]:
    """The compiled classification of the locus's batches against the record-by-record
    code on pysam objects (``_LocusScan.add_read``, the definition), batch by batch: the
    same counts, the same depth and exon reads, and every record the definition takes
    evidence from chosen for a closer look. (records compared, records chosen)."""
    from imtfusion.evidence import ADAPTER_CODES, Evidence, _LocusScan

    compared = chosen_total = 0
    gene = locus.gene
    _, batches = scan.scan_region(bam, locus.chrom, locus.start, locus.end, max_read=max_read)
    for batch in batches:
        fast = _LocusScan(bam, locus, params, Evidence())
        in_gene, chosen, counts = scan.classify(batch, fast.settings, ADAPTER_CODES)
        exon_reads = scan.gene_depth(batch, in_gene, fast.diff, gene.start, gene.end, fast.exon_start_array,
                                     fast.exon_end_array)
        slow = _LocusScan(bam, locus, params, Evidence())
        for k, read in enumerate(scan.materialize(bam, batch.raw(np.arange(len(batch))))):
            before = _found(slow)
            slow.add_read(read)
            if _found(slow) != before:
                assert chosen[k], f"taken by the definition, not chosen: {read.to_string()}"
        q = slow.qc
        assert [int(c) for c in counts] == [q.duplicates, q.secondary, q.qc_fail, q.reads, q.low_mapq]
        assert exon_reads == q.exon_reads
        assert np.array_equal(fast.diff, slow.diff)
        compared += len(batch)
        chosen_total += int(chosen.sum())
    return compared, chosen_total


@pytest.mark.parametrize("params", DIVERSE_PARAMS)
def test_the_compiled_classification_gives_the_definitions_counts_depth_and_records(diverse_bam, tmp_path, params,
                                                                                     reader):
    annotation = _diverse_annotation(tmp_path)
    bam, info = open_alignment(diverse_bam)
    compared = chosen = 0
    try:
        contigs = ContigMap.build(annotation.contigs, info.contig_lengths)
        for locus in resolve_targets(annotation, ["GENEA", "GENEB", "GENEC"], params.margin, contigs, str(diverse_bam)):
            for max_read in (30_000, 1 << 20):
                n, c = check_against_the_definition(bam, locus, params, max_read)
                compared, chosen = compared + n, chosen + c
    finally:
        bam.close()
    assert compared > 5000 and 0 < chosen < compared


def _boundary_bam(tmp_path: Path, params: CallParameters):
    """Records of GENEA's locus placed at the edges each classification rule tests (gene
    and locus ends, mate positions one off the record's own, MAPQ one below the minimum,
    clips one short of long enough, with and without a tiny block before an intron gap,
    adapter clips of 7 and 8 bases, after 0-3 other bases, unmapped mates with and
    without bases). (BAM path, annotation, locus, number of records)."""
    from imtfusion.evidence import TINY_BLOCK

    annotation = _diverse_annotation(tmp_path)
    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                              "SQ": [{"SN": c, "LN": n} for c, n in CONTIGS.items()]})
    contigs = ContigMap.build(annotation.contigs, dict(CONTIGS))
    (locus,) = resolve_targets(annotation, ["GENEA"], params.margin, contigs, "boundaries.bam")
    gene, rng = locus.gene, random.Random(5)
    adapter = "AGATCGGAAGAGCACACGTCTG"
    mcm = params.min_clip_match
    clips = sorted({max(0, c) for c in (0, mcm - 1, mcm, mcm - TINY_BLOCK - 1, mcm - TINY_BLOCK, 7, 8, 12, 13)})
    records = []
    for i in range(4000):
        length = 100
        pos = rng.choice([gene.start - 100, gene.start - 99, gene.start - 1, gene.start, gene.end - 101,
                          gene.end - 100, gene.end - 1, gene.end, locus.start, locus.end - 101, gene.start + 500])
        kind = rng.choice(["plain", "spliced", "clip", "adapter", "hard", "sa", "unmapped", "tiny", "tiny"])
        seq = "".join(rng.choice("ACGT") for _ in range(length))
        if kind == "spliced":
            cigar = [(0, 50), (3, rng.choice([1, 30_000])), (0, 50)]
        elif kind in ("clip", "adapter", "sa"):
            lead, trail = rng.choice(clips), rng.choice(clips)
            cigar = ([(4, lead)] if lead else []) + [(0, length - lead - trail)] + ([(4, trail)] if trail else [])
            if kind == "adapter":  # after 0-3 bases that are not adapter
                lead_text = "".join(rng.choice("ACGT") for _ in range(rng.randint(0, 3))) + adapter
                trail_text = "".join(rng.choice("ACGT") for _ in range(rng.randint(0, 3))) + adapter
                outward = lead_text.translate(str.maketrans("ACGT", "TGCA"))
                seq = outward[:lead][::-1] + seq[lead:length - trail] + trail_text[:trail]
        elif kind == "tiny":  # HISAT2's 1M6500N85M14S: a few bases spliced to a chance match
            lead, trail = rng.choice(clips), rng.choice(clips)
            left_block, right_block = rng.choice([0, 1, TINY_BLOCK, TINY_BLOCK + 1]), rng.choice([0, 1, TINY_BLOCK, 7])
            middle = max(20, length - lead - trail - left_block - right_block)
            cigar = (([(4, lead)] if lead else []) + ([(0, left_block), (3, 700)] if left_block else [])
                     + [(0, middle)] + ([(3, 900), (0, right_block)] if right_block else [(3, 900), (0, 2), (2, 1), (0, 3)])
                     + ([(4, trail)] if trail else []))
            seq = "".join(rng.choice("ACGT") for _ in range(sum(n for op, n in cigar if op in (0, 1, 4))))
        elif kind == "hard":
            cigar = [(5, 30), (0, length - 30)]
            seq = seq[30:]
        elif kind == "unmapped":  # placed at its mate, with or without its bases
            cigar, seq = None, rng.choice([seq, None])
        else:
            cigar = [(0, length)]
        rec = pysam.AlignedSegment(header)
        rec.query_name = f"q{i}"
        rec.reference_id, rec.reference_start, rec.cigartuples = 0, pos, cigar
        rec.query_sequence = seq
        end = rec.reference_end or pos + 1
        rec.flag = (0x1 | (0x4 if kind == "unmapped" else 0) | rng.choice([0, 0x10]) | rng.choice([0, 0x20])
                    | rng.choice([0, 0, 0, 0x8]) | rng.choice([0, 0, 0, 0, 0x800, 0x100, 0x400, 0x200]))
        rec.mapping_quality = rng.choice([params.min_mapq - 1, params.min_mapq, 60])
        rec.next_reference_id = rng.choice([0, 0, 0, 1])
        rec.next_reference_start = max(0, rng.choice([pos - 1, pos, end - 1, end, end + 1, locus.start - 1,
                                                      locus.start, locus.end - 1, locus.end]))
        if kind in ("sa", "hard") or rng.random() < 0.05:
            rec.set_tag("SA", "chrB,100,+,30S70M,60,0;")
        records.append(rec)
    path = _sorted_bam(tmp_path / "boundaries.bam", header, records)
    return path, annotation, locus, len(records)


BOUNDARY_PARAMS = [CallParameters(min_mapq=10, min_clip_match=20), CallParameters(min_mapq=10, min_clip_match=12),
                   CallParameters(min_mapq=10, min_clip_match=4)]


@pytest.mark.parametrize("params", BOUNDARY_PARAMS)
def test_the_compiled_classification_agrees_with_the_definition_at_every_boundary(tmp_path, params, reader):
    path, _, locus, n_records = _boundary_bam(tmp_path, params)
    with pysam.AlignmentFile(str(path)) as bam:
        seen, looked = check_against_the_definition(bam, locus, params)
    assert seen == n_records - 1 and 0 < looked < seen


@pytest.mark.parametrize("params", BOUNDARY_PARAMS)
def test_boundary_records_give_the_same_evidence_both_ways(tmp_path, params, reader):
    """The records the classification passes over are those examine() takes nothing from."""
    path, annotation, _, _ = _boundary_bam(tmp_path, params)
    bulk, single, _ = _evidence_both_ways(path, annotation, ["GENEA"], params)
    assert bulk == single
    assert bulk.clipped_reads and bulk.split_reads and bulk.discordant_reads and bulk.unmapped_reads


def test_the_adapters_are_as_wide_as_the_compiled_test_reads_them():
    """_bamwalk.c compares ADAPTER_WIDTH (12) bases of each adapter and its complement."""
    from imtfusion.evidence import _ADAPTERS, ADAPTER_CODES

    assert {len(adapter) for adapter in _ADAPTERS} == {12}
    assert len(ADAPTER_CODES) == 2 * 12 * len(_ADAPTERS)
    assert "".join(scan.SEQ_CODES[c] for c in ADAPTER_CODES[:12]) == _ADAPTERS[0]


def test_the_compiled_classification_rejects_arrays_that_do_not_fit(diverse_bam):
    if scan._native is None:
        pytest.skip("the compiled reader is not built here (no C compiler at install time)")
    from imtfusion.evidence import ADAPTER_CODES

    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        _, batches = scan.scan_region(bam, "chrA", 0, 300_000)
        batch = next(iter(batches))
    settings = np.zeros(9, dtype=np.int64)
    marks, counts = np.empty(len(batch), dtype=np.uint8), np.zeros(5, dtype=np.int64)
    args = [batch.data, batch.offsets, batch.end, batch.summary, settings, ADAPTER_CODES, marks, counts]
    scan._native.classify(*args)
    for position, bad in [(2, batch.end[:-1]), (4, settings[:8]), (6, marks[:-1]), (7, counts[:4])]:
        with pytest.raises(ValueError, match="shorter"):
            scan._native.classify(*[bad if k == position else a for k, a in enumerate(args)])
    offsets = batch.offsets.copy()
    offsets[-1] = len(batch.data) - 10
    with pytest.raises(ValueError, match="outside the data"):
        scan._native.classify(*[offsets if k == 1 else a for k, a in enumerate(args)])
    offsets[-1] = -1
    with pytest.raises(ValueError, match="outside the data"):
        scan._native.classify(*[offsets if k == 1 else a for k, a in enumerate(args)])


def test_record_names_find_every_record_of_a_name(diverse_bam, tmp_path):
    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        reads = list(bam.fetch("chrA", 99_000, 105_000))
    name = reads[len(reads) // 2].query_name
    from imtfusion.evidence import RecordNames

    keys = np.asarray([scan.name_key(r.query_name) for r in reads], dtype=np.uint64)
    names = RecordNames("chrA", 99_000, 105_000, keys, np.asarray([r.reference_start for r in reads]))
    wanted = np.asarray([scan.name_key(name)], dtype=np.uint64)
    assert set(names.positions_of(wanted).tolist()) >= {r.reference_start for r in reads if r.query_name == name}


def test_a_damaged_bam_is_still_an_error_naming_the_file(diverse_bam, tmp_path):
    cut = tmp_path / "cut.bam"
    data = bytearray(diverse_bam.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 300] = bytes(300)  # a damaged stretch; the end-of-file block stays
    cut.write_bytes(bytes(data))
    (tmp_path / "cut.bam.bai").write_bytes(Path(str(diverse_bam) + ".bai").read_bytes())
    annotation_rows = 'chrA\tt\tgene\t1\t300000\t.\t+\t.\tgene_id "G.1"; gene_name "G"; gene_type "protein_coding";\n'
    annotation_rows += ('chrA\tt\texon\t1\t300000\t.\t+\t.\tgene_id "G.1"; gene_name "G"; gene_type "protein_coding"; '
                        'transcript_id "GT"; exon_number "1";\n')
    (tmp_path / "g.gtf").write_text(annotation_rows)
    annotation = load_annotation(tmp_path / "g.gtf")
    bam, info = open_alignment(cut)
    try:
        loci = resolve_targets(annotation, ["G"], 0, ContigMap.build(annotation.contigs, info.contig_lengths), str(cut))
        with pytest.raises(AlignmentFileError, match="cut.bam"):
            collect_evidence(bam, loci, CallParameters())
    finally:
        with contextlib.suppress(OSError):  # htslib reports the damage again on closing
            bam.close()


@pytest.mark.parametrize("sample", ["IMT01", "IMT03"])
def test_supporting_reads_found_from_the_name_index_equal_a_full_reread(sample):
    """collect_support with the loci's name keys (no re-read of the loci) gives the same
    records as reading every region again."""
    from imtfusion.evidence import EvidenceSource
    from imtfusion.evidence_bam import collect_support
    from imtfusion.pipeline import run_sample

    result = run_sample(DEMO / "bam" / f"{sample}.bam", DEMO / "annotation.gtf", sample, fasta=DEMO / "genome.fa")
    assert result.called
    bam, _ = open_alignment(DEMO / "bam" / f"{sample}.bam")
    try:
        params = CallParameters()
        evidence = collect_evidence(bam, result.loci, params)
        assert evidence.record_names
        source = EvidenceSource(bam, params)
        indexed = [r.to_string() for r in collect_support(source, result.loci, result.called, evidence.record_names)]
        reread = [r.to_string() for r in collect_support(source, result.loci, result.called, None)]
    finally:
        bam.close()
    assert indexed == reread
    assert indexed == [r.to_string() for r in result.evidence_records]
    assert len(indexed) > 10


def test_name_keys_tell_apart_names_sharing_their_ends():
    # equal keys for equal names; names differing anywhere in the last 8 bytes or in length differ
    names = ["A:1:1101:1000:2000", "B:1:1101:1000:2000", "A:1:1101:1000:2001", "r1", "r10", "", "x" * 40]
    keys = [scan.name_key(n) for n in names]
    assert keys[0] == scan.name_key("A:1:1101:1000:2000")
    assert keys[0] == keys[1]  # same last 8 bytes and length: the exact comparison decides
    assert len(set(keys[2:])) == len(keys[2:]) and keys[0] not in keys[2:]
    # umi-tools names end in the UMI, which a molecule's PCR copies share and other
    # molecules repeat: the 8 bytes before it tell them apart (a panel's evidence BAM
    # otherwise decoded every record of the loci whose name ended in a wanted UMI)
    umi = [scan.name_key(f"S1:{i:06d}_ACGTACGT") for i in range(1000)]
    assert len(set(umi)) == 1000


def test_a_cram_read_record_by_record_gives_the_calls_of_the_bam(tmp_path):
    """CRAM is not decoded in bulk: the pysam path must give the same result."""
    from imtfusion.pipeline import run_sample

    bam = DEMO / "bam" / "IMT03.bam"
    cram = tmp_path / "IMT03.cram"
    pysam.view("-C", "-T", str(DEMO / "genome.fa"), "-o", str(cram), str(bam), catch_stdout=False)
    pysam.index(str(cram))
    from_bam = run_sample(bam, DEMO / "annotation.gtf", "IMT03", fasta=DEMO / "genome.fa")
    from_cram = run_sample(cram, DEMO / "annotation.gtf", "IMT03", fasta=DEMO / "genome.fa")
    assert [(c.fusion, c.end5, c.end3, c.split_reads, c.discordant_pairs) for c in from_cram.called] == [
        (c.fusion, c.end5, c.end3, c.split_reads, c.discordant_pairs) for c in from_bam.called]
    assert from_cram.called
    for name, status in zip([s.target for s in from_bam.statuses], from_bam.statuses):
        other = next(s for s in from_cram.statuses if s.target == name)
        assert other.status == status.status
    assert [r.query_name for r in from_cram.evidence_records] == [r.query_name for r in from_bam.evidence_records]


def test_among_is_isin():
    rng = np.random.default_rng(8)
    for size, wanted_size in [(0, 3), (1000, 0), (50_000, 7), (50_000, 400)]:
        values = rng.integers(0, 5_000, size).astype(np.uint64)
        wanted = rng.integers(0, 5_000, wanted_size).astype(np.uint64)
        assert np.array_equal(scan.among(values, wanted), np.isin(values, wanted))


def test_pile_up_is_the_depth_by_hand(reader):
    rng = np.random.default_rng(8)
    start, end = 1_000, 3_000
    b_start = rng.integers(0, 4_000, 5_000)
    b_end = b_start + rng.integers(-5, 400, 5_000)  # some empty or inverted, some beyond the region
    diff = np.zeros(end - start + 1, dtype=np.int64)
    scan.pile_up(diff, start, end, b_start, b_end)
    depth = np.cumsum(diff[:-1])
    by_hand = np.zeros(end - start, dtype=np.int64)
    for s, e in zip(b_start.tolist(), b_end.tolist()):
        lo, hi = max(s, start), min(e, end)
        if hi > lo:
            by_hand[lo - start:hi - start] += 1
    assert np.array_equal(depth, by_hand)


@pytest.mark.parametrize("exons", [[], [(100_000, 101_500)], [(90_000, 91_000), (100_000, 101_500), (103_000, 104_200)],
                                   [(100_200, 100_201), (100_300, 100_400), (150_000, 300_000)]])
def test_gene_depth_from_the_cigars_or_the_columns_is_the_depth_by_hand(diverse_bam, exons):
    """Depth and the count of reads touching an exon, against pysam's blocks counted by hand."""
    if scan._native is None:
        pytest.skip("the compiled reader is not built here (no C compiler at install time)")
    start, end = 95_000, 110_000
    exon_starts = np.asarray([s for s, _ in exons], dtype=np.int64)
    exon_ends = np.asarray([e for _, e in exons], dtype=np.int64)
    rng = np.random.default_rng(3)
    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        _, batches = scan.scan_region(bam, "chrA", 90_000, 120_000, max_read=200_000)
        for batch in batches:
            selected = rng.random(len(batch)) < 0.7
            results = []
            # from the CIGARs, then (the operation columns written) from the columns
            for columns in (False, True):
                if columns:
                    assert len(batch.op_record) == int(batch.fixed["n_cigar"].sum())
                diff = np.zeros(end - start + 1, dtype=np.int64)
                results.append((scan.gene_depth(batch, selected, diff, start, end, exon_starts, exon_ends), diff))
            assert results[0][0] == results[1][0]
            assert np.array_equal(results[0][1], results[1][1])
            by_hand = np.zeros(end - start, dtype=np.int64)
            touching = 0
            for read in scan.materialize(bam, batch.raw(np.flatnonzero(selected))):
                blocks = read.get_blocks()
                for s, e in blocks:
                    by_hand[max(s, start) - start:max(min(e, end) - start, 0)] += 1 if min(e, end) > max(s, start) else 0
                touching += any(s < e_exon and e > s_exon for s, e in blocks for s_exon, e_exon in exons)
            assert np.array_equal(np.cumsum(results[0][1][:-1]), by_hand)
            assert results[0][0] == touching


def test_sorted_unique_is_np_unique():
    rng = np.random.default_rng(4)
    for n in (0, 1, 2, 50, 5_000):
        values = rng.integers(0, max(1, n // 3), n).astype(np.uint64)
        assert np.array_equal(scan.sorted_unique(values), np.unique(values))


def test_the_compiled_reader_survives_damaged_bytes(diverse_bam):
    """Random bytes changed in decompressed records: the walk stops with a ScanError or
    returns records whose fields fit, and reading their CIGARs, sorting the records and
    piling up their depth stay inside the data (a crash here would take the whole call
    down, not fall back to pysam)."""
    if scan._native is None:
        pytest.skip("the compiled reader is not built here (no C compiler at install time)")
    with pysam.AlignmentFile(str(diverse_bam)) as bam:
        first, batches = scan.scan_region(bam, "chrA", 0, 300_000)
        batch = next(iter(batches))
        data = bytes(batch.data[int(batch.offsets[0]):])
    from imtfusion.evidence import ADAPTER_CODES

    gene_start, gene_end = 100_000, 104_000
    settings = np.asarray([0, gene_start, gene_end, 90_000, 120_000, 1, 8, 5, 2], dtype=np.int64)
    exon_starts, exon_ends = np.asarray([100_000, 103_000], dtype=np.int64), np.asarray([101_500, 104_000], dtype=np.int64)
    rng = np.random.default_rng(12)
    errors = 0
    for _ in range(400):
        damaged = bytearray(data[:rng.integers(1, len(data))])
        for at in rng.integers(0, len(damaged), rng.integers(1, 6)):
            damaged[at] = int(rng.integers(0, 256))
        try:
            offsets, rest, ended, fixed, keys = scan._records(bytes(damaged), 0, 300_000)
        except scan.ScanError:
            errors += 1
            continue
        assert 0 <= rest <= len(damaged) and len(offsets) == len(fixed) == len(keys)
        _, ends, ops, summary = scan._columns(bytes(damaged), offsets, fixed)
        # and sorting them and piling up their depth stay inside the data and the arrays
        batch = scan.RecordBatch(bytes(damaged), offsets, fixed, ends, *ops, keys, summary)
        in_gene, look, counts = scan.classify(batch, settings, ADAPTER_CODES)
        assert len(in_gene) == len(look) == len(offsets) and counts.sum() <= 3 * len(offsets)
        diff = np.zeros(gene_end - gene_start + 1, dtype=np.int64)
        touched = scan.gene_depth(batch, in_gene, diff, gene_start, gene_end, exon_starts, exon_ends)
        assert 0 <= touched <= int(in_gene.sum())
        # (the operation columns, written only now: the depth was read from the CIGARs)
        assert len(ends) == len(offsets) and len(batch.op_record) == int(fixed["n_cigar"].sum())
    assert errors > 0
