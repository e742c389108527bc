"""The precision filters, each with a BAM built here that it must discard beside one it
must keep: mismapping (paralogs and pseudogenes, with and without the FASTA),
promiscuous breakpoints, one call per gene pair and junction family, and discordant
mates that cannot count (poly-G, low MAPQ).

The toy genome is the one of test_calling.py (see its docstring) plus, where a test
needs it, a paralog contig chr5.
"""

from __future__ import annotations

import pytest

from test_calling import PARTP_ALK_MATE, PARTP_ALK_READ, add_background, by_fusion, call, make_toy
from toolkit import revcomp


def discarded(result, name):
    return [c for c in result.discarded if c.fusion == name]


def real_partp_alk(toy, n: int = 4) -> None:
    """A true PARTP::ALK fusion (PARTP exon 2 end :: ALK exon 3 start) with n fragments."""
    for i in range(n):
        toy.fragment(f"true{i}", PARTP_ALK_READ, [("chr2", 20000 + 3 * i, "+", 100)])


def paralog_toy():
    """PARAL on chr5 (+): a transcribed paralog whose exon 2 is identical to the start of
    ALK exon 3 in transcript orientation, 60 kb after its exon 1. A read of PARAL's own
    exon 1 -> exon 2 splice may then be aligned as PARAL exon 1 :: ALK exon 3."""
    toy = make_toy()
    toy.contigs["chr5"] = 90_000
    import random

    from toolkit import random_seq

    toy.seq["chr5"] = random_seq(random.Random(11), 90_000)
    toy._header["SQ"].append({"SN": "chr5", "LN": 90_000})
    seq = list(toy.seq["chr5"])
    seq[61_000:61_150] = revcomp(toy.seq["chr2"][20_000:20_150])  # ALK exon 3 as PARAL reads it
    toy.seq["chr5"] = "".join(seq)
    toy.add_gene("PARAL", "chr5", "+", [(1_000, 1_200), (61_000, 61_150)])
    return toy


def copy_into_chr5(toy, start: int, chrom: str, src_start: int, src_end: int) -> None:
    """Paste the bases ``chrom[src_start:src_end]`` into chr5 at ``start`` (a pseudogene's copy)."""
    seq = list(toy.seq["chr5"])
    seq[start:start + src_end - src_start] = toy.seq[chrom][src_start:src_end]
    toy.seq["chr5"] = "".join(seq)


def paralog_reads(toy, spliced: int = 6, chimeric: int = 4) -> None:
    """PARAL transcripts: ``spliced`` reads aligned the paralog's own way, ``chimeric``
    reads of the same molecule whose exon-2 part went to ALK (identical there)."""
    for i in range(spliced):
        toy.spliced(f"par{i}", "chr5", [(1_130 + i, 1_200), (61_000, 61_030 + i)])
    for i in range(chimeric):
        toy.fragment(f"chim{i}", [("chr5", 1_140 + i, "+", 60 - i), ("chr2", 20_110, "-", 40)])


@pytest.mark.parametrize("fasta", [False, True])
def test_a_transcribed_paralog_chimera_is_mismapping_beside_a_real_fusion(tmp_path, fasta):
    toy = paralog_toy()
    add_background(toy)
    paralog_reads(toy)
    real_partp_alk(toy)
    result = call(tmp_path, toy, fasta=fasta)
    [artefact] = discarded(result, "PARAL::ALK")
    assert "mismapping" in artefact.filters
    assert artefact.mismapped_reads == artefact.tested_reads > 0
    [real] = by_fusion(result, "PARTP::ALK")
    assert real.mismapped_reads == 0


def test_without_reads_of_the_paralog_or_a_fasta_the_chimera_cannot_be_recognised(tmp_path):
    # nothing shows PARAL's own exon 2: neither reads spliced to it nor the genome
    toy = paralog_toy()
    add_background(toy)
    paralog_reads(toy, spliced=0)
    assert by_fusion(call(tmp_path, toy), "PARAL::ALK")


def test_an_unannotated_copy_far_from_the_end_is_found_with_the_fasta(tmp_path):
    # the same chimera, but PARAL's exon 2 is not annotated and no read is spliced to it:
    # only the copy 60 kb away (within mismap_search_window) gives it away
    toy = paralog_toy()
    toy.genes = [g for g in toy.genes if g.name != "PARAL"]
    toy.add_gene("PARAL", "chr5", "+", [(1_000, 1_200)])
    add_background(toy)
    paralog_reads(toy, spliced=0)
    real_partp_alk(toy)
    result = call(tmp_path, toy, fasta=True)
    [artefact] = discarded(result, "PARAL::ALK")
    assert "mismapping" in artefact.filters and artefact.self_similar >= 0.9
    assert by_fusion(result, "PARTP::ALK")
    (tmp_path / "s.bam").unlink()
    narrow = call(tmp_path, toy, fasta=True, mismap_search_window=20_000)
    assert by_fusion(narrow, "PARAL::ALK")  # the copy lies beyond the window searched


def pseudogene_of_partp(toy, diverged: bool = False) -> None:
    """PARTPP (chr5): a processed pseudogene whose exon copies the last 70 bases of PARTP
    exon 2 (every sixth base changed when ``diverged``: 83% identity)."""
    copy_into_chr5(toy, 75_000, "chr4", 4080, 4150)
    if diverged:
        seq = list(toy.seq["chr5"])
        for i in range(75_000, 75_070, 6):
            seq[i] = "A" if seq[i] != "A" else "C"
        toy.seq["chr5"] = "".join(seq)
    toy.add_gene("PARTPP", "chr5", "+", [(74_900, 75_070)], coding=False, gene_type="processed_pseudogene")


