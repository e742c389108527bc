"""Where else the genome spells the target transcripts: copies of a read's target part.

An aligner gives a read whose target part a paralog or pseudogene spells as well a low
MAPQ (two equally good places), and ``multimapping`` then keeps the junction from being
called; the reads it left unmapped are placed on the target transcripts by imtfusion
itself (:mod:`imtfusion.unmapped`), which without this module never asked whether a copy
holds the same bases. So that both kinds of read are weighed alike, the genome (the
BAM's contigs in the FASTA, ``_alt`` contigs left out as alt-aware aligners do) is read
once for every ``K``-mer of the target transcripts (both strands), and a read placed on
a target transcript is compared, base for base, with each copy that shares a K-mer of its
target part. A copy that matches it better makes it a read an aligner would have placed
on the copy: at the target it is a mismapping, MAPQ 0 (so that a junction of a copy's
chimera, whose reads imtfusion could place on the target only with mismatches, is
``multimapping``, and a call never rests on such reads). Copies that match it as well
make it a read of ``n`` equally good places, whose MAPQ is
then what the SAM specification defines, -10 log10 Pr{the place is wrong} =
-10 log10(1 - 1/n), rounded down: 3 for two places, 1 for three or four, 0 beyond (STAR's
values; BWA-MEM and minimap2 write 0 for any tie). ``min_mapq`` then weighs such a read as
it weighs an aligned one with the same MAPQ (:func:`placement`, :func:`mapq_of`).

The genome pass takes about 5 ns a base in the compiled module
(``imtfusion._bamwalk.kmer_hits``; numpy otherwise): some 20 s for a human genome. It is
made once per batch by ``imtfusion index-gtf --fasta --targets`` (the workflow's annotation
index), whose result every sample loads (:func:`target_copies`); a call without it makes
the pass itself, when the first read is placed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from imtfusion.boundaries import K, encode_at
from imtfusion.evidence import reverse_complement

CAP = 8  # genome places kept a K-mer; a K-mer found more often is a repeat (places unknown)
MAX_ANCHORS = 16  # copies compared for one read at most (the nearest K-mers' first)
CHUNK = 8_000_000  # genome bases read at a time
TABLE_BITS = 24  # the hash table of the compiled pass (2 MB)
UNIQUE, SHARED, COPY = "unique", "shared", "copy"
UNIQUE_MAPQ = 60  # MAPQ of a read placed on one target transcript and nowhere else as well
_MULT = np.uint64(0x9E3779B97F4A7C15)
_MASK = np.uint64((1 << (2 * K)) - 1)


def reverse_codes(codes: np.ndarray) -> np.ndarray:
    """The codes of the reverse complements of ``K``-mer codes."""
    comp = np.asarray(codes, dtype=np.uint64) ^ _MASK
    out = np.zeros(len(comp), dtype=np.uint64)
    three, two = np.uint64(3), np.uint64(2)
    for _ in range(K):
        out = (out << two) | (comp & three)
        comp = comp >> two
    return out


@dataclass(frozen=True)
class Place:
    """A genome place of a transcript K-mer outside its own exon: ``pos`` is the 0-based
    leftmost base; ``forward``: the genome's + strand spells the K-mer (transcript
    orientation) there, else its reverse complement."""

    chrom: str
    pos: int
    forward: bool

    def base(self, d: int) -> int:
        """The genome position of the transcript base ``d`` bases past the K-mer's first."""
        return self.pos + d if self.forward else self.pos + K - 1 - d


@dataclass(frozen=True)
class TranscriptCopies:
    """The copies of one spliced transcript's K-mers: offset -> places elsewhere (an
    empty tuple: a repeat, found more than ``CAP`` times)."""

    places: dict[int, tuple[Place, ...]]


