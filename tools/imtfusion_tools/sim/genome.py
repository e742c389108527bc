"""A small synthetic genome with GENCODE-style gene models.

Why synthetic: the demo data and the tests must not depend on anything fetched
from the internet, yet a fusion caller is only exercised honestly if the
annotation *looks* like GENCODE (real strands, exon numbering in transcript
order, CDS phases, canonical tags) and if protein coordinates from the
literature fall into the exons they fall into in reality.  So every sequence
here is random (seeded), but the gene *structures* are designed: exon counts,
strands and the amino-acid positions at which selected exons begin follow the
real genes, and every designed fusion junction is in frame by construction
(and verified, see :func:`designed_fusions`).

Coordinates: genomic positions are 1-based and inclusive (as in GTF and in the
truth table); transcript offsets are 0-based into the spliced transcript.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

# --------------------------------------------------------------------------
# sequence helpers
# --------------------------------------------------------------------------

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")

#: Longest homopolymer the generator emits.  Real genomes have longer runs, but
#: runs make aligner behaviour at junctions ambiguous, which the demo avoids.
MAX_RUN = 5

#: Fraction of G+C in generated sequence (human average is ~41%, genic ~45%).
DEFAULT_GC = 0.45

_STOP_CODONS = frozenset({"TAA", "TAG", "TGA"})
_BASES = "ACGT"
_CODON_TABLE: dict[str, str] = {}
for _i, _aa in enumerate("KNKNTTTTRSRSIIMIQHQHPPPPRRRRLLLLEDEDAAAAGGGGVVVV*Y*YSSSS*CWCLFLF"):
    _CODON_TABLE[_BASES[_i // 16] + _BASES[(_i // 4) % 4] + _BASES[_i % 4]] = _aa
_SENSE_CODONS = tuple(c for c in sorted(_CODON_TABLE) if c not in _STOP_CODONS)


def revcomp(seq: str) -> str:
    """Reverse complement of a DNA string (N stays N)."""
    return seq.translate(_COMPLEMENT)[::-1]


def translate(seq: str) -> str:
    """Translate a DNA string codon by codon from its first base ('*' = stop, 'X' = partial/N)."""
    return "".join(_CODON_TABLE.get(seq[i : i + 3], "X") for i in range(0, len(seq) - 2, 3))


def sub_rng(seed: int, *labels: str) -> random.Random:
    """An independent random stream for one purpose.

    Deriving streams from (seed, labels) rather than sharing one generator keeps
    e.g. a gene's sequence identical whether or not other genes are built, so a
    test genome with three genes contains the same ALK as the demo genome.
    ``random.Random`` is used (not numpy) because its stream is stable across
    Python versions, which keeps the committed demo reproducible.
    """
    digest = hashlib.sha256("\x1f".join((str(seed), *labels)).encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def _base_weights(gc: float) -> list[float]:
    return [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]


def _tail_run(prev: str) -> tuple[str, int]:
    if not prev:
        return "", 0
    last = prev[-1]
    run = 1
    while run < len(prev) and prev[-1 - run] == last:
        run += 1
    return last, run


def random_dna(rng: random.Random, n: int, gc: float = DEFAULT_GC, prev: str = "") -> str:
    """``n`` random bases with the given GC fraction and no homopolymer longer than MAX_RUN.

    ``prev`` is the sequence this one will follow, so runs are also broken across
    the seam.
    """
    if n <= 0:
        return ""
    weights = _base_weights(gc)
    bases = rng.choices(_BASES, weights=weights, k=n)
    last, run = _tail_run(prev)
    for i, b in enumerate(bases):
        if b == last:
            run += 1
            if run > MAX_RUN:
                others = [x for x in _BASES if x != b]
                ow = [weights[_BASES.index(x)] for x in others]
                b = rng.choices(others, weights=ow, k=1)[0]
                bases[i] = b
                last, run = b, 1
        else:
            last, run = b, 1
    return "".join(bases)


def random_orf_body(rng: random.Random, n_codons: int, gc: float = DEFAULT_GC, prev: str = "") -> str:
    """``n_codons`` random sense codons (never a stop), respecting MAX_RUN across codons."""
    weights = _base_weights(gc)
    cw = [
        weights[_BASES.index(c[0])] * weights[_BASES.index(c[1])] * weights[_BASES.index(c[2])]
        for c in _SENSE_CODONS
    ]
    out: list[str] = []
    tail = prev[-MAX_RUN:]
    for _ in range(n_codons):
        while True:
            codon = rng.choices(_SENSE_CODONS, weights=cw, k=1)[0]
            candidate = tail + codon
            _, run = _tail_run(candidate)
            longest = max(_tail_run(candidate[: len(candidate) - k])[1] for k in range(3))
            if max(run, longest) <= MAX_RUN:
                break
        out.append(codon)
        tail = (tail + codon)[-MAX_RUN:]
    return "".join(out)


# --------------------------------------------------------------------------
# design specifications (what to build)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExonAnchor:
    """Fixes where an exon's coding part begins, in protein coordinates.

    The exon's first coding base belongs to codon ``aa`` (1-based) and is its
    base number ``frame`` (0, 1 or 2): ``frame`` bases of that codon sit in the
    previous exon.  Anchors are how literature facts ("ALK exon 20 begins at
    about aa 1058") and in-frame junctions (equal frames on both sides) are
    imposed on otherwise random exon lengths.
    """

    exon: int
    aa: int
    frame: int = 0

    @property
    def cds_offset(self) -> int:
        """Number of CDS bases before the exon's first coding base."""
        return (self.aa - 1) * 3 + self.frame


@dataclass(frozen=True)
class AltTranscriptSpec:
    """A second, non-canonical transcript: the canonical one minus some exons.

    Skipped exons are made frame-neutral by the builder (coding length a
    multiple of three) so the shorter transcript keeps a valid ORF; its exon
    numbers after the skip differ from the canonical ones, which is the point:
    a caller that reports exons of the wrong transcript gets a wrong number.
    """

    suffix: str
    skip_exons: tuple[int, ...]


@dataclass(frozen=True)
class GeneSpec:
    """Design of one protein-coding gene; see :func:`default_layout` for real values.

    ``gap_before`` is the intergenic distance from the previous gene on the
    contig (or from the contig start).  ``intron_lengths`` overrides selected
    introns (intron *i* lies between exons *i* and *i+1* in transcript order),
    e.g. a long ALK intron 19 where real breakpoints cluster.
    ``donor_after_last_exon`` writes a GT right after the last exon so that a
    read-through transcript splicing out of it uses a canonical donor.
    """

    name: str
    chrom: str
    strand: str
    n_exons: int
    aa_length: int
    anchors: tuple[ExonAnchor, ...] = ()
    first_coding_exon: int = 1
    utr5: int = 150
    utr3: int = 600
    intron_lengths: tuple[tuple[int, int], ...] = ()
    frame_neutral_exons: tuple[int, ...] = ()
    alt_transcripts: tuple[AltTranscriptSpec, ...] = ()
    gap_before: int = 40_000
    donor_after_last_exon: bool = False
    #: A gene added to a layout after samples were simulated from it (the extended targets
    #: of :func:`demo_layout`): its IDs come from a series of their own and its reads from
    #: a random stream of their own, drawn after all others, so adding it renames no gene
    #: and changes no read of the genes before it. Place it after them on its contig.
    late: bool = False

    def __post_init__(self) -> None:
        if self.strand not in ("+", "-"):
            raise ValueError(f"{self.name}: strand must be '+' or '-'")
        if not 1 <= self.first_coding_exon <= self.n_exons:
            raise ValueError(f"{self.name}: first_coding_exon out of range")
        for a in self.anchors:
            if not self.first_coding_exon < a.exon <= self.n_exons or a.frame not in (0, 1, 2):
                raise ValueError(f"{self.name}: bad anchor {a}")


@dataclass(frozen=True)
class DecoySpec:
    """A paralog decoy: a gene whose exons copy exons of a target with some divergence.

    Reads from the target then also align (with mismatches) to the decoy, which
    is what mismapping filters of a caller must cope with.  The decoy is
    annotated as an unprocessed pseudogene without CDS.
    """

    name: str
    source: str
    first_exon: int
    last_exon: int
    divergence: float
    chrom: str
    strand: str = "+"
    gap_before: int = 25_000
    #: GTF gene (and transcript) type, e.g. ``transcribed_unprocessed_pseudogene``.
    gene_type: str = "unprocessed_pseudogene"
    #: One intronless exon copying the spliced mRNA of the source exons (a retrotransposed copy).
    processed: bool = False
    #: An unmutated stretch around the start of source exon ``identical_exon`` (0: none):
    #: ``identical_before`` bases before it (the end of the previous exon in the mRNA) and
    #: ``identical_after`` bases from it.  ``identical_exon = last_exon + 1`` puts the
    #: stretch at the end of the copy.  This is what makes aligners split a read between
    #: the copy and its source: the stretch aligns equally well to both.
    identical_exon: int = 0
    identical_before: int = 0
    identical_after: int = 0
    #: Intron lengths of the copy (intron *i* between copy exons *i* and *i+1*); others random.
    intron_lengths: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.divergence < 0.5:
            raise ValueError("divergence must be in [0, 0.5)")
        if self.first_exon > self.last_exon:
            raise ValueError("first_exon must not exceed last_exon")
        if self.identical_exon and not self.first_exon <= self.identical_exon <= self.last_exon + 1:
            raise ValueError("identical_exon must be one of the copied exons (or last_exon + 1)")
        if self.identical_before < 0 or self.identical_after < 0:
            raise ValueError("identical_before/after must be >= 0")
        if self.processed and self.intron_lengths:
            raise ValueError("a processed pseudogene has no introns")
        for i, n in self.intron_lengths:
            if not 1 <= i <= self.last_exon - self.first_exon or n < 60:
                raise ValueError(f"bad decoy intron {i}: {n}")

    @property
    def has_identical_stretch(self) -> bool:
        return bool(self.identical_exon and (self.identical_before or self.identical_after))


@dataclass(frozen=True)
class RepeatSpec:
    """An unannotated low-complexity stretch in an intergenic part of a contig.

    ``length`` bases of ``base`` with about ``interruptions`` of them (a
    fraction) replaced by other bases, never two in a row; e.g. the G-rich
    stretch where aligners put the all-G reads of two-colour sequencers (no
    signal reads as G).  Placed after the genes and decoys of ``chrom``.
    """

    name: str
    chrom: str
    length: int = 400
    base: str = "G"
    interruptions: float = 0.04
    gap_before: int = 20_000

    def __post_init__(self) -> None:
        if self.base not in _BASES or not 20 <= self.length <= 100_000 or not 0 <= self.interruptions < 0.5:
            raise ValueError(f"bad repeat {self.name}")


@dataclass(frozen=True)
class GenomeLayout:
    """Which contigs exist (in FASTA/GTF order) and which genes sit on them, in order."""

    contigs: tuple[str, ...]
    genes: tuple[GeneSpec, ...]
    decoys: tuple[DecoySpec, ...] = ()
    tail: int = 20_000
    gc: float = DEFAULT_GC
    repeats: tuple[RepeatSpec, ...] = ()

    def gene_spec(self, name: str) -> GeneSpec:
        for g in self.genes:
            if g.name == name:
                return g
        raise KeyError(name)

    def subset(self, names: Iterable[str], gap: int | None = 5_000, tail: int | None = 5_000) -> "GenomeLayout":
        """A smaller layout with only the named genes (and contigs that keep a gene).

        Genes are built from per-gene random streams, so their sequences are
        identical to those in the full layout; only the intergenic spacing
        (``gap``, ``tail``) changes.  Used for fast tests (tiny STAR index).
        """
        keep = set(names)
        unknown = keep - {g.name for g in self.genes} - {d.name for d in self.decoys} - {r.name for r in self.repeats}
        if unknown:
            raise KeyError(f"unknown genes: {sorted(unknown)}")
        genes = tuple(
            g if gap is None else replace(g, gap_before=min(g.gap_before, gap))
            for g in self.genes
            if g.name in keep
        )
        decoys = tuple(
            d if gap is None else replace(d, gap_before=min(d.gap_before, gap))
            for d in self.decoys
            if d.name in keep
        )
        repeats = tuple(
            r if gap is None else replace(r, gap_before=min(r.gap_before, gap))
            for r in self.repeats
            if r.name in keep
        )
        used = {g.chrom for g in genes} | {d.chrom for d in decoys} | {r.chrom for r in repeats}
        return replace(
            self,
            contigs=tuple(c for c in self.contigs if c in used),
            genes=genes,
            decoys=decoys,
            repeats=repeats,
            tail=self.tail if tail is None else tail,
        )

    def with_decoy(self, decoy: DecoySpec) -> "GenomeLayout":
        """This layout plus a paralog decoy (the contig must exist already)."""
        if decoy.chrom not in self.contigs:
            raise ValueError(f"decoy contig {decoy.chrom} is not in the layout")
        return replace(self, decoys=self.decoys + (decoy,))

    def with_repeat(self, repeat: RepeatSpec) -> "GenomeLayout":
        """This layout plus an unannotated low-complexity stretch (the contig must exist already)."""
        if repeat.chrom not in self.contigs:
            raise ValueError(f"repeat contig {repeat.chrom} is not in the layout")
        return replace(self, repeats=self.repeats + (repeat,))


# --------------------------------------------------------------------------
# the built model (what exists)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Exon:
    """One exon of one transcript; ``number`` counts in transcript order (1 = 5'-most)."""

    number: int
    start: int
    end: int
    exon_id: str

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class Transcript:
    """A spliced transcript: exons in transcript order plus its CDS in transcript offsets.

    ``cds_start`` is the 0-based offset of the A of ATG, ``cds_end`` the offset
    one past the last base of the stop codon (so the stop codon is included,
    unlike in the GTF CDS feature, which excludes it as GENCODE does).
    """

    transcript_id: str
    name: str
    gene_id: str
    gene_name: str
    chrom: str
    strand: str
    exons: tuple[Exon, ...]
    cds_start: int | None
    cds_end: int | None
    canonical: bool
    transcript_type: str = "protein_coding"

    @property
    def start(self) -> int:
        return min(e.start for e in self.exons)

    @property
    def end(self) -> int:
        return max(e.end for e in self.exons)

    @property
    def length(self) -> int:
        return sum(e.length for e in self.exons)

    @property
    def is_coding(self) -> bool:
        return self.cds_start is not None

    def exon(self, number: int) -> Exon:
        """The exon with this number (in this transcript's own numbering)."""
        for e in self.exons:
            if e.number == number:
                return e
        raise KeyError(f"{self.name} has no exon {number} (it has {len(self.exons)})")

    def exon_offset(self, number: int) -> int:
        """Transcript offset of the first base of exon ``number``."""
        off = 0
        for e in self.exons:
            if e.number == number:
                return off
            off += e.length
        raise KeyError(f"{self.name} has no exon {number}")

    def to_genome(self, offset: int) -> int:
        """Genomic position (1-based) of transcript offset ``offset``."""
        if not 0 <= offset < self.length:
            raise IndexError(f"offset {offset} outside {self.name} (length {self.length})")
        for e in self.exons:
            if offset < e.length:
                return e.start + offset if self.strand == "+" else e.end - offset
            offset -= e.length
        raise AssertionError("unreachable")

    def to_transcript(self, pos: int) -> int | None:
        """Transcript offset of genomic position ``pos``, or None if ``pos`` is not exonic."""
        off = 0
        for e in self.exons:
            if e.start <= pos <= e.end:
                return off + (pos - e.start if self.strand == "+" else e.end - pos)
            off += e.length
        return None

    def sequence(self, genome: "Genome") -> str:
        """Spliced transcript sequence, 5'->3' in transcript orientation."""
        parts = [genome.fetch(self.chrom, e.start, e.end) for e in self.exons]
        if self.strand == "-":
            return "".join(revcomp(p) for p in parts)
        return "".join(parts)

    def cds_sequence(self, genome: "Genome") -> str:
        """CDS including the stop codon ('' for a non-coding transcript)."""
        if self.cds_start is None or self.cds_end is None:
            return ""
        return self.sequence(genome)[self.cds_start : self.cds_end]

    def protein(self, genome: "Genome") -> str:
        """Translated CDS without the terminal stop."""
        return translate(self.cds_sequence(genome)).rstrip("*")

    def cds_frame_at_exon(self, number: int) -> int | None:
        """Frame of exon ``number``'s first coding base: CDS bases before it, mod 3.

        Two exons can be joined in frame iff the frame after the 5' exon's last
        base equals the frame at the 3' exon's first base.
        """
        if self.cds_start is None:
            return None
        return (self.exon_offset(number) - self.cds_start) % 3

    def aa_at_offset(self, offset: int) -> int | None:
        """1-based amino-acid number of the codon containing transcript offset ``offset``."""
        if self.cds_start is None or self.cds_end is None or not self.cds_start <= offset < self.cds_end:
            return None
        return (offset - self.cds_start) // 3 + 1

    def exon_aa_range(self, number: int) -> tuple[int, int] | None:
        """First and last amino acid (1-based) with at least one base in exon ``number``."""
        if self.cds_start is None or self.cds_end is None:
            return None
        a = self.exon_offset(number)
        b = a + self.exon(number).length
        lo, hi = max(a, self.cds_start), min(b, self.cds_end - 3)
        if lo >= hi:
            return None
        return (lo - self.cds_start) // 3 + 1, (hi - 1 - self.cds_start) // 3 + 1

    def genomic_pieces(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """Genomic intervals (start, end, transcript offset of the piece's 5' base) of offsets [lo, hi)."""
        pieces: list[tuple[int, int, int]] = []
        off = 0
        for e in self.exons:
            a, b = max(lo, off), min(hi, off + e.length)
            if a < b:
                if self.strand == "+":
                    pieces.append((e.start + a - off, e.start + b - off - 1, a))
                else:
                    pieces.append((e.end - (b - off) + 1, e.end - (a - off), a))
            off += e.length
        return pieces


@dataclass(frozen=True)
class Gene:
    """A gene with its transcripts; the first transcript is the canonical one."""

    gene_id: str
    name: str
    chrom: str
    strand: str
    gene_type: str
    transcripts: tuple[Transcript, ...]

    @property
    def start(self) -> int:
        return min(t.start for t in self.transcripts)

    @property
    def end(self) -> int:
        return max(t.end for t in self.transcripts)

    @property
    def canonical(self) -> Transcript:
        for t in self.transcripts:
            if t.canonical:
                return t
        raise AssertionError(f"{self.name} has no canonical transcript")


@dataclass(frozen=True)
class Contig:
    """One chromosome-like sequence."""

    name: str
    sequence: str = field(repr=False)

    @property
    def length(self) -> int:
        return len(self.sequence)


@dataclass(frozen=True)
class Genome:
    """Contigs plus gene models, as built by :func:`build_genome`."""

    contigs: tuple[Contig, ...]
    genes: tuple[Gene, ...]
    seed: int
    layout: GenomeLayout = field(repr=False)

    def contig(self, name: str) -> Contig:
        for c in self.contigs:
            if c.name == name:
                return c
        raise KeyError(f"no contig {name}")

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases ``start``..``end`` (1-based, inclusive) of ``chrom``, forward strand."""
        seq = self.contig(chrom).sequence
        if not 1 <= start <= end <= len(seq):
            raise IndexError(f"{chrom}:{start}-{end} outside contig of length {len(seq)}")
        return seq[start - 1 : end]

    def gene(self, name: str) -> Gene:
        for g in self.genes:
            if g.name == name:
                return g
        raise KeyError(f"no gene {name} in the synthetic genome")

    def transcript(self, name_or_id: str) -> Transcript:
        for g in self.genes:
            for t in g.transcripts:
                if name_or_id in (t.name, t.transcript_id):
                    return t
        raise KeyError(f"no transcript {name_or_id}")

    @property
    def transcripts(self) -> tuple[Transcript, ...]:
        return tuple(t for g in self.genes for t in g.transcripts)

    @property
    def size(self) -> int:
        return sum(c.length for c in self.contigs)

    def is_late(self, gene_name: str) -> bool:
        """Whether the gene was added late to the layout (GeneSpec.late)."""
        return any(g.name == gene_name and g.late for g in self.layout.genes)


# --------------------------------------------------------------------------
# builder
# --------------------------------------------------------------------------

_MIN_EXON = 20


def _log_uniform(rng: random.Random, lo: float, hi: float) -> int:
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def _partition(rng: random.Random, total: int, n: int, neutral: Sequence[bool], label: str) -> list[int]:
    """Split ``total`` CDS bases into ``n`` exon parts; parts flagged neutral get multiples of 3."""
    if n == 1:
        if neutral[0] and total % 3:
            raise ValueError(f"{label}: a frame-neutral exon cannot span {total} bases")
        return [total]
    weights = [rng.uniform(0.6, 1.4) for _ in range(n)]
    s = sum(weights)
    parts = [max(_MIN_EXON, int(round(total * w / s))) for w in weights]
    parts = [p - p % 3 if neutral[i] else p for i, p in enumerate(parts)]
    free = [i for i in range(n) if not neutral[i]]
    residue = total - sum(parts)
    if not free:
        if residue % 3:
            raise ValueError(f"{label}: all exons frame-neutral but length not a multiple of 3")
        free = list(range(n))
    # spread the residue over the free exons
    k = len(free)
    for j, i in enumerate(free):
        parts[i] += residue // k + (1 if j < residue % k else 0)
    if min(parts) < _MIN_EXON:
        raise ValueError(f"{label}: anchors leave an exon shorter than {_MIN_EXON} bases")
    return parts


@dataclass(frozen=True)
class _Structure:
    """A gene's designed structure in transcript orientation, before placement."""

    exon_lengths: tuple[int, ...]
    intron_lengths: tuple[int, ...]
    cds_start: int
    cds_end: int
    mrna: str
    introns: tuple[str, ...]


def _design_gene(spec: GeneSpec, seed: int, gc: float) -> _Structure:
    rng = sub_rng(seed, "gene", spec.name)
    cds_len = 3 * spec.aa_length + 3
    f = spec.first_coding_exon
    # fixed CDS offsets at exon starts: first coding exon at 0, anchors, "exon n+1" at cds_len
    fixed: dict[int, int] = {f: 0, spec.n_exons + 1: cds_len}
    for a in spec.anchors:
        fixed[a.exon] = a.cds_offset
    keys = sorted(fixed)
    coding_parts: dict[int, int] = {}
    for k_a, k_b in zip(keys, keys[1:]):
        span = fixed[k_b] - fixed[k_a]
        if span <= 0:
            raise ValueError(f"{spec.name}: anchors are not increasing at exon {k_b}")
        exons = list(range(k_a, k_b))
        neutral = [e in spec.frame_neutral_exons for e in exons]
        parts = _partition(rng, span, len(exons), neutral, f"{spec.name} exons {k_a}-{k_b - 1}")
        coding_parts.update(zip(exons, parts))
    for e in spec.frame_neutral_exons:
        if coding_parts.get(e, 0) % 3:
            raise ValueError(f"{spec.name}: exon {e} could not be made frame-neutral")
    utr_exon_lengths = [rng.randint(80, 220) for _ in range(1, f)]
    lengths: list[int] = []
    for e in range(1, spec.n_exons + 1):
        if e < f:
            lengths.append(utr_exon_lengths[e - 1])
            continue
        n = coding_parts[e]
        if e == f:
            n += spec.utr5
        if e == spec.n_exons:
            n += spec.utr3
        lengths.append(n)
    overrides = dict(spec.intron_lengths)
    introns_len = tuple(overrides.get(i, _log_uniform(rng, 300, 3000)) for i in range(1, spec.n_exons))
    cds_start = sum(lengths[: f - 1]) + spec.utr5
    cds_end = cds_start + cds_len
    # sequence: 5'UTR, ATG, sense codons, stop, 3'UTR
    utr5_len = cds_start
    utr5 = random_dna(rng, utr5_len, gc)
    body = random_orf_body(rng, spec.aa_length - 1, gc, prev=utr5 + "ATG")
    stops = [s for s in sorted(_STOP_CODONS) if _tail_run(body + s)[1] <= MAX_RUN]
    coding = "ATG" + body + rng.choice(stops)
    utr3 = random_dna(rng, sum(lengths) - cds_end, gc, prev=coding)
    mrna = utr5 + coding + utr3
    introns = []
    for ln in introns_len:
        if ln < 60:
            raise ValueError(f"{spec.name}: intron shorter than 60 bases")
        introns.append("GT" + random_dna(rng, ln - 4, gc, prev="GT") + "AG")
    return _Structure(tuple(lengths), introns_len, cds_start, cds_end, mrna, tuple(introns))


def _mutate(rng: random.Random, seq: str, divergence: float) -> str:
    n = int(round(divergence * len(seq)))
    positions = rng.sample(range(len(seq)), n) if n else []
    out = list(seq)
    for p in positions:
        out[p] = rng.choice([b for b in _BASES if b != out[p]])
    return "".join(out)


def _mutate_spread(rng: random.Random, seq: str, divergence: float, forced: Sequence[int] = ()) -> str:
    """Substitute ``divergence`` of the bases, one in each of equal blocks (plus ``forced`` positions).

    Spreading the substitutions keeps every identical run short (under two
    blocks, ~25 bases at 8%), so the only long identical stretch of a decoy is
    the designed one.
    """
    n = int(round(divergence * len(seq)))
    if not n:
        return seq
    bounds = [round(i * len(seq) / n) for i in range(n + 1)]
    picks = [rng.randrange(a, b) if b > a else a for a, b in zip(bounds, bounds[1:])]
    taken: set[int] = set()
    for p in forced:  # a forced position replaces its block's pick (or comes on top when the block has one)
        k = max(i for i in range(n) if bounds[i] <= p)
        if k in taken:
            picks.append(p)
        else:
            picks[k] = p
            taken.add(k)
    out = list(seq)
    for p in sorted(set(picks)):
        out[p] = rng.choice([b for b in _BASES if b != out[p]])
    return "".join(out)


class _IdFactory:
    """Fake but GENCODE-shaped identifiers (ENSG9..., never a real Ensembl ID); late genes
    (GeneSpec.late) count from a base of their own (ENSG95...)."""

    def __init__(self, base: int = 100) -> None:
        self.base = base
        self.counts = {"G": 0, "T": 0, "E": 0}

    def next(self, kind: str) -> str:
        self.counts[kind] += 1
        return f"ENS{kind}9{self.base + self.counts[kind]:010d}.1"


LATE_ID_BASE = 5_000_000_000


def build_genome(layout: GenomeLayout | None = None, seed: int = 1) -> Genome:
    """Build contigs and gene models from a layout (default: :func:`default_layout`).

    Deterministic: the same layout and seed give the same genome, base for base.
    Raises ValueError when the layout's anchors cannot be satisfied.
    """
    layout = layout or default_layout()
    structures = {g.name: _design_gene(g, seed, layout.gc) for g in layout.genes}
    early_ids, late_ids = _IdFactory(), _IdFactory(LATE_ID_BASE)
    contigs: list[Contig] = []
    genes: list[Gene] = []
    known_contigs = set(layout.contigs)
    for g in layout.genes:
        if g.chrom not in known_contigs:
            raise ValueError(f"{g.name}: contig {g.chrom} not in layout")
    for chrom in layout.contigs:
        rng = sub_rng(seed, "contig", chrom)
        seq = ""
        patches: list[tuple[int, str]] = []
        items: list[GeneSpec | DecoySpec | RepeatSpec] = [g for g in layout.genes if g.chrom == chrom]
        items += [d for d in layout.decoys if d.chrom == chrom]
        items += [r for r in layout.repeats if r.chrom == chrom]
        for item in items:
            seq += random_dna(rng, item.gap_before, layout.gc, prev=seq[-MAX_RUN:])
            if isinstance(item, RepeatSpec):
                seq += _low_complexity(sub_rng(seed, "repeat", item.name), item)
                continue
            if isinstance(item, GeneSpec):
                st = structures[item.name]
                pre, exon_offsets = _pre_mrna(st.exon_lengths, st.mrna, st.introns)
                strand = item.strand
                cds = (st.cds_start, st.cds_end)
                gene_type, tx_type = "protein_coding", "protein_coding"
                skips = [(a.suffix, a.skip_exons) for a in item.alt_transcripts]
            else:
                src_spec = layout.gene_spec(item.source)
                pre, exon_offsets = _decoy_pre_mrna(item, structures[item.source], sub_rng(seed, "decoy", item.name), layout.gc)
                strand = item.strand or src_spec.strand
                cds = None
                gene_type = tx_type = item.gene_type
                skips = []
            gstart = len(seq) + 1
            gend = gstart + len(pre) - 1
            seq += pre if strand == "+" else revcomp(pre)
            if isinstance(item, GeneSpec) and item.donor_after_last_exon:
                if strand == "+":
                    patches.append((gend + 1, "GT"))
                else:
                    patches.append((gstart - 2, "AC"))
            ids = late_ids if getattr(item, "late", False) else early_ids
            gene_id = ids.next("G")
            lengths = [b - a for a, b in exon_offsets]
            # an exon shared by several transcripts keeps one exon_id, as in GENCODE
            exon_ids = [ids.next("E") for _ in exon_offsets]
            txs: list[Transcript] = []
            variants = [("201", ())] + skips
            for suffix, skip in variants:
                numbered = [i + 1 for i in range(len(lengths)) if (i + 1) not in skip]
                exons = []
                for new_no, old_no in enumerate(numbered, start=1):
                    a, b = exon_offsets[old_no - 1]
                    if strand == "+":
                        s, e = gstart + a, gstart + b - 1
                    else:
                        s, e = gend - (b - 1), gend - a
                    exons.append(Exon(new_no, s, e, exon_ids[old_no - 1]))
                cds_start = cds_end = None
                if cds is not None:
                    removed_before = sum(lengths[i - 1] for i in skip if sum(lengths[: i - 1]) < cds[0])
                    removed_inside = sum(lengths[i - 1] for i in skip) - removed_before
                    cds_start = cds[0] - removed_before
                    cds_end = cds[1] - removed_before - removed_inside
                txs.append(
                    Transcript(
                        transcript_id=ids.next("T"),
                        name=f"{item.name}-{suffix}",
                        gene_id=gene_id,
                        gene_name=item.name,
                        chrom=chrom,
                        strand=strand,
                        exons=tuple(exons),
                        cds_start=cds_start,
                        cds_end=cds_end,
                        canonical=suffix == "201",
                        transcript_type=tx_type,
                    )
                )
            genes.append(Gene(gene_id, item.name, chrom, strand, gene_type, tuple(txs)))
        seq += random_dna(rng, layout.tail, layout.gc, prev=seq[-MAX_RUN:])
        if patches:
            chars = list(seq)
            for pos, bases in patches:
                chars[pos - 1 : pos - 1 + len(bases)] = list(bases)
            seq = "".join(chars)
        contigs.append(Contig(chrom, seq))
    genome = Genome(tuple(contigs), tuple(genes), seed, layout)
    validate_genome(genome)
    return genome


def decoy_identical_range(decoy: DecoySpec, source_exon_lengths: Sequence[int]) -> tuple[int, int] | None:
    """The unmutated stretch of a decoy as [start, end) offsets into the copied mRNA (None: none)."""
    if not decoy.has_identical_stretch:
        return None
    ex_lens = source_exon_lengths[decoy.first_exon - 1 : decoy.last_exon]
    anchor = sum(ex_lens[: decoy.identical_exon - decoy.first_exon])
    lo, hi = anchor - decoy.identical_before, anchor + decoy.identical_after
    if lo < 0 or hi > sum(ex_lens):
        raise ValueError(f"{decoy.name}: the identical stretch runs past the copied exons")
    return lo, hi


def _decoy_pre_mrna(
    item: DecoySpec, src: _Structure, drng: random.Random, gc: float
) -> tuple[str, list[tuple[int, int]]]:
    """Pre-mRNA (transcript orientation) and exon offsets of a decoy copying exons of ``src``."""
    ex_lens = src.exon_lengths[item.first_exon - 1 : item.last_exon]
    starts = [sum(src.exon_lengths[:i]) for i in range(item.first_exon - 1, item.last_exon)]
    if not (item.processed or item.has_identical_stretch or item.intron_lengths):
        # the original decoy (ALKP1): draws kept as they were, so its sequence does not change
        exon_seqs = [_mutate(drng, src.mrna[s : s + n], item.divergence) for s, n in zip(starts, ex_lens)]
        introns = tuple(
            "GT" + random_dna(drng, _log_uniform(drng, 300, 3000) - 4, gc, prev="GT") + "AG"
            for _ in range(len(ex_lens) - 1)
        )
        return _pre_mrna(tuple(ex_lens), "".join(exon_seqs), introns)
    mrna = src.mrna[starts[0] : starts[-1] + ex_lens[-1]]
    keep = decoy_identical_range(item, src.exon_lengths) or (0, 0)
    outside = mrna[: keep[0]] + mrna[keep[1] :]
    # the bases right next to the stretch differ, so it is exactly as long as designed
    forced = [p for p in (keep[0] - 1, keep[0]) if keep != (0, 0) and 0 <= p < len(outside)]
    copy = _mutate_spread(drng, outside, item.divergence, forced)
    copy = copy[: keep[0]] + mrna[keep[0] : keep[1]] + copy[keep[0] :]
    if item.processed:
        return copy, [(0, len(copy))]
    overrides = dict(item.intron_lengths)
    introns = []
    for i in range(1, len(ex_lens)):
        n = overrides.get(i) or _log_uniform(drng, 300, 3000)
        introns.append("GT" + random_dna(drng, n - 4, gc, prev="GT") + "AG")
    return _pre_mrna(tuple(ex_lens), copy, tuple(introns))


def _low_complexity(rng: random.Random, spec: RepeatSpec) -> str:
    """``spec.length`` bases of ``spec.base`` with isolated interruptions by other bases."""
    out = [spec.base] * spec.length
    others = [b for b in _BASES if b != spec.base]
    n = int(round(spec.interruptions * spec.length))
    slots = rng.sample(range(1, spec.length // 2 - 1), min(n, spec.length // 2 - 2)) if n else []
    for k in slots:  # odd positions only: never two interruptions in a row
        out[2 * k + 1] = rng.choice(others)
    return "".join(out)


def _pre_mrna(
    exon_lengths: Sequence[int], mrna: str, introns: Sequence[str]
) -> tuple[str, list[tuple[int, int]]]:
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    m = 0
    for i, n in enumerate(exon_lengths):
        parts.append(mrna[m : m + n])
        offsets.append((pos, pos + n))
        pos += n
        m += n
        if i < len(introns):
            parts.append(introns[i])
            pos += len(introns[i])
    return "".join(parts), offsets


def validate_genome(genome: Genome) -> None:
    """Check the invariants the simulator and the demo rely on; raise AssertionError if broken.

    ORFs start with ATG, have no premature stop and the designed length; introns
    are GT..AG on the transcript strand; anchors hold in the canonical transcript.
    """
    for gene in genome.genes:
        for tx in gene.transcripts:
            exons = tx.exons
            for a, b in zip(exons, exons[1:]):
                if tx.strand == "+":
                    intron = genome.fetch(tx.chrom, a.end + 1, b.start - 1)
                else:
                    intron = revcomp(genome.fetch(tx.chrom, b.end + 1, a.start - 1))
                assert intron[:2] == "GT" and intron[-2:] == "AG", f"{tx.name}: non GT-AG intron"
            if tx.is_coding:
                cds = tx.cds_sequence(genome)
                assert cds[:3] == "ATG", f"{tx.name}: CDS does not start with ATG"
                prot = translate(cds)
                assert prot.endswith("*") and "*" not in prot[:-1], f"{tx.name}: broken ORF"
        if gene.gene_type != "protein_coding":
            continue
        spec = genome.layout.gene_spec(gene.name)
        can = gene.canonical
        assert len(can.exons) == spec.n_exons
        assert len(can.protein(genome)) == spec.aa_length, f"{gene.name}: protein length"
        for anc in spec.anchors:
            assert can.exon_offset(anc.exon) - (can.cds_start or 0) == anc.cds_offset, f"{gene.name}: anchor"


# --------------------------------------------------------------------------
# file writers
# --------------------------------------------------------------------------


def write_fasta(genome: Genome, path: Path | str, width: int = 60, index: bool = True) -> Path:
    """Write the genome as FASTA (``width`` bases a line) and, by default, its ``.fai``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        for c in genome.contigs:
            fh.write(f">{c.name}\n")
            for i in range(0, c.length, width):
                fh.write(c.sequence[i : i + width] + "\n")
    if index:
        import pysam

        pysam.faidx(str(path))
    return path


_FEATURE_RANK = {"gene": 0, "transcript": 1, "exon": 2, "CDS": 3, "start_codon": 4, "stop_codon": 5, "UTR": 6}


def gtf_records(genome: Genome) -> list[tuple[str, str, int, int, str, str, str]]:
    """GTF records (chrom, feature, start, end, strand, phase, attributes), sorted by contig then position.

    GENCODE conventions kept: exon_number in transcript order; CDS excludes the
    stop codon; phase = bases to skip to reach the next codon start; UTR covers
    exonic bases outside CDS and stop codon; canonical transcripts carry the
    Ensembl_canonical and MANE_Select tags.
    """
    order = {c.name: i for i, c in enumerate(genome.contigs)}
    recs: list[tuple[tuple[int, int, int, int, int], tuple[str, str, int, int, str, str, str]]] = []
    for gi, gene in enumerate(genome.genes):
        gattr = f'gene_id "{gene.gene_id}"; gene_type "{gene.gene_type}"; gene_name "{gene.name}"; level 2;'
        recs.append(((order[gene.chrom], gene.start, 0, gene.end, gi), (gene.chrom, "gene", gene.start, gene.end, gene.strand, ".", gattr)))
        for ti, tx in enumerate(gene.transcripts):
            tags = ' tag "basic";'
            if tx.canonical:
                tags += ' tag "Ensembl_canonical"; tag "MANE_Select";'
            tattr = (
                f'gene_id "{gene.gene_id}"; transcript_id "{tx.transcript_id}"; gene_type "{gene.gene_type}"; '
                f'gene_name "{gene.name}"; transcript_type "{tx.transcript_type}"; transcript_name "{tx.name}"; level 2;'
            )
            recs.append(((order[gene.chrom], tx.start, 1, tx.end, gi * 100 + ti), (gene.chrom, "transcript", tx.start, tx.end, tx.strand, ".", tattr + tags)))
            off = 0
            for ex in tx.exons:
                eattr = tattr.replace(" level 2;", f' exon_number {ex.number}; exon_id "{ex.exon_id}"; level 2;') + tags
                recs.append(((order[gene.chrom], ex.start, 2, ex.end, gi * 100 + ti), (gene.chrom, "exon", ex.start, ex.end, tx.strand, ".", eattr)))
                if tx.cds_start is not None and tx.cds_end is not None:
                    lo, hi = off, off + ex.length
                    feats = [
                        ("CDS", tx.cds_start, tx.cds_end - 3),
                        ("start_codon", tx.cds_start, tx.cds_start + 3),
                        ("stop_codon", tx.cds_end - 3, tx.cds_end),
                        ("UTR", 0, tx.cds_start),
                        ("UTR", tx.cds_end, tx.length),
                    ]
                    for feat, a, b in feats:
                        a, b = max(a, lo), min(b, hi)
                        if a >= b:
                            continue
                        for s, e, first in tx.genomic_pieces(a, b):
                            if feat in ("CDS", "start_codon", "stop_codon"):
                                phase = str((3 - (first - tx.cds_start) % 3) % 3)
                            else:
                                phase = "."
                            recs.append(((order[gene.chrom], s, _FEATURE_RANK[feat], e, gi * 100 + ti), (gene.chrom, feat, s, e, tx.strand, phase, eattr)))
                off += ex.length
    recs.sort(key=lambda r: r[0])
    return [r[1] for r in recs]


def write_gtf(genome: Genome, path: Path | str) -> Path:
    """Write the annotation as a GENCODE-style GTF (see :func:`gtf_records`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        fh.write("##description: synthetic imtfusion annotation (random sequence, designed gene structures)\n")
        fh.write("##provider: imtfusion simulate\n")
        fh.write("##format: gtf\n")
        for chrom, feat, s, e, strand, phase, attr in gtf_records(genome):
            fh.write(f"{chrom}\tHAVANA\t{feat}\t{s}\t{e}\t.\t{strand}\t{phase}\t{attr}\n")
    return path


def iter_splice_sites(genome: Genome) -> Iterator[tuple[str, int, int, str]]:
    """Annotated introns as (chrom, first intron base, last intron base, strand), 1-based, unique, sorted."""
    seen: set[tuple[str, int, int, str]] = set()
    for tx in genome.transcripts:
        ex = sorted(tx.exons, key=lambda e: e.start)
        for a, b in zip(ex, ex[1:]):
            seen.add((tx.chrom, a.end + 1, b.start - 1, tx.strand))
    order = {c.name: i for i, c in enumerate(genome.contigs)}
    yield from sorted(seen, key=lambda r: (order[r[0]], r[1], r[2]))


# --------------------------------------------------------------------------
# the default (demo) layout
# --------------------------------------------------------------------------

#: The four genes whose fusions imtfusion detects.
TARGET_GENES: tuple[str, ...] = ("ALK", "ROS1", "ETV6", "NTRK3")

#: Designed fusions: (5' gene, last 5' exon, 3' gene, first 3' exon); all in frame.
DESIGNED_FUSIONS: tuple[tuple[str, int, str, int], ...] = (
    ("TPM3", 7, "ALK", 20),
    ("TPM4", 7, "ALK", 20),
    ("CLTC", 31, "ALK", 20),
    ("RANBP2", 18, "ALK", 20),
    ("EML4", 13, "ALK", 20),
    ("TFG", 4, "ROS1", 35),
    ("TFG", 4, "ROS1", 34),
    ("YWHAE", 5, "ROS1", 35),
    ("ETV6", 5, "NTRK3", 15),
)

#: Protein domains used by the tests to check that literature coordinates land
#: in the right exons: gene -> (name, first aa, last aa).
DOMAINS: dict[str, tuple[str, int, int]] = {
    "ALK": ("tyrosine kinase", 1116, 1392),
    "ROS1": ("tyrosine kinase", 1945, 2222),
    "ETV6": ("PNT", 40, 124),
    "NTRK3": ("tyrosine kinase", 538, 825),
}


def _g(name: str, chrom: str, strand: str, n_exons: int, aa: int, **kw: object) -> GeneSpec:
    return GeneSpec(name=name, chrom=chrom, strand=strand, n_exons=n_exons, aa_length=aa, **kw)  # type: ignore[arg-type]


def _a(*triples: tuple[int, int, int]) -> tuple[ExonAnchor, ...]:
    return tuple(ExonAnchor(e, aa, fr) for e, aa, fr in triples)


def default_layout() -> GenomeLayout:
    """The demo genome: target genes, fusion partners and background genes on GRCh38-named contigs.

    Strands, exon counts and protein lengths follow the real genes; gene order
    on each contig follows the real order; distances are shrunk (EML4 sits
    300 kb from ALK so EML4::ALK is a small intrachromosomal inversion, and
    BCL2L14 sits 5 kb downstream of ETV6 for the read-through).
    """
    genes = (
        # chr1
        _g("ENO1", "chr1", "-", 12, 434),
        _g("RPL11", "chr1", "+", 6, 178, utr5=60, utr3=250),
        _g("TPM3", "chr1", "-", 10, 285, anchors=_a((8, 222, 0)), intron_lengths=((7, 3200),), utr3=900),
        # chr2
        _g(
            "ALK", "chr2", "-", 29, 1620,
            anchors=_a((2, 270, 0), (20, 1058, 0), (26, 1405, 2), (29, 1565, 0)),
            intron_lengths=((19, 6500),), utr5=900, utr3=1100,
            frame_neutral_exons=(4,), alt_transcripts=(AltTranscriptSpec("202", (4,)),),
        ),
        _g("EML4", "chr2", "+", 23, 981, anchors=_a((14, 497, 0)), intron_lengths=((13, 3500),), gap_before=300_000),
        _g(
            "RANBP2", "chr2", "+", 29, 3224,
            anchors=_a((19, 868, 0), (20, 905, 0), (21, 1905, 0)), intron_lengths=((18, 2500),), utr3=700,
        ),
        _g("DES", "chr2", "+", 9, 470),
        # chr3
        _g("TFG", "chr3", "+", 8, 400, anchors=_a((5, 238, 2)), intron_lengths=((4, 2800),)),
        _g("RPL24", "chr3", "-", 6, 157, utr5=50, utr3=200),
        # chr6
        _g("EEF1A1", "chr6", "-", 8, 462),
        _g(
            "ROS1", "chr6", "-", 43, 2347,
            anchors=_a((2, 35, 1), (34, 1852, 2), (35, 1883, 2), (36, 1930, 0), (43, 2300, 1)),
            intron_lengths=((33, 3500), (34, 2600)), utr5=300, utr3=800,
            frame_neutral_exons=(10,), alt_transcripts=(AltTranscriptSpec("202", (10,)),),
        ),
        # chr7 (background only)
        _g("ACTB", "chr7", "-", 6, 375, first_coding_exon=2, utr5=40, utr3=550),
        _g("PPIA", "chr7", "+", 5, 165, utr5=60, utr3=300),
        # chr12
        _g("GAPDH", "chr12", "+", 9, 335, utr5=70, utr3=200),
        _g(
            "ETV6", "chr12", "+", 8, 452,
            anchors=_a((2, 12, 0), (3, 38, 0), (4, 100, 2), (5, 156, 0), (6, 337, 1), (7, 386, 0), (8, 418, 2)),
            intron_lengths=((5, 4200),), utr5=250, utr3=900,
            frame_neutral_exons=(2,), alt_transcripts=(AltTranscriptSpec("202", (2,)),),
            donor_after_last_exon=True,
        ),
        _g("BCL2L14", "chr12", "+", 6, 327, gap_before=5_000),
        _g("KRAS", "chr12", "-", 6, 189, first_coding_exon=2, utr5=20, utr3=1200),
        _g("HNRNPA1", "chr12", "+", 11, 372),
        _g("MYL6", "chr12", "+", 7, 151, utr5=60, utr3=150),
        # chr15
        _g("B2M", "chr15", "+", 4, 119, utr5=60, utr3=300),
        _g(
            "NTRK3", "chr15", "-", 20, 839,
            anchors=_a((2, 25, 0), (15, 528, 1), (16, 575, 0), (20, 812, 2)),
            intron_lengths=((14, 5000),), utr5=350, utr3=900,
        ),
        # chr17
        _g("YWHAE", "chr17", "-", 6, 255, anchors=_a((6, 231, 2)), intron_lengths=((5, 2400),)),
        _g("TP53", "chr17", "-", 11, 393, first_coding_exon=2, utr3=1000),
        _g("COL1A1", "chr17", "-", 51, 1464, utr3=1500),
        _g("CLTC", "chr17", "+", 32, 1675, anchors=_a((32, 1634, 0)), intron_lengths=((31, 2600),), utr3=1000),
        _g("ACTG1", "chr17", "-", 6, 375, first_coding_exon=2, utr5=40, utr3=600),
        # chr19
        _g("CALR", "chr19", "+", 9, 417),
        _g("TPM4", "chr19", "+", 8, 248, anchors=_a((8, 222, 0)), intron_lengths=((7, 2500),), utr3=800),
    )
    contigs = ("chr1", "chr2", "chr3", "chr6", "chr7", "chr12", "chr15", "chr17", "chr19")
    return GenomeLayout(contigs=contigs, genes=genes)


#: The kinases the target set imt-extended adds (resources/targets.tsv), as late genes of
#: the demo genome: chromosome, strand, exon count of the canonical (MANE) transcript and
#: protein length of the canonical UniProt isoform follow the real genes as far as known
#: here (NTRK1 17 exons, 796 aa; NTRK2 19, 822; RET 20, 1114; PDGFRB 23, 1106; IGF1R 21,
#: 1367), and each sits after the genes of its contig, as in the real order (NTRK1 after
#: TPM3 on 1q, IGF1R after NTRK3 on 15q). NTRK1 exon 10 begins in frame 0 at aa 400 (before
#: the transmembrane segment and the kinase domain, aa 510-781), so TPM3 exon 7 ::
#: NTRK1 exon 10 is in frame and keeps the kinase; its intron 9 is long, as where
#: breakpoints cluster. Exon boundaries other than the anchors are random.
EXTENDED_TARGET_GENES: tuple[GeneSpec, ...] = (
    GeneSpec("NTRK1", "chr1", "+", 17, 796, anchors=(ExonAnchor(10, 400, 0),), intron_lengths=((9, 3000),),
             utr5=120, utr3=700, gap_before=20_000, late=True),
    GeneSpec("NTRK2", "chr9", "+", 19, 822, utr5=300, utr3=900, gap_before=10_000, late=True),
    GeneSpec("RET", "chr10", "+", 20, 1114, intron_lengths=((11, 2500),), utr5=200, utr3=800, gap_before=10_000,
             late=True),
    GeneSpec("PDGFRB", "chr5", "-", 23, 1106, intron_lengths=((10, 2500),), utr5=200, utr3=900, gap_before=10_000,
             late=True),
    GeneSpec("IGF1R", "chr15", "+", 21, 1367, utr5=400, utr3=1200, gap_before=20_000, late=True),
)

#: The designed fusion of the demo's extended-target sample (IMT06), in frame by construction.
EXTENDED_DESIGNED_FUSIONS: tuple[tuple[str, int, str, int], ...] = (("TPM3", 7, "NTRK1", 10),)


def demo_layout() -> GenomeLayout:
    """The committed demo genome: :func:`default_layout` plus the kinases of the target set
    imt-extended (:data:`EXTENDED_TARGET_GENES`), added late so the genes, IDs and reads
    of :func:`default_layout` stay what they were. The accuracy benchmark and most tests
    use :func:`default_layout`."""
    base = default_layout()
    order = ("chr1", "chr2", "chr3", "chr5", "chr6", "chr7", "chr9", "chr10", "chr12", "chr15", "chr17", "chr19")
    used = set(base.contigs) | {g.chrom for g in EXTENDED_TARGET_GENES}
    return replace(base, contigs=tuple(c for c in order if c in used), genes=base.genes + EXTENDED_TARGET_GENES)


def fusion_frames(genome: Genome, gene5: str, exon5: int, gene3: str, exon3: int) -> tuple[int, int]:
    """(frame after the 5' exon, frame at the 3' exon) in the canonical transcripts; equal = in frame."""
    t5 = genome.gene(gene5).canonical
    t3 = genome.gene(gene3).canonical
    end5 = t5.exon_offset(exon5) + t5.exon(exon5).length
    assert t5.cds_start is not None and t3.cds_start is not None
    return (end5 - t5.cds_start) % 3, (t3.exon_offset(exon3) - t3.cds_start) % 3
