"""Index a coordinate-sorted BAM into a file of your choice (never next to the input)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pysam

from imtfusion.bamio import check_bam_file, first_unsorted, is_url, redact_url
from imtfusion.errors import AlignmentFileError, ImtfusionError
from imtfusion.outputs import atomic_path, write_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bam", required=True, help="coordinate-sorted BAM")
    parser.add_argument("--output", required=True, help="index to write (.bai)")
    parser.add_argument("--sample", help="with --record-failure: sample whose error record to write")
    parser.add_argument("--outdir", help="with --record-failure: results folder")
    parser.add_argument("--record-failure", action="store_true", help="write OUTDIR/SAMPLE/SAMPLE.error.txt on failure")


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
            unsorted = first_unsorted(bam)
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
