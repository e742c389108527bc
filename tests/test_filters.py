"""Every registered filter on a frozen Features record built here (no BAM, no candidate):
one record it must discard and one it must keep; the verdict and the tiers; and the
documents derived from the registry (README filter table, the JSON schema's filter names,
the parameter table) must not drift from it, nor miss a filter added to it."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from imtfusion.calling import Candidate
from imtfusion.errors import ConfigError
from imtfusion.features import Features, features_of
from imtfusion.filters import (
    FILTER_NAMES,
    FILTERS,
    Filter,
    FilterContext,
    Verdict,
    active_filters,
    apply_filters,
    filter_table,
    judge,
    refresh_readme,
    refresh_schema,
)
from imtfusion.genelookup import GeneRef
from imtfusion.model import Breakend
from imtfusion.params import CallParameters

REPO = Path(__file__).resolve().parents[1]

TPM3 = GeneRef("TPM3", "G1", "-", "protein_coding")
ALK = GeneRef("ALK", "G2", "-", "protein_coding")
NEIGH = GeneRef("NEIGH", "G3", "-", "protein_coding")


def candidate(**kw) -> Candidate:
    """A well-supported TPM3::ALK call; keyword arguments change it."""
    base = dict(
        end5=Breakend("chr1", 1000, "R"),
        end3=Breakend("chr2", 5000, "L"),
        gene5=TPM3,
        gene3=ALK,
        split_fragments={f"s{i}" for i in range(6)},
        discordant_fragments={f"d{i}" for i in range(4)},
        site5="splice_site",
        site3="splice_site",
        best_anchor=40,
        sequence5="ACGTTGCAAGCTTAGCCATG",
        sequence3="TTGACCGTAGCATGCAAGTC",
        mapqs=[60] * 10,
    )
    base.update(kw)
    return Candidate(**base)


def record(**kw) -> Features:
    """The same well-supported TPM3::ALK call as a Features record; keyword arguments change it."""
    base = dict(
        end5=Breakend("chr1", 1000, "R"),
        end3=Breakend("chr2", 5000, "L"),
        gene5=TPM3,
        gene3=ALK,
        split_reads=6,
        discordant_pairs=4,
        fragments=10,
        site5="splice_site",
        site3="splice_site",
        best_anchor=40,
        sequence5="ACGTTGCAAGCTTAGCCATG",
        sequence3="TTGACCGTAGCATGCAAGTC",
    )
    base.update(kw)
    return Features(**base)


class FakeArtefacts:
    def match(self, gene5, gene3, breakpoint5, breakpoint3, fragments):
        junction = (gene5, gene3, breakpoint5, breakpoint3)
        return "seen in 5 of 20 samples" if junction == ("TPM3", "ALK", "chr1:1001", "chr2:5001") and fragments <= 5 else None


def context(**params) -> FilterContext:
    return FilterContext(CallParameters.from_mapping(params), frozenset(), FakeArtefacts())


WEAK = dict(split_reads=2, discordant_pairs=0, fragments=2)
# filter -> (a record it must discard, a record it must keep)
CASES = {
    "not_transcribable": (dict(oriented=False), {}),
    "intragenic": (dict(gene3=TPM3), {}),
    "read_through": (
        dict(gene3=NEIGH, end3=Breakend("chr1", 900, "L")),
        dict(gene3=NEIGH, end3=Breakend("chr1", 900 - 200_000, "L")),
    ),
    "multimapping": (dict(low_mapq_fraction=0.8), dict(low_mapq_fraction=0.2)),
    "mismapping": (dict(tested_reads=6, mismapped_reads=4), dict(tested_reads=6, mismapped_reads=1)),
    "pseudogene_partner": (
        dict(gene5=GeneRef("TPM3P1", "G4", "+", "processed_pseudogene")),
        dict(gene5=GeneRef("TPM3P1", "G4", "+", "processed_pseudogene"), targets=("TPM3P1",)),
    ),
    # the 5' side (adjacent base first) is the reverse complement of TruSeq's first 11
    # bases, read away from the junction (BN09's EEF1A1::ROS1); kept: 9 of them
    "adapter_partner": (dict(sequence5="TTCTAGCCTTCTTAGAGAAAGTGGAGTGAT"), dict(sequence5="TACTAGCCTTCTTAGAGAAAGTGGAGTGAT")),
    "low_complexity": (dict(sequence3="GGGGGGGGGGGGGGGGGGGG"), {}),
    "intronic_no_split": (
        dict(site5="intronic", site3="intronic", split_reads=0, fragments=4),
        dict(site5="intronic", site3="intronic"),
    ),
    "short_anchor": (dict(best_anchor=12, **WEAK), dict(best_anchor=25, **WEAK)),
    "promiscuous_breakpoint": (dict(promiscuous=True), {}),
    # every fragment read from a primer ending 2 bases before the junction, or one of them 30
    "primer_only_anchor": (
        dict(split_reads=3, discordant_pairs=0, fragments=3, primed_fragments=3, max_beyond_primer=2),
        dict(split_reads=3, discordant_pairs=0, fragments=3, primed_fragments=3, max_beyond_primer=30),
    ),
    "recurrent_in_batch": (
        dict(split_reads=3, discordant_pairs=0, fragments=3),
        {},  # 10 fragments: stronger than the artefact
    ),
    "duplicates": (
        dict(split_reads=3, discordant_pairs=0, fragments=3, duplicates=2),
        dict(split_reads=3, discordant_pairs=0, fragments=3, duplicates=0),
    ),
    "min_support": (dict(split_reads=2, discordant_pairs=0, fragments=2), {}),
    "same_event": (dict(part_of_call=True), {}),
}


def test_every_filter_has_a_case():
    assert set(CASES) == set(FILTER_NAMES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_filter_discards_one_record_and_keeps_the_other(name):
    rule = next(f for f in FILTERS if f.name == name)
    discard, keep = CASES[name]
    ctx = context()
    assert rule.predicate(record(**discard), ctx)
    assert not rule.predicate(record(**keep), ctx)


def test_a_candidate_s_record_is_what_the_filters_read():
    """features_of takes the counts, ends and features of a candidate; the record is frozen."""
    c = candidate(duplicates=1, promiscuous=True, low_mapq_fraction=0.25)
    f = features_of(c, frozenset({("TPM3", "ALK")}))
    assert f == record(duplicates=1, promiscuous=True, low_mapq_fraction=0.25, known=True)
    assert features_of(c).known is False
    with pytest.raises(AttributeError):
        f.fragments = 3  # type: ignore[misc]


def test_the_verdict_holds_the_filters_the_tier_and_its_reason():
    ctx = context()
    strong = judge(record(), ctx)
    assert strong == Verdict((), "high", "6 split-read fragments (≥ 2), 10 fragments in all (≥ 4), exact breakpoint, "
                                         "both breakpoints on exon boundaries, ≥ 10 fragments")
    assert strong.called
    weak = judge(record(**WEAK), ctx)
    assert weak.filters == ("recurrent_in_batch", "min_support") and not weak.called and weak.tier == "low"
    mates = judge(record(split_reads=0, discordant_pairs=6, fragments=6, precision="approximate"), ctx)
    assert (mates.tier, mates.reason) == ("medium", "6 discordant pairs without a junction read (≥ 5)")
    known = judge(record(split_reads=1, discordant_pairs=1, fragments=2, known=True, site3="exonic"), ctx)
    assert (known.tier, known.reason) == ("medium", "known partner with 1 split-read fragment(s)")


def test_a_filter_added_to_the_registry_reaches_the_readme_and_the_schema(tmp_path, monkeypatch):
    """One Filter(...) in the registry: the README table and the JSON schema's enumeration
    are regenerated with it, and it judges records."""
    import imtfusion.filters as filters

    def too_many_gs(f: Features, ctx: FilterContext) -> bool:
        """The 3' bases start with GGGG: a dummy filter of this test."""
        return f.sequence3.startswith("GGGG")

    dummy = Filter("dummy_gggg", too_many_gs, decoy="none", tests=(filters.UNIT,))
    monkeypatch.setattr(filters, "FILTERS", filters.FILTERS + (dummy,))
    monkeypatch.setattr(filters, "FILTER_NAMES", filters.FILTER_NAMES + ("dummy_gggg",))
    readme = tmp_path / "README.md"
    readme.write_text((REPO / "README.md").read_text())
    schema = tmp_path / "fusions.schema.json"
    schema.write_text((REPO / "scripts/imtfusion/schemas/fusions.schema.json").read_text())
    refresh_readme(str(readme))
    refresh_schema(str(schema))
    assert "| `dummy_gggg` | The 3' bases start with GGGG: a dummy filter of this test. |" in readme.read_text()
    enum = json.loads(schema.read_text())["$defs"]["candidate"]["properties"]["filters"]["items"]["enum"]
    assert enum == [*FILTER_NAMES, "dummy_gggg"]
    assert judge(record(sequence3="GGGGACGT"), context()).filters == ("dummy_gggg",)
    monkeypatch.undo()
    refresh_schema(str(schema))  # and back: the file as shipped, byte for byte
    assert schema.read_text() == (REPO / "scripts/imtfusion/schemas/fusions.schema.json").read_text()


