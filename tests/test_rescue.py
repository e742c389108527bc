"""Soft-clip rescue: junctions from BAMs without any SA tag (STAR defaults, HISAT2, ...).

Uses the toy genome of test_calling.py: PARTP (chr4, +) exon 2 ends at 4149; ALK
(chr2, -) exon 3 starts (transcript order) at 20149.
"""

from __future__ import annotations

import pysam
import pytest

from test_calling import TARGETS, add_background, by_fusion, make_toy
from imtfusion.params import CallParameters
from imtfusion.pipeline import run_sample

JUNCTION = [("chr4", 4120, "+", 30), ("chr2", 20080, "-", 70)]  # 30 PARTP bases, 70 ALK bases
# a known-partner table naming PARTP::ALK (the shipped one does not)
KNOWN_PARTP = "target\tfusion\tgene5\tgene3\ttumour_types\tsource\nALK\tPARTP::ALK\tPARTP\tALK\ttest\ttest\n"


def run(tmp_path, toy, fasta=True, known=None, **params):
    params.setdefault("min_fragments", 2)
    bam = toy.write_bam(tmp_path / "s.bam")
    gtf = toy.write_gtf(tmp_path / "a.gtf")
    fa = toy.write_fasta(tmp_path / "g.fa") if fasta else None
    return run_sample(bam, gtf, "S1", targets=TARGETS, params=CallParameters.from_mapping(params), fasta=fa,
                      known_partners=known)


def clipped_in_alk(toy, n, prefix="c"):
    """Junction reads aligned to ALK with the PARTP bases soft-clipped, mates in ALK."""
    for i in range(n):
        toy.fragment(f"{prefix}{i}", JUNCTION, [("chr2", 19990 - i, "+", 100)], only1=1)


def junction_toy(clips: int, pairs: int):
    """The toy genes with wild-type background, ``clips`` PARTP::ALK junction reads clipped
    in ALK and ``pairs`` PARTP::ALK mate pairs: a junction the soft-clip rescue makes."""
    toy = make_toy()
    add_background(toy)
    clipped_in_alk(toy, clips)
    discordant(toy, pairs)
    return toy


def discordant(toy, n):
    for i in range(n):
        toy.fragment(f"d{i}", [("chr4", 4000 + 7 * i, "+", 100)], [("chr2", 20030 + 5 * i, "+", 100)])


def test_clips_are_placed_on_the_exon_boundary_the_mates_point_to(tmp_path):
    toy = junction_toy(3, 3)
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.precision == "exact" and c.split_reads == 3 and c.discordant_pairs == 3
    assert c.evidence_kinds == {"clip"}


def test_without_a_fasta_the_same_reads_give_an_exon_level_call(tmp_path):
    # PARTP's exon end is read by no other read: the clips cannot be placed without the
    # FASTA, the mates make the call, which says why it is not exact
    toy = junction_toy(3, 3)
    result = run(tmp_path, toy, fasta=False)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.precision == "exon-level (no FASTA)" and c.split_reads == 0 and c.discordant_pairs == 3


