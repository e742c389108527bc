"""3'/5' expression imbalance of the kinase targets (those with a row in resources/kinase_splits.tsv) and ALK-ATI.

A fusion that keeps a kinase's 3' part under a partner's promoter raises the coverage of
the kinase exons after the breakpoint above that of the exons before it, whether or not
any read crosses the junction (the partner was not captured, the breakpoint lies deep in
an intron, the junction reads were lost). Per target, from the exon-level coverage of its
reported transcript (:class:`~imtfusion.model.ExonProfile`, computed in the same pass
over the BAM as the locus QC):

* the 5' part is exons 2 .. split-1, the 3' part exons split .. n-1 (``split`` from
  ``resources/kinase_splits.tsv``; the first and the last exon are left out: their
  coverage depends on how the library treats transcript ends);
* ``ln_ratio = ln(depth3 / depth5)`` with one read's bases added to each side, less what
  the sample's RNA degradation alone gives: coverage falling as exp(-k * distance from the
  3' end), k fitted on the exon depths of the kinase targets' 5' parts and of the
  housekeeping genes (:func:`fit_decay`: a fusion raises only the 3' part, so it does not
  bend that slope); its variance
  ``2 (1/reads3 + 1/reads5)`` (a fragment's two mates usually fall on the same side) plus
  the uncertainty of that correction;
* the reference is the same ratio in other samples: the batch's (``imtfusion
  batch-profile``, one row per sample and target; the sample itself left out) when it has
  ``imbalance_min_reference`` of them, else the profile shipped in
  ``resources/imbalance_profile.tsv`` (made by the simulator from simulated negatives);
  samples more than 3 SD above the median are set aside (repeatedly, the SD taken from
  the samples below the median, which a 3' excess does not reach: a batch's fusions and
  ATI samples are no reference), then centre = median, spread = 1.4826 MAD;
* ``z = (ln_ratio - centre) / sqrt(between^2 + variance + 1.57 spread^2 / n)``, where
  ``between`` is the spread left after the reference samples' own sampling variance (at
  least ``imbalance_min_sd``) and the last term the uncertainty of the median of ``n``
  samples;
* flagged when ``z >= imbalance_min_z`` and ``exp(ln_ratio - centre) >=
  imbalance_min_ratio``.

**ATI.** For a target marked ``ati`` (ALK), 3' expression can come from an alternative
transcription start in the intron before the split exon (Wiesner et al., Nature 2015:
about 400 bases of ALK intron 19, then exons 20-29): those transcripts start inside the
intron and run, unspliced, into the split exon, so the intron's bases ``ati_skip`` to
``ati_window`` before the exon are covered like an exon, the intron beyond them is not,
and no read is chimeric. (The ``ati_skip`` bases next to the exon are left out: a fusion
joined a few bases into the intron, as EML4::ALK variants are, covers them.) A flagged
target whose window has at least ``ati_min_fraction`` of the 3' exons' excess depth and
``ati_min_enrichment`` times the depth of the intron beyond it, and no chimeric reads, is
ATI, not a fusion. Reads of a fused pre-mRNA cover the intron from the genomic breakpoint
on at a fraction of the mRNA's depth, and retained-intron transcripts cover the whole
intron: neither is ATI.

Everything here is pure: frozen dataclasses in, frozen dataclasses out.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from imtfusion.errors import InputFileError
from imtfusion.model import ExonProfile

SPLITS_FILE = "kinase_splits.tsv"
SHIPPED_PROFILE_FILE = "imbalance_profile.tsv"
PROFILE_COLUMNS = ["sample", "target", "transcript", "split_exon", "ln_ratio", "variance", "reads5", "reads3",
                   "degradation"]

VERDICT_IMBALANCE = "imbalance"
VERDICT_ATI = "ATI"
VERDICT_BALANCED = "balanced"
VERDICT_NOT_ASSESSED = "not assessed"
VERDICTS = (VERDICT_IMBALANCE, VERDICT_ATI, VERDICT_BALANCED, VERDICT_NOT_ASSESSED)

MAD_TO_SD = 1.4826  # a normal distribution's SD per median absolute deviation
MEDIAN_VARIANCE = math.pi / 2  # variance of a median of n normal values: (pi/2) sd^2 / n

# discarded candidates whose reads are not chimeric reads of the target: they do not speak
# against ATI (the reads belong to a paralog or pseudogene, an artefact hot spot, the batch's
# recurrent artefacts, a read-through or the gene itself)
NOT_CHIMERIC_FILTERS = frozenset({
    "mismapping", "multimapping", "pseudogene_partner", "low_complexity", "promiscuous_breakpoint",
    "recurrent_in_batch", "intragenic", "read_through", "not_transcribable",
})


class ProfileError(InputFileError):
    """An imbalance profile that cannot be read."""


@dataclass(frozen=True, slots=True)
class KinaseSplit:
    """Where a kinase target's 3' part begins (a row of ``resources/kinase_splits.tsv``)."""

    target: str
    split_exon: int
    exons: int
    ati: bool
    source: str

    @property
    def ati_label(self) -> str:
        """``ALK-ATI (3' ALK expression from intron 19), not a fusion``."""
        t = self.target
        return f"{t}-ATI (3' {t} expression from intron {self.split_exon - 1}), not a fusion"


@dataclass(frozen=True, slots=True)
class RatioObservation:
    """One sample's 3'/5' ratio of one target: a row of an imbalance profile."""

    sample: str
    target: str
    transcript: str
    split_exon: int
    ln_ratio: float  # degradation's share taken off
    variance: float
    reads5: float
    reads3: float
    degradation: float = 0.0  # the ln ratio RNA degradation alone gives (already subtracted)

    def row(self) -> dict[str, object]:
        return {"sample": self.sample, "target": self.target, "transcript": self.transcript,
                "split_exon": self.split_exon, "ln_ratio": f"{self.ln_ratio:.5f}", "variance": f"{self.variance:.6f}",
                "reads5": f"{self.reads5:.1f}", "reads3": f"{self.reads3:.1f}",
                "degradation": f"{self.degradation:.5f}"}


@dataclass(frozen=True, slots=True)
class Reference:
    """The ratio of the other samples: ``kind`` ``batch`` or ``shipped``; ``samples`` the
    ones it rests on, ``left_out`` those set aside as outliers (their own 3' excess)."""

    kind: str
    samples: int
    centre: float
    spread: float
    between: float
    left_out: int = 0

    def label(self) -> str:
        out = f"; {self.left_out} more left out, a 3' excess of their own" if self.left_out else ""
        if self.kind == "batch":
            return f"batch ({self.samples} other samples{out})"
        return f"shipped profile ({self.samples} simulated samples{out})"


@dataclass(frozen=True, slots=True)
class ImbalanceResult:
    """The 3'/5' assessment of one target. ``verdict`` is one of :data:`VERDICTS`."""

    target: str
    verdict: str
    reason: str
    transcript: str = ""
    split_exon: int = 0
    exon_depths: tuple[float, ...] = ()  # mean depth per exon of the transcript, exon 1 first
    depth5: float = 0.0
    depth3: float = 0.0
    reads5: float = 0.0
    reads3: float = 0.0
    ln_ratio: float | None = None
    ratio: float | None = None  # depth3/depth5 over the reference's
    z: float | None = None
    reference: str = ""
    window_depth: float | None = None  # ATI: the intron's last ati_window bases, and the rest of it
    rest_depth: float | None = None
    ati_label: str = ""
    degradation: float = 0.0  # the ln ratio RNA degradation alone gives (taken off ln_ratio)

    @property
    def flagged(self) -> bool:
        return self.verdict == VERDICT_IMBALANCE

    @property
    def status_text(self) -> str:
        """The words of the target's status when this decides it."""
        if self.verdict == VERDICT_IMBALANCE:
            return "imbalance: fusion suspected, partner not identified"
        if self.verdict == VERDICT_ATI:
            return self.ati_label
        return ""


# -- the curated split table and profiles ---------------------------------------------------


def load_splits(path: str | Path | None = None) -> dict[str, KinaseSplit]:
    """Target -> split, from ``resources/kinase_splits.tsv`` (or ``path``)."""
    from imtfusion.knowledge import read_curated_table, resource_path

    path = Path(path) if path else resource_path(SPLITS_FILE)
    out = {}
    for row in read_curated_table(path, "kinase split table", {"target", "split_exon", "exons", "ati", "source"}):
        try:
            split, exons = int(row["split_exon"]), int(row["exons"])
        except ValueError:
            raise InputFileError(f"{path}: split_exon and exons of {row['target']} must be whole numbers") from None
        if not 2 < split < exons:
            raise InputFileError(f"{path}: split_exon {split} of {row['target']} must lie between exon 3 and exon {exons - 1}")
        out[row["target"]] = KinaseSplit(row["target"], split, exons, row["ati"].lower() in ("yes", "true", "1"),
                                         row["source"])
    return out


def read_profile(path: str | Path) -> list[RatioObservation]:
    """The rows of an imbalance profile (``imtfusion batch-profile``'s output, or the shipped
    one); ``#`` lines are comments."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read the imbalance profile {path}: {exc}; give the file "
                           "`imtfusion batch-profile` wrote") from None
    rows = [line for line in lines if line.strip() and not line.startswith("#")]
    if not rows:
        raise ProfileError(f"{path}: the imbalance profile has no header line; give the file `imtfusion batch-profile` wrote")
    header = rows[0].split("\t")
    missing = [c for c in PROFILE_COLUMNS if c not in header and c != "degradation"]
    if missing:
        raise ProfileError(f"{path}: the imbalance profile lacks the column(s) {', '.join(missing)}; "
                           "give the file `imtfusion batch-profile` wrote")
    at = {c: header.index(c) for c in PROFILE_COLUMNS if c in header}
    out = []
    for n, line in enumerate(rows[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise ProfileError(f"{path}: data line {n - 1} has {len(cells)} columns, the header {len(header)}; "
                               "the file is damaged: recreate it with `imtfusion batch-profile`")
        try:
            out.append(RatioObservation(
                cells[at["sample"]], cells[at["target"]], cells[at["transcript"]], int(cells[at["split_exon"]]),
                float(cells[at["ln_ratio"]]), float(cells[at["variance"]]), float(cells[at["reads5"]]),
                float(cells[at["reads3"]]), float(cells[at["degradation"]]) if "degradation" in at else 0.0))
        except ValueError:
            raise ProfileError(f"{path}: data line {n - 1} holds a value that is not a number; "
                               "recreate the file with `imtfusion batch-profile`") from None
    return out


def shipped_profile() -> list[RatioObservation]:
    from imtfusion.knowledge import resource_path

    return read_profile(resource_path(SHIPPED_PROFILE_FILE))


def profile_text(rows: Iterable[RatioObservation], comments: Sequence[str] = ()) -> str:
    """A profile file: comment lines, the header, rows sorted by target and sample."""
    lines = [f"# {c}" for c in comments] + ["\t".join(PROFILE_COLUMNS)]
    for r in sorted(rows, key=lambda r: (r.target, r.sample)):
        row = r.row()
        lines.append("\t".join(str(row[c]) for c in PROFILE_COLUMNS))
    return "\n".join(lines) + "\n"


# -- one sample ---------------------------------------------------------------------------


def _sides(profile: ExonProfile, split: KinaseSplit) -> tuple[tuple[int, int, float], tuple[int, int, float]]:
    """(bases, length, reads) of the 5' part (exons 2 .. split-1) and of the 3' part
    (exons split .. n-1)."""
    def side(first: int, last: int) -> tuple[int, int, float]:
        idx = range(first - 1, last)
        bases = sum(profile.exon_bases[i] for i in idx)
        length = sum(profile.exon_lengths[i] for i in idx)
        reads = bases / profile.read_bases if profile.read_bases > 0 else 0.0
        return bases, length, reads

    n = len(profile.exon_lengths)
    return side(2, split.split_exon - 1), side(split.split_exon, n - 1)


@dataclass(frozen=True, slots=True)
class Decay:
    """RNA degradation of a sample: ln depth falls by ``rate`` per base of distance from the
    transcripts' 3' end (``sd`` its standard error), fitted on ``exons`` exons of the kinase
    targets' 5' parts, which no fusion of theirs over-expresses."""

    rate: float = 0.0
    sd: float = 0.0
    exons: int = 0


def _exon_ends_from_3prime(profile: ExonProfile) -> list[tuple[int, int]]:
    """(distance from the 3' end of each exon's last and first base + 1), exon 1 first."""
    ends, t = [], 0
    for length in reversed(profile.exon_lengths):
        ends.append((t, t + length))
        t += length
    return ends[::-1]


def fit_decay(profiles: Mapping[str, ExonProfile | None], splits: Mapping[str, KinaseSplit],
              whole: Sequence[ExonProfile | None] = (), min_reads: float = 5.0) -> Decay:
    """The sample's degradation from the exon depths of the kinase targets' 5' parts (exons
    2 .. split-1) and of the ``whole`` transcripts (exons 2 .. n-1 of the housekeeping
    genes): a weighted least-squares slope of ln(depth) against distance from the 3' end,
    one intercept per gene (a gene's expression), weights the exons' read counts; its
    standard error widened by the scatter of the exons beyond their counts (exon-specific
    capture). A fusion raises only a kinase's 3' part, so it does not bend this slope."""
    points: list[list[tuple[float, float, float]]] = []
    parts: list[tuple[ExonProfile, int]] = []  # (profile, the last exon used)
    for target, profile in profiles.items():
        split = splits.get(target)
        if split is None or profile is None or len(profile.exon_lengths) != split.exons:
            continue
        parts.append((profile, split.split_exon - 1))
    parts += [(p, len(p.exon_lengths) - 1) for p in whole if p is not None]
    for profile, last in parts:
        if profile.read_bases <= 0:
            continue
        ends = _exon_ends_from_3prime(profile)
        gene = []
        for i in range(1, last):  # exons 2 .. last
            length, bases = profile.exon_lengths[i], profile.exon_bases[i]
            reads = bases / profile.read_bases
            if length and reads >= min_reads:
                a, b = ends[i]
                gene.append(((a + b) / 2, math.log((bases + profile.read_bases) / length), reads / 2))
        if len(gene) >= 3:
            points.append(gene)
    if not points:
        return Decay()
    sxy = sxx = 0.0
    centred = []
    for gene in points:
        w = sum(p[2] for p in gene)
        mx = sum(p[0] * p[2] for p in gene) / w
        my = sum(p[1] * p[2] for p in gene) / w
        centred.append([(x - mx, y - my, wt) for x, y, wt in gene])
        sxy += sum((x - mx) * (y - my) * wt for x, y, wt in gene)
        sxx += sum((x - mx) ** 2 * wt for x, _, wt in gene)
    if sxx <= 0:
        return Decay()
    slope = sxy / sxx
    n = sum(len(g) for g in centred)
    dof = n - len(centred) - 1
    scatter = sum(wt * (y - slope * x) ** 2 for g in centred for x, y, wt in g) / dof if dof > 0 else 1.0
    return Decay(-slope, math.sqrt(max(1.0, scatter) / sxx), n)


def degradation_ln_ratio(profile: ExonProfile, split: KinaseSplit, rate: float) -> float:
    """ln of the 3'/5' depth ratio RNA degradation alone gives the transcript: coverage
    falling as exp(-rate * distance from the 3' end), averaged over each part's exons."""
    if rate == 0:
        return 0.0
    n = len(profile.exon_lengths)
    ends = _exon_ends_from_3prime(profile)

    def mean(first: int, last: int) -> float:
        part = ends[first - 1:last]
        total = sum(math.exp(-rate * a) - math.exp(-rate * b) for a, b in part) / rate
        return total / sum(b - a for a, b in part)

    return math.log(mean(split.split_exon, n - 1) / mean(2, split.split_exon - 1))


def observe(sample: str, target: str, profile: ExonProfile | None, split: KinaseSplit | None,
            min_reads: int, decay: Decay | None = None) -> RatioObservation | str:
    """The sample's ratio (what its RNA degradation ``decay`` gives taken off, the
    uncertainty of that added to the variance), or the reason it cannot be measured."""
    if split is None:
        return f"{target} is not a kinase target with a 3' part (resources/{SPLITS_FILE})"
    if profile is None or not profile.exon_lengths:
        return f"no transcript of {target} to number its exons by"
    n = len(profile.exon_lengths)
    if n != split.exons:
        return (f"{target}'s reported transcript {profile.transcript_id} has {n} exons, not the {split.exons} "
                f"of resources/{SPLITS_FILE}: its exon numbers differ, so the split is not measured")
    (b5, l5, r5), (b3, l3, r3) = _sides(profile, split)
    if min(r5, r3) < min_reads or not l5 or not l3:
        return (f"{r5:.0f} reads on {target} exons 2-{split.split_exon - 1} and {r3:.0f} on exons "
                f"{split.split_exon}-{n - 1}: fewer than the {min_reads} each needed (imbalance_min_reads)")
    one = profile.read_bases
    decay = decay or Decay()
    degraded = degradation_ln_ratio(profile, split, decay.rate)
    ln_ratio = math.log((b3 + one) / l3) - math.log((b5 + one) / l5) - degraded
    variance = 2.0 * (1.0 / (r3 + 1.0) + 1.0 / (r5 + 1.0))
    if decay.sd:
        h = decay.sd
        slope = (degradation_ln_ratio(profile, split, decay.rate + h)
                 - degradation_ln_ratio(profile, split, decay.rate - h)) / (2 * h)
        variance += (slope * decay.sd) ** 2
    return RatioObservation(sample, target, profile.transcript_id, split.split_exon, ln_ratio, variance, r5, r3,
                            degraded)


def reference_for(sample: str, target: str, batch: Sequence[RatioObservation] | None,
                  shipped: Sequence[RatioObservation], min_reference: int, min_sd: float) -> Reference | None:
    """The other samples' ratio of ``target``: the batch's when it has ``min_reference`` of
    them, else the shipped profile's; None when neither has enough."""
    for kind, rows in (("batch", batch or ()), ("shipped", shipped)):
        others = [r for r in rows if r.target == target and r.sample != sample]
        least = max(1, min_reference) if kind == "batch" else 3
        if len(others) < least:
            continue
        kept = _inliers(others, min_sd)
        if len(kept) < least:
            continue
        values = [r.ln_ratio for r in kept]
        centre = statistics.median(values)
        spread = MAD_TO_SD * statistics.median(abs(v - centre) for v in values)
        own = statistics.median(r.variance for r in kept)
        between = max(min_sd, math.sqrt(max(0.0, spread * spread - own)))
        return Reference(kind, len(kept), centre, spread, between, len(others) - len(kept))
    return None


def _inliers(rows: Sequence[RatioObservation], min_sd: float, rounds: int = 10) -> list[RatioObservation]:
    """The rows not more than 3 SD above the median, by repeated clipping: a batch's
    samples with a 3' excess of their own (a fusion, ATI) are not the reference of the
    others. A 3' excess only raises a ratio, so the SD is taken from the rows at or below
    the median (1.4826 times their median distance from it), which the excess does not
    reach even when many samples have one; each row's own sampling variance is added."""
    kept = list(rows)
    for _ in range(rounds):
        values = [r.ln_ratio for r in kept]
        centre = statistics.median(values)
        below = [centre - v for v in values if v <= centre]
        spread = max(min_sd, MAD_TO_SD * statistics.median(below))
        inside = [r for r in kept if r.ln_ratio - centre <= 3.0 * math.sqrt(spread ** 2 + r.variance)]
        if len(inside) == len(kept) or len(inside) < 3:
            break
        kept = inside
    return kept


def has_chimeric_reads(target: str, candidates: Iterable[object]) -> bool:
    """Whether any candidate joins the target's 3' part to another gene with reads that may
    be chimeric (not those a filter found to be a paralog's, an artefact's or the gene's own)."""
    for c in candidates:
        if getattr(c.gene3, "name", None) != target:
            continue
        if set(c.filters) & NOT_CHIMERIC_FILTERS:
            continue
        if c.split_reads or c.discordant_pairs:
            return True
    return False


def assess(sample: str, target: str, profile: ExonProfile | None, split: KinaseSplit | None,
           reference: Reference | None, chimeric: bool, params, decay: Decay | None = None) -> ImbalanceResult:
    """The imbalance verdict of one target (``params``: the imbalance_*/ati_* parameters of
    :class:`~imtfusion.params.CallParameters`)."""
    depths = tuple(round(profile.exon_depth(i + 1), 2) for i in range(len(profile.exon_lengths))) if profile else ()
    numbered = split is not None and profile is not None and len(profile.exon_lengths) == split.exons
    # a transcript of another exon count is numbered otherwise: no split is drawn on it
    base = {"transcript": profile.transcript_id if profile else "", "exon_depths": depths,
            "split_exon": split.split_exon if numbered else 0, "ati_label": split.ati_label if split and split.ati else ""}
    seen = observe(sample, target, profile, split, params.imbalance_min_reads, decay)
    if isinstance(seen, str):
        return ImbalanceResult(target, VERDICT_NOT_ASSESSED, seen, **base)
    assert profile is not None and split is not None
    (b5, l5, _), (b3, l3, _) = _sides(profile, split)
    facts = {**base, "depth5": round(b5 / l5, 2), "depth3": round(b3 / l3, 2), "reads5": round(seen.reads5, 1),
             "reads3": round(seen.reads3, 1), "ln_ratio": round(seen.ln_ratio, 4),
             "degradation": round(seen.degradation, 4)}
    if reference is None:
        return ImbalanceResult(target, VERDICT_NOT_ASSESSED,
                               f"no reference ratio of {target}: neither the batch profile nor the shipped one has "
                               "enough samples", **facts)
    sd = math.sqrt(reference.between ** 2 + seen.variance + MEDIAN_VARIANCE * reference.spread ** 2 / reference.samples)
    z = (seen.ln_ratio - reference.centre) / sd
    ratio = math.exp(seen.ln_ratio - reference.centre)
    facts.update(ratio=round(ratio, 3), z=round(z, 2), reference=reference.label())
    words = (f"{target} exons {split.split_exon}-{len(profile.exon_lengths) - 1} at {ratio:.2f}x the depth of exons "
             f"2-{split.split_exon - 1} relative to the {reference.label()} (z = {z:.1f})")
    if abs(seen.degradation) >= 0.01:
        words += f", the {math.exp(seen.degradation):.2f}x the sample's RNA degradation alone gives taken off"
    if z < params.imbalance_min_z or ratio < params.imbalance_min_ratio:
        return ImbalanceResult(target, VERDICT_BALANCED, f"no 3' excess: {words}", **facts)
    if split.ati:
        i = split.split_exon - 2  # the intron before the split exon
        w_len, r_len = profile.window_lengths[i], profile.rest_lengths[i]
        window = profile.window_bases[i] / w_len if w_len else 0.0
        rest = profile.rest_bases[i] / r_len if r_len else 0.0
        facts.update(window_depth=round(window, 2), rest_depth=round(rest, 2))
        excess = b3 / l3 - (b5 / l5) * math.exp(reference.centre + seen.degradation)
        if (not chimeric and w_len and window >= params.ati_min_fraction * excess
                and window >= params.ati_min_enrichment * rest):
            return ImbalanceResult(
                target, VERDICT_ATI,
                f"{words}, explained by transcripts starting in intron {split.split_exon - 1}: its bases "
                f"{profile.window[0]}-{profile.window[1]} before exon {split.split_exon} covered at depth {window:.1f} "
                f"(the intron beyond them {rest:.1f}) and no chimeric read; {split.ati_label}", **facts)
    return ImbalanceResult(target, VERDICT_IMBALANCE, f"3' excess: {words}; no junction read names a partner",
                           **facts)


def assess_sample(sample: str, profiles: Mapping[str, ExonProfile | None], splits: Mapping[str, KinaseSplit],
                  batch: Sequence[RatioObservation] | None, shipped: Sequence[RatioObservation],
                  candidates: Sequence[object], params, housekeeping: Sequence[ExonProfile | None] = ()
                  ) -> dict[str, ImbalanceResult]:
    """Target -> verdict for every target of the sample (``housekeeping``: those genes'
    exon profiles, which help measure its RNA degradation)."""
    decay = fit_decay(profiles, splits, housekeeping)
    out = {}
    for target, profile in profiles.items():
        split = splits.get(target)
        reference = reference_for(sample, target, batch, shipped, params.imbalance_min_reference,
                                  params.imbalance_min_sd) if split else None
        out[target] = assess(sample, target, profile, split, reference, has_chimeric_reads(target, candidates), params,
                             decay)
    return out
