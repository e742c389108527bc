"""Pairs both unmapped placed on a fused transcript (imtfusion.unplaced): what the fused
transcript keeps of each gene, and which unplaced records are kept as pairs."""

from __future__ import annotations

from imtfusion.annotation import Transcript
from imtfusion.unplaced import FusedTranscript, PairCollector, UnplacedPair, _kept_intervals, pairs_on_fused


def _tx(strand: str, exons: list[tuple[int, int]]) -> Transcript:
    ordered = tuple(sorted(exons, reverse=strand == "-"))
    return Transcript("T1", "G1", "G", "chr1", strand, "protein_coding", (), ordered, ())


PLUS = _tx("+", [(100, 200), (300, 400), (500, 600)])
MINUS = _tx("-", [(100, 200), (300, 400), (500, 600)])


def test_the_fused_transcript_keeps_the_exons_past_the_breakpoint_and_any_intron_bases_before_them():
    # 3' gene, + strand: at exon 2's first base, inside exon 2, 30 bases into intron 1
    assert _kept_intervals(PLUS, 300, three=True) == [(300, 400), (500, 600)]
    assert _kept_intervals(PLUS, 350, three=True) == [(350, 400), (500, 600)]
    assert _kept_intervals(PLUS, 270, three=True) == [(270, 400), (500, 600)]  # 30 intron bases kept
    # 3' gene, - strand (transcript runs down): exon 2 of the transcript is (300, 400)
    assert _kept_intervals(MINUS, 399, three=True) == [(300, 400), (100, 200)]
    assert _kept_intervals(MINUS, 452, three=True) == [(300, 453), (100, 200)]  # 53 intron bases (EML4::ALK)
    # 5' gene: the exons before and with the breakpoint, and intron bases after the last
    assert _kept_intervals(PLUS, 399, three=False) == [(100, 200), (300, 400)]
    assert _kept_intervals(PLUS, 420, three=False) == [(100, 200), (300, 421)]
    assert _kept_intervals(MINUS, 300, three=False) == [(500, 600), (300, 400)]
    assert _kept_intervals(PLUS, 50, three=False) is None and _kept_intervals(PLUS, 650, three=True) is None


def test_mates_are_paired_as_they_come_and_kept_when_a_read_may_be_the_targets():
    kept = PairCollector(lambda seqs: [i for i, s in enumerate(seqs) if s.startswith("T")])
    for name, seq in (("a", "TTTT"), ("a", "CCCC"), ("b", "CCCC"), ("b", "GGGG"), ("lone", "TTTT"),
                      ("c", "GGGG"), ("c", "TTTA")):
        kept.add(name, seq, "")
    assert [p.fragment for p in kept.finish()] == ["a", "c"]  # b: no target read; lone: no mate


def test_a_pair_goes_to_the_best_supported_junction_then_to_the_shortest_fragment():
    # a pair's junction lies between its reads: two junctions 11 bases apart (CLTC::ALK and a
    # shadow of it) both explain it; it goes to the one the split reads support, though its
    # fragment there is 11 bases longer
    five, three = "ACGTTGCAAGCTTGCAGGATCCATGCATGC" * 3, "TTGACCGGTAAGCTAGCTAGGATCGATCGA" * 3
    rc = str.maketrans("ACGT", "TGCA")
    pair = UnplacedPair("p", five[10:50], three[30:70].translate(rc)[::-1])
    called = FusedTranscript(1, five + "GATTACAGATT" + three, len(five), support=30)
    shadow = FusedTranscript(2, five + three, len(five), support=2)
    assert pairs_on_fused([pair], [shadow, called]) == {1: [pair]}
    assert pairs_on_fused([pair], [FusedTranscript(2, five + three, len(five), support=30), called]) == {2: [pair]}


def test_a_pair_goes_to_the_fused_transcript_where_its_fragment_is_shortest():
    five, three = "ACGTTGCAAGCTTGCAGGATCCATGCATGC" * 3, "TTGACCGGTAAGCTAGCTAGGATCGATCGA" * 3
    near = FusedTranscript(1, five + three, len(five))
    far = FusedTranscript(2, five + "A" * 200 + three, len(five) + 200)
    rc = str.maketrans("ACGT", "TGCA")
    pair = UnplacedPair("p", five[10:50], three[30:70].translate(rc)[::-1])
    assert pairs_on_fused([pair], [far, near]) == {1: [pair]}
    # the same reads both forward: no transcript reads them so
    assert pairs_on_fused([UnplacedPair("q", five[10:50], three[30:70])], [near]) == {}


def test_the_pair_filter_knows_the_intron_bases_next_to_a_target_exon():
    # EML4::ALK keeps ALK intron bases before exon 20: a read of a pair lying there has no
    # exonic K-mer at its ends, yet its pair must be kept for the fused transcript
    import random

    from imtfusion.annotation import Gene
    from imtfusion.targets import TargetLocus
    from imtfusion.unmapped import INTRON_FLANK, EndFilter, TargetTranscripts, exon_flank_codes

    rng = random.Random(5)
    genome = "".join(rng.choice("ACGT") for _ in range(3000))
    locus = TargetLocus(Gene("G1", "ALK", "chr2", 0, 3000, "-", "protein_coding"), "chr2", 0, 3000,
                        ((1000, 1100), (2000, 2100)))
    fetch = lambda chrom, s, e: genome[s:e]  # noqa: E731
    exonic_only = EndFilter(TargetTranscripts([], None, fetch))  # type: ignore[arg-type]
    flanked = EndFilter(TargetTranscripts([], None, fetch), also=exon_flank_codes([locus], fetch))  # type: ignore[arg-type]
    rc = str.maketrans("ACGT", "TGCA")
    near = "T" * 30 + genome[2150:2190]  # partner bases, then 50-90 intron bases past exon 2
    far = "T" * 30 + genome[2000 + 100 + INTRON_FLANK + 10:2000 + 100 + INTRON_FLANK + 50]
    assert list(exonic_only.hits([near])) == []
    assert list(flanked.hits([near, far, near.translate(rc)[::-1]])) == [0, 2]  # either strand