def pseudogene_junction_reads(toy, n: int, name: str = "pp") -> None:
    """Junction reads of ALK exon 3 whose 38 partner bases the aligner put on PARTPP
    (a supplementary record there, MAPQ 0: the bases are PARTP's as well)."""
    for i in range(n):
        toy.fragment(f"{name}{i}", [("chr5", 75_032 + i, "+", 38 - i), ("chr2", 20_088, "-", 62)],
                     [("chr2", 20_000 + 5 * i, "+", 100)], part_mapqs1=[0, 60])


def test_reads_of_a_real_fusion_on_a_pseudogene_of_the_partner_are_mismapping(tmp_path):
    # junction reads of PARTP::ALK with at most 40 PARTP bases align to PARTPP as well
    toy = paralog_toy()
    pseudogene_of_partp(toy)
    add_background(toy)
    real_partp_alk(toy, 3)
    pseudogene_junction_reads(toy, 3)
    for i in range(8):  # placed on PARTP: most of the real junction's reads
        toy.fragment(f"amb{i}", [("chr4", 4112 + i, "+", 38 - i), ("chr2", 20_088, "-", 62)],
                     [("chr2", 20_030 + 5 * i, "+", 100)], part_mapqs1=[0, 60])
    for fasta in (False, True):
        result = call(tmp_path, toy, fasta=fasta)
        [real] = by_fusion(result, "PARTP::ALK")
        assert real.mismapped_reads == 0
        [pseudo] = discarded(result, "PARTPP::ALK")
        assert "mismapping" in pseudo.filters and pseudo.mismapped_reads == pseudo.tested_reads == 3
        # the copy's reads are the gene's: counted there, and their MAPQ 0 is no multimapping
        assert pseudo.main_call == real.call_id and pseudo.split_fragments <= real.split_fragments
        assert real.split_reads == 14 and "multimapping" not in real.filters
        (tmp_path / "s.bam").unlink()


@pytest.mark.parametrize("fasta", [False, True])
def test_a_fusion_whose_partner_parts_all_went_to_a_pseudogene_is_called_on_the_gene(tmp_path, fasta):
    # no read of PARTP::ALK was aligned to PARTP: every junction read's partner part is on
    # PARTPP (minimap2 does this with TPM3::ALK and TPM3P1); one mate pair points at PARTP
    toy = paralog_toy()
    pseudogene_of_partp(toy)
    add_background(toy)
    for i in range(6):  # PARTP and its pseudogene are expressed: the pile-up spells both
        toy.fragment(f"p{i}", [("chr4", 4040 + 5 * i, "+", 100)])
        toy.fragment(f"q{i}", [("chr5", 74_960 + 5 * i, "+", 100)])
    pseudogene_junction_reads(toy, 4)
    toy.fragment("m1", [("chr4", 4000, "+", 100)], [("chr2", 20_040, "+", 100)])
    result = call(tmp_path, toy, fasta=fasta, min_fragments=3)
    [real] = by_fusion(result, "PARTP::ALK")
    assert {f"pp{i}" for i in range(4)} <= real.split_fragments
    assert (real.end5.chrom, real.end5.pos + 1) == ("chr4", 4150) and real.precision == "exact"
    # the pseudogene's junction as aligned: discarded, its reads the gene's
    [pseudo] = discarded(result, "PARTPP::ALK")
    assert pseudo.main_call == real.call_id and "pseudogene_partner" in pseudo.filters
    assert "promiscuous_breakpoint" not in real.filters


def _copy_past_its_end_toy(real: int):
    """PARTPP, whose next base past its end (chr5:75071) is the fused transcript's first ALK
    base, both genes expressed, ``real`` PARTP::ALK fragments and 4 junction reads whose
    PARTP part the aligner put on PARTPP, split a base past its end (MAPQ 0 there)."""
    toy = paralog_toy()
    pseudogene_of_partp(toy)
    seq = list(toy.seq["chr5"])
    seq[75_070] = revcomp(toy.seq["chr2"][20_149])
    toy.seq["chr5"] = "".join(seq)
    add_background(toy)
    for i in range(6):
        toy.fragment(f"p{i}", [("chr4", 4040 + 5 * i, "+", 100)])
        toy.fragment(f"q{i}", [("chr5", 74_960 + 5 * i, "+", 100)])
    real_partp_alk(toy, real)
    for i in range(4):  # split one base past the copy: chr5 to 75070 (0-based), ALK from 20148
        toy.fragment(f"pp{i}", [("chr5", 75_032 + i, "+", 39 - i), ("chr2", 20_088, "-", 61)],
                     [("chr2", 20_000 + 5 * i, "+", 100)], part_mapqs1=[0, 60])
    return toy


