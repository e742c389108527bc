"""Writing result files: atomically, deterministically, with documented columns.

Every file is written to a temporary name in the destination folder and renamed into
place only when complete, so an interrupted run never leaves a file that looks finished
and never replaces an earlier complete result with a partial one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Mapping, Sequence


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)


def format_value(value: object) -> str:
    """TSV cell text: floats with fixed precision, None as '.', no tabs/newlines."""
    if value is None:
        return "."
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    else:
        text = str(value)
    if text == "":
        return "."
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def tsv_text(columns: Sequence[str], rows: Sequence[Mapping[str, object]]) -> str:
    lines = ["\t".join(columns)]
    for row in rows:
        lines.append("\t".join(format_value(row.get(c)) for c in columns))
    return "\n".join(lines) + "\n"


def write_tsv(path: str | Path, columns: Sequence[str], rows: Sequence[Mapping[str, object]]) -> None:
    """A header line always, then one line per row (an empty table keeps its header)."""
    write_text(path, tsv_text(columns, rows))
