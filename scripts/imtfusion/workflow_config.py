"""The workflow's configuration checked against its JSON schema, one line per problem.

Snakemake's own ``validate`` prints the whole schema when a value is wrong; a lab's
bioinformatician needs the key, what is wrong with it, and the file to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml


def config_problems(config: Mapping[str, Any], schema_path: str | Path) -> list[str]:
    """Every way ``config`` breaks the schema, as ``key: what is wrong`` lines."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for error in sorted(validator.iter_errors(dict(config)), key=lambda e: [str(p) for p in e.absolute_path]):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        if error.validator == "additionalProperties" and not error.absolute_path:
            out.append(f"{where}: {error.message} (known keys: {', '.join(sorted(schema['properties']))})")
        else:
            out.append(f"{where}: {error.message}")
    return out
