"""The target registry: ``resources/targets.tsv``, one row per target gene.

Everything the code knows per target comes from here: which genes a named target set
(``default``, ``imt-extended``) holds and in which order, the kinase domain whose
retention decides a call's ``kinase_domain``, and the gene starts and contig lengths by
which the build check tells GRCh37 from GRCh38. Adding a target is adding a row (and its
curated partners in ``known_partners.tsv``); the README's targets table is checked
against the rows by a test.

A malformed row stops the run with one line naming the file, the line and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from imtfusion.errors import ConfigError, InputFileError
from imtfusion.knowledge import resource_path

REGISTRY_FILE = "targets.tsv"
DEFAULT_SET = "default"
BUILDS = ("GRCh37", "GRCh38")
ROLE_KINASE = "3' kinase"
ROLE_5PRIME = "5' partner"
ROLES = (ROLE_KINASE, ROLE_5PRIME)
COLUMNS = (
    "symbol", "aliases", "sets", "role", "title", "uniprot", "kinase_domain", "kinase_source", "breakpoint_exons",
    "grch37_start", "grch37_contig_length", "grch38_start", "grch38_contig_length", "coordinates_source",
    "needs_review",
)
# optional columns, which a registry of one's own may leave out: lod_exons (the breakpoint-prone
# exons whose coverage gives the limit of detection, imtfusion.lod) and lod_source

_SYMBOL = re.compile(r"^[A-Za-z0-9._-]+$")
_SET = re.compile(r"^[a-z][a-z0-9-]*$")
# UniProtKB accession format (https://www.uniprot.org/help/accession_numbers)
_UNIPROT = re.compile(r"^([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9]([A-Z][A-Z0-9]{2}[0-9]){1,2})$")
_DOMAIN = re.compile(r"^(?P<name>[^:]+):(?P<start>[0-9]+)-(?P<end>[0-9]+)$")
_START = re.compile(r"^(?:chr)?(?P<contig>[0-9XY]+|MT):(?P<start>[0-9]+)$")
_EXONS = re.compile(r"^(?P<first>[1-9][0-9]*)(?:-(?P<last>[1-9][0-9]*))?$")


@dataclass(frozen=True, slots=True)
class KinaseDomain:
    """The kinase domain of a target, amino acids of its canonical isoform (1-based, inclusive)."""

    name: str
    aa_start: int
    aa_end: int
    source: str


@dataclass(frozen=True, slots=True)
class GeneStart:
    """Where a build has the gene: contig (without ``chr``), 1-based start, contig length."""

    contig: str
    start: int
    contig_length: int


@dataclass(frozen=True, slots=True)
class TargetGene:
    symbol: str
    aliases: tuple[str, ...]
    sets: tuple[str, ...]
    role: str
    title: str
    uniprot: str
    kinase: KinaseDomain | None
    breakpoint_exons: str
    grch37: GeneStart
    grch38: GeneStart
    coordinates_source: str
    needs_review: str
    line: int  # in the registry file, for messages
    # the exons (first, last; canonical numbering) whose coverage gives the limit of
    # detection (imtfusion.lod); None: the whole reported transcript
    lod_exons: tuple[int, int] | None = None
    lod_source: str = ""

    def start(self, build: str) -> GeneStart:
        return self.grch37 if build == "GRCh37" else self.grch38


@dataclass(frozen=True)
class TargetRegistry:
    path: Path
    genes: tuple[TargetGene, ...]

    def symbols(self) -> tuple[str, ...]:
        return tuple(g.symbol for g in self.genes)

    def gene(self, symbol: str) -> TargetGene | None:
        return next((g for g in self.genes if g.symbol == symbol), None)

    def set_names(self) -> tuple[str, ...]:
        """The named target sets, in the order they first appear."""
        out: list[str] = []
        for g in self.genes:
            out.extend(s for s in g.sets if s not in out)
        return tuple(out)

    def target_set(self, name: str) -> tuple[str, ...]:
        if name not in self.set_names():
            raise ConfigError(
                f"no target set {name!r} in {self.path} (sets: {', '.join(self.set_names())}); "
                "name one of them or list the target genes"
            )
        return tuple(g.symbol for g in self.genes if name in g.sets)

    def alias_of(self, name: str) -> str | None:
        """The registry symbol ``name`` is an alias of (None for symbols and unknown names)."""
        if name in self.symbols():
            return None
        return next((g.symbol for g in self.genes if name in g.aliases), None)

    def resolve(self, names: str | Sequence[str] | None) -> tuple[str, ...]:
        """Target genes from a set name, a list of genes, or a list mixing both (sets are
        expanded in place); None is the default set. Genes outside the registry are kept
        (any gene of the GTF can be a target); an alias of a registry target is refused, and
        so is a lower-case name that is no set (human gene symbols are upper case)."""
        if names is None:
            return self.target_set(DEFAULT_SET)
        items = [names] if isinstance(names, str) else list(names)
        out: list[str] = []
        for item in items:
            item = str(item).strip()
            if item in self.set_names():
                out.extend(self.target_set(item))
                continue
            if _SET.match(item):  # lower case: no human gene symbol, so a set name mistyped
                raise ConfigError(
                    f"no target set {item!r} in {self.path} (sets: {', '.join(self.set_names())}); name one of "
                    "them, or list genes by their HGNC symbols"
                )
            symbol = self.alias_of(item)
            if symbol is not None:
                raise ConfigError(
                    f"target {item!r} is an alias of {symbol} in {self.path}; list the target as {symbol}"
                )
            out.append(item)
        if not out or not all(out):
            raise ConfigError(
                f"no target genes given; name a target set ({', '.join(self.set_names())}) or list genes"
            )
        twice = sorted({t for t in out if out.count(t) > 1})
        if twice:
            raise ConfigError(
                f"target genes listed twice: {', '.join(twice)} (after expanding the target sets); list each once"
            )
        return tuple(out)

    def gene_starts(self, build: str) -> dict[str, tuple[str, int]]:
        """Symbol -> (contig, 1-based start) in ``build``, for the build check."""
        return {g.symbol: (g.start(build).contig, g.start(build).start) for g in self.genes}

    def contig_lengths(self, build: str) -> dict[str, int]:
        """Contig (without ``chr``) -> length in ``build``, of the contigs holding a target."""
        return {g.start(build).contig: g.start(build).contig_length for g in self.genes}

    def kinase_domains(self) -> tuple[tuple[str, KinaseDomain], ...]:
        return tuple((g.symbol, g.kinase) for g in self.genes if g.kinase is not None)


def _fail(path: Path, line: int, message: str) -> InputFileError:
    return InputFileError(f"{path} line {line}: {message}")


def _gene_start(path: Path, line: int, row: dict[str, str], build: str) -> GeneStart:
    key = build.lower()
    m = _START.match(row[f"{key}_start"])
    if not m:
        raise _fail(path, line, f"{key}_start {row[f'{key}_start']!r} is not CONTIG:START; write e.g. 2:29192774 "
                                "(the gene's 1-based start)")
    length = row[f"{key}_contig_length"]
    if not length.isdigit() or int(length) <= int(m["start"]):
        raise _fail(path, line, f"{key}_contig_length {length!r} must be a whole number beyond the gene start; "
                                f"write the length of contig {m['contig']} in {build}")
    return GeneStart(m["contig"], int(m["start"]), int(length))


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _parse_row(path: Path, line: int, row: dict[str, str]) -> TargetGene:
    symbol = row["symbol"]
    if not _SYMBOL.match(symbol):
        raise _fail(path, line, f"symbol {symbol!r} must be an HGNC symbol (letters, digits, '.', '_', '-')")
    aliases = _split(row["aliases"])
    bad = [a for a in aliases if not _SYMBOL.match(a)]
    if bad:
        raise _fail(path, line, f"alias {bad[0]!r} of {symbol} is not a gene symbol; separate aliases by commas")
    sets = _split(row["sets"])
    if not sets or not all(_SET.match(s) for s in sets):
        raise _fail(path, line, f"sets {row['sets']!r} of {symbol}: name one or more target sets in lower case, "
                                "comma-separated (e.g. default, imt-extended)")
    role = row["role"]
    if role not in ROLES:
        raise _fail(path, line, f"role {role!r} of {symbol} must be one of: {', '.join(ROLES)}")
    if not _UNIPROT.match(row["uniprot"]):
        raise _fail(path, line, f"uniprot {row['uniprot']!r} of {symbol} is not a UniProtKB accession (e.g. Q9UM73)")
    kinase = None
    if row["kinase_domain"]:
        m = _DOMAIN.match(row["kinase_domain"])
        if not m or not 1 <= int(m["start"]) < int(m["end"]):
            raise _fail(path, line, f"kinase_domain {row['kinase_domain']!r} of {symbol} is not NAME:START-END "
                                    "with START < END (e.g. tyrosine kinase:1116-1392)")
        if not row["kinase_source"]:
            raise _fail(path, line, f"the kinase domain of {symbol} has no kinase_source; name where the range "
                                    "comes from (database, accession, release or date)")
        kinase = KinaseDomain(m["name"].strip(), int(m["start"]), int(m["end"]), row["kinase_source"])
    if role == ROLE_KINASE and kinase is None:
        raise _fail(path, line, f"{symbol} has role {ROLE_KINASE!r} but no kinase_domain; give the domain's "
                                "amino-acid range (NAME:START-END)")
    if role == ROLE_5PRIME and kinase is not None:
        raise _fail(path, line, f"{symbol} has role {ROLE_5PRIME!r} and a kinase_domain; a kinase target is a "
                                f"{ROLE_KINASE!r}")
    for column in ("title", "coordinates_source"):
        if not row[column]:
            raise _fail(path, line, f"{symbol} has no {column}; fill it in")
    lod_exons = None
    if row.get("lod_exons"):
        m = _EXONS.match(row["lod_exons"])
        if not m or int(m["last"] or m["first"]) < int(m["first"]):
            raise _fail(path, line, f"lod_exons {row['lod_exons']!r} of {symbol} is not an exon or a range FIRST-LAST "
                                    "(e.g. 19-20), FIRST <= LAST")
        if not row.get("lod_source"):
            raise _fail(path, line, f"the lod_exons of {symbol} have no lod_source; name where the breakpoint "
                                    "region comes from")
        lod_exons = (int(m["first"]), int(m["last"] or m["first"]))
    return TargetGene(
        symbol=symbol, aliases=aliases, sets=sets, role=role, title=row["title"], uniprot=row["uniprot"],
        kinase=kinase, breakpoint_exons=row["breakpoint_exons"],
        grch37=_gene_start(path, line, row, "GRCh37"), grch38=_gene_start(path, line, row, "GRCh38"),
        coordinates_source=row["coordinates_source"], needs_review=row["needs_review"], line=line,
        lod_exons=lod_exons, lod_source=row.get("lod_source", ""),
    )


def _rows(path: Path) -> Iterable[tuple[int, dict[str, str]]]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [(n, line.rstrip("\r\n")) for n, line in enumerate(fh, start=1)]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read the target registry {path}: {exc}") from None
    lines = [(n, line) for n, line in lines if line.strip() and not line.startswith("#")]
    if not lines:
        raise InputFileError(f"{path}: the target registry is empty; it needs a header line and one row per target")
    header_line, header = lines[0]
    names = header.split("\t")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise _fail(path, header_line, f"the target registry needs the columns {', '.join(missing)} (tab-separated)")
    for n, line in lines[1:]:
        cells = line.split("\t")
        if len(cells) != len(names):
            raise _fail(path, n, f"{len(cells)} tab-separated fields where the header has {len(names)}; "
                                 "separate the columns by single tabs (empty cells stay as empty fields)")
        yield n, {k: v.strip() for k, v in zip(names, cells)}


def read_registry(path: str | Path) -> TargetRegistry:
    """Parse and check a registry file (uncached; :func:`load_registry` caches)."""
    path = Path(path)
    genes: list[TargetGene] = []
    for n, row in _rows(path):
        gene = _parse_row(path, n, row)
        earlier = next((g for g in genes if g.symbol == gene.symbol), None)
        if earlier is not None:
            raise _fail(path, n, f"{gene.symbol} is listed twice (also line {earlier.line}); keep one row")
        genes.append(gene)
    symbols = {g.symbol for g in genes}
    for g in genes:
        clash = [a for a in g.aliases if a in symbols]
        if clash:
            raise _fail(path, g.line, f"alias {clash[0]} of {g.symbol} is itself a target symbol; remove it")
        for build in BUILDS:
            s = g.start(build)
            other = next((o for o in genes if o.start(build).contig == s.contig
                          and o.start(build).contig_length != s.contig_length), None)
            if other is not None:
                raise _fail(path, g.line, f"{build} contig {s.contig} is {s.contig_length} bp for {g.symbol} but "
                                          f"{other.start(build).contig_length} bp for {other.symbol} (line "
                                          f"{other.line}); one contig has one length")
    registry = TargetRegistry(path, tuple(genes))
    if DEFAULT_SET not in registry.set_names():
        raise InputFileError(f"{path}: no target is in the set {DEFAULT_SET!r}; add {DEFAULT_SET} to the sets of "
                             "the targets called by default")
    clash = [s for s in registry.set_names() if s in symbols]
    if clash:
        raise InputFileError(f"{path}: the set name {clash[0]!r} is also a target symbol; rename the set")
    return registry


@lru_cache(maxsize=8)
def _cached(path: str) -> TargetRegistry:
    return read_registry(path)


def load_registry(path: str | Path | None = None) -> TargetRegistry:
    """The registry shipped in ``resources/`` (or the file at ``path``), read once."""
    return _cached(str(Path(path) if path else resource_path(REGISTRY_FILE)))


def default_targets() -> tuple[str, ...]:
    """The targets called when none are named: the registry's ``default`` set."""
    return load_registry().target_set(DEFAULT_SET)


