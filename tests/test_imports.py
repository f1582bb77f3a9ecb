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
from pathlib import Path

import labkit

ROOT = Path(labkit.__file__).parent

#: Floors from the top; a module's floor is that of the longest matching prefix.
FLOORS = {
    "entry": ("__main__", "cli"),
    "recipes": ("studies",),
    "tools": (
        "experiments", "evaluate_folder", "full_runs", "runfolder", "viz", "charts", "tables",
    ),
    "steps": (
        "augment", "batches", "callbacks", "checkpoints", "ct", "ensemble", "evaluation",
        "hardware", "inference", "intensity", "layers", "lesions", "losses", "measures",
        "metrics", "models", "morphology", "pipeline", "postprocessing", "saving", "slices",
        "splits", "targets", "training", "transforms",
    ),
    "data": ("datasets", "phantoms"),
    "base": (
        "checks", "config", "errors", "files", "fingerprint", "floors", "io", "labels", "lock",
        "progress", "records", "spatial", "volume",
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
