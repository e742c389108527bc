"""Find the batch's recurrent artefacts: junctions seen in many samples with low support.

Reads every sample's candidates (from `imtfusion call --candidates-only`, or its
fusions.tsv and fusions.discarded.tsv) and writes the table that `imtfusion call
--artefacts` discards matching candidates by (filter recurrent_in_batch). Rows of
--known-artefacts are appended as they are. The same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import sys

from imtfusion.batch import BatchRules, aggregate, known_rows, read_artefacts, read_batch, write_artefacts

DEFAULTS = BatchRules()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidates", nargs="+", required=True, metavar="TSV",
                        help="one candidate table per sample (SAMPLE.candidates.tsv, or its fusions.tsv and "
                             "fusions.discarded.tsv)")
    parser.add_argument("--output", required=True, help="the batch's artefact table to write (TSV)")
    parser.add_argument("--known-artefacts", nargs="+", default=[], metavar="TSV",
                        help="tables of known artefacts (gene5, gene3, breakpoint5, breakpoint3, note; "
                             "'*' breakpoints match any position), copied into the output")
    parser.add_argument("--min-samples", type=int, default=DEFAULTS.min_samples,
                        help="a junction is recurrent in at least this many samples (default %(default)s)")
    parser.add_argument("--min-fraction", type=float, default=DEFAULTS.min_fraction,
                        help="... and in at least this fraction of the batch (default %(default)s)")
    parser.add_argument("--max-fragments", type=int, default=DEFAULTS.max_fragments,
                        help="a sample with more fragments of it is never flagged (default %(default)s)")
    parser.add_argument("--max-share", type=float, default=DEFAULTS.max_share,
                        help="a weak sample is flagged when it has less than this share of the strongest "
                             "sample's fragments (default %(default)s)")
    parser.add_argument("--breakpoint-tolerance", type=int, default=DEFAULTS.breakpoint_tolerance,
                        help="exact breakpoints this many bases apart are one junction (default %(default)s)")


def main(args: argparse.Namespace) -> None:
    rules = BatchRules(
        min_samples=args.min_samples,
        min_fraction=args.min_fraction,
        max_fragments=args.max_fragments,
        max_share=args.max_share,
        breakpoint_tolerance=args.breakpoint_tolerance,
    )
    known = [row for path in args.known_artefacts for row in read_artefacts(path)]
    batch = read_batch(args.candidates)
    rows = list(aggregate(batch.candidates, batch.samples, rules)) + known_rows(known)
    write_artefacts(args.output, rows)
    for sample, reason in batch.failed:
        print(f"{sample}: left out of the batch (its first pass failed: {reason})", file=sys.stderr)
    flagged = sum(1 for r in rows if r.rule != "known_artefact")
    note = "" if rules.many(len(batch.samples), len(batch.samples)) else (
        f" (fewer than the {rules.min_samples} samples a recurrent junction needs: nothing can recur)"
    )
    print(
        f"{len(batch.samples)} sample(s), {len(batch.candidates)} candidate(s): {flagged} recurrent artefact row(s)"
        f"{note}, {len(known)} known artefact row(s); written to {args.output}",
        file=sys.stderr,
    )
