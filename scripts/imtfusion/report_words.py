"""The words of a report, per call: HGVS and exon text, expected ALK IHC, actionability.

Rendered as one section after the call cards of the HTML report (:mod:`imtfusion.report`
calls :func:`words_section_html`, one :func:`call_words_html` block per call). The two
curated tables come from ``resources/``:

* ``ihc_patterns.tsv``: the ALK immunohistochemistry pattern expected for the 5'
  partner of an ALK fusion (``*`` for partners not listed), with a note (the EIMS
  variant for RANBP2::ALK) and the literature source, so the pathologist can compare it
  with the slide;
* ``actionability.tsv``: approved targeted drugs per target gene with source and the
  date the row was checked, always shown as information, never as a recommendation.

All text from the tables and the call goes through :func:`~imtfusion.diagram.esc`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from imtfusion.diagram import esc
from imtfusion.knowledge import read_curated_table, resource_path

if TYPE_CHECKING:  # pragma: no cover
    from imtfusion.calling import Candidate

IHC_FILE = "ihc_patterns.tsv"
ACTIONABILITY_FILE = "actionability.tsv"
NOT_A_RECOMMENDATION = "Information, not a treatment recommendation"


@dataclass(frozen=True, slots=True)
class IhcPattern:
    target: str
    gene5: str  # "*": any partner not listed
    pattern: str
    note: str
    source: str


@dataclass(frozen=True, slots=True)
class Actionability:
    target: str
    information: str
    source: str
    as_of: str


@lru_cache(maxsize=8)
def load_ihc_patterns(path: str | Path | None = None) -> tuple[IhcPattern, ...]:
    path = Path(path) if path else resource_path(IHC_FILE)
    rows = read_curated_table(path, "IHC pattern table", {"target", "gene5", "pattern", "note", "source"})
    return tuple(IhcPattern(**row) for row in rows)


@lru_cache(maxsize=8)
def load_actionability(path: str | Path | None = None) -> tuple[Actionability, ...]:
    path = Path(path) if path else resource_path(ACTIONABILITY_FILE)
    rows = read_curated_table(path, "actionability table", {"target", "information", "source", "as_of"})
    return tuple(Actionability(**row) for row in rows)


def expected_ihc(c: "Candidate", patterns: tuple[IhcPattern, ...] | None = None) -> IhcPattern | None:
    """The expected IHC pattern of the call's 3' target for its 5' partner (the row of the
    partner, else the target's ``*`` row); None when the table has no row for the target."""
    patterns = load_ihc_patterns() if patterns is None else patterns
    rows = [p for p in patterns if p.target == c.gene3.name]
    return next((p for p in rows if p.gene5 == c.gene5.name), None) or next((p for p in rows if p.gene5 == "*"), None)


def actionability_for(c: "Candidate", table: tuple[Actionability, ...] | None = None) -> list[Actionability]:
    """The actionability rows of the call's target genes, in the call's target order."""
    table = load_actionability() if table is None else table
    by_target = {row.target: row for row in table}
    return [by_target[t] for t in c.targets if t in by_target]


# the block's own style, appended to the report's CSS: one compact table, smaller in print
WORDS_CSS = """
.words-call{break-inside:avoid;page-break-inside:avoid}
table.words{width:100%;font-size:.85em;margin:.2em 0 .4em}table.words td:first-child{white-space:nowrap;font-weight:600;
background:#f8f9fb;width:9.5em}table.words .src{color:#5f6b7a;font-size:.9em}
@media print{table.words{font-size:7pt;margin:.1em 0 .2em}table.words td{padding:0 .4em}}
"""


def _row(key: str, value_html: str) -> str:
    return f"<tr><td>{esc(key)}</td><td>{value_html}</td></tr>"


def call_words_html(c: "Candidate") -> str:
    """The call card's block: the junction in exon words and HGVS, the ALK IHC pattern to
    expect (ALK fusions only), and the actionability note of its target(s), marked as
    information, not a treatment recommendation."""
    a = c.annotation
    rows = []
    if a is not None and a.exon_description:
        rows.append(_row("exons", esc(a.exon_description)))
    if a is not None and a.hgvs:
        rows.append(_row("HGVS (RNA)", f'<span class="mono wrap">{esc(a.hgvs)}</span>'))
    ihc = expected_ihc(c)
    if ihc is not None:
        partner = "this partner" if ihc.gene5 != "*" else "a partner not listed separately"
        text = f"<b>{esc(ihc.pattern)}</b> ({esc(partner)})"
        if ihc.note:
            text += f"; {'<b>EIMS note</b>: ' if 'EIMS' in ihc.note else ''}{esc(ihc.note)}"
        text += f' <span class="src">[{esc(ihc.source)}]</span>'
        rows.append(_row(f"expected {c.gene3.name} IHC", text))
    for n in actionability_for(c):
        rows.append(_row(
            f"{n.target} targeted therapy",
            f"<b>{esc(NOT_A_RECOMMENDATION)}:</b> {esc(n.information)}. "
            f'<span class="src">[{esc(n.source)}; as of {esc(n.as_of)}]</span>'))
    return f'<table class="words">{"".join(rows)}</table>' if rows else ""


def words_section_html(calls: "list[Candidate]") -> str:
    """The report's section after the call cards: per call, its words (an empty string
    when there is no call)."""
    blocks = [
        f'<div class="words-call"><h4>{esc(c.fusion)} ({esc(c.call_id)})</h4>{call_words_html(c)}</div>'
        for c in calls
    ]
    if not blocks:
        return ""
    return ("<h2>Nomenclature, expected IHC and targeted therapy</h2>"
            f'<p class="note">HGVS adjoined-transcript description and exon words of each call; the ALK '
            f"immunohistochemistry pattern expected for the partner, to compare with the slide; approved targeted "
            f"drugs for the target gene. {esc(NOT_A_RECOMMENDATION)}.</p>{''.join(blocks)}")
