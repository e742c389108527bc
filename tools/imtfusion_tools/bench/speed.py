"""Speed and memory of imtfusion: BAM size, annotation size, and a Snakemake batch.

  imtfusion benchmark speed [--bam BAM] [--base N] [--scales 1 10 50] [--unmapped-fraction F]
                            [--target-fragments 0 250000 1000000] [--chimeric-fragments 0 10 100 1000 10000]
                            [--target-sets default imt-extended] [--chimeric-aligners star_chimeric star_default]
                            [--runs 3] [--annotation-genes N]
                            [--batch-samples 50] [--batch-runs 3] [--cores 2] [--call-threads 1]
                            [--workdir DIR]
                            [--profile FILE] [--output FILE]

BAM size: one demo sample is copied into BAMs that hold the same target
content plus BASE x SCALE synthetic off-target background records: aligned
read pairs on extra 50 Mb contigs (chrBG1, chrBG2, ...) appended to the
header, so the background is really elsewhere in the file and its index, and
a share F of unmapped pairs without a position at the end of the file (where
aligners put the reads they could not place).  Target depth is the second
dimension: each background scale is built once per --target-fragments N, with N
read pairs of dense, non-chimeric content expressed from the target genes'
canonical transcripts merged into the demo's records (spliced as a perfect
aligner would place them, with pre-mRNA, duplicates, adapter clips and
sequencing errors; see target_records), because the demo's ~800 records in the
loci are far below a targeted panel's focal depth.  For each BAM the real CLI
`imtfusion call` (pre-built annotation index, --fasta) is timed against
`samtools view -c` over exactly the regions the caller fetches (each target
gene +- the calling margin), with the peak memory of the call (the rusage of
that one process, reaped by a small helper).  Every cell is the median of
RUNS runs after one untimed warm-up (files in the page cache).

Chimeric evidence density: the source sample's own fusion (its row in
resources/demo/truth.tsv) with N more supporting fragments, for each
--chimeric-fragments N: read pairs of the fused transcript across or around its
junction, written as STAR's chimeric WithinBAM output (split reads as primary +
supplementary with SA tags, hard- or soft-clipped; reads with only a soft clip;
discordant pairs; see chimeric_records), merged into the 1x background BAM
without dense target content and timed as the size cells.  The largest one's
call is also profiled (top functions in the report).  The same densities are
also simulated by the project's simulator (imtfusion_tools.sim: the demo genome,
the fusion's junction fragments on the sample's wild-type expression) and
aligned by each --chimeric-aligners aligner (default STAR's chimeric mode and
STAR's defaults, which writes no chimeric alignments: soft clips, unmapped
mates and discordant pairs, the path of the unmapped-read scan and clip
rescue), each called with and without the FASTA, and the largest of each
profiled.

Target sets: for the --target-sets (default and imt-extended), one more BAM of
the largest background and target depth whose dense content is spread over the
genes of all the sets; on it `imtfusion call --targets SET` of each set is timed
against `samtools view -c` over that set's regions, the sets taking turns.
The extra targets' cost is flat when the call's time per samtools time stays
the same while more loci are read.

Annotation size: the call on the largest BAM (largest background, largest
target depth) with the demo annotation and with the demo annotation plus N
synthetic genes (about GENCODE's count with the default), each through its
`imtfusion index-gtf` index.

Snakemake batch: BATCH_SAMPLES demo-sized samples (links to the demo BAMs
under new names) run through the workflow with --cores CORES.  "work" is the
sum of the per-sample jobs' own wall times (call_fusions and the batch
filter's first pass batch_candidates, from their benchmark: files) divided
by CORES; the rest of the total wall time is Snakemake's own overhead (it
includes the two small rules without a benchmark: file, index_annotation and
summary, also timed standalone).

The report (markdown tables, then the PASS/FAIL bars, then with --profile the
top functions of one profiled call) goes to stdout and, with --output, to a
file; progress goes to stderr.  Needs samtools on PATH and a checkout (for
the demo data and the workflow).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# Only the standard library at import time: `imtfusion call` builds the whole command
# tree (this module included) before it runs, so nothing heavy may load here.

#: Bars the report is measured against.
MAX_CALL_VS_SAMTOOLS = 5.0  # call wall time / samtools view -c wall time, at the largest BAM
MAX_LARGEST_VS_SMALLEST = 1.5  # call wall time at the largest BAM / at the smallest
MAX_PEAK_RSS_MB = 300.0  # peak memory of one call, every size
MAX_SNAKEMAKE_OVERHEAD_S = 60.0  # total batch wall time - work
MAX_CHIMERIC_GROWTH_PER_FOLD = 1.2  # call time growth per fold more chimeric fragments: 12x from 1,000 to 10,000
MAX_CHIMERIC_VS_SAMTOOLS = 3.0  # call wall time / samtools view -c wall time, with the most chimeric fragments
# (call / samtools view -c of its regions) with the largest target set, over the same with the first:
# the extra targets cost what reading their loci costs, no more
MAX_TARGET_SET_RATIO_GROWTH = 1.25
DEFAULT_TARGET_SETS = ("default", "imt-extended")

DEFAULT_BASE = 100_000
DEFAULT_SCALES = (1, 10, 50)
BACKGROUND_PREFIX = "chrBG"
BACKGROUND_CONTIGS = 4
BACKGROUND_CONTIG_LENGTH = 50_000_000
MAX_INSERT = 600
DEFAULT_UNMAPPED_FRACTION = 0.05  # of the background: unmapped pairs without a position, as STAR's "Within" writes
GENERATOR_VERSION = 3  # bump when the generated BAMs or GTFs change, so cached ones are rebuilt
DEFAULT_ANNOTATION_GENES = 60_000  # about GENCODE's gene count
TRANSCRIPTS_PER_GENE = 4
EXONS_PER_TRANSCRIPT = 8


def _log(message: str) -> None:
    print(f"[speed] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# locating the checkout, the machine
# --------------------------------------------------------------------------


def find_repo(start: Path | None = None) -> Path | None:
    """The checkout holding workflow/Snakefile and resources/demo (source tree or cwd)."""
    here = Path(__file__).resolve()
    for candidate in [start, *here.parents, Path.cwd()]:
        if candidate is not None and (candidate / "workflow" / "Snakefile").is_file() and (
            candidate / "resources" / "demo"
        ).is_dir():
            return candidate
    return None


def _first_line(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.SubprocessError):
        return "not found"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def load_average() -> str:
    """1-minute load average (other work on the machine skews the timings)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # pragma: no cover
        return "unknown"


def machine_info() -> dict[str, str]:
    """Cores, memory, CPU model and tool versions, for the report."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 0
    from imtfusion import __version__

    try:
        import pysam

        pysam_version = pysam.__version__
    except ImportError:  # pragma: no cover
        pysam_version = "not installed"
    return {
        "cores (nproc)": str(cores),
        "memory": ram,
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "imtfusion": __version__,
        "pysam": pysam_version,
        "samtools": _first_line(["samtools", "--version"]),
        "snakemake": _first_line([sys.executable, "-m", "snakemake", "--version"]),
    }


# --------------------------------------------------------------------------
# timing one child process
# --------------------------------------------------------------------------


@dataclass
class ChildRun:
    seconds: float
    max_rss_mb: float  # of this child (and the descendants it waited for), not of earlier children
    returncode: int
    stdout: str
    stderr: str


# A fresh, small interpreter (no site, stdlib only) that spawns the measured command and
# reports the wall time and rusage of that one child.  Linux carries the memory high-water
# mark of the process image an exec replaces into ru_maxrss, so a command started straight
# from this (large) benchmark process would inherit its footprint; from the helper it
# inherits only the helper's few MB.
_HELPER = """
import json, os, sys, time
cmd, report = json.loads(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
pid = os.posix_spawnp(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(report, "w") as fh:
    json.dump({"seconds": seconds, "max_rss_kb": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}, fh)
"""


def run_child(cmd: Sequence[str], env: dict[str, str] | None = None, cwd: str | Path | None = None) -> ChildRun:
    """Run ``cmd``; wall time and peak RSS of exactly this child.

    A dedicated helper process spawns it and reaps it with ``os.wait4``, which returns
    the rusage of that one process: unlike ``getrusage(RUSAGE_CHILDREN)`` (a maximum over
    every child so far) earlier children never leak into the figure, and the helper's
    own small footprint is the floor instead of this process's."""
    with tempfile.TemporaryDirectory(prefix="imtfusion-speed-run-") as tmp:
        report = Path(tmp) / "usage.json"
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            helper = subprocess.run([sys.executable, "-S", "-c", _HELPER, json.dumps(list(map(str, cmd))), str(report)],
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        stdout = out_path.read_bytes().decode(errors="replace")
        stderr = err_path.read_bytes().decode(errors="replace")
        if not report.exists():  # the command could not be started at all
            return ChildRun(0.0, 0.0, helper.returncode or 127, stdout, stderr)
        usage = json.loads(report.read_text())
    return ChildRun(usage["seconds"], usage["max_rss_kb"] / 1024, usage["code"], stdout, stderr)


def _checked(run: ChildRun, cmd: Sequence[str]) -> ChildRun:
    if run.returncode != 0:
        raise RuntimeError(f"{shlex.join(map(str, cmd))} exited with {run.returncode}:\n{run.stderr[-3000:]}")
    return run


def imtfusion_cmd(*args: str) -> list[str]:
    """The real CLI, with the interpreter running this benchmark."""
    return [sys.executable, "-m", "imtfusion.cli", *args]


def index_gtf_cmd(gtf: Path, output: Path, fasta: Path | None, targets: Sequence[str] = ()) -> list[str]:
    """`imtfusion index-gtf`, with the FASTA and the targets as the workflow passes them (when
    this version takes them: with both, the target transcripts' copies in the genome are
    found here once, as the workflow's index has them, instead of in a call)."""
    cmd = imtfusion_cmd("index-gtf", "--gtf", str(gtf), "--output", str(output))
    if fasta is not None:
        helptext = subprocess.run(imtfusion_cmd("index-gtf", "--help"), capture_output=True, text=True).stdout
        if "--fasta" in helptext:
            cmd += ["--fasta", str(fasta)]
            if targets and "--targets" in helptext:
                cmd += ["--targets", *targets]
    return cmd


def checkout_state(repo: Path | None) -> str:
    """Commit of the checkout whose code is timed (and whether files differ from it)."""
    if repo is None or not (repo / ".git").exists():
        return "not a git checkout"
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--", "scripts"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' with uncommitted changes under scripts/' if dirty else ''}" if head else "unknown"


# --------------------------------------------------------------------------
# BAMs of growing size
# --------------------------------------------------------------------------


@dataclass
class BuiltBam:
    path: Path
    records: int  # every record in the file
    background: int  # synthetic off-target records among them
    source_records: int  # records copied from the source BAM
    megabytes: float
    unmapped: int = 0  # background records that are unmapped pairs without a position (at the end)
    target: int = 0  # dense target records among them (2 per target fragment)
    chimeric: int = 0  # chimeric records among them (of --chimeric-fragments fragments)


def background_contigs(n: int = BACKGROUND_CONTIGS, length: int = BACKGROUND_CONTIG_LENGTH) -> list[tuple[str, int]]:
    return [(f"{BACKGROUND_PREFIX}{i}", length) for i in range(1, n + 1)]


def header_with_background(header_text: str, contigs: Sequence[tuple[str, int]], n_background: int,
                           n_target: int = 0, chimeric: str = "") -> str:
    """The source header with the background contigs after its last @SQ line, and an @CO
    (one more with dense target content, and one more with ``chimeric``, its text)."""
    lines = [line for line in header_text.splitlines() if line]
    last_sq = max((i for i, line in enumerate(lines) if line.startswith("@SQ")), default=0 if lines else -1)
    extra = [f"@SQ\tSN:{name}\tLN:{length}" for name, length in contigs]
    lines[last_sq + 1:last_sq + 1] = extra
    if n_target:
        lines.append(f"@CO\timtfusion benchmark speed: {n_target} synthetic non-chimeric target records "
                     f"({TARGET_READ_PREFIX}*) from the target genes' canonical transcripts")
    if chimeric:
        lines.append(f"@CO\timtfusion benchmark speed: {chimeric}")
    lines.append(f"@CO\timtfusion benchmark speed: {n_background} synthetic off-target background records on "
                 f"{', '.join(name for name, _ in contigs)}")
    return "\n".join(lines) + "\n"


def _quality_strings(rng, read_length: int, n: int = 32) -> list[str]:
    """Binned Illumina-like qualities (Q37 mostly, some Q25 and Q11)."""
    import numpy as np

    symbols = np.frombuffer(b"F:,", dtype=np.uint8)
    return [symbols[rng.choice(3, size=read_length, p=[0.85, 0.12, 0.03])].tobytes().decode("ascii") for _ in range(n)]


def background_sam(n_records: int, contigs: Sequence[tuple[str, int]], read_length: int, read_group: str | None,
                   seed: int, chunk: int = 50_000) -> Iterator[str]:
    """SAM lines of ``n_records`` off-target records in coordinate order, in text chunks.

    Proper pairs (flags 99/147, inserts ~250 +- 50) spread evenly over ``contigs``;
    an odd record out is a single-end read.  Sequences are slices of a random pool."""
    import numpy as np

    if n_records <= 0:
        return
    rng = np.random.default_rng(seed)
    pool_length = 1_000_000
    pool = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, pool_length)].tobytes().decode("ascii")
    quals = _quality_strings(rng, read_length)
    rg_tag = f"\tRG:Z:{read_group}" if read_group else ""
    cigar = f"{read_length}M"
    pairs, singles = divmod(n_records, 2)
    n = len(contigs)
    first_fragment = 0
    buffer: list[str] = []
    for k, (name, length) in enumerate(contigs):
        m = pairs // n + (1 if k < pairs % n else 0)
        s = singles if k == n - 1 else 0
        span = max(1, length - MAX_INSERT)
        starts = rng.integers(0, span, m + s)
        inserts = np.clip(rng.normal(250, 50, m).astype(np.int64), read_length, MAX_INSERT)
        pair_starts = starts[:m]
        mate_starts = pair_starts + inserts - read_length
        pos = np.concatenate([pair_starts, mate_starts, starts[m:]])
        mpos = np.concatenate([mate_starts, pair_starts, np.zeros(s, dtype=np.int64)])
        flag = np.concatenate([np.full(m, 99), np.full(m, 147), np.zeros(s, dtype=np.int64)])
        tlen = np.concatenate([inserts, -inserts, np.zeros(s, dtype=np.int64)])
        frag = np.concatenate([np.arange(m), np.arange(m), m + np.arange(s)]) + first_fragment
        order = np.lexsort((flag, frag, pos))
        first_fragment += m + s
        for p, mp, f, t, fid in zip(pos[order].tolist(), mpos[order].tolist(), flag[order].tolist(),
                                    tlen[order].tolist(), frag[order].tolist()):
            off = p % (pool_length - read_length)
            mate = f"=\t{mp + 1}" if f else "*\t0"
            buffer.append(f"BG:{fid:09d}\t{f}\t{name}\t{p + 1}\t60\t{cigar}\t{mate}\t{t}\t"
                          f"{pool[off:off + read_length]}\t{quals[fid & 31]}\tNH:i:1{rg_tag}\n")
            if len(buffer) >= chunk:
                yield "".join(buffer)
                buffer = []
    if buffer:
        yield "".join(buffer)


def unmapped_sam(n_records: int, read_length: int, read_group: str | None, seed: int,
                 chunk: int = 50_000) -> Iterator[str]:
    """``n_records`` unmapped records without a position (pairs flagged 77/141; an odd one out
    flagged 4), random sequence, as aligners write the reads they could not place."""
    import numpy as np

    if n_records <= 0:
        return
    rng = np.random.default_rng(seed + 1_000_003)
    pool_length = 1_000_000
    pool = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, pool_length)].tobytes().decode("ascii")
    quals = _quality_strings(rng, read_length)
    offsets = rng.integers(0, pool_length - read_length, n_records).tolist()
    rg_tag = f"\tRG:Z:{read_group}" if read_group else ""
    pairs = n_records // 2
    buffer: list[str] = []
    for i, off in enumerate(offsets):
        fragment, mate = divmod(i, 2)
        flag = (77 if mate == 0 else 141) if fragment < pairs else 4
        buffer.append(f"UN:{fragment:09d}\t{flag}\t*\t0\t0\t*\t*\t0\t0\t{pool[off:off + read_length]}\t"
                      f"{quals[i & 31]}\tuT:A:1{rg_tag}\n")
        if len(buffer) >= chunk:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)


