"""BAMs read over the network (issue #19): a URL in place of a path, read through its
index with range requests. A web server with range support runs on the loopback
interface inside the test, in a process of its own; it logs every request and the bytes
it sent (imtfusion_tools.bench.remote.serve)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pysam
import pytest

from imtfusion.bamio import is_url, open_alignment, redact_url, url_with_suffix
from imtfusion_tools.bench.remote import serve, target_block_bytes, target_block_ranges
from imtfusion.errors import AlignmentFileError
from test_calling import PARTP_ALK_READ, TARGETS, add_background, make_toy
from test_nofasta import partp_expressed, single_end_junction_clips

SECRET = "s3cr3t"
TABLES = ("fusions.tsv", "fusions.discarded.tsv", "targets.tsv")


@pytest.fixture()
def server(tmp_path):
    """A web server on the loopback interface serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    with serve(root, tmp_path / "served.tsv") as served:
        yield served


@pytest.fixture()
def private_server(tmp_path):
    """One that answers only requests carrying SECRET (?token= or a password), else 403."""
    root = tmp_path / "private"
    root.mkdir()
    with serve(root, tmp_path / "private.tsv", secret=SECRET) as served:
        yield served


def far_background(toy, n: int) -> None:
    """``n`` reads on an extra contig far from the targets: a large file whose target loci
    stay small."""
    import random

    from toolkit import random_seq

    toy.contigs["chr9"] = 2_000_000
    toy.seq["chr9"] = random_seq(random.Random(3), 2_000_000)
    toy._header["SQ"].append({"SN": "chr9", "LN": 2_000_000})
    for i in range(n):
        toy.fragment(f"bg{i}", [("chr9", 1000 + (i * 37) % 1_900_000, "+", 100)])


def fusion_toy(background: int = 0):
    """The toy genome's PARTP::ALK fusion (split reads), with ``background`` far reads."""
    toy = make_toy()
    add_background(toy)
    for i in range(6):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + 7 * i, "+", 100)])
    if background:
        far_background(toy, background)
    return toy


def fusion_bam(path: Path, background: int = 0) -> Path:
    toy = fusion_toy(background)
    toy.write_bam(path)
    toy.write_gtf(path.parent / "a.gtf")
    return path


def call(bam: str, gtf: Path, outdir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "imtfusion.cli", "call", "--bam", bam, "--gtf", str(gtf), "--sample", "S1",
         "--targets", *TARGETS, "--outdir", str(outdir), *extra],
        capture_output=True, text=True,
    )


def same_tables(a: Path, b: Path, cram: bool = False) -> bool:
    """The tables are byte-identical; against a CRAM (``cram``), whose index holds no
    record counts, but for the on-target fraction of targets.tsv, which it cannot measure."""
    def text(folder: Path, table: str) -> str:
        body = (folder / "S1" / f"S1.{table}").read_text()
        if not cram or table != "targets.tsv":
            return body
        lines = [line.split("\t") for line in body.splitlines()]
        k = lines[0].index("on_target_fraction")
        return "\n".join("\t".join(cells[:k] + cells[k + 1:]) for cells in lines)

    return all(text(a, t) == text(b, t) for t in TABLES)


def notes(outdir: Path) -> list[str]:
    return json.loads((outdir / "S1" / "S1.fusions.json").read_text())["notes"]


def test_a_bam_over_http_gives_the_calls_of_the_local_file(server, tmp_path):
    root, base = server.root, server.base
    bam = fusion_bam(root / "s.bam")
    local = call(str(bam), root / "a.gtf", tmp_path / "local")
    remote = call(f"{base}/s.bam", root / "a.gtf", tmp_path / "remote")
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert same_tables(tmp_path / "local", tmp_path / "remote")
    assert "PARTP::ALK" in (tmp_path / "remote" / "S1" / "S1.fusions.tsv").read_text()
    inputs = json.loads((tmp_path / "remote" / "S1" / "S1.fusions.json").read_text())["inputs"]
    assert inputs["bam"] == f"{base}/s.bam" and inputs["bam_index"] == f"{base}/s.bam.bai"  # found next to it
    assert [r.path for r in server.responses()].count("/s.bam.bai") == 1  # fetched once
    # the loci were read by the bulk reader, by bounded ranges (not only by htslib's open-ended ones)
    assert any(r.path == "/s.bam" and r.asked.startswith("bytes=") and not r.asked.endswith("-")
               for r in server.responses())


