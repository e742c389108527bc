"""Copies of a target's bases elsewhere in the genome (imtfusion.copies): a junction read the
aligner left without a position is placed on the target transcripts by imtfusion, and is
weighed as an aligner weighs a read with the same places."""

from __future__ import annotations

import random

import numpy as np
import pytest

from imtfusion.copies import (COPY, SHARED, UNIQUE, count_places, find_copies, genome_chunks, mapq_of, placement,
                              reverse_codes)
from toolkit import revcomp

EXON = (20000, 20150)  # ALK exon 3 of the toy (- strand): its first transcript base is 20149
COPY_AT = 12500  # an unannotated copy of it on chr1 (past PART1), same genome strand


def test_reverse_codes_are_the_codes_of_the_reverse_complements():
    from imtfusion.boundaries import encode

    rng = random.Random(3)
    kmers = ["".join(rng.choice("ACGT") for _ in range(20)) for _ in range(50)]
    codes, _ = encode(kmers)
    back, _ = encode([revcomp(k) for k in kmers])
    assert (reverse_codes(codes) == back).all()


def test_the_sam_specifications_mapq_of_equally_good_places():
    # -10 log10(1 - 1/n), rounded down: STAR's 3, 1, 1, 0; one place: unique
    assert [mapq_of(n) for n in (1, 2, 3, 4, 5, 9)] == [60, 3, 1, 1, 0, 0]
    assert mapq_of(0) == 0  # a repeat


def _genome(rng: random.Random) -> dict[str, str]:
    g = {"chrA": "".join(rng.choice("ACGT") for _ in range(6000)), "chrB": "".join(rng.choice("ACGT") for _ in range(5000))}
    return g


def test_copies_are_found_on_either_strand_and_not_at_the_kmers_own_place():
    rng = random.Random(11)
    g = _genome(rng)
    # a - strand transcript of two exons on chrA; its spliced sequence is copied (processed
    # copy, genome - strand) to chrB at 1000, and its first exon alone (+ strand) at 3000
    exons = [(2000, 2100), (2500, 2580)]  # genomic; transcript order is 2500-2580 then 2000-2100
    tx = revcomp(g["chrA"][2500:2580]) + revcomp(g["chrA"][2000:2100])
    genomic = list(range(2579, 2499, -1)) + list(range(2099, 1999, -1))
    g["chrB"] = g["chrB"][:1000] + revcomp(tx) + g["chrB"][1000 + len(tx):]
    g["chrB"] = g["chrB"][:3000] + tx[:80] + g["chrB"][3080:]
    fetch = lambda c, s, e: g[c][max(0, s):e]  # noqa: E731
    chunks = list(genome_chunks(fetch, [(c, len(s)) for c, s in g.items()], chunk=700))
    [got] = find_copies([("chrA", "-", tx, genomic)], chunks)
    # every K-mer has the processed copy; the first exon's also the + strand one
    assert sorted(got.places) == list(range(len(tx) - 19))
    assert {(p.chrom, p.pos, p.forward) for p in got.places[0]} == {("chrB", 1000 + len(tx) - 20, False), ("chrB", 3000, True)}
    assert {(p.chrom, p.pos, p.forward) for p in got.places[100]} == {("chrB", 1000 + len(tx) - 120, False)}
    # without the copies nothing: the own places are no copies, a K-mer across the splice has no place
    g2 = _genome(random.Random(11))
    fetch2 = lambda c, s, e: g2[c][max(0, s):e]  # noqa: E731
    [none] = find_copies([("chrA", "-", tx, genomic)], genome_chunks(fetch2, [(c, len(s)) for c, s in g2.items()]))
    assert none.places == {}
    # an _alt contig is not read
    alt = {"chrA": g2["chrA"], "chrB_KI270_alt": g["chrB"]}
    fetch3 = lambda c, s, e: alt[c][max(0, s):e]  # noqa: E731
    [skipped] = find_copies([("chrA", "-", tx, genomic)], genome_chunks(fetch3, [(c, len(s)) for c, s in alt.items()]))
    assert skipped.places == {}