def genome_chunks(fetch: Callable[[str, int, int], str], contigs: Iterable[tuple[str, int]],
                  chunk: int = CHUNK) -> Iterable[tuple[str, int, bytes]]:
    """(contig, offset, bases) of the genome, ``chunk`` bases at a time overlapping by
    ``K - 1`` (so every K-mer is in one chunk), ``_alt`` contigs left out."""
    for chrom, length in contigs:
        if chrom.lower().endswith("_alt"):
            continue
        for start in range(0, length, chunk):
            bases = fetch(chrom, start, min(length, start + chunk + K - 1))
            if len(bases) >= K:
                yield chrom, start, bases.encode("ascii")


def _table(keys: np.ndarray) -> np.ndarray:
    table = np.zeros(1 << (TABLE_BITS - 3), dtype=np.uint8)
    h = ((keys * _MULT) >> np.uint64(64 - TABLE_BITS)).astype(np.int64)
    np.bitwise_or.at(table, h >> 3, (1 << (h & 7)).astype(np.uint8))
    return table


class Hits:
    """The genome places of keys found by :func:`count_places`, the first ``CAP`` of each
    key in genome order (arrays of every chunk's hits, joined)."""

    def __init__(self, contigs: list[str], key: np.ndarray, contig: np.ndarray, pos: np.ndarray):
        order = np.argsort(key, kind="stable")
        self._contigs, self._key, self._contig, self._pos = contigs, key[order], contig[order], pos[order]

    def of(self, i: int) -> list[tuple[str, int]]:
        lo, hi = np.searchsorted(self._key, [i, i + 1])
        hi = min(int(hi), int(lo) + CAP)
        return [(self._contigs[c], int(p)) for c, p in zip(self._contig[lo:hi].tolist(), self._pos[lo:hi].tolist())]


