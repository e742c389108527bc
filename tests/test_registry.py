"""The target registry (resources/targets.tsv): loading, its one-line errors, target sets,
and that no list of target genes is written anywhere else."""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

import pytest

from imtfusion import registry as registry_module
from imtfusion.annotate import load_domains
from imtfusion.errors import ConfigError, InputFileError
from imtfusion.registry import (
    COLUMNS,
    DEFAULT_SET,
    ROLE_KINASE,
    load_registry,
    read_registry,
    resolve_target_names,
)
from imtfusion.targets import bam_build, gtf_build

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "scripts" / "imtfusion"
SHIPPED = REPO / "resources" / "targets.tsv"
DEMO = REPO / "resources" / "demo"


def rows_of(path: Path) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """(comment lines, header, rows) of a registry file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = [line for line in lines if line.startswith("#")]
    table = [line for line in lines if line and not line.startswith("#")]
    header = table[0].split("\t")
    return comments, header, [dict(zip(header, line.split("\t"))) for line in table[1:]]


def write_registry(path: Path, header: list[str], rows: list[dict[str, str]], comments: list[str] = ()) -> Path:
    text = "\n".join([*comments, "\t".join(header), *("\t".join(r[c] for c in header) for r in rows)]) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_registry_loads_and_its_default_set_is_the_first_four_rows():
    reg = load_registry()
    # the registry the package loads is the checkout's table: the file itself (editable
    # install) or the byte-identical copy a wheel installs as imtfusion/resources
    assert reg.path.read_bytes() == SHIPPED.read_bytes()
    default = reg.target_set(DEFAULT_SET)
    assert default == reg.symbols()[: len(default)]
    assert len(default) == 4
    for g in reg.genes:
        assert g.title and g.uniprot and g.coordinates_source
        assert (g.kinase is not None) == (g.role == ROLE_KINASE)
    # contig lengths of the two builds are those of the assemblies (chr2: GRC reports)
    assert reg.contig_lengths("GRCh38")["2"] == 242_193_529
    assert reg.contig_lengths("GRCh37")["2"] == 243_199_373


def test_kinase_domains_come_from_the_registry_and_other_domains_from_domains_tsv():
    domains = load_domains()
    reg = load_registry()
    kinases = [(d.gene, d.aa_start, d.aa_end) for d in domains if d.kind == "kinase"]
    assert kinases == [(s, k.aa_start, k.aa_end) for s, k in reg.kinase_domains()]
    assert [d.name for d in domains if d.gene == "ETV6"] == ["PNT (SAM) oligomerisation", "ETS DNA-binding"]


def test_a_kinase_row_in_domains_tsv_for_a_registry_target_is_refused(tmp_path):
    table = tmp_path / "domains.tsv"
    kinase = load_registry().kinase_domains()[0][0]
    table.write_text("gene\tdomain\tkind\taa_start\taa_end\tsource\n"
                     f"{kinase}\ttyrosine kinase\tkinase\t1\t50\tx\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=rf"{re.escape(str(table))}: the kinase domain of {kinase} is declared"):
        load_domains(table)


# one corruption per rule: (column, bad value, words the message must carry)
BAD_CELLS = [
    ("symbol", "AL K", "must be an HGNC symbol"),
    ("aliases", "CD 246", "is not a gene symbol"),
    ("sets", "", "name one or more target sets"),
    ("sets", "Default", "name one or more target sets"),
    ("role", "kinase", "must be one of"),
    ("uniprot", "ALK_HUMAN", "is not a UniProtKB accession"),
    ("kinase_domain", "tyrosine kinase:1392-1116", "is not NAME:START-END"),
    ("kinase_domain", "", "but no kinase_domain"),
    ("kinase_source", "", "has no kinase_source"),
    ("grch38_start", "chr2-29192774", "is not CONTIG:START"),
    ("grch37_contig_length", "2.4e8", "must be a whole number"),
    ("title", "", "has no title"),
]


@pytest.mark.parametrize("column,value,words", BAD_CELLS)
def test_a_malformed_row_is_one_line_naming_file_line_and_fix(tmp_path, column, value, words):
    comments, header, rows = rows_of(SHIPPED)
    kinase_row = next(i for i, r in enumerate(rows) if r["role"] == ROLE_KINASE)
    rows[kinase_row][column] = value
    path = write_registry(tmp_path / "targets.tsv", header, rows, comments)
    with pytest.raises(InputFileError) as err:
        read_registry(path)
    message = str(err.value)
    line = len(comments) + 2 + kinase_row  # comments, header, then the rows
    assert "\n" not in message
    assert message.startswith(f"{path} line {line}: ")
    assert words in message


def test_structural_problems_are_one_line_errors(tmp_path):
    comments, header, rows = rows_of(SHIPPED)
    # a missing column
    path = write_registry(tmp_path / "a.tsv", [c for c in header if c != "grch37_start"], rows)
    with pytest.raises(InputFileError, match=r"a\.tsv line 1: the target registry needs the columns grch37_start"):
        read_registry(path)
    # a row with a field too few
    path = tmp_path / "b.tsv"
    path.write_text("\t".join(header) + "\n" + "\t".join(rows[0][c] for c in header[:-1]) + "\n")
    with pytest.raises(InputFileError, match=r"b\.tsv line 2: 16 tab-separated fields where the header has 17"):
        read_registry(path)
    # the same symbol twice
    path = write_registry(tmp_path / "c.tsv", header, [rows[0], rows[1], rows[0]])
    with pytest.raises(InputFileError, match=rf"c\.tsv line 4: {rows[0]['symbol']} is listed twice \(also line 2\)"):
        read_registry(path)
    # no default set
    path = write_registry(tmp_path / "d.tsv", header, [dict(r, sets="other") for r in rows])
    with pytest.raises(InputFileError, match="no target is in the set 'default'"):
        read_registry(path)
    # two lengths of one contig
    twin = dict(rows[0], symbol="TWIN", aliases="", grch38_contig_length="1" + rows[0]["grch38_contig_length"])
    path = write_registry(tmp_path / "e.tsv", header, [rows[0], twin])
    with pytest.raises(InputFileError, match="one contig has one length"):
        read_registry(path)
    assert set(COLUMNS) <= set(header)


def test_target_sets_lists_and_aliases_resolve_to_genes():
    reg = load_registry()
    default = reg.target_set(DEFAULT_SET)
    assert resolve_target_names(None) == default
    assert resolve_target_names(DEFAULT_SET) == default
    assert resolve_target_names([DEFAULT_SET]) == default
    assert resolve_target_names(["ALK", "TPM3"]) == ("ALK", "TPM3")  # genes outside the registry stay targets
    assert resolve_target_names([DEFAULT_SET, "TPM3"]) == (*default, "TPM3")
    with pytest.raises(ConfigError, match=r"target genes listed twice: ALK \(after expanding the target sets\)"):
        resolve_target_names([DEFAULT_SET, "ALK"])
    alias, symbol = next((g.aliases[0], g.symbol) for g in reg.genes if g.aliases)
    with pytest.raises(ConfigError, match=rf"target '{alias}' is an alias of {symbol} .*; list the target as {symbol}"):
        resolve_target_names([alias])
    with pytest.raises(ConfigError, match=r"no target set 'imt-extendd' in .*targets\.tsv \(sets: "):
        resolve_target_names("imt-extendd")
    with pytest.raises(ConfigError, match="no target genes given"):
        resolve_target_names([])


def test_the_build_check_reads_gene_starts_and_contig_lengths_from_the_registry(tmp_path):
    reg = load_registry()
    for build in ("GRCh37", "GRCh38"):
        starts = {s: (f"chr{c}", p) for s, (c, p) in reg.gene_starts(build).items()}
        assert gtf_build(starts) == build
        assert bam_build({f"chr{c}": n for c, n in reg.contig_lengths(build).items()}) == build
    # a registry whose gene sits elsewhere recognises the GTF no more
    comments, header, rows = rows_of(SHIPPED)
    moved = [dict(r, grch38_start=f"{r['grch38_start'].split(':')[0]}:{int(r['grch38_start'].split(':')[1]) + 500_000}")
             for r in rows]
    other = read_registry(write_registry(tmp_path / "moved.tsv", header, moved, comments))
    starts = {s: (f"chr{c}", p) for s, (c, p) in reg.gene_starts("GRCh38").items()}
    assert gtf_build(starts, other) is None


# --- no second list of targets ---------------------------------------------------------

EXEMPT = {PACKAGE / "registry.py", PACKAGE / "simulate.py"}
EXEMPT_DIRS = {PACKAGE / "sim", PACKAGE / "bench"}  # the simulator designs genes; the benchmarks simulate them


def _symbol_pattern(symbols) -> re.Pattern:
    # a symbol as a word, not inside a fusion name (YWHAE::ROS1) nor a longer name (ALKP3)
    return re.compile(r"(?<![A-Za-z0-9:])(" + "|".join(map(re.escape, symbols)) + r")(?![A-Za-z0-9:])")


def hard_coded_targets(path: Path, symbols) -> list[tuple[int, str]]:
    """(line, text) of the string constants of a Python file that are a target symbol, or
    that name two or more target symbols (a list of targets, in code, message or docstring)."""
    pattern = _symbol_pattern(symbols)
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.strip() in symbols or len(set(pattern.findall(node.value))) >= 2:
                out.append((node.lineno, node.value.strip()[:70]))
    return out


def test_no_list_of_target_genes_outside_the_registry():
    symbols = set(load_registry().symbols())
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in EXEMPT or any(d in path.parents for d in EXEMPT_DIRS):
            continue
        found += [f"{path.relative_to(REPO)}:{n}: {text!r}" for n, text in hard_coded_targets(path, symbols)]
    pattern = _symbol_pattern(symbols)
    for path in sorted([*(REPO / "workflow").rglob("*"), REPO / "config" / "config.yaml"]):
        if path.is_file() and path.suffix in {"", ".smk", ".yaml", ".rst", ".py"}:
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if len(set(pattern.findall(line))) >= 2:
                    found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()[:70]!r}")
    assert not found, "target genes hard-coded outside resources/targets.tsv:\n" + "\n".join(found)


def test_the_hard_coded_list_check_finds_a_list(tmp_path):
    symbols = set(load_registry().symbols())
    code = tmp_path / "mod.py"
    code.write_text('TARGETS = ("ALK", "ROS1")\nMSG = "calls ALK, ROS1 and NTRK3"\nOK = "YWHAE::ROS1 in ROS1 exon 35, ALKP3"\n')
    assert sorted(n for n, _ in hard_coded_targets(code, symbols)) == [1, 1, 2]


# --- a new row is a new target --------------------------------------------------------


def test_a_dummy_row_in_a_copy_of_the_registry_is_a_target_end_to_end(tmp_path, monkeypatch, capsys):
    """TFG (the 5' partner of the demo's TFG::ROS1) added as the only member of a set
    'dummy-set': `--targets dummy-set` resolves to it, its locus is read, the call names
    it as the target, the report's title and the batch summary's columns follow."""
    from imtfusion.cli import main

    comments, header, rows = rows_of(SHIPPED)
    tfg = dict(rows[0], symbol="TFG", aliases="TRKT3", sets="dummy-set", role="5' partner", title="trafficking from ER to golgi regulator",
               uniprot="Q92734", kinase_domain="", kinase_source="", breakpoint_exons="4",
               grch37_start="3:100000", grch37_contig_length="200000000",
               grch38_start="3:100000", grch38_contig_length="200000000",
               coordinates_source="made up for the test", needs_review="a test row")
    copy = write_registry(tmp_path / "targets.tsv", header, [*rows, tfg], comments)
    real = registry_module.resource_path
    monkeypatch.setattr(registry_module, "resource_path", lambda name: copy if name == "targets.tsv" else real(name))
    assert load_registry().target_set("dummy-set") == ("TFG",)

    out = tmp_path / "out"
    argv = ["call", "--bam", str(DEMO / "bam" / "IMT04.bam"), "--gtf", str(DEMO / "annotation.gtf"),
            "--fasta", str(DEMO / "genome.fa"), "--sample", "IMT04", "--outdir", str(out), "--targets", "dummy-set"]
    assert main(argv) == 0, capsys.readouterr().err
    with open(out / "IMT04" / "IMT04.fusions.tsv") as fh:
        calls = list(csv.DictReader(fh, delimiter="\t"))
    assert [(c["fusion"], c["target"], c["kinase_domain"]) for c in calls] == [("TFG::ROS1", "TFG", "retained")]
    with open(out / "IMT04" / "IMT04.targets.tsv") as fh:
        assert [(r["target"], r["status"]) for r in csv.DictReader(fh, delimiter="\t")] == [("TFG", "detected")]
    assert "<small>TFG fusions from RNA-seq" in (out / "IMT04" / "IMT04.report.html").read_text()
    assert main(["summarize", "--outdir", str(out), "--samples", "IMT04", "--targets", "dummy-set"]) == 0
    with open(out / "summary.tsv") as fh:
        assert [(r["target"], r["fusions"]) for r in csv.DictReader(fh, delimiter="\t")] == [("TFG", "TFG::ROS1")]
    assert "imtfusion: TFG fusions" in (out / "imtfusion_mqc.yaml").read_text()
    # the same BAM with the default set has TFG::ROS1 through ROS1, not TFG
    assert main([*argv[:-1], DEFAULT_SET]) == 0
    with open(out / "IMT04" / "IMT04.fusions.tsv") as fh:
        assert [(c["fusion"], c["target"]) for c in csv.DictReader(fh, delimiter="\t")] == [("TFG::ROS1", "ROS1")]


def test_imt_extended_is_the_default_set_and_five_kinases_with_their_uniprot_domains():
    reg = load_registry()
    default = reg.target_set(DEFAULT_SET)
    extended = resolve_target_names("imt-extended")
    assert extended[: len(default)] == default
    added = extended[len(default):]
    want = {"NTRK1": "P04629", "NTRK2": "Q16620", "RET": "P07949", "PDGFRB": "P09619", "IGF1R": "P08069"}
    assert set(added) == set(want)
    domains = {d.gene: d for d in load_domains() if d.kind == "kinase"}
    for symbol, accession in want.items():
        gene = reg.gene(symbol)
        assert gene.uniprot == accession and gene.role == ROLE_KINASE
        assert accession in gene.kinase.source and gene.needs_review  # recalled ranges say so
        assert (domains[symbol].aa_start, domains[symbol].aa_end) == (gene.kinase.aa_start, gene.kinase.aa_end)
    # the build check knows where each extended target starts in both builds
    for build in ("GRCh37", "GRCh38"):
        assert set(added) <= set(reg.gene_starts(build))


def test_a_gtf_with_a_targets_earlier_symbol_says_so(tmp_path):
    from imtfusion.annotation import load_annotation
    from imtfusion.errors import TargetGeneNotFoundError
    from imtfusion.targets import _find_target

    attrs = 'gene_id "ENSG1"; gene_type "protein_coding"; gene_name "TRKA";'
    tx = attrs + ' transcript_id "ENST1"; transcript_type "protein_coding";'
    gtf = tmp_path / "old.gtf"
    gtf.write_text(f"chr1\tt\tgene\t101\t900\t.\t+\t.\t{attrs}\nchr1\tt\ttranscript\t101\t900\t.\t+\t.\t{tx}\n"
                   f"chr1\tt\texon\t101\t900\t.\t+\t.\t{tx} exon_number 1;\n")
    annotation = load_annotation(gtf)
    assert _find_target(annotation, "TRKA").name == "TRKA"  # any gene of the GTF can be a target
    with pytest.raises(TargetGeneNotFoundError, match=r"the annotation has TRKA, an earlier symbol or alias of NTRK1"):
        _find_target(annotation, "NTRK1")
    with pytest.raises(TargetGeneNotFoundError) as err:
        _find_target(annotation, "ALK")  # no alias in the GTF: the plain message
    assert "earlier symbol" not in str(err.value)


def test_the_readme_targets_table_is_the_registrys():
    from imtfusion.registry import markdown_table

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README's targets table drifted: paste `python -m imtfusion.registry`"