@pytest.mark.parametrize("chunk", [500, 10_000])
def test_the_compiled_pass_and_numpy_find_the_same_places(chunk):
    pytest.importorskip("imtfusion._bamwalk")
    rng = random.Random(5)
    g = _genome(rng)
    g["chrB"] = g["chrB"][:100] + g["chrA"][:60] * 12 + g["chrB"][820:]  # a K-mer found 12 times: past CAP
    # soft-masked (lower case) bases are bases; an N ends the K-mers across it
    g["chrB"] = g["chrB"][:1000] + g["chrA"][3000:3100].lower() + "N" + g["chrA"][3101:3200] + g["chrB"][1200:]
    from imtfusion.boundaries import encode_at

    keys = np.unique(np.concatenate([encode_at(g["chrA"][i:i + 400])[1] for i in (0, 3000)]))
    fetch = lambda c, s, e: g[c][max(0, s):e]  # noqa: E731
    contigs = [(c, len(s)) for c, s in g.items()]
    fast = count_places(genome_chunks(fetch, contigs, chunk=chunk), keys, compiled=True)
    slow = count_places(genome_chunks(fetch, contigs, chunk=chunk), keys, compiled=False)
    assert (fast[0] == slow[0]).all() and fast[0].max() >= 12
    from imtfusion.boundaries import encode

    [lower], _ = encode([g["chrA"][3010:3030]])
    [across], _ = encode([g["chrA"][3090:3110]])
    at = np.searchsorted(keys, [lower, across])
    assert ("chrB", 1010) in fast[1].of(int(at[0])) and fast[0][at[1]] == 1  # the N: only chrA's own
    assert [sorted(fast[1].of(i)) for i in range(len(keys))] == [sorted(slow[1].of(i)) for i in range(len(keys))]
    # a key found more than CAP times keeps CAP places, however many chunks it recurs in
    from imtfusion.copies import CAP

    for hits in (fast[1], slow[1]):
        assert np.bincount(hits._key).max() == CAP  # no more kept than used


def test_a_read_is_unique_shared_or_the_copys():
    rng = random.Random(2)
    g = _genome(rng)
    tx = g["chrA"][1000:1300]  # a + strand one-exon transcript
    genomic = list(range(1000, 1300))
    copy = list(tx[100:250])
    copy[120] = "A" if copy[120] != "A" else "C"  # the copy differs from it at transcript base 220
    g["chrB"] = g["chrB"][:2000] + "".join(copy) + g["chrB"][2150:]
    fetch = lambda c, s, e: g[c][max(0, s):e]  # noqa: E731
    [copies] = find_copies([("chrA", "+", tx, genomic)], genome_chunks(fetch, [(c, len(s)) for c, s in g.items()]))
    assert placement(tx[10:60], tx, 10, copies, fetch) == (UNIQUE, 1)  # outside the copy
    assert placement(tx[150:200], tx, 150, copies, fetch) == (SHARED, 2)  # the copy spells it as well
    read = "".join(copy[90:140])  # transcript 190-240, with the copy's base at 220
    assert placement(read, tx, 190, copies, fetch) == (COPY, 0)
    # a read of the target with a sequencing error elsewhere still has the copy as well: shared
    err = list(tx[150:200])
    err[5] = "G" if err[5] != "G" else "T"
    assert placement("".join(err), tx, 150, copies, fetch) == (SHARED, 2)
    # the target's base at 220: the copy has one mismatch more, the read is the target's
    assert placement(tx[190:240], tx, 190, copies, fetch) == (UNIQUE, 1)


# ---- whole calls on the toy genome of test_calling: reads the aligner left without a position

def _toy_with_copy(mismatch: bool, flipped: bool = False):
    """The toy of test_calling with ALK exon 3 copied to chr1 (unannotated); ``mismatch``:
    the copy differs at ALK chr2:20131 (inside the junction reads' 40 ALK bases);
    ``flipped``: the copy on the other genome strand (reverse-complemented)."""
    from test_calling import add_background, make_toy

    toy = make_toy()
    s, e = EXON
    bases = list(toy.seq["chr2"][s:e])
    if mismatch:
        k = 20130 - s
        bases[k] = "A" if bases[k] != "A" else "C"
    copy = revcomp("".join(bases)) if flipped else "".join(bases)
    toy.seq["chr1"] = toy.seq["chr1"][:COPY_AT] + copy + toy.seq["chr1"][COPY_AT + (e - s):]
    add_background(toy)
    return toy


