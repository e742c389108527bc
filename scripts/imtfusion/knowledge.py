"""Curated tables shipped in ``resources/``: known fusions of the targets."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from imtfusion.errors import InputFileError

KNOWN_PARTNERS_FILE = "known_partners.tsv"


@dataclass(frozen=True, slots=True)
class KnownFusion:
    target: str
    fusion: str
    gene5: str
    gene3: str
    tumour_types: str
    source: str


def resource_path(name: str) -> Path:
    """A file of ``resources/``: installed as package data, or in the source checkout
    (editable installs do not map the extra package directory)."""
    try:
        return Path(str(resources.files("imtfusion.resources").joinpath(name)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "resources" / name


def load_known_fusions(path: str | Path | None = None) -> list[KnownFusion]:
    """Rows of the known-partner table (comment lines start with ``#``)."""
    path = Path(path) if path else resource_path(KNOWN_PARTNERS_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [line for line in fh if line.strip() and not line.startswith("#")]
    except OSError as exc:
        raise InputFileError(f"cannot read the known-partner table {path}: {exc.strerror}") from None
    reader = csv.DictReader(lines, delimiter="\t")
    needed = {"target", "fusion", "gene5", "gene3", "tumour_types", "source"}
    if not reader.fieldnames or not needed <= set(reader.fieldnames):
        raise InputFileError(
            f"{path}: the known-partner table needs the columns {', '.join(sorted(needed))}"
        )
    return [KnownFusion(**{k: (row[k] or "").strip() for k in needed}) for row in reader]


def known_pairs(fusions: list[KnownFusion]) -> frozenset[tuple[str, str]]:
    return frozenset((f.gene5, f.gene3) for f in fusions)
