"""The recurrent-artefact filter of a batch: a panel of normals built from the batch itself.

A junction that many samples of a batch show with low support in each is an artefact of
the library preparation, the sequencer or the aligner, and a weak copy of one sample's
strong junction in other samples of the same run is index hopping or contamination.
Neither is a fusion of the sample it is seen in. The workflow finds such junctions once
per batch (:func:`aggregate`, from every sample's candidates, called or discarded, of a
first pass) and writes them to a table; the per-sample calls then discard a candidate
matching a row (:meth:`Artefacts.match`, the filter ``recurrent_in_batch``). A user's
table of known artefacts, in the same format, works the same way.

Junctions (two candidates of the same 5' and 3' gene are the same junction when):

* both breakpoints are exact and each within ``breakpoint_tolerance`` bases of the
  other's, exact candidates being grouped around the breakpoints seen in most samples;
* or one of them is approximate (mates only): its breakpoints are estimates, so it is
  the same junction as any candidate of its gene pair.

A junction is *recurrent* when it is seen in at least ``min_samples`` samples and in at
least ``min_fraction`` of the batch (both: ``min_samples`` keeps a small batch from
flagging everything, ``min_fraction`` asks more than a handful of a large one). A sample's
support for it is its largest fragment count among its candidates of that junction. In a
recurrent junction a sample is flagged when its support is at most ``max_fragments`` and

* ``many_weak_samples``: at least ``min_samples`` and ``min_fraction`` of the batch have at
  most ``max_fragments`` fragments of it (low support in many samples), or
* ``below_strongest``: its support is less than ``max_share`` of the strongest sample's
  (a weak copy of one strong sample).

So a sample with more than ``max_fragments`` fragments is never flagged, nor is the
strongest sample unless every sample is weak; a real recurrent fusion with many reads in
several patients keeps every call.

Coordinates are the 1-based ``chr:pos`` labels of the fusion tables throughout. This
module reads and writes plain text only (no BAM, no Snakemake).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from imtfusion.errors import ConfigError, InputFileError

# The columns of a sample's candidate table (``imtfusion call --candidates-only``); the
# batch reads the required ones by name, so fusions.tsv and fusions.discarded.tsv serve too.
CANDIDATE_COLUMNS = [
    "sample",
    "fusion",
    "gene5",
    "gene3",
    "breakpoint5",
    "breakpoint3",
    "breakpoint_precision",
    "split_reads",
    "discordant_pairs",
    "fragments",
    "filters",
]
REQUIRED_CANDIDATE_COLUMNS = (
    "sample", "gene5", "gene3", "breakpoint5", "breakpoint3", "breakpoint_precision", "fragments",
)

# The table of artefacts (the batch's, written by `imtfusion batch-artefacts`). A user's
# known-artefact table needs only the first four columns and `note`.
ARTEFACT_COLUMNS = [
    "gene5",
    "gene3",
    "breakpoint5",
    "breakpoint3",
    "max_fragments",
    "tolerance",
    "note",
    "rule",
    "samples_seen",
    "batch_samples",
    "weak_samples",
    "strongest_sample",
    "strongest_fragments",
    "flagged_samples",
    "fragments_by_sample",
]
REQUIRED_ARTEFACT_COLUMNS = ("gene5", "gene3", "breakpoint5", "breakpoint3")
KNOWN_ARTEFACT_COLUMNS = ("gene5", "gene3", "breakpoint5", "breakpoint3", "note")

ANY = "*"  # a breakpoint (or max_fragments) of an artefact row that matches anything
DEFAULT_TOLERANCE = 5  # bases, for known-artefact rows without a tolerance column
RULE_MANY_WEAK = "many_weak_samples"
RULE_BELOW_STRONGEST = "below_strongest"
RULE_KNOWN = "known_artefact"

# A sample whose first pass failed writes this line instead of candidates (with the
# table's header before it), so the batch goes on without it.
FAILED_LINE = re.compile(r"^# sample (?P<sample>\S+) failed: (?P<reason>.*)$")
_TABLE_SUFFIXES = (".candidates.tsv", ".fusions.discarded.tsv", ".fusions.tsv", ".tsv")
_MISSING = ("", ".")


class BatchTableError(InputFileError):
    """A candidate or artefact table cannot be read."""


@dataclass(frozen=True, order=True)
class Breakpoint:
    """A 1-based ``chr:pos`` label, as in the fusion tables."""

    chrom: str
    pos: int

    @classmethod
    def parse(cls, label: str) -> "Breakpoint":
        """``chr2:29223528``; the contig name may itself contain ``:`` (HLA alleles)."""
        chrom, sep, pos = label.strip().rpartition(":")
        if not sep or not chrom or not pos.isdigit() or int(pos) < 1:
            raise ValueError(label)
        return cls(chrom, int(pos))

    def label(self) -> str:
        return f"{self.chrom}:{self.pos}"

    def near(self, other: "Breakpoint", tolerance: int) -> bool:
        return self.chrom == other.chrom and abs(self.pos - other.pos) <= tolerance


# ---------------------------------------------------------------- candidate tables


@dataclass(frozen=True)
class SampleCandidate:
    """One candidate of one sample: what the batch needs of a fusion-table row."""

    sample: str
    gene5: str
    gene3: str
    breakpoint5: Breakpoint
    breakpoint3: Breakpoint
    exact: bool
    fragments: int


@dataclass(frozen=True)
class CandidateTable:
    """One file of candidates. ``samples`` are those it describes: the ``sample`` column's
    values, or for a table without rows the sample its file name says."""

    path: str
    samples: tuple[str, ...]
    candidates: tuple[SampleCandidate, ...]
    failed: tuple[tuple[str, str], ...] = ()  # (sample, reason) of a failed first pass


@dataclass(frozen=True)
class BatchCandidates:
    """Every sample's candidates. ``samples`` are the samples counted in the batch (those
    whose first pass succeeded), ``failed`` the others with the reason."""

    samples: tuple[str, ...]
    candidates: tuple[SampleCandidate, ...]
    failed: tuple[tuple[str, str], ...]


def sample_from_file_name(path: str | Path) -> str:
    """``IMT01.candidates.tsv`` / ``IMT01.fusions.tsv`` / ``IMT01.fusions.discarded.tsv`` -> ``IMT01``."""
    name = Path(path).name
    for suffix in _TABLE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _read_lines(path: str | Path, what: str) -> list[str]:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise BatchTableError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise BatchTableError(f"{path}: not a file (a directory?); give the {what} itself") from None
    except PermissionError:
        raise BatchTableError(f"{path}: permission denied; make the {what} readable for this user") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BatchTableError(f"{path}: not a text file (not UTF-8); give the {what} as tab-separated text") from None
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _rows(path: str | Path, lines: list[str], required: Sequence[str], what: str, expected: Sequence[str]):
    """(line number, row by column name) of a TSV with a header; blank lines and ``#``
    lines are skipped. Raises one line naming the file on a malformed table."""
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip() and not line.startswith("#")]
    if not numbered:
        raise BatchTableError(
            f"{path}: the {what} is empty (no header line); it needs the columns {', '.join(expected)}"
        )
    header_no, header_line = numbered[0]
    header = [h.strip() for h in header_line.split("\t")]
    missing = [c for c in required if c not in header]
    if missing:
        hint = " (it looks comma-separated; use tabs)" if len(header) == 1 and "," in header_line else ""
        raise BatchTableError(
            f"{path}: missing column(s) {', '.join(missing)} in the header (line {header_no}){hint}; "
            f"a {what} has the tab-separated columns {', '.join(expected)}"
        )
    for n, line in numbered[1:]:
        cells = line.split("\t")
        if len(cells) != len(header):
            raise BatchTableError(
                f"{path}: line {n} has {len(cells)} tab-separated columns, the header has {len(header)}"
            )
        yield n, dict(zip(header, (c.strip() for c in cells)))


def _breakpoint(path: str | Path, n: int, column: str, value: str, allow_any: bool = False) -> Breakpoint | None:
    if allow_any and value == ANY:
        return None
    try:
        return Breakpoint.parse(value)
    except ValueError:
        also = " or '*' (any)" if allow_any else ""
        raise BatchTableError(f"{path}: line {n}: {column} {value!r} is not a 1-based chr:pos{also}") from None


def _count(path: str | Path, n: int, column: str, value: str) -> int:
    if not value.isdigit():
        raise BatchTableError(f"{path}: line {n}: {column} {value!r} is not a whole number of at least 0")
    return int(value)


def read_candidates(path: str | Path) -> CandidateTable:
    """A sample's candidates: ``{sample}.candidates.tsv`` from ``imtfusion call
    --candidates-only``, or its ``fusions.tsv`` or ``fusions.discarded.tsv`` (columns are
    read by name; others are ignored)."""
    what = "candidate table"
    lines = _read_lines(path, what)
    failed = tuple(
        (m["sample"], m["reason"]) for m in (FAILED_LINE.match(line) for line in lines) if m
    )
    candidates = []
    for n, row in _rows(path, lines, REQUIRED_CANDIDATE_COLUMNS, what, CANDIDATE_COLUMNS):
        precision = row["breakpoint_precision"]
        if precision not in ("exact", "approximate", "exon-level (no FASTA)"):
            raise BatchTableError(
                f"{path}: line {n}: breakpoint_precision {precision!r} is not 'exact', 'approximate' or "
                "'exon-level (no FASTA)'"
            )
        for column in ("sample", "gene5", "gene3"):
            if row[column] in _MISSING:
                raise BatchTableError(f"{path}: line {n}: the {column} column is empty")
        candidates.append(
            SampleCandidate(
                sample=row["sample"],
                gene5=row["gene5"],
                gene3=row["gene3"],
                breakpoint5=_breakpoint(path, n, "breakpoint5", row["breakpoint5"]),
                breakpoint3=_breakpoint(path, n, "breakpoint3", row["breakpoint3"]),
                exact=precision == "exact",
                fragments=_count(path, n, "fragments", row["fragments"]),
            )
        )
    if failed and candidates:
        raise BatchTableError(
            f"{path}: records a failed sample ({failed[0][0]}) and also holds candidates; re-create it"
        )
    if candidates:
        samples = tuple(sorted({c.sample for c in candidates}))
    elif failed:
        samples = ()
    else:
        samples = (sample_from_file_name(path),)
    return CandidateTable(str(path), samples, tuple(candidates), failed)


def read_batch(paths: Iterable[str | Path]) -> BatchCandidates:
    """Every table of a batch. Tables of the same sample (its fusions.tsv and
    fusions.discarded.tsv) are merged; a sample whose first pass failed is left out."""
    tables = [read_candidates(p) for p in paths]
    if not tables:
        raise ConfigError("no candidate tables given; list one per sample with --candidates")
    candidates = [c for t in tables for c in t.candidates]
    with_rows = {c.sample for c in candidates}
    # a failure record counts unless another table of the sample holds its candidates
    failed = {s: reason for t in tables for s, reason in t.failed if s not in with_rows}
    samples = {s for t in tables for s in t.samples} - set(failed)
    return BatchCandidates(
        samples=tuple(sorted(samples)),
        candidates=tuple(sorted(candidates, key=_candidate_key)),
        failed=tuple(sorted(failed.items())),
    )


def _candidate_key(c: SampleCandidate):
    return (c.gene5, c.gene3, c.breakpoint5, c.breakpoint3, not c.exact, c.sample, c.fragments)


# ---------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class BatchRules:
    """The thresholds of the batch filter (config ``batch_filter``); see the module doc."""

    min_samples: int = 3
    min_fraction: float = 0.1
    max_fragments: int = 5
    max_share: float = 0.2
    breakpoint_tolerance: int = 5

    def __post_init__(self) -> None:
        def whole(name: str, least: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"batch filter {name} must be a whole number of at least {least}, not {value!r}")

        whole("min_samples", 2)
        whole("max_fragments", 1)
        whole("breakpoint_tolerance", 0)
        if not 0 <= self.min_fraction <= 1:
            raise ConfigError(f"batch filter min_fraction must be between 0 and 1, not {self.min_fraction!r}")
        if not 0 < self.max_share <= 1:
            raise ConfigError(f"batch filter max_share must be above 0 and at most 1, not {self.max_share!r}")

    def many(self, count: int, batch_size: int) -> bool:
        """At least ``min_samples`` and at least ``min_fraction`` of the batch (exactly:
        0.1 of 30 samples is 3)."""
        return count >= self.min_samples and count >= Fraction(str(self.min_fraction)) * batch_size

    def below_share(self, fragments: int, strongest: int) -> bool:
        return fragments < Fraction(str(self.max_share)) * strongest


@dataclass(frozen=True)
class Artefact:
    """One row of an artefact table. ``breakpoint5``/``breakpoint3`` None match any
    position; ``max_fragments`` None any support. The other fields describe a batch row
    (empty for a known artefact)."""

    gene5: str
    gene3: str
    breakpoint5: Breakpoint | None
    breakpoint3: Breakpoint | None
    max_fragments: int | None
    tolerance: int
    note: str
    rule: str = RULE_KNOWN
    samples_seen: int | None = None
    batch_samples: int | None = None
    weak_samples: int | None = None
    strongest_sample: str | None = None
    strongest_fragments: int | None = None
    flagged_samples: tuple[str, ...] = ()
    fragments_by_sample: tuple[tuple[str, int], ...] = ()

    def matches(self, breakpoint5: Breakpoint, breakpoint3: Breakpoint, fragments: int) -> bool:
        """Whether a candidate of this row's gene pair is this artefact."""
        if self.max_fragments is not None and fragments > self.max_fragments:
            return False
        if self.breakpoint5 is not None and not self.breakpoint5.near(breakpoint5, self.tolerance):
            return False
        return self.breakpoint3 is None or self.breakpoint3.near(breakpoint3, self.tolerance)

    def reason(self) -> str:
        if self.rule == RULE_KNOWN:
            return "listed as a known artefact" + (f": {self.note}" if self.note else "")
        return self.note

    def row(self) -> dict[str, object]:
        return {
            "gene5": self.gene5,
            "gene3": self.gene3,
            "breakpoint5": self.breakpoint5.label() if self.breakpoint5 else ANY,
            "breakpoint3": self.breakpoint3.label() if self.breakpoint3 else ANY,
            "max_fragments": ANY if self.max_fragments is None else self.max_fragments,
            "tolerance": self.tolerance,
            "note": self.note,
            "rule": self.rule,
            "samples_seen": self.samples_seen,
            "batch_samples": self.batch_samples,
            "weak_samples": self.weak_samples,
            "strongest_sample": self.strongest_sample,
            "strongest_fragments": self.strongest_fragments,
            "flagged_samples": ",".join(self.flagged_samples),
            "fragments_by_sample": ",".join(f"{s}:{f}" for s, f in self.fragments_by_sample),
        }


