"""Reading a BAM over the network: bytes moved and wall time against the local file.

  imtfusion benchmark remote --bam BAM --gtf GTF [--fasta FA] [--runs N] [--workdir DIR]
                             [--reader ranges|htslib]

Serves the BAM's folder from a web server with range support on 127.0.0.1 (in a process
of its own), calls the BAM once through its URL to count the bytes the server sent,
computes the compressed size of the target loci's BGZF blocks from the index (the chunks
of the bins overlapping each locus, as compressed byte ranges, merged), then times the
local and the remote call in turns (``--runs`` each) against a second server with the
system's socket buffers, counts what that one sent too, and prints medians and ratios and
whether every remote call's fusions.tsv is the local one's. Issue #19's bars: bytes <= 2x
the target loci's blocks, wall time <= 2x the local call. ``--reader htslib`` fetches the
file through htslib, as ``s3://`` and ``gs://`` URLs are.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Iterator, NamedTuple

from imtfusion.remotefile import byte_range

CHUNK = 16_384


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder with ``Range: bytes=a-b`` support (206). Sent in small pieces
    through a small socket buffer, so a client that has what it needs and closes the
    connection (htslib asks for open-ended ranges) stops the sending: what the log counts
    is what went over the wire, within a piece or two."""

    log: Path  # one line per response: path, range asked, bytes sent

    def log_message(self, *args):  # keep the test output quiet
        pass

    small_buffer = True  # for counting; a timing server keeps the system's socket buffers
    secret: str | None = None  # if set, only requests carrying it (?token=SECRET or a password) are served

    def _authorised(self) -> bool:
        if self.secret is None:
            return True
        if f"token={self.secret}" in urllib.parse.urlsplit(self.path).query.split("&"):
            return True
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            return base64.b64decode(auth[len("Basic "):]).decode().partition(":")[2] == self.secret
        return False

    def _record(self, status: int, asked: str, sent: int) -> None:
        with open(self.log, "a") as out:
            out.write(f"{self.path}\t{asked or '-'}\t{sent}\t{status}\n")

    def setup(self):
        super().setup()
        import socket

        if self.small_buffer:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)

    def do_GET(self):  # noqa: N802 - http.server's naming
        if not self._authorised():
            self.send_error(403, "Forbidden")
            self._record(403, self.headers.get("Range", ""), 0)
            return
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404, "File not found")
            self._record(404, self.headers.get("Range", ""), 0)
            return
        size = os.path.getsize(path)
        asked = self.headers.get("Range", "")
        start, end = byte_range(asked, size)
        if asked.startswith("bytes="):
            if start >= size:
                self.send_error(416, "Range not satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        sent = 0
        with open(path, "rb") as fh:
            fh.seek(start)
            left = end - start + 1
            try:
                while left > 0:
                    piece = fh.read(min(CHUNK, left))
                    self.wfile.write(piece)
                    sent += len(piece)
                    left -= len(piece)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        self._record(206 if asked.startswith("bytes=") else 200, asked, sent)


def _serve(root: str, log: str, port, small_buffer: bool = True, secret: str | None = None) -> None:
    class Handler(RangeHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

    Handler.log = Path(log)
    Handler.small_buffer = small_buffer
    Handler.secret = secret
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port.value = httpd.server_address[1]
    parent = os.getppid()

    def orphaned() -> None:  # the caller was killed without stopping the server: stop too
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    httpd.serve_forever()


class Response(NamedTuple):
    path: str
    asked: str
    sent: int
    status: int


class Served:
    """Where a running server serves from, its URL and its log of responses."""

    def __init__(self, root: Path, base: str, log: Path):
        self.root, self.base, self.log = root, base, log

    def settle(self, quiet: float = 0.2, most: float = 3.0) -> None:
        """Wait until the log has not grown for ``quiet`` seconds: a response is logged once
        its sending ended, a moment after the client closed the connection."""
        size, since, t0 = -1, time.monotonic(), time.monotonic()
        while time.monotonic() - t0 < most:
            now = self.log.stat().st_size if self.log.exists() else 0
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.02)

    def responses(self) -> list[Response]:
        """Every request answered so far: path (with its query), range asked, bytes sent, status."""
        self.settle()
        if not self.log.exists():
            return []
        return [Response(p, r, int(n), int(c)) for p, r, n, c in (line.split("\t") for line in self.log.read_text().splitlines())]

    def sent(self, name: str) -> int:
        """Bytes sent of the file ``name`` (its path without a query string)."""
        return sum(r.sent for r in self.responses() if r.path.split("?", 1)[0].endswith("/" + name))


@contextlib.contextmanager
def serve(root: Path, log: Path, small_buffer: bool = True, secret: str | None = None) -> Iterator[Served]:
    """Serve ``root`` on 127.0.0.1 while the block runs (a spawned process: htslib holds
    the interpreter while it reads, so one of its threads could not serve it). With
    ``small_buffer`` the socket buffer is one piece, so the log counts what the client
    took; without, the server sends as fast as the system lets it (for timing). With
    ``secret``, a request without ``token=SECRET`` in its query or SECRET as the password
    of its Basic authorisation is refused (403), as a private server would."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    port = ctx.Value("i", 0)
    proc = ctx.Process(target=_serve, args=(str(root), str(log), port, small_buffer, secret),
                       daemon=True)
    proc.start()
    try:
        for _ in range(200):
            if port.value:
                break
            time.sleep(0.05)
        if not port.value:
            raise RuntimeError("the test web server did not start")
        yield Served(Path(root), f"http://127.0.0.1:{port.value}", Path(log))
    finally:
        proc.terminate()
        proc.join(5)


def _index_chunks(index_path: str, bam_path: str) -> tuple[int, int, list[list[tuple[int, list, int, list]]]]:
    """The bins of a .bai or .csi: (min_shift, depth, per contig a list of (bin, chunks,
    loffset, linear index)); a .bai is a .csi with min_shift 14, depth 5 and a linear index."""
    import gzip
    import struct

    raw = Path(index_path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    at = 0

    def take(fmt: str):
        nonlocal at
        values = struct.unpack_from("<" + fmt, raw, at)
        at += struct.calcsize("<" + fmt)
        return values

    magic = raw[:4]
    at = 4
    if magic == b"BAI\x01":
        min_shift, depth, csi = 14, 5, False
    elif magic == b"CSI\x01":
        min_shift, depth, l_aux = take("iii")
        at += l_aux
        csi = True
    else:
        raise ValueError(f"{index_path}: neither a .bai nor a .csi")
    pseudo = ((1 << ((depth + 1) * 3)) - 1) // 7 + 1  # the metadata bin
    (n_ref,) = take("i")
    contigs = []
    for _ in range(n_ref):
        (n_bin,) = take("i")
        bins = []
        for _ in range(n_bin):
            if csi:
                bin_, loffset, n_chunk = take("IQi")
            else:
                (bin_, n_chunk), loffset = take("Ii"), 0
            chunks = [take("QQ") for _ in range(n_chunk)]
            if bin_ != pseudo:
                bins.append((bin_, chunks, loffset))
        linear = list(take(f"{take('i')[0]}Q")) if not csi else []
        contigs.append([(b, c, l, linear) for b, c, l in bins])
    return min_shift, depth, contigs


def _reg2bins(beg: int, end: int, min_shift: int, depth: int) -> set[int]:
    """htslib's hts_reg2bins: the bins that may hold records overlapping [beg, end)."""
    out, end = set(), end - 1
    t, s = 0, min_shift + depth * 3
    for level in range(depth + 1):
        b, e = t + (beg >> s), t + (end >> s)
        out.update(range(b, e + 1))
        t += 1 << (level * 3)
        s -= 3
    return out


def target_block_ranges(bam_path: str, loci: list[tuple[str, int, int]], index_path: str | None = None
                        ) -> list[tuple[int, int]]:
    """Compressed bytes of the BGZF blocks that the index names for ``loci`` (chrom,
    0-based start, end), as htslib's region query takes them: the chunks of the bins
    overlapping each locus that end past its smallest offset (the linear index of a .bai,
    the bins' loffset of a .csi), each chunk from its first block's start to its last
    block's end; merged, in file order, as (first byte, end)."""
    import pysam

    index_path = index_path or next(p for p in (bam_path + ".bai", bam_path + ".csi") if os.path.exists(p))
    min_shift, depth, contigs = _index_chunks(index_path, bam_path)
    with pysam.AlignmentFile(bam_path, index_filename=index_path) as bam:
        tids = {name: i for i, name in enumerate(bam.references)}
    spans = []
    for chrom, start, end in loci:
        bins = contigs[tids[chrom]]
        wanted = _reg2bins(start, end, min_shift, depth)
        if bins and bins[0][3]:  # .bai: the linear index at the locus's start (or before it)
            linear = bins[0][3]
            k = min(start >> 14, len(linear) - 1)
            while k > 0 and linear[k] == 0:
                k -= 1
            min_off = linear[k] if linear else 0
        else:  # .csi: loffset of the finest bin holding the start
            by_bin = {b: l for b, _, l, _ in bins}
            min_off, t, s = 0, 0, min_shift + depth * 3
            for level in range(depth + 1):
                b = t + (start >> s)
                if b in by_bin:
                    min_off = max(min_off, by_bin[b])
                t += 1 << (level * 3)
                s -= 3
        for b, chunks, _, _ in bins:
            if b in wanted:
                spans += [(beg, stop) for beg, stop in chunks if stop > min_off]
    with open(bam_path, "rb") as fh:
        def block_end(voffset: int) -> int:
            """Where the compressed block holding ``voffset`` ends (just its start if the chunk
            ends at a block boundary)."""
            coffset = voffset >> 16
            if not voffset & 0xFFFF:
                return coffset
            fh.seek(coffset + 16)
            return coffset + int.from_bytes(fh.read(2), "little") + 1

        ranges = sorted((beg >> 16, block_end(stop)) for beg, stop in spans)
    merged: list[tuple[int, int]] = []
    for s, e in ranges:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def target_block_bytes(bam_path: str, loci: list[tuple[str, int, int]], index_path: str | None = None) -> int:
    """Compressed bytes of the target loci's BGZF blocks (:func:`target_block_ranges`)."""
    return sum(e - s for s, e in target_block_ranges(bam_path, loci, index_path))


def _call(bam: str, args: argparse.Namespace, outdir: Path, reader: str = "ranges") -> float:
    cmd = [sys.executable, "-m", "imtfusion.cli", "call", "--bam", bam, "--gtf", args.gtf, "--sample", "R",
           "--outdir", str(outdir)] + (["--fasta", args.fasta] if args.fasta else [])
    # 'htslib': the remote file fetched through htslib, as s3:// and gs:// URLs are (imtfusion.remotefile)
    env = dict(os.environ, IMTFUSION_FETCH_WITH_HTSLIB="1") if reader == "htslib" else None
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"the call failed: {proc.stderr.strip()}")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bam", required=True, help="an indexed BAM (its folder is served)")
    parser.add_argument("--gtf", required=True, help="the GTF (or an index-gtf file)")
    parser.add_argument("--fasta", help="the genome FASTA (optional)")
    parser.add_argument("--runs", type=int, default=3, help="timed calls each, local and remote in turns (default 3)")
    parser.add_argument("--workdir", help="folder for the calls' outputs (default: a temporary one)")
    parser.add_argument("--reader", choices=("ranges", "htslib"), default="ranges",
                        help="how the remote file is fetched: 'ranges', by bounded range requests (http(s) URLs), "
                             "or 'htslib', through htslib's hFILE as s3:// and gs:// URLs are (default ranges)")


