"""The batch's summary files, written together: ``summary.tsv``, ``summary.html`` and the
MultiQC custom-content file (:mod:`imtfusion.summary` makes the rows and the page,
:mod:`imtfusion.multiqc` the MultiQC section)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from imtfusion.multiqc import render_multiqc
from imtfusion.outputs import write_text, write_tsv
from imtfusion.summary import SUMMARY_COLUMNS, SummaryRow, render_summary_html

MULTIQC_FILE = "imtfusion_mqc.yaml"


def write_summary(outdir: str | Path, rows: list[SummaryRow], targets: list[str], now: _dt.datetime | None = None) -> tuple[Path, Path]:
    """Write the three files into ``outdir`` (each atomically); the TSV's and the page's paths."""
    outdir = Path(outdir)
    tsv = outdir / "summary.tsv"
    html = outdir / "summary.html"
    write_tsv(tsv, SUMMARY_COLUMNS, [r.__dict__ for r in rows])
    write_text(outdir / MULTIQC_FILE, render_multiqc(rows, targets))
    write_text(html, render_summary_html(rows, targets, now))
    return tsv, html
