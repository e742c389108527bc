#!/usr/bin/env bash
# Runs once inside the new conda environment (snakemake --sdm conda): installs the imtfusion
# package from the checkout the workflow runs from. The Snakefile exports IMTFUSION_SOURCE
# (the repository root, the folder of pyproject.toml).
set -euo pipefail
source="${IMTFUSION_SOURCE:?IMTFUSION_SOURCE is not set; run this through snakemake --snakefile workflow/Snakefile --sdm conda}"
if [ ! -f "$source/pyproject.toml" ]; then
    echo "imtfusion post-deploy: $source has no pyproject.toml; IMTFUSION_SOURCE must be the imtfusion repository root" >&2
    exit 1
fi
python -m pip install --no-deps --no-build-isolation --no-cache-dir "$source"
imtfusion --version