def test_s3_and_gcs_urls_are_fetched_through_htslib(server, tmp_path, monkeypatch):
    # s3:// and gs:// files are fetched through htslib's hFILE (which signs S3 and GCS
    # requests); no object store here, so HTTP is made to go the same way
    root, base = server.root, server.base
    bam = fusion_bam(root / "s.bam")
    local = call(str(bam), root / "a.gtf", tmp_path / "local")
    monkeypatch.setenv("IMTFUSION_FETCH_WITH_HTSLIB", "1")
    remote = call(f"{base}/s.bam", root / "a.gtf", tmp_path / "remote")
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert same_tables(tmp_path / "local", tmp_path / "remote")
    asked = [r.asked for r in server.responses() if r.path == "/s.bam"]
    assert asked and all(a == "-" or a.endswith("-") for a in asked), asked  # hFILE's requests, no bounded ones


def test_only_the_target_loci_are_transferred(server, tmp_path):
    root, base = server.root, server.base
    bam = fusion_bam(root / "big.bam", background=200_000)
    size = bam.stat().st_size
    proc = call(f"{base}/big.bam", root / "a.gtf", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    loci = []
    for t in json.loads((tmp_path / "out" / "S1" / "S1.fusions.json").read_text())["targets"]:
        chrom, span = t["locus"].rsplit(":", 1)
        start, end = span.split("-")
        loci.append((chrom, int(start) - 1, int(end)))
    blocks = target_block_bytes(str(bam), loci)
    sent = server.sent("big.bam")
    # every request to the server is bounded (htslib reads through the local proxy); beyond
    # the loci's blocks go the windows htslib's opening of the file reads ahead (a few
    # hundred kB); the bar on a large BAM is measured by `imtfusion benchmark remote`
    asked = [r.asked for r in server.responses() if r.path == "/big.bam"]
    assert all(a.startswith("bytes=") and not a.endswith("-") for a in asked), asked
    assert sent < blocks + 1_000_000 and sent < 0.2 * size, (sent, blocks, size, server.responses())


def test_the_target_block_ranges_hold_every_record_of_the_loci(tmp_path):
    bam = fusion_bam(tmp_path / "s.bam", background=20_000)
    pysam.index(str(bam), str(tmp_path / "s.bam.csi"), "-c")
    loci = [("chr2", 9000, 33000), ("chr3", 2000, 10000)]
    for index in (tmp_path / "s.bam.bai", tmp_path / "s.bam.csi"):
        ranges = target_block_ranges(str(bam), loci, str(index))
        with pysam.AlignmentFile(str(bam)) as handle:
            for chrom, start, end in loci:
                for _ in handle.fetch(chrom, start, end):
                    block = handle.tell() >> 16  # the block holding the record's end
                    assert any(s <= block < e for s, e in ranges), (index, block, ranges)
        assert sum(e - s for s, e in ranges) < 0.2 * bam.stat().st_size  # not the chr9 reads


def test_a_csi_index_locally_and_remotely(server, tmp_path):
    root, base = server.root, server.base
    bam = fusion_bam(root / "c.bam")
    (root / "c.bam.bai").unlink()
    pysam.index(str(bam), "-c")
    assert (root / "c.bam.csi").exists()
    local = call(str(bam), root / "a.gtf", tmp_path / "local")
    remote = call(f"{base}/c.bam", root / "a.gtf", tmp_path / "remote")
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert same_tables(tmp_path / "local", tmp_path / "remote")
    assert "PARTP::ALK" in (tmp_path / "remote" / "S1" / "S1.fusions.tsv").read_text()
    inputs = json.loads((tmp_path / "remote" / "S1" / "S1.fusions.json").read_text())["inputs"]
    assert inputs["bam_index"] == f"{base}/c.bam.csi"
    # the .bai is asked for first and missing, then the .csi is read (the threaded server
    # may log the two responses in either order: the 404's handler can finish after the
    # next request's)
    assert sorted((r.path, r.status) for r in server.responses()[:2]) == [("/c.bam.bai", 404), ("/c.bam.csi", 200)]


def test_a_cram_with_a_fasta_locally_and_over_http(server, tmp_path):
    root, base = server.root, server.base
    toy = fusion_toy()
    bam = toy.write_bam(tmp_path / "s.bam")
    toy.write_gtf(root / "a.gtf")
    fasta = toy.write_fasta(tmp_path / "g.fa")
    pysam.view("-C", "-T", str(fasta), "-o", str(root / "s.cram"), str(bam), catch_stdout=False)
    pysam.index(str(root / "s.cram"))
    runs = {
        "bam": call(str(bam), root / "a.gtf", tmp_path / "bam", "--fasta", str(fasta)),
        "cram": call(str(root / "s.cram"), root / "a.gtf", tmp_path / "cram", "--fasta", str(fasta)),
        "remote": call(f"{base}/s.cram", root / "a.gtf", tmp_path / "remote", "--fasta", str(fasta)),
    }
    assert all(p.returncode == 0 for p in runs.values()), {k: p.stderr for k, p in runs.items()}
    assert same_tables(tmp_path / "bam", tmp_path / "cram", cram=True)
    assert same_tables(tmp_path / "bam", tmp_path / "remote", cram=True)
    cram_rows = (tmp_path / "cram" / "S1" / "S1.targets.tsv").read_text().splitlines()
    k = cram_rows[0].split("\t").index("on_target_fraction")
    assert {row.split("\t")[k] for row in cram_rows[1:]} == {"."}  # not measured, not a wrong number
    assert "PARTP::ALK" in (tmp_path / "remote" / "S1" / "S1.fusions.tsv").read_text()
    assert [r.path for r in server.responses()].count("/s.cram.crai") == 1
    bare = call(f"{base}/s.cram", root / "a.gtf", tmp_path / "nofasta")
    assert bare.returncode == 1 and "a CRAM needs its reference FASTA" in bare.stderr


@pytest.mark.parametrize("how", ["password", "query"])
def test_credentials_reach_the_server_and_are_never_written(private_server, tmp_path, how):
    root, base = private_server.root, private_server.base
    fusion_bam(root / "s.bam")
    host = base[len("http://"):]
    if how == "password":
        url, shown = f"http://reader:{SECRET}@{host}/s.bam", f"http://{host}/s.bam"
    else:  # a pre-signed URL's query string, which the index's URL keeps
        url, shown = f"http://{host}/s.bam?X-Amz-Signature={SECRET}&token={SECRET}", f"http://{host}/s.bam?<redacted>"
    out = tmp_path / "out"
    proc = call(url, root / "a.gtf", out, "--param", "partner_scan=no")
    assert proc.returncode == 0, proc.stderr
    assert not [r for r in private_server.responses() if r.status == 403]  # htslib and the bulk reader sent them
    assert any(r.path.startswith("/s.bam.bai") for r in private_server.responses())
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) >= 8
    for p in written:
        data = p.read_bytes() if p.suffix != ".bam" else pysam.view("-H", str(p)).encode()
        assert SECRET.encode() not in data and b"reader" not in data, p
    assert SECRET not in proc.stdout + proc.stderr
    data = json.loads((out / "S1" / "S1.fusions.json").read_text())
    assert data["inputs"]["bam"] == shown and data["inputs"]["bam_index"] == url_with_suffix(shown, ".bai")
    report = (out / "S1" / "S1.report.html").read_text()
    assert shown.replace("<", "&lt;").replace(">", "&gt;") in report
    # the same server without the credentials: refused, one line that says what to do
    bare = call(f"{base}/s.bam", root / "a.gtf", tmp_path / "refused")
    assert bare.returncode == 1 and not (tmp_path / "refused").exists()
    [line] = bare.stderr.strip().splitlines()
    assert f"{base}/s.bam" in line and "refused (HTTP 401/403)" in line and "pre-signed URL" in line


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case", ["no BAM", "no index", "no given index", "no local index", "refused connection",
                                  "unknown host"])
