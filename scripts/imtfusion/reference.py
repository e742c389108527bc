"""Optional genome FASTA access, in BAM contig names."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pysam

from imtfusion.errors import FastaError
from imtfusion.targets import _aliases


CACHED_WINDOW = 256  # windows this short are kept once read (clip placement reads <= 150)
CACHE_ENTRIES = 100_000  # at most (~35 MB in the worst case); then the cache starts again
DIGEST_CHUNK = 4_000_000  # bases of a contig read at a time for its refget digest


def refget_accession(chunks) -> str:
    """The GA4GH refget accession (``SQ.`` + sha512t24u) of the sequence the upper-case
    text ``chunks`` spell in order: SHA-512 of the bytes, its first 24 bytes in URL-safe
    base64 (the digest VRS sequence references carry)."""
    digest = hashlib.sha512()
    for chunk in chunks:
        digest.update(chunk.encode("ascii"))
    return "SQ." + base64.urlsafe_b64encode(digest.digest()[:24]).decode("ascii")


class Reference:
    """A FASTA opened once; ``fetch`` takes BAM contig names and returns upper case.

    The ``.fai`` must exist next to the FASTA or be given: the tool never writes next to
    a user's input files."""

    from_reads = False  # the genome's own bases (PileupReference: spelled by the reads)

    def __init__(self, path: str | Path, bam_lengths: dict[str, int], index: str | Path | None = None):
        self.path = Path(path)
        self._cache: dict[tuple[str, int, int], str] = {}
        self._accessions: dict[str, str] = {}
        self.index_path = None  # set below: the .fai
        if not self.path.exists():
            raise FastaError(f"FASTA not found: {self.path}; check the 'fasta' path or leave it out")
        fai = Path(index) if index else Path(str(self.path) + ".fai")
        self.index_path = fai
        if not fai.exists():
            raise FastaError(
                f"{self.path}: no FASTA index {fai.name}; create it with `samtools faidx {self.path}` "
                "(imtfusion does not write next to input files)"
            )
        try:
            self._fasta = pysam.FastaFile(str(self.path), filepath_index=str(fai))
        except (OSError, ValueError) as exc:
            raise FastaError(f"{self.path}: cannot open the FASTA ({exc}); check the file and its .fai") from None
        names = set(self._fasta.references)
        lengths = dict(zip(self._fasta.references, self._fasta.lengths))
        self._names: dict[str, str] = {}
        self._lengths = dict(bam_lengths)
        self._bam_names: dict[str, str] | None = None
        for bam_name, bam_len in bam_lengths.items():
            for alias in _aliases(bam_name):
                if alias in names:
                    self._names[bam_name] = alias
                    break
        if not self._names:
            shown = ", ".join(list(self._fasta.references)[:4])
            raise FastaError(
                f"{self.path}: none of its contigs ({shown}, ...) is a contig of the BAM; use the FASTA the "
                "reads were aligned against"
            )
        mismatched = [
            b for b, f in self._names.items() if lengths[f] != bam_lengths[b]
        ]
        if mismatched:
            b = mismatched[0]
            raise FastaError(
                f"{self.path}: contig {self._names[b]} is {lengths[self._names[b]]} bp in the FASTA but "
                f"{bam_lengths[b]} bp in the BAM; use the FASTA the reads were aligned against"
            )

    def has(self, chrom: str) -> bool:
        return chrom in self._names

    def chunks(self):  # type: ignore[no-untyped-def]
        """The genome the reads were aligned to (the BAM's contigs in the FASTA, each
        once under its first BAM name), in overlapping chunks:
        :func:`imtfusion.copies.genome_chunks`."""
        from imtfusion.copies import genome_chunks

        contigs = [(self.bam_name(f), self._lengths[self.bam_name(f)]) for f in dict.fromkeys(self._names.values())]
        return genome_chunks(lambda c, s, e: self.fetch(c, s, e, remember=False), contigs)

    def fasta_name(self, chrom: str) -> str:
        """The FASTA's name of a BAM contig."""
        return self._names.get(chrom, chrom)

    def bam_name(self, fasta_name: str) -> str:
        """The first BAM contig name of a FASTA contig (itself when the BAM has none)."""
        if self._bam_names is None:
            self._bam_names = {}
            for b, f in self._names.items():
                self._bam_names.setdefault(f, b)
        return self._bam_names.get(fasta_name, fasta_name)

    def fetch(self, chrom: str, start: int, end: int, remember: bool = True) -> str:
        """Bases ``[start, end)``; positions outside the contig are dropped.

        Short windows are remembered: clip placement reads the same few dozen bases at
        every exon boundary of the partner genes for each clip cluster and re-cut. A pass
        that reads each window once (the genome-wide boundary index) passes
        ``remember=False``, so as not to flood the cache."""
        if remember and end - start <= CACHED_WINDOW:
            key = (chrom, start, end)
            bases = self._cache.get(key)
            if bases is None:
                if len(self._cache) >= CACHE_ENTRIES:
                    self._cache.clear()
                bases = self._cache[key] = self._fetch(chrom, start, end)
            return bases
        return self._fetch(chrom, start, end)

    def _fetch(self, chrom: str, start: int, end: int) -> str:
        name = self._names.get(chrom)
        if name is None or end <= 0:
            return ""
        return self._fasta.fetch(name, max(0, start), end).upper()

    def accession(self, chrom: str) -> str | None:
        """The refget accession of a BAM contig's whole sequence (None when the FASTA
        lacks it); read in chunks, so a chromosome is never held in memory at once."""
        name = self._names.get(chrom)
        if name is None:
            return None
        cached = self._accessions.get(name)
        if cached is None:
            length = self._fasta.get_reference_length(name)
            chunks = (self._fasta.fetch(name, i, min(i + DIGEST_CHUNK, length)).upper()
                      for i in range(0, length, DIGEST_CHUNK))
            cached = self._accessions[name] = refget_accession(chunks)
        return cached

    def close(self) -> None:
        self._fasta.close()