# --------------------------------------------------------------------------
# dense target content: panel-like depth in the target loci
# --------------------------------------------------------------------------

DEFAULT_TARGET_FRAGMENTS = (0, 250_000, 1_000_000)  # the demo alone, ~0.5 M and ~2 M records in the loci
TARGET_INSERT_MEAN, TARGET_INSERT_SD = 250, 50
TARGET_MAPQ = 255  # STAR's unique mappers, as in the demo BAMs
PRE_MRNA_FRACTION = 0.05  # fragments placed unspliced in an intron (pre-mRNA)
ADAPTER_CLIP_FRACTION = 0.02  # reads whose 3' end is adapter (soft clip)
ADAPTER_CLIP_BASES = (5, 20)
DUPLICATE_FRACTION = 0.10  # fragments flagged 0x400, copies of another fragment's position
SUBSTITUTION_RATE = 0.003  # sequencing errors per base
TRUSEQ_ADAPTERS = ("AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC", "AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGT")  # read 1, read 2
TARGET_READ_PREFIX = "TD:"


@dataclass
class TargetModel:
    """One target gene's canonical transcript, as the dense content is drawn from it.

    ``exons`` are ascending genomic (start, end), 0-based half-open; offsets of the
    spliced sequence (exons joined in genome order) and of the genomic span (first exon
    start to last exon end) index the generator's joined sequence array."""

    gene: str
    transcript_id: str
    chrom: str  # BAM contig name
    tid: int  # its index in the BAM header
    exons: tuple[tuple[int, int], ...]
    spliced_offset: int
    genomic_offset: int

    @property
    def span(self) -> tuple[int, int]:
        return self.exons[0][0], self.exons[-1][1]

    @property
    def spliced_length(self) -> int:
        return sum(e - s for s, e in self.exons)

    @property
    def introns(self) -> list[tuple[int, int]]:
        return [(a[1], b[0]) for a, b in zip(self.exons, self.exons[1:]) if b[0] > a[1]]

    def blocks(self, start: int, length: int) -> list[tuple[int, int]]:
        """Genomic blocks of spliced-transcript bases [start, start + length) (genome order)."""
        out: list[tuple[int, int]] = []
        for s, e in self.exons:
            size = e - s
            if start >= size:
                start -= size
                continue
            take = min(size - start, length)
            out.append((s + start, s + start + take))
            length -= take
            start = 0
            if length == 0:
                break
        if length:
            raise ValueError(f"{self.transcript_id}: bases beyond the transcript end")
        return out


def target_models(annotation_path: str | Path, fasta_path: str | Path, references: Sequence[tuple[str, int]],
                  targets: Sequence[str], read_length: int) -> tuple[list[TargetModel], np.ndarray]:
    """The target genes' canonical transcripts mapped to the BAM's contigs, and one uint8
    array holding, per target, its spliced sequence then its genomic span (upper case)."""
    import numpy as np
    import pysam

    from imtfusion.annotation import load_annotation
    from imtfusion.targets import ContigMap

    annotation = load_annotation(annotation_path)
    bam_ids = {name: i for i, (name, _) in enumerate(references)}
    to_bam = ContigMap.build(annotation.contigs, dict(references))
    models: list[TargetModel] = []
    parts: list[bytes] = []
    offset = 0
    with pysam.FastaFile(str(fasta_path)) as fasta:
        to_fasta = ContigMap.build(annotation.contigs, dict(zip(fasta.references, fasta.lengths)))
        for name in targets:
            gene = annotation.find_gene(name)
            transcript = annotation.canonical_transcript(gene.gene_id)
            if transcript is None:
                raise ValueError(f"{name}: no transcript in {annotation_path}")
            chrom, fasta_chrom = to_bam.to_bam(transcript.chrom), to_fasta.to_bam(transcript.chrom)
            if chrom is None or fasta_chrom is None:
                raise ValueError(f"{name}: contig {transcript.chrom} is not in the BAM header or the FASTA")
            exons = tuple(sorted(transcript.exons))
            if sum(e - s for s, e in exons) < read_length:
                raise ValueError(f"{name}: transcript {transcript.transcript_id} is shorter than a read")
            spliced = "".join(fasta.fetch(fasta_chrom, s, e) for s, e in exons).upper().encode()
            genomic = fasta.fetch(fasta_chrom, exons[0][0], exons[-1][1]).upper().encode()
            models.append(TargetModel(name, transcript.transcript_id, chrom, bam_ids[chrom], exons, offset,
                                      offset + len(spliced)))
            parts += [spliced, genomic]
            offset += len(spliced) + len(genomic)
    return models, np.frombuffer(b"".join(parts), dtype=np.uint8)


def _reverse_complement(seq: str) -> str:
    return seq.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


def target_records(n_fragments: int, annotation_path: str | Path, fasta_path: str | Path,
                   references: Sequence[tuple[str, int]], read_length: int = 100, read_group: str | None = None,
                   seed: int = 1, targets: Sequence[str] | None = None,
                   chunk: int = 50_000) -> Iterator[tuple[list[int], list[str]]]:
    """Dense, non-chimeric target content: ``n_fragments`` read pairs in coordinate order,
    in chunks of (sort keys ``tid << 32 | pos``, SAM lines).

    Fragments are drawn round-robin from the target genes' canonical transcripts, inserts
    ~250 +- 50 (within read length .. transcript length), and aligned as a perfect spliced
    aligner would (``xM yN zM``, flags 99/147 or 163/83, mates and TLEN, MAPQ 255,
    ``NH:i:1``, ``NM:i:``, the read group). Sequence is the genome's with ~0.3% random
    substitutions (counted in NM); ~5% of fragments are pre-mRNA (placed unspliced in an
    intron of the gene), ~2% of reads end in 5-20 adapter bases (a 3' soft clip: the
    CIGAR's last operation on a forward read, its first on a reverse one), ~10% of
    fragments are duplicates (0x400 on both reads, at another fragment's position). No
    supplementary alignments, no discordant mates. Deterministic in ``seed``."""
    import numpy as np

    if n_fragments <= 0:
        return
    from imtfusion.registry import default_targets

    models, codes = target_models(annotation_path, fasta_path, references, list(targets or default_targets()),
                                  read_length)
    rng = np.random.default_rng(seed + 2_000_029)
    quals = _quality_strings(rng, read_length)
    L, n, G = read_length, n_fragments, len(models)

    # -- fragments: gene, kind (0 spliced, 1 pre-mRNA), start and insert in the kind's coordinates
    gene = np.arange(n, dtype=np.int64) % G
    intron_total = np.array([sum(e - s for s, e in m.introns) for m in models], dtype=np.int64)
    kind = ((rng.random(n) < PRE_MRNA_FRACTION) & (intron_total[gene] > 0)).astype(np.int64)
    r1_left = rng.random(n) < 0.5  # read 1 is the forward (left) read: 99/147, else 163/83
    duplicate = rng.random(n) < DUPLICATE_FRACTION
    raw_insert = np.rint(rng.normal(TARGET_INSERT_MEAN, TARGET_INSERT_SD, n)).astype(np.int64)
    uniform = rng.random(n)
    start = np.zeros(n, dtype=np.int64)
    insert = np.zeros(n, dtype=np.int64)
    for g, model in enumerate(models):
        span_length = model.span[1] - model.span[0]
        for k, length in ((0, model.spliced_length), (1, span_length)):
            rows = np.flatnonzero((gene == g) & (kind == k))
            if not len(rows):
                continue
            size = np.clip(raw_insert[rows], L, length)
            insert[rows] = size
            if k == 0:
                start[rows] = (uniform[rows] * (length - size + 1)).astype(np.int64)
            else:  # a base of an intron (weighted by length), the fragment from there, inside the span
                introns = np.array(model.introns, dtype=np.int64)
                cumulative = np.concatenate([[0], np.cumsum(introns[:, 1] - introns[:, 0])])
                u = (uniform[rows] * cumulative[-1]).astype(np.int64)
                which = np.searchsorted(cumulative, u, side="right") - 1
                first = introns[which, 0] + (u - cumulative[which]) - model.span[0]
                start[rows] = np.minimum(first, length - size)
    for g in range(G):  # a PCR copy of another fragment of the gene: its kind, place, insert and orientation
        originals = np.flatnonzero(~duplicate & (gene == g))
        dups = np.flatnonzero(duplicate & (gene == g))
        if not len(originals):
            duplicate[dups] = False
            continue
        copy_of = originals[rng.integers(0, len(originals), len(dups))]
        for array in (kind, start, insert, r1_left):
            array[dups] = array[copy_of]

    # -- reads: index 2i the forward (left) read of fragment i, 2i + 1 the reverse (right) one
    m = 2 * n
    frag = np.repeat(np.arange(n, dtype=np.int64), 2)
    forward = np.tile(np.array([True, False]), n)
    window = np.empty(m, dtype=np.int64)  # first base of the read's L bases (genome order)
    window[0::2] = start
    window[1::2] = start + insert - L
    low, high = ADAPTER_CLIP_BASES
    clip = np.where(rng.random(m) < ADAPTER_CLIP_FRACTION, rng.integers(low, high + 1, m), 0)
    clip_left = np.where(forward, 0, clip)  # a reverse read's 3' end is its leftmost base
    clip_right = np.where(forward, clip, 0)
    read_gene, read_kind = gene[frag], kind[frag]
    aligned_start = window + clip_left
    # one alignment (pos, end, CIGAR) per distinct (gene, kind, aligned start, length, clips)
    starts = max(mo.span[1] - mo.span[0] for mo in models) + 1
    key = (((read_gene * 2 + read_kind) * starts + aligned_start) * (high + 1) + clip) * 2 + forward
    unique, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1)
    u_pos = np.empty(len(unique), dtype=np.int64)
    u_end = np.empty(len(unique), dtype=np.int64)
    cigars: list[str] = []
    for i, value in enumerate(unique.tolist()):
        value, fwd = divmod(value, 2)
        value, clipped = divmod(value, high + 1)
        value, s = divmod(value, starts)
        g, k = divmod(value, 2)
        length, cl, cr = L - clipped, (0 if fwd else clipped), (clipped if fwd else 0)
        model = models[g]
        if k == 0:
            blocks = model.blocks(s, length)
            parts = [f"{blocks[0][1] - blocks[0][0]}M"]
            for (_, prev_end), (b_start, b_end) in zip(blocks, blocks[1:]):
                parts.append(f"{b_start - prev_end}N{b_end - b_start}M")
            body = "".join(parts)
        else:
            blocks = [(model.span[0] + s, model.span[0] + s + length)]
            body = f"{length}M"
        u_pos[i], u_end[i] = blocks[0][0], blocks[-1][1]
        cigars.append(f"{cl}S{body}" if cl else (f"{body}{cr}S" if cr else body))
    pos, end = u_pos[inverse], u_end[inverse]
    mate = np.arange(m) ^ 1
    left = np.minimum(pos, pos[mate])
    right = np.maximum(end, end[mate])
    tlen = np.where(forward, right - left, left - right)
    read1 = forward == r1_left[frag]
    flag = np.where(forward, np.where(read1, 99, 163), np.where(read1, 83, 147)) | np.where(duplicate[frag], 0x400, 0)
    tids = np.array([mo.tid for mo in models], dtype=np.int64)[read_gene]
    sort_key = (tids << 32) | pos
    order = np.lexsort((np.arange(m), sort_key))
    source_offset = np.array([[mo.spliced_offset, mo.genomic_offset] for mo in models], dtype=np.int64)
    global_window = source_offset[read_gene, read_kind] + window

    lookup = np.full(256, 4, dtype=np.uint8)
    for i, base in enumerate(b"ACGT"):
        lookup[base] = i
    acgt = np.frombuffer(b"ACGT", dtype=np.uint8)
    adapters = [np.frombuffer(a.encode(), dtype=np.uint8) for a in TRUSEQ_ADAPTERS]
    adapters_rc = [np.frombuffer(_reverse_complement(a).encode(), dtype=np.uint8) for a in TRUSEQ_ADAPTERS]
    columns = np.arange(L)
    chroms = [mo.chrom for mo in models]
    rg_tag = f"\tRG:Z:{read_group}" if read_group else ""
    # sequencing errors, drawn per read up front (the output does not depend on ``chunk``)
    errors = rng.binomial(L, SUBSTITUTION_RATE, m)
    error_offset = np.concatenate([[0], np.cumsum(errors)])
    error_column = rng.integers(0, L, int(error_offset[-1]))
    error_shift = rng.integers(1, 4, int(error_offset[-1]))  # to another base
    for first in range(0, m, chunk):
        rows = order[first:first + chunk]
        reference = codes[global_window[rows][:, None] + columns]  # (reads, L)
        seq = reference.copy()
        counts = errors[rows]
        r = np.repeat(np.arange(len(rows)), counts)
        entry = error_offset[rows][r] + np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)
        c = error_column[entry]
        known = lookup[seq[r, c]] < 4  # no substitution for an N
        r, c, entry = r[known], c[known], entry[known]
        seq[r, c] = acgt[(lookup[seq[r, c]] + error_shift[entry]) % 4]
        aligned = (columns >= clip_left[rows][:, None]) & (columns < L - clip_right[rows][:, None])
        nm = ((seq != reference) & aligned).sum(axis=1)
        for j in np.flatnonzero(clip[rows]).tolist():
            read = rows[j]
            which = 0 if read1[read] else 1
            if forward[read]:
                seq[j, L - clip[read]:] = adapters[which][:clip[read]]
            else:  # stored reverse-complemented: the adapter's start is the record's last clip base
                seq[j, :clip[read]] = adapters_rc[which][len(adapters_rc[which]) - clip[read]:]
        text = seq.tobytes().decode("ascii")
        lines = []
        for j, (fid, fl, g, p, mp, t, cig, d) in enumerate(zip(
                frag[rows].tolist(), flag[rows].tolist(), read_gene[rows].tolist(),
                pos[rows].tolist(), pos[mate[rows]].tolist(), tlen[rows].tolist(), inverse[rows].tolist(),
                nm.tolist())):
            lines.append(f"{TARGET_READ_PREFIX}{fid:09d}\t{fl}\t{chroms[g]}\t{p + 1}\t{TARGET_MAPQ}\t{cigars[cig]}\t=\t"
                         f"{mp + 1}\t{t}\t{text[j * L:(j + 1) * L]}\t{quals[fid & 31]}\tNH:i:1\tHI:i:1\tNM:i:{d}"
                         f"{rg_tag}\n")
        yield sort_key[rows].tolist(), lines


def target_sam(n_fragments: int, annotation_path: str | Path, fasta_path: str | Path,
               references: Sequence[tuple[str, int]], read_length: int = 100, read_group: str | None = None,
               seed: int = 1, targets: Sequence[str] | None = None, chunk: int = 50_000) -> Iterator[str]:
    """:func:`target_records` as SAM text chunks, in coordinate order."""
    for _, lines in target_records(n_fragments, annotation_path, fasta_path, references, read_length, read_group,
                                   seed, targets, chunk):
        yield "".join(lines)


# --------------------------------------------------------------------------
# chimeric evidence: a fusion with N supporting fragments in the target loci
# --------------------------------------------------------------------------

DEFAULT_CHIMERIC_FRAGMENTS = (0, 10, 100, 1_000, 10_000)
CHIMERIC_READ_PREFIX = "CH:"
CHIMERIC_VERSION = 1  # bump when the chimeric records change (a cached BAM with them is rebuilt)
# kinds of chimeric fragment and their shares: a read across the junction written as STAR's
# --chimOutType WithinBAM writes it (the segment that pairs with the mate primary and soft-clipped,
# the other supplementary, hard-clipped with HardClip, soft-clipped with SoftClip, both with SA
# tags); a read across the junction written as one alignment with the partner's bases soft-clipped
# and no SA (as STAR writes it with its default, chimeric detection off); and a discordant pair
# (one mate in each gene, no read across the junction)
SPLIT_HARD, SPLIT_SOFT, CLIP_ONLY, DISCORDANT = range(4)
CHIMERIC_KINDS = (("split reads (supplementary hard-clipped)", 0.3), ("split reads (supplementary soft-clipped)", 0.3),
                  ("reads with only a soft clip (no SA)", 0.2), ("discordant pairs", 0.2))