def test_known_partner_places_clips_without_any_mate(tmp_path):
    toy = make_toy()
    add_background(toy)
    clipped_in_alk(toy, 3)
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    result = run(tmp_path, toy, known=known)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.known
    # with the shipped table PARTP is no known partner: the clips are placed genome-wide
    # on the exon boundary they spell, and the fusion is reported as novel
    (tmp_path / "s.bam").unlink()
    [c] = by_fusion(run(tmp_path, toy), "PARTP::ALK")
    assert not c.known and (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")


def test_a_single_clip_is_not_placed_genome_wide(tmp_path):
    toy = make_toy()
    add_background(toy)
    clipped_in_alk(toy, 1)
    result = run(tmp_path, toy, min_fragments=1)
    assert not [c for c in result.called + result.discarded if c.fusion == "PARTP::ALK"]


def test_partner_side_clips_are_found_in_the_second_pass(tmp_path):
    toy = junction_toy(2, 2)
    # junction reads aligned to PARTP with the ALK bases clipped (outside every target locus)
    for i in range(3):
        toy.fragment(f"p{i}", [("chr4", 4080 + i, "+", 70 - i), ("chr2", 20120 - i, "-", 30 + i)], [("chr4", 3900 - i, "-", 100)], only1=0)
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert {"p0", "p1", "p2"} <= c.split_fragments
    assert c.split_reads == 5


def test_clips_alone_on_the_partner_side_refine_a_mate_only_pair(tmp_path):
    toy = make_toy()
    add_background(toy)
    discordant(toy, 3)
    for i in range(3):
        toy.fragment(f"p{i}", [("chr4", 4080 + i, "+", 70 - i), ("chr2", 20120 - i, "-", 30 + i)], [("chr4", 3900 - i, "-", 100)], only1=0)
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.precision == "exact"
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.split_reads == 3 and c.discordant_pairs == 3


def test_an_intronic_partner_breakpoint_is_found_by_search(tmp_path):
    toy = make_toy()
    add_background(toy)
    # PARTP keeps 37 bases of intron 2 (4150..4186) before joining ALK exon 3
    junction = [("chr4", 4157, "+", 30), ("chr2", 20080, "-", 70)]
    for i in range(3):
        toy.fragment(f"c{i}", junction, [("chr2", 19990 - i, "+", 100)], only1=1)
    discordant(toy, 3)
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4187", "chr2:20150")
    assert c.site5 == "intronic"


def test_low_complexity_clips_are_not_placed(tmp_path):
    toy = make_toy()
    seq = list(toy.seq["chr4"])
    seq[4120:4150] = "A" * 30  # the PARTP bases that end up in the clips: poly-A
    toy.seq["chr4"] = "".join(seq)
    add_background(toy)
    clipped_in_alk(toy, 3)
    discordant(toy, 3)
    result = run(tmp_path, toy)
    assert all(c.precision == "approximate" for c in result.called + result.discarded if c.fusion == "PARTP::ALK")


def test_a_tiny_block_spliced_after_a_gap_is_part_of_the_clip():
    from imtfusion.evidence import clip_geometry

    # HISAT2: 85M6500N1M14S -- one partner base spliced to a chance match 6.5 kb away
    cigar = [(0, 85), (3, 6500), (0, 1), (4, 14)]
    assert clip_geometry(cigar, 1000, 1000 + 85 + 6500 + 1) == (0, 15, 1000, 1085)
    cigar = [(4, 10), (0, 3), (3, 900), (0, 87)]
    assert clip_geometry(cigar, 2000, 2000 + 3 + 900 + 87) == (13, 0, 2903, 2990)
    # an ordinary spliced read keeps its blocks
    cigar = [(0, 50), (3, 400), (0, 50)]
    assert clip_geometry(cigar, 0, 500) == (0, 0, 0, 500)


def test_two_partners_clipped_at_the_same_target_base_are_two_fusions(tmp_path):
    toy = junction_toy(3, 3)
    # PART1 (minus) exon 2 ends at 8000 (transcript order) and joins the same ALK base
    for i in range(3):
        toy.fragment(f"q{i}", [("chr1", 8000, "-", 30), ("chr2", 20080, "-", 70)], [("chr2", 19985 - i, "+", 100)], only1=1)
        toy.fragment(f"m{i}", [("chr1", 8010 + 5 * i, "-", 100)], [("chr2", 20030 + 5 * i, "+", 100)])
    result = run(tmp_path, toy)
    [a] = by_fusion(result, "PARTP::ALK")
    [b] = by_fusion(result, "PART1::ALK")
    assert (a.end5.label(), a.end3.label()) == ("chr4:4150", "chr2:20150")
    assert (b.end5.label(), b.end3.label()) == ("chr1:8001", "chr2:20150")
    assert a.split_fragments == {"c0", "c1", "c2"} and b.split_fragments == {"q0", "q1", "q2"}


def test_unmapped_reads_that_spell_the_junction_count(tmp_path):
    toy = junction_toy(2, 2)
    # junction reads the aligner left unmapped, placed next to their mates in ALK or PARTP
    for i in range(3):
        toy.unmapped_pair(f"u{i}", [("chr4", 4100 + i, "+", 50 - i), ("chr2", 20100 - i, "-", 50 + i)],
                          ("chr2", 19950 - 3 * i, "+", 100))
    toy.unmapped_pair("w0", [("chr2", 20100, "+", 50), ("chr4", 4100, "-", 50)], ("chr4", 3950, "+", 100))
    # an unmapped read of something else next to them must not count
    toy.unmapped_pair("x0", [("chr1", 3000, "+", 100)], ("chr2", 19940, "+", 100))
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert {"u0", "u1", "u2", "w0"} <= c.split_fragments and "x0" not in c.split_fragments
    assert c.split_reads == 6


def _clipped_after_a_gap(toy, name: str, gap: int, block: int) -> None:
    """A PARTP::ALK junction read aligned in ALK as minimap2 writes some: 70 ALK bases,
    a one-base deletion (``gap`` 2) or insertion (1), ``block`` PARTP bases matched by
    chance, the rest of the PARTP bases soft-clipped; its mate in ALK."""
    from toolkit import revcomp

    partp = revcomp(toy.seq["chr4"][4120:4150])
    rec = toy.fragment(name, [("chr2", 20080, "+", 100)], [("chr2", 19900, "-", 100)])[0]
    rec.query_sequence = toy.seq["chr2"][20080:20150] + partp
    rec.cigartuples = [(0, 70), (gap, 1), (0, block), (4, 30 - block - (1 if gap == 1 else 0))]
    rec.query_qualities = pysam.qualitystring_to_array("I" * 100)


def test_a_few_partner_bases_after_an_indel_at_a_clip_are_clip(tmp_path):
    # minimap2's 14S4M1D57M / 57M1I4M14S: partner bases matched by chance a base past the
    # exon, bridged to it by a one-base gap; the clip starts at the exon's edge (seed 31337
    # capture EEF1A1::ETV6 was one base off). The decoy: a block of 6 bases after the gap
    # is alignment, and the clip stays where it is
    from imtfusion.evidence import clip_geometry

    toy = junction_toy(0, 3)
    for i in range(3):
        _clipped_after_a_gap(toy, f"d{i}x", 2, 4)
    for i in range(2):
        _clipped_after_a_gap(toy, f"i{i}x", 1, 3)
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150") and c.precision == "exact"
    assert {"d0x", "d1x", "d2x", "i0x", "i1x"} <= c.split_fragments
    assert clip_geometry([(4, 14), (0, 4), (2, 1), (0, 57)], 100, 162) == (18, 0, 105, 162)
    assert clip_geometry([(0, 57), (1, 1), (0, 4), (4, 14)], 100, 161) == (0, 19, 100, 157)
    assert clip_geometry([(4, 14), (0, 6), (2, 1), (0, 57)], 100, 164) == (14, 0, 100, 164)  # alignment
    assert clip_geometry([(0, 4), (2, 1), (0, 57)], 100, 162) == (0, 0, 100, 162)  # no clip: alignment


def test_unmapped_reads_of_a_junction_that_kept_intron_bases_count(tmp_path):
    # EML4::ALK often keeps ALK intron bases before exon 20; an end-to-end aligner (HISAT2)
    # leaves such junction reads unmapped beside their mates in ALK. Here PARTP exon 2 joins
    # 40 bases of ALK intron 2 before exon 3 (chr2:20151-20190, minus strand): reads with 10-12
    # exon bases (their ALK end lies in no transcript) and reads with 60 (it does)
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.unmapped_pair(f"u{i}", [("chr4", 4100 + i, "+", 50 - i), ("chr2", 20140 - i, "-", 50 + i)],
                          ("chr2", 19950 - 3 * i, "+", 100))
    for i in range(2):  # the other strand, the ALK part first
        toy.unmapped_pair(f"w{i}", [("chr2", 20090 + i, "+", 100 - i), ("chr4", 4150 - 30 + i, "-", 30 - i)],
                          ("chr2", 19900 - 3 * i, "+", 100))
    # look-alikes it must not count: pre-mRNA of ALK (intron and exon, contiguous), and
    # intron bases beside bases of no gene
    toy.unmapped_pair("x0", [("chr2", 20100, "-", 100)], ("chr2", 19940, "+", 100))
    toy.unmapped_pair("x1", [("chr3", 12000, "+", 40), ("chr2", 20140, "-", 50)], ("chr2", 19945, "+", 100))
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20190")
    assert c.split_fragments == {"u0", "u1", "u2", "w0", "w1"}
    assert [f.fusion for f in result.called] == ["PARTP::ALK"]


def test_without_a_fasta_the_intron_flanks_are_not_used(tmp_path, monkeypatch):
    # the decoy of the intron flanks: without a FASTA the pile-up spells an intron from the
    # reads aligned there, and a junction read whose partner bases the aligner wrote as
    # mismatches into the intron (STAR's defaults, seed 20240611 BP14 TPM4::ALK: 67M8S, nM 9)
    # makes it spell partner bases: every other junction read would match them and its
    # junction move into the intron (BP14's moved 19 bases; the call 3 bases off)
    from imtfusion.annotation import load_annotation
    from imtfusion.targets import ContigMap, resolve_targets
    import imtfusion.pipeline as pipeline
    from imtfusion.unmapped import TargetTranscripts
    from toolkit import revcomp

    toy = make_toy()
    annotation = load_annotation(toy.write_gtf(tmp_path / "a.gtf"))
    [locus] = resolve_targets(annotation, ["ALK"], 1000, ContigMap.build(annotation.contigs, toy.contigs), "toy")
    spelled = toy.seq["chr2"][:20150] + revcomp(toy.seq["chr4"][4122:4150])[:20] + "N" * 20000
    fetch = lambda chrom, s, e: spelled[s:e] if chrom == "chr2" else ""  # noqa: E731
    read = toy.seq["chr4"][4100:4150] + revcomp(toy.seq["chr2"][20100:20150])  # PARTP exon 2 | ALK exon 3
    with_flanks = TargetTranscripts([locus], annotation, fetch, flanks=True).clip_of("u", read, 12)
    without = TargetTranscripts([locus], annotation, fetch).clip_of("u", read, 12)
    assert with_flanks.end.pos == 20169 and without.end.pos == 20149  # 20 bases in, or the exon's edge
    # and a call without a FASTA builds them so, with a FASTA with its flanks
    built = []
    real = pipeline.TargetTranscripts
    # (the unmapped-read scan's: it passes its copies; the calls' copies build theirs too)
    monkeypatch.setattr(pipeline, "TargetTranscripts",
                        lambda *a, **k: ("copies" in k and built.append(k.get("flanks"))) or real(*a, **k))
    toy = junction_toy(2, 2)
    toy.unmapped_pair("u0", [("chr4", 4100, "+", 50), ("chr2", 20100, "-", 50)], ("chr2", 19950, "+", 100))
    run(tmp_path, toy, fasta=False)
    (tmp_path / "s.bam").unlink()
    run(tmp_path, toy, fasta=True)
    assert built and built[0] is False and built[-1] is True


def test_unmapped_reads_of_a_5prime_target_that_kept_intron_bases_count(tmp_path):
    # ETV6 exon 2 (chr3:6001-6150, plus strand), 30 bases of intron 2, then PARTP exon 3
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.unmapped_pair(f"u{i}", [("chr3", 6110 + i, "+", 70 - i), ("chr4", 7000, "+", 30 + i)],
                          ("chr3", 3050 + 3 * i, "+", 100))
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "ETV6::PARTP")
    assert (c.end5.label(), c.end3.label()) == ("chr3:6180", "chr4:7001")
    assert c.split_fragments == {"u0", "u1", "u2"}
    (tmp_path / "s.bam").unlink()
    # without the intron bases the same reads' junction is the exon's end, as before
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.unmapped_pair(f"u{i}", [("chr3", 6110 + i, "+", 40 - i), ("chr4", 7000, "+", 60 + i)],
                          ("chr3", 3050 + 3 * i, "+", 100))
    [c] = by_fusion(run(tmp_path, toy), "ETV6::PARTP")
    assert (c.end5.label(), c.end3.label()) == ("chr3:6150", "chr4:7001")