def _unique_partp_alk(toy, n: int = 3) -> None:
    """``n`` PARTP::ALK fragments placed uniquely, each its own molecule (UMI in RX)."""
    for i in range(n):
        for rec in toy.fragment(f"u{i}", [("chr4", 4090 + i, "+", 60 - i), ("chr2", 20110, "-", 40)],
                                [("chr2", 20000 + 3 * i, "+", 100)]):
            rec.set_tag("RX", ["ACGTACGT", "TTGGCCAA", "CAGTCAGT"][i])


def _junction_reads(toy, on_copy: bool, n: int = 4):
    """``n`` PARTP::ALK junction reads without a position (both mates unmapped), their 40
    ALK bases read from ALK exon 3 or from its copy on chr1."""
    for i in range(n):
        alk = ("chr1", COPY_AT + 110, "-", 40) if on_copy else ("chr2", 20110, "-", 40)
        toy.unplaced(f"j{i}", [("chr4", 4085 + i, "+", 65 - i), alk])


def test_reads_a_copy_spells_better_are_a_copys_chimera_not_the_targets(tmp_path):
    """Discarded: junction reads of PARTP joined to an unannotated copy of ALK exon 3 that
    differs from ALK at one of the reads' 40 ALK bases; the unmapped-read scan places them
    on ALK (a lone mismatch is passed), and without knowing the copy they made a PARTP::ALK
    call. The copy spells them exactly, so they are mismappings at ALK (MAPQ 0: an aligner
    would have placed them on the copy): multimapping. Kept beside them: the same reads of
    ALK itself."""
    from test_calling import by_fusion, call

    toy = _toy_with_copy(mismatch=True)
    _junction_reads(toy, on_copy=True)
    result = call(tmp_path, toy, fasta=True, scan_unmapped="yes")
    assert not by_fusion(result, "PARTP::ALK")
    assert any(c.fusion == "PARTP::ALK" and "multimapping" in c.filters for c in result.discarded)
    # the reads of ALK itself, with the same copy in the genome: ALK's
    toy = _toy_with_copy(mismatch=True)
    _junction_reads(toy, on_copy=False)
    (tmp_path / "s.bam").unlink()
    [c] = by_fusion(call(tmp_path, toy, fasta=True, scan_unmapped="yes"), "PARTP::ALK")
    assert c.split_reads == 4 and c.low_mapq_fraction == 0


def test_reads_a_copy_spells_as_well_have_two_places_and_min_mapq_weighs_them_as_starts(tmp_path):
    """An identical copy: the reads have two places, MAPQ 3 by the SAM specification (what
    STAR writes for NH:2). At min_mapq 1 they count as STAR's aligned reads do; at
    min_mapq 4 neither counts, and the junction is multimapping."""
    from test_calling import by_fusion, call

    toy = _toy_with_copy(mismatch=False)
    _junction_reads(toy, on_copy=False)
    [c] = by_fusion(call(tmp_path, toy, fasta=True, scan_unmapped="yes"), "PARTP::ALK")
    assert c.split_reads == 4 and c.low_mapq_fraction == 0
    (tmp_path / "s.bam").unlink()
    strict = call(tmp_path, toy, fasta=True, scan_unmapped="yes", min_mapq=4)
    assert not by_fusion(strict, "PARTP::ALK")
    assert any(c.fusion == "PARTP::ALK" and "multimapping" in c.filters for c in strict.discarded)


