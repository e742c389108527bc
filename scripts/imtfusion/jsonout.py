"""One sample's results as typed JSON, described by ``schemas/fusions.schema.json``.

The TSVs flatten everything to text; here numbers are numbers, missing values are
``null`` (never "."), lists are lists, and each breakpoint is given both as the TSV's
1-based ``chr:pos`` and as an object. Keys are sorted and nothing depends on the time,
so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from imtfusion.callrecord import IsoformRecord, call_record
from imtfusion.model import Breakend

if TYPE_CHECKING:
    from imtfusion.calling import Candidate
    from imtfusion.imbalance import ImbalanceResult
    from imtfusion.lod import LodResult
    from imtfusion.sampleqc import SampleQC
    from imtfusion.results import SampleResult, TargetStatus

SCHEMA_VERSION = "1.9.0"
SCHEMA_FILE = "fusions.schema.json"


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`render_json`'s output."""
    text = resources.files("imtfusion").joinpath("schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _text(value: object) -> str | None:
    """Strings as they are; '' and '.' (the TSV's 'missing') become None."""
    if value is None:
        return None
    text = str(value)
    return None if text in ("", ".") else text


def breakend_object(end: Breakend) -> dict[str, Any]:
    return {"chrom": end.chrom, "pos": end.pos + 1, "side": end.side}


def candidate_object(c: Candidate) -> dict[str, Any]:
    """A call or discarded candidate, typed, from its record (:mod:`imtfusion.callrecord`)."""
    r = call_record(c)
    return {
        "id": r.id,
        "fusion": r.fusion,
        "gene5": r.gene5,
        "gene3": r.gene3,
        "gene_id5": _text(r.gene_id5),
        "gene_id3": _text(r.gene_id3),
        "strand5": _text(r.strand5),
        "strand3": _text(r.strand3),
        "intergenic5": r.intergenic5,
        "intergenic3": r.intergenic3,
        "breakpoint5": r.breakpoint5,
        "breakpoint3": r.breakpoint3,
        "breakend5": breakend_object(r.breakend5),
        "breakend3": breakend_object(r.breakend3),
        "split_reads": r.split_reads,
        "discordant_pairs": r.discordant_pairs,
        "unplaced_pairs": r.unplaced_pairs,
        "fragments": r.fragments,
        "molecules": r.molecules,
        "umis": r.umis,
        "start_sites": r.start_sites,
        "primer_reads": r.primer_reads,
        "primers": list(r.primers),
        "confidence": _text(r.confidence),
        "targets": list(r.targets),
        "known": r.known,
        "transcript5": _text(r.transcript5),
        "transcript3": _text(r.transcript3),
        "exon5": r.exon5,
        "exon3": r.exon3,
        "site5": _text(r.site5),
        "site3": _text(r.site3),
        "reading_frame": r.reading_frame,
        "kinase_domain": _text(r.kinase_domain),
        "retained_domains": list(r.retained_domains or ()),
        "breakpoint_precision": r.breakpoint_precision,
        "homology": r.homology,
        "junction_shift": r.junction_shift,
        "best_anchor": r.best_anchor,
        "sequence5": _text(r.sequence5),
        "sequence3": _text(r.sequence3),
        "fusion_transcript": _text(r.fusion_transcript),
        "peptide": _text(r.peptide),
        "filters": list(r.filters),
        "isoforms": [isoform_object(k) for k in r.isoforms],
        "main_call": r.main_call,
        "refseq5": _text(r.refseq5),
        "refseq3": _text(r.refseq3),
        "hgvs": _text(r.hgvs),
        "exon_description": _text(r.exon_description),
    }


def isoform_object(k: IsoformRecord) -> dict[str, Any]:
    """Another junction of a call's gene pair, listed with the call."""
    return {
        "id": k.id,
        "breakpoint5": k.breakpoint5,
        "breakpoint3": k.breakpoint3,
        "split_reads": k.split_reads,
        "discordant_pairs": k.discordant_pairs,
        "breakpoint_precision": k.breakpoint_precision,
    }


def target_object(s: TargetStatus, qc: "SampleQC | None" = None) -> dict[str, Any]:
    """A target's status and locus QC (``qc``: the sample's QC, whose duplicate rule counts its unique fragments)."""
    q = s.qc
    return {
        "target": s.target,
        "status": s.status,
        "fusions": list(s.fusions),
        "reason": s.reason,
        "locus": q.locus,
        "reads": q.reads,
        "exon_reads": q.exon_reads,
        "mean_exon_coverage": round(float(q.mean_exon_coverage), 2),
        "duplicates": q.duplicates,
        "chimeric_records": q.chimeric_records,
        "split_reads": q.split_reads,
        "discordant_reads": q.discordant_reads,
        "clipped_reads": q.clipped_reads,
        "low_mapq": q.low_mapq,
        "unique_fragments": qc.unique_fragments_of(q) if qc is not None else None,
        "imbalance": imbalance_object(s.imbalance),
        "lod": lod_object(s.lod),
    }


def lod_object(v: "LodResult | None") -> dict[str, Any] | None:
    """The limit of detection of a target (``lod`` in the schema)."""
    if v is None:
        return None
    lib = v.library
    mean = lib.fragment_mean if lib.paired else None
    return {
        "lod": None if v.lod is None else round(v.lod, 4),
        "lod_known": None if v.lod_known is None else round(v.lod_known, 4),
        "probability": v.probability,
        "max_fraction": v.max_fraction,
        "assessable": v.assessable,
        "exons": v.region,
        "depth": round(v.depth, 2),
        "molecule_density": round(v.density, 5),
        "read_length": lib.read_length,
        "paired": lib.paired,
        "fragment_mean": None if mean is None else round(mean, 1),
        "unique_share": lib.unique_share,
        "windows": {"split_long": round(v.windows.split_long, 2), "split_short": round(v.windows.split_short, 2),
                    "discordant": round(v.windows.discordant, 2)},
        "fragments_at_lod": None if v.lod is None else round(v.fragments_at(v.lod), 2),
    }


def imbalance_object(v: ImbalanceResult | None) -> dict[str, Any]:
    """The 3'/5' assessment of a target (``imbalance`` in the schema)."""
    if v is None:
        from imtfusion.imbalance import VERDICT_NOT_ASSESSED, ImbalanceResult

        v = ImbalanceResult("", VERDICT_NOT_ASSESSED, "not assessed")
    measured = v.ln_ratio is not None
    return {
        "verdict": v.verdict,
        "reason": v.reason,
        "transcript": v.transcript or None,
        "split_exon": v.split_exon or None,
        "exon_depths": list(v.exon_depths),
        "depth5": v.depth5 if measured else None,
        "depth3": v.depth3 if measured else None,
        "reads5": v.reads5 if measured else None,
        "reads3": v.reads3 if measured else None,
        "ln_ratio": v.ln_ratio,
        "ratio": v.ratio,
        "z": v.z,
        "reference": v.reference or None,
        "window_depth": v.window_depth,
        "rest_depth": v.rest_depth,
    }


def sample_qc_object(qc: SampleQC | None) -> dict[str, Any] | None:
    """The sample QC figures and gates (``sample_qc`` in the schema)."""
    if qc is None:
        return None
    return {
        "passed": qc.passed,
        "fragments": qc.fragments,
        "unique_fragments": qc.unique_fragments,
        "duplicate_rate": qc.duplicate_rate,
        "duplicates_from": qc.duplicates_from,
        "on_target_reads": qc.on_target_reads,
        "median_insert": qc.median_insert,
        "five_to_three": qc.five_to_three,
        "housekeeping": [{"gene": g, "five_to_three": r} for g, r in qc.housekeeping],
        "missing_housekeeping": list(qc.missing_housekeeping),
        "on_target_fraction": qc.on_target_fraction,
        "mapped_records": qc.mapped_records,
        "control_junction_reads": qc.control_junction_reads,
        "gates": [{"name": g.name, "label": g.label, "value": g.value, "limit": g.limit, "passed": g.passed,
                   "text": g.text} for g in qc.gates],
    }


def result_object(result: SampleResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "imtfusion",
        "version": result.version,
        "sample": result.sample,
        "inputs": {
            "bam": result.bam.path,
            "bam_index": _text(result.bam.index),
            "aligner": _text(result.bam.aligner),
            "annotation": result.annotation_source,
            "annotation_sha256": result.annotation_checksum,
            "fasta": result.fasta,
            "primers": result.primers,
        },
        "specimen": dict(result.specimen),
        "parameters": result.params.as_dict(),
        "contig_renames": dict(sorted(result.contig_renames.items())),
        "notes": list(result.notes),
        "sample_qc": sample_qc_object(result.sample_qc),
        "targets": [target_object(s, result.sample_qc) for s in result.statuses],
        "calls": [candidate_object(c) for c in result.called],
        "discarded": [candidate_object(c) for c in result.discarded],
    }


def render_json(result: SampleResult) -> str:
    """Deterministic JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(result_object(result), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