CHIMERIC_MIN_ANCHOR = 15  # bases of a split read on each side of the junction (STAR: --chimJunctionOverhangMin 10)
CLIP_ONLY_BASES = (15, 45)  # partner bases soft-clipped off a read with no SA (the shorter side of its junction)


@dataclass(frozen=True)
class FusionSpec:
    """A fusion as the demo's truth.tsv gives it; breakpoints are ``chrom:pos``, 1-based, the
    base of each gene next to the junction (the 5' gene's last, the 3' gene's first)."""

    sample: str
    fusion: str
    gene5: str
    gene3: str
    breakpoint5: str
    breakpoint3: str
    transcript5: str
    transcript3: str


def fusion_from_truth(truth: str | Path, sample: str) -> FusionSpec:
    """The first fusion of ``sample`` in a truth table (resources/demo/truth.tsv)."""
    with open(truth) as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row.get("sample") == sample:
                return FusionSpec(row["sample"], row["fusion"], row["gene5"], row["gene3"], row["breakpoint5"],
                                  row["breakpoint3"], row["transcript5"], row["transcript3"])
    raise ValueError(f"{truth}: no fusion of sample {sample!r}")


def bam_sample(path: str | Path) -> str:
    """The sample of a BAM: its one read group's SM, else the file name without .bam."""
    import pysam

    with pysam.AlignmentFile(str(path), "rb") as bam:
        samples = {g.get("SM") for g in bam.header.to_dict().get("RG", [])} - {None}
    return samples.pop() if len(samples) == 1 else Path(path).name.removesuffix(".bam")


@dataclass
class FusedTranscript:
    """The fused transcript of a :class:`FusionSpec`: its bases in transcript orientation, the
    0-based genomic position of each (BAM contigs), and the index of the first 3' base."""

    spec: FusionSpec
    bases: np.ndarray  # uint8, upper case
    positions: np.ndarray  # int64
    junction: int
    chroms: tuple[str, str]  # BAM contig of the 5' and of the 3' gene
    tids: tuple[int, int]
    strands: tuple[str, str]


_COMPLEMENT = bytes.maketrans(b"ACGTN", b"TGCAN")
_STR_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def fused_transcript(spec: FusionSpec, annotation_path: str | Path, fasta_path: str | Path,
                     references: Sequence[tuple[str, int]]) -> FusedTranscript:
    """The 5' transcript's exons up to breakpoint5 joined to the 3' transcript's from breakpoint3."""
    import numpy as np
    import pysam

    from imtfusion.annotation import load_annotation
    from imtfusion.targets import ContigMap

    annotation = load_annotation(annotation_path)
    bam_ids = {name: i for i, (name, _) in enumerate(references)}
    to_bam = ContigMap.build(annotation.contigs, dict(references))
    bases, positions, chroms, strands = [], [], [], []
    with pysam.FastaFile(str(fasta_path)) as fasta:
        to_fasta = ContigMap.build(annotation.contigs, dict(zip(fasta.references, fasta.lengths)))
        for side, (transcript_id, breakpoint) in enumerate(((spec.transcript5, spec.breakpoint5),
                                                            (spec.transcript3, spec.breakpoint3))):
            transcript = annotation.transcript(transcript_id)
            chrom, fasta_chrom = to_bam.to_bam(transcript.chrom), to_fasta.to_bam(transcript.chrom)
            if chrom is None or fasta_chrom is None:
                raise ValueError(f"{transcript_id}: contig {transcript.chrom} is not in the BAM header or the FASTA")
            where, pos = breakpoint.rsplit(":", 1)
            if to_bam.to_bam(where) != chrom:
                raise ValueError(f"{spec.fusion}: breakpoint {breakpoint} is not on {transcript_id}'s contig")
            minus = transcript.strand == "-"
            exons = [np.arange(s, e, dtype=np.int64)[::-1] if minus else np.arange(s, e, dtype=np.int64)
                     for s, e in transcript.exons]  # transcript order
            order = np.concatenate(exons)
            at = np.flatnonzero(order == int(pos) - 1)
            if not len(at):
                raise ValueError(f"{spec.fusion}: breakpoint {breakpoint} is not in an exon of {transcript_id}")
            kept = order[:at[0] + 1] if side == 0 else order[at[0]:]
            low, high = int(kept.min()), int(kept.max()) + 1
            genome = np.frombuffer(fasta.fetch(fasta_chrom, low, high).upper().encode(), dtype=np.uint8)
            seq = genome[kept - low].tobytes()
            bases.append(seq.translate(_COMPLEMENT) if minus else seq)
            positions.append(kept)
            chroms.append(chrom)
            strands.append(transcript.strand)
    return FusedTranscript(spec, np.frombuffer(b"".join(bases), dtype=np.uint8), np.concatenate(positions),
                           len(bases[0]), (chroms[0], chroms[1]), (bam_ids[chroms[0]], bam_ids[chroms[1]]),
                           (strands[0], strands[1]))


@dataclass
class _Segment:
    """One alignment of part of a read: its gene (0 the 5', 1 the 3'), strand on the genome,
    the stored (BAM orientation) read bases it aligns, and where."""

    gene: int
    reverse: bool
    q0: int
    q1: int
    pos: int
    end: int
    body: str  # CIGAR without the clips


def _segment(fused: FusedTranscript, start: int, sense: bool, t0: int, t1: int, read_length: int) -> _Segment:
    """The alignment of fused-transcript bases [t0, t1) of the read over [start, start + L)
    (``sense``: the read has the transcript's sequence, else its reverse complement)."""
    import numpy as np

    gene = 0 if t0 < fused.junction else 1
    reverse = sense == (fused.strands[gene] == "-")
    L = read_length
    q0, q1 = (t0 - start, t1 - start) if sense else (L - (t1 - start), L - (t0 - start))
    if reverse:
        q0, q1 = L - q1, L - q0
    genomic = np.sort(fused.positions[t0:t1])
    cuts = np.flatnonzero(np.diff(genomic) != 1)
    starts = genomic[np.concatenate([[0], cuts + 1])].tolist()
    ends = (genomic[np.concatenate([cuts, [len(genomic) - 1]])] + 1).tolist()
    parts = [f"{ends[0] - starts[0]}M"]
    for prev_end, s, e in zip(ends, starts[1:], ends[1:]):
        parts.append(f"{s - prev_end}N{e - s}M")
    return _Segment(gene, reverse, q0, q1, starts[0], ends[-1], "".join(parts))


def _chimeric_kinds(n: int, rng) -> np.ndarray:
    """Kind of each of ``n`` fragments: the shares of CHIMERIC_KINDS (largest remainders), shuffled."""
    import numpy as np

    shares = np.array([share for _, share in CHIMERIC_KINDS]) * n
    counts = np.floor(shares).astype(np.int64)
    counts[np.argsort(counts - shares, kind="stable")[:n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(CHIMERIC_KINDS)), counts))


def chimeric_records(n_fragments: int, fused: FusedTranscript, read_length: int = 100,
                     read_group: str | None = None, seed: int = 1) -> list[tuple[int, str]]:
    """``n_fragments`` read pairs of the fused transcript around its junction, as (sort key
    ``tid << 32 | pos``, SAM line) in coordinate order.

    The kinds of fragment are CHIMERIC_KINDS in their shares: split reads (primary +
    supplementary, SA tags, the supplementary hard- or soft-clipped), reads with only a soft
    clip of the partner's bases (no SA) and discordant pairs. A split read's junction falls
    anywhere from CHIMERIC_MIN_ANCHOR bases into the read to as many from its end; a soft
    clip is 15-45 bases, the shorter side of the junction; in both, the read's mate lies
    in the gene of the read's primary alignment, a proper pair with it. Inserts ~250 +- 50
    (longer where the mate must not reach the junction), bases spelled from the genome with
    ~0.3% substitutions (counted in NM), MAPQ 255, ``NH:i:1``, the read group; read names
    CH:000000001... Deterministic in ``seed``."""
    import numpy as np

    if n_fragments <= 0:
        return []
    L, J, T = read_length, fused.junction, len(fused.bases)
    if J < 2 * L or T - J < 2 * L:
        raise ValueError(f"{fused.spec.fusion}: each side of the fused transcript needs {2 * L} bases "
                         f"(5' {J}, 3' {T - J})")
    rng = np.random.default_rng(seed + 3_000_017)
    kinds = _chimeric_kinds(n_fragments, rng).tolist()
    quals = _quality_strings(rng, L)
    lookup = np.full(256, 4, dtype=np.uint8)
    for i, base in enumerate(b"ACGT"):
        lookup[base] = i
    acgt = np.frombuffer(b"ACGT", dtype=np.uint8)
    rg_tag = f"\tRG:Z:{read_group}" if read_group else ""
    low, high = CLIP_ONLY_BASES
    A = CHIMERIC_MIN_ANCHOR
    out: list[tuple[int, str]] = []
    for fid, kind in enumerate(kinds):
        read1_left = bool(rng.random() < 0.5)  # read 1 is the transcript's 5' read
        crossing_left = bool(rng.random() < 0.5)  # the read across the junction is the 5' one
        k = int(rng.integers(low, high + 1) if kind == CLIP_ONLY else rng.integers(A, L - A + 1))
        if kind == CLIP_ONLY and not crossing_left:
            k = L - k  # the clip is the 3' gene's bases at the read's end
        while True:  # an insert that fits the fused transcript
            insert = int(np.clip(round(rng.normal(TARGET_INSERT_MEAN, TARGET_INSERT_SD)), L, MAX_INSERT))
            if kind == DISCORDANT:
                insert = max(insert, 2 * L)
                start = int(rng.integers(J - insert + L, J - L + 1))
            elif crossing_left:
                insert = max(insert, L + k)  # the 3' read starts at or after the junction
                start = J - k
            else:
                insert = max(insert, 2 * L - k)  # the 5' read ends before the junction
                start = J - k + L - insert
            if start >= 0 and start + insert <= T:
                break
        name = f"{CHIMERIC_READ_PREFIX}{fid + 1:09d}"
        records = []  # per read (5', 3'): [(segment, is primary)], stored bases, qualities, true bases
        for left, read_start in ((True, start), (False, start + insert - L)):
            true = fused.bases[read_start:read_start + L]
            if not left:  # the 3' read is the reverse complement
                true = np.frombuffer(true[::-1].tobytes().translate(_COMPLEMENT), dtype=np.uint8)
            seq = true.copy()
            errors = int(rng.binomial(L, SUBSTITUTION_RATE))
            columns = rng.integers(0, L, errors)
            shifts = rng.integers(1, 4, errors)
            for c, s in zip(columns.tolist(), shifts.tolist()):
                if lookup[seq[c]] < 4:
                    seq[c] = acgt[(lookup[seq[c]] + s) % 4]
            bounds = [(read_start, min(read_start + L, J)), (max(read_start, J), read_start + L)]
            segments = [_segment(fused, read_start, left, a, b, L) for a, b in bounds if a < b]
            records.append((segments, seq.tobytes().decode("ascii"), quals[(fid * 2 + (not left)) & 31],
                            true.tobytes().decode("ascii")))
        mate_gene = [None, None]
        for r in (0, 1):
            segments = records[r][0]
            if len(segments) == 1:
                mate_gene[1 - r] = segments[0].gene
        # the primary alignment of each read: a crossing read's segment in its mate's gene
        primary = []
        for r in (0, 1):
            segments = records[r][0]
            primary.append(segments[0] if len(segments) == 1 else
                           next(s for s in segments if s.gene == mate_gene[r]))
        proper = primary[0].gene == primary[1].gene
        chroms = fused.chroms

        def stored(r: int, seg: _Segment) -> tuple[str, str, str]:
            _, seq, qual, true = records[r]
            if seg.reverse:
                return (seq.translate(_STR_COMPLEMENT)[::-1], qual[::-1], true.translate(_STR_COMPLEMENT)[::-1])
            return seq, qual, true

        def nm(r: int, seg: _Segment) -> int:
            seq, _, true = stored(r, seg)
            return sum(a != b for a, b in zip(seq[seg.q0:seg.q1], true[seg.q0:seg.q1]))

        def cigar(seg: _Segment, clip: str) -> str:
            lead, trail = seg.q0, L - seg.q1
            return f"{f'{lead}{clip}' if lead else ''}{seg.body}{f'{trail}{clip}' if trail else ''}"

        def sa(r: int, seg: _Segment, clip: str) -> str:
            return f"{chroms[seg.gene]},{seg.pos + 1},{'-' if seg.reverse else '+'},{cigar(seg, clip)},255,{nm(r, seg)};"

        for r in (0, 1):
            me, mate = primary[r], primary[1 - r]
            read1 = (r == 0) == read1_left
            base_flag = 0x1 | (0x40 if read1 else 0x80) | (0x20 if mate.reverse else 0)
            if proper:
                span = max(me.end, mate.end) - min(me.pos, mate.pos)
                first = me.pos < mate.pos or (me.pos == mate.pos and not me.reverse)
                tlen = span if first else -span
            else:
                tlen = 0
            segments = records[r][0]
            others = [s for s in segments if s is not me]
            split = kind in (SPLIT_HARD, SPLIT_SOFT) and others
            for seg in segments:
                if seg is not me and not split:
                    continue  # a soft clip only: the partner's bases stay clipped off the primary
                supplementary = seg is not me
                clip = "H" if supplementary and kind == SPLIT_HARD else "S"
                seq, qual, _ = stored(r, seg)
                if clip == "H":
                    seq, qual = seq[seg.q0:seg.q1], qual[seg.q0:seg.q1]
                flag = base_flag | (0x10 if seg.reverse else 0) | (0x800 if supplementary else (0x2 if proper else 0))
                tags = f"NH:i:1\tHI:i:1\tNM:i:{nm(r, seg)}"
                if split:
                    partner = others[0] if seg is me else me
                    tags += f"\tSA:Z:{sa(r, partner, 'S' if partner is me or kind == SPLIT_SOFT else 'H')}"
                rnext = "=" if chroms[mate.gene] == chroms[seg.gene] else chroms[mate.gene]
                line = (f"{name}\t{flag}\t{chroms[seg.gene]}\t{seg.pos + 1}\t255\t{cigar(seg, clip)}\t"
                        f"{rnext}\t{mate.pos + 1}\t{0 if supplementary else tlen}\t"
                        f"{seq}\t{qual}\t{tags}{rg_tag}\n")
                out.append(((fused.tids[seg.gene] << 32) | seg.pos, line))
    out.sort(key=lambda item: item[0])
    return out



def chimeric_sam(n_fragments: int, fused: FusedTranscript, read_length: int = 100, read_group: str | None = None,
                 seed: int = 1) -> str:
    """:func:`chimeric_records` as SAM text, in coordinate order."""
    return "".join(line for _, line in chimeric_records(n_fragments, fused, read_length, read_group, seed))


# chimeric evidence density, simulated and aligned: the project's simulator and real aligners
# ------------------------------------------------------------------------------------------

DEFAULT_CHIMERIC_ALIGNERS = ("star_chimeric", "star_default")
SIMULATED_VERSION = 1  # bump when the simulated chimeric BAMs change (cached ones are rebuilt)
SIMULATED_SAMPLE = "SPEEDSIM"  # one name for every density: the same wild-type expression in each


def fusion_exons(truth: str | Path, sample: str) -> tuple[int, int]:
    """(exon5, exon3) of the first fusion of ``sample`` in a truth table."""
    with open(truth) as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row.get("sample") == sample:
                return int(row["exon5"]), int(row["exon3"])
    raise ValueError(f"{truth}: no fusion of sample {sample!r}")