def test_the_annotation_index_holds_the_copies_and_a_call_reads_them_instead_of_the_genome(tmp_path, monkeypatch):
    """``imtfusion index-gtf --fasta --targets`` finds the copies once for a batch; a call
    with that index places the copy's reads as before without reading the genome; another
    FASTA (a different .fai) does not use them."""
    import argparse

    import imtfusion.copies as copies
    from imtfusion.commands import index_gtf
    from imtfusion.params import CallParameters
    from imtfusion.pipeline import run_sample
    from test_calling import TARGETS

    toy = _toy_with_copy(mismatch=True)
    _junction_reads(toy, on_copy=True)
    bam, gtf = toy.write_bam(tmp_path / "s.bam"), toy.write_gtf(tmp_path / "a.gtf")
    fa = toy.write_fasta(tmp_path / "g.fa")
    idx = tmp_path / "a.idx"
    index_gtf.main(argparse.Namespace(gtf=str(gtf), output=str(idx), fasta=str(fa), targets=TARGETS))

    def no_pass(*a, **k):
        raise AssertionError("the genome was read again")

    monkeypatch.setattr(copies, "find_copies", no_pass)
    params = CallParameters.from_mapping({"min_fragments": 2, "qc_min_unique_fragments": 10, "qc_min_on_target_reads": 10,
                                          "lod_max_fraction": 0.99, "scan_unmapped": "yes"})
    result = run_sample(bam, idx, "S1", targets=TARGETS, params=params, fasta=fa)
    assert not [c for c in result.called if c.fusion == "PARTP::ALK"]
    assert any(c.fusion == "PARTP::ALK" and "multimapping" in c.filters for c in result.discarded)
    # the same genome under another .fai (a contig more): the stored copies are not this FASTA's
    toy.seq["chrX"] = "ACGT" * 50
    other = toy.write_fasta(tmp_path / "other.fa")
    with pytest.raises(AssertionError, match="read again"):
        run_sample(bam, idx, "S1", targets=TARGETS, params=params, fasta=other)


def _chimeras_at_partp(toy, to_copy: int, to_alk: int, alk_reads_are_the_copys: bool, copy_mapq: int = 60,
                       prefix: str = "", misread: int | None = None):
    """PARTP exon 2 joined to the copy of ALK exon 3 on chr1 (``to_copy`` fragments, the
    copy part placed there with ``copy_mapq``) and, as the aligner placed them, ``to_alk``
    fragments whose 40 bases past PARTP are aligned on ALK exon 3; with
    ``alk_reads_are_the_copys`` those bases carry the copy's base at chr2:20131 (reads of
    the copy's chimera that the aligner gave ALK, with one mismatch, preferring its splice
    site); ``misread``: those reads read that chr2 base as another (a sequencing error,
    as unlike the copy as ALK)."""
    for i in range(to_copy):
        toy.fragment(f"{prefix}cp{i}", [("chr4", 4090 + i, "+", 60 - i), ("chr1", COPY_AT + 110, "-", 40)],
                     [("chr1", COPY_AT + 5 * i, "+", 100)], mapq=copy_mapq)
        for rec in toy.records[-3:]:
            if rec.reference_name == "chr4" and rec.has_tag("SA"):
                sa = rec.get_tag("SA").split(",")
                sa[4] = str(copy_mapq)
                rec.set_tag("SA", ",".join(sa))
    original = toy.seq["chr2"]
    if alk_reads_are_the_copys:
        toy.seq["chr2"] = original[:20130] + toy.seq["chr1"][COPY_AT + 130] + original[20131:]
    if misread is not None:
        other = "A" if original[misread] not in "A" else "C"
        toy.seq["chr2"] = toy.seq["chr2"][:misread] + other + toy.seq["chr2"][misread + 1:]
    for i in range(to_alk):
        toy.fragment(f"{prefix}alk{i}", [("chr4", 4092 + i, "+", 58 - i), ("chr2", 20110, "-", 40)],
                     [("chr2", 20000 + 7 * i, "+", 100)])
    toy.seq["chr2"] = original


