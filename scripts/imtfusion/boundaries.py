"""Every annotated exon boundary of the genome, indexed by the bases next to it.

A soft clip at a target breakend spells the partner's first (or last) bases. When no
mate points at the partner and it is not a known partner, the clip is looked up here:
fusion transcripts join exons, so the partner's bases start at an exon boundary of some
gene. Keys are the ``K`` bases a breakend keeps next to the junction, 2-bit packed in
sorted numpy arrays (a few MB for a whole human GTF).
"""

from __future__ import annotations

import numpy as np

from imtfusion.annotation import Annotation

K = 20
_CODE = np.full(256, 255, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i
_POW = (4 ** np.arange(K - 1, -1, -1, dtype=np.uint64)).astype(np.uint64)


def encode(kmers: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(2-bit codes, usable mask) of equal-length K-mers (N or short ones unusable)."""
    if not kmers:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=bool)
    fixed = [k if len(k) == K else "N" * K for k in kmers]
    raw = np.frombuffer("".join(fixed).encode("ascii"), dtype=np.uint8).reshape(len(fixed), K)
    codes = _CODE[raw]
    ok = (codes != 255).all(axis=1)
    values = (codes.astype(np.uint64) * _POW).sum(axis=1, dtype=np.uint64)
    return values, ok


def encode_all(sequence: str) -> np.ndarray:
    """The codes (:func:`encode`) of every ``K``-mer of ``sequence`` without an N (or other
    letter), in order of position, found with one rolling pass instead of a string each."""
    return encode_at(sequence)[1]


def encode_at(sequence: str) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, codes) of the ``K``-mers of ``sequence`` without an N (or other letter),
    in order of position (:func:`encode_all` with where each one starts)."""
    if len(sequence) < K:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    codes = _CODE[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]
    n = len(codes) - K + 1
    # a window is usable when it holds no unusable letter: counted with a running sum
    bad = np.concatenate(([0], np.cumsum(codes == 255, dtype=np.int64)))
    ok = np.flatnonzero(bad[K:] == bad[:n])
    # the codes, in K passes over the windows (no K-wide copy of every window)
    wide = codes.astype(np.uint64)
    values = np.zeros(n, dtype=np.uint64)
    four = np.uint64(4)
    for j in range(K):
        values *= four
        values += wide[j:j + n]
    return ok, values[ok]


class BoundaryIndex:
    """Look up exon-boundary breakends by the ``K`` bases they keep next to a junction.

    Contigs and genes are stored as integer codes into small name lists, so the index of
    a whole human GTF is a few tens of MB."""

    def __init__(self, chrom_names: list[str], chroms: np.ndarray, gene_names: list[str], genes: np.ndarray,
                 positions: np.ndarray, left: np.ndarray, keys: np.ndarray):
        """Columns already sorted by key (as :meth:`build` makes them)."""
        self.keys = keys
        self.chrom_names = np.array(chrom_names, dtype=str)
        self.gene_names = np.array(gene_names, dtype=str)
        self.chroms = chroms
        self.genes = genes
        self.positions = positions
        self.left = left

    @classmethod
    def build(cls, annotation: Annotation, fetch_gtf, chunk: int = 20_000) -> "BoundaryIndex":
        """``fetch_gtf(chrom, start, end)`` gives reference bases in GTF contig names.

        The breakends stream out of the annotation database sorted by contig and
        position (reads along each contig), ``chunk`` at a time, into packed arrays: a
        whole human GTF (1.5 M boundaries) without a table of them in memory. Columns
        are joined and sorted one at a time, so at most one extra column is held."""
        rows = annotation.store.splice_breakends()
        return cls.of_breakends(iter(lambda: rows.fetchmany(chunk), []), fetch_gtf)

    @classmethod
    def of_breakends(cls, batches, fetch_gtf) -> "BoundaryIndex":
        """The index of some breakends: ``batches`` of (GTF contig, pos, side, gene_id)
        rows; ``fetch_gtf`` as in :meth:`build`, which may be a pile-up of the reads."""
        chrom_codes: dict[str, int] = {}
        gene_codes: dict[str, int] = {}
        dtypes = (np.int32, np.int32, np.int64, bool, np.uint64)  # chroms, genes, positions, left, keys
        pieces: list[list[np.ndarray]] = [[] for _ in dtypes]
        for batch in batches:
            kmers = []
            chroms, genes, positions, left = [], [], [], []
            for chrom, pos, side, gene_id in batch:
                if side == "R":
                    kmers.append(fetch_gtf(chrom, pos, pos + K).upper())
                else:
                    kmers.append(fetch_gtf(chrom, pos - K + 1, pos + 1).upper()[::-1])
                chroms.append(chrom_codes.setdefault(chrom, len(chrom_codes)))
                genes.append(gene_codes.setdefault(gene_id, len(gene_codes)))
                positions.append(pos)
                left.append(side == "L")
            keys, ok = encode(kmers)
            for column, values, dtype in zip(pieces, (chroms, genes, positions, left), dtypes):
                column.append(np.array(values, dtype=dtype)[ok])
            pieces[4].append(keys[ok])
        columns: list[np.ndarray] = []
        for column, dtype in zip(pieces, dtypes):
            columns.append(np.concatenate(column) if column else np.zeros(0, dtype=dtype))
            column.clear()
        order = np.argsort(columns[4], kind="stable")
        for i in range(len(columns)):
            columns[i] = columns[i][order]
        del order
        return cls(list(chrom_codes), columns[0], list(gene_codes), columns[1], columns[2], columns[3], columns[4])

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, kmer: str) -> list[tuple[str, int, str, str]]:
        """Breakends (GTF contig, pos, side, gene_id) whose kept bases read ``kmer``."""
        value, ok = encode([kmer])
        if not ok[0]:
            return []
        lo = np.searchsorted(self.keys, value[0], side="left")
        hi = np.searchsorted(self.keys, value[0], side="right")
        return [
            (str(self.chrom_names[self.chroms[i]]), int(self.positions[i]), "L" if self.left[i] else "R",
             str(self.gene_names[self.genes[i]]))
            for i in range(lo, hi)
        ]


def boundary_key(fasta) -> tuple[str, str]:
    """Cache key of the exon-boundary index: the FASTA's contig names and lengths (its
    .fai), so an index built with one assembly is never used with another."""
    from imtfusion.annotation import file_checksum

    return ("boundaries", file_checksum(str(fasta) + ".fai"))


def genome_boundaries(annotation: Annotation, contigs, ref) -> BoundaryIndex:
    """The genome-wide exon-boundary index (``contigs``: a
    :class:`~imtfusion.targets.ContigMap`; ``ref``: the FASTA's
    :class:`~imtfusion.reference.Reference`), built once per annotation and FASTA (kept
    in the annotation's cache, or read from its index when ``imtfusion index-gtf`` was
    given the FASTA)."""
    key = boundary_key(ref.path)
    cached = annotation.cached(key)
    if cached is None:
        def fetch_gtf(chrom: str, start: int, end: int) -> str:
            bam_chrom = contigs.to_bam(chrom)
            return ref.fetch(bam_chrom, start, end, remember=False) if bam_chrom else ""

        cached = BoundaryIndex.build(annotation, fetch_gtf)
        annotation.cache[key] = cached
    return cached
