"""Index a coordinate-sorted BAM into a file of your choice (never next to the input)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pysam

from imtfusion.bamio import check_bam_file, is_url, redact_url
from imtfusion.errors import AlignmentFileError, ImtfusionError
from imtfusion.outputs import atomic_path, write_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bam", required=True, help="coordinate-sorted BAM")
    parser.add_argument("--output", required=True, help="index to write (.bai)")
    parser.add_argument("--sample", help="with --record-failure: sample whose error record to write")
    parser.add_argument("--outdir", help="with --record-failure: results folder")
    parser.add_argument("--record-failure", action="store_true", help="write OUTDIR/SAMPLE/SAMPLE.error.txt on failure")


def _first_unsorted(bam: str | Path) -> str | None:
    """Where the BAM's records go out of coordinate order, if they do."""
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


def index_bam(bam: str | Path, output: str | Path) -> None:
    if is_url(str(bam)):
        raise AlignmentFileError(
            f"{redact_url(bam)}: a BAM at a URL is not indexed here (it would be downloaded whole); index it where "
            "it is stored (`samtools index`: the index next to it is found), or give its index with --bam-index"
        )
    check_bam_file(Path(bam))
    with atomic_path(output) as tmp:
        try:
            pysam.index(str(bam), "-o", str(tmp))
        except pysam.SamtoolsError as exc:
            unsorted = _first_unsorted(bam)
            if unsorted:
                raise AlignmentFileError(
                    f"{bam}: not sorted by coordinate ({unsorted}); sort it with "
                    f"`samtools sort -o sorted.bam {bam}`"
                ) from None
            text = str(exc).split("stderr=", 1)[-1]
            lines = [x.strip() for x in text.replace("\\n", "\n").splitlines() if x.strip()]
            detail = lines[0].rstrip("'") if lines else "indexing failed"
            raise AlignmentFileError(
                f"{bam}: cannot be indexed ({detail}); the file is damaged: check it with "
                f"`samtools quickcheck {bam}` and re-create it"
            ) from None


def main(args: argparse.Namespace) -> None:
    try:
        index_bam(args.bam, args.output)
    except ImtfusionError as exc:
        if args.record_failure and args.sample and args.outdir:
            write_text(Path(args.outdir) / args.sample / f"{args.sample}.error.txt", f"{exc}\n")
        raise
    print(f"indexed {args.bam} -> {args.output}", file=sys.stderr)