@pytest.mark.parametrize("fasta", [False, True])
def test_a_pseudogene_junction_split_past_the_copys_end_is_placed_at_its_end(tmp_path, fasta):
    # the decoy: the base after PARTPP's end (chr5:75071) happens to be the first ALK base
    # of the fused transcript, so the aligner splits the reads one base later, outside the
    # copy (intergenic); left there the junction escaped pseudogene_partner and, its ALK end
    # one base off the real junction's, was no rival of it: a PARTPP::ALK call (seen with
    # BWA-MEM and TPM3P1, seed 31337). Placed at the copy's end (a processed pseudogene's
    # ends are its parent's exon boundaries) it is the pseudogene's, its reads PARTP's.
    toy = _copy_past_its_end_toy(real=3)
    result = call(tmp_path, toy, fasta=fasta, min_fragments=3)
    assert not [c for c in result.called if "PARTPP" in c.fusion]
    [real] = by_fusion(result, "PARTP::ALK")
    assert (real.end5.chrom, real.end5.pos + 1, real.end3.pos + 1) == ("chr4", 4150, 20150)
    [pseudo] = discarded(result, "PARTPP::ALK")
    assert (pseudo.end5.pos + 1, pseudo.end3.pos + 1) == (75_070, 20_150)  # the copy's last base
    assert "pseudogene_partner" in pseudo.filters and pseudo.main_call == real.call_id
    assert {f"pp{i}" for i in range(4)} <= real.split_fragments


@pytest.mark.parametrize("fasta", [False, True])
def test_a_fusion_whose_partner_parts_all_went_to_a_pseudogene_split_past_its_end_is_called_on_the_gene(tmp_path, fasta):
    # seed 31337 capture BP08 (BWA-MEM): no TPM3::ALK junction read's TPM3 part went to
    # TPM3, each was split on TPM3P1 a base past the copy's end (that base is ALK's first),
    # so the split's partner end lay outside every gene and the read was not taken as the
    # clip it would be without that alignment: TPM3::ALK, 3 molecules, "not detected".
    toy = _copy_past_its_end_toy(real=0)
    toy.fragment("m1", [("chr4", 4000, "+", 100)], [("chr2", 20_040, "+", 100)])
    result = call(tmp_path, toy, fasta=fasta, min_fragments=3)
    assert not [c for c in result.called if "PARTPP" in c.fusion]
    [real] = by_fusion(result, "PARTP::ALK")
    assert (real.end5.chrom, real.end5.pos + 1, real.end3.pos + 1) == ("chr4", 4150, 20150)
    assert {f"pp{i}" for i in range(4)} <= real.split_fragments


@pytest.mark.parametrize("fasta", [False, True])
def test_a_pseudogene_junction_the_gene_does_not_spell_stays_the_pseudogenes(tmp_path, fasta):
    # the decoy: PARTPP diverged (83% identity), so the reads' partner bases are its own
    # and not PARTP's: they must not be given to PARTP, however a mate points there
    toy = paralog_toy()
    pseudogene_of_partp(toy, diverged=True)
    add_background(toy)
    for i in range(6):
        toy.fragment(f"p{i}", [("chr4", 4040 + 5 * i, "+", 100)])
        toy.fragment(f"q{i}", [("chr5", 74_960 + 5 * i, "+", 100)])
    pseudogene_junction_reads(toy, 4)
    toy.fragment("m1", [("chr4", 4000, "+", 100)], [("chr2", 20_040, "+", 100)])
    result = call(tmp_path, toy, fasta=fasta, min_fragments=3)
    assert not by_fusion(result, "PARTP::ALK")
    [copy] = discarded(result, "PARTPP::ALK")
    assert copy.split_fragments == {f"pp{i}" for i in range(4)} and "pseudogene_partner" in copy.filters


@pytest.mark.parametrize("fasta", [False, True])
def test_mates_of_a_target_fragment_placed_on_a_pseudogene_are_mismapping(tmp_path, fasta):
    # ALKPS (chr5): a processed pseudogene copying ALK exon 2 ([26000,26200), minus
    # strand); pairs of an ALK fragment (exon 3 and exon 2) whose exon-2 mate went to it
    toy = paralog_toy()
    copy_into_chr5(toy, 75_000, "chr2", 26_000, 26_200)
    toy.add_gene("ALKPS", "chr5", "-", [(75_000, 75_200)], coding=False, gene_type="processed_pseudogene")
    add_background(toy)
    for i in range(4):
        toy.fragment(f"ps{i}", [("chr2", 20_040 + 5 * i, "+", 100)], [("chr5", 75_020 + 10 * i, "-", 100)])
        toy.fragment(f"alk{i}", [("chr2", 20_040 + 5 * i, "+", 100)], [("chr2", 26_020 + 10 * i, "-", 100)])
    for i in range(4):  # a true mates-only fusion: the mates are PARTP's own sequence
        toy.fragment(f"pt{i}", [("chr4", 4000 + 10 * i, "+", 100)], [("chr2", 20040 + 5 * i, "+", 100)])
    result = call(tmp_path, toy, fasta=fasta, min_fragments=3)
    [pseudo] = [c for c in result.discarded if "ALKPS" in c.fusion]
    assert "mismapping" in pseudo.filters and pseudo.mismapped_reads == pseudo.tested_reads == 4
    [real] = by_fusion(result, "PARTP::ALK")
    assert real.precision == "approximate" and real.tested_reads == 4 and real.mismapped_reads == 0


def promiscuous_toy(dominant: bool, mates: bool = True, copies: bool = False):
    """ALK intron position 20299 (between exons [20000,20150) and [26000,26200), kept on
    the 3' side) joined by short-anchored reads (14 ALK bases) to the last base of an exon
    of PARTP, ETV6, NEIGH and PART1, three fragments each."""
    toy = make_toy()
    add_background(toy)
    partners = [("chr4", 4064), ("chr3", 6064), ("chr3", 14014), ("chr1", 5064)]
    for k, (chrom, start) in enumerate(partners):
        for i in range(3):
            toy.fragment(f"hot{k}_{i}", [(chrom, start, "+", 86), ("chr2", 20286, "-", 14)],
                         [("chr2", 20100 + 7 * i, "+", 100)])
    if dominant:
        # PARTP with long anchors on both sides, and mates on either side of the junction
        for i in range(30):  # ``copies``: PCR copies of one molecule (the same positions)
            toy.fragment(f"dom{i}", [("chr4", 4090, "+", 60), ("chr2", 20260, "-", 40)],
                         [("chr2", 20100 + (0 if copies else 3 * i), "+", 100)])
        for i in range(4 if mates else 0):
            toy.fragment(f"mates{i}", [("chr4", 4000 + 5 * i, "+", 100)], [("chr2", 20180 + 5 * i, "+", 100)])
    return toy


