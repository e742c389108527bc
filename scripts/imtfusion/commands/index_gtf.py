"""Parse a GTF once and store it compactly, so every sample of a batch loads it fast.

With ``--fasta`` the genome-wide exon-boundary index (used to place soft clips on novel
partners) is built once here too, instead of in every sample that needs it.
"""

from __future__ import annotations

import argparse
import sys

import pysam

from imtfusion.annotation import read_gtf, write_index
from imtfusion.errors import FastaError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gtf", required=True, help="GENCODE/Ensembl-style GTF (plain or gzip)")
    parser.add_argument("--output", required=True, help="index file to write")
    parser.add_argument("--fasta", help="genome FASTA with .fai: also index the bases at every exon boundary")


def main(args: argparse.Namespace) -> None:
    annotation = read_gtf(args.gtf)
    note = ""
    if args.fasta:
        from imtfusion.boundaries import BoundaryIndex
        from imtfusion.pipeline import boundary_key
        from imtfusion.reference import Reference
        from imtfusion.targets import _aliases

        try:
            fai = pysam.FastaFile(args.fasta)
            lengths = dict(zip(fai.references, fai.lengths))
            fai.close()
        except (OSError, ValueError) as exc:
            raise FastaError(f"{args.fasta}: cannot open the FASTA ({exc}); check it and its .fai") from None
        # the GTF may say "2" where the FASTA says "chr2": accept both spellings
        names = dict(lengths)
        for name, length in lengths.items():
            for alias in _aliases(name):
                names.setdefault(alias, length)
        ref = Reference(args.fasta, names)
        index = BoundaryIndex.build(annotation, lambda chrom, start, end: ref.fetch(chrom, start, end))
        ref.close()
        annotation.cache[boundary_key(args.fasta)] = index
        note = f", {len(index)} exon boundaries"
    write_index(annotation, args.output)
    print(
        f"indexed {len(annotation.genes)} genes, {len(annotation.transcript_tables()[0])} transcripts{note} from {args.gtf} -> {args.output}",
        file=sys.stderr,
    )
