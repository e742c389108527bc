"""The words of a report (issue #21): HGVS adjoined transcripts, exon text, VICC JSON,
expected ALK IHC pattern and actionability.

A small GTF written here carries UTRs, a RefSeq accession in both forms a GTF has them
(``db_xref "RefSeq:..."`` and a RefSeq ``transcript_id``) and a non-coding gene, so the
r. numbers can be worked out by hand:

* GP (+, chr1): exons [100,200) [300,400) [500,600); CDS 150..549, the stop codon
  550..552 (left out of the CDS, as GENCODE writes it); transcript offsets 0..299, the A
  of the ATG at offset 50 (r.1), offset 252 is r.203 (last stop base), 253 r.*1.
* GM (-, chr2): exons in transcript order [1200,1300) [1000,1100); CDS 1279..1050;
  offset 0 (base 1299) is r.-20, base 1279 r.1, base 1200 r.80, base 1099 r.81.
* GN (+, chr1, non-coding): exons [2000,2100) [2201,2300), an intron of 101 bases whose
  middle base 2150 is r.100+51.
"""

from __future__ import annotations

import json
import re
import sqlite3
from types import SimpleNamespace

import pytest

from imtfusion.annotate import annotate_fusion
from imtfusion.transcript import TranscriptGeometry
from imtfusion.annotation import load_annotation, read_gtf, write_database
from imtfusion.errors import InputFileError
from imtfusion.nomenclature import r_position
from imtfusion.pipeline import FUSION_COLUMNS, run_sample, write_sample_outputs
from imtfusion.report_words import (
    NOT_A_RECOMMENDATION,
    actionability_for,
    expected_ihc,
    load_actionability,
    load_ihc_patterns,
)
from imtfusion.vicc import load_vicc_schema, render_vicc
from fusor_models import fusor_models, fusor_nomenclature, validate_assayed_fusion
from test_calling import TARGETS, add_background, flip, make_toy
from test_outputs import toy_run, vcf_records  # noqa: F401  (toy_run is a fixture)

TAGS = ("Ensembl_canonical", "MANE_Select")


def line(chrom, feature, start, end, strand, attrs, phase="."):
    return f"{chrom}\ttest\t{feature}\t{start + 1}\t{end}\t.\t{strand}\t{phase}\t{attrs}"


def words_gtf(path):
    gp = 'gene_id "G1"; gene_name "GP"; transcript_id "ENST0001.1"; db_xref "RefSeq:NM_000001.2"; tag "MANE_Select";'
    gm = 'gene_id "G2"; gene_name "GM"; transcript_id "NM_000002.1";'
    gn = 'gene_id "G3"; gene_name "GN"; transcript_id "ENST0003.1"; gene_type "lncRNA";'
    rows = [line("chr1", "gene", 100, 600, "+", gp), line("chr1", "transcript", 100, 600, "+", gp)]
    rows += [line("chr1", "exon", s, e, "+", gp) for s, e in ((100, 200), (300, 400), (500, 600))]
    rows += [line("chr1", "CDS", 150, 200, "+", gp, "0"), line("chr1", "CDS", 300, 400, "+", gp, "1"),
             line("chr1", "CDS", 500, 550, "+", gp, "0"), line("chr1", "stop_codon", 550, 553, "+", gp, "0")]
    rows += [line("chr2", "exon", s, e, "-", gm) for s, e in ((1200, 1300), (1000, 1100))]
    rows += [line("chr2", "CDS", 1200, 1280, "-", gm, "0"), line("chr2", "CDS", 1050, 1100, "-", gm, "1")]
    rows += [line("chr1", "exon", s, e, "+", gn) for s, e in ((2000, 2100), (2201, 2300))]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def words_ann(tmp_path_factory):
    return read_gtf(words_gtf(tmp_path_factory.mktemp("words") / "w.gtf"))


def geometry(ann, gene):
    [t] = ann.transcripts_of(ann.find_gene(gene).gene_id)
    return TranscriptGeometry(t)


# -- r. positions ------------------------------------------------------------------------------