def simulated_chimeric_bam(folder: Path, aligner: str, fragments: int, spec: FusionSpec, exons: tuple[int, int],
                           fasta: Path, gtf: Path, seed: int, threads: int = 2) -> BuiltBam:
    """A sample simulated by :mod:`imtfusion_tools.sim` on the demo genome (its wild-type expression)
    with ``fragments`` junction fragments of ``spec`` (reads across the junction and pairs
    spanning it), aligned by ``aligner`` (:data:`imtfusion_tools.sim.align.ALIGNERS`): STAR's
    chimeric mode writes split reads with SA tags, STAR's defaults and HISAT2 write soft
    clips, unmapped mates and discordant pairs. Cached in ``folder`` by its inputs.
    ``chimeric`` of the result: the records of the fusion's fragments."""
    import pysam

    from imtfusion_tools.sim.align import align
    from imtfusion_tools.sim.genome import build_genome, default_layout
    from imtfusion_tools.sim.reads import ChimeraSpec, LibrarySpec, SampleSpec, simulate_sample

    out = folder / f"{aligner}_c{fragments}.bam"
    key = {"version": SIMULATED_VERSION, "aligner": aligner, "fragments": fragments, "seed": seed,
           "fusion": dataclasses.asdict(spec), "exons": list(exons), "fasta": _file_key(fasta), "gtf": _file_key(gtf)}
    meta = out.with_name(out.name + ".json")
    if meta.exists() and out.exists() and Path(str(out) + ".bai").exists():
        saved = json.loads(meta.read_text())
        if saved.get("key") == json.loads(json.dumps(key)):
            _log(f"reusing {out} ({saved['records']} records)")
            return BuiltBam(out, saved["records"], 0, saved["records"], out.stat().st_size / 1e6, saved["unmapped"],
                            0, saved["chimeric"])
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    genome = build_genome(default_layout(), seed)
    fusions = (ChimeraSpec(spec.gene5, exons[0], spec.gene3, exons[1], fragments),) if fragments else ()
    sim = simulate_sample(genome, SampleSpec(SIMULATED_SAMPLE, seed, LibrarySpec(read_length=100,
                                                                                 strandedness="reverse"),
                                             fusions=fusions))
    fastqs = sim.write_fastqs(folder / "fastq" / f"{aligner}_c{fragments}")
    align(aligner, fastqs, fasta, gtf, folder / "work", out, threads=threads, sample=SIMULATED_SAMPLE)
    for fq in fastqs:
        fq.unlink()
    fusion_names = {f.name for f in sim.fragments if f.kind == "fusion"}
    records = chimeric = unmapped = 0
    with pysam.AlignmentFile(str(out), "rb") as bam:
        for r in bam.fetch(until_eof=True):
            records += 1
            chimeric += r.query_name in fusion_names
            unmapped += r.is_unmapped and r.reference_id < 0
    meta.write_text(json.dumps({"key": key, "records": records, "chimeric": chimeric, "unmapped": unmapped}))
    _log(f"simulated {out} ({aligner}, {fragments:,} {spec.fusion} fragments): {records:,} records "
         f"in {time.perf_counter() - started:.0f} s")
    return BuiltBam(out, records, 0, records, out.stat().st_size / 1e6, unmapped, 0, chimeric)


def _read_length(bam) -> int:
    from collections import Counter

    lengths = Counter(r.infer_read_length() for r in bam.head(2000) if not r.is_supplementary)
    lengths.pop(None, None)
    return lengths.most_common(1)[0][0] if lengths else 100


def build_bam(source: str | Path, out: str | Path, n_background: int, *, seed: int = 1,
              contigs: Sequence[tuple[str, int]] | None = None, threads: int = 2, unmapped: int = 0,
              target_fragments: int = 0, annotation: str | Path | None = None, fasta: str | Path | None = None,
              targets: Sequence[str] | None = None, chimeric_fragments: int = 0,
              fusion: FusionSpec | None = None) -> BuiltBam:
    """Copy ``source`` (coordinate-sorted) and add ``n_background`` off-target records; sorted and indexed.

    Of the background, ``unmapped`` records are unmapped reads without a position, the
    rest aligned pairs on ``contigs``. Source records keep their contigs (the background
    contigs come after them in the header); unplaced reads (the source's, then the
    background's) come last, as sorting puts them. With ``target_fragments``, that many
    read pairs of dense non-chimeric target content (:func:`target_records`, from the
    canonical transcripts of ``targets`` in ``annotation``, bases from ``fasta``) are
    merged into the source records in coordinate order. With ``chimeric_fragments``, that
    many fragments of ``fusion`` (:func:`chimeric_records`, its transcripts from
    ``annotation``, bases from ``fasta``) are merged in the same way."""
    import heapq
    import pysam

    if not 0 <= unmapped <= n_background:
        raise ValueError(f"unmapped records ({unmapped}) must be between 0 and the background ({n_background})")
    if target_fragments < 0:
        raise ValueError(f"target fragments must be at least 0, not {target_fragments}")
    if target_fragments and (annotation is None or fasta is None):
        raise ValueError("dense target content needs the annotation and the genome FASTA")
    if chimeric_fragments < 0:
        raise ValueError(f"chimeric fragments must be at least 0, not {chimeric_fragments}")
    if chimeric_fragments and (annotation is None or fasta is None or fusion is None):
        raise ValueError("chimeric fragments need the fusion, the annotation and the genome FASTA")
    source, out = Path(source), Path(out)
    contigs = list(contigs or background_contigs())
    out.parent.mkdir(parents=True, exist_ok=True)
    with pysam.AlignmentFile(str(source), "rb") as bam:
        names = set(bam.references)
        clash = [c for c, _ in contigs if c in names]
        if clash:
            raise ValueError(f"{source} already has contigs {clash}")
        groups = bam.header.to_dict().get("RG", [])
        read_group = groups[0]["ID"] if len(groups) == 1 else None
        read_length = _read_length(bam)
        references = list(zip(bam.references, bam.lengths))
        chimeric_lines: list[tuple[int, str]] = []
        if chimeric_fragments:
            fused = fused_transcript(fusion, annotation, fasta, references)
            chimeric_lines = chimeric_records(chimeric_fragments, fused, read_length, read_group, seed)
        chimeric_note = (f"{len(chimeric_lines)} synthetic chimeric records ({CHIMERIC_READ_PREFIX}*) of "
                         f"{chimeric_fragments} {fusion.fusion} fragments (split reads, soft clips, discordant "
                         f"pairs)" if chimeric_fragments else "")
        header = header_with_background(str(bam.header), contigs, n_background, 2 * target_fragments, chimeric_note)
        cmd = ["samtools", "view", "--no-PG", "-b", "-@", str(max(1, threads - 1)), "-o", str(out), "-"]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        copied = 0
        unplaced: list[str] = []

        def placed_source() -> Iterator[tuple[int, str]]:
            nonlocal copied
            for read in bam.fetch(until_eof=True):
                copied += 1
                if read.reference_id < 0:
                    unplaced.append(read.to_string() + "\n")
                    continue
                yield (read.reference_id << 32) | read.reference_start, read.to_string() + "\n"

        def dense() -> Iterator[tuple[int, str]]:
            for keys, chunk in target_records(target_fragments, annotation, fasta, references, read_length,
                                              read_group, seed, targets):
                yield from zip(keys, chunk)

        try:
            proc.stdin.write(header.encode())
            lines: list[str] = []
            streams = [placed_source()] + ([dense()] if target_fragments else []) + (
                [iter(chimeric_lines)] if chimeric_lines else [])
            merged = heapq.merge(*streams, key=lambda item: item[0]) if len(streams) > 1 else streams[0]
            for _, line in merged:
                lines.append(line)
                if len(lines) >= 20_000:
                    proc.stdin.write("".join(lines).encode())
                    lines = []
            proc.stdin.write("".join(lines).encode())
            for text in background_sam(n_background - unmapped, contigs, read_length, read_group, seed):
                proc.stdin.write(text.encode())
            proc.stdin.write("".join(unplaced).encode())
            for text in unmapped_sam(unmapped, read_length, read_group, seed):
                proc.stdin.write(text.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise RuntimeError(f"samtools view could not write {out}: {err.strip()}")
    index = subprocess.run(["samtools", "index", "-@", str(threads), str(out)], capture_output=True, text=True)
    if index.returncode != 0:
        raise RuntimeError(f"samtools index {out}: {index.stderr.strip()}")
    dense_records = 2 * target_fragments
    return BuiltBam(out, copied + n_background + dense_records + len(chimeric_lines), n_background, copied,
                    out.stat().st_size / 1e6, unmapped, dense_records, len(chimeric_lines))


def unmapped_count(n_background: int, fraction: float) -> int:
    """Unmapped records in a background of ``n_background``: an even number (whole pairs)."""
    return min(n_background, 2 * round(n_background * fraction / 2))


def _file_key(path: str | Path | None) -> list | None:
    if path is None:
        return None
    stat = Path(path).stat()
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime]


def cached_bam(source: Path, out: Path, n_background: int, seed: int, threads: int, unmapped: int = 0,
               contigs: Sequence[tuple[str, int]] | None = None, target_fragments: int = 0,
               annotation: Path | None = None, fasta: Path | None = None,
               targets: Sequence[str] | None = None, chimeric_fragments: int = 0,
               fusion: FusionSpec | None = None) -> BuiltBam:
    """:func:`build_bam`, reusing an earlier build of the same inputs in the work folder."""
    contigs = list(contigs or background_contigs())
    stat = source.stat()
    key = {"version": GENERATOR_VERSION, "source": str(source.resolve()), "size": stat.st_size,
           "mtime": stat.st_mtime, "background": n_background, "unmapped": unmapped, "seed": seed,
           "contigs": contigs, "target_fragments": target_fragments}
    if target_fragments:
        key.update(annotation=_file_key(annotation), fasta=_file_key(fasta),
                   targets=list(targets) if targets else "default")
    if chimeric_fragments:
        key.update(chimeric_fragments=chimeric_fragments, fusion=dataclasses.asdict(fusion),
                   chimeric_version=CHIMERIC_VERSION, annotation=_file_key(annotation), fasta=_file_key(fasta))
    meta = out.with_name(out.name + ".json")
    bai = Path(str(out) + ".bai")
    if meta.exists() and out.exists() and bai.exists():
        saved = json.loads(meta.read_text())
        if saved.get("key") == json.loads(json.dumps(key)):
            _log(f"reusing {out} ({saved['records']} records)")
            return BuiltBam(out, saved["records"], n_background, saved["source_records"], out.stat().st_size / 1e6,
                            unmapped, saved.get("target", 0), saved.get("chimeric", 0))
    started = time.perf_counter()
    built = build_bam(source, out, n_background, seed=seed, threads=threads, unmapped=unmapped, contigs=contigs,
                      target_fragments=target_fragments, annotation=annotation, fasta=fasta, targets=targets,
                      chimeric_fragments=chimeric_fragments, fusion=fusion)
    meta.write_text(json.dumps({"key": key, "records": built.records, "source_records": built.source_records,
                                "target": built.target, "chimeric": built.chimeric}))
    _log(f"built {out}: {built.records} records, {built.megabytes:.1f} MB in {time.perf_counter() - started:.0f} s")
    return built


def write_background_fasta(base: str | Path, out: str | Path, contigs: Sequence[tuple[str, int]], seed: int = 1) -> None:
    """``base`` (a FASTA) plus random-sequence ``contigs``, 60 bases a line, and its .fai:
    the genome of the generated BAMs (the synthetic genes of the large annotation need
    their bases for the exon-boundary index)."""
    import numpy as np
    import pysam

    rng = np.random.default_rng(seed + 7)
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(out, "wb") as fh:
        with open(base, "rb") as src:
            shutil.copyfileobj(src, fh)
        for name, length in contigs:
            fh.write(f">{name}\n".encode())
            for block in range(0, length, 6_000_000):  # whole lines per block
                n = min(6_000_000, length - block)
                seq = bases[rng.integers(0, 4, n)]
                full, rest = divmod(n, 60)
                lines = np.concatenate([seq[:full * 60].reshape(full, 60), np.full((full, 1), 10, np.uint8)], axis=1)
                fh.write(lines.tobytes())
                if rest:
                    fh.write(seq[full * 60:].tobytes() + b"\n")
    pysam.faidx(str(out))


def cached_background_fasta(base: Path, folder: Path, contigs: Sequence[tuple[str, int]], seed: int) -> Path:
    out, meta = folder / "genome_bg.fa", folder / "genome_bg.json"
    stat = base.stat()
    key = {"version": GENERATOR_VERSION, "base": str(base.resolve()), "size": stat.st_size, "mtime": stat.st_mtime,
           "contigs": [list(c) for c in contigs], "seed": seed}
    if meta.exists() and out.exists() and Path(str(out) + ".fai").exists() and json.loads(meta.read_text()) == key:
        return out
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_background_fasta(base, out, contigs, seed)
    meta.write_text(json.dumps(key))
    _log(f"wrote {out} ({out.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s")
    return out


def target_regions(annotation_path: str | Path, bam_path: str | Path, targets: Sequence[str],
                   margin: int | None = None) -> list[str]:
    """The regions ``imtfusion call`` fetches: each target gene's span +- the margin, BAM names, 1-based."""
    import pysam

    from imtfusion.annotation import load_annotation
    from imtfusion.params import CallParameters
    from imtfusion.targets import ContigMap, resolve_targets

    annotation = load_annotation(annotation_path)
    with pysam.AlignmentFile(str(bam_path), "rb") as bam:
        lengths = dict(zip(bam.references, bam.lengths))
    contigs = ContigMap.build(annotation.contigs, lengths)
    margin = CallParameters().margin if margin is None else margin
    return [locus.label() for locus in resolve_targets(annotation, list(targets), margin, contigs, str(bam_path))]


# --------------------------------------------------------------------------
# part 1: call vs samtools at each size
# --------------------------------------------------------------------------


@dataclass
class SizeRow:
    scale: int
    records: int
    megabytes: float
    target_records: int  # samtools view -c over the regions
    samtools_s: float  # medians
    call_s: float
    peak_rss_mb: float  # max over the runs
    calls: int  # fusions called (the same at every size if the background is inert)
    unmapped: int = 0  # background records that are unmapped without a position
    target_fragments: int = 0  # read pairs of dense target content added (target depth)

    @property
    def ratio(self) -> float:
        return self.call_s / self.samtools_s if self.samtools_s > 0 else float("inf")


def _count_calls(fusions_tsv: Path) -> int:
    with open(fusions_tsv) as fh:
        return max(0, sum(1 for line in fh if line.strip()) - 1)


def measure_size(built: BuiltBam, scale: int, index: Path, fasta: Path | None, regions: Sequence[str],
                 targets: Sequence[str], outdir: Path, runs: int, env: dict[str, str] | None = None,
                 target_fragments: int = 0, threads: int = 1, sample: str | None = None) -> SizeRow:
    """One cell: the call and ``samtools view -c`` of the same regions, each with
    ``threads`` threads in all (samtools: ``-@ threads-1`` extra decompression threads)."""
    sample = sample or f"SPEED{scale}X" + (f"T{target_fragments}" if target_fragments else "")
    call = imtfusion_cmd("call", "--bam", str(built.path), "--gtf", str(index), "--sample", sample,
                         "--outdir", str(outdir), "--targets", *targets, *(["--fasta", str(fasta)] if fasta else []),
                         *(["--threads", str(threads)] if threads > 1 else []))
    view = ["samtools", "view", "-c", *(["-@", str(threads - 1)] if threads > 1 else []), str(built.path), *regions]
    _checked(run_child(call, env=env), call)  # warm-up: page cache, .pyc files
    _checked(run_child(view, env=env), view)
    call_runs, view_runs = [], []
    for _ in range(runs):
        call_runs.append(_checked(run_child(call, env=env), call))
        view_runs.append(_checked(run_child(view, env=env), view))
    counts = {int(r.stdout.strip()) for r in view_runs}
    if len(counts) != 1:
        raise RuntimeError(f"samtools view -c gave different counts: {counts}")
    return SizeRow(
        scale=scale,
        records=built.records,
        megabytes=built.megabytes,
        target_records=counts.pop(),
        samtools_s=statistics.median(r.seconds for r in view_runs),
        call_s=statistics.median(r.seconds for r in call_runs),
        peak_rss_mb=max(r.max_rss_mb for r in call_runs),
        calls=_count_calls(outdir / sample / f"{sample}.fusions.tsv"),
        unmapped=built.unmapped,
        target_fragments=target_fragments,
    )


