"""Align simulated FASTQs with real aligners into coordinate-sorted, indexed BAMs.

Why several aligners: a caller must cope with how each aligner represents a
fusion (STAR's chimeric records, HISAT2 without any, BWA's supplementary
records on the genome only, minimap2's spliced mode).  Every function takes
FASTQ(s), the genome FASTA and GTF and a work directory (where indices are
cached), and writes one BAM that is

* coordinate-sorted with a *total* order (ties broken by read name, flag and
  the whole record) so the same FASTQs give byte-identical BAMs whatever the
  thread count, and indexed;
* free of machine paths in @PG/@CO lines (absolute paths are rewritten to
  ``WORKDIR/...`` or to a bare file name) so committed BAMs leak nothing.

Missing or failing binaries raise :class:`imtfusion.errors.ExternalToolError`
with the command, the tail of its log and what to install.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import pysam

from imtfusion.errors import ExternalToolError

#: Debian package that provides each binary (for the error message).
_PACKAGES = {
    "STAR": "rna-star",
    "hisat2": "hisat2",
    "hisat2-build": "hisat2",
    "bwa": "bwa",
    "minimap2": "minimap2",
}

#: STAR options recommended by Arriba for chimeric detection, in order.
#: ``--chimMultimapNmax 50`` is kept: STAR 2.7.10b accepts it together with
#: ``--chimOutType WithinBAM`` (older STAR refused that combination).
STAR_CHIMERIC_OPTIONS: tuple[str, ...] = (
    "--outSAMtype", "BAM", "Unsorted",
    "--outSAMunmapped", "Within",
    "--outFilterMultimapNmax", "50",
    "--peOverlapNbasesMin", "10",
    "--alignSplicedMateMapLminOverLmate", "0.5",
    "--alignSJstitchMismatchNmax", "5", "-1", "5", "5",
    "--chimSegmentMin", "10",
    "--chimOutType", "WithinBAM", "HardClip",
    "--chimJunctionOverhangMin", "10",
    "--chimScoreDropMax", "30",
    "--chimScoreJunctionNonGTAG", "0",
    "--chimScoreSeparation", "1",
    "--chimSegmentReadGapMax", "3",
    "--chimMultimapNmax", "50",
)


@dataclass(frozen=True)
class AlignmentResult:
    """The final BAM and the aligner's log files (kept in the work directory)."""

    bam: Path
    logs: tuple[Path, ...]


def require_tool(name: str) -> str:
    """Absolute path of binary ``name``; ExternalToolError naming the Debian package if absent."""
    path = shutil.which(name)
    if path is None:
        pkg = _PACKAGES.get(name, name)
        raise ExternalToolError(
            f"{name} is not on PATH; install it (Debian/Ubuntu: apt-get install -y {pkg}) "
            "or choose another --aligner"
        )
    return path