def _span(values: Iterable[int]) -> str:
    values = sorted(values)
    lo, hi = values[0], values[-1]
    text = str(lo) if lo == hi else f"{lo}-{hi}"
    return text + (" fragment" if hi == 1 else " fragments")


def _decide(
    gene5: str,
    gene3: str,
    support: Mapping[str, int],
    batch_size: int,
    rules: BatchRules,
) -> Artefact | None:
    """The batch row of a junction with ``support`` (sample -> fragments), without its
    breakpoints, or None when it flags no sample."""
    seen = len(support)
    if not rules.many(seen, batch_size):
        return None
    # the strongest sample: most fragments, then the first name (deterministic)
    strongest_fragments = max(support.values())
    strongest_sample = min(s for s, f in support.items() if f == strongest_fragments)
    weak = {s: f for s, f in support.items() if f <= rules.max_fragments}
    if rules.many(len(weak), batch_size):
        rule, threshold = RULE_MANY_WEAK, rules.max_fragments
    else:
        rule = RULE_BELOW_STRONGEST
        below = [f for f in range(1, rules.max_fragments + 1) if rules.below_share(f, strongest_fragments)]
        threshold = max(below, default=0)
    flagged = sorted(s for s, f in support.items() if f <= threshold)
    if not flagged:
        return None
    spans = _span(support[s] for s in flagged)
    if rule == RULE_MANY_WEAK and len(weak) == seen:
        note = f"seen in {seen} of {batch_size} samples of the batch with {spans} each"
    elif rule == RULE_MANY_WEAK:
        note = f"seen in {seen} of {batch_size} samples of the batch, {len(weak)} of them with {spans}"
    else:
        note = (
            f"seen in {seen} of {batch_size} samples of the batch: {strongest_fragments} fragments in "
            f"{strongest_sample}, {spans} in {len(flagged)} other(s), less than {rules.max_share:g} of it "
            "(index hopping or contamination)"
        )
    return Artefact(
        gene5=gene5,
        gene3=gene3,
        breakpoint5=None,
        breakpoint3=None,
        max_fragments=threshold,
        tolerance=rules.breakpoint_tolerance,
        note=note,
        rule=rule,
        samples_seen=seen,
        batch_samples=batch_size,
        weak_samples=len(weak),
        strongest_sample=strongest_sample,
        strongest_fragments=strongest_fragments,
        flagged_samples=tuple(flagged),
        fragments_by_sample=tuple(sorted(support.items())),
    )