def main(args: argparse.Namespace) -> None:
    bam = Path(args.bam).resolve()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="imtfusion-remote-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "served.tsv"
    with serve(bam.parent, log) as served:
        url = f"{served.base}/{bam.name}"
        _call(url, args, work / "first", args.reader)  # one call to count what it moves
        moved = served.sent(bam.name)
        requests = len(served.responses())
        index_bytes = sum(r.sent for r in served.responses()) - moved
        data = json.loads((work / "first" / "R" / "R.fusions.json").read_text())
        loci = []
        for t in data["targets"]:
            chrom, span = t["locus"].rsplit(":", 1)
            s, e = span.split("-")
            loci.append((chrom, int(s) - 1, int(e)))
        blocks = target_block_bytes(str(bam), loci)
    # timed against a server that sends as fast as the system lets it (the counting
    # server's one-piece socket buffer throttles it)
    with serve(bam.parent, work / "timed.tsv", small_buffer=False) as timed:
        url = f"{timed.base}/{bam.name}"
        local, remote = [], []
        for i in range(args.runs):
            local.append(_call(str(bam), args, work / f"local{i}"))
            remote.append(_call(url, args, work / f"remote{i}", args.reader))
    lm, rm = statistics.median(local), statistics.median(remote)
    size = os.path.getsize(bam)
    same = all((work / f"{w}{i}" / "R" / "R.fusions.tsv").read_bytes() == (work / "local0" / "R" / "R.fusions.tsv").read_bytes()
               for w in ("local", "remote") for i in range(args.runs))
    same = same and (work / "first" / "R" / "R.fusions.tsv").read_bytes() == (work / "local0" / "R" / "R.fusions.tsv").read_bytes()
    lines = [
        f"BAM: {bam.name}, {size:,} bytes; target loci: {', '.join(t['locus'] for t in data['targets'])}; "
        f"remote file fetched by: {args.reader}",
        f"compressed bytes of the target loci's BGZF blocks (the index's chunks for the loci, merged): {blocks:,}",
        f"bytes of the BAM sent over loopback HTTP for one call: {moved:,} in {requests} requests (its index "
        f"{index_bytes:,} more); {moved / blocks:.2f}x the blocks (issue #19's bar: <= 2x), "
        f"{moved / size:.1%} of the file",
        f"bytes of the BAM sent per call by the timing server (the system's socket buffers: what it had written "
        f"when the client closed a connection, read or not): {timed.sent(bam.name) / args.runs:,.0f}, "
        f"{timed.sent(bam.name) / args.runs / blocks:.2f}x the blocks",
        f"wall time, median of {args.runs} in turns: local {lm:.2f} s, remote {rm:.2f} s, remote/local {rm / lm:.2f}x "
        "(bar: <= 2x)",
        f"fusions.tsv of every remote call identical to the local call's: {'yes' if same else 'NO'}",
    ]
    print("\n".join(lines))