def test_an_unreadable_url_is_one_line_naming_it(server, tmp_path, case):
    root, base = server.root, server.base
    fusion_bam(root / "s.bam")
    (root / "s.bam.bai").rename(root / "elsewhere.bai")
    q = f"?token={SECRET}"  # every message shows the URLs without it
    url, extra, said = {
        "no BAM": (f"{base}/nothing.bam{q}", (), "the BAM is not there (HTTP 404"),
        "no index": (f"{base}/s.bam{q}", (), f"no index next to it ({base}/s.bam.bai?<redacted> or "
                                              f"{base}/s.bam.csi?<redacted> not found)"),
        "no given index": (f"{base}/s.bam", ("--bam-index", f"{base}/s.bai{q}"),
                           f"{base}/s.bai?<redacted>: the index of {base}/s.bam is not there (HTTP 404"),
        "no local index": (f"{base}/s.bam{q}", ("--bam-index", str(tmp_path / "s.bai")),
                           f"its index {tmp_path / 's.bai'} does not exist"),
        "refused connection": (f"http://127.0.0.1:{closed_port()}/s.bam{q}", (),
                               "the server cannot be reached (the connection was refused)"),
        "unknown host": (f"http://imtfusion-test.invalid/s.bam{q}", (), "the server cannot be reached"),
    }[case]
    proc = call(url, root / "a.gtf", tmp_path / "out", *extra)
    assert proc.returncode == 1, proc.stderr
    [line] = proc.stderr.strip().splitlines()  # no traceback, no htslib chatter
    assert line.startswith("imtfusion call: error: ") and redact_url(url) in line and said in line, line
    assert SECRET not in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing written
    if case.startswith("no") and "BAM" not in case:
        assert "--bam-index" in line and "bam_index" in line
    # the index given where it is, the same BAM is read
    if case == "no index":
        ok = call(url, root / "a.gtf", tmp_path / "given", "--bam-index", f"{base}/elsewhere.bai{q}")
        assert ok.returncode == 0, ok.stderr
        assert "PARTP::ALK" in (tmp_path / "given" / "S1" / "S1.fusions.tsv").read_text()


