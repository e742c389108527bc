"""UMI-aware molecule counting: fragments at the same positions are one molecule only
when their UMIs (MI tag, RX tag or a read-name UMI) are one family (umi-tools'
directional rule), and the thresholds count molecules."""

from __future__ import annotations

import numpy as np
import pytest

from imtfusion import umis
from imtfusion.umis import count_duplicates, directional
from test_calling import PARTP_ALK_MATE, PARTP_ALK_READ, add_background, by_fusion, call, make_toy


def test_directional_absorbs_a_rare_neighbour_and_keeps_an_abundant_one():
    assert directional({"AAAAAA": 10, "AAAAAT": 2, "CCCCCC": 1}) == {
        "AAAAAA": "AAAAAA", "AAAAAT": "AAAAAA", "CCCCCC": "CCCCCC"}
    # as abundant as each other: two molecules, not an error of one another
    assert set(directional({"AAAAAA": 3, "AAAAAT": 3}).values()) == {"AAAAAA", "AAAAAT"}
    # transitively: an error of an error, each at most half (rounded up) of its parent
    assert set(directional({"AAAAAA": 9, "AAAAAT": 4, "AAAATT": 2}).values()) == {"AAAAAA"}
    assert directional({"AAAAAA": 9, "AAAAAT": 2}, mismatches=0)["AAAAAT"] == "AAAAAT"
    # molecule ids are grouped already: matched exactly
    assert set(directional({"MI:7": 5, "MI:8": 1}).values()) == {"MI:7", "MI:8"}


def test_duplicates_need_the_same_positions_and_umi_family():
    pos = (1, 100, False, 1, 300)
    keys = {"a": {pos + ("ACGTAC",)}, "b": {pos + ("ACGTAC",)}, "c": {pos + ("TTTTTT",)},
            "d": {(1, 120, False, 1, 320, "ACGTAC")}, "e": {(1, 130, False, 1, 300, "ACGTAC")}}
    # b repeats a; c has another UMI; d other positions; e shares a's UMI and mate start:
    # a copy whose other read was seen
    assert count_duplicates(keys) == 2
    assert count_duplicates(keys, use_umis=False) == 2  # b and c at a's positions (e's differ)


def same_position_fragments(toy, umis, where="RX"):
    """Fragments of the PARTP::ALK junction whose reads and mates all start at the same
    positions (as anchored multiplex PCR makes them: every read starts at its primer)."""
    for i, umi in enumerate(umis):
        name = f"amp{i}_{umi}" if where == "name" else f"amp{i}"
        for rec in toy.fragment(name, PARTP_ALK_READ, PARTP_ALK_MATE):
            if where == "RX":
                rec.set_tag("RX", umi)
            elif where == "MI":
                rec.set_tag("MI", umi)


@pytest.mark.parametrize("where", ["RX", "name"])
def test_fragments_at_one_position_with_different_umis_are_different_molecules(tmp_path, where):
    toy = make_toy()
    add_background(toy)
    same_position_fragments(toy, ["ACGTACGT", "TTGCAGCA", "GATCCTAG", "CAGTTGAC"], where)
    result = call(tmp_path, toy, min_fragments=3)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.fragments == 4 and c.molecules == 4 and c.umis
    # without UMIs, positions alone: one molecule, too few to call
    (tmp_path / "s.bam").unlink()
    off = call(tmp_path, toy, min_fragments=3, umi="no")
    assert not by_fusion(off, "PARTP::ALK")
    [d] = [k for k in off.discarded if k.fusion == "PARTP::ALK"]
    assert d.molecules == 1 and "duplicates" in d.filters


def test_one_molecule_amplified_with_a_umi_error_is_one_molecule(tmp_path):
    # the decoy: four PCR copies of one molecule, one with a sequencing error in its UMI
    toy = make_toy()
    add_background(toy)
    same_position_fragments(toy, ["ACGTACGT", "ACGTACGT", "ACGTACGT", "ACGTACTT"])
    result = call(tmp_path, toy, min_fragments=3)
    assert not by_fusion(result, "PARTP::ALK")
    [d] = [k for k in result.discarded if k.fusion == "PARTP::ALK"]
    assert d.fragments == 4 and d.molecules == 1 and "duplicates" in d.filters


