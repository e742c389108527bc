"""Reading a BAM over the network: bytes moved and wall time against the local file.

  imtfusion benchmark remote --bam BAM --gtf GTF [--fasta FA] [--runs N] [--workdir DIR]

Serves the BAM's folder from a web server with range support on 127.0.0.1 (in a process
of its own), calls the BAM once through its URL to count the bytes the server sent, adds
up the compressed size of the BGZF blocks of the target loci (from the first and last
record of each locus, read through the index), then times the local and the remote call
in turns (``--runs`` each) and prints medians and ratios: issue #19's bars are bytes <=
2x the target loci's blocks and wall time <= 2x the local call.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

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

    def setup(self):
        super().setup()
        import socket

        if self.small_buffer:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404, "File not found")
            return
        size = os.path.getsize(path)
        start, end = 0, size - 1
        asked = self.headers.get("Range", "")
        if asked.startswith("bytes="):
            a, _, b = asked[len("bytes="):].partition("-")
            start = int(a) if a else max(0, size - int(b))
            end = min(int(b), size - 1) if a and b else size - 1
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
        with open(self.log, "a") as out:
            out.write(f"{self.path}\t{asked or '-'}\t{sent}\n")


def _serve(root: str, log: str, port, small_buffer: bool = True) -> None:
    class Handler(RangeHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

    Handler.log = Path(log)
    Handler.small_buffer = small_buffer
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port.value = httpd.server_address[1]
    httpd.serve_forever()


class Served:
    """Where a running server serves from, its URL and its log of responses."""

    def __init__(self, root: Path, base: str, log: Path):
        self.root, self.base, self.log = root, base, log

    def responses(self) -> list[tuple[str, str, int]]:
        if not self.log.exists():
            return []
        return [(p, r, int(n)) for p, r, n in (line.split("\t") for line in self.log.read_text().splitlines())]


@contextlib.contextmanager
def serve(root: Path, log: Path, small_buffer: bool = True) -> Iterator[Served]:
    """Serve ``root`` on 127.0.0.1 while the block runs (a spawned process: htslib holds
    the interpreter while it reads, so one of its threads could not serve it). With
    ``small_buffer`` the socket buffer is one piece, so the log counts what the client
    took; without, the server sends as fast as the system lets it (for timing)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    port = ctx.Value("i", 0)
    proc = ctx.Process(target=_serve, args=(str(root), str(log), port, small_buffer), daemon=True)
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


def target_block_bytes(bam_path: str, loci: list[tuple[str, int, int]]) -> int:
    """Compressed bytes of the BGZF blocks holding the records of ``loci`` (chrom,
    0-based start, end): from each locus's first record's block to the end of its last
    record's block (at most 64 kB past the last block start), overlaps counted once."""
    import pysam

    spans = []
    with pysam.AlignmentFile(bam_path) as bam:
        for chrom, start, end in loci:
            first = last = None
            it = bam.fetch(chrom, start, end)
            for _ in it:
                offset = bam.tell() >> 16
                first = offset if first is None else first
                last = offset
            if first is not None:
                spans.append((first, last + 65_536))
    spans.sort()
    total, cur = 0, None
    for s, e in spans:
        if cur and s <= cur[1]:
            cur = (cur[0], max(cur[1], e))
        else:
            if cur:
                total += cur[1] - cur[0]
            cur = (s, e)
    if cur:
        total += cur[1] - cur[0]
    return total


def _call(bam: str, args: argparse.Namespace, outdir: Path) -> float:
    cmd = [sys.executable, "-m", "imtfusion.cli", "call", "--bam", bam, "--gtf", args.gtf, "--sample", "R",
           "--outdir", str(outdir)] + (["--fasta", args.fasta] if args.fasta else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
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


def main(args: argparse.Namespace) -> None:
    bam = Path(args.bam).resolve()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="imtfusion-remote-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "served.tsv"
    with serve(bam.parent, log) as served:
        url = f"{served.base}/{bam.name}"
        _call(url, args, work / "first")  # one call to count what it moves
        moved = sum(n for p, _, n in served.responses() if p.endswith(bam.name))
        index_bytes = sum(n for p, _, n in served.responses() if not p.endswith(bam.name))
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
            remote.append(_call(url, args, work / f"remote{i}"))
    lm, rm = statistics.median(local), statistics.median(remote)
    size = os.path.getsize(bam)
    lines = [
        f"BAM: {bam.name}, {size:,} bytes; target loci: {', '.join(t['locus'] for t in data['targets'])}",
        f"compressed bytes of the target loci's BGZF blocks: {blocks:,}",
        f"bytes of the BAM sent over loopback HTTP for one call: {moved:,} (index {index_bytes:,} more); "
        f"{moved / blocks:.2f}x the blocks, {moved / size:.1%} of the file",
        f"wall time, median of {args.runs} in turns: local {lm:.2f} s, remote {rm:.2f} s, remote/local {rm / lm:.2f}x",
    ]
    print("\n".join(lines))
