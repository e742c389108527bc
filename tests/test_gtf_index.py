"""The GTF streamed into the annotation database: what it keeps, in how much memory, and
the genome-wide exon-boundary index built from it."""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from imtfusion import annotation as annotation_module
from imtfusion.annotation import load_annotation, read_gtf, write_database
from imtfusion.boundaries import K, BoundaryIndex, encode

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"


def _line(chrom, feature, start, end, strand, attrs, phase="."):
    return f"{chrom}\tsrc\t{feature}\t{start}\t{end}\t.\t{strand}\t{phase}\t{attrs}\n"


def _attrs(gene, tid=None, extra=""):
    text = f'gene_id "{gene}.1"; gene_name "{gene}"; gene_type "protein_coding";'
    if tid:
        text += f' transcript_id "{tid}";'
    return text + extra


def test_transcripts_without_lines_out_of_order_exons_and_widened_extents(tmp_path):
    """A transcript without a transcript line takes its fields from its first exon line
    and spans its exons; a transcript line narrower than its exons is widened; exons
    and CDS come back in transcript order whatever the order of the lines; a transcript
    line after its exons gives the transcript's fields."""
    lines = [
        _line("chr1", "gene", 1000, 9000, "+", _attrs("AAA")),
        # T1: transcript line says 2000-5000, an exon reaches 1500 and one 6000
        _line("chr1", "transcript", 2000, 5000, "+", _attrs("AAA", "T1", ' tag "basic"; transcript_type "lncRNA";')),
        _line("chr1", "exon", 4001, 6000, "+", _attrs("AAA", "T1", ' exon_number "2";')),
        _line("chr1", "exon", 1500, 2500, "+", _attrs("AAA", "T1", ' exon_number "1";')),
        _line("chr1", "CDS", 4001, 4500, "+", _attrs("AAA", "T1"), phase="2"),
        _line("chr1", "CDS", 2000, 2500, "+", _attrs("AAA", "T1"), phase="0"),
        # T2: exons only (no transcript line), minus strand, tags from its first exon
        _line("chr3", "exon", 700, 800, "-", _attrs("BBB", "T2", ' tag "Ensembl_canonical";')),
        _line("chr3", "exon", 100, 200, "-", _attrs("BBB", "T2")),
        _line("chr3", "exon", 400, 500, "-", _attrs("BBB", "T2")),
        # T3: exons first, then its transcript line (whose fields win)
        _line("chr1", "exon", 7001, 7100, "+", _attrs("AAA", "T3")),
        _line("chr1", "transcript", 7001, 7100, "+", _attrs("AAA", "T3", ' transcript_type "retained_intron";')),
    ]
    gtf = tmp_path / "g.gtf"
    gtf.write_text("".join(lines))
    gz = tmp_path / "g.gtf.gz"
    gz.write_bytes(gzip.compress(gtf.read_bytes()))
    idx = tmp_path / "g.idx"
    write_database(gtf, idx)
    for ann in (read_gtf(gtf), read_gtf(gz), load_annotation(idx)):
        t1 = ann.transcript("T1")
        assert t1.exons == ((1499, 2500), (4000, 6000))
        assert t1.cds == ((1999, 2500, 0), (4000, 4500, 2))
        assert (t1.transcript_type, t1.tags) == ("lncRNA", ("basic",))
        t2 = ann.transcript("T2")
        assert t2.exons == ((699, 800), (399, 500), (99, 200))  # minus strand: 5' exon first
        assert (t2.gene_id, t2.strand, t2.tags, t2.transcript_type) == ("BBB.1", "-", ("Ensembl_canonical",),
                                                                         "protein_coding")
        assert ann.transcript("T3").transcript_type == "retained_intron"
        assert [t.transcript_id for t in ann.transcripts_of("AAA.1")] == ["T1", "T3"]
        assert ann.canonical_transcript("BBB.1").transcript_id == "T2"
        bbb = ann.find_gene("BBB")  # no gene line: spans its exons
        assert (bbb.chrom, bbb.start, bbb.end) == ("chr3", 99, 800)
        assert ann.n_transcripts() == 3
    db = sqlite3.connect(str(idx))
    assert db.execute("SELECT start, end FROM transcripts WHERE transcript_id = 'T1'").fetchone() == (1499, 6000)
    assert db.execute("SELECT start, end FROM transcripts WHERE transcript_id = 'T2'").fetchone() == (99, 800)


