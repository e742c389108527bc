"""A remote BAM read by bounded range requests, each byte fetched once per call.

htslib reads a URL with open-ended range requests (``Range: bytes=N-``) and drops the
connection when it has what it wants; everything the server had sent by then (the socket
buffers on both sides: megabytes on a fast link) is moved for nothing, and each locus
htslib reads again (pile-up, mates) is fetched again. So a remote BAM is not handed to
htslib directly: :func:`start_proxy` serves it on 127.0.0.1 from a process of its own,
which answers htslib's requests from bytes it fetches from the real URL by bounded ranges
and keeps (at most ``MAX_HELD``), and sends through a small socket buffer, so that it
fetches only as far as htslib reads. The bulk BGZF reader (:mod:`imtfusion.scan`) reads
the target loci through the same proxy with :class:`RangeFile`.

Fetching by windows: a read where nothing is held asks for ``FIRST_WINDOW`` bytes; each
request that continues the previous one asks for twice as many, up to ``MAX_WINDOW``: a
small locus moves little more than its blocks, a large one is read in few requests, and
what is read past a locus's end is at most one window. http(s) URLs are fetched with
``urllib`` (credentials in the URL, ``user:password@``, go into an ``Authorization``
header; a query string, a pre-signed URL's, is kept); other schemes (``s3://``,
``gs://``, ``ftp://``) through htslib's ``hFILE`` (which signs S3 and GCS requests with
the credentials of the environment), sequential windows continuing one transfer.

The origin URL reaches the proxy process on its standard input, never on a command line.
"""

from __future__ import annotations

import base64
import bisect
import collections
import http.client
import http.server
import io
import os
import secrets
import select
import socket
import subprocess
import sys
import threading
import urllib.parse

FIRST_WINDOW = 64 * 1024
MAX_WINDOW = 1024 * 1024
MAX_HELD = 256 * 1024 * 1024
PROXY_SEND_BUFFER = 64 * 1024  # the proxy stays this close behind what htslib has read
PROXY_START_SECONDS = 30

# per URL: the fetched pieces as sorted, non-overlapping (start, bytes); and all pieces
# in the order fetched, the oldest dropped first beyond MAX_HELD
_HELD: dict[str, list[tuple[int, bytes]]] = {}
_FETCHED: "collections.deque[tuple[str, int, int]]" = collections.deque()
_HELD_TOTAL = 0
_SIZES: dict[str, int] = {}
_HFILES: dict[str, object] = {}  # per non-http URL: one open hFILE, read on where the last window ended
_LOCK = threading.RLock()  # the proxy serves requests in threads


def readable(url: str) -> bool:
    """Whether ``url`` is fetched with urllib (http or https) rather than through htslib.
    The environment variable ``IMTFUSION_FETCH_WITH_HTSLIB=1`` makes http(s) go through
    htslib too: how ``s3://`` and ``gs://`` are read, measured and tested over HTTP
    (``imtfusion benchmark remote --reader htslib``, tests/test_remote.py)."""
    return url.lower().startswith(("http://", "https://")) and not os.environ.get("IMTFUSION_FETCH_WITH_HTSLIB")


_CONNECTIONS: dict[tuple[str, str], http.client.HTTPConnection] = {}  # kept alive between requests
_MOVED: dict[str, str] = {}  # URL -> where it redirected to (a data portal's signed URL): asked there next


def _fetch_http(url: str, first: int, size: int) -> bytes:
    """One range request over a connection kept open (one per host: a TLS handshake per
    window would cost more than the window); redirects are followed."""
    target = _MOVED.get(url, url)
    for _ in range(6):
        parts = urllib.parse.urlsplit(target)
        headers = {"Range": f"bytes={first}-{first + size - 1}"}
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, netloc = netloc.rsplit("@", 1)
            headers["Authorization"] = "Basic " + base64.b64encode(urllib.parse.unquote(userinfo).encode()).decode()
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        key = (parts.scheme.lower(), netloc)
        for attempt in (0, 1):  # a kept connection the server has closed meanwhile: once more on a new one
            conn = _CONNECTIONS.get(key)
            if conn is None:
                kind = http.client.HTTPSConnection if key[0] == "https" else http.client.HTTPConnection
                conn = _CONNECTIONS[key] = kind(netloc, timeout=120)
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                _CONNECTIONS.pop(key, None)
                if attempt:
                    raise
        if resp.will_close:
            conn.close()
            _CONNECTIONS.pop(key, None)
        if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
            target = urllib.parse.urljoin(target, resp.getheader("Location"))
            _MOVED[url] = target
            continue
        if resp.status == 416:  # past the end
            return b""
        if resp.status != 206:
            raise OSError(f"HTTP {resp.status}" if resp.status >= 400 else
                          f"the server does not answer range requests (HTTP {resp.status})")
        total = (resp.getheader("Content-Range") or "").rpartition("/")[2]
        if total.isdigit():
            _SIZES[url] = int(total)
        return data
    raise OSError("too many redirects")