def test_molecule_ids_from_the_mi_tag_are_taken_as_they_are(tmp_path):
    toy = make_toy()
    add_background(toy)
    same_position_fragments(toy, ["1", "2", "3", "3"], where="MI")
    result = call(tmp_path, toy, min_fragments=3)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.fragments == 4 and c.molecules == 3


def test_an_unmapped_pcr_copy_is_the_molecule_its_umi_names(tmp_path):
    # one molecule's copy was left unmapped (no position): its UMI alone makes it that
    # molecule, not a fifth one; an unmapped read with a new UMI is a molecule of its own
    toy = make_toy()
    add_background(toy)
    same_position_fragments(toy, ["ACGTACGT", "TTGCAGCA", "GATCCTAG", "CAGTTGAC"])
    for name, umi in (("copy", "ACGTACGT"), ("other", "GGGAAACC")):
        toy.unplaced(name, [("chr4", 4110, "+", 40), ("chr2", 20060, "-", 90)])
        toy.records[-1].set_tag("RX", umi)
    result = call(tmp_path, toy, min_fragments=3, scan_unmapped="yes")
    [c] = by_fusion(result, "PARTP::ALK")
    assert {"copy", "other"} <= c.unmapped_fragments | c.split_fragments
    assert c.fragments == 6 and c.molecules == 5


def test_start_sites_count_the_partner_side_read_positions(tmp_path):
    # anchored multiplex PCR: every junction read starts at one primer in ALK; the mates,
    # read from the ligated end in PARTP, start at five places: five start sites
    toy = make_toy()
    add_background(toy)
    for i in range(5):
        toy.fragment(f"amp{i}", PARTP_ALK_READ, [("chr4", 3990 - 7 * i, "+", 100)])
    result = call(tmp_path, toy, min_fragments=3)
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.start_sites == 5
    # the artefact's signature: five UMIs, but every read of them at the same places
    (tmp_path / "s.bam").unlink()
    toy = make_toy()
    add_background(toy)
    for i, umi in enumerate(["ACGTACGT", "TTGCAGCA", "GATCCTAG", "CAGTTGAC", "GGTTAACC"]):
        for rec in toy.fragment(f"one{i}", PARTP_ALK_READ, [("chr4", 3990, "+", 100)]):
            rec.set_tag("RX", umi)
    [d] = by_fusion(call(tmp_path, toy, min_fragments=3), "PARTP::ALK")
    assert d.molecules == 5 and d.start_sites == 1


def test_start_sites_on_one_chromosome_count_only_the_partner_side():
    # TPM3 and NTRK1 on one chromosome, 30 kb apart: each fragment's primer-side (target)
    # start lies within the partner's window too, and must not count as a second site
    target, partner = 100_000, 130_000
    keys = {f"f{i}": {(0, target + 5 * i, False, 0, partner + 40 + 11 * i, "")} for i in range(4)}
    keys["same"] = {(0, partner - 60, True, 0, target + 3, "")}
    assert umis.start_sites(keys, 0, partner, target=(0, target)) == 5
    # counted both ways without the target, as before
    assert umis.start_sites(keys, 0, partner) == 10
    # a target on another chromosome changes nothing
    assert umis.start_sites(keys, 0, partner, target=(3, target)) == 10


def test_a_copy_seen_only_through_its_partner_record_joins_its_family_despite_a_misread_umi():
    # two PCR copies seen through their target record (ROS1, chr 3) with the partner-side
    # mate starting at 43076 (YWHAE, chr 7); a third copy, its UMI misread in one base,
    # seen only through its partner record, whose mate (the primer read) starts at 43026
    keys = {"a": {(3, 106418, False, 7, 43076, "AGACACAT")}, "b": {(3, 106418, False, 7, 43076, "AGACACAT")},
            "c": {(7, 43026, False, 7, 43076, "AGACTCAT")}}
    assert count_duplicates(keys) == 2
    # a record's 5' end and another record's mate start are one place: the aligner wrote
    # one copy's junction read on the partner, the other's on the target
    keys = {"a": {(1, 57473, False, 8, 96790, "CAACTCAT")}, "b": {(8, 96790, False, 8, 96803, "CAACTCAT")}}
    assert count_duplicates(keys) == 1
    # two molecules sharing only the primer's coordinate, as abundant as each other and
    # one base apart, stay two
    keys = {"a": {(1, 500, True, 2, 100, "ACGTACGT")}, "b": {(1, 500, True, 2, 100, "ACGTACGT")},
            "c": {(1, 500, True, 2, 180, "ACGTACGA")}, "d": {(1, 500, True, 2, 180, "ACGTACGA")}}
    assert count_duplicates(keys) == 2


