"""The library's layering: each module imports only from its own floor or the floors below.

Top to bottom: the command line; the study recipes; tools that run or show recipes' results;
the steps a recipe composes (preprocessing, pipelines, models, losses, training, inference,
evaluation); the data (dataset layouts, and the phantoms their twins are made of), which knows
nothing of models or metrics; the base (files, NIfTI, label conventions, configuration,
errors). Read from the source, so it costs no imports. The package itself
(``labkit/__init__.py``: the version, and the Keras objects it registers for loading saved
models) stands apart: any module may read ``labkit.__version__``.
"""

import ast
import functools
import json
from pathlib import Path

import labkit

ROOT = Path(labkit.__file__).parent

#: Floors from the top; a module's floor is that of the longest matching prefix.
FLOORS = {
    "entry": ("__main__", "cli"),
    "recipes": ("studies",),
    "tools": (
        "animation", "experiments", "evaluate_folder", "full_runs", "runfolder", "viz", "charts",
        "tables",
    ),
    "steps": (
        "augment", "batches", "callbacks", "checkpoints", "ct", "ensemble", "evaluation",
        "hardware", "inference", "intensity", "layers", "lesions", "losses", "measures",
        "metrics", "models", "morphology", "pipeline", "postprocessing", "saving", "slices",
        "splits", "targets", "training", "transforms",
    ),
    "data": ("datasets", "phantoms"),
    "base": (
        "checks", "config", "errors", "files", "fingerprint", "floors", "gpu_estimates", "io",
        "labels", "lock", "progress", "records", "spatial", "volume",
    ),
}  # fmt: skip
ORDER = list(FLOORS)


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _floor(module: str) -> str:
    best, found = -1, ""
    for floor, prefixes in FLOORS.items():
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if len(prefix) > best:
                    best, found = len(prefix), floor
    return found


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("labkit"):
            names = [node.module] if node.module != "labkit" else []
            names += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("labkit")]
        else:
            continue
        for name in names:
            inner = name.removeprefix("labkit").lstrip(".")
            if inner and (
                (ROOT / f"{inner.replace('.', '/')}.py").is_file()
                or (ROOT / inner.replace(".", "/") / "__init__.py").is_file()
            ):
                out.add(inner)
    return out


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if _module(p))


def test_every_module_has_a_floor():
    for path in _modules():
        assert _floor(_module(path)), f"{path} is on no floor of FLOORS"


def test_modules_import_only_from_their_floor_or_below():
    upward = []
    for path in _modules():
        module = _module(path)
        for target in _imports(path):
            if ORDER.index(_floor(target)) < ORDER.index(_floor(module)):
                upward.append(f"{module} ({_floor(module)}) imports {target} ({_floor(target)})")
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_cycle():
    graph = {_module(p): _imports(p) for p in _modules()}
    state: dict[str, int] = {}

    def visit(module: str, trail: tuple[str, ...]) -> None:
        if state.get(module) == 2:
            return
        assert state.get(module) != 1, "cycle: " + " -> ".join((*trail, module))
        state[module] = 1
        for target in graph.get(module, ()):
            if target != module:
                visit(target, (*trail, module))
        state[module] = 2

    for module in graph:
        visit(module, ())


def test_the_package_never_imports_the_command_lines_front_door():
    """``labkit_cli`` (the parser, outside the package) imports ``labkit.cli`` to run a command;
    nothing inside the package imports it back (but ``python -m labkit``, its other entry), so
    the arrow between the two runs one way."""
    back = []
    for path in _modules():
        if path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if "labkit_cli" in names:
                back.append(str(path.relative_to(ROOT)))
    assert not back, f"modules of labkit import labkit_cli: {back}"


@functools.cache
def _defined(path: Path, modules: bool = False) -> set[str]:
    """Names a module defines at its top level (functions, classes, assignments), and with
    ``modules`` the modules it imports whole (``import time``, which a test may patch)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if modules and isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                names |= {e.id for e in elements if isinstance(e, ast.Name)}
    return names


def _module_file(name: str) -> Path | None:
    """The file of a ``labkit`` module that is not a package (``None`` for a package)."""
    path = ROOT.parent.joinpath(*name.split(".")).with_suffix(".py")
    return path if path.is_file() else None


def _no_magic(line: str) -> str:
    """An IPython magic line (``%pip``, ``!ls``) as ``pass`` at its indentation."""
    stripped = line.lstrip()
    return line[: len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line


def _sources() -> list[tuple[str, str]]:
    """Every Python source that imports labkit: the package, the tests, the benchmarks, the
    tools, and the chapters' code cells."""
    repo = ROOT.parent
    found = [
        (str(p.relative_to(repo)), p.read_text())
        for folder in ("labkit", "tests", "benchmarks", "tools")
        for p in sorted((repo / folder).rglob("*.py"))
    ]
    for notebook in sorted((repo / "book").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = [c["source"] for c in cells if c["cell_type"] == "code"]
        lines = ["".join(s) if isinstance(s, list) else s for s in code]
        text = "\n".join(_no_magic(line) for cell in lines for line in cell.splitlines())
        found.append((str(notebook.relative_to(repo)), text))
    return found


def test_every_name_has_one_home():
    """A module lists in ``__all__`` only what it defines, and every import names a module's
    own definitions; only packages (``labkit``, ``labkit.datasets``, a study) gather names."""
    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        listed = [
            e.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(getattr(t, "id", "") == "__all__" for t in node.targets)
            for e in node.value.elts
        ]
        foreign = sorted(set(listed) - _defined(path))
        assert not foreign, (
            f"{path.relative_to(ROOT.parent)} lists names it only imports: {foreign}"
        )
    wrong = []
    for where, text in _sources():
        tree = ast.parse(text)
        aliases = {}  # a name bound to a labkit module that is not a package -> its file
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "labkit":
                for a in node.names:
                    if source := _module_file(f"labkit.{a.name}"):
                        aliases[a.asname or a.name] = source
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labkit."):
                if source := _module_file(node.module):
                    defined = _defined(source)
                    wrong += [
                        f"{where}: from {node.module} import {a.name}"
                        for a in node.names
                        if a.name not in defined
                    ]
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr not in _defined(aliases[node.value.id], modules=True)
            ):
                wrong.append(f"{where}: {node.value.id}.{node.attr}")
    assert not wrong, "use these names from the module that defines them:\n" + "\n".join(
        sorted(set(wrong))
    )
