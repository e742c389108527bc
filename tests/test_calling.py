"""Evidence extraction and calling on small BAMs built here with pysam.

Toy genome (0-based exons):
* PARTP  chr4 +  exons [1000,1200) [4000,4150) [7000,7300)
* PART1  chr1 -  exons [2000,2200) [5000,5150) [8000,8120) [11000,11300)  (exon 1 = [11000,11300))
* ALK    chr2 -  exons [10000,10300) [15000,15120) [20000,20150) [26000,26200) [32000,32400)
* ETV6   chr3 +  exons [3000,3200) [6000,6150) [9000,9100)
* NEIGH  chr3 +  exons [14000,14100) [17000,17200)   (same-strand neighbour of ETV6)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imtfusion.lod import base_status

from imtfusion.params import CallParameters
from imtfusion.pipeline import run_sample
from toolkit import Toy

TARGETS = ["ALK", "ETV6"]


def make_toy() -> Toy:
    toy = Toy({"chr1": 14000, "chr2": 36000, "chr3": 20000, "chr4": 9000})
    toy.add_gene("PARTP", "chr4", "+", [(1000, 1200), (4000, 4150), (7000, 7300)])
    toy.add_gene("PART1", "chr1", "-", [(2000, 2200), (5000, 5150), (8000, 8120), (11000, 11300)])
    toy.add_gene("ALK", "chr2", "-", [(10000, 10300), (15000, 15120), (20000, 20150), (26000, 26200), (32000, 32400)])
    toy.add_gene("ETV6", "chr3", "+", [(3000, 3200), (6000, 6150), (9000, 9100)])
    toy.add_gene("NEIGH", "chr3", "+", [(14000, 14100), (17000, 17200)])
    return toy


def add_background(toy: Toy, n: int = 12) -> None:
    """Wild-type pairs in the target exons so the targets are assessable."""
    for i in range(n):
        toy.fragment(f"wtA{i}", [("chr2", 10000 + 10 * i, "+", 100)], [("chr2", 10150 + 10 * i, "-", 100)])
        toy.fragment(f"wtE{i}", [("chr3", 3000 + 5 * i, "+", 100)], [("chr3", 3090 + 5 * i, "-", 100)])


# PARTP exon 2 (ends at 4149, + strand) joined to ALK exon 3 (first base 20149, - strand)
PARTP_ALK_READ = [("chr4", 4090, "+", 60), ("chr2", 20110, "-", 40)]
PARTP_ALK_MATE = [("chr2", 20000, "+", 100)]


def flip(parts):
    """The same bases read from the other strand (e.g. read 1 of a dUTP library)."""
    return [(c, s, "-" if st == "+" else "+", n) for c, s, st, n in reversed(parts)]


def call(tmp_path: Path, toy: Toy, fasta: bool = False, **params):
    """Run the caller; novel partners need 2 fragments here unless a test says otherwise
    (the thresholds have their own test), and a toy library of a few dozen fragments
    passes the sample QC gates of unique fragments and on-target reads (test_sampleqc.py
    tests the gates), and a toy's LoD counts as low enough (test_lod.py tests it)."""
    params.setdefault("min_fragments", 2)
    params.setdefault("qc_min_unique_fragments", 10)
    params.setdefault("qc_min_on_target_reads", 10)
    params.setdefault("lod_max_fraction", 0.99)
    bam = toy.write_bam(tmp_path / "s.bam")
    gtf = toy.write_gtf(tmp_path / "a.gtf")
    fa = toy.write_fasta(tmp_path / "g.fa") if fasta else None
    return run_sample(bam, gtf, "S1", targets=TARGETS, params=CallParameters.from_mapping(params), fasta=fa)


def by_fusion(result, name):
    return [c for c in result.called if c.fusion == name]


