"""Calls without a FASTA from a BAM without chimeric alignments: clips placed on the
exon boundaries of genes whose reads spell their bases (one pass of the BAM), and
target bases matched through a misread base or an exon end no read covers.

Uses the toy genome of test_calling.py: PARTP (chr4, +) exon 2 ends at 4149; ALK
(chr2, -) exon 3 starts (transcript order) at 20149.
"""

from __future__ import annotations

from test_calling import TARGETS, add_background, by_fusion, make_toy
from test_precision import copy_into_chr5, paralog_toy
from imtfusion.params import CallParameters
from imtfusion.pipeline import run_sample

KNOWN_PARTP = "target\tfusion\tgene5\tgene3\ttumour_types\tsource\nALK\tPARTP::ALK\tPARTP\tALK\ttest\ttest\n"


def run(tmp_path, toy, known=None, **params):
    params.setdefault("min_fragments", 2)
    bam = toy.write_bam(tmp_path / "s.bam")
    gtf = toy.write_gtf(tmp_path / "a.gtf")
    return run_sample(bam, gtf, "S1", targets=TARGETS, params=CallParameters.from_mapping(params), known_partners=known)


def partp_expressed(toy, n=6):
    """PARTP's own transcripts: exon 2 spliced to exon 3, so reads spell exon 2's end."""
    for i in range(n):
        toy.spliced(f"p{i}", "chr4", [(4090 + 5 * i, 4150), (7000, 7040 + 5 * i)])


def single_end_junction_clips(toy, n=4):
    """Single-end ALK-aligned junction reads, the PARTP bases soft-clipped; no mate anywhere."""
    for i in range(n):
        toy.fragment(f"clip{i}", [("chr4", 4115 + i, "+", 35 - i), ("chr2", 20085, "-", 65)], only1=1)


def test_clips_are_placed_on_a_novel_partner_whose_reads_spell_them(tmp_path):
    toy = make_toy()
    add_background(toy)
    partp_expressed(toy)
    single_end_junction_clips(toy)
    result = run(tmp_path, toy)  # PARTP is no known partner of ALK in the shipped table
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.precision == "exact" and c.clipped_fragments == {f"clip{i}" for i in range(4)} and not c.known
    assert any("without a FASTA, the whole BAM was read" in n and "1 gene(s)" in n for n in result.notes)
    (tmp_path / "s.bam").unlink()
    off = run(tmp_path, toy, partner_scan="no")
    assert not by_fusion(off, "PARTP::ALK")
    assert not any("whole BAM was read" in n for n in off.notes)


def test_reads_spelling_the_clip_away_from_an_exon_boundary_place_nothing(tmp_path):
    # decoy: the clipped bases are copied into the middle of a PART1 exon, which reads cover;
    # PARTP itself has no reads, so nothing spells an exon boundary that continues the clip
    toy = make_toy()
    seq = list(toy.seq["chr1"])
    seq[11_100:11_135] = toy.seq["chr4"][4115:4150]
    toy.seq["chr1"] = "".join(seq)
    add_background(toy)
    for i in range(6):
        toy.fragment(f"q{i}", [("chr1", 11_060 + 5 * i, "+", 100)])
    single_end_junction_clips(toy)
    result = run(tmp_path, toy)
    assert any("whole BAM was read" in n and "1 gene(s)" in n for n in result.notes)  # PART1's reads
    assert not [c for c in result.called if "ALK" in c.fusion]