MANY_SHORT = dict(split_reads=6, discordant_pairs=0, fragments=6, best_anchor=14, site3="intronic")


@pytest.mark.parametrize("change, discard", [
    ({}, True),  # six reads, all with 14 bases on one side, off the exon boundary, no mates
    ({"discordant_pairs": 1, "fragments": 7}, False),  # a mate pair is independent evidence
    ({"site3": "splice_site"}, False),  # exon to exon: short reads of a real junction
    ({"best_anchor": 20}, False),  # one read aligned 20 bases on both sides
])
def test_short_anchor_with_many_reads_off_the_exon_boundaries(change, discard):
    rule = next(f for f in FILTERS if f.name == "short_anchor")
    assert rule.predicate(record(**{**MANY_SHORT, **change}), context()) is discard


PRIMED_SHORT = dict(split_reads=3, discordant_pairs=0, fragments=3, best_anchor=14, site3="intronic",
                    primed_fragments=3, max_beyond_primer=14)


@pytest.mark.parametrize("change, discard", [
    ({"start_sites": 1}, True),  # read from primers: one partner-side start, one molecule
    ({"start_sites": 3}, False),  # three distinct start sites stand in for mate pairs
    ({"primed_fragments": 0, "discordant_pairs": 1, "fragments": 4}, False),  # without primers a mate pair does
    ({"discordant_pairs": 1, "fragments": 4, "start_sites": 1}, True),  # with them, a stray pair does not
])
def test_short_anchor_of_primer_reads_takes_start_sites_for_mate_pairs(change, discard):
    rule = next(f for f in FILTERS if f.name == "short_anchor")
    assert rule.predicate(record(**{**PRIMED_SHORT, **change}), context()) is discard


