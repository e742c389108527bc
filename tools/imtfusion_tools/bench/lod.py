"""Limit of detection: predicted vs observed detection of fusions spiked into negatives.

  imtfusion benchmark lod --outdir DIR [--threads N] [--negatives N] [--quick] [--seed N] [--plot SVG]

Simulates negatives of the accuracy benchmark's genome at three depths (wild-type
fragments of each target's canonical transcript; the targets' other isoforms are not
expressed, so the fusion fraction is of all the target's transcripts), in turn 2x100,
2x75 FFPE (short, overlapping fragments) and 1x75 single-end libraries, aligns them (STAR
in Arriba's chimeric mode) and calls them: the negatives must give no call, and each gives
its LoD model (:mod:`imtfusion.lod`). Then each negative is simulated again with three
fusions spiked in at one fusion fraction (the same reads and more: the fused transcripts'
fragments are drawn after all others, across the junction or not as chance has it):
TPM3::ALK and ETV6::NTRK3 (known partners) and CALR::ROS1 (a novel partner: 3 fragments
and the short-anchor rule). For each depth and fraction, *predicted* is the mean over the
targets of the negatives of the detection probability their own LoD model gives at that
fraction, *observed* the share detected (a call of the spiked gene pair). The bar (issue
#18): the predicted rate lies in the observed rate's 95% binomial (Clopper-Pearson)
interval at every tested fraction and depth, and no negative has a call.

Writes DIR/lod.md (the tables), DIR/trials.tsv (one row per target and spiked sample) and,
with --plot, an SVG of predicted vs observed. It needs STAR (Debian: rna-star).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

LOD_SEED = 20261203
DEPTHS = (150, 500, 1500)
FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.4)
QUICK_DEPTHS = (1500,)
QUICK_FRACTIONS = (0.02, 0.2)
TARGETS = ("ALK", "ROS1", "NTRK3")
TRIAL_COLUMNS = ["sample", "negative", "library", "depth", "fraction", "target", "fusion", "known", "lod", "lod_known",
                 "predicted", "detected", "fragments", "calls"]


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def spikes():
    """target -> (the spiked fusion's chimera, whether its partner is known)."""
    from imtfusion_tools.sim.reads import ChimeraSpec

    return {"ALK": (ChimeraSpec("TPM3", 7, "ALK", 20, 0), True),
            "ROS1": (ChimeraSpec("CALR", 4, "ROS1", 35, 0), False),
            "NTRK3": (ChimeraSpec("ETV6", 5, "NTRK3", 15, 0), True)}


def libraries():
    from imtfusion_tools.sim.reads import LibrarySpec

    return (LibrarySpec(read_length=100, strandedness="reverse"), LibrarySpec.ffpe(read_length=75),
            LibrarySpec(read_length=75, paired=False, strandedness="reverse"))


@dataclass(frozen=True)
class Negative:
    name: str
    depth: int
    library: object  # LibrarySpec

    def sample_spec(self, genome, seed: int, fraction: float = 0.0):
        """The negative, or with the three fusions spiked in at ``fraction`` (same reads and more)."""
        from imtfusion_tools.sim.reads import SampleSpec, SpikedFusionSpec, default_expression

        targets = ("ALK", "ROS1", "ETV6", "NTRK3")
        canonical = {genome.gene(t).canonical.name for t in targets}
        expression = tuple((tx, self.depth if tx in canonical else 0 if genome.transcript(tx).gene_name in targets
                            else n) for tx, n in default_expression(genome, seed, self.name))
        spiked = tuple(SpikedFusionSpec(c, fraction) for c, _ in spikes().values()) if fraction else ()
        return SampleSpec(self.name, seed, self.library, expression=expression, spiked_fusions=spiked)


def build_panel(negatives: int, depths: Sequence[int], n_libraries: int = 3) -> tuple[Negative, ...]:
    libs = libraries()[:n_libraries]
    return tuple(Negative(f"LD{d}N{i + 1:02d}", d, libs[i % len(libs)]) for d in depths for i in range(negatives))


@dataclass(frozen=True)
class Trial:
    negative: Negative
    fraction: float
    target: str
    fusion: str
    known: bool
    lod: object  # the negative's LodResult of the target
    predicted: float
    detected: bool
    fragments: int  # of the call, 0 without
    calls: str  # every call of the spiked sample


def clopper_pearson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a binomial rate, by bisection on its tails."""
    alpha = (1 - level) / 2

    def tail_ge(p: float) -> float:  # P(X >= hits)
        return sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(hits, n + 1))

    def tail_le(p: float) -> float:  # P(X <= hits)
        return sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(0, hits + 1))

    def solve(f, rising: bool) -> float:
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if (f(mid) < alpha) == rising:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    low = 0.0 if hits == 0 else solve(tail_ge, True)
    high = 1.0 if hits == n else solve(tail_le, False)
    return low, high


def run_lod(outdir: Path | str, threads: int = 1, negatives: int = 20, quick: bool = False, seed: int = LOD_SEED,
            command: str = "", plot: Path | str | None = None) -> tuple[str, list[Trial], dict[str, int]]:
    """Simulate, align, call, score; write OUTDIR's files; return (markdown, trials, the negatives' calls)."""
    from imtfusion.annotation import load_annotation
    from imtfusion_tools.bench.accuracy import BENCH_SEED, benchmark_layout
    from imtfusion.outputs import write_text, write_tsv
    from imtfusion.pipeline import run_sample
    from imtfusion_tools.sim.align import align
    from imtfusion_tools.sim.genome import build_genome, write_fasta, write_gtf
    from imtfusion_tools.sim.reads import simulate_sample

    t0 = time.perf_counter()
    outdir = Path(outdir)
    work = outdir / "work"
    depths, fractions = (QUICK_DEPTHS, QUICK_FRACTIONS) if quick else (DEPTHS, FRACTIONS)
    panel = build_panel(negatives, depths, 2 if quick else 3)
    genome = build_genome(benchmark_layout(), BENCH_SEED)
    fasta = write_fasta(genome, work / "genome" / "genome.fa")
    gtf = write_gtf(genome, work / "genome" / "annotation.gtf")
    annotation = load_annotation(gtf)

    def called(neg: Negative, fraction: float, sample: str):
        sim = simulate_sample(genome, neg.sample_spec(genome, seed, fraction))
        fastqs = sim.write_fastqs(work / "fastq" / sample)
        bam = work / "bam" / f"{sample}.bam"
        align("star_chimeric", fastqs, fasta, gtf, work, bam, threads=threads, sample=neg.name)
        for fq in fastqs:
            fq.unlink()
        return run_sample(bam, annotation, sample, fasta=fasta)

    trials: list[Trial] = []
    negative_calls: dict[str, int] = {}
    _log(f"benchmark lod: {len(panel)} negatives x (1 + {len(fractions)} spiked fractions) with STAR")
    for neg in panel:
        base = called(neg, 0.0, neg.name)
        negative_calls[neg.name] = len(base.called)
        models = {s.target: s.lod for s in base.statuses}
        for fraction in fractions:
            sample = f"{neg.name}F{round(1000 * fraction):03d}"
            result = called(neg, fraction, sample)
            calls = ",".join(c.fusion for c in result.called)
            for target, (chimera, known) in spikes().items():
                model = models[target]
                hit = next((c for c in result.called if (c.gene5.name, c.gene3.name) == (chimera.gene5, chimera.gene3)),
                           None)
                trials.append(Trial(neg, fraction, target, chimera.name, known, model,
                                    model.probability_at(fraction, known) if model is not None else 0.0,
                                    hit is not None, hit.fragments if hit is not None else 0, calls))
            _log(f"benchmark lod: {sample}: " + "; ".join(
                f"{t.target} P={t.predicted:.2f} {'found' if t.detected else 'missed'}" for t in trials[-len(TARGETS):]))
    write_tsv(outdir / "trials.tsv", TRIAL_COLUMNS, [_row(t) for t in trials])
    markdown = report(trials, negative_calls, panel, seed, command, time.perf_counter() - t0)
    write_text(outdir / "lod.md", markdown)
    if plot:
        write_text(plot, svg_plot(trials))
    return markdown, trials, negative_calls


def _row(t: Trial) -> dict[str, object]:
    from imtfusion_tools.bench.accuracy import library_label

    m = t.lod
    return {"sample": f"{t.negative.name}F{round(1000 * t.fraction):03d}", "negative": t.negative.name,
            "library": library_label(t.negative.library), "depth": t.negative.depth, "fraction": t.fraction,
            "target": t.target, "fusion": t.fusion, "known": "known" if t.known else "novel",
            "lod": None if m is None or m.lod is None else round(m.lod, 4),
            "lod_known": None if m is None or m.lod_known is None else round(m.lod_known, 4),
            "predicted": round(t.predicted, 4), "detected": "yes" if t.detected else "no", "fragments": t.fragments,
            "calls": t.calls}


@dataclass(frozen=True)
class Cell:
    depth: int
    fraction: float
    trials: int
    hits: int
    predicted: float
    interval: tuple[float, float]

    @property
    def agrees(self) -> bool:
        return self.interval[0] <= self.predicted <= self.interval[1]


def cells(trials: Sequence[Trial]) -> list[Cell]:
    out = []
    for depth in sorted({t.negative.depth for t in trials}):
        for fraction in sorted({t.fraction for t in trials}):
            chosen = [t for t in trials if t.negative.depth == depth and t.fraction == fraction]
            if not chosen:
                continue
            hits = sum(t.detected for t in chosen)
            out.append(Cell(depth, fraction, len(chosen), hits, sum(t.predicted for t in chosen) / len(chosen),
                            clopper_pearson(hits, len(chosen))))
    return out


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _median(values: list[float]) -> float | None:
    values = sorted(values)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def report(trials: Sequence[Trial], negative_calls: dict[str, int], panel: Sequence[Negative], seed: int,
           command: str, seconds: float) -> str:
    from imtfusion_tools.bench.accuracy import library_label
    from imtfusion.lod import percent

    table = cells(trials)
    rows = [[f"{c.depth:,}", percent(c.fraction), str(c.trials), f"{c.predicted:.2f}",
             f"{c.hits}/{c.trials} ({c.hits / c.trials:.2f})", f"{c.interval[0]:.2f}-{c.interval[1]:.2f}",
             "yes" if c.agrees else "NO"] for c in table]
    lods = []
    for depth in sorted({n.depth for n in panel}):
        for target in TARGETS:
            for known in (True, False):
                values = [getattr(t.lod, "lod_known" if known else "lod") for t in trials
                          if t.negative.depth == depth and t.target == target and t.fraction == trials[0].fraction
                          and t.lod is not None]
                values = [v for v in values if v is not None]
                med = _median(values)
                lods.append((depth, target, known, med, min(values) if values else None,
                             max(values) if values else None))
    lod_rows = []
    for depth in sorted({n.depth for n in panel}):
        cells_ = [depth]
        for target in TARGETS:
            for known in (True, False):
                d, _t, _k, med, lo, hi = next(x for x in lods if x[:3] == (depth, target, known))
                cells_.append(f"{percent(med)} ({percent(lo)}-{percent(hi)})" if med is not None else "–")
        lod_rows.append([f"{cells_[0]:,}"] + cells_[1:])
    agree = sum(c.agrees for c in table)
    false_calls = sum(negative_calls.values())
    others = sum(1 for t in trials if t.target == TARGETS[0]
                 for name in t.calls.split(",") if name and name not in {c.name for c, _ in spikes().values()})
    bars = _markdown(["bar", "measured", "limit", "result"], [
        ["depth x fraction cells whose predicted rate lies in the observed rate's 95% binomial interval",
         f"{agree}/{len(table)}", "all", "PASS" if agree == len(table) else "FAIL"],
        ["calls in the negatives", f"{false_calls} in {len(negative_calls)} samples", "0",
         "PASS" if false_calls == 0 else "FAIL"],
        ["calls other than the spiked fusions in the spiked samples", str(others), "0", "PASS" if others == 0 else "FAIL"],
    ])
    libs = sorted({library_label(n.library) for n in panel})
    spiked = ", ".join(f"{c.isoform_label} ({'known' if k else 'novel'})" for c, k in spikes().values())
    return f"""# Limit of detection benchmark

