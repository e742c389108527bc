"""The specimen a sample comes from, and the sign-off area of the printed report.

A lab signs out a report against a specimen: its accession, type, block and tumour
content. These optional fields come from sample-sheet columns of the same names (the
workflow passes them on) or from ``imtfusion call --specimen KEY=VALUE``; the report
shows them under its title, and ends with lines for the reviewer, the date and a
signature.
"""

from __future__ import annotations

import difflib
import re
from typing import Iterable, Mapping

from imtfusion.diagram import esc
from imtfusion.errors import ConfigError, ImtfusionError

# field -> label in the report, in the order they are shown
SPECIMEN_FIELDS: dict[str, str] = {
    "specimen": "specimen",
    "specimen_type": "specimen type",
    "block": "block",
    "tumour_content": "tumour content",
}
# other spellings a sample sheet may use for the same column
SPECIMEN_ALIASES = {"tumor_content": "tumour_content"}
MAX_VALUE_LENGTH = 200
_TUMOUR_CONTENT = re.compile(r"^(<=|>=|<|>|≤|≥|~|ca\.?\s*)?\s*(\d{1,3}(?:\.\d+)?)\s*(%?)$")


def field_name(column: str) -> str | None:
    """The specimen field a sample-sheet column fills, or None (the column is ignored)."""
    name = column.strip().lower()
    name = SPECIMEN_ALIASES.get(name, name)
    return name if name in SPECIMEN_FIELDS else None


def tumour_content(value: str) -> str:
    """``40``, ``40%``, ``<10 %``, ``ca. 30%`` -> ``40%``, ``40%``, ``<10%``, ``ca. 30%``.

    A bare number below 1 with decimals (``0.4``) could be a fraction or a percentage
    and is refused."""
    m = _TUMOUR_CONTENT.match(value.strip())
    if not m:
        raise ValueError(f"tumour_content {value!r} is not a percentage; give e.g. 40 or 40% (or <10%)")
    prefix, number, percent = m.groups()
    if float(number) > 100:
        raise ValueError(f"tumour_content {value!r} is more than 100%")
    if not percent and "." in number and float(number) < 1:
        raise ValueError(f"tumour_content {value!r} is ambiguous (a fraction or a percentage?); write it as e.g. 40%")
    prefix = (prefix or "").strip()
    if prefix.startswith("ca"):
        prefix = "ca. "
    return f"{prefix}{number}%"


def check_specimen(values: Iterable[tuple[str, str]], where: str = "",
                   error: type[ImtfusionError] = ConfigError) -> dict[str, str]:
    """Validated specimen fields in :data:`SPECIMEN_FIELDS` order; empty values dropped.

    ``values`` are (field, value) pairs with field names already checked; ``where``
    prefixes the messages (e.g. the sample sheet's line)."""
    out: dict[str, str] = {}
    for key, value in values:
        value = value.strip()
        if not value:
            continue
        if len(value) > MAX_VALUE_LENGTH or any(ord(ch) < 32 for ch in value):
            raise error(f"{where}{key} {value[:40]!r}... must be one line of at most {MAX_VALUE_LENGTH} characters")
        if key in out:
            raise error(f"{where}{key} is given twice; give each specimen field once")
        if key == "tumour_content":
            try:
                value = tumour_content(value)
            except ValueError as exc:
                raise error(f"{where}{exc}") from None
        out[key] = value
    return {k: out[k] for k in SPECIMEN_FIELDS if k in out}


def parse_specimen_options(items: Iterable[str]) -> dict[str, str]:
    """``--specimen KEY=VALUE`` options (repeatable) -> validated fields."""
    pairs = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--specimen {item!r}: expected KEY=VALUE, e.g. --specimen tumour_content=40%")
        key, value = item.split("=", 1)
        name = field_name(key)
        if name is None:
            close = difflib.get_close_matches(key.strip().lower(), [*SPECIMEN_FIELDS, *SPECIMEN_ALIASES], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"--specimen {item!r}: unknown field {key.strip()!r}{hint}; known fields: {', '.join(SPECIMEN_FIELDS)}"
            )
        pairs.append((name, value))
    return check_specimen(pairs, where="--specimen: ")


def specimen_options(values: Mapping[str, str]) -> list[str]:
    """The ``--specimen`` options that give ``values`` to ``imtfusion call``."""
    return [f"{k}={values[k]}" for k in SPECIMEN_FIELDS if values.get(k)]


# -- report sections ------------------------------------------------------------------------------

def specimen_html(values: Mapping[str, str]) -> str:
    """A one-row table of the specimen fields given; empty when none is."""
    shown = [(SPECIMEN_FIELDS[k], values[k]) for k in SPECIMEN_FIELDS if values.get(k)]
    if not shown:
        return ""
    head = "".join(f"<th>{esc(label)}</th>" for label, _ in shown)
    cells = "".join(f"<td>{esc(value)}</td>" for _, value in shown)
    return (f'<table class="specimen" aria-label="specimen"><thead><tr>{head}</tr></thead>'
            f"<tbody><tr>{cells}</tr></tbody></table>")


def signoff_html(sample: str) -> str:
    """Lines for the reviewer, the date and a signature, kept on one printed page."""
    rows = "".join(
        f'<tr><th scope="row">{label}</th><td class="line"></td></tr>'
        for label in ("Reviewed by (name)", "Date", "Signature", "Comment")
    )
    return (
        '<section class="signoff">'
        "<h2>Review and sign-off</h2>"
        f'<p class="note">Sample <b>{esc(sample)}</b>: reviewed against the evidence above; a detected fusion '
        "needs confirmation by an orthogonal method (FISH, RT-PCR or IHC) before clinical use.</p>"
        f'<table class="signoff-lines">{rows}</table>'
        "</section>"
    )
