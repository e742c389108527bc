"""Write OUTDIR/summary.tsv and OUTDIR/summary.html for a batch of samples."""

from __future__ import annotations

import argparse
import sys

from imtfusion.samplesheet import check_sample_name, read_sample_sheet
from imtfusion.summary import summarize
from imtfusion.summary_files import write_summary
from imtfusion.registry import DEFAULT_SET, resolve_target_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outdir", required=True, help="results folder holding one folder per sample")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--samples", nargs="+", metavar="SAMPLE", help="sample names")
    group.add_argument("--sample-sheet", help="samples.tsv (columns sample, bam)")
    parser.add_argument("--targets", nargs="+", default=[DEFAULT_SET], metavar="SET_OR_GENE",
                        help="the calls' targets: a target set of resources/targets.tsv, or genes (default: "
                             f"{DEFAULT_SET}); the summary's columns, in this order")


def main(args: argparse.Namespace) -> None:
    if args.sample_sheet:
        samples = [e.sample for e in read_sample_sheet(args.sample_sheet)]
    else:
        samples = [check_sample_name(s) for s in args.samples]
    targets = list(resolve_target_names(args.targets))
    rows = summarize(args.outdir, samples, targets)
    tsv, html = write_summary(args.outdir, rows, targets)
    failed = sorted({r.sample for r in rows if r.status == "failed"})
    print(f"summary of {len(samples)} samples: {tsv}, {html}", file=sys.stderr)
    if failed:
        print(f"failed samples ({len(failed)}): {', '.join(failed)}", file=sys.stderr)