def test_junction_probes_find_reads_across_the_junction_on_either_strand():
    from imtfusion.junctions import junction_probes, reads_spanning
    from imtfusion.model import UnmappedMate
    from toolkit import revcomp

    left, right = "ACGTTGCAAGGCTTACCGATGGACT", "TTGACCATGGCATCGATCCGTAGCA"
    probes = junction_probes(left, right)
    reads = [
        UnmappedMate("fwd", "GGG" + left[-12:] + right[:20], "c", 0),
        UnmappedMate("rev", revcomp(left[-15:] + right[:15]) + "AAAA", "c", 0),
        UnmappedMate("short", left[-8:] + right[:22], "c", 0),  # fewer than 10 bases of the left side
        UnmappedMate("other", left + left, "c", 0),
    ]
    assert reads_spanning(probes, reads) == {"fwd", "rev"}


def test_unmapped_reads_turn_mates_into_an_exact_junction(tmp_path):
    toy = make_toy()
    add_background(toy)
    discordant(toy, 3)
    for i in range(2):
        toy.unmapped_pair(f"u{i}", [("chr4", 4100 + i, "+", 50 - i), ("chr2", 20100 - i, "-", 50 + i)],
                          ("chr2", 19950 - 3 * i, "+", 100))
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.precision == "exact" and (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert {"u0", "u1"} <= c.split_fragments and c.discordant_pairs == 3


@pytest.mark.parametrize("strand", ["+", "-"])
def test_unplaced_unmapped_reads_are_scanned_for_junctions(tmp_path, strand):
    toy = make_toy()
    add_background(toy)
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    # single-end junction reads the aligner left unmapped without any position; the ALK
    # part spans ALK exons 3 and 4 (spliced), which only the transcript sequence explains
    for i in range(3):
        parts = [("chr4", 4120 + i, "+", 30 - i), ("chr2", 20000, "-", 150), ("chr2", 15100 - i, "-", 20 + i)]
        if strand == "-":
            parts = [(c, s, "-" if st == "+" else "+", n) for c, s, st, n in reversed(parts)]
        toy.unplaced(f"u{i}", parts)
    result = run(tmp_path, toy, known=known)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.split_fragments == {"u0", "u1", "u2"}
    (tmp_path / "s.bam").unlink()
    off = run(tmp_path, toy, known=known, scan_unmapped="false")
    assert not by_fusion(off, "PARTP::ALK")


def test_clips_cut_a_base_off_by_a_mismatch_are_placed_at_the_junction(tmp_path):
    toy = make_toy()
    add_background(toy)
    discordant(toy, 3)
    # the first ALK base (transcript order) after the junction is misread in every junction
    # read, so the aligner clips it with the PARTP bases: clips end at 20148, not 20149
    for i in range(3):
        [rec] = toy.read_records(f"c{i}", JUNCTION, only=1)
        seq = list(rec.query_sequence)
        # stored on the plus strand: ALK bases first, then the reverse-complemented PARTP clip
        k = 70 - 1  # the ALK base at 20149 is the last aligned one
        seq[k] = {"A": "C", "C": "G", "G": "T", "T": "A"}[seq[k]]
        rec.query_sequence = "".join(seq)
        rec.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
        rec.cigartuples = [(0, 69), (4, 31)]
        rec.reference_start = 20080
        toy.records.append(rec)
        toy.fragment(f"m{i}", [("chr2", 19990 - i, "+", 100)], None)
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert {"c0", "c1", "c2"} <= c.split_fragments


def test_a_clip_with_a_sequencing_error_does_not_turn_away_the_shorter_clips_of_its_junction():
    from imtfusion.model import Breakend, ClippedRead
    from imtfusion.rescue import group_clips

    # hybrid capture at 1000x: many 25-base clips of one junction, the first by name with a
    # sequencing error, and 15-base clips of the same junction (too short for a mismatch)
    end = Breakend("chr2", 57508, "L")
    partner = "GTCTCTGCAGCCTTCATAGTTCTGG"
    clips = [ClippedRead("a0", end, partner[:14] + "T" + partner[15:], 50, 60)]
    clips += [ClippedRead(f"b{i}", end, partner, 50, 60) for i in range(5)]
    clips += [ClippedRead(f"c{i}", end, partner[:15], 50, 60) for i in range(3)]
    [(at, group)] = group_clips(clips)
    assert at == end and {c.fragment for c in group} == {"a0", "b0", "b1", "b2", "b3", "b4", "c0", "c1", "c2"}


def unpair(records):
    """The records as minimap2 -ax splice writes two FASTQs: each read unpaired, no mate fields."""
    for rec in records:
        rec.flag &= ~(0x1 | 0x2 | 0x8 | 0x20 | 0x40 | 0x80)
        rec.next_reference_id, rec.next_reference_start = -1, -1


def unpaired_toy(etv6_start: int, etv6_step: int, etv6_mate: int) -> "Toy":
    """The toy genes with 12 wild-type pairs in ALK and 12 in ETV6, written unpaired."""
    toy = make_toy()
    for i in range(12):
        unpair(toy.fragment(f"wtA{i}", [("chr2", 10000 + 10 * i, "+", 100)], [("chr2", 10150 + 10 * i, "-", 100)]))
        unpair(toy.fragment(f"wtE{i}", [("chr3", etv6_start + etv6_step * i, "+", 100)],
                            [("chr3", etv6_start + etv6_mate + etv6_step * i, "-", 100)]))
    return toy


def test_reads_of_a_bam_that_lost_its_pairing_are_paired_by_name_with_the_known_partner(tmp_path):
    # every fragment's reads written unpaired: three junction reads clipped in ALK and four
    # fragments with one read in PARTP and the other in ALK (mates the BAM cannot name)
    toy = unpaired_toy(2000, 10, 150)
    for i in range(3):
        unpair(toy.fragment(f"c{i}", JUNCTION, [("chr2", 19990 - i, "+", 100)], only1=1))
    for i in range(4):
        unpair(toy.fragment(f"d{i}", [("chr4", 4000 + 7 * i, "+", 100)], [("chr2", 20030 + 5 * i, "+", 100)]))
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    result = run(tmp_path, toy, known=known)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.split_reads == 3 and c.discordant_fragments == {"d0", "d1", "d2", "d3"} and c.fragments == 7
    assert any("paired by name" in n for n in result.notes)
    # without the known partner the junction the clipped reads make names it: its reads
    # are paired by name then (minimap2's EEF1A1::ETV6, a partner no list holds)
    (tmp_path / "s.bam").unlink()
    found = run(tmp_path, toy)
    [c] = by_fusion(found, "PARTP::ALK")
    assert c.split_reads == 3 and c.discordant_fragments == {"d0", "d1", "d2", "d3"}
    assert any("partner genes the junction reads found (PARTP)" in n for n in found.notes)
    # the junction reads alone, without the pairs (the decoy: a junction of one molecule,
    # its reads starting together, no UMIs): nothing pairs with them, too few to call
    toy = unpaired_toy(2000, 10, 150)
    for i in range(3):
        unpair(toy.fragment(f"c{i}", JUNCTION, [("chr2", 19990 - i, "+", 100)], only1=1))
    (tmp_path / "s.bam").unlink()
    alone = run(tmp_path, toy)
    [c] = [k for k in alone.called + alone.discarded if k.fusion == "PARTP::ALK"]
    assert c.split_reads == 3 and c.discordant_pairs == 0 and not by_fusion(alone, "PARTP::ALK")


def test_reads_of_a_bam_that_lost_its_pairing_are_paired_by_name_across_two_target_loci(tmp_path):
    # ETV6 (exon 2) joined to ALK (exon 3), both targets: four fragments with one read in
    # each, written unpaired; no known-partner locus names them, the other target's does
    toy = unpaired_toy(3000, 5, 90)
    for i in range(3):
        unpair(toy.fragment(f"s{i}", [("chr3", 6090, "+", 60), ("chr2", 20110, "-", 40)],
                            [("chr2", 20000 + 7 * i, "+", 100)]))
    for i in range(4):
        unpair(toy.fragment(f"d{i}", [("chr3", 6000 + 9 * i, "+", 100)], [("chr2", 20030 + 5 * i, "+", 100)]))
    # the decoy: a wild-type ETV6 pair, both reads in the ETV6 locus, is no discordant pair
    unpair(toy.fragment("wt", [("chr3", 6000, "+", 100)], [("chr3", 9000, "-", 100)]))
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "ETV6::ALK")
    assert c.discordant_fragments - c.split_fragments == {"d0", "d1", "d2", "d3"}
    assert "wt" not in c.discordant_fragments and any("paired by name" in n for n in result.notes)