@dataclass
class ChimericRow:
    """One cell of the chimeric-evidence table: a BAM with ``fragments`` chimeric fragments of
    ``fusion`` added (1x background, no dense target content), timed as a size cell, and
    what the call made of them."""

    fragments: int  # chimeric fragments added
    records: int
    megabytes: float
    chimeric_records: int
    target_records: int  # samtools view -c over the regions
    samtools_s: float  # medians
    call_s: float
    peak_rss_mb: float  # max over the runs
    calls: int  # fusions called
    fusion: str
    split_reads: int | None = None  # of the call of ``fusion`` (None: not called)
    supporting: int | None = None  # its fragments (split + discordant)
    at_truth: bool = False  # called at the truth breakpoints
    aligner: str = ""  # "": the synthetic STAR WithinBAM records on the 1x background; else the simulator's aligner
    with_fasta: bool = True  # the call was given the genome FASTA
    dense: int = 0  # read pairs of dense non-chimeric target content beneath (--chimeric-on-target-fragments)

    @property
    def ratio(self) -> float:
        return self.call_s / self.samtools_s if self.samtools_s > 0 else float("inf")


def fusion_call(fusions_tsv: Path, spec: FusionSpec) -> tuple[int | None, int | None, bool]:
    """Split reads and fragments of the call of ``spec.fusion`` in a fusions table (None, None
    when it is not called), and whether it is at the truth breakpoints."""
    with open(fusions_tsv) as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r.get("fusion") == spec.fusion]
    if not rows:
        return None, None, False
    best = max(rows, key=lambda r: int(r["fragments"]))
    at_truth = (best["breakpoint5"], best["breakpoint3"]) == (spec.breakpoint5, spec.breakpoint3)
    return int(best["split_reads"]), int(best["fragments"]), at_truth


def measure_chimeric(built: BuiltBam, fragments: int, spec: FusionSpec, index: Path, fasta: Path | None,
                     regions: Sequence[str], targets: Sequence[str], outdir: Path, runs: int,
                     env: dict[str, str] | None = None, threads: int = 1, aligner: str = "",
                     dense: int = 0) -> ChimericRow:
    """One chimeric cell: :func:`measure_size` on ``built``, then the call of the fusion
    (``aligner``: a simulated and aligned BAM, called with ``fasta`` or without one;
    ``dense``: the BAM's dense target content beneath the chimeric fragments)."""
    sample = (f"SPEEDSIM_{aligner}_{'fa' if fasta else 'nofa'}_{fragments}" if aligner
              else f"SPEEDCHIM{fragments}" + (f"_T{dense}" if dense else ""))
    row = measure_size(built, 1, index, fasta, regions, targets, outdir, runs, env, threads=threads, sample=sample)
    split, supporting, at_truth = fusion_call(outdir / sample / f"{sample}.fusions.tsv", spec)
    return ChimericRow(fragments, row.records, row.megabytes, built.chimeric, row.target_records, row.samtools_s,
                       row.call_s, row.peak_rss_mb, row.calls, spec.fusion, split, supporting, at_truth,
                       aligner, fasta is not None, dense)


@dataclass
class TargetSetRow:
    """The call with one target set on the target-set BAM, and ``samtools view -c`` of the
    regions that set's call fetches."""

    name: str
    targets: tuple[str, ...]
    target_records: int
    samtools_s: float  # medians
    call_s: float
    peak_rss_mb: float  # max over the runs
    calls: int

    @property
    def ratio(self) -> float:
        return self.call_s / self.samtools_s if self.samtools_s > 0 else float("inf")


def measure_target_sets(built: BuiltBam, sets: Sequence[tuple[str, Sequence[str], Sequence[str]]], index: Path,
                        fasta: Path | None, outdir: Path, runs: int, env: dict[str, str] | None = None,
                        threads: int = 1) -> list[TargetSetRow]:
    """Each (name, targets, regions) of ``sets`` on the same BAM: the call with those targets
    and ``samtools view -c`` of those regions, the sets taking turns within every run (so a
    busy moment of the machine falls on all of them), medians of ``runs`` after a warm-up."""
    cells = []
    for name, targets, regions in sets:
        sample = "SPEEDSET-" + "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
        call = imtfusion_cmd("call", "--bam", str(built.path), "--gtf", str(index), "--sample", sample,
                             "--outdir", str(outdir), "--targets", *targets, *(["--fasta", str(fasta)] if fasta else []),
                             *(["--threads", str(threads)] if threads > 1 else []))
        view = ["samtools", "view", "-c", *(["-@", str(threads - 1)] if threads > 1 else []), str(built.path), *regions]
        cells.append((name, tuple(targets), sample, call, view))
    for *_, call, view in cells:  # warm-up
        _checked(run_child(call, env=env), call)
        _checked(run_child(view, env=env), view)
    timed: dict[str, tuple[list[ChildRun], list[ChildRun]]] = {c[0]: ([], []) for c in cells}
    for _ in range(runs):
        for name, _targets, _sample, call, view in cells:
            timed[name][0].append(_checked(run_child(call, env=env), call))
            timed[name][1].append(_checked(run_child(view, env=env), view))
    rows = []
    for name, targets, sample, call, _view in cells:
        call_runs, view_runs = timed[name]
        counts = {int(r.stdout.strip()) for r in view_runs}
        if len(counts) != 1:
            raise RuntimeError(f"samtools view -c gave different counts: {counts}")
        rows.append(TargetSetRow(name, targets, counts.pop(), statistics.median(r.seconds for r in view_runs),
                                 statistics.median(r.seconds for r in call_runs), max(r.max_rss_mb for r in call_runs),
                                 _count_calls(outdir / sample / f"{sample}.fusions.tsv")))
    return rows


def target_set_bars(rows: Sequence[TargetSetRow]) -> list[Bar]:
    """Cost flat: with the largest set, the call takes at most MAX_TARGET_SET_RATIO_GROWTH x
    the first set's time per time of `samtools view -c` over its own loci."""
    if len(rows) < 2:
        return []
    first, largest = rows[0], max(rows[1:], key=lambda r: len(r.targets))
    growth = largest.ratio / first.ratio
    return [Bar(f"call / samtools view -c with {largest.name} ({len(largest.targets)} targets, "
                f"{largest.target_records:,} records) <= {MAX_TARGET_SET_RATIO_GROWTH:g}x that with {first.name} "
                f"({len(first.targets)} targets, {first.target_records:,} records): the extra targets add only their loci",
                f"{growth:.2f}x ({largest.ratio:.1f} vs {first.ratio:.1f})", f"<= {MAX_TARGET_SET_RATIO_GROWTH:g}x",
                growth <= MAX_TARGET_SET_RATIO_GROWTH)]


TARGET_SET_HEADER = ("target set", "targets", "records in target regions", "samtools view -c s", "imtfusion call s",
                     "call / samtools", "call peak RSS MB", "fusions called")


def target_set_table(rows: Sequence[TargetSetRow]) -> str:
    table = markdown_table(TARGET_SET_HEADER, [
        (r.name, len(r.targets), f"{r.target_records:,}", f"{r.samtools_s:.3f}", f"{r.call_s:.2f}", f"{r.ratio:.1f}",
         f"{r.peak_rss_mb:.0f}", r.calls) for r in rows])
    if len(rows) > 1:
        first = rows[0]
        for r in rows[1:]:
            extra = r.target_records - first.target_records
            table += (f"\n{r.name} over {first.name}: {len(r.targets) - len(first.targets):+d} targets, {extra:+,} records "
                      f"in the loci ({r.target_records / max(1, first.target_records):.2f}x), samtools "
                      f"{r.samtools_s / first.samtools_s:.2f}x, call {r.call_s / first.call_s:.2f}x "
                      f"({r.call_s - first.call_s:+.2f} s).\n")
    return table


def startup_seconds(runs: int, env: dict[str, str] | None = None) -> float:
    """`imtfusion call --help`: interpreter start and the imports a call pays, no work."""
    cmd = imtfusion_cmd("call", "--help")
    _checked(run_child(cmd, env=env), cmd)
    return statistics.median(_checked(run_child(cmd, env=env), cmd).seconds for _ in range(runs))


def child_env() -> dict[str, str]:
    """The environment of the timed commands: bytecode cached, as for an installed package.

    With PYTHONDONTWRITEBYTECODE set (as on some CI machines) a checkout's modules would
    be recompiled from source by every call; unset, Python writes them once, as it would
    anywhere else."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# --------------------------------------------------------------------------
# part 2: Snakemake batch
# --------------------------------------------------------------------------


@dataclass
class BatchRow:
    run: int
    samples: int
    wall_s: float
    jobs_s: float  # sum of the per-sample jobs' wall times (call_fusions, batch_candidates)
    cores: int

    @property
    def work_s(self) -> float:
        return self.jobs_s / self.cores

    @property
    def overhead_s(self) -> float:
        return self.wall_s - self.work_s


def make_batch_sheet(folder: Path, demo_bams: Sequence[Path], n: int) -> Path:
    """``n`` samples S001.. linking to the demo BAMs in turn (each with its index); the sheet."""
    bams = folder / "bams"
    bams.mkdir(parents=True, exist_ok=True)
    lines = ["sample\tbam"]
    for i in range(1, n + 1):
        name = f"S{i:03d}"
        source = Path(demo_bams[(i - 1) % len(demo_bams)]).resolve()
        for suffix in ("", ".bai"):
            link = bams / f"{name}.bam{suffix}"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(Path(str(source) + suffix))
        lines.append(f"{name}\t{bams / (name + '.bam')}")
    sheet = folder / "samples.tsv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def benchmark_seconds(folder: Path) -> list[float]:
    """The ``s`` column of every Snakemake benchmark file in ``folder``."""
    out = []
    for path in sorted(folder.glob("*.tsv")):
        with open(path) as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        out.extend(float(r["s"]) for r in rows)
    return out


def run_batch(repo: Path, folder: Path, sheet: Path, gtf: Path, fasta: Path | None, targets: Sequence[str],
              cores: int, run: int, samples: int, env: dict[str, str] | None = None) -> BatchRow:
    work = folder / f"run{run}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    outdir = work / "results"
    config = {"samples": str(sheet), "gtf": str(gtf), "fasta": str(fasta) if fasta else None,
              "outdir": str(outdir), "targets": list(targets)}
    config_path = work / "config.yaml"
    config_path.write_text(json.dumps(config, indent=1) + "\n")  # JSON is YAML
    env = dict(os.environ if env is None else env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the rules call `imtfusion`
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "workflow" / "Snakefile"),
           "--configfile", str(config_path), "--directory", str(work), "--cores", str(cores)]
    result = run_child(cmd, env=env, cwd=repo)
    (work / "snakemake.log").write_text(result.stderr)
    _checked(result, cmd)
    seconds = benchmark_seconds(outdir / "benchmarks" / "call_fusions")
    if len(seconds) != samples:
        raise RuntimeError(f"expected {samples} call_fusions benchmark files in {outdir}, found {len(seconds)}")
    # the batch filter's first pass is a second per-sample job reading the BAM: work, not overhead
    first_pass = outdir / "benchmarks" / "batch_candidates"
    if first_pass.is_dir():
        seconds += benchmark_seconds(first_pass)
    return BatchRow(run, samples, result.seconds, sum(seconds), cores)


def standalone_rules(gtf: Path, outdir: Path, samples: Sequence[str], targets: Sequence[str],
                     scratch: Path, runs: int, env: dict[str, str] | None = None,
                     fasta: Path | None = None) -> tuple[float, float]:
    """Median wall time of the index_annotation and summary rules' commands, run by hand."""
    index = index_gtf_cmd(gtf, scratch / "annotation.idx", fasta, targets)
    summary = imtfusion_cmd("summarize", "--outdir", str(outdir), "--samples", *samples, "--targets", *targets)
    return (statistics.median(_checked(run_child(index, env=env), index).seconds for _ in range(runs)),
            statistics.median(_checked(run_child(summary, env=env), summary).seconds for _ in range(runs)))


# --------------------------------------------------------------------------
# part 3: annotation size
# --------------------------------------------------------------------------


@dataclass
class AnnotationRow:
    label: str
    genes: int
    transcripts: int
    exons: int
    index_mb: float
    index_s: float  # imtfusion index-gtf wall time
    index_rss_mb: float
    call_s: float  # median, at the largest BAM
    call_rss_mb: float  # max over the runs
    calls: int
    boundary_rss_mb: float | None = None  # the same call made to load the genome-wide boundary index (needs a FASTA)


