"""The limit-of-detection model (imtfusion.lod), checked against direct counts and sums."""

from __future__ import annotations

import math
import shutil

import pytest

from imtfusion.errors import ConfigError
from imtfusion.lod import (
    Library,
    LodResult,
    Windows,
    base_status,
    detection_probability,
    junction_windows,
    limit_of_detection,
    passes,
    percent,
)
from imtfusion.params import CallParameters

PARAMS = CallParameters()


def brute_windows(paired: bool, L: int, f: int, min_placed: int, min_anchor: int) -> tuple[int, int, int]:
    """Every junction offset of one fragment, read by read: (long, short, discordant)."""
    long_ = short = disc = 0
    n = min(L, f)
    reads = [(0, n)] + ([(f - n, f)] if paired else [])
    for x in range(1, f):  # x bases of the fragment lie 5' of the junction
        best = -1
        sides = []
        for a, b in reads:
            left, right = x - a, b - x
            if left > 0 and right > 0:
                best = max(best, min(left, right))
            # a read not split (or split too short) aligns on its longer side
            sides.append("5" if (right <= 0 or (left > 0 and left >= right)) else "3")
        if best >= min_placed:
            if best >= max(min_anchor, min_placed):
                long_ += 1
            else:
                short += 1
        elif paired and sides[0] == "5" and sides[1] == "3":
            disc += 1
    return long_, short, disc


@pytest.mark.parametrize("paired,L,f", [(False, 100, 100), (True, 100, 250), (True, 75, 120), (True, 150, 150),
                                        (True, 50, 400)])
def test_junction_windows_count_every_offset_as_the_reads_see_it(paired, L, f):
    lib = Library(paired, L, ((f, 7),) if paired else ())
    w = junction_windows(lib, PARAMS.min_clip_match, PARAMS.min_anchor)
    assert (w.split_long, w.split_short, w.discordant) == brute_windows(paired, L, f, PARAMS.min_clip_match,
                                                                      PARAMS.min_anchor)


def test_windows_average_over_the_fragment_lengths():
    lib = Library(True, 100, ((200, 1), (300, 3)))
    w = junction_windows(lib, 8, 20)
    a = brute_windows(True, 100, 200, 8, 20)
    b = brute_windows(True, 100, 300, 8, 20)
    assert w.split_long == pytest.approx(0.25 * a[0] + 0.75 * b[0])
    assert w.discordant == pytest.approx(0.25 * a[2] + 0.75 * b[2])
    # long fragments: reads far from the junction on both sides give mate pairs, not splits
    assert b[2] > a[2]


def test_detection_probability_is_the_poisson_tail_when_only_long_anchored_reads_exist():
    for mean in (0.5, 2.0, 3.0, 6.0):
        p = detection_probability(Windows(mean, 0.0, 0.0), False, PARAMS)
        tail = 1 - sum(math.exp(-mean) * mean ** k / math.factorial(k) for k in range(PARAMS.min_fragments))
        assert p == pytest.approx(tail, abs=1e-12)
        p_known = detection_probability(Windows(mean, 0.0, 0.0), True, PARAMS)
        tail_known = 1 - sum(math.exp(-mean) * mean ** k / math.factorial(k) for k in range(PARAMS.min_fragments_known))
        assert p_known == pytest.approx(tail_known, abs=1e-12)


def test_short_anchored_reads_alone_need_mate_pairs_for_a_novel_partner():
    assert not passes(0, 2, 1, False, PARAMS)  # 3 molecules, but two short splits and one pair
    assert passes(0, 2, 3, False, PARAMS)
    assert passes(0, 3, 0, False, PARAMS)
    assert passes(1, 2, 0, False, PARAMS)
    assert passes(0, 2, 0, True, PARAMS)  # a known partner: two molecules are enough
    # so short-anchored evidence is detected less often than the same molecules long-anchored
    assert detection_probability(Windows(0, 4, 0.5), False, PARAMS) < detection_probability(Windows(4, 0, 0.5), False,
                                                                                         PARAMS)


