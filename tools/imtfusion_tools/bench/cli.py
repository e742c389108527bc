"""Measure imtfusion on simulated data with known truth.

  imtfusion benchmark accuracy --outdir DIR [--threads N] [--aligners A ...] [--quick] [--seed N]
                               [--with-fasta] [--without-fasta]
  imtfusion benchmark imbalance --outdir DIR [--threads N] [--aligner A] [--quick] [--seed N]
  imtfusion benchmark lod --outdir DIR [--threads N] [--negatives N] [--quick] [--seed N] [--plot SVG]

Each benchmark is a sub-command living in its own module of ``imtfusion_tools.bench``.
"""

from __future__ import annotations

import argparse
import importlib

# sub-command -> (module, one-line help).  A module provides ``add_arguments(parser)``
# and ``main(args)`` (and a docstring, shown by --help).  To add a benchmark, e.g.
# ``imtfusion benchmark speed``, write imtfusion/bench/speed.py and add one line here.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "accuracy": (
        "imtfusion_tools.bench.accuracy",
        "recall, precision and breakpoint accuracy per aligner on a simulated panel",
    ),
    "imbalance": ("imtfusion_tools.bench.imbalance", "3'/5' imbalance and ALK-ATI flags on simulated fusions without junction reads"),
    "lod": ("imtfusion_tools.bench.lod", "limit of detection: predicted vs observed detection of fusions spiked into negatives"),
    "speed": ("imtfusion_tools.bench.speed", "call time and memory vs BAM and annotation size; Snakemake batch overhead"),
    "remote": ("imtfusion_tools.bench.remote", "bytes moved and wall time of a BAM read over loopback HTTP vs the local file"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register one sub-parser per benchmark of :data:`SUBCOMMANDS`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="bench_command", metavar="WHAT")
    sub.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sp = sub.add_parser(
            name, help=help_text, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(sp)
        sp.set_defaults(_bench_module=module)


def main(args: argparse.Namespace) -> None:
    """Run the chosen benchmark."""
    args._bench_module.main(args)