@pytest.mark.parametrize("pos, expected", [
    (100, "-50"), (149, "-1"), (150, "1"), (199, "50"),  # 5'UTR, the A of the ATG, exon 1's end
    (200, "50+1"), (249, "50+50"), (250, "51-50"), (299, "51-1"), (300, "51"),  # intron 1 (100 nt)
    (549, "200"), (552, "203"), (553, "*1"), (599, "*47"),  # last CDS base, stop codon, 3'UTR
    (99, None), (600, None),  # off the transcript
])
def test_r_positions_on_a_plus_strand_coding_transcript(words_ann, pos, expected):
    assert r_position(geometry(words_ann, "GP"), pos) == expected


@pytest.mark.parametrize("pos, expected", [
    (1299, "-20"), (1280, "-1"), (1279, "1"), (1200, "80"),  # transcript order runs down the genome
    (1199, "80+1"), (1150, "80+50"), (1149, "81-50"), (1100, "81-1"),  # intron 1 (100 nt)
    (1099, "81"), (1050, "130"), (1047, "133"), (1046, "*1"), (1000, "*47"),
])
def test_r_positions_on_a_minus_strand_coding_transcript(words_ann, pos, expected):
    assert r_position(geometry(words_ann, "GM"), pos) == expected


@pytest.mark.parametrize("pos, expected", [
    (2000, "1"), (2099, "100"), (2100, "100+1"), (2150, "100+51"), (2151, "101-50"), (2201, "101"),
])
def test_r_positions_on_a_non_coding_transcript_count_from_its_first_base(words_ann, pos, expected):
    # the intron has 101 bases: its middle base (2150) takes the '+' form
    assert r_position(geometry(words_ann, "GN"), pos) == expected


def test_the_gtf_parser_keeps_refseq_accessions(words_ann, tmp_path):
    assert geometry(words_ann, "GP").t.refseq == "NM_000001.2"  # db_xref "RefSeq:..."
    assert geometry(words_ann, "GM").t.refseq == "NM_000002.1"  # a RefSeq transcript_id
    assert geometry(words_ann, "GN").t.refseq == ""
    # an index written before the refseq column existed still loads, without accessions
    index = tmp_path / "old.idx"
    write_database(words_gtf(tmp_path / "w.gtf"), index)
    with sqlite3.connect(index) as db:
        db.execute("ALTER TABLE transcripts DROP COLUMN refseq")
    old = load_annotation(index)
    [t] = old.transcripts_of(old.find_gene("GP").gene_id)
    assert t.refseq == "" and t.exons == geometry(words_ann, "GP").t.exons


# -- the junction of a call -------------------------------------------------------------------


def annotate(ann, g5, p5, s5, g3, p3, s3):
    return annotate_fusion(ann, ann.find_gene(g5).gene_id, ann.find_gene(g3).gene_id, p5, s5, p3, s3, g5, g3, [], TAGS)


def test_hgvs_and_exon_words_plus_to_minus_strand(words_ann):
    a = annotate(words_ann, "GP", 199, "L", "GM", 1099, "L")  # GP exon 1 end :: GM exon 2 start
    assert a.hgvs == "NM_000001.2(GP):r.?_50::NM_000002.1(GM):r.81_?"
    assert a.exon_description == "GP exon 1 :: GM exon 2"
    assert (a.junction5.exon, a.junction5.offset, a.junction3.exon, a.junction3.offset) == (1, 0, 2, 0)


def test_hgvs_and_exon_words_minus_to_plus_strand(words_ann):
    a = annotate(words_ann, "GM", 1200, "R", "GP", 300, "R")  # GM exon 1 end :: GP exon 2 start
    assert a.hgvs == "NM_000002.1(GM):r.?_80::NM_000001.2(GP):r.51_?"
    assert a.exon_description == "GM exon 1 :: GP exon 2"


