"""Simulate a synthetic genome, fusion RNA-seq reads and aligned BAMs.

  imtfusion simulate demo --outdir resources/demo [--threads N] [--workdir DIR]
  imtfusion simulate genome --outdir DIR [--seed N] [--decoy NAME:SOURCE:FIRST:LAST:DIV[:CHROM]]
  imtfusion simulate sample --outdir DIR --name S1 --fusion TPM3:7:ALK:20:40 [--aligner star_chimeric]
      [--library wts|amp|capture] [--umi 8] [--duplicates 0.7] [--ffpe] [--adapters]
  imtfusion simulate imbalance-profile [--output resources/imbalance_profile.tsv] [--threads N] [--workdir DIR]

A fusion spec is GENE5:EXON5:GENE3:EXON3:FRAGMENTS[:OFFSET5:OFFSET3] (exon numbers
of the canonical transcripts; offsets move the breakpoint into the intron, > 0,
or into the exon, < 0).  All sequence is random and seeded; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from imtfusion.errors import ConfigError
from imtfusion_tools.sim.genome import DecoySpec, GenomeLayout, demo_layout
from imtfusion_tools.sim.reads import PROTOCOLS

DEMO_OUTDIR = "resources/demo"
PROFILE_OUTPUT = "resources/imbalance_profile.tsv"
FFPE_DAMAGE = 0.005  # C>T per C of a molecule with --ffpe (formalin deamination)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``demo``, ``genome``, ``imbalance-profile`` and ``sample`` sub-commands."""
    from imtfusion_tools.sim.align import ALIGNERS
    from imtfusion_tools.sim.demo import DEMO_SEED
    from imtfusion_tools.sim.reads import STRANDEDNESS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="sim_command", metavar="WHAT")
    sub.required = True

    demo = sub.add_parser("demo", help="regenerate the committed demo batch (genome, GTF, 6 STAR BAMs, truth)")
    demo.add_argument("--outdir", default=DEMO_OUTDIR, help=f"output directory (default: {DEMO_OUTDIR})")
    demo.add_argument("--threads", type=int, default=1, help="aligner threads (default: 1)")
    demo.add_argument("--workdir", help="keep STAR index, FASTQs and per-read truth here (default: a temporary directory, removed)")
    demo.add_argument("--seed", type=int, default=DEMO_SEED, help=f"seed of genome and reads (default: {DEMO_SEED})")

    gen = sub.add_parser("genome", help="write the synthetic genome FASTA (+.fai) and GENCODE-style GTF")
    gen.add_argument("--outdir", required=True, help="writes genome.fa, genome.fa.fai and annotation.gtf here")
    gen.add_argument("--seed", type=int, default=DEMO_SEED, help=f"genome seed (default: {DEMO_SEED}, the demo genome)")
    gen.add_argument(
        "--decoy", action="append", default=[], metavar="NAME:SOURCE:FIRST:LAST:DIV[:CHROM]",
        help="add a paralog decoy copying exons FIRST..LAST of gene SOURCE with divergence DIV (e.g. 0.03), "
        "on CHROM (default: the source's contig); repeatable",
    )

    prof = sub.add_parser("imbalance-profile",
                          help="regenerate the shipped 3'/5' imbalance profile from simulated negatives (needs STAR)")
    prof.add_argument("--output", default=PROFILE_OUTPUT, help=f"profile to write (default: {PROFILE_OUTPUT})")
    prof.add_argument("--threads", type=int, default=1, help="aligner threads (default: 1)")
    prof.add_argument("--workdir", help="keep the genome, STAR index and BAMs here (default: a temporary directory, removed)")

    smp = sub.add_parser("sample", help="simulate one sample from fusion specs and align it")
    smp.add_argument("--outdir", required=True, help="writes genome, GTF, FASTQ(s), BAM and <name>.truth.tsv here")
    smp.add_argument("--name", default="SIM01", help="sample name, also the read-name prefix (default: SIM01)")
    smp.add_argument("--fusion", action="append", default=[], metavar="SPEC", help="e.g. TPM3:7:ALK:20:40; repeatable; none = negative sample")
    smp.add_argument("--readthrough", action="append", default=[], metavar="SPEC", help="an expressed non-fusion chimera, e.g. ETV6:8:BCL2L14:2:15")
    smp.add_argument("--body-ratio", type=float, default=2.0, help="non-junction fragments of each chimeric transcript per junction fragment (default: 2)")
    smp.add_argument("--aligner", choices=[*ALIGNERS, "none"], default="star_chimeric", help="default: star_chimeric; 'none' writes FASTQs only")
    smp.add_argument("--read-length", type=int, default=100, help="read length, 50-150 typical (default: 100)")
    smp.add_argument("--single-end", action="store_true", help="single-end reads (default: paired-end)")
    smp.add_argument("--fragment-mean", type=float, default=None, help="mean fragment length (default: 250, FFPE 150)")
    smp.add_argument("--fragment-sd", type=float, default=None, help="fragment length sd (default: 50, FFPE 40)")
    smp.add_argument("--ffpe", action="store_true", help="FFPE-like library: short inserts (mean 150, sd 40; mates overlap) "
                     "and C>T damage (--damage-rate, default 0.005 with --ffpe)")
    smp.add_argument("--adapters", action="store_true",
                     help="reads not adapter-trimmed: an insert shorter than the reads is read on into the 3' adapters")
    smp.add_argument("--damage-rate", type=float, default=None, help="FFPE C>T damage per C of a molecule (default: 0, 0.005 with --ffpe)")
    smp.add_argument("--library", choices=PROTOCOLS, default="wts", help="wts: whole transcriptome (default); amp: anchored "
                     "multiplex PCR (reads from gene-specific primers in the target exons); capture: hybrid capture of the "
                     "target genes")
    smp.add_argument("--capture-enrichment", type=float, default=20.0, metavar="FACTOR", help="capture: the target genes' "
                     "expression times FACTOR (default 20: about 150x on their exons; 300: about 2,000x)")
    smp.add_argument("--umi", type=int, default=0, metavar="LENGTH", help="UMI length (e.g. 8): every molecule gets a random "
                     "UMI at the end of its read names (NAME_ACGTACGT); default 0, none")
    smp.add_argument("--duplicates", type=float, default=0.0, metavar="FRACTION", help="fraction of the reads that are PCR "
                     "copies of a molecule (e.g. 0.7; default 0)")
    smp.add_argument("--umi-error-rate", type=float, default=0.0, help="misread rate per UMI base of a PCR copy (default 0)")
    smp.add_argument("--strandedness", choices=STRANDEDNESS, default="reverse", help="default: reverse (dUTP)")
    smp.add_argument("--error-rate", type=float, default=0.002, help="mean substitution rate (default: 0.002)")
    smp.add_argument("--seed", type=int, default=1, help="read seed (default: 1)")
    smp.add_argument("--genome-seed", type=int, default=DEMO_SEED, help=f"genome seed (default: {DEMO_SEED}, the demo genome)")
    smp.add_argument("--decoy", action="append", default=[], metavar="NAME:SOURCE:FIRST:LAST:DIV[:CHROM]", help="as for 'genome'")
    smp.add_argument("--threads", type=int, default=1, help="aligner threads (default: 1)")
    smp.add_argument("--workdir", help="indices and per-read truth (default: OUTDIR/work)")


