"""Call fusions of the target genes in one coordinate-sorted, indexed BAM.

Writes into {outdir}/{sample}/: {sample}.fusions.tsv (calls), .fusions.discarded.tsv
(candidates a filter removed, with the filters), .targets.tsv (per target: detected / not
detected / not assessable), .fusions.vcf (breakends), .fusions.json (all of it, typed),
.vicc.json (each call as a VICC Gene Fusion Specification assayed fusion), .report.html
(the page a lab reads) and .evidence.bam with its .bai (the supporting reads, for IGV).
Each file is replaced only when complete; on an input error nothing is written
(with --record-failure, a one-line {sample}.error.txt says why). The exit status is 0
whenever the files were written, whatever the targets' statuses (a sample with no
assessable target is not an error: targets.tsv says why); 1 on an input error.

With --candidates-only FILE (the first pass of the batch filter) only FILE is written:
every candidate, called or discarded, with the columns the batch needs (and with
--exon-ratios TSV the 3'/5' ratios of the kinase targets, for the batch's imbalance
profile).
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from imtfusion.errors import ConfigError, ImtfusionError
from imtfusion.outputs import write_text, write_tsv
from imtfusion.params import CallParameters
from imtfusion.pipeline import SampleResult, candidate_row, run_sample, sample_paths, write_sample_outputs
from imtfusion.samplesheet import check_sample_name
from imtfusion.bamio import redact_url
from imtfusion.specimen import parse_specimen_options
from imtfusion.registry import DEFAULT_SET, resolve_target_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    bam = parser.add_mutually_exclusive_group(required=True)
    bam.add_argument("--bam", help="coordinate-sorted, indexed BAM (or CRAM with --fasta): a path or a URL "
                                   "(https://, s3://, gs://; credentials from the environment, see README)")
    bam.add_argument("--sample-sheet", metavar="TSV",
                     help="take the BAM (and its bam_index) from this sample sheet's row for --sample instead: "
                          "the workflow's way for a URL that carries credentials, which then is on no command line")
    parser.add_argument("--gtf", required=True, help="GTF the reads were aligned against, or an index from `imtfusion index-gtf`")
    parser.add_argument("--sample", required=True, help="sample name used in file names and reports")
    parser.add_argument("--outdir", help="results folder; files go to OUTDIR/SAMPLE/ (required unless --candidates-only)")
    parser.add_argument("--fasta", help="genome FASTA with .fai (optional; sharpens breakpoints, needed for CRAM)")
    parser.add_argument("--bam-index", help="BAM index if not next to the BAM (BAM.bai / BAM.csi)")
    parser.add_argument("--targets", nargs="+", default=[DEFAULT_SET], metavar="SET_OR_GENE",
                        help="a target set of the registry resources/targets.tsv (default, or imt-extended: the "
                             "default targets and the kinases of ALK-negative IMT), or target genes, or both (default: "
                             f"{DEFAULT_SET})")
    parser.add_argument("--primers", metavar="BED",
                        help="primer BED of an anchored multiplex PCR panel (BED3+, 0-based; name and strand columns "
                             "used when present): reads starting at a primer are anchored reads, primer bases are not "
                             "evidence, and distinct partner-side start sites stand in for mate pairs")
    parser.add_argument("--known-partners", help="curated known-fusion table (default: the one shipped)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a calling parameter (see README); repeatable")
    parser.add_argument("--threads", type=int, default=1, help="BGZF decompression threads (default 1)")
    parser.add_argument("--artefacts", nargs="+", default=[], metavar="TSV",
                        help="artefact tables (the batch's from `imtfusion batch-artefacts`, or known artefacts: "
                             "gene5, gene3, breakpoint5, breakpoint3, note); matching candidates are discarded "
                             "as recurrent_in_batch")
    parser.add_argument("--specimen", action="append", default=[], metavar="KEY=VALUE",
                        help="specimen field shown under the report's title: specimen, specimen_type, block or "
                             "tumour_content (e.g. --specimen tumour_content=40%%); repeatable")
    parser.add_argument("--candidates-only", metavar="TSV",
                        help="write only this table of every candidate, called or discarded (the batch filter's "
                             "first pass), and no report")
    parser.add_argument("--exon-ratios", metavar="TSV",
                        help="with --candidates-only: also write the 3'/5' ratios of the kinase targets without a "
                             "call (the rows `imtfusion batch-profile` joins into the batch's imbalance profile)")
    parser.add_argument("--imbalance-profile", metavar="TSV",
                        help="the batch's imbalance profile (`imtfusion batch-profile`): the 3'/5' ratio of every "
                             "other sample is the reference; without it (or with too few samples) the shipped "
                             "profile is")
    parser.add_argument("--temporary-index", action="store_true",
                        help="if the BAM has no usable index and --bam-index is not given, index it into a "
                             "temporary file for this run")
    parser.add_argument("--record-failure", action="store_true",
                        help="on an input error, write OUTDIR/SAMPLE/SAMPLE.error.txt with the reason (used by the "
                             "workflow); with --candidates-only, write the failure into that table instead and exit "
                             "with status 0, so the batch goes on without the sample")


def parse_params(items: list[str]) -> CallParameters:
    values = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE, e.g. --param min_fragments=3")
        key, value = item.split("=", 1)
        values[key.strip()] = value.strip()
    return CallParameters.from_mapping(values)


def error_path(outdir: str | Path, sample: str) -> Path:
    return Path(outdir) / sample / f"{sample}.error.txt"


def has_usable_index(bam: str | Path) -> bool:
    """An index next to the BAM that is not older than it (what the caller would use)."""
    from imtfusion.bamio import find_index

    path = Path(bam)
    index = find_index(path, None)
    return index is not None and index.stat().st_mtime >= path.stat().st_mtime - 1


@contextlib.contextmanager
def temporary_index(bam: str | Path) -> Iterator[str | None]:
    """A BAM index in a temporary folder, removed afterwards; None when the BAM has a
    usable index (or does not exist: the call then says so)."""
    if not Path(bam).is_file() or has_usable_index(bam):
        yield None
        return
    from imtfusion.commands.index_bam import index_bam

    with tempfile.TemporaryDirectory(prefix="imtfusion-index-") as folder:
        index = Path(folder) / (Path(bam).name + ".bai")
        print(f"{bam}: no usable index next to it; indexing it into a temporary file", file=sys.stderr)
        index_bam(bam, index)
        yield str(index)


def bam_from_sheet(args: argparse.Namespace) -> None:
    """With --sample-sheet: --bam (and --bam-index and --primers, unless given) from the
    sheet's row for --sample."""
    if not args.sample_sheet:
        return
    from imtfusion.samplesheet import read_sample_sheet

    rows = [e for e in read_sample_sheet(args.sample_sheet) if e.sample == args.sample]
    if not rows:
        raise ConfigError(f"{args.sample_sheet}: no row for sample {args.sample!r}; check --sample or the sheet")
    args.bam = rows[0].bam
    args.bam_index = args.bam_index or rows[0].bam_index or None
    args.primers = args.primers or rows[0].primers or None