def _fetch_htslib(url: str, first: int, size: int) -> bytes:
    from pysam.libchtslib import HFile

    handle = _HFILES.get(url)
    if handle is None:
        handle = _HFILES[url] = HFile(url)
        _SIZES[url] = handle.seek(0, io.SEEK_END)
    if handle.tell() != first:
        handle.seek(first)
    return handle.read(size)


def _fetch(url: str, first: int, size: int) -> bytes:
    """Bytes ``first`` .. ``first + size - 1`` of ``url`` (fewer at its end)."""
    return _fetch_http(url, first, size) if readable(url) else _fetch_htslib(url, first, size)


def size_of(url: str) -> int:
    """The size of the remote file (one byte fetched if not known yet)."""
    with _LOCK:
        if url not in _SIZES:
            _fetch(url, 0, 1)
        return _SIZES[url]


def _hold(url: str, start: int, data: bytes) -> None:
    global _HELD_TOTAL
    bisect.insort(_HELD.setdefault(url, []), (start, data), key=lambda p: p[0])
    _FETCHED.append((url, start, len(data)))
    _HELD_TOTAL += len(data)
    while _HELD_TOTAL > MAX_HELD and len(_FETCHED) > 1:
        old_url, old_start, size = _FETCHED.popleft()
        pieces = _HELD[old_url]
        pieces.pop(bisect.bisect_left(pieces, old_start, key=lambda p: p[0]))
        _HELD_TOTAL -= size


def held_bytes(url: str) -> int:
    """Bytes of ``url`` fetched and kept so far (for tests and benchmarks)."""
    return sum(len(d) for _, d in _HELD.get(url, ()))


class RangeFile(io.RawIOBase):
    """The bytes of ``url``, seekable and readable (``readinto``), fetched by growing
    windows. With ``hold`` (the default) what is fetched is kept for the process; without
    (a URL of this process's own proxy, which keeps it), only the last window."""

    def __init__(self, url: str, hold: bool = True):
        super().__init__()
        self.url = url
        self.hold = hold
        self.pos = 0
        self.window = FIRST_WINDOW
        self.next_fetch = -1  # where the previous request ended: a request starting there doubles the window
        self.upto = -1  # with bounded(): fetch up to here in one request
        self.last: tuple[int, bytes] | None = None

    def bounded(self, end: int) -> None:
        """The caller will read up to ``end`` (exclusive): fetch that much at once."""
        self.upto = end

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self.pos = offset
        elif whence == io.SEEK_CUR:
            self.pos += offset
        else:
            raise OSError("seeking from the end of a remote file is not supported")
        return self.pos

    def _piece_at(self, pos: int) -> tuple[int, bytes] | None:
        if self.last is not None and self.last[0] <= pos < self.last[0] + len(self.last[1]):
            return self.last
        if not self.hold:
            return None
        pieces = _HELD.get(self.url, [])
        i = bisect.bisect_right(pieces, pos, key=lambda p: p[0]) - 1
        if i >= 0 and pieces[i][0] <= pos < pieces[i][0] + len(pieces[i][1]):
            return pieces[i]
        return None

    def _fetch_at(self, pos: int) -> bool:
        """Fetch a window from ``pos`` (up to the next piece held); False at the end."""
        size = _SIZES.get(self.url)
        if size is not None and pos >= size:
            return False
        if pos == self.next_fetch:
            self.window = min(MAX_WINDOW, self.window * 2)
        else:
            self.window = FIRST_WINDOW
        want = max(self.window, self.upto - pos)
        if self.hold:
            pieces = _HELD.get(self.url, [])
            i = bisect.bisect_right(pieces, pos, key=lambda p: p[0])
            if i < len(pieces):
                want = min(want, pieces[i][0] - pos)
        data = _fetch(self.url, pos, want)
        if not data:
            return False
        if self.hold:
            _hold(self.url, pos, data)
        self.last = (pos, data)
        self.next_fetch = pos + len(data)
        return True

    def readinto(self, buffer) -> int:
        """Up to ``len(buffer)`` bytes from the piece at the position (fetched first if none
        is held): fewer than asked is no end of file, 0 is."""
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        with _LOCK:
            piece = self._piece_at(self.pos)
            if piece is None:
                if not self._fetch_at(self.pos):
                    return 0
                piece = self._piece_at(self.pos)
                if piece is None:  # pragma: no cover - fetched and dropped at once
                    return 0
        start, data = piece
        chunk = data[self.pos - start: self.pos - start + len(view)]
        view[: len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)


