"""The batch summary as a MultiQC custom-content table (``imtfusion_mqc.yaml``).

MultiQC picks up any file named ``*_mqc.yaml`` and reads the section configuration
(``id``, ``section_name``, ``description``, ``plot_type``, ``pconfig``, ``headers``) and the
``data`` (sample -> column -> value) from it; no MultiQC config is needed. One row per
sample: the number of targets with a detected fusion, then one column per target with its
status, and for a detected target the fusion names and confidence tiers, then one column
per kinase target with the z of its 3'/5' expression imbalance (``{target}_imbalance_z``;
no cell where it was not measured), then one per target with its limit of detection in
percent of its transcripts (``{target}_lod``), then the panel QC figures of the sample:
its on-target fraction in percent (``on_target_percent``), its control genes'
junction reads (``control_junction_reads``), its duplicate rate in percent
(``duplicate_percent``) and median insert (``median_insert``), where measured, then one per target with
its unique fragments (``{target}_unique``: molecules, UMI families, when the reads carry
UMIs). Cells are
coloured with MultiQC's per-column conditional formatting.

The text contains no date, so the same summary gives the same bytes.
"""

from __future__ import annotations

from typing import Iterable

import yaml

from imtfusion import __version__
from imtfusion.summary import SummaryRow

SECTION_ID = "imtfusion"
COUNT_COLUMN = "detected_targets"
DETECTED_PREFIX = "detected: "


def cell_text(row: SummaryRow) -> str:
    """``not detected``, ``not assessable``, ``failed``, or for a detected target
    ``detected: GENE5::GENE3 (tier), ...``."""
    if row.status != "detected":
        return row.status
    names = [n for n in row.fusions.split(",") if n]
    tiers = row.confidence.split(",") if row.confidence else []
    parts = [f"{n} ({tiers[i]})" if i < len(tiers) and tiers[i] else n for i, n in enumerate(names)]
    return DETECTED_PREFIX + ", ".join(parts) if parts else "detected"


def _target_header(target: str) -> dict:
    return {
        "title": target,
        "description": (
            f"{target}: detected (with the fusions and their confidence), not detected (with the limit of "
            "detection), not assessable (QC failed, too few reads, or the LoD above lod_max_fraction), imbalance: fusion suspected (a 3'/5' excess "
            "without a call), ALK-ATI (3' expression from an intron start, not a fusion) or failed "
            "(the sample did not run)"
        ),
        "scale": False,
        "cond_formatting_rules": {
            "detected": [{"s_contains": DETECTED_PREFIX.strip()}],
            "pass": [{"s_contains": "not detected"}, {"s_contains": "-ATI ("}],
            "warn": [{"s_contains": "not assessable"}],
            "suspected": [{"s_contains": "imbalance:"}],
            "fail": [{"s_eq": "failed"}],
        },
        "cond_formatting_colours": [
            {"detected": "#c0392b"},
            {"pass": "#28a745"},
            {"warn": "#f0ad4e"},
            {"suspected": "#d35400"},
            {"fail": "#6c757d"},
        ],
    }


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _z(row: SummaryRow) -> float | None:
    return _number(row.imbalance_z)


def _lod(row: SummaryRow) -> float | None:
    """The LoD as a percentage, rounded to 0.1."""
    value = _number(row.lod)
    return None if value is None else round(100 * value, 1)


def _on_target(row: SummaryRow) -> float | None:
    value = _number(row.on_target_fraction)
    return None if value is None else round(100 * value, 1)


def _control(row: SummaryRow) -> int | None:
    value = _number(row.control_junction_reads)
    return None if value is None else int(value)


def _duplicates(row: SummaryRow) -> float | None:
    value = _number(row.duplicate_rate)
    return None if value is None else round(100 * value, 1)


def _insert(row: SummaryRow) -> float | None:
    return _number(row.median_insert)


def _unique(row: SummaryRow) -> int | None:
    value = _number(row.unique_fragments)
    return None if value is None else int(value)


