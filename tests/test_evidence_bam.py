"""The evidence BAM: a call's supporting records kept as BAM bytes, tagged and written
without a pysam object each (imtfusion.evidence_bam, imtfusion.scan.write_bam), held to
what pysam's set_tag and htslib's writer give."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest

from imtfusion import scan
from imtfusion.evidence import FLAG_QCFAIL, FLAG_SECONDARY, EvidenceSource
from imtfusion.evidence_bam import _owners, _with_tags, write_evidence_bam

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"


def _aux_at(raw: bytes) -> int:
    _, _, l_name, _, _, n_cigar, _, l_seq, *_ = scan.RECORD_FIELDS.unpack_from(raw, 4)
    return 36 + l_name + 4 * n_cigar + (l_seq + 1) // 2 + l_seq


@pytest.mark.parametrize("sample", ["IMT01", "IMT03"])
def test_support_records_are_the_call_fragments_records_tagged_as_pysam_tags_them(sample):
    """The definition, record by record on pysam objects: every primary or supplementary
    record (not secondary, not QC-failed) of a supporting fragment in the regions read,
    once, tagged XI/XF/XE with set_tag, sorted by (contig, start, name, flag)."""
    from imtfusion.pipeline import run_sample

    result = run_sample(DEMO / "bam" / f"{sample}.bam", DEMO / "annotation.gtf", sample, fasta=DEMO / "genome.fa")
    assert result.called
    owners = _owners(result.called)
    with pysam.AlignmentFile(str(DEMO / "bam" / f"{sample}.bam")) as bam:
        expected, seen = [], set()
        for read in bam.fetch(until_eof=True):
            who = owners.get(read.query_name)
            if who is None or read.flag & (FLAG_SECONDARY | FLAG_QCFAIL) or read.is_unmapped:
                continue
            key = (read.query_name, read.flag, read.reference_id, read.reference_start, read.cigarstring)
            if key in seen:
                continue
            seen.add(key)
            read.set_tag("XI", ",".join(c.call_id for c, _ in who), "Z")
            read.set_tag("XF", ",".join(c.fusion for c, _ in who), "Z")
            read.set_tag("XE", who[0][1], "Z")
            expected.append(read)
        expected.sort(key=lambda r: (r.reference_id, r.reference_start, r.query_name, r.flag))
        got = scan.materialize(bam, result.evidence_records)
    # the demo's fragments lie in the regions read (the loci and the partner windows)
    assert [r.to_string() for r in got] == [r.to_string() for r in expected]
    assert len(got) > 10


def _record(header: pysam.AlignmentHeader, name: str, pos: int, seq: str, tags: list) -> pysam.AlignedSegment:
    read = pysam.AlignedSegment(header)
    read.query_name, read.reference_id, read.reference_start = name, 0, pos
    read.mapping_quality, read.cigarstring = 60, f"{len(seq)}M"
    read.query_sequence = seq
    read.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
    read.set_tags(tags)
    return read


def test_tags_a_record_already_has_are_replaced_as_set_tag_replaces_them(tmp_path):
    """An input BAM may carry XI/XF/XE of its own (an evidence BAM called again): the tag
    is taken out and the new one appended, the other fields (arrays too) kept."""
    header = pysam.AlignmentHeader.from_dict({"SQ": [{"SN": "chr1", "LN": 10_000}]})
    with pysam.AlignmentFile(str(tmp_path / "h.bam"), "wb", header=header) as out:
        pass
    read = _record(header, "r1", 100, "ACGTACGTAC",
                   [("NM", 1, "i"), ("XI", "OLD_F1", "Z"), ("ZB", [1, -2, 3], "s"), ("XE", "discordant", "Z"),
                    ("ZF", 1.5, "f"), ("XA", "chr1,+5,10M,0;", "Z")])
    plain = _record(header, "r2", 200, "ACGTACGTAC", [("NM", 0, "i")])
    with pysam.AlignmentFile(str(tmp_path / "h.bam")) as bam:
        raw, raw_plain = scan.encode(bam, [read, plain])
        tags = b"XIZS_F1\x00XFZA::B\x00XEZsplit\x00"
        got = scan.materialize(bam, [_with_tags(raw, _aux_at(raw), tags), _with_tags(raw_plain, _aux_at(raw_plain), tags)])
    for record in (read, plain):
        record.set_tag("XI", "S_F1", "Z")
        record.set_tag("XF", "A::B", "Z")
        record.set_tag("XE", "split", "Z")
    assert [r.to_string() for r in got] == [read.to_string(), plain.to_string()]
    assert [tag for tag, _ in got[0].get_tags()] == ["NM", "ZB", "ZF", "XA", "XI", "XF", "XE"]
    assert list(got[0].get_tag("ZB")) == [1, -2, 3] and got[0].get_tag("XI") == "S_F1"


def test_the_evidence_bam_written_from_bytes_reads_back_and_is_indexed(tmp_path):
    """Records (one longer than a BGZF block) written by scan.write_bam: htslib reads them
    back as written, indexes the file and fetches a region through the index."""
    header = {"HD": {"VN": "1.6"}, "SQ": [{"SN": "chr1", "LN": 200_000}, {"SN": "chr2", "LN": 5000}],
              "RG": [{"ID": "g1", "SM": "S"}]}
    h = pysam.AlignmentHeader.from_dict(header)
    with pysam.AlignmentFile(str(tmp_path / "t.bam"), "wb", header=h):
        pass
    records = [_record(h, f"r{i:04d}", 50 * i, "ACGT" * 25, [("RG", "g1", "Z")]) for i in range(3000)]
    records.insert(1500, _record(h, "long", 75_000, "ACGTTGCA" * 9000, [("RG", "g1", "Z")]))
    with pysam.AlignmentFile(str(tmp_path / "t.bam")) as bam:
        raw = scan.encode(bam, records)
    out = tmp_path / "e.bam"
    write_evidence_bam(raw, header, out, "imtfusion call --test")
    assert out.read_bytes()[-28:] == scan.BGZF_EOF
    with pysam.AlignmentFile(str(out)) as ev:
        assert ev.header.to_dict()["PG"][-1]["CL"] == "imtfusion call --test"
        assert ev.header.to_dict()["HD"]["SO"] == "coordinate"
        assert [r.to_string() for r in ev.fetch(until_eof=True)] == [r.to_string() for r in records]
        # through the index as through htslib's own file of the same records
        with pysam.AlignmentFile(str(tmp_path / "ref.bam"), "wb", header=h) as ref:
            for r in records:
                ref.write(r)
        pysam.index(str(tmp_path / "ref.bam"))
        with pysam.AlignmentFile(str(tmp_path / "ref.bam")) as ref:
            for start in (0, 74_990, 100_000, 140_000, 147_100, 149_999):
                assert [r.query_name for r in ev.fetch("chr1", start, start + 10)] == [
                    r.query_name for r in ref.fetch("chr1", start, start + 10)]
        assert [r.query_name for r in ev.fetch("chr1", 100_000, 100_010)] == ["long", "r1999", "r2000"]
        assert list(ev.fetch("chr2")) == []
    assert Path(str(out) + ".bai").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.bam", "e.bam.bai", "ref.bam", "ref.bam.bai", "t.bam"]


def test_records_named_are_the_same_bytes_read_in_bulk_or_by_pysam(monkeypatch):
    """Without the compiled reader (or for CRAM) the records come from pysam and htslib
    writes their bytes: the same bytes as the bulk path's."""
    from imtfusion.pipeline import run_sample

    sample = "IMT01"
    result = run_sample(DEMO / "bam" / f"{sample}.bam", DEMO / "annotation.gtf", sample, fasta=DEMO / "genome.fa")
    source, _ = EvidenceSource.open(DEMO / "bam" / f"{sample}.bam")
    try:
        names = set(_owners(result.called))
        import numpy as np

        wanted = np.asarray(sorted({scan.name_key(n) for n in names}), dtype=np.uint64)
        regions = [(locus.chrom, locus.start, locus.end) for locus in result.loci]
        bulk = source.records_named(regions, wanted, names)
        monkeypatch.setattr(scan, "_native", None)
        single = source.records_named(regions, wanted, names)
    finally:
        source.close()
    assert bulk == single
    assert len(bulk) > 10 and {scan.record_name(r) for r in bulk} <= names