def test_the_lod_is_the_fraction_where_the_detection_probability_reaches_95_percent():
    lib = Library(True, 100, ((250, 1),))
    w = junction_windows(lib, PARAMS.min_clip_match, PARAMS.min_anchor)
    density = 0.01
    per_copy = Windows(w.split_long * density, w.split_short * density, w.discordant * density)
    lod = limit_of_detection(per_copy, False, PARAMS)
    lod_known = limit_of_detection(per_copy, True, PARAMS)
    assert 0 < lod_known < lod < 1

    def at(fraction, known):
        t = fraction / (1 - fraction)
        return detection_probability(Windows(per_copy.split_long * t, per_copy.split_short * t,
                                             per_copy.discordant * t), known, PARAMS)

    assert at(lod, False) == pytest.approx(0.95, abs=1e-6)
    assert at(lod * 0.98, False) < 0.95 < at(lod * 1.02, False)
    probabilities = [at(f, False) for f in (0.001, 0.01, 0.05, 0.1, 0.3, 0.6)]
    assert probabilities == sorted(probabilities)
    # twice the depth: the same evidence at about half the fraction
    per_copy2 = Windows(per_copy.split_long * 2, per_copy.split_short * 2, per_copy.discordant * 2)
    lod2 = limit_of_detection(per_copy2, False, PARAMS)
    assert lod2 / (1 - lod2) == pytest.approx(0.5 * lod / (1 - lod), rel=1e-6)


def test_no_reads_means_no_lod_and_a_target_that_is_not_assessable():
    assert limit_of_detection(Windows(0, 0, 0), False, PARAMS) is None
    lib = Library(True, 100, ())
    result = LodResult("ALK", "exons 19-20", 0.0, 0.0, Windows(0, 0, 0), lib, None, None, 0.95, 0.25, PARAMS)
    assert not result.assessable
    assert result.status() == "not assessable (LoD above 25%)"
    assert "no reads" in result.sentence()


def test_status_words_and_the_threshold_from_config():
    lib = Library(True, 100, ((250, 1),))
    w = junction_windows(lib, PARAMS.min_clip_match, PARAMS.min_anchor)
    ok = LodResult("ALK", "exons 19-20", 40.0, 0.2, w, lib, 0.034, 0.02, 0.95, 0.25, PARAMS)
    assert ok.status() == "not detected (LoD 3.4% of ALK transcripts)"
    high = LodResult("ROS1", "exons 32-36", 2.0, 0.01, w, lib, 0.31, 0.2, 0.95, 0.25, PARAMS)
    assert high.status() == "not assessable (LoD above 25%)"
    lenient = LodResult("ROS1", "exons 32-36", 2.0, 0.01, w, lib, 0.31, 0.2, 0.95, 0.40, PARAMS)
    assert lenient.status() == "not detected (LoD 31% of ROS1 transcripts)"
    assert base_status(ok.status()) == "not detected" and base_status(high.status()) == "not assessable"
    assert base_status("detected") == "detected"
    assert [percent(x) for x in (0.47, 0.034, 0.0085)] == ["47%", "3.4%", "0.85%"]


@pytest.mark.parametrize("key,value", [("lod_probability", 1.0), ("lod_probability", 0.0), ("lod_max_fraction", 1.5)])
def test_lod_parameters_out_of_range_are_refused(key, value):
    with pytest.raises(ConfigError, match=key):
        CallParameters.from_mapping({key: value})


def test_clopper_pearson_interval_matches_the_closed_forms():
    from imtfusion_tools.bench.lod import clopper_pearson

    low, high = clopper_pearson(0, 6)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 6), abs=1e-6)
    low, high = clopper_pearson(6, 6)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 6), abs=1e-6)
    low, high = clopper_pearson(5, 10)
    assert low < 0.5 < high and low == pytest.approx(1 - high, abs=1e-6)


@pytest.mark.skipif(shutil.which("STAR") is None, reason="needs STAR (Debian: rna-star)")
def test_the_lod_benchmark_spikes_scores_and_writes_its_tables(tmp_path):
    from imtfusion_tools.bench.lod import run_lod

    markdown, trials, negative_calls = run_lod(tmp_path, negatives=2, quick=True, plot=tmp_path / "lod.svg")
    # two negatives (the two quick libraries in turn) x 2 fractions x 3 spiked fusions
    assert len(trials) == 2 * 2 * 3
    assert set(negative_calls.values()) == {0}
    high = [t for t in trials if t.fraction >= 0.2]
    assert all(t.predicted > 0.5 for t in high) and any(t.detected for t in high)
    assert all(0 <= t.predicted <= 1 for t in trials)
    assert "| depth | fraction | trials | predicted | observed |" in markdown
    assert (tmp_path / "trials.tsv").read_text().count("\n") == len(trials) + 1
    assert (tmp_path / "lod.svg").read_text().startswith("<svg")
