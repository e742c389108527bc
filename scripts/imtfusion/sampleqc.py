"""Sample QC gates: can this library show a fusion at all?

From the loci read anyway (the targets) and a few housekeeping genes'
(``resources/housekeeping.tsv``), all through the BAM index in the same bulk pass:

* **unique fragments**: fragments (a pair's first read, or an unpaired read) that are not
  duplicates: with UMIs (read names, ``RX`` or ``MI``; ``umi`` not ``no``) the molecules,
  one per UMI family at a start (:func:`imtfusion.umis.molecules_at_starts`); else not
  flagged when the BAM's duplicates are flagged, else not sharing their start, mate start
  and strand with another (PCR duplicates, unflagged);
* **duplicate rate**: 1 - unique fragments / fragments;
* **on-target reads**: primary, non-duplicate records on the targets' exons;
* **median insert**: of the unspliced pairs whose mates start in the same exon (their
  TLEN is the fragment, not an intron span); paired libraries only;
* **on-target fraction** (targeted panels): the mapped records in the target loci
  (primary, duplicate, secondary and QC-failed; chimeric supplementary segments left
  out) over the mapped records of the whole BAM from its index statistics (all
  alignments); not measured when the index has none (CRAM);
* **control junction reads** (targeted panels carry control amplicons or baits on a
  housekeeping gene's exon junctions): fragments' first reads aligned across an intron
  of a housekeeping gene, duplicates included: none means the RNA or the library failed;
* **5'->3' coverage of the housekeeping genes**: mean depth on the first fifth of each
  transcript over that on its last fifth (``qc_transcript_trim`` bases at each end left
  out: how fragments and reads cover transcript ends depends on their lengths, e.g. a
  single-end reverse-stranded library hardly reads the first fragment length), the median
  over the genes covered at least ``qc_min_housekeeping_depth`` and long enough; degraded
  RNA captured by its poly(A) tail loses 5' coverage all along the transcript (milder
  degradation, which passes this gate, is discounted in the 3'/5' imbalance itself:
  :func:`imtfusion.imbalance.fit_decay`).

Each figure is held against its ``qc_*`` parameter; a figure that could not be measured
(a single-end library has no insert size; no housekeeping gene in the GTF or covered) is
not a failure, and the report says so. A sample that fails any gate cannot rule a fusion
out: its targets without a call are *not assessable* with the reason, never *not
detected* (nor *imbalance*: a degraded library fakes a 3' excess); a call stands, its
reason naming the failed gates. Pure: frozen dataclasses in and out.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from imtfusion.model import LibraryCounts, TargetQC

HOUSEKEEPING_FILE = "housekeeping.tsv"


@dataclass(frozen=True, slots=True)
class Gate:
    """One QC figure against its limit; ``passed`` None: not measured."""

    name: str  # the parameter
    label: str
    value: float | None
    limit: float
    passed: bool | None
    text: str

    @property
    def failed(self) -> bool:
        return self.passed is False


@dataclass(frozen=True, slots=True)
class SampleQC:
    fragments: int
    unique_fragments: int
    duplicate_rate: float | None
    duplicates_from: str  # "UMIs" (UMI families), "flags" (the BAM's duplicate flags) or "start positions"
    on_target_reads: int
    median_insert: float | None
    five_to_three: float | None
    housekeeping: tuple[tuple[str, float | None], ...]  # (gene, its 5'/3' ratio or None: too shallow)
    missing_housekeeping: tuple[str, ...]  # not in the GTF or the BAM
    gates: tuple[Gate, ...]
    on_target_fraction: float | None = None  # records in the target loci / the BAM's mapped records
    mapped_records: int | None = None  # the BAM's mapped records (index statistics)
    control_junction_reads: int | None = None  # spliced first reads of the housekeeping genes

    @property
    def passed(self) -> bool:
        return not any(g.failed for g in self.gates)

    @property
    def failures(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if g.failed)

    def reason(self) -> str:
        """``sample QC failed: ...`` with every failed gate, or ''."""
        if self.passed:
            return ""
        return "sample QC failed: " + "; ".join(g.text for g in self.failures)

    def unique_fragments_of(self, q: TargetQC) -> int | None:
        """One locus's unique fragments by the sample's rule (``duplicates_from``); None
        without library counts."""
        return None if q.library is None else _unique(q.library, self.duplicates_from)

    def summary(self) -> str:
        """``pass`` or ``fail: GATE, GATE`` (targets.tsv)."""
        return "pass" if self.passed else "fail: " + ", ".join(g.name for g in self.failures)


def housekeeping_genes(value: str = "", path: str | Path | None = None) -> list[str]:
    """The genes of ``qc_housekeeping_genes`` (comma-separated), else of the shipped table."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    if names:
        return names
    from imtfusion.knowledge import read_curated_table, resource_path

    path = Path(path) if path else resource_path(HOUSEKEEPING_FILE)
    return [row["gene"] for row in read_curated_table(path, "housekeeping gene table", {"gene", "source"})]


