"""Called fusions as VICC Gene Fusion Specification objects: ``{sample}.vicc.json``.

Each call becomes one *assayed* fusion (a fusion observed in a specimen by an RNA
assay) whose structure lists the 5' partner, then the 3' partner:

* a partner whose junction lies on its annotated transcript is a transcript segment
  element: the transcript (``refseq:`` accession when the GTF carries one, else
  ``ensembl:`` or ``gtf:`` and the GTF's transcript_id), the gene, and the junction as
  the 5' segment's end (``exonEnd``/``exonEndOffset`` with ``elementGenomicEnd``) or the
  3' segment's start (``exonStart``/``exonStartOffset`` with ``elementGenomicStart``).
  Only the junction is analysed, so the 5' segment has no start and the 3' segment no end
  (junction components, as the specification allows).
* a partner upstream of its gene's first exon or past its last is a gene element; an
  intergenic partner is a templated sequence element of the junction base.

Genomic locations are sequence locations in inter-residue (0-based) coordinates on the
BAM's contig names, as the report and VCF name them: the junction lies between two
bases, so a 5' segment on the + strand ends at ``end`` = the 1-based position of its last
kept base, on the - strand at ``start`` = its lowest kept base's 0-based position; a 3'
segment mirrors it. The contig has no refget accession (the genome's assembly is not
known to imtfusion). Exon offsets follow :mod:`imtfusion.nomenclature`.

No causative event is given: RNA does not tell a rearrangement from trans-splicing.
imtfusion makes no call from expression imbalance alone, so no fusion here is inferred
(``(::)``): every one is observed in junction reads or mates. The structure is described
by the JSON Schema ``schemas/vicc.schema.json``; keys are sorted, nothing depends on the
time.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from imtfusion.nomenclature import JunctionEnd, vicc_junction

if TYPE_CHECKING:  # pragma: no cover
    from imtfusion.calling import Candidate
    from imtfusion.model import Breakend
    from imtfusion.results import SampleResult

VICC_FORMAT_VERSION = "1.0.0"
VICC_SCHEMA_FILE = "vicc.schema.json"
ENSEMBL_SYSTEM = "https://www.ensembl.org"
GTF_SYSTEM = "urn:imtfusion:gtf:gene_id"  # a gene_id as the GTF writes it (not Ensembl)
ASSAY_NAME = "RNA sequencing, targeted fusion calling (imtfusion)"


def load_vicc_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`render_vicc`'s output."""
    text = resources.files("imtfusion").joinpath("schemas").joinpath(VICC_SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _bare(identifier: str) -> str:
    return identifier.partition(".")[0]


def gene_concept(name: str, gene_id: str) -> dict[str, Any]:
    """A gene as a mappable concept: its symbol and the GTF's gene_id."""
    if gene_id.startswith("ENSG"):
        coding = {"id": f"ensembl:{_bare(gene_id)}", "code": gene_id, "system": ENSEMBL_SYSTEM}
    else:
        coding = {"id": f"gtf:{gene_id}", "code": gene_id, "system": GTF_SYSTEM}
    return {"conceptType": "Gene", "name": name, "primaryCoding": coding}


def transcript_curie(end: JunctionEnd) -> str:
    if end.refseq:
        return f"refseq:{end.refseq}"
    if end.transcript_id.startswith("ENST"):
        return f"ensembl:{end.transcript_id}"
    return f"gtf:{end.transcript_id}"


def sequence_location(chrom: str, start: int | None = None, end: int | None = None) -> dict[str, Any]:
    loc: dict[str, Any] = {"type": "SequenceLocation", "sequenceReference": {"type": "SequenceReference", "id": chrom}}
    if start is not None:
        loc["start"] = start
    if end is not None:
        loc["end"] = end
    return loc


def junction_location(chrom: str, pos: int, role: str, strand: str) -> dict[str, Any]:
    """The inter-residue junction next to the kept base ``pos`` (0-based) of a partner."""
    after = (role == "5") == (strand == "+")  # the junction follows the kept base on the genome
    return sequence_location(chrom, end=pos + 1) if after else sequence_location(chrom, start=pos)


def _segment(end: JunctionEnd, gene_id: str, breakend: "Breakend") -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "TranscriptSegmentElement",
        "transcript": transcript_curie(end),
        "gene": gene_concept(end.gene, gene_id),
    }
    loc = junction_location(breakend.chrom, breakend.pos, end.role, end.strand)
    if end.role == "5":
        element.update(exonEnd=end.exon, exonEndOffset=end.offset, elementGenomicEnd=loc)
    else:
        element.update(exonStart=end.exon, exonStartOffset=end.offset, elementGenomicStart=loc)
    return element


def _element(c: "Candidate", role: str) -> tuple[dict[str, Any], str]:
    """The structural element of one partner and its nomenclature component."""
    gene = c.gene5 if role == "5" else c.gene3
    breakend = c.end5 if role == "5" else c.end3
    a = c.annotation
    end = (a.junction5 if role == "5" else a.junction3) if a is not None else None
    if gene.intergenic:
        # the kept bases run from the junction base away from the partner
        forward = (breakend.side == "L") == (role == "5")
        strand = 1 if forward else -1
        region = sequence_location(breakend.chrom, start=breakend.pos, end=breakend.pos + 1)
        return ({"type": "TemplatedSequenceElement", "region": region, "strand": strand},
                f"{breakend.chrom}:g.{breakend.pos}_{breakend.pos + 1}({'+' if strand == 1 else '-'})")
    concept = gene_concept(gene.name, gene.gene_id)
    if end is None or end.exon is None or end.offset is None:
        return {"type": "GeneElement", "gene": concept}, f"{gene.name}({concept['primaryCoding']['id']})"
    return _segment(end, gene.gene_id, breakend), vicc_junction(end)


def assayed_fusion(c: "Candidate") -> dict[str, Any]:
    """One call as a VICC assayed fusion."""
    five, name5 = _element(c, "5")
    three, name3 = _element(c, "3")
    fusion: dict[str, Any] = {
        "type": "AssayedFusion",
        "structure": [five, three],
        "viccNomenclature": f"{name5}::{name3}",
        "assay": {"type": "Assay", "assayName": ASSAY_NAME, "fusionDetection": "observed"},
        "readData": {
            "type": "ReadData",
            "split": {"type": "SplitReads", "splitReads": int(c.split_reads)},
            "spanning": {"type": "SpanningReads", "spanningReads": int(c.discordant_pairs)},
        },
    }
    frame = c.annotation.reading_frame if c.annotation is not None else "unknown"
    if frame in ("in-frame", "out-of-frame"):
        fusion["readingFramePreserved"] = frame == "in-frame"
    return fusion


def vicc_object(result: "SampleResult") -> dict[str, Any]:
    return {
        "schema_version": VICC_FORMAT_VERSION,
        "specification": "VICC Gene Fusion Specification (assayed fusions)",
        "tool": "imtfusion",
        "version": result.version,
        "sample": result.sample,
        "calls": [{"id": c.call_id, "fusion": c.fusion, "assayedFusion": assayed_fusion(c)} for c in result.called],
    }


def render_vicc(result: "SampleResult") -> str:
    """Deterministic JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(vicc_object(result), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
