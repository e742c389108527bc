"""Junction reads the aligner placed below ``min_mapq`` or as a secondary alignment (a
processed pseudogene or a paralog shares their bases): counted for a call made by
uniquely placed reads when they split at its very junction, never making one
(features.add_ambiguous_support), and with UMIs told apart by their UMI alone
(features.molecule_keys).

The toy genome is the one of test_calling.py: PARTP exon 2 (chr4, ends at 4149) joined
to ALK exon 3 (chr2, minus strand, first base 20149).
"""

from __future__ import annotations

import pysam
import pytest
from test_calling import add_background, by_fusion, call, make_toy

from imtfusion.calling import EXTENDED_ALIGNMENT, Candidate
from imtfusion.evidence import AMBIGUOUS_CLIP_REACH
from imtfusion.features import molecule_keys
from imtfusion.genelookup import GeneRef
from imtfusion.model import Breakend
from imtfusion.report import render_sample_report
from imtfusion.umis import COPY_PLACED, UNPLACED, count_duplicates


def unique_reads(toy, n: int = 3, umi: str = "") -> None:
    """PARTP::ALK junction reads placed uniquely (MAPQ 60), each with its own mate."""
    for i in range(n):
        toy.fragment(f"uniq{i}{umi and '_' + umi[i]}", [("chr4", 4090 + i, "+", 60 - i), ("chr2", 20110, "-", 40)],
                     [("chr2", 20000 + 7 * i, "+", 100)])


def ambiguous_reads(toy, n: int, partner_end: int = 4150, name: str = "amb", umis: list[str] | None = None,
                    mate_on: tuple[str, int] = ("chr2", 20060)) -> None:
    """Junction reads whose two parts (PARTP up to ``partner_end``, ALK exon 3) and mate
    (at ``mate_on``) all have MAPQ 0: the aligner had a second place for each of them."""
    chrom, mate = mate_on
    for i in range(n):
        label = f"{name}{i}" + (f"_{umis[i]}" if umis else "")
        toy.fragment(label, [("chr4", partner_end - 50 - i, "+", 50 + i), ("chr2", 20100 + i, "-", 50 - i)],
                     [(chrom, mate + 5 * i, "+", 100)], mapq=0, part_mapqs1=[0, 0])


def secondary_reads(toy, n: int, partner_end: int = 4150, name: str = "sec") -> None:
    """Junction reads as STAR's chimeric output writes a read whose target part has two
    places (``--chimMultimapNmax``, MAPQ 3): the partner part primary, the target part's
    chosen place a supplementary on a copy (chr1, outside the loci) and its place in ALK
    exon 3 a secondary supplementary (flag 0x900) with the SA tag to the primary."""
    chrom_copy = "chr1"
    for i in range(n):
        label = f"{name}{i}"
        recs = toy.fragment(label, [("chr4", partner_end - 50 - i, "+", 50 + i), ("chr2", 20100 + i, "-", 50 - i)],
                            [("chr2", 20060 + 5 * i, "+", 100)], mapq=3, part_mapqs1=[3, 3])
        in_alk = next(r for r in recs if r.is_supplementary)
        copy = pysam.AlignedSegment.fromstring(in_alk.to_string(), in_alk.header)
        copy.reference_name, copy.reference_start = chrom_copy, 12_500 + i
        in_alk.is_secondary = True
        toy.records.append(copy)


def _written(written):
    """The reads of ``written``: MAPQ 0 (BWA-MEM) or secondary (STAR's chimeric multimappers)."""
    return ambiguous_reads if written == "MAPQ 0" else secondary_reads


@pytest.mark.parametrize("written", ["MAPQ 0", "secondary"])
def test_reads_split_ambiguously_at_a_calls_junction_are_its_molecules(tmp_path, written):
    # MAPQ 0 on both parts (BWA-MEM), or STAR's chimeric multimappers: the ALK place of a
    # read shared with a copy written as a secondary supplementary
    toy = make_toy()
    add_background(toy)
    unique_reads(toy)
    before = by_fusion(call(tmp_path, toy), "PARTP::ALK")[0]
    (tmp_path / "s.bam").unlink()
    _written(written)(toy, 4)
    name = "amb" if written == "MAPQ 0" else "sec"
    result = call(tmp_path, toy)
    [real] = by_fusion(result, "PARTP::ALK")
    assert real.ambiguous_fragments == {f"{name}{i}" for i in range(4)}
    assert real.split_reads == before.split_reads + 4 and real.molecules == before.molecules + 4
    assert (real.end5, real.end3) == (before.end5, before.end3)
    # they never make the call: its tier is what the uniquely placed reads gave it
    assert real.confidence == before.confidence and real.features == before.features
    page = render_sample_report(result)
    assert "4 of them placed ambiguously by the aligner (MAPQ 0 or as a secondary alignment: a pseudogene" in page