def gtf_counts(path: str | Path) -> dict[str, int]:
    """Lines per feature type of a (small) GTF."""
    counts: dict[str, int] = {}
    with open(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                fields = line.split("\t", 3)
                if len(fields) > 2:
                    counts[fields[2]] = counts.get(fields[2], 0) + 1
    return counts


def write_scaled_gtf(base: str | Path, out: str | Path, n_genes: int, contigs: Sequence[tuple[str, int]],
                     seed: int = 1) -> dict[str, int]:
    """``base`` plus ``n_genes`` synthetic protein-coding genes on ``contigs``; feature counts.

    Each gene has TRANSCRIPTS_PER_GENE transcripts of EXONS_PER_TRANSCRIPT exons (inner exons
    coding), the first one tagged Ensembl_canonical, as in a GENCODE GTF; genes are spread
    evenly over the contigs and overlap where they are longer than the spacing."""
    import random

    rng = random.Random(seed)
    counts = gtf_counts(base)
    per_contig = -(-n_genes // len(contigs)) if n_genes else 0
    with open(out, "w") as fh:
        fh.write(Path(base).read_text())
        for gi in range(n_genes):
            contig, length = contigs[gi % len(contigs)]
            spacing = max(1, (length - 50_000) // max(1, per_contig))
            start = 1_000 + (gi // len(contigs)) * spacing
            span = min(rng.randint(5_000, 40_000), length - start - 1)
            end = start + span
            strand = rng.choice("+-")
            gene_id, name = f"ENSG8{gi:010d}.1", f"SYN{gi}"
            gene_attr = f'gene_id "{gene_id}"; gene_type "protein_coding"; gene_name "{name}"; level 2;'
            fh.write(f"{contig}\tSYN\tgene\t{start}\t{end}\t.\t{strand}\t.\t{gene_attr}\n")
            for k in range(TRANSCRIPTS_PER_GENE):
                tx_attr = (f'gene_id "{gene_id}"; transcript_id "ENST8{gi:010d}{k}.1"; gene_type "protein_coding"; '
                           f'gene_name "{name}"; transcript_type "protein_coding"; transcript_name "{name}-{201 + k}"; '
                           f'level 2; tag "basic";' + (' tag "Ensembl_canonical";' if k == 0 else ""))
                fh.write(f"{contig}\tSYN\ttranscript\t{start}\t{end}\t.\t{strand}\t.\t{tx_attr}\n")
                cuts = sorted(rng.sample(range(start + 100, end - 100), 2 * EXONS_PER_TRANSCRIPT - 2))
                exons = [(start, cuts[0])] + list(zip(cuts[1:-1:2], cuts[2::2])) + [(cuts[-1], end)]
                for e, (a, b) in enumerate(exons):
                    number = e + 1 if strand == "+" else EXONS_PER_TRANSCRIPT - e
                    attr = f"{tx_attr} exon_number {number};"
                    fh.write(f"{contig}\tSYN\texon\t{a}\t{b}\t.\t{strand}\t.\t{attr}\n")
                    if 0 < e < EXONS_PER_TRANSCRIPT - 1:
                        fh.write(f"{contig}\tSYN\tCDS\t{a}\t{b}\t.\t{strand}\t0\t{attr}\n")
    counts["gene"] = counts.get("gene", 0) + n_genes
    counts["transcript"] = counts.get("transcript", 0) + n_genes * TRANSCRIPTS_PER_GENE
    counts["exon"] = counts.get("exon", 0) + n_genes * TRANSCRIPTS_PER_GENE * EXONS_PER_TRANSCRIPT
    counts["CDS"] = counts.get("CDS", 0) + n_genes * TRANSCRIPTS_PER_GENE * (EXONS_PER_TRANSCRIPT - 2)
    return counts


def indexer_code_key() -> str:
    """A digest of the code index-gtf runs: an index (and the time and memory it took)
    is reused only while that code is unchanged."""
    import imtfusion.annotation
    import imtfusion.boundaries
    import imtfusion.commands.index_gtf
    import imtfusion.copies

    digest = hashlib.sha256()
    for module in (imtfusion.annotation, imtfusion.boundaries, imtfusion.copies, imtfusion.commands.index_gtf):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


def cached_scaled_index(base: Path, folder: Path, n_genes: int, seed: int, env: dict[str, str] | None,
                        fasta: Path | None = None, contigs: Sequence[tuple[str, int]] | None = None) -> dict:
    """Scaled GTF and its index in ``folder`` (reused when the inputs and the index-gtf
    command match), with the feature counts and the index-gtf run that made it."""
    contigs = list(contigs or background_contigs())
    folder.mkdir(parents=True, exist_ok=True)
    gtf, index, meta = folder / f"genes{n_genes}.gtf", folder / f"genes{n_genes}.idx", folder / f"genes{n_genes}.json"
    cmd = index_gtf_cmd(gtf, index, fasta)
    stat = base.stat()
    key = {"version": GENERATOR_VERSION, "base": str(base.resolve()), "size": stat.st_size, "mtime": stat.st_mtime,
           "genes": n_genes, "seed": seed, "contigs": contigs, "command": cmd,
           "fasta_mtime": fasta.stat().st_mtime if fasta else None, "indexer": indexer_code_key()}
    if meta.exists() and index.exists():
        saved = json.loads(meta.read_text())
        if saved.get("key") == json.loads(json.dumps(key)):
            _log(f"reusing {index}")
            return saved
    _log(f"writing a GTF with {n_genes:,} extra genes and indexing it")
    counts = write_scaled_gtf(base, gtf, n_genes, contigs, seed)
    run = _checked(run_child(cmd, env=env), cmd)
    gtf.unlink()  # about 1 GB; the index is what the calls read
    saved = {"key": key, "counts": counts, "index": str(index), "index_s": run.seconds, "index_rss_mb": run.max_rss_mb}
    meta.write_text(json.dumps(saved))
    return saved


@dataclass(frozen=True)
class AnnotationEntry:
    """An annotation to time calls with: its label, feature counts, index, and the time
    and peak memory of building the index."""

    label: str
    counts: dict[str, int]
    index: Path
    index_run: tuple[float, float]


# Runs the CLI as is, except that every sample loads the genome-wide exon-boundary index,
# as one does with a soft clip to place on a partner that no mate points at; says so on
# stderr. Benchmark instrumentation only: a call's worst case for memory.
FORCE_BOUNDARY_INDEX = """import sys
import imtfusion.boundaries as boundaries
import imtfusion.calling as calling
calling._needs_boundary_index = lambda clips, params: True
_load = boundaries.genome_boundaries
def _loaded(*args, **kwargs):
    index = _load(*args, **kwargs)
    print(f"{BOUNDARY_MARK} {len(index)}", file=sys.stderr)
    return index
boundaries.genome_boundaries = _loaded
from imtfusion.cli import main
sys.exit(main(sys.argv[1:]))
"""
BOUNDARY_MARK = "speed benchmark: boundary index loaded, boundaries:"


def boundary_forced(call: Sequence[str]) -> list[str]:
    """``call`` (an :func:`imtfusion_cmd`) run so that it loads the genome-wide
    exon-boundary index (see ``FORCE_BOUNDARY_INDEX``)."""
    if list(call[1:3]) != ["-m", "imtfusion.cli"]:
        raise ValueError(f"not an imtfusion command: {call}")
    return [call[0], "-c", FORCE_BOUNDARY_INDEX.replace("{BOUNDARY_MARK}", BOUNDARY_MARK), *call[3:]]


def measure_annotations(entries: Sequence[AnnotationEntry], built: BuiltBam, fasta: Path | None,
                        targets: Sequence[str], outdir: Path, runs: int,
                        env: dict[str, str] | None = None) -> list[AnnotationRow]:
    """The same call on ``built`` with each annotation, the annotations taking turns in
    every run (side by side, as the size cells), so load on the machine falls on all.
    With a FASTA, each annotation's call also runs once loading the genome-wide boundary
    index (its memory: a call's worst case)."""
    calls = [imtfusion_cmd("call", "--bam", str(built.path), "--gtf", str(e.index), "--sample", f"SPEEDANN{k}",
                           "--outdir", str(outdir), "--targets", *targets, *(["--fasta", str(fasta)] if fasta else []))
             for k, e in enumerate(entries)]
    for call in calls:  # warm-up
        _checked(run_child(call, env=env), call)
    timed: list[list[ChildRun]] = [[] for _ in calls]
    for _ in range(runs):
        for call, done in zip(calls, timed):
            done.append(_checked(run_child(call, env=env), call))
    forced: list[float | None] = []
    for call in calls:
        if fasta is None:
            forced.append(None)
            continue
        worst = list(call)
        worst[worst.index("--outdir") + 1] = str(outdir / "boundaries")
        worst = boundary_forced(worst)
        run = _checked(run_child(worst, env=env), worst)
        if BOUNDARY_MARK not in run.stderr:
            raise RuntimeError(f"the call made to load the boundary index did not load it: {run.stderr[-500:]}")
        forced.append(run.max_rss_mb)
    return [AnnotationRow(e.label, e.counts.get("gene", 0), e.counts.get("transcript", 0), e.counts.get("exon", 0),
                          e.index.stat().st_size / 1e6, e.index_run[0], e.index_run[1],
                          statistics.median(r.seconds for r in done), max(r.max_rss_mb for r in done),
                          _count_calls(outdir / f"SPEEDANN{k}" / f"SPEEDANN{k}.fusions.tsv"), worst_rss)
            for k, (e, done, worst_rss) in enumerate(zip(entries, timed, forced))]


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub table; ``align`` has one letter per column, l or r (default: first l, others r)."""
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header) or any(len(r) != len(header) for r in rows):
        raise ValueError("every row needs one cell per column")
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


SIZE_HEADER = ("target fragments", "BAM", "records", "unplaced unmapped", "BAM MB", "records in target regions", "samtools view -c s", "imtfusion call s",
               "call / samtools", "call peak RSS MB", "fusions called")
ANNOTATION_HEADER = ("annotation", "genes", "transcripts", "exons", "index MB", "index-gtf s", "index-gtf peak RSS MB",
                     "imtfusion call s", "call peak RSS MB", "call peak RSS MB, boundary index loaded", "fusions called")
CHIMERIC_HEADER = ("chimeric fragments", "records", "chimeric records", "BAM MB", "records in target regions",
                   "samtools view -c s", "imtfusion call s", "call / samtools", "call peak RSS MB", "fusions called",
                   "{fusion} split reads", "{fusion} fragments", "at the truth breakpoints")
BATCH_HEADER = ("run", "samples", "total wall s", "sum of per-sample job s", "work s (sum / cores)",
                "Snakemake overhead s", "mean job s")


def size_table(rows: Sequence[SizeRow], startup_s: float | None = None) -> str:
    """One row per BAM (target depth, then background scale); with ``startup_s`` also the
    call's time beyond interpreter start and imports."""
    header = list(SIZE_HEADER)
    if startup_s is not None:
        header.insert(8, "call - `call --help` s")
    out = []
    for r in rows:
        cells = [f"{r.target_fragments:,}", f"{r.scale}x", f"{r.records:,}", f"{r.unmapped:,}", f"{r.megabytes:.1f}",
                 f"{r.target_records:,}", f"{r.samtools_s:.3f}", f"{r.call_s:.2f}", f"{r.ratio:.1f}",
                 f"{r.peak_rss_mb:.0f}", r.calls]
        if startup_s is not None:
            cells.insert(8, f"{r.call_s - startup_s:.2f}")
        out.append(cells)
    return markdown_table(header, out)


def annotation_table(rows: Sequence[AnnotationRow]) -> str:
    return markdown_table(ANNOTATION_HEADER, [
        (r.label, f"{r.genes:,}", f"{r.transcripts:,}", f"{r.exons:,}", f"{r.index_mb:.2f}", f"{r.index_s:.2f}",
         f"{r.index_rss_mb:.0f}", f"{r.call_s:.2f}", f"{r.call_rss_mb:.0f}",
         "–" if r.boundary_rss_mb is None else f"{r.boundary_rss_mb:.0f}", r.calls) for r in rows
    ])


def chimeric_table(rows: Sequence[ChimericRow]) -> str:
    """One row per chimeric density; the fusion's own support as the call gives it."""
    fusion = rows[0].fusion if rows else "fusion"
    header = [h.format(fusion=fusion) for h in CHIMERIC_HEADER]
    return markdown_table(header, [
        (f"{r.fragments:,}", f"{r.records:,}", f"{r.chimeric_records:,}", f"{r.megabytes:.1f}", f"{r.target_records:,}",
         f"{r.samtools_s:.3f}", f"{r.call_s:.2f}", f"{r.ratio:.1f}", f"{r.peak_rss_mb:.0f}", r.calls,
         "not called" if r.split_reads is None else f"{r.split_reads:,}",
         "not called" if r.supporting is None else f"{r.supporting:,}",
         "yes" if r.at_truth else "no") for r in rows
    ])


SIMULATED_HEADER = ("aligner", "FASTA", "fusion fragments", "records", "fusion records", "unplaced unmapped",
                    "BAM MB", "records in target regions", "samtools view -c s", "imtfusion call s", "call / samtools",
                    "call peak RSS MB", "fusions called", "{fusion} split reads", "{fusion} fragments",
                    "at the truth breakpoints")


def simulated_chimeric_table(rows: Sequence[ChimericRow], unmapped: dict[tuple[str, int], int] | None = None) -> str:
    """One row per aligner, FASTA or not, and density of the simulated chimeric BAMs."""
    fusion = rows[0].fusion if rows else "fusion"
    header = [h.format(fusion=fusion) for h in SIMULATED_HEADER]
    unmapped = unmapped or {}
    return markdown_table(header, [
        (r.aligner, "yes" if r.with_fasta else "no", f"{r.fragments:,}", f"{r.records:,}", f"{r.chimeric_records:,}",
         f"{unmapped.get((r.aligner, r.fragments), 0):,}", f"{r.megabytes:.1f}", f"{r.target_records:,}",
         f"{r.samtools_s:.3f}", f"{r.call_s:.2f}", f"{r.ratio:.1f}", f"{r.peak_rss_mb:.0f}", r.calls,
         "not called" if r.split_reads is None else f"{r.split_reads:,}",
         "not called" if r.supporting is None else f"{r.supporting:,}",
         "yes" if r.at_truth else "no") for r in rows
    ], align="ll" + "r" * (len(header) - 2))


def batch_table(rows: Sequence[BatchRow]) -> str:
    cells = [(str(r.run), r.samples, f"{r.wall_s:.1f}", f"{r.jobs_s:.1f}", f"{r.work_s:.1f}", f"{r.overhead_s:.1f}",
              f"{r.jobs_s / r.samples:.2f}") for r in rows]
    if len(rows) > 1:
        m = statistics.median
        cells.append(("median", rows[0].samples, f"{m(r.wall_s for r in rows):.1f}", f"{m(r.jobs_s for r in rows):.1f}",
                      f"{m(r.work_s for r in rows):.1f}", f"{m(r.overhead_s for r in rows):.1f}",
                      f"{m(r.jobs_s / r.samples for r in rows):.2f}"))
    return markdown_table(BATCH_HEADER, cells)


@dataclass
class Bar:
    name: str
    measured: str
    limit: str
    passed: bool | None  # None: not run
    binding: bool = True  # False: measured against the limit for reference, not one of the issue's bars

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "NOT RUN"
        if not self.binding:
            return "within (reference)" if self.passed else "above (reference)"
        return "PASS" if self.passed else "FAIL"


def chimeric_bars(rows: Sequence[ChimericRow], label: str = "") -> list[Bar]:
    """The bars of chimeric evidence density: from the second-most to the most chimeric
    fragments (1,000 and 10,000 by default; the row with a tenth of the most when there is
    one) the call grows at most MAX_CHIMERIC_GROWTH_PER_FOLD x the ratio of the fragments
    (12x for 10x: linear); the call with the most stays within MAX_CHIMERIC_VS_SAMTOOLS x
    `samtools view -c` of the same regions; peak memory within MAX_PEAK_RSS_MB at every
    density."""
    dense = sorted((r for r in rows if r.fragments > 0), key=lambda r: r.fragments)
    if not dense:
        return []
    top = dense[-1]
    bars: list[Bar] = []
    what = f"call with {top.fragments:,} chimeric fragments{label}"
    lower = next((r for r in dense if r.fragments * 10 == top.fragments), dense[-2] if len(dense) > 1 else None)
    if lower is None:
        bars.append(Bar(f"{what} grows linearly from fewer", "–",
                        f"<= {MAX_CHIMERIC_GROWTH_PER_FOLD:g}x the fragment ratio", None))
    else:
        limit = MAX_CHIMERIC_GROWTH_PER_FOLD * top.fragments / lower.fragments
        growth = top.call_s / lower.call_s
        bars.append(Bar(f"{what} <= {limit:g}x the call with "
                        f"{lower.fragments:,} (linear)", f"{growth:.2f}x ({top.call_s:.2f} s vs {lower.call_s:.2f} s)",
                        f"<= {limit:g}x", growth <= limit))
    bars.append(Bar(f"{what} <= {MAX_CHIMERIC_VS_SAMTOOLS:g}x samtools view -c "
                    f"of the same regions", f"{top.ratio:.1f}x ({top.call_s:.2f} s vs {top.samtools_s:.3f} s)",
                    f"<= {MAX_CHIMERIC_VS_SAMTOOLS:g}x", top.ratio <= MAX_CHIMERIC_VS_SAMTOOLS))
    peak = max(r.peak_rss_mb for r in rows)
    bars.append(Bar(f"call peak memory <= {MAX_PEAK_RSS_MB:g} MB at every chimeric density{label}",
                    f"{peak:.0f} MB (max)",
                    f"<= {MAX_PEAK_RSS_MB:g} MB", peak <= MAX_PEAK_RSS_MB))
    return bars


def evaluate_bars(size_rows: Sequence[SizeRow], batch_rows: Sequence[BatchRow],
                  annotation_rows: Sequence[AnnotationRow] = (), chimeric_rows: Sequence[ChimericRow] = (),
                  target_set_rows: Sequence[TargetSetRow] = ()) -> list[Bar]:
    """The bars of the plan (call vs samtools and growth with BAM size, each once per
    target depth; memory; Snakemake overhead), the bars of chimeric evidence density
    (:func:`chimeric_bars`) and of the target sets (:func:`target_set_bars`) when those
    parts ran, and the memory bar again for the largest annotation when that part ran."""
    bars: list[Bar] = []
    if size_rows:
        depths: dict[int, list[SizeRow]] = {}
        for r in size_rows:
            depths.setdefault(r.target_fragments, []).append(r)
        extremes = {d: (min(rows, key=lambda r: r.scale), max(rows, key=lambda r: r.scale))
                    for d, rows in sorted(depths.items())}
        deepest = max(extremes)
        for depth, (small, large) in extremes.items():
            # the issue's bar is at the largest size: the largest BAM, with the deepest loci.
            # Shallower loci are measured against the same limit for reference: there
            # samtools' time is mostly its own start, and a call's mostly Python's.
            binding = depth == deepest
            which = " (the largest BAM: the issue's bar)" if binding and len(extremes) > 1 else ""
            bars.append(Bar(f"call wall time <= {MAX_CALL_VS_SAMTOOLS:g}x samtools view -c, at {large.scale}x, "
                            f"{large.target_records:,} target records{which}",
                            f"{large.ratio:.1f}x ({large.call_s:.2f} s vs {large.samtools_s:.3f} s)",
                            f"<= {MAX_CALL_VS_SAMTOOLS:g}x", large.ratio <= MAX_CALL_VS_SAMTOOLS, binding))
        for small, large in extremes.values():
            growth = large.call_s / small.call_s
            bars.append(Bar(f"call at {large.scale}x <= {MAX_LARGEST_VS_SMALLEST:g}x call at {small.scale}x, "
                            f"{large.target_records:,} target records",
                            f"{growth:.2f}x ({large.call_s:.2f} s vs {small.call_s:.2f} s)",
                            f"<= {MAX_LARGEST_VS_SMALLEST:g}x", growth <= MAX_LARGEST_VS_SMALLEST))
        peak = max(r.peak_rss_mb for r in size_rows)
        bars.append(Bar(f"call peak memory <= {MAX_PEAK_RSS_MB:g} MB at every size", f"{peak:.0f} MB (max)",
                        f"<= {MAX_PEAK_RSS_MB:g} MB", peak <= MAX_PEAK_RSS_MB))
    groups: dict[tuple[str, bool, int], list[ChimericRow]] = {}
    for r in chimeric_rows:  # the synthetic rows (each dense content), then each simulated aligner with and without the FASTA
        groups.setdefault((r.aligner, r.with_fasta, r.dense), []).append(r)
    for (aligner, with_fasta, dense), rows in groups.items():
        label = (f" ({aligner}, {'FASTA' if with_fasta else 'no FASTA'})" if aligner
                 else f" (on {dense:,} dense target fragments)" if dense else "")
        bars += chimeric_bars(rows, label)
    bars += target_set_bars(target_set_rows)
    if len(annotation_rows) > 1:
        big = max(annotation_rows, key=lambda r: r.genes)
        peak = max(big.call_rss_mb, big.boundary_rss_mb or 0.0)
        which = ", with its boundary index loaded" if big.boundary_rss_mb is not None else ""
        bars.append(Bar(f"call peak memory <= {MAX_PEAK_RSS_MB:g} MB with the {big.genes:,}-gene annotation{which}",
                        f"{peak:.0f} MB (max)", f"<= {MAX_PEAK_RSS_MB:g} MB", peak <= MAX_PEAK_RSS_MB))
    if batch_rows:
        overhead = statistics.median(r.overhead_s for r in batch_rows)
        bars.append(Bar(f"Snakemake overhead < {MAX_SNAKEMAKE_OVERHEAD_S:g} s ({batch_rows[0].samples} samples, "
                        f"--cores {batch_rows[0].cores})", f"{overhead:.1f} s (median)",
                        f"< {MAX_SNAKEMAKE_OVERHEAD_S:g} s", overhead < MAX_SNAKEMAKE_OVERHEAD_S))
    else:
        bars.append(Bar(f"Snakemake overhead < {MAX_SNAKEMAKE_OVERHEAD_S:g} s", "–", f"< {MAX_SNAKEMAKE_OVERHEAD_S:g} s",
                        None))
    return bars


def bars_table(bars: Sequence[Bar]) -> str:
    table = markdown_table(("bar", "measured", "limit", "result"),
                           [(b.name, b.measured, b.limit, b.verdict) for b in bars], align="llll")
    if any(not b.binding for b in bars):
        table += ("\nRows marked \"reference\" hold shallower target loci to the same limit. They are not "
                  "the issue's bar, which is at the largest size: where the loci hold few records, "
                  "`samtools view -c` takes a few ms, mostly its own start, and a call's time is mostly "
                  "starting Python and importing numpy and pysam (the `call --help` time above).\n")
    return table


def render_report(info: dict[str, str], command: str, date: str, size_rows: Sequence[SizeRow], regions: Sequence[str],
                  startup_s: float | None, runs: int, batch_rows: Sequence[BatchRow],
                  standalone: tuple[float, float] | None, bars: Sequence[Bar], profile: str = "",
                  annotation_rows: Sequence[AnnotationRow] = (), largest: int | None = None,
                  largest_target_fragments: int = 0, chimeric_rows: Sequence[ChimericRow] = (),
                  target_set_rows: Sequence[TargetSetRow] = (), target_set_bam: str = "",
                  simulated_unmapped: dict[tuple[str, int], int] | None = None) -> str:
    parts = [f"# imtfusion speed benchmark\n\n`{command}` on {date}\n"]
    parts.append("\n".join(f"- {k}: {v}" for k, v in info.items()) + "\n")
    if size_rows:
        parts.append(f"## BAM size: `imtfusion call` vs `samtools view -c` (median of {runs} runs)\n")
        parts.append(size_table(size_rows, startup_s))
        notes = [f"Regions (the loci the caller fetches): {' '.join(regions)}."]
        if any(r.target_fragments for r in size_rows):
            notes.append("Target fragments: read pairs of dense non-chimeric content added to the target loci "
                         "(spliced reads of the target genes' canonical transcripts, 5% pre-mRNA, 10% duplicates, "
                         "2% adapter clips, 0.3% substitutions), on top of the demo sample's own records.")
        if startup_s is not None:
            notes.append(f"`imtfusion call --help` (interpreter start + the imports of a call, no work): {startup_s:.2f} s.")
        parts.append("\n".join(notes) + "\n")
    simulated = [r for r in chimeric_rows if r.aligner]
    on_dense = [r for r in chimeric_rows if not r.aligner and r.dense]
    chimeric_rows = [r for r in chimeric_rows if not r.aligner and not r.dense]
    if chimeric_rows:
        fusion = chimeric_rows[0].fusion
        parts.append(f"## Chimeric evidence density: `imtfusion call` vs `samtools view -c` with N {fusion} "
                     f"fragments (1x background, no dense target content; median of {runs} runs)\n")
        parts.append(chimeric_table(chimeric_rows))
        kinds = ", ".join(f"{share:.0%} {name}" for name, share in CHIMERIC_KINDS)
        parts.append(f"Chimeric fragments: read pairs of the fused transcript around its junction, written as STAR's "
                     f"WithinBAM output ({kinds}; {CHIMERIC_READ_PREFIX}* reads, 0.3% substitutions), on top of the "
                     f"source sample's own records and its own support for {fusion}, which the 0 row gives; the "
                     f"regions are the size table's.\n")
    if on_dense:
        fusion, dense = on_dense[0].fusion, on_dense[0].dense
        parts.append(f"## Chimeric evidence density in a panel's loci: the same N {fusion} fragments on {dense:,} "
                     f"read pairs of dense target content (1x background; median of {runs} runs)\n")
        parts.append(chimeric_table(on_dense))
        parts.append("The BAMs of the table above with the dense target content of the size table's largest depth "
                     "beneath (a targeted panel's loci, where a fusion of thousands of fragments is found): the "
                     "call's time per samtools' time where both read what a panel holds.\n")
    if target_set_rows:
        parts.append(f"## Target sets: `imtfusion call --targets SET` vs `samtools view -c` of that set's loci, on "
                     f"one BAM (median of {runs} runs, the sets taking turns)\n")
        parts.append(target_set_table(target_set_rows))
        parts.append(f"The BAM: {target_set_bam}. Its dense target content is spread evenly over the genes of all "
                     "the sets (resources/targets.tsv), so each extra target's locus holds as many records as a "
                     "default one's; \"cost flat\" is the call's time growing like samtools' over the loci it reads.\n")
    if simulated:
        fusion = simulated[0].fusion
        parts.append(f"## Chimeric evidence density, simulated and aligned: `imtfusion call` vs `samtools view -c` "
                     f"with N {fusion} fragments (median of {runs} runs)\n")
        parts.append(simulated_chimeric_table(simulated, simulated_unmapped))
        parts.append(f"Each BAM: one sample simulated by `imtfusion_tools.sim` on the demo genome (its wild-type "
                     f"expression, 2x100 reverse-stranded, {SIMULATED_SAMPLE}) with N {fusion} junction fragments "
                     f"(reads across the junction and pairs spanning it; fusion records: theirs), aligned by the "
                     f"aligner as `imtfusion benchmark accuracy` aligns (star_chimeric: WithinBAM HardClip, split "
                     f"reads with SA tags; star_default and hisat2: no chimeric alignments, the junction reads "
                     f"soft-clipped or unmapped beside their mates), called with the genome FASTA and without it; "
                     f"samtools counts the same target regions.\n")
    if annotation_rows:
        where = f"the {largest}x BAM" if largest else "the largest BAM"
        if largest_target_fragments:
            where += f" with {largest_target_fragments:,} target fragments"
        parts.append(f"## Annotation size: `imtfusion call` on {where} with the given annotation and a larger one "
                     f"(median of {runs} runs, the two taking turns)\n")
        parts.append(annotation_table(annotation_rows))
        parts.append("The large annotation is the demo GTF plus synthetic genes on the background contigs "
                     f"({TRANSCRIPTS_PER_GENE} transcripts of {EXONS_PER_TRANSCRIPT} exons each); index-gtf is one run. "
                     "\"Boundary index loaded\": the same call, once, made to load the genome-wide exon-boundary "
                     "index, as a sample with a soft clip to place on a partner no mate points at does (a call's "
                     "worst case for memory).\n")
    if batch_rows:
        parts.append(f"## Snakemake batch: {batch_rows[0].samples} demo-sized samples, --cores {batch_rows[0].cores}\n")
        parts.append(batch_table(batch_rows))
        if standalone:
            parts.append(f"The overhead includes the two rules without a benchmark: file; run by hand they take "
                         f"{standalone[0]:.2f} s (index-gtf) and {standalone[1]:.2f} s (summarize).\n")
    parts.append("## Bars\n")
    parts.append(bars_table(bars))
    if profile:
        parts.append(profile)
    return "\n".join(parts)


def _shorten_paths(text: str) -> str:
    """Profile listings with install prefixes cut (``imtfusion/evidence.py``, ``pysam/...``)."""
    import site
    import sysconfig

    checkout = Path(__file__).resolve().parents[3]  # tools/imtfusion_tools/bench/speed.py
    prefixes = {str(checkout / "tools"), str(checkout / "scripts"), sysconfig.get_paths()["purelib"],
                sysconfig.get_paths()["platlib"], sysconfig.get_paths()["stdlib"], *site.getsitepackages()}
    for prefix in sorted((p for p in prefixes if p), key=len, reverse=True):
        text = text.replace(prefix + os.sep, "")
    return text


def profile_call(built: BuiltBam, index: Path, fasta: Path | None, targets: Sequence[str], outdir: Path,
                 prof: Path, top: int = 10, env: dict[str, str] | None = None, label: str = "",
                 own_only: bool = False) -> str:
    """cProfile one call (not part of the timings); the top functions by cumulative and own time."""
    import io
    import pstats

    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "imtfusion.cli", "call", "--bam", str(built.path),
           "--gtf", str(index), "--sample", "PROFILE", "--outdir", str(outdir), "--targets", *targets,
           *(["--fasta", str(fasta)] if fasta else [])]
    _checked(run_child(cmd, env=env), cmd)
    held = f" ({built.target:,} of them dense target records)" if built.target else ""
    text = [f"## Profile of one call at {built.records:,} records{held}{' ' + label if label else ''} "
            f"(cProfile, {prof.name})\n"]
    listings = [("cumulative", "cumulative", ()), ("tottime", "tottime", ()),
                ("cumulative, imtfusion's own functions", "cumulative", (r"imtfusion[/\\]",))]
    if own_only:  # the profiles beyond the first: imtfusion's own functions, by cumulative and by own time
        listings = [listings[2], ("own time, imtfusion's own functions", "tottime", (r"imtfusion[/\\]",))]
    for title, key, restrict in listings:
        stream = io.StringIO()
        pstats.Stats(str(prof), stream=stream).sort_stats(key).print_stats(*restrict, top)
        body = _shorten_paths(stream.getvalue())
        body = body[body.find("   ncalls"):] if "   ncalls" in body else body
        text.append(f"Top {top} by {title}:\n\n```\n{body.rstrip()}\n```\n")
    return "\n".join(text)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``imtfusion benchmark speed``."""
    parser.add_argument("--repo", help="checkout with resources/demo and workflow/ (default: found from the package or cwd)")
    parser.add_argument("--bam", help="source sample (default: REPO/resources/demo/bam/IMT01.bam)")
    parser.add_argument("--gtf", help="annotation (default: REPO/resources/demo/annotation.gtf)")
    parser.add_argument("--fasta", help="genome FASTA (default: REPO/resources/demo/genome.fa)")
    parser.add_argument("--targets", nargs="+", metavar="SET_OR_GENE",
                        help="target set of resources/targets.tsv or target genes (default: the default set)")
    parser.add_argument("--base", type=int, default=DEFAULT_BASE,
                        help=f"background records at scale 1 (default: {DEFAULT_BASE})")
    parser.add_argument("--scales", type=int, nargs="+", default=list(DEFAULT_SCALES), metavar="N",
                        help="background multiples (default: 1 10 50)")
    parser.add_argument("--target-fragments", type=int, nargs="+", default=list(DEFAULT_TARGET_FRAGMENTS),
                        metavar="N",
                        help="target depths: read pairs of dense non-chimeric content (spliced reads of the target "
                        "genes' transcripts) added to the target loci, each timed at every background scale "
                        "(default: 0 250000 1000000: the demo sample alone, ~0.5 M and ~2 M records in the loci, "
                        "the focal depth of a targeted RNA panel at ~1000x; the demo's ~800 records there only "
                        "measure Python's start-up)")
    parser.add_argument("--chimeric-fragments", type=int, nargs="+", default=list(DEFAULT_CHIMERIC_FRAGMENTS),
                        metavar="N",
                        help="chimeric evidence densities: fragments of the source sample's fusion (split reads, "
                        "soft clips, discordant pairs) added to its loci, each timed on the 1x background without "
                        "dense target content, the largest also profiled (default: 0 10 100 1000 10000; 0 alone "
                        "skips the part)")
    parser.add_argument("--chimeric-on-target-fragments", type=int, default=0, metavar="N",
                        help="also time every chimeric density on N read pairs of dense target content (a panel's "
                        "loci: 1000000 is the size table's largest depth, ~2 M records), the 1x background "
                        "(default: 0, not timed)")
    parser.add_argument("--target-sets", nargs="+", default=list(DEFAULT_TARGET_SETS), metavar="SET",
                        help="target sets of resources/targets.tsv timed against each other on one BAM of the largest "
                        "background and target depth, its dense content spread over all their genes (default: "
                        f"{' '.join(DEFAULT_TARGET_SETS)}; one set alone skips the part)")
    parser.add_argument("--chimeric-aligners", nargs="+", default=list(DEFAULT_CHIMERIC_ALIGNERS), metavar="ALIGNER",
                        help="the same densities simulated by imtfusion_tools.sim (the demo genome, the fusion's junction "
                        "fragments) and aligned by each ALIGNER, each called with and without the FASTA, the "
                        "largest of each profiled (default: star_chimeric star_default; also: hisat2, "
                        "star_chimeric_softclip, bwa_mem, minimap2_splice; none to skip)")
    parser.add_argument("--contig-mb", type=int, default=BACKGROUND_CONTIG_LENGTH // 1_000_000, metavar="MB",
                        help=f"length of each of the {BACKGROUND_CONTIGS} background contigs (default: "
                        f"{BACKGROUND_CONTIG_LENGTH // 1_000_000})")
    parser.add_argument("--unmapped-fraction", type=float, default=DEFAULT_UNMAPPED_FRACTION, metavar="F",
                        help="share of the background written as unmapped pairs without a position, at the end of "
                        f"the BAM (default: {DEFAULT_UNMAPPED_FRACTION})")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per cell, median reported (default: 3)")
    parser.add_argument("--annotation-genes", type=int, default=DEFAULT_ANNOTATION_GENES, metavar="N",
                        help=f"also time the call with the demo GTF plus N synthetic genes (default: "
                        f"{DEFAULT_ANNOTATION_GENES}, about GENCODE; 0 to skip)")
    parser.add_argument("--batch-samples", type=int, default=50, help="samples in the Snakemake batch (default: 50; "
                        "0 skips the batch, as --batch-runs 0 does)")
    parser.add_argument("--batch-runs", type=int, default=3, help="Snakemake batch runs, 0 to skip (default: 3)")
    parser.add_argument("--cores", type=int, default=2, help="Snakemake --cores (default: 2)")
    parser.add_argument("--threads", type=int, default=2, help="samtools threads while building BAMs (default: 2)")
    parser.add_argument("--call-threads", type=int, default=1, metavar="N",
                        help="threads of each timed call (--threads N) and samtools view -c (-@ N-1) (default: 1)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the background reads (default: 1)")
    parser.add_argument("--workdir", help="keep BAMs and results here and reuse the BAMs (default: a temporary folder)")
    parser.add_argument("--profile", metavar="FILE",
                        help="also cProfile one call at the largest size and target depth into FILE (the call "
                        "with the most chimeric fragments is always profiled, into FILE.chimeric.prof with this)")
    parser.add_argument("--output", metavar="FILE", help="also write the report (markdown) to FILE")


def command_line(args: argparse.Namespace) -> str:
    words = ["imtfusion", "benchmark", "speed", "--base", str(args.base), "--scales", *map(str, args.scales),
             "--target-fragments", *map(str, args.target_fragments),
             "--chimeric-fragments", *map(str, args.chimeric_fragments),
             "--chimeric-on-target-fragments", str(args.chimeric_on_target_fragments),
             "--target-sets", *args.target_sets,
             "--chimeric-aligners", *(args.chimeric_aligners or ["none"]),
             "--contig-mb", str(args.contig_mb), "--unmapped-fraction", f"{args.unmapped_fraction:g}",
             "--runs", str(args.runs), "--annotation-genes", str(args.annotation_genes), "--batch-samples", str(args.batch_samples), "--batch-runs", str(args.batch_runs),
             "--cores", str(args.cores)]
    for option in ("bam", "gtf", "fasta", "workdir", "profile", "output"):
        if getattr(args, option, None):
            words += [f"--{option}", str(getattr(args, option))]
    if args.targets:
        words += ["--targets", *args.targets]
    return shlex.join(words)


def main(args: argparse.Namespace) -> None:
    """Run the speed benchmark; the report goes to stdout."""
    from imtfusion.errors import ConfigError
    from imtfusion.registry import resolve_target_names

    if args.runs < 1 or args.base < 0 or any(s < 1 for s in args.scales) or args.cores < 1:
        raise ConfigError("--runs, --scales and --cores must be at least 1 and --base at least 0")
    if any(t < 0 for t in args.target_fragments):
        raise ConfigError("--target-fragments must be at least 0")
    if any(c < 0 for c in args.chimeric_fragments):
        raise ConfigError("--chimeric-fragments must be at least 0")
    if args.chimeric_on_target_fragments < 0 or args.batch_samples < 0:
        raise ConfigError("--chimeric-on-target-fragments and --batch-samples must be at least 0")
    from imtfusion_tools.sim.align import ALIGNERS
    from imtfusion_tools.sim.demo import DEMO_SEED

    aligners = [a for a in dict.fromkeys(getattr(args, "chimeric_aligners", None) or []) if a != "none"]
    unknown = [a for a in aligners if a not in ALIGNERS]
    if unknown:
        raise ConfigError(f"--chimeric-aligners: unknown {', '.join(unknown)}; choose from {', '.join(ALIGNERS)} "
                          "or none")
    if not 0 <= args.unmapped_fraction <= 1:
        raise ConfigError("--unmapped-fraction must be between 0 and 1")
    if args.contig_mb < 1:
        raise ConfigError("--contig-mb must be at least 1")
    if args.call_threads < 1:
        raise ConfigError("--call-threads must be at least 1")
    if shutil.which("samtools") is None:
        raise ConfigError("samtools is not on PATH; install it (Debian: apt-get install samtools)")
    repo = find_repo(Path(args.repo) if args.repo else None)
    demo = repo / "resources" / "demo" if repo else None
    source = Path(args.bam) if args.bam else (demo / "bam" / "IMT01.bam" if demo else None)
    gtf = Path(args.gtf) if args.gtf else (demo / "annotation.gtf" if demo else None)
    fasta = Path(args.fasta) if args.fasta else (demo / "genome.fa" if demo else None)
    if source is None or gtf is None:
        raise ConfigError("no checkout found for the demo data: give --repo, or --bam and --gtf")
    if fasta is None and any(args.target_fragments):
        raise ConfigError("dense target content (--target-fragments above 0) needs the genome: give --fasta")
    densities = sorted(set(args.chimeric_fragments)) if any(args.chimeric_fragments) else []
    spec = None
    if densities:
        if fasta is None:
            raise ConfigError("chimeric fragments (--chimeric-fragments above 0) need the genome: give --fasta")
        truth = demo / "truth.tsv" if demo else None
        if truth is None or not truth.is_file():
            raise ConfigError("chimeric fragments need the demo's truth.tsv: give --repo, or --chimeric-fragments 0")
        try:
            spec = fusion_from_truth(truth, bam_sample(source))
        except ValueError as exc:
            raise ConfigError(f"chimeric fragments: {exc} (give a demo sample's --bam, or --chimeric-fragments 0)")
    targets = list(resolve_target_names(args.targets))
    target_sets = [(name, resolve_target_names(name)) for name in dict.fromkeys(args.target_sets)]
    if len(target_sets) > 1 and fasta is None and any(args.target_fragments):
        raise ConfigError("target sets with dense target content need the genome: give --fasta")
    started = time.perf_counter()
    temporary = None
    if args.workdir:
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        temporary = tempfile.TemporaryDirectory(prefix="imtfusion-speed-")
        work = Path(temporary.name)
    try:
        info = machine_info()
        import imtfusion

        info["imtfusion code"] = str(Path(imtfusion.__file__).resolve().parent)
        from imtfusion.scan import reader_kind

        info["record reader"] = (f"{reader_kind()} (IMTFUSION_PURE_PYTHON set)" if os.environ.get("IMTFUSION_PURE_PYTHON")
                                 else reader_kind())
        info["threads per call"] = (f"{args.call_threads} (call --threads {args.call_threads}, samtools view -c "
                                    f"-@ {args.call_threads - 1})" if args.call_threads > 1 else "1")
        checkout_before = checkout_state(repo)
        load_before = load_average()
        date = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        env = child_env()
        if "PYTHONDONTWRITEBYTECODE" in os.environ:
            info["python bytecode"] = "cached for the timed commands (PYTHONDONTWRITEBYTECODE unset for them)"
        contigs = background_contigs(BACKGROUND_CONTIGS, args.contig_mb * 1_000_000)
        # the generated BAMs' genome: the FASTA plus the background contigs
        genome = cached_background_fasta(fasta, work / "genome", contigs, args.seed) if fasta else None
        index = work / "annotation.idx"
        every_target = list(dict.fromkeys([*targets, *(g for _, genes in target_sets for g in genes)]))
        cmd = index_gtf_cmd(gtf, index, genome, every_target)
        demo_index_runs = [_checked(run_child(cmd, env=env), cmd) for _ in range(args.runs)]
        scales = sorted(set(args.scales))
        depths = sorted(set(args.target_fragments))
        built = {(t, s): cached_bam(source, work / "bams" / (f"t{t}_bg{s}x.bam" if t else f"bg{s}x.bam"),
                                    args.base * s, args.seed, args.threads,
                                    unmapped_count(args.base * s, args.unmapped_fraction), contigs,
                                    target_fragments=t, annotation=gtf, fasta=fasta, targets=targets)
                 for t in depths for s in scales}
        chimeric_built = {c: cached_bam(source, work / "bams" / (f"c{c}_bg1x.bam" if c else "bg1x.bam"), args.base,
                                        args.seed, args.threads, unmapped_count(args.base, args.unmapped_fraction),
                                        contigs, annotation=gtf, fasta=fasta, targets=targets, chimeric_fragments=c,
                                        fusion=spec)
                          for c in densities}
        regions = target_regions(index, built[depths[0], scales[0]].path, targets)
        startup = startup_seconds(args.runs, env)
        size_rows = []
        for t in depths:
            for s in scales:
                _log(f"timing {t:,} target fragments, {s}x ({built[t, s].records:,} records)")
                size_rows.append(measure_size(built[t, s], s, index, genome, regions, targets, work / "calls",
                                              args.runs, env, target_fragments=t, threads=args.call_threads))
        chimeric_rows = []
        for c in densities:
            _log(f"timing {c:,} chimeric fragments of {spec.fusion}, 1x ({chimeric_built[c].records:,} records)")
            chimeric_rows.append(measure_chimeric(chimeric_built[c], c, spec, index, genome, regions, targets,
                                                  work / "calls", args.runs, env, threads=args.call_threads))
        dense = args.chimeric_on_target_fragments
        for c in densities if dense else []:
            on = cached_bam(source, work / "bams" / f"c{c}_t{dense}_bg1x.bam", args.base, args.seed, args.threads,
                            unmapped_count(args.base, args.unmapped_fraction), contigs, target_fragments=dense,
                            annotation=gtf, fasta=fasta, targets=targets, chimeric_fragments=c, fusion=spec)
            _log(f"timing {c:,} chimeric fragments of {spec.fusion} on {dense:,} target fragments, 1x "
                 f"({on.records:,} records)")
            chimeric_rows.append(measure_chimeric(on, c, spec, index, genome, regions, targets, work / "calls",
                                                  args.runs, env, threads=args.call_threads, dense=dense))
        target_set_rows: list[TargetSetRow] = []
        target_set_bam = ""
        if len(target_sets) > 1:
            union = list(dict.fromkeys(g for _, genes in target_sets for g in genes))
            depth, scale = depths[-1], scales[-1]
            sets_bam = cached_bam(source, work / "bams" / f"sets{len(union)}_t{depth}_bg{scale}x.bam", args.base * scale,
                                  args.seed, args.threads, unmapped_count(args.base * scale, args.unmapped_fraction),
                                  contigs, target_fragments=depth, annotation=gtf, fasta=fasta, targets=union)
            target_set_bam = (f"{scale}x background, {depth:,} target fragments over {len(union)} genes, "
                              f"{sets_bam.records:,} records, {sets_bam.megabytes:.1f} MB")
            _log(f"timing the target sets {', '.join(n for n, _ in target_sets)} ({sets_bam.records:,} records)")
            target_set_rows = measure_target_sets(
                sets_bam, [(n, genes, target_regions(index, sets_bam.path, genes)) for n, genes in target_sets],
                index, genome, work / "calls", args.runs, env, threads=args.call_threads)
        simulated: dict[tuple[str, int], BuiltBam] = {}
        for aligner in aligners if densities else []:
            exons = fusion_exons(demo / "truth.tsv", spec.sample)
            for c in densities:
                simulated[aligner, c] = simulated_chimeric_bam(work / "simulated", aligner, c, spec, exons, fasta, gtf,
                                                               DEMO_SEED, args.threads)
            sim_regions = target_regions(index, simulated[aligner, densities[0]].path, targets)
            for with_fasta in (True, False):
                for c in densities:
                    _log(f"timing {c:,} simulated {spec.fusion} fragments aligned by {aligner}, "
                         f"{'with' if with_fasta else 'without'} the FASTA ({simulated[aligner, c].records:,} records)")
                    chimeric_rows.append(measure_chimeric(simulated[aligner, c], c, spec, index,
                                                          fasta if with_fasta else None, sim_regions, targets,
                                                          work / "calls", args.runs, env, threads=args.call_threads,
                                                          aligner=aligner))
        annotation_rows: list[AnnotationRow] = []
        largest = built[depths[-1], scales[-1]]  # the largest background with the largest target depth
        if args.annotation_genes > 0:
            demo_index = (statistics.median(r.seconds for r in demo_index_runs), max(r.max_rss_mb for r in demo_index_runs))
            scaled = cached_scaled_index(gtf, work / "annotation", args.annotation_genes, args.seed, env, genome, contigs)
            _log(f"timing the call with the given and the {scaled['counts']['gene']:,}-gene annotation, side by side")
            annotation_rows = measure_annotations(
                [AnnotationEntry(gtf.name, gtf_counts(gtf), index, demo_index),
                 AnnotationEntry(f"{gtf.name} + {args.annotation_genes:,} synthetic genes", scaled["counts"],
                                 Path(scaled["index"]), (scaled["index_s"], scaled["index_rss_mb"]))],
                largest, genome, targets, work / "calls", args.runs, env)
        batch_rows: list[BatchRow] = []
        standalone = None
        if args.batch_runs > 0 and args.batch_samples > 0:  # either 0: the batch part is not run
            if repo is None:
                raise ConfigError("the Snakemake batch needs a checkout with workflow/: give --repo or --batch-runs 0")
            demo_bams = sorted((repo / "resources" / "demo" / "bam").glob("*.bam"))
            sheet = make_batch_sheet(work / "batch", demo_bams, args.batch_samples)
            for r in range(1, args.batch_runs + 1):
                _log(f"Snakemake batch run {r}/{args.batch_runs} ({args.batch_samples} samples)")
                batch_rows.append(run_batch(repo, work / "batch", sheet, gtf, fasta, targets, args.cores, r,
                                            args.batch_samples, env))
            names = [f"S{i:03d}" for i in range(1, args.batch_samples + 1)]
            standalone = standalone_rules(gtf, work / "batch" / f"run{args.batch_runs}" / "results", names, targets,
                                          work / "batch", args.runs, env, fasta)
        profile = ""
        if args.profile:
            _log("profiling one call at the largest size and target depth")
            profile = profile_call(largest, index, genome, targets, work / "profile", Path(args.profile), env=env)
            if len(annotation_rows) > 1:
                big = Path(args.profile).with_suffix(".annotation.prof")
                profile += "\n" + profile_call(largest, Path(scaled["index"]), genome, targets, work / "profile", big,
                                               env=env, label=f"with the {annotation_rows[-1].genes:,}-gene annotation")
        if densities:
            most = densities[-1]
            _log(f"profiling the call with {most:,} chimeric fragments")
            prof = (Path(args.profile).with_suffix(".chimeric.prof") if args.profile
                    else work / "profile" / "chimeric.prof")
            prof.parent.mkdir(parents=True, exist_ok=True)
            profile += ("\n" if profile else "") + profile_call(
                chimeric_built[most], index, genome, targets, work / "profile", prof, top=15, env=env,
                label=f"with {most:,} chimeric fragments of {spec.fusion}")
            for aligner in aligners:
                for with_fasta in (True, False):
                    what = f"{aligner}_{'fasta' if with_fasta else 'nofasta'}"
                    _log(f"profiling the call with {most:,} simulated fragments, {aligner}, "
                         f"{'with' if with_fasta else 'without'} the FASTA")
                    prof = (Path(args.profile).with_suffix(f".{what}.prof") if args.profile
                            else work / "profile" / f"{what}.prof")
                    profile += "\n" + profile_call(
                        simulated[aligner, most], index, fasta if with_fasta else None, targets, work / "profile",
                        prof, top=15, env=env, label=f"with {most:,} simulated fragments of {spec.fusion} aligned by "
                        f"{aligner}, {'with' if with_fasta else 'without'} the FASTA", own_only=True)
        bars = evaluate_bars(size_rows, batch_rows, annotation_rows, chimeric_rows, target_set_rows)
        info["load average (1 min) at start / end"] = f"{load_before} / {load_average()}"
        checkout_after = checkout_state(repo)
        info["checkout"] = checkout_before if checkout_after == checkout_before else (
            f"{checkout_before} at the start, {checkout_after} at the end: the code changed during the run")
        report = render_report(info, command_line(args), date, size_rows, regions, startup, args.runs, batch_rows,
                               standalone, bars, profile, annotation_rows, scales[-1], depths[-1], chimeric_rows,
                               target_set_rows, target_set_bam, {k: b.unmapped for k, b in simulated.items()})
    finally:
        if temporary is not None:
            temporary.cleanup()
    sys.stdout.write(report)
    sys.stdout.flush()
    if args.output:
        Path(args.output).write_text(report)
    _log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m imtfusion_tools.bench.speed", description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(_parser)
    _args = _parser.parse_args()
    from imtfusion.errors import ImtfusionError

    try:
        main(_args)
    except ImtfusionError as exc:
        print(f"imtfusion benchmark speed: error: {exc}", file=sys.stderr)
        sys.exit(1)
