"""Junction fragments whose two reads the aligner left unmapped: read-pairs placed on the
fused transcript.

A fragment whose junction lies between its two reads has one read wholly in the partner
and one wholly in the target. An aligner that cannot pair mates across two genes (STAR
without chimeric output, HISAT2) leaves both unmapped, without a position; no read spells
the junction, so no soft clip shows it. In a panel whose molecules are counted, those
fragments are missing from the count (a fifth to a third of a hybrid-capture fusion's
molecules with STAR's defaults). Each candidate junction defines its fused transcript
(the 5' gene's spliced exons up to the breakpoint, the 3' gene's from it); a pair from
the BAM's unplaced reads counts for the junction when its reads align to that sequence
ungapped, as a forward/reverse pair around the junction with a read on each side.

Pure: (name, sequence, UMI) records and candidates in, fragment names per candidate out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from imtfusion.annotation import Annotation, Transcript
from imtfusion.evidence import complement, reverse_complement
from imtfusion.model import Breakend

SEED = 20  # exact bases a read's alignment on a fused transcript starts from
FLANK = 700  # fused-transcript bases kept on each side of the junction (a fragment fits in)
MAX_FRAGMENT = 1000  # a pair's reads this far apart at most, on the fused transcript
MIN_SIDE = 20  # bases of the fragment on each side of the junction at least
PAIR_BATCH = 20_000  # pairs checked against the target K-mers at a time


@dataclass(frozen=True, slots=True)
class UnplacedPair:
    """Two unmapped reads of one fragment, as sequenced."""

    fragment: str
    read1: str
    read2: str
    umi: str = ""


class PairCollector:
    """The pairs among a stream of unplaced records (mates adjacent, as aligners write
    them and a stable sort keeps them) of which a read may lie in a target transcript:
    ``keep(sequences)`` returns the indices of the sequences to keep (the target K-mer
    filter, :class:`imtfusion.unmapped.EndFilter`)."""

    def __init__(self, keep: Callable[[list[str]], Iterable[int]]):
        self._keep = keep
        self._last: tuple[str, str, str] | None = None
        self._batch: list[UnplacedPair] = []
        self.pairs: list[UnplacedPair] = []

    def add(self, name: str, sequence: str, umi: str = "") -> None:
        last = self._last
        if last is not None and last[0] == name:
            self._batch.append(UnplacedPair(name, last[1], sequence, umi or last[2]))
            self._last = None
            if len(self._batch) >= PAIR_BATCH:
                self._flush()
            return
        self._last = (name, sequence, umi)

    def _flush(self) -> None:
        batch = self._batch
        if batch:
            hits = {int(i) % len(batch) for i in self._keep([p.read1 for p in batch] + [p.read2 for p in batch])}
            self.pairs.extend(batch[i] for i in sorted(hits))
        self._batch = []

    def finish(self) -> list[UnplacedPair]:
        self._flush()
        return self.pairs


@dataclass(frozen=True, slots=True)
class FusedTranscript:
    """The sequence around one junction, 5' gene first, in transcript orientation;
    ``junction`` is the offset of the 3' gene's first base."""

    key: int
    sequence: str
    junction: int
    support: int = 0  # split-read fragments of the junction: a pair several junctions explain goes to the best supported


def _spliced(t: Transcript, fetch: Callable[[str, int, int], str], chrom: str, exons: Sequence[tuple[int, int]]) -> str:
    parts = []
    for s, e in exons:
        bases = fetch(chrom, s, e).upper()
        if len(bases) != e - s:
            return ""
        parts.append(bases if t.strand == "+" else reverse_complement(bases))
    return "".join(parts)


def _kept_intervals(t: Transcript, pos: int, three: bool) -> list[tuple[int, int]] | None:
    """The genomic intervals, in transcript order, of what a fused transcript keeps of
    ``t`` at breakpoint ``pos``: its exons before (5') or after (3') the breakpoint, and
    the exon or intron bases between the breakpoint and the nearest of them (intronic bases
    a fusion keeps, as EML4::ALK often keeps some of ALK intron 19); None when ``pos`` lies
    outside the transcript's exons' reach."""
    exons = list(t.exons)  # transcript order
    plus = t.strand == "+"
    if three:
        # the first exon (transcript order) that ends past the breakpoint (+), begins at or
        # before it (-): the kept part runs from the breakpoint through it
        for k, (s, e) in enumerate(exons):
            if (plus and e > pos) or (not plus and s <= pos):
                return [(pos, e) if plus else (s, pos + 1)] + exons[k + 1:]
        return None
    for k in range(len(exons) - 1, -1, -1):
        s, e = exons[k]
        if (plus and s <= pos) or (not plus and e > pos):
            return exons[:k] + [(s, pos + 1) if plus else (pos, e)]
    return None


def _part(end: Breakend, transcripts: list[Transcript], fetch, flank: int, three: bool) -> str:  # type: ignore[no-untyped-def]
    """The bases a fused transcript keeps of a gene at its breakpoint, transcript
    orientation: the 3' gene's from the breakpoint on (``three``), the 5' gene's up to and
    with it; ``flank`` bases next to the junction at most. A transcript with an exon
    boundary at the breakpoint is taken first, else one whose span holds it; without one,
    the genomic bases on the kept side."""
    def boundary(t: Transcript) -> bool:
        starts = {s if t.strand == "+" else e - 1 for s, e in t.exons}
        ends = {e - 1 if t.strand == "+" else s for s, e in t.exons}
        return end.pos in (starts if three else ends)

    def spans(t: Transcript) -> bool:
        return min(s for s, _ in t.exons) <= end.pos < max(e for _, e in t.exons)

    for t in sorted((t for t in transcripts if t.exons and spans(t)), key=lambda t: not boundary(t)):
        kept = _kept_intervals(t, end.pos, three)
        seq = _spliced(t, fetch, end.chrom, kept) if kept else ""
        if seq:
            return seq[:flank] if three else seq[-flank:]
    strand = transcripts[0].strand if transcripts else "+"
    if (strand == "+") == three:
        bases = fetch(end.chrom, end.pos, end.pos + flank).upper()
        return bases if strand == "+" else reverse_complement(bases)
    bases = fetch(end.chrom, max(0, end.pos + 1 - flank), end.pos + 1).upper()
    return bases if strand == "+" else reverse_complement(bases)


def fused_transcript(key: int, end5: Breakend, end3: Breakend, gene_id5: str, gene_id3: str,
                     annotation: Annotation, fetch: Callable[[str, int, int], str],
                     flank: int = FLANK, support: int = 0) -> FusedTranscript | None:
    """The fused transcript of a junction (``fetch`` reads BAM-named contigs; ``support``
    its split-read fragments), or None when either side has no bases to read."""
    five = _part(end5, annotation.transcripts_of(gene_id5), fetch, flank, three=False)
    three = _part(end3, annotation.transcripts_of(gene_id3), fetch, flank, three=True)
    if len(five) < MIN_SIDE + SEED or len(three) < MIN_SIDE + SEED:
        return None
    return FusedTranscript(key, five + three, len(five), support)


def _seed_index(fused: list[FusedTranscript]) -> dict[str, list[tuple[int, int]]]:
    """Every ``SEED``-base K-mer (without N) of the fused transcripts -> (index, offset)."""
    index: dict[str, list[tuple[int, int]]] = {}
    for k, t in enumerate(fused):
        seq = t.sequence
        for o in range(len(seq) - SEED + 1):
            kmer = seq[o:o + SEED]
            if "N" not in kmer:
                index.setdefault(kmer, []).append((k, o))
    return index


def _mismatches_allowed(length: int) -> int:
    return max(2, length // 25)


def _placements(read: str, fused: list[FusedTranscript], index: dict[str, list[tuple[int, int]]]
                ) -> dict[int, tuple[int, int, bool]]:
    """Where a read aligns ungapped on each fused transcript: key -> (start, end, as
    sequenced (True) or reverse-complemented)."""
    out: dict[int, tuple[int, int, bool]] = {}
    for forward, seq in ((True, read.upper()), (False, reverse_complement(read.upper()))):
        n = len(seq)
        if n < SEED:
            continue
        tried: set[tuple[int, int]] = set()
        for at in sorted({0, (n - SEED) // 2, n - SEED}):
            for k, off in index.get(seq[at:at + SEED], ()):
                start = off - at
                t = fused[k]
                if (k, start) in tried or start < 0 or start + n > len(t.sequence):
                    continue
                tried.add((k, start))
                ref = t.sequence[start:start + n]
                bad = sum(1 for a, b in zip(seq, ref) if a != b and b != "N")
                unknown = ref.count("N")
                if bad <= _mismatches_allowed(n) and 3 * unknown <= n and t.key not in out:
                    out[t.key] = (start, start + n, forward)
    return out


def pairs_on_fused(pairs: Iterable[UnplacedPair], fused: list[FusedTranscript]) -> dict[int, list[UnplacedPair]]:
    """The pairs each fused transcript explains: both reads aligned on it, one as
    sequenced and one reverse-complemented, the forward one first, at most
    ``MAX_FRAGMENT`` apart, the fragment reaching ``MIN_SIDE`` bases past the junction on
    both sides. A pair that fits several goes to the best-supported junction (its
    ``support``), as a mapped discordant pair does: a pair's junction lies between its
    reads, where any of the junctions that fit may be; then to the one where its fragment
    is shortest (an isoform of equal support), then the first given."""
    index = _seed_index(fused)
    by_key = {t.key: t for t in fused}
    out: dict[int, list[UnplacedPair]] = {}
    for pair in pairs:
        one, two = _placements(pair.read1, fused, index), _placements(pair.read2, fused, index)
        best: tuple[int, int, int] | None = None
        for key in one.keys() & two.keys():
            (s1, e1, f1), (s2, e2, f2) = one[key], two[key]
            if f1 == f2:
                continue
            (fs, _fe), (_rs, re) = ((s1, e1), (s2, e2)) if f1 else ((s2, e2), (s1, e1))
            length = re - fs
            j = by_key[key].junction
            if not (0 < length <= MAX_FRAGMENT and fs <= j - MIN_SIDE and re >= j + MIN_SIDE and fs <= _rs):
                continue
            rank = (-by_key[key].support, length, key)
            if best is None or rank < best:
                best = rank
        if best is not None:
            out.setdefault(best[2], []).append(pair)
    return out


# ----------------------------------------------------------------------------------
# reads without a position whose target side at the junction is short (10-19 bases)
# ----------------------------------------------------------------------------------
#
# A read the aligner left without a position is looked at by its target bases: a
# 20-base K-mer of a target transcript (imtfusion.unmapped.EndFilter), or a pair placed
# with 20 bases on each side of the junction (above). An FFPE junction read whose target
# side is 10-19 bases has neither. Such a read ends in the first bases of a target exon,
# or starts with its last ones: the reads whose ends are such bases are kept while the
# unplaced reads are scanned (ShortSideFilter), and once a call is made they are placed
# on its fused transcript (short_side_reads).

SHORT_SIDE = 10  # target bases of a junction read without a position, at least (exact)
_END_WORD = 10  # bases of a read's end looked up in the target exons' boundary bases


class ShortSideFilter:
    """Whether a read may hold a junction with 10-19 bases of a target exon at one of its
    ends: in transcript orientation (the read as sequenced or reverse-complemented) its
    last ``_END_WORD`` bases are those before the L-th base of a target exon (the read
    ends in the exon's first L bases), or its first ones start L bases before the exon's
    end, for some L from ``SHORT_SIDE`` to ``MIN_SIDE - 1``. ``exons``: the target
    transcripts' exon sequences, transcript orientation."""

    def __init__(self, exons: Iterable[str]):
        self.tails: set[str] = set()
        self.heads: set[str] = set()
        for seq in exons:
            seq = seq.upper()
            for length in range(SHORT_SIDE, MIN_SIDE):
                if len(seq) >= length:
                    self.tails.add(seq[length - _END_WORD:length])
                    self.heads.add(seq[len(seq) - length:len(seq) - length + _END_WORD])
        self.tails.discard("")
        self.heads.discard("")

    def __call__(self, sequence: str) -> bool:
        if len(sequence) < SHORT_SIDE + MIN_SIDE:
            return False
        seq = sequence.upper()
        for s in (seq, reverse_complement(seq)):
            if s[-_END_WORD:] in self.tails or s[:_END_WORD] in self.heads:
                return True
        return False


def own_continuations(end: Breakend, transcripts: Sequence[Transcript], fetch: Callable[[str, int, int], str],
                      n: int, three: bool) -> list[str]:
    """What a gene itself has next to its breakpoint on the side a fusion gives to the
    other gene, ``n`` bases in transcript orientation read away from the breakpoint: for
    the 5' gene (``three`` False) the bases after it, for the 3' gene those before it
    (nearest first), both in the pre-mRNA (the genome) and, for each transcript with an
    exon boundary at the breakpoint, in the spliced mRNA (the neighbouring exon). A wild-
    type read of the gene would show these bases where a junction read shows the other
    gene's."""
    out: list[str] = []
    plus = (transcripts[0].strand if transcripts else "+") == "+"
    pos = end.pos
    after = plus != three  # genome direction of the bases wanted: True = to the right
    if after:
        bases = fetch(end.chrom, pos + 1, pos + 1 + n).upper()
    else:
        bases = fetch(end.chrom, max(0, pos - n), pos).upper()[::-1]  # nearest first
    out.append(bases if plus else complement(bases))
    for t in transcripts:
        exons = list(t.exons)  # transcript order
        for k, (s, e) in enumerate(exons):
            last, first = (e - 1, s) if plus else (s, e - 1)  # the exon's last and first base (transcript order)
            if not three and last == pos and k + 1 < len(exons):  # the next exon's first bases
                ns, ne = exons[k + 1]
                seq = (fetch(end.chrom, ns, min(ne, ns + n)) if plus
                       else reverse_complement(fetch(end.chrom, max(ns, ne - n), ne)))
                out.append(seq.upper())
            elif three and first == pos and k > 0:  # the previous exon's last bases, nearest first
                ps, pe = exons[k - 1]
                seq = (fetch(end.chrom, max(ps, pe - n), pe)[::-1] if plus
                       else complement(fetch(end.chrom, ps, min(pe, ps + n))))
                out.append(seq.upper())
    return sorted({x for x in out if x})


@dataclass(frozen=True, slots=True)
class ShortSideRead:
    """A read without a position placed across a call's junction (:func:`short_side_reads`)."""

    fragment: str
    umi: str


def short_side_reads(reads: Iterable[tuple[str, str, str]], fused: list[FusedTranscript],
                     own: dict[int, tuple[list[str], list[str]]]) -> dict[int, list[ShortSideRead]]:
    """The reads (name, sequence, UMI) that spell each fused transcript's junction: aligned
    ungapped on it (as :func:`pairs_on_fused` aligns a pair's reads), at least
    ``SHORT_SIDE`` bases on each side, the shorter side exactly as the fused transcript
    has it and unlike what the other side's gene itself has there (``own[key]``: the 5'
    gene's own bases after its breakpoint, the 3' gene's before it, from
    :func:`own_continuations`; two differences at least against each): a wild-type read
    of that gene is no junction read. A read that fits several goes to the best-supported
    junction; one fragment counts once per junction."""
    index = _seed_index(fused)
    by_key = {t.key: t for t in fused}
    out: dict[int, dict[str, ShortSideRead]] = {}
    for name, sequence, umi in reads:
        best: tuple | None = None
        for key, (start, end, forward) in _placements(sequence, fused, index).items():
            t = by_key[key]
            j = t.junction
            left, right = j - start, end - j
            if min(left, right) < SHORT_SIDE:
                continue
            read = sequence.upper() if forward else reverse_complement(sequence.upper())
            short_left = left <= right
            side = read[:left] if short_left else read[left:]
            expected = t.sequence[start:j] if short_left else t.sequence[j:end]
            if side != expected:
                continue  # the short side exactly, or not at all
            fives, threes = own.get(key, ([], []))
            # short left side (5' gene's bases): against the 3' gene's own bases before its
            # breakpoint, nearest first; short right side against the 5' gene's after it
            # (a neighbouring exon shorter than the side: compared where it reaches)
            wild = [x[:left][::-1] for x in threes] if short_left else [x[:right] for x in fives]
            near = (lambda w: side[len(side) - len(w):]) if short_left else (lambda w: side[:len(w)])
            if any(w and sum(a != b for a, b in zip(near(w), w)) < 2 for w in wild):
                continue
            rank = (-t.support, key)
            if best is None or rank < best[0]:
                best = (rank, key, ShortSideRead(name, umi))
        if best is not None:
            out.setdefault(best[1], {}).setdefault(name, best[2])
    return {key: list(found.values()) for key, found in out.items()}