@pytest.mark.parametrize("written", ["MAPQ 0", "secondary"])
def test_reads_split_ambiguously_make_no_call_on_their_own(tmp_path, written):
    # the decoy: the same reads without a uniquely placed one are no fusion (the copy's
    # own chimera may have made them)
    toy = make_toy()
    add_background(toy)
    _written(written)(toy, 6)
    result = call(tmp_path, toy)
    assert not by_fusion(result, "PARTP::ALK")
    assert all(not c.ambiguous_fragments for c in result.called + result.discarded)


@pytest.mark.parametrize("written", ["MAPQ 0", "secondary"])
def test_reads_split_ambiguously_elsewhere_are_not_counted(tmp_path, written):
    # the decoy: such reads from ALK exon 3 into PARTP 40 bases before the called exon
    # end (another junction, a paralog's copy placed there) are not this call's
    toy = make_toy()
    add_background(toy)
    unique_reads(toy)
    _written(written)(toy, 4, partner_end=4110)
    result = call(tmp_path, toy)
    [real] = by_fusion(result, "PARTP::ALK")
    assert not real.ambiguous_fragments and real.split_reads == 3
    assert "placed ambiguously" not in render_sample_report(result)


def test_a_secondary_alignment_of_a_counted_fragment_is_not_counted_twice(tmp_path):
    # a uniquely counted junction read whose aligner also wrote a secondary place at the
    # junction (a second record of the same fragment) stays one fragment
    toy = make_toy()
    add_background(toy)
    unique_reads(toy)
    before = by_fusion(call(tmp_path, toy), "PARTP::ALK")[0]
    (tmp_path / "s.bam").unlink()
    for r in [r for r in toy.records if r.query_name == "uniq0" and r.is_supplementary]:
        twin = pysam.AlignedSegment.fromstring(r.to_string(), r.header)
        twin.is_secondary = True
        twin.reference_start += 1
        toy.records.append(twin)
    [real] = by_fusion(call(tmp_path, toy), "PARTP::ALK")
    assert not real.ambiguous_fragments
    assert (real.split_reads, real.molecules) == (before.split_reads, before.molecules)


def ambiguous_clips(toy, n: int, partner: tuple[str, int] = ("chr4", 4130), clip: int = 20, name: str = "clip") -> None:
    """Reads of ALK exon 3 soft-clipped at its first base (20149) with MAPQ 0 and no SA tag
    (minimap2's ``70M20S`` of a read shared with a copy); the clip spells ``clip`` bases
    from ``partner`` on (PARTP exon 2's last 20 bases by default)."""
    chrom, start = partner
    for i in range(n):
        toy.fragment(f"{name}{i}", [(chrom, start + 20 - clip, "+", clip), ("chr2", 20080 - 3 * i, "-", 70 + 3 * i)],
                     [("chr2", 20000 + 9 * i, "+", 100)], mapq=0, only1=1)


def test_ambiguous_clips_that_spell_a_calls_partner_are_its_molecules(tmp_path):
    # the reads kept at a breakend reach as far as the clip matching looks
    assert AMBIGUOUS_CLIP_REACH == EXTENDED_ALIGNMENT
    toy = make_toy()
    add_background(toy)
    unique_reads(toy)
    before = by_fusion(call(tmp_path, toy), "PARTP::ALK")[0]
    (tmp_path / "s.bam").unlink()
    ambiguous_clips(toy, 3)
    ambiguous_clips(toy, 2, clip=10, name="short")  # shorter than min_clip: exact, as a unique clip
    [real] = by_fusion(call(tmp_path, toy), "PARTP::ALK")
    assert real.ambiguous_fragments == {"clip0", "clip1", "clip2", "short0", "short1"}
    assert real.clipped_fragments >= real.ambiguous_fragments
    assert real.split_reads == before.split_reads + 5 and real.molecules == before.molecules + 5
    assert real.confidence == before.confidence and real.features == before.features


