"""Parse a GTF once and store it compactly, so every sample of a batch loads it fast."""

from __future__ import annotations

import argparse
import sys

from imtfusion.annotation import read_gtf, write_index


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gtf", required=True, help="GENCODE/Ensembl-style GTF (plain or gzip)")
    parser.add_argument("--output", required=True, help="index file to write")


def main(args: argparse.Namespace) -> None:
    annotation = read_gtf(args.gtf)
    write_index(annotation, args.output)
    print(
        f"indexed {len(annotation.genes)} genes, {len(annotation.transcripts)} transcripts from {args.gtf} -> {args.output}",
        file=sys.stderr,
    )
