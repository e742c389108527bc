"""Per-target limit of detection: could this sample have shown a fusion of the target?

A fusion is seen through the fragments of the fused transcript that cross its junction.
How many there are follows from what the sample says of itself:

* **the density of the target's transcripts near its breakpoints**: the mean depth on the
  registry's breakpoint-prone exons of the target (``lod_exons`` of
  ``resources/targets.tsv``, with their sources; the whole reported transcript where none
  are curated), turned into fragment starts per
  transcript base by the bases a fragment puts there (two reads of ``read_length``, or
  fewer when the fragment is shorter; one read when single-end), times the share of
  fragments that are not duplicates where the BAM does not flag them (the caller counts
  molecules, the depth counts every copy);
* **the library's geometry**: the read length (the first reads' median) and the fragment
  lengths (the insert sizes of the sample QC: pairs within one exon);
* **the caller's rules**: a fragment with its junction ``x`` bases from its 5' end shows
  a *split read* when one of its reads keeps at least ``min_clip_match`` bases on both
  sides of the junction (a shorter side is a soft clip too short to place: the read counts
  on its longer side), *long-anchored* when that shorter side reaches ``min_anchor``; a
  *discordant pair* when neither read splits but its mates lie on either side; otherwise
  it shows nothing. Summed over every ``x`` and the fragment lengths this gives three
  windows (bases): the expected fragments of each kind per fused copy and unit density.

A fusion at fraction ``f`` (fused transcripts among the target's transcripts) adds
``f / (1 - f)`` fused copies per copy measured (the measured depth is the wild-type's:
that of a negative), so the three kinds are independent Poisson counts with means
``f / (1 - f) * density * window``. The call needs ``min_fragments`` molecules
(``min_fragments_known`` for a known partner), and the ``short_anchor`` filter's rule: with
junction reads but none long-anchored, fewer than 3 of them need 3 discordant pairs (not
for a known partner joined exon to exon). :func:`detection_probability` sums the Poisson
probabilities of the counts that fail; the **LoD** is the smallest ``f`` detected with
probability ``lod_probability`` (0.95), for a novel partner (the verdict: any partner)
and for a known one. Above ``lod_max_fraction`` (25%) a negative is not signed: the target
is *not assessable (LoD above 25%)*. Pure: dataclasses in and out.

Not modelled: breakpoints off the exon boundaries (a junction inside an exon is called the
same way), mismapping of the junction reads to paralogs, and UMIs beyond the duplicate
share (a UMI library's start-position duplicate rate counts molecules that share positions
as one, so its LoD errs on the high side). The simulator's check: ``imtfusion benchmark lod``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np

if TYPE_CHECKING:
    from imtfusion.model import ExonProfile, TargetQC
    from imtfusion.params import CallParameters
    from imtfusion.registry import TargetRegistry
    from imtfusion.sampleqc import SampleQC

NOT_DETECTED = "not detected"
NOT_ASSESSABLE = "not assessable"
SHORT_ANCHOR_READS = 3  # the short_anchor filter: this many junction reads, or this many mate pairs


def base_status(status: str) -> str:
    """``not detected`` or ``not assessable`` for their LoD forms (``not detected (LoD 3.4%
    of ALK transcripts)``, ``not assessable (LoD above 25%)``); any other status as it is."""
    for base in (NOT_DETECTED, NOT_ASSESSABLE):
        if status.startswith(base + " (LoD"):
            return base
    return status


def percent(fraction: float) -> str:
    """Two significant digits: ``47%``, ``3.4%``, ``0.85%``."""
    value = 100 * fraction
    if value >= 10:
        return f"{value:.0f}%"
    if value >= 1:
        return f"{value:.1f}%"
    return f"{value:.2f}%"


@dataclass(frozen=True, slots=True)
class Library:
    """What the reads say of the library: pairs or single reads, the read length, the
    fragment lengths ((length, pairs); () when not measured) and the share of fragments
    that are distinct molecules where the BAM does not flag its duplicates."""

    paired: bool
    read_length: int
    fragment_lengths: tuple[tuple[int, int], ...]
    unique_share: float = 1.0

    @property
    def fragment_mean(self) -> float | None:
        total = sum(n for _, n in self.fragment_lengths)
        return sum(k * n for k, n in self.fragment_lengths) / total if total else None

    def fragments(self) -> tuple[tuple[int, float], ...]:
        """(length, weight) summing to 1: the measured lengths; unmeasured, two read lengths
        (the mates just meet: no discordant pair, the fewest junction fragments a pair gives)."""
        if not self.paired:
            return ((self.read_length, 1.0),)
        total = sum(n for _, n in self.fragment_lengths)
        if not total:
            return ((2 * self.read_length, 1.0),)
        return tuple((k, n / total) for k, n in self.fragment_lengths)

    def describe(self) -> str:
        """e.g. ``2x100 reads, fragments of mean 257 bases``."""
        if not self.paired:
            text = f"single-end reads of {self.read_length} bases"
        elif self.fragment_mean is None:
            text = f"2x{self.read_length} reads, fragment length not measured (taken as {2 * self.read_length} bases)"
        else:
            text = f"2x{self.read_length} reads, fragments of mean {self.fragment_mean:.0f} bases"
        distinct = f"{self.unique_share:.0%}"
        return text + (f", {distinct} of fragments distinct molecules" if distinct != "100%" else "")

    def bases_per_fragment(self) -> float:
        reads = 2 if self.paired else 1
        return reads * sum(w * min(self.read_length, f) for f, w in self.fragments())


@dataclass(frozen=True, slots=True)
class Windows:
    """Junction offsets (bases, averaged over the fragment lengths) at which a fused copy's
    fragment shows a long-anchored split read, a split read anchored more shortly, or only
    a discordant pair: its expected fragments of each kind per unit fragment-start density."""

    split_long: float
    split_short: float
    discordant: float

    @property
    def total(self) -> float:
        return self.split_long + self.split_short + self.discordant


def junction_windows(library: Library, min_placed: int, min_anchor: int) -> Windows:
    """:class:`Windows` of ``library``: a read across the junction splits when both of its
    sides have ``min_placed`` bases (else it counts on its longer side), and is long-anchored
    when both have ``min_anchor``."""
    long_ = short = disc = 0.0
    L = library.read_length
    for f, weight in library.fragments():
        if f < 2:
            continue
        x = np.arange(1, f)  # bases of the fragment 5' of the junction
        n = min(L, f)
        # read A covers [0, n), read B [f - n, f) (a single-end read: A alone)
        best = np.where(x < n, np.minimum(x, n - x), -1)
        if library.paired:
            b5 = x - (f - n)
            best = np.maximum(best, np.where(b5 > 0, np.minimum(b5, f - x), -1))
        split = best >= min_placed
        long_ += weight * int(np.count_nonzero(best >= max(min_anchor, min_placed)))
        short += weight * int(np.count_nonzero(split & (best < min_anchor)))
        if library.paired:
            a_on5 = 2 * x >= n  # read A aligned on its longer side: the 5' one
            b3 = f - np.maximum(x, f - n)
            b_on3 = b3 >= n - b3
            disc += weight * int(np.count_nonzero(~split & a_on5 & b_on3))
    return Windows(long_, short, disc)


def passes(split_long: int, split_short: int, discordant: int, known: bool, params: "CallParameters") -> bool:
    """Whether a junction with these molecules passes ``min_support``/``duplicates`` and
    ``short_anchor`` (imtfusion.filters), joined exon to exon."""
    needed = params.min_fragments_known if known else params.min_fragments
    if split_long + split_short + discordant < needed:
        return False
    if split_short == 0 or split_long > 0 or known:
        return True
    if split_short < SHORT_ANCHOR_READS:
        return discordant >= SHORT_ANCHOR_READS
    return True


def _poisson(mean: float, upto: int) -> list[float]:
    out, p = [], math.exp(-mean)
    for k in range(upto + 1):
        out.append(p)
        p *= mean / (k + 1)
    return out


def detection_probability(expected: Windows, known: bool, params: "CallParameters") -> float:
    """P(the call is made) when the three kinds of junction molecule are Poisson with the
    means ``expected``. Every count beyond ``cap`` passes, so the failing ones are summed."""
    cap = max(params.min_fragments, params.min_fragments_known, 2 * SHORT_ANCHOR_READS)
    pl, ps, pd = (_poisson(m, cap) for m in (expected.split_long, expected.split_short, expected.discordant))
    fail = 0.0
    for i, j, k in _failing(cap, known, params):
        fail += pl[i] * ps[j] * pd[k]
    return max(0.0, 1.0 - fail)


@functools.lru_cache(maxsize=64)
def _failing(cap: int, known: bool, params: "CallParameters") -> tuple[tuple[int, int, int], ...]:
    """The molecule counts up to ``cap`` that :func:`passes` fails, in the order the
    probabilities are summed (the bisection of :func:`limit_of_detection` asks hundreds
    of times with the same parameters, a frozen record)."""
    return tuple((i, j, k) for i in range(cap + 1) for j in range(cap + 1) for k in range(cap + 1)
                 if not passes(i, j, k, known, params))


def _scaled(w: Windows, factor: float) -> Windows:
    return Windows(w.split_long * factor, w.split_short * factor, w.discordant * factor)


def limit_of_detection(per_copy: Windows, known: bool, params: "CallParameters") -> float | None:
    """The smallest fusion fraction detected with ``lod_probability``; ``per_copy``: the
    expected molecules per fused copy per copy measured. None: never (no window)."""
    if per_copy.total <= 0:
        return None
    target = params.lod_probability
    lo, hi = 1e-9, 1e9  # fused copies per measured copy, f / (1 - f)
    if detection_probability(_scaled(per_copy, hi), known, params) < target:
        return None
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if detection_probability(_scaled(per_copy, mid), known, params) >= target:
            hi = mid
        else:
            lo = mid
        if hi / lo < 1 + 1e-9:
            break
    return hi / (1 + hi)


@dataclass(frozen=True, slots=True)
class LodResult:
    """The limit of detection of one target. ``lod``: the fusion fraction detected with
    probability ``probability`` whatever the partner (a novel one's thresholds); ``lod_known``:
    with a known partner's; None: no fusion could be detected (no reads there)."""

    target: str
    region: str  # e.g. "exons 19-20"
    depth: float  # mean depth on those exons
    density: float  # molecule starts per transcript base
    windows: Windows
    library: Library
    lod: float | None
    lod_known: float | None
    probability: float
    max_fraction: float
    params: "CallParameters"

    @property
    def assessable(self) -> bool:
        return self.lod is not None and self.lod <= self.max_fraction

    def probability_at(self, fraction: float, known: bool, params: "CallParameters | None" = None) -> float:
        """The probability that a fusion at ``fraction`` is called (a known partner's thresholds
        or a novel one's; ``params`` default: those of the call)."""
        t = fraction / (1 - fraction) * self.density
        return detection_probability(_scaled(self.windows, t), known, params or self.params)

    def fragments_at(self, fraction: float) -> float:
        """Expected junction molecules of a fusion at ``fraction``."""
        return fraction / (1 - fraction) * self.density * self.windows.total

    def status(self) -> str:
        if self.assessable:
            return f"{NOT_DETECTED} (LoD {percent(self.lod)} of {self.target} transcripts)"
        return f"{NOT_ASSESSABLE} (LoD above {percent(self.max_fraction)})"

    def basis(self) -> str:
        """Where the figure comes from, in words."""
        return f"mean depth {self.depth:.1f} on {self.target} {self.region}, {self.library.describe()}"

    def sentence(self) -> str:
        """What the LoD says, for the reason column and the report."""
        p = f"{self.probability:.0%}"
        if self.lod is None:
            return (f"no fusion of {self.target} could be detected: no reads on {self.target} {self.region} "
                    f"({self.basis()})")
        known = f"; {percent(self.lod_known)} with a known partner" if self.lod_known is not None else ""
        text = (f"LoD {percent(self.lod)} of {self.target} transcripts: a fusion making that share of them would "
                f"be detected with {p} probability whatever the partner{known} ({self.basis()}; "
                f"{self.fragments_at(self.lod):.1f} junction fragments expected at the LoD)")
        if not self.assessable:
            text += f", above the {percent(self.max_fraction)} a negative may have (lod_max_fraction)"
        return text


def verdict_sentence(result: "LodResult") -> str:
    """The LoD in one short line for the verdict box (the report's LoD table has the rest)."""
    t = result.target
    if result.lod is None:
        return f"no reads on {t} {result.region}: a {t} fusion cannot be ruled out"
    known = f", {percent(result.lod_known)} for a known partner" if result.lod_known is not None else ""
    if result.assessable:
        return f"LoD {percent(result.lod)} of {t} transcripts{known}"
    return f"too few reads: LoD {percent(result.lod)}, above {percent(result.max_fraction)}"


def library_of(qc: Iterable["TargetQC"], sample_qc: "SampleQC | None") -> Library | None:
    """The library from the loci read (targets and housekeeping genes); None without reads."""
    libraries = [q.library for q in qc if q.library is not None]
    fragments = sum(lib.fragments for lib in libraries)
    if not fragments:
        return None
    lengths: dict[int, int] = {}
    for lib in libraries:
        for k, n in lib.read_lengths:
            lengths[k] = lengths.get(k, 0) + n
    if not lengths:
        return None
    seen, half, read_length = 0, (sum(lengths.values()) + 1) / 2, 0
    for k in sorted(lengths):
        seen += lengths[k]
        if seen >= half:
            read_length = k
            break
    sizes: dict[int, int] = {}
    for lib in libraries:
        for k, n in lib.insert_sizes:
            sizes[k] = sizes.get(k, 0) + n
    paired = 2 * sum(lib.paired for lib in libraries) >= fragments
    unique = 1.0
    flagged = any(lib.flagged_duplicates for lib in libraries)  # flagged duplicates are not in the depth already
    if sample_qc is not None and not flagged and sample_qc.duplicate_rate is not None:
        unique = 1.0 - sample_qc.duplicate_rate  # by UMIs or start positions
    return Library(paired, read_length, tuple(sorted(sizes.items())) if paired else (), round(unique, 4))


def region_depth(profile: "ExonProfile", exons: tuple[int, int] | None) -> tuple[str, float]:
    """(the region in words, its mean depth): the registry's exons, or all exons of the
    reported transcript when none are given or it has fewer."""
    n = len(profile.exon_lengths)
    if exons is None or exons[1] > n:
        first, last = 1, n
        label = f"all {n} exons" + (f" (the reported transcript has {n}, the registry's region ends at exon "
                                    f"{exons[1]})" if exons is not None else "")
    else:
        first, last = exons
        label = f"exon {first}" if first == last else f"exons {first}-{last}"
    length = sum(profile.exon_lengths[first - 1:last])
    bases = sum(profile.exon_bases[first - 1:last])
    return label, (bases / length if length else 0.0)


def assess_lod(targets: Mapping[str, "TargetQC"], housekeeping: Mapping[str, "TargetQC"],
               sample_qc: "SampleQC | None", params: "CallParameters",
               registry: "TargetRegistry | None" = None) -> dict[str, LodResult]:
    """Target -> its :class:`LodResult` (targets without an exon profile are left out)."""
    from imtfusion.registry import load_registry

    registry = registry or load_registry()
    library = library_of([*targets.values(), *housekeeping.values()], sample_qc)
    if library is None:
        return {}
    windows = junction_windows(library, params.min_clip_match, params.min_anchor)
    per_fragment = library.bases_per_fragment()
    out = {}
    for name, q in targets.items():
        if q.profile is None:
            continue
        gene = registry.gene(name)
        region, depth = region_depth(q.profile, gene.lod_exons if gene is not None else None)
        density = depth * library.unique_share / per_fragment if per_fragment else 0.0
        per_copy = _scaled(windows, density)
        out[name] = LodResult(name, region, round(depth, 3), density, windows, library,
                              limit_of_detection(per_copy, False, params), limit_of_detection(per_copy, True, params),
                              params.lod_probability, params.lod_max_fraction, params)
    return out
