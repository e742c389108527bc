"""Where a genomic position lies on a transcript: exons in transcript order, their
transcript offsets, the CDS span, and the exon, intron or UTR a breakpoint falls in.

Positions are 0-based genomic; "transcript order" means 5' to 3' of the transcript. Used
by :mod:`imtfusion.annotate` (frame, domains, sequences) and :mod:`imtfusion.nomenclature`
(HGVS positions)."""

from __future__ import annotations

from dataclasses import dataclass

from imtfusion.annotation import Transcript


@dataclass(frozen=True, slots=True)
class Location:
    """Where a breakpoint falls on a transcript, for its role (5' or 3' partner)."""

    transcript_id: str
    exon: int | None  # 5': last exon (partly) kept; 3': first exon (partly) kept
    site: str  # splice_site, exonic, intronic, 5'UTR, 3'UTR, upstream, downstream
    coding: int | None  # 5': CDS bases kept through the junction; 3': CDS index of the first kept base
    cds_length: int
    frame_shift: int  # codon position of the first CDS base (0 unless the CDS is incomplete)


class TranscriptGeometry:
    """Exons in transcript order with their transcript offsets and the CDS span."""

    def __init__(self, t: Transcript):
        self.t = t
        self.exons = list(t.exons)
        self.offsets = []
        total = 0
        for s, e in self.exons:
            self.offsets.append(total)
            total += e - s
        self.length = total
        self.cds_start: int | None = None  # transcript offset of the first CDS base
        self.cds_end: int | None = None  # of the last CDS base
        self.frame_shift = 0
        if t.cds:
            first, last = t.cds[0], t.cds[-1]
            first_base = first[0] if t.strand == "+" else first[1] - 1
            last_base = last[1] - 1 if t.strand == "+" else last[0]
            self.cds_start = self.tx_of(first_base)
            self.cds_end = self.tx_of(last_base)
            self.frame_shift = (3 - first[2]) % 3
            if self.cds_start is None or self.cds_end is None:
                self.cds_start = self.cds_end = None

    def tx_of(self, pos: int) -> int | None:
        for i, (s, e) in enumerate(self.exons):
            if s <= pos < e:
                return self.offsets[i] + (pos - s if self.t.strand == "+" else e - 1 - pos)
        return None

    def locate(self, pos: int) -> tuple[str, int, int, int]:
        """('exon', i, tx, 0) | ('intron', i, after_i, before_next) | ('upstream'|'downstream', 0, dist, 0)."""
        plus = self.t.strand == "+"
        for i, (s, e) in enumerate(self.exons):
            if s <= pos < e:
                return ("exon", i, self.offsets[i] + (pos - s if plus else e - 1 - pos), 0)
        for i in range(len(self.exons) - 1):
            (s1, e1), (s2, e2) = self.exons[i], self.exons[i + 1]
            if plus and e1 <= pos < s2:
                return ("intron", i, pos - e1 + 1, s2 - pos)
            if not plus and e2 <= pos < s1:
                return ("intron", i, s1 - pos, pos - e2 + 1)
        first_s, first_e = self.exons[0]
        if (plus and pos < first_s) or (not plus and pos >= first_e):
            return ("upstream", 0, abs(pos - (first_s if plus else first_e - 1)), 0)
        return ("downstream", 0, 0, 0)

    def utr_site(self, tx: int) -> str | None:
        if self.cds_start is None or self.cds_end is None:
            return None
        if tx < self.cds_start:
            return "5'UTR"
        if tx > self.cds_end:
            return "3'UTR"
        return None

    def cds_length(self) -> int:
        if self.cds_start is None or self.cds_end is None:
            return 0
        return self.cds_end - self.cds_start + 1

    def locate_5prime(self, pos: int) -> Location:
        kind, i, a, b = self.locate(pos)
        tid = self.t.transcript_id
        n = len(self.exons)
        if kind == "exon":
            tx = a
            exon_last = self.offsets[i] + (self.exons[i][1] - self.exons[i][0]) - 1
            if tx == exon_last and i < n - 1:
                site = "splice_site"
            else:
                site = self.utr_site(tx) or "exonic"
            coding = tx - self.cds_start + 1 if self.cds_start is not None else None
            return Location(tid, i + 1, site, coding, self.cds_length(), self.frame_shift)
        if kind == "intron":
            exon_last = self.offsets[i] + (self.exons[i][1] - self.exons[i][0]) - 1
            coding = exon_last - self.cds_start + 1 + a if self.cds_start is not None else None
            return Location(tid, i + 1, "intronic", coding, self.cds_length(), self.frame_shift)
        if kind == "upstream":
            return Location(tid, None, "upstream", None, self.cds_length(), self.frame_shift)
        return Location(tid, n, "downstream", None, self.cds_length(), self.frame_shift)

    def exon_last_base(self, exon: int) -> int:
        """Genomic position of the last base (transcript order) of exon number ``exon``."""
        s, e = self.exons[exon - 1]
        return e - 1 if self.t.strand == "+" else s

    def exon_first_base(self, exon: int) -> int:
        """Genomic position of the first base (transcript order) of exon number ``exon``."""
        s, e = self.exons[exon - 1]
        return s if self.t.strand == "+" else e - 1

    def locate_3prime(self, pos: int) -> Location:
        kind, i, a, b = self.locate(pos)
        tid = self.t.transcript_id
        if kind == "exon":
            tx = a
            if tx == self.offsets[i] and i > 0:
                site = "splice_site"
            else:
                site = self.utr_site(tx) or "exonic"
            coding = tx - self.cds_start if self.cds_start is not None else None
            return Location(tid, i + 1, site, coding, self.cds_length(), self.frame_shift)
        if kind == "intron":
            coding = self.offsets[i + 1] - self.cds_start - b if self.cds_start is not None else None
            return Location(tid, i + 2, "intronic", coding, self.cds_length(), self.frame_shift)
        if kind == "upstream":
            coding = -self.cds_start - a if self.cds_start is not None else None
            return Location(tid, 1, "upstream", coding, self.cds_length(), self.frame_shift)
        return Location(tid, None, "downstream", None, self.cds_length(), self.frame_shift)

    def genomic_of_tx(self, tx: int) -> int | None:
        for i, (s, e) in enumerate(self.exons):
            off = self.offsets[i]
            if off <= tx < off + (e - s):
                return s + (tx - off) if self.t.strand == "+" else e - 1 - (tx - off)
        return None

    def domain_intervals(self, aa_start: int, aa_end: int) -> list[tuple[int, int]]:
        """Genomic intervals coding amino acids ``aa_start..aa_end`` (1-based)."""
        if self.cds_start is None:
            return []
        lo = self.cds_start + 3 * (aa_start - 1) - self.frame_shift
        hi = min(self.cds_start + 3 * aa_end - 1 - self.frame_shift, self.cds_end or 0)
        out = []
        for i, (s, e) in enumerate(self.exons):
            off = self.offsets[i]
            a, b = max(lo, off), min(hi, off + (e - s) - 1)
            if a > b:
                continue
            g1, g2 = self.genomic_of_tx(a), self.genomic_of_tx(b)
            assert g1 is not None and g2 is not None
            out.append((min(g1, g2), max(g1, g2) + 1))
        return sorted(out)
