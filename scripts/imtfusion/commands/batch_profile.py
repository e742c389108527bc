"""Join the samples' 3'/5' ratios into the batch's imbalance profile.

Reads every sample's ratios (`imtfusion call --candidates-only FILE --exon-ratios TSV`,
the first pass) and writes one table, one row per sample and kinase target, which each
sample's call takes with --imbalance-profile: the other samples' ratios are then its
reference (imtfusion.imbalance). A target with a called fusion is left out by the first
pass, so a detected fusion is no reference for the others. A sample whose first pass
failed contributes no row. The same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import sys

from imtfusion.imbalance import read_profile
from imtfusion.outputs import write_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ratios", nargs="+", required=True, metavar="TSV",
                        help="one ratio table per sample (SAMPLE.ratios.tsv of the first pass)")
    parser.add_argument("--output", required=True, help="the batch's imbalance profile to write (TSV)")


def run_batch_profile(paths: list[str]) -> tuple[list, set[str]]:
    """(rows of every sample, the samples with a row)."""
    from imtfusion.imbalance import ProfileError

    rows, where = [], {}
    for k, path in enumerate(paths):
        for row in read_profile(path):
            first = where.setdefault(row.sample, (k, path))
            if first[0] != k:
                raise ProfileError(f"{path}: sample {row.sample} has ratios in {first[1]} too; give each sample's "
                                   "ratio table once")
            rows.append(row)
    return rows, set(where)


def main(args: argparse.Namespace) -> None:
    from imtfusion.imbalance import profile_text

    rows, samples = run_batch_profile(args.ratios)
    comment = (f"imbalance profile of a batch: {len(samples)} sample(s) with a 3'/5' ratio, {len(rows)} row(s) "
               "(imtfusion batch-profile)")
    write_text(args.output, profile_text(rows, [comment]))
    print(f"{comment}; written to {args.output}", file=sys.stderr)
