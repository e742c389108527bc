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


# ----------------------------------------------------------------------------------
# reads without a position whose target side at the junction is 10-19 bases
# ----------------------------------------------------------------------------------


def test_the_short_side_filter_keeps_reads_ending_in_a_target_exons_first_or_last_bases():
    from imtfusion.evidence import reverse_complement
    from imtfusion.unplaced import ShortSideFilter

    exon = "ACGTTGCAAGCTTGGACCATGTCAGTACCGATGCAT"  # a target exon, transcript orientation
    other = "TTTTGGGGCCCCAAAATTTTGGGGCCCCAAAATTTTGGGGCCCCAAAA"[:40]
    keep = ShortSideFilter([exon])
    for n in range(10, 20):
        assert keep(other + exon[:n])  # ends in the exon's first n bases (the 3' gene's)
        assert keep(exon[-n:] + other)  # starts with its last n (the 5' gene's)
        assert keep(reverse_complement(other + exon[:n]))  # either strand
    assert not keep(other + exon[:9]) and not keep(exon[-9:] + other)  # fewer than 10
    assert not keep(other + exon[:20])  # 20 or more: the 20-base K-mers find those
    assert not keep(other + other)
    assert not keep(exon[:15])  # too short a read to hold both sides


def test_own_continuations_are_the_neighbouring_bases_of_the_gene_itself_read_away_from_the_breakpoint():
    from imtfusion.evidence import reverse_complement
    from imtfusion.model import Breakend
    from imtfusion.unplaced import own_continuations

    genome = "".join("ACGT"[(i * 7 + i // 5) % 4] for i in range(700))

    def fetch(chrom, s, e):
        return genome[s:e]

    # + strand 5' gene ending at exon 2's last base (399): the intron after it, and exon 3's start
    got = own_continuations(Breakend("chr1", 399, "L"), [PLUS], fetch, 6, three=False)
    assert sorted(got) == sorted({genome[400:406], genome[500:506]})
    # + strand 3' gene starting at exon 2's first base (300): the bases before it, nearest first
    got = own_continuations(Breakend("chr1", 300, "R"), [PLUS], fetch, 6, three=True)
    assert sorted(got) == sorted({genome[294:300][::-1], genome[194:200][::-1]})
    # - strand 5' gene ending at transcript exon 2's last base (genome 300): transcript
    # order continues down the genome, complemented
    got = own_continuations(Breakend("chr1", 300, "R"), [MINUS], fetch, 6, three=False)
    assert sorted(got) == sorted({reverse_complement(genome[294:300]), reverse_complement(genome[194:200])})
    # - strand 3' gene starting at transcript exon 2's first base (genome 399): the bases
    # after it in the genome are before it in the transcript
    comp = reverse_complement
    got = own_continuations(Breakend("chr1", 399, "L"), [MINUS], fetch, 6, three=True)
    assert sorted(got) == sorted({comp(genome[400:406])[::-1], comp(genome[500:506])[::-1]})


def _short_side_toy():
    from test_calling import PARTP_ALK_READ, add_background, make_toy

    toy = make_toy()
    # PARTP exon 3 (its wild-type mRNA continues there after exon 2) begins with the 15
    # bases ALK exon 3 begins with (transcript order), and then differs from it
    alk = toy.bases(("chr2", 20132, "-", 18))
    seq = list(toy.seq["chr4"])
    seq[7000:7015] = alk[:15]
    seq[7015:7018] = ["T" if b != "T" else "G" for b in alk[15:18]]
    toy.seq["chr4"] = "".join(seq)
    add_background(toy)
    for i, umi in enumerate(("ACGTACGT", "TTGCAGCA", "GATTACAG")):  # the call, by three molecules
        for rec in toy.fragment(f"split{i}", PARTP_ALK_READ, [("chr2", 20010 + 7 * i, "+", 100)]):
            rec.set_tag("RX", umi)
    return toy


def _unplaced_read(toy, name, parts, umi, flip=False):
    from test_calling import flip as flipped

    toy.unplaced(name, flipped(parts) if flip else parts)
    toy.records[-1].set_tag("RX", umi)


def test_reads_without_a_position_with_10_to_19_target_bases_count_for_the_call(tmp_path):
    """An FFPE junction read the aligner left without a position, whose ALK side is 10-19
    bases: no 20-base K-mer of a target finds it, no pair rule places it. Kept while the
    unplaced reads are scanned (it ends in ALK exon 3's first bases), it counts for the
    PARTP::ALK call once made, with its UMI as its molecule's key, read from either
    strand. Beside the reads it must leave: a wild-type PARTP read whose exon 3 begins as
    ALK exon 3 does (its 15 bases are PARTP's own continuation), and a junction read whose
    12 ALK bases PARTP has there too (no read can tell them apart), the short side with one
    mismatch, 9 ALK bases."""
    from test_calling import by_fusion, call

    toy = _short_side_toy()
    _unplaced_read(toy, "short18", [("chr4", 4075, "+", 75), ("chr2", 20132, "-", 18)], "CCATGGTA")
    _unplaced_read(toy, "short18r", [("chr4", 4070, "+", 80), ("chr2", 20132, "-", 18)], "GGCATTAC", flip=True)
    # the decoys
    _unplaced_read(toy, "short12", [("chr4", 4075, "+", 75), ("chr2", 20138, "-", 12)], "TGCATGCA")
    _unplaced_read(toy, "wild", [("chr4", 4075, "+", 75), ("chr4", 7000, "+", 15)], "TTACGGAC")
    _unplaced_read(toy, "nine", [("chr4", 4075, "+", 75), ("chr2", 20141, "-", 9)], "AACCGGTT")
    toy.unplaced("damaged", [("chr4", 4075, "+", 75), ("chr2", 20132, "-", 18)])
    rec = toy.records[-1]
    bases = list(rec.query_sequence)
    bases[-3] = "A" if bases[-3] != "A" else "C"  # a base of its ALK side misread
    quals = rec.query_qualities
    rec.query_sequence, rec.query_qualities = "".join(bases), quals
    rec.set_tag("RX", "CTCTGAGA")
    result = call(tmp_path, toy, fasta=True, scan_unmapped="yes")
    [c] = by_fusion(result, "PARTP::ALK")
    assert {"short18", "short18r"} <= c.unmapped_fragments <= c.split_fragments
    assert not {"wild", "short12", "nine", "damaged"} & (c.split_fragments | c.discordant_fragments)
    assert c.molecules == 5 and c.fragments == 5
    # the same without the FASTA: not placed (the genes' own bases are not known)
    (tmp_path / "s.bam").unlink()
    [d] = by_fusion(call(tmp_path, toy, fasta=False, scan_unmapped="yes"), "PARTP::ALK")
    assert not {"short18", "short18r"} & d.split_fragments and d.molecules == 3


def test_ten_target_bases_unlike_the_partners_own_count(tmp_path):
    """Without such homology 10 ALK bases are enough (its first 10 bases, PARTP's own
    continuations differing from them)."""
    from test_calling import PARTP_ALK_READ, add_background, by_fusion, call, make_toy

    toy = make_toy()
    add_background(toy)
    for i, umi in enumerate(("ACGTACGT", "TTGCAGCA")):
        for rec in toy.fragment(f"split{i}", PARTP_ALK_READ, [("chr2", 20010 + 7 * i, "+", 100)]):
            rec.set_tag("RX", umi)
    _unplaced_read(toy, "short10", [("chr4", 4070, "+", 80), ("chr2", 20140, "-", 10)], "CCATGGTA")
    [c] = by_fusion(call(tmp_path, toy, fasta=True, scan_unmapped="yes"), "PARTP::ALK")
    assert "short10" in c.unmapped_fragments and c.molecules == 3


def test_reads_with_a_short_target_side_make_no_call_of_their_own(tmp_path):
    """Such reads count only for a call other reads made: five of them, and one split
    fragment (PARTP::ALK needs two here), give no call."""
    from test_calling import PARTP_ALK_READ, add_background, call, make_toy

    toy = make_toy()
    add_background(toy)
    for rec in toy.fragment("split0", PARTP_ALK_READ, [("chr2", 20010, "+", 100)]):
        rec.set_tag("RX", "ACGTACGT")
    for i, umi in enumerate(("CCATGGTA", "GGCATTAC", "TTAGGCCA", "CAGTCAGT", "GTGTACAC")):
        _unplaced_read(toy, f"short{i}", [("chr4", 4070 + i, "+", 80 - i), ("chr2", 20134, "-", 16)], umi)
    result = call(tmp_path, toy, fasta=True, scan_unmapped="yes")
    assert not [c for c in result.called if c.fusion == "PARTP::ALK"]


def test_a_short_side_is_compared_with_a_neighbouring_exon_shorter_than_it_where_the_exon_reaches():
    """The 5' gene's next exon is 6 bases long (then another exon or its intron follows):
    a read whose 15 3'-gene bases begin as that exon does is left; one whose bases differ
    from it at two of those six is a junction read."""
    from imtfusion.unplaced import FusedTranscript, short_side_reads

    five = "ACGTTGCAAGCTTGGACCATGTCAGTACCGATGCATTGCA"
    three = "GGATCCTTAGCAAGTCGATCCGATAGGCTTAACGGTCAGC"
    fused = [FusedTranscript(1, five + three, len(five), support=3)]
    read = five[10:] + three[:15]
    assert short_side_reads([("r", read, "")], fused, {1: ([three[:6]], [])}) == {}
    other = ("T" if three[0] != "T" else "A") + three[1] + ("T" if three[2] != "T" else "A") + three[3:6]
    [got] = short_side_reads([("r", read, "")], fused, {1: ([other], [])})[1]
    assert got.fragment == "r"
    # no own bases known: counted; a misread short side: not
    assert short_side_reads([("r", read, "")], fused, {})[1][0].fragment == "r"
    bad = read[:-1] + ("A" if read[-1] != "A" else "C")
    assert short_side_reads([("r", bad, "")], fused, {}) == {}