def _parse_decoy(text: str, layout: GenomeLayout) -> DecoySpec:
    parts = text.split(":")
    if len(parts) not in (5, 6):
        raise ConfigError(f"decoy {text!r} must be NAME:SOURCE:FIRST:LAST:DIVERGENCE[:CHROM]")
    name, source, first, last, div = parts[:5]
    try:
        src = layout.gene_spec(source)
    except KeyError:
        raise ConfigError(f"decoy {text!r}: unknown source gene {source}") from None
    chrom = parts[5] if len(parts) == 6 else src.chrom
    try:
        return DecoySpec(name, source, int(first), int(last), float(div), chrom, strand=src.strand, gap_before=30_000)
    except ValueError as exc:
        raise ConfigError(f"decoy {text!r}: {exc}") from None


def _layout(decoys: list[str]) -> GenomeLayout:
    layout = demo_layout()
    for d in decoys:
        spec = _parse_decoy(d, layout)
        if spec.last_exon > layout.gene_spec(spec.source).n_exons:
            raise ConfigError(f"decoy {d!r}: {spec.source} has fewer exons")
        try:
            layout = layout.with_decoy(spec)
        except ValueError as exc:
            raise ConfigError(f"decoy {d!r}: {exc}") from None
    return layout


def _run_genome(args: argparse.Namespace) -> None:
    from imtfusion_tools.sim.genome import build_genome, write_fasta, write_gtf

    genome = build_genome(_layout(args.decoy), args.seed)
    out = Path(args.outdir)
    write_fasta(genome, out / "genome.fa")
    write_gtf(genome, out / "annotation.gtf")
    print(f"wrote {out / 'genome.fa'} ({genome.size:,} bp, {len(genome.genes)} genes) and {out / 'annotation.gtf'}")


