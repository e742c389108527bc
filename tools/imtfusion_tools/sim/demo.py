"""The committed demo batch (``resources/demo``): six IMT-like samples aligned with real STAR,
and two targeted-panel samples (``resources/demo/panel``).

Why these: one fusion per target family and per common IMT partner
(TPM3::ALK, CLTC::ALK, ETV6::NTRK3, TFG::ROS1), different read lengths,
strandedness, an FFPE-like short-insert library, both STAR chimeric clip
modes, a negative sample whose only chimeric-looking signal is the
ETV6->BCL2L14 read-through that a caller must *not* report, and an ALK-negative
IMT with TPM3::NTRK1, a fusion of the target set imt-extended that the default
targets do not see. The genome is :func:`~imtfusion_tools.sim.genome.demo_layout`: the
extended targets were added to it late (GeneSpec.late), so the first five samples'
reads are those they had before, with the new genes' reads after them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imtfusion_tools.sim.align import star_chimeric
from imtfusion_tools.sim.genome import Genome, build_genome, demo_layout, write_fasta, write_gtf
from imtfusion_tools.sim.reads import (
    ChimeraSpec,
    LibrarySpec,
    MisprimingSpec,
    SampleSpec,
    simulate_sample,
    write_primer_bed,
    write_truth_table,
)

#: Seed of the demo genome and of every demo sample (samples differ by name).
DEMO_SEED = 20240611


@dataclass(frozen=True)
class DemoSample:
    """One demo sample: what is simulated and how STAR clips its chimeric segments."""

    spec: SampleSpec
    clip: str
    description: str


def demo_samples(seed: int = DEMO_SEED) -> tuple[DemoSample, ...]:
    """The six demo samples (fusion fragments cross the junction; body fragments do not)."""
    return (
        DemoSample(
            SampleSpec(
                "IMT01", seed,
                LibrarySpec(read_length=100, strandedness="reverse"),
                fusions=(ChimeraSpec("TPM3", 7, "ALK", 20, 30, body_fragments=60),),
            ),
            "HardClip", "TPM3::ALK, 2x100, reverse-stranded",
        ),
        DemoSample(
            SampleSpec(
                "IMT02", seed,
                LibrarySpec.ffpe(read_length=75, strandedness="unstranded"),
                fusions=(ChimeraSpec("CLTC", 31, "ALK", 20, 25, body_fragments=50),),
            ),
            "HardClip", "CLTC::ALK, 2x75, FFPE-like short inserts (mean 150, sd 40), unstranded",
        ),
        DemoSample(
            SampleSpec(
                "IMT03", seed,
                LibrarySpec(read_length=100, strandedness="reverse"),
                fusions=(ChimeraSpec("ETV6", 5, "NTRK3", 15, 30, body_fragments=60),),
            ),
            "HardClip", "ETV6::NTRK3, 2x100, reverse-stranded",
        ),
        DemoSample(
            SampleSpec(
                "IMT04", seed,
                LibrarySpec(read_length=100, strandedness="reverse"),
                fusions=(ChimeraSpec("TFG", 4, "ROS1", 35, 25, body_fragments=50),),
            ),
            "SoftClip", "TFG::ROS1, 2x100, reverse-stranded, STAR WithinBAM SoftClip",
        ),
        DemoSample(
            SampleSpec(
                "IMT05", seed,
                LibrarySpec(read_length=100, strandedness="reverse"),
                readthroughs=(ChimeraSpec("ETV6", 8, "BCL2L14", 2, 15, body_fragments=10),),
            ),
            "HardClip", "negative: no fusion; ETV6->BCL2L14 read-through (15 junction fragments), 2x100",
        ),
        DemoSample(
            SampleSpec(
                "IMT06", seed,
                LibrarySpec(read_length=100, strandedness="reverse"),
                fusions=(ChimeraSpec("TPM3", 7, "NTRK1", 10, 30, body_fragments=60),),
            ),
            "HardClip", "TPM3::NTRK1 (target set imt-extended: no call with the default targets), 2x100, reverse-stranded",
        ),
    )


#: The targeted-panel demo samples live in resources/demo/panel/ with their own sheet and
#: truth, apart from the whole-transcriptome batch: labs run panels as batches of their own
#: (a batch's recurrent artefacts and 3'/5' reference would mix the two otherwise).
PANEL_DIR = "panel"
PANEL_DISTANCE = 50  # the AMP primers sit this many bases into their exon


def panel_library(protocol: str) -> LibrarySpec:
    """An FFPE panel library: short inserts, C>T damage, 8-base UMIs, 70% PCR copies."""
    return LibrarySpec.ffpe(read_length=100, strandedness="forward", protocol=protocol, primer_distance=PANEL_DISTANCE,
                            umi_length=8, duplicate_fraction=0.7, umi_error_rate=0.005, damage_rate=0.005)


def panel_samples(seed: int = DEMO_SEED) -> tuple[DemoSample, ...]:
    """One demo sample of each targeted panel kind (``resources/demo/panel``)."""
    amp = panel_library("amp")
    # AMP reads every junction molecule from the ALK exon 20 primer: its fragments end
    # PANEL_DISTANCE bases into ALK; no body fragments (the primer reads only across)
    ranbp2_alk = ChimeraSpec("RANBP2", 18, "ALK", 20, 40, anchor3=(PANEL_DISTANCE, PANEL_DISTANCE))
    return (
        DemoSample(
            SampleSpec("IMT07", seed, amp, fusions=(ranbp2_alk,), misprimed=(MisprimingSpec("ALK", 20, "ACTB", 6),)),
            "HardClip", "RANBP2::ALK (the epithelioid variant's fusion), anchored multiplex PCR panel with its primer "
            "BED, 8-base UMIs, 70% PCR copies, FFPE; decoy: the ALK exon 20 primer misprimed on ACTB RNA",
        ),
        DemoSample(
            SampleSpec("IMT08", seed, panel_library("capture"),
                       fusions=(ChimeraSpec("YWHAE", 5, "ROS1", 35, 40, body_fragments=40),)),
            "HardClip", "YWHAE::ROS1, hybrid capture panel (targets 20x, other genes 5%), 8-base UMIs, 70% PCR "
            "copies, FFPE",
        ),
    )


def build_demo(
    outdir: Path | str,
    workdir: Path | str | None = None,
    threads: int = 1,
    seed: int = DEMO_SEED,
    log: bool = True,
) -> Path:
    """Regenerate the whole demo batch into ``outdir``; return ``outdir``.

    Inputs (genome, GTF, FASTQs) are byte-identical for the same seed; BAMs are
    too for the same STAR version (their records are totally ordered).  BAM
    paths in ``samples.tsv`` are relative to the repository root that contains
    ``outdir`` (or to the current directory outside a repository).  The work directory (STAR index, FASTQs,
    per-read truth) is a temporary one unless ``workdir`` is given.
    """
    outdir = Path(outdir)
    own_workdir = workdir is None
    work = Path(tempfile.mkdtemp(prefix="imtfusion-demo-")) if own_workdir else Path(workdir)  # type: ignore[arg-type]
    work.mkdir(parents=True, exist_ok=True)
    try:
        genome = build_genome(demo_layout(), seed)
        fasta = write_fasta(genome, outdir / "genome.fa")
        gtf = write_gtf(genome, outdir / "annotation.gtf")
        (outdir / "bam").mkdir(parents=True, exist_ok=True)
        truth_rows = []
        sheet = ["sample\tbam"]
        base = _sheet_base(outdir)
        for demo in demo_samples(seed):
            bam = outdir / "bam" / f"{demo.spec.name}.bam"
            truth_rows.extend(_simulate_and_align(genome, demo, fasta, gtf, work, bam, threads, log))
            sheet.append(f"{demo.spec.name}\t{_relative(bam, base)}")
        write_truth_table(truth_rows, outdir / "truth.tsv")
        (outdir / "samples.tsv").write_text("\n".join(sheet) + "\n", encoding="ascii")
        _build_panels(genome, fasta, gtf, outdir, work, threads, seed, log)
        (outdir / "README.md").write_text(demo_readme(genome, seed), encoding="utf-8")
    finally:
        if own_workdir:
            shutil.rmtree(work, ignore_errors=True)
    return outdir


def _simulate_and_align(genome: Genome, demo: DemoSample, fasta: Path, gtf: Path, work: Path, bam: Path,
                        threads: int, log: bool) -> list[dict]:
    """Simulate one demo sample, align it with STAR into ``bam``; its truth rows."""
    name = demo.spec.name
    if log:
        print(f"simulating {name}: {demo.description}", flush=True)
    sim = simulate_sample(genome, demo.spec)
    fastqs = sim.write_fastqs(work / "fastq")
    sim.write_read_truth(work / "truth" / f"{name}.reads.tsv")
    star_chimeric(fastqs, fasta, gtf, work, bam, threads=threads, sample=name, clip=demo.clip)
    return sim.truth_rows()


def _relative(path: Path, base: Path) -> str:
    """A sheet's path: relative to ``base`` (:func:`_sheet_base`), with forward slashes."""
    return Path(os.path.relpath(path.resolve(), base)).as_posix()