def test_a_breakpoint_joined_to_many_genes_is_promiscuous(tmp_path):
    result = call(tmp_path, promiscuous_toy(dominant=False), min_fragments=3)
    hot = [c for c in result.discarded if c.end3.label() == "chr2:20300"]
    assert len({c.gene5.name for c in hot}) == 4
    assert all("promiscuous_breakpoint" in c.filters for c in hot)
    assert not [c for c in result.called if c.end3.label() == "chr2:20300"]


def test_a_partner_that_dominates_the_breakpoint_with_mates_is_kept(tmp_path):
    result = call(tmp_path, promiscuous_toy(dominant=True), min_fragments=3)
    [kept] = [c for c in result.called if c.end3.label() == "chr2:20300"]
    assert kept.fusion == "PARTP::ALK" and kept.fragments >= 30 and kept.discordant_pairs == 4
    others = [c for c in result.discarded if c.end3.label() == "chr2:20300"]
    assert others and all("promiscuous_breakpoint" in c.filters for c in others)


def test_a_dominant_partner_without_mates_is_kept_by_its_molecules_not_by_copies(tmp_path):
    # anchored multiplex PCR: no mate pairs; 30 distinct molecules are independent evidence
    result = call(tmp_path, promiscuous_toy(dominant=True, mates=False), min_fragments=3)
    [kept] = [c for c in result.called if c.end3.label() == "chr2:20300"]
    assert kept.fusion == "PARTP::ALK" and kept.discordant_pairs == 0 and kept.molecules >= 30
    # the decoy: 30 PCR copies of one molecule are not
    (tmp_path / "s.bam").unlink()
    copies = call(tmp_path, promiscuous_toy(dominant=True, mates=False, copies=True), min_fragments=3)
    assert not [c for c in copies.called if c.end3.label() == "chr2:20300"]
    [dom] = [c for c in copies.discarded if c.fusion == "PARTP::ALK" and c.end3.label() == "chr2:20300"]
    assert dom.molecules == 4 and "promiscuous_breakpoint" in dom.filters  # the copies and 3 short-anchored


def test_isoforms_near_duplicates_and_mates_of_one_fusion_are_one_call(tmp_path):
    toy = make_toy()
    add_background(toy)
    real_partp_alk(toy, 8)  # main junction: PARTP exon 2 :: ALK exon 3
    for i in range(3):  # isoform: PARTP exon 1 :: ALK exon 3
        toy.fragment(f"iso{i}", [("chr4", 1140, "+", 60), ("chr2", 20110, "-", 40)], [("chr2", 20010 + i, "+", 100)])
    for i in range(3):  # an alternative donor 20 bases into PARTP exon 2 (9 bases off would merge at once)
        toy.fragment(f"near{i}", [("chr4", 4070, "+", 60), ("chr2", 20110, "-", 40)], [("chr2", 20020 + i, "+", 100)])
    for i in range(3):  # pre-mRNA mates: PARTP intron 2 :: ALK intron 3, no junction read
        toy.fragment(f"pre{i}", [("chr4", 5000 + 20 * i, "+", 100)], [("chr2", 19000 + 20 * i, "+", 100)])
    result = call(tmp_path, toy)
    [main] = by_fusion(result, "PARTP::ALK")
    assert (main.end5.label(), main.end3.label()) == ("chr4:4150", "chr2:20150")
    by_end5 = {c.end5.label(): c for c in discarded(result, "PARTP::ALK")}
    iso, near = by_end5["chr4:1200"], by_end5["chr4:4130"]
    for c in (iso, near):
        assert c.filters == ["same_event"] and c.main_call == main.call_id and c in main.isoforms
    premrna = [c for c in discarded(result, "PARTP::ALK") if c.precision == "approximate"]
    assert premrna and all(c.discordant_fragments == {"pre0", "pre1", "pre2"} for c in premrna)
    from imtfusion.pipeline import candidate_row

    row = candidate_row("S1", main)
    assert row["isoforms"].count("::") == len(main.isoforms) >= 2 and "S1_D" in row["isoforms"]
    assert candidate_row("S1", near)["main_call"] == main.call_id == "S1_F1"


def test_two_different_gene_pairs_stay_two_calls(tmp_path):
    toy = make_toy()
    add_background(toy)
    real_partp_alk(toy)
    for i in range(4):  # ETV6 exon 2 :: ALK exon 3
        toy.fragment(f"e{i}", [("chr3", 6090, "+", 60), ("chr2", 20110, "-", 40)], [("chr2", 20030 + i, "+", 100)])
    result = call(tmp_path, toy)
    assert {c.fusion for c in result.called} == {"PARTP::ALK", "ETV6::ALK"}


