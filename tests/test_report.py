"""The per-sample HTML report and its SVG diagrams.

Results come from :func:`imtfusion.pipeline.run_sample` on small pysam-built BAMs (the toy
genome of test_calling.py) and on the demo batch; the report is rendered directly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from imtfusion.annotation import Transcript, load_annotation, read_gtf
from imtfusion.diagram import Axis, Partner, fusion_svg, gene_coverage_svg
from imtfusion.model import GeneCoverage
from imtfusion.params import CallParameters
from imtfusion.pipeline import run_sample
from imtfusion.report import headline, render_sample_report
from test_calling import PARTP_ALK_MATE, PARTP_ALK_READ, TARGETS, add_background, make_toy

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo"
NOW = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.timezone.utc)
SVG_NS = "http://www.w3.org/2000/svg"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# -- helpers -------------------------------------------------------------------------------------


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("td", "th", "tr", "p", "div", "li", "br", "h1", "h2", "h3", "h4", "section", "table"):
            self.parts.append(" ")

    def handle_data(self, data):
        self.parts.append(data)


def visible_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return re.sub(r"\s+", " ", "".join(p.parts))


def start_tags(html: str) -> list[str]:
    p = _Text()
    p.feed(html)
    return p.tags


def svgs(html: str) -> list[ET.Element]:
    found = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    return [ET.fromstring(s) for s in found]


def exon_xs(svg: ET.Element) -> list[tuple[float, int]]:
    """(x, exon number) of the exon boxes of a diagram, left to right."""
    return sorted((float(r.get("x")), int(r.get("data-exon"))) for r in svg.iter(f"{{{SVG_NS}}}rect")
                  if r.get("data-exon"))


def toy_result(tmp_path: Path, toy, sample: str = "S1", fasta: bool = False, **params):
    bam = toy.write_bam(tmp_path / "s.bam")
    gtf = toy.write_gtf(tmp_path / "a.gtf")
    fa = toy.write_fasta(tmp_path / "g.fa") if fasta else None
    result = run_sample(bam, gtf, sample, targets=TARGETS, params=CallParameters.from_mapping(params), fasta=fa)
    return result, read_gtf(gtf)


@pytest.fixture(scope="module")
def demo():
    """IMT01 (TPM3::ALK, both genes on -) and IMT03 (ETV6 on + :: NTRK3 on -)."""
    ann = load_annotation(DEMO / "annotation.gtf")
    out = {}
    for sample in ("IMT01", "IMT03"):
        result = run_sample(DEMO / "bam" / f"{sample}.bam", ann, sample, fasta=DEMO / "genome.fa")
        out[sample] = (result, render_sample_report(result, ann, now=NOW))
    return ann, out


# -- content -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample, expected", [
    ("IMT01", "TPM3 exon 7 :: ALK exon 20, in-frame, ALK kinase domain retained, known fusion (IMT; ALCL)"),
    ("IMT03", "ETV6 exon 5 :: NTRK3 exon 15, in-frame, NTRK3 kinase domain retained, known fusion (IMT; "
              "infantile fibrosarcoma; secretory carcinoma)"),
])
def test_demo_headline_names_exons_frame_kinase_and_known_status(demo, sample, expected):
    _, reports = demo
    result, html = reports[sample]
    [call] = result.called
    assert headline(call, result.known) == expected
    text = visible_text(html)
    assert expected in text
    # the card carries the facts behind the headline
    assert call.end5.label() in text and call.end3.label() in text
    assert f"{call.split_reads} fragment(s) with a read across the junction" in text
    assert call.annotation.peptide.split("|")[0] in text
    assert "Lawrence B et al." in text or "Knezevich SR et al." in text


def test_demo_report_is_self_contained_and_its_svgs_are_xml(demo):
    _, reports = demo
    for result, html in reports.values():
        assert "<script" not in html.lower()
        assert re.findall(r"https?://", html.replace(f'xmlns="{SVG_NS}"', "")) == []
        assert not re.search(r"""(src|href)\s*=|url\(|@import|<link\b|<iframe|<object""", html, flags=re.I)
        parsed = svgs(html)
        # one fusion diagram per call, one coverage plot per target, one exon-coverage
        # chart per kinase target (ALK, ROS1, NTRK3: resources/kinase_splits.tsv)
        kinases = sum(1 for s in result.statuses if s.imbalance is not None and s.imbalance.split_exon)
        assert kinases == 3
        assert len(parsed) == len(result.called) + len(result.loci) + kinases
        assert all(s.tag == f"{{{SVG_NS}}}svg" for s in parsed)
        text = visible_text(html)
        for s in result.statuses:
            assert s.target in text
        assert "FUSION DETECTED" in text and "NOT ASSESSABLE" in text  # the demo's shallow targets: LoD above 25%
        assert "Limit of detection" in text and "too few reads: LoD" in text
        assert result.annotation_checksum in text  # the full sha256
        assert "IMT0" in text and "STAR 2.7.10b" in text


def test_exons_run_5_to_3_left_to_right_on_both_strands(demo):
    ann, reports = demo
    for sample, strands in (("IMT01", ("-", "-")), ("IMT03", ("+", "-"))):
        result, html = reports[sample]
        [call] = result.called
        assert (call.gene5.strand, call.gene3.strand) == strands
        diagram = svgs(html)[0]
        boxes = exon_xs(diagram)
        split = next(i for i in range(1, len(boxes)) if boxes[i][1] < boxes[i - 1][1])  # the 3' panel starts at exon 1
        for panel, tid in ((boxes[:split], call.annotation.transcript5), (boxes[split:], call.annotation.transcript3)):
            numbers = [n for _, n in panel]
            assert numbers == list(range(1, len(ann.transcript(tid).exons) + 1))


def test_axis_and_coverage_follow_the_transcript_on_the_minus_strand():
    exons = ((900, 1000), (500, 600), (100, 200))  # minus strand, transcript order
    axis = Axis(exons, "-", 0, 300)
    assert axis.x(1000) == pytest.approx(0) and axis.x(100) == pytest.approx(300)
    assert axis.x(950) < axis.x(550) < axis.x(150)
    t = Transcript("T1", "G1", "GENE", "c1", "-", "protein_coding", (), exons, ())
    # depth high at the genomic start (3' end of the gene) and low elsewhere
    cov = GeneCoverage("GENE", "c1", 100, 1000, (9.0,) + (1.0,) * 8)
    svg = gene_coverage_svg("GENE", "-", "c1", t, cov)
    root = ET.fromstring(svg)
    path = next(p for p in root.iter(f"{{{SVG_NS}}}path"))
    points = [tuple(map(float, xy.split(","))) for xy in re.findall(r"[-\d.]+,[-\d.]+", path.get("d"))]
    top = min(points, key=lambda p: p[1])  # the highest point of the area
    assert top[0] > 400  # drawn on the right (3') end, not the left
    assert [n for _, n in exon_xs(root)] == [1, 2, 3]


def test_partner_pieces_keep_the_right_side_of_the_breakpoint():
    t5 = Transcript("A1", "GA", "A", "c1", "+", "protein_coding", (), ((0, 100), (200, 300), (400, 500)), ())
    t3 = Transcript("B1", "GB", "B", "c2", "-", "protein_coding", (), ((900, 1000), (500, 600), (100, 200)), ())
    p5 = Partner("A", "5", "+", "c1", t5, boundary=250, exon=2, site="exonic")
    p3 = Partner("B", "3", "-", "c2", t3, boundary=600, exon=2, site="splice_site",
                 domains=(("kin", "kinase", ((120, 180),)),))
    assert p5.kept_exons() == [(1, 0, 100), (2, 200, 250)]
    assert p3.kept_exons() == [(2, 500, 600), (3, 100, 200)]
    root = ET.fromstring(fusion_svg(p5, p3, junction_note="in-frame"))
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{{{SVG_NS}}}text"))
    assert "A exons 1–2" in text and "B exons 2–3" in text and "in-frame" in text
    assert "kinase domain" in text


def test_toy_call_without_fasta_and_both_strands(tmp_path):
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)], hard=False)
    result, ann = toy_result(tmp_path, toy)
    [call] = result.called
    assert (call.gene5.strand, call.gene3.strand) == ("+", "-")
    html = render_sample_report(result, ann, now=NOW)
    text = visible_text(html)
    assert "PARTP exon 2 :: ALK exon 3, out-of-frame" in text
    assert "PARTP::ALK" in text
    assert "read consensus" in text  # no FASTA: reads are compared with their consensus
    for ex in result.examples[call.call_id]:
        assert ex.name in text
    diagram = svgs(html)[0]
    assert [n for _, n in exon_xs(diagram)] == [1, 2, 3] + [1, 2, 3, 4, 5]
    # without the annotation the report still renders, with coverage but no exon model
    bare = render_sample_report(result, now=NOW)
    assert "no transcript model" in visible_text(bare)
    assert len(svgs(bare)) == len(svgs(html))


def test_hostile_names_are_escaped_everywhere(tmp_path):
    toy = make_toy()
    add_background(toy)
    bad_read = "<script>r&1</script>"
    toy.fragment(bad_read, PARTP_ALK_READ, PARTP_ALK_MATE, hard=False)
    for i in range(2):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20005 + i, "+", 100)], hard=False)
    result, ann = toy_result(tmp_path, toy, fasta=True)
    [call] = result.called
    assert bad_read in {e.name for e in result.examples[call.call_id]}
    sample = '<script>alert(1)</script>"\'&'
    hostile = dataclasses.replace(
        result,
        sample=sample,
        notes=result.notes + ["<img src=x onerror=alert(1)>"],
        command="imtfusion call --sample '<b>x</b>'",
    )
    html = render_sample_report(hostile, ann, now=NOW)
    assert "<script" not in html and "<img" not in html and "<b>x" not in html
    assert start_tags(html).count("script") == 0
    text = visible_text(html)
    assert sample in text and bad_read in text and "<img src=x onerror=alert(1)>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;" in html
    for svg in svgs(html):
        assert svg.tag == f"{{{SVG_NS}}}svg"


def test_hostile_gene_name_is_escaped_in_svg_text_and_attributes(tmp_path):
    toy = make_toy()
    gene = next(g for g in toy.genes if g.name == "PARTP")
    gene.name = "<b>P&Q</b>"
    add_background(toy)
    for i in range(3):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
    result, ann = toy_result(tmp_path, toy)
    [call] = result.called
    assert call.gene5.name == "<b>P&Q</b>"
    html = render_sample_report(result, ann, now=NOW)
    assert "<b>P" not in html
    diagram = svgs(html)[0]  # parses, so text and attributes are escaped
    assert "<b>P&Q</b>" in (diagram.get("aria-label") or "")
    assert any(t.text == "<b>P&Q</b>" for t in diagram.iter(f"{{{SVG_NS}}}text"))


def test_discarded_table_and_qc(tmp_path):
    toy = make_toy()
    add_background(toy)
    for i in range(4):  # ETV6 -> NEIGH read-through: discarded
        toy.spliced(f"rt{i}", "chr3", [(9050 + i, 9100), (17000, 17050 + i)])
    toy.fragment("orig", PARTP_ALK_READ, PARTP_ALK_MATE)
    toy.fragment("dup1", PARTP_ALK_READ, PARTP_ALK_MATE, duplicate=True)
    result, ann = toy_result(tmp_path, toy)
    html = render_sample_report(result, ann, now=NOW)
    text = visible_text(html)
    assert not result.called and "No fusion of the target genes passed the filters" in text
    assert "ETV6::NEIGH" in text and "read_through" in text and "read-through" in text
    alk = next(s for s in result.statuses if s.target == "ALK")
    rate = 100 * alk.qc.duplicates / (alk.qc.reads + alk.qc.duplicates)
    assert alk.qc.duplicates > 0 and f"{rate:.1f}%" in text
    assert "toy-aligner 1" in text  # aligner from @PG
    assert re.search(r"chimeric alignments yes \(\d+ SA-tagged records? in the target loci\)", text)
    assert len(svgs(html)) == len(result.loci)


def test_render_is_deterministic_apart_from_the_date(demo):
    ann, reports = demo
    result, html = reports["IMT01"]
    assert render_sample_report(result, ann, now=NOW) == html
    later = render_sample_report(result, ann, now=NOW + dt.timedelta(days=1))
    assert later != html and later.replace("2026-01-03", "2026-01-02") == html


# -- rendering in a real browser ------------------------------------------------------------------


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed (still filtered) scanlines of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page itself asked for (the browser's own background requests carry
    the initiator 'not an origin' and are blocked by the resolver rule anyway)."""
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    out = []
    for e in log["events"]:
        p = e.get("params") or {}
        if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in p and p.get("initiator") != "not an origin":
            out.append(p["url"])
    return out


@pytest.mark.needs_tool
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
def test_chromium_renders_the_demo_report_offline(demo, tmp_path):
    _, reports = demo
    page = tmp_path / "IMT01.report.html"
    page.write_text(reports["IMT01"][1], encoding="utf-8")
    png, pdf, netlog = tmp_path / "shot.png", tmp_path / "print.pdf", tmp_path / "net.json"
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--host-resolver-rules=MAP * ~NOTFOUND"]
    shot = common + [f"--user-data-dir={tmp_path / 'profile1'}", f"--log-net-log={netlog}", f"--screenshot={png}",
                     "--window-size=1200,2400", page.as_uri()]
    printed = common + [f"--user-data-dir={tmp_path / 'profile2'}", f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                        page.as_uri()]
    for cmd in (shot, printed):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-2000:]
    data = png.read_bytes()
    assert len(data) > 20_000
    width, height, raw = _png_pixels(data)
    assert (width, height) == (1200, 2400)
    assert len(set(raw)) > 64  # not a blank page: many distinct colour values
    assert _page_requests(netlog) == []
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000


def test_the_verdict_comes_first_and_provenance_last(demo):
    _, reports = demo
    html = reports["IMT01"][1]
    verdict, calls = html.index("<h2>Verdict per target gene</h2>"), html.index("<h2>Fusion calls</h2>")
    provenance = html.index("<h2>Provenance</h2>")
    assert verdict < calls < html.index("<h2>Quality control</h2>") < provenance
    assert html.index("sha256") > provenance  # paths and checksums only at the end
    # the QC table counts records, and says how they differ from the calls' fragments
    assert "split-read records" in html and "discordant records" in html
    assert "one fragment can have several" in visible_text(html)
