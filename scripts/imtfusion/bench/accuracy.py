"""Accuracy of imtfusion per aligner on a simulated panel with known truth.

  imtfusion benchmark accuracy --outdir DIR [--threads N] [--aligners A ...] [--quick] [--seed N]
                               [--with-fasta] [--without-fasta]

One synthetic genome (the demo genome plus an ALK paralog decoy) and a panel of
samples are simulated from a seed: positive samples with two or three fusions
each (many partners of ALK, ROS1, ETV6 and NTRK3, both gene strands, 2 to 300
junction fragments, breakpoints at splice sites, inside exons and in an
intron), negative samples with only look-alikes (the ETV6->BCL2L14
read-through, the expressed decoy, single-fragment chimeras between random
genes), and libraries 2x100, 2x75 FFPE-like, 1x75, stranded and unstranded.
Every sample is aligned with each aligner and called with the FASTA (and,
for STAR, also without it).

A true fusion is found when a call has its gene pair in 5'->3' order; a call
is false when no true fusion of its sample has its gene pair.  The table
(stdout and OUTDIR/accuracy.md) gives per aligner: recall, recall at >= 5 and
at <= 5 junction fragments, precision, the exact-breakpoint rate of matched
calls with split-read evidence, calls in negative samples, and wall time.
OUTDIR also gets fusions.tsv (one row per true fusion and run, with how the
aligner placed its junction fragments), calls.tsv, discarded.tsv, runs.tsv,
truth.tsv and samples.tsv; OUTDIR/work keeps genome, FASTQs, per-read truth,
BAMs and aligner indices (reused by a re-run).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

if TYPE_CHECKING:  # the simulator is imported when a benchmark runs, not for `imtfusion --help`
    from imtfusion.sim.genome import DecoySpec, Genome, GenomeLayout
    from imtfusion.sim.reads import ChimeraSpec, LibrarySpec, SampleSpec

#: Aligner modes run by default (the keys of :data:`imtfusion.sim.align.ALIGNERS`).
DEFAULT_ALIGNERS: tuple[str, ...] = ("star_chimeric", "star_default", "hisat2", "bwa_mem", "minimap2_splice")

#: Aligners that also get a "without FASTA" row when neither --with-fasta nor --without-fasta is given.
NO_FASTA_DEFAULT: tuple[str, ...] = ("star_chimeric", "star_default")

#: Binaries each aligner mode needs (checked before a run so a missing tool skips one row).
ALIGNER_BINARIES: dict[str, tuple[str, ...]] = {
    "star_chimeric": ("STAR",),
    "star_chimeric_softclip": ("STAR",),
    "star_default": ("STAR",),
    "hisat2": ("hisat2", "hisat2-build"),
    "bwa_mem": ("bwa",),
    "minimap2_splice": ("minimap2",),
}

#: Default seed of genome and reads (the demo's, so the genome is the demo genome plus the decoy).
BENCH_SEED = 20240611

#: Support classes: a fusion with >= HIGH_SUPPORT junction fragments is well supported,
#: one with <= LOW_SUPPORT is low-support (5 falls into both, as in the task).
HIGH_SUPPORT = 5
LOW_SUPPORT = 5

#: Junction fragments of each fusion come with this many times as many body fragments
#: (fragments of the fusion transcript away from the junction), as in ``imtfusion simulate``.
BODY_RATIO = 2

#: Mates further apart than this on one contig count as discordant in the junction census.
CENSUS_MATE_DISTANCE = 100_000

# --------------------------------------------------------------------------
# metrics (pure: no files, no tools)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fraction:
    """A ratio kept as counts, so tables show both (``17/20 (85%)``)."""

    num: int
    den: int

    @property
    def value(self) -> float | None:
        return self.num / self.den if self.den else None

    def __str__(self) -> str:
        if not self.den:
            return "–"
        return f"{self.num}/{self.den} ({round(100 * self.num / self.den)}%)"


@dataclass(frozen=True)
class TruthFusion:
    """One true fusion of one sample (a row of ``truth.tsv``)."""

    sample: str
    gene5: str
    gene3: str
    breakpoint5: str  # 1-based chr:pos
    breakpoint3: str
    fragments: int  # simulated junction fragments
    junction: str = "splice_site"

    @property
    def fusion(self) -> str:
        return f"{self.gene5}::{self.gene3}"

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> "TruthFusion":
        return cls(
            row["sample"], row["gene5"], row["gene3"], row["breakpoint5"], row["breakpoint3"],
            int(row["fragments"]), row.get("junction", "splice_site"),
        )


@dataclass(frozen=True)
class Call:
    """One reported fusion, reduced to what the metrics need (plus context for the tables)."""

    sample: str
    gene5: str
    gene3: str
    breakpoint5: str  # 1-based chr:pos
    breakpoint3: str
    split_reads: int = 0
    discordant_pairs: int = 0
    fragments: int = 0
    precision: str = "exact"
    confidence: str = "."
    origin: str = ""  # where the supporting fragments were simulated from

    @property
    def fusion(self) -> str:
        return f"{self.gene5}::{self.gene3}"

    @property
    def has_junction_reads(self) -> bool:
        """Split-read or clipped-read evidence (clipped reads count among the split reads)."""
        return self.split_reads > 0

    def exact_for(self, truth: TruthFusion) -> bool:
        return self.breakpoint5 == truth.breakpoint5 and self.breakpoint3 == truth.breakpoint3


@dataclass(frozen=True)
class FusionOutcome:
    """A true fusion and the call that found it (the exact one if any, else the best supported)."""

    truth: TruthFusion
    call: Call | None
    n_calls: int = 0  # calls with the fusion's gene pair in its sample

    @property
    def found(self) -> bool:
        return self.call is not None

    @property
    def exact(self) -> bool:
        return self.call is not None and self.call.exact_for(self.truth)


def _pair(sample: str, gene5: str, gene3: str) -> tuple[str, str, str]:
    return (sample, gene5, gene3)


def match_calls(
    truth: Sequence[TruthFusion], calls: Sequence[Call]
) -> tuple[list[FusionOutcome], list[tuple[Call, bool]]]:
    """Match calls to true fusions by (sample, 5' gene, 3' gene).

    Returns one outcome per true fusion (in ``truth`` order) and every call with
    whether it matches a true fusion.  Several calls may match one fusion (e.g.
    a second, shifted junction); all count as true calls, and the outcome keeps
    the exact one if present, else the one with most fragments.
    """
    by_pair: dict[tuple[str, str, str], list[Call]] = defaultdict(list)
    for c in calls:
        by_pair[_pair(c.sample, c.gene5, c.gene3)].append(c)
    outcomes = []
    for t in truth:
        hits = by_pair.get(_pair(t.sample, t.gene5, t.gene3), [])
        best = max(hits, key=lambda c: (c.exact_for(t), c.fragments, c.split_reads), default=None)
        outcomes.append(FusionOutcome(t, best, len(hits)))
    true_pairs = {_pair(t.sample, t.gene5, t.gene3) for t in truth}
    flagged = [(c, _pair(c.sample, c.gene5, c.gene3) in true_pairs) for c in calls]
    return outcomes, flagged


@dataclass(frozen=True)
class Metrics:
    """The numbers of one table row."""

    recall: Fraction
    recall_high: Fraction  # fusions with >= HIGH_SUPPORT junction fragments
    recall_low: Fraction  # fusions with <= LOW_SUPPORT junction fragments
    precision: Fraction  # calls matching a true fusion / all calls
    exact: Fraction  # matched calls with split reads whose both breakpoints equal the truth
    negative_calls: int  # calls in samples without any true fusion (all false)
    false_calls: int  # all calls not matching a true fusion


def compute_metrics(truth: Sequence[TruthFusion], calls: Sequence[Call], samples: Iterable[str]) -> Metrics:
    """Metrics of one run (one aligner and FASTA mode) over all ``samples``.

    Samples absent from ``truth`` are negative; calls of samples not listed are
    ignored (so a caller bug cannot inflate precision with foreign samples).
    """
    samples = set(samples)
    truth = [t for t in truth if t.sample in samples]
    calls = [c for c in calls if c.sample in samples]
    negatives = samples - {t.sample for t in truth}
    outcomes, flagged = match_calls(truth, calls)

    def recall(selected: list[FusionOutcome]) -> Fraction:
        return Fraction(sum(o.found for o in selected), len(selected))

    matched = [c for c, ok in flagged if ok]
    truth_of = {_pair(t.sample, t.gene5, t.gene3): t for t in truth}
    with_reads = [c for c in matched if c.has_junction_reads]
    exact = sum(c.exact_for(truth_of[_pair(c.sample, c.gene5, c.gene3)]) for c in with_reads)
    return Metrics(
        recall=recall(outcomes),
        recall_high=recall([o for o in outcomes if o.truth.fragments >= HIGH_SUPPORT]),
        recall_low=recall([o for o in outcomes if o.truth.fragments <= LOW_SUPPORT]),
        precision=Fraction(len(matched), len(calls)),
        exact=Fraction(exact, len(with_reads)),
        negative_calls=sum(c.sample in negatives for c in calls),
        false_calls=len(calls) - len(matched),
    )


TABLE_HEADER: tuple[str, ...] = (
    "aligner",
    "recall",
    f"recall ≥{HIGH_SUPPORT} frags",
    f"recall ≤{LOW_SUPPORT} frags",
    "precision",
    "exact breakpoints",
    "FP in negatives",
    "align s",
    "call s",
)


@dataclass(frozen=True)
class TableRow:
    label: str
    metrics: Metrics | None  # None: not run
    align_seconds: float = 0.0
    call_seconds: float = 0.0
    note: str = ""  # why the row was not run, or how many runs failed
    aligner: str = ""
    fasta: bool = True


def markdown_table(rows: Sequence[TableRow]) -> str:
    """The summary table as GitHub markdown (one line per row, header first)."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "|".join(["---"] + ["---:"] * (len(TABLE_HEADER) - 1)) + "|"]
    for r in rows:
        label = r.label + (" *" if r.note else "")
        if r.metrics is None:
            cells = [label] + ["not run"] + ["–"] * (len(TABLE_HEADER) - 2)
        else:
            m = r.metrics
            cells = [
                label, str(m.recall), str(m.recall_high), str(m.recall_low), str(m.precision), str(m.exact),
                str(m.negative_calls), f"{r.align_seconds:.1f}", f"{r.call_seconds:.1f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"\\* {r.label}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def run_label(aligner: str, fasta: bool) -> str:
    return aligner if fasta else f"{aligner} without FASTA"


def planned_runs(
    aligners: Sequence[str], with_fasta: bool = False, without_fasta: bool = False
) -> list[tuple[str, bool]]:
    """(aligner, use FASTA) pairs in table order.

    Neither flag: every aligner with the FASTA, plus the STAR modes of
    :data:`NO_FASTA_DEFAULT` without it.  Otherwise the flags choose the modes,
    each for every aligner.
    """
    if not with_fasta and not without_fasta:
        return [(a, True) for a in aligners] + [(a, False) for a in aligners if a in NO_FASTA_DEFAULT]
    runs = [(a, True) for a in aligners] if with_fasta else []
    return runs + ([(a, False) for a in aligners] if without_fasta else [])


# --------------------------------------------------------------------------
# the simulated panel
# --------------------------------------------------------------------------


def decoy_spec() -> "DecoySpec":
    """ALKP1: a 2%-divergent copy of ALK exons 18-25 (around the fusion breakpoints) on chr7."""
    from imtfusion.sim.genome import DecoySpec

    return DecoySpec("ALKP1", "ALK", 18, 25, 0.02, "chr7", strand="-", gap_before=30_000)


def benchmark_layout() -> "GenomeLayout":
    """The demo layout plus the ALK paralog decoy."""
    from imtfusion.sim.genome import default_layout

    return default_layout().with_decoy(decoy_spec())


def library_label(lib: "LibrarySpec") -> str:
    """Short description of a library, e.g. ``2x75 FFPE unstranded``."""
    ffpe = " FFPE" if lib.fragment_mean < 200 else ""
    return f"{2 if lib.paired else 1}x{lib.read_length}{ffpe} {lib.strandedness}"


@dataclass(frozen=True)
class PanelSample:
    """One benchmark sample: what is simulated, kept apart by role for the reports."""

    name: str
    library: "LibrarySpec"
    fusions: tuple["ChimeraSpec", ...] = ()
    readthroughs: tuple["ChimeraSpec", ...] = ()
    noise: tuple["ChimeraSpec", ...] = ()  # single-fragment chimeras between random genes
    decoy_fragments: int = 0

    @property
    def negative(self) -> bool:
        return not self.fusions

    def sample_spec(self, genome: "Genome", seed: int) -> "SampleSpec":
        from imtfusion.sim.reads import SampleSpec, default_expression

        expression = default_expression(genome, seed, self.name)
        if self.decoy_fragments:
            expression += ((genome.gene(decoy_spec().name).canonical.name, self.decoy_fragments),)
        return SampleSpec(
            self.name, seed, self.library, fusions=self.fusions,
            readthroughs=self.readthroughs + self.noise, expression=expression,
        )


def _chim(gene5: str, exon5: int, gene3: str, exon3: int, fragments: int, offset5: int = 0, offset3: int = 0,
          body: bool = True) -> "ChimeraSpec":
    from imtfusion.sim.reads import ChimeraSpec

    return ChimeraSpec(gene5, exon5, gene3, exon3, fragments, offset5, offset3,
                       body_fragments=BODY_RATIO * fragments if body else 0)


def random_chimeras(
    genome: "Genome", seed: int, sample: str, n: int, avoid: Iterable[tuple[str, str]] = ()
) -> tuple["ChimeraSpec", ...]:
    """``n`` single-fragment chimeras between random protein-coding genes (every other
    one involves a target), with distinct gene pairs, none in ``avoid`` (either order)."""
    from imtfusion.sim.genome import TARGET_GENES, sub_rng
    from imtfusion.sim.reads import ChimeraSpec

    rng = sub_rng(seed, "bench-noise", sample)
    genes = [g for g in genome.genes if g.gene_type == "protein_coding"]
    targets = [g for g in genes if g.name in TARGET_GENES]
    taken = {frozenset(p) for p in avoid}
    out: list[ChimeraSpec] = []
    while len(out) < n:
        a = rng.choice(targets if len(out) % 2 == 0 else genes)
        b = rng.choice(genes)
        if a.name == b.name or frozenset((a.name, b.name)) in taken:
            continue
        g5, g3 = (a, b) if rng.random() < 0.5 else (b, a)
        exon5 = rng.randint(1, len(g5.canonical.exons) - 1)
        exon3 = rng.randint(2, len(g3.canonical.exons))
        taken.add(frozenset((a.name, b.name)))
        out.append(ChimeraSpec(g5.name, exon5, g3.name, exon3, 1))
    return tuple(out)


def build_panel(genome: "Genome", seed: int = BENCH_SEED, quick: bool = False) -> tuple[PanelSample, ...]:
    """The benchmark samples (``quick``: one positive and one negative sample).

    Supports 2, 3, 5, 8, 15, 40, 100 and 300 junction fragments; exonic
    breakpoints (CLTC exon 31 loses 24 bases, ROS1 exon 34 loses 13, ETV6
    exon 5 loses 11 while NTRK3 exon 15 loses 4), an intronic one (EML4::ALK keeps 53 bases of ALK intron 19); novel
    partners DES (5', + strand), EEF1A1 (5', - strand, ETV6 on + as the 3'
    gene) and CALR (3', + strand); every sample also carries single-fragment
    random chimeras and expresses the ALKP1 decoy.  Each positive sample has at
    most one fusion per target gene, except BP12 (EML4::ALK with 100 and
    TPM3::ALK with 8 fragments joined to the same ALK base: a minor clone).
    """
    from imtfusion.sim.reads import LibrarySpec

    pe100 = LibrarySpec(read_length=100, strandedness="reverse")
    pe100_un = LibrarySpec(read_length=100, strandedness="unstranded")
    pe100_fwd = LibrarySpec(read_length=100, strandedness="forward")
    pe75 = LibrarySpec(read_length=75, strandedness="reverse")
    ffpe_un = LibrarySpec.ffpe(read_length=75, strandedness="unstranded")
    ffpe_rev = LibrarySpec.ffpe(read_length=75, strandedness="reverse")
    se75 = LibrarySpec(read_length=75, paired=False, strandedness="reverse")
    se75_un = LibrarySpec(read_length=75, paired=False, strandedness="unstranded")
    readthrough = "ETV6", 8, "BCL2L14", 2

    positives: list[tuple[str, LibrarySpec, tuple[ChimeraSpec, ...]]]
    negatives: list[tuple[str, LibrarySpec, int, int, int]]  # name, library, read-through frags, decoy, noise
    if quick:
        positives = [("BQ01", pe100, (_chim("TPM3", 7, "ALK", 20, 15), _chim("ETV6", 5, "NTRK3", 15, 5)))]
        negatives = [("BQ02", pe100, 10, 150, 5)]
    else:
        # one fusion per target gene and sample, as in tumours, except BP12: a stress case
        # of two ALK fusions (a major and a minor clone) sharing the ALK exon 20 breakpoint
        positives = [
            ("BP01", pe100, (_chim("TPM3", 7, "ALK", 20, 40), _chim("ETV6", 5, "NTRK3", 15, 8))),
            ("BP02", ffpe_un, (_chim("CLTC", 31, "ALK", 20, 15, offset5=-24), _chim("YWHAE", 5, "ROS1", 35, 5))),
            ("BP03", se75, (_chim("TFG", 4, "ROS1", 35, 100), _chim("RANBP2", 18, "ALK", 20, 3))),
            ("BP04", pe100_un, (_chim("EML4", 13, "ALK", 20, 15, offset3=53), _chim("YWHAE", 5, "ROS1", 35, 2))),
            ("BP05", ffpe_rev, (_chim("ETV6", 5, "NTRK3", 15, 300), _chim("DES", 4, "ALK", 20, 5))),
            ("BP06", se75_un, (_chim("TFG", 4, "ROS1", 34, 8, offset3=-13), _chim("EEF1A1", 2, "ETV6", 3, 40))),
            ("BP07", pe100_fwd, (_chim("TPM4", 7, "ALK", 20, 2), _chim("ETV6", 5, "CALR", 4, 15))),
            ("BP08", pe75, (_chim("TPM3", 7, "ALK", 20, 3), _chim("ETV6", 5, "NTRK3", 15, 2))),
            ("BP09", pe100, (_chim("RANBP2", 18, "ALK", 20, 8), _chim("TFG", 4, "ROS1", 35, 5))),
            ("BP10", ffpe_un, (_chim("TFG", 4, "ROS1", 35, 40), _chim("ETV6", 5, "NTRK3", 15, 3))),
            ("BP11", se75, (_chim("YWHAE", 5, "ROS1", 35, 15), _chim("CLTC", 31, "ALK", 20, 5))),
            ("BP12", pe100_un, (_chim("EML4", 13, "ALK", 20, 100), _chim("TPM3", 7, "ALK", 20, 8),
                                _chim("ETV6", 5, "NTRK3", 15, 15, offset5=-11, offset3=-4))),
            ("BP13", pe75, (_chim("EML4", 6, "ALK", 20, 5), _chim("YWHAE", 5, "ROS1", 35, 3))),
            ("BP14", ffpe_rev, (_chim("TPM4", 7, "ALK", 20, 5), _chim("ETV6", 5, "NTRK3", 15, 40))),
        ]
        negatives = [
            ("BN01", pe100, 20, 150, 10),
            ("BN02", ffpe_un, 6, 250, 10),
            ("BN03", se75, 12, 100, 10),
            ("BN04", pe100_un, 0, 400, 15),
            ("BN05", pe75, 30, 300, 15),
            ("BN06", se75_un, 8, 200, 10),
        ]
    out: list[PanelSample] = []
    for name, lib, fusions in positives:
        avoid = [(f.gene5, f.gene3) for f in fusions] + [(readthrough[0], readthrough[2])]
        out.append(PanelSample(name, lib, fusions, (), random_chimeras(genome, seed, name, 3, avoid), 60))
    for name, lib, rt, decoy, noise in negatives:
        rts = (_chim(*readthrough, rt, body=False),) if rt else ()
        noisy = random_chimeras(genome, seed, name, noise, [(readthrough[0], readthrough[2])])
        out.append(PanelSample(name, lib, (), rts, noisy, decoy))
    return tuple(out)


# --------------------------------------------------------------------------
# reading the BAMs back: where did the junction fragments go?
# --------------------------------------------------------------------------

#: Junction-census classes, in priority order (a fragment gets the first that applies).
CENSUS_CLASSES: tuple[str, ...] = ("chimeric", "clipped", "discordant", "mate_unmapped", "unmapped", "plain")


def classify_fragment(records: Sequence[object], min_clip: int) -> str:
    """How an aligner represented one junction fragment (its pysam records).

    ``chimeric``: a record with an SA tag or a supplementary record;
    ``clipped``: a soft clip of at least ``min_clip`` bases;
    ``discordant``: mates (or, without pairing flags, the two reads' primary records) on
    different contigs or more than CENSUS_MATE_DISTANCE apart;
    ``mate_unmapped``: one read of the pair unmapped, the other plain;
    ``unmapped``: no read aligned; ``plain``: aligned with none of these signals.
    """
    mapped = [r for r in records if not r.is_unmapped and not r.is_secondary]  # type: ignore[attr-defined]
    if not mapped:
        return "unmapped"
    if any(r.is_supplementary or r.has_tag("SA") for r in mapped):  # type: ignore[attr-defined]
        return "chimeric"
    for r in mapped:
        cig = r.cigartuples or []  # type: ignore[attr-defined]
        if any(op == 4 and n >= min_clip for op, n in (cig[:1] + cig[-1:])):
            return "clipped"
    for r in mapped:
        if r.is_paired and not r.mate_is_unmapped and (  # type: ignore[attr-defined]
            r.reference_id != r.next_reference_id  # type: ignore[attr-defined]
            or abs(r.next_reference_start - r.reference_start) > CENSUS_MATE_DISTANCE  # type: ignore[attr-defined]
        ):
            return "discordant"
    # reads written without pairing flags (minimap2 -ax splice with two FASTQs): compare them directly
    primary = [r for r in mapped if not r.is_supplementary]  # type: ignore[attr-defined]
    for i, a in enumerate(primary):
        for b in primary[i + 1 :]:
            if a.reference_id != b.reference_id or abs(a.reference_start - b.reference_start) > CENSUS_MATE_DISTANCE:  # type: ignore[attr-defined]
                return "discordant"
    if any(r.is_unmapped for r in records) or any(r.is_paired and r.mate_is_unmapped for r in mapped):  # type: ignore[attr-defined]
        return "mate_unmapped"
    return "plain"


class GeneIndex:
    """Gene names at genomic positions of the simulated genome (decoys included)."""

    def __init__(self, genes: Iterable[tuple[str, str, int, int]]) -> None:
        self._by_chrom: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for name, chrom, start, end in genes:
            self._by_chrom[chrom].append((start, end, name))

    @classmethod
    def of(cls, genome: "Genome") -> "GeneIndex":
        return cls((g.name, g.chrom, g.start, g.end) for g in genome.genes)

    def name_at(self, chrom: str, pos1: int) -> str:
        """The gene at 1-based ``pos1`` (the nearest one within 10 kb as ``~NAME``), else ``chrom``."""
        best, dist = "", 10_001
        for start, end, name in self._by_chrom.get(chrom, ()):
            if start <= pos1 <= end:
                return name
            d = start - pos1 if pos1 < start else pos1 - end
            if d < dist:
                best, dist = name, d
        return f"~{best}" if best else chrom


def _genes_touched(records: Sequence[object], genes: GeneIndex) -> str:
    names: list[str] = []
    for r in records:
        if r.is_unmapped or r.is_secondary:  # type: ignore[attr-defined]
            continue
        n = genes.name_at(r.reference_name, r.reference_start + 1)  # type: ignore[attr-defined]
        if n not in names:
            names.append(n)
    return "+".join(sorted(names)) or "-"


@dataclass
class Census:
    """Where one fusion's junction fragments went in one BAM."""

    classes: Counter[str] = field(default_factory=Counter)  # class -> fragments
    detail: Counter[str] = field(default_factory=Counter)  # "class GENE+GENE" -> fragments

    def describe(self) -> str:
        return ", ".join(f"{k} x{v}" for k, v in sorted(self.detail.items(), key=lambda kv: (-kv[1], kv[0])))


def junction_census(
    bam_path: Path, fragment_fusion: Mapping[str, str], min_clip: int, genes: GeneIndex | None = None
) -> dict[str, Census]:
    """Per fusion name: how its junction fragments were aligned (classes, and genes touched)."""
    import pysam

    records: dict[str, list[pysam.AlignedSegment]] = defaultdict(list)
    with pysam.AlignmentFile(str(bam_path), "rb") as bam:
        for rec in bam.fetch(until_eof=True):
            name = rec.query_name or ""
            if name in fragment_fusion:
                records[name].append(rec)
    out: dict[str, Census] = defaultdict(Census)
    for name, fusion in fragment_fusion.items():
        recs = records.get(name, [])
        cls = classify_fragment(recs, min_clip)
        out[fusion].classes[cls] += 1
        if genes is not None:
            out[fusion].detail[f"{cls} {_genes_touched(recs, genes)}" if cls != "unmapped" else cls] += 1
    return out


def describe_origin(fragments: Iterable[str], origin: Mapping[str, str]) -> str:
    """``junction TPM3::ALK=10; wild-type ALK=2`` for a call's supporting fragments."""
    counts = Counter(origin.get(f, "unknown") for f in fragments)
    return "; ".join(f"{k}={v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# --------------------------------------------------------------------------
# tool versions
# --------------------------------------------------------------------------

_VERSION_COMMANDS: dict[str, tuple[list[str], Callable[[str], str]]] = {
    "STAR": (["STAR", "--version"], lambda t: t.strip().splitlines()[0]),
    "hisat2": (["hisat2", "--version"], lambda t: t.strip().splitlines()[0].split()[-1]),
    "bwa": (["bwa"], lambda t: next((ln.split(":", 1)[1].strip() for ln in t.splitlines() if ln.startswith("Version")), "?")),
    "minimap2": (["minimap2", "--version"], lambda t: t.strip().splitlines()[0]),
    "samtools": (["samtools", "--version"], lambda t: t.strip().splitlines()[0].split()[-1]),
}


def tool_versions(aligners: Sequence[str]) -> dict[str, str]:
    """Version strings of the tools the run uses (from their own version output), plus pysam/Python."""
    import pysam

    from imtfusion import __version__

    wanted = {b for a in aligners for b in ALIGNER_BINARIES.get(a, ()) if b != "hisat2-build"} | {"samtools"}
    out = {"imtfusion": __version__, "python": platform.python_version(), "pysam": pysam.__version__}
    for tool in ("STAR", "hisat2", "bwa", "minimap2", "samtools"):
        if tool not in wanted:
            continue
        cmd, parse = _VERSION_COMMANDS[tool]
        if shutil.which(cmd[0]) is None:
            out[tool] = "not installed"
            continue
        try:  # bytes, not text: some tools print non-UTF-8 bytes in their usage text
            proc = subprocess.run(cmd, capture_output=True, check=False, timeout=60)
            out[tool] = parse((proc.stdout + proc.stderr).decode("utf-8", errors="replace"))
        except (OSError, subprocess.TimeoutExpired, IndexError, StopIteration):
            out[tool] = "?"
    return out


# --------------------------------------------------------------------------
# the benchmark run
# --------------------------------------------------------------------------

FUSION_TSV_COLUMNS = [
    "sample", "library", "aligner", "fasta", "fusion", "junction", "truth_breakpoint5", "truth_breakpoint3",
    "truth_fragments", "found", "exact", "called_breakpoint5", "called_breakpoint3", "split_reads",
    "discordant_pairs", "called_fragments", "confidence", "calls", "discarded", "junction_in_read",
    "junction_in_insert", *(f"bam_{c}" for c in CENSUS_CLASSES), "bam_detail", "error",
]
CALL_TSV_COLUMNS = [
    "sample", "negative", "aligner", "fasta", "fusion", "breakpoint5", "breakpoint3", "split_reads",
    "discordant_pairs", "fragments", "precision", "confidence", "true_pair", "exact", "support_origin",
]
DISCARDED_TSV_COLUMNS = [
    "sample", "negative", "aligner", "fasta", "fusion", "breakpoint5", "breakpoint3", "split_reads",
    "discordant_pairs", "fragments", "filters", "true_pair", "support_origin",
]
RUN_TSV_COLUMNS = ["sample", "aligner", "fasta", "align_seconds", "call_seconds", "calls", "discarded", "error"]
SAMPLE_TSV_COLUMNS = [
    "sample", "library", "negative", "fusions", "readthroughs", "random_chimeras", "decoy_fragments", "fragments",
]


@dataclass
class _SampleData:
    panel: PanelSample
    fastqs: tuple[Path, ...]
    truth: list[TruthFusion]
    truth_rows: list[dict[str, str]]  # rows of truth.tsv, as the simulator writes them
    origin: dict[str, str]  # fragment name -> where it was simulated from
    junction_fragments: dict[str, str]  # junction fragment name -> true fusion name
    junction_where: dict[str, Counter[str]]  # fusion -> {"read": n, "insert": n}
    n_fragments: int


@dataclass
class _RunData:
    aligner: str
    fasta: bool
    calls: list[Call] = field(default_factory=list)
    discarded: list[dict[str, object]] = field(default_factory=list)
    discarded_calls: list[tuple[Call, str]] = field(default_factory=list)  # (candidate, filters)
    align_seconds: float = 0.0
    call_seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)  # sample -> message
    not_run: str = ""


@dataclass
class AccuracyResult:
    """Everything the run produced (the table text and the paths written)."""

    table: str
    rows: list[TableRow]
    markdown: Path
    fusions_tsv: Path
    outdir: Path
    seconds: float
    versions: dict[str, str]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _origin_label(kind: str, source: str, readthroughs: set[str]) -> str:
    if kind == "transcript":
        return f"wild-type {source.rsplit('-', 1)[0]}"
    if kind == "fusion":
        return f"junction {source}"
    if kind == "fusion_body":
        return f"body {source}"
    if kind == "readthrough":
        return f"read-through {source}" if source in readthroughs else f"random chimera {source}"
    if kind == "readthrough_body":
        return f"read-through body {source}"
    return f"{kind} {source}"


def _simulate(genome: "Genome", samples: Sequence[PanelSample], seed: int, work: Path) -> list[_SampleData]:
    from imtfusion.sim.reads import simulate_sample

    out = []
    for ps in samples:
        sim = simulate_sample(genome, ps.sample_spec(genome, seed))
        fastqs = sim.write_fastqs(work / "fastq")
        sim.write_read_truth(work / "truth" / f"{ps.name}.reads.tsv")
        rts = {f"{c.gene5}::{c.gene3}" for c in ps.readthroughs}
        origin = {fr.name: _origin_label(fr.kind, fr.source, rts) for fr in sim.fragments}
        junction = {fr.name: fr.source for fr in sim.fragments if fr.kind == "fusion"}
        where: dict[str, Counter[str]] = defaultdict(Counter)
        for fr in sim.fragments:
            if fr.kind == "fusion":
                where[fr.source]["insert" if fr.junction_in == "insert" else "read"] += 1
        rows = sim.truth_rows()
        truth = [TruthFusion.from_row(r) for r in rows]
        out.append(_SampleData(ps, fastqs, truth, rows, origin, junction, where, len(sim.fragments)))
    return out


def _warm_up(aligner: str, data: _SampleData, fasta: Path, gtf: Path, work: Path, threads: int) -> float:
    """Build (or find) the aligner's index by aligning a few reads; return the seconds taken."""
    from imtfusion.sim.align import align

    warm = work / "warmup" / aligner
    warm.mkdir(parents=True, exist_ok=True)
    fastqs = []
    for fq in data.fastqs:
        lines = fq.read_text(encoding="ascii").splitlines(keepends=True)[: 4 * 200]
        target = warm / fq.name
        target.write_text("".join(lines), encoding="ascii")
        fastqs.append(target)
    t0 = time.perf_counter()
    align(aligner, fastqs, fasta, gtf, work, warm / "warmup.bam", threads=threads, sample="warmup")
    return time.perf_counter() - t0


def _to_call(sample: str, c: object, origin: Mapping[str, str]) -> Call:
    frags = c.split_fragments | c.discordant_fragments  # type: ignore[attr-defined]
    return Call(
        sample=sample,
        gene5=c.gene5.name,  # type: ignore[attr-defined]
        gene3=c.gene3.name,  # type: ignore[attr-defined]
        breakpoint5=c.end5.label(),  # type: ignore[attr-defined]
        breakpoint3=c.end3.label(),  # type: ignore[attr-defined]
        split_reads=c.split_reads,  # type: ignore[attr-defined]
        discordant_pairs=c.discordant_pairs,  # type: ignore[attr-defined]
        fragments=c.fragments,  # type: ignore[attr-defined]
        precision=c.precision,  # type: ignore[attr-defined]
        confidence=c.confidence,  # type: ignore[attr-defined]
        origin=describe_origin(frags, origin),
    )


def run_accuracy(
    outdir: Path | str,
    aligners: Sequence[str] = DEFAULT_ALIGNERS,
    threads: int = 1,
    quick: bool = False,
    seed: int = BENCH_SEED,
    with_fasta: bool = False,
    without_fasta: bool = False,
    command: str = "",
) -> AccuracyResult:
    """Simulate the panel, align it with every aligner, call, score; write OUTDIR files."""
    from imtfusion.annotation import load_annotation
    from imtfusion.outputs import write_text, write_tsv
    from imtfusion.params import CallParameters
    from imtfusion.pipeline import DISCARDED_COLUMNS, FUSION_COLUMNS, candidate_row, run_sample
    from imtfusion.sim.align import align
    from imtfusion.sim.genome import build_genome, write_fasta, write_gtf
    from imtfusion.sim.reads import write_truth_table

    t_start = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).astimezone()
    outdir = Path(outdir)
    work = outdir / "work"
    work.mkdir(parents=True, exist_ok=True)
    params = CallParameters()

    _log(f"benchmark: building the genome (seed {seed}) and simulating the panel")
    genome = build_genome(benchmark_layout(), seed)
    fasta = write_fasta(genome, work / "genome" / "genome.fa")
    gtf = write_gtf(genome, work / "genome" / "annotation.gtf")
    annotation = load_annotation(gtf)
    panel = build_panel(genome, seed, quick)
    data = _simulate(genome, panel, seed, work)
    sample_names = [d.panel.name for d in data]
    truth = [t for d in data for t in d.truth]
    write_truth_table([r for d in data for r in d.truth_rows], outdir / "truth.tsv")

    runs = {(a, f): _RunData(a, f) for a, f in planned_runs(aligners, with_fasta, without_fasta)}
    fusion_rows: list[dict[str, object]] = []
    run_rows: list[dict[str, object]] = []
    index_seconds: dict[str, float] = {}
    census: dict[tuple[str, str], dict[str, Census]] = {}
    gene_index = GeneIndex.of(genome)
    for aligner in aligners:
        modes = [f for (a, f) in runs if a == aligner]
        missing = [b for b in ALIGNER_BINARIES.get(aligner, ()) if shutil.which(b) is None]
        if missing:
            for f in modes:
                runs[(aligner, f)].not_run = f"{', '.join(missing)} not on PATH"
            _log(f"benchmark: skipping {aligner}: {', '.join(missing)} not on PATH")
            continue
        try:
            index_seconds[aligner] = _warm_up(aligner, data[0], fasta, gtf, work, threads)
        except Exception as exc:  # noqa: BLE001 - one broken aligner must not stop the others
            for f in modes:
                runs[(aligner, f)].not_run = f"index/warm-up failed: {exc}"
            _log(f"benchmark: skipping {aligner}: {exc}")
            continue
        for d in data:
            name = d.panel.name
            bam = work / "bam" / aligner / f"{name}.bam"
            t0 = time.perf_counter()
            try:
                align(aligner, d.fastqs, fasta, gtf, work, bam, threads=threads, sample=name)
                align_error = ""
            except Exception as exc:  # noqa: BLE001
                align_error = f"alignment failed: {exc}"
            align_s = time.perf_counter() - t0
            if not align_error:
                census[(name, aligner)] = junction_census(bam, d.junction_fragments, params.min_clip, gene_index)
            for f in modes:
                run = runs[(aligner, f)]
                run.align_seconds += align_s
                label = run_label(aligner, f)
                calls: list[Call] = []
                discarded_n = 0
                error = align_error
                call_s = 0.0
                if not error:
                    t1 = time.perf_counter()
                    try:
                        res = run_sample(bam, annotation, name, params=params, fasta=fasta if f else None)
                    except Exception as exc:  # noqa: BLE001 - a caller bug is a result here
                        error = f"run_sample failed: {type(exc).__name__}: {exc}"
                    else:
                        call_s = time.perf_counter() - t1
                        calls = [_to_call(name, cand, d.origin) for cand in res.called]
                        for cand in res.discarded:
                            run.discarded_calls.append((_to_call(name, cand, d.origin), ",".join(cand.filters)))
                        discarded_n = len(res.discarded)
                        tag = f"{aligner}{'' if f else '-nofasta'}"
                        write_tsv(work / "calls" / tag / f"{name}.fusions.tsv", FUSION_COLUMNS,
                                  [candidate_row(name, cand) for cand in res.called])
                        write_tsv(work / "calls" / tag / f"{name}.fusions.discarded.tsv", DISCARDED_COLUMNS,
                                  [candidate_row(name, cand) for cand in res.discarded])
                run.call_seconds += call_s
                run.calls.extend(calls)
                if error:
                    run.errors[name] = error
                    _log(f"benchmark: {label} {name}: {error}")
                run_rows.append({
                    "sample": name, "aligner": aligner, "fasta": f, "align_seconds": round(align_s, 2),
                    "call_seconds": round(call_s, 2), "calls": len(calls), "discarded": discarded_n, "error": error,
                })
                _log(f"benchmark: {label:32s} {name}: {len(calls)} call(s) "
                     f"[{', '.join(c.fusion for c in calls)}] align {align_s:.1f}s call {call_s:.1f}s")
    rows: list[TableRow] = []
    call_rows: list[dict[str, object]] = []
    discarded_rows: list[dict[str, object]] = []
    negatives = {d.panel.name for d in data if d.panel.negative}
    libraries = {d.panel.name: library_label(d.panel.library) for d in data}
    for (aligner, f), run in runs.items():
        label = run_label(aligner, f)
        if run.not_run:
            rows.append(TableRow(label, None, note=f"not run: {run.not_run}", aligner=aligner, fasta=f))
            continue
        metrics = compute_metrics(truth, run.calls, sample_names)
        note = f"{len(run.errors)} of {len(data)} samples failed (see runs.tsv)" if run.errors else ""
        rows.append(TableRow(label, metrics, run.align_seconds, run.call_seconds, note, aligner, f))
        outcomes, flagged = match_calls(truth, run.calls)
        truth_of = {(t.sample, t.gene5, t.gene3): t for t in truth}
        for c, ok in flagged:
            t = truth_of.get((c.sample, c.gene5, c.gene3))
            call_rows.append({
                "sample": c.sample, "negative": c.sample in negatives, "aligner": aligner, "fasta": f,
                "fusion": c.fusion, "breakpoint5": c.breakpoint5, "breakpoint3": c.breakpoint3,
                "split_reads": c.split_reads, "discordant_pairs": c.discordant_pairs, "fragments": c.fragments,
                "precision": c.precision, "confidence": c.confidence, "true_pair": ok,
                "exact": c.exact_for(t) if t else None, "support_origin": c.origin,
            })
        for c, filters in run.discarded_calls:
            discarded_rows.append({
                "sample": c.sample, "negative": c.sample in negatives, "aligner": aligner, "fasta": f,
                "fusion": c.fusion, "breakpoint5": c.breakpoint5, "breakpoint3": c.breakpoint3,
                "split_reads": c.split_reads, "discordant_pairs": c.discordant_pairs, "fragments": c.fragments,
                "filters": filters, "true_pair": (c.sample, c.gene5, c.gene3) in truth_of,
                "support_origin": c.origin,
            })
        for o in outcomes:
            t = o.truth
            d = next(x for x in data if x.panel.name == t.sample)
            cen = census.get((t.sample, aligner), {}).get(t.fusion, Census())
            related = [
                f"{flt} {c.breakpoint5}>{c.breakpoint3} {c.split_reads}s/{c.discordant_pairs}d"
                for c, flt in run.discarded_calls
                if c.sample == t.sample and {c.gene5, c.gene3} == {t.gene5, t.gene3}
            ]
            fusion_rows.append({
                "sample": t.sample, "library": libraries[t.sample], "aligner": aligner, "fasta": f,
                "fusion": t.fusion, "junction": t.junction, "truth_breakpoint5": t.breakpoint5,
                "truth_breakpoint3": t.breakpoint3, "truth_fragments": t.fragments, "found": o.found,
                "exact": o.exact if o.found else None,
                "called_breakpoint5": o.call.breakpoint5 if o.call else None,
                "called_breakpoint3": o.call.breakpoint3 if o.call else None,
                "split_reads": o.call.split_reads if o.call else None,
                "discordant_pairs": o.call.discordant_pairs if o.call else None,
                "called_fragments": o.call.fragments if o.call else None,
                "confidence": o.call.confidence if o.call else None, "calls": o.n_calls,
                "discarded": "; ".join(related), "junction_in_read": d.junction_where[t.fusion]["read"],
                "junction_in_insert": d.junction_where[t.fusion]["insert"],
                **{f"bam_{k}": cen.classes[k] for k in CENSUS_CLASSES}, "bam_detail": cen.describe(),
                "error": run.errors.get(t.sample, ""),
            })

    table = markdown_table(rows)
    versions = tool_versions([a for a in aligners])
    seconds = time.perf_counter() - t_start
    fusions_tsv = outdir / "fusions.tsv"
    write_tsv(fusions_tsv, FUSION_TSV_COLUMNS, fusion_rows)
    write_tsv(outdir / "calls.tsv", CALL_TSV_COLUMNS, call_rows)
    write_tsv(outdir / "discarded.tsv", DISCARDED_TSV_COLUMNS, discarded_rows)
    write_tsv(outdir / "runs.tsv", RUN_TSV_COLUMNS, run_rows)
    write_tsv(outdir / "samples.tsv", SAMPLE_TSV_COLUMNS, [
        {
            "sample": d.panel.name, "library": libraries[d.panel.name], "negative": d.panel.negative,
            "fusions": ", ".join(_spec_text(c) for c in d.panel.fusions),
            "readthroughs": ", ".join(_spec_text(c) for c in d.panel.readthroughs),
            "random_chimeras": ", ".join(f"{c.gene5}:{c.exon5}::{c.gene3}:{c.exon3}" for c in d.panel.noise),
            "decoy_fragments": d.panel.decoy_fragments, "fragments": d.n_fragments,
        }
        for d in data
    ])
    markdown = outdir / "accuracy.md"
    write_text(markdown, _markdown_report(
        table, command, started, seconds, versions, index_seconds, data, rows, fusion_rows, call_rows, quick, seed,
    ))
    return AccuracyResult(table, rows, markdown, fusions_tsv, outdir, seconds, versions)