def test_unplaced_reads_of_a_umi_panel_are_scanned_even_with_chimeric_alignments(tmp_path):
    # STAR's chimeric mode: three junction fragments written as split reads with SA tags,
    # and two more molecules (other UMIs) whose reads it left unmapped without a position
    toy = make_toy()
    add_background(toy)
    for i, umi in enumerate(("ACGTACGT", "TTGCAGCA", "GATCCTAG")):
        toy.fragment(f"s{i}_{umi}", JUNCTION, [("chr2", 19990 - 7 * i, "+", 100)])
    for i, umi in enumerate(("CAGTTGAC", "GGCATTCA")):
        toy.unplaced(f"u{i}_{umi}", [("chr4", 4110 + i, "+", 40 - i), ("chr2", 20080, "-", 60)])
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.molecules == 5 and {"u0_CAGTTGAC", "u1_GGCATTCA"} <= c.split_fragments
    # the same BAM without UMIs: an aligner with chimeric detection has aligned what it could
    for rec in toy.records:
        rec.query_name = rec.query_name.split("_")[0]
    (tmp_path / "s.bam").unlink()
    [c] = by_fusion(run(tmp_path, toy), "PARTP::ALK")
    assert c.split_fragments == {"s0", "s1", "s2"}


def test_junction_reads_soft_clipped_in_the_known_partner_count(tmp_path):
    # STAR's defaults and HISAT2 clip the target side of a junction read whose mate lies
    # in the partner: three molecules read only in PARTP, 50 ALK bases clipped off each
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.fragment(f"p{i}", [("chr2", 20100 - i, "+", 50 + i), ("chr4", 4100 + i, "-", 50 - i)],
                     [("chr4", 3950 + 5 * i, "+", 100)], only1=1)
    # the decoy beside them: PARTP reads whose clips are PART1 bases, not ALK's
    for i in range(3):
        toy.fragment(f"x{i}", [("chr1", 8000 - i, "+", 50 + i), ("chr4", 4100 + i, "-", 50 - i)],
                     [("chr4", 3960 + 5 * i, "+", 100)], only1=1)
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    result = run(tmp_path, toy, known=known)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.split_fragments == {"p0", "p1", "p2"} and c.molecules == 3
    assert not by_fusion(result, "PART1::ALK")
    # not a known partner: its reads are not read, nothing is called from them
    (tmp_path / "s.bam").unlink()
    alone = run(tmp_path, toy)
    assert not by_fusion(alone, "PARTP::ALK")
    # the partner-side clips of a junction that a split read makes (chimeric alignments in
    # the BAM: this scan is off) count through the second pass, as before
    (tmp_path / "s.bam").unlink()
    toy.fragment("sa", JUNCTION, [("chr2", 19990, "+", 100)])
    split = run(tmp_path, toy, known=known)
    [c] = by_fusion(split, "PARTP::ALK")
    assert c.split_fragments == {"sa", "p0", "p1", "p2"}


