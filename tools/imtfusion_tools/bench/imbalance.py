"""3'/5' expression imbalance and ALK-ATI on simulated samples (issue #18's bar).

  imtfusion benchmark imbalance --outdir DIR [--threads N] [--aligner star_chimeric] [--quick] [--seed N]

Simulates the samples of :mod:`imtfusion_tools.sim.imbalance` (negatives, some with ALK's
3'-exon paralogs highly expressed; ALK-ATI; fusions of ALK, ROS1 and NTRK3 at fusion
fractions 10-80% whose junction fragments are all removed), aligns them (STAR in
Arriba's chimeric mode by default) and calls each twice, as the workflow does: a first
pass gives each sample's 3'/5' ratios, the second call takes the batch's as reference.
A batch is the negatives and ALK-ATI samples together with the hidden fusions of one
fraction (a batch of mostly negatives, as a lab's is); the negatives and ATI samples are
scored in the batch of negatives and ATI samples alone. The first pass, whose reference
is the profile shipped in resources/, is scored too ("shipped").

Writes DIR/imbalance.md (the table and the bars), DIR/targets.tsv (one row per sample and
kinase target: truth, statuses, z, ratios) and DIR/ratios.tsv (every sample's ratios).
The bar (issue #18): >= 90% of the hidden fusions at fraction >= 30% flagged, none of the
negatives' or ALK-ATI samples' targets flagged. It needs STAR (Debian: rna-star).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from imtfusion_tools.sim.imbalance import IMBALANCE_SEED, KINASES, ImbalanceSample

TARGET_COLUMNS = [
    "sample", "role", "library", "depth", "fraction", "target", "expected", "shipped_status", "shipped_z",
    "shipped_ratio", "batch_status", "batch_z", "batch_ratio", "batch_reference", "depth5", "depth3",
    "window_depth", "rest_depth", "calls", "sample_qc",
]


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Outcome:
    """One kinase target of one sample, in both modes."""

    sample: ImbalanceSample
    target: str
    expected: str  # hidden, ati or negative
    shipped: object  # TargetStatus of the first pass (shipped profile)
    batch: object  # TargetStatus of the call with the batch profile
    calls: str
    qc: str = ""  # the sample QC gates: pass, or fail: the gates

    def flagged(self, mode: str) -> bool:
        from imtfusion.pipeline import STATUS_IMBALANCE

        return getattr(self, mode).status == STATUS_IMBALANCE

    def said_ati(self, mode: str) -> bool:
        return getattr(self, mode).status.startswith(f"{self.target}-ATI")

    def qc_failed(self, mode: str) -> bool:
        return getattr(self, mode).reason.startswith("sample QC failed") or "; sample QC failed" in getattr(
            self, mode).reason


def simulate_and_align(samples: Sequence[ImbalanceSample], work: Path, aligner: str, threads: int,
                       seed: int) -> tuple[dict[str, Path], Path, Path]:
    """BAM per sample, the FASTA and the GTF (the accuracy benchmark's genome)."""
    from imtfusion_tools.bench.accuracy import BENCH_SEED, benchmark_layout
    from imtfusion_tools.sim.align import align
    from imtfusion_tools.sim.genome import build_genome, write_fasta, write_gtf
    from imtfusion_tools.sim.reads import simulate_sample

    genome = build_genome(benchmark_layout(), BENCH_SEED)
    fasta = write_fasta(genome, work / "genome" / "genome.fa")
    gtf = write_gtf(genome, work / "genome" / "annotation.gtf")
    bams = {}
    for s in samples:
        sim = simulate_sample(genome, s.sample_spec(genome, seed))
        fastqs = sim.write_fastqs(work / "fastq")
        bam = work / "bam" / aligner / f"{s.name}.bam"
        align(aligner, fastqs, fasta, gtf, work, bam, threads=threads, sample=s.name)
        for fq in fastqs:
            fq.unlink()
        bams[s.name] = bam
    return bams, fasta, gtf


def make_profile(output: Path | str, workdir: Path | str, threads: int = 1, aligner: str = "star_chimeric",
                 seed: int = IMBALANCE_SEED) -> Path:
    """The shipped profile: the 3'/5' ratios of :func:`~imtfusion_tools.sim.imbalance.profile_panel`'s
    simulated negatives (``imtfusion simulate imbalance-profile``)."""
    from imtfusion.annotation import load_annotation
    from imtfusion.imbalance import profile_text
    from imtfusion.outputs import write_text
    from imtfusion.pipeline import imbalance_observations, run_sample
    from imtfusion_tools.sim.imbalance import panel_text, profile_panel

    samples = profile_panel()
    bams, fasta, gtf = simulate_and_align(samples, Path(workdir), aligner, threads, seed)
    annotation = load_annotation(gtf)
    rows = []
    for s in samples:
        result = run_sample(bams[s.name], annotation, s.name, fasta=fasta)
        rows += imbalance_observations(result)
    comments = [
        "The 3'/5' ratios imtfusion compares a sample with when no batch profile is given (imtfusion.imbalance).",
        f"Made by `imtfusion simulate imbalance-profile` (read seed {seed}, aligner {aligner}): "
        f"{len(samples)} simulated negatives of the accuracy benchmark's genome, wild-type transcripts only:",
        *panel_text(samples),
        "They describe the simulator's libraries, not a lab's: a batch of the lab's own samples "
        "(imtfusion batch-profile) is the better reference.",
    ]
    write_text(output, profile_text(rows, comments))
    return Path(output)


def run_imbalance(outdir: Path | str, aligner: str = "star_chimeric", threads: int = 1, quick: bool = False,
                  seed: int = IMBALANCE_SEED, command: str = "") -> tuple[str, list[Outcome]]:
    """Simulate, align, call twice, score; write OUTDIR's files; return (markdown, outcomes)."""
    from imtfusion.annotation import load_annotation
    from imtfusion.imbalance import profile_text
    from imtfusion.outputs import write_text, write_tsv
    from imtfusion.pipeline import imbalance_observations, run_sample
    from imtfusion_tools.sim.imbalance import build_panel

    t0 = time.perf_counter()
    outdir = Path(outdir)
    work = outdir / "work"
    samples = build_panel(quick)
    _log(f"benchmark imbalance: simulating and aligning {len(samples)} samples with {aligner}")
    bams, fasta, gtf = simulate_and_align(samples, work, aligner, threads, seed)
    annotation = load_annotation(gtf)
    first, ratios = {}, {}
    for s in samples:
        first[s.name] = run_sample(bams[s.name], annotation, s.name, fasta=fasta)
        ratios[s.name] = imbalance_observations(first[s.name])
    normal = [s.name for s in samples if s.role in ("negative", "ati")]
    outcomes: list[Outcome] = []
    for s in samples:
        members = normal + ([x.name for x in samples if x.role == "hidden" and x.fraction == s.fraction
                             and x.depth == s.depth] if s.role == "hidden" else [])
        profile = [row for name in members for row in ratios[name]]
        second = run_sample(bams[s.name], annotation, s.name, fasta=fasta, imbalance_profile=profile)
        calls = ",".join(c.fusion for c in second.called)
        for target in KINASES:
            shipped = next(x for x in first[s.name].statuses if x.target == target)
            batch = next(x for x in second.statuses if x.target == target)
            outcomes.append(Outcome(s, target, s.expected[target], shipped, batch, calls,
                                    second.sample_qc.summary() if second.sample_qc else ""))
        _log(f"benchmark imbalance: {s.name} ({s.role} {s.fraction:.0%}): "
             + "; ".join(f"{o.target} {o.batch.status} (z {o.batch.imbalance.z})" for o in outcomes[-3:]))
    write_tsv(outdir / "targets.tsv", TARGET_COLUMNS, [_row(o) for o in outcomes])
    write_text(outdir / "ratios.tsv", profile_text([r for rows in ratios.values() for r in rows]))
    markdown = report(outcomes, samples, aligner, seed, command, time.perf_counter() - t0)
    write_text(outdir / "imbalance.md", markdown)
    return markdown, outcomes


def _row(o: Outcome) -> dict[str, object]:
    from imtfusion_tools.bench.accuracy import library_label

    sv, bv = o.shipped.imbalance, o.batch.imbalance
    return {
        "sample": o.sample.name, "role": o.sample.role, "library": library_label(o.sample.library),
        "depth": f"{o.sample.depth[0]}-{o.sample.depth[1]}", "fraction": o.sample.fraction, "target": o.target,
        "expected": o.expected, "shipped_status": o.shipped.status, "shipped_z": sv.z, "shipped_ratio": sv.ratio,
        "batch_status": o.batch.status, "batch_z": bv.z, "batch_ratio": bv.ratio, "batch_reference": bv.reference,
        "depth5": bv.depth5, "depth3": bv.depth3, "window_depth": bv.window_depth, "rest_depth": bv.rest_depth,
        "calls": o.calls, "sample_qc": o.qc,
    }


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.0f}%)" if total else "–"


