"""The book's structure: toc, paired Colab notebooks, launch settings, and the environment files."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import jupytext
import nbformat
import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_cells  # noqa: E402

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files() -> list[str]:
    files = [TOC["root"]]
    for part in TOC["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def notebook_chapters() -> list[Path]:
    return [
        ROOT / f"{f}.md" for f in toc_files() if "```{code-cell}" in (ROOT / f"{f}.md").read_text()
    ]


def test_toc_lists_existing_pages_in_the_course_parts():
    assert [p["caption"] for p in TOC["parts"]][:2] == ["Getting started", "Foundations"]
    assert TOC["parts"][-1]["caption"] == "Appendix"
    for name in toc_files():
        assert (ROOT / f"{name}.md").is_file(), f"{name}.md is in _toc.yml but missing"


def test_every_chapter_page_under_book_is_in_the_toc():
    listed = {ROOT / f"{f}.md" for f in toc_files()}
    assert set((ROOT / "book").glob("*.md")) == listed


def test_execution_is_cached_strict_and_timed():
    execute = CONFIG["execute"]
    assert execute["execute_notebooks"] == "cache"
    assert execute["allow_errors"] is False
    assert 0 < execute["timeout"] <= 900


@pytest.mark.parametrize("md", notebook_chapters(), ids=lambda p: p.stem)
def test_colab_notebook_is_in_sync_with_myst_source(md: Path):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} is missing: run `make sync`"
    source, paired = jupytext.read(md), nbformat.read(ipynb, as_version=4)
    ours = [(c.cell_type, c.source) for c in source.cells]
    theirs = [(c.cell_type, c.source) for c in paired.cells]
    assert ours == theirs, f"{ipynb.name} differs from {md.name}: run `make sync`"
    assert paired.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("md", notebook_chapters(), ids=lambda p: p.stem)
def test_colab_notebook_is_committed_without_outputs(md: Path):
    for cell in nbformat.read(md.with_suffix(".ipynb"), as_version=4).cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


#: Chapters that train nothing, so their Colab notebooks ask for no GPU.
NO_GPU = {"volumes"}


@pytest.mark.parametrize("md", notebook_chapters(), ids=lambda p: p.stem)
def test_colab_install_cell_installs_the_configured_release_and_asks_for_a_gpu(md: Path):
    repo, release = CONFIG["repository"], CONFIG["labkit_release"]
    expected = f"unet-course-labkit @ git+{repo['url']}@v{release}"
    code = [c.source for c in jupytext.read(md).cells if c.cell_type == "code"]
    first = code[0]
    assert first == colab_cells.cell(expected), "the first code cell must be the install cell"
    metadata = nbformat.read(md.with_suffix(".ipynb"), as_version=4).metadata
    if md.stem in NO_GPU:
        assert "accelerator" not in metadata and "gpuType" not in metadata.get("colab", {})
    else:
        assert metadata["accelerator"] == "GPU" and metadata["colab"]["gpuType"] == "T4"


def test_the_install_cell_raises_with_pips_message_when_pip_fails(monkeypatch):
    code = colab_cells.cell("no-such-labkit @ file:///no/such/folder")
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    with pytest.raises(RuntimeError, match="pip could not install no-such-labkit") as caught:
        exec(compile(code, "install-cell", "exec"), {})
    message = str(caught.value)
    assert "/no/such/folder" in message  # pip's own words, not swallowed
    assert "!pip install 'no-such-labkit '" in message  # the newest code, without the tag


def test_the_install_cells_follow_config_and_the_release_is_the_package_version(capsys):
    assert colab_cells.main(["--check"]) == 0, capsys.readouterr().out
    assert str(CONFIG["labkit_release"]) == colab_cells.package_version()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == colab_cells.distribution() == "unet-course-labkit"
    assert project["dynamic"] == ["version"]  # read from labkit.__version__


def test_colab_cells_rewrites_the_install_cell_and_refuses_a_chapter_without_one():
    old = colab_cells.cell("labkit @ git+https://x/y@main")
    text = f"intro\n\n```{{code-cell}} ipython3\n{old}\n```\n\nmore\n"
    new = colab_cells.rewritten(text, "d @ git+https://x/y@v1")
    assert new == text.replace(old, colab_cells.cell("d @ git+https://x/y@v1"))
    assert 'LABKIT = "d @ git+https://x/y@v1"' in new
    with pytest.raises(ValueError, match="found no install cell"):
        colab_cells.rewritten("import labkit\n", "d")


def test_launch_buttons_are_built_from_the_repository_url():
    assert CONFIG["repository"]["url"].startswith("https://github.com/")
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert "book/*.ipynb" in CONFIG["exclude_patterns"]  # the Colab copies are not built twice


# CPU-only builds that stand in for a package in environment.yml
ALIASES = {"tensorflow-cpu": "tensorflow", "pytorch-cpu": "torch"}


def _name(requirement: str) -> str:
    name = re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()
    return ALIASES.get(name, name)


def test_environment_yml_installs_the_same_stack():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["book"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    pip = {_name(d) for d in next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))}
    missing = wanted - conda - pip
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def test_constraints_pin_every_dependency_and_torch_cpu():
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    for req in reqs:
        assert _name(req).replace("_", "-") in pins, f"{req} has no exact pin"
    assert pins["torch"] == "2.13.0"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make book" in readme
    ci = [
        ln
        for ln in (ROOT / ".ci" / "run").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert ci[-1] == "make test"


STUDY_SECTIONS = [
    "The study at a glance",
    "Data",
    "Preprocessing",
    "Model",
    "Training",
    "Evaluation",
    "Paper vs this chapter",
    "Exercises",
    "References",
]


def study_chapters() -> list[Path]:
    part = next(p for p in TOC["parts"] if p["caption"] == "The five studies")
    return [ROOT / f"{c['file']}.md" for c in part["chapters"]]


@pytest.mark.parametrize("md", study_chapters(), ids=lambda p: p.stem)
def test_study_chapter_has_the_shared_shape(md: Path):
    text = md.read_text()
    sections = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert sections == STUDY_SECTIONS, f"{md.name}: sections {sections}"
    assert ":class: dropdown" in text.split("## Exercises")[1], "solutions must be hidden"
    assert "assert " in text.split("## Evaluation")[1].split("## Paper")[0], (
        "the evaluation must assert a held-out floor"
    )


@pytest.mark.parametrize("md", notebook_chapters(), ids=lambda p: p.stem)
def test_floors_and_timers_are_out_of_the_readers_way(md: Path):
    """A floor (an ``assert`` that a score is above something), a "the loss fell" check or a
    hand-made timer runs in a cell the rendered page hides (``remove-cell``). The cells a reader
    sees keep only the from-scratch cells' comparisons with the library (``abs(a - b) < tol``)."""
    notebook = jupytext.read(md)
    for cell in notebook.cells:
        if cell.cell_type != "code" or "remove-cell" in cell.metadata.get("tags", []):
            continue
        source = cell.source
        for pattern in (r"assert .*>", r"start = time\.perf_counter\(\)", r"floor"):
            if pattern.startswith("start") and "seconds = time.perf_counter()" in source:
                continue  # a timing the cell shows as a result (a table column)
            assert not re.search(pattern, source), (
                f"{md.name}: a visible cell holds a check or timer ({pattern!r}); move it into a "
                f"cell tagged remove-cell, or time the work with labkit.progress.timed:\n{source}"
            )


@pytest.mark.parametrize("md", notebook_chapters(), ids=lambda p: p.stem)
def test_every_floor_check_knows_the_profile_that_ran(md: Path):
    """A floor measured on quick is asserted only under quick (labkit.floors): each chapter's
    checks pass the profile it ran."""
    code = "\n".join(c.source for c in jupytext.read(md).cells if c.cell_type == "code")
    calls = re.findall(r"check_(?:floor|loss_fell)\((.*?)\)\)?$", code, flags=re.MULTILINE)
    # every call is on one line and read here (a call split over lines would go unchecked)
    assert len(calls) == len(re.findall(r"check_(?:floor|loss_fell)\(", code)), calls
    assert all(call.rstrip(")").endswith("PROFILE") for call in calls), calls
    assert '* history[0]["loss"]' not in code, "use check_loss_fell(history, factor, PROFILE)"