def call_sample(args: argparse.Namespace) -> SampleResult:
    params = parse_params(args.param)
    artefacts = None
    if args.artefacts:
        from imtfusion.batch import Artefacts

        artefacts = Artefacts.load(args.artefacts)
    # an empty table filters nothing; it is passed on only when it has rows
    extra: dict = {"artefacts": artefacts} if artefacts else {}
    if args.imbalance_profile:
        from imtfusion.imbalance import read_profile

        extra["imbalance_profile"] = read_profile(args.imbalance_profile)
    with contextlib.ExitStack() as stack:
        bam_index = args.bam_index or None
        if bam_index is None and args.temporary_index:
            bam_index = stack.enter_context(temporary_index(args.bam))
        return run_sample(
            bam_path=args.bam,
            annotation=args.gtf,
            sample=args.sample,
            targets=resolve_target_names(args.targets),
            params=params,
            fasta=args.fasta,
            bam_index=bam_index,
            known_partners=args.known_partners,
            threads=max(1, args.threads),
            primers=args.primers or None,
            **extra,
        )


def write_candidates(path: str | Path, result: SampleResult) -> None:
    """Every candidate of the sample, called then discarded, in the batch's columns."""
    from imtfusion.batch import CANDIDATE_COLUMNS

    rows = [candidate_row(result.sample, c) for c in [*result.called, *result.discarded]]
    write_tsv(path, CANDIDATE_COLUMNS, rows)


def main(args: argparse.Namespace) -> None:
    check_sample_name(args.sample)
    specimen = parse_specimen_options(args.specimen)  # before the call: a bad field writes nothing
    if not args.outdir and not args.candidates_only:
        raise ConfigError("--outdir is required (or --candidates-only FILE for the batch filter's first pass)")
    if args.exon_ratios and not args.candidates_only:
        raise ConfigError("--exon-ratios goes with --candidates-only (the batch's first pass); drop it or add "
                          "--candidates-only FILE")
    try:
        bam_from_sheet(args)
        result = call_sample(args)
    except ImtfusionError as exc:
        if args.record_failure and args.candidates_only:
            from imtfusion.batch import candidate_failure_text

            write_text(args.candidates_only, candidate_failure_text(args.sample, str(exc)))
            if args.exon_ratios:
                from imtfusion.imbalance import profile_text

                write_text(args.exon_ratios, profile_text([], [f"{args.sample} failed: {exc}"]))
            print(
                f"imtfusion call: error: {exc} (recorded in {args.candidates_only}; "
                "the batch goes on without this sample)",
                file=sys.stderr,
            )
            return
        if args.record_failure:
            write_text(error_path(args.outdir, args.sample), f"{exc}\n")
        raise
    if args.candidates_only:
        write_candidates(args.candidates_only, result)
        if args.exon_ratios:
            from imtfusion.imbalance import profile_text
            from imtfusion.pipeline import imbalance_observations

            write_text(args.exon_ratios, profile_text(imbalance_observations(result)))
        print(
            f"{args.sample}: {len(result.called) + len(result.discarded)} candidate(s) written to "
            f"{args.candidates_only}",
            file=sys.stderr,
        )
        return
    result.command = "imtfusion " + " ".join(shlex.quote(redact_url(a)) for a in sys.argv[1:])
    result.specimen = specimen
    paths = write_sample_outputs(result, args.outdir)
    stale = error_path(args.outdir, args.sample)
    if stale.exists():
        stale.unlink()
    print(f"{args.sample}: {outcome(result)}; report: {paths['report']}", file=sys.stderr)


def outcome(result) -> str:
    """One line on what the call found, in the words of the targets' statuses: a sample
    whose targets are all not assessable must not read like a negative."""
    from collections import Counter

    from imtfusion.lod import base_status

    statuses = Counter(base_status(s.status) for s in result.statuses)
    if statuses and set(statuses) == {"not assessable"}:
        return f"no target assessable ({len(result.statuses)} not assessable; targets.tsv says why)"
    names = sorted({c.fusion for c in result.called})
    found = f"{len(result.called)} fusion(s) called" + (f" ({', '.join(names)})" if names else "")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    return f"{found}; targets: {counts}"