def _strongest_by_sample(candidates: Iterable[SampleCandidate]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in candidates:
        out[c.sample] = max(out.get(c.sample, 0), c.fragments)
    return out


Junction = tuple[Breakpoint, Breakpoint]


def _exact_clusters(exact: Sequence[SampleCandidate], tolerance: int) -> list[tuple[Junction, list[SampleCandidate]]]:
    """Exact candidates of one gene pair grouped around anchors: the breakpoints seen in
    most samples first, every other breakpoint pair joining the first anchor within
    ``tolerance`` at both ends (so each member is that close to its anchor)."""
    by_pair: dict[Junction, list[SampleCandidate]] = {}
    for c in exact:
        by_pair.setdefault((c.breakpoint5, c.breakpoint3), []).append(c)
    order = sorted(by_pair, key=lambda bp: (-len({c.sample for c in by_pair[bp]}), bp))
    clusters: list[tuple[Junction, list[SampleCandidate]]] = []
    for bp in order:
        for anchor, members in clusters:
            if anchor[0].near(bp[0], tolerance) and anchor[1].near(bp[1], tolerance):
                members.extend(by_pair[bp])
                break
        else:
            clusters.append((bp, list(by_pair[bp])))
    return clusters


def aggregate(
    candidates: Iterable[SampleCandidate],
    samples: Sequence[str],
    rules: BatchRules = BatchRules(),
) -> tuple[Artefact, ...]:
    """The batch's artefact rows from every sample's candidates; ``samples`` are the
    batch's samples (those without any candidate included). Rows are sorted by gene pair
    and breakpoints, so the same candidates give the same rows in any order."""
    candidates = list(candidates)
    batch_size = len(set(samples) | {c.sample for c in candidates})
    by_genes: dict[tuple[str, str], list[SampleCandidate]] = {}
    for c in candidates:
        by_genes.setdefault((c.gene5, c.gene3), []).append(c)
    rows: list[Artefact] = []
    for (gene5, gene3), members in sorted(by_genes.items()):
        members.sort(key=_candidate_key)
        exact = [c for c in members if c.exact]
        approximate = [c for c in members if not c.exact]
        # an approximate candidate is the same junction as any candidate of its gene pair
        approximate_support = _strongest_by_sample(approximate)
        for anchor, cluster in _exact_clusters(exact, rules.breakpoint_tolerance):
            support = _strongest_by_sample(cluster)
            for s, f in approximate_support.items():
                support[s] = max(support.get(s, 0), f)
            row = _decide(gene5, gene3, support, batch_size, rules)
            if row is not None:
                rows.append(_at(row, *anchor))
        if approximate:
            row = _decide(gene5, gene3, _strongest_by_sample(members), batch_size, rules)
            if row is not None:
                # one row per breakpoint estimate of a flagged approximate candidate, so
                # the row does not reach exact junctions of the pair elsewhere
                estimates = sorted(
                    {(c.breakpoint5, c.breakpoint3) for c in approximate if c.fragments <= row.max_fragments}
                )
                rows.extend(_at(row, bp5, bp3) for bp5, bp3 in estimates)
    return tuple(_unique(sorted(rows, key=_row_key)))


def _at(row: Artefact, breakpoint5: Breakpoint, breakpoint3: Breakpoint) -> Artefact:
    return replace(row, breakpoint5=breakpoint5, breakpoint3=breakpoint3)


def _row_key(a: Artefact):
    return (a.gene5, a.gene3, a.breakpoint5 or Breakpoint("", 0), a.breakpoint3 or Breakpoint("", 0),
            -(a.max_fragments or 0), a.rule, a.note)


def _unique(rows: Iterable[Artefact]) -> list[Artefact]:
    """Drop a row that an earlier one with the same breakpoints covers."""
    out: list[Artefact] = []
    for r in rows:
        if out and (out[-1].gene5, out[-1].gene3, out[-1].breakpoint5, out[-1].breakpoint3) == (
            r.gene5, r.gene3, r.breakpoint5, r.breakpoint3
        ):
            continue  # the earlier one flags at least as many fragments (sorted so)
        out.append(r)
    return out


# ---------------------------------------------------------------- artefact tables


@dataclass(frozen=True)
class Artefacts:
    """The artefact rows a sample's calls are filtered against (batch and known)."""

    rows: tuple[Artefact, ...] = ()
    _by_genes: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], list[Artefact]] = {}
        for r in self.rows:
            index.setdefault((r.gene5, r.gene3), []).append(r)
        object.__setattr__(self, "_by_genes", {k: tuple(v) for k, v in index.items()})

    def __bool__(self) -> bool:
        return bool(self.rows)

    @classmethod
    def load(cls, paths: Iterable[str | Path]) -> "Artefacts":
        """The rows of every table, in order: the batch's (``batch-artefacts``) and/or a
        user's known artefacts (``gene5, gene3, breakpoint5, breakpoint3, note``)."""
        rows: list[Artefact] = []
        for p in paths:
            rows.extend(read_artefacts(p))
        return cls(tuple(rows))

    def match(self, gene5: str, gene3: str, breakpoint5: str, breakpoint3: str, fragments: int) -> str | None:
        """Why a candidate is an artefact of the batch (or a known one), or None."""
        rows = self._by_genes.get((gene5, gene3))
        if not rows:
            return None
        try:
            bp5, bp3 = Breakpoint.parse(breakpoint5), Breakpoint.parse(breakpoint3)
        except ValueError:
            return None
        for r in rows:
            if r.matches(bp5, bp3, fragments):
                return r.reason()
        return None


