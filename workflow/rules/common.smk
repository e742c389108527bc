import os
import shlex
from pathlib import Path

import pandas as pd
from snakemake.utils import validate

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod
from snakemake.logging import logger

from imtfusion.bamio import is_url, redact_url
from imtfusion.batch import read_artefacts
from imtfusion.errors import ImtfusionError
from imtfusion.registry import resolve_target_names
from imtfusion.params import CallParameters
from imtfusion.samplesheet import SAMPLE_NAME_PATTERN, read_sample_sheet
from imtfusion.specimen import specimen_options
from imtfusion.workflow_config import config_problems

# one line per problem, naming the key (Snakemake's validate would print the schema)
_problems = config_problems(
    config, Path(workflow.basedir) / "schemas" / "config.schema.yaml"
)
if _problems:
    raise WorkflowError(
        "the configuration does not fit workflow/schemas/config.schema.yaml; fix these keys "
        "in your config file:\n  " + "\n  ".join(_problems)
    )
validate(config, schema="../schemas/config.schema.yaml")  # fills in the defaults

# --sdm apptainer without an image would run every rule outside any container, silently
_deployment = getattr(workflow, "deployment_settings", None)
if (
    _deployment is not None
    and DeploymentMethod.APPTAINER in _deployment.deployment_method
    and not config["container"]
):
    raise WorkflowError(
        "--sdm apptainer needs the image: set the config key 'container' to the image built from "
        "workflow/Containerfile (e.g. container: imtfusion.sif, or docker://REGISTRY/imtfusion:VERSION)"
    )

OUTDIR = str(config["outdir"]).rstrip("/")
# a target set of the registry (resources/targets.tsv) or genes, as the gene list the
# rules pass on
try:
    TARGETS = list(resolve_target_names(config["targets"]))
except ImtfusionError as _exc:
    raise WorkflowError(f"config key 'targets': {_exc}")
config["targets"] = TARGETS  # the genes, for the report's caption (report/workflow.rst)

# read_sample_sheet tolerates BOMs, CRLF, blank lines and comments, and rejects
# duplicate or unsafe sample names with a message naming the line.
_entries = read_sample_sheet(config["samples"])
samples = pd.DataFrame(
    {
        "sample": [e.sample for e in _entries],
        "bam": [e.bam for e in _entries],
        "primers": [e.primers for e in _entries],
    },
    dtype=str,
).set_index(
    "sample", drop=False
)  # in the sheet's order, which the summary keeps
validate(samples, schema="../schemas/samples.schema.yaml")
SAMPLES = list(samples["sample"])
# optional sheet columns specimen, specimen_type, block, tumour_content: the report's
# specimen block (imtfusion call --specimen)
SPECIMEN = {e.sample: dict(e.specimen) for e in _entries}
# optional sheet column bam_index: an index not next to the BAM (a path or a URL)
BAM_INDEX = {e.sample: e.bam_index for e in _entries if e.bam_index}
# the primer BED of an anchored multiplex PCR panel: the sheet's column primers, else the
# config key primers, else none; a BED that is not there stops the run before any job
PRIMERS = {e.sample: e.primers or str(config.get("primers") or "") for e in _entries}
_no_bed = sorted({bed for bed in PRIMERS.values() if bed and not os.path.exists(bed)})
if _no_bed:
    raise WorkflowError(
        f"primer BED(s) not found: {', '.join(_no_bed)}; fix the config key 'primers' or the "
        f"sample sheet's column primers ({config['samples']})"
    )

# BAMs that are not there: said at once (a dry run shows it), while each such sample
# still fails on its own and the rest of the batch goes on
_missing = [
    f"{s} ({samples.loc[s, 'bam']})"
    for s in SAMPLES
    if not is_url(samples.loc[s, "bam"]) and not os.path.exists(samples.loc[s, "bam"])
]
if _missing:
    logger.warning(
        f"imtfusion: {len(_missing)} of {len(SAMPLES)} BAM(s) in {config['samples']} not found, "
        f"these samples will fail: {', '.join(_missing)}"
    )

# A malformed known-artefact table stops the run before any job, with the line at fault.
if config.get("known_artefacts"):
    read_artefacts(config["known_artefacts"])

