"""Fast paths beside their one definition: each gives the definition's results."""

from __future__ import annotations

import random

import numpy as np

from imtfusion.boundaries import K, encode, encode_all
from imtfusion.scan import sorted_unique
from imtfusion.unmapped import TargetTranscripts, _Spliced


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
