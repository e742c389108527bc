"""Every annotated exon boundary of the genome, indexed by the bases next to it.

A soft clip at a target breakend spells the partner's first (or last) bases. When no
mate points at the partner and it is not a known partner, the clip is looked up here:
fusion transcripts join exons, so the partner's bases start at an exon boundary of some
gene. Keys are the ``K`` bases a breakend keeps next to the junction, 2-bit packed in
sorted numpy arrays (a few MB for a whole human GTF).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from imtfusion.annotation import Annotation

if TYPE_CHECKING:
    import pandas as pd

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


def splice_breakend_table(annotation: Annotation) -> "pd.DataFrame":
    """All internal exon boundaries of all transcripts as breakends (GTF contig names):
    columns Chromosome, pos, side ('L' = last base of an exon, 'R' = first), gene_id."""
    import pandas as pd

    transcripts, exons, _ = annotation.transcript_tables()
    ex = exons[["transcript_id", "Start", "End"]].sort_values(["transcript_id", "Start"], kind="mergesort")
    same_prev = ex["transcript_id"].eq(ex["transcript_id"].shift(1))
    same_next = ex["transcript_id"].eq(ex["transcript_id"].shift(-1))
    tx = transcripts.set_index("transcript_id")
    donors = ex.loc[same_next, ["transcript_id", "End"]].rename(columns={"End": "pos"})
    donors["pos"] = donors["pos"] - 1
    donors["side"] = "L"
    acceptors = ex.loc[same_prev, ["transcript_id", "Start"]].rename(columns={"Start": "pos"})
    acceptors["side"] = "R"
    table = pd.concat([donors, acceptors], ignore_index=True)
    table["Chromosome"] = tx.loc[table["transcript_id"], "Chromosome"].to_numpy()
    table["gene_id"] = tx.loc[table["transcript_id"], "gene_id"].to_numpy()
    table = table.drop(columns="transcript_id").drop_duplicates(["Chromosome", "pos", "side", "gene_id"])
    return table.sort_values(["Chromosome", "pos", "side", "gene_id"], kind="mergesort", ignore_index=True)


class BoundaryIndex:
    """Look up exon-boundary breakends by the ``K`` bases they keep next to a junction.

    Contigs and genes are stored as integer codes into small name lists, so the index of
    a whole human GTF is a few tens of MB."""

    def __init__(self, chroms: np.ndarray, positions: np.ndarray, sides: np.ndarray, gene_ids: np.ndarray,
                 keys: np.ndarray):
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.chrom_names, chrom_codes = np.unique(chroms.astype(str), return_inverse=True)
        self.gene_names, gene_codes = np.unique(gene_ids.astype(str), return_inverse=True)
        self.chroms = chrom_codes.astype(np.int32)[order]
        self.genes = gene_codes.astype(np.int32)[order]
        self.positions = positions.astype(np.int64)[order]
        self.left = (sides.astype(str) == "L")[order]

    @classmethod
    def build(cls, annotation: Annotation, fetch_gtf) -> "BoundaryIndex":
        """``fetch_gtf(chrom, start, end)`` gives reference bases in GTF contig names."""
        table = splice_breakend_table(annotation)
        kmers = []
        for chrom, pos, side in zip(table["Chromosome"], table["pos"], table["side"]):
            if side == "R":
                kmers.append(fetch_gtf(chrom, int(pos), int(pos) + K).upper())
            else:
                kmers.append(fetch_gtf(chrom, int(pos) - K + 1, int(pos) + 1).upper()[::-1])
        keys, ok = encode(kmers)
        return cls(
            table["Chromosome"].to_numpy(dtype=object)[ok],
            table["pos"].to_numpy(dtype=np.int64)[ok],
            table["side"].to_numpy(dtype=object)[ok],
            table["gene_id"].to_numpy(dtype=object)[ok],
            keys[ok],
        )

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
