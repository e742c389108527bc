"""Opening alignment files safely: every problem becomes an actionable error."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pysam

from imtfusion.errors import AlignmentFileError, AlignmentFileNotIndexedError

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")

#: URL schemes htslib reads (through the index, with range requests): web servers and
#: object stores; credentials come from the environment only (see the README).
REMOTE_SCHEMES = ("http://", "https://", "ftp://", "s3://", "s3+http://", "s3+https://", "gs://", "gs+http://",
                  "gs+https://")
_USERINFO = re.compile(r"^([a-z0-9+.-]+://)[^/@]*@", re.IGNORECASE)


def is_url(path: str | Path | None) -> bool:
    """Whether ``path`` names a remote file htslib reads (http(s), ftp, s3, gs)."""
    return isinstance(path, str) and path.lower().startswith(REMOTE_SCHEMES)


def redact_url(text: str | Path | None) -> str:
    """``text`` with what a URL may carry of credentials removed: a ``user:password@``
    part and the query string (pre-signed URLs carry their signature there). Every place
    that writes a BAM's name (report, JSON, VCF, log and error lines) uses it."""
    if text is None:
        return ""
    text = str(text)
    if not is_url(text):
        return text
    text = _USERINFO.sub(r"\1", text)
    return text.split("?", 1)[0] + ("?<redacted>" if "?" in text else "")


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


def _open_remote(url: str, index: str | Path | None, reference: str | None, threads: int) -> tuple[pysam.AlignmentFile, str]:
    """A BAM/CRAM at a URL, opened through its index (given, or URL.bai / URL.csi /
    URL.crai as htslib looks for them); htslib's own messages (which name the URL) are
    kept quiet, and every error names the URL redacted."""
    shown = redact_url(url)
    is_cram = url.split("?", 1)[0].lower().endswith(".cram")
    if is_cram and reference is None:
        raise AlignmentFileError(
            f"{shown}: a CRAM needs its reference FASTA to be decoded; give it with --fasta (config key 'fasta')"
        )
    idx = str(index) if index else None
    if idx and not is_url(idx):
        idx = os.path.abspath(idx)
    before = pysam.set_verbosity(0)
    here = os.getcwd()
    try:
        # htslib saves a remote index into the working directory, and takes a file of that
        # name found there as the index: a stale one of another BAM would be read. It
        # works in a folder of its own, removed once the index is loaded.
        with tempfile.TemporaryDirectory(prefix="imtfusion-index-") as scratch:
            os.chdir(scratch)
            try:
                bam = pysam.AlignmentFile(url, "rc" if is_cram else "rb", index_filename=idx,
                                          reference_filename=os.path.abspath(reference) if is_cram else None,
                                          threads=threads, require_index=True)
            finally:
                os.chdir(here)
    except (OSError, ValueError) as exc:
        reason = redact_url(str(exc)).replace(url, shown)
        raise AlignmentFileError(
            f"{shown}: cannot be read over the network ({reason}); check that the URL is right and reachable, that "
            "its index is there (URL.bai or URL.csi, else give it with --bam-index or the sample sheet's "
            "bam_index column), and for s3:// or gs:// that the credentials are set in the environment "
            "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or GCS_OAUTH_TOKEN)"
        ) from None
    finally:
        pysam.set_verbosity(before)
    return bam, redact_url(idx) if idx else f"{shown}.bai or .csi (found by htslib next to it)"


def bam_name(bam: pysam.AlignmentFile) -> str:
    """The file's name as messages show it (a URL redacted)."""
    name = bam.filename.decode() if isinstance(bam.filename, bytes) else str(bam.filename)
    return redact_url(name)


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
