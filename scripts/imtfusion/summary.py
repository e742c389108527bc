"""Batch summary: one row per sample and target, from the per-sample files.

A sample whose call failed has an ``{sample}.error.txt`` instead of results; it is
listed with status ``failed`` and the reason, so a batch summary is complete even when
some samples are not.
"""

from __future__ import annotations

import csv
import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

from imtfusion import __version__
from imtfusion.lod import base_status
from imtfusion.report import CSS, IMBALANCE_STATUS, esc, status_class

SUMMARY_COLUMNS = [
    "sample", "target", "status", "fusions", "exons", "confidence", "split_reads", "discordant_pairs", "reason", "report",
    "imbalance", "imbalance_z", "lod",
]


@dataclass(frozen=True)
class SummaryRow:
    sample: str
    target: str
    status: str
    fusions: str
    exons: str
    confidence: str
    split_reads: str
    discordant_pairs: str
    reason: str
    report: str
    imbalance: str = ""  # the 3'/5' verdict (targets.tsv), '' for a failed sample
    imbalance_z: str = ""
    lod: str = ""  # the limit of detection (targets.tsv's lod: a fraction), '' or '.' where none
    on_target_fraction: str = ""  # the sample's (targets.tsv), '' or '.' where not measured
    control_junction_reads: str = ""
    unique_fragments: str = ""  # the target's (targets.tsv): molecules when the reads carry UMIs
    duplicate_rate: str = ""  # the sample's (targets.tsv), '' or '.' where not measured
    median_insert: str = ""


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _exons(call: dict[str, str]) -> str:
    """``TPM3 e7::ALK e20`` from a fusions.tsv row ('?' where an exon is unknown)."""
    e5 = call.get("exon5", ".")
    e3 = call.get("exon3", ".")
    return f"{call['gene5']} e{e5 if e5 != '.' else '?'}::{call['gene3']} e{e3 if e3 != '.' else '?'}"


def sample_rows(outdir: Path, sample: str, targets: list[str]) -> list[SummaryRow]:
    base = outdir / sample
    targets_file = base / f"{sample}.targets.tsv"
    fusions_file = base / f"{sample}.fusions.tsv"
    error_file = base / f"{sample}.error.txt"
    report = f"{sample}/{sample}.report.html"
    error_newer = error_file.exists() and (
        not targets_file.exists() or error_file.stat().st_mtime >= targets_file.stat().st_mtime
    )
    if error_newer or not targets_file.exists() or not fusions_file.exists():
        if error_file.exists():
            reason = error_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()[0]
            status = "failed"
        else:
            reason = "no results: the sample was not run or its job failed; see the Snakemake log"
            status = "failed"
        return [SummaryRow(sample, t, status, "", "", "", "", "", reason, "") for t in targets]
    calls = _read_tsv(fusions_file)
    rows = []
    for row in _read_tsv(targets_file):
        target = row["target"]
        mine = [c for c in calls if target in c.get("target", "").split(",")]
        rows.append(
            SummaryRow(
                sample=sample,
                target=target,
                status=row["status"],
                fusions=",".join(c["fusion"] for c in mine),
                exons=",".join(_exons(c) for c in mine),
                confidence=",".join(c["confidence"] for c in mine),
                split_reads=",".join(c["split_reads"] for c in mine),
                discordant_pairs=",".join(c["discordant_pairs"] for c in mine),
                reason=row["reason"],
                report=report,
                imbalance=row.get("imbalance", ""),
                imbalance_z=row.get("imbalance_z", ""),
                lod=row.get("lod", ""),
                on_target_fraction=row.get("on_target_fraction", ""),
                control_junction_reads=row.get("control_junction_reads", ""),
                unique_fragments=row.get("unique_fragments", ""),
                duplicate_rate=row.get("duplicate_rate", ""),
                median_insert=row.get("median_insert", ""),
            )
        )
    return rows


def summarize(outdir: str | Path, samples: list[str], targets: list[str]) -> list[SummaryRow]:
    outdir = Path(outdir)
    rows: list[SummaryRow] = []
    for sample in samples:
        rows.extend(sample_rows(outdir, sample, targets))
    return rows


_SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, i){
  th.style.cursor='pointer';
  th.addEventListener('click', function(){
    var tbody=th.closest('table').tBodies[0];
    var rows=Array.prototype.slice.call(tbody.rows);
    var asc=th.dataset.asc!=='1'; th.dataset.asc=asc?'1':'0';
    rows.sort(function(a,b){var x=a.cells[i].innerText, y=b.cells[i].innerText;
      return asc? x.localeCompare(y, undefined, {numeric:true}) : y.localeCompare(x, undefined, {numeric:true});});
    rows.forEach(function(r){tbody.appendChild(r);});
  });
});
"""


OVERALL_ORDER = ("failed", "positive", "fusion suspected", "not assessable", "negative")


def sample_overall(rows: list[SummaryRow]) -> str:
    """One word for a sample: ``failed`` (no result), ``positive`` (a target detected),
    ``fusion suspected`` (no call, a target with a 3'/5' imbalance), ``not assessable``
    (no call and some target could not be ruled out), else ``negative`` (an ATI status is
    no fusion)."""
    statuses = {base_status(r.status) for r in rows}
    if "failed" in statuses:
        return "failed"
    if "detected" in statuses:
        return "positive"
    if IMBALANCE_STATUS in statuses:
        return "fusion suspected"
    if "not assessable" in statuses:
        return "not assessable"
    return "negative"


def batch_tally(rows: list[SummaryRow]) -> str:
    """What the batch found, counted in samples and fusions (not in gene cells: a fusion
    of two targets fills two cells, a failed sample fills one per target)."""
    by_sample: dict[str, list[SummaryRow]] = {}
    for r in rows:
        by_sample.setdefault(r.sample, []).append(r)
    overall = [sample_overall(v) for v in by_sample.values()]
    fusions = {(r.sample, f) for r in rows for f in r.fusions.split(",") if f and f != "."}
    parts = [f"{overall.count(o)} {o}" for o in OVERALL_ORDER if o in overall]
    return f"{len(by_sample)} sample(s): {', '.join(parts)}; {len(fusions)} fusion(s) called"


def render_summary_html(rows: list[SummaryRow], targets: list[str], now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    by_sample: dict[str, dict[str, SummaryRow]] = {}
    for r in rows:
        by_sample.setdefault(r.sample, {})[r.target] = r
    head = "".join(f"<th>{esc(t)}</th>" for t in targets)
    body = []
    for sample in by_sample:
        cells = []
        link = next((r.report for r in by_sample[sample].values() if r.report), "")
        name = f'<a href="{esc(link)}">{esc(sample)}</a>' if link else esc(sample)
        for t in targets:
            r = by_sample[sample].get(t)
            if r is None:
                cells.append("<td>-</td>")
                continue
            title = esc(r.reason)
            details = []
            for k, fusion in enumerate(n for n in r.fusions.split(",") if n):
                exons = r.exons.split(",")[k] if k < len(r.exons.split(",")) else fusion
                tier = r.confidence.split(",")[k] if k < len(r.confidence.split(",")) else ""
                split = r.split_reads.split(",")[k] if k < len(r.split_reads.split(",")) else ""
                disc = r.discordant_pairs.split(",")[k] if k < len(r.discordant_pairs.split(",")) else ""
                details.append(
                    f"<br><small><b>{esc(exons)}</b> ({esc(tier)}; {esc(split)} split, {esc(disc)} discordant)</small>"
                )
            shown = ("failed", "not assessable", IMBALANCE_STATUS)
            reason = f"<br><small>{esc(r.reason)}</small>" if r.status in shown else ""  # an LoD status says it all
            if r.imbalance_z not in ("", ".") and r.status != "failed":
                details.append(f"<br><small>3′/5′ z = {esc(r.imbalance_z)}</small>")
            cells.append(
                f'<td class="{status_class(r.status)}" title="{title}">{esc(r.status)}'
                + "".join(details) + reason + "</td>"
            )
        overall = sample_overall(list(by_sample[sample].values()))
        body.append(f"<tr><td>{name}</td><td>{esc(overall)}</td>{''.join(cells)}</tr>")
    tally = esc(batch_tally(rows))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>imtfusion batch summary</title><style>{CSS}</style></head><body>
<h1>Batch summary</h1>
<p class="note">imtfusion {esc(__version__)}, {esc(now.strftime('%Y-%m-%d %H:%M UTC'))}; {len(by_sample)} samples. Click a column header to sort; a sample name opens its report.</p>
<p>{tally}</p>
<table class="sortable"><thead><tr><th>sample</th><th>overall</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
<script>{_SORT_JS}</script>
</body></html>
"""
