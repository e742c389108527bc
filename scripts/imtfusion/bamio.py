"""Opening alignment files safely: every problem becomes an actionable error."""

from __future__ import annotations

import errno
import os
import re
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import pysam

from imtfusion.errors import AlignmentFileError, AlignmentFileNotIndexedError

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")

#: URL schemes htslib reads (through the index, with range requests): web servers and
#: object stores; credentials come from the environment only (see the README).
REMOTE_SCHEMES = ("http://", "https://", "ftp://", "s3://", "s3+http://", "s3+https://", "gs://", "gs+http://",
                  "gs+https://")
# a URL in a text (an error message, a command line): up to white space or a quote
_URL_IN_TEXT = re.compile(r"\b(?:https?|ftp|s3(?:\+https?)?|gs(?:\+https?)?)://[^\s'\"`<>]+", re.IGNORECASE)
_USERINFO = re.compile(r"^([a-z0-9+.-]+://)[^/?#]*@", re.IGNORECASE)


def is_url(path: str | Path | None) -> bool:
    """Whether ``path`` names a remote file htslib reads (http(s), ftp, s3, gs)."""
    return isinstance(path, str) and path.lower().startswith(REMOTE_SCHEMES)


def _redact_one(url: str) -> str:
    url = _USERINFO.sub(r"\1", url)
    return url.split("?", 1)[0] + ("?<redacted>" if "?" in url else "")


def redact_url(text: str | Path | None) -> str:
    """``text`` with what the URLs in it may carry of credentials removed: a
    ``user:password@`` part (for s3:// also ``ID:SECRET:TOKEN@``) and the query string
    (pre-signed URLs carry their signature there), which becomes ``?<redacted>``. Every
    place that writes a BAM's name (report, JSON, VCF, command line, log and error lines)
    uses it."""
    if text is None:
        return ""
    return _URL_IN_TEXT.sub(lambda m: _redact_one(m.group(0)), str(text))


def url_with_suffix(url: str, suffix: str) -> str:
    """``url`` with ``suffix`` added to its path (before a query string, which is kept):
    where an index next to a remote BAM is, as htslib looks for it."""
    base, sep, query = url.partition("?")
    return base + suffix + sep + query


@dataclass(frozen=True)
class AlignmentInfo:
    path: str
    index: str
    aligner: str  # from the @PG header lines
    sorted_by: str
    contig_lengths: dict[str, int]
    has_chimeric_options: bool  # STAR run with --chimOutType WithinBAM, as far as @PG says
    remote: bool = False  # read over the network (a URL); path and index are then shown redacted


def find_index(path: Path, index: str | Path | None) -> Path | None:
    if index:
        return Path(index)
    candidates = [Path(str(path) + ".bai"), path.with_suffix(".bai"), Path(str(path) + ".csi"), Path(str(path) + ".crai")]
    for c in candidates:
        if c.exists():
            return c
    return None


def first_unsorted(bam: str | Path) -> str | None:
    """Where the BAM's records go out of coordinate order, if they do (read from the start,
    without an index: ``imtfusion index-bam`` says why a BAM cannot be indexed)."""
    try:
        with pysam.AlignmentFile(str(bam), "rb", check_sq=False) as handle:
            last = (-1, -1)
            for n, read in enumerate(handle.fetch(until_eof=True), start=1):
                tid = read.reference_id if read.reference_id >= 0 else 1 << 30
                here = (tid, read.reference_start)
                if here < last:
                    return f"record {n} ({read.query_name}) comes after a later position"
                last = here
    except (OSError, ValueError):
        return None
    return None