def _run(cmd: Sequence[str], log: Path, cwd: Path | None = None, stdout: Path | None = None) -> None:
    """Run ``cmd``; stderr (and stdout unless redirected) go to ``log``; raise ExternalToolError on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as lh:
        out = open(stdout, "wb") if stdout else lh
        try:
            proc = subprocess.run(list(cmd), stdout=out, stderr=lh, cwd=cwd, check=False)
        except OSError as exc:
            raise ExternalToolError(f"cannot run {cmd[0]}: {exc}") from exc
        finally:
            if stdout:
                out.close()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-8:]
        raise ExternalToolError(
            f"{Path(cmd[0]).name} failed with exit status {proc.returncode} (log: {log}); "
            f"last lines: {' | '.join(tail) or '(empty)'}; check the inputs and the log, "
            "or delete the cached index in the work directory and retry"
        )


def _digest(*paths: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:12]


def _cached_index(workdir: Path, kind: str, key: str, build: Callable[[Path], None]) -> Path:
    """Build an index once per (inputs, parameters) under ``workdir/index`` and reuse it."""
    d = workdir / "index" / f"{kind}-{key}"
    done = d / ".complete"
    if not done.exists():
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        build(d)
        done.write_text("ok\n")
    return d


def _fastq_list(fastqs: Sequence[Path | str]) -> list[Path]:
    paths = [Path(p).resolve() for p in fastqs]
    if not 1 <= len(paths) <= 2:
        raise ValueError("give one FASTQ (single-end) or two (paired-end)")
    for p in paths:
        if not p.exists():
            raise ExternalToolError(f"FASTQ {p} does not exist; simulate the sample first")
    return paths


def _genome_size(fasta: Path) -> int:
    fai = Path(str(fasta) + ".fai")
    if not fai.exists():
        pysam.faidx(str(fasta))
    return sum(int(line.split("\t")[1]) for line in fai.read_text().splitlines() if line)


# --------------------------------------------------------------------------
# BAM finalisation
# --------------------------------------------------------------------------

_ABS_PATH = re.compile(r"(?<![\w.~-])/[^\s'\"]+")


_THREADS = re.compile(r"(--runThreadN|--threads|-t|-p|-@)(\s+)\d+\b")
_STAR_BINARY = re.compile(r"\bSTAR-(?:avx2|avx|sse4\.1|sse3|plain)\b")


def scrub_paths(text: str, workdir: Path) -> str:
    """Make an @PG/@CO command line machine-independent.

    Absolute paths under ``workdir`` become ``WORKDIR/rel``, other absolute
    paths their file name; thread counts become ``THREADS`` (they do not change
    the alignments, which are re-sorted with a total order); Debian's
    CPU-specific STAR binary names (``STAR-avx2``...) become ``STAR``.
    """
    roots = [str(workdir.resolve()), str(workdir)]

    def repl(m: re.Match[str]) -> str:
        p = m.group(0)
        for r in roots:
            if p == r:
                return "WORKDIR"
            if p.startswith(r.rstrip("/") + "/"):
                return "WORKDIR/" + p[len(r.rstrip("/")) + 1 :]
        return Path(p).name or p

    text = _ABS_PATH.sub(repl, text)
    text = _THREADS.sub(lambda m: f"{m.group(1)}{m.group(2)}THREADS", text)
    return _STAR_BINARY.sub("STAR", text)


def _clean_header(header: Mapping[str, Any], workdir: Path) -> dict[str, Any]:
    h: dict[str, Any] = {k: (list(v) if isinstance(v, list) else v) for k, v in header.items()}
    pgs = []
    for pg in h.get("PG", []):
        pg = dict(pg)
        if "CL" in pg:
            pg["CL"] = scrub_paths(str(pg["CL"]), workdir)
        pgs.append(pg)
    if pgs:
        h["PG"] = pgs
    if "CO" in h:
        h["CO"] = [scrub_paths(str(c), workdir) for c in h["CO"]]
    hd = dict(h.get("HD", {"VN": "1.4"}))
    hd["SO"] = "coordinate"
    h["HD"] = hd
    return h


def _tie_key(rec: pysam.AlignedSegment) -> tuple[object, ...]:
    return (rec.is_reverse, rec.query_name or "", rec.flag, rec.cigarstring or "", rec.to_string())


def _groups(bam: pysam.AlignmentFile) -> Iterator[list[pysam.AlignedSegment]]:
    group: list[pysam.AlignedSegment] = []
    key: tuple[int, int] | None = None
    for rec in bam.fetch(until_eof=True):
        k = (rec.reference_id, rec.reference_start)
        if k != key and group:
            yield group
            group = []
        key = k
        group.append(rec)
    if group:
        yield group


def finalize_bam(raw: Path, out_bam: Path, workdir: Path, threads: int = 1) -> Path:
    """Coordinate-sort ``raw`` (SAM or BAM) into ``out_bam`` deterministically, scrub its header, index it.

    ``pysam.sort`` does the heavy lifting; records that share a position are
    then reordered by a full key, because samtools keeps their input order and
    multi-threaded aligners emit reads in a varying order.
    """
    out_bam = Path(out_bam)
    out_bam.parent.mkdir(parents=True, exist_ok=True)
    tmp = workdir / "sort" / (out_bam.name + ".presort.bam")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    pysam.sort("--no-PG", "-@", str(max(1, threads)), "-T", str(tmp.parent / "chunk"), "-o", str(tmp), str(raw))
    with pysam.AlignmentFile(str(tmp), "rb", check_sq=False) as inp:
        header = _clean_header(inp.header.to_dict(), workdir)
        with pysam.AlignmentFile(str(out_bam), "wb", header=header) as out:
            for group in _groups(inp):
                if len(group) > 1:
                    group.sort(key=_tie_key)
                for rec in group:
                    out.write(rec)
    tmp.unlink()
    pysam.index(str(out_bam))
    return out_bam


# --------------------------------------------------------------------------
# STAR
# --------------------------------------------------------------------------


def star_index(genome_fa: Path, gtf: Path, workdir: Path, threads: int = 1, sjdb_overhang: int = 100) -> Path:
    """STAR genome index with annotated junctions, cached in ``workdir/index``.

    ``--genomeSAindexNbases`` follows STAR's rule min(14, log2(size)/2 - 1),
    which for a genome of a few Mb is about 9 (the default 14 would waste
    memory and can crash on tiny genomes).
    """
    star = require_tool("STAR")
    genome_fa, gtf = Path(genome_fa).resolve(), Path(gtf).resolve()
    size = _genome_size(genome_fa)
    sa_bases = max(4, min(14, int(math.log2(size) / 2 - 1)))
    key = _digest(genome_fa, gtf, extra=f"STAR {sa_bases} {sjdb_overhang}")

    def build(d: Path) -> None:
        _run(
            [
                star, "--runMode", "genomeGenerate", "--runThreadN", str(threads),
                "--genomeDir", str(d), "--genomeFastaFiles", str(genome_fa),
                "--sjdbGTFfile", str(gtf), "--sjdbOverhang", str(sjdb_overhang),
                "--genomeSAindexNbases", str(sa_bases),
                "--outFileNamePrefix", str(d) + "/",
            ],
            d / "genomeGenerate.log",
        )

    return _cached_index(Path(workdir), "star", key, build)


def _star(
    fastqs: Sequence[Path | str],
    genome_fa: Path,
    gtf: Path,
    workdir: Path,
    out_bam: Path,
    options: Sequence[str],
    threads: int,
    sample: str | None,
) -> AlignmentResult:
    star = require_tool("STAR")
    workdir = Path(workdir).resolve()
    reads = _fastq_list(fastqs)
    index = star_index(genome_fa, gtf, workdir, threads)
    name = sample or Path(out_bam).name.removesuffix(".bam")
    run_dir = workdir / "align" / f"star-{name}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    cmd = [
        star, "--runThreadN", str(threads), "--genomeDir", str(index),
        "--readFilesIn", *map(str, reads),
        "--outFileNamePrefix", str(run_dir) + "/",
        "--outSAMattrRGline", f"ID:{name}", f"SM:{name}",
        *options,
    ]
    _run(cmd, run_dir / "STAR.stderr.log")
    raw = run_dir / "Aligned.out.bam"
    bam = finalize_bam(raw, Path(out_bam), workdir, threads)
    raw.unlink()
    logs = tuple(p for p in (run_dir / "Log.final.out", run_dir / "Log.out") if p.exists())
    return AlignmentResult(bam, logs)


def star_chimeric(
    fastqs: Sequence[Path | str],
    genome_fa: Path,
    gtf: Path,
    workdir: Path,
    out_bam: Path,
    threads: int = 1,
    sample: str | None = None,
    clip: str = "HardClip",
) -> AlignmentResult:
    """STAR in Arriba's recommended chimeric mode; chimeric alignments go into the BAM.

    ``clip`` is ``HardClip`` (Arriba's choice: supplementary segments hard-clipped)
    or ``SoftClip`` (supplementary segments keep the full read sequence).
    """
    if clip not in ("HardClip", "SoftClip"):
        raise ValueError("clip must be HardClip or SoftClip")
    opts = list(STAR_CHIMERIC_OPTIONS)
    opts[opts.index("HardClip")] = clip
    return _star(fastqs, genome_fa, gtf, workdir, out_bam, opts, threads, sample)


def star_chimeric_softclip(
    fastqs: Sequence[Path | str],
    genome_fa: Path,
    gtf: Path,
    workdir: Path,
    out_bam: Path,
    threads: int = 1,
    sample: str | None = None,
) -> AlignmentResult:
    """:func:`star_chimeric` with ``--chimOutType WithinBAM SoftClip``."""
    return star_chimeric(fastqs, genome_fa, gtf, workdir, out_bam, threads, sample, clip="SoftClip")


def star_default(
    fastqs: Sequence[Path | str],
    genome_fa: Path,
    gtf: Path,
    workdir: Path,
    out_bam: Path,
    threads: int = 1,
    sample: str | None = None,
) -> AlignmentResult:
    """STAR with default options (no chimeric detection): fusions show only as clipped reads and discordant pairs."""
    opts = ["--outSAMtype", "BAM", "Unsorted", "--outSAMunmapped", "Within"]
    return _star(fastqs, genome_fa, gtf, workdir, out_bam, opts, threads, sample)


# --------------------------------------------------------------------------
# HISAT2, BWA-MEM, minimap2
# --------------------------------------------------------------------------


def _gtf_introns(gtf: Path) -> list[tuple[str, int, int, str]]:
    """Annotated introns (chrom, first base, last base, strand; 1-based) from a GTF's exon lines."""
    exons: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    with open(gtf) as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) < 9 or f[2] != "exon":
                continue
            m = re.search(r'transcript_id "([^"]+)"', f[8])
            if m:
                exons.setdefault((f[0], m.group(1)), []).append((int(f[3]), int(f[4]), f[6]))
    introns: set[tuple[str, int, int, str]] = set()
    for (chrom, _), ex in exons.items():
        ex.sort()
        for a, b in zip(ex, ex[1:]):
            introns.add((chrom, a[1] + 1, b[0] - 1, a[2]))
    return sorted(introns)


