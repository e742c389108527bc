"""Fusion transcripts and sequencing reads from the synthetic genome.

Why this shape: a caller sees a fusion only through fragments that cross the
fusion junction (a split read, or a pair whose mates land on either side), so
fusion fragments are sampled *among junction-crossing fragments* and the truth
table counts exactly those.  Wild-type expression is sampled uniformly along
each transcript.  Read names are plain ``SAMPLE:000123`` after a shuffle, so
nothing about the truth leaks into the BAM; per-read truth goes to a separate
file that stays in the work directory.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from imtfusion_tools.sim.genome import (
    DESIGNED_FUSIONS,
    TARGET_GENES,
    Genome,
    Transcript,
    revcomp,
    sub_rng,
    translate,
)

STRANDEDNESS = ("unstranded", "reverse", "forward")

TRUTH_COLUMNS: tuple[str, ...] = (
    "sample",
    "fusion",
    "gene5",
    "gene3",
    "breakpoint5",
    "breakpoint3",
    "transcript5",
    "transcript3",
    "exon5",
    "exon3",
    "junction",
    "reading_frame",
    "fragments",
)

#: Extra truth columns the benchmark writes (``truth_rows(extended=True)``): the event a row
#: belongs to (one per sample and gene pair), which junction it is, of which main junction it
#: is an isoform ('.' for the main one), and the fused pre-mRNA's DNA junction.
TRUTH_EXTRA_COLUMNS: tuple[str, ...] = (
    "event",
    "isoform",
    "isoform_of",
    "premrna_fragments",
    "dna_breakpoint5",
    "dna_breakpoint3",
)


# --------------------------------------------------------------------------
# chimeric transcripts (fusions and read-throughs)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChimeraSpec:
    """A chimeric transcript: 5' gene up to exon ``exon5`` joined to the 3' gene from exon ``exon3``.

    Exon numbers refer to the canonical transcripts.  ``offset5`` moves the 5'
    breakpoint beyond the end of ``exon5`` (> 0: that many intronic bases are
    kept; < 0: that many exonic bases are dropped).  ``offset3`` moves the 3'
    breakpoint before the start of ``exon3`` (> 0: intronic bases kept, as
    EML4::ALK often keeps part of ALK intron 19; < 0: exonic bases dropped).
    ``fragments`` junction-crossing fragments are simulated, plus
    ``body_fragments`` from the rest of the chimeric transcript (they make the
    3' gene's expression rise downstream of the breakpoint, as in tumours).

    ``premrna_fragments`` more fragments come from the fused *pre-mRNA* and
    cross its DNA junction: the 5' gene's genomic sequence (transcript
    orientation) up to a DNA breakpoint inside the intron after ``exon5``,
    joined to the 3' gene's genomic sequence from a DNA breakpoint inside the
    intron before ``exon3`` (both 30-70% into the intron, drawn from the genome
    seed): intron-to-intron split reads and pairs with mates in introns, true
    evidence of the same fusion.  ``isoforms`` are other junctions of the same
    gene pair (alternative exons, or a donor/acceptor a few bases away); they
    are simulated like the main one and belong to its event in the truth.
    ``anchor5``/``anchor3`` = (lo, hi) make every junction fragment keep only
    lo..hi bases of the 5'/3' side (the fragment starts/ends there), e.g. 12-16
    bases of an artefact's target side; otherwise both sides keep >= MIN_ANCHOR.
    """

    gene5: str
    exon5: int
    gene3: str
    exon3: int
    fragments: int
    offset5: int = 0
    offset3: int = 0
    body_fragments: int = 0
    premrna_fragments: int = 0
    isoforms: tuple["ChimeraSpec", ...] = ()
    anchor5: tuple[int, int] = ()  # type: ignore[assignment]
    anchor3: tuple[int, int] = ()  # type: ignore[assignment]

    def __post_init__(self) -> None:
        for iso in self.isoforms:
            if (iso.gene5, iso.gene3) != (self.gene5, self.gene3):
                raise ValueError(f"{self.name}: isoform {iso.isoform_label} joins other genes")
            if iso.isoforms or iso.premrna_fragments:
                raise ValueError(f"{self.name}: an isoform has no isoforms or pre-mRNA of its own")
            if (iso.exon5, iso.offset5, iso.exon3, iso.offset3) == (self.exon5, self.offset5, self.exon3, self.offset3):
                raise ValueError(f"{self.name}: isoform {iso.isoform_label} is the main junction")
        if self.anchor5 and self.anchor3:
            raise ValueError(f"{self.name}: anchor5 and anchor3 exclude each other")
        for a in (self.anchor5, self.anchor3):
            if a and not (len(a) == 2 and 1 <= a[0] <= a[1]):
                raise ValueError(f"{self.name}: an anchor is (lo, hi) with 1 <= lo <= hi")
        if self.premrna_fragments < 0:
            raise ValueError(f"{self.name}: premrna_fragments must be >= 0")

    @property
    def name(self) -> str:
        return f"{self.gene5}::{self.gene3}"

    @property
    def isoform_label(self) -> str:
        """The junction, e.g. ``TPM3:7::ALK:20`` or ``CLTC:31-24::ALK:20-11`` (with offsets)."""
        o5 = f"{self.offset5:+d}" if self.offset5 else ""
        o3 = f"{self.offset3:+d}" if self.offset3 else ""
        return f"{self.gene5}:{self.exon5}{o5}::{self.gene3}:{self.exon3}{o3}"

    @classmethod
    def parse(cls, text: str, body_fragments: int = 0) -> "ChimeraSpec":
        """Parse ``GENE5:EXON5:GENE3:EXON3:FRAGMENTS[:OFFSET5:OFFSET3]`` (e.g. ``TPM3:7:ALK:20:40``)."""
        parts = text.split(":")
        if len(parts) not in (5, 7):
            raise ValueError(
                f"fusion spec {text!r} must be GENE5:EXON5:GENE3:EXON3:FRAGMENTS[:OFFSET5:OFFSET3]"
            )
        try:
            numbers = [int(p) for p in parts[1:2] + parts[3:]]
        except ValueError:
            raise ValueError(f"fusion spec {text!r}: exons, fragments and offsets must be integers") from None
        exon5, exon3, frags, *offs = numbers
        off5, off3 = offs if offs else (0, 0)
        if frags < 0 or exon5 < 1 or exon3 < 1:
            raise ValueError(f"fusion spec {text!r}: exons must be >= 1 and fragments >= 0")
        return cls(parts[0], exon5, parts[2], exon3, frags, off5, off3, body_fragments)


@dataclass(frozen=True)
class ChimericTranscript:
    """A built chimeric transcript with its truth (breakpoints, junction type, frame).

    ``junction`` is the offset of the first 3'-gene base in ``sequence``.
    Breakpoints are 1-based genomic (chrom, pos): the last 5' base and the
    first 3' base in transcript order.
    """

    spec: ChimeraSpec
    sequence: str = field(repr=False)
    junction: int
    transcript5: Transcript = field(repr=False)
    transcript3: Transcript = field(repr=False)
    breakpoint5: tuple[str, int]
    breakpoint3: tuple[str, int]
    junction_type: str
    reading_frame: str
    isoform_of: str = ""  # isoform label of the main junction ('' = this is a main junction)
    premrna: str = field(default="", repr=False)  # fused pre-mRNA (only with premrna_fragments)
    premrna_junction: int = 0  # offset of the first 3'-gene base in ``premrna``
    dna_breakpoint5: tuple[str, int] | None = None  # last 5' base of the pre-mRNA's DNA junction
    dna_breakpoint3: tuple[str, int] | None = None  # first 3' base

    @property
    def name(self) -> str:
        """The gene pair, or for an isoform ``PAIR [junction]`` (fragment sources stay distinct)."""
        return f"{self.spec.name} [{self.spec.isoform_label}]" if self.isoform_of else self.spec.name

    @property
    def premrna_name(self) -> str:
        return f"{self.spec.name} pre-mRNA"

    def truth_extra(self) -> dict[str, str]:
        """The :data:`TRUTH_EXTRA_COLUMNS` of this junction."""
        def pos(p: tuple[str, int] | None) -> str:
            return f"{p[0]}:{p[1]}" if p else "."

        return {
            "event": self.spec.name,
            "isoform": self.spec.isoform_label,
            "isoform_of": self.isoform_of or ".",
            "premrna_fragments": str(self.spec.premrna_fragments if self.dna_breakpoint5 else 0),
            "dna_breakpoint5": pos(self.dna_breakpoint5),
            "dna_breakpoint3": pos(self.dna_breakpoint3),
        }

    def truth_row(self, sample: str) -> dict[str, str]:
        """One row of ``truth.tsv`` (see :data:`TRUTH_COLUMNS`)."""
        return {
            "sample": sample,
            "fusion": self.spec.name,
            "gene5": self.spec.gene5,
            "gene3": self.spec.gene3,
            "breakpoint5": f"{self.breakpoint5[0]}:{self.breakpoint5[1]}",
            "breakpoint3": f"{self.breakpoint3[0]}:{self.breakpoint3[1]}",
            "transcript5": self.transcript5.transcript_id,
            "transcript3": self.transcript3.transcript_id,
            "exon5": str(self.spec.exon5),
            "exon3": str(self.spec.exon3),
            "junction": self.junction_type,
            "reading_frame": self.reading_frame,
            "fragments": str(self.spec.fragments),
        }


def _flank(genome: Genome, tx: Transcript, pos: int, n: int, downstream: bool) -> str:
    """``n`` genomic bases next to ``pos`` on ``tx``'s strand, in transcript orientation.

    ``downstream`` = after ``pos`` in transcript direction, else before it.
    """
    if n <= 0:
        return ""
    plus = tx.strand == "+"
    if plus == downstream:
        seq = genome.fetch(tx.chrom, pos + 1, pos + n)
    else:
        seq = genome.fetch(tx.chrom, pos - n, pos - 1)
    return seq if plus else revcomp(seq)


def _intron(tx: Transcript, after_exon: int) -> tuple[int, int]:
    """Genomic (first, last) base of the intron after exon ``after_exon`` (1-based, inclusive)."""
    a, b = tx.exon(after_exon), tx.exon(after_exon + 1)
    return (a.end + 1, b.start - 1) if tx.strand == "+" else (b.end + 1, a.start - 1)


def fused_premrna(genome: Genome, spec: ChimeraSpec) -> tuple[str, int, tuple[str, int], tuple[str, int]]:
    """The fused pre-mRNA of ``spec``: (sequence, junction offset, DNA breakpoint 5', DNA breakpoint 3').

    The 5' gene's genomic sequence from its transcript start to a DNA breakpoint
    30-70% into the intron after ``exon5`` (transcript orientation), then the 3'
    gene's from a DNA breakpoint 30-70% into the intron before ``exon3`` to its
    transcript end; the fractions are drawn from the genome seed and the junction.
    """
    t5 = genome.gene(spec.gene5).canonical
    t3 = genome.gene(spec.gene3).canonical
    if not 1 <= spec.exon5 < len(t5.exons) or not 1 < spec.exon3 <= len(t3.exons):
        raise ValueError(f"{spec.name}: a pre-mRNA junction needs an intron after exon {spec.exon5} "
                         f"and before exon {spec.exon3}")
    rng = sub_rng(genome.seed, "premrna", spec.gene5, str(spec.exon5), spec.gene3, str(spec.exon3))
    lo5, hi5 = _intron(t5, spec.exon5)
    lo3, hi3 = _intron(t3, spec.exon3 - 1)
    into5 = max(1, round(rng.uniform(0.3, 0.7) * (hi5 - lo5 + 1)))  # intron bases kept on the 5' side
    into3 = max(1, round(rng.uniform(0.3, 0.7) * (hi3 - lo3 + 1)))  # intron bases kept on the 3' side
    if into5 <= spec.offset5 or into3 <= spec.offset3:
        raise ValueError(f"{spec.name}: the DNA breakpoint falls inside the intronic bases the mRNA keeps")
    if t5.strand == "+":
        dna5 = lo5 + into5 - 1
        part5 = genome.fetch(t5.chrom, t5.start, dna5)
    else:
        dna5 = hi5 - into5 + 1
        part5 = revcomp(genome.fetch(t5.chrom, dna5, t5.end))
    if t3.strand == "+":
        dna3 = hi3 - into3 + 1
        part3 = genome.fetch(t3.chrom, dna3, t3.end)
    else:
        dna3 = lo3 + into3 - 1
        part3 = revcomp(genome.fetch(t3.chrom, t3.start, dna3))
    return part5 + part3, len(part5), (t5.chrom, dna5), (t3.chrom, dna3)


def build_chimeric_transcript(genome: Genome, spec: ChimeraSpec, isoform_of: str = "") -> ChimericTranscript:
    """Join the canonical transcripts of ``spec`` and compute the truth from the gene models.

    The reading frame is found by translation, not assumed: ``in-frame`` means
    translating from the 5' gene's start codon through the junction reaches the
    3' gene's own stop codon; anything else is ``out-of-frame``.  With
    ``premrna_fragments``, the fused pre-mRNA is built too (:func:`fused_premrna`).
    """
    t5 = genome.gene(spec.gene5).canonical
    t3 = genome.gene(spec.gene3).canonical
    e5 = t5.exon(spec.exon5)
    e3 = t3.exon(spec.exon3)
    seq5 = t5.sequence(genome)
    seq3 = t3.sequence(genome)
    end5 = t5.exon_offset(spec.exon5) + e5.length
    start3 = t3.exon_offset(spec.exon3)
    if -spec.offset5 >= e5.length or -spec.offset3 >= e3.length:
        raise ValueError(f"{spec.name}: an offset removes a whole exon")
    last5 = e5.end if t5.strand == "+" else e5.start  # genomic last base of exon5
    first3 = e3.start if t3.strand == "+" else e3.end  # genomic first base of exon3
    if spec.offset5 >= 0:
        part5 = seq5[:end5] + _flank(genome, t5, last5, spec.offset5, downstream=True)
    else:
        part5 = seq5[: end5 + spec.offset5]
    if spec.offset3 >= 0:
        part3 = _flank(genome, t3, first3, spec.offset3, downstream=False) + seq3[start3:]
    else:
        part3 = seq3[start3 - spec.offset3 :]
    sign5 = 1 if t5.strand == "+" else -1
    sign3 = 1 if t3.strand == "+" else -1
    bp5 = last5 + sign5 * spec.offset5
    bp3 = first3 - sign3 * spec.offset3
    for label, tx, off, exon in (("5'", t5, spec.offset5, spec.exon5), ("3'", t3, spec.offset3, spec.exon3 - 1)):
        if off > 0 and exon < len(tx.exons) and exon >= 1:
            a, b = tx.exon(exon), tx.exon(exon + 1)
            intron = (b.start - a.end - 1) if tx.strand == "+" else (a.start - b.end - 1)
            if off >= intron:
                raise ValueError(f"{spec.name}: {label} offset {off} runs through the whole intron")
    if spec.offset5 == 0 and spec.offset3 == 0:
        jtype = "splice_site"
    elif spec.offset5 < 0 or spec.offset3 < 0:
        jtype = "exonic"
    else:
        jtype = "intronic"
    sequence = part5 + part3
    junction = len(part5)
    frame = "out-of-frame"
    if t5.cds_start is not None and t3.cds_end is not None and t5.cds_start + 3 <= junction:
        first3_tx = start3 - spec.offset3  # transcript-3 offset that lands on fused index `junction`
        expected_stop = junction + (t3.cds_end - 3 - first3_tx)
        protein = translate(sequence[t5.cds_start :])
        stop = protein.find("*")
        if stop >= 0 and t5.cds_start + 3 * stop == expected_stop:
            frame = "in-frame"
    pre: dict[str, object] = {}
    if spec.premrna_fragments:
        pseq, pj, d5, d3 = fused_premrna(genome, spec)
        pre = {"premrna": pseq, "premrna_junction": pj, "dna_breakpoint5": d5, "dna_breakpoint3": d3}
    return ChimericTranscript(
        spec=spec,
        sequence=sequence,
        junction=junction,
        transcript5=t5,
        transcript3=t3,
        breakpoint5=(t5.chrom, bp5),
        breakpoint3=(t3.chrom, bp3),
        junction_type=jtype,
        reading_frame=frame,
        isoform_of=isoform_of,
        **pre,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------
# library and errors
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LibrarySpec:
    """Library preparation and sequencing parameters.

    ``strandedness``: ``unstranded``; ``reverse`` (dUTP/TruSeq stranded: read 1
    is antisense to the transcript); ``forward`` (read 1 sense).  Fragments
    shorter than the read length give adapter-trimmed shorter reads, or with
    ``adapters`` reads of full length that go on into the 3' adapters (TruSeq's
    read 1 and read 2 adapters, then A: the read-through of FFPE libraries before
    trimming; the adapter bases draw nothing at random, so every molecule and
    sequencing error is that of the trimmed library).
    ``error_rate`` is the mean substitution rate; base qualities follow a
    binned Illumina-like model (Q37/Q25/Q12) and errors concentrate on the
    low-quality bases and toward read ends.

    Targeted panels (``protocol``): ``amp`` (anchored multiplex PCR: the target
    genes' molecules are read from gene-specific primers, so every fragment of a
    target transcript ends ``primer_distance`` bases into one of its exons, read
    toward its 5' end, and off-target genes keep 2% of their reads) or
    ``capture`` (hybrid capture: target genes' transcripts ``capture_enrichment`` times
    (default 20), their paralogs' (decoys copied from a target) a fifth of that, every
    other gene 5%); ``wts`` is whole-transcriptome RNA-seq. ``umi_length`` > 0 gives
    every molecule a random UMI, written at the end of its read names
    (``NAME_ACGTACGT``, as umi-tools writes them); ``duplicate_fraction`` of the
    reads are then PCR copies of a molecule (same positions and UMI, their own
    sequencing errors, each UMI base misread with ``umi_error_rate``).

    FFPE damage (``damage_rate`` > 0, off by default): formalin deaminates cytosines, so
    each C of a molecule (transcript sense) reads T with that probability, in every read
    and PCR copy of the molecule alike (the copies are made from the damaged template).

    A library fault for the sample QC gates, off by default (a library without it is
    simulated exactly as before): ``degradation`` > 0 is degraded RNA captured by its
    poly(A) tail: a molecule is intact from its 3' end for an exponentially distributed
    length of mean ``degradation`` bases (random breaks along the RNA), so a wild-type
    fragment is kept only when the molecule reaches from the 3' end to the fragment's 5'
    end (probability exp(-that distance / degradation)), and coverage falls as
    exp(-distance from the 3' end / degradation). ``duplicate_fraction`` without UMIs
    gives PCR copies too (same positions, their own sequencing errors), as a library
    without UMIs and without duplicate marking has them.
    """

    read_length: int = 100
    paired: bool = True
    fragment_mean: float = 250.0
    fragment_sd: float = 50.0
    min_fragment: int = 50
    strandedness: str = "reverse"
    error_rate: float = 0.002
    protocol: str = "wts"
    primer_distance: int = 50
    umi_length: int = 0
    duplicate_fraction: float = 0.0
    umi_error_rate: float = 0.0
    degradation: float = 0.0
    damage_rate: float = 0.0
    capture_enrichment: float = 20.0
    adapters: bool = False

    def __post_init__(self) -> None:
        if self.degradation < 0:
            raise ValueError("degradation must be >= 0")
        if not 0 <= self.damage_rate < 0.2:
            raise ValueError("damage_rate must be in [0, 0.2)")
        if not 30 <= self.read_length <= 300:
            raise ValueError("read_length must be between 30 and 300")
        if self.strandedness not in STRANDEDNESS:
            raise ValueError(f"strandedness must be one of {', '.join(STRANDEDNESS)}")
        if not 0 <= self.error_rate < 0.05:
            raise ValueError("error_rate must be in [0, 0.05)")
        if self.fragment_mean <= 0 or self.fragment_sd < 0 or self.min_fragment < 20:
            raise ValueError("fragment_mean must be > 0, fragment_sd >= 0, min_fragment >= 20")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}")
        if not 0 <= self.duplicate_fraction < 1 or not 0 <= self.umi_error_rate < 0.2 or self.umi_length < 0:
            raise ValueError("duplicate_fraction must be in [0, 1), umi_error_rate in [0, 0.2), umi_length >= 0")
        if not 1 <= self.capture_enrichment <= 2000:
            raise ValueError("capture_enrichment must be between 1 and 2000")
        if self.protocol == "amp" and not 20 <= self.primer_distance < self.read_length:
            raise ValueError("primer_distance must be at least 20 and shorter than the reads")

    @classmethod
    def ffpe(cls, **kw: object) -> "LibrarySpec":
        """Short inserts of degraded (FFPE) RNA: mean 150, sd 40, so mates often overlap."""
        args: dict[str, object] = {"fragment_mean": 150.0, "fragment_sd": 40.0}
        args.update(kw)
        return cls(**args)  # type: ignore[arg-type]


PROTOCOLS = ("wts", "amp", "capture")
CAPTURE_OFF, AMP_OFF = 0.05, 0.02  # expression factors of the genes a targeted panel does not target
PARALOG_BAITING = 0.2  # a target's paralog (92-98% identical) is caught by its baits a fifth as well as the target

#: (Phred quality, probability at read start, probability at read end); rest is Q37.
_QUAL_BINS: tuple[tuple[int, float, float], ...] = ((12, 0.005, 0.035), (25, 0.04, 0.12))
_Q_HIGH = 37


class _QualityModel:
    """Per-position quality distribution and the error scale that yields ``error_rate``."""

    def __init__(self, read_length: int, error_rate: float) -> None:
        self.thresholds: list[tuple[float, float]] = []
        expected = 0.0
        for i in range(read_length):
            x = i / max(1, read_length - 1)
            p12 = _QUAL_BINS[0][1] + (_QUAL_BINS[0][2] - _QUAL_BINS[0][1]) * x
            p25 = _QUAL_BINS[1][1] + (_QUAL_BINS[1][2] - _QUAL_BINS[1][1]) * x
            self.thresholds.append((p12, p12 + p25))
            expected += p12 * 10 ** -1.2 + p25 * 10 ** -2.5 + (1 - p12 - p25) * 10 ** -3.7
        expected /= read_length
        self.scale = error_rate / expected if expected else 0.0
        self.perr = {q: min(0.75, self.scale * 10 ** (-q / 10)) for q in (12, 25, _Q_HIGH)}

    def apply(self, rng: random.Random, seq: str) -> tuple[str, str]:
        out = list(seq)
        quals = []
        for i, b in enumerate(out):
            u = rng.random()
            t12, t25 = self.thresholds[i]
            q = 12 if u < t12 else 25 if u < t25 else _Q_HIGH
            quals.append(chr(q + 33))
            if rng.random() < self.perr[q]:
                out[i] = rng.choice([x for x in "ACGT" if x != b])
        return "".join(out), "".join(quals)


# --------------------------------------------------------------------------
# samples
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PolyGSpec:
    """Pairs whose one read comes from ``transcript`` and whose mate reads all G.

    Two-colour sequencers (NextSeq, NovaSeq) call G where there is no signal,
    so a mate that failed to sequence reads G over its whole length (a few
    bases may differ: ``non_g`` at most).  ``mate`` is the read that is poly-G
    (``read2``, ``read1`` or ``either``).  Paired libraries only.
    """

    transcript: str
    fragments: int
    non_g: int = 3
    mate: str = "read2"

    def __post_init__(self) -> None:
        if self.mate not in ("read1", "read2", "either") or self.fragments < 0 or self.non_g < 0:
            raise ValueError(f"bad poly-G spec for {self.transcript}")


@dataclass(frozen=True)
class HiddenFusionSpec:
    """A fusion whose junction reads are absent (the partner was not captured, the
    breakpoint lies deep in an intron, the junction reads were lost): the fused transcript
    of ``chimera`` makes ``fraction`` of the 3' gene's transcripts (their number follows
    from the 3' gene's wild-type fragments in the sample), but only its fragments that lie
    wholly on one side of the junction are simulated, so the 3' gene's exons after the
    breakpoint are over-expressed and no read is chimeric. ``premrna`` adds the fused
    pre-mRNA (:func:`fused_premrna`) at that share of the fused transcript's copies,
    again without fragments across its DNA junction: intronic reads of the 3' gene from the
    DNA breakpoint on. ``chimera.fragments`` must be 0 (nothing crosses the junction)."""

    chimera: ChimeraSpec
    fraction: float
    premrna: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1 or not 0 <= self.premrna < 1:
            raise ValueError(f"{self.chimera.name}: fraction must be in (0, 1) and premrna in [0, 1)")
        if self.chimera.fragments or self.chimera.body_fragments or self.chimera.premrna_fragments:
            raise ValueError(f"{self.chimera.name}: a hidden fusion takes its fragment counts from the fraction")


@dataclass(frozen=True)
class SpikedFusionSpec:
    """A fusion at a fusion fraction with all of its fused transcript's fragments, those
    across the junction included (the limit-of-detection benchmark): the fused transcript
    of ``chimera`` makes ``fraction`` of the 3' gene's transcripts, as in
    :class:`HiddenFusionSpec`, and its fragments start uniformly along it, so how many cross
    the junction is left to chance as in a tumour. ``chimera.fragments`` must be 0."""

    chimera: ChimeraSpec
    fraction: float

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ValueError(f"{self.chimera.name}: fraction must be in (0, 1)")
        if self.chimera.fragments or self.chimera.body_fragments or self.chimera.premrna_fragments:
            raise ValueError(f"{self.chimera.name}: a spiked fusion takes its fragment counts from the fraction")


@dataclass(frozen=True)
class AtiSpec:
    """Alternative transcription initiation (ALK-ATI, Wiesner et al., Nature 2015): transcripts
    of ``gene``'s canonical exons from ``exon`` to the last, preceded by the ``intron_bases``
    bases of the intron just before ``exon`` (the transcripts start there and run unspliced
    into the exon), at ``fraction`` of the gene's transcripts. No read is chimeric."""

    gene: str
    exon: int
    fraction: float
    intron_bases: int = 400

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1 or self.intron_bases < 1 or self.exon < 2:
            raise ValueError(f"{self.gene}-ATI: fraction in (0, 1), intron_bases >= 1, exon >= 2")

    @property
    def name(self) -> str:
        return f"{self.gene}-ATI"


def ati_transcript(genome: Genome, spec: AtiSpec) -> str:
    """The sequence of an ATI transcript (transcript orientation)."""
    tx = genome.gene(spec.gene).canonical
    exon = tx.exon(spec.exon)
    lo, hi = _intron(tx, spec.exon - 1)
    if spec.intron_bases >= hi - lo + 1:
        raise ValueError(f"{spec.name}: intron {spec.exon - 1} is only {hi - lo + 1} bases long")
    first = exon.start if tx.strand == "+" else exon.end
    return _flank(genome, tx, first, spec.intron_bases, downstream=False) + tx.sequence(genome)[tx.exon_offset(spec.exon):]


def copies_to_fragments(wild_type_fragments: int, wild_type_length: int, fraction: float, length: int,
                        fragment_mean: float) -> int:
    """Fragments of a transcript of ``length`` bases that makes ``fraction`` of a gene's
    transcripts, when the gene's wild-type transcript (``wild_type_length`` bases) has
    ``wild_type_fragments``: fragments start uniformly along a transcript, so a copy gives
    fragments in proportion to its length less one fragment."""
    per_copy = (max(1.0, length - fragment_mean)) / max(1.0, wild_type_length - fragment_mean)
    return max(0, round(wild_type_fragments * fraction / (1.0 - fraction) * per_copy))


@dataclass(frozen=True)
class SampleSpec:
    """What to simulate for one sample.

    ``expression`` maps transcript names to wild-type fragment counts; None
    uses :func:`default_expression`.  ``readthroughs`` are chimeric
    transcripts that are expressed but are *not* fusions (no truth row);
    ``artefacts`` are the same but labelled ``artefact`` (library or
    alignment artefacts, e.g. a promiscuous breakpoint); ``polyg`` adds pairs
    with a poly-G mate.  ``extra_expression`` is wild-type expression drawn
    after everything else (e.g. of decoys added to an existing design), so
    the fragments of the rest stay as they were without it. ``hidden_fusions``
    (fusions without junction reads) and ``ati`` (transcripts from an alternative
    start in an intron) come after all of that, for the same reason.
    """

    name: str
    seed: int
    library: LibrarySpec = field(default_factory=LibrarySpec)
    fusions: tuple[ChimeraSpec, ...] = ()
    readthroughs: tuple[ChimeraSpec, ...] = ()
    expression: tuple[tuple[str, int], ...] | None = None
    artefacts: tuple[ChimeraSpec, ...] = ()
    polyg: tuple[PolyGSpec, ...] = ()
    extra_expression: tuple[tuple[str, int], ...] = ()
    hidden_fusions: tuple[HiddenFusionSpec, ...] = ()
    ati: tuple[AtiSpec, ...] = ()
    spiked_fusions: tuple[SpikedFusionSpec, ...] = ()  # after all of the above
    misprimed: tuple["MisprimingSpec", ...] = ()  # anchored multiplex PCR decoys
    #: chimeras of a target's paralog or pseudogene (e.g. a partner joined to ALKP2's copy of ALK
    #: exon 20): not fusions of the target, though their junction reads resemble its; last of all
    copy_chimeras: tuple[ChimeraSpec, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in " \t:/"):
            raise ValueError(f"sample name {self.name!r} must be non-empty without spaces, ':' or '/'")
        if self.polyg and not self.library.paired:
            raise ValueError(f"{self.name}: poly-G mates need a paired library")


@dataclass(frozen=True)
class Fragment:
    """One simulated fragment and its reads.

    ``start``/``end`` are offsets in the source sequence (a transcript, a
    chimeric transcript or a fused pre-mRNA); ``kind`` is ``transcript``,
    ``fusion`` (main junction), ``fusion_isoform``, ``fusion_premrna``,
    ``readthrough``, ``artefact``, ``polyg`` (one read is poly-G) or one of
    these with ``_body``; ``hidden_fusion`` / ``hidden_fusion_premrna`` (a side of a
    fusion without junction reads) and ``ati`` (an alternative-start transcript);
    ``junction_in`` says where a chimeric junction lies: ``read1``, ``read2``,
    ``both`` (overlapping mates), ``insert`` (between the mates: a spanning pair) or ``''``.
    """

    name: str
    kind: str
    source: str
    start: int
    end: int
    r1_sense: bool
    read1: str
    qual1: str
    read2: str | None
    qual2: str | None
    junction_in: str


@dataclass(frozen=True)
class SimulatedSample:
    """A simulated sample: its fragments (in output order) and its chimeric transcripts."""

    spec: SampleSpec
    fragments: tuple[Fragment, ...]
    fusions: tuple[ChimericTranscript, ...]
    readthroughs: tuple[ChimericTranscript, ...]
    isoforms: tuple[ChimericTranscript, ...] = ()
    artefacts: tuple[ChimericTranscript, ...] = ()

    def truth_rows(self, extended: bool = False) -> list[dict[str, str]]:
        """Truth rows of the true fusions (read-throughs and artefacts are not fusions).

        ``extended``: also the :data:`TRUTH_EXTRA_COLUMNS`, and a row for every
        isoform, right after its main junction.
        """
        if not extended:
            return [f.truth_row(self.spec.name) for f in self.fusions]
        rows = []
        for f in self.fusions:
            rows.append({**f.truth_row(self.spec.name), **f.truth_extra()})
            for iso in self.isoforms:
                if iso.spec.name == f.spec.name and iso.isoform_of == f.spec.isoform_label:
                    rows.append({**iso.truth_row(self.spec.name), **iso.truth_extra()})
        return rows

    def write_fastqs(self, outdir: Path | str) -> tuple[Path, ...]:
        """Write ``<sample>_R1.fastq`` (and ``_R2``) into ``outdir``; return their paths."""
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        paths = [outdir / f"{self.spec.name}_R1.fastq"]
        if self.spec.library.paired:
            paths.append(outdir / f"{self.spec.name}_R2.fastq")
        handles = [open(p, "w", encoding="ascii", newline="\n") for p in paths]
        try:
            for fr in self.fragments:
                handles[0].write(f"@{fr.name}\n{fr.read1}\n+\n{fr.qual1}\n")
                if len(handles) == 2:
                    handles[1].write(f"@{fr.name}\n{fr.read2}\n+\n{fr.qual2}\n")
        finally:
            for h in handles:
                h.close()
        return tuple(paths)

    def write_read_truth(self, path: Path | str) -> Path:
        """Per-read truth (source, offsets, strand, junction position) as TSV; keep it out of the BAM."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="ascii", newline="\n") as fh:
            fh.write("read\tkind\tsource\tstart\tend\tread1_strand\tjunction_in\n")
            for fr in self.fragments:
                strand = "sense" if fr.r1_sense else "antisense"
                fh.write(f"{fr.name}\t{fr.kind}\t{fr.source}\t{fr.start}\t{fr.end}\t{strand}\t{fr.junction_in or '.'}\n")
        return path


def default_expression(genome: Genome, seed: int, sample: str) -> tuple[tuple[str, int], ...]:
    """Wild-type fragment counts: targets 45-70 (clearly assessable), partners 40-90,
    background genes 100-250, non-canonical isoforms 8-15, pseudogenes none."""
    rng = sub_rng(seed, "expression", sample)
    partners = {g for f in DESIGNED_FUSIONS for g in (f[0], f[2])} | {"BCL2L14"}
    out: list[tuple[str, int]] = []
    for gene in genome.genes:
        if gene.gene_type != "protein_coding" or genome.is_late(gene.name):
            continue
        for tx in gene.transcripts:
            if not tx.canonical:
                n = rng.randint(8, 15)
            elif gene.name in TARGET_GENES:
                n = rng.randint(45, 70)
            elif gene.name in partners:
                n = rng.randint(40, 90)
            else:
                n = rng.randint(100, 250)
            out.append((tx.name, n))
    # late genes (GeneSpec.late: the extended targets) from a stream of their own, after the
    # rest: the counts of the genes before them stay as they were (targets get 45-70 too)
    late_rng = sub_rng(seed, "expression-late", sample)
    for gene in genome.genes:
        if gene.gene_type == "protein_coding" and genome.is_late(gene.name):
            out.extend((tx.name, late_rng.randint(45, 70) if tx.canonical else late_rng.randint(8, 15))
                       for tx in gene.transcripts)
    return tuple(out)


def _surviving_start(rng: random.Random, length: int, f: int, intact_mean: float) -> int:
    """Start of a fragment of ``f`` bases of a degraded transcript of ``length`` bases: drawn
    uniformly, kept with the probability that the molecule is intact from its 3' end to the
    fragment's 5' end (drawn again otherwise; after 10,000 draws the 3'-most fragment)."""
    for _ in range(10_000):
        s = rng.randint(0, length - f)
        if rng.random() < math.exp(-(length - s) / intact_mean):
            return s
    return length - f


def _fragment_length(rng: random.Random, lib: LibrarySpec, max_len: int) -> int:
    n = int(round(rng.gauss(lib.fragment_mean, lib.fragment_sd)))
    return max(min(lib.min_fragment, max_len), min(n, max_len))


def _reads(
    rng: random.Random, lib: LibrarySpec, qm: _QualityModel, fragment: str
) -> tuple[bool, str, str, str | None, str | None, tuple[int, int], tuple[int, int] | None]:
    """Reads of one fragment; returns (r1_sense, r1, q1, r2, q2, r1 span, r2 span) with spans in fragment offsets."""
    n = min(lib.read_length, len(fragment))
    sense_span = (0, n)
    anti_span = (len(fragment) - n, len(fragment))
    sense, anti = fragment[:n], revcomp(fragment[len(fragment) - n :])
    if lib.strandedness == "reverse":
        r1_sense = False
    elif lib.strandedness == "forward":
        r1_sense = True
    else:
        r1_sense = rng.random() < 0.5
    first, second = (sense, anti) if r1_sense else (anti, sense)
    s1, s2 = (sense_span, anti_span) if r1_sense else (anti_span, sense_span)
    r1, q1 = _read_through(lib, *qm.apply(rng, first))
    if not lib.paired:
        return r1_sense, r1, q1, None, None, s1, None
    r2, q2 = _read_through(lib, *qm.apply(rng, second), READ2_ADAPTER)
    return r1_sense, r1, q1, r2, q2, s1, s2


#: TruSeq's 3' adapters as read 1 and read 2 read into them (each read's own), then poly-A
READ1_ADAPTER = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC"
READ2_ADAPTER = "AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGT"


def _read_through(lib: LibrarySpec, read: str, quals: str, adapter: str = READ1_ADAPTER) -> tuple[str, str]:
    """A read (with its qualities) of an insert shorter than the reads, with ``adapters``
    read on into ``adapter`` to the read length (the adapter bases without errors and at
    Q37, so the random draws, and every molecule, are those of the trimmed library)."""
    need = lib.read_length - len(read)
    if not lib.adapters or need <= 0:
        return read, quals
    return read + (adapter + "A" * need)[:need], quals + chr(_Q_HIGH + 33) * need


def _reads_oriented(
    rng: random.Random, lib: LibrarySpec, qm: _QualityModel, fragment: str, r1_sense: bool
) -> tuple[str, str, str | None, str | None]:
    """A PCR copy's reads: the molecule's reads in the molecule's orientation, with errors of their own."""
    n = min(lib.read_length, len(fragment))
    sense, anti = fragment[:n], revcomp(fragment[len(fragment) - n :])
    first, second = (sense, anti) if r1_sense else (anti, sense)
    r1, q1 = _read_through(lib, *qm.apply(rng, first))
    if not lib.paired:
        return r1, q1, None, None
    r2, q2 = _read_through(lib, *qm.apply(rng, second), READ2_ADAPTER)
    return r1, q1, r2, q2


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def deaminate(rng: random.Random, molecule: str, rate: float) -> str:
    """FFPE damage: each C of the molecule (sense strand) becomes T with ``rate``."""
    return "".join("T" if b == "C" and rng.random() < rate else b for b in molecule)


def _misread(rng: random.Random, umi: str, rate: float) -> str:
    if rate <= 0:
        return umi
    return "".join(rng.choice([x for x in "ACGT" if x != b]) if rng.random() < rate else b for b in umi)


#: bases of a gene-specific primer of an anchored multiplex PCR panel: the last bases of a
#: molecule at its primer end (the primer read's first bases)
PRIMER_LENGTH = 20


@dataclass(frozen=True)
class MisprimingSpec:
    """An anchored multiplex PCR decoy: a primer of target ``target`` (its antisense
    primer in exon ``exon`` of the canonical transcript) primed on RNA of the off-target
    transcript of ``partner``: ``fragments`` molecules, each the primer's
    :data:`PRIMER_LENGTH` bases joined to partner sequence ending at a random place (the
    primer read is the primer, then the partner; the adapter read lies in the partner).
    Labelled ``mispriming``, no truth row: a filter must remove it."""

    target: str
    exon: int
    partner: str
    fragments: int


@dataclass(frozen=True, order=True)
class PanelPrimer:
    """One primer of the simulated panel, in genome coordinates (0-based half-open) with
    the strand of the reads it primes."""

    chrom: str
    start: int
    end: int
    name: str
    strand: str


def _genomic_span(tx: Transcript, lo: int, hi: int) -> tuple[int, int]:
    """0-based half-open genome span of transcript offsets [lo, hi) within one exon."""
    a, b = tx.to_genome(lo), tx.to_genome(hi - 1)  # 1-based
    return (a - 1, b) if tx.strand == "+" else (b - 1, a)


def panel_primers(genome: Genome, lib: LibrarySpec) -> list[PanelPrimer]:
    """The primers an ``amp`` library reads its target genes from, as a primer BED lists
    them: in every exon of a target's canonical transcript that :func:`_primer_ends` gives
    one, the antisense primer ending ``primer_distance`` bases into the exon (reads toward
    the transcript's 5' end: wild-type molecules and 3'-target junctions); and in every
    exon but the last long enough, the sense primer starting ``primer_distance`` bases
    before its end (reads toward the 3' end: junctions whose target is the 5' gene)."""
    out = []
    for gene in TARGET_GENES:
        tx = genome.gene(gene).canonical
        anti = "-" if tx.strand == "+" else "+"
        offset = 0
        for exon in tx.exons:
            end = offset + exon.length
            if exon.length >= lib.primer_distance + 20 and offset > 0:
                e = offset + lib.primer_distance
                out.append(PanelPrimer(tx.chrom, *_genomic_span(tx, e - PRIMER_LENGTH, e),
                                       f"{gene}_e{exon.number}_as", anti))
            if exon.length >= lib.primer_distance + 20 and exon.number < len(tx.exons):
                s = end - lib.primer_distance
                out.append(PanelPrimer(tx.chrom, *_genomic_span(tx, s, s + PRIMER_LENGTH),
                                       f"{gene}_e{exon.number}_s", tx.strand))
            offset = end
    return sorted(out)


def write_primer_bed(genome: Genome, lib: LibrarySpec, path: Path | str) -> Path:
    """The panel's primer BED (BED6: name, score 0, strand), sorted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{p.chrom}\t{p.start}\t{p.end}\t{p.name}\t0\t{p.strand}\n" for p in panel_primers(genome, lib)]
    path.write_text("".join(lines), encoding="ascii")
    return path


def _misprimed_fragments(rng: random.Random, genome: Genome, lib: LibrarySpec, spec: MisprimingSpec,
                         add) -> None:  # type: ignore[no-untyped-def]
    """The molecules of one mispriming decoy (see :class:`MisprimingSpec`)."""
    tx = genome.gene(spec.target).canonical
    e = tx.exon_offset(spec.exon) + lib.primer_distance
    primer = tx.sequence(genome)[e - PRIMER_LENGTH:e]
    partner = genome.gene(spec.partner).canonical
    pseq = partner.sequence(genome)
    name = f"{spec.partner}>{spec.target}:primer{spec.exon}"
    for _ in range(spec.fragments):
        f = max(_fragment_length(rng, lib, len(pseq)), 2 * MIN_ANCHOR + PRIMER_LENGTH)
        k = min(f - PRIMER_LENGTH, len(pseq))
        s = rng.randint(0, len(pseq) - k)
        seq = pseq[s:s + k] + primer
        add("mispriming", name, seq, 0, len(seq), k)


def _primer_ends(tx: Transcript, distance: int) -> list[int]:
    """Where the fragments of an anchored multiplex PCR panel end on a target transcript
    (transcript offsets, exclusive): ``distance`` bases into each exon long enough to
    hold a primer, read toward the transcript's 5' end."""
    ends, offset = [], 0
    for exon in tx.exons:
        length = exon.length
        if length >= distance + 20 and offset > 0:
            ends.append(offset + distance)
        offset += length
    return ends


def _junction_in(junction: int, s1: tuple[int, int], s2: tuple[int, int] | None) -> str:
    """Where the junction (between fragment offsets junction-1 and junction) falls."""
    in1 = s1[0] < junction < s1[1]
    in2 = s2 is not None and s2[0] < junction < s2[1]
    if in1 and in2:
        return "both"
    if in1:
        return "read1"
    if in2:
        return "read2"
    return "insert"


#: Fusion fragments have at least this many bases on each side of the junction,
#: so that the junction-crossing part is alignable at all.
MIN_ANCHOR = 15


def simulate_sample(genome: Genome, spec: SampleSpec) -> SimulatedSample:
    """Simulate all fragments of one sample, shuffled and named ``SAMPLE:000001``...

    Deterministic in (genome, spec): every random draw comes from streams
    seeded by ``spec.seed`` and the sample name.
    """
    lib = spec.library
    qm = _QualityModel(lib.read_length, lib.error_rate)
    rng = sub_rng(spec.seed, "reads", spec.name)
    # UMIs and PCR copies draw from streams of their own: the molecules are the same with and without them
    umi_rng = sub_rng(spec.seed, "umis", spec.name)
    damage_rng = sub_rng(spec.seed, "damage", spec.name)  # FFPE C>T: a stream of its own too
    expression = spec.expression if spec.expression is not None else default_expression(genome, spec.seed, spec.name)
    raw: list[tuple[str, str, int, int, bool, str, str, str | None, str | None, str]] = []
    umis: list[str] = []
    copies_per_molecule = lib.duplicate_fraction / (1 - lib.duplicate_fraction)  # mean extra copies

    def add(kind: str, source: str, seq: str, start: int, end: int, junction: int | None) -> None:
        frag = seq[start:end]
        if lib.damage_rate:
            frag = deaminate(damage_rng, frag, lib.damage_rate)
        r1_sense, r1, q1, r2, q2, s1, s2 = _reads(rng, lib, qm, frag)
        where = "" if junction is None else _junction_in(junction - start, s1, s2)
        raw.append((kind, source, start, end, r1_sense, r1, q1, r2, q2, where))
        if not lib.umi_length and not lib.duplicate_fraction:
            umis.append("")
            return
        # PCR copies of the molecule, with its UMI (misread at umi_error_rate) or, without UMIs, none
        umi = "".join(umi_rng.choice("ACGT") for _ in range(lib.umi_length))
        umis.append(umi)
        for _ in range(_poisson(umi_rng, copies_per_molecule)):
            c1, cq1, c2, cq2 = _reads_oriented(umi_rng, lib, qm, frag, r1_sense)
            raw.append((kind, source, start, end, r1_sense, c1, cq1, c2, cq2, where))
            umis.append(_misread(umi_rng, umi, lib.umi_error_rate) if umi else "")

    # hybrid capture: the baits of a target's exons catch its paralogs' RNA as well, less well
    paralogs = {d.name for d in genome.layout.decoys if d.source in TARGET_GENES}

    def express(counts: Sequence[tuple[str, int]]) -> None:
        for tx_name, count in counts:
            tx = genome.transcript(tx_name)
            seq = tx.sequence(genome)
            target = tx.gene_name in TARGET_GENES if lib.protocol != "wts" else False
            if lib.protocol == "capture":
                factor = (lib.capture_enrichment if target else PARALOG_BAITING * lib.capture_enrichment
                          if tx.gene_name in paralogs else CAPTURE_OFF)
                count = max(1, round(count * factor))
            elif lib.protocol == "amp" and not target:
                count = max(1, round(count * AMP_OFF))
            primers = _primer_ends(tx, lib.primer_distance) if lib.protocol == "amp" and target else []
            for _ in range(count):
                f = _fragment_length(rng, lib, len(seq))
                if primers:
                    # read from a gene-specific primer: the fragment ends where the primer sits
                    e = rng.choice(primers)
                    s = max(0, e - f)
                    add("transcript", tx.name, seq, s, e, None)
                    continue
                if lib.degradation:
                    s = _surviving_start(rng, len(seq), f, lib.degradation)
                else:
                    s = rng.randint(0, len(seq) - f)
                add("transcript", tx.name, seq, s, s + f, None)

    def late(counts: Sequence[tuple[str, int]], want: bool) -> list[tuple[str, int]]:
        return [(t, n) for t, n in counts if genome.is_late(genome.transcript(t).gene_name) == want]

    express(late(expression, False))

    chimeras: dict[str, list[ChimericTranscript]] = {"fusion": [], "readthrough": []}
    for kind, specs in (("fusion", spec.fusions), ("readthrough", spec.readthroughs)):
        for cspec in specs:
            ct = build_chimeric_transcript(genome, cspec)
            chimeras[kind].append(ct)
            _chimera_fragments(rng, lib, ct, kind, add)

    # isoforms and fused pre-mRNA of the fusions, artefacts, poly-G mates: drawn after everything
    # above, and only when asked for, so samples without them are simulated as before
    express(late(spec.extra_expression, False))
    isoforms: list[ChimericTranscript] = []
    for ct in chimeras["fusion"]:
        if ct.spec.premrna_fragments:
            for _ in range(ct.spec.premrna_fragments):
                s, f = _junction_fragment(rng, lib, ct.spec, len(ct.premrna), ct.premrna_junction, ct.premrna_name)
                add("fusion_premrna", ct.premrna_name, ct.premrna, s, s + f, ct.premrna_junction)
        for iso_spec in ct.spec.isoforms:
            iso = build_chimeric_transcript(genome, iso_spec, isoform_of=ct.spec.isoform_label)
            isoforms.append(iso)
            _chimera_fragments(rng, lib, iso, "fusion_isoform", add)
    artefacts: list[ChimericTranscript] = []
    for cspec in spec.artefacts:
        ct = build_chimeric_transcript(genome, cspec)
        artefacts.append(ct)
        _chimera_fragments(rng, lib, ct, "artefact", add)
    for pg in spec.polyg:
        tx = genome.transcript(pg.transcript)
        seq = tx.sequence(genome)
        for _ in range(pg.fragments):
            f = _fragment_length(rng, lib, len(seq))
            s = rng.randint(0, len(seq) - f)
            r1_sense, r1, q1, r2, q2, _s1, _s2 = _reads(rng, lib, qm, seq[s : s + f])
            which = pg.mate if pg.mate != "either" else rng.choice(("read1", "read2"))
            polyg = list("G" * (len(r2 or "") if which == "read2" else len(r1)))
            for k in rng.sample(range(len(polyg)), min(len(polyg), rng.randint(0, pg.non_g))):
                polyg[k] = rng.choice("ACT")
            if which == "read2":
                r2 = "".join(polyg)
            else:
                r1 = "".join(polyg)
            raw.append(("polyg", tx.name, s, s + f, r1_sense, r1, q1, r2, q2, ""))
            umis.append("")

    wild_type = dict(expression)

    def wild_type_of(gene: str) -> tuple[int, int]:
        tx = genome.gene(gene).canonical
        return wild_type.get(tx.name, 0), tx.length

    for hf in spec.hidden_fusions:
        ct = build_chimeric_transcript(genome, hf.chimera)
        n_wt, l_wt = wild_type_of(hf.chimera.gene3)
        n = copies_to_fragments(n_wt, l_wt, hf.fraction, len(ct.sequence), lib.fragment_mean)
        sources = [("hidden_fusion", ct.name, ct.sequence, ct.junction, n)]
        if hf.premrna:
            pseq, pj, _d5, _d3 = fused_premrna(genome, hf.chimera)
            per_wild_type = hf.premrna * hf.fraction / (1 - hf.fraction)  # pre-mRNA copies per wild-type copy
            sources.append(("hidden_fusion_premrna", ct.premrna_name, pseq, pj,
                            copies_to_fragments(n_wt, l_wt, per_wild_type / (1 + per_wild_type), len(pseq),
                                                lib.fragment_mean)))
        for kind, source, seq, j, count in sources:
            for _ in range(count):
                f = _fragment_length(rng, lib, len(seq))
                s = rng.randint(0, len(seq) - f)
                if s < j < s + f:
                    continue  # a fragment across the junction: the one a fusion caller needs, not there
                add(kind, source, seq, s, s + f, None)
    for ati in spec.ati:
        seq = ati_transcript(genome, ati)
        n_wt, l_wt = wild_type_of(ati.gene)
        for _ in range(copies_to_fragments(n_wt, l_wt, ati.fraction, len(seq), lib.fragment_mean)):
            f = _fragment_length(rng, lib, len(seq))
            s = rng.randint(0, len(seq) - f)
            add("ati", ati.name, seq, s, s + f, None)
    for sf in spec.spiked_fusions:
        ct = build_chimeric_transcript(genome, sf.chimera)
        n_wt, l_wt = wild_type_of(sf.chimera.gene3)
        for _ in range(copies_to_fragments(n_wt, l_wt, sf.fraction, len(ct.sequence), lib.fragment_mean)):
            f = _fragment_length(rng, lib, len(ct.sequence))
            s = rng.randint(0, len(ct.sequence) - f)
            across = s < ct.junction < s + f
            add("fusion" if across else "fusion_body", ct.name, ct.sequence, s, s + f, ct.junction if across else None)

    order = list(range(len(raw)))
    rng.shuffle(order)
    # genes added late to the layout (GeneSpec.late): their own random stream, after all
    # of the above and shuffled among themselves, so the fragments and names of the rest
    # stay what they were without them (add and express read the new rng)
    early = len(raw)
    rng = sub_rng(spec.seed, "reads-late", spec.name)
    express(late(expression, True) + late(spec.extra_expression, True))
    late_order = list(range(early, len(raw)))
    rng.shuffle(late_order)
    order += late_order
    # mispriming decoys last, from a stream of their own: every fragment before them stays as it was
    first_misprimed = len(raw)
    mis_rng = sub_rng(spec.seed, "mispriming", spec.name)
    for mspec in spec.misprimed:
        _misprimed_fragments(mis_rng, genome, lib, mspec, add)
    order += list(range(first_misprimed, len(raw)))
    # chimeras of a target's copy, after them from a stream of their own, for the same reason
    first_copy = len(raw)
    copy_rng = sub_rng(spec.seed, "copy-chimeras", spec.name)
    for cspec in spec.copy_chimeras:
        ct = build_chimeric_transcript(genome, cspec)
        artefacts.append(ct)
        _chimera_fragments(copy_rng, lib, ct, "artefact", add)
    order += list(range(first_copy, len(raw)))
    width = max(6, len(str(len(raw))))
    fragments = tuple(
        Fragment(f"{spec.name}:{i:0{width}d}" + (f"_{umis[k]}" if umis[k] else ""), *raw[k])
        for i, k in enumerate(order, start=1)
    )
    return SimulatedSample(
        spec, fragments, tuple(chimeras["fusion"]), tuple(chimeras["readthrough"]), tuple(isoforms), tuple(artefacts)
    )


def _junction_fragment(
    rng: random.Random, lib: LibrarySpec, cspec: ChimeraSpec, length: int, j: int, label: str
) -> tuple[int, int]:
    """(start, length) of one fragment across junction ``j`` of a sequence of ``length`` bases.

    Both sides keep at least MIN_ANCHOR bases, unless ``cspec.anchor5``/``anchor3``
    fixes how many bases of that side the fragment keeps.
    """
    f = _fragment_length(rng, lib, length)
    if cspec.anchor3:
        k = rng.randint(*cspec.anchor3)
        if j < MIN_ANCHOR or j + k > length:
            raise ValueError(f"{label}: sequence too short for junction fragments")
        f = min(max(f, k + MIN_ANCHOR), j + k)  # a short 5' part caps the fragment
        return j + k - f, f
    if cspec.anchor5:
        k = rng.randint(*cspec.anchor5)
        if k > j or length - j < MIN_ANCHOR:
            raise ValueError(f"{label}: sequence too short for junction fragments")
        f = min(max(f, k + MIN_ANCHOR), length - (j - k))
        return j - k, f
    f = max(f, 2 * MIN_ANCHOR)
    lo = max(0, j - f + MIN_ANCHOR)
    hi = min(length - f, j - MIN_ANCHOR)
    if lo > hi:
        raise ValueError(f"{label}: transcript too short for junction fragments")
    return rng.randint(lo, hi), f


def _chimera_fragments(rng: random.Random, lib: LibrarySpec, ct: ChimericTranscript, kind: str, add) -> None:  # type: ignore[no-untyped-def]
    """Junction fragments, then body fragments, of one chimeric transcript."""
    seq, j = ct.sequence, ct.junction
    for _ in range(ct.spec.fragments):
        s, f = _junction_fragment(rng, lib, ct.spec, len(seq), j, ct.name)
        add(kind, ct.name, seq, s, s + f, j)
    for _ in range(ct.spec.body_fragments):
        for _attempt in range(1000):
            f = _fragment_length(rng, lib, len(seq))
            s = rng.randint(0, len(seq) - f)
            if not s < j < s + f:
                break
        add(kind + "_body", ct.name, seq, s, s + f, None)


def write_truth_table(
    rows: Iterable[dict[str, str]], path: Path | str, columns: Sequence[str] = TRUTH_COLUMNS
) -> Path:
    """Write ``truth.tsv`` (a header even when there are no rows); ``columns`` default to TRUTH_COLUMNS."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        fh.write("\t".join(columns) + "\n")
        for r in rows:
            fh.write("\t".join(r[c] for c in columns) + "\n")
    return path


def fragment_length_stats(fragments: Sequence[Fragment]) -> tuple[float, float]:
    """Mean and standard deviation of fragment lengths (used by tests and reports)."""
    lens = [f.end - f.start for f in fragments]
    if not lens:
        return math.nan, math.nan
    mean = sum(lens) / len(lens)
    var = sum((x - mean) ** 2 for x in lens) / max(1, len(lens) - 1)
    return mean, math.sqrt(var)