def test_without_a_fasta_a_remote_bam_is_not_read_whole_unless_asked(server, tmp_path):
    # a novel partner placed only by the pass over the whole BAM (no FASTA, no SA tags)
    root, base = server.root, server.base
    toy = make_toy()
    add_background(toy)
    partp_expressed(toy)
    single_end_junction_clips(toy)
    far_background(toy, 80_000)
    size = toy.write_bam(root / "s.bam").stat().st_size
    gtf = toy.write_gtf(root / "a.gtf")
    low = ("--param", "min_fragments=2")
    local = call(str(root / "s.bam"), gtf, tmp_path / "local", *low)
    assert local.returncode == 0, local.stderr
    assert "PARTP::ALK" in (tmp_path / "local" / "S1" / "S1.fusions.tsv").read_text()
    auto = call(f"{base}/s.bam", gtf, tmp_path / "auto", *low)
    assert auto.returncode == 0, auto.stderr
    assert "PARTP::ALK" not in (tmp_path / "auto" / "S1" / "S1.fusions.tsv").read_text()
    assert any("read over the network" in n and "partner_scan: yes" in n for n in notes(tmp_path / "auto"))
    assert "read over the network" in (tmp_path / "auto" / "S1" / "S1.report.html").read_text()
    sent_auto = server.sent("s.bam")
    forced = call(f"{base}/s.bam", gtf, tmp_path / "yes", *low, "--param", "partner_scan=yes")
    assert forced.returncode == 0, forced.stderr
    assert same_tables(tmp_path / "local", tmp_path / "yes")
    assert sent_auto < 0.5 * size < 0.9 * size < server.sent("s.bam") - sent_auto  # the pass read it all