@pytest.mark.parametrize("stranded_reverse", [False, True])
@pytest.mark.parametrize("hard", [True, False])
def test_split_reads_give_exact_breakpoints(tmp_path, stranded_reverse, hard):
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        r1, r2 = PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)]
        if stranded_reverse:
            r1, r2 = flip(r2), flip(r1)
        toy.fragment(f"f{i}", r1, r2, hard=hard)
    result = call(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.end5.label() == "chr4:4150"
    assert c.end3.label() == "chr2:20150"
    assert c.split_reads == 3 and c.discordant_pairs == 0
    assert (c.site5, c.site3) == ("splice_site", "splice_site")
    alk = next(s for s in result.statuses if s.target == "ALK")
    assert alk.status == "detected" and alk.fusions == ["PARTP::ALK"]


def test_fragment_counted_once_with_mates_and_supplementary(tmp_path):
    toy = make_toy()
    add_background(toy)
    # the junction in both mates (short insert, overlapping mates) plus a supplementary
    toy.fragment("both", PARTP_ALK_READ, flip([("chr4", 4100, "+", 50), ("chr2", 20100, "-", 50)]))
    toy.fragment("one", PARTP_ALK_READ, PARTP_ALK_MATE)
    result = call(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.split_fragments == {"both", "one"}
    assert c.split_reads == 2 and c.discordant_pairs == 0 and c.fragments == 2


def test_discordant_pairs_join_the_junction(tmp_path):
    toy = make_toy()
    add_background(toy)
    toy.fragment("split1", PARTP_ALK_READ, PARTP_ALK_MATE)
    toy.fragment("split2", PARTP_ALK_READ, [("chr2", 20010, "+", 100)])
    for i in range(3):  # mates on either side of the junction, neither spanning it
        toy.fragment(f"disc{i}", [("chr4", 4000 + 10 * i, "+", 100)], [("chr2", 20040 + 5 * i, "+", 100)])
    result = call(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.split_reads == 2
    assert c.discordant_pairs == 3
    assert c.confidence == "high"


def test_a_discordant_read_ends_before_a_tiny_block_spliced_far_away():
    # HISAT2 splices the last base of an ALK read 6,500 bases on (98M6500N1M1S): the read's
    # end, which places its pair, is where its 98 bases end, not out of the gene; a block of
    # 10 bases after the gap is a splice and keeps the read's end there (the decoy)
    import pysam

    from imtfusion.evidence import _aligned_span, _pair_end

    header = pysam.AlignmentHeader.from_dict({"SQ": [{"SN": "chr2", "LN": 100_000}]})
    for cigar, end in (("98M6500N1M1S", 57411 + 98), ("90M6500N10M", 57411 + 90 + 6500 + 10)):
        read = pysam.AlignedSegment(header)
        read.query_name, read.reference_id, read.reference_start, read.cigarstring = "r", 0, 57411, cigar
        read.query_sequence = "A" * 100
        assert _aligned_span(read) == (57411, end)
        assert _pair_end(read, "chr2").pos == end - 1
        read.is_reverse = True
        assert _pair_end(read, "chr2").pos == 57411


def test_discordant_only_candidate_is_approximate_and_needs_support(tmp_path):
    toy = make_toy()
    add_background(toy)
    toy.fragment("disc0", [("chr4", 4000, "+", 100)], [("chr2", 20040, "+", 100)])
    result = call(tmp_path, toy)
    assert not by_fusion(result, "PARTP::ALK")
    [d] = [c for c in result.discarded if c.fusion == "PARTP::ALK"]
    assert d.precision == "approximate" and d.discordant_pairs == 1
    assert d.filters == ["min_support"]
    # the estimate is the exon boundary just past the reads
    assert d.end5.label() == "chr4:4150" and d.end3.label() == "chr2:20150"


def test_soft_clipped_reads_count_when_the_clip_spells_the_partner(tmp_path):
    toy = make_toy()
    add_background(toy)
    toy.fragment("split1", PARTP_ALK_READ, PARTP_ALK_MATE, hard=False)
    # an aligner without chimeric detection: ALK part aligned, PARTP part soft-clipped
    toy.fragment("clip1", [("chr4", 4120, "+", 30), ("chr2", 20080, "-", 70)], [("chr2", 19990, "+", 100)], only1=1)
    # a clip at the same place whose sequence is not PARTP: must not count
    toy.fragment("clipx", [("chr1", 100, "+", 30), ("chr2", 20080, "-", 70)], [("chr2", 19995, "+", 100)], only1=1)
    result = call(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert "clip1" in c.split_fragments
    assert "clipx" not in c.split_fragments
    assert c.clipped_fragments == {"clip1"}


def test_clip_matching_uses_the_fasta_or_the_reads_pile_up_when_split_reads_are_hard_clipped(tmp_path):
    toy = make_toy()
    add_background(toy)
    # STAR HardClip: the ALK record of the split read is supplementary and hard-clipped
    toy.fragment("split1", [("chr4", 4080, "+", 70), ("chr2", 20120, "-", 30)], PARTP_ALK_MATE, hard=True)
    toy.fragment("split2", [("chr4", 4080, "+", 70), ("chr2", 20120, "-", 30)], [("chr2", 20005, "+", 100)], hard=True)
    toy.fragment("clip1", [("chr4", 4120, "+", 30), ("chr2", 20080, "-", 70)], [("chr2", 19990, "+", 100)], only1=1)
    without = call(tmp_path, toy)
    [c] = by_fusion(without, "PARTP::ALK")
    # without the FASTA the split reads' records on PARTP spell the partner's bases
    assert "clip1" in c.split_fragments
    (tmp_path / "s.bam").unlink()
    with_fasta = call(tmp_path, toy, fasta=True)
    [c] = by_fusion(with_fasta, "PARTP::ALK")
    assert "clip1" in c.split_fragments


def test_duplicates_are_skipped(tmp_path):
    toy = make_toy()
    add_background(toy)
    toy.fragment("orig", PARTP_ALK_READ, PARTP_ALK_MATE)
    toy.fragment("dup1", PARTP_ALK_READ, PARTP_ALK_MATE, duplicate=True)
    toy.fragment("dup2", PARTP_ALK_READ, PARTP_ALK_MATE, duplicate=True)
    result = call(tmp_path, toy)
    assert not by_fusion(result, "PARTP::ALK")  # one real fragment only
    [d] = [c for c in result.discarded if c.fusion == "PARTP::ALK"]
    assert d.split_fragments == {"orig"} and d.filters == ["min_support"]
    alk = next(s for s in result.statuses if s.target == "ALK")
    assert alk.qc.duplicates == 4  # 2 fragments x (ALK supplementary of read 1, read 2)


def test_read_through_to_a_neighbour_is_discarded(tmp_path):
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        toy.spliced(f"rt{i}", "chr3", [(9050 + i, 9100), (17000, 17050 + i)])
    result = call(tmp_path, toy)
    assert not result.called
    [d] = [c for c in result.discarded if c.fusion == "ETV6::NEIGH"]
    assert d.filters == ["read_through"]
    assert d.end5.label() == "chr3:9100" and d.end3.label() == "chr3:17001"
    assert d.split_reads == 4


@pytest.mark.parametrize(
    "parts, fusion, bp5, bp3",
    [
        # minus-strand 5' gene: its last transcribed base is the lowest coordinate kept
        ([("chr1", 8000, "-", 60), ("chr2", 20110, "-", 40)], "PART1::ALK", "chr1:8001", "chr2:20150"),
        # plus-strand 5' target, minus-strand 3' partner
        ([("chr3", 6090, "+", 60), ("chr1", 5110, "-", 40)], "ETV6::PART1", "chr3:6150", "chr1:5150"),
        # plus-strand 5' partner, plus-strand 3' target
        ([("chr4", 4090, "+", 60), ("chr3", 6000, "+", 40)], "PARTP::ETV6", "chr4:4150", "chr3:6001"),
    ],
)
def test_both_gene_strands_orient_the_transcript(tmp_path, parts, fusion, bp5, bp3):
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.fragment(f"f{i}", parts, None)  # single-end
        toy.fragment(f"r{i}", flip(parts), None)  # the other strand of the library
    result = call(tmp_path, toy)
    [c] = by_fusion(result, fusion)
    assert (c.end5.label(), c.end3.label()) == (bp5, bp3)
    assert c.split_reads == 6


def test_wrong_orientation_is_not_transcribable(tmp_path):
    toy = make_toy()
    add_background(toy)
    # PARTP exon 2 end (+, keeps 5') joined to ALK keeping its 5' side too (side R on a - gene)
    for i in range(3):
        toy.fragment(f"f{i}", [("chr4", 4090, "+", 60), ("chr2", 20000, "+", 40)], None)
    result = call(tmp_path, toy)
    assert not result.called
    assert any("not_transcribable" in c.filters for c in result.discarded)


def test_microhomology_is_resolved_to_the_exon_boundary(tmp_path):
    toy = make_toy()
    # make the first 3 bases of ALK exon 3 (transcript order) equal the 3 bases after PARTP exon 2
    alk_first = toy.bases(("chr2", 20147, "-", 3))
    seq = list(toy.seq["chr4"])
    seq[4150:4153] = alk_first
    toy.seq["chr4"] = "".join(seq)
    add_background(toy)
    # an aligner that extends PARTP over the shared bases (split 3 bases late)
    for i in range(3):
        toy.fragment(f"f{i}", [("chr4", 4093, "+", 60), ("chr2", 20110, "-", 37)], [("chr2", 20000 + i, "+", 100)])
    result = call(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.shifted == -3
    (tmp_path / "s.bam").unlink()
    result = call(tmp_path, toy, fasta=True)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.homology >= 3  # the 3 bases made equal, plus any chance match


def test_both_ends_in_targets_are_one_candidate(tmp_path):
    toy = make_toy()
    add_background(toy)
    # ETV6 exon 2 (+) :: ALK exon 3 (-): both loci see the reads
    for i in range(3):
        toy.fragment(f"f{i}", [("chr3", 6090, "+", 60), ("chr2", 20110, "-", 40)], [("chr2", 20000 + i, "+", 100)])
    result = call(tmp_path, toy)
    [c] = by_fusion(result, "ETV6::ALK")
    assert c.split_reads == 3 and c.targets == ("ALK", "ETV6")
    statuses = {s.target: s.status for s in result.statuses}
    assert statuses == {"ALK": "detected", "ETV6": "detected"}


def test_status_not_assessable_without_reads_and_not_detected_with_them(tmp_path):
    toy = make_toy()
    for i in range(12):
        toy.fragment(f"wtA{i}", [("chr2", 10000 + 10 * i, "+", 100)], [("chr2", 10150 + 10 * i, "-", 100)])
    result = call(tmp_path, toy, fasta=True)
    statuses = {s.target: s.status for s in result.statuses}
    assert {t: base_status(s) for t, s in statuses.items()} == {"ALK": "not detected", "ETV6": "not assessable"}
    assert statuses["ALK"].startswith("not detected (LoD ")


def test_without_chimeric_alignments_or_fasta_nothing_is_ruled_out(tmp_path):
    toy = make_toy()
    add_background(toy)  # plenty of reads, but no SA-tagged record anywhere
    result = call(tmp_path, toy)
    assert {s.status for s in result.statuses} == {"not assessable"}
    assert all("rerun with the FASTA" in s.reason for s in result.statuses)
    # the same BAM with the FASTA: soft clips and unmapped reads can be placed
    (tmp_path / "s.bam").unlink()
    result = call(tmp_path, toy, fasta=True)
    assert {base_status(s.status) for s in result.statuses} == {"not detected"}


def test_known_partners_need_less_support_than_novel_ones(tmp_path):
    toy = make_toy()
    add_background(toy)
    for i in range(2):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
    known = tmp_path / "known.tsv"
    known.write_text("target\tfusion\tgene5\tgene3\ttumour_types\tsource\nALK\tPARTP::ALK\tPARTP\tALK\ttest\ttest\n")
    bam = toy.write_bam(tmp_path / "s.bam")
    gtf = toy.write_gtf(tmp_path / "a.gtf")
    novel = run_sample(bam, gtf, "S1", targets=TARGETS)  # defaults: novel needs 3
    assert not by_fusion(novel, "PARTP::ALK")
    [d] = [c for c in novel.discarded if c.fusion == "PARTP::ALK"]
    assert d.filters == ["min_support"] and not d.known
    known_run = run_sample(bam, gtf, "S1", targets=TARGETS, known_partners=known)
    [c] = by_fusion(known_run, "PARTP::ALK")
    assert c.known and c.fragments == 2


def test_unflagged_duplicates_do_not_make_support(tmp_path):
    toy = make_toy()
    add_background(toy)
    # three fragments at identical positions (a PCR duplicate set nobody flagged)
    for i in range(3):
        toy.fragment(f"d{i}", PARTP_ALK_READ, PARTP_ALK_MATE)
    result = call(tmp_path, toy, min_fragments=3)
    [d] = [c for c in result.discarded if c.fusion == "PARTP::ALK"]
    assert d.duplicates == 2 and d.filters == ["duplicates"]


def test_partner_bases_matching_the_target_itself_are_mismapping(tmp_path):
    toy = make_toy()
    # a "partner" (PARTP exon 2 end) whose next 40 bases copy ALK's own sequence beyond
    # the ALK exon 3 start: reads look split but are ALK continuing, with mismatches
    seq = list(toy.seq["chr4"])
    alk_beyond = toy.bases(("chr2", 20150, "+", 40))  # ALK bases past 20149 on the + strand
    from toolkit import revcomp
    seq[4110:4150] = revcomp(alk_beyond)[:40]
    toy.seq["chr4"] = "".join(seq)
    add_background(toy)
    for i in range(4):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)])
    result = call(tmp_path, toy, fasta=True)
    [d] = [c for c in result.discarded if c.fusion == "PARTP::ALK"]
    assert "mismapping" in d.filters


def test_a_paralog_copy_of_the_neighbouring_exon_is_mismapping(tmp_path):
    toy = make_toy()
    # ALKP: a pseudogene on chr1 whose exon copies ALK exon 2 ([26000,26200), minus strand)
    seq = list(toy.seq["chr1"])
    seq[500:700] = toy.seq["chr2"][26000:26200]
    toy.seq["chr1"] = "".join(seq)
    toy.add_gene("ALKP", "chr1", "-", [(500, 700), (1200, 1300)])
    add_background(toy)
    # reads of ALK's own exon 2 -> exon 3 splice, with the exon-2 part placed on the copy
    for i in range(4):
        toy.fragment(f"f{i}", [("chr1", 500, "-", 60), ("chr2", 20110, "-", 40)], [("chr2", 20000 + i, "+", 100)])
    result = call(tmp_path, toy, fasta=True)
    [d] = [c for c in result.discarded if c.fusion == "ALKP::ALK"]
    assert "mismapping" in d.filters
    (tmp_path / "s.bam").unlink()
    # without the FASTA the copy cannot be recognised
    assert by_fusion(call(tmp_path, toy), "ALKP::ALK")


def test_a_short_block_spliced_out_of_the_gene_is_treated_as_a_clip(tmp_path):
    import pysam

    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.fragment(f"f{i}", PARTP_ALK_READ, [("chr2", 20000 + i, "+", 100)], hard=False)
    # STAR without chimeric output: 87 ALK bases, then the 13 PARTP bases spliced 13.8 kb
    # away onto a chance match outside ALK
    header = pysam.AlignmentHeader.from_dict(toy._header)
    for i in range(2):
        seq = toy.bases(("chr2", 20063, "+", 87)) + toy.bases(("chr4", 4137, "-", 13))
        rec = pysam.AlignedSegment(header)
        rec.query_name = f"s{i}"
        rec.reference_name = "chr2"
        rec.reference_start = 20063
        rec.cigartuples = [(0, 87), (3, 13850), (0, 13)]
        rec.query_sequence = seq
        rec.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
        rec.mapping_quality = 60
        toy.records.append(rec)
    result = call(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert {"s0", "s1"} <= c.split_fragments and {"s0", "s1"} <= c.clipped_fragments
    assert all(not cand.gene5.intergenic and not cand.gene3.intergenic for cand in result.called + result.discarded)


@pytest.mark.parametrize("clip, adapter", [
    ("AGATCGGAAGAGCACACG", True),  # forward read, clip starts at the adapter
    ("GAGATCGGAAGAGC", True),  # one base before the adapter clipped with it
    ("TGAGATCGGAAGAG", True),  # two bases
    ("TCTAGCCTTCTCG", True),  # reverse read: the complement, read outward
    ("TTCTAGCCTTCTC", True),
    ("AGATCGGA", True),  # short, but adapter all along
    ("TTGAGATCGGAAGAG", False),  # three bases before it: not taken for adapter
    ("GGCTTACCATGACCTTG", False),  # partner sequence
    ("AGATC", False),  # too short to tell
])
def test_adapter_clips_are_recognised_even_when_the_clip_starts_early(clip, adapter):
    from imtfusion.evidence import looks_like_adapter

    assert looks_like_adapter(clip) is adapter


def test_consensus_takes_each_columns_most_common_base():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from imtfusion.junctions import consensus_of

    def by_hand(strings, limit):
        strings = [s for s in strings if s]
        out = ""
        for i in range(min(limit, max((len(s) for s in strings), default=0))):
            votes = {}
            for s in strings:
                if len(s) > i:
                    votes[s[i]] = votes.get(s[i], 0) + 1
            best = max(votes.values())
            out += min(b for b, n in votes.items() if n == best)
        return out

    assert consensus_of(["ACGT", "ACGA", "TCG", ""], limit=60) == "ACGA"
    assert consensus_of(["AAAA", "CC"], limit=3) == "AAA"  # tie in columns 1-2: alphabetical

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.text(alphabet="ACGTN", max_size=70), max_size=12), st.integers(1, 80))
    def agrees(strings, limit):
        assert consensus_of(strings, limit) == by_hand(strings, limit)

    agrees()


def test_a_clip_the_aligner_extended_past_the_junction_still_matches_it():
    from imtfusion.calling import clip_matches
    from imtfusion.model import Breakend, ClippedRead

    params = CallParameters()
    end = Breakend("chr2", 490227, "L")  # the junction's end: the last base the partner gene keeps
    partner = "CTACGCCGTAATGACAATGCAGGATTCTACCAGGTCTTAAGC"  # the other gene's bases beyond it
    own = "GTAAGTTCAC"  # the gene's own intron past its exon
    # STAR aligned 11 partner bases past the exon end through mismatches, then clipped the rest
    extended = ClippedRead("s", Breakend("chr2", end.pos + 11, "L"), partner[11:], 61, 255,
                           inward=partner[:11][::-1] + "ACGT" * 10)
    assert clip_matches(extended, end, partner, params)
    # the same clip where the 11 aligned bases are the gene's own: another junction, not this one
    own_bases = ClippedRead("t", Breakend("chr2", end.pos + 11, "L"), partner[11:], 61, 255,
                            inward=(own + "A")[::-1] + "ACGT" * 10)
    assert not clip_matches(own_bases, end, partner, params)
    # a clip exactly at the junction matches as before; past the reach of an extension it does not
    assert clip_matches(ClippedRead("u", end, partner, 50, 255, inward="ACGT" * 10), end, partner, params)
    far = ClippedRead("v", Breakend("chr2", end.pos + 30, "L"), partner[30:], 80, 255, inward=partner[:30][::-1])
    assert not clip_matches(far, end, partner, params)
    # STAR extended 20 partner bases into the intron, then clipped 10 (65M10S)
    star = ClippedRead("w", Breakend("chr2", end.pos + 20, "L"), partner[20:30], 65, 255,
                       inward=partner[:20][::-1] + "ACGT" * 10)
    assert clip_matches(star, end, partner, params)
    # minimap2 aligned 14 partner bases over 15 reference bases (a deletion in the
    # extension, 53M1D9M10S): the read's bases past the junction are one fewer
    deleted = ClippedRead("x", Breakend("chr2", end.pos + 15, "L"), partner[14:24], 62, 255,
                          inward=partner[:14][::-1] + "ACGT" * 10)
    assert clip_matches(deleted, end, partner, params)
    # the decoy beside it: the same shape where the extension holds the gene's own intron
    # (a clip of another junction 15 bases on): no shift of a few bases makes it the partner
    intron = "GTAAGTTCACTTTGAACTCC"
    decoy = ClippedRead("y", Breakend("chr2", end.pos + 15, "L"), partner[14:24], 62, 255,
                        inward=intron[:14][::-1] + "ACGT" * 10)
    assert not clip_matches(decoy, end, partner, params)


@pytest.mark.parametrize("mate_bases", [100, 10])
def test_a_mate_placed_by_a_few_bases_is_no_discordant_evidence(tmp_path, mate_bases):
    # the decoy (STAR's chimeric output, seed 31337 capture panel: ETV6::NTRK3 mates
    # written as 10M65S beside KRAS, their 65 NTRK3 bases a supplementary): a mate whose
    # primary record aligns fewer than min_anchor bases is not placed there, so the pair
    # is no evidence of a fusion with that place. Kept: the same pairs with whole mates.
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        mate = [("chr4", 4000 + 10 * i, "+", mate_bases)]
        if mate_bases < 100:  # the rest of the read is ALK's own (exon 4), a supplementary
            mate.append(("chr2", 26_050 + 5 * i, "+", 100 - mate_bases))
        toy.fragment(f"disc{i}", mate, [("chr2", 20_040 + 5 * i, "+", 100)])
    result = call(tmp_path, toy)
    found = by_fusion(result, "PARTP::ALK")
    if mate_bases == 100:
        [c] = found
        assert c.discordant_pairs == 4 and c.precision == "approximate"
    else:
        assert not found
        assert not [c for c in result.discarded if c.fusion == "PARTP::ALK" and c.discordant_pairs]


def test_a_discordant_read_ends_before_a_block_spliced_out_of_its_gene():
    # STAR's chimeric output wrote a ROS1 mate 69M65396N6M (seed 31337 capture, YWHAE::ROS1):
    # 6 YWHAE bases on a chance match 65 kb on, past ROS1's end. With the gene known, the
    # read ends where its 69 bases do; a block of up to 24 bases spliced within the gene
    # (the decoy: a real short exon piece) keeps the read's end there
    import pysam

    from imtfusion.annotation import Gene
    from imtfusion.evidence import _aligned_span, _pair_end

    header = pysam.AlignmentHeader.from_dict({"SQ": [{"SN": "chr6", "LN": 200_000}]})
    gene = Gene("g", "ROS1", "chr6", 88_076, 150_139, "-", "protein_coding")
    for cigar, end in (("69M65396N6M", 98_521 + 69), ("69M30000N20M", 98_521 + 69 + 30_000 + 20)):
        read = pysam.AlignedSegment(header)
        read.query_name, read.reference_id, read.reference_start, read.cigarstring = "r", 0, 98_521, cigar
        read.query_sequence = "A" * sum(n for op, n in read.cigartuples if op == 0)
        assert _aligned_span(read, gene) == (98_521, end)
        assert _pair_end(read, "chr6", gene).pos == end - 1
    assert _aligned_span(read) == (98_521, 98_521 + 69 + 30_000 + 20)  # without the gene: as before