def _run_sample(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from imtfusion_tools.sim.align import align
    from imtfusion_tools.sim.genome import build_genome, write_fasta, write_gtf
    from imtfusion_tools.sim.reads import ChimeraSpec, LibrarySpec, SampleSpec, simulate_sample, write_truth_table

    if args.threads < 1:
        raise ConfigError("--threads must be at least 1")
    try:
        lib = LibrarySpec.ffpe() if args.ffpe else LibrarySpec()
        lib = replace(
            lib,
            read_length=args.read_length,
            paired=not args.single_end,
            strandedness=args.strandedness,
            error_rate=args.error_rate,
            fragment_mean=args.fragment_mean if args.fragment_mean is not None else lib.fragment_mean,
            fragment_sd=args.fragment_sd if args.fragment_sd is not None else lib.fragment_sd,
            protocol=args.library,
            umi_length=args.umi,
            duplicate_fraction=args.duplicates,
            umi_error_rate=args.umi_error_rate,
            capture_enrichment=args.capture_enrichment,
            damage_rate=args.damage_rate if args.damage_rate is not None else (FFPE_DAMAGE if args.ffpe else 0.0),
            adapters=args.adapters,
        )

        def chim(text: str) -> ChimeraSpec:
            c = ChimeraSpec.parse(text)
            return replace(c, body_fragments=int(round(args.body_ratio * c.fragments)))

        spec = SampleSpec(
            args.name, args.seed, lib,
            fusions=tuple(chim(f) for f in args.fusion),
            readthroughs=tuple(chim(f) for f in args.readthrough),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    genome = build_genome(_layout(args.decoy), args.genome_seed)
    out = Path(args.outdir)
    work = Path(args.workdir) if args.workdir else out / "work"
    try:
        sim = simulate_sample(genome, spec)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"cannot simulate {args.name}: {exc.args[0] if exc.args else exc}") from None
    fasta = write_fasta(genome, out / "genome.fa")
    gtf = write_gtf(genome, out / "annotation.gtf")
    fastqs = sim.write_fastqs(out)
    read_truth = sim.write_read_truth(work / "truth" / f"{args.name}.reads.tsv")
    truth = write_truth_table(sim.truth_rows(), out / f"{args.name}.truth.tsv")
    print(f"{args.name}: {len(sim.fragments)} fragments -> {', '.join(map(str, fastqs))}; truth {truth}; per-read truth {read_truth}")
    if args.aligner != "none":
        res = align(args.aligner, fastqs, fasta, gtf, work, out / f"{args.name}.bam", threads=args.threads, sample=args.name)
        print(f"{args.name}: {args.aligner} -> {res.bam}")


def _run_demo(args: argparse.Namespace) -> None:
    from imtfusion_tools.sim.demo import build_demo

    if args.threads < 1:
        raise ConfigError("--threads must be at least 1")
    out = build_demo(args.outdir, args.workdir, threads=args.threads, seed=args.seed)
    print(f"demo batch written to {out} (sample sheet {os.path.join(str(out), 'samples.tsv')})")


def _run_profile(args: argparse.Namespace) -> None:
    import tempfile

    from imtfusion_tools.bench.imbalance import make_profile
    from imtfusion_tools.sim.align import require_tool

    if args.threads < 1:
        raise ConfigError("--threads must be at least 1")
    require_tool("STAR")
    if args.workdir:
        out = make_profile(args.output, args.workdir, threads=args.threads)
    else:
        with tempfile.TemporaryDirectory(prefix="imtfusion-profile-") as work:
            out = make_profile(args.output, work, threads=args.threads)
    print(f"imbalance profile written to {out}")


def main(args: argparse.Namespace) -> None:
    """Run the chosen sub-command."""
    {"demo": _run_demo, "genome": _run_genome, "sample": _run_sample,
     "imbalance-profile": _run_profile}[args.sim_command](args)