def test_reads_at_a_partner_breakpoint_whose_junction_goes_to_a_copy_are_the_copys(tmp_path):
    """Discarded (mismapping): PARTP joined to an unannotated copy of ALK exon 3 (one base
    differs), six fragments placed uniquely on the copy, and three reads of that chimera an
    aligner gave ALK instead (their bases past PARTP are the copy's: the copy spells them
    better than ALK). Kept beside it: three real PARTP::ALK fragments (ALK's own base there)
    next to the same six of the copy; and the tie reads when the copy's reads are two-place
    there (MAPQ 0: which place an aligner chose is chance, `multimapping` weighs such reads)."""
    from test_calling import by_fusion, call

    toy = _toy_with_copy(mismatch=True)
    _chimeras_at_partp(toy, to_copy=6, to_alk=3, alk_reads_are_the_copys=True)
    result = call(tmp_path, toy, fasta=True)
    assert not by_fusion(result, "PARTP::ALK")
    [gone] = [c for c in result.discarded if c.fusion == "PARTP::ALK"]
    assert "mismapping" in gone.filters and gone.mismapped_reads == gone.tested_reads == 3

    toy = _toy_with_copy(mismatch=True)
    _chimeras_at_partp(toy, to_copy=6, to_alk=3, alk_reads_are_the_copys=False)
    (tmp_path / "s.bam").unlink()
    [kept] = by_fusion(call(tmp_path, toy, fasta=True), "PARTP::ALK")
    assert kept.split_reads == 3 and kept.mismapped_reads == 0

    toy = _toy_with_copy(mismatch=False)  # an identical copy, its chimera's reads placed with MAPQ 0
    _chimeras_at_partp(toy, to_copy=6, to_alk=3, alk_reads_are_the_copys=False, copy_mapq=0)
    (tmp_path / "s.bam").unlink()
    [tie] = by_fusion(call(tmp_path, toy, fasta=True), "PARTP::ALK")
    assert tie.mismapped_reads == 0


@pytest.mark.parametrize("flipped", [False, True])
def test_a_calls_reads_that_an_aligner_placed_on_a_copy_of_the_target_count_for_it(tmp_path, flipped):
    """Three PARTP::ALK fragments placed uniquely make the call; two more molecules' reads
    the aligner placed on an identical copy of ALK exon 3 (MAPQ 0, the PARTP bases a soft
    clip, no SA tag: BWA-MEM's capture EML4::ALK on ALKP1) count for it, on either genome
    strand of the copy, also one aligned a base past the copy's breakend (minimap2's capture
    EML4::ALK, a base both genes share: its clip starts one base later there, as it would
    at ALK). Left beside them: a read clipped there whose clip is not PARTP's; and the
    copy's reads alone make no call."""
    from test_calling import by_fusion, call

    def toy_with(unique: int):
        toy = _toy_with_copy(mismatch=False, flipped=flipped)
        alk_on_copy = ("chr1", COPY_AT, "+", 40) if flipped else ("chr1", COPY_AT + 110, "-", 40)
        _unique_partp_alk(toy, unique)
        for i, umi in enumerate(("GGATCCTA", "ATATCGCG")):
            mate = ("chr1", COPY_AT + 40 + 3 * i, "+", 100) if flipped else ("chr1", COPY_AT + 3 * i, "+", 100)
            for rec in toy.fragment(f"c{i}", [("chr4", 4095 + i, "+", 55 - i), alk_on_copy], [mate], mapq=0, only1=1):
                rec.set_tag("RX", umi)
        # one base more of the copy, one less of PARTP: the clip begins a base past the breakend
        longer = ("chr1", COPY_AT - 1, "+", 41) if flipped else ("chr1", COPY_AT + 110, "-", 41)
        for rec in toy.fragment("c2", [("chr4", 4097, "+", 52), longer], None, mapq=0, only1=1):
            rec.set_tag("RX", "CCAATTGG")
        other = ("chr3", 3050, "+", 40)  # ETV6 bases where PARTP's should be
        for rec in toy.fragment("x", [other, alk_on_copy], None, mapq=0, only1=1):
            rec.set_tag("RX", "TTTTCCCC")
        return toy

    [c] = by_fusion(call(tmp_path, toy_with(3), fasta=True), "PARTP::ALK")
    assert {"c0", "c1", "c2"} <= c.split_fragments and "x" not in c.split_fragments
    assert c.molecules == 6 and {"c0", "c1", "c2"} <= c.ambiguous_fragments
    (tmp_path / "s.bam").unlink()
    assert not by_fusion(call(tmp_path, toy_with(0), fasta=True), "PARTP::ALK")