`{command or 'imtfusion benchmark lod'}` (STAR chimeric, read seed {seed}; {seconds:.0f} s). {len(panel)} negatives
({', '.join(libs)} in turn), each called alone and with {spiked} spiked in at each fraction
(the negative's reads and the fused transcripts' fragments). *depth*: wild-type fragments of each
target's transcript; *predicted*: the mean detection probability the negatives' own LoD model
gives at that fraction; *observed*: the share of the spiked fusions called; *interval*: the 95%
Clopper-Pearson interval of the observed rate.

{_markdown(["depth", "fraction", "trials", "predicted", "observed", "95% interval", "agree"], rows)}

{bars}

The negatives' LoD, median (range), known partner / novel partner:

{_markdown(["depth"] + [f"{t} {'known' if k else 'novel'}" for t in TARGETS for k in (True, False)], lod_rows)}
"""


def svg_plot(trials: Sequence[Trial]) -> str:
    """Predicted (lines: the mean detection probability over each depth's trials, on a fine
    grid of fractions) and observed (points with their 95% intervals) detection rates."""
    from imtfusion.lod import percent

    width, height, left, right, top, bottom = 640, 400, 60, 150, 20, 50
    lo, hi = math.log(0.01), math.log(0.6)

    def px(f: float) -> float:
        return left + (math.log(f) - lo) / (hi - lo) * (width - left - right)

    def py(p: float) -> float:
        return top + (1 - p) * (height - top - bottom)

    colours = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for p in (0, 0.25, 0.5, 0.75, 0.95, 1):
        out.append(f'<line x1="{left}" y1="{py(p):.1f}" x2="{width - right}" y2="{py(p):.1f}" stroke="#ddd"'
                   + (' stroke-dasharray="4 3"' if p == 0.95 else '') + '/>')
        out.append(f'<text x="{left - 6}" y="{py(p) + 4:.1f}" text-anchor="end">{p:g}</text>')
    for f in (0.01, 0.02, 0.05, 0.1, 0.2, 0.4):
        out.append(f'<line x1="{px(f):.1f}" y1="{py(0):.1f}" x2="{px(f):.1f}" y2="{py(0) + 4:.1f}" stroke="black"/>')
        out.append(f'<text x="{px(f):.1f}" y="{py(0) + 18:.1f}" text-anchor="middle">{percent(f)}</text>')
    out.append(f'<line x1="{left}" y1="{py(0):.1f}" x2="{width - right}" y2="{py(0):.1f}" stroke="black"/>')
    out.append(f'<line x1="{left}" y1="{py(0):.1f}" x2="{left}" y2="{py(1):.1f}" stroke="black"/>')
    out.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 10}" text-anchor="middle">'
               'fusion fraction (fused among the target\'s transcripts)</text>')
    out.append(f'<text x="15" y="{(top + height - bottom) / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 15 {(top + height - bottom) / 2:.0f})">detection rate</text>')
    depths = sorted({t.negative.depth for t in trials})
    for k, depth in enumerate(depths):
        colour = colours[k % len(colours)]
        chosen = [t for t in trials if t.negative.depth == depth and t.fraction == trials[0].fraction]
        grid = [math.exp(lo + (hi - lo) * i / 80) for i in range(81)]
        points = []
        for f in grid:
            ps = [t.lod.probability_at(f, t.known) if t.lod is not None else 0.0 for t in chosen]
            points.append(f"{px(f):.1f},{py(sum(ps) / len(ps)):.1f}")
        out.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for c in cells([t for t in trials if t.negative.depth == depth]):
            x, rate = px(c.fraction), c.hits / c.trials
            out.append(f'<line x1="{x:.1f}" y1="{py(c.interval[0]):.1f}" x2="{x:.1f}" y2="{py(c.interval[1]):.1f}" '
                       f'stroke="{colour}"/>')
            out.append(f'<circle cx="{x:.1f}" cy="{py(rate):.1f}" r="4" fill="{colour}"/>')
        y = top + 20 + 20 * k
        out.append(f'<line x1="{width - right + 15}" y1="{y}" x2="{width - right + 35}" y2="{y}" stroke="{colour}" '
                   'stroke-width="2"/>')
        out.append(f'<circle cx="{width - right + 25}" cy="{y}" r="4" fill="{colour}"/>')
        out.append(f'<text x="{width - right + 42}" y="{y + 4}">{depth:,} fragments</text>')
    y = top + 20 + 20 * len(depths) + 10
    out.append(f'<text x="{width - right + 15}" y="{y}" font-size="10">line: predicted</text>')
    out.append(f'<text x="{width - right + 15}" y="{y + 14}" font-size="10">point: observed, 95% CI</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outdir", required=True, help="results folder (lod.md, trials.tsv, work/)")
    parser.add_argument("--threads", type=int, default=1, help="aligner threads (default 1)")
    parser.add_argument("--negatives", type=int, default=20, help="negatives per depth (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="one depth, two fractions, two libraries (for tests)")
    parser.add_argument("--seed", type=int, default=LOD_SEED, help="read seed (default %(default)s)")
    parser.add_argument("--plot", help="write the plot of predicted vs observed detection here (SVG)")


def main(args: argparse.Namespace) -> None:
    from imtfusion.errors import ConfigError
    from imtfusion_tools.sim.align import require_tool

    if args.threads < 1 or args.negatives < 1:
        raise ConfigError("--threads and --negatives must be at least 1")
    require_tool("STAR")
    command = "imtfusion benchmark lod " + " ".join(
        a for a in (f"--negatives {args.negatives}", "--quick" if args.quick else "") if a)
    markdown, _, _ = run_lod(args.outdir, args.threads, args.negatives, args.quick, args.seed, command, args.plot)
    print(markdown)