def test_unplaced_unmapped_reads_of_a_remote_bam_are_read_only_when_asked(server, tmp_path):
    # single-end junction reads left unmapped without a position, at the end of the BAM
    root, base = server.root, server.base
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.unplaced(f"u{i}", [("chr4", 4120 + i, "+", 30 - i), ("chr2", 20000, "-", 150), ("chr2", 15100 - i, "-", 20 + i)])
    toy.write_bam(root / "s.bam")
    gtf = toy.write_gtf(root / "a.gtf")
    fasta = toy.write_fasta(tmp_path / "g.fa")
    known = tmp_path / "known.tsv"
    known.write_text("target\tfusion\tgene5\tgene3\ttumour_types\tsource\nALK\tPARTP::ALK\tPARTP\tALK\ttest\ttest\n")
    common = ("--fasta", str(fasta), "--known-partners", str(known), "--param", "min_fragments=2")
    local = call(str(root / "s.bam"), gtf, tmp_path / "local", *common)
    assert local.returncode == 0, local.stderr
    assert "PARTP::ALK" in (tmp_path / "local" / "S1" / "S1.fusions.tsv").read_text()
    auto = call(f"{base}/s.bam", gtf, tmp_path / "auto", *common)
    assert auto.returncode == 0, auto.stderr
    assert "PARTP::ALK" not in (tmp_path / "auto" / "S1" / "S1.fusions.tsv").read_text()
    assert any("3 unmapped reads without a position were not scanned" in n and "scan_unmapped: yes" in n
               for n in notes(tmp_path / "auto"))
    forced = call(f"{base}/s.bam", gtf, tmp_path / "yes", *common, "--param", "scan_unmapped=yes")
    assert forced.returncode == 0, forced.stderr
    assert same_tables(tmp_path / "local", tmp_path / "yes")


def test_url_helpers():
    assert is_url("https://x/y.bam") and is_url("s3://bucket/k.bam") and is_url("gs://b/k.cram")
    assert not is_url("/data/y.bam") and not is_url("y.bam") and not is_url(None)
    assert redact_url("https://u:p@host/a.bam?X-Amz-Signature=1") == "https://host/a.bam?<redacted>"
    assert redact_url("s3://KEY:SECRET:TOKEN@bucket/a.bam") == "s3://bucket/a.bam"
    assert redact_url("s3://bucket/a.bam") == "s3://bucket/a.bam" and redact_url("/a/b.bam") == "/a/b.bam"
    # URLs inside a text: a command line, an error message
    assert redact_url("--bam=https://u:p@h/a.bam?sig=x --sample S") == "--bam=https://h/a.bam?<redacted> --sample S"
    assert redact_url("could not open 'gs://u:tok@b/a.bam'") == "could not open 'gs://b/a.bam'"
    assert redact_url("https://h?sig=a@b") == "https://h?<redacted>"
    assert url_with_suffix("https://h/a.bam?sig=1", ".bai") == "https://h/a.bam.bai?sig=1"
    with pytest.raises(AlignmentFileError, match="CRAM needs its reference FASTA"):
        open_alignment("https://127.0.0.1:1/x.cram")