def read_artefacts(path: str | Path) -> list[Artefact]:
    """One artefact table. Required columns ``gene5, gene3, breakpoint5, breakpoint3``
    (a breakpoint ``*`` matches any position); optional ``note``, ``max_fragments``
    (``*`` or absent: any support) and ``tolerance`` (bases, default
    :data:`DEFAULT_TOLERANCE`); further columns are kept from the batch table's ones when
    present and otherwise ignored. Blank lines and ``#`` lines are skipped."""
    what = "artefact table"
    lines = _read_lines(path, what)
    out = []
    for n, row in _rows(path, lines, REQUIRED_ARTEFACT_COLUMNS, what, KNOWN_ARTEFACT_COLUMNS):
        for column in ("gene5", "gene3"):
            if row[column] in _MISSING:
                raise BatchTableError(f"{path}: line {n}: the {column} column is empty")
        bp5 = _breakpoint(path, n, "breakpoint5", row["breakpoint5"], allow_any=True)
        bp3 = _breakpoint(path, n, "breakpoint3", row["breakpoint3"], allow_any=True)
        max_fragments = row.get("max_fragments", ANY)
        tolerance = row.get("tolerance", "")
        note = row.get("note", "")
        rule = row.get("rule", "") or RULE_KNOWN
        if rule not in (RULE_KNOWN, RULE_MANY_WEAK, RULE_BELOW_STRONGEST, "."):
            raise BatchTableError(
                f"{path}: line {n}: rule {rule!r} is not one of {RULE_MANY_WEAK}, {RULE_BELOW_STRONGEST}, {RULE_KNOWN}"
            )
        out.append(
            Artefact(
                gene5=row["gene5"],
                gene3=row["gene3"],
                breakpoint5=bp5,
                breakpoint3=bp3,
                max_fragments=(
                    None if max_fragments in (ANY, *_MISSING) else _count(path, n, "max_fragments", max_fragments)
                ),
                tolerance=DEFAULT_TOLERANCE if tolerance in _MISSING else _count(path, n, "tolerance", tolerance),
                note="" if note == "." else note,
                rule=RULE_KNOWN if rule == "." else rule,
            )
        )
    return out


def known_rows(rows: Iterable[Artefact]) -> list[Artefact]:
    """A user's rows as the batch table lists them (rule ``known_artefact``)."""
    return [replace(r, rule=RULE_KNOWN) for r in rows]


def write_artefacts(path: str | Path, rows: Sequence[Artefact]) -> None:
    """The batch table (atomically; the same rows give the same bytes)."""
    from imtfusion.outputs import write_tsv

    write_tsv(path, ARTEFACT_COLUMNS, [r.row() for r in rows])


def candidate_failure_text(sample: str, reason: str) -> str:
    """A sample's candidate table when its first pass failed: the header, then the line
    that tells the batch to leave the sample out."""
    one_line = " ".join(str(reason).split())
    return "\t".join(CANDIDATE_COLUMNS) + "\n" + f"# sample {sample} failed: {one_line}\n"