@pytest.mark.parametrize("primed, start_sites, tier", [
    (0, 1, "high"),  # without a primer BED start sites do not matter
    (6, 1, "low"),  # a PCR jackpot: one start site
    (6, 2, "low"),
    (6, 3, "high"),
])
def test_the_confidence_of_primer_reads_needs_distinct_start_sites(primed, start_sites, tier):
    from imtfusion.filters import confidence

    f = record(primed_fragments=primed, max_beyond_primer=30 if primed else 0, start_sites=start_sites)
    assert confidence(f) == tier
    assert confidence(f, min_start_sites=1) == "high"
    verdict = judge(f, context())
    assert verdict.tier == tier
    if tier == "low":
        assert verdict.reason.startswith(f"read from primers at {start_sites} partner-side start site(s)")


def test_a_primed_candidate_s_record_counts_its_primer_reads():
    c = candidate(split_fragments={"s0", "s1", "s2"}, discordant_fragments=set(), primed={"s0": 2, "s1": 30, "s2": 0},
                  start_sites=2)
    f = features_of(c)
    assert (f.primed_fragments, f.max_beyond_primer, f.start_sites, f.primed) == (3, 30, 2, True)


def test_same_event_keeps_the_best_junction_of_a_gene_pair_and_lists_the_others():
    main = candidate()
    isoform = candidate(end5=Breakend("chr1", 1500, "R"), split_fragments={"i0", "i1", "i2"})
    mates = candidate(end3=Breakend("chr2", 11000, "L"), split_fragments=set(), precision="approximate")
    other_pair = candidate(gene5=NEIGH, end5=Breakend("chr1", 3000, "R"))
    called, discarded = apply_filters([isoform, mates, main, other_pair], context())
    # new records (the candidates are frozen), numbered in the order given
    assert [(c.end5, c.end3, c.gene5) for c in called] == [(x.end5, x.end3, x.gene5) for x in (main, other_pair)]
    assert [(c.end5, c.end3) for c in discarded] == [(x.end5, x.end3) for x in (isoform, mates)]
    main_call, other_call = called
    assert all(c.filters == ["same_event"] and c.part_of == main_call.key == 2 for c in discarded)
    assert main_call.member_keys == (0, 1) and other_call.member_keys == ()