def check_bam_file(path: Path) -> bool:
    """Cheap checks before pysam sees the file; returns whether it is a CRAM."""
    if not path.exists():
        raise AlignmentFileError(f"BAM not found: {path}; check the 'bam' column of the sample sheet")
    if not os.access(path, os.R_OK):
        raise AlignmentFileError(f"{path}: permission denied; make the BAM readable for this user")
    if not path.is_file():
        raise AlignmentFileError(f"{path}: not a file (a directory?); give the path of the BAM file itself")
    if path.stat().st_size == 0:
        raise AlignmentFileError(f"{path}: the file is empty (0 bytes); re-create or re-copy the BAM")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    is_cram = magic == b"CRAM"
    if not is_cram and magic[:2] != b"\x1f\x8b":
        raise AlignmentFileError(
            f"{path}: not a BAM or CRAM file (it does not start with a BGZF/CRAM header); "
            "give the coordinate-sorted BAM, not SAM or FASTQ"
        )
    if not is_cram:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - len(BGZF_EOF)))
            if fh.read() != BGZF_EOF:
                raise AlignmentFileError(
                    f"{path}: the BAM is truncated (no BGZF end-of-file block); the copy or the "
                    "alignment job did not finish: re-copy or re-create it"
                )
    return is_cram


# errno values of htslib's network layer (hfile_libcurl) when the server cannot be reached
_UNREACHABLE = {
    errno.ECONNREFUSED: "the connection was refused",
    errno.EDESTADDRREQ: "the host name could not be resolved",  # libcurl's 'could not resolve host'
    errno.EHOSTUNREACH: "the host cannot be reached",
    errno.ENETUNREACH: "the network cannot be reached",
    errno.ETIMEDOUT: "the connection timed out",
    errno.ECONNRESET: "the connection was reset",
}
_DENIED = (errno.EACCES, errno.EPERM)  # HTTP 403 and 401
_INDEX_GIVEN = "give the index with --bam-index (the sample sheet's bam_index column), a path or a URL"


def _credentials_hint(url: str) -> str:
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("s3"):
        return ("set the credentials in the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
                "AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE; S3 also answers 403 for a missing object")
    if scheme.startswith("gs"):
        return "set an access token in the environment variable GCS_OAUTH_TOKEN (`gcloud auth print-access-token`)"
    return ("check that the URL is right and still valid (a pre-signed URL expires and signs one file only) and "
            "that this server lets you read it")


def _network_error(url: str, exc: OSError, what: str) -> AlignmentFileError:
    """One line on why ``url`` (``what``: 'the BAM' or 'the index of ...') could not be read."""
    shown = redact_url(url)
    index = what != "the BAM"
    if exc.errno == errno.ENOENT:
        fix = f"check the URL, or {_INDEX_GIVEN}" if index else "check the URL"
        return AlignmentFileError(f"{shown}: {what} is not there (HTTP 404 or no such object); {fix}")
    if exc.errno in _DENIED:
        fix = f"; or {_INDEX_GIVEN}" if index else ""
        return AlignmentFileError(
            f"{shown}: reading {what} was refused (HTTP 401/403); {_credentials_hint(url)}{fix}"
        )
    if exc.errno in _UNREACHABLE:
        return AlignmentFileError(
            f"{shown}: the server cannot be reached ({_UNREACHABLE[exc.errno]}); check the host name in the URL, "
            "that the server is up and that this machine can reach it (a proxy is set with https_proxy)"
        )
    reason = redact_url(os.strerror(exc.errno) if exc.errno else str(exc))
    return AlignmentFileError(f"{shown}: {what} cannot be read over the network ({reason}); check the URL")


def _read_remote(url: str) -> bytes:
    """The whole of a (small) remote file, through htslib (which has the credentials)."""
    from pysam.libchtslib import HFile

    handle = HFile(url)
    try:
        return handle.read()
    finally:
        handle.close()


def _probe(url: str) -> OSError | None:
    """Why ``url`` cannot be opened, or None when it can."""
    from pysam.libchtslib import HFile

    try:
        HFile(url).close()
    except OSError as exc:
        return exc
    return None


