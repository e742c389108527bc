"""Parse a GTF once and store it compactly, so every sample of a batch loads it fast.

With ``--fasta`` the genome-wide exon-boundary index (used to place soft clips on novel
partners) is built once here too, instead of in every sample that needs it, and with
``--targets`` as well the copies of the target transcripts elsewhere in the genome
(:mod:`imtfusion.copies`: one pass over the genome, some 20 s for a human one).
"""

from __future__ import annotations

import argparse
import sys

import pysam

from imtfusion.annotation import Annotation, load_annotation, store_derived, write_database
from imtfusion.errors import FastaError
from imtfusion.outputs import atomic_path
from imtfusion.pipeline import boundary_key


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gtf", required=True, help="GENCODE/Ensembl-style GTF (plain or gzip)")
    parser.add_argument("--output", required=True, help="index file to write")
    parser.add_argument("--fasta", help="genome FASTA with .fai: also index the bases at every exon boundary")
    parser.add_argument("--targets", nargs="+", metavar="SET_OR_GENE",
                        help="with --fasta: also find where else the genome spells these targets' transcripts (a "
                             "target set of the registry or genes, as imtfusion call takes them)")


def main(args: argparse.Namespace) -> None:
    # streamed into a temporary file next to the output, renamed into place when complete
    with atomic_path(args.output) as tmp:
        tmp.unlink()
        write_database(args.gtf, tmp)
        annotation = load_annotation(tmp)
        note = ""
        if args.fasta:
            index = _boundary_index(annotation, args.fasta)
            store_derived(tmp, {boundary_key(args.fasta): index})
            note = f", {len(index)} exon boundaries"
            if args.targets:
                copies = _target_copies(annotation, args.fasta, args.targets)
                store_derived(tmp, copies)
                note += f", copies of {len(copies)} target transcripts"
        n_genes, n_transcripts = len(annotation.genes), annotation.n_transcripts()
        for line in annotation.notes:
            print(f"imtfusion index-gtf: warning: {line}", file=sys.stderr)
        annotation.store.db.close()
    print(f"indexed {n_genes} genes, {n_transcripts} transcripts{note} from {args.gtf} -> {args.output}", file=sys.stderr)


def _fasta_reference(fasta: str):  # type: ignore[no-untyped-def]
    """The FASTA as a Reference whose contig names are its own and their aliases."""
    from imtfusion.reference import Reference
    from imtfusion.targets import _aliases

    try:
        fai = pysam.FastaFile(fasta)
        lengths = dict(zip(fai.references, fai.lengths))
        fai.close()
    except (OSError, ValueError) as exc:
        raise FastaError(f"{fasta}: cannot open the FASTA ({exc}); check it and its .fai") from None
    names = dict(lengths)
    for name, length in lengths.items():
        for alias in _aliases(name):
            names.setdefault(alias, length)
    return Reference(fasta, names), lengths


def _target_copies(annotation: Annotation, fasta: str, targets: list[str]) -> dict[tuple, object]:
    """The copies of the targets' spliced transcripts (imtfusion.copies), keyed as a call looks them up."""
    from imtfusion.copies import found_and_stored
    from imtfusion.registry import resolve_target_names
    from imtfusion.targets import ContigMap, resolve_targets
    from imtfusion.unmapped import TargetTranscripts

    ref, lengths = _fasta_reference(fasta)
    try:
        loci = resolve_targets(annotation, list(resolve_target_names(targets)), 0,
                               ContigMap.build(annotation.contigs, lengths), fasta)
        spliced = TargetTranscripts(loci, annotation, lambda c, s, e: ref.fetch(c, s, e, remember=False)).described()
        return found_and_stored(spliced, ref)[1]
    finally:
        ref.close()


def _boundary_index(annotation: Annotation, fasta: str):
    from imtfusion.boundaries import BoundaryIndex

    # the GTF may say "2" where the FASTA says "chr2": the Reference takes both spellings
    ref, _ = _fasta_reference(fasta)
    try:
        return BoundaryIndex.build(annotation, lambda chrom, start, end: ref.fetch(chrom, start, end, remember=False))
    finally:
        ref.close()