def test_intronic_breakpoints_are_offsets_on_both_strands(words_ann):
    # GP keeps 50 bases of intron 1; GM (minus) keeps 51 bases of its intron 1 before exon 2
    a = annotate(words_ann, "GP", 249, "L", "GM", 1150, "L")
    assert a.hgvs == "NM_000001.2(GP):r.?_50+50::NM_000002.1(GM):r.80+50_?"
    assert a.exon_description == "GP exon 1 + 50 nt of intron 1 :: GM 51 nt of intron 1 + exon 2"
    assert (a.junction5.exon, a.junction5.offset) == (1, 50)
    assert (a.junction3.exon, a.junction3.offset) == (2, -51)
    # past the intron's middle the 5' position is counted back from the next exon
    a = annotate(words_ann, "GP", 250, "L", "GM", 1099, "L")
    assert a.hgvs.startswith("NM_000001.2(GP):r.?_51-50::")
    assert (a.junction5.exon, a.junction5.offset) == (1, 51)


def test_breakpoints_inside_exons_and_utrs(words_ann):
    a = annotate(words_ann, "GP", 120, "L", "GM", 1046, "L")
    assert a.hgvs == "NM_000001.2(GP):r.?_-30::NM_000002.1(GM):r.*1_?"
    assert a.exon_description == "GP exon 1 (5'UTR) :: GM exon 2 (3'UTR)"
    a = annotate(words_ann, "GP", 150, "L", "GP", 350, "R")
    assert (a.junction5.exon, a.junction5.offset) == (1, -49)  # 49 bases of exon 1 left out
    assert (a.junction3.exon, a.junction3.offset) == (2, 50)  # 50 bases of exon 2 left out
    assert a.exon_description == "GP exon 1 (inside the exon) :: GP exon 2 (inside the exon)"


# -- outputs of a run: TSV, JSON, VCF, VICC ----------------------------------------------------

EXPECTED_HGVS = {
    "PARTP::ALK": "ENSTT00001.1(PARTP):r.?_350::ENSTT00003.1(ALK):r.601_?",
    "PARTP::ETV6": "ENSTT00001.1(PARTP):r.?_350::ENSTT00004.1(ETV6):r.201_?",
    "PART1::ALK": "ENSTT00002.1(PART1):r.?_420::ENSTT00003.1(ALK):r.601_?",
    "PART1::ETV6": "ENSTT00002.1(PART1):r.?_420::ENSTT00004.1(ETV6):r.201_?",
}


def test_every_output_carries_the_hgvs_string(toy_run, tmp_path):
    _, _, results = toy_run
    result = results[True]
    paths = write_sample_outputs(result, tmp_path)
    header, *rows = [r.split("\t") for r in paths["fusions"].read_text().splitlines()]
    assert header == FUSION_COLUMNS and header[-2:] == ["hgvs", "exon_description"]
    table = {r[header.index("fusion")]: dict(zip(header, r)) for r in rows}
    assert {f: r["hgvs"] for f, r in table.items()} == EXPECTED_HGVS
    assert table["PART1::ALK"]["exon_description"] == "PART1 exon 2 :: ALK exon 3"
    discarded = paths["discarded"].read_text().splitlines()[0].split("\t")
    assert discarded[-4:] == ["filters", "main_call", "hgvs", "exon_description"]
    data = json.loads(paths["json"].read_text())
    assert data["schema_version"] == "1.9.0"
    assert {c["fusion"]: c["hgvs"] for c in data["calls"]} == EXPECTED_HGVS
    assert all(c["refseq5"] is None and c["refseq3"] is None for c in data["calls"])
    for record in vcf_records(paths["vcf"].read_text()):
        hgvs = EXPECTED_HGVS[record["info"]["FUSION"]]
        assert record["info"]["HGVS"] == hgvs  # nothing in it needs percent-encoding
    assert '##INFO=<ID=HGVS,Number=1,Type=String' in paths["vcf"].read_text()