@pytest.mark.parametrize("mate, counted", [
    ("good", True),
    ("poly_g", False),
    ("low_mapq", False),
])
def test_discordant_mates_of_low_complexity_or_low_mapq_do_not_count(tmp_path, mate, counted):
    toy = make_toy()
    add_background(toy)
    if mate == "poly_g":  # a G-rich stretch in PARTP intron 2 where poly-G mates land
        seq = list(toy.seq["chr4"])
        seq[5000:5200] = "G" * 200
        toy.seq["chr4"] = "".join(seq)
    for i in range(4):
        toy.fragment(f"d{i}", [("chr4", 5000 + 10 * i if mate == "poly_g" else 4000 + 10 * i, "+", 100)],
                     [("chr2", 20040 + 5 * i, "+", 100)], mapq=5 if mate == "low_mapq" else 60)
    result = call(tmp_path, toy, min_fragments=3)
    candidates = [c for c in result.called + result.discarded if c.fusion == "PARTP::ALK"]
    assert bool(candidates) == counted
    if counted:
        assert candidates[0].discordant_pairs == 4 and candidates[0] in result.called


def test_single_end_reads_of_one_junction_are_not_duplicates_unless_they_start_together(tmp_path):
    # records at a junction all start there; their unclipped 5' ends tell them apart
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.fragment(f"se{i}", [("chr4", 4090 + i, "+", 60 - i), ("chr2", 20110, "-", 40)])
    for i in range(3):
        toy.fragment(f"same{i}", [("chr3", 6090, "+", 60), ("chr2", 20110, "-", 40)])
    result = call(tmp_path, toy, min_fragments=3)
    [kept] = by_fusion(result, "PARTP::ALK")
    assert kept.duplicates == 0
    [dups] = discarded(result, "ETV6::ALK")
    assert dups.duplicates == 2 and "duplicates" in dups.filters


# ---------------------------------------------------------------- without a FASTA


def test_the_pile_up_spells_the_reads_majority_base_and_n_where_no_read_is(tmp_path):
    import pysam

    from imtfusion.evidence import PileupReference

    toy = make_toy()
    for i in range(3):
        toy.fragment(f"r{i}", [("chr4", 1000 + i, "+", 100)])
    rec = toy.fragment("odd", [("chr4", 1000, "+", 100)])[0]
    seq = list(rec.query_sequence)  # one read with a different base at 1050: outvoted
    seq[50] = "A" if seq[50] != "A" else "C"
    rec.query_sequence, rec.query_qualities = "".join(seq), pysam.qualitystring_to_array("I" * 100)
    bam = pysam.AlignmentFile(str(toy.write_bam(tmp_path / "p.bam")))
    pile = PileupReference(bam)
    assert pile.fetch("chr4", 1000, 1100) == toy.seq["chr4"][1000:1100]
    assert pile.fetch("chr4", 990, 1003) == "N" * 10 + toy.seq["chr4"][1000:1003]
    assert pile.fetch("chr4", 1020, 1030) == pile.fetch("chr4", 1015, 1035)[5:15]  # across cached blocks
    assert pile.fetch("chrX", 0, 10) == "" and not pile.has("chrX") and pile.from_reads


def test_without_a_fasta_soft_clips_are_placed_on_a_partner_the_reads_spell(tmp_path):
    # STAR defaults / HISAT2: no SA tags; junction reads are soft-clipped on ALK and the
    # mates point at PARTP, whose exon 2 end other reads cover
    toy = make_toy()
    add_background(toy)
    for i in range(8):
        toy.fragment(f"p{i}", [("chr4", 4030 + 5 * i, "+", 100)], [("chr4", 4040 + 5 * i, "-", 100)])
    for i in range(4):
        toy.fragment(f"clip{i}", [("chr4", 4120 + i, "+", 30 - i), ("chr2", 20080, "-", 70)],
                     [("chr2", 19990 + 3 * i, "+", 100)], only1=1)
    for i in range(2):
        toy.fragment(f"mate{i}", [("chr4", 4000 + 10 * i, "+", 100)], [("chr2", 20040 + 5 * i, "+", 100)])
    result = call(tmp_path, toy, min_fragments=3)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label(), c.precision) == ("chr4:4150", "chr2:20150", "exact")
    assert c.clipped_fragments == {f"clip{i}" for i in range(4)}
    # a negative cannot be signed without the FASTA: ETV6 stays not assessable
    assert {s.target: s.status for s in result.statuses}["ETV6"] == "not assessable"


@pytest.mark.parametrize("fasta", [False, True])
def test_a_clip_spelling_a_partner_and_its_pseudogene_is_placed_on_the_partner(tmp_path, fasta):
    toy = paralog_toy()
    copy_into_chr5(toy, 75_000, "chr4", 4080, 4150)  # PARTPP copies the end of PARTP exon 2
    # an unprocessed pseudogene: its copy ends at an exon boundary, as PARTP exon 2 does
    toy.add_gene("PARTPP", "chr5", "+", [(74_900, 75_070), (80_000, 80_100)], coding=False,
                 gene_type="unprocessed_pseudogene")
    add_background(toy)
    for i in range(6):  # reads on both copies, so the pile-up spells them without a FASTA
        toy.fragment(f"p{i}", [("chr4", 4040 + 5 * i, "+", 100)])
        toy.fragment(f"q{i}", [("chr5", 74_960 + 5 * i, "+", 100)])
    for i in range(4):  # ALK-aligned junction reads whose 30 PARTP bases are soft-clipped
        toy.fragment(f"clip{i}", [("chr4", 4120 + i, "+", 30 - i), ("chr2", 20080, "-", 70)],
                     [("chr2", 19990 + 3 * i, "+", 100)], only1=1)
    toy.fragment("m1", [("chr4", 4000, "+", 100)], [("chr2", 20040, "+", 100)])  # mates on both
    toy.fragment("m2", [("chr5", 74_950, "+", 100)], [("chr2", 20045, "+", 100)])
    result = call(tmp_path, toy, fasta=fasta, min_fragments=3)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.clipped_fragments == {f"clip{i}" for i in range(4)}
    assert not [k for k in result.called if k.gene5.name == "PARTPP"]


