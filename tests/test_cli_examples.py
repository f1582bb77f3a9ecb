"""Every example ``labkit --help`` and ``labkit COMMAND --help`` print is run, in order, on tiny
twins (each study's tiny profile) in a scratch folder: an example that parses but fails, such as
predicting with ``--tta`` from a run that never flipped its inputs, fails here. The example on
the real hippocampus data runs on a six-case twin of it (``tests/test_msd_real.py`` runs the
command line on the real cases); the downloads come from archives served on this machine."""

import hashlib
import shlex
import shutil
import tarfile

from _tiny import TINY, use_tiny

import labkit_cli
from labkit.datasets import write_msd_twin
from labkit.datasets.download import MSD_TASKS

#: Folders the examples read that no earlier example writes, and how the test makes them.
SETUP = {
    "pred/wmh": ["predict", "runs/wmh", "--input", "data/wmh", "--output", "pred/wmh"],
}


def _examples() -> list[list[str]]:
    lines = []
    for text in labkit_cli.EXAMPLES.values():
        for line in text.splitlines():
            if line.startswith("  labkit "):
                argv = shlex.split(line.split("#")[0])[1:]
                if argv not in lines:
                    lines.append(argv)
    order = ["synth", "train", "predict", "evaluate", "download", "settings"]
    return sorted(lines, key=lambda argv: order.index(argv[0]))


def _archive(tmp_path, task: str, twin: str):
    """A tiny Decathlon archive of ``task`` served by the ``serve`` fixture, and its MD5."""
    source = tmp_path / "src" / task
    write_msd_twin(source, twin, n_cases=2, seed=0)
    archive = tmp_path / f"{task}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname=task)
    return archive.name, hashlib.md5(archive.read_bytes()).hexdigest()


def test_every_help_example_runs(tmp_path, monkeypatch, serve, capsys):
    for study in TINY:
        use_tiny(monkeypatch, study)
    for task, twin in (("Task04_Hippocampus", "hippocampus"), ("Task09_Spleen", "spleen")):
        name, md5 = _archive(tmp_path, task, twin)
        monkeypatch.setitem(MSD_TASKS, task, (serve(name), md5))
    monkeypatch.setenv("LABKIT_DATA_ROOT", str(tmp_path / "downloads"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    hippocampus = write_msd_twin(tmp_path / "Task04_Hippocampus", "hippocampus", n_cases=6).root
    examples = _examples()
    assert len(examples) >= 15, examples
    for argv in examples:
        argv = [str(hippocampus) if a.startswith("../shared/data/") else a for a in argv]
        needs = {a for a in argv if a in SETUP and not (work / a).exists()}
        for folder in needs:
            assert labkit_cli.main(SETUP[folder]) == 0, capsys.readouterr().err
        if argv[:2] == ["predict", "runs/cv"]:  # a folder of new images: three of the twin's
            (work / "images").mkdir()
            for path in sorted((work / "data/Task03_Liver/imagesTr").glob("*.nii.gz"))[:3]:
                shutil.copy(path, work / "images")
        if argv[0] == "evaluate" and "refs/" in argv:  # their reference label maps
            (work / "refs").mkdir()
            for path in (work / "pred").glob("*.nii.gz"):
                shutil.copy(work / "data/Task03_Liver/labelsTr" / path.name, work / "refs")
        code = labkit_cli.main(argv)
        assert code == 0, f"labkit {shlex.join(argv)} exited {code}: {capsys.readouterr().err}"
    assert (work / "phh.csv").is_file() and (work / "m.csv").is_file()
    assert (work / "data/Task09_Spleen/dataset.json").is_file()
    assert (tmp_path / "downloads/Task04_Hippocampus/dataset.json").is_file()
    capsys.readouterr()