def rate_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """[group, targets, flagged batch, flagged shipped, said ATI batch, said ATI shipped, QC failed] per group."""
    groups: list[tuple[str, list[Outcome]]] = []
    deep = [o for o in outcomes if not o.sample.shallow]
    shallow = [o for o in outcomes if o.sample.shallow]
    for label, chosen in (("negatives (deep)", [o for o in deep if o.sample.role == "negative"]),
                          ("negatives (shallow)", [o for o in shallow if o.sample.role == "negative"]),
                          ("ALK-ATI samples: ALK", [o for o in outcomes if o.expected == "ati"]),
                          ("ALK-ATI samples: ROS1, NTRK3",
                           [o for o in outcomes if o.sample.role == "ati" and o.expected != "ati"]),
                          ("QC decoys (their targets)", [o for o in outcomes if o.sample.role == "qc"])):
        groups.append((label, chosen))
    for depth_label, pool in (("deep", deep), ("shallow", shallow)):
        for f in sorted({o.sample.fraction for o in pool if o.sample.role == "hidden"}):
            groups.append((f"hidden fusions at {f:.0%} ({depth_label})",
                           [o for o in pool if o.sample.role == "hidden" and o.sample.fraction == f]))
    rows = []
    for label, chosen in groups:
        if not chosen:
            continue
        n = len(chosen)
        rows.append([label, str(n)] + [_rate(sum(o.flagged(m) for o in chosen), n) for m in ("batch", "shipped")]
                    + [_rate(sum(o.said_ati(m) for o in chosen), n) for m in ("batch", "shipped")]
                    + [_rate(sum(o.qc_failed("batch") for o in chosen), n)])
    return rows


