"""Command line entry point: ``imtfusion <command> ...``.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``main(args)``; this file only dispatches and turns domain errors into one line.

``simulate`` and ``benchmark`` live in the checkout's ``tools/imtfusion_tools`` (not
installed with the package): they are found on the path, else in ``$IMTFUSION_TOOLS``,
next to an editable install's sources or in ``tools/`` of the working directory or one
above it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Sequence

from imtfusion import __version__
from imtfusion.errors import ConfigError, ImtfusionError

TOOLS_PACKAGE = "imtfusion_tools"  # the simulator and the benchmarks, in a checkout's tools/

# command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "call": ("imtfusion.commands.call", "call fusions of the target genes in one BAM"),
    "index-gtf": ("imtfusion.commands.index_gtf", "pre-index a GTF for repeated calls"),
    "index-bam": ("imtfusion.commands.index_bam", "index a BAM into a chosen file (not next to the input)"),
    "batch-artefacts": ("imtfusion.commands.batch_artefacts", "find junctions recurring with low support across a batch"),
    "batch-profile": ("imtfusion.commands.batch_profile", "join the samples' 3'/5' ratios into the batch's imbalance profile"),
    "summarize": ("imtfusion.commands.summarize", "write the batch summary of many samples"),
    "simulate": ("imtfusion_tools.simulate", "simulate a synthetic genome, fusion reads and aligned BAMs"),
    "benchmark": ("imtfusion_tools.bench.cli", "measure accuracy (and speed) on simulated data"),
}


def tools_dir() -> Path | None:
    """The folder holding ``imtfusion_tools`` in a checkout, or None."""
    candidates = [Path(os.environ["IMTFUSION_TOOLS"])] if os.environ.get("IMTFUSION_TOOLS") else []
    candidates.append(Path(__file__).resolve().parents[2] / "tools")  # scripts/imtfusion/cli.py (editable)
    cwd = Path.cwd().resolve()
    candidates += [folder / "tools" for folder in (cwd, *cwd.parents)]
    return next((c for c in candidates if (c / TOOLS_PACKAGE / "__init__.py").is_file()), None)


def _command_module(module_name: str):
    """The command's module; None for a tools command outside a checkout."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != TOOLS_PACKAGE:
            raise
    folder = tools_dir()
    if folder is None:
        return None
    sys.path.insert(0, str(folder))
    return importlib.import_module(module_name)


class _NoTools:
    """Stands in for ``simulate``/``benchmark`` where no checkout is at hand."""

    __doc__ = "Needs a checkout of the imtfusion repository: the simulator and benchmarks are not installed."

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    @staticmethod
    def main(args: argparse.Namespace) -> None:
        raise ConfigError(
            f"'{args.command}' comes with a checkout of the imtfusion repository, not with the installed package "
            "(tools/imtfusion_tools): run it inside the checkout, or set IMTFUSION_TOOLS=<checkout>/tools"
        )


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
        module = _command_module(module_name) or _NoTools
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