# ----------------------------------------------------------------------------------
# molecules of a whole target locus (sample QC, targets.tsv)
# ----------------------------------------------------------------------------------


def _keys(*rows):
    from imtfusion.evidence import start_key

    pos, other, rev, found = zip(*rows)
    return (start_key(np.asarray(pos), np.asarray(other), np.asarray(rev)),
            np.asarray([u.encode() for u in found], dtype=f"S{umis.UMI_WIDTH}"))


def _molecules_by_pairs(starts, found, mismatches: int, near: int) -> int:
    """The rule of :func:`umis.molecules_at_starts` written the plain way: families by the
    directional rule at each start key, then families on one strand whose starts and mate
    starts are within ``near`` and whose UMIs (bytes, an MI id exactly) within
    ``mismatches`` joined, every pair of families compared."""
    by_start: dict[int, dict[bytes, int]] = {}
    for k, u in zip(starts.tolist(), found.tolist()):
        by_start.setdefault(k, {}).setdefault(u, 0)
        by_start[k][u] += 1
    families = set()
    for k, counts in by_start.items():
        rep = directional({u.decode(): n for u, n in counts.items()}, mismatches)
        families |= {(k & 1, k >> 32, (k >> 1) & 0x7FFFFFFF, r.encode()) for r in rep.values()}
    families = sorted(families)
    if near <= 0:
        return len(families)
    parent = list(range(len(families)))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for i, (rev_a, pos_a, other_a, a) in enumerate(families):
        for j in range(i + 1, len(families)):
            rev_b, pos_b, other_b, b = families[j]
            if rev_a != rev_b or abs(pos_a - pos_b) > near or abs(other_a - other_b) > near or not a or not b:
                continue
            x, y = a.ljust(umis.UMI_WIDTH, b"\0"), b.ljust(umis.UMI_WIDTH, b"\0")
            allowed = 0 if a.startswith(b"MI:") or b.startswith(b"MI:") else mismatches
            if sum(p != q for p, q in zip(x, y)) <= allowed:
                parent[find(j)] = find(i)
    return len({find(i) for i in range(len(families))})


@pytest.mark.parametrize("seed", range(6))
def test_locus_molecules_are_those_of_the_plain_rule_at_any_density(seed):
    # busy starts, misread UMIs (once or twice), molecule ids, empty and shorter UMIs:
    # the numpy grouping (families compared only where they share a part of their
    # UMI bytes) gives the count of every pair compared
    import random

    rng = random.Random(seed)
    length = rng.choice([6, 8, 12])
    pool = ["".join(rng.choice("ACGT") for _ in range(length)) for _ in range(rng.randint(3, 30))]
    rows = []
    for _ in range(rng.randint(50, 400)):
        pos = rng.randint(100, 140)
        umi = rng.choice(pool)
        for _ in range(rng.choice([0, 0, 1, 2])):
            k = rng.randrange(length)
            umi = umi[:k] + rng.choice("ACGT") + umi[k + 1:]
        umi = rng.choices([umi, f"MI:{rng.randint(1, 4)}", "", umi[:-1]], [90, 5, 2, 3])[0]
        rows.append((pos, pos + rng.randint(0, 8), rng.random() < 0.5, umi))
    starts, found = _keys(*rows)
    for mismatches in (0, 1, 2):
        for near in (0, 3):
            assert (umis.molecules_at_starts(starts, found, mismatches, near)
                    == _molecules_by_pairs(starts, found, mismatches, near)), (mismatches, near)


