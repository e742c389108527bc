"""Junction reads the aligner left unmapped.

HISAT2, STAR without chimeric output and minimap2 leave a read unmapped when neither of
its two parts is long enough to align on its own terms; in single-end libraries, and
when both mates fail, such reads carry no position and sit in the BAM's unmapped
section. A junction read of a target fusion starts or ends with target transcript
sequence: we look up the first and last ``K`` bases of each read (both strands) in the
spliced transcripts of the target genes, extend the match along the transcript, and
turn the rest of the read into a soft clip at the exact target breakend. From there the
clip goes through the same matching and rescue as any aligner's soft clip.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable

import numpy as np

from imtfusion.annotation import Annotation, Transcript
from imtfusion.copies import COPY, SHARED, UNIQUE, UNIQUE_MAPQ, mapq_of, placement
from imtfusion.evidence import reverse_complement
from imtfusion.model import Breakend, ClippedRead, UnmappedMate
from imtfusion.scan import among, sorted_unique
from imtfusion.targets import TargetLocus
from imtfusion.umis import UNPLACED

K = 20  # bases of a read end looked up in the target transcripts
SNAP = 10  # a match running this few bases past an exon boundary is cut back to it
UNMAPPED_MAPQ = UNIQUE_MAPQ  # the target part matches the transcript exactly over >= K bases (and no copy as well)
FIND_LOOKUPS = 32  # K-mer look-ups done by searching the transcripts before their index is built (a search of
# the 7 default transcripts costs about a 30th of building the index: 0.1 ms against 3 ms)


@dataclass(frozen=True)
class _Spliced:
    transcript: Transcript
    chrom: str  # BAM contig name
    sequence: str  # spliced, transcript orientation, upper case
    genomic: tuple[int, ...]  # genomic position of each transcript base
    exon_starts: frozenset[int]  # transcript offsets where an exon begins (after the first)
    exon_ends: frozenset[int]  # transcript offsets where an exon ends (before the last)


@dataclass(frozen=True)
class _Flank:
    """The ``INTRON_FLANK`` bases of a target intron next to one of its exons, with the
    transcript's first ``K - 1`` bases past that edge (transcript orientation): where a
    fused transcript that kept intron bases of a target (EML4::ALK often keeps some of ALK
    intron 19) is target sequence that no spliced transcript holds."""

    spliced: int  # index of its transcript in TargetTranscripts.spliced
    three_prime: bool  # the intron's end before an exon (a 3' target's junction); else its start after one
    sequence: str
    genomic: tuple[int, ...]
    edge: int  # offset of the transcript's first base past the intron (3') or last before it (5')


class TargetTranscripts:
    """The spliced transcripts of the target genes and an index of their ``K``-mers.

    Built from the reads' pile-up (no FASTA), a transcript has ``N`` where no aligned
    read spells it; the target bases of the reads matched there are remembered
    (``learned``) so that :meth:`filled` can spell those bases for a second look at the
    reads that matched nothing (junction reads whose target part lies where only other
    unmapped junction reads are)."""

    def __init__(self, loci: list[TargetLocus], annotation: Annotation, fetch: Callable[[str, int, int], str],
                 flanks: bool = False, copies: "Callable[[list], list] | None" = None):
        """``flanks``: also the targets' intron flanks (:class:`_Flank`), from a genome
        FASTA only: in an intron next to an exon the reads' pile-up may spell partner
        bases that an aligner extended into it (STAR's defaults: seed 20240611 TPM4::ALK,
        BP14, whose junction moved 19 bases into ALK intron 19). ``copies``: gives the
        transcripts' copies in the genome (:func:`imtfusion.copies.target_copies`, with a
        FASTA), asked for when the first read is placed, so that a read whose target part
        a copy elsewhere spells as well is weighed as an aligner weighs it
        (:func:`imtfusion.copies.placement`)."""
        self.spliced: list[_Spliced] = []
        self._fetch = fetch
        self._copy_source = copies
        self._copies: list | None = None  # imtfusion.copies.TranscriptCopies a transcript, once read
        self._placed: dict[tuple[int, str, int], tuple[str, int]] = {}  # placement() of a part seen before
        self._index: _KmerIndex | None = None  # built after FIND_LOOKUPS look-ups
        self._lookups = 0
        self.learned: dict[tuple[str, int], dict[str, int]] = {}  # (contig, pos) -> genome-strand base votes
        for locus in loci:
            for t in annotation.transcripts_of(locus.gene.gene_id):
                parts, positions = [], []
                for s, e in t.exons:
                    bases = fetch(locus.chrom, s, e)
                    if len(bases) != e - s:
                        break
                    if t.strand == "+":
                        parts.append(bases)
                        positions.extend(range(s, e))
                    else:
                        parts.append(reverse_complement(bases))
                        positions.extend(range(e - 1, s - 1, -1))
                else:
                    idx = len(self.spliced)
                    seq = "".join(parts).upper()
                    offsets, total = [], 0
                    for s, e in t.exons:
                        offsets.append(total)
                        total += e - s
                    starts = frozenset(offsets[1:])
                    ends = frozenset(o - 1 for o in offsets[1:])
                    self.spliced.append(_Spliced(t, locus.chrom, seq, tuple(positions), starts, ends))
        self.flanks: list[_Flank] = []
        # (transcript index, offset of an exon's first base / last base) -> its intron flank
        self._flank_at: dict[tuple[int, int, bool], _Flank] = {}
        for idx, t in enumerate(self.spliced if flanks else ()):
            for offset, flank in _intron_flanks(idx, t, fetch):
                self.flanks.append(flank)
                self._flank_at[(idx, offset, flank.three_prime)] = flank
        self._flank_index: _KmerIndex | None = None  # built when first asked for
        self._codes: np.ndarray | None = None

    def described(self) -> list[tuple[str, str, str, tuple[int, ...], str]]:
        """The spliced transcripts as :mod:`imtfusion.copies` takes them: (contig, strand,
        sequence, genomic position of each base, transcript id)."""
        return [(t.chrom, t.transcript.strand, t.sequence, t.genomic, t.transcript.transcript_id) for t in self.spliced]

    def exon_sequences(self) -> list[str]:
        """The exons of the spliced transcripts, transcript orientation, upper case."""
        out = []
        for t in self.spliced:
            cuts = [0, *sorted(t.exon_starts), len(t.sequence)]
            out.extend(t.sequence[a:b] for a, b in zip(cuts, cuts[1:]))
        return out

    def places(self, kmer: str) -> list[tuple[int, int]] | tuple[()]:
        """(transcript index, offset) of every place of ``kmer`` (without an N) in the
        transcripts, in order. The first FIND_LOOKUPS look-ups search the transcripts (a
        few reads pass :class:`EndFilter` in most samples); then the index is built."""
        if self._index is None and self._lookups < FIND_LOOKUPS:
            self._lookups += 1
            return () if "N" in kmer else _search(kmer, [t.sequence for t in self.spliced])
        return self.index.places(kmer)

    @property
    def index(self) -> "_KmerIndex":
        """Every ``K``-mer of the transcripts and its places (:class:`_KmerIndex`), built when
        first asked for: most reads never pass :class:`EndFilter`."""
        if self._index is None:
            self._index = _KmerIndex([t.sequence for t in self.spliced])
        return self._index

    @property
    def flank_index(self) -> "_KmerIndex":
        """Every ``K``-mer of the intron flanks and its places, built when first asked for."""
        if self._flank_index is None:
            self._flank_index = _KmerIndex([f.sequence for f in self.flanks])
        return self._flank_index

    def flank_places(self, kmer: str) -> list[tuple[int, int]] | tuple[()]:
        """(flank index, offset) places of ``kmer`` in the intron flanks, in order."""
        return self.flank_index.places(kmer)

    def kmer_codes(self) -> np.ndarray:
        """The 2-bit codes (:func:`imtfusion.boundaries.encode`) of the transcripts'
        ``K``-mers without an ``N``, sorted and unique."""
        from imtfusion.boundaries import encode_all

        if self._codes is None:
            codes = [self.index.values] if self._index is not None else [encode_all(t.sequence) for t in self.spliced]
            if self.flanks:
                codes.append(self.flank_index.values)
            self._codes = sorted_unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.uint64)
        return self._codes

    def filled(self) -> "TargetTranscripts | None":
        """The transcripts with their unknown bases spelled by the target parts of the reads
        matched so far (the majority base), or None when they taught nothing."""
        if not self.learned:
            return None
        out = TargetTranscripts([], None, lambda *a: "")  # type: ignore[arg-type]
        for t in self.spliced:
            plus = t.transcript.strand == "+"
            seq = list(t.sequence)
            for k, pos in enumerate(t.genomic):
                votes = self.learned.get((t.chrom, pos)) if seq[k] == "N" else None
                if votes:
                    base = max(sorted(votes), key=lambda b: votes[b])
                    seq[k] = base if plus else base.translate(_COMP)
            out.spliced.append(_Spliced(t.transcript, t.chrom, "".join(seq), t.genomic, t.exon_starts, t.exon_ends))
        out.flanks, out._flank_at = self.flanks, self._flank_at
        return out

    def _learn(self, t: _Spliced, read: str, start: int, tx_start: int, length: int) -> None:
        plus = t.transcript.strand == "+"
        for k in range(length):
            tx = tx_start + k
            if t.sequence[tx] == "N" and read[start + k] in "ACGT":
                base = read[start + k] if plus else read[start + k].translate(_COMP)
                votes = self.learned.setdefault((t.chrom, t.genomic[tx]), {})
                votes[base] = votes.get(base, 0) + 1

    def clip_of(self, fragment: str, sequence: str, min_clip: int) -> ClippedRead | None:
        """The read as a soft-clipped target alignment, or None when it does not start or
        end with target transcript sequence followed by at least ``min_clip`` other bases.
        A junction that kept intron bases of the target is found from the intron flanks:
        past an exon's edge the match goes on into its intron (when more than ``SNAP``
        bases match there), and a read whose target end lies in a flank and in no
        transcript is matched there."""
        seq = sequence.upper()
        best: tuple[int, ClippedRead] | None = None
        taught: tuple | None = None  # (transcript, read, read start, transcript start, length) of the best
        hit = False
        for read in (seq, reverse_complement(seq)):
            if len(read) < K + min_clip:
                continue
            for hit_idx, hit_off in self.places(read[-K:]):
                hit = True
                t = self.spliced[hit_idx]
                d = _extend(read, len(read) - K - 1, t.sequence, hit_off - 1, -1, t.exon_starts)
                i, j = len(read) - K - d, hit_off - d
                # a few partner bases that happen to match across an exon boundary are
                # homology: the junction is the boundary (fusions join exons)
                boundary = next((b for b in range(j + 1, j + SNAP + 1) if b in t.exon_starts), None)
                if boundary is not None:
                    i, j = i + (boundary - j), boundary
                else:
                    n = _unknown_to_boundary(t.sequence, j, -1, t.exon_starts)
                    i, j = i - n, j - n
                if i < min_clip:
                    continue  # the read is (nearly) all target: an ordinary read
                pos, kept = None, i  # kept: where the transcript's bases begin in the read
                flank = self._flank_at.get((hit_idx, j, True))
                if flank is not None:
                    more = _extend(read, i - 1, flank.sequence, flank.edge - 1, -1, frozenset())
                    if more > SNAP:
                        if i - more < min_clip:
                            continue  # the exon and its intron, contiguous: pre-mRNA
                        pos = flank.genomic[flank.edge - more]
                        i -= more
                if best is None or len(read) - i > best[0]:
                    best = (len(read) - i, self._clip(fragment, t, read[:i], read[i:], j, three_prime=True, pos=pos),
                            (hit_idx, read[i:], j) if pos is None else None)
                    taught = (t, read, kept, j, len(read) - kept)
            for hit_idx, hit_off in self.places(read[:K]):
                hit = True
                t = self.spliced[hit_idx]
                d = _extend(read, K, t.sequence, hit_off + K, 1, t.exon_ends)
                i, j = K + d, hit_off + K + d
                boundary = next((b for b in range(j - 2, j - 2 - SNAP, -1) if b in t.exon_ends), None)
                if boundary is not None:
                    i, j = i - (j - 1 - boundary), boundary + 1
                else:
                    n = _unknown_to_boundary(t.sequence, j, 1, t.exon_ends)
                    i, j = i + n, j + n
                if len(read) - i < min_clip:
                    continue
                pos = None
                kept = i
                flank = self._flank_at.get((hit_idx, j - 1, False))
                if flank is not None:
                    more = _extend(read, i, flank.sequence, flank.edge + 1, 1, frozenset())
                    if more > SNAP:
                        if len(read) - i - more < min_clip:
                            continue
                        pos = flank.genomic[flank.edge + more]
                        i += more
                if best is None or i > best[0]:
                    best = (i, self._clip(fragment, t, read[i:], read[:i], j - 1, three_prime=False, pos=pos),
                            (hit_idx, read[:i], j - i) if pos is None else None)
                    taught = (t, read, 0, j - kept, kept)
        if best is None and not hit:
            flank = self._flank_clip(fragment, seq, min_clip)
            best = (*flank, None) if flank else None
        if taught is not None and best is not None:
            self._learn(*taught)
        if best is None:
            return None
        clip, placed = best[1], best[2]
        if placed is not None and self._copy_source is not None:
            where, places = self.placement(*placed)
            if where == COPY:  # a copy elsewhere spells the read's target part better: a mismapping here
                clip = replace(clip, mapq=0)
            elif where == SHARED:  # as well: n places, MAPQ as the SAM specification defines it
                clip = replace(clip, mapq=mapq_of(places))
        return clip

    def placement(self, idx: int, part: str, start: int) -> tuple[str, int]:
        """(UNIQUE, SHARED or COPY; equally good places) (:func:`imtfusion.copies.placement`)
        for target bases ``part`` placed at ``start`` of spliced transcript ``idx``; (UNIQUE,
        1) without a genome."""
        if self._copy_source is None:
            return UNIQUE, 1
        if self._copies is None:
            self._copies = self._copy_source(self.described())
        key = (idx, part, start)  # a panel's reads of one primer, PCR copies: the same part many times
        got = self._placed.get(key)
        if got is None:
            if not self._copies[idx].places:
                got = (UNIQUE, 1)
            else:
                got = placement(part, self.spliced[idx].sequence, start, self._copies[idx], self._fetch)
            if len(self._placed) < 100_000:
                self._placed[key] = got
        return got

    def _flank_clip(self, fragment: str, seq: str, min_clip: int) -> tuple[int, ClippedRead] | None:
        """A read whose target end lies in an intron flank (and in no transcript): the
        target part is intron bases, maybe with the first or last few of the exon."""
        best: tuple[int, ClippedRead] | None = None
        for read in (seq, reverse_complement(seq)):
            if len(read) < K + min_clip:
                continue
            for f_idx, off in self.flank_places(read[-K:]):
                f = self.flanks[f_idx]
                if not f.three_prime:
                    continue
                d = _extend(read, len(read) - K - 1, f.sequence, off - 1, -1, frozenset())
                i, j = len(read) - K - d, off - d
                if 0 < f.edge - j <= SNAP:
                    i, j = i + (f.edge - j), f.edge  # partner bases that happen to match the intron's end
                if i < min_clip:
                    continue
                if best is None or len(read) - i > best[0]:
                    t = self.spliced[f.spliced]
                    best = (len(read) - i, self._clip(fragment, t, read[:i], read[i:], 0, three_prime=True,
                                                      pos=f.genomic[j]))
            for f_idx, off in self.flank_places(read[:K]):
                f = self.flanks[f_idx]
                if f.three_prime:
                    continue
                d = _extend(read, K, f.sequence, off + K, 1, frozenset())
                i, j = K + d, off + K + d
                if 0 < (j - 1) - f.edge <= SNAP:
                    i, j = i - (j - 1 - f.edge), f.edge + 1
                if len(read) - i < min_clip:
                    continue
                if best is None or i > best[0]:
                    t = self.spliced[f.spliced]
                    best = (i, self._clip(fragment, t, read[i:], read[:i], 0, three_prime=False, pos=f.genomic[j - 1]))
        return best

    @staticmethod
    def _clip(fragment: str, t: _Spliced, partner: str, target: str, offset: int, three_prime: bool,
              pos: int | None = None) -> ClippedRead:
        """``target`` bases (transcript orientation) join ``partner`` bases at transcript
        ``offset`` (the first kept base for a 3' target, the last for a 5' target), or at
        genomic ``pos`` (an intron base) when given."""
        pos = t.genomic[offset] if pos is None else pos
        plus = t.transcript.strand == "+"
        if three_prime:  # partner, then target
            side = "R" if plus else "L"
            outward = partner[::-1] if plus else reverse_complement(partner)
            inward = target if plus else target.translate(_COMP)
        else:  # target, then partner
            side = "L" if plus else "R"
            outward = partner if plus else partner.translate(_COMP)
            inward = target[::-1] if plus else reverse_complement(target)
        return ClippedRead(fragment, Breakend(t.chrom, pos, side), outward, len(target), UNMAPPED_MAPQ, inward[:60], ())


MATCH, MISMATCH, DROP = 1, -3, 6  # x-drop extension: a lone mismatch inside target bases is passed


def _extend(read: str, i: int, transcript: str, j: int, step: int, boundaries: frozenset[int]) -> int:
    """How many bases the match of ``read`` and ``transcript`` goes on from ``read[i]`` /
    ``transcript[j]`` in direction ``step``: to the best-scoring end, so a sequencing
    error (or a base the reads' pile-up spells wrong, or cannot spell: ``N``, scored 0)
    inside the target bases does not end the match, while partner bases do (several
    mismatches in a row). Past an exon boundary (``boundaries``: the transcript offsets
    the match leaves an exon from) only an exact match goes on: fusions join exons, and
    a pile-up of reads can spell partner bases that an aligner spliced onto the
    neighbouring exon."""
    score = best = length = taken = 0
    crossed = False
    while 0 <= i < len(read) and 0 <= j < len(transcript):
        a, b = read[i], transcript[j]
        crossed = crossed or (taken > 0 and (j - step) in boundaries)
        if crossed and a != b:
            break
        score += 0 if b == "N" else (MATCH if a == b else MISMATCH)
        taken += 1
        if score > best:
            best, length = score, taken
        elif best - score >= DROP:
            break
        i += step
        j += step
    return length


UNKNOWN_TO_BOUNDARY = 12  # target bases no read spells that a match may be assumed to cover


def _unknown_to_boundary(transcript: str, j: int, step: int, boundaries: frozenset[int]) -> int:
    """Without a FASTA the reads' pile-up cannot spell the last bases of an exon that only
    junction reads cover (they are unmapped): when the match ends where the transcript
    turns unknown (``N``) and the unknown run reaches an exon boundary within
    ``UNKNOWN_TO_BOUNDARY`` bases, the junction is that boundary (fusions join exons).
    Returns how many bases to extend by (0 when not so). ``j`` is the first base past the
    match in direction ``step`` (for ``step`` -1: the first matched base)."""
    for n in range(1, UNKNOWN_TO_BOUNDARY + 1):
        k = j - n if step < 0 else j + n - 1  # the n-th unknown base
        if not 0 <= k < len(transcript) or transcript[k] != "N":
            return 0
        if k in boundaries:
            return n
    return 0


_COMP = str.maketrans("ACGTN", "TGCAN")


def _search(kmer: str, sequences: list[str]) -> list[tuple[int, int]] | tuple[()]:
    """(sequence index, offset) of every place of ``kmer`` in ``sequences``, in order; () when none."""
    found = []
    for idx, seq in enumerate(sequences):
        at = seq.find(kmer)
        while at >= 0:
            found.append((idx, at))
            at = seq.find(kmer, at + 1)
    return found or ()


class _KmerIndex:
    """Every ``K``-mer (without an N) of many short sequences, as sorted 2-bit codes
    (:func:`imtfusion.boundaries.encode_at`) with where each lies: built in a few numpy
    passes over the sequences joined by an ``N``, where a dict of them would take a
    Python step per base (the intron flanks of the targets hold some 10^5)."""

    def __init__(self, sequences: list[str]):
        from imtfusion.boundaries import encode_at

        self.starts = np.cumsum([0] + [len(s) + 1 for s in sequences[:-1]], dtype=np.int64)
        at, values = encode_at("N".join(sequences))
        order = np.argsort(values, kind="stable")  # equal K-mers keep their order of place
        self.values, self.at = values[order], at[order]

    def places(self, kmer: str) -> list[tuple[int, int]] | tuple[()]:
        """(sequence index, offset) of every place of ``kmer``, in order; () when none."""
        from imtfusion.boundaries import encode

        codes, ok = encode([kmer])
        if not ok[0]:
            return ()
        lo, hi = np.searchsorted(self.values, codes[0], "left"), np.searchsorted(self.values, codes[0], "right")
        if lo == hi:
            return ()
        where = self.at[lo:hi]
        idx = np.searchsorted(self.starts, where, "right") - 1
        return [(int(i), int(w - self.starts[i])) for i, w in zip(idx, where)]


def _intron_flanks(idx: int, t: _Spliced, fetch: Callable[[str, int, int], str]) -> list[tuple[int, _Flank]]:
    """The intron flanks of transcript ``t`` (index ``idx``), each with the transcript offset
    of the exon base at its edge: for every intron, its last ``INTRON_FLANK`` bases with the
    next exon's first ``K - 1`` transcript bases, and its first ``INTRON_FLANK`` bases after
    the previous exon's last ``K - 1``."""
    tx = t.transcript
    plus = tx.strand == "+"
    starts = sorted(t.exon_starts)  # transcript offset of exon k + 1's first base
    out = []
    for k, first in enumerate(starts, start=1):
        lo, hi = (tx.exons[k - 1][1], tx.exons[k][0]) if plus else (tx.exons[k][1], tx.exons[k - 1][0])
        n = min(INTRON_FLANK, hi - lo)
        if n <= 0:
            continue
        for three in (True, False):
            gs, ge = (hi - n, hi) if plus == three else (lo, lo + n)
            bases = fetch(t.chrom, gs, ge)
            if len(bases) != ge - gs:
                continue
            intron = bases.upper() if plus else reverse_complement(bases).upper()
            where = tuple(range(gs, ge)) if plus else tuple(range(ge - 1, gs - 1, -1))
            if three:  # the intron's end, then the transcript from the next exon on
                a, b = first, min(len(t.sequence), first + K - 1)
                flank = _Flank(idx, True, intron + t.sequence[a:b], where + t.genomic[a:b], n)
                out.append((first, flank))
            else:  # the transcript up to the previous exon's end, then the intron's start
                a, b = max(0, first - K + 1), first
                flank = _Flank(idx, False, t.sequence[a:b] + intron, t.genomic[a:b] + where, b - a - 1)
                out.append((first - 1, flank))
    return out


class EndFilter:
    """A vectorised first look at many reads: does either end, on either strand, read as
    a ``K``-mer of the target transcripts? Only reads that pass go to
    :meth:`TargetTranscripts.clip_of`."""

    def __init__(self, index: TargetTranscripts, also: np.ndarray | None = None):
        """``also``: more K-mer codes to pass (:func:`exon_flank_codes`)."""
        from imtfusion.boundaries import encode

        self._encode = encode
        keys = index.kmer_codes()
        self.keys = keys if also is None or not len(also) else sorted_unique(np.concatenate([keys, also]))

    def hits(self, sequences: list[str]) -> np.ndarray:
        """Indices of the sequences whose first or last K bases (either strand) are
        target K-mers."""
        if not sequences or len(self.keys) == 0:
            return np.zeros(0, dtype=np.int64)
        heads = [q[:K].upper() for q in sequences]
        tails = [q[-K:].upper() for q in sequences]
        found = np.zeros(len(sequences), dtype=bool)
        for kmers in (heads, tails, [reverse_complement(t) for t in tails], [reverse_complement(h) for h in heads]):
            values, ok = self._encode(kmers)
            found |= ok & among(values, self.keys)
        return np.flatnonzero(found)


INTRON_FLANK = 300  # intron bases next to each target exon whose K-mers also mark a read of a target


def exon_flank_codes(loci: list[TargetLocus], fetch: Callable[[str, int, int], str],
                     flank: int = INTRON_FLANK) -> np.ndarray:
    """The ``K``-mer codes of the target genes' exons with ``flank`` intron bases on each
    side (genome strand; :class:`EndFilter` reads both strands). A fused transcript may
    keep intron bases of a target next to an exon (EML4::ALK often keeps some of ALK
    intron 19), which the spliced transcripts do not hold: a read of a pair that lies
    there has no exonic K-mer at its ends."""
    from imtfusion.boundaries import encode_all

    codes = []
    for locus in loci:
        merged: list[list[int]] = []
        for s, e in sorted(locus.exons):
            s, e = max(0, s - flank), e + flank
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        codes.extend(encode_all(fetch(locus.chrom, s, e).upper()) for s, e in merged)
    return sorted_unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.uint64)


