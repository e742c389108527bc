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
    tumour_types: str  # where it is reported, IMT first
    source: str
    pmid: str = ""  # PubMed IDs of the sources, '; '-separated (optional column)
    needs_review: str = ""  # what a human should check of the row (optional column)


def resource_path(name: str) -> Path:
    """A file of ``resources/``: installed as package data, or in the source checkout
    (editable installs do not map the extra package directory)."""
    try:
        return Path(str(resources.files("imtfusion.resources").joinpath(name)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "resources" / name


def read_curated_table(path: Path, what: str, needed: set[str], optional: set[str] = frozenset()) -> list[dict[str, str]]:
    """Rows of a tab-separated table of ``resources/`` (``#`` lines are comments), with
    the ``needed`` columns checked; ``optional`` columns are read when present ("" when
    not)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [line for line in fh if line.strip() and not line.startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read the {what} {path}: {exc}") from None
    reader = csv.DictReader(lines, delimiter="\t")
    if not reader.fieldnames or not needed <= set(reader.fieldnames):
        raise InputFileError(f"{path}: the {what} needs the columns {', '.join(sorted(needed))}")
    present = needed | (optional & set(reader.fieldnames))
    return [{k: (row[k] or "").strip() for k in present} for row in reader]


def load_known_fusions(path: str | Path | None = None) -> list[KnownFusion]:
    """Rows of the known-partner table (a table of the user's may leave out the optional
    columns pmid and needs_review)."""
    path = Path(path) if path else resource_path(KNOWN_PARTNERS_FILE)
    needed = {"target", "fusion", "gene5", "gene3", "tumour_types", "source"}
    optional = {"pmid", "needs_review"}
    return [KnownFusion(**row) for row in read_curated_table(path, "known-partner table", needed, optional)]


def known_pairs(fusions: list[KnownFusion]) -> frozenset[tuple[str, str]]:
    return frozenset((f.gene5, f.gene3) for f in fusions)