def test_ambiguous_clips_of_other_bases_are_not_counted_and_make_no_call(tmp_path):
    # the decoys: MAPQ-0 clips at the same ALK base spelling NEIGH (chr3), or a 10-base
    # clip one base off PARTP's, are not this call's; alone, clips that spell PARTP make none
    toy = make_toy()
    add_background(toy)
    ambiguous_clips(toy, 6)
    assert not by_fusion(call(tmp_path, toy), "PARTP::ALK")
    (tmp_path / "s.bam").unlink()
    toy = make_toy()
    add_background(toy)
    unique_reads(toy)
    ambiguous_clips(toy, 3, partner=("chr3", 14020), name="other")
    ambiguous_clips(toy, 2, partner=("chr4", 4129), clip=10, name="off")  # 4139..4148: PARTP bases one off its end
    [real] = by_fusion(call(tmp_path, toy), "PARTP::ALK")
    assert not real.ambiguous_fragments and real.split_reads == 3


def test_ambiguous_reads_split_to_a_copy_of_the_partner_count_by_their_clip(tmp_path):
    # BWA-MEM's TPM3::ALK read with its TPM3 part on the processed pseudogene TPM3P1 (here
    # chr1): MAPQ 0, an SA tag to the copy, so no split at the call's junction; its soft
    # clip at the ALK exon spells PARTP's bases, as the call's own reads do
    toy = make_toy()
    toy.add_gene("COPYP", "chr1", "+", [(12_400, 12_900)], coding=False, gene_type="processed_pseudogene")
    add_background(toy)
    unique_reads(toy)
    before = by_fusion(call(tmp_path, toy), "PARTP::ALK")[0]
    (tmp_path / "s.bam").unlink()
    for i in range(3):
        recs = toy.fragment(f"copy{i}", [("chr4", 4100 - i, "+", 50 + i), ("chr2", 20100 + i, "-", 50 - i)],
                            [("chr2", 20040 + 5 * i, "+", 100)], hard=False, mapq=0, part_mapqs1=[0, 0])
        partner, in_alk = recs[0], recs[1]
        partner.reference_name, partner.reference_start = "chr1", 12_500 + i
        in_alk.set_tag("SA", f"chr1,{12_501 + i},+,{partner.cigarstring},0,0;")
    [real] = by_fusion(call(tmp_path, toy), "PARTP::ALK")
    assert real.ambiguous_fragments == {"copy0", "copy1", "copy2"}
    assert real.split_reads == before.split_reads + 3 and real.confidence == before.confidence


def test_an_ambiguous_copy_of_a_molecule_joins_it_by_umi(tmp_path):
    # with UMIs: the ambiguous copy of uniq0's molecule (same UMI) has its mate on a
    # processed pseudogene (the aligner's pick among the copies): still one molecule; a
    # UMI the call has not seen is a molecule of its own
    toy = make_toy()
    toy.add_gene("COPYP", "chr1", "+", [(12_400, 12_900)], coding=False, gene_type="processed_pseudogene")
    add_background(toy)
    unique_reads(toy, umi=["AACCGGTT", "CAGTCAGT", "GTCAGTCA"])
    ambiguous_reads(toy, 2, umis=["AACCGGTT", "TTTTGGGG"], mate_on=("chr1", 12_500))
    [real] = by_fusion(call(tmp_path, toy), "PARTP::ALK")
    assert real.umis and real.fragments == 5
    assert real.molecules == 4


class _Lookup:
    """genes_at for molecule_keys: chr5 holds only a processed pseudogene."""

    def genes_at(self, chrom, pos):
        return [GeneRef("PSEUDO", "G5", "+", "processed_pseudogene")] if chrom == "chr5" else []


def _candidate(keys, ambiguous=()):
    gene = GeneRef("A", "G1", "+", "protein_coding")
    return Candidate(Breakend("chr1", 10, "L"), Breakend("chr2", 20, "R"), gene, gene,
                     split_fragments=frozenset(keys), ambiguous_fragments=frozenset(ambiguous), dup_keys=keys)