def scan_reads(records: Iterable[tuple[str, str] | tuple[str, str, str]], index: TargetTranscripts, min_clip: int,
               batch: int = 50_000) -> list[ClippedRead]:
    """Junction clips among (name, sequence[, UMI]) tuples, streamed in batches. A clip of
    a read with a UMI carries it in its duplicate key (with no position: the read has
    none), so PCR copies of one molecule that the aligner left unmapped are one molecule
    (:mod:`imtfusion.umis`)."""
    pre = EndFilter(index)
    out: list[ClippedRead] = []
    seen: set[tuple[str, Breakend]] = set()
    names: list[str] = []
    seqs: list[str] = []
    umis: list[str] = []

    def flush() -> None:
        for i in pre.hits(seqs):
            clip = index.clip_of(names[i], seqs[i], min_clip)
            if clip is not None and (clip.fragment, clip.end) not in seen:
                seen.add((clip.fragment, clip.end))
                out.append(replace(clip, dup_key=UNPLACED + (umis[i],)) if umis[i] else clip)
        names.clear()
        seqs.clear()
        umis.clear()

    for record in records:
        name, seq = record[0], record[1]
        if len(seq) < K + min_clip:
            continue
        names.append(name)
        seqs.append(seq)
        umis.append(record[2] if len(record) > 2 else "")
        if len(seqs) >= batch:
            flush()
    flush()
    return out


def clips_from_unmapped(
    reads: Iterable[UnmappedMate | tuple[str, str]], index: TargetTranscripts, min_clip: int
) -> list[ClippedRead]:
    out: list[ClippedRead] = []
    seen: set[tuple[str, Breakend]] = set()
    for read in reads:
        fragment, sequence = (read.fragment, read.sequence) if isinstance(read, UnmappedMate) else read
        clip = index.clip_of(fragment, sequence, min_clip)
        if clip is not None and (clip.fragment, clip.end) not in seen:
            seen.add((clip.fragment, clip.end))
            out.append(clip)
    return out