def _build_panels(genome: Genome, fasta: Path, gtf: Path, outdir: Path, work: Path, threads: int, seed: int,
                  log: bool) -> None:
    """The panel samples: BAMs, the AMP primer BED, their sheet (with ``primers``) and truth."""
    panel = outdir / PANEL_DIR
    panel.mkdir(parents=True, exist_ok=True)
    base = _sheet_base(outdir)
    rows, sheet = [], ["sample\tbam\tprimers"]
    for demo in panel_samples(seed):
        name = demo.spec.name
        bam = panel / f"{name}.bam"
        rows.extend(_simulate_and_align(genome, demo, fasta, gtf, work, bam, threads, log))
        primers = ""
        if demo.spec.library.protocol == "amp":
            primers = _relative(write_primer_bed(genome, demo.spec.library, panel / f"{name}.primers.bed"), base)
        sheet.append(f"{name}\t{_relative(bam, base)}\t{primers}")
    write_truth_table(rows, panel / "truth.tsv")
    (panel / "samples.tsv").write_text("\n".join(sheet) + "\n", encoding="ascii")


def _sheet_base(outdir: Path) -> Path:
    """Directory the sample sheet's BAM paths are relative to: the enclosing
    repository root (nearest ancestor with ``.git`` or ``pyproject.toml``), else
    the current directory."""
    for d in (outdir.resolve(), *outdir.resolve().parents):
        if (d / ".git").exists() or (d / "pyproject.toml").exists():
            return d
    return Path.cwd()


