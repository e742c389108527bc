"""Adapter read-through in reads the aligner left unmapped: an FFPE insert shorter than the
read goes on into the 3' adapter, which an aligner soft-clips (and imtfusion ignores as a
clip) but which stays in an unmapped read's bases, hiding the target bases at its end from
the look-up of its last 20 bases."""

from __future__ import annotations

import pytest

from imtfusion.evidence import trim_adapter
from test_rescue import KNOWN_PARTP, by_fusion, run
from test_calling import add_background, make_toy
from toolkit import revcomp

TRUSEQ = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC"  # the read 1 adapter, then the index primer site


def test_the_adapter_is_cut_where_it_begins_on_either_strand():
    insert = "ACGTTGCAAGGCTTACCGATGGACTTTGACC"
    assert trim_adapter(insert + TRUSEQ[:20]) == insert
    assert trim_adapter(insert + TRUSEQ[:8]) == insert  # the read ends 8 bases into it
    assert trim_adapter(revcomp(insert + TRUSEQ[:15])) == revcomp(insert)  # stored reverse-complemented
    assert trim_adapter(insert + "CTGTCTCTTATACACATCT") == insert  # Nextera
    assert trim_adapter(insert) == insert
    assert trim_adapter(insert + TRUSEQ[:5]) == insert + TRUSEQ[:5]  # 5 bases: as likely a chance match


def _with_adapter(toy, name, parts, adapter_bases, reverse=False):
    toy.unplaced(name, parts)
    rec = toy.records[-1]
    seq = rec.query_sequence + TRUSEQ[:adapter_bases]
    rec.query_sequence = revcomp(seq) if reverse else seq
    rec.query_qualities = [30] * len(seq)


@pytest.mark.parametrize("reverse", [False, True])
def test_unplaced_junction_reads_with_adapter_read_through_count(tmp_path, reverse):
    """Kept: three single-end PARTP::ALK junction reads without a position whose insert
    (20 PARTP bases, 45 ALK bases) is followed by 25 adapter bases. Discarded beside them: a
    wild-type ALK read with the same adapter tail (no junction once it is cut), and a read
    of adapter dimer (nothing left)."""
    toy = make_toy()
    add_background(toy)
    known = tmp_path / "known.tsv"
    known.write_text(KNOWN_PARTP)
    for i in range(3):
        _with_adapter(toy, f"a{i}", [("chr4", 4130 + i, "+", 20 - i), ("chr2", 20105, "-", 45 + i)], 25, reverse)
    _with_adapter(toy, "wild", [("chr2", 20060, "-", 65)], 25, reverse)
    toy.unplaced("dimer", [("chr2", 20060, "-", 1)])
    toy.records[-1].query_sequence = TRUSEQ + TRUSEQ[:30]
    toy.records[-1].query_qualities = [30] * 64
    result = run(tmp_path, toy, known=known)
    [c] = by_fusion(result, "PARTP::ALK")
    assert (c.end5.label(), c.end3.label()) == ("chr4:4150", "chr2:20150")
    assert c.split_fragments == {"a0", "a1", "a2"}


def test_the_simulator_reads_short_inserts_into_the_adapters_and_draws_the_same_molecules():
    """``LibrarySpec.adapters``: reads of inserts shorter than the read length go on into
    TruSeq's read 1 / read 2 adapters; the insert bases, their errors and every later draw
    are those of the trimmed library."""
    import random
    from dataclasses import replace

    from imtfusion_tools.sim.reads import READ1_ADAPTER, READ2_ADAPTER, LibrarySpec, _QualityModel, _reads

    lib = LibrarySpec.ffpe(read_length=75, strandedness="forward")
    qm = _QualityModel(75, lib.error_rate)
    insert = "".join(random.Random(1).choice("ACGT") for _ in range(60))
    trimmed = _reads(random.Random(9), lib, qm, insert)
    rng = random.Random(9)
    through = _reads(rng, replace(lib, adapters=True), qm, insert)
    assert through[1] == trimmed[1] + READ1_ADAPTER[:15] and through[3] == trimmed[3] + READ2_ADAPTER[:15]
    assert len(through[2]) == len(through[4]) == 75 and through[5:] == trimmed[5:]
    assert rng.random() == (lambda r: (_reads(r, lib, qm, insert), r.random())[1])(random.Random(9))
    # an insert as long as the reads: no adapter
    long = insert + insert
    assert _reads(random.Random(3), replace(lib, adapters=True), qm, long) == _reads(random.Random(3), lib, qm, long)


def test_a_junction_to_adapter_bases_aligned_by_chance_is_no_fusion(tmp_path):
    """Discarded (`adapter_partner`): ALK reads whose first 13 bases are adapter read-through
    (TruSeq, reverse-complemented: the read is antisense) that the aligner placed as a
    chimeric segment where the genome spells them by chance, at PARTP exon 2's end (STAR's
    chimeric mode put 11 adapter bases of a wild-type ROS1 read in EEF1A1, capture BN09
    with --adapters). Kept beside it: PARTP::ALK reads whose PARTP bases are PARTP's."""
    from test_calling import by_fusion, call

    def toy_with(adapter: bool):
        toy = make_toy()
        if adapter:  # PARTP exon 2 (4000-4150) ends in the reverse complement of the adapter
            bases = revcomp(TRUSEQ[:13])
            toy.seq["chr4"] = toy.seq["chr4"][:4137] + bases + toy.seq["chr4"][4150:]
        add_background(toy)
        side = ("chr4", 4137, "+", 13) if adapter else ("chr4", 4100, "+", 50)
        for i in range(4):
            toy.fragment(f"f{i}", [side, ("chr2", 20110 - 3 * i, "-", 40 + 3 * i)], [("chr2", 19990 - 5 * i, "+", 100)])
        return toy

    result = call(tmp_path, toy_with(True), fasta=True)
    assert not by_fusion(result, "PARTP::ALK")
    assert any(c.fusion == "PARTP::ALK" and "adapter_partner" in c.filters for c in result.discarded)
    (tmp_path / "s.bam").unlink()
    [kept] = by_fusion(call(tmp_path, toy_with(False), fasta=True), "PARTP::ALK")
    assert kept.split_reads == 4