def _remote_index(url: str, index: str | Path | None, is_cram: bool, scratch: str) -> tuple[str, str]:
    """The index of the BAM at ``url`` as a local file in ``scratch`` (fetched once: given,
    else URL.bai, URL.csi, for a CRAM URL.crai, tried in turn) and its name as reports show
    it. An index that cannot be read is one line naming it; when none is found next to the
    BAM, the BAM itself is tried first, so that a wrong URL is said to be one."""
    shown = redact_url(url)
    if index and not is_url(str(index)):
        local = Path(index)
        if not local.is_file():
            raise AlignmentFileNotIndexedError(f"{shown}: its index {index} does not exist; {_INDEX_GIVEN}")
        return str(local.resolve()), str(index)
    candidates = [str(index)] if index else [url_with_suffix(url, s) for s in ((".crai",) if is_cram else (".bai", ".csi"))]
    refused: list[tuple[str, OSError]] = []
    for candidate in candidates:
        try:
            data = _read_remote(candidate)
        except OSError as exc:
            if exc.errno in _UNREACHABLE and not index:  # the BAM's server
                raise _network_error(url, exc, "the BAM") from None
            if exc.errno in _UNREACHABLE or index:
                problem = _probe(url)
                if problem is not None:
                    raise _network_error(url, problem, "the BAM") from None
                raise _network_error(candidate, exc, f"the index of {shown}") from None
            refused.append((candidate, exc))
            continue
        suffix = next((s for s in (".bai", ".csi", ".crai") if candidate.split("?", 1)[0].endswith(s)),
                      ".crai" if is_cram else ".bai")
        local = Path(scratch) / ("index" + suffix)
        local.write_bytes(data)
        return str(local), redact_url(candidate)
    problem = _probe(url)
    if problem is not None:
        raise _network_error(url, problem, "the BAM") from None
    for candidate, exc in refused:
        if exc.errno != errno.ENOENT:
            raise _network_error(candidate, exc, f"the index of {shown}") from None
    tried = " or ".join(redact_url(c) for c in candidates)
    raise AlignmentFileNotIndexedError(
        f"{shown}: no index next to it ({tried} not found); create one where the BAM is stored "
        f"(`samtools index`), or {_INDEX_GIVEN}"
    )


def _open_remote(url: str, index: str | Path | None, reference: str | None, threads: int) -> tuple[pysam.AlignmentFile, str]:
    """A BAM/CRAM at a URL, opened through its index (given, or found next to it: see
    :func:`_remote_index`), read by htslib with range requests. htslib's own messages
    (which name the URL as given) are kept quiet; every error is one line naming the URL
    redacted and what to do."""
    shown = redact_url(url)
    is_cram = url.split("?", 1)[0].lower().endswith(".cram")
    if is_cram and reference is None:
        raise AlignmentFileError(
            f"{shown}: a CRAM needs its reference FASTA to be decoded; give it with --fasta (config key 'fasta')"
        )
    before = pysam.set_verbosity(0)
    try:
        # the index is fetched into a folder of this call's own (htslib would save it into
        # the working directory, and take a stale file of that name there as the index)
        with tempfile.TemporaryDirectory(prefix="imtfusion-index-") as scratch:
            local_index, shown_index = _remote_index(url, index, is_cram, scratch)
            # htslib reads the file through a local proxy that fetches by bounded ranges and
            # keeps what it fetched (imtfusion.remotefile); directly if it cannot start
            from imtfusion import remotefile  # (http.client and http.server: only for a URL)

            try:
                proxy = remotefile.start_proxy(url)
            except OSError:
                proxy = None
            try:
                bam = _RemoteAlignmentFile(proxy.url if proxy else url, "rc" if is_cram else "rb",
                                           index_filename=local_index,
                                           reference_filename=os.path.abspath(reference) if is_cram else None,
                                           threads=threads, require_index=True)
            except (OSError, ValueError) as exc:
                if proxy:
                    proxy.stop()
                problem = _probe(url)
                if problem is not None:
                    raise _network_error(url, problem, "the BAM") from None
                reason = redact_url(str(exc))
                raise AlignmentFileError(
                    f"{shown}: cannot be read as a BAM/CRAM with the index {shown_index} ({reason}); check that the "
                    "URL is a coordinate-sorted BAM or CRAM and the index is that file's"
                ) from None
    finally:
        pysam.set_verbosity(before)
    if proxy:
        bam.ends_with(proxy.stop)
    return bam, shown_index


class _RemoteAlignmentFile(pysam.AlignmentFile):
    """An AlignmentFile read through a local proxy, which stops when the file is closed
    (or dropped)."""

    def ends_with(self, stop) -> None:
        self._stop = weakref.finalize(self, stop)

    def close(self) -> None:
        super().close()
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop()


