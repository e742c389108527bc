"""Fast paths beside their one definition: each gives the definition's results."""

from __future__ import annotations

import random

import numpy as np

from imtfusion.boundaries import K, encode, encode_all
from imtfusion.scan import sorted_unique
from imtfusion.unmapped import FIND_LOOKUPS, TargetTranscripts, _Spliced


def test_encode_all_is_encode_of_every_kmer():
    rng = random.Random(7)
    for trial in range(300):
        letters = "ACGTN" if trial % 3 == 0 else "ACGT"
        seq = "".join(rng.choice(letters) for _ in range(rng.randint(0, 200)))
        kmers = [seq[o:o + K] for o in range(len(seq) - K + 1)]
        values, ok = encode(kmers)
        assert np.array_equal(encode_all(seq), values[ok])


def test_the_kmer_codes_of_the_target_transcripts_are_those_of_their_kmer_index():
    rng = random.Random(11)
    index = TargetTranscripts([], None, lambda *a: "")  # type: ignore[arg-type]
    for n in (5, 19, 20, 21, 400, 1500):
        seq = "".join(rng.choice("ACGTN" if n == 400 else "ACGT") for _ in range(n))
        index.spliced.append(_Spliced(None, "chr1", seq, tuple(range(n)), frozenset(), frozenset()))
    values, ok = encode(sorted(index.kmers))
    assert np.array_equal(index.kmer_codes(), sorted_unique(values[ok]))
    # the index lists every place of a K-mer, in transcript and offset order
    places = [(i, o) for i, t in enumerate(index.spliced) for o in range(len(t.sequence) - K + 1)]
    assert sorted(p for v in index.kmers.values() for p in v) == places


def test_kmer_places_found_by_search_are_those_of_the_index():
    rng = random.Random(5)
    index = TargetTranscripts([], None, lambda *a: "")  # type: ignore[arg-type]
    for n in (30, 400, 2000):
        # repeats, so a K-mer has several places, some overlapping
        unit = "".join(rng.choice("ACGT") for _ in range(7))
        seq = "".join(rng.choice(("ACGT", unit * 4)) if rng.random() < 0.1 else rng.choice("ACGTN") for _ in range(n))
        index.spliced.append(_Spliced(None, "chr1", seq, tuple(range(len(seq))), frozenset(), frozenset()))
    asked = [t.sequence[o:o + K] for t in index.spliced for o in range(0, len(t.sequence) - K + 1, 3)]
    asked += ["".join(rng.choice("ACGT") for _ in range(K)) for _ in range(50)]
    searched = [index.places(k) for k in asked]  # the first FIND_LOOKUPS by search, then by the index
    expected = TargetTranscripts([], None, lambda *a: "")  # type: ignore[arg-type]
    expected.spliced = index.spliced
    assert len(asked) > FIND_LOOKUPS and searched == [expected.kmers.get(k, ()) for k in asked]
