"""Machine-readable outputs: VCF breakends, typed JSON (with its schema), MultiQC table.

One toy BAM (genome and genes of ``test_calling``) holds four fusions that between them
need every breakend ALT form of VCF 4.3:

* PARTP::ALK   PARTP + (side L) -> ALK - (side L): ``t]p]`` on both records
* PARTP::ETV6  PARTP + (side L) -> ETV6 + (side R): ``t[p[`` and ``]p]t``
* PART1::ALK   PART1 - (side R) -> ALK - (side L): ``]p]t`` and ``t[p[``
* PART1::ETV6  PART1 - (side R) -> ETV6 + (side R): ``[p[t`` on both records
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pysam
import pytest
import yaml

from imtfusion.jsonout import SCHEMA_VERSION, load_schema, render_json
from imtfusion.model import Breakend
from imtfusion.multiqc import COUNT_COLUMN, render_multiqc
from imtfusion.pipeline import run_sample, write_sample_outputs
from imtfusion.summary import SummaryRow, summarize
from imtfusion.vcf import breakend_alt, encode_info, render_vcf
from test_calling import PARTP_ALK_READ, TARGETS, add_background, flip, make_toy

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
BCFTOOLS = shutil.which("bcftools")
needs_bcftools = pytest.mark.skipif(BCFTOOLS is None, reason="bcftools (Debian package bcftools) is not on PATH")

# junction read parts (chrom, start, strand, length) of the single-end fusions
SINGLE_END = {
    "PARTP::ETV6": [("chr4", 4090, "+", 60), ("chr3", 6000, "+", 40)],
    "PART1::ALK": [("chr1", 8000, "-", 60), ("chr2", 20110, "-", 40)],
    "PART1::ETV6": [("chr1", 8000, "-", 60), ("chr3", 6000, "+", 40)],
}
# fusion -> ((5' chrom, pos, ALT pattern), (3' chrom, pos, ALT pattern)); {t} = REF base
EXPECTED = {
    "PARTP::ALK": (("chr4", 4150, "{t}]chr2:20150]"), ("chr2", 20150, "{t}]chr4:4150]")),
    "PARTP::ETV6": (("chr4", 4150, "{t}[chr3:6001["), ("chr3", 6001, "]chr4:4150]{t}")),
    "PART1::ALK": (("chr1", 8001, "]chr2:20150]{t}"), ("chr2", 20150, "{t}[chr1:8001[")),
    "PART1::ETV6": (("chr1", 8001, "[chr3:6001[{t}"), ("chr3", 6001, "[chr1:8001[{t}")),
}


def shorter(part, n: int, keep_end: bool):
    """``part`` less ``n`` bases, keeping the junction side of it: the read's end for
    the first part (``keep_end``), its start for the second, in read orientation."""
    chrom, start, strand, length = part
    drop_low = keep_end == (strand == "+")
    return (chrom, start + n if drop_low else start, strand, length - n)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """(toy, folder, {False: result without FASTA, True: result with FASTA})."""
    toy = make_toy()
    add_background(toy)
    for i in range(4):  # PARTP::ALK as read pairs, mate inside ALK
        toy.fragment(f"pa{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
    for name, parts in SINGLE_END.items():
        for i in range(3):  # reads of one junction that start at different places
            read = [shorter(parts[0], i, keep_end=True), shorter(parts[1], i, keep_end=False)]
            toy.fragment(f"{name}_f{i}", read, None)
            toy.fragment(f"{name}_r{i}", flip(read), None)
    folder = tmp_path_factory.mktemp("outputs")
    bam = toy.write_bam(folder / "s.bam")
    gtf = toy.write_gtf(folder / "a.gtf")
    fasta = toy.write_fasta(folder / "g.fa")
    results = {
        with_fasta: run_sample(bam, gtf, "S1", targets=TARGETS, fasta=fasta if with_fasta else None)
        for with_fasta in (False, True)
    }
    return toy, folder, results


def vcf_records(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        chrom, pos, rid, ref, alt, qual, filt, info, *rest = line.split("\t")
        fields = dict(kv.split("=", 1) if "=" in kv else (kv, True) for kv in info.split(";"))
        out.append(dict(chrom=chrom, pos=int(pos), id=rid, ref=ref, alt=alt, qual=qual, filter=filt, info=fields, rest=rest))
    return out


def run_bcftools(*args: str) -> str:
    """Run bcftools; fail on a non-zero exit or anything on stderr (errors and warnings)
    other than the line count that ``bcftools norm`` always prints."""
    proc = subprocess.run([BCFTOOLS, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    messages = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("Lines ")]
    assert messages == [], proc.stderr
    return proc.stdout


# ---------------------------------------------------------------- VCF


@pytest.mark.parametrize(
    "side, mate_side, alt",
    [("L", "R", "A[chr9:11["), ("L", "L", "A]chr9:11]"), ("R", "L", "]chr9:11]A"), ("R", "R", "[chr9:11[A")],
)
def test_breakend_alt_follows_the_sides(side, mate_side, alt):
    assert breakend_alt("A", Breakend("chr1", 99, side), Breakend("chr9", 10, mate_side)) == alt


def test_info_values_are_percent_encoded():
    assert encode_info("not applicable") == "not%20applicable"
    assert encode_info("a;b=c,d%e\tf") == "a%3Bb%3Dc%2Cd%25e%09f"
    assert encode_info("ETV6::NTRK3") == "ETV6::NTRK3"  # ':' needs no encoding in INFO


@pytest.mark.parametrize("with_fasta", [False, True])
def test_vcf_alt_strings_for_every_orientation(toy_run, with_fasta):
    toy, _, results = toy_run
    result = results[with_fasta]
    assert sorted(c.fusion for c in result.called) == sorted(EXPECTED)
    records = vcf_records(render_vcf(result))
    assert len(records) == 2 * len(EXPECTED)
    for c in result.called:
        got = {r["id"]: r for r in records if r["info"]["EVENT"] == c.call_id}
        assert set(got) == {f"{c.call_id}_5", f"{c.call_id}_3"}
        for suffix, (chrom, pos, pattern) in zip(("_5", "_3"), EXPECTED[c.fusion]):
            rec = got[c.call_id + suffix]
            t = toy.seq[chrom][pos - 1] if with_fasta else "N"
            assert (rec["chrom"], rec["pos"], rec["ref"], rec["alt"]) == (chrom, pos, t, pattern.format(t=t))
            assert rec["info"]["FUSION"] == c.fusion
            assert rec["info"]["GENE"] == (c.gene5.name if suffix == "_5" else c.gene3.name)
            assert rec["info"]["SVTYPE"] == "BND"
            assert (rec["qual"], rec["filter"]) == (".", "PASS")


def test_vcf_mates_pair_up_and_records_are_sorted(toy_run):
    _, _, results = toy_run
    result = results[True]
    records = vcf_records(render_vcf(result))
    by_id = {r["id"]: r for r in records}
    assert len(by_id) == len(records)
    for r in records:
        mate = by_id[r["info"]["MATEID"]]
        assert mate["info"]["MATEID"] == r["id"]
        assert mate["info"]["EVENT"] == r["info"]["EVENT"]
        assert mate["id"] != r["id"]
    order = list(result.bam.contig_lengths)
    keys = [(order.index(r["chrom"]), r["pos"], r["id"]) for r in records]
    assert keys == sorted(keys)
    # typed INFO values of one call
    c = next(c for c in result.called if c.fusion == "PARTP::ALK")
    rec = by_id[f"{c.call_id}_3"]
    assert rec["info"]["SPLIT_READS"] == str(c.split_reads) == "4"
    assert rec["info"]["DISCORDANT_PAIRS"] == "0"
    assert rec["info"]["CONFIDENCE"] == c.confidence
    assert rec["info"]["EXON"] == str(c.annotation.exon3)
    assert rec["info"]["TRANSCRIPT"] == c.annotation.transcript3
    assert rec["info"]["READING_FRAME"] == c.annotation.reading_frame
    assert "KNOWN" not in rec["info"]  # toy genes are not known partners
    etv6 = next(c for c in result.called if c.fusion == "PARTP::ETV6")
    assert by_id[f"{etv6.call_id}_5"]["info"]["KINASE_DOMAIN"] == "not%20applicable"


def test_vcf_header_lists_bam_contigs_in_order_and_no_date(toy_run):
    toy, folder, results = toy_run
    text = render_vcf(results[True])
    header = [line for line in text.splitlines() if line.startswith("##")]
    assert header[0] == "##fileformat=VCFv4.3"
    assert header[1] == f"##source=imtfusion {results[True].version}"
    assert f"##reference={folder / 'g.fa'}" in header
    contigs = [line for line in header if line.startswith("##contig=")]
    assert contigs == [f"##contig=<ID={c},length={n}>" for c, n in toy.contigs.items()]
    assert not any("date" in line.lower() for line in header)
    assert text.splitlines()[len(header)].split("\t")[:8] == ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    assert render_vcf(results[True]) == text
    # without FASTA the annotation stands in as the reference
    assert f"##reference={folder / 'a.gtf'}" in render_vcf(results[False]).splitlines()


@pytest.mark.needs_tool
@needs_bcftools
@pytest.mark.parametrize("with_fasta", [False, True])
def test_bcftools_reads_the_vcf(toy_run, tmp_path, with_fasta):
    _, folder, results = toy_run
    path = tmp_path / "S1.fusions.vcf"
    path.write_text(render_vcf(results[with_fasta]))
    run_bcftools("view", str(path))
    body = run_bcftools("view", "-H", str(path)).splitlines()
    assert len(body) == 2 * len(EXPECTED)
    rows = run_bcftools("query", "-f", "%ID %ALT %INFO/MATEID\n", str(path)).splitlines()
    expected = [f"{r['id']} {r['alt']} {r['info']['MATEID']}" for r in vcf_records(path.read_text())]
    assert rows == expected
    if with_fasta:  # REF bases agree with the genome
        run_bcftools("norm", "--check-ref", "e", "-f", str(folder / "g.fa"), "-o", str(tmp_path / "n.vcf"), str(path))


@pytest.mark.needs_tool
@needs_bcftools
def test_bcftools_reads_a_vcf_without_calls(toy_run, tmp_path):
    _, _, results = toy_run
    empty = dataclasses.replace(results[False], called=[])
    path = tmp_path / "empty.vcf"
    path.write_text(render_vcf(empty))
    assert run_bcftools("view", "-H", str(path)) == ""


# ---------------------------------------------------------------- JSON


def _walk_properties(node, path="$"):
    """Every (path, property schema) in the schema, through $defs and items."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{path}.{name}", sub
            yield from _walk_properties(sub, f"{path}.{name}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield f"{path}[{key}]", node[key]
                yield from _walk_properties(node[key], f"{path}[{key}]")
        for name, sub in node.get("$defs", {}).items():
            yield from _walk_properties(sub, f"#{name}")


def test_schema_is_valid_and_describes_every_field():
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"

    def described(sub: dict) -> bool:
        ref = sub.get("$ref", "")
        return "description" in sub or (ref.startswith("#/$defs/") and "description" in schema["$defs"][ref[8:]])

    missing = [p for p, sub in _walk_properties(schema) if not described(sub)]
    assert missing == []
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("with_fasta", [False, True])
def test_json_validates_against_the_schema(toy_run, with_fasta):
    _, _, results = toy_run
    data = json.loads(render_json(results[with_fasta]))
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(load_schema()).validate(data)


def test_json_is_deterministic_and_typed(toy_run, tmp_path):
    toy, folder, results = toy_run
    result = results[False]
    text = render_json(result)
    assert text == render_json(result) and text.endswith("}\n")
    # a second run on the same inputs gives the same bytes
    again = run_sample(folder / "s.bam", folder / "a.gtf", "S1", targets=TARGETS)
    assert render_json(again) == text
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION and data["tool"] == "imtfusion"
    assert data["sample"] == "S1"
    assert data["inputs"]["fasta"] is None
    assert data["inputs"]["annotation_sha256"] == result.annotation_checksum
    assert [t["target"] for t in data["targets"]] == TARGETS
    for t in data["targets"]:
        assert isinstance(t["reads"], int) and isinstance(t["mean_exon_coverage"], (int, float))
        assert isinstance(t["fusions"], list)
    calls = {c["fusion"]: c for c in data["calls"]}
    assert set(calls) == set(EXPECTED)
    c = calls["PARTP::ALK"]
    assert c["split_reads"] == 4 and c["discordant_pairs"] == 0 and c["fragments"] == 4
    assert c["breakpoint5"] == "chr4:4150" and c["breakend5"] == {"chrom": "chr4", "pos": 4150, "side": "L"}
    assert c["breakpoint3"] == "chr2:20150" and c["breakend3"] == {"chrom": "chr2", "pos": 20150, "side": "L"}
    assert c["exon5"] == 2 and c["exon3"] == 3
    assert c["targets"] == ["ALK"] and c["filters"] == [] and c["known"] is False
    assert isinstance(c["retained_domains"], list)
    assert c["fusion_transcript"] is None and c["peptide"] is None  # no FASTA
    for call in data["calls"]:
        chrom, pos = call["breakpoint5"].rsplit(":", 1)
        assert call["breakend5"]["chrom"] == chrom and call["breakend5"]["pos"] == int(pos)
    assert all(v != "." for call in data["calls"] for v in call.values())
    with_fasta = json.loads(render_json(results[True]))
    assert with_fasta["inputs"]["fasta"] == str(folder / "g.fa")
    assert all(call["fusion_transcript"] for call in with_fasta["calls"])


def test_json_discarded_candidates_carry_their_filters(tmp_path):
    toy = make_toy()
    add_background(toy)
    toy.fragment("one", PARTP_ALK_READ, [("chr2", 20000, "+", 100)])  # a single fragment
    bam = toy.write_bam(tmp_path / "s.bam")
    gtf = toy.write_gtf(tmp_path / "a.gtf")
    result = run_sample(bam, gtf, "S1", targets=TARGETS)
    data = json.loads(render_json(result))
    assert data["calls"] == []
    [d] = [d for d in data["discarded"] if d["fusion"] == "PARTP::ALK"]
    assert d["filters"] == ["min_support"] and d["id"] == "S1_D1"
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(load_schema()).validate(data)


# ---------------------------------------------------------------- MultiQC


def test_multiqc_table_from_summary_rows():
    rows = [
        SummaryRow("IMT01", "ALK", "detected", "TPM3::ALK,XX::ALK", "TPM3 e7::ALK e20,XX e1::ALK e20", "high,low", "5,1", "2,3", "r", "IMT01/IMT01.report.html"),
        SummaryRow("IMT01", "ROS1", "not detected", "", "", "", "", "", "r", "IMT01/IMT01.report.html"),
        SummaryRow("07", "ALK", "not assessable", "", "", "", "", "", "r", "07/07.report.html"),
        SummaryRow("07", "ROS1", "detected", "TFG::ROS1", "TFG e4::ROS1 e35", "medium", "3", "0", "r", "07/07.report.html"),
        SummaryRow("IMT09", "ALK", "failed", "", "", "", "", "", "BAM not found", ""),
        SummaryRow("IMT09", "ROS1", "failed", "", "", "", "", "", "BAM not found", ""),
    ]
    text = render_multiqc(rows, ["ALK", "ROS1"])
    assert text == render_multiqc(rows, ["ALK", "ROS1"])
    doc = yaml.safe_load(text)
    for key in ("id", "section_name", "description", "plot_type", "pconfig", "headers", "data"):
        assert key in doc
    assert doc["plot_type"] == "table" and doc["pconfig"]["id"]
    assert list(doc["headers"]) == [COUNT_COLUMN, "ALK", "ROS1"]
    assert all("title" in h and "description" in h for h in doc["headers"].values())
    assert list(doc["data"]) == ["IMT01", "07"] + ["IMT09"]  # sample order kept, "07" stays a string
    assert doc["data"]["IMT01"] == {COUNT_COLUMN: 1, "ALK": "detected: TPM3::ALK (high), XX::ALK (low)", "ROS1": "not detected"}
    assert doc["data"]["07"] == {COUNT_COLUMN: 1, "ALK": "not assessable", "ROS1": "detected: TFG::ROS1 (medium)"}
    assert doc["data"]["IMT09"] == {"ALK": "failed", "ROS1": "failed"}  # no count for a failed sample


def test_multiqc_table_from_written_sample_outputs(toy_run, tmp_path):
    _, _, results = toy_run
    write_sample_outputs(results[False], tmp_path)
    rows = summarize(tmp_path, ["S1", "S2"], TARGETS)  # S2 never ran: failed
    doc = yaml.safe_load(render_multiqc(rows, TARGETS))
    s1 = doc["data"]["S1"]
    assert s1[COUNT_COLUMN] == 2
    assert s1["ALK"].startswith("detected: ") and "PARTP::ALK (high)" in s1["ALK"] and "PART1::ALK" in s1["ALK"]
    assert "PARTP::ETV6" in s1["ETV6"]
    assert doc["data"]["S2"] == {"ALK": "failed", "ETV6": "failed"}


# ---------------------------------------------------------------- demo data


@pytest.fixture(scope="module")
def demo_result():
    return run_sample(DEMO / "bam" / "IMT03.bam", DEMO / "annotation.gtf", "IMT03", fasta=DEMO / "genome.fa")


def test_demo_vcf_has_real_ref_bases(demo_result):
    records = vcf_records(render_vcf(demo_result))
    assert any(r["info"]["FUSION"] == "ETV6::NTRK3" for r in records)
    with pysam.FastaFile(str(DEMO / "genome.fa")) as fa:
        for r in records:
            assert r["ref"] in ("A", "C", "G", "T")
            assert r["ref"] == fa.fetch(r["chrom"], r["pos"] - 1, r["pos"]).upper()
    etv6 = [r for r in records if r["info"]["FUSION"] == "ETV6::NTRK3"]
    assert {(r["chrom"], r["pos"]) for r in etv6} == {("chr12", 95645), ("chr15", 91381)}  # truth.tsv


@pytest.mark.needs_tool
@needs_bcftools
def test_bcftools_reads_the_demo_vcf(demo_result, tmp_path):
    path = tmp_path / "IMT03.fusions.vcf"
    path.write_text(render_vcf(demo_result))
    run_bcftools("view", str(path))
    assert len(run_bcftools("view", "-H", str(path)).splitlines()) == 2 * len(demo_result.called)
    run_bcftools("query", "-f", "%ID %ALT %INFO/MATEID\n", str(path))
    run_bcftools("norm", "--check-ref", "e", "-f", str(DEMO / "genome.fa"), "-o", str(tmp_path / "n.vcf"), str(path))


def test_demo_json_validates(demo_result):
    data = json.loads(render_json(demo_result))
    assert [c["fusion"] for c in data["calls"]][:1] == ["ETV6::NTRK3"]
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(load_schema()).validate(data)


def test_summary_page_escapes_reasons_and_names(tmp_path):
    from imtfusion.summary import summarize
    from imtfusion.summary_files import write_summary

    folder = tmp_path / "S1"
    folder.mkdir()
    (folder / "S1.error.txt").write_text('BAM not found: /data/<script>alert(1)</script>.bam; check the "bam" column\n')
    rows = summarize(tmp_path, ["S1"], ["ALK"])
    assert rows[0].status == "failed"
    _, html = write_summary(tmp_path, rows, ["ALK"])
    text = html.read_text()
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_summary_page_counts_samples_and_fusions_not_gene_cells():
    from imtfusion.summary import render_summary_html

    def row(sample, target, status, fusions=""):
        return SummaryRow(sample, target, status, fusions, "", "", "", "", "r", "")

    rows = [
        # one ETV6::NTRK3 fills two detected cells of one sample
        row("A", "ETV6", "detected", "ETV6::NTRK3"), row("A", "NTRK3", "detected", "ETV6::NTRK3"),
        row("B", "ETV6", "failed"), row("B", "NTRK3", "failed"),  # one failed sample, two cells
        row("C", "ETV6", "not detected"), row("C", "NTRK3", "not assessable"),
        row("D", "ETV6", "not detected"), row("D", "NTRK3", "not detected"),
    ]
    html = render_summary_html(rows, ["ETV6", "NTRK3"])
    assert "4 sample(s): 1 failed, 1 positive, 1 not assessable, 1 negative; 1 fusion(s) called" in html
    assert "<th>overall</th>" in html
    for sample, overall in (("A", "positive"), ("B", "failed"), ("C", "not assessable"), ("D", "negative")):
        assert f"<td>{sample}</td><td>{overall}</td>" in html


@pytest.mark.parametrize("with_fasta", [False, True])
def test_every_writer_reads_the_call_from_one_record(toy_run, with_fasta, tmp_path):
    """The TSV row, the JSON object, the VCF INFO and the report's call card of each call
    say the same values: they are written from one CallRecord (imtfusion.callrecord)."""
    from imtfusion.callrecord import call_record
    from imtfusion.jsonout import candidate_object
    from imtfusion.pipeline import candidate_row
    from imtfusion.vcf import vcf_records

    _, _, results = toy_run
    result = results[with_fasta]
    html = write_sample_outputs(result, tmp_path)["report"].read_text()
    assert result.called
    for c in result.called + result.discarded:
        r = call_record(c)
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.fragments = 0  # type: ignore[misc]
        row, obj = candidate_row("S1", c), candidate_object(c)
        for key in ("split_reads", "discordant_pairs", "fragments", "molecules", "start_sites", "primer_reads",
                    "best_anchor", "homology", "breakpoint5", "breakpoint3", "fusion", "exon5", "exon3"):
            assert row[key] == obj[key] == getattr(r, key), key
        assert row["filters"] == ",".join(obj["filters"]) == ",".join(r.filters)
        assert row["known"] == ("known" if obj["known"] else "novel")
        assert row["sequence"] == (f"{obj['sequence5']}|{obj['sequence3']}" if obj["sequence5"] else "")
        assert [k["id"] for k in obj["isoforms"]] == [k.id for k in r.isoforms]
        if c in result.called:
            info = dict(item.partition("=")[::2] for item in vcf_records(c)[0][5].split(";"))
            assert (int(info["SPLIT_READS"]), int(info["MOLECULES"]), info["CONFIDENCE"]) == (
                r.split_reads, r.molecules, r.confidence)
            assert f"{r.id} · {r.fusion} · " in html and r.confidence_reason in html