def bar_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """The issue's bars, measured in both modes."""
    out = []
    for mode in ("batch", "shipped"):
        hidden = [o for o in outcomes if o.expected == "hidden" and not o.sample.shallow and o.sample.fraction >= 0.3]
        hits = sum(o.flagged(mode) for o in hidden)
        ok = bool(hidden) and hits >= 0.9 * len(hidden)
        out.append([f"hidden fusions at fraction >= 30% flagged ({mode} reference; deep samples)",
                    _rate(hits, len(hidden)), ">= 90%", "PASS" if ok else "FAIL"])
        for label, role in (("negatives' targets flagged", "negative"), ("ALK-ATI samples' targets flagged", "ati"),
                            ("QC decoys' targets flagged", "qc")):
            chosen = [o for o in outcomes if o.sample.role == role]
            n = sum(o.flagged(mode) for o in chosen)
            out.append([f"{label} ({mode} reference)", f"{n} of {len(chosen)}", "0", "PASS" if n == 0 else "FAIL"])
    decoys = [o for o in outcomes if o.sample.role == "qc"]
    stopped = sum(o.qc_failed("batch") and o.batch.status == "not assessable" for o in decoys)
    out.append(["QC decoys' targets not assessable (sample QC failed)", _rate(stopped, len(decoys)), "100%",
                "PASS" if decoys and stopped == len(decoys) else "FAIL"])
    others = [o for o in outcomes if o.sample.role != "qc"]
    failed = sum(o.qc_failed("batch") for o in others)
    out.append(["other samples' targets failing the sample QC", f"{failed} of {len(others)}", "0",
                "PASS" if failed == 0 else "FAIL"])
    return out