# -- the proxy ------------------------------------------------------------------------

_PROXIED: dict[str, str] = {}  # proxy URL -> origin URL, for this process's proxies


class Proxy:
    """A running proxy of one remote file; ``url`` is where htslib reads it."""

    def __init__(self, origin: str):
        self.origin = origin
        # the same package, wherever it was imported from
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH")))))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imtfusion.remotefile"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, text=True,
        )
        # only requests naming this token are answered: other users of the machine cannot
        # read the file through the proxy without the credentials
        token = secrets.token_urlsafe(16)
        self.process.stdin.write(f"{origin}\n{token}\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], PROXY_START_SECONDS)
        port = self.process.stdout.readline().strip() if ready else ""
        if not port.isdigit():
            self.stop()
            raise OSError("the local proxy of the remote file did not start")
        name = urllib.parse.urlsplit(origin).path.rsplit("/", 1)[-1] or "file"
        self.url = f"http://127.0.0.1:{port}/{token}/{urllib.parse.quote(name)}"
        _PROXIED[self.url] = origin

    def stop(self) -> None:
        _PROXIED.pop(getattr(self, "url", ""), None)
        if self.process.poll() is None:
            self.process.stdin.close()  # the proxy ends when its standard input does
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.process.kill()
                self.process.wait()


def start_proxy(origin: str) -> Proxy:
    """Serve ``origin`` on 127.0.0.1 (see the module's docstring) until :meth:`Proxy.stop`
    or the end of this process."""
    return Proxy(origin)


def origin_of(url: str) -> str:
    """The remote URL behind one of this process's proxies (else ``url`` itself)."""
    return _PROXIED.get(url, url)


def open_url(url: str) -> io.RawIOBase:
    """A seekable binary file of the remote ``url`` (one of this process's proxies: the
    proxy holds what is fetched)."""
    return RangeFile(url, hold=url not in _PROXIED)


def byte_range(asked: str, size: int) -> tuple[int, int]:
    """The first and last byte an HTTP ``Range`` header asks of a file of ``size`` bytes
    (``bytes=A-B``, ``bytes=A-``, ``bytes=-N``); the whole file without one. A range
    starting at or past ``size`` is unsatisfiable (416): the caller refuses it."""
    if not asked.startswith("bytes="):
        return 0, size - 1
    a, _, b = asked[len("bytes="):].partition("-")
    start = int(a) if a else max(0, size - int(b))
    end = min(int(b), size - 1) if a and b else size - 1
    return start, end


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    origin = ""
    token = ""

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        if not self.token or not self.path.startswith(f"/{self.token}/"):
            self.send_error(404, "Not found")
            return
        try:
            size = size_of(self.origin)
        except OSError as exc:
            self.send_error(502, f"the remote file cannot be read ({exc})")
            return
        asked = self.headers.get("Range", "")
        start, end = byte_range(asked, size)
        if asked.startswith("bytes=") and start >= size:
            self.send_error(416, "Range not satisfiable")
            return
        source = RangeFile(self.origin)
        source.seek(start)
        piece_size = FIRST_WINDOW
        if asked.startswith("bytes=") and not asked.rstrip().endswith("-"):
            source.bounded(end + 1)  # a bounded request (the bulk reader's): fetched in one
            piece_size = end - start + 1
        else:  # htslib's open-ended request: fetch only as far as it reads
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PROXY_SEND_BUFFER)
        try:
            first = source.read(min(piece_size, end - start + 1))
        except OSError as exc:
            self.send_error(502, f"the remote file cannot be read ({exc})")
            return
        self.send_response(206 if asked else 200)
        if asked:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        left = end - start + 1
        try:
            piece = first
            while piece:
                self.wfile.write(piece)
                left -= len(piece)
                piece = source.read(min(piece_size, left)) if left > 0 else b""
        except (BrokenPipeError, ConnectionResetError):  # htslib has what it wanted
            pass
        except OSError:  # the remote file failed mid-way: the client sees a short answer
            pass
        self.close_connection = True


def _proxy_main() -> None:
    _ProxyHandler.origin = sys.stdin.readline().strip()
    _ProxyHandler.token = sys.stdin.readline().strip()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
    httpd.daemon_threads = True
    print(httpd.server_address[1], flush=True)

    def until_stdin_ends() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=until_stdin_ends, daemon=True).start()
    httpd.serve_forever()


if __name__ == "__main__":
    _proxy_main()
