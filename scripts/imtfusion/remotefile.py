"""A file at an http(s) URL read as a seekable binary file, by bounded range requests.

The bulk BGZF reader (:mod:`imtfusion.scan`) reads a target locus's compressed blocks
itself, from the first record's block on, much faster than htslib hands records over one
by one. Over HTTP it reads them through :class:`RangeFile`. A read where nothing is held
yet asks for ``FIRST_WINDOW`` bytes; each request that continues the previous one asks for
twice as many, up to ``MAX_WINDOW``: a small locus moves little more than its blocks, a
large one is read in few requests, and what is read past a locus's end is at most one
window. Bytes fetched are kept for the process (a locus read twice, for the evidence and
then for the supporting reads, moves its bytes once), at most ``MAX_HELD`` bytes.
Credentials in the URL (``user:password@``) go into an ``Authorization`` header; the
query string (a pre-signed URL) is kept as it is. S3 and GCS URLs are left to htslib.
"""

from __future__ import annotations

import base64
import bisect
import collections
import io
import urllib.error
import urllib.parse
import urllib.request

FIRST_WINDOW = 64 * 1024
MAX_WINDOW = 1024 * 1024
MAX_HELD = 256 * 1024 * 1024

# per URL: the fetched pieces as sorted, non-overlapping (start, bytes); and all pieces
# in the order fetched, the oldest dropped first beyond MAX_HELD
_HELD: dict[str, list[tuple[int, bytes]]] = {}
_FETCHED: "collections.deque[tuple[str, int, int]]" = collections.deque()
_HELD_TOTAL = 0
_SIZES: dict[str, int] = {}


def readable(url: str) -> bool:
    """Whether :class:`RangeFile` reads this URL (http or https)."""
    return url.lower().startswith(("http://", "https://"))


def _request(url: str, first: int, last: int) -> urllib.request.Request:
    parts = urllib.parse.urlsplit(url)
    headers = {"Range": f"bytes={first}-{last}"}
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        headers["Authorization"] = "Basic " + base64.b64encode(urllib.parse.unquote(userinfo).encode()).decode()
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return urllib.request.Request(clean, headers=headers)


def _fetch(url: str, first: int, size: int) -> bytes:
    """Bytes ``first`` .. ``first + size - 1`` of ``url`` (fewer at its end)."""
    try:
        with urllib.request.urlopen(_request(url, first, first + size - 1), timeout=120) as resp:
            if resp.status != 206:
                raise OSError(f"the server does not answer range requests (HTTP {resp.status})")
            total = resp.headers.get("Content-Range", "").rpartition("/")[2]
            if total.isdigit():
                _SIZES[url] = int(total)
            return resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # past the end
            return b""
        raise OSError(f"HTTP {exc.code}") from None


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
    """The bytes of ``url``, seekable and readable (``readinto``), fetched by growing windows."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.pos = 0
        self.window = FIRST_WINDOW
        self.next_fetch = -1  # where the previous request ended: a request starting there doubles the window

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
        want = self.window
        pieces = _HELD.get(self.url, [])
        i = bisect.bisect_right(pieces, pos, key=lambda p: p[0])
        if i < len(pieces):
            want = min(want, pieces[i][0] - pos)
        data = _fetch(self.url, pos, want)
        if not data:
            return False
        _hold(self.url, pos, data)
        self.next_fetch = pos + len(data)
        return True

    def readinto(self, buffer) -> int:
        """Up to ``len(buffer)`` bytes from the piece held at the position (fetched first
        if none is): fewer than asked is no end of file, 0 is."""
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        piece = self._piece_at(self.pos)
        if piece is None:
            if not self._fetch_at(self.pos):
                return 0
            piece = self._piece_at(self.pos)
            if piece is None:  # pragma: no cover - dropped at once (MAX_HELD below one window)
                return 0
        start, data = piece
        chunk = data[self.pos - start: self.pos - start + len(view)]
        view[: len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)