def qc_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """The QC decoys: what each is, and which gates stopped it."""
    rows, seen = [], set()
    for o in outcomes:
        if o.sample.role != "qc" or o.sample.name in seen:
            continue
        seen.add(o.sample.name)
        rows.append([o.sample.name, o.sample.fault, o.qc, o.batch.status])
    return rows


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report(outcomes: Sequence[Outcome], samples: Sequence[ImbalanceSample], aligner: str, seed: int, command: str,
           seconds: float) -> str:
    from imtfusion_tools.sim.imbalance import panel_text

    rates = _markdown(["samples' targets", "n", "flagged (batch)", "flagged (shipped)", "said ATI (batch)",
                       "said ATI (shipped)", "sample QC failed"], rate_rows(outcomes))
    decoys = _markdown(["QC decoy", "library fault", "sample QC", "its targets"], qc_rows(outcomes))
    bars = _markdown(["bar", "measured", "limit", "result"], bar_rows(outcomes))
    panel = "\n".join(f"* {line}" for line in panel_text(samples))
    return f"""# 3'/5' imbalance and ALK-ATI benchmark

`{command or 'imtfusion benchmark imbalance'}` ({aligner}, read seed {seed}; {seconds:.0f} s).
*flagged*: the target's status is `imbalance: fusion suspected, partner not identified`;
*said ATI*: `ALK-ATI (3' ALK expression from intron 19), not a fusion`. *batch*: the
reference is the batch's profile (the negatives and ATI samples, plus for a hidden fusion
the samples of its fraction); *shipped*: the profile in `resources/imbalance_profile.tsv`.
A fusion fraction is the share of the target's transcripts that are fused; deep samples
have 1,500-3,000 wild-type fragments per target, shallow ones 300-500.

{rates}

{bars}

{decoys}

Samples:

{panel}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from imtfusion_tools.sim.align import ALIGNERS

    parser.add_argument("--outdir", required=True, help="results folder (imbalance.md, targets.tsv, ratios.tsv, work/)")
    parser.add_argument("--aligner", choices=sorted(ALIGNERS), default="star_chimeric",
                        help="aligner of the simulated reads (default %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="aligner threads (default 1)")
    parser.add_argument("--quick", action="store_true", help="a few samples of each kind (for tests)")
    parser.add_argument("--seed", type=int, default=IMBALANCE_SEED, help="read seed (default %(default)s)")


def main(args: argparse.Namespace) -> None:
    from imtfusion_tools.bench.accuracy import ALIGNER_BINARIES
    from imtfusion.errors import ConfigError
    from imtfusion_tools.sim.align import require_tool

    if args.threads < 1:
        raise ConfigError("--threads must be at least 1")
    for tool in ALIGNER_BINARIES.get(args.aligner, ()):
        require_tool(tool)
    command = "imtfusion benchmark imbalance " + " ".join(
        a for a in (f"--aligner {args.aligner}", "--quick" if args.quick else "") if a)
    markdown, _ = run_imbalance(args.outdir, args.aligner, args.threads, args.quick, args.seed, command)
    print(markdown)