def test_locus_molecules_are_umi_families_at_each_start():
    # two molecules that start together (a deep panel's wild-type reads do): positions
    # alone make them one, their UMIs two; a copy with a misread UMI base is its family's
    starts, found = _keys((100, 300, False, "ACGTACGT"), (100, 300, False, "ACGTACGT"),
                          (100, 300, False, "ACGTACTT"), (100, 300, False, "TTGCAGCA"),
                          (100, 300, True, "TTGCAGCA"), (500, 700, False, "ACGTACGT"))
    assert umis.molecules_at_starts(starts, found) == 4
    assert umis.molecules_at_starts(starts, found, mismatches=0) == 5
    # a copy whose read the aligner clipped by two bases starts two bases on: one molecule;
    # another UMI there is another molecule, and so is the same UMI 40 bases away
    starts, found = _keys((100, 300, False, "ACGTACGT"), (102, 300, False, "ACGTACGT"),
                          (100, 301, False, "ACGTACGT"), (102, 300, False, "GGGAAACC"),
                          (140, 300, False, "ACGTACGT"))
    assert umis.molecules_at_starts(starts, found) == 3
    assert umis.molecules_at_starts(starts, found, near=0) == 5
    assert umis.molecules_at_starts(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype="S24")) == 0
    # molecule ids (MI tags) a byte apart are two molecules, near each other or not
    starts, found = _keys((100, 300, False, "MI:12"), (101, 300, False, "MI:13"), (100, 300, False, "MI:12"))
    assert umis.molecules_at_starts(starts, found) == 2


def _deep_locus_toy(where):
    """ALK wild-type molecules that start at 5 places with 4 UMIs each (20 molecules),
    every one with 2 PCR copies, one copy of each with a misread UMI base, plus one copy
    clipped by a base: positions alone say 5 molecules."""
    toy = make_toy()
    add_background(toy, n=0)
    for i in range(12):
        toy.fragment(f"wtE{i}", [("chr3", 3000 + 5 * i, "+", 100)], [("chr3", 3090 + 5 * i, "-", 100)])
    bases = ["ACGTACGT", "TTGCAGCA", "GATCCTAG", "CAGTTGAC"]
    n = 0
    for p in range(5):
        for umi in bases:
            for copy, u in enumerate([umi, umi, umi[:-1] + ("A" if umi[-1] != "A" else "C")]):
                name = f"m{n}" + (f"_{u}" if where == "name" else "")
                clip = copy == 1 and p == 0
                read1 = [("chr2", 10001 if clip else 10000 + 20 * p, "+", 99 if clip else 100)]
                for rec in toy.fragment(name, read1, [("chr2", 10150 + 20 * p, "-", 100)]):
                    if where == "RX":
                        rec.set_tag("RX", u)
                    elif where == "MI":
                        rec.set_tag("MI", umi)
                n += 1
    return toy


@pytest.mark.parametrize("where", ["name", "RX", "MI"])
def test_a_target_locus_counts_molecules_by_umi_bulk_and_one_by_one_alike(tmp_path, where):
    from imtfusion.annotation import load_annotation
    from imtfusion.bamio import open_alignment
    from imtfusion.evidence import collect_evidence
    from imtfusion.params import CallParameters
    from imtfusion.targets import ContigMap, resolve_targets

    toy = _deep_locus_toy(where)
    bam_path, gtf = toy.write_bam(tmp_path / "s.bam"), toy.write_gtf(tmp_path / "a.gtf")
    annotation = load_annotation(gtf)
    params = CallParameters()
    bam, info = open_alignment(bam_path)
    try:
        contigs = ContigMap.build(annotation.contigs, info.contig_lengths)
        loci = resolve_targets(annotation, ["ALK"], params.margin, contigs, str(bam_path))
        bulk = collect_evidence(bam, loci, params, columnar=True).qc["ALK"].library
        single = collect_evidence(bam, loci, params, columnar=False).qc["ALK"].library
        off = collect_evidence(bam, loci, CallParameters(umi="no"), columnar=True).qc["ALK"].library
    finally:
        bam.close()
    assert bulk == single
    assert bulk.fragments == 60 and bulk.molecules == 20 and bulk.distinct_starts == 6  # 5 and the clipped copy
    assert off.molecules is None and off.distinct_starts == 6


def test_with_umis_the_sample_and_its_targets_count_molecules(tmp_path):
    toy = _deep_locus_toy("name")
    result = call(tmp_path, toy, qc_min_unique_fragments=1)
    qc = result.sample_qc
    [alk] = [s for s in result.statuses if s.target == "ALK"]
    assert qc.duplicates_from == "UMIs" and qc.unique_fragments_of(alk.qc) == 20
    # the decoy: the same library without UMIs is five molecules by position
    (tmp_path / "s.bam").unlink()
    plain = call(tmp_path, _deep_locus_toy("none"), qc_min_unique_fragments=1)
    [alk] = [s for s in plain.statuses if s.target == "ALK"]
    assert plain.sample_qc.duplicates_from == "start positions" and plain.sample_qc.unique_fragments_of(alk.qc) == 6


