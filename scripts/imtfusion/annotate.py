"""Transcript-level annotation of a call: exons, reading frame, domains, sequences.

For each partner the reported transcript is chosen among those whose exon boundary
explains the breakpoint (if any), by tag preference (``Ensembl_canonical``, then
``MANE_Select`` by default), then longest CDS. The breakpoint is located on it in
transcript coordinates, from which follow the exon numbers, the site (splice site,
exonic, intronic, UTR), the reading frame (from CDS phases: no FASTA needed), and which
declared protein domains are kept. With a FASTA the fused transcript and peptide around
the junction are spelled out.

Positions are 0-based genomic; "transcript order" means 5' to 3' of the transcript.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from imtfusion.annotation import Annotation, Transcript
from imtfusion.errors import InputFileError
from imtfusion.knowledge import read_curated_table, resource_path
from imtfusion.nomenclature import JunctionEnd, exon_description, hgvs_adjoined, junction_end
from imtfusion.registry import load_registry
from imtfusion.transcript import Location, TranscriptGeometry

DOMAINS_FILE = "domains.tsv"
_CODONS = {
    a + b + c: aa
    for (a, b, c), aa in zip(
        ((x, y, z) for x in "TCAG" for y in "TCAG" for z in "TCAG"),
        "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
    )
}
_COMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")

Fetch = Callable[[str, int, int], str]  # (GTF contig, start, end) -> bases, upper case


@dataclass(frozen=True, slots=True)
class Domain:
    gene: str
    name: str
    kind: str  # "kinase" or "other"
    aa_start: int  # 1-based inclusive
    aa_end: int
    source: str


def load_domains(path: str | Path | None = None) -> list[Domain]:
    """The declared domains: each registry target's kinase domain (resources/targets.tsv),
    then the other domains of ``domains.tsv`` (or of the table at ``path``)."""
    registry = load_registry()
    kinases = [Domain(gene, k.name, "kinase", k.aa_start, k.aa_end, k.source) for gene, k in registry.kinase_domains()]
    path = Path(path) if path else resource_path(DOMAINS_FILE)
    needed = {"gene", "domain", "kind", "aa_start", "aa_end", "source"}
    try:
        others = [
            Domain(r["gene"], r["domain"], r["kind"], int(r["aa_start"]), int(r["aa_end"]), r["source"])
            for r in read_curated_table(path, "domain table", needed)
        ]
    except ValueError:
        raise InputFileError(f"{path}: aa_start and aa_end of the domain table must be whole numbers") from None
    declared = {d.gene for d in kinases}
    twice = sorted({d.gene for d in others if d.kind == "kinase" and d.gene in declared})
    if twice:
        raise InputFileError(
            f"{path}: the kinase domain of {', '.join(twice)} is declared in the target registry {registry.path} "
            "already; remove its row here"
        )
    return kinases + others



def choose_transcript(
    annotation: Annotation, gene_id: str, pos: int, side: str, tags: tuple[str, ...]
) -> Transcript | None:
    """The transcript to report: one whose exon boundary is the breakpoint if possible,
    then by tag preference, then the longest CDS."""
    transcripts = annotation.transcripts_of(gene_id)
    if not transcripts:
        return None

    def at_boundary(t: Transcript) -> bool:
        ordered = sorted(t.exons)
        for i, (s, e) in enumerate(ordered):
            if side == "R" and i > 0 and s == pos:
                return True
            if side == "L" and i < len(ordered) - 1 and e - 1 == pos:
                return True
        return False

    def rank(t: Transcript) -> tuple:
        tag_rank = next((k for k, tag in enumerate(tags) if tag in t.tags), len(tags))
        return (not at_boundary(t), tag_rank, -t.cds_length, -t.length, t.transcript_id)

    return min(transcripts, key=rank)


@dataclass(frozen=True, slots=True)
class FusionAnnotation:
    transcript5: str
    transcript3: str
    exon5: int | None
    exon3: int | None
    site5: str
    site3: str
    reading_frame: str  # in-frame, out-of-frame, unknown
    retained_domains: tuple[str, ...]
    kinase_domain: str  # retained, lost, not applicable
    fusion_transcript: str  # "" without FASTA
    peptide: str
    # for the report's diagram: genomic intervals of declared domains per gene
    domains5: tuple[tuple[str, str, tuple[tuple[int, int], ...]], ...] = ()
    domains3: tuple[tuple[str, str, tuple[tuple[int, int], ...]], ...] = ()
    # the junction in words (imtfusion.nomenclature): each end on its transcript, the HGVS
    # adjoined-transcript description ("" when a partner is intergenic) and the exon text
    junction5: "JunctionEnd | None" = None
    junction3: "JunctionEnd | None" = None
    hgvs: str = ""
    exon_description: str = ""


def reading_frame(loc5: Location | None, loc3: Location | None) -> str:
    if loc5 is None or loc3 is None or loc5.coding is None or loc3.coding is None:
        return "unknown"
    if not (0 < loc5.coding <= loc5.cds_length) or not (0 <= loc3.coding < loc3.cds_length):
        return "unknown"  # a UTR on either side: no frame to continue
    frame5 = (loc5.coding + loc5.frame_shift) % 3
    frame3 = (loc3.coding + loc3.frame_shift) % 3
    return "in-frame" if frame5 == frame3 else "out-of-frame"


def _domain_status(domain: Domain, loc: Location, role: str) -> str:
    """'retained', 'partial' or 'lost' for a domain of the gene at ``loc``."""
    if loc.coding is None:
        return "lost" if role == "5" else "retained" if loc.site == "upstream" else "lost"
    if role == "5":
        kept_aa = (loc.coding + loc.frame_shift) // 3  # complete codons kept
        if domain.aa_end <= kept_aa:
            return "retained"
        return "partial" if domain.aa_start <= kept_aa else "lost"
    first = loc.coding + loc.frame_shift
    first_full_aa = (first + 2) // 3 + 1 if first > 0 else 1
    if domain.aa_start >= first_full_aa:
        return "retained"
    return "partial" if domain.aa_end >= first_full_aa else "lost"


def _translate(seq: str) -> str:
    out = []
    for i in range(0, len(seq) - 2, 3):
        aa = _CODONS.get(seq[i:i + 3].upper(), "X")
        out.append(aa)
        if aa == "*":
            break
    return "".join(out)


def _revcomp(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


def _spliced(t: Transcript, fetch: Fetch) -> str:
    parts = [fetch(t.chrom, s, e) for s, e in t.exons]
    if t.strand == "-":
        parts = [_revcomp(p) for p in parts]
    return "".join(parts)


def _part5(geo: TranscriptGeometry, pos: int, fetch: Fetch) -> tuple[str, int | None]:
    """Transcript sequence from its start through the 5' breakpoint (intronic bases in
    lower case), and the transcript offset of the CDS start."""
    t = geo.t
    seq = _spliced(t, fetch)
    kind, i, a, _ = geo.locate(pos)
    if kind == "exon":
        return seq[: a + 1], geo.cds_start
    if kind == "intron":
        end = geo.offsets[i] + geo.exons[i][1] - geo.exons[i][0]
        s, e = geo.exons[i]
        intron = fetch(t.chrom, e, e + a) if t.strand == "+" else _revcomp(fetch(t.chrom, s - a, s))
        return seq[:end] + intron.lower(), geo.cds_start
    return "", None


def _part3(geo: TranscriptGeometry, pos: int, fetch: Fetch) -> str:
    t = geo.t
    seq = _spliced(t, fetch)
    kind, i, a, b = geo.locate(pos)
    if kind == "exon":
        return seq[a:]
    if kind == "intron":
        nxt = geo.offsets[i + 1]
        s, e = geo.exons[i + 1]
        intron = fetch(t.chrom, s - b, s) if t.strand == "+" else _revcomp(fetch(t.chrom, e, e + b))
        return intron.lower() + seq[nxt:]
    if kind == "upstream":
        return seq
    return ""


def annotate_fusion(
    annotation: Annotation,
    gene_id5: str | None,
    gene_id3: str | None,
    pos5: int,
    side5: str,
    pos3: int,
    side3: str,
    gene5: str,
    gene3: str,
    domains: list[Domain],
    tags: tuple[str, ...],
    fetch: Fetch | None = None,
    flank: int = 60,
    peptide_flank: int = 30,
) -> FusionAnnotation:
    """Annotate one fusion given its breakends (GTF contig coordinates)."""
    t5 = choose_transcript(annotation, gene_id5, pos5, side5, tags) if gene_id5 else None
    t3 = choose_transcript(annotation, gene_id3, pos3, side3, tags) if gene_id3 else None
    g5 = TranscriptGeometry(t5) if t5 else None
    g3 = TranscriptGeometry(t3) if t3 else None
    loc5 = g5.locate_5prime(pos5) if g5 else None
    loc3 = g3.locate_3prime(pos3) if g3 else None
    # the protein's view: a junction intronic on both sides is a genomic breakpoint read in
    # pre-mRNA, which splices the 5' exon's donor to the 3' exon's acceptor (both kept):
    # frame, domains and peptide are those of that mRNA (exon5 :: exon3)
    here5, here3 = loc5, loc3
    ppos5, ppos3, spliced = pos5, pos3, False
    if (g5 is not None and g3 is not None and loc5 is not None and loc3 is not None
            and loc5.exon is not None and loc3.exon is not None and loc5.site == loc3.site == "intronic"):
        ppos5, ppos3, spliced = g5.exon_last_base(loc5.exon), g3.exon_first_base(loc3.exon), True
        loc5, loc3 = g5.locate_5prime(ppos5), g3.locate_3prime(ppos3)
    frame = reading_frame(loc5, loc3)
    retained: list[str] = []
    kinase_states: list[str] = []
    mapped5, mapped3 = [], []
    for role, gene, loc, geo, mapped in (("5", gene5, loc5, g5, mapped5), ("3", gene3, loc3, g3, mapped3)):
        for d in (d for d in domains if d.gene == gene):
            if geo is not None and d.aa_end * 3 > geo.cds_length():
                continue  # the transcript's protein is shorter: another isoform, not mappable
            if geo is not None:
                mapped.append((d.name, d.kind, tuple(geo.domain_intervals(d.aa_start, d.aa_end))))
            if loc is None:
                continue
            state = _domain_status(d, loc, role)
            if state == "retained":
                retained.append(f"{gene}:{d.name}")
            elif state == "partial":
                retained.append(f"{gene}:{d.name} (partial)")
            if d.kind == "kinase":
                kinase_states.append(state)
    if "retained" in kinase_states:
        kinase = "retained"
    elif kinase_states:
        kinase = "lost"
    else:
        kinase = "not applicable"
    fusion_seq = peptide = ""
    if fetch is not None and g5 is not None and g3 is not None:
        part5, cds5 = _part5(g5, pos5, fetch)
        part3 = _part3(g3, pos3, fetch)
        if part5 and part3:
            fusion_seq = f"{part5[-flank:]}|{part3[:flank]}"  # the junction as read (pre-mRNA if spliced)
        if spliced:
            part5, cds5 = _part5(g5, ppos5, fetch)
            part3 = _part3(g3, ppos3, fetch)
        if part5 and part3:
            if cds5 is not None and loc5 is not None and loc5.coding is not None and 0 < loc5.coding <= loc5.cds_length:
                coding5 = part5[cds5:]
                start = (len(coding5) % 3)
                # complete codons of the 5' part before the junction, then across it
                before = _translate(coding5[: len(coding5) - start]) if len(coding5) >= 3 else ""
                if "*" in before:
                    before = before[: before.index("*") + 1]
                across = _translate((coding5[len(coding5) - start:] + part3)[: 3 * (peptide_flank + 1)])
                # a stop codon before the junction (e.g. in kept intronic bases) ends it there
                peptide = before[-peptide_flank:] if before.endswith("*") else f"{before[-peptide_flank:]}|{across}"
    loc5, loc3 = here5, here3  # the junction's own place: its exon numbers, sites and description
    end5 = junction_end(g5, pos5, "5", gene5, loc5.site) if g5 is not None and loc5 is not None else None
    end3 = junction_end(g3, pos3, "3", gene3, loc3.site) if g3 is not None and loc3 is not None else None
    return FusionAnnotation(
        transcript5=t5.transcript_id if t5 else ".",
        transcript3=t3.transcript_id if t3 else ".",
        exon5=loc5.exon if loc5 else None,
        exon3=loc3.exon if loc3 else None,
        site5=loc5.site if loc5 else "intergenic",
        site3=loc3.site if loc3 else "intergenic",
        reading_frame=frame,
        retained_domains=tuple(retained),
        kinase_domain=kinase,
        fusion_transcript=fusion_seq,
        peptide=peptide,
        domains5=tuple(mapped5),
        domains3=tuple(mapped3),
        junction5=end5,
        junction3=end3,
        hgvs=hgvs_adjoined(end5, end3),
        exon_description=exon_description(gene5, gene3, end5, end3),
    )