def test_an_exon_boundary_tie_with_a_pseudogene_goes_to_the_real_gene(tmp_path):
    from imtfusion.annotation import load_annotation
    from imtfusion.genelookup import GeneLookup
    from imtfusion.model import Breakend
    from imtfusion.reference import Reference
    from imtfusion.rescue import _place_on_boundaries
    from imtfusion.targets import ContigMap

    toy = paralog_toy()
    copy_into_chr5(toy, 75_000, "chr4", 4080, 4150)
    pseudo = toy.add_gene("PARTPP", "chr5", "+", [(74_900, 75_070), (80_000, 80_100)], coding=False,
                          gene_type="unprocessed_pseudogene")
    annotation = load_annotation(toy.write_gtf(tmp_path / "a.gtf"))
    ref = Reference(toy.write_fasta(tmp_path / "g.fa"), toy.contigs)
    lookup = GeneLookup(annotation, ContigMap.build(annotation.contigs, toy.contigs))
    alk_end = Breakend("chr2", 20149, "L")
    consensus = revcomp(toy.seq["chr4"][4120:4150])  # what a clip at ALK's exon 3 start shows
    partp = annotation.find_gene("PARTP", by_id=False)
    both = [partp, annotation.find_gene(pseudo.name, by_id=False)]
    placed = _place_on_boundaries(alk_end, consensus, both, ["-"], lookup, ref)
    assert placed is not None and placed[0] == Breakend("chr4", 4149, "L")


def test_the_report_lists_a_calls_other_junctions(tmp_path):
    from imtfusion.report import render_sample_report

    toy = make_toy()
    add_background(toy)
    real_partp_alk(toy, 8)
    for i in range(3):  # isoform: PARTP exon 1 :: ALK exon 3
        toy.fragment(f"iso{i}", [("chr4", 1140, "+", 60), ("chr2", 20110, "-", 40)], [("chr2", 20010 + i, "+", 100)])
    result = call(tmp_path, toy)
    [main] = by_fusion(result, "PARTP::ALK")
    [iso] = main.isoforms
    html = render_sample_report(result, result.annotation)
    assert "chr4:1200 :: chr2:20150 (3 split" in html and iso.call_id in html


def test_a_few_bases_aligned_mid_exon_do_not_place_a_junction(tmp_path):
    # the decoy: junction reads with only 6 ALK bases, which the aligner wrote mid-exon in
    # ALK (STAR did so with YWHAE::ROS1 in the capture benchmark), beside the real
    # exon-to-exon junction and mates on either side: the call is the exon junction
    toy = make_toy()
    add_background(toy)
    real_partp_alk(toy, 2)
    for i in range(4):
        toy.fragment(f"six{i}", [("chr4", 4090 + i, "+", 60 - i), ("chr2", 20050, "-", 6)],
                     [("chr2", 19990 + 4 * i, "+", 100)])
    for i in range(3):
        toy.fragment(f"m{i}", [("chr4", 4000 + 5 * i, "+", 100)], [("chr2", 20000 + 5 * i, "+", 100)])
    result = call(tmp_path, toy, min_fragments=3)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert not {f"six{i}" for i in range(4)} & c.split_fragments
    assert not [k for k in result.called + result.discarded if k.end3.label() == "chr2:20056"]


def _through_alk_exon3_start(toy, name: str, spliced: bool) -> None:
    """A junction read of PARTP::ALK that the aligner wrote as ALK only: 50 bases of ALK
    exon 3 up to its first base (20149), then 19 partner bases either spliced to a chance
    match 2.85 kb into ALK intron 3 or aligned through the exon end with mismatches, then
    soft-clipped (STAR defaults at panel depth, two PCR copies)."""
    import pysam

    from toolkit import revcomp

    partner = revcomp(toy.seq["chr4"][4100:4150])  # the PARTP bases past the ALK end, outward
    seq = toy.seq["chr2"][20100:20150] + partner
    rec = pysam.AlignedSegment(pysam.AlignmentHeader.from_dict(toy._header))
    rec.query_name = name
    rec.reference_name = "chr2"
    rec.reference_start = 20100
    rec.mapping_quality = 60
    rec.cigartuples = [(0, 50), (3, 2850), (0, 19), (4, 31)] if spliced else [(0, 69), (4, 31)]
    rec.query_sequence = seq
    rec.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
    toy.records.append(rec)


@pytest.mark.parametrize("spliced", [True, False])
def test_junction_reads_an_aligner_wrote_into_the_target_are_not_its_own_continuation(tmp_path, spliced):
    # the decoy for the mismapping test: copies of a junction read written as ALK bases
    # past ALK's exon 3 start (spliced to a chance match, or through the exon end with
    # mismatches) spell the partner bases there; they are not ALK's continuation, so the
    # real PARTP::ALK junction reads are no mismappers (a real continuation still counts:
    # test_a_transcribed_paralog_chimera_is_mismapping_beside_a_real_fusion)
    toy = make_toy()
    if spliced:  # the chance match in the intron
        from toolkit import revcomp

        seq = list(toy.seq["chr2"])
        seq[23000:23019] = revcomp(toy.seq["chr4"][4100:4150])[:19]
        toy.seq["chr2"] = "".join(seq)
    add_background(toy)
    real_partp_alk(toy, 4)
    for i in range(2):
        _through_alk_exon3_start(toy, f"copy{i}", spliced)
    result = call(tmp_path, toy, fasta=True, min_fragments=3)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.mismapped_reads == 0 and "mismapping" not in c.filters