def test_molecule_keys_place_pseudogene_and_ambiguous_copies_by_umi():
    names = ["chr1", "chr2", "chr5"]
    keys = {
        "gene": {(0, 100, False, 1, 500, "ACGT")},
        "copy": {(2, 300, False, 1, 500, "ACGT")},  # its record on the pseudogene
        "mate_on_copy": {(0, 100, False, 2, 900, "ACGT")},  # its mate there
        "ambiguous": {(0, 120, True, 0, 50, "GGGG")},  # at the call's junction: the gene's place
        "ambiguous_mate_on_copy": {(0, 120, True, 2, 950, "TTTT")},
    }
    out = molecule_keys(_candidate(keys, ["ambiguous", "ambiguous_mate_on_copy"]), _Lookup(), names)
    assert out["gene"] == keys["gene"] and out["ambiguous"] == keys["ambiguous"]
    assert out["copy"] == out["mate_on_copy"] == {COPY_PLACED + ("ACGT",)}
    assert out["ambiguous_mate_on_copy"] == {COPY_PLACED + ("TTTT",)}
    # without UMIs positions are all there is: the keys stay
    plain = {f: {k[:-1] + ("",) for k in ks} for f, ks in keys.items()}
    assert molecule_keys(_candidate(plain, ["ambiguous"]), _Lookup(), names) == plain


def test_a_fragment_placed_on_copies_joins_a_molecule_only_by_its_exact_umi():
    placed = {"a": {(0, 100, False, 1, 500, "AAAACCCC")}, "b": {(0, 130, False, 1, 530, "GGGGTTTT")}}
    same = {"c": {COPY_PLACED + ("AAAACCCC",)}}
    near = {"d": {COPY_PLACED + ("AAAACCCA",)}}  # one mismatch from a's: another molecule
    assert count_duplicates({**placed, **same}) == 1
    assert count_duplicates({**placed, **near}) == 0
    # a read without any position (unmapped) joins within one mismatch, as before
    assert count_duplicates({**placed, "e": {UNPLACED + ("AAAACCCA",)}}) == 1
    # among themselves copies form directional families: a misread UMI stays with its molecule
    copies = {f"c{i}": {COPY_PLACED + ("TTTTAAAA",)} for i in range(3)} | {"c3": {COPY_PLACED + ("TTTTAAAC",)}}
    assert count_duplicates({**placed, **copies}) == 3


def low_pairs(toy, name: str, partner_start: int, low: str, n: int = 1) -> None:
    """Mate pairs of PARTP (read 1, from ``partner_start``) and ALK exon 3 (read 2), neither
    across the junction, ``low`` ("alk", "partner" or "both") placed with MAPQ 3 (STAR's
    value for two places; HISAT2 writes 1): the other mate with 60."""
    for i in range(n):
        r1, r2 = toy.fragment(f"{name}{i}", [("chr4", partner_start + 10 * i, "+", 100)],
                              [("chr2", 20040 + 5 * i, "+", 100)])
        for rec, gene in ((r1, "partner"), (r2, "alk")):
            if low in (gene, "both"):
                rec.mapping_quality = 3


def test_pairs_with_one_mate_placed_below_min_discordant_mapq_count_for_the_call_they_fit(tmp_path):
    """A pair whose ALK mate (or PARTP mate) has two places (MAPQ 3: HISAT2's capture
    RANBP2::ALK molecule whose ALK read ALKP1 shares, seed 31337) is no discordant evidence
    (``unusable_mates``), but once uniquely placed reads made the call it counts for it,
    as the junction reads placed below ``min_mapq`` do; left beside them: such a pair whose
    PARTP mate lies past the breakpoint (PARTP exon 3, not in the fused transcript), one
    with both mates low, and the pairs alone make no call."""
    toy = make_toy()
    add_background(toy)
    unique_reads(toy)
    before = by_fusion(call(tmp_path, toy), "PARTP::ALK")[0]
    (tmp_path / "s.bam").unlink()
    low_pairs(toy, "lowA", 4000, "alk", 2)
    low_pairs(toy, "lowP", 4020, "partner")
    low_pairs(toy, "past", 7000, "alk")
    low_pairs(toy, "both", 4010, "both")
    result = call(tmp_path, toy)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.ambiguous_pairs == {"lowA0", "lowA1", "lowP0"} and not c.ambiguous_fragments
    assert c.discordant_pairs == before.discordant_pairs + 3 and c.split_reads == before.split_reads
    assert c.molecules == before.molecules + 3 and c.confidence == before.confidence
    page = render_sample_report(result)
    assert "3 of them with one mate placed ambiguously" in page and "of them placed ambiguously" not in page

    alone = make_toy()
    add_background(alone)
    low_pairs(alone, "lowA", 4000, "alk", 4)
    (tmp_path / "s.bam").unlink()
    assert not by_fusion(call(tmp_path, alone), "PARTP::ALK")