def _write_gtf(path: Path, n_transcripts: int, exons_per_transcript: int) -> int:
    with open(path, "w") as fh:
        for t in range(n_transcripts):
            gene, tid, base = f"G{t}", f"ENST{t:08d}", 1 + t * 100_000
            fh.write(_line("chr1", "gene", base, base + 20 * exons_per_transcript + 10, "+", _attrs(gene)))
            fh.write(_line("chr1", "transcript", base, base + 20 * exons_per_transcript + 10, "+", _attrs(gene, tid)))
            for e in range(exons_per_transcript):
                fh.write(_line("chr1", "exon", base + 20 * e, base + 20 * e + 9, "+",
                               _attrs(gene, tid, f' exon_number "{e + 1}";')))
                fh.write(_line("chr1", "CDS", base + 20 * e, base + 20 * e + 9, "+", _attrs(gene, tid), phase="0"))
    return n_transcripts * exons_per_transcript


def _peak_traced_bytes(gtf: Path, out: Path) -> int:
    tracemalloc.start()
    try:
        write_database(gtf, out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_indexing_does_not_hold_the_gtfs_exons_in_memory(tmp_path, monkeypatch):
    """Python's peak memory while indexing a GTF with 5 times more exon and CDS lines
    (the same genes and transcripts) grows by less than the size of a few hundred rows:
    the lines go to the database a batch at a time. Holding the 48,000 extra rows would
    take several MB. (Both GTFs are over 1 MB, the block the checksum reads at a time.)"""
    monkeypatch.setattr(annotation_module, "_BATCH", 200)
    small, large = tmp_path / "small.gtf", tmp_path / "large.gtf"
    assert _write_gtf(small, 300, 20) == 6_000
    assert _write_gtf(large, 300, 100) == 30_000
    peak_small = _peak_traced_bytes(small, tmp_path / "small.idx")
    peak_large = _peak_traced_bytes(large, tmp_path / "large.idx")
    assert peak_large - peak_small < 400_000, (peak_small, peak_large)
    ann = load_annotation(tmp_path / "large.idx")
    assert len(ann.transcript("ENST00000299").exons) == 100  # and nothing was lost


def _brute_force_boundaries(ann, fetch):
    """Every internal exon boundary of every transcript of every gene, with its key,
    straight from the transcript models."""
    expected = set()
    for gene_id in ann.genes["gene_id"]:
        for t in ann.transcripts_of(gene_id):
            ordered = sorted(t.exons)
            for i, (s, e) in enumerate(ordered):
                if i > 0:
                    expected.add((t.chrom, s, "R", gene_id, fetch(t.chrom, s, s + K).upper()))
                if i < len(ordered) - 1:
                    expected.add((t.chrom, e - 1, "L", gene_id, fetch(t.chrom, e - K, e).upper()[::-1]))
    return expected


@pytest.mark.parametrize("chunk", [7, 20_000])
def test_boundary_index_holds_every_internal_exon_boundary_once(chunk):
    import pysam

    ann = read_gtf(DEMO / "annotation.gtf")
    fasta = pysam.FastaFile(str(DEMO / "genome.fa"))

    def fetch(chrom, start, end):
        return fasta.fetch(chrom, max(0, start), end)

    index = BoundaryIndex.build(ann, fetch, chunk=chunk)
    expected = _brute_force_boundaries(ann, fetch)
    usable = {row for row in expected if len(row[4]) == K and set(row[4]) <= set("ACGT")}
    assert len(usable) > 400
    got = set()
    for i in range(len(index)):
        got.add((str(index.chrom_names[index.chroms[i]]), int(index.positions[i]), "L" if index.left[i] else "R",
                 str(index.gene_names[index.genes[i]]), int(index.keys[i])))
    assert got == {(c, p, s, g, int(encode([kmer])[0][0])) for c, p, s, g, kmer in usable}
    assert len(got) == len(index)  # each once
    c, p, s, g, kmer = min(usable)
    assert (c, p, s, g) in index.lookup(kmer)


def test_a_failed_index_run_keeps_the_earlier_index(tmp_path):
    """A GTF that breaks half-way through leaves no partial index and does not replace
    a good one."""
    good = DEMO / "annotation.gtf"
    idx = tmp_path / "ann.idx"
    cmd = [sys.executable, "-m", "imtfusion.cli", "index-gtf", "--gtf"]
    assert subprocess.run([*cmd, str(good), "--output", str(idx)], capture_output=True).returncode == 0
    before = idx.read_bytes()
    bad = tmp_path / "bad.gtf"
    text = good.read_text().splitlines(keepends=True)
    bad.write_text("".join(text[:200]) + "chr2\tsrc\texon\tten\t20\t.\t+\t.\tgene_id \"X\";\n" + "".join(text[200:]))
    proc = subprocess.run([*cmd, str(bad), "--output", str(idx)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "line 201" in proc.stderr and "Traceback" not in proc.stderr
    assert idx.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ann.idx", "bad.gtf"]


def test_one_pass_reads_of_the_genome_do_not_fill_the_window_cache():
    """The boundary index reads every exon boundary's bases once: with remember=False
    they bypass the cache that clip placement relies on (up to 100,000 windows)."""
    import pysam

    from imtfusion.reference import Reference

    fai = pysam.FastaFile(str(DEMO / "genome.fa"))
    lengths = dict(zip(fai.references, fai.lengths))
    ref = Reference(DEMO / "genome.fa", lengths)
    chrom = next(iter(lengths))
    assert ref.fetch(chrom, 100, 120, remember=False) == fai.fetch(chrom, 100, 120).upper()
    assert ref._cache == {}
    assert ref.fetch(chrom, 100, 120) == fai.fetch(chrom, 100, 120).upper()
    assert list(ref._cache) == [(chrom, 100, 120)]


def _blob_db():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE blobs (key TEXT PRIMARY KEY, value BLOB)")
    return db


def test_stored_indexes_round_trip_and_earlier_blobs_still_load():
    import pickle

    import numpy as np

    from imtfusion.annotation import _read_blob, _write_blob

    value = {"keys": np.arange(300_000, dtype=np.uint64) * 7, "names": np.array(["chr1", "chrX"]),
             "left": np.zeros(5, dtype=bool), "note": ("text", 3), "empty": np.zeros(0, dtype=np.int32)}
    db = _blob_db()
    _write_blob(db, "k", value)
    back = _read_blob(db, "k")
    assert back.keys() == value.keys() and back["note"] == ("text", 3)
    for name in ("keys", "names", "left", "empty"):
        assert back[name].dtype == value[name].dtype and np.array_equal(back[name], value[name])
    assert _read_blob(db, "missing") is None
    db.execute("INSERT INTO blobs VALUES ('old', ?)", (pickle.dumps(value, protocol=4),))  # an earlier index
    assert np.array_equal(_read_blob(db, "old")["keys"], value["keys"])


def test_a_stored_index_is_loaded_with_its_arrays_held_once():
    """Loading a stored index holds its arrays' bytes once (plus a chunk), where reading
    the blob and unpickling it held them twice: on the largest annotation that is 84 MB,
    the difference between a call within 300 MB and one above it."""
    import numpy as np

    from imtfusion.annotation import _read_blob, _write_blob

    payload = np.arange(2_000_000, dtype=np.uint64)  # 16 MB
    db = _blob_db()
    _write_blob(db, "k", {"keys": payload})
    tracemalloc.start()
    try:
        back = _read_blob(db, "k")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(back["keys"], payload)
    assert peak < 1.2 * payload.nbytes, peak


def test_a_damaged_stored_index_is_reported(tmp_path):
    from imtfusion.annotation import AnnotationError, store_derived

    idx = tmp_path / "ann.idx"
    write_database(DEMO / "annotation.gtf", idx)
    store_derived(idx, {("boundaries", "x"): {"a": __import__("numpy").arange(1000)}})
    with sqlite3.connect(str(idx)) as db:  # cut the blob short
        db.execute("UPDATE blobs SET value = substr(value, 1, 100)")
    ann = load_annotation(idx)
    with pytest.raises(AnnotationError, match="damaged; rerun `imtfusion index-gtf`"):
        ann.cached(("boundaries", "x"))


def test_features_starting_before_their_contig_are_skipped_with_one_note(tmp_path):
    # a published minigenome annotation has features like -47208..445: skip those, keep the rest
    gtf = tmp_path / "mini.gtf"
    lines = [
        _line("chr1", "gene", 1000, 5000, "+", _attrs("KEEP")),
        _line("chr1", "transcript", 1000, 5000, "+", _attrs("KEEP", "T1")),
        _line("chr1", "exon", 1000, 1200, "+", _attrs("KEEP", "T1")),
        _line("chr1", "exon", 4000, 5000, "+", _attrs("KEEP", "T1")),
        _line("chr1", "gene", -47208, 445, "-", _attrs("EDGE")),
        _line("chr1", "transcript", -47208, 445, "-", _attrs("EDGE", "T2")),
        _line("chr1", "exon", -47208, 445, "-", _attrs("EDGE", "T2")),
    ]
    gtf.write_text("".join(lines))
    ann = read_gtf(gtf)
    assert [g for g in ann.genes["gene_name"]] == ["KEEP"]
    [note] = ann.notes
    assert "3 feature(s) that start before their contig were skipped" in note and "line 5 (chr1:-47208-445, gene)" in note
    out = tmp_path / "mini.idx"
    proc = subprocess.run([sys.executable, "-m", "imtfusion.cli", "index-gtf", "--gtf", str(gtf), "--output", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "warning: " in proc.stderr and "skipped" in proc.stderr
    assert load_annotation(out).notes == [note]


def test_an_empty_interval_is_still_a_broken_gtf(tmp_path):
    from imtfusion.errors import AnnotationError

    gtf = tmp_path / "broken.gtf"
    gtf.write_text(_line("chr1", "exon", 500, 400, "+", _attrs("BAD", "T1")))
    with pytest.raises(AnnotationError, match="line 1 has an empty or negative interval 500-400"):
        read_gtf(gtf)