def hisat2(
    fastqs: Sequence[Path | str],
    genome_fa: Path,
    gtf: Path,
    workdir: Path,
    out_bam: Path,
    threads: int = 1,
    sample: str | None = None,
) -> AlignmentResult:
    """HISAT2 with annotated splice sites in its index; it reports no chimeric alignments."""
    build_bin = require_tool("hisat2-build")
    align_bin = require_tool("hisat2")
    workdir = Path(workdir).resolve()
    genome_fa, gtf = Path(genome_fa).resolve(), Path(gtf).resolve()
    reads = _fastq_list(fastqs)
    key = _digest(genome_fa, gtf, extra="hisat2")

    def build(d: Path) -> None:
        ss = d / "splice_sites.txt"
        # HISAT2's format: chrom, 0-based last exon base, 0-based first base of the next exon, strand
        with open(ss, "w") as fh:
            for chrom, s, e, strand in _gtf_introns(gtf):
                fh.write(f"{chrom}\t{s - 2}\t{e}\t{strand}\n")
        _run([build_bin, "-p", str(threads), "--ss", str(ss), str(genome_fa), str(d / "genome")], d / "build.log")

    index = _cached_index(workdir, "hisat2", key, build)
    inputs = ["-1", str(reads[0]), "-2", str(reads[1])] if len(reads) == 2 else ["-U", str(reads[0])]
    return _sam_to_bam(
        "hisat2", workdir, out_bam, sample, threads,
        lambda name, sam: [align_bin, "-p", str(threads), "--rg-id", name, "--rg", f"SM:{name}",
                           "-x", str(index / "genome"), *inputs, "-S", str(sam)],
        sam_on_stdout=False,
    )