PANEL_README = '''## Targeted panels: `panel/`

One sample of each targeted RNA panel kind, in a batch of their own (labs run panels
as batches of their own): `panel/IMT0?.bam` (STAR as above), `panel/samples.tsv`
(`sample`, `bam`, `primers`), `panel/truth.tsv` (as `truth.tsv`; `fragments` counts
junction molecules, PCR copies not counted) and `panel/IMT07.primers.bed`, the AMP
panel's primers (BED6; antisense primers {distance} bases into each target exon, sense
primers {distance} bases before exon ends). Run them with
`snakemake --snakefile workflow/Snakefile --cores 2 --configfile config/panel.yaml`.

| sample | content |
| --- | --- |
{panel_rows}

Both libraries: 2x100, forward-stranded, FFPE-like inserts (mean 150, sd 40) with C>T
damage (0.5% of the Cs of a molecule), 8-base UMIs at the end of the read names
(`NAME_ACGTACGT`, 0.5% UMI misreads in PCR copies), 70% of the reads PCR copies.

'''


def demo_readme(genome: Genome, seed: int = DEMO_SEED) -> str:
    """The text of ``resources/demo/README.md`` (generated so it cannot drift from the code)."""
    rows = "\n".join(
        f"| {d.spec.name} | {d.description} | {d.spec.library.read_length} | "
        f"{'paired' if d.spec.library.paired else 'single'} | {d.spec.library.fragment_mean:g} ± {d.spec.library.fragment_sd:g} | "
        f"{d.spec.library.strandedness} | WithinBAM {d.clip} |"
        for d in demo_samples(seed)
    )
    panel_rows = "\n".join(f"| {d.spec.name} | {d.description} |" for d in panel_samples(seed))
    panels = PANEL_README.format(distance=PANEL_DISTANCE, panel_rows=panel_rows)
    contigs = ", ".join(f"{c.name} ({c.length:,} bp)" for c in genome.contigs)
    genes = ", ".join(g.name for g in genome.genes)
    return f"""# Demo data

Synthetic, fully reproducible test data for imtfusion: a small genome, its
GENCODE-style annotation and six RNA-seq samples of inflammatory
myofibroblastic tumour (IMT)-like fusions, aligned with real STAR 2.7.10b in
Arriba's recommended chimeric mode.  Every base is random sequence made by
`imtfusion simulate` from seed {seed}; nothing was downloaded.  Gene
*structures* (strands, exon counts, protein lengths, the amino acid at which
key exons begin) follow the real genes so that literature coordinates land in
the right exons.

Regenerate everything (takes well under a minute; BAM paths in `samples.tsv`
are written relative to the repository root that holds the output directory):

```
imtfusion simulate demo --outdir resources/demo --threads 2
```

Genome, annotation and FASTQs are byte-identical for the same seed; the BAMs
are too as long as the STAR version is the same (records are sorted with a
total order, and @PG/@CO lines hold nothing machine-specific: the work
directory appears as `WORKDIR`, the thread count as `THREADS`, Debian's
`STAR-avx2` binary name as `STAR`).

## Files

| file | what |
| --- | --- |
| `genome.fa`, `genome.fa.fai` | synthetic genome, 60-column FASTA and its samtools index: {contigs} |
| `annotation.gtf` | GENCODE-style GTF (gene, transcript, exon, CDS, UTR, start_codon, stop_codon; fake `ENSG9...` IDs), sorted by contig then position; canonical transcripts tagged `Ensembl_canonical` and `MANE_Select`; ALK, ROS1 and ETV6 also have a shorter non-canonical `-202` transcript that skips one exon (so its exon numbers differ after the skip); the kinases of the target set `imt-extended` (NTRK1, NTRK2, RET, PDGFRB, IGF1R) have IDs of their own series, `ENSG95...` |
| `bam/IMT0?.bam`, `.bai` | STAR alignments, coordinate-sorted and indexed; read group `SM` = sample name; read names `SAMPLE:000123` carry no truth (save that the late genes' reads are numbered last) |
| `samples.tsv` | sample sheet: `sample`, `bam` (path relative to the repository root) |
| `truth.tsv` | one row per true fusion (header only for negative samples), see below |
| `panel/` | the targeted-panel samples IMT07 (anchored multiplex PCR, with its primer BED) and IMT08 (hybrid capture), their sheet and truth: see "Targeted panels" |

Genes: {genes}.

## Samples

| sample | content | read length | layout | fragment length (mean ± sd) | strandedness | STAR chimeric output |
| --- | --- | --- | --- | --- | --- | --- |
{rows}

All samples also express every gene wild-type (each target of the set
`imt-extended` with at least 45 fragments, partners 40-90, background genes
100-250, the `-202` isoforms 8-15).  Substitution errors average 0.2% with binned
Illumina-like qualities (Q37/Q25/Q12).  Besides the junction-crossing
fragments counted in `truth.tsv`, each fusion transcript contributes "body"
fragments away from the junction (twice as many), so the 3' partner is
expressed more downstream of the breakpoint, as in tumours.

The kinases NTRK1, NTRK2, RET, PDGFRB and IGF1R were added to the genome after
IMT01-IMT05 were first made: they sit after the genes of their contigs (or on
contigs of their own), their fragments are drawn from a random stream of their
own after all others and named after them, so the earlier samples' reads
(and every call of the default targets) are what they were.

IMT06 is ALK-negative with TPM3::NTRK1 (TPM3 exon 7 to NTRK1 exon 10, in frame,
the NTRK1 kinase domain kept): `imtfusion call --targets imt-extended` reports
it; with the default targets (ALK, ROS1, ETV6, NTRK3) it is reported nowhere,
neither called nor discarded, and the sample reads as negative.

{panels}IMT05 is negative: its ETV6->BCL2L14 read-through (ETV6 exon 8 spliced to
BCL2L14 exon 2, 5 kb downstream on the same strand, canonical GT/AG) is not
a fusion and is not in the truth table; it is not annotated in the GTF either.

## truth.tsv

`sample`, `fusion` (`GENE5::GENE3`), `gene5`, `gene3`; `breakpoint5` = the
genomic position (1-based `chr:pos`) of the last 5'-gene base in the fused
transcript (for a minus-strand 5' gene the lowest coordinate of its retained
part); `breakpoint3` = the first 3'-gene base (for a minus-strand 3' gene the
highest coordinate of its retained part); `transcript5`, `transcript3` =
canonical transcript IDs; `exon5`, `exon3` = last retained 5' exon and first
retained 3' exon in those transcripts; `junction` = `splice_site` (both
breakpoints at exon boundaries), `exonic` or `intronic`; `reading_frame` =
`in-frame` when translation from the 5' start codon runs into the 3' gene's
own stop codon, else `out-of-frame`; `fragments` = simulated fragments that
cross the junction with at least 15 bases on each side (split reads and
spanning pairs; how many the aligner shows as split reads is up to STAR).

## How STAR 2.7.10b writes the fusions here

* A split (chimeric) read has two records carrying `SA` tags: the segment
  consistent with its mate is the non-supplementary record (soft-clipped,
  flagged proper pair, e.g. flag 99/147/83/163), the other segment is a
  supplementary record (flag 0x800, e.g. 2145/2193/2113/2177) with TLEN 0 and
  RNEXT/PNEXT pointing at the mate.  With `HardClip` the supplementary record
  is hard-clipped (and the `SA` tag of the other record shows its `H` CIGAR);
  with `SoftClip` (IMT04) it keeps the whole read sequence.  Either segment
  may be the longer one.
* The mate of a split read carries no `SA` tag; when overlapping mates both
  contain the junction, only one of them is reported as chimeric.
* Pairs whose junction lies between the mates, and reads with a short
  overhang (under about 15 bases, often left soft-clipped), appear as
  discordant pairs with mates on the two genes (e.g. flags 97/145) without
  `SA` tags.
* Occasionally a short 3' overhang is placed somewhere else as a
  supplementary segment with several mismatches (with the default seed, two
  reads of IMT01 put 16 bases on chr19); a caller should not count those.
* Split-read clip boundaries sit exactly on the truth breakpoints (GT/AG
  motifs there leave STAR no ambiguity); `tests/test_simulate.py` checks it.
"""