# The recurrent-artefact filter needs a first pass over every sample; a batch too small
# for any junction to recur skips it.
BATCH_FILTER = config["batch_filter"]
USE_BATCH_FILTER = bool(BATCH_FILTER["enabled"]) and len(SAMPLES) >= int(
    BATCH_FILTER["min_samples"]
)
# The 3'-to-5' imbalance compares each sample with the batch's others when there are
# imbalance_min_reference of them (else with the shipped profile); the same first pass
# gives their ratios.
_MIN_REFERENCE = int(
    (config.get("params") or {}).get(
        "imbalance_min_reference", CallParameters().imbalance_min_reference
    )
)
USE_BATCH_PROFILE = bool(config["batch_profile"]["enabled"]) and (
    len(SAMPLES) - 1 >= _MIN_REFERENCE
)


wildcard_constraints:
    sample=SAMPLE_NAME_PATTERN.lstrip("^").rstrip("$"),


def bam_path(sample):
    return samples.loc[sample, "bam"]


def get_bam_path(wildcards):
    return bam_path(wildcards.sample)


def carries_credentials(sample):
    """Whether the sample's BAM or index is a URL with credentials in it (user:password@,
    a pre-signed query string)."""
    names = (bam_path(sample), BAM_INDEX.get(sample, ""))
    return any(redact_url(name) != name for name in names)


def get_bam_args(wildcards):
    """--bam PATH_OR_URL; for a URL that carries credentials, --sample-sheet: the call
    takes the BAM and its index from the sheet, so that no command line Snakemake prints,
    logs or shows to `ps` holds them."""
    if carries_credentials(wildcards.sample):
        return f"--sample-sheet {shlex.quote(os.path.abspath(config['samples']))}"
    return f"--bam {shlex.quote(bam_path(wildcards.sample))}"


def get_index_args(wildcards, input):
    """The index the call reads: the sample sheet's bam_index, else the usable or made one
    (a URL's index is found next to it); none when the call reads the sheet itself."""
    if carries_credentials(wildcards.sample):
        return ""
    if wildcards.sample in BAM_INDEX:
        return f"--bam-index {shlex.quote(BAM_INDEX[wildcards.sample])}"
    return f"--bam-index {shlex.quote(str(input.index[0]))}" if input.index else ""


def get_bam(wildcards):
    """The BAM as an input only when it exists: a missing BAM must fail its own sample
    (with a clear error record), not stop the whole batch at DAG construction."""
    path = bam_path(wildcards.sample)
    return [path] if os.path.exists(path) else []


def usable_index(bam):
    """An index next to the BAM that is not older than it, else None."""
    stem = os.path.splitext(bam)[0]
    for candidate in (f"{bam}.bai", f"{stem}.bai", f"{bam}.csi", f"{bam}.crai"):
        if os.path.exists(candidate):
            if os.path.getmtime(candidate) >= os.path.getmtime(bam) - 1:
                return candidate
            return None
    return None


def get_bam_index(wildcards):
    """The user's index if usable; otherwise one made in the results folder (never next
    to the user's BAM)."""
    bam = bam_path(wildcards.sample)
    if not os.path.exists(bam):
        return []
    index = usable_index(bam)
    return (
        [index]
        if index
        else [f"{OUTDIR}/{wildcards.sample}/index/{wildcards.sample}.bam.bai"]
    )


def get_usable_bam_index(wildcards):
    """The user's index if usable, else nothing: the first pass of the batch filter then
    indexes into a temporary file, so a BAM that cannot be indexed fails only its own
    sample, not the batch."""
    bam = bam_path(wildcards.sample)
    index = usable_index(bam) if os.path.exists(bam) else None
    return [index] if index else []


def results_dir(wildcards, output):
    """OUTDIR, derived from the rule's first output: {outdir}/summary.tsv,
    {outdir}/{sample}/{sample}.*, or {outdir}/{sample}/index/{sample}.bam.bai."""
    first = Path(output[0])
    if not wildcards.get("sample"):
        return str(first.parent)
    return str(first.parents[2] if first.parent.name == "index" else first.parents[1])


