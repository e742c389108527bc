"""The curated known-partner table (resources/known_partners.tsv): its columns, its
sources, and that it means for the default targets what it meant before the target sets."""

from __future__ import annotations

import re

import pytest

from imtfusion.knowledge import known_pairs, load_known_fusions
from imtfusion.registry import load_registry

# the pairs known for the default targets before imt-extended, with their tumour types:
# a later edit may add pairs, never drop or reword one of these
PAIRS_BEFORE = {
    ("TPM3", "ALK"): "IMT; ALCL", ("TPM4", "ALK"): "IMT", ("CLTC", "ALK"): "IMT; ALCL",
    ("RANBP2", "ALK"): "IMT (epithelioid inflammatory myofibroblastic sarcoma)", ("CARS1", "ALK"): "IMT",
    ("ATIC", "ALK"): "IMT; ALCL", ("SEC31A", "ALK"): "IMT", ("PPFIBP1", "ALK"): "IMT", ("EML4", "ALK"): "NSCLC; IMT",
    ("NPM1", "ALK"): "ALCL", ("KIF5B", "ALK"): "NSCLC", ("DCTN1", "ALK"): "IMT; NSCLC", ("TFG", "ALK"): "ALCL; NSCLC",
    ("TFG", "ROS1"): "IMT", ("YWHAE", "ROS1"): "IMT", ("CD74", "ROS1"): "NSCLC", ("SLC34A2", "ROS1"): "NSCLC",
    ("EZR", "ROS1"): "NSCLC", ("SDC4", "ROS1"): "NSCLC", ("GOPC", "ROS1"): "glioblastoma; NSCLC",
    ("ETV6", "NTRK3"): "IMT; infantile fibrosarcoma; secretory carcinoma",
}


def test_every_row_names_its_tumour_types_a_source_with_a_year_and_pmids():
    registry = load_registry()
    rows = load_known_fusions()
    assert rows
    for k in rows:
        assert k.target in registry.symbols() and k.target in (k.gene5, k.gene3), k
        assert k.fusion == f"{k.gene5}::{k.gene3}", k
        assert k.tumour_types and re.search(r"\b(19|20)\d\d;\d+", k.source), k
        assert re.fullmatch(r"\d{6,8}(; \d{6,8})*", k.pmid), k
        # one PMID per cited paper (a source naming two papers has two)
        assert len(k.pmid.split("; ")) == len(re.findall(r"\b(?:19|20)\d\d;", k.source)), k
    assert any(not k.needs_review for k in rows) and any(k.needs_review for k in rows)


def test_the_default_targets_keep_their_known_pairs_and_their_meaning():
    rows = load_known_fusions()
    for pair, tumours in PAIRS_BEFORE.items():
        matching = [k for k in rows if (k.gene5, k.gene3) == pair]
        assert matching and all(k.tumour_types == tumours for k in matching), pair
    assert set(PAIRS_BEFORE) <= known_pairs(rows)


def test_new_alk_partners_of_imt_and_partners_of_the_extended_kinases():
    rows = load_known_fusions()
    alk_imt = {k.gene5 for k in rows if k.gene3 == "ALK" and "IMT" in k.tumour_types}
    assert {"RRBP1", "IGFBP5", "THBS1", "PRKAR1A"} <= alk_imt
    registry = load_registry()
    extended = set(registry.target_set("imt-extended")) - set(registry.target_set("default"))
    with_partners = {k.target for k in rows if k.target in extended}
    # IGF1R has none: no fusion could be sourced (the table's header says which were left out)
    assert with_partners == extended - {"IGF1R"}
    assert ("TPM3", "NTRK1") in known_pairs(rows)


def test_a_table_of_the_users_without_the_optional_columns_still_loads(tmp_path):
    table = tmp_path / "known.tsv"
    table.write_text("target\tfusion\tgene5\tgene3\ttumour_types\tsource\nALK\tX::ALK\tX\tALK\tIMT\tSomeone 2020;1:1\n")
    [k] = load_known_fusions(table)
    assert (k.gene5, k.pmid, k.needs_review) == ("X", "", "")
    table.write_text("target\tfusion\tgene5\n")
    with pytest.raises(Exception, match="needs the columns"):
        load_known_fusions(table)
