"""Build small genomes, GTFs and BAMs inside tests, so each test shows its own input.

Reads are described by their *parts in read order*: ``(chrom, start, strand, length)``
where a ``+`` part spells ``genome[chrom][start:start+length]`` and a ``-`` part its
reverse complement. :func:`Toy.fragment` turns two reads (mates) into BAM records the
way chimeric aligners write them: the first part of each read is its primary record,
the other parts are supplementary records (hard- or soft-clipped), all carrying ``SA``
tags; mates point at each other's primary records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import pysam

COMP = str.maketrans("ACGT", "TGCA")


def revcomp(seq: str) -> str:
    return seq.translate(COMP)[::-1]


def random_seq(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


Part = tuple[str, int, str, int]  # chrom, start (0-based), strand, length


@dataclass
class Gene:
    name: str
    chrom: str
    strand: str
    exons: list[tuple[int, int]]  # genomic, sorted ascending
    gene_id: str = ""
    coding: bool = True
    gene_type: str = ""  # the GTF's gene_type; default protein_coding or lncRNA by ``coding``

    def exon(self, number: int) -> tuple[int, int]:
        """Exon by transcript number (1 = 5'-most)."""
        ordered = self.exons if self.strand == "+" else self.exons[::-1]
        return ordered[number - 1]


@dataclass
class Toy:
    """A random genome with genes, written as FASTA + GTF, and a BAM writer."""

    contigs: dict[str, int]
    seed: int = 7
    genes: list[Gene] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.seq = {c: random_seq(rng, n) for c, n in self.contigs.items()}
        # make every intron GT..AG so splice motifs look real
        self.records: list[pysam.AlignedSegment] = []
        self._header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": n} for c, n in self.contigs.items()],
                        "PG": [{"ID": "toy", "PN": "toy-aligner", "VN": "1"}]}

    # ---- genome and annotation
    def add_gene(self, name: str, chrom: str, strand: str, exons: list[tuple[int, int]], coding: bool = True,
                 gene_type: str = "") -> Gene:
        gene = Gene(name, chrom, strand, sorted(exons), f"ENSGT{len(self.genes) + 1:05d}.1", coding, gene_type)
        seq = list(self.seq[chrom])
        for (s1, e1), (s2, e2) in zip(gene.exons, gene.exons[1:]):
            if strand == "+":
                seq[e1:e1 + 2] = "GT"
                seq[s2 - 2:s2] = "AG"
            else:  # minus-strand intron reads CT..AC on the plus strand
                seq[e1:e1 + 2] = "CT"
                seq[s2 - 2:s2] = "AC"
        self.seq[chrom] = "".join(seq)
        self.genes.append(gene)
        return gene

    def bases(self, part: Part) -> str:
        chrom, start, strand, length = part
        s = self.seq[chrom][start:start + length]
        return s if strand == "+" else revcomp(s)

    def write_fasta(self, path: Path) -> Path:
        with open(path, "w") as fh:
            for c, s in self.seq.items():
                fh.write(f">{c}\n")
                for i in range(0, len(s), 60):
                    fh.write(s[i:i + 60] + "\n")
        pysam.faidx(str(path))
        return path

    def gtf_text(self, chrom_prefix: str = "") -> str:
        lines = []
        for g in sorted(self.genes, key=lambda g: (g.chrom, g.exons[0][0])):
            chrom = chrom_prefix + g.chrom
            gtype = g.gene_type or ("protein_coding" if g.coding else "lncRNA")
            ga = f'gene_id "{g.gene_id}"; gene_type "{gtype}"; gene_name "{g.name}";'
            tid = g.gene_id.replace("ENSG", "ENST")
            ta = ga + f' transcript_id "{tid}"; transcript_type "{gtype}"; tag "Ensembl_canonical";'
            start, end = g.exons[0][0], g.exons[-1][1]
            lines.append(f"{chrom}\ttoy\tgene\t{start + 1}\t{end}\t.\t{g.strand}\t.\t{ga}")
            lines.append(f"{chrom}\ttoy\ttranscript\t{start + 1}\t{end}\t.\t{g.strand}\t.\t{ta}")
            ordered = g.exons if g.strand == "+" else g.exons[::-1]
            phase = 0
            for i, (s, e) in enumerate(ordered, start=1):
                lines.append(f"{chrom}\ttoy\texon\t{s + 1}\t{e}\t.\t{g.strand}\t.\t{ta} exon_number {i};")
                if g.coding:
                    lines.append(f"{chrom}\ttoy\tCDS\t{s + 1}\t{e}\t.\t{g.strand}\t{phase}\t{ta} exon_number {i};")
                    phase = (phase - (e - s)) % 3
        return "\n".join(lines) + "\n"

    def write_gtf(self, path: Path, chrom_prefix: str = "") -> Path:
        path.write_text(self.gtf_text(chrom_prefix))
        return path

    # ---- reads
    def _record(self, name: str, parts: list[Part], index: int, read_seq: str, hard: bool, mapq: int) -> pysam.AlignedSegment:
        header = pysam.AlignmentHeader.from_dict(self._header)
        chrom, start, strand, length = parts[index]
        before = sum(p[3] for p in parts[:index])
        after = sum(p[3] for p in parts[index + 1:])
        clip_op = 5 if (hard and index > 0) else 4
        rec = pysam.AlignedSegment(header)
        rec.query_name = name
        rec.reference_name = chrom
        rec.reference_start = start
        rec.mapping_quality = mapq
        if strand == "+":
            lead, trail = before, after
            stored = read_seq
        else:
            lead, trail = after, before
            stored = revcomp(read_seq)
        cigar = []
        if lead:
            cigar.append((clip_op, lead))
        cigar.append((0, length))
        if trail:
            cigar.append((clip_op, trail))
        rec.cigartuples = cigar
        if clip_op == 5:
            stored = stored[lead:len(stored) - trail]
        rec.query_sequence = stored
        rec.query_qualities = pysam.qualitystring_to_array("I" * len(stored))
        rec.is_reverse = strand == "-"
        if index > 0:
            rec.is_supplementary = True
        return rec

    def read_records(
        self, name: str, parts: list[Part], hard: bool = True, mapq: int = 60, only: int | None = None,
        part_mapqs: list[int] | None = None,
    ) -> list[pysam.AlignedSegment]:
        """Records of one read; with ``only``, just that part is aligned and the rest of the
        read is soft-clipped, with no SA tag (an aligner without chimeric detection).
        ``part_mapqs`` gives each part its own MAPQ (in the records and the SA tags)."""
        seq = "".join(self.bases(p) for p in parts)
        if only is not None:
            rec = self._record(name, parts, only, seq, False, mapq)
            rec.is_supplementary = False
            return [rec]
        mapqs = part_mapqs or [mapq] * len(parts)
        recs = [self._record(name, parts, i, seq, hard, mapqs[i]) for i in range(len(parts))]
        if len(parts) > 1:
            for i, rec in enumerate(recs):
                sa = []
                for j, other in enumerate(recs):
                    if j == i:
                        continue
                    strand = "-" if other.is_reverse else "+"
                    cig = other.cigarstring.replace("H", "S")
                    sa.append(f"{other.reference_name},{other.reference_start + 1},{strand},{cig},{mapqs[j]},0;")
                rec.set_tag("SA", "".join(sa))
        return recs

    def fragment(
        self,
        name: str,
        read1: list[Part],
        read2: list[Part] | None = None,
        hard: bool = True,
        mapq: int = 60,
        duplicate: bool = False,
        only1: int | None = None,
        only2: int | None = None,
        part_mapqs1: list[int] | None = None,
    ) -> list[pysam.AlignedSegment]:
        """Records of one fragment (single-end when ``read2`` is None)."""
        r1 = self.read_records(name, read1, hard, mapq, only1, part_mapqs1)
        out = list(r1)
        if read2 is not None:
            r2 = self.read_records(name, read2, hard, mapq, only2)
            p1, p2 = r1[0], r2[0]
            for recs, mate, flag in ((r1, p2, 0x40), (r2, p1, 0x80)):
                for rec in recs:
                    rec.is_paired = True
                    rec.flag |= flag
                    rec.next_reference_name = mate.reference_name
                    rec.next_reference_start = mate.reference_start
                    rec.mate_is_reverse = mate.is_reverse
            out += r2
        if duplicate:
            for rec in out:
                rec.is_duplicate = True
        self.records.extend(out)
        return out

    def unmapped_pair(self, name: str, read: list[Part], mate: Part) -> None:
        """A pair whose read (spelling ``read``'s parts) is unmapped and placed at its mapped
        mate's position, as aligners write reads they could not align (flags 0x4/0x8)."""
        header = pysam.AlignmentHeader.from_dict(self._header)
        [m] = self.read_records(name, [mate])
        seq = "".join(self.bases(p) for p in read)
        u = pysam.AlignedSegment(header)
        u.query_name = name
        u.query_sequence = seq
        u.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
        u.flag = 0x1 | 0x4 | 0x40 | (0x20 if m.is_reverse else 0)
        u.reference_id = m.reference_id
        u.reference_start = m.reference_start
        u.next_reference_id = m.reference_id
        u.next_reference_start = m.reference_start
        m.flag |= 0x1 | 0x8 | 0x80
        m.next_reference_id = m.reference_id
        m.next_reference_start = m.reference_start
        self.records.extend([m, u])

    def unplaced(self, name: str, read: list[Part]) -> None:
        """An unmapped read without any position (single-end, or both mates unmapped)."""
        header = pysam.AlignmentHeader.from_dict(self._header)
        seq = "".join(self.bases(p) for p in read)
        u = pysam.AlignedSegment(header)
        u.query_name = name
        u.query_sequence = seq
        u.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
        u.flag = 0x4
        u.reference_id = -1
        u.reference_start = -1
        self.records.append(u)

    def spliced(self, name: str, chrom: str, blocks: list[tuple[int, int]], reverse: bool = False,
                mapq: int = 60) -> pysam.AlignedSegment:
        """A single-end spliced alignment over ``blocks`` (CIGAR M/N), as STAR writes
        read-through or deletion junctions within its maximum intron size."""
        header = pysam.AlignmentHeader.from_dict(self._header)
        rec = pysam.AlignedSegment(header)
        rec.query_name = name
        rec.reference_name = chrom
        rec.reference_start = blocks[0][0]
        rec.mapping_quality = mapq
        cigar = []
        seq = ""
        for i, (s, e) in enumerate(blocks):
            if i:
                cigar.append((3, s - blocks[i - 1][1]))
            cigar.append((0, e - s))
            seq += self.seq[chrom][s:e]
        rec.cigartuples = cigar
        rec.query_sequence = seq
        rec.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
        rec.is_reverse = reverse
        self.records.append(rec)
        return rec

    def write_bam(self, path: Path) -> Path:
        header = pysam.AlignmentHeader.from_dict(self._header)
        unsorted = path.with_suffix(".unsorted.bam")
        with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
            for rec in self.records:
                out.write(rec)
        pysam.sort("-o", str(path), str(unsorted))
        unsorted.unlink()
        pysam.index(str(path))
        return path