def test_of_two_junctions_the_same_reads_support_the_aligners_own_split_at_exon_boundaries_is_the_call():
    # the decoy: the same five fragments also make a junction 16 bases off (the aligner
    # extended one read's alignment through mismatches and clipped the rest), earlier in
    # coordinate order, exonic and intronic, every one of its reads a clip
    reads = {f"s{i}" for i in range(5)}
    true = candidate(end5=Breakend("chr1", 1016, "R"), end3=Breakend("chr2", 5000, "L"), split_fragments=reads,
                     clipped_fragments={"s3", "s4"}, discordant_fragments=set())
    shifted = candidate(end5=Breakend("chr1", 1000, "R"), end3=Breakend("chr2", 5016, "L"), split_fragments=reads,
                        clipped_fragments=reads, discordant_fragments=set(), site5="exonic", site3="intronic")
    called, discarded = apply_filters([shifted, true], context())
    assert [c.end5 for c in called] == [true.end5] and [c.end5 for c in discarded] == [shifted.end5]
    assert discarded[0].filters == ["same_event"]


@pytest.mark.parametrize("premrna_reads", [6, 7])
def test_of_two_junctions_with_as_many_junction_reads_the_pre_mrnas_comes_second(premrna_reads):
    # the fused transcript's exon junction and its pre-mRNA's intronic junction, the latter
    # with three mates more (seed 31337 capture TPM3::ALK, BWA-MEM); kept: a pre-mRNA
    # junction with more junction reads is still the call
    spliced = candidate(split_fragments={f"s{i}" for i in range(6)}, discordant_fragments=set())
    premrna = candidate(end5=Breakend("chr1", 1500, "L"), end3=Breakend("chr2", 4000, "R"),
                        split_fragments={f"p{i}" for i in range(premrna_reads)}, discordant_fragments={"d0", "d1", "d2"},
                        site5="intronic", site3="intronic")
    called, _ = apply_filters([premrna, spliced], context())
    assert [c.end5 for c in called] == [(spliced if premrna_reads == 6 else premrna).end5]


def test_a_candidate_is_frozen():
    c = candidate()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.site5 = "exonic"
    with pytest.raises(AttributeError):
        c.split_fragments.add("s9")  # a frozenset
    with pytest.raises(TypeError):
        c.dup_keys["s0"] = frozenset()  # read-only
    assert isinstance(c.mapqs, tuple) and c.split_fragments == frozenset(f"s{i}" for i in range(6))
    called, _ = apply_filters([c], context())
    assert c.verdict is None and called[0].verdict is not None  # the filters made a new record


def test_a_candidate_discarded_in_phase_one_is_not_an_isoform():
    main = candidate()
    weak = candidate(end5=Breakend("chr1", 1500, "R"), split_fragments={"i0"}, discordant_fragments=set())
    called, discarded = apply_filters([main, weak], context())
    assert [c.end5 for c in called] == [main.end5] and discarded[0].filters == ["min_support"]
    assert discarded[0].part_of is None and called[0].member_keys == ()


def test_filters_are_switched_off_by_name():
    weak = candidate(split_fragments={"s0", "s1"}, discordant_fragments=set())
    called, _ = apply_filters([weak], context(disabled_filters="min_support,recurrent_in_batch"))
    assert [c.split_fragments for c in called] == [weak.split_fragments]
    with pytest.raises(ConfigError, match="unknown filter.*min_suport.*the filters are not_transcribable"):
        active_filters(CallParameters.from_mapping({"disabled_filters": "min_suport"}))


