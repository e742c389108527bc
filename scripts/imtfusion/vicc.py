"""Called fusions as VICC Gene Fusion Specification objects: ``{sample}.vicc.json``.

The objects follow the structure of FUSOR (the specification's reference
implementation, version 0.10): the tests validate every one against FUSOR's
``AssayedFusion`` model and the JSON Schema it publishes.

Each call becomes one *assayed* fusion (a fusion observed in a specimen by an RNA
assay, ``fusionDetection: observed``) whose structure lists the 5' partner, then the 3'
partner:

* a partner whose junction lies on its annotated transcript is a transcript segment
  element: the transcript (``refseq:`` accession when the GTF carries one, else
  ``ensembl:`` or ``gtf:`` and the GTF's transcript_id), its status
  (``mane_select`` / ``mane_plus_clinical`` from the GTF's tags, else
  ``longest_compatible_remaining``), its strand (1 / -1), the gene, and the junction as
  the 5' segment's end (``exonEnd``/``exonEndOffset`` with ``elementGenomicEnd``) or the
  3' segment's start (``exonStart``/``exonStartOffset`` with ``elementGenomicStart``).
  Only the junction is analysed, so the 5' segment has no start and the 3' segment no end
  (junction components, as the specification allows).
* a partner upstream of its gene's first exon or past its last is a gene element; an
  intergenic partner is a templated sequence element of the junction base.

Genomic locations are sequence locations in inter-residue (0-based) coordinates on the
BAM's contigs: the junction lies between two bases, so a 5' segment on the + strand ends
at ``end`` = the 1-based position of its last kept base, on the - strand at ``start`` =
its lowest kept base's 0-based position; a 3' segment mirrors it. The extension
``is_exonic`` says whether the junction is at an exon boundary (offset 0). With a FASTA
the contig is a sequence reference with its GA4GH refget accession (``SQ.`` +
sha512t24u of the contig's bases, :func:`imtfusion.reference.refget_accession`) and the
BAM's contig name as ``id``; without one the accession cannot be computed and the
reference is the contig name as an IRI reference. Exon offsets follow
:mod:`imtfusion.nomenclature`.

No causative event is given: RNA does not tell a rearrangement from trans-splicing.
A target whose status is a 3'/5' expression imbalance without any junction read (the
partner not identified) is listed under ``suspected`` as an *inferred* assayed fusion of
an unknown 5' partner and the target's gene, written ``?(::)ALK(ensembl:...)``: the
specification's ``(::)`` marks a join inferred, not observed. The file's own structure is
described by the JSON Schema ``schemas/vicc.schema.json``; keys are sorted, nothing
depends on the time.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from imtfusion.nomenclature import JunctionEnd, vicc_junction
from imtfusion.results import STATUS_IMBALANCE

if TYPE_CHECKING:  # pragma: no cover
    from imtfusion.calling import Candidate
    from imtfusion.model import Breakend
    from imtfusion.results import SampleResult
    from imtfusion.targets import TargetLocus

VICC_FORMAT_VERSION = "2.0.0"
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


def transcript_status(end: JunctionEnd) -> str:
    """FUSOR's transcript priority label from the transcript's GTF tags."""
    if "MANE_Select" in end.tags:
        return "mane_select"
    if "MANE_Plus_Clinical" in end.tags:
        return "mane_plus_clinical"
    return "longest_compatible_remaining"


def sequence_reference(chrom: str, accessions: dict[str, str]) -> dict[str, Any] | str:
    """The contig as a VRS sequence reference (refget accession from the FASTA), or its
    name as an IRI reference when no accession is known."""
    accession = accessions.get(chrom)
    if accession is None:
        return chrom
    return {"type": "SequenceReference", "id": chrom, "refgetAccession": accession}


def sequence_location(chrom: str, accessions: dict[str, str], start: int | None = None,
                      end: int | None = None) -> dict[str, Any]:
    loc: dict[str, Any] = {"type": "SequenceLocation", "sequenceReference": sequence_reference(chrom, accessions)}
    if start is not None:
        loc["start"] = start
    if end is not None:
        loc["end"] = end
    return loc


def junction_location(chrom: str, pos: int, role: str, strand: str, accessions: dict[str, str]) -> dict[str, Any]:
    """The inter-residue junction next to the kept base ``pos`` (0-based) of a partner."""
    after = (role == "5") == (strand == "+")  # the junction follows the kept base on the genome
    if after:
        return sequence_location(chrom, accessions, end=pos + 1)
    return sequence_location(chrom, accessions, start=pos)


def _segment(end: JunctionEnd, gene_id: str, breakend: "Breakend", accessions: dict[str, str]) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "TranscriptSegmentElement",
        "transcript": transcript_curie(end),
        "transcriptStatus": transcript_status(end),
        "strand": 1 if end.strand == "+" else -1,
        "gene": gene_concept(end.gene, gene_id),
    }
    loc = junction_location(breakend.chrom, breakend.pos, end.role, end.strand, accessions)
    loc["extensions"] = [{"name": "is_exonic", "value": end.offset == 0}]
    if end.role == "5":
        element.update(exonEnd=end.exon, exonEndOffset=end.offset, elementGenomicEnd=loc)
    else:
        element.update(exonStart=end.exon, exonStartOffset=end.offset, elementGenomicStart=loc)
    return element


def _element(c: "Candidate", role: str, accessions: dict[str, str]) -> tuple[dict[str, Any], str]:
    """The structural element of one partner and its nomenclature component."""
    gene = c.gene5 if role == "5" else c.gene3
    breakend = c.end5 if role == "5" else c.end3
    a = c.annotation
    end = (a.junction5 if role == "5" else a.junction3) if a is not None else None
    if gene.intergenic:
        # the kept bases run from the junction base away from the partner
        forward = (breakend.side == "L") == (role == "5")
        strand = 1 if forward else -1
        region = sequence_location(breakend.chrom, accessions, start=breakend.pos, end=breakend.pos + 1)
        return ({"type": "TemplatedSequenceElement", "region": region, "strand": strand},
                f"{breakend.chrom}:g.{breakend.pos}_{breakend.pos + 1}({'+' if strand == 1 else '-'})")
    concept = gene_concept(gene.name, gene.gene_id)
    if end is None or end.exon is None or end.offset is None:
        return {"type": "GeneElement", "gene": concept}, f"{gene.name}({concept['primaryCoding']['id']})"
    return _segment(end, gene.gene_id, breakend, accessions), vicc_junction(end)


def assayed_fusion(c: "Candidate", accessions: dict[str, str] | None = None) -> dict[str, Any]:
    """One call as a VICC assayed fusion (``accessions``: refget accession per contig)."""
    accessions = accessions or {}
    five, name5 = _element(c, "5", accessions)
    three, name3 = _element(c, "3", accessions)
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


def suspected_fusion(locus: "TargetLocus") -> dict[str, Any]:
    """A target's 3'/5' imbalance without a junction: an inferred fusion of an unknown 5'
    partner with the target gene."""
    concept = gene_concept(locus.name, locus.gene.gene_id)
    return {
        "type": "AssayedFusion",
        "structure": [{"type": "UnknownGeneElement"}, {"type": "GeneElement", "gene": concept}],
        "viccNomenclature": f"?(::){locus.name}({concept['primaryCoding']['id']})",
        "assay": {"type": "Assay", "assayName": ASSAY_NAME, "fusionDetection": "inferred"},
    }


def _suspected(result: "SampleResult") -> list[dict[str, Any]]:
    loci = {locus.name: locus for locus in result.loci}
    out = []
    for s in result.statuses:
        if s.status == STATUS_IMBALANCE and s.imbalance is not None and s.target in loci:
            out.append({"target": s.target, "reason": s.reason,
                        "assayedFusion": suspected_fusion(loci[s.target])})
    return out


def vicc_object(result: "SampleResult") -> dict[str, Any]:
    accessions = result.sequence_accessions
    return {
        "schema_version": VICC_FORMAT_VERSION,
        "specification": "VICC Gene Fusion Specification (assayed fusions, in the structure of FUSOR 0.10)",
        "tool": "imtfusion",
        "version": result.version,
        "sample": result.sample,
        "calls": [{"id": c.call_id, "fusion": c.fusion, "assayedFusion": assayed_fusion(c, accessions)}
                  for c in result.called],
        "suspected": _suspected(result),
    }


def render_vicc(result: "SampleResult") -> str:
    """Deterministic JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(vicc_object(result), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