def five_to_three(bins: tuple[float, ...]) -> float | None:
    """Mean depth on the first fifth of a transcript over that on its last fifth."""
    if len(bins) < 5:
        return None
    k = max(1, len(bins) // 5)
    head, tail = sum(bins[:k]) / k, sum(bins[-k:]) / k
    return head / tail if tail > 0 else None


def _median_insert(libraries: Iterable) -> tuple[float | None, int]:
    counts: dict[int, int] = {}
    for lib in libraries:
        for size, n in lib.insert_sizes:
            counts[size] = counts.get(size, 0) + n
    total = sum(counts.values())
    if not total:
        return None, 0
    seen, half = 0, (total + 1) / 2
    for size in sorted(counts):
        seen += counts[size]
        if seen >= half:
            return float(size), total
    return None, total  # pragma: no cover


def duplicate_rule(libraries: Iterable[LibraryCounts]) -> str:
    """How a sample's duplicates are told: ``UMIs`` when its reads carry them (a UMI tells
    molecules apart that start together, which a deep panel's do), else ``flags`` when the
    BAM flags any duplicate, else ``start positions``."""
    libraries = list(libraries)
    if any(lib.molecules is not None for lib in libraries):
        return "UMIs"
    return "flags" if any(lib.flagged_duplicates for lib in libraries) else "start positions"


def _unique(lib: LibraryCounts, rule: str) -> int:
    """A locus's fragments that are not duplicates by the sample's ``rule``
    (:func:`duplicate_rule`): its molecules, its fragments not flagged, or its distinct
    start positions."""
    if rule == "UMIs" and lib.molecules is not None:
        return lib.molecules
    return lib.fragments - lib.flagged_duplicates if rule == "flags" else lib.distinct_starts


def in_loci(q: TargetQC) -> int:
    """The mapped records the scan saw in a locus (supplementary segments left out)."""
    return q.reads + q.duplicates + q.secondary + q.qc_fail


def assess_sample_qc(targets: Mapping[str, TargetQC], housekeeping: Mapping[str, TargetQC],
                     missing: Iterable[str], params, mapped_records: int | None = None) -> SampleQC:
    """The sample's QC figures and gates (``params``: the qc_* parameters of
    :class:`~imtfusion.params.CallParameters`; ``mapped_records``: the BAM's mapped
    records from its index, None when the index has no statistics)."""
    libraries = [q.library for q in (*targets.values(), *housekeeping.values()) if q.library is not None]
    fragments = sum(lib.fragments for lib in libraries)
    source = duplicate_rule(libraries)
    unique = sum(_unique(lib, source) for lib in libraries)
    duplicate_rate = 1 - unique / fragments if fragments else None
    on_target = sum(q.exon_reads for q in targets.values())
    paired = sum(lib.paired for lib in libraries)
    median_insert, pairs = _median_insert(libraries) if paired * 2 >= fragments else (None, 0)
    if pairs < params.qc_min_insert_pairs:
        median_insert = None
    genes = []
    for name, q in housekeeping.items():
        deep = q.transcript_bins and statistics.mean(q.transcript_bins) >= params.qc_min_housekeeping_depth
        ratio = five_to_three(q.transcript_bins) if deep else None
        genes.append((name, round(ratio, 3) if ratio is not None else None))
    ratios = [r for _, r in genes if r is not None]
    bias = round(statistics.median(ratios), 3) if ratios else None
    on_fraction = (round(min(1.0, sum(in_loci(q) for q in targets.values()) / mapped_records), 4)
                   if mapped_records else None)
    house_libs = [q.library for q in housekeeping.values() if q.library is not None]
    control = sum(lib.spliced for lib in house_libs) if house_libs else None

    gates = (
        _at_least("qc_min_unique_fragments", "unique fragments", unique, params.qc_min_unique_fragments,
                  f"{unique:,} unique fragments in the target and housekeeping loci (duplicates by {source})"),
        _at_least("qc_min_on_target_reads", "on-target reads", on_target, params.qc_min_on_target_reads,
                  f"{on_target:,} reads on the targets' exons"),
        _at_most("qc_max_duplicate_rate", "duplicate rate", duplicate_rate, params.qc_max_duplicate_rate,
                 f"duplicate rate {duplicate_rate:.0%}" if duplicate_rate is not None else "no fragments"),
        _at_least("qc_min_median_insert", "median insert", median_insert, params.qc_min_median_insert,
                  f"median insert {median_insert:.0f} bases" if median_insert is not None
                  else "median insert not measured (single-end, or fewer pairs within one exon than "
                       f"qc_min_insert_pairs {params.qc_min_insert_pairs})"),
        _at_least("qc_min_five_to_three", "5'->3' coverage", bias, params.qc_min_five_to_three,
                  f"housekeeping genes' 5' coverage at {bias:.2f}x their 3' coverage (RNA degradation)"
                  if bias is not None else "5'->3' coverage not measured (no housekeeping gene covered at depth "
                                           f"{params.qc_min_housekeeping_depth:g})"),
        _at_least("qc_min_on_target_fraction", "on-target fraction", on_fraction, params.qc_min_on_target_fraction,
                  f"{on_fraction:.1%} of the BAM's mapped records in the target loci" if on_fraction is not None
                  else "on-target fraction not measured (the BAM index holds no record counts)"),
        _at_least("qc_min_control_junction_reads", "control junction reads", control,
                  params.qc_min_control_junction_reads,
                  f"{control:,} reads across an exon junction of the housekeeping (control) genes" if control is not None
                  else "control junction reads not measured (no housekeeping gene in the annotation and the BAM)"),
    )
    return SampleQC(fragments, unique, round(duplicate_rate, 4) if duplicate_rate is not None else None, source,
                    on_target, median_insert, bias, tuple(genes), tuple(missing), gates, on_fraction, mapped_records,
                    control)



def _at_least(name: str, label: str, value: float | None, limit: float, text: str) -> Gate:
    if value is None:
        return Gate(name, label, None, limit, None, text)
    ok = value >= limit
    return Gate(name, label, float(value), limit, ok, text if ok else f"{text}, fewer than the {limit:g} needed ({name})"
                if "coverage" not in label and "fraction" not in label else f"{text}, below {limit:g} ({name})")


def _at_most(name: str, label: str, value: float | None, limit: float, text: str) -> Gate:
    if value is None:
        return Gate(name, label, None, limit, None, text)
    ok = value <= limit
    return Gate(name, label, float(value), limit, ok, text if ok else f"{text}, above the {limit:.0%} allowed ({name})")
