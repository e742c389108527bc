"""Every registered filter on candidate records built here (no BAM): one record it must
discard and one it must keep; and the documents derived from the registry (README filter
table, the JSON schema's filter names, the parameter table) must not drift from it."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from imtfusion.calling import Candidate
from imtfusion.errors import ConfigError
from imtfusion.filters import (
    FILTER_NAMES,
    FILTERS,
    FilterContext,
    active_filters,
    apply_filters,
    filter_table,
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


class FakeArtefacts:
    def match(self, gene5, gene3, breakpoint5, breakpoint3, fragments):
        junction = (gene5, gene3, breakpoint5, breakpoint3)
        return "seen in 5 of 20 samples" if junction == ("TPM3", "ALK", "chr1:1001", "chr2:5001") and fragments <= 5 else None


def context(**params) -> FilterContext:
    return FilterContext(CallParameters.from_mapping(params), frozenset(), FakeArtefacts())


WEAK = dict(split_fragments={"s0", "s1"}, discordant_fragments=set())
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
    "low_complexity": (dict(sequence3="GGGGGGGGGGGGGGGGGGGG"), {}),
    "intronic_no_split": (
        dict(site5="intronic", site3="intronic", split_fragments=set()),
        dict(site5="intronic", site3="intronic"),
    ),
    "short_anchor": (dict(best_anchor=12, **WEAK), dict(best_anchor=25, **WEAK)),
    "promiscuous_breakpoint": (dict(promiscuous=True), {}),
    # every fragment read from a primer ending 2 bases before the junction, or one of them 30
    "primer_only_anchor": (
        dict(split_fragments={"s0", "s1", "s2"}, discordant_fragments=set(), primed={"s0": 2, "s1": 2, "s2": 0}),
        dict(split_fragments={"s0", "s1", "s2"}, discordant_fragments=set(), primed={"s0": 2, "s1": 30, "s2": 0}),
    ),
    "recurrent_in_batch": (
        dict(split_fragments={"s0", "s1", "s2"}, discordant_fragments=set()),
        {},  # 10 fragments: stronger than the artefact
    ),
    "duplicates": (
        dict(split_fragments={"s0", "s1", "s2"}, discordant_fragments=set(), duplicates=2),
        dict(split_fragments={"s0", "s1", "s2"}, discordant_fragments=set(), duplicates=0),
    ),
    "min_support": (dict(split_fragments={"s0", "s1"}, discordant_fragments=set()), {}),
}


def test_every_filter_has_a_case():
    assert set(CASES) | {"same_event"} == set(FILTER_NAMES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_filter_discards_one_record_and_keeps_the_other(name):
    rule = next(f for f in FILTERS if f.name == name)
    discard, keep = CASES[name]
    ctx = context()
    assert rule.predicate(candidate(**discard), ctx)
    assert not rule.predicate(candidate(**keep), ctx)


MANY_SHORT = dict(split_fragments={f"s{i}" for i in range(6)}, discordant_fragments=set(), best_anchor=14, site3="intronic")


@pytest.mark.parametrize("change, discard", [
    ({}, True),  # six reads, all with 14 bases on one side, off the exon boundary, no mates
    ({"discordant_fragments": {"d0"}}, False),  # a mate pair is independent evidence
    ({"site3": "splice_site"}, False),  # exon to exon: short reads of a real junction
    ({"best_anchor": 20}, False),  # one read aligned 20 bases on both sides
])
def test_short_anchor_with_many_reads_off_the_exon_boundaries(change, discard):
    rule = next(f for f in FILTERS if f.name == "short_anchor")
    assert rule.predicate(candidate(**{**MANY_SHORT, **change}), context()) is discard


PRIMED_SHORT = dict(split_fragments={"s0", "s1", "s2"}, discordant_fragments=set(), best_anchor=14,
                    site3="intronic", primed={"s0": 14, "s1": 14, "s2": 14})


@pytest.mark.parametrize("change, discard", [
    ({"start_sites": 1}, True),  # read from primers: one partner-side start, one molecule
    ({"start_sites": 3}, False),  # three distinct start sites stand in for mate pairs
    ({"primed": {}, "discordant_fragments": {"d0"}}, False),  # without primers a mate pair does
    ({"discordant_fragments": {"d0"}, "start_sites": 1}, True),  # with them, a stray pair does not
])
def test_short_anchor_of_primer_reads_takes_start_sites_for_mate_pairs(change, discard):
    rule = next(f for f in FILTERS if f.name == "short_anchor")
    assert rule.predicate(candidate(**{**PRIMED_SHORT, **change}), context()) is discard


@pytest.mark.parametrize("primed, start_sites, tier", [
    ({}, 1, "high"),  # without a primer BED start sites do not matter
    ({f"s{i}": 30 for i in range(6)}, 1, "low"),  # a PCR jackpot: one start site
    ({f"s{i}": 30 for i in range(6)}, 2, "low"),
    ({f"s{i}": 30 for i in range(6)}, 3, "high"),
])
def test_the_confidence_of_primer_reads_needs_distinct_start_sites(primed, start_sites, tier):
    from imtfusion.filters import confidence

    assert confidence(candidate(primed=primed, start_sites=start_sites)) == tier
    assert confidence(candidate(primed=primed, start_sites=start_sites), min_start_sites=1) == "high"


def test_same_event_keeps_the_best_junction_of_a_gene_pair_and_lists_the_others():
    main = candidate()
    isoform = candidate(end5=Breakend("chr1", 1500, "R"), split_fragments={"i0", "i1", "i2"})
    mates = candidate(end3=Breakend("chr2", 11000, "L"), split_fragments=set(), precision="approximate")
    other_pair = candidate(gene5=NEIGH, end5=Breakend("chr1", 3000, "R"))
    called, discarded = apply_filters([isoform, mates, main, other_pair], context())
    assert called == [main, other_pair]
    assert discarded == [isoform, mates]
    assert all(c.filters == ["same_event"] and c.main_call is main for c in discarded)
    assert main.isoforms == [isoform, mates] and other_pair.isoforms == []


def test_a_candidate_discarded_in_phase_one_is_not_an_isoform():
    main = candidate()
    weak = candidate(end5=Breakend("chr1", 1500, "R"), split_fragments={"i0"}, discordant_fragments=set())
    called, discarded = apply_filters([main, weak], context())
    assert called == [main] and weak.filters == ["min_support"] and weak.main_call is None


def test_filters_are_switched_off_by_name():
    weak = candidate(split_fragments={"s0", "s1"}, discordant_fragments=set())
    called, _ = apply_filters([weak], context(disabled_filters="min_support,recurrent_in_batch"))
    assert called == [weak]
    with pytest.raises(ConfigError, match="unknown filter.*min_suport.*the filters are not_transcribable"):
        active_filters(CallParameters.from_mapping({"disabled_filters": "min_suport"}))


def test_readme_filter_table_is_the_registry():
    readme = (REPO / "README.md").read_text()
    assert filter_table() in readme, "README filter table drifted: run python -m imtfusion.filters README.md"


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