def _filename(bam: pysam.AlignmentFile) -> str:
    """The name the file was opened by: a URL, not the local proxy htslib reads it through."""
    name = bam.filename.decode() if isinstance(bam.filename, bytes) else str(bam.filename)
    if not is_url(name):  # a local file is nobody's proxy
        return name
    from imtfusion import remotefile

    return remotefile.origin_of(name)


def is_remote(bam: pysam.AlignmentFile) -> bool:
    """Whether an opened file is read over the network."""
    return is_url(_filename(bam))


def bam_name(bam: pysam.AlignmentFile) -> str:
    """The file's name as messages show it (a URL redacted)."""
    return redact_url(_filename(bam))


def open_alignment(path: str | Path, index: str | Path | None = None, reference: str | None = None,
                   threads: int = 1) -> tuple[pysam.AlignmentFile, AlignmentInfo]:
    """Open a coordinate-sorted, indexed BAM/CRAM for region queries (a local path or a
    URL, see :data:`REMOTE_SCHEMES`)."""
    if is_url(str(path)):
        bam, shown_index = _open_remote(str(path), index, reference, threads)
        return bam, _describe(bam, redact_url(str(path)), shown_index, remote=True)
    path = Path(path)
    is_cram = check_bam_file(path)
    idx = find_index(path, index)
    if idx is None:
        raise AlignmentFileNotIndexedError(
            f"{path}: no index (.bai/.csi) found next to the BAM; create one with `samtools index {path}`, "
            f"or, where the BAM's folder is read-only, `imtfusion index-bam --bam {path} --output DIR/{path.name}.bai` "
            "and pass it with --bam-index DIR/... (the Snakemake workflow does this into the results folder)"
        )
    if not idx.exists():
        raise AlignmentFileNotIndexedError(f"{path}: the index {idx} does not exist; give an existing index")
    if idx.stat().st_mtime < path.stat().st_mtime - 1:
        raise AlignmentFileNotIndexedError(
            f"{path}: its index {idx} is older than the BAM, so it may not describe it; "
            f"re-create it with `samtools index {path}`"
        )
    if is_cram and reference is None:
        raise AlignmentFileError(
            f"{path}: a CRAM needs its reference FASTA to be decoded; give it with --fasta (config key 'fasta')"
        )
    try:
        bam = pysam.AlignmentFile(
            str(path),
            "rc" if is_cram else "rb",
            index_filename=str(idx),
            reference_filename=reference if is_cram else None,
            threads=threads,
            require_index=True,
        )
    except (OSError, ValueError) as exc:
        raise AlignmentFileError(f"{path}: cannot open as BAM/CRAM ({exc}); check the file is intact") from None
    return bam, _describe(bam, str(path), str(idx))


def _describe(bam: pysam.AlignmentFile, path: str, index: str, remote: bool = False) -> AlignmentInfo:
    """Check the header of an opened file and say what it is (closes it on an error)."""
    header = bam.header.to_dict()
    sorted_by = header.get("HD", {}).get("SO", "unknown")
    if sorted_by not in ("coordinate", "unknown"):
        bam.close()
        raise AlignmentFileError(
            f"{path}: the BAM is sorted by {sorted_by}, not by coordinate; sort it with "
            f"`samtools sort -o sorted.bam {path}` and index it"
        )
    if not bam.references:
        bam.close()
        raise AlignmentFileError(f"{path}: the BAM header lists no contigs (@SQ lines); it cannot be queried by region")
    programs = header.get("PG", [])
    aligner = "unknown"
    chimeric = False
    for pg in programs:
        name = pg.get("PN") or pg.get("ID") or ""
        if aligner == "unknown" and name:
            version = pg.get("VN")
            aligner = f"{name} {version}" if version else name
        cl = pg.get("CL", "")
        if "chimOutType" in cl and "WithinBAM" in cl:
            chimeric = True
    return AlignmentInfo(
        path=path,
        index=index,
        aligner=aligner,
        sorted_by=sorted_by,
        contig_lengths=dict(zip(bam.references, bam.lengths)),
        has_chimeric_options=chimeric,
        remote=remote,
    )