def _spec_text(c: "ChimeraSpec") -> str:
    off = f" (offsets {c.offset5:+d}/{c.offset3:+d})" if c.offset5 or c.offset3 else ""
    return f"{c.gene5}:{c.exon5}::{c.gene3}:{c.exon3} x{c.fragments}{off}"


def _markdown_report(
    table: str,
    command: str,
    started: _dt.datetime,
    seconds: float,
    versions: Mapping[str, str],
    index_seconds: Mapping[str, float],
    data: Sequence[_SampleData],
    rows: Sequence[TableRow],
    fusion_rows: Sequence[Mapping[str, object]],
    call_rows: Sequence[Mapping[str, object]],
    quick: bool,
    seed: int,
) -> str:
    n_truth = sum(len(d.truth) for d in data)
    n_neg = sum(d.panel.negative for d in data)
    lines = [
        "# imtfusion accuracy benchmark" + (" (quick)" if quick else ""),
        "",
        f"- command: `{command or 'imtfusion benchmark accuracy'}`",
        f"- date: {started.strftime('%Y-%m-%d %H:%M %Z')}; wall time {seconds:.0f} s",
        f"- panel: {len(data)} samples ({len(data) - n_neg} with {n_truth} true fusions, {n_neg} negative), seed {seed}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "- index build/warm-up (s, not in the table): "
        + (", ".join(f"{k} {v:.1f}" for k, v in index_seconds.items()) or "none"),
        "",
        table,
        "## Misses, inexact breakpoints and false calls",
        "",
        "For a missed fusion, where its junction fragments went in the BAM: chimeric (SA tag or "
        "supplementary record), clipped (soft clip >= min_clip), discordant (the two reads on different contigs or "
        f"> {CENSUS_MATE_DISTANCE:,} bp apart, with or without pairing flags), mate_unmapped, unmapped or plain "
        "(aligned without any of these), "
        "with the genes the fragment's records touch (~GENE: near GENE); 'junction in insert' fragments of "
        "single-end libraries have no read across the junction at all.",
        "",
    ]
    for r in rows:
        if r.metrics is None:
            continue
        aligner, fasta = r.aligner, r.fasta
        mine = [f for f in fusion_rows if f["aligner"] == aligner and f["fasta"] == fasta]
        falses = [c for c in call_rows if c["aligner"] == aligner and c["fasta"] == fasta and not c["true_pair"]]
        lines.append(f"### {r.label}")
        lines.append("")
        items = []
        for f in mine:
            cen = f["bam_detail"]
            where = f"junction in read {f['junction_in_read']}, in insert {f['junction_in_insert']}"
            if not f["found"]:
                disc = f"; discarded: {f['discarded']}" if f["discarded"] else "; no candidate"
                err = f"; error: {f['error']}" if f["error"] else ""
                items.append(
                    f"- missed {f['sample']} {f['fusion']} ({f['truth_fragments']} frags, {f['library']}, "
                    f"{f['junction']}; {where}; BAM: {cen or 'nothing'}{disc}{err})"
                )
        truth_bp = {(f["sample"], f["fusion"]): (f["truth_breakpoint5"], f["truth_breakpoint3"], f["junction"]) for f in mine}
        for c in call_rows:
            if c["aligner"] != aligner or c["fasta"] != fasta or not c["true_pair"] or c["exact"]:
                continue
            if not int(c["split_reads"]):  # type: ignore[call-overload]
                continue
            bp5, bp3, junction = truth_bp[(c["sample"], c["fusion"])]
            items.append(
                f"- inexact {c['sample']} {c['fusion']}: called {c['breakpoint5']} {c['breakpoint3']}, "
                f"truth {bp5} {bp3} ({junction}; {c['split_reads']} split, {c['discordant_pairs']} discordant)"
            )
        for c in falses:
            items.append(
                f"- false call {c['sample']} {c['fusion']} {c['breakpoint5']} {c['breakpoint3']} "
                f"({c['split_reads']} split, {c['discordant_pairs']} discordant; {c['confidence']}; "
                f"support: {c['support_origin']})"
            )
        lines.extend(items or ["- none"])
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``imtfusion benchmark accuracy``."""
    from imtfusion.sim.align import ALIGNERS

    parser.add_argument("--outdir", required=True, help="results folder (tables, accuracy.md) with work/ inside")
    parser.add_argument("--threads", type=int, default=1, help="aligner threads (default: 1)")
    parser.add_argument(
        "--aligners", nargs="+", choices=list(ALIGNERS), default=list(DEFAULT_ALIGNERS), metavar="ALIGNER",
        help=f"aligner modes to run (default: {' '.join(DEFAULT_ALIGNERS)}; choices: {', '.join(ALIGNERS)})",
    )
    parser.add_argument("--quick", action="store_true", help="two samples only (one positive, one negative): a smoke test")
    parser.add_argument("--seed", type=int, default=BENCH_SEED, help=f"seed of genome and reads (default: {BENCH_SEED})")
    parser.add_argument(
        "--with-fasta", action="store_true",
        help="call with the FASTA, for every aligner (default without either flag: with FASTA for all, and "
        f"without FASTA also for {' and '.join(NO_FASTA_DEFAULT)})",
    )
    parser.add_argument("--without-fasta", action="store_true", help="call without the FASTA, for every aligner")


def command_line(outdir: str, aligners: Sequence[str], threads: int, quick: bool, seed: int,
                 with_fasta: bool, without_fasta: bool) -> str:
    """The command that reproduces a run (all options spelled out), for the report."""
    words = ["imtfusion", "benchmark", "accuracy", "--outdir", str(outdir), "--threads", str(threads),
             "--aligners", *aligners, "--seed", str(seed)]
    words += ["--quick"] * quick + ["--with-fasta"] * with_fasta + ["--without-fasta"] * without_fasta
    return " ".join(shlex.quote(w) for w in words)


def main(args: argparse.Namespace) -> None:
    """Run the accuracy benchmark; the table goes to stdout, progress to stderr."""
    from imtfusion.errors import ConfigError

    if args.threads < 1:
        raise ConfigError("--threads must be at least 1")
    aligners = list(dict.fromkeys(args.aligners))
    command = command_line(args.outdir, aligners, args.threads, args.quick, args.seed, args.with_fasta, args.without_fasta)
    result = run_accuracy(
        args.outdir, aligners, threads=args.threads, quick=args.quick, seed=args.seed,
        with_fasta=args.with_fasta, without_fasta=args.without_fasta, command=command,
    )
    sys.stdout.write(result.table)
    sys.stdout.flush()
    _log(f"benchmark: {result.seconds:.0f} s; wrote {result.markdown} and {result.fusions_tsv} "
         f"(also calls.tsv, discarded.tsv, runs.tsv, truth.tsv, samples.tsv) in {result.outdir}")