def _validate_vicc(data):
    """Our schema of the file, then every fusion with FUSOR's model and published schema;
    the nomenclature as FUSOR writes it from the structure."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_vicc_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(data)
    fusions = [c["assayedFusion"] for c in data["calls"]] + [s["assayedFusion"] for s in data["suspected"]]
    for fusion in fusions:
        validate_assayed_fusion(fusion)
    nomenclature = fusor_nomenclature()
    for call in data["calls"]:
        parts = []
        for element in fusor_models().AssayedFusion.model_validate(call["assayedFusion"]).structure:
            if element.type == "TranscriptSegmentElement":
                parts.append(nomenclature.tx_segment_nomenclature(element))
            elif element.type == "GeneElement":
                parts.append(nomenclature.gene_nomenclature(element))
        if len(parts) == 2:
            assert call["assayedFusion"]["viccNomenclature"] == "::".join(parts)


def test_vicc_json_validates_and_places_each_junction(toy_run, tmp_path):
    _, _, results = toy_run
    result = results[False]
    text = render_vicc(result)
    assert text == render_vicc(result)  # same inputs, same bytes
    data = json.loads(text)
    _validate_vicc(data)
    calls = {c["fusion"]: c for c in data["calls"]}
    assert [c["id"] for c in data["calls"]] == [c.call_id for c in result.called]
    five, three = calls["PARTP::ALK"]["assayedFusion"]["structure"]
    # PARTP (+) keeps chr4:..4150 (1-based): the junction is at inter-residue 4150
    assert five["transcript"] == "ensembl:ENSTT00001.1" and five["gene"]["name"] == "PARTP"
    assert (five["exonEnd"], five["exonEndOffset"]) == (2, 0)
    assert (five["transcriptStatus"], five["strand"]) == ("longest_compatible_remaining", 1)
    # no FASTA: no refget accession, the contig's name is the reference
    assert five["elementGenomicEnd"] == {"type": "SequenceLocation", "end": 4150, "sequenceReference": "chr4",
                                         "extensions": [{"name": "is_exonic", "value": True}]}
    # ALK (-) keeps chr2:20150 and below: the junction is after 1-based 20150
    assert (three["exonStart"], three["exonStartOffset"], three["strand"]) == (3, 0, -1)
    assert three["elementGenomicStart"]["end"] == 20150 and "start" not in three["elementGenomicStart"]
    fusion = calls["PARTP::ALK"]["assayedFusion"]
    assert fusion["viccNomenclature"] == "ENSTT00001.1(PARTP):e.2::ENSTT00003.1(ALK):e.3"
    assert fusion["readData"]["split"]["splitReads"] == 4
    assert fusion["readingFramePreserved"] is False  # out-of-frame (test_annotate)
    five, _ = calls["PART1::ALK"]["assayedFusion"]["structure"]
    # PART1 (-) keeps chr1:8001 (1-based) and above: the junction is at inter-residue 8000
    assert five["elementGenomicEnd"]["start"] == 8000 and "end" not in five["elementGenomicEnd"]
    assert five["strand"] == -1
    assert data["suspected"] == []
    # a broken structure does not validate
    jsonschema = pytest.importorskip("jsonschema")
    del fusion["structure"][0]["exonEnd"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(load_vicc_schema()).validate(data)


def test_with_a_fasta_each_contig_carries_its_refget_accession(toy_run):
    """The accession is SQ. + sha512t24u of the contig's bases (upper case), as GA4GH's
    own implementation computes it; FUSOR's model then takes a VRS sequence reference."""
    from ga4gh.core import sha512t24u

    from imtfusion.reference import Reference, refget_accession

    toy, folder, results = toy_run
    result = results[True]
    data = json.loads(render_vicc(result))
    _validate_vicc(data)
    assert refget_accession(["ACGT"]) == "SQ.aKF498dAxcJAqme6QYQ7EZ07-fiw8Kw2"  # the refget test vector
    assert refget_accession(["AC", "", "GT"]) == refget_accession(["ACGT"])  # chunks join
    ref = Reference(folder / "g.fa", toy.contigs)
    try:
        for chrom in ("chr2", "chr4"):
            bases = ref.fetch(chrom, 0, toy.contigs[chrom], remember=False)
            assert ref.accession(chrom) == "SQ." + sha512t24u(bases.encode())
        assert ref.accession("chrUn") is None
    finally:
        ref.close()
    five, three = next(c for c in data["calls"] if c["fusion"] == "PARTP::ALK")["assayedFusion"]["structure"]
    assert five["elementGenomicEnd"]["sequenceReference"] == {
        "type": "SequenceReference", "id": "chr4", "refgetAccession": result.sequence_accessions["chr4"]}
    assert three["elementGenomicStart"]["sequenceReference"]["refgetAccession"] == result.sequence_accessions["chr2"]
    assert sorted(result.sequence_accessions) == sorted({e.chrom for c in result.called for e in (c.end5, c.end3)})


