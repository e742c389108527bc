"""Fast paths beside their one definition: each gives the definition's results.

The BAM's records are classified (counts, depth, the records that may carry evidence) by
the record-by-record code on pysam objects in imtfusion.evidence: the definition, and
what runs where the compiled extension is not built. The compiled walk of imtfusion.scan
is the one fast path beside it."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pysam
import pytest

from imtfusion import scan
from imtfusion.annotation import load_annotation
from imtfusion.bamio import open_alignment
from imtfusion.boundaries import K, encode, encode_all
from imtfusion.params import CallParameters
from imtfusion.scan import sorted_unique
from imtfusion.targets import ContigMap, resolve_targets
from imtfusion.unmapped import FIND_LOOKUPS, TargetTranscripts, _Spliced
from test_scan import DIVERSE_PARAMS, _diverse_annotation, check_against_the_definition, random_bam

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
DEMO_BAMS = {**{f"IMT0{i}": DEMO / "bam" / f"IMT0{i}.bam" for i in range(1, 7)},
             "IMT07": DEMO / "panel" / "IMT07.bam", "IMT08": DEMO / "panel" / "IMT08.bam"}


def test_encode_all_is_encode_of_every_kmer():
    rng = random.Random(7)
    for trial in range(300):
        letters = "ACGTN" if trial % 3 == 0 else "ACGT"
        seq = "".join(rng.choice(letters) for _ in range(rng.randint(0, 200)))
        kmers = [seq[o:o + K] for o in range(len(seq) - K + 1)]
        values, ok = encode(kmers)
        assert np.array_equal(encode_all(seq), values[ok])


def test_the_kmer_codes_of_the_target_transcripts_are_those_of_their_kmer_index():
    rng = random.Random(11)
    index = TargetTranscripts([], None, lambda *a: "")  # type: ignore[arg-type]
    for n in (5, 19, 20, 21, 400, 1500):
        seq = "".join(rng.choice("ACGTN" if n == 400 else "ACGT") for _ in range(n))
        index.spliced.append(_Spliced(None, "chr1", seq, tuple(range(n)), frozenset(), frozenset()))
    kmers = {t.sequence[o:o + K] for t in index.spliced for o in range(len(t.sequence) - K + 1)}
    values, ok = encode(sorted(kmers))
    assert np.array_equal(index.kmer_codes(), sorted_unique(values[ok]))
    # the index lists every place of a K-mer without an N, in transcript and offset order
    places = [(i, o) for i, t in enumerate(index.spliced) for o in range(len(t.sequence) - K + 1)
              if "N" not in t.sequence[o:o + K]]
    assert sorted(p for k in kmers for p in index.index.places(k)) == places
    assert all(list(index.index.places(k)) == sorted(index.index.places(k)) for k in kmers)


def test_kmer_places_found_by_search_are_those_of_the_index():
    rng = random.Random(5)
    index = TargetTranscripts([], None, lambda *a: "")  # type: ignore[arg-type]
    for n in (30, 400, 2000):
        # repeats, so a K-mer has several places, some overlapping
        unit = "".join(rng.choice("ACGT") for _ in range(7))
        seq = "".join(rng.choice(("ACGT", unit * 4)) if rng.random() < 0.1 else rng.choice("ACGTN") for _ in range(n))
        index.spliced.append(_Spliced(None, "chr1", seq, tuple(range(len(seq))), frozenset(), frozenset()))
    asked = [t.sequence[o:o + K] for t in index.spliced for o in range(0, len(t.sequence) - K + 1, 3)]
    asked += ["".join(rng.choice("ACGT") for _ in range(K)) for _ in range(50)]
    searched = [index.places(k) for k in asked]  # the first FIND_LOOKUPS by search, then by the index
    expected = TargetTranscripts([], None, lambda *a: "")  # type: ignore[arg-type]
    expected.spliced = index.spliced
    assert len(asked) > FIND_LOOKUPS and searched == [expected.index.places(k) for k in asked]
    by_hand = [[(i, o) for i, t in enumerate(index.spliced) for o in range(len(t.sequence) - K + 1)
                if t.sequence[o:o + K] == k] if "N" not in k else [] for k in asked]
    assert [list(p) for p in searched] == by_hand


# ----------------------------------------------------------------------------------
# record classification: the compiled walk (imtfusion.scan, the fast path) against the
# record-by-record code on pysam objects (imtfusion.evidence, the definition)
# ----------------------------------------------------------------------------------

@pytest.fixture
def compiled():
    if scan._native is None:
        pytest.skip("the compiled reader is not built here (no C compiler at install time)")


@pytest.mark.parametrize("sample", sorted(DEMO_BAMS))
def test_the_fast_path_classifies_the_demo_loci_as_the_definition(sample, compiled):
    annotation = load_annotation(DEMO / "annotation.gtf")
    params = CallParameters()
    bam, info = open_alignment(DEMO_BAMS[sample])
    compared = chosen = 0
    try:
        contigs = ContigMap.build(annotation.contigs, info.contig_lengths)
        targets = ["ALK", "ROS1", "ETV6", "NTRK3", "NTRK1", "ACTB"]  # the kinases, and a housekeeping gene
        for locus in resolve_targets(annotation, targets, params.margin, contigs, str(DEMO_BAMS[sample])):
            for max_read in (40_000, scan.MAX_READ_BYTES):
                n, c = check_against_the_definition(bam, locus, params, max_read)
                compared, chosen = compared + n, chosen + c
    finally:
        bam.close()
    assert compared > 500 and 0 < chosen < compared


@pytest.mark.parametrize("seed", [12, 13])
def test_the_fast_path_classifies_more_diverse_records_as_the_definition(tmp_path, seed, compiled):
    path = random_bam(tmp_path / f"diverse{seed}.bam", seed=seed, n=4000)
    annotation = _diverse_annotation(tmp_path)
    with pysam.AlignmentFile(str(path)) as bam:
        contigs = ContigMap.build(annotation.contigs, dict(zip(bam.references, bam.lengths)))
        for params in DIVERSE_PARAMS:
            for locus in resolve_targets(annotation, ["GENEA", "GENEB", "GENEC"], params.margin, contigs, str(path)):
                check_against_the_definition(bam, locus, params, 25_000)


def _outputs(folder: Path) -> dict[str, bytes]:
    """Every file a call wrote, its dates masked."""
    date = re.compile(rb"20\d\d-\d\d-\d\d \d\d:\d\d( UTC)?")
    return {p.name: date.sub(b"DATE", p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("sample, extra", [("IMT01", []), ("IMT04", []), ("IMT06", ["--targets", "imt-extended"]),
                                           ("IMT07", ["--primers", str(DEMO / "panel" / "IMT07.primers.bed")]),
                                           ("IMT08", [])])
def test_a_call_writes_the_same_files_with_the_fast_path_or_with_pysam_alone(sample, extra, tmp_path, monkeypatch,
                                                                             compiled):
    """Where the extension is not built, pysam reads the loci record by record (the
    definition): every output file is the same."""
    from imtfusion.cli import main

    args = ["call", "--bam", str(DEMO_BAMS[sample]), "--gtf", str(DEMO / "annotation.gtf"), "--fasta",
            str(DEMO / "genome.fa"), "--sample", sample, "--outdir", str(tmp_path / "out"), *extra]
    assert main(args) == 0
    fast = _outputs(tmp_path / "out")
    monkeypatch.setattr(scan, "_native", None)
    assert scan.reader_kind() == "pysam"
    assert main(args) == 0
    assert _outputs(tmp_path / "out") == fast
    assert len(fast) == 9


def test_insert_sizes_stop_at_the_same_pair_in_bulk_and_record_by_record(tmp_path, compiled):
    """A deep locus has more pairs than the median insert needs (MAX_INSERT_PAIRS): both
    ways count the first ones in file order, whatever the batches (the bulk path counted
    its whole last batch)."""
    from imtfusion.evidence import MAX_INSERT_PAIRS, collect_evidence

    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                              "SQ": [{"SN": c, "LN": n} for c, n in (("chrA", 300_000), ("chrB", 200_000), ("chrC", 5_000))]})
    rng = random.Random(3)
    records = []
    for i in range(MAX_INSERT_PAIRS + 3_000):
        pos = rng.randint(100_000, 100_900)
        size = rng.randint(120, 1_500 - (pos - 100_000))
        for first in (True, False):
            rec = pysam.AlignedSegment(header)
            rec.query_name = f"p{i}"
            rec.flag = 0x1 | 0x2 | (0x40 | 0x20 if first else 0x80 | 0x10)
            rec.reference_id = rec.next_reference_id = 0
            rec.reference_start = pos if first else pos + size - 60
            rec.next_reference_start = pos + size - 60 if first else pos
            rec.template_length = size if first else -size
            rec.mapping_quality, rec.cigartuples = 60, [(0, 60)]
            rec.query_sequence = "ACGTTGCAAC" * 6
            records.append(rec)
    from test_scan import _sorted_bam

    path = _sorted_bam(tmp_path / "pairs.bam", header, records)
    annotation = _diverse_annotation(tmp_path)
    params = CallParameters()
    bam, info = open_alignment(path)
    try:
        contigs = ContigMap.build(annotation.contigs, info.contig_lengths)
        loci = resolve_targets(annotation, ["GENEA"], params.margin, contigs, str(path))
        bulk = collect_evidence(bam, loci, params, columnar=True)
        single = collect_evidence(bam, loci, params, columnar=False)
    finally:
        bam.close()
    assert sum(n for _, n in bulk.qc["GENEA"].library.insert_sizes) == MAX_INSERT_PAIRS
    assert bulk == single