def resolve_target_names(names: str | Sequence[str] | None, registry: TargetRegistry | None = None) -> tuple[str, ...]:
    """``names`` (a set name, genes, or both) as target genes; see :meth:`TargetRegistry.resolve`."""
    return (registry or load_registry()).resolve(names)


def lod_exons_label(gene: TargetGene | None) -> str:
    """``19-20``, ``11``, or ``all`` (the whole reported transcript)."""
    if gene is None or gene.lod_exons is None:
        return "all"
    first, last = gene.lod_exons
    return str(first) if first == last else f"{first}-{last}"


def markdown_table(registry: TargetRegistry | None = None) -> str:
    """The README's targets table, one row per registry row (``python -m imtfusion.registry``
    prints it; a test checks the README against it)."""
    registry = registry or load_registry()
    sets = registry.set_names()
    lines = ["| target | " + " | ".join(f"`{s}`" for s in sets) + " | role | name | UniProt | kinase domain (aa) | "
             "breakpoint exons | LoD exons | aliases | needs review |",
             "|---|" + "---|" * len(sets) + "---|---|---|---|---|---|---|---|"]
    for g in registry.genes:
        kinase = f"{g.kinase.aa_start}-{g.kinase.aa_end}" if g.kinase else "–"
        marks = " | ".join("✓" if s in g.sets else "" for s in sets)
        lines.append(f"| {g.symbol} | {marks} | {g.role} | {g.title} | {g.uniprot} | {kinase} | "
                     f"{g.breakpoint_exons or '–'} | {lod_exons_label(g)} | {', '.join(g.aliases) or '–'} | "
                     f"{'yes' if g.needs_review else ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(markdown_table(), end="")