# ----------------------------------------------------------------------------------
# FFPE: short clips whose UMI family reads them alike
# ----------------------------------------------------------------------------------


def _with_clip_bases_changed(records, changes):
    """The soft-clipped record of a fragment with ``changes`` of its clipped bases (offsets
    from the junction) read as another base, in every copy alike (the molecule's damage)."""
    for rec in records:
        ops = rec.cigartuples
        if rec.is_supplementary or not ops or 4 not in (ops[0][0], ops[-1][0]):
            continue
        seq, qual = list(rec.query_sequence), rec.query_qualities
        for k in changes:
            i = ops[0][1] - 1 - k if ops[0][0] == 4 else len(seq) - ops[-1][1] + k
            seq[i] = {"C": "T", "G": "A", "A": "G", "T": "C"}[seq[i]]
        rec.query_sequence = "".join(seq)
        rec.query_qualities = qual


def _short_clip_fragment(toy, name, umi, changes=()):
    # ALK part aligned; its 10 PARTP bases soft-clipped (an aligner without chimeric output)
    records = toy.fragment(name, [("chr4", 4140, "+", 10), ("chr2", 20060, "-", 90)],
                           [("chr2", 19990, "+", 100)], only1=1)
    _with_clip_bases_changed(records, changes)
    for rec in records:
        rec.set_tag("RX", umi)


def test_a_short_clip_with_one_mismatch_counts_when_its_umi_family_reads_it_alike(tmp_path):
    toy = make_toy()
    add_background(toy)
    for i, umi in enumerate(("ACGTACGT", "TTGCAGCA")):  # the junction, read across by two molecules
        for rec in toy.fragment(f"split{i}", PARTP_ALK_READ, [("chr2", 20010 + 7 * i, "+", 100)]):
            rec.set_tag("RX", umi)
    for copy in range(3):  # one molecule, three copies, its 10 PARTP bases with one damaged
        _short_clip_fragment(toy, f"ffpe{copy}", "GATCCTAG", changes=(4,))
    # the decoys: the same clip read by one fragment only (a sequencing error cannot be told
    # from damage), and a family whose clip has two mismatches
    _short_clip_fragment(toy, "lone", "CAGTTGAC", changes=(4,))
    for copy in range(3):
        _short_clip_fragment(toy, f"two{copy}", "GGTTAACC", changes=(2, 6))
    result = call(tmp_path, toy, min_fragments=2)
    [c] = by_fusion(result, "PARTP::ALK")
    assert {"ffpe0", "ffpe1", "ffpe2"} <= c.split_fragments
    assert not {"lone", "two0", "two1", "two2"} & (c.split_fragments | c.discordant_fragments)
    assert c.molecules == 3
    # without UMIs the copies are not known as one molecule's: exact matches only
    (tmp_path / "s.bam").unlink()
    off = call(tmp_path, toy, min_fragments=2, umi="no")
    [d] = by_fusion(off, "PARTP::ALK")
    assert not {"ffpe0", "ffpe1", "ffpe2"} & d.split_fragments


# ----------------------------------------------------------------------------------
# pairs the aligner left unmapped, placed on the fused transcript
# ----------------------------------------------------------------------------------


def _unplaced_pair(toy, name, read1, read2, umi):
    toy.unplaced(name, read1)
    toy.unplaced(name, read2)
    for rec in toy.records[-2:]:
        rec.flag |= 0x1 | 0x8
        rec.set_tag("RX", umi)
    toy.records[-2].flag |= 0x40
    toy.records[-1].flag |= 0x80


