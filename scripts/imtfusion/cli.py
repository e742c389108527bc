"""Command line entry point: ``imtfusion <command> ...``.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``main(args)``; this file only dispatches and turns domain errors into one line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from imtfusion import __version__
from imtfusion.errors import ImtfusionError

# command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "call": ("imtfusion.commands.call", "call fusions of the target genes in one BAM"),
    "index-gtf": ("imtfusion.commands.index_gtf", "pre-index a GTF for repeated calls"),
    "index-bam": ("imtfusion.commands.index_bam", "index a BAM into a chosen file (not next to the input)"),
    "batch-artefacts": ("imtfusion.commands.batch_artefacts", "find junctions recurring with low support across a batch"),
    "batch-profile": ("imtfusion.commands.batch_profile", "join the samples' 3'/5' ratios into the batch's imbalance profile"),
    "summarize": ("imtfusion.commands.summarize", "write the batch summary of many samples"),
    "simulate": ("imtfusion.simulate", "simulate a synthetic genome, fusion reads and aligned BAMs"),
    "benchmark": ("imtfusion.bench.cli", "measure accuracy (and speed) on simulated data"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (all of them when None), so a
    call does not pay for the simulator's or the benchmarks' imports."""
    parser = argparse.ArgumentParser(
        prog="imtfusion",
        description="Targeted detection of kinase gene fusions of inflammatory myofibroblastic tumour in RNA-seq "
                    "BAMs; the target genes and sets are in the registry resources/targets.tsv.",
    )
    parser.add_argument("--version", action="version", version=f"imtfusion {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        sp = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(sp)
        sp.set_defaults(_module=module)
    return parser


def single_threaded_blas() -> None:
    """imtfusion does no linear algebra, but numpy's OpenBLAS starts a thread per core when
    numpy is imported, and on a machine whose cores are busy or few these threads cost a
    call about 0.1 s of CPU and a good part of it in wall time. One BLAS thread, unless the
    user set a number; set before any command module imports numpy."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv: Sequence[str] | None = None) -> int:
    single_threaded_blas()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        args._module.main(args)
    except ImtfusionError as exc:
        print(f"imtfusion {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"imtfusion {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("IMTFUSION_DEBUG"):
            raise
        print(
            f"imtfusion {args.command}: internal error ({type(exc).__name__}: {exc}); "
            "please report it with the command line; set IMTFUSION_DEBUG=1 for a traceback",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
