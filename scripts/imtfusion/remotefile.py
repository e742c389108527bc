"""A file at an http(s) URL read as a seekable binary file, by bounded range requests.

The bulk BGZF reader (:mod:`imtfusion.scan`) reads a target locus's compressed blocks
itself, from the first record's block on, much faster than htslib hands records over one
by one. Over HTTP it reads them through :class:`RangeFile`: ``CHUNK`` bytes per request,
each chunk fetched once per process (a locus read twice, for the evidence and then for
the supporting reads, moves its bytes once), at most ``MAX_CHUNKS`` kept.
Credentials in the URL (``user:password@``) go into an ``Authorization`` header; the
query string (a pre-signed URL) is kept as it is. S3 and GCS URLs are left to htslib.
"""

from __future__ import annotations

import base64
import io
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict

CHUNK = 1024 * 1024
MAX_CHUNKS = 256  # 256 MB at most held
_CACHE: "OrderedDict[tuple[str, int], bytes]" = OrderedDict()
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


def _chunk(url: str, k: int) -> bytes:
    key = (url, k)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    with urllib.request.urlopen(_request(url, k * CHUNK, (k + 1) * CHUNK - 1), timeout=120) as resp:
        if resp.status != 206:
            raise OSError(f"the server does not answer range requests (HTTP {resp.status})")
        total = resp.headers.get("Content-Range", "").rpartition("/")[2]
        if total.isdigit():
            _SIZES[url] = int(total)
        data = resp.read()
    _CACHE[key] = data
    while len(_CACHE) > MAX_CHUNKS:
        _CACHE.popitem(last=False)
    return data


class RangeFile(io.RawIOBase):
    """The bytes of ``url``, seekable and readable (``readinto``), fetched by chunks."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.pos = 0

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

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view):
            k, off = divmod(self.pos, CHUNK)
            size = _SIZES.get(self.url)
            if size is not None and self.pos >= size:
                break
            try:
                data = _chunk(self.url, k)
            except urllib.error.HTTPError as exc:
                if exc.code == 416:  # past the end
                    break
                raise OSError(f"HTTP {exc.code}") from None
            piece = data[off: off + len(view) - done]
            if not piece:
                break
            view[done: done + len(piece)] = piece
            done += len(piece)
            self.pos += len(piece)
        return done
