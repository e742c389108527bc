"""The package's architecture: no import cycles between its modules, and the runtime
package apart from the simulator and benchmarks in tools/ (issue #16).

The import graph is read from the source with :mod:`ast`: every ``import imtfusion...``
and ``from ... import ...`` of the package, at module level or inside a function (a lazy
import still ties the two modules together), relative imports resolved against the
importing module's package. Imports under ``if TYPE_CHECKING:`` run only for a type
checker; they are kept apart and allowed to point back. An edge goes to the module named
(``from imtfusion.x import y`` to ``imtfusion.x.y`` when that is a module, else to
``imtfusion.x``), not to the parent packages Python also initialises on the way: their
``__init__`` files hold no imports of the package's modules. Imports by a computed name
(``importlib.import_module(name)``: the command tables of ``imtfusion.cli`` and
``imtfusion_tools.bench.cli``) are not seen; they go from a dispatcher to its commands.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scripts" / "imtfusion"
TOOLS = Path(__file__).resolve().parents[1] / "tools" / "imtfusion_tools"


@dataclass
class ImportGraph:
    """Modules of one package and the imports between them: ``edges[a][b]`` lists the
    places (``path:line``) where module ``a`` imports module ``b``."""

    modules: dict[str, Path]
    edges: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # run when the code runs
    type_only: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # under if TYPE_CHECKING:


def module_names(root: Path) -> dict[str, Path]:
    """``package.sub.module`` -> its file, for every ``.py`` file under the package
    folder ``root`` (a package is named by its ``__init__.py``)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, type_only: bool = False):
    """(node, type_only) for every import statement, however deeply nested (functions,
    classes, try blocks); the body of ``if TYPE_CHECKING:`` is type-only, its ``else`` not."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, type_only
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), True)
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), type_only)
        else:
            yield from _imports(node, type_only)


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The package's modules that one import statement of module ``name`` imports."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in modules}
    if node.level:
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        if node.level - 1 > len(package) - 1:
            raise ValueError(f"{path}:{node.lineno}: relative import beyond the top-level package")
        base = package[: len(package) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    out = set()
    for alias in node.names:
        if f"{source}.{alias.name}" in modules:  # from package import submodule
            out.add(f"{source}.{alias.name}")
        elif source in modules:  # from module import name
            out.add(source)
    return out


def import_graph(root: Path) -> ImportGraph:
    """The import graph of the package whose folder is ``root``."""
    graph = ImportGraph(module_names(root))
    for name, path in graph.modules.items():
        graph.edges[name] = {}
        graph.type_only[name] = {}
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, type_only in _imports(tree):
            into = graph.type_only if type_only else graph.edges
            for target in sorted(_targets(name, path, node, graph.modules)):
                into[name].setdefault(target, []).append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return graph


def cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one module, and the modules that
    import themselves, each sorted (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, successors = work[-1]
            w = next(successors, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1 or v in edges.get(v, {}):
                    found.append(sorted(component))
    return sorted(found)


def describe(graph: ImportGraph, found: list[list[str]]) -> str:
    """Each cycle with the imports that make it."""
    lines = []
    for component in found:
        lines.append("cycle: " + " <-> ".join(component))
        for a in component:
            for b in sorted(set(graph.edges[a]) & set(component)):
                lines.append(f"    {a} -> {b}  ({', '.join(graph.edges[a][b])})")
    return "\n".join(lines)


@pytest.mark.parametrize("root", [PACKAGE, TOOLS], ids=["imtfusion", "imtfusion_tools"])
def test_the_package_has_no_import_cycles(root):
    graph = import_graph(root)
    found = cycles(graph.edges)
    assert not found, "import cycles (a module-level or function-level import each way):\n" + describe(graph, found)


def _imported_names(root: Path) -> dict[str, set[str]]:
    """Every module name each file of the package imports (any package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        names = set()
        for node, _ in _imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif not node.level and node.module:
                names.add(node.module)
        out[str(path.relative_to(root.parent))] = names
    return out


def test_the_runtime_package_needs_neither_the_simulator_nor_the_benchmarks():
    """What a lab installs runs without tools/: no module of imtfusion imports them (the
    CLI finds them by name in a checkout), and tools/ holds all of them."""
    offending = {path: sorted(n for n in names if n.split(".")[0] == "imtfusion_tools")
                 for path, names in _imported_names(PACKAGE).items()}
    assert {path: names for path, names in offending.items() if names} == {}
    assert not (PACKAGE / "sim").exists() and not (PACKAGE / "bench").exists()
    tools = module_names(TOOLS)
    assert {"imtfusion_tools.sim.reads", "imtfusion_tools.bench.accuracy", "imtfusion_tools.bench.speed",
            "imtfusion_tools.simulate"} <= set(tools)


def test_the_graph_is_the_whole_package():
    """Not vacuous on the real package: every module is in it and the imports are seen."""
    graph = import_graph(PACKAGE)
    assert len(graph.modules) == len(list(PACKAGE.rglob("*.py")))
    assert {"imtfusion", "imtfusion.calling", "imtfusion.rescue", "imtfusion.pipeline", "imtfusion.cli"} <= set(graph.modules)
    assert "imtfusion.calling" in graph.edges["imtfusion.pipeline"]
    assert sum(len(targets) for targets in graph.edges.values()) > 100
    assert sum(len(targets) for targets in graph.type_only.values()) > 0


def test_the_package_inits_import_none_of_its_modules():
    """Why an edge may leave out the parent packages an import initialises: their
    ``__init__`` files import nothing of the package, so they cannot close a cycle."""
    graph = import_graph(PACKAGE)
    packages = [name for name, path in graph.modules.items() if path.name == "__init__.py"]
    assert {"imtfusion", "imtfusion.commands"} <= set(packages)
    assert {name: graph.edges[name] for name in packages if graph.edges[name]} == {}


# -- the graph and the cycle search on small made-up packages ----------------------------------


def make_package(tmp_path: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (path under the package folder -> source) as package ``pkg``."""
    root = tmp_path / "pkg"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    root = make_package(tmp_path, {
        "__init__.py": "",
        "calling.py": """
            from pkg.helpers import consensus

            def call():
                from pkg.rescue import rescue  # lazy: still a cycle
                return rescue()
        """,
        "rescue.py": "from pkg.calling import call\n",
        "helpers.py": "import os\n",
    })
    graph = import_graph(root)
    assert graph.edges["pkg.calling"] == {"pkg.helpers": ["pkg/calling.py:2"], "pkg.rescue": ["pkg/calling.py:5"]}
    assert cycles(graph.edges) == [["pkg.calling", "pkg.rescue"]]
    assert "pkg.calling -> pkg.rescue  (pkg/calling.py:5)" in describe(graph, cycles(graph.edges))
    assert "pkg.rescue -> pkg.calling  (pkg/rescue.py:1)" in describe(graph, cycles(graph.edges))


def test_a_longer_cycle_and_a_self_import_are_found(tmp_path):
    root = make_package(tmp_path, {
        "__init__.py": "",
        "a.py": "import pkg.b\n",
        "b.py": "from pkg import c\n",
        "c.py": "from pkg.a import thing as other\n",
        "d.py": "from pkg.d import x\nimport pkg.a\n",
        "e.py": "from pkg import a, b\n",
    })
    graph = import_graph(root)
    assert cycles(graph.edges) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.d"]]


def test_type_checking_imports_are_kept_apart(tmp_path):
    root = make_package(tmp_path, {
        "__init__.py": "",
        "model.py": """
            from typing import TYPE_CHECKING
            import typing

            if TYPE_CHECKING:  # for annotations only
                from pkg.calling import Candidate
            else:
                from pkg import params

            if typing.TYPE_CHECKING:
                import pkg.rescue
        """,
        "calling.py": "from pkg.model import Breakend\n",
        "rescue.py": "from pkg.model import Breakend\n",
        "params.py": "",
    })
    graph = import_graph(root)
    assert cycles(graph.edges) == []
    assert set(graph.edges["pkg.model"]) == {"pkg.params"}
    assert set(graph.type_only["pkg.model"]) == {"pkg.calling", "pkg.rescue"}
    both = {m: {**graph.edges[m], **graph.type_only[m]} for m in graph.modules}
    assert cycles(both) == [["pkg.calling", "pkg.model", "pkg.rescue"]]


def test_relative_imports_are_resolved(tmp_path):
    root = make_package(tmp_path, {
        "__init__.py": "from . import base\n",
        "base.py": "",
        "other.py": "",
        "sub/__init__.py": "from .leaf import f\n",
        "sub/leaf.py": """
            from .. import base
            from ..other import thing
            from . import sibling

            def f():
                from ..other import g  # function level, two levels up
        """,
        "sub/sibling.py": "from .leaf import f\n",
    })
    files = module_names(root)
    assert set(files) == {"pkg", "pkg.base", "pkg.other", "pkg.sub", "pkg.sub.leaf", "pkg.sub.sibling"}
    graph = import_graph(root)
    assert set(graph.edges["pkg"]) == {"pkg.base"}
    assert set(graph.edges["pkg.sub"]) == {"pkg.sub.leaf"}
    assert set(graph.edges["pkg.sub.leaf"]) == {"pkg.base", "pkg.other", "pkg.sub.sibling"}
    assert cycles(graph.edges) == [["pkg.sub.leaf", "pkg.sub.sibling"]]


def test_a_relative_import_beyond_the_package_is_an_error(tmp_path):
    root = make_package(tmp_path, {"__init__.py": "", "a.py": "from ... import b\n"})
    with pytest.raises(ValueError, match="beyond the top-level package"):
        import_graph(root)


# -- one evidence source reads the BAM --------------------------------------------------
#
# Only the evidence source (imtfusion.evidence: EvidenceSource and the readers it calls)
# reads records or index figures of the BAM; bamio opens files (and checks an unsorted
# one from its start), scan is the source's bulk reader (with the compiled _bamwalk). The
# other modules get records and figures from the source. Read from the source with ast:
# a call of ``safe_fetch`` or of scan's bulk readers, an ``AlignmentFile(...)`` not opened for writing, a
# ``.fetch(...)`` of the BAM (its receiver named like one -- bam, handle, aln, alignment --
# or a whole-file / unmapped-end fetch: ``until_eof``, ``"*"``), or the file's index and
# pile-up methods (``get_index_statistics``, ``nocoordinate``, ``count_coverage``, ...).
BAM_READERS = {"imtfusion.evidence", "imtfusion.bamio", "imtfusion.scan"}
BAM_ONLY_ATTRIBUTES = {"get_index_statistics", "nocoordinate", "mapped", "count_coverage", "find_introns",
                       "check_index", "get_tid"}
BULK_READERS = {"safe_fetch", "scan_region", "fetch_selected", "materialize", "reads_spelling"}  # evidence's and scan's
BAM_LIKE_NAME = ("bam", "handle", "aln", "alignment")


def _receiver_name(node: ast.expr) -> str:
    """The last name of a call's receiver: ``bam`` of ``self.bam.fetch``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _receiver_name(node.func)
    return ""


def _written(call: ast.Call) -> bool:
    """``AlignmentFile(path, "wb", ...)``: a file opened for writing (an output)."""
    modes = [call.args[1]] if len(call.args) > 1 else []
    modes += [k.value for k in call.keywords if k.arg == "mode"]
    return any(isinstance(m, ast.Constant) and isinstance(m.value, str) and m.value.startswith("w") for m in modes)


def bam_reads(path: Path) -> list[str]:
    """``path:line what`` for every place the module reads a BAM itself."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and node.attr in BAM_ONLY_ATTRIBUTES:
            out.append(f"{where} .{node.attr}")
        if not isinstance(node, ast.Call):
            continue
        name = _receiver_name(node.func)
        if name in BULK_READERS:
            out.append(f"{where} {name}(")
        elif name == "AlignmentFile" and not _written(node):
            out.append(f"{where} AlignmentFile(")
        elif name == "fetch" and isinstance(node.func, ast.Attribute):
            receiver = _receiver_name(node.func.value).lower()
            whole = any(k.arg in ("until_eof", "multiple_iterators") for k in node.keywords) or any(
                isinstance(a, ast.Constant) and a.value == "*" for a in node.args)
            if whole or any(word in receiver for word in BAM_LIKE_NAME):
                out.append(f"{where} {receiver}.fetch(")
    return out


def test_only_the_evidence_source_reads_the_bam():
    found = {name: bam_reads(path) for name, path in module_names(PACKAGE).items() if name not in BAM_READERS}
    found = {name: places for name, places in found.items() if places}
    assert not found, "modules other than the evidence source read the BAM:\n" + "\n".join(
        f"  {name}: {', '.join(places)}" for name, places in sorted(found.items()))


def test_the_bam_reader_scan_finds_the_readers():
    """The scan is not blind: it sees the evidence source's own reads, and each kind."""
    files = module_names(PACKAGE)
    seen = " ".join(bam_reads(files["imtfusion.evidence"]))
    assert "safe_fetch(" in seen and "bam.fetch(" in seen and ".get_index_statistics" in seen and ".nocoordinate" in seen
    assert "AlignmentFile(" in " ".join(bam_reads(files["imtfusion.bamio"]))


def test_the_bam_reader_scan_tells_reading_from_writing(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(textwrap.dedent("""
        import pysam
        def f(path, bam, ref, handle):
            pysam.AlignmentFile(path, "wb", header={})      # an output: allowed
            pysam.AlignmentFile(path, mode="w")              # allowed
            ref.fetch("chr1", 0, 10)                         # a FASTA: allowed
            pysam.AlignmentFile(path)                        # 1
            bam.fetch("chr1", 0, 10)                         # 2
            handle.fetch(until_eof=True)                     # 3
            x.fetch("*")                                     # 4
            safe_fetch(bam, "chr1", 0, 1)                    # 5
            scan.fetch_selected(bam, "chr1", 0, 1, keep)     # 6
            bam.get_index_statistics()                       # 7
            return bam.nocoordinate                          # 8
    """))
    assert len(bam_reads(module)) == 8