@dataclass(frozen=True)
class SplitReadSupport:
    """Split reads (records with SA tags) at a fusion's truth breakpoints in a BAM.

    ``exact`` counts reads (query name + mate) having one segment whose clipped
    end sits exactly on breakpoint5 and another exactly on breakpoint3;
    ``near`` counts reads with SA-tagged segments on both genes' contigs that
    are clipped within ``window`` bases of the breakpoints but not exactly;
    ``one_sided`` counts SA-tagged reads with a segment at (or near) only one
    breakpoint, i.e. whose other segment STAR placed elsewhere.
    """

    exact: int
    near: int
    fragments_exact: int
    one_sided: int = 0


def split_reads_at_breakpoints(
    bam_path: Path | str,
    breakpoint5: tuple[str, int],
    strand5: str,
    breakpoint3: tuple[str, int],
    strand3: str,
    window: int = 20,
) -> SplitReadSupport:
    """Count split reads whose clip boundaries land on the truth breakpoints.

    The 5' segment of a fused read ends at breakpoint5: on a plus-strand 5'
    gene its alignment *ends* there with a clip to the right; on a minus-strand
    gene it *starts* there with a clip to the left.  Mirror rules hold for the
    3' segment at breakpoint3.
    """
    import pysam

    def side(rec: "pysam.AlignedSegment", bp: tuple[str, int], at_end: bool) -> int | None:
        if rec.reference_name != bp[0] or not rec.cigartuples:
            return None
        if at_end:
            if rec.cigartuples[-1][0] not in (4, 5):
                return None
            return rec.reference_end - bp[1]  # type: ignore[operator]
        if rec.cigartuples[0][0] not in (4, 5):
            return None
        return rec.reference_start + 1 - bp[1]

    five: dict[tuple[str, bool], int] = {}
    three: dict[tuple[str, bool], int] = {}
    with pysam.AlignmentFile(str(bam_path), "rb") as bam:
        for rec in bam.fetch(until_eof=True):
            if rec.is_unmapped or not rec.has_tag("SA"):
                continue
            key = (rec.query_name or "", rec.is_read1)
            d5 = side(rec, breakpoint5, at_end=strand5 == "+")
            d3 = side(rec, breakpoint3, at_end=strand3 == "-")
            if d5 is not None and abs(d5) <= window:
                five[key] = min(five.get(key, d5), d5, key=abs)
            if d3 is not None and abs(d3) <= window:
                three[key] = min(three.get(key, d3), d3, key=abs)
    both = set(five) & set(three)
    exact = {k for k in both if five[k] == 0 and three[k] == 0}
    one_sided = (set(five) | set(three)) - both
    return SplitReadSupport(len(exact), len(both - exact), len({k[0] for k in exact}), len(one_sided))