def _two_partners_on_one_chromosome() -> "Toy":
    """PARTP (+) with PARTQ 27 kb upstream of it on chr4 (same strand), ALK and ETV6."""
    from toolkit import Toy

    toy = Toy({"chr1": 14000, "chr2": 36000, "chr3": 20000, "chr4": 60000})
    toy.add_gene("PARTQ", "chr4", "+", [(1000, 1200), (4000, 4150), (7000, 7300)])
    toy.add_gene("PARTP", "chr4", "+", [(31000, 31200), (34000, 34150), (37000, 37300)])
    toy.add_gene("ALK", "chr2", "-", [(10000, 10300), (15000, 15120), (20000, 20150), (26000, 26200), (32000, 32400)])
    toy.add_gene("ETV6", "chr3", "+", [(3000, 3200), (6000, 6150), (9000, 9100)])
    add_background(toy)
    return toy


# PARTP exon 2 (ends at 34149) joined to ALK exon 3 (first base 20149)
UPSTREAM_READ = [("chr4", 34090, "+", 60), ("chr2", 20110, "-", 40)]


def test_mates_in_another_gene_of_the_partners_chromosome_do_not_support_its_junction(tmp_path):
    # the decoy (a deep capture panel's random chimeras): one PARTP::ALK junction read, and
    # the mates of a PARTQ::ALK chimera joined to the same ALK exon, PARTQ 27 kb upstream of
    # PARTP on its strand: they lie on the side PARTP::ALK keeps, within
    # discordant_max_distance of its end, but in another gene, and must not make PARTP::ALK
    # four fragments
    toy = _two_partners_on_one_chromosome()
    toy.fragment("split1", UPSTREAM_READ, PARTP_ALK_MATE)
    for i in range(3):
        toy.fragment(f"q{i}", [("chr4", 4000 + 10 * i, "+", 100)], [("chr2", 20040 + 5 * i, "+", 100)])
    result = call(tmp_path, toy, min_fragments=3)
    assert not by_fusion(result, "PARTP::ALK")
    [d] = [c for c in result.discarded if c.fusion == "PARTP::ALK"]
    assert d.fragments == 1 and "min_support" in d.filters
    # they are PARTQ::ALK's mates, a candidate of its own
    [q] = [c for c in result.called + result.discarded if c.fusion == "PARTQ::ALK"]
    assert q.discordant_fragments == {"q0", "q1", "q2"}


def test_mates_in_the_partner_gene_still_support_its_junction(tmp_path):
    # beside it, the fusion it must keep: its own mates, anywhere in the kept part of PARTP
    toy = _two_partners_on_one_chromosome()
    toy.fragment("split1", UPSTREAM_READ, PARTP_ALK_MATE)
    toy.fragment("split2", UPSTREAM_READ, [("chr2", 20010, "+", 100)])
    for i, start in enumerate((31050, 34000, 34030)):  # exon 1 and exon 2 of PARTP
        toy.fragment(f"p{i}", [("chr4", start, "+", 100)], [("chr2", 20040 + 5 * i, "+", 100)])
    result = call(tmp_path, toy, min_fragments=3)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.discordant_pairs == 3 and c.split_reads == 2


def test_mates_of_an_isoform_go_to_the_isoform_not_to_the_main_junction_of_its_pair(tmp_path):
    # PARTP exon 2 is 1,500 bases long: the mates in exon 1 lie on the kept side of the main
    # junction (exon 2 :: ALK exon 3) but 1,600 transcript bases from it, too far for its
    # fragments; they are the isoform's (exon 1 :: ALK exon 3)
    from toolkit import Toy

    toy = Toy({"chr1": 14000, "chr2": 36000, "chr3": 20000, "chr4": 20000})
    toy.add_gene("PARTP", "chr4", "+", [(1000, 1200), (4000, 5500), (7000, 7300)])
    toy.add_gene("ALK", "chr2", "-", [(10000, 10300), (15000, 15120), (20000, 20150), (26000, 26200), (32000, 32400)])
    toy.add_gene("ETV6", "chr3", "+", [(3000, 3200), (6000, 6150), (9000, 9100)])
    add_background(toy)
    for i in range(5):
        toy.fragment(f"main{i}", [("chr4", 5440, "+", 60), ("chr2", 20110, "-", 40)], [("chr2", 20000 + 3 * i, "+", 100)])
    for i in range(2):
        toy.fragment(f"iso{i}", [("chr4", 1140, "+", 60), ("chr2", 20110, "-", 40)], [("chr2", 20010 + 3 * i, "+", 100)])
    for i in range(3):
        toy.fragment(f"mate{i}", [("chr4", 1050 + 10 * i, "+", 100)], [("chr2", 20040 + 5 * i, "+", 100)])
    result = call(tmp_path, toy, min_fragments=2)
    every = result.called + result.discarded
    [main] = [c for c in every if c.fusion == "PARTP::ALK" and c.end5.label() == "chr4:5500"]
    [iso] = [c for c in every if c.fusion == "PARTP::ALK" and c.end5.label() == "chr4:1200"]
    assert iso.discordant_fragments - iso.split_fragments == {"mate0", "mate1", "mate2"}
    assert main.discordant_pairs == 0 and main.fragments == 5 and iso.fragments == 5


