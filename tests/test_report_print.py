"""The report a lab prints and signs out: specimen block, sign-off area, A4 pages.

The printed test merges four demo BAMs into one sample with four real calls
(TPM3::ALK, CLTC::ALK, ETV6::NTRK3, TFG::ROS1), prints its report with headless
Chromium and reads the PDF page by page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pysam
import pytest

from imtfusion.annotation import load_annotation
from imtfusion.errors import ConfigError, SampleSheetError
from imtfusion.pipeline import run_sample
from imtfusion.report import CSS, render_sample_report
from imtfusion.samplesheet import read_sample_sheet
from imtfusion.specimen import parse_specimen_options, specimen_options, tumour_content

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo"
NOW = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.timezone.utc)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SPECIMEN = {"specimen": "S26-01234", "specimen_type": "FFPE resection", "block": "A3", "tumour_content": "40%"}
A4_POINTS = (595.3, 841.9)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- specimen fields -------------------------------------------------------------------------------


@pytest.mark.parametrize("given, shown", [
    ("40", "40%"), ("40%", "40%"), (" 40 % ", "40%"), ("<10%", "<10%"), ("≥ 70", "≥70%"), ("ca. 30%", "ca. 30%"),
    ("0.5%", "0.5%"), ("100", "100%"), ("0", "0%"),
])
def test_tumour_content_is_shown_as_a_percentage(given, shown):
    assert tumour_content(given) == shown


@pytest.mark.parametrize("given, message", [
    ("0.4", "ambiguous"), ("140%", "more than 100%"), ("forty", "not a percentage"), ("40-50%", "not a percentage"),
])
def test_tumour_content_that_is_no_percentage_is_refused(given, message):
    with pytest.raises(ValueError, match=message):
        tumour_content(given)


def test_specimen_options_are_checked_and_ordered():
    got = parse_specimen_options(["tumour_content=40", "specimen= S26-01234 ", "block=A3", "specimen_type="])
    assert list(got.items()) == [("specimen", "S26-01234"), ("block", "A3"), ("tumour_content", "40%")]
    assert parse_specimen_options(["tumor_content=25"]) == {"tumour_content": "25%"}  # the US spelling too
    # what the workflow passes on gives the same fields back
    assert parse_specimen_options(specimen_options(SPECIMEN)) == SPECIMEN
    with pytest.raises(ConfigError, match=r"unknown field 'specimn' \(did you mean 'specimen'\?\); known fields: "
                                          r"specimen, specimen_type, block, tumour_content"):
        parse_specimen_options(["specimn=S1"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_specimen_options(["S26-01234"])
    with pytest.raises(ConfigError, match="block is given twice"):
        parse_specimen_options(["block=A3", "block=A4"])
    with pytest.raises(ConfigError, match="one line"):
        parse_specimen_options(["specimen=a\nb"])


def test_sample_sheet_specimen_columns(tmp_path):
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tbam\tSpecimen\ttumor_content\tblock\tpatient\n"
                     "A\ta.bam\tS26-1\t30\t\tsecret\n"
                     "B\tb.bam\t\t\t\t\n")
    a, b = read_sample_sheet(sheet)
    assert a.specimen == (("specimen", "S26-1"), ("tumour_content", "30%"))  # other columns stay out
    assert b.specimen == ()
    sheet.write_text("sample\tbam\ttumour_content\nA\ta.bam\t30\nB\tb.bam\thalf\n")
    with pytest.raises(SampleSheetError, match=r"samples.tsv: line 3: tumour_content 'half' is not a percentage"):
        read_sample_sheet(sheet)
    sheet.write_text("sample\tbam\ttumour_content\ttumor_content\nA\ta.bam\t30\t30\n")
    with pytest.raises(SampleSheetError, match="specimen column tumour_content twice"):
        read_sample_sheet(sheet)


# -- the page --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_ann():
    return load_annotation(DEMO / "annotation.gtf")


@pytest.fixture(scope="module")
def imt01(demo_ann):
    return run_sample(DEMO / "bam" / "IMT01.bam", demo_ann, "IMT01", fasta=DEMO / "genome.fa")


def test_specimen_block_under_the_title_and_sign_off_at_the_end(imt01, demo_ann):
    plain = render_sample_report(imt01, demo_ann, now=NOW)
    assert 'class="specimen"' not in plain  # optional: nothing without specimen fields
    imt01.specimen = {**SPECIMEN, "block": "A3 <script>x</script>"}
    try:
        html = render_sample_report(imt01, demo_ann, now=NOW)
    finally:
        imt01.specimen = {}
    block = html.index('<table class="specimen"')
    assert html.index("</header>") < block < html.index("<h2>Verdict per target gene</h2>")
    shown = text_of(html[block:html.index("</table>", block)])
    assert shown.split() == ("specimen specimen type block tumour content S26-01234 FFPE resection A3 "
                             "&lt;script&gt;x&lt;/script&gt; 40%").split()
    assert "<script>" not in html
    signoff = html.index('<section class="signoff">')
    assert html.index("<h2>Provenance</h2>") < signoff < html.index("<footer>")
    lines = text_of(html[signoff:html.index("</section>", signoff)])
    for label in ("Review and sign-off", "Reviewed by (name)", "Date", "Signature", "Comment", "IMT01"):
        assert label in lines
    assert html.count('<td class="line"></td>') == 4


def test_print_css_is_a4_without_forced_breaks():
    assert "@page{size:A4" in CSS
    assert not re.search(r"(page-)?break-before\s*:\s*(page|always)", CSS)
    assert not re.search(r"page-break-after\s*:\s*always|break-after\s*:\s*page", CSS)
    prints = CSS[CSS.index("@media print"):]
    assert re.search(r"\.card[^{]*\{break-inside:avoid", prints)
    assert ".signoff" in prints.split("{break-inside:avoid")[0]


def test_call_writes_the_specimen_block_from_its_options(tmp_path):
    cmd = [sys.executable, "-m", "imtfusion.cli", "call", "--bam", str(DEMO / "bam" / "IMT01.bam"),
           "--gtf", str(DEMO / "annotation.gtf"), "--sample", "IMT01", "--outdir", str(tmp_path / "out"),
           "--specimen", "specimen=S26-01234", "--specimen", "tumour_content=40"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "out" / "IMT01" / "IMT01.report.html").read_text()
    assert "<td>S26-01234</td><td>40%</td>" in html
    # the JSON carries them too, valid against its schema
    import json

    import jsonschema

    data = json.loads((tmp_path / "out" / "IMT01" / "IMT01.fusions.json").read_text())
    assert data["specimen"] == {"specimen": "S26-01234", "tumour_content": "40%"}
    schema = json.loads((Path(__file__).resolve().parents[1] / "scripts/imtfusion/schemas/fusions.schema.json").read_text())
    jsonschema.validate(data, schema)
    bad = cmd[:-1] + ["tumour_content=0.4"]
    bad[bad.index("--outdir") + 1] = str(tmp_path / "bad")
    proc = subprocess.run(bad, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "imtfusion call: error: --specimen: tumour_content '0.4' is ambiguous (a fraction or a percentage?); "
        "write it as e.g. 40%"]
    assert not (tmp_path / "bad").exists()


# -- printed on A4 ---------------------------------------------------------------------------------


def merged_demo_bam(path: Path, samples: list[str]) -> Path:
    """One coordinate-sorted, indexed BAM with the reads of several demo samples (their read
    names carry the sample, so no two fragments share a name)."""
    parts = [str(DEMO / "bam" / f"{s}.bam") for s in samples]
    unsorted = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(parts[0]) as first:
        header = first.header
        with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
            for part in parts:
                with pysam.AlignmentFile(part) as bam:
                    for record in bam.fetch(until_eof=True):
                        out.write(record)
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    unsorted.unlink()
    return path


def print_to_pdf(html: str, folder: Path) -> Path:
    page = folder / "report.html"
    page.write_text(html, encoding="utf-8")
    pdf = folder / "report.pdf"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
           "--disable-background-networking", "--disable-component-update", f"--user-data-dir={folder / 'profile'}",
           "--host-resolver-rules=MAP * ~NOTFOUND", f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and pdf.exists(), proc.stderr[-2000:]
    return pdf


@pytest.mark.needs_tool
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
def test_printed_report_keeps_each_call_on_one_a4_page(tmp_path, demo_ann):
    pypdf = pytest.importorskip("pypdf", reason="pypdf is not installed (test extra)")
    bam = merged_demo_bam(tmp_path / "merged.bam", ["IMT01", "IMT02", "IMT03", "IMT04"])
    result = run_sample(bam, demo_ann, "IMT_MULTI", fasta=DEMO / "genome.fa")
    assert sorted(c.fusion for c in result.called) == ["CLTC::ALK", "ETV6::NTRK3", "TFG::ROS1", "TPM3::ALK"]
    result.specimen = dict(SPECIMEN)
    pdf = print_to_pdf(render_sample_report(result, demo_ann, now=NOW), tmp_path)

    pages = pypdf.PdfReader(str(pdf)).pages
    # NFKC undoes the ligatures of the PDF's text ("sign-oﬀ")
    texts = [re.sub(r"\s+", " ", unicodedata.normalize("NFKC", p.extract_text())) for p in pages]
    for p in pages:
        assert (float(p.mediabox.width), float(p.mediabox.height)) == pytest.approx(A4_POINTS, abs=1.5)
    # one page per call at most, plus the verdict, QC, methods and provenance; numbered "page i of n"
    assert len(result.called) <= len(pages) <= len(result.called) + 4, len(pages)
    for i, text in enumerate(texts, start=1):
        assert f"page {i} of {len(pages)}" in text

    def page_of(needle: str) -> list[int]:
        return [i for i, t in enumerate(texts) if needle in t]

    # page 1: the specimen, the verdict and the first call, not a page left half empty
    assert page_of("S26-01234") == [0] and page_of("FFPE resection") == [0]
    assert page_of("Verdict per target gene") == [0]
    first = result.called[0]
    assert page_of(f"{first.call_id} · {first.fusion}") == [0]
    # every call block whole on one page: its title line and its last read there, and as many
    # ends of call blocks (the reads note) on each page as titles
    title_pages = []
    for c in result.called:
        assert result.examples[c.call_id], c.fusion
        [title] = page_of(f"{c.call_id} · {c.fusion}")
        [last] = page_of(result.examples[c.call_id][-1].name)
        assert last == title, f"{c.call_id} {c.fusion}: title on page {title + 1}, last read on page {last + 1}"
        title_pages.append(title)
    for i, text in enumerate(texts):
        assert text.count("Reads are cut at the junction") == title_pages.count(i), f"page {i + 1}"
    # the sign-off area whole, on the last page
    assert page_of("Review and sign-off") == page_of("Signature") == page_of("Comment") == [len(pages) - 1]


@pytest.mark.needs_tool
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
def test_a_call_with_many_other_junctions_still_prints_on_one_page(tmp_path, demo_ann):
    pypdf = pytest.importorskip("pypdf", reason="pypdf is not installed (test extra)")
    result = run_sample(DEMO / "bam" / "IMT01.bam", demo_ann, "IMT01", fasta=DEMO / "genome.fa")
    [c] = result.called
    # sixty junctions of the gene pair (a highly expressed fusion with many isoforms and
    # pre-mRNA junctions): listed in full, the card was taller than an A4 page and Chromium
    # cut it over three pages, the first of them left empty under the verdict
    c = dataclasses.replace(c, isoforms=tuple(dataclasses.replace(c.isoforms[0] if c.isoforms else c, call_id=f"IMT01_D{i}")
                                              for i in range(60)))
    result.called = [c]
    html = render_sample_report(result, demo_ann, now=NOW)
    assert text_of(html).count("IMT01_D") == 3 and "and 57 more (all in the column isoforms of fusions.tsv)" in text_of(html)
    pages = pypdf.PdfReader(str(print_to_pdf(html, tmp_path))).pages
    texts = [re.sub(r"\s+", " ", unicodedata.normalize("NFKC", p.extract_text())) for p in pages]
    [title] = [i for i, t in enumerate(texts) if f"{c.call_id} · {c.fusion}" in t]
    [last] = [i for i, t in enumerate(texts) if result.examples[c.call_id][-1].name in t]
    assert title == last == 0
