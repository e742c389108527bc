"""Opening alignment files safely: every problem becomes an actionable error."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pysam

from imtfusion.errors import AlignmentFileError, AlignmentFileNotIndexedError

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


@dataclass(frozen=True)
class AlignmentInfo:
    path: str
    index: str
    aligner: str  # from the @PG header lines
    sorted_by: str
    contig_lengths: dict[str, int]
    has_chimeric_options: bool  # STAR run with --chimOutType WithinBAM, as far as @PG says


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


def open_alignment(path: str | Path, index: str | Path | None = None, reference: str | None = None,
                   threads: int = 1) -> tuple[pysam.AlignmentFile, AlignmentInfo]:
    """Open a coordinate-sorted, indexed BAM/CRAM for region queries."""
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
    info = AlignmentInfo(
        path=str(path),
        index=str(idx),
        aligner=aligner,
        sorted_by=sorted_by,
        contig_lengths=dict(zip(bam.references, bam.lengths)),
        has_chimeric_options=chimeric,
    )
    return bam, info