def multiqc_object(rows: list[SummaryRow], targets: Iterable[str]) -> dict:
    targets = list(targets)
    by_sample: dict[str, dict[str, SummaryRow]] = {}
    for r in rows:
        by_sample.setdefault(r.sample, {})[r.target] = r
    headers: dict[str, dict] = {
        COUNT_COLUMN: {
            "title": "Detected",
            "description": "Number of target genes with a called fusion",
            "min": 0,
            "max": max(len(targets), 1),
            "format": "{:,.0f}",
            "scale": "OrRd",
        }
    }
    for t in targets:
        headers[t] = _target_header(t)
    # per target: (column suffix, value of a row, header of a target), where measured
    first = [
        ("imbalance_z", _z, lambda t: {
            "title": f"{t} 3'/5' z",
            "description": (f"z of {t}'s 3'/5' exon-coverage ratio over the reference (batch or shipped "
                            "profile); high values: the kinase part is over-expressed"),
            "format": "{:,.1f}",
            "scale": "RdBu-rev",
        }),
        ("lod", _lod, lambda t: {
            "title": f"{t} LoD %",
            "description": (f"limit of detection of {t}: the share of its transcripts (%) a fusion must reach to "
                            "be detected with 95% probability (lod_probability); above lod_max_fraction a target "
                            "without a call is not assessable"),
            "format": "{:,.1f}",
            "min": 0,
            "max": 100,
            "scale": "RdYlGn-rev",
        }),
    ]
    last = [
        ("unique", _unique, lambda t: {
            "title": f"{t} unique",
            "description": (f"unique fragments of the {t} locus: its molecules (one per UMI family at a start) when "
                            "the reads carry UMIs, else its fragments less duplicates (flags or start positions)"),
            "format": "{:,.0f}",
            "min": 0,
            "scale": "Blues",
        }),
    ]

    def measured(columns):  # type: ignore[no-untyped-def]
        out = []
        for suffix, value_of, header_of in columns:
            with_value = [t for t in targets if any(r.target == t and value_of(r) is not None for r in rows)]
            for t in with_value:
                headers[f"{t}_{suffix}"] = header_of(t)
            out.append((suffix, value_of, with_value))
        return out

    per_target = measured(first)
    panel = {
        "on_target_percent": ({"title": "On target %", "description": "share of the BAM's mapped records in the "
                               "target loci (index statistics; a targeted panel most, a whole transcriptome a few)",
                               "format": "{:,.1f}", "min": 0, "max": 100, "scale": "RdYlGn"}, _on_target),
        "control_junction_reads": ({"title": "Control junctions", "description": "reads across an exon junction "
                                    "of the housekeeping (control) genes", "format": "{:,.0f}", "min": 0,
                                    "scale": "Greens"}, _control),
        "duplicate_percent": ({"title": "Duplicates %", "description": "the sample's duplicate rate in the target "
                               "and housekeeping loci (UMI families with UMIs, else duplicate flags or start "
                               "positions)", "format": "{:,.1f}", "min": 0, "max": 100, "scale": "RdYlGn-rev"},
                              _duplicates),
        "median_insert": ({"title": "Median insert", "description": "median fragment length of the pairs whose mates "
                           "start in one exon (bases)", "format": "{:,.0f}", "min": 0, "scale": "Blues"}, _insert),
    }
    panel = {k: v for k, v in panel.items() if any(v[1](r) is not None for r in rows)}
    for key, (header, _) in panel.items():
        headers[key] = header
    per_target += measured(last)

    def put(values: dict, cells: dict, columns) -> None:  # type: ignore[no-untyped-def]
        for suffix, value_of, with_value in columns:
            for t in with_value:
                value = value_of(cells[t]) if t in cells else None
                if value is not None:
                    values[f"{t}_{suffix}"] = value
    data: dict[str, dict] = {}
    for sample, cells in by_sample.items():
        values: dict[str, object] = {}
        failed = all(r.status == "failed" for r in cells.values())
        if not failed:
            values[COUNT_COLUMN] = sum(1 for r in cells.values() if r.status == "detected")
        for t in targets:
            if t in cells:
                values[t] = cell_text(cells[t])
        put(values, cells, per_target[:len(first)])
        for key, (_, value_of) in panel.items():
            value = next((v for v in map(value_of, cells.values()) if v is not None), None)
            if value is not None:
                values[key] = value
        put(values, cells, per_target[len(first):])
        data[sample] = values
    return {
        "id": SECTION_ID,
        "section_name": f"imtfusion: {'/'.join(targets)} fusions",
        "description": (
            f"Fusion status per sample and target gene (imtfusion {__version__}). "
            "Detected cells list the called fusions with their confidence tier; see each "
            "sample's report for the evidence."
        ),
        "plot_type": "table",
        "pconfig": {
            "id": "imtfusion_status_table",
            "title": "imtfusion: fusion status per target",
            "col1_header": "Sample",
            "sort_rows": False,  # keep the sample-sheet order
        },
        "headers": headers,
        "data": data,
    }


def render_multiqc(rows: list[SummaryRow], targets: Iterable[str]) -> str:
    """YAML text of the custom-content file, samples and columns in the given order."""
    text = yaml.safe_dump(multiqc_object(rows, targets), sort_keys=False, allow_unicode=True, width=1000)
    return "# imtfusion batch summary for MultiQC (custom content, plot_type: table)\n" + text