def count_places(chunks: Iterable[tuple[str, int, bytes]], keys: np.ndarray, compiled: bool = True
                 ) -> tuple[np.ndarray, Hits]:
    """(count a key, the places of each key (:class:`Hits`)) of the sorted unique ``keys``
    over the genome ``chunks``."""
    bamwalk = None
    if compiled:
        try:
            from imtfusion import _bamwalk as bamwalk  # type: ignore[attr-defined,no-redef]
        except ImportError:
            bamwalk = None
    n = len(keys)
    counts = np.zeros(n, dtype=np.uint32)
    contigs: list[str] = []
    parts: list[tuple[np.ndarray, int, np.ndarray]] = []  # (key index, contig index, position) of each chunk's hits
    if not n:
        return counts, Hits(contigs, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    table = _table(keys) if bamwalk is not None else None
    for chrom, offset, bases in chunks:
        if not contigs or contigs[-1] != chrom:
            contigs.append(chrom)
        if bamwalk is not None:  # the found counts are added after the places are taken
            found = np.zeros(n, dtype=np.uint32)
            at = np.zeros(n * CAP, dtype=np.int64)
            bamwalk.kmer_hits(bases, offset, K, keys, table, found, at)
            idx = np.flatnonzero(found)
            # places only while a key has fewer than CAP (a repeat's are never needed: memory
            # stays CAP a key however often a genome-wide repeat recurs chunk after chunk)
            room = np.maximum(0, CAP - counts[idx].astype(np.int64))
            kept = np.minimum(found[idx].astype(np.int64), room)
            # the first min(found, CAP) slots of each key found here
            key = np.repeat(idx, kept)
            first = np.repeat(np.cumsum(kept) - kept, kept)  # where each key's run begins
            pos = at[key * CAP + (np.arange(len(key), dtype=np.int64) - first)]
            counts += found
        else:
            from imtfusion.scan import among

            starts, values = encode_at(bases.decode("ascii"))
            hit = np.flatnonzero(among(values, keys))
            key = np.searchsorted(keys, values[hit]).astype(np.int64)
            pos = starts[hit].astype(np.int64) + offset
            # the first CAP of each key in genome order, as the compiled pass keeps them
            order = np.argsort(key, kind="stable")
            key, pos = key[order], pos[order]
            first = np.searchsorted(key, key)  # where each key's run begins here
            rank = np.arange(len(key)) - first + counts[key].astype(np.int64)
            np.add.at(counts, key, 1)
            key, pos = key[rank < CAP], pos[rank < CAP]
        parts.append((key, len(contigs) - 1, pos))
    if not parts:
        return counts, Hits(contigs, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    key = np.concatenate([k for k, _, _ in parts])
    contig = np.concatenate([np.full(len(k), c, dtype=np.int64) for k, c, _ in parts])
    pos = np.concatenate([p for _, _, p in parts])
    return counts, Hits(contigs, key, contig, pos)


def find_copies(transcripts: Sequence[tuple[str, str, str, Sequence[int]]],
                chunks: Iterable[tuple[str, int, bytes]], compiled: bool = True) -> list[TranscriptCopies]:
    """The copies of each spliced transcript (contig, strand, sequence in transcript
    orientation, genomic position of each base) among the genome ``chunks``: the places
    of its K-mers other than the K-mer's own (a K-mer within one exon lies where the
    exon is; one across a splice junction has no place of its own)."""
    per = []
    for chrom, strand, seq, genomic in transcripts:
        offsets, codes = encode_at(seq)
        per.append((chrom, strand, genomic, offsets, codes))
    all_codes = [c for *_, c in per]
    if not all_codes or not sum(len(c) for c in all_codes):
        return [TranscriptCopies({}) for _ in transcripts]
    forward = np.concatenate(all_codes)
    keys = np.unique(np.concatenate([forward, reverse_codes(forward)]))
    counts, places = count_places(chunks, keys, compiled)
    out = []
    for chrom, strand, genomic, offsets, codes in per:
        rc = reverse_codes(codes)
        at_f, at_r = np.searchsorted(keys, codes), np.searchsorted(keys, rc)
        palindrome = codes == rc
        where = np.asarray(genomic, dtype=np.int64)
        first, last = where[offsets], where[offsets + K - 1]
        # the K-mer's own place: within one exon, where the exon is (the genome spells it,
        # or on a - strand transcript its reverse complement, from its leftmost base)
        own = (last - first == K - 1) if strand == "+" else (first - last == K - 1)
        total = counts[at_f].astype(np.int64) + np.where(palindrome, 0, counts[at_r]) - own
        found = {}
        for k in np.flatnonzero(total > 0).tolist():  # the few K-mers with a copy: one by one
            o, f, r = int(offsets[k]), int(at_f[k]), int(at_r[k])
            keys_here = [(f, True)] if palindrome[k] else [(f, True), (r, False)]
            if any(counts[i] > CAP for i, _ in keys_here):
                found[o] = ()
                continue
            own_key = None if not own[k] else ((f, int(first[k])) if strand == "+" else (r, int(last[k])))
            found[o] = tuple(Place(c, p, fwd) for i, fwd in keys_here for c, p in places.of(i)
                             if not (own_key is not None and i == own_key[0] and c == chrom and p == own_key[1]))
        out.append(TranscriptCopies(found))
    return out


Spliced = tuple[str, str, str, Sequence[int], str]  # contig, strand, sequence, genomic positions, transcript id


def copies_key(fai_checksum: str, transcript_id: str, sequence: str) -> tuple[str, str, str, str]:
    """Cache key of a transcript's copies (``Annotation.cache``, the annotation index): the
    FASTA's ``.fai`` checksum (as the exon-boundary index's), the transcript and a digest
    of its spliced bases, so copies found for one assembly or sequence serve no other."""
    return ("target_copies", fai_checksum, transcript_id, hashlib.sha1(sequence.encode("ascii")).hexdigest())


def target_copies(transcripts: Sequence[Spliced], annotation, ref) -> list[TranscriptCopies]:  # type: ignore[no-untyped-def]
    """The copies of the spliced ``transcripts`` (BAM contig names) in the genome of ``ref``
    (a :class:`~imtfusion.reference.Reference`): from the annotation index when
    ``imtfusion index-gtf`` stored them for this FASTA, else found by one genome pass and
    kept in the annotation's cache (FASTA contig names there)."""
    keys = _keys(transcripts, ref)
    stored = [annotation.cached(k) if annotation is not None else None for k in keys]
    if all(s is not None for s in stored):
        return [TranscriptCopies({o: tuple(Place(ref.bam_name(c), p, f) for c, p, f in places)
                                  for o, places in s}) for s in stored]  # type: ignore[union-attr]
    found, to_store = found_and_stored(transcripts, ref)
    if annotation is not None:
        annotation.cache.update(to_store)
    return found


def found_and_stored(transcripts: Sequence[Spliced], ref) -> tuple[list[TranscriptCopies], dict[tuple, tuple]]:  # type: ignore[no-untyped-def]
    """The copies of the spliced ``transcripts`` found by one pass over the genome of
    ``ref``, and the same as the annotation index stores them (:func:`copies_key` ->
    :func:`stored_form`)."""
    found = find_copies([t[:4] for t in transcripts], ref.chunks())
    return found, {k: stored_form(c, ref.fasta_name) for k, c in zip(_keys(transcripts, ref), found)}


def _keys(transcripts: Sequence[Spliced], ref) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    from imtfusion.annotation import file_checksum

    fai = file_checksum(ref.index_path)
    return [copies_key(fai, tid, seq) for _c, _s, seq, _g, tid in transcripts]


def stored_form(copies: TranscriptCopies, name: Callable[[str], str]) -> tuple:
    """``copies`` as plain tuples (offset, ((contig, pos, forward), ...)), contigs renamed
    by ``name``: what the annotation index stores."""
    return tuple((o, tuple((name(p.chrom), p.pos, p.forward) for p in places))
                 for o, places in sorted(copies.places.items()))


def _mismatches(a: str, b: str) -> int:
    return sum(1 for x, y in zip(a, b) if x != y and x != "N" and y != "N") + abs(len(a) - len(b))


def mapq_of(places: int) -> int:
    """The SAM specification's MAPQ of a read with ``places`` equally good places
    (``places`` <= 0: a repeat, too many to know)."""
    if places == 1:
        return UNIQUE_MAPQ
    return int(-10 * math.log10(1 - 1 / places)) if places > 1 else 0


def placement(part: str, transcript: str, start: int, copies: TranscriptCopies,
              fetch: Callable[[str, int, int], str]) -> tuple[str, int]:
    """Where a read's target part (``part``, transcript orientation, placed at ``start``
    of the spliced ``transcript``, ungapped) belongs, and its number of equally good
    places: (``UNIQUE``, 1) when no copy matches it as well as the target, (``SHARED``,
    n) when n - 1 copies match it as well, (``COPY``, 0) when a copy matches it better
    (not the target's read). A part all of whose K-mers are genome-wide repeats is
    (``SHARED``, 0)."""
    n = len(part)
    end = start + n
    anchors: dict[tuple[str, int, bool], None] = {}
    repeats = known = 0
    for o in range(start, end - K + 1):
        places = copies.places.get(o)
        if places is None:
            known += 1
            continue
        if not places:
            repeats += 1
            continue
        known += 1
        for p in places:
            # the copy's bases for the whole part [start, end), from where this K-mer lies
            lo = p.base(start - o) if p.forward else p.base(end - 1 - o)
            anchors.setdefault((p.chrom, lo, p.forward))
            if len(anchors) >= MAX_ANCHORS:
                break
        if len(anchors) >= MAX_ANCHORS:
            break
    if not anchors:
        return (SHARED, 0) if repeats and not known else (UNIQUE, 1)
    own = _mismatches(part, transcript[start:end])
    scores = [_mismatches(part, (bases if fwd else reverse_complement(bases)))
              for chrom, lo, fwd in anchors
              for bases in [fetch(chrom, lo, lo + n) if lo >= 0 else ""]]
    if min(scores) < own:
        return COPY, 0
    ties = scores.count(own)
    return (SHARED, 1 + ties) if ties else (UNIQUE, 1)
