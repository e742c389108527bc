"""Call fusions of the target genes in one coordinate-sorted, indexed BAM.

Writes {outdir}/{sample}/{sample}.fusions.tsv, .fusions.discarded.tsv, .targets.tsv
and .report.html. Each file is replaced only when complete; on an input error nothing
is written (with --record-failure, a one-line {sample}.error.txt says why).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from imtfusion.errors import ConfigError, ImtfusionError
from imtfusion.outputs import write_text
from imtfusion.params import CallParameters
from imtfusion.pipeline import run_sample, sample_paths, write_sample_outputs
from imtfusion.samplesheet import check_sample_name
from imtfusion.targets import DEFAULT_TARGETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bam", required=True, help="coordinate-sorted, indexed BAM (or CRAM with --fasta)")
    parser.add_argument("--gtf", required=True, help="GTF the reads were aligned against, or an index from `imtfusion index-gtf`")
    parser.add_argument("--sample", required=True, help="sample name used in file names and reports")
    parser.add_argument("--outdir", required=True, help="results folder; files go to OUTDIR/SAMPLE/")
    parser.add_argument("--fasta", help="genome FASTA with .fai (optional; sharpens breakpoints, needed for CRAM)")
    parser.add_argument("--bam-index", help="BAM index if not next to the BAM (BAM.bai / BAM.csi)")
    parser.add_argument("--targets", nargs="+", default=list(DEFAULT_TARGETS), metavar="GENE",
                        help="target genes (default: %(default)s)")
    parser.add_argument("--known-partners", help="curated known-fusion table (default: the one shipped)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a calling parameter (see README); repeatable")
    parser.add_argument("--threads", type=int, default=1, help="BGZF decompression threads (default 1)")
    parser.add_argument("--record-failure", action="store_true",
                        help="on an input error, write OUTDIR/SAMPLE/SAMPLE.error.txt with the reason (used by the workflow)")


def parse_params(items: list[str]) -> CallParameters:
    values = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE, e.g. --param min_fragments=3")
        key, value = item.split("=", 1)
        values[key.strip()] = value.strip()
    return CallParameters.from_mapping(values)


def error_path(outdir: str | Path, sample: str) -> Path:
    return Path(outdir) / sample / f"{sample}.error.txt"


def main(args: argparse.Namespace) -> None:
    check_sample_name(args.sample)
    try:
        params = parse_params(args.param)
        result = run_sample(
            bam_path=args.bam,
            annotation=args.gtf,
            sample=args.sample,
            targets=args.targets,
            params=params,
            fasta=args.fasta,
            bam_index=args.bam_index or None,
            known_partners=args.known_partners,
            threads=max(1, args.threads),
        )
    except ImtfusionError as exc:
        if args.record_failure:
            write_text(error_path(args.outdir, args.sample), f"{exc}\n")
        raise
    result.command = "imtfusion " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    paths = write_sample_outputs(result, args.outdir)
    stale = error_path(args.outdir, args.sample)
    if stale.exists():
        stale.unlink()
    names = sorted({c.fusion for c in result.called})
    print(
        f"{args.sample}: {len(result.called)} fusion(s) called"
        + (f" ({', '.join(names)})" if names else "")
        + f"; report: {paths['report']}",
        file=sys.stderr,
    )