def test_a_partner_and_its_pseudogene_both_spelling_the_clip_go_to_the_partner(tmp_path):
    toy = paralog_toy()
    copy_into_chr5(toy, 75_000, "chr4", 4080, 4150)  # PARTPP copies the end of PARTP exon 2
    toy.add_gene("PARTPP", "chr5", "+", [(74_900, 75_070), (80_000, 80_100)], coding=False,
                 gene_type="unprocessed_pseudogene")
    add_background(toy)
    partp_expressed(toy)
    for i in range(6):  # the pseudogene is transcribed too
        toy.spliced(f"pp{i}", "chr5", [(75_020 + 5 * i, 75_070), (80_000, 80_050)])
    single_end_junction_clips(toy)
    result = run(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert not [k for k in result.called if k.gene5.name == "PARTPP"]


def _misread(seq: str, k: int) -> str:
    return seq[:k] + {"A": "C", "C": "G", "G": "T", "T": "A"}[seq[k]] + seq[k + 1:]


def test_unmapped_junction_reads_match_through_a_misread_base_and_an_exon_end_no_read_covers(tmp_path):
    toy = make_toy()
    add_background(toy)
    partp_expressed(toy)
    # ALK exon 3 is read only up to 20140: its last ten bases (transcript order: its first)
    # are spelled by the junction reads alone, which the aligner left unmapped
    for i in range(9):
        toy.fragment(f"a{i}", [("chr2", 20000 + 5 * i, "+", 100)])
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    for i in range(3):
        toy.unplaced(f"u{i}", [("chr4", 4110 + i, "+", 40 - i), ("chr2", 20050 - i, "-", 100 + i)])
    # u1's ALK bases have a sequencing error 15 bases from the junction
    [u1] = [r for r in toy.records if r.query_name == "u1"]
    u1.query_sequence = _misread(u1.query_sequence, 39 + 15)
    u1.query_qualities = [40] * len(u1.query_sequence)
    result = run(tmp_path, toy, known=known)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.split_fragments == {"u0", "u1", "u2"}


def test_a_seed_is_found_at_any_offset_of_the_aligned_bases_and_never_in_a_soft_clip(tmp_path):
    import pysam

    from imtfusion.evidence import reads_spelling

    toy = make_toy()
    chr3 = toy.seq["chr3"]
    seed = chr3[5_000:5_020]
    for k in range(0, 81):  # the seed at every offset of a 100-base read
        toy.fragment(f"r{k}", [("chr3", 5_000 - k, "+", 100)])
    # the same bases soft-clipped off a read aligned elsewhere: not where they come from
    toy.fragment("clipped", [("chr3", 5_000, "+", 20), ("chr1", 3_000, "+", 80)], only1=1)
    toy.fragment("other", [("chr1", 6_000, "+", 100)])
    with pysam.AlignmentFile(str(toy.write_bam(tmp_path / "s.bam"))) as bam:
        found = reads_spelling(bam, [seed], 10**6)
        assert found.complete and found.records == 83
        assert sorted(found.stretches) == sorted(("chr3", 5_000 - k, 5_100 - k) for k in range(81))
        capped = reads_spelling(bam, [seed], 10)
        assert not capped.complete and capped.records == 10


def exonic_junction_toy(homology: bool):
    """PARTP exon 2 cut after 4119 joined to ALK exon 3 cut at 20129 (both inside the exons).
    With ``homology`` the two PARTP bases after the cut are the two ALK bases at it, so the
    junction may sit anywhere in them (the 3' rule puts it at chr4:4122 / chr2:20128)."""
    toy = make_toy()
    if homology:
        seq = list(toy.seq["chr4"])
        seq[4120:4122] = toy.bases(("chr2", 20128, "-", 2))
        toy.seq["chr4"] = "".join(seq)
    add_background(toy)
    for i in range(3):  # split exactly at the cut as aligned (the shared bases went to ALK)
        toy.fragment(f"j{i}", [("chr4", 4060 + i, "+", 60 - i), ("chr2", 20090, "-", 40)],
                     [("chr2", 20000 + 3 * i, "+", 100)])
    return toy


def call_both(tmp_path, toy):
    from test_calling import call

    without = call(tmp_path, toy, min_fragments=2)
    (tmp_path / "s.bam").unlink()
    return without, call(tmp_path, toy, fasta=True, min_fragments=2)


def test_without_a_fasta_an_exonic_junction_follows_the_3_prime_rule_as_the_other_reads_spell_it(tmp_path):
    toy = exonic_junction_toy(homology=True)
    partp_expressed(toy)  # PARTP's own reads spell the genome past the cut
    without, with_fasta = call_both(tmp_path, toy)
    [a] = by_fusion(without, "PARTP::ALK")
    [b] = by_fusion(with_fasta, "PARTP::ALK")
    # the 3' rule past the 2 bases made equal (and any that match by chance after them)
    assert (a.end5.label(), a.end3.label()) == (b.end5.label(), b.end3.label())
    assert a.end5.pos + 1 >= 4122 and a.homology == b.homology >= 2


def test_a_junction_read_aligned_past_its_junction_does_not_make_homology(tmp_path):
    # decoy: no homology in the genome and no PARTP reads past the cut; one junction read's
    # PARTP record runs 2 bases past it with 2 mismatches (it spells the ALK bases there)
    toy = exonic_junction_toy(homology=False)
    recs = toy.fragment("past", [("chr4", 4062, "+", 58), ("chr2", 20088, "-", 42)],
                        [("chr2", 20010, "+", 100)])
    partp_rec = next(r for r in recs if r.reference_name == "chr4")
    assert partp_rec.cigartuples == [(0, 58), (4, 42)]  # the primary record holds the whole read
    partp_rec.cigartuples = [(0, 60), (4, 40)]  # the same bases, aligned 2 further
    without, with_fasta = call_both(tmp_path, toy)
    [a] = by_fusion(without, "PARTP::ALK")
    [b] = by_fusion(with_fasta, "PARTP::ALK")
    assert (a.end5.label(), a.end3.label()) == (b.end5.label(), b.end3.label()) == ("chr4:4120", "chr2:20130")


def thinly_read_partner_toy(tmp_path, covered: int):
    """Single-end ALK-aligned junction reads whose 40 PARTP bases are soft-clipped; PARTP
    (a known partner here) is read only over the last ``covered`` bases of its exon 2."""
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        toy.spliced(f"p{i}", "chr4", [(4150 - covered, 4150), (7000, 7080)])
    for i in range(3):
        toy.fragment(f"clip{i}", [("chr4", 4110 + i, "+", 40 - i), ("chr2", 20090, "-", 60)], only1=1)
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    return run(tmp_path, toy, known=known, partner_scan="no")


def test_a_long_clip_is_placed_on_the_bases_the_pile_up_knows_at_a_thinly_read_exon_end(tmp_path):
    # 24 bases of PARTP are spelled by its reads, the clips have 38-40: compared on the 24
    result = thinly_read_partner_toy(tmp_path, covered=24)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.clipped_fragments == {"clip0", "clip1", "clip2"}


def test_a_clip_is_not_placed_on_fewer_known_bases_than_a_seed(tmp_path):
    # decoy: 15 known bases would match by chance among many exon ends: nothing placed
    result = thinly_read_partner_toy(tmp_path, covered=15)
    assert not by_fusion(result, "PARTP::ALK")


def gap_in_alk_toy(tmp_path, teacher: bool):
    """ALK exon 3 is read everywhere but [20120, 20136): no aligned read spells those 16
    bases. Two unmapped single-end PARTP::ALK junction reads whose ALK part (30 bases,
    20120-20149) starts in that gap; with ``teacher`` a third whose ALK part (70 bases)
    is long enough to be matched around it."""
    toy = make_toy()
    add_background(toy)
    partp_expressed(toy)
    for i in range(6):
        toy.fragment(f"a{i}", [("chr2", 20020 + i, "+", 100 - i)])  # up to 20119
        toy.spliced(f"e{i}", "chr2", [(20136, 20150), (26000, 26060 + i)])  # 20136-20149 and exon 4
    for i in range(2):
        toy.unplaced(f"short{i}", [("chr4", 4080 + i, "+", 70 - i), ("chr2", 20120, "-", 30)])
    if teacher:
        toy.unplaced("long", [("chr4", 4120, "+", 30), ("chr2", 20080, "-", 70)])
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    return run(tmp_path, toy, known=known)


def test_unmapped_reads_are_matched_where_other_unmapped_junction_reads_spell_the_target(tmp_path):
    result = gap_in_alk_toy(tmp_path, teacher=True)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.split_fragments == {"long", "short0", "short1"}


def test_without_a_read_spelling_the_gap_its_reads_are_not_matched(tmp_path):
    # decoy: nothing spells the 16 bases, so the short reads' ALK part matches nothing
    result = gap_in_alk_toy(tmp_path, teacher=False)
    assert not by_fusion(result, "PARTP::ALK")
    assert not [c for c in result.discarded if c.fusion == "PARTP::ALK"]


def test_unmapped_junction_reads_next_to_mates_in_a_known_partner_are_counted(tmp_path):
    # HISAT2 / STAR defaults: the read across the junction unmapped, placed at its mate in
    # PARTP (a known partner), outside the ALK locus; the decoy beside it: an unmapped
    # PARTP read there that is not a junction read (no ALK bases) adds nothing
    toy = make_toy()
    add_background(toy)
    partp_expressed(toy)
    for i in range(6):  # ALK exon 3 is read (its bases spelled without a FASTA)
        toy.fragment(f"a{i}", [("chr2", 20040 + 2 * i, "+", 110 - 2 * i)])
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    for i in range(3):
        toy.unmapped_pair(f"j{i}", [("chr4", 4100 + i, "+", 50 - i), ("chr2", 20100, "-", 50 + i)],
                          ("chr4", 3000 + 20 * i, "+", 100))
    toy.unmapped_pair("plain", [("chr4", 4020, "+", 100)], ("chr4", 3100, "+", 100))
    result = run(tmp_path, toy, known=known)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.split_fragments == {"j0", "j1", "j2"}
    (tmp_path / "s.bam").unlink()
    off = run(tmp_path, toy, known=known, scan_unmapped="no")
    assert not by_fusion(off, "PARTP::ALK")


def test_a_call_whose_junction_reads_cannot_be_placed_without_a_fasta_says_exon_level(tmp_path):
    # PARTP is read nowhere near its exon 2 end, so without a FASTA the junction reads'
    # soft clips cannot be placed; the mates still make the call, which says why it is
    # not exact; with the FASTA the same BAM gives the exact junction
    from test_calling import call

    toy = make_toy()
    add_background(toy)
    for i in range(3):  # ALK-aligned junction reads, the PARTP bases soft-clipped
        toy.fragment(f"clip{i}", [("chr4", 4110 + i, "+", 40 - i), ("chr2", 20090, "-", 60)],
                     [("chr2", 19950 + 7 * i, "+", 100)], only1=1)
    for i in range(3):  # mate pairs: one mate in PARTP exon 2's start, one in ALK exon 3
        toy.fragment(f"m{i}", [("chr4", 4000 + 3 * i, "+", 60)], [("chr2", 20000 + 5 * i, "+", 100)])
    [c] = by_fusion(call(tmp_path, toy, min_fragments=3, partner_scan="no"), "PARTP::ALK")
    assert c.precision == "exon-level (no FASTA)"
    (tmp_path / "s.bam").unlink()
    [e] = by_fusion(call(tmp_path, toy, fasta=True, min_fragments=3), "PARTP::ALK")
    assert e.precision == "exact" and (e.end5.label(), e.end3.label()) == ("chr4:4150", "chr2:20150")
    # mates only, no junction read at all: approximate, as with a FASTA
    (tmp_path / "s.bam").unlink()
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        toy.fragment(f"m{i}", [("chr4", 4000 + 3 * i, "+", 60)], [("chr2", 20000 + 5 * i, "+", 100)])
    [a] = by_fusion(call(tmp_path, toy, min_fragments=3), "PARTP::ALK")
    assert a.precision == "approximate"