def test_the_molecules_of_a_junction_placed_ambiguously_are_told_apart_by_their_umis(tmp_path):
    # single-end primer reads (minimap2 aligns a panel's reads unpaired): every junction
    # read starts at the primer and ends at the same base, so only the UMIs tell the five
    # molecules apart; two PCR copies of each (one with a misread UMI base) are one molecule
    toy = paralog_toy()
    pseudogene_of_partp(toy)
    add_background(toy)
    umis = ["ACGTACGT", "TTGCAAGC", "GACTGACT", "CCATCCAT", "TGTGCACA"]
    for i, umi in enumerate(umis):
        for copy, u in enumerate((umi, umi[:-1] + ("A" if umi[-1] != "A" else "C"))):
            toy.fragment(f"amb{i}c{copy}_{u}", [("chr4", 4112, "+", 38), ("chr2", 20_088, "-", 62)],
                         part_mapqs1=[0, 0])
    result = call(tmp_path, toy, fasta=True)
    [alk] = [s for s in result.statuses if s.target == "ALK"]
    assert alk.status == "not assessable" and alk.reason.startswith("5 molecules have junction reads from ALK")


@pytest.mark.parametrize("ambiguous_at", ["PARTP", "PART1"])
def test_a_detected_target_names_another_partners_junction_placed_ambiguously(tmp_path, ambiguous_at):
    # PART1::ALK is called from uniquely placed reads; 4 molecules of PARTP::ALK junction
    # reads placed with MAPQ 0 (minimap2's EML4::ALK beside a called TPM3::ALK, seed 31337
    # AMP BP12: 100 molecules) make no call, and the ALK reason says another fusion cannot
    # be ruled out. The decoy: MAPQ-0 reads of the called junction itself add no such note.
    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.fragment(f"q{i}", [("chr1", 8000, "-", 40 + i), ("chr2", 20090 + i, "-", 60 - i)],
                     [("chr2", 19985 - 5 * i, "+", 100)])
    for i in range(4):
        if ambiguous_at == "PARTP":
            parts = [("chr4", 4112 + i, "+", 38 - i), ("chr2", 20_088, "-", 62)]
        else:
            parts = [("chr1", 8000, "-", 36 - i), ("chr2", 20086 + i, "-", 64 - i)]
        toy.fragment(f"amb{i}", parts, [("chr2", 20_030 + 5 * i, "+", 100)], part_mapqs1=[0, 0])
    result = call(tmp_path, toy, fasta=True)
    assert [c.fusion for c in result.called if "ALK" in c.fusion] == ["PART1::ALK"]
    [alk] = [s for s in result.statuses if s.target == "ALK"]
    assert alk.status == "detected"
    if ambiguous_at == "PARTP":
        assert "; also 4 molecules have junction reads from ALK" in alk.reason and "to PARTP " in alk.reason
        assert "another fusion of ALK cannot be ruled out" in alk.reason
    else:
        assert "also" not in alk.reason and "MAPQ" not in alk.reason, alk.reason


@pytest.mark.parametrize("partner", ["PARTP", "PARTP secondary", "PARTPP"])
def test_a_target_whose_junction_reads_all_placed_ambiguously_is_not_assessable(tmp_path, partner):
    # PARTP::ALK junction reads that the aligner placed with MAPQ 0 on both parts (BWA-MEM
    # when a paralog shares the target's bases: seed 31337's ALKP1 and ALK exon 20): no
    # uniquely placed read makes a call, and ALK must not be signed "not detected". The
    # decoy: the same reads whose other part lies on a pseudogene only (the copy's own
    # chimeras) leave ALK not detected.
    toy = paralog_toy()
    pseudogene_of_partp(toy)
    add_background(toy)
    if partner == "PARTP":
        for i in range(4):
            toy.fragment(f"amb{i}", [("chr4", 4112 + i, "+", 38 - i), ("chr2", 20_088, "-", 62)],
                         [("chr2", 20_030 + 5 * i, "+", 100)], part_mapqs1=[0, 0])
    elif partner == "PARTP secondary":
        # STAR's chimeric multimappers: MAPQ 3, the ALK part's chosen place on a copy
        # elsewhere, its ALK place a secondary supplementary (flag 0x900)
        for i in range(4):
            recs = toy.fragment(f"amb{i}", [("chr4", 4112 + i, "+", 38 - i), ("chr2", 20_088, "-", 62)],
                                [("chr2", 20_030 + 5 * i, "+", 100)], mapq=3, part_mapqs1=[3, 3])
            next(r for r in recs if r.is_supplementary).is_secondary = True
    else:
        pseudogene_junction_reads(toy, 4)  # PARTPP part MAPQ 0, ALK part 60: made MAPQ 0 too
        for rec in toy.records:
            if rec.query_name.startswith("pp") and rec.is_read1:
                rec.mapping_quality = 0
    result = call(tmp_path, toy, fasta=True)
    assert not [c for c in result.called if "ALK" in c.fusion]
    [alk] = [s for s in result.statuses if s.target == "ALK"]
    if partner.startswith("PARTP "):
        assert alk.status == "not assessable" and "4 molecules have junction reads from ALK" in alk.reason
        assert "PARTP" in alk.reason and "MAPQ below 1 or as secondary alignments" in alk.reason
    elif partner == "PARTP":
        assert alk.status == "not assessable" and "4 molecules have junction reads from ALK" in alk.reason
        assert "PARTP" in alk.reason and "MAPQ below 1" in alk.reason
    else:
        assert alk.status.startswith("not detected"), alk.reason
