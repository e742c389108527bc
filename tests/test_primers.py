"""Primer-anchored evidence (issue #17, item 2): the primer BED, reads that start at a
primer, primer bases as non-evidence, distinct partner-side start sites, and the
filter ``primer_only_anchor``."""

from __future__ import annotations

import pytest

from imtfusion.errors import PrimerFileError
from imtfusion.model import Breakend
from imtfusion.primers import PRIMER_TOLERANCE, Primer, read_primer_bed

CONTIGS = {"chr2": 1_000_000, "chr12": 500_000}


def _bed(tmp_path, text: str):
    path = tmp_path / "primers.bed"
    path.write_text(text)
    return path


def test_a_bed6_is_read_into_bam_coordinates_and_contig_names(tmp_path):
    path = _bed(tmp_path, "track name=panel\n# comment\n2\t100\t120\tALK_e20\t0\t-\nchr12\t5000\t5022\n")
    primers = read_primer_bed(path, CONTIGS)
    assert primers.primers == (
        Primer("chr12", 5000, 5022, ".", "chr12:5001-5022"),  # no name: the 1-based span
        Primer("chr2", 100, 120, "-", "ALK_e20"),
    )
    # and the other way round: a BED with chr names against a BAM without
    assert read_primer_bed(_bed(tmp_path, "chr2\t100\t120\n"), {"2": 1000}).primers[0].chrom == "2"


def test_a_read_starts_at_a_primer_within_the_tolerance_on_its_strand(tmp_path):
    primers = read_primer_bed(_bed(tmp_path, "chr2\t100\t120\tP1\t0\t-\nchr2\t300\t320\tP2\t0\t+\n"
                                             "chr12\t50\t70\tP3\n"), CONTIGS)
    # a reverse read primed by P1 starts (5'-most base) at its last base, 119
    assert primers.primer_at("chr2", 119, True).name == "P1"
    assert primers.primer_at("chr2", 119 + PRIMER_TOLERANCE, True).name == "P1"
    assert primers.primer_at("chr2", 119 + PRIMER_TOLERANCE + 1, True) is None
    assert primers.primer_at("chr2", 119, False) is None  # the wrong strand
    assert primers.primer_at("chr2", 100, False) is None
    assert primers.primer_at("chr2", 300 - PRIMER_TOLERANCE, False).name == "P2"
    assert primers.primer_at("chr2", 300, True) is None
    # no strand column: either strand, each from its own end
    assert primers.primer_at("chr12", 50, False).name == "P3" and primers.primer_at("chr12", 69, True).name == "P3"
    assert primers.primer_at("chr12", 50, True) is None
    # from a duplicate key: a reverse record's key holds one past its last base
    names = {0: "chr2", 1: "chr12"}
    assert primers.primer_of_key((0, 120, True, -1, -1, ""), names)[0].name == "P1"
    assert primers.primer_of_key((0, 119, True, -1, -1, ""), names)[0].name == "P1"
    assert primers.primer_of_key((0, 200, True, -1, -1, ""), names) is None
    assert primers.primer_of_key((-1, -1, False, -1, -1, ""), names) is None


def test_primer_bases_do_not_count_toward_the_target_side():
    forward = Primer("chr2", 300, 320, "+", "P2")
    # a forward read from the primer to a junction after base 349 keeps 30 bases beyond the primer
    assert forward.bases_beyond(Breakend("chr2", 349, "L"), False) == 30
    assert forward.bases_beyond(Breakend("chr2", 319, "L"), False) == 0  # the junction at the primer's end
    assert forward.bases_beyond(Breakend("chr2", 310, "L"), False) == 0  # inside the primer
    assert forward.bases_beyond(Breakend("chr2", 349, "R"), False) is None  # behind the read
    assert forward.bases_beyond(Breakend("chr12", 349, "L"), False) is None
    reverse = Primer("chr2", 100, 120, "-", "P1")
    assert reverse.bases_beyond(Breakend("chr2", 60, "R"), True) == 40
    assert reverse.bases_beyond(Breakend("chr2", 100, "R"), True) == 0
    assert reverse.bases_beyond(Breakend("chr2", 130, "R"), True) is None


@pytest.mark.parametrize("text, words", [
    ("chr2\t100\n", ["line 1", "2 column(s)", "chrom<TAB>start<TAB>end"]),
    ("chr2\t100\t120\nchr2\tten\t120\n", ["line 2", "'ten'", "not an integer"]),
    ("chr2\t120\t100\n", ["line 1", "smaller than end", "0-based half-open"]),
    ("chr2\t100\t100\n", ["line 1", "smaller than end"]),
    ("chr7\t100\t120\n", ["line 1", "'chr7' is not in the BAM", "contig names"]),
    ("chr2\t100\t2000000\n", ["line 1", "past the end of chr2"]),
    ("chr2\t100\t120\tP\t0\tx\n", ["line 1", "strand 'x'"]),
    ("# only a comment\n\n", ["holds no primer", "one line per primer"]),
    ("", ["holds no primer"]),
])
def test_a_bad_primer_bed_names_the_file_the_line_and_the_fix(tmp_path, text, words):
    path = _bed(tmp_path, text)
    with pytest.raises(PrimerFileError) as err:
        read_primer_bed(path, CONTIGS)
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_a_missing_primer_bed_is_a_domain_error(tmp_path):
    with pytest.raises(PrimerFileError, match="cannot read the primer BED"):
        read_primer_bed(tmp_path / "absent.bed", CONTIGS)
