"""FUSOR's models of the VICC Gene Fusion Specification, loaded without its services.

FUSOR (the specification's reference implementation, ``tests/requirements-vicc.txt``)
imports database clients (the gene normalizer's DynamoDB/PostgreSQL, the Universal
Transcript Archive, SeqRepo) from its packages' ``__init__``; its models need none of
them. The three packages are therefore registered as bare namespaces, so that only the
model modules (``fusor.models``, ``cool_seq_tool.schemas``, ``gene.schemas``) are
executed: the validation is FUSOR's own code, offline."""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest

PACKAGES = ("fusor", "cool_seq_tool", "gene")


def fusor_models():
    """``fusor.models``, or a skip naming the install line when FUSOR is absent."""
    for name in PACKAGES:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.submodule_search_locations is None:
            pytest.skip(f"{name} is not installed: pip install --no-deps -r tests/requirements-vicc.txt")
        module = types.ModuleType(name)
        module.__path__ = list(spec.submodule_search_locations)
        module.__version__ = "models only"
        sys.modules[name] = module
    from fusor import models

    return models


def fusor_nomenclature():
    """``fusor.nomenclature`` (its element functions): the SeqRepo client it imports for
    genomic sequence names is stood in by an empty class when absent (only the templated
    sequence and regulatory element functions use it)."""
    fusor_models()
    if "biocommons.seqrepo.seqrepo" not in sys.modules and importlib.util.find_spec("biocommons") is None:
        for name in ("biocommons", "biocommons.seqrepo"):
            module = types.ModuleType(name)
            module.__path__ = []
            sys.modules[name] = module
        seqrepo = types.ModuleType("biocommons.seqrepo.seqrepo")
        seqrepo.SeqRepo = type("SeqRepo", (), {})
        sys.modules["biocommons.seqrepo.seqrepo"] = seqrepo
    from fusor import nomenclature

    return nomenclature


def validate_assayed_fusion(obj: dict) -> None:
    """Validate with FUSOR's AssayedFusion model and with the JSON Schema it publishes
    (raises on the first failure)."""
    jsonschema = pytest.importorskip("jsonschema")
    models = fusor_models()
    models.AssayedFusion.model_validate(obj)
    schema = models.AssayedFusion.model_json_schema()
    jsonschema.Draft202012Validator(schema).validate(obj)