def test_pairs_both_unmapped_count_for_the_fused_transcript_they_read(tmp_path):
    toy = make_toy()
    add_background(toy)
    for i, umi in enumerate(("ACGTACGT", "TTGCAGCA")):  # the junction, read across by two molecules
        for rec in toy.fragment(f"split{i}", PARTP_ALK_READ, [("chr2", 20010 + 7 * i, "+", 100)]):
            rec.set_tag("RX", umi)
    # three molecules whose junction lies between their reads (PARTP exon 2, ALK exon 3),
    # both reads left unmapped by the aligner
    for i, umi in enumerate(("GATCCTAG", "CAGTTGAC", "GGTTAACC")):
        _unplaced_pair(toy, f"pair{i}", [("chr4", 4010 + 9 * i, "+", 100)], [("chr2", 20000 + 5 * i, "+", 100)], umi)
    # the decoys: a wild-type ALK pair; the same two genes read the other way round (the
    # ALK read first: no transcript has them so); a partner read past the breakpoint
    # (PARTP exon 3, not in the fused transcript)
    _unplaced_pair(toy, "wild", [("chr2", 20010, "-", 100)], [("chr2", 19950, "+", 100)], "AAAACCCC")
    _unplaced_pair(toy, "swapped", [("chr2", 20000, "-", 100)], [("chr4", 4010, "-", 100)], "CCCCAAAA")
    _unplaced_pair(toy, "past", [("chr4", 7050, "+", 100)], [("chr2", 20000, "+", 100)], "GGGGTTTT")
    result = call(tmp_path, toy, fasta=True, scan_unmapped="yes")
    [c] = by_fusion(result, "PARTP::ALK")
    assert c.unplaced_pairs == {"pair0", "pair1", "pair2"}
    assert c.discordant_pairs == 3 and c.fragments == 5 and c.molecules == 5
    # not without the unmapped reads' scan
    (tmp_path / "s.bam").unlink()
    [d] = by_fusion(call(tmp_path, toy, fasta=True, scan_unmapped="no"), "PARTP::ALK")
    assert not d.unplaced_pairs and d.fragments == 2


def test_one_ended_copies_read_from_the_two_ends_are_one_molecule():
    # a BAM that lost the pairing (no mate fields): one PCR copy seen through its
    # partner-side read (TFG, contig 2), the others through the target-side read (ROS1,
    # contig 3), the same UMI: one molecule, not two
    keys = {"a": {(3, 106421, False, -1, -1, "TCGTTAGT")}, "b": {(3, 106421, False, -1, -1, "TCGTTAGT")},
            "c": {(2, 45784, True, -1, -1, "TCGTTAGT")}}
    assert count_duplicates(keys) == 2
    # read from the same end at another position: another molecule with the same UMI
    keys["d"] = {(3, 106500, False, -1, -1, "TCGTTAGT")}
    assert count_duplicates(keys) == 2
    # the copy from the other end joins one molecule only: "d" conflicts with the
    # molecule of "a" and "b", which "c" joined
    assert count_duplicates({**keys, "e": {(2, 45784, True, -1, -1, "TCGTTAGT")}}) == 3
    # another UMI, or a UMI one base off (no place shared for the directional rule): kept apart
    assert count_duplicates({"a": {(3, 106421, False, -1, -1, "TCGTTAGT")},
                             "c": {(2, 45784, True, -1, -1, "TCGTTAGA")}}) == 0
    # a fragment whose keys know the mate is not one-ended: the places decide as before
    assert count_duplicates({"a": {(3, 106421, False, 2, 45900, "TCGTTAGT")},
                             "c": {(2, 45784, True, -1, -1, "TCGTTAGT")}}) == 0


def test_copies_without_a_position_form_umi_families_among_themselves():
    # five copies of one molecule left unmapped on both reads (no position): UMI TGTACGTG,
    # one copy misread at its third base, another at its second: one family, one molecule
    unplaced = (-1, -1, False, -1, -1)
    umis_read = ["TGTCCGTG", "TGTACGTG", "TATACGTG", "TGTACGTG", "TGTACGTG", "TGTACGTG"]
    keys = {f"u{i}": {unplaced + (u,)} for i, u in enumerate(umis_read)}
    assert count_duplicates(keys) == 5
    # two molecules: another UMI far from the first, and as often
    keys.update({f"v{i}": {unplaced + ("CCAAGGTT",)} for i in range(5)})
    assert count_duplicates(keys) == 9
    # a family within a mismatch of a placed fragment's UMI is that molecule
    keys["p"] = {(3, 106421, False, 2, 45700, "CCAAGGTA")}
    assert count_duplicates(keys) == 10  # 12 fragments, 2 molecules