def call_mem_mb(wildcards, attempt):
    """Memory of a per-sample call: measured peaks are ~0.07 GB (demo) to ~0.25 GB (GENCODE
    annotation with its boundary index loaded, or 2 M records in the loci) plus ~0.25 GB
    for Snakemake's own processes in a cluster job; a retry (profile `retries`) asks for
    more."""
    return 1500 * attempt


def get_fasta_args():
    fasta = config.get("fasta")
    return f"--fasta {shlex.quote(str(fasta))}" if fasta else ""


def get_fasta_input(wildcards):
    fasta = config.get("fasta")
    return [fasta, f"{fasta}.fai"] if fasta else []


def call_params():
    """params, with the sample_qc keys as their qc_* parameters (a qc_* under params wins)."""
    values = {}
    for key, value in (config.get("sample_qc") or {}).items():
        values[f"qc_{key}"] = ",".join(value) if isinstance(value, list) else value
    values.update(config.get("params") or {})
    return values


# a mistyped or ill-valued calling parameter stops the workflow here, before any job runs
# (the schema only says params is a mapping; the names and values are CallParameters')
try:
    CallParameters.from_mapping(call_params())
except ImtfusionError as _exc:
    raise WorkflowError(f"config key 'params' (or 'sample_qc'): {_exc}")


def get_param_args():
    items = [
        f"--param {shlex.quote(f'{k}={v}')}" for k, v in sorted(call_params().items())
    ]
    if config.get("known_partners"):
        items.append(f"--known-partners {shlex.quote(str(config['known_partners']))}")
    return " ".join(items)


def get_known_artefacts_input():
    known = config.get("known_artefacts")
    return [known] if known else []


def get_known_artefacts_args():
    known = get_known_artefacts_input()
    return f"--known-artefacts {shlex.quote(str(known[0]))}" if known else ""


def get_batch_filter_args():
    options = (
        "min_samples",
        "min_fraction",
        "max_fragments",
        "max_share",
        "breakpoint_tolerance",
    )
    return " ".join(f"--{o.replace('_', '-')} {BATCH_FILTER[o]}" for o in options)


def get_artefacts_input(wildcards):
    """The batch's artefact table (which holds the known artefacts too), or without the
    batch filter the user's known artefacts, if any."""
    if USE_BATCH_FILTER:
        return [f"{OUTDIR}/batch/artefacts.tsv"]
    return get_known_artefacts_input()


def get_artefacts_args(wildcards, input):
    tables = list(input.artefacts)
    return (
        "--artefacts " + " ".join(shlex.quote(str(t)) for t in tables) if tables else ""
    )


def get_imbalance_profile_input(wildcards):
    return [f"{OUTDIR}/batch/imbalance_profile.tsv"] if USE_BATCH_PROFILE else []


def get_imbalance_profile_args(wildcards, input):
    tables = list(input.imbalance)
    return f"--imbalance-profile {shlex.quote(str(tables[0]))}" if tables else ""


def get_specimen_args(wildcards):
    return " ".join(
        f"--specimen {shlex.quote(option)}"
        for option in specimen_options(SPECIMEN[wildcards.sample])
    )


def get_primers_input(wildcards):
    bed = PRIMERS[wildcards.sample]
    return [bed] if bed else []


def get_primers_args(wildcards, input):
    beds = list(input.primers)
    return f"--primers {shlex.quote(str(beds[0]))}" if beds else ""


def get_targets_args():
    return " ".join(shlex.quote(t) for t in TARGETS)


def write_summary_after_failure():
    """Called from onerror: summarise whatever finished, failed samples included."""
    from imtfusion.summary import summarize
    from imtfusion.summary_files import write_summary

    try:
        rows = summarize(OUTDIR, SAMPLES, TARGETS)
        tsv, _ = write_summary(OUTDIR, rows, TARGETS)
        failed = sorted({r.sample for r in rows if r.status == "failed"})
        print(
            f"imtfusion: {len(failed)} sample(s) failed: {', '.join(failed)}; summary written to {tsv}"
        )
    except Exception as exc:  # never hide the original failure
        print(f"imtfusion: could not write the batch summary after the failure: {exc}")