def test_readme_filter_table_is_the_registry():
    from imtfusion.filters import TABLE_END, TABLE_START

    readme = (REPO / "README.md").read_text()
    block = readme[readme.index(TABLE_START) + len(TABLE_START):readme.index(TABLE_END)]
    # the whole block: a row written into the README by hand, outside the registry, is drift too
    assert block == "\n" + filter_table() + "\n", "README filter table drifted: run python -m imtfusion.filters README.md"


def test_json_schema_lists_the_registered_filter_names():
    schema = json.loads((REPO / "scripts/imtfusion/schemas/fusions.schema.json").read_text())
    items = schema["$defs"]["candidate"]["properties"]["filters"]["items"]
    assert items["enum"] == list(FILTER_NAMES)


def test_filter_parameters_and_tests_exist():
    names = {f.name for f in fields(CallParameters)}
    readme = (REPO / "README.md").read_text()
    for f in FILTERS:
        assert set(f.parameters) <= names, f.name
        assert f.doc, f.name
        assert f.tests, f"{f.name} names no test"
        for test in f.tests:
            module, func = test.split("::")
            assert re.search(rf"def {func}\(", (REPO / "tests" / module).read_text()), test
    for name in names:  # every parameter in the README's parameter table
        assert f"| `{name}` |" in readme, name


def test_the_readme_parameter_table_gives_every_default_as_the_code_has_it():
    """The README's parameter table does not drift from CallParameters: each row's default
    is the dataclass default (`auto` for "auto", (none) / (empty) for "")."""
    readme = (REPO / "README.md").read_text()
    for f in fields(CallParameters):
        m = re.search(rf"^\| `{f.name}` \| ([^|]*) \|", readme, re.M)
        assert m, f"{f.name} has no row in the README's parameter table"
        cell = m.group(1).strip().strip("`")
        shown = "" if cell in ("(none)", "(empty)") else cell
        assert shown in (str(f.default), repr(f.default)), f"{f.name}: README says {cell}, the code {f.default!r}"


def test_a_filter_can_read_the_annotation_and_only_then_is_it_made(tmp_path, monkeypatch):
    """A filter declaring reads_annotation gets each candidate's transcript annotation in
    its Features record (here: discard what joins ALK exon 3); without such a filter no
    candidate is annotated before the filters."""
    import imtfusion.filters as filters
    from test_calling import PARTP_ALK_MATE, PARTP_ALK_READ, add_background, by_fusion, call, make_toy

    def into_alk_exon_3(f: Features, ctx: FilterContext) -> bool:
        """The 3' gene joins at exon 3: a dummy filter of this test."""
        return f.annotation is not None and f.annotation.exon3 == 3

    toy = make_toy()
    add_background(toy)
    for i in range(3):
        toy.fragment(f"split{i}", PARTP_ALK_READ, [("chr2", 20010 + 7 * i, "+", 100)])
    asked = []
    real = filters.apply_filters

    def counting(candidates, ctx):  # type: ignore[no-untyped-def]
        annotate = ctx.annotate
        wrapped = dataclasses.replace(ctx, annotate=lambda c: asked.append(c.key) or annotate(c))
        return real(candidates, wrapped)

    import imtfusion.pipeline as pipeline

    monkeypatch.setattr(pipeline, "apply_filters", counting)
    assert by_fusion(call(tmp_path, toy), "PARTP::ALK") and not asked  # no filter reads it: none made
    dummy = Filter("dummy_exon3", into_alk_exon_3, reads_annotation=True, decoy="none", tests=(filters.UNIT,))
    monkeypatch.setattr(filters, "FILTERS", filters.FILTERS + (dummy,))
    monkeypatch.setattr(filters, "FILTER_NAMES", filters.FILTER_NAMES + ("dummy_exon3",))
    (tmp_path / "s.bam").unlink()
    result = call(tmp_path, toy)
    assert not by_fusion(result, "PARTP::ALK") and asked
    [d] = [c for c in result.discarded if c.fusion == "PARTP::ALK"]
    assert d.filters == ["dummy_exon3"] and d.features.annotation.exon3 == 3