def _sam_to_bam(
    label: str,
    workdir: Path,
    out_bam: Path,
    sample: str | None,
    threads: int,
    command: Callable[[str, Path], list[str]],
    sam_on_stdout: bool,
) -> AlignmentResult:
    """Run an aligner that writes SAM (to a file or stdout), then sort and index it.

    ``command(read_group_name, sam_path)`` builds the command line; the log is
    ``align/<label>-<name>/<label>.log``."""
    name = sample or Path(out_bam).name.removesuffix(".bam")
    run_dir = workdir / "align" / f"{label}-{name}"
    run_dir.mkdir(parents=True, exist_ok=True)
    sam = run_dir / "aligned.sam"
    log = run_dir / f"{label}.log"
    _run(command(name, sam), log, stdout=sam if sam_on_stdout else None)
    bam = finalize_bam(sam, Path(out_bam), workdir, threads)
    sam.unlink()
    return AlignmentResult(bam, (log,))


def bwa_mem(
    fastqs: Sequence[Path | str],
    genome_fa: Path,
    gtf: Path,
    workdir: Path,
    out_bam: Path,
    threads: int = 1,
    sample: str | None = None,
) -> AlignmentResult:
    """BWA-MEM on the genome only, as a DNA/panel pipeline would do (``gtf`` is unused).

    Spliced reads come out clipped with supplementary records (flag 0x800, SA
    tags), and so do fusion junction reads.
    """
    bwa = require_tool("bwa")
    workdir = Path(workdir).resolve()
    genome_fa = Path(genome_fa).resolve()
    reads = _fastq_list(fastqs)
    key = _digest(genome_fa, extra="bwa")

    def build(d: Path) -> None:
        shutil.copyfile(genome_fa, d / "genome.fa")
        _run([bwa, "index", str(d / "genome.fa")], d / "index.log")

    index = _cached_index(workdir, "bwa", key, build)
    return _sam_to_bam(
        "bwa", workdir, out_bam, sample, threads,
        # -K fixes the batch size so insert-size estimates (and thus alignments) do not depend on -t
        lambda name, sam: [bwa, "mem", "-t", str(threads), "-K", "10000000", "-R", f"@RG\\tID:{name}\\tSM:{name}",
                           str(index / "genome.fa"), *map(str, reads)],
        sam_on_stdout=True,
    )


