"""The words a report uses for a junction: HGVS adjoined transcripts, exon text, VICC ends.

For each partner the junction is placed on the transcript the call is annotated on
(:func:`imtfusion.annotate.choose_transcript`) and written three ways:

* an HGVS RNA position (``r.``) of the junction base, the 5' partner's last kept base and
  the 3' partner's first. On a transcript with a CDS, r.1 is the A of the start codon,
  bases before it are ``r.-N``, bases after the stop codon ``r.*N`` (the stop codon is the
  three bases after the GTF's last CDS base: GTF 2.2, GENCODE and Ensembl leave it out of
  the CDS); without a CDS r.1 is the transcript's first base. An intronic base is counted
  from the nearer exon boundary, ``r.1751+25`` after an exon's last base or ``r.4080-40``
  before an exon's first; the intron's middle base, when there is one, takes the ``+``
  form. Both strands: transcript coordinates run 5' to 3' of the transcript.
* the adjoined-transcript description of the HGVS recommendation (community proposal
  SVD-WG007), ``TX5(GENE5):r.?_P5::TX3(GENE3):r.P3_?``: only the junction is analysed, so
  the outer bounds are ``?``. The transcript is its RefSeq accession when the GTF carries
  one, else the GTF's transcript_id.
* an exon number and offset, as the VICC Gene Fusion Specification's transcript segments
  count them: the 5' end's ``exonEnd`` with ``exonEndOffset`` (intronic bases kept
  ``+N``, bases of the exon left out ``-N``), the 3' end's ``exonStart`` with
  ``exonStartOffset`` (intronic bases kept ``-N``, bases of the exon left out ``+N``).

A junction end outside its transcript (upstream of its first exon, past its last, or
intergenic) has no r. position: it is written ``?``.
"""

from __future__ import annotations

from dataclasses import dataclass

from imtfusion.transcript import TranscriptGeometry

STOP_CODON = 3  # bases of the stop codon after the last CDS base of a GTF 2.2 transcript


@dataclass(frozen=True, slots=True)
class JunctionEnd:
    """One partner's side of a junction on its annotated transcript."""

    role: str  # "5" or "3"
    gene: str
    transcript_id: str
    refseq: str  # "" when the GTF carries no RefSeq accession for it
    strand: str
    site: str  # as Location.site
    exon: int | None  # VICC exonEnd (5') / exonStart (3')
    offset: int | None  # VICC exonEndOffset / exonStartOffset; None off the transcript
    r_position: str | None  # HGVS r. position of the junction base; None off the transcript
    intronic_bases: int  # intronic bases kept at the junction (0 unless the site is intronic)
    tags: tuple[str, ...] = ()  # the transcript's GTF tags (MANE_Select, Ensembl_canonical, ...)

    @property
    def accession(self) -> str:
        """The transcript as HGVS names it: RefSeq when known, else the GTF's id."""
        return self.refseq or self.transcript_id


def r_number(geo: TranscriptGeometry, tx: int) -> str:
    """HGVS r. number of the transcript base at 0-based transcript offset ``tx``."""
    if geo.cds_start is None or geo.cds_end is None:
        return str(tx + 1)
    if tx < geo.cds_start:
        return f"-{geo.cds_start - tx}"
    last_coding = geo.cds_end + STOP_CODON
    if tx > last_coding:
        return f"*{tx - last_coding}"
    return str(tx - geo.cds_start + 1)


def _exon_last_tx(geo: TranscriptGeometry, i: int) -> int:
    s, e = geo.exons[i]
    return geo.offsets[i] + (e - s) - 1


def r_position(geo: TranscriptGeometry, pos: int) -> str | None:
    """HGVS r. position of the genomic base ``pos`` (0-based) on the transcript, intronic
    bases as offsets from the nearer exon; None upstream or downstream of the transcript."""
    kind, i, a, b = geo.locate(pos)
    if kind == "exon":
        return r_number(geo, a)
    if kind == "intron":
        # a: distance past exon i's last base, b: distance before exon i+1's first base
        if a <= b:
            return f"{r_number(geo, _exon_last_tx(geo, i))}+{a}"
        return f"{r_number(geo, geo.offsets[i + 1])}-{b}"
    return None


def junction_end(geo: TranscriptGeometry, pos: int, role: str, gene: str, site: str) -> JunctionEnd:
    """The junction end at genomic base ``pos`` (the 5' partner's last kept base, or the
    3' partner's first) on the transcript of ``geo``."""
    t = geo.t
    kind, i, a, b = geo.locate(pos)
    exon: int | None = None
    offset: int | None = None
    intronic = 0
    if kind == "exon":
        exon = i + 1
        offset = (a - _exon_last_tx(geo, i)) if role == "5" else (a - geo.offsets[i])
    elif kind == "intron":
        if role == "5":
            exon, offset, intronic = i + 1, a, a
        else:
            exon, offset, intronic = i + 2, -b, b
    return JunctionEnd(
        role=role,
        gene=gene,
        transcript_id=t.transcript_id,
        refseq=t.refseq,
        strand=t.strand,
        site=site,
        exon=exon,
        offset=offset,
        r_position=r_position(geo, pos),
        intronic_bases=intronic,
        tags=tuple(t.tags),
    )


def hgvs_adjoined(end5: JunctionEnd | None, end3: JunctionEnd | None) -> str:
    """``TX5(GENE5):r.?_P5::TX3(GENE3):r.P3_?``; "" when a partner has no transcript
    (intergenic), which adjoined transcripts cannot describe."""
    if end5 is None or end3 is None:
        return ""
    p5 = end5.r_position or "?"
    p3 = end3.r_position or "?"
    return f"{end5.accession}({end5.gene}):r.?_{p5}::{end3.accession}({end3.gene}):r.{p3}_?"


def _exon_words(end: JunctionEnd) -> str:
    if end.exon is None or end.site in ("upstream", "downstream"):
        return "upstream of exon 1" if end.site == "upstream" else "past its last exon"
    if end.site == "intronic":
        if end.role == "5":
            return f"exon {end.exon} + {end.intronic_bases} nt of intron {end.exon}"
        return f"{end.intronic_bases} nt of intron {end.exon - 1} + exon {end.exon}"
    if end.site == "splice_site":
        return f"exon {end.exon}"
    if end.site in ("5'UTR", "3'UTR"):
        return f"exon {end.exon} ({end.site})"
    return f"exon {end.exon} (inside the exon)"


def exon_description(gene5: str, gene3: str, end5: JunctionEnd | None, end3: JunctionEnd | None) -> str:
    """``EML4 exon 13 :: ALK exon 20``; intronic bases, UTRs and ends inside an exon or off
    the transcript are said in words."""
    left = f"{gene5} {_exon_words(end5)}" if end5 is not None else f"{gene5} (intergenic)"
    right = f"{gene3} {_exon_words(end3)}" if end3 is not None else f"{gene3} (intergenic)"
    return f"{left} :: {right}"


def vicc_junction(end: JunctionEnd) -> str:
    """A VICC junction component, ``TX(GENE):e.N`` with ``+K``/``-K`` for an offset."""
    offset = f"{end.offset:+d}" if end.offset else ""
    return f"{end.accession}({end.gene}):e.{end.exon}{offset}"