def test_a_contig_longer_than_a_chunk_is_digested_piece_by_piece(tmp_path, monkeypatch):
    from ga4gh.core import sha512t24u

    import imtfusion.reference as reference

    seq = ("ACGTTGCAacgtN" * 40)[:517]
    (tmp_path / "g.fa").write_text(">c1\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    import pysam

    pysam.faidx(str(tmp_path / "g.fa"))
    monkeypatch.setattr(reference, "DIGEST_CHUNK", 50)
    ref = reference.Reference(tmp_path / "g.fa", {"c1": len(seq)})
    try:
        assert ref.accession("c1") == "SQ." + sha512t24u(seq.upper().encode())
    finally:
        ref.close()


def test_transcript_status_follows_the_gtf_tags():
    from imtfusion.nomenclature import JunctionEnd
    from imtfusion.vicc import transcript_status

    def end(tags):
        return JunctionEnd("5", "G", "ENST1", "", "+", "exon boundary", 2, 0, "100", 0, tags)

    assert transcript_status(end(("basic", "MANE_Select", "Ensembl_canonical"))) == "mane_select"
    assert transcript_status(end(("MANE_Plus_Clinical",))) == "mane_plus_clinical"
    assert transcript_status(end(("Ensembl_canonical",))) == "longest_compatible_remaining"
    assert transcript_status(end(())) == "longest_compatible_remaining"


def test_an_invalid_fusion_is_refused_by_fusor():
    models = fusor_models()
    good = {"type": "AssayedFusion", "structure": [{"type": "UnknownGeneElement"}, {
        "type": "GeneElement", "gene": {"conceptType": "Gene", "name": "ALK"}}]}
    validate_assayed_fusion(good)
    for bad in ({**good, "structure": good["structure"][1:]},  # one element
                {**good, "structure": [{"type": "UnknownGeneElement"}, {"type": "GeneElement"}]}):  # no gene
        with pytest.raises(Exception):
            models.AssayedFusion.model_validate(bad)


def test_an_intronic_junction_end_to_end(tmp_path):
    """PARTP exon 2 joined to 351 bases of ALK intron 2 before exon 3 (ALK on -)."""
    toy = make_toy()
    add_background(toy)
    read = [("chr4", 4090, "+", 60), ("chr2", 20461, "-", 40)]  # ALK's part ends at 20500
    for i in range(3):
        toy.fragment(f"in{i}", read, [("chr2", 20300 + i, "+", 100)])
        toy.fragment(f"ir{i}", flip(read), None)
    from imtfusion.params import CallParameters

    result = run_sample(toy.write_bam(tmp_path / "s.bam"), toy.write_gtf(tmp_path / "a.gtf"), "S1", targets=TARGETS,
                        params=CallParameters.from_mapping({"min_fragments": 2}))
    [c] = [c for c in result.called if c.fusion == "PARTP::ALK"]
    assert c.end3.label() == "chr2:20501" and c.annotation.site3 == "intronic"
    # ALK exon 3 starts at offset 600 (r.601); 351 intronic bases before it: r.601-351
    assert c.annotation.hgvs == "ENSTT00001.1(PARTP):r.?_350::ENSTT00003.1(ALK):r.601-351_?"
    assert c.annotation.exon_description == "PARTP exon 2 :: ALK 351 nt of intron 2 + exon 3"
    data = json.loads(render_vicc(result))
    _validate_vicc(data)
    [call] = [x for x in data["calls"] if x["fusion"] == "PARTP::ALK"]
    three = call["assayedFusion"]["structure"][1]
    assert (three["exonStart"], three["exonStartOffset"]) == (3, -351)
    assert three["elementGenomicStart"]["end"] == 20501
    assert call["assayedFusion"]["viccNomenclature"].endswith("(ALK):e.3-351")


# -- IHC patterns and actionability -------------------------------------------------------------


def fake_call(gene5, gene3, targets):
    return SimpleNamespace(gene5=SimpleNamespace(name=gene5), gene3=SimpleNamespace(name=gene3), targets=targets)


@pytest.mark.parametrize("gene5, pattern", [
    ("RANBP2", "nuclear membrane"), ("RRBP1", "perinuclear"), ("CLTC", "granular cytoplasmic"),
    ("TPM3", "diffuse cytoplasmic"), ("EML4", "diffuse cytoplasmic"),
])
def test_expected_alk_ihc_pattern_by_partner(gene5, pattern):
    row = expected_ihc(fake_call(gene5, "ALK", ["ALK"]))
    assert pattern in row.pattern
    assert row.gene5 == (gene5 if gene5 != "EML4" else "*")
    if gene5 == "RANBP2":
        assert "epithelioid inflammatory myofibroblastic sarcoma" in row.note and "EIMS" in row.note
    assert expected_ihc(fake_call("TFG", "ROS1", ["ROS1"])) is None  # ALK only


def test_curated_tables_name_a_source_with_a_year():
    year = re.compile(r"\b(19|20)\d\d\b")
    for row in load_ihc_patterns():
        assert row.target and row.gene5 and row.pattern and year.search(row.source), row
    for row in load_actionability():
        assert row.information and year.search(row.source) and re.fullmatch(r"\d{4}-\d\d-\d\d", row.as_of), row
    targets = {row.target for row in load_actionability()}
    from imtfusion.registry import load_registry

    registry = load_registry()
    # a row per target of the registry, but IGF1R's: no drug is approved for an IGF1R fusion
    assert targets == set(registry.symbols()) - {"IGF1R"}
    [alk] = actionability_for(fake_call("TPM3", "ALK", ["ALK"]))
    assert "crizotinib" in alk.information and "2022" in alk.information
    notes = actionability_for(fake_call("ETV6", "NTRK3", ["ETV6", "NTRK3"]))
    assert [n.target for n in notes] == ["ETV6", "NTRK3"]
    assert "larotrectinib" in notes[1].information and "entrectinib" in notes[1].information


def test_a_table_without_its_columns_is_refused(tmp_path):
    bad = tmp_path / "ihc.tsv"
    bad.write_text("target\tgene5\nALK\tTPM3\n")
    with pytest.raises(InputFileError, match="needs the columns gene5, note, pattern, source, target"):
        load_ihc_patterns(bad)


def test_the_report_shows_the_words_of_each_call(toy_run, tmp_path):
    _, _, results = toy_run
    result = results[True]
    html = write_sample_outputs(result, tmp_path)["report"].read_text()
    section = html[html.index("<h2>Nomenclature, expected IHC and targeted therapy</h2>"):html.index("<h2>Discarded")]
    for c in result.called:
        assert f"{c.fusion} ({c.call_id})" in section
        assert EXPECTED_HGVS[c.fusion] in section
        assert c.annotation.exon_description in section
    # the ALK calls: the default pattern (partners not in the table) and crizotinib as information
    assert section.count("diffuse cytoplasmic") == 2
    assert section.count(f"{NOT_A_RECOMMENDATION}:") == 4 and "crizotinib" in section


def test_readme_documents_every_column_info_key_and_the_vicc_file():
    from pathlib import Path

    from imtfusion.pipeline import DISCARDED_COLUMNS
    from imtfusion.vcf import INFO_FIELDS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    tsv = readme[readme.index("### `{sample}.fusions.tsv`"):readme.index("### `{sample}.fusions.vcf`")]
    missing = [c for c in DISCARDED_COLUMNS if f"`{c}`" not in tsv]
    assert missing == [], f"README fusions.tsv table lacks {missing}"
    vcf = readme[readme.index("### `{sample}.fusions.vcf`"):readme.index("### `{sample}.fusions.json`")]
    assert [k for k, *_ in INFO_FIELDS if f"`{k}`" not in vcf] == []
    outputs = readme[readme.index("## Outputs"):readme.index("### `{sample}.fusions.tsv`")]
    assert "`{sample}.vicc.json`" in outputs and "### `{sample}.vicc.json`" in readme
    assert "1.2.0" in readme and "ihc_patterns.tsv" in readme and "actionability.tsv" in readme