def minimap2_splice(
    fastqs: Sequence[Path | str],
    genome_fa: Path,
    gtf: Path,
    workdir: Path,
    out_bam: Path,
    threads: int = 1,
    sample: str | None = None,
) -> AlignmentResult:
    """minimap2 ``-ax splice -s 30`` with the annotated introns as a junction BED
    (``--junc-bed``); minimap2 2.24 cannot pair mates in splice mode, so they come out as
    two single-end reads."""
    mm2 = require_tool("minimap2")
    workdir = Path(workdir).resolve()
    genome_fa, gtf = Path(genome_fa).resolve(), Path(gtf).resolve()
    reads = _fastq_list(fastqs)
    key = _digest(genome_fa, gtf, extra="minimap2")

    def build(d: Path) -> None:
        # one BED12 record per intron: two 1-base blocks flanking it (what --junc-bed reads)
        with open(d / "junctions.bed", "w") as fh:
            for chrom, s, e, strand in _gtf_introns(gtf):
                start0, end0 = s - 2, e + 1
                fh.write(f"{chrom}\t{start0}\t{end0}\tintron\t0\t{strand}\t{start0}\t{end0}\t0\t2\t1,1,\t0,{end0 - start0 - 1},\n")
        _run([mm2, "-x", "splice", "-d", str(d / "genome.mmi"), str(genome_fa)], d / "index.log")

    index = _cached_index(workdir, "minimap2", key, build)
    return _sam_to_bam(
        "minimap2", workdir, out_bam, sample, threads,
        # -s 30: the splice preset's minimum chaining score is set for long reads; a
        # 75-base read cannot reach it and stays unmapped. Short-read users lower it
        # (minimap2 >= 2.27 has a `splice:sr` preset for this; Debian 12 ships 2.24).
        lambda name, sam: [mm2, "-ax", "splice", "-s", "30", "-t", str(threads), "--junc-bed", str(index / "junctions.bed"),
                           "-R", f"@RG\\tID:{name}\\tSM:{name}", str(index / "genome.mmi"), *map(str, reads)],
        sam_on_stdout=True,
    )


Aligner = Callable[..., AlignmentResult]

#: Aligner modes by name (the ``--aligner`` choices of ``imtfusion simulate sample``).
ALIGNERS: dict[str, Aligner] = {
    "star_chimeric": star_chimeric,
    "star_chimeric_softclip": star_chimeric_softclip,
    "star_default": star_default,
    "hisat2": hisat2,
    "bwa_mem": bwa_mem,
    "minimap2_splice": minimap2_splice,
}


def align(
    mode: str,
    fastqs: Sequence[Path | str],
    genome_fa: Path,
    gtf: Path,
    workdir: Path,
    out_bam: Path,
    threads: int = 1,
    sample: str | None = None,
) -> AlignmentResult:
    """Dispatch to the aligner function named ``mode`` (see :data:`ALIGNERS`)."""
    try:
        fn = ALIGNERS[mode]
    except KeyError:
        raise ValueError(f"unknown aligner {mode!r}; choose one of {', '.join(ALIGNERS)}") from None
    os.makedirs(workdir, exist_ok=True)
    return fn(fastqs, genome_fa, gtf, workdir, out_bam, threads=threads, sample=sample)
