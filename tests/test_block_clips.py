"""A short block spliced between a target exon and a soft clip (STAR's defaults:
YWHAE::ROS1 read ``35M43139N17M23S``, 17 partner bases spliced to a chance match in a
ROS1 exon 43 kb away): block and clip count for a junction other reads made when they
spell its partner (evidence.block_clips_of), never as a junction of their own.

The toy genome is the one of test_calling.py: PARTP exon 2 (chr4, + strand, ends at
4149) joined to ALK exon 3 (chr2, minus strand, first base 20149); ALK's exon 2 lies at
chr2:26000-26200 (plus-strand coordinates).
"""

from __future__ import annotations

import pytest
from test_calling import add_background, by_fusion, call, make_toy

from imtfusion.evidence import block_clips_of, clips_of


def junction_reads(toy, n: int = 3) -> None:
    """PARTP::ALK junction reads the aligner split (SA), each with its own mate."""
    for i in range(n):
        toy.fragment(f"split{i}", [("chr4", 4090 + i, "+", 60 - i), ("chr2", 20110, "-", 40)],
                     [("chr2", 20000 + 7 * i, "+", 100)])


def block_read(toy, name: str, partner: tuple[str, int, str, int], block: int = 17, mate: int = 20030):
    """A read of ALK exon 3's first 40 bases followed by ``partner``'s 60 bases, aligned as
    STAR's defaults may: ``40M5850N{block}M{60 - block}S``, the first ``block`` partner
    bases spliced to ALK exon 2 (a chance match the aligner preferred to a clip)."""
    [rec] = toy.fragment(name, [partner, ("chr2", 20110, "-", 40)], [("chr2", mate, "+", 100)], only1=1)[:1]
    rec.cigartuples = [(0, 40), (3, 5850), (0, block), (4, 60 - block)]
    return rec


PARTP_BASES = ("chr4", 4090, "+", 60)  # the last 60 bases of PARTP exon 2
ALK_OWN = ("chr2", 26000, "-", 60)  # ALK exon 2's bases: ALK's own splice, no partner


def test_a_block_clip_is_read_with_the_block_as_clip():
    toy = make_toy()
    rec = block_read(toy, "b0", PARTP_BASES)
    [plain] = clips_of(rec, "chr2", 8)
    [wide] = block_clips_of(rec, "chr2", 8)
    assert (plain.end.pos, len(plain.outward)) == (26016, 43)  # the clip after the block
    assert (wide.end.pos, wide.end.side, len(wide.outward)) == (20149, "L", 60)
    rec.cigartuples = [(0, 40), (3, 5850), (0, 5), (4, 55)]  # a tiny block: clips_of has it already
    assert block_clips_of(rec, "chr2", 8) == []
    rec.cigartuples = [(0, 40), (3, 5850), (0, 60)]  # no clip after the block: an ordinary splice
    assert block_clips_of(rec, "chr2", 8) == []
    rec.cigartuples = [(0, 40), (3, 5850), (0, 30), (4, 30)]  # a block longer than SPLICED_BLOCK
    assert block_clips_of(rec, "chr2", 8) == []
    rec.cigartuples = [(0, 73), (3, 5850), (0, 20), (4, 7)]  # a clip shorter than min_clip_match after it
    assert block_clips_of(rec, "chr2", 8) == []


def call_beside_split_reads(tmp_path, partner, fasta: bool):
    """The PARTP::ALK call of three reads the aligner split and two block reads of ``partner``."""
    toy = make_toy()
    add_background(toy)
    junction_reads(toy)
    for i in range(2):
        block_read(toy, f"blk{i}", partner, block=15 + 2 * i, mate=20030 + 9 * i)
    [real] = by_fusion(call(tmp_path, toy, fasta=fasta), "PARTP::ALK")
    assert (real.end3.chrom, real.end3.pos + 1) == ("chr2", 20150)
    return real


@pytest.mark.parametrize("fasta", [False, True])
def test_block_clips_spelling_a_calls_partner_count_for_it(tmp_path, fasta):
    real = call_beside_split_reads(tmp_path, PARTP_BASES, fasta)
    assert {"blk0", "blk1"} <= real.split_fragments and real.split_reads == 5


@pytest.mark.parametrize("fasta", [False, True])
def test_block_clips_of_the_targets_own_exons_do_not_count(tmp_path, fasta):
    # the decoy: block and clip spell ALK's own exon 2 (an ordinary splice with a clip)
    real = call_beside_split_reads(tmp_path, ALK_OWN, fasta)
    assert real.split_reads == 3 and not {"blk0", "blk1"} & real.split_fragments


def test_block_clips_alone_make_no_junction(tmp_path):
    # the decoy: without reads the aligner split, block clips do not place ALK exon 3's junction
    toy = make_toy()
    add_background(toy)
    for i in range(4):
        block_read(toy, f"blk{i}", PARTP_BASES, mate=20030 + 9 * i)
    result = call(tmp_path, toy)
    assert not [c for c in result.called + result.discarded if c.end3.pos + 1 == 20150 or c.end5.pos + 1 == 20150]