def test_reads_a_copy_spells_only_as_well_go_to_it_where_its_unique_reads_are_most_of_the_breakpoints():
    """An identical copy: two reads placed on ALK with a sequencing error (as unlike the
    copy as ALK), three placed uniquely on the copy. Where those three are most of the
    reads split at PARTP, ALK's two are theirs too (a tie an aligner broke by its splice
    site: the copy's chimera, the decoy's BN10 read); beside five more of the copy's reads
    placed two-place (MAPQ 0), which place an aligner chose is chance, and ALK's two stay
    ALK's (seed 31337 AMP CLTC::ALK with STAR: 3 of 44 reads at CLTC unique on ALKP1).
    Reads that match ALK exactly are never taken so (their two places are their MAPQ's
    to weigh)."""
    from test_calling import by_fusion, call
    import pathlib
    import tempfile

    def result(two_place: int, misread: int | None = 20125):
        toy = _toy_with_copy(mismatch=False)
        _chimeras_at_partp(toy, to_copy=3, to_alk=2, alk_reads_are_the_copys=False, misread=misread)
        if two_place:
            _chimeras_at_partp(toy, to_copy=two_place, to_alk=0, alk_reads_are_the_copys=False, copy_mapq=0, prefix="t")
        with tempfile.TemporaryDirectory() as d:
            return call(pathlib.Path(d), toy, fasta=True)

    dominated = result(0)
    assert not by_fusion(dominated, "PARTP::ALK")
    assert any(c.fusion == "PARTP::ALK" and "mismapping" in c.filters for c in dominated.discarded)
    [kept] = by_fusion(result(5), "PARTP::ALK")
    assert kept.mismapped_reads == 0
    [exact] = by_fusion(result(0, misread=None), "PARTP::ALK")
    assert exact.mismapped_reads == 0


@pytest.mark.parametrize("flipped", [False, True])
def test_a_junction_read_left_unmapped_beside_a_mate_on_a_copy_of_the_target_counts_for_the_call(tmp_path, flipped):
    """HISAT2's capture EML4::ALK molecule in BP13 (seed 31337): its junction read unmapped,
    placed beside its mate, whose chosen place is on ALKP1. Three PARTP::ALK fragments placed
    uniquely make the call; an unmapped read spelling its junction beside a mate on the
    identical copy of ALK exon 3 (either strand) counts for it, its UMI its key, and is in
    the evidence BAM; left beside it: an unmapped read there of PARTP exon 1 bases joined
    to ALK (another junction)."""
    from test_calling import by_fusion, call

    toy = _toy_with_copy(mismatch=False, flipped=flipped)
    _unique_partp_alk(toy)
    [before] = by_fusion(call(tmp_path, toy, fasta=True), "PARTP::ALK")
    for f in ("s.bam", "a.gtf", "g.fa"):
        (tmp_path / f).unlink()
    mate = ("chr1", COPY_AT + 40, "+", 100) if flipped else ("chr1", COPY_AT, "+", 100)
    for name, partner, umi in (("m0", ("chr4", 4090, "+", 60), "GGATCCTA"), ("w0", ("chr4", 1100, "+", 60), "ATATCGCG")):
        toy.unmapped_pair(name, [partner, ("chr2", 20110, "-", 40)], mate)
        for rec in toy.records[-2:]:
            rec.set_tag("RX", umi)
    result = call(tmp_path, toy, fasta=True)
    [c] = by_fusion(result, "PARTP::ALK")
    assert "m0" in c.split_fragments and "m0" in c.unmapped_fragments and "w0" not in c.split_fragments
    assert (c.molecules, c.confidence) == (before.molecules + 1, before.confidence)  # counted, no tier raised
    assert "m0" in {r.query_name for r in result.evidence_records}  # the evidence BAM's records