def test_a_clip_the_aligner_extended_past_a_rescued_junction_counts_for_it(tmp_path):
    import pysam

    # no split alignments (STAR's defaults): the junction is the rescue's, from three
    # clipped reads and three mate pairs; a fourth molecule's read was aligned 20 bases
    # past the junction, PARTP bases on ALK's intron through mismatches, the last 10
    # clipped: too short a clip for a consensus of its own, it must still count
    toy = junction_toy(3, 3)
    [ext, _] = toy.fragment("e0", JUNCTION, [("chr2", 19980, "+", 100)], only1=1)
    assert ext.cigarstring == "70M30S" and ext.reference_start == 20080
    ext.cigarstring = "90M10S"
    # the decoy beside it: a read of ALK's own intron past the exon, 10 other bases clipped
    seq = toy.bases(("chr2", 20080, "+", 90)) + "TTTTTTTTTT"
    [own, _] = toy.fragment("o0", [("chr2", 20080, "+", 90)], [("chr2", 19970, "+", 100)])
    own.query_sequence, own.cigarstring = seq, "90M10S"
    own.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert "e0" in c.split_fragments and "o0" not in c.split_fragments


def test_an_unmapped_junction_read_beside_its_mate_an_intron_upstream_in_the_partner_counts(tmp_path):
    # HISAT2: the junction read has 15 ALK bases (too few to place it by themselves) and
    # lies unmapped beside its mate in PARTP exon 1, 3 kb before the breakpoint (beyond
    # the 2 kb the second pass reads around the partner's breakpoint itself)
    toy = junction_toy(3, 3)
    for i in range(2):
        toy.unmapped_pair(f"v{i}", [("chr4", 4100 - 5 * i, "+", 50 + 5 * i), ("chr2", 20135, "-", 15)],
                          ("chr4", 1050 + 10 * i, "+", 100))
    # the decoy beside them: PARTP exon 2 into 15 bases of PART1, beside a mate in exon 1
    toy.unmapped_pair("y0", [("chr4", 4100, "+", 50), ("chr1", 8000, "-", 15)], ("chr4", 1040, "+", 100))
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    result = run(tmp_path, toy, known=known)
    [c] = by_fusion(result, "PARTP::ALK")
    assert {"v0", "v1"} <= c.split_fragments and "y0" not in c.split_fragments
    assert {"v0", "v1"} <= c.unmapped_fragments
