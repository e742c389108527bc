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

from imtfusion.sim.genome import (
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
    """

    gene5: str
    exon5: int
    gene3: str
    exon3: int
    fragments: int
    offset5: int = 0
    offset3: int = 0
    body_fragments: int = 0

    @property
    def name(self) -> str:
        return f"{self.gene5}::{self.gene3}"

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

    @property
    def name(self) -> str:
        return self.spec.name

    def truth_row(self, sample: str) -> dict[str, str]:
        """One row of ``truth.tsv`` (see :data:`TRUTH_COLUMNS`)."""
        return {
            "sample": sample,
            "fusion": self.name,
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


def build_chimeric_transcript(genome: Genome, spec: ChimeraSpec) -> ChimericTranscript:
    """Join the canonical transcripts of ``spec`` and compute the truth from the gene models.

    The reading frame is found by translation, not assumed: ``in-frame`` means
    translating from the 5' gene's start codon through the junction reaches the
    3' gene's own stop codon; anything else is ``out-of-frame``.
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
    )


# --------------------------------------------------------------------------
# library and errors
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LibrarySpec:
    """Library preparation and sequencing parameters.

    ``strandedness``: ``unstranded``; ``reverse`` (dUTP/TruSeq stranded: read 1
    is antisense to the transcript); ``forward`` (read 1 sense).  Fragments
    shorter than the read length give adapter-trimmed shorter reads.
    ``error_rate`` is the mean substitution rate; base qualities follow a
    binned Illumina-like model (Q37/Q25/Q12) and errors concentrate on the
    low-quality bases and toward read ends.
    """

    read_length: int = 100
    paired: bool = True
    fragment_mean: float = 250.0
    fragment_sd: float = 50.0
    min_fragment: int = 50
    strandedness: str = "reverse"
    error_rate: float = 0.002

    def __post_init__(self) -> None:
        if not 30 <= self.read_length <= 300:
            raise ValueError("read_length must be between 30 and 300")
        if self.strandedness not in STRANDEDNESS:
            raise ValueError(f"strandedness must be one of {', '.join(STRANDEDNESS)}")
        if not 0 <= self.error_rate < 0.05:
            raise ValueError("error_rate must be in [0, 0.05)")
        if self.fragment_mean <= 0 or self.fragment_sd < 0 or self.min_fragment < 20:
            raise ValueError("fragment_mean must be > 0, fragment_sd >= 0, min_fragment >= 20")

    @classmethod
    def ffpe(cls, **kw: object) -> "LibrarySpec":
        """Short inserts of degraded (FFPE) RNA: mean 150, sd 40, so mates often overlap."""
        args: dict[str, object] = {"fragment_mean": 150.0, "fragment_sd": 40.0}
        args.update(kw)
        return cls(**args)  # type: ignore[arg-type]


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
class SampleSpec:
    """What to simulate for one sample.

    ``expression`` maps transcript names to wild-type fragment counts; None
    uses :func:`default_expression`.  ``readthroughs`` are chimeric
    transcripts that are expressed but are *not* fusions (no truth row).
    """

    name: str
    seed: int
    library: LibrarySpec = field(default_factory=LibrarySpec)
    fusions: tuple[ChimeraSpec, ...] = ()
    readthroughs: tuple[ChimeraSpec, ...] = ()
    expression: tuple[tuple[str, int], ...] | None = None

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in " \t:/"):
            raise ValueError(f"sample name {self.name!r} must be non-empty without spaces, ':' or '/'")