def test_a_url_is_not_indexed_here(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "imtfusion.cli", "index-bam", "--bam",
                           f"https://u:{SECRET}@host.org/a.bam", "--output", str(tmp_path / "a.bai")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and SECRET not in proc.stderr
    assert "https://host.org/a.bam: a BAM at a URL is not indexed here" in proc.stderr


def test_a_sample_sheet_keeps_urls_as_they_are(tmp_path):
    from imtfusion.samplesheet import read_sample_sheet

    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tbam\nA\thttps://host.org/data/A.bam\nB\tlocal/B.bam\n")
    a, b = read_sample_sheet(sheet, base_dir=tmp_path)
    assert a.bam == "https://host.org/data/A.bam" and b.bam == str(tmp_path / "local" / "B.bam")


def test_the_call_takes_a_url_with_credentials_from_the_sample_sheet(private_server, tmp_path):
    root, base = private_server.root, private_server.base
    fusion_bam(root / "s.bam")
    url = f"{base}/s.bam?token={SECRET}"
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"sample\tbam\tbam_index\nS1\t{url}\t{url_with_suffix(url, '.bai')}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "imtfusion.cli", "call", "--sample-sheet", str(sheet), "--gtf", str(root / "a.gtf"),
         "--sample", "S1", "--targets", *TARGETS, "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PARTP::ALK" in (tmp_path / "out" / "S1" / "S1.fusions.tsv").read_text()
    missing = subprocess.run(
        [sys.executable, "-m", "imtfusion.cli", "call", "--sample-sheet", str(sheet), "--gtf", str(root / "a.gtf"),
         "--sample", "S2", "--outdir", str(tmp_path / "out2")],
        capture_output=True, text=True,
    )
    assert missing.returncode == 1 and "no row for sample 'S2'" in missing.stderr


@pytest.mark.slow
def test_the_workflow_calls_remote_samples_and_writes_no_credentials(private_server, tmp_path):
    from test_workflow import read_tsv, run_snakemake

    root, base = private_server.root, private_server.base
    toy = fusion_toy()
    toy.write_bam(root / "s.bam")
    fasta = toy.write_fasta(tmp_path / "g.fa")
    pysam.faidx(str(fasta))
    wrong = "n0tTheT0ken"  # the second sample's URL carries a token the server refuses
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"sample\tbam\nS1\t{base}/s.bam?token={SECRET}\nS2\t{base}/s.bam?token={wrong}\n")
    outdir = tmp_path / "results"
    config = {"samples": str(sheet), "gtf": str(toy.write_gtf(tmp_path / "a.gtf")), "fasta": str(fasta),
              "outdir": str(outdir), "targets": TARGETS}
    work = tmp_path / "work"
    work.mkdir()
    proc = run_snakemake(work, config, "--printshellcmds", "--keep-going")
    assert proc.returncode != 0  # S2 failed, and the shell hears of it
    text = proc.stdout + proc.stderr
    assert "--sample-sheet" in text  # the URLs themselves are on no command line
    summary = {(r["sample"], r["target"]): r for r in read_tsv(outdir / "summary.tsv")}
    assert summary[("S1", "ALK")]["status"] == "detected"
    assert summary[("S2", "ALK")]["status"] == "failed"
    assert f"{base}/s.bam?<redacted>: reading the BAM was refused" in summary[("S2", "ALK")]["reason"]
    written = [p for d in (outdir, work) for p in d.rglob("*") if p.is_file()]
    assert any(p.name == "imtfusion_mqc.yaml" for p in written) and any(".snakemake" in p.parts for p in written)
    assert any(p.name == "S2.error.txt" for p in written)
    for secret in (SECRET, wrong):
        assert secret not in text
        for p in written:
            data = p.read_bytes() if p.suffix != ".bam" else pysam.view("-H", str(p)).encode()
            assert secret.encode() not in data, p


def test_the_local_proxy_answers_only_its_token_and_ends_when_stopped(server, tmp_path):
    import urllib.error
    import urllib.request

    from imtfusion import remotefile

    root, base = server.root, server.base
    bam = fusion_bam(root / "s.bam")
    proxy = remotefile.start_proxy(f"{base}/s.bam?token={SECRET}")
    try:
        assert SECRET not in proxy.url and proxy.url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(proxy.url, headers={"Range": "bytes=100-1099"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert resp.status == 206 and resp.read() == bam.read_bytes()[100:1100]
        other = proxy.url.rsplit("/", 2)[0] + "/guess/s.bam"  # another user's guess at the path
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(other, timeout=30)
        assert remotefile.origin_of(proxy.url) == f"{base}/s.bam?token={SECRET}"
    finally:
        proxy.stop()
    assert proxy.process.poll() is not None and remotefile.origin_of(proxy.url) == proxy.url
