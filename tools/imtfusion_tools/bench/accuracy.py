"""Accuracy of imtfusion per aligner on a simulated panel with known truth.

  imtfusion benchmark accuracy --outdir DIR [--threads N] [--aligners A ...] [--quick] [--seed N]
                               [--with-fasta] [--without-fasta]

One synthetic genome (the demo genome plus the decoys of issue #15: the ALK
paralog ALKP1, the spliced ALK paralog ALKP2, the processed ALK pseudogene
ALKP3, the processed TPM3 pseudogene TPM3P1, and a G-rich stretch) and a
panel of samples are simulated from a seed: positive samples with two or three
fusions each (many partners of ALK, ROS1, ETV6 and NTRK3, both gene strands,
2 to 300 junction fragments, breakpoints at splice sites, inside exons and in
an intron, isoforms and fused pre-mRNA of some), negative samples with only
look-alikes (the ETV6->BCL2L14 read-through, the expressed decoys, a
promiscuous ALK intron 19 breakpoint, poly-G mates, single-fragment chimeras
between random genes), and libraries 2x100, 2x75 FFPE-like, 1x75, stranded and
unstranded.  Every sample is aligned with each aligner and called with and
without the FASTA.

A true fusion is found when a call has its gene pair in 5'->3' order; one call
represents it, any further call of the pair is a duplicate (false for
precision); a call is false when no true fusion of its sample has its gene
pair.  The table (stdout and OUTDIR/accuracy.md) gives per aligner: recall,
recall at >= 5 and at 2-4 junction fragments, precision, the exact-breakpoint
rate of representing calls with split-read evidence, calls in negative samples
(in all and per sample), duplicate calls, and wall time.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

if TYPE_CHECKING:  # the simulator is imported when a benchmark runs, not for `imtfusion --help`
    from imtfusion_tools.sim.genome import DecoySpec, Genome, GenomeLayout, RepeatSpec
    from imtfusion_tools.sim.reads import ChimeraSpec, LibrarySpec, PolyGSpec, SampleSpec

#: Aligner modes run by default (the keys of :data:`imtfusion_tools.sim.align.ALIGNERS`).
DEFAULT_ALIGNERS: tuple[str, ...] = ("star_chimeric", "star_default", "hisat2", "bwa_mem", "minimap2_splice")

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
#: one with LOW_SUPPORT[0]..LOW_SUPPORT[1] is low-support (the two classes do not overlap;
#: until the decoy panel the low class was "<= 5").
HIGH_SUPPORT = 5
LOW_SUPPORT = (2, 4)

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
    """One true fusion event of one sample: its main junction (a row of ``truth.tsv``).

    ``other_junctions`` are further true junctions of the same event, as
    (label, breakpoint5, breakpoint3): isoforms and the fused pre-mRNA's DNA
    junction.  They tell what a duplicate call is; a call at one of them is
    still not *exact* (exact = the main junction's breakpoints).
    """

    sample: str
    gene5: str
    gene3: str
    breakpoint5: str  # 1-based chr:pos
    breakpoint3: str
    fragments: int  # simulated junction fragments of the main junction
    junction: str = "splice_site"
    other_junctions: tuple[tuple[str, str, str], ...] = ()

    @property
    def fusion(self) -> str:
        return f"{self.gene5}::{self.gene3}"

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> "TruthFusion":
        return cls(
            row["sample"], row["gene5"], row["gene3"], row["breakpoint5"], row["breakpoint3"],
            int(row["fragments"]), row.get("junction", "splice_site"),
        )

    def junction_of(self, call: "Call") -> str:
        """Which true junction of this event a call of its gene pair sits at."""
        if call.exact_for(self):
            return "main"
        for label, bp5, bp3 in self.other_junctions:
            if (call.breakpoint5, call.breakpoint3) == (bp5, bp3):
                return label
        d5, d3 = _distance(call.breakpoint5, self.breakpoint5), _distance(call.breakpoint3, self.breakpoint3)
        if d5 is not None and d3 is not None and d5 + d3 <= 20:
            return f"near main ({d5}/{d3} bp off)"
        return "other" if call.split_reads else "other (mates only)"


def _distance(a: str, b: str) -> int | None:
    ca, _, pa = a.rpartition(":")
    cb, _, pb = b.rpartition(":")
    try:
        return abs(int(pa) - int(pb)) if ca == cb else None
    except ValueError:
        return None


def truth_events(rows: Sequence[Mapping[str, str]]) -> list[TruthFusion]:
    """True fusion events from truth rows: one per main junction, isoform and DNA junctions attached.

    Rows without the extended columns (plain ``truth.tsv``) are one event each.
    """
    mains: list[dict[str, object]] = []
    index: dict[tuple[str, str], int] = {}
    for r in rows:
        if r.get("isoform_of", ".") in (".", ""):
            others: list[tuple[str, str, str]] = []
            if r.get("dna_breakpoint5", ".") not in (".", ""):
                others.append(("pre-mRNA DNA junction", r["dna_breakpoint5"], r["dna_breakpoint3"]))
            index[(r["sample"], r.get("isoform", "") or f"#{len(mains)}")] = len(mains)
            mains.append({"row": r, "others": others})
    for r in rows:
        if r.get("isoform_of", ".") not in (".", ""):
            m = mains[index[(r["sample"], r["isoform_of"])]]
            m["others"].append((f"isoform {r['isoform']}", r["breakpoint5"], r["breakpoint3"]))  # type: ignore[attr-defined]
    out = []
    for m in mains:
        t = TruthFusion.from_row(m["row"])  # type: ignore[arg-type]
        out.append(replace(t, other_junctions=tuple(m["others"])))  # type: ignore[arg-type]
    return out


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
    molecules: int = 0  # fragments less PCR duplicates (UMI families with UMIs)

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
    n_calls: int = 0  # calls with the fusion's gene pair in its sample (n_calls - 1 are duplicates)

    @property
    def duplicates(self) -> int:
        return max(0, self.n_calls - 1)

    @property
    def found(self) -> bool:
        return self.call is not None

    @property
    def exact(self) -> bool:
        return self.call is not None and self.call.exact_for(self.truth)


def _pair(sample: str, gene5: str, gene3: str) -> tuple[str, str, str]:
    return (sample, gene5, gene3)


#: Verdicts of a call.
TRUE, DUPLICATE, FALSE = "true", "duplicate", "false"


def match_calls(
    truth: Sequence[TruthFusion], calls: Sequence[Call]
) -> tuple[list[FusionOutcome], list[tuple[Call, str]]]:
    """Match calls to true fusion events by (sample, 5' gene, 3' gene).

    Returns one outcome per true fusion (in ``truth`` order) and every call
    with its verdict: ``true`` for the one call that represents a true fusion
    (the exact one if present, else the one with most fragments), ``duplicate``
    for any further call of the same event (a second junction, an isoform, the
    pre-mRNA's DNA junction: a caller must report one fusion once), ``false``
    for a call of a gene pair that is no true fusion of its sample (reversed
    pairs, pseudogene or paralog partners included).
    """
    by_pair: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, c in enumerate(calls):
        by_pair[_pair(c.sample, c.gene5, c.gene3)].append(i)
    verdict = [FALSE] * len(calls)
    outcomes = []
    for t in truth:
        hits = [i for i in by_pair.get(_pair(t.sample, t.gene5, t.gene3), []) if verdict[i] == FALSE]
        best = max(hits, key=lambda i: (calls[i].exact_for(t), calls[i].fragments, calls[i].split_reads, -i),
                   default=None)
        for i in hits:
            verdict[i] = TRUE if i == best else DUPLICATE
        outcomes.append(FusionOutcome(t, calls[best] if best is not None else None, len(hits)))
    return outcomes, [(c, verdict[i]) for i, c in enumerate(calls)]


@dataclass(frozen=True)
class Metrics:
    """The numbers of one table row."""

    recall: Fraction
    recall_high: Fraction  # fusions with >= HIGH_SUPPORT junction fragments
    recall_low: Fraction  # fusions with LOW_SUPPORT[0]..LOW_SUPPORT[1] junction fragments
    precision: Fraction  # calls representing a true fusion (one per fusion) / all calls
    exact: Fraction  # representative calls with split reads whose both breakpoints equal the main junction
    negative_calls: int  # calls in samples without any true fusion (all false)
    false_calls: int  # all calls not representing a true fusion (duplicates included)
    duplicates: int = 0  # further calls of a true fusion already represented
    negative_samples: int = 0
    recall_panel: Fraction | None = None  # targeted panels: fusions with >= PANEL_SUPPORT junction molecules
    molecules_close: Fraction | None = None  # panels: found fusions whose molecule count is within 10% of the truth

    @property
    def negative_rate(self) -> str:
        """False calls per negative sample, e.g. ``0.45`` (``–`` without negative samples)."""
        return f"{self.negative_calls / self.negative_samples:.2f}" if self.negative_samples else "–"


PANEL_SUPPORT = 3  # targeted panels: recall counted at >= this many junction molecules (issue #17)
MOLECULE_TOLERANCE = 0.10  # a call's molecule count this close to the simulated one is right


def compute_metrics(truth: Sequence[TruthFusion], calls: Sequence[Call], samples: Iterable[str],
                    panel: bool = False) -> Metrics:
    """Metrics of one run (one aligner and FASTA mode) over all ``samples``.

    Samples absent from ``truth`` are negative; calls of samples not listed are
    ignored (so a caller bug cannot inflate precision with foreign samples).
    ``panel``: also the targeted-panel figures (recall at >= ``PANEL_SUPPORT``
    molecules; molecule counts within ``MOLECULE_TOLERANCE`` of the simulated).
    """
    samples = set(samples)
    truth = [t for t in truth if t.sample in samples]
    calls = [c for c in calls if c.sample in samples]
    negatives = samples - {t.sample for t in truth}
    outcomes, flagged = match_calls(truth, calls)

    def recall(selected: list[FusionOutcome]) -> Fraction:
        return Fraction(sum(o.found for o in selected), len(selected))

    represented = [o for o in outcomes if o.call is not None]
    with_reads = [o for o in represented if o.call.has_junction_reads]  # type: ignore[union-attr]
    exact = sum(o.exact for o in with_reads)
    n_true = sum(v == TRUE for _, v in flagged)
    return Metrics(
        recall=recall(outcomes),
        recall_high=recall([o for o in outcomes if o.truth.fragments >= HIGH_SUPPORT]),
        recall_low=recall([o for o in outcomes if LOW_SUPPORT[0] <= o.truth.fragments <= LOW_SUPPORT[1]]),
        precision=Fraction(n_true, len(calls)),
        exact=Fraction(exact, len(with_reads)),
        negative_calls=sum(c.sample in negatives for c in calls),
        false_calls=len(calls) - n_true,
        duplicates=sum(v == DUPLICATE for _, v in flagged),
        negative_samples=len(negatives),
        recall_panel=recall([o for o in outcomes if o.truth.fragments >= PANEL_SUPPORT]) if panel else None,
        molecules_close=Fraction(
            sum(abs(o.call.molecules - o.truth.fragments) <= MOLECULE_TOLERANCE * o.truth.fragments  # type: ignore[union-attr]
                for o in represented), len(represented)) if panel else None,
    )


TABLE_HEADER: tuple[str, ...] = (
    "aligner",
    "recall",
    f"recall ≥{HIGH_SUPPORT} frags",
    f"recall {LOW_SUPPORT[0]}-{LOW_SUPPORT[1]} frags",
    "precision",
    "exact breakpoints",
    "FP in negatives",
    "FP per negative sample",
    "duplicate calls",
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


#: What the columns mean (printed under the table in accuracy.md).
TABLE_LEGEND = (
    f"*recall ≥{HIGH_SUPPORT} frags* / *recall {LOW_SUPPORT[0]}-{LOW_SUPPORT[1]} frags*: fusions with at least "
    f"{HIGH_SUPPORT} / with {LOW_SUPPORT[0]} to {LOW_SUPPORT[1]} simulated junction fragments of the main junction "
    "(the second column replaces the former *recall ≤5 frags*, which overlapped the first); "
    "*precision*: calls that represent a true fusion (one per sample and ordered gene pair) / all calls; "
    "*exact breakpoints*: both breakpoints equal to the main junction's, among the representing calls with split-read "
    "or clip evidence; *FP in negatives*: calls in the samples without a fusion; *FP per negative sample*: the same "
    "divided by their number; *duplicate calls*: further calls of a fusion already represented (an isoform, the "
    "pre-mRNA's DNA junction, a shifted junction), counted as false in precision. Calls naming a pseudogene or "
    "paralog (e.g. TPM3P1::ALK, ALKP2::ALK) are false."
)


PANEL_HEADER: tuple[str, ...] = (f"recall ≥{PANEL_SUPPORT} molecules", "molecules within 10%")


def markdown_table(rows: Sequence[TableRow]) -> str:
    """The summary table as GitHub markdown (one line per row, header first); runs of a
    targeted panel add the panel columns."""
    panel = any(r.metrics is not None and r.metrics.recall_panel is not None for r in rows)
    header = TABLE_HEADER + (PANEL_HEADER if panel else ())
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for r in rows:
        label = r.label + (" *" if r.note else "")
        if r.metrics is None:
            cells = [label] + ["not run"] + ["–"] * (len(header) - 2)
        else:
            m = r.metrics
            cells = [
                label, str(m.recall), str(m.recall_high), str(m.recall_low), str(m.precision), str(m.exact),
                str(m.negative_calls), m.negative_rate, str(m.duplicates),
                f"{r.align_seconds:.1f}", f"{r.call_seconds:.1f}",
            ]
            if panel:
                cells += [str(m.recall_panel or "–"), str(m.molecules_close or "–")]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"\\* {r.label}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def run_label(aligner: str, fasta: bool) -> str:
    return aligner if fasta else f"{aligner} without FASTA"


def planned_runs(
    aligners: Sequence[str], with_fasta: bool = False, without_fasta: bool = False
) -> list[tuple[str, bool]]:
    """(aligner, use FASTA) pairs in table order.

    Neither flag: every aligner with the FASTA, then every aligner without it.
    Otherwise the flags choose the modes, each for every aligner.
    """
    if not with_fasta and not without_fasta:
        return [(a, True) for a in aligners] + [(a, False) for a in aligners]
    runs = [(a, True) for a in aligners] if with_fasta else []
    return runs + ([(a, False) for a in aligners] if without_fasta else [])


# --------------------------------------------------------------------------
# the simulated panel
# --------------------------------------------------------------------------


def decoy_spec() -> "DecoySpec":
    """ALKP1: a 2%-divergent copy of ALK exons 18-25 (around the fusion breakpoints) on chr7."""
    from imtfusion_tools.sim.genome import DecoySpec

    return DecoySpec("ALKP1", "ALK", 18, 25, 0.02, "chr7", strand="-", gap_before=30_000)


#: Identity of the decoys of issue #15 to their source outside their unmutated stretch.
DECOY_DIVERGENCE = 0.08
#: Length of the unmutated stretch of those decoys.
IDENTICAL_STRETCH = 70


def decoy_specs(layout: "GenomeLayout | None" = None) -> tuple["DecoySpec", ...]:
    """All decoys of the benchmark genome: ALKP1 and the three of issue #15 (item 5).

    * ``ALKP2``: a transcribed, spliced (unprocessed) paralog of ALK's last ten exons
      (20-29) at 92% identity on chr3 (+ strand), whose second exon (the copy of ALK
      exon 21) begins with 70 bases copied without a mutation; its first intron is 12 kb,
      so its first exon is out of reach of a +-5 kb neighbourhood search.
    * ``ALKP3``: a processed pseudogene on chr19 (- strand): the same ALK exons as one
      intronless exon at 92% identity, unmutated over the 70 bases around the ALK exon
      22/23 junction (35 + 35).
    * ``TPM3P1``: a processed pseudogene of TPM3 exons 1-7 (the part kept in TPM3::ALK)
      on chr7 (+ strand) at 92% identity, unmutated over its last 70 bases, which end
      exactly where TPM3 exon 7 ends: at the TPM3::ALK junction.
    """
    from imtfusion_tools.sim.genome import DecoySpec, default_layout

    layout = layout or default_layout()
    n_alk = layout.gene_spec("ALK").n_exons
    first = max(1, n_alk - 9)
    div, k = DECOY_DIVERGENCE, IDENTICAL_STRETCH
    return (
        decoy_spec(),
        DecoySpec("ALKP2", "ALK", first, n_alk, div, "chr3", strand="+", gap_before=30_000,
                  gene_type="transcribed_unprocessed_pseudogene", identical_exon=first + 1, identical_after=k,
                  intron_lengths=((1, 12_000),)),
        DecoySpec("ALKP3", "ALK", first, n_alk, div, "chr19", strand="-", gap_before=30_000,
                  gene_type="processed_pseudogene", processed=True, identical_exon=first + 3,
                  identical_before=k // 2, identical_after=k - k // 2),
        DecoySpec("TPM3P1", "TPM3", 1, 7, div, "chr7", strand="+", gap_before=30_000,
                  gene_type="processed_pseudogene", processed=True, identical_exon=8, identical_before=k),
    )


def polyg_repeat() -> "RepeatSpec":
    """POLYG1: 400 bases of G with isolated interruptions (4%), 20 kb past MYL6 on chr12, unannotated."""
    from imtfusion_tools.sim.genome import RepeatSpec

    return RepeatSpec("POLYG1", "chr12", length=400, base="G", interruptions=0.04, gap_before=20_000)


def benchmark_layout() -> "GenomeLayout":
    """The demo layout plus the decoys of :func:`decoy_specs` and the G-rich stretch.

    Decoys and the stretch sit after the genes of their contigs, so every gene keeps
    its demo coordinates.
    """
    from imtfusion_tools.sim.genome import default_layout

    layout = default_layout()
    for d in decoy_specs(layout):
        layout = layout.with_decoy(d)
    return layout.with_repeat(polyg_repeat())


def library_label(lib: "LibrarySpec") -> str:
    """Short description of a library, e.g. ``2x75 FFPE unstranded`` (``… amp UMI 70% dup``)."""
    ffpe = " FFPE" if lib.fragment_mean < 200 else ""
    panel = f" {lib.protocol}" if lib.protocol != "wts" else ""
    umi = f" UMI {lib.duplicate_fraction:.0%} dup" if lib.umi_length else ""
    return f"{2 if lib.paired else 1}x{lib.read_length}{ffpe} {lib.strandedness}{panel}{umi}"


@dataclass(frozen=True)
class PanelSample:
    """One benchmark sample: what is simulated, kept apart by role for the reports."""

    name: str
    library: "LibrarySpec"
    fusions: tuple["ChimeraSpec", ...] = ()
    readthroughs: tuple["ChimeraSpec", ...] = ()
    noise: tuple["ChimeraSpec", ...] = ()  # single-fragment chimeras between random genes
    decoy_fragments: int = 0  # ALKP1
    pseudogenes: tuple[tuple[str, int], ...] = ()  # (other decoy gene, fragments)
    artefacts: tuple["ChimeraSpec", ...] = ()  # the promiscuous breakpoint's junctions
    polyg: tuple["PolyGSpec", ...] = ()  # pairs with a poly-G mate
    misprimed: tuple["MisprimingSpec", ...] = ()  # anchored multiplex PCR: a target primer primed on other RNA
    copy_chimeras: tuple["ChimeraSpec", ...] = ()  # a partner joined to a target's paralog (COPY_CHIMERA)

    @property
    def negative(self) -> bool:
        return not self.fusions

    def sample_spec(self, genome: "Genome", seed: int) -> "SampleSpec":
        from imtfusion_tools.sim.reads import SampleSpec, default_expression

        expression = default_expression(genome, seed, self.name)
        if self.decoy_fragments:
            expression += ((genome.gene(decoy_spec().name).canonical.name, self.decoy_fragments),)
        # the decoys of issue #15 come last, so every other fragment is as in the panel before them
        extra = tuple((genome.gene(g).canonical.name, n) for g, n in self.pseudogenes if n)
        return SampleSpec(
            self.name, seed, self.library, fusions=self.fusions,
            readthroughs=self.readthroughs + self.noise, expression=expression,
            artefacts=self.artefacts, polyg=self.polyg, extra_expression=extra, misprimed=self.misprimed,
            copy_chimeras=self.copy_chimeras,
        )


def _chim(gene5: str, exon5: int, gene3: str, exon3: int, fragments: int, offset5: int = 0, offset3: int = 0,
          body: bool = True, premrna: int = 0, isoforms: tuple["ChimeraSpec", ...] = ()) -> "ChimeraSpec":
    from imtfusion_tools.sim.reads import ChimeraSpec

    return ChimeraSpec(gene5, exon5, gene3, exon3, fragments, offset5, offset3,
                       body_fragments=BODY_RATIO * fragments if body else 0,
                       premrna_fragments=premrna, isoforms=isoforms)


#: The promiscuous artefact breakpoint: this fraction into ALK intron 19 (the intron of the
#: real ALK fusion breakpoints), joined to PROMISCUOUS_PARTNERS genes per sample with
#: 3-9 junction fragments each, whose ALK side is 12-16 bases.
PROMISCUOUS_GENE, PROMISCUOUS_EXON, PROMISCUOUS_FRACTION = "ALK", 20, 0.4
PROMISCUOUS_PARTNERS = 6
PROMISCUOUS_ANCHOR = (12, 16)


def promiscuous_offset(genome: "Genome") -> int:
    """Bases of ALK intron 19 kept before ALK exon 20 at the promiscuous breakpoint."""
    tx = genome.gene(PROMISCUOUS_GENE).canonical
    a, b = tx.exon(PROMISCUOUS_EXON - 1), tx.exon(PROMISCUOUS_EXON)
    intron = (b.start - a.end - 1) if tx.strand == "+" else (a.start - b.end - 1)
    return round(PROMISCUOUS_FRACTION * intron)


def promiscuous_artefacts(
    genome: "Genome", seed: int, sample: str, avoid: Iterable[str] = ()
) -> tuple["ChimeraSpec", ...]:
    """Six junctions of the promiscuous ALK intron 19 position, each from a different gene.

    Every partner (a random non-target protein-coding gene, none in ``avoid``) is
    the 5' side, cut at the end of a random exon; the ALK side of every junction
    fragment is 12-16 bases, all starting with the same bases of ALK intron 19.
    """
    from imtfusion_tools.sim.genome import DESIGNED_FUSIONS, TARGET_GENES, sub_rng
    from imtfusion_tools.sim.reads import ChimeraSpec

    rng = sub_rng(seed, "bench-promiscuous", sample)
    skip = set(TARGET_GENES) | {f[0] for f in DESIGNED_FUSIONS} | set(avoid) | {"BCL2L14"}
    pool = [g for g in genome.genes if g.gene_type == "protein_coding" and g.name not in skip]
    partners = rng.sample(pool, PROMISCUOUS_PARTNERS)
    off = promiscuous_offset(genome)
    return tuple(
        ChimeraSpec(g.name, rng.randint(1, len(g.canonical.exons) - 1), PROMISCUOUS_GENE, PROMISCUOUS_EXON,
                    rng.randint(3, 9), offset3=off, anchor3=PROMISCUOUS_ANCHOR)
        for g in partners
    )


def polyg_pairs(genome: "Genome", seed: int, sample: str, total: int) -> tuple["PolyGSpec", ...]:
    """``total`` pairs with a read in ALK or ROS1 exons and a poly-G mate (read 2, sometimes read 1)."""
    from imtfusion_tools.sim.genome import sub_rng
    from imtfusion_tools.sim.reads import PolyGSpec

    if not total:
        return ()
    rng = sub_rng(seed, "bench-polyg", sample)
    n_alk = rng.randint((total + 1) // 2, total)
    return tuple(
        PolyGSpec(genome.gene(g).canonical.name, n, non_g=3, mate="either" if rng.random() < 0.3 else "read2")
        for g, n in (("ALK", n_alk), ("ROS1", total - n_alk)) if n
    )


def random_chimeras(
    genome: "Genome", seed: int, sample: str, n: int, avoid: Iterable[tuple[str, str]] = ()
) -> tuple["ChimeraSpec", ...]:
    """``n`` single-fragment chimeras between random protein-coding genes (every other
    one involves a target), with distinct gene pairs, none in ``avoid`` (either order)."""
    from imtfusion_tools.sim.genome import TARGET_GENES, sub_rng
    from imtfusion_tools.sim.reads import ChimeraSpec

    rng = sub_rng(seed, "bench-noise", sample)
    genes = [g for g in genome.genes if g.gene_type == "protein_coding"]
    targets = [g for g in genes if g.name in TARGET_GENES]
    taken = {frozenset(p) for p in avoid}
    out: list[ChimeraSpec] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 1000 * (n + 1):
            raise ValueError(f"{n} random chimeras of distinct gene pairs (half with a target) do not fit this genome")
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


#: A chimera of a target's paralog: EML4 exon 13 joined to ALKP2's copy of ALK exon 20 (92%
#: identical, no long identical stretch), 30 junction fragments, in the negatives with every
#: look-alike. An aligner places its reads on ALKP2; those it leaves unmapped, the unmapped-read
#: scan would place on ALK exon 20 (a 20-base match at a read's end, extended past lone
#: mismatches) as EML4::ALK junction reads, unless it compares them with the copy
#: (imtfusion.copies: better there, so a mismapping at ALK).
COPY_CHIMERA = ("EML4", 13, "ALKP2", 1, 30)
COPY_CHIMERA_SAMPLES = ("BN07", "BN08", "BN09", "BN10", "BN11")


def build_panel(genome: "Genome", seed: int = BENCH_SEED, quick: bool = False) -> tuple[PanelSample, ...]:
    """The benchmark samples (``quick``: one positive and one negative sample).

    Supports 2, 3, 5, 8, 15, 40, 100 and 300 junction fragments; exonic
    breakpoints (CLTC exon 31 loses 24 bases, ROS1 exon 34 loses 13, ETV6
    exon 5 loses 11 while NTRK3 exon 15 loses 4), an intronic one (EML4::ALK keeps 53 bases of ALK intron 19); novel
    partners DES (5', + strand), EEF1A1 (5', - strand, ETV6 on + as the 3'
    gene) and CALR (3', + strand); every sample also carries single-fragment
    random chimeras and expresses the decoys (ALKP1, ALKP2, ALKP3, TPM3P1: 60
    fragments each in positives, hundreds in negatives).  Each positive sample has at
    most one fusion per target gene, except BP12 (EML4::ALK with 100 and
    TPM3::ALK with 8 fragments joined to the same ALK base: a minor clone).

    Issue #15's decoys: BP01 TPM3::ALK also has fused pre-mRNA fragments and a
    TPM3 exon 6 isoform, BP02 CLTC::ALK a near isoform (ALK acceptor 11 bases
    into exon 20), BP10 TFG::ROS1 pre-mRNA fragments, BP12 EML4::ALK an EML4
    exon 6 isoform and pre-mRNA fragments; the promiscuous ALK intron 19
    breakpoint is in 3 positives and 8 negatives; poly-G mates in 4 positives
    and 7 negatives; BN07-BN11 are negatives with the decoys at 200-600
    fragments each, and a chimera of ALKP2 (:data:`COPY_CHIMERA`).
    """
    from imtfusion_tools.sim.reads import LibrarySpec

    pe100 = LibrarySpec(read_length=100, strandedness="reverse")
    pe100_un = LibrarySpec(read_length=100, strandedness="unstranded")
    pe100_fwd = LibrarySpec(read_length=100, strandedness="forward")
    pe75 = LibrarySpec(read_length=75, strandedness="reverse")
    ffpe_un = LibrarySpec.ffpe(read_length=75, strandedness="unstranded")
    ffpe_rev = LibrarySpec.ffpe(read_length=75, strandedness="reverse")
    se75 = LibrarySpec(read_length=75, paired=False, strandedness="reverse")
    se75_un = LibrarySpec(read_length=75, paired=False, strandedness="unstranded")
    readthrough = "ETV6", 8, "BCL2L14", 2

    # positives: (name, library, fusions, promiscuous breakpoint?, poly-G pairs)
    positives: list[tuple[str, LibrarySpec, tuple[ChimeraSpec, ...], bool, int]]
    # negatives: (name, library, read-through frags, ALKP1, (ALKP2, ALKP3, TPM3P1), noise, promiscuous?, poly-G)
    negatives: list[tuple[str, LibrarySpec, int, int, tuple[int, int, int], int, bool, int]]
    if quick:
        positives = [("BQ01", pe100, (_chim("TPM3", 7, "ALK", 20, 15), _chim("ETV6", 5, "NTRK3", 15, 5)), False, 0)]
        negatives = [("BQ02", pe100, 10, 150, (100, 100, 100), 5, True, 5)]
        positive_decoys: tuple[int, int, int] = (0, 0, 0)
    else:
        # one fusion per target gene and sample, as in tumours, except BP12: a stress case
        # of two ALK fusions (a major and a minor clone) sharing the ALK exon 20 breakpoint
        positives = [
            ("BP01", pe100, (_chim("TPM3", 7, "ALK", 20, 40, premrna=20,
                                   isoforms=(_chim("TPM3", 6, "ALK", 20, 10),)),
                             _chim("ETV6", 5, "NTRK3", 15, 8)), False, 5),
            ("BP02", ffpe_un, (_chim("CLTC", 31, "ALK", 20, 15, offset5=-24,
                                     isoforms=(_chim("CLTC", 31, "ALK", 20, 4, offset5=-24, offset3=-11),)),
                               _chim("YWHAE", 5, "ROS1", 35, 5)), False, 4),
            ("BP03", se75, (_chim("TFG", 4, "ROS1", 35, 100), _chim("RANBP2", 18, "ALK", 20, 3)), True, 0),
            ("BP04", pe100_un, (_chim("EML4", 13, "ALK", 20, 15, offset3=53), _chim("YWHAE", 5, "ROS1", 35, 2)),
             False, 0),
            ("BP05", ffpe_rev, (_chim("ETV6", 5, "NTRK3", 15, 300), _chim("DES", 4, "ALK", 20, 5)), False, 0),
            ("BP06", se75_un, (_chim("TFG", 4, "ROS1", 34, 8, offset3=-13), _chim("EEF1A1", 2, "ETV6", 3, 40)),
             False, 0),
            ("BP07", pe100_fwd, (_chim("TPM4", 7, "ALK", 20, 2), _chim("ETV6", 5, "CALR", 4, 15)), False, 0),
            ("BP08", pe75, (_chim("TPM3", 7, "ALK", 20, 3), _chim("ETV6", 5, "NTRK3", 15, 2)), False, 0),
            ("BP09", pe100, (_chim("RANBP2", 18, "ALK", 20, 8), _chim("TFG", 4, "ROS1", 35, 5)), True, 6),
            ("BP10", ffpe_un, (_chim("TFG", 4, "ROS1", 35, 40, premrna=15), _chim("ETV6", 5, "NTRK3", 15, 3)),
             False, 0),
            ("BP11", se75, (_chim("YWHAE", 5, "ROS1", 35, 15), _chim("CLTC", 31, "ALK", 20, 5)), False, 0),
            ("BP12", pe100_un, (_chim("EML4", 13, "ALK", 20, 100, premrna=20,
                                      isoforms=(_chim("EML4", 6, "ALK", 20, 25),)),
                                _chim("TPM3", 7, "ALK", 20, 8),
                                _chim("ETV6", 5, "NTRK3", 15, 15, offset5=-11, offset3=-4)), False, 0),
            ("BP13", pe75, (_chim("EML4", 6, "ALK", 20, 5), _chim("YWHAE", 5, "ROS1", 35, 3)), False, 3),
            ("BP14", ffpe_rev, (_chim("TPM4", 7, "ALK", 20, 5), _chim("ETV6", 5, "NTRK3", 15, 40)), True, 0),
        ]
        negatives = [
            ("BN01", pe100, 20, 150, (150, 150, 150), 10, True, 6),
            ("BN02", ffpe_un, 6, 250, (100, 200, 100), 10, False, 4),
            ("BN03", se75, 12, 100, (200, 100, 150), 10, True, 0),
            ("BN04", pe100_un, 0, 400, (100, 100, 200), 15, True, 8),
            ("BN05", pe75, 30, 300, (150, 150, 100), 15, False, 5),
            ("BN06", se75_un, 8, 200, (100, 150, 100), 10, False, 0),
            # issue #15: the decoys highly expressed, with every look-alike at once
            ("BN07", pe100, 15, 200, (500, 400, 400), 10, True, 8),
            ("BN08", ffpe_un, 10, 150, (400, 500, 300), 10, True, 6),
            ("BN09", se75, 12, 200, (300, 400, 300), 10, True, 0),
            ("BN10", pe100_un, 20, 300, (600, 300, 500), 12, True, 10),
            ("BN11", ffpe_rev, 8, 200, (300, 600, 300), 10, True, 5),
        ]
        positive_decoys = (60, 60, 60)
    names = [d.name for d in genome.layout.decoys if d.name != decoy_spec().name]  # ALKP2, ALKP3, TPM3P1

    def with_alk(chims: Iterable[ChimeraSpec]) -> set[str]:
        return {g for c in chims if PROMISCUOUS_GENE in (c.gene5, c.gene3) for g in (c.gene5, c.gene3)}

    out: list[PanelSample] = []
    for name, lib, fusions, promiscuous, polyg in positives:
        avoid = [(f.gene5, f.gene3) for f in fusions] + [(readthrough[0], readthrough[2])]
        noisy = random_chimeras(genome, seed, name, 3, avoid)
        busy = {g for f in fusions for g in (f.gene5, f.gene3)} | with_alk(noisy)
        out.append(PanelSample(
            name, lib, fusions, (), noisy, 60,
            pseudogenes=tuple(zip(names, positive_decoys)),
            artefacts=promiscuous_artefacts(genome, seed, name, busy) if promiscuous else (),
            polyg=polyg_pairs(genome, seed, name, polyg),
        ))
    for name, lib, rt, decoy, others, noise, promiscuous, polyg in negatives:
        rts = (_chim(*readthrough, rt, body=False),) if rt else ()
        noisy = random_chimeras(genome, seed, name, noise, [(readthrough[0], readthrough[2])])
        out.append(PanelSample(
            name, lib, (), rts, noisy, decoy, pseudogenes=tuple(zip(names, others)),
            artefacts=promiscuous_artefacts(genome, seed, name, with_alk(noisy)) if promiscuous else (),
            polyg=polyg_pairs(genome, seed, name, polyg),
            copy_chimeras=(_chim(*COPY_CHIMERA, body=False),) if name in COPY_CHIMERA_SAMPLES else (),
        ))
    return tuple(out)


#: Targeted panels (issue #17): libraries of FFPE RNA with 8-base UMIs and 70% PCR
#: duplicates, as the issue's bar asks.
PANEL_PROTOCOLS = ("amp", "capture", "deep_capture")
PANEL_UMI_LENGTH = 8
PANEL_DUPLICATES = 0.7
PANEL_UMI_ERRORS = 0.005
#: ``deep_capture`` (issue #17, item 3): hybrid capture at 1,400-4,600 reads deep on the
#: target genes (expression x300 instead of x20) and the ALK paralogs (the baits catch
#: them a fifth as well: x60 instead of x4, as the simulator's capture does), and every chimeric look-alike with target reads
#: (read-through, the promiscuous ALK breakpoint, poly-G pairs) DEEP_SCALE times as many
#: fragments, random single-molecule chimeras DEEP_SCALE times as many; the true fusions
#: keep their molecules (a fusion of 2-300 molecules among thousands of wild-type ones).
DEEP_CAPTURE_ENRICHMENT = 300
DEEP_SCALE = 15
DEEP_NOISE = 100  # random chimeras per sample at most (distinct gene pairs, half with a target: ~100 such pairs)


def panel_library(protocol: str, read_length: int = 100, paired: bool = True,
                  duplicates: float = PANEL_DUPLICATES) -> "LibrarySpec":
    from imtfusion_tools.sim.reads import LibrarySpec

    deep = protocol == "deep_capture"
    return LibrarySpec.ffpe(read_length=read_length, paired=paired, strandedness="forward",
                            protocol="capture" if deep else protocol,
                            umi_length=PANEL_UMI_LENGTH, duplicate_fraction=duplicates,
                            umi_error_rate=PANEL_UMI_ERRORS,
                            capture_enrichment=DEEP_CAPTURE_ENRICHMENT if deep else 20.0)


def _deepened(genome: "Genome", seed: int, ps: PanelSample, k: int) -> PanelSample:
    """``ps`` with its chimeric look-alikes ``k`` times deeper (:data:`DEEP_SCALE`):
    read-through, promiscuous-breakpoint, poly-G and paralog-chimera (``copy_chimeras``)
    fragments times ``k``, and ``k`` times
    as many single-fragment random chimeras, at most :data:`DEEP_NOISE` (drawn afresh,
    avoiding the sample's fusions and read-through pairs). The paralogs are deepened by
    the capture itself (:data:`DEEP_CAPTURE_ENRICHMENT`)."""
    from dataclasses import replace

    from imtfusion_tools.sim.reads import PolyGSpec

    def more(c):  # type: ignore[no-untyped-def]
        return replace(c, fragments=c.fragments * k, body_fragments=c.body_fragments * k)

    avoid = [(c.gene5, c.gene3) for c in (*ps.fusions, *ps.readthroughs)] + [("ETV6", "BCL2L14")]  # the read-through
    return replace(
        ps,
        readthroughs=tuple(more(c) for c in ps.readthroughs),
        noise=random_chimeras(genome, seed, ps.name, min(DEEP_NOISE, len(ps.noise) * k), avoid),
        artefacts=tuple(more(c) for c in ps.artefacts),
        polyg=tuple(PolyGSpec(p.transcript, p.fragments * k, non_g=p.non_g, mate=p.mate) for p in ps.polyg),
        copy_chimeras=tuple(more(c) for c in ps.copy_chimeras),
    )


def _amp_anchored(c: "ChimeraSpec", distance: int) -> "ChimeraSpec":
    """The junction as an anchored multiplex PCR panel reads it: from a primer
    ``distance`` bases into the target side (the 3' kinase gene, else the 5' target),
    so every junction fragment ends there; no body, pre-mRNA or isoform fragments
    (the primer reads only across the junction)."""
    from dataclasses import replace

    from imtfusion_tools.sim.genome import TARGET_GENES

    three = c.gene3 in TARGET_GENES and c.gene3 != "ETV6" or c.gene5 not in TARGET_GENES
    if three:
        k = distance + max(0, c.offset3)
        return replace(c, anchor3=(k, k), anchor5=(), body_fragments=0, premrna_fragments=0, isoforms=())
    k = distance + max(0, c.offset5)
    return replace(c, anchor5=(k, k), anchor3=(), body_fragments=0, premrna_fragments=0, isoforms=())


#: The anchored multiplex PCR decoy of every panel sample: the primer of ALK exon 20 (the one
#: that reads the ALK fusions) primed on ACTB RNA, molecules (their PCR copies added)
AMP_MISPRIMING = ("ALK", 20, "ACTB", 6)


def build_targeted_panel(genome: "Genome", protocol: str, seed: int = BENCH_SEED,
                         quick: bool = False, duplicates: float = PANEL_DUPLICATES) -> tuple[PanelSample, ...]:
    """The benchmark's samples as a targeted panel sequences them: the same fusions,
    negatives and decoys, in FFPE libraries of ``protocol`` (``amp`` or ``capture``)
    with UMIs and 70% PCR duplicates; ``amp`` junction fragments end at a primer 50
    bases into the target side. Panels are sequenced paired-end (one read of every
    pair starts at the primer or the bait-side end), so single-end samples become
    paired here. Every ``amp`` sample also holds :data:`AMP_MISPRIMING`, a mispriming decoy
    (``primer_only_anchor`` must remove it; the run reads the panel's primer BED)."""
    from dataclasses import replace

    from imtfusion_tools.sim.reads import MisprimingSpec

    out = []
    for ps in build_panel(genome, seed, quick):
        lib = panel_library(protocol, ps.library.read_length, duplicates=duplicates)
        if protocol == "deep_capture":
            ps = _deepened(genome, seed, ps, DEEP_SCALE)
        fusions, misprimed, copies = ps.fusions, (), ps.copy_chimeras
        if protocol == "amp":
            fusions = tuple(_amp_anchored(c, lib.primer_distance) for c in fusions)
            misprimed = (MisprimingSpec(*AMP_MISPRIMING),)
            # the ALK exon 20 primer primed on the paralog's copy of the exon: read from there
            k = lib.primer_distance
            copies = tuple(replace(c, anchor3=(k, k), anchor5=(), body_fragments=0) for c in copies)
        out.append(replace(ps, library=lib, fusions=fusions, misprimed=misprimed, copy_chimeras=copies))
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
    "truth_fragments", "isoforms", "premrna_fragments", "found", "exact", "called_breakpoint5", "called_breakpoint3", "split_reads",
    "discordant_pairs", "called_fragments", "confidence", "calls", "duplicates", "duplicate_junctions",
    "discarded", "junction_in_read",
    "junction_in_insert", *(f"bam_{c}" for c in CENSUS_CLASSES), "bam_detail", "error",
]
CALL_TSV_COLUMNS = [
    "sample", "negative", "aligner", "fasta", "fusion", "breakpoint5", "breakpoint3", "split_reads",
    "discordant_pairs", "fragments", "precision", "confidence", "true_pair", "verdict", "junction_match",
    "cause", "exact", "support_origin",
]
DISCARDED_TSV_COLUMNS = [
    "sample", "negative", "aligner", "fasta", "fusion", "breakpoint5", "breakpoint3", "split_reads",
    "discordant_pairs", "fragments", "filters", "true_pair", "support_origin",
]
RUN_TSV_COLUMNS = ["sample", "aligner", "fasta", "align_seconds", "call_seconds", "calls", "discarded", "error"]
SAMPLE_TSV_COLUMNS = [
    "sample", "library", "negative", "fusions", "readthroughs", "random_chimeras", "decoy_fragments",
    "pseudogene_fragments", "promiscuous_breakpoint", "polyg_pairs", "fragments",
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


def _origin_label(kind: str, source: str, readthroughs: set[str], decoys: frozenset[str] = frozenset()) -> str:
    if kind == "transcript":
        gene = source.rsplit("-", 1)[0]
        return f"decoy {gene}" if gene in decoys else f"wild-type {gene}"
    if kind == "fusion":
        return f"junction {source}"
    if kind == "fusion_body":
        return f"body {source}"
    if kind == "fusion_isoform":
        return f"isoform junction {source}"
    if kind == "fusion_isoform_body":
        return f"isoform body {source}"
    if kind == "fusion_premrna":
        return f"DNA junction {source}"
    if kind == "readthrough":
        return f"read-through {source}" if source in readthroughs else f"random chimera {source}"
    if kind == "readthrough_body":
        return f"read-through body {source}"
    if kind == "artefact":
        return f"promiscuous {source}"
    if kind == "polyg":
        return f"poly-G mate {source.rsplit('-', 1)[0]}"
    return f"{kind} {source}"


def call_cause(call: Call, verdict: str, truth: TruthFusion | None, decoys: Iterable[str]) -> str:
    """Why a call is not a true one: the junction a duplicate sits at, or the look-alike behind a false call.

    A false call naming a decoy gene is put down to that decoy; otherwise to the
    origin that simulated most of its supporting fragments (``promiscuous
    breakpoint``, ``poly-G mates``, ``read-through``, ``random chimera``, a decoy's
    reads, a true fusion's reads under another gene pair, or wild-type reads).
    """
    if verdict == TRUE:
        return ""
    if verdict == DUPLICATE:
        return f"duplicate: {truth.junction_of(call) if truth else 'other'}"
    named = [g for g in (call.gene5, call.gene3) if g in set(decoys)]
    if named:
        return f"decoy {'+'.join(named)}"
    top = call.origin.split(";")[0].strip().rsplit("=", 1)[0] if call.origin else ""
    for prefix, cause in (("promiscuous", "promiscuous breakpoint"), ("poly-G", "poly-G mates"),
                          ("mispriming", "mispriming chimera"),
                          ("read-through", "read-through"), ("random chimera", "random chimera"),
                          ("decoy", "decoy reads"), ("junction", "true fusion reads"),
                          ("isoform", "true fusion reads"), ("DNA junction", "true fusion reads"),
                          ("body", "true fusion reads"), ("wild-type", "wild-type reads")):
        if top.startswith(prefix):
            return f"{cause} ({top})" if cause in ("decoy reads", "true fusion reads", "wild-type reads") else cause
    return "unknown"


def _simulate(genome: "Genome", samples: Sequence[PanelSample], seed: int, work: Path) -> list[_SampleData]:
    from imtfusion_tools.sim.reads import simulate_sample

    out = []
    decoys = frozenset(d.name for d in genome.layout.decoys)
    for ps in samples:
        sim = simulate_sample(genome, ps.sample_spec(genome, seed))
        fastqs = sim.write_fastqs(work / "fastq")
        sim.write_read_truth(work / "truth" / f"{ps.name}.reads.tsv")
        rts = {f"{c.gene5}::{c.gene3}" for c in ps.readthroughs}
        origin = {fr.name: _origin_label(fr.kind, fr.source, rts, decoys) for fr in sim.fragments}
        junction = {fr.name: fr.source for fr in sim.fragments if fr.kind == "fusion"}
        where: dict[str, Counter[str]] = defaultdict(Counter)
        for fr in sim.fragments:
            if fr.kind == "fusion":
                where[fr.source]["insert" if fr.junction_in == "insert" else "read"] += 1
        rows = sim.truth_rows(extended=True)
        truth = truth_events(rows)
        out.append(_SampleData(ps, fastqs, truth, rows, origin, junction, where, len(sim.fragments)))
    return out


def _warm_up(aligner: str, data: _SampleData, fasta: Path, gtf: Path, work: Path, threads: int) -> float:
    """Build (or find) the aligner's index by aligning a few reads; return the seconds taken."""
    from imtfusion_tools.sim.align import align

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
        molecules=c.molecules,  # type: ignore[attr-defined]
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
    protocol: str = "wts",
    duplicates: float = PANEL_DUPLICATES,
    adapters: bool = False,
) -> AccuracyResult:
    """Simulate the panel, align it with every aligner, call, score; write OUTDIR files.
    ``protocol`` ``amp`` or ``capture``: the same samples as a targeted panel
    (:func:`build_targeted_panel`), scored with the panel columns too."""
    from imtfusion.annotation import load_annotation
    from imtfusion.outputs import write_text, write_tsv
    from imtfusion.params import CallParameters
    from imtfusion.pipeline import DISCARDED_COLUMNS, FUSION_COLUMNS, candidate_row, run_sample
    from imtfusion_tools.sim.align import align
    from imtfusion_tools.sim.genome import build_genome, write_fasta, write_gtf
    from imtfusion_tools.sim.reads import TRUTH_COLUMNS, TRUTH_EXTRA_COLUMNS, write_truth_table

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
    panel = (build_panel(genome, seed, quick) if protocol == "wts"
             else build_targeted_panel(genome, protocol, seed, quick, duplicates))
    if adapters:  # reads not adapter-trimmed: inserts shorter than the reads read into the adapters
        from dataclasses import replace

        panel = tuple(replace(ps, library=replace(ps.library, adapters=True)) for ps in panel)
    data = _simulate(genome, panel, seed, work)
    primers = None
    if protocol == "amp":  # the run reads the panel's primers, as a lab gives its panel's BED
        from imtfusion_tools.sim.reads import write_primer_bed

        primers = write_primer_bed(genome, panel[0].library, work / "genome" / "primers.bed")
    sample_names = [d.panel.name for d in data]
    truth = [t for d in data for t in d.truth]
    write_truth_table([r for d in data for r in d.truth_rows], outdir / "truth.tsv",
                      TRUTH_COLUMNS + TRUTH_EXTRA_COLUMNS)
    decoy_names = [d.name for d in genome.layout.decoys]

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
                        res = run_sample(bam, annotation, name, params=params, fasta=fasta if f else None,
                                         primers=primers)
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
        metrics = compute_metrics(truth, run.calls, sample_names, panel=protocol != "wts")
        note = f"{len(run.errors)} of {len(data)} samples failed (see runs.tsv)" if run.errors else ""
        rows.append(TableRow(label, metrics, run.align_seconds, run.call_seconds, note, aligner, f))
        outcomes, flagged = match_calls(truth, run.calls)
        truth_of = {(t.sample, t.gene5, t.gene3): t for t in truth}
        dup_junctions: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for c, verdict in flagged:
            t = truth_of.get((c.sample, c.gene5, c.gene3))
            cause = call_cause(c, verdict, t, decoy_names)
            if verdict == DUPLICATE:
                dup_junctions[(c.sample, c.gene5, c.gene3)].append(
                    f"{c.breakpoint5}>{c.breakpoint3} {c.split_reads}s/{c.discordant_pairs}d ({t.junction_of(c) if t else '?'})")
            call_rows.append({
                "sample": c.sample, "negative": c.sample in negatives, "aligner": aligner, "fasta": f,
                "fusion": c.fusion, "breakpoint5": c.breakpoint5, "breakpoint3": c.breakpoint3,
                "split_reads": c.split_reads, "discordant_pairs": c.discordant_pairs, "fragments": c.fragments,
                "precision": c.precision, "confidence": c.confidence, "true_pair": t is not None,
                "verdict": verdict, "junction_match": t.junction_of(c) if t else None, "cause": cause,
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
                "truth_breakpoint3": t.breakpoint3, "truth_fragments": t.fragments,
                "isoforms": "; ".join(f"{lab} {b5}>{b3}" for lab, b5, b3 in t.other_junctions if lab.startswith("isoform")),
                "premrna_fragments": _premrna_fragments(d, t), "found": o.found,
                "exact": o.exact if o.found else None,
                "called_breakpoint5": o.call.breakpoint5 if o.call else None,
                "called_breakpoint3": o.call.breakpoint3 if o.call else None,
                "split_reads": o.call.split_reads if o.call else None,
                "discordant_pairs": o.call.discordant_pairs if o.call else None,
                "called_fragments": o.call.fragments if o.call else None,
                "confidence": o.call.confidence if o.call else None, "calls": o.n_calls,
                "duplicates": o.duplicates,
                "duplicate_junctions": "; ".join(dup_junctions.get((t.sample, t.gene5, t.gene3), [])),
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
            "decoy_fragments": d.panel.decoy_fragments,
            "pseudogene_fragments": ", ".join(f"{g} {n}" for g, n in d.panel.pseudogenes if n),
            "promiscuous_breakpoint": ", ".join(f"{c.gene5}:{c.exon5}::{c.gene3}:{c.exon3}{c.offset3:+d} x{c.fragments}"
                                                for c in d.panel.artefacts),
            "polyg_pairs": ", ".join(f"{p.transcript} x{p.fragments}" for p in d.panel.polyg),
            "fragments": d.n_fragments,
        }
        for d in data
    ])
    markdown = outdir / "accuracy.md"
    write_text(markdown, _markdown_report(
        table, command, started, seconds, versions, index_seconds, data, rows, fusion_rows, call_rows, quick, seed,
    ))
    return AccuracyResult(table, rows, markdown, fusions_tsv, outdir, seconds, versions)


def _premrna_fragments(d: "_SampleData", t: TruthFusion) -> int:
    return sum(int(r.get("premrna_fragments", "0") or 0) for r in d.truth_rows
               if r.get("event") == t.fusion and r.get("isoform_of", ".") == ".")


def _spec_text(c: "ChimeraSpec") -> str:
    off = f" (offsets {c.offset5:+d}/{c.offset3:+d})" if c.offset5 or c.offset3 else ""
    extra = f" + pre-mRNA x{c.premrna_fragments}" if c.premrna_fragments else ""
    extra += "".join(f" + isoform {i.isoform_label} x{i.fragments}" for i in c.isoforms)
    return f"{c.gene5}:{c.exon5}::{c.gene3}:{c.exon3} x{c.fragments}{off}{extra}"


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
        TABLE_LEGEND,
        "",
        "## Misses, inexact breakpoints, duplicate and false calls",
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
        falses = [c for c in call_rows if c["aligner"] == aligner and c["fasta"] == fasta and c["verdict"] != TRUE]
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
            if c["aligner"] != aligner or c["fasta"] != fasta or c["verdict"] != TRUE or c["exact"]:
                continue
            if not int(c["split_reads"]):  # type: ignore[call-overload]
                continue
            bp5, bp3, junction = truth_bp[(c["sample"], c["fusion"])]
            items.append(
                f"- inexact {c['sample']} {c['fusion']}: called {c['breakpoint5']} {c['breakpoint3']}, "
                f"truth {bp5} {bp3} ({junction}; {c['split_reads']} split, {c['discordant_pairs']} discordant)"
            )
        for c in sorted(falses, key=lambda c: (str(c["cause"]), str(c["sample"]))):
            items.append(
                f"- {'duplicate' if c['verdict'] == DUPLICATE else 'false'} call [{c['cause']}] {c['sample']} "
                f"{c['fusion']} {c['breakpoint5']} {c['breakpoint3']} "
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
    from imtfusion_tools.sim.align import ALIGNERS

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
        help="call with the FASTA, for every aligner (default without either flag: every aligner both with "
        "and without the FASTA)",
    )
    parser.add_argument("--without-fasta", action="store_true", help="call without the FASTA, for every aligner")
    parser.add_argument(
        "--protocol", choices=("wts",) + PANEL_PROTOCOLS, default="wts",
        help="wts (default): whole-transcriptome libraries; amp / capture: the same samples as an anchored "
        "multiplex PCR / hybrid-capture panel with 8-base UMIs and 70%% PCR duplicates (adds the panel columns); "
        "deep_capture: hybrid capture 1,400-4,600 reads deep on the targets, the look-alikes 15 times deeper",
    )
    parser.add_argument(
        "--duplicates", type=float, default=PANEL_DUPLICATES, metavar="FRACTION",
        help=f"targeted panels: the fraction of the reads that are PCR copies (default {PANEL_DUPLICATES:g}; the "
        "issue's range 0.5-0.9)",
    )
    parser.add_argument(
        "--adapters", action="store_true",
        help="reads not adapter-trimmed: an insert shorter than the reads is read on into the 3' adapters (FFPE)",
    )


def command_line(outdir: str, aligners: Sequence[str], threads: int, quick: bool, seed: int,
                 with_fasta: bool, without_fasta: bool, protocol: str = "wts",
                 duplicates: float = PANEL_DUPLICATES, adapters: bool = False) -> str:
    """The command that reproduces a run (all options spelled out), for the report."""
    words = ["imtfusion", "benchmark", "accuracy", "--outdir", str(outdir), "--threads", str(threads),
             "--aligners", *aligners, "--seed", str(seed)]
    words += ["--quick"] * quick + ["--with-fasta"] * with_fasta + ["--without-fasta"] * without_fasta
    words += ["--protocol", protocol] if protocol != "wts" else []
    words += ["--duplicates", f"{duplicates:g}"] if protocol != "wts" and duplicates != PANEL_DUPLICATES else []
    words += ["--adapters"] * adapters
    return " ".join(shlex.quote(w) for w in words)


def main(args: argparse.Namespace) -> None:
    """Run the accuracy benchmark; the table goes to stdout, progress to stderr."""
    from imtfusion.errors import ConfigError

    if args.threads < 1:
        raise ConfigError("--threads must be at least 1")
    aligners = list(dict.fromkeys(args.aligners))
    if not 0 <= args.duplicates < 1:
        raise ConfigError("--duplicates must be at least 0 and below 1")
    command = command_line(args.outdir, aligners, args.threads, args.quick, args.seed, args.with_fasta,
                           args.without_fasta, args.protocol, args.duplicates, args.adapters)
    result = run_accuracy(
        args.outdir, aligners, threads=args.threads, quick=args.quick, seed=args.seed,
        with_fasta=args.with_fasta, without_fasta=args.without_fasta, command=command, protocol=args.protocol,
        duplicates=args.duplicates, adapters=args.adapters,
    )
    sys.stdout.write(result.table)
    sys.stdout.flush()
    _log(f"benchmark: {result.seconds:.0f} s; wrote {result.markdown} and {result.fusions_tsv} "
         f"(also calls.tsv, discarded.tsv, runs.tsv, truth.tsv, samples.tsv) in {result.outdir}")