@dataclass(frozen=True)
class Fragment:
    """One simulated fragment and its reads.

    ``start``/``end`` are offsets in the source sequence (a transcript or a
    chimeric transcript); ``junction_in`` says where a chimeric junction lies:
    ``read1``, ``read2``, ``both`` (overlapping mates), ``insert`` (between the
    mates: a spanning pair) or ``''``.
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

    def truth_rows(self) -> list[dict[str, str]]:
        """Truth rows of the true fusions (read-throughs are not fusions)."""
        return [f.truth_row(self.spec.name) for f in self.fusions]

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
        if gene.gene_type != "protein_coding":
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
    return tuple(out)


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
    sense = fragment[:n]
    anti = revcomp(fragment[len(fragment) - n :])
    if lib.strandedness == "reverse":
        r1_sense = False
    elif lib.strandedness == "forward":
        r1_sense = True
    else:
        r1_sense = rng.random() < 0.5
    first, second = (sense, anti) if r1_sense else (anti, sense)
    s1, s2 = (sense_span, anti_span) if r1_sense else (anti_span, sense_span)
    r1, q1 = qm.apply(rng, first)
    if not lib.paired:
        return r1_sense, r1, q1, None, None, s1, None
    r2, q2 = qm.apply(rng, second)
    return r1_sense, r1, q1, r2, q2, s1, s2


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
    expression = spec.expression if spec.expression is not None else default_expression(genome, spec.seed, spec.name)
    raw: list[tuple[str, str, int, int, bool, str, str, str | None, str | None, str]] = []

    def add(kind: str, source: str, seq: str, start: int, end: int, junction: int | None) -> None:
        frag = seq[start:end]
        r1_sense, r1, q1, r2, q2, s1, s2 = _reads(rng, lib, qm, frag)
        where = "" if junction is None else _junction_in(junction - start, s1, s2)
        raw.append((kind, source, start, end, r1_sense, r1, q1, r2, q2, where))

    for tx_name, count in expression:
        tx = genome.transcript(tx_name)
        seq = tx.sequence(genome)
        for _ in range(count):
            f = _fragment_length(rng, lib, len(seq))
            s = rng.randint(0, len(seq) - f)
            add("transcript", tx.name, seq, s, s + f, None)

    chimeras: dict[str, list[ChimericTranscript]] = {"fusion": [], "readthrough": []}
    for kind, specs in (("fusion", spec.fusions), ("readthrough", spec.readthroughs)):
        for cspec in specs:
            ct = build_chimeric_transcript(genome, cspec)
            chimeras[kind].append(ct)
            seq, j = ct.sequence, ct.junction
            for _ in range(cspec.fragments):
                f = _fragment_length(rng, lib, len(seq))
                f = max(f, 2 * MIN_ANCHOR)
                lo = max(0, j - f + MIN_ANCHOR)
                hi = min(len(seq) - f, j - MIN_ANCHOR)
                if lo > hi:
                    raise ValueError(f"{ct.name}: transcript too short for junction fragments")
                s = rng.randint(lo, hi)
                add(kind, ct.name, seq, s, s + f, j)
            for _ in range(cspec.body_fragments):
                for _attempt in range(1000):
                    f = _fragment_length(rng, lib, len(seq))
                    s = rng.randint(0, len(seq) - f)
                    if not s < j < s + f:
                        break
                add(kind + "_body", ct.name, seq, s, s + f, None)

    order = list(range(len(raw)))
    rng.shuffle(order)
    width = max(6, len(str(len(raw))))
    fragments = tuple(
        Fragment(f"{spec.name}:{i:0{width}d}", *raw[k])
        for i, k in enumerate(order, start=1)
    )
    return SimulatedSample(spec, fragments, tuple(chimeras["fusion"]), tuple(chimeras["readthrough"]))


def write_truth_table(rows: Iterable[dict[str, str]], path: Path | str) -> Path:
    """Write ``truth.tsv`` (a header even when there are no rows)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        fh.write("\t".join(TRUTH_COLUMNS) + "\n")
        for r in rows:
            fh.write("\t".join(r[c] for c in TRUTH_COLUMNS) + "\n")
    return path


def fragment_length_stats(fragments: Sequence[Fragment]) -> tuple[float, float]:
    """Mean and standard deviation of fragment lengths (used by tests and reports)."""
    lens = [f.end - f.start for f in fragments]
    if not lens:
        return math.nan, math.nan
    mean = sum(lens) / len(lens)
    var = sum((x - mean) ** 2 for x in lens) / max(1, len(lens) - 1)
    return mean, math.sqrt(var)
