"""The package people install: the sdist and the wheel carry the zoo's specs, the shipped
checkpoints and the example suites (the wheel at ``wmbench/_shipped/``), an installed copy finds
them from any folder, ``wmbench suites`` lists the examples, ``wmbench attack NAME`` runs one, and
``wmbench init`` writes a suite and a CI workflow that validate. scripts/wheel-check does the same
in a fresh virtual environment, with training and a run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from mnist_files import fake_mnist, write_mnist_dir

import wmbench.models.shipped as shipped
from wmbench import __version__
from wmbench._yaml import read_yaml
from wmbench.cli import run
from wmbench.cli.suites import resolve_suite_argument
from wmbench.models import zoo_dir
from wmbench.schema import FactoryModelEntry, MaxErrorGate
from wmbench.suites import load_suite, parse_suite
from wmbench.suites.loader import resolve_suite_path

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(path.name for path in (ROOT / "models").glob("*.yaml"))
CHECKPOINTS = sorted((ROOT / "models" / "checkpoints").glob("*.safetensors"))
SUITES = sorted(path.name for path in (ROOT / "suites").glob("*.yaml"))
BUILD_OUTPUTS = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "runs", ".wmbench")


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel pip builds from it (as `pip install` of the sdist would).

    Built from a copy without build outputs: setuptools adds the files an old
    ``wmbench.egg-info/SOURCES.txt`` lists, which would hide a file the configuration misses."""
    source = tmp_path_factory.mktemp("src") / "wmbench"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*BUILD_OUTPUTS))
    out = tmp_path_factory.mktemp("dist")
    build = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    sdist = subprocess.run(
        [sys.executable, "-c", build, str(out)], cwd=source, capture_output=True, text=True
    )
    assert sdist.returncode == 0, sdist.stderr
    archive = out / sdist.stdout.strip().splitlines()[-1]
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    wheel = subprocess.run([*pip, "-w", str(out), str(archive)], capture_output=True, text=True)
    assert wheel.returncode == 0, wheel.stderr
    return {"sdist": archive, "wheel": next(out.glob("wmbench-*.whl"))}


def test_there_is_something_to_ship():
    assert len(SPECS) >= 19 and len(CHECKPOINTS) == 3 and "paper-mnist.yaml" in SUITES


def test_the_sdist_carries_models_and_suites_at_the_top(dists):
    with tarfile.open(dists["sdist"]) as archive:
        names = set(archive.getnames())
    top = f"wmbench-{__version__}"
    expected = {f"{top}/models/{name}" for name in SPECS}
    expected |= {f"{top}/models/checkpoints/{path.name}" for path in CHECKPOINTS}
    expected |= {f"{top}/suites/{name}" for name in SUITES}
    expected |= {f"{top}/tests/conftest.py", f"{top}/setup.py", f"{top}/MANIFEST.in"}
    assert expected - names == set()


def test_the_wheel_carries_them_in_the_package(dists):
    with zipfile.ZipFile(dists["wheel"]) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    data = "wmbench/_shipped"
    assert {f"{data}/models/{name}" for name in SPECS} - set(sizes) == set()
    assert {f"{data}/suites/{name}" for name in SUITES} - set(sizes) == set()
    for path in CHECKPOINTS:
        assert sizes[f"{data}/models/checkpoints/{path.name}"] == path.stat().st_size
    assert [name for name in sizes if name.startswith(("models/", "suites/"))] == []
    assert "wmbench/cli/suites.py" in sizes and "wmbench/models/shipped.py" in sizes


def test_an_installed_copy_finds_its_files_from_any_folder(dists, tmp_path):
    """The wheel unpacked (what pip installs) and imported from a folder outside the checkout."""
    site = tmp_path / "site"
    with zipfile.ZipFile(dists["wheel"]) as archive:
        archive.extractall(site)
    probe = (
        "import json; from wmbench.models import zoo_dir, list_models;"
        "from wmbench.suites import load_suite;"
        "loaded = load_suite('paper-mnist');"
        "print(json.dumps({'zoo': str(zoo_dir()), 'models': list_models(),"
        " 'suite': str(loaded.source),"
        " 'checkpoints': [str(m.path.resolve()) for m in loaded.models.values()]}))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("WMBENCH_ZOO", None)
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=work, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    data = site / "wmbench" / "_shipped"
    assert found["zoo"] == str(data / "models")
    assert found["models"] == sorted(name.removesuffix(".yaml") for name in SPECS)
    assert found["suite"] == str(data / "suites" / "paper-mnist.yaml")
    assert found["checkpoints"] == [
        str(data / "models" / "checkpoints" / p.name) for p in CHECKPOINTS
    ]

    listed = subprocess.run(
        [sys.executable, "-m", "wmbench", "suites", "--json"],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["paper-mnist"]["checkpoints_present"] is True
    assert rows["paper-mnist"]["file"] == found["suite"]


def test_zoo_dir_order_env_then_checkout_then_package(monkeypatch, tmp_path):
    monkeypatch.setenv("WMBENCH_ZOO", str(tmp_path))
    assert zoo_dir() == tmp_path
    monkeypatch.delenv("WMBENCH_ZOO")
    assert zoo_dir() == ROOT / "models"
    monkeypatch.setattr(shipped, "checkout_root", lambda: None)
    assert zoo_dir() == shipped.packaged_root() / "models"
    assert shipped.packaged_root() == ROOT / "wmbench" / "_shipped"  # absent in a checkout


def test_suites_json_lists_the_examples(capsys):
    assert run(["suites", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert sorted(rows) == sorted(name.removesuffix(".yaml") for name in SUITES)
    paper = rows["paper-mnist"]
    assert paper["file"] == str(ROOT / "suites" / "paper-mnist.yaml")
    assert paper["models"] == ["cnn-33", "wm-smooth-32", "wm-unsharp-32"]
    assert paper["perturbations"] == ["clean", "uniform", "fgsm"]
    assert paper["description"].startswith("The protocol of Amer & Maul §4.3")
    assert paper["checkpoints_present"] is True and paper["limit"] is None
    assert rows["quick"]["suite"] == "quick-mnist"
    assert rows["quick"]["description"].startswith("A quick look at robustness")


def test_suites_table(capsys):
    assert run(["suites"]) == 0
    out = capsys.readouterr().out
    assert "paper-mnist" in out and "wm-smooth-32" in out


def test_a_bare_name_resolves_to_the_example_unless_a_file_has_it(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    example = ROOT / "suites" / "paper-mnist.yaml"
    assert resolve_suite_path("paper-mnist") == example
    assert resolve_suite_path("paper-mnist.yaml") == example
    assert resolve_suite_path("suites/paper-mnist.yaml") == Path("suites/paper-mnist.yaml")
    assert resolve_suite_path("quick-mnist") == Path("quick-mnist")  # a suite's name, not a file's
    assert resolve_suite_argument(Path("paper-mnist")) == example
    assert "paper-mnist: no such file here" in capsys.readouterr().err
    loaded = load_suite("paper-mnist")
    assert [m.path.resolve() for m in loaded.models.values()] == CHECKPOINTS
    Path("paper-mnist.yaml").write_text("name: mine\nmodels: {a: a.safetensors}\n")
    assert resolve_suite_path("paper-mnist.yaml") == Path("paper-mnist.yaml")


@pytest.mark.parametrize("name", ["no-such-suite", "quick-mnist", "suites/paper-mnist.yaml"])
def test_attack_without_file_or_example_keeps_no_such_file(
    name, monkeypatch, tmp_path, capsys, one_error_line
):
    monkeypatch.chdir(tmp_path)
    assert run(["attack", name]) == 2
    assert one_error_line() == f"error: {name}: no such file"


def test_attack_runs_an_example_by_name(monkeypatch, tmp_path):
    """A small example tree in place of the shipped one: `attack tiny` runs its suite file."""
    tree = tmp_path / "tree"
    (tree / "models" / "checkpoints").mkdir(parents=True)
    (tree / "suites").mkdir()
    (tree / "pyproject.toml").write_text("")
    checkpoint = tree / "models" / "checkpoints" / "cnn-33.safetensors"
    shutil.copy(ROOT / "models" / "checkpoints" / "cnn-33.safetensors", checkpoint)
    (tree / "suites" / "tiny.yaml").write_text(
        "name: tiny\ndataset: {limit: 20}\nbatch_size: 10\ndevice: cpu\n"
        "models: {cnn: ../models/checkpoints/cnn-33.safetensors}\n"
        "perturbations: [{kind: clean}, {kind: fgsm, eps: 0.1}]\n"
    )
    monkeypatch.setattr(shipped, "checkout_root", lambda: tree)
    data = write_mnist_dir(tmp_path / "data", fake_mnist(n_test=20))
    monkeypatch.chdir(tmp_path)
    assert run(["attack", "tiny", "--data-dir", str(data), "--json", "out.json"]) == 0
    document = json.loads(Path("out.json").read_text())
    assert Path(document["checkpoints"]["cnn"]["path"]).resolve() == checkpoint
    assert Path(document["suite"]["path"]) == tree / "suites" / "tiny.yaml"
    assert len(document["results"]) == 2


def test_init_writes_a_suite_and_a_workflow_that_validate(tmp_path, capsys, one_error_line):
    assert run(["init", str(tmp_path)]) == 0
    suite_file = tmp_path / "robustness.yaml"
    suite = parse_suite(read_yaml(suite_file), suite_file)
    assert suite.models == {"mine": "checkpoints/model.safetensors"}
    assert [entry.kind for entry in suite.perturbations] == ["clean", "uniform", "fgsm", "pgd"]
    assert any(isinstance(gate, MaxErrorGate) for gate in suite.gates)
    # the factory entry, uncommented, is a valid one too
    text = suite_file.read_text()
    factory = "\n".join(
        line.replace("  # ", "  ", 1) if line.startswith("  #   ") or "# theirs:" in line else line
        for line in text.splitlines()
    )
    entry = parse_suite(yaml.safe_load(factory), suite_file).models["theirs"]
    assert isinstance(entry, FactoryModelEntry) and entry.num_classes == 10

    workflow = yaml.safe_load((tmp_path / ".github" / "workflows" / "robustness.yml").read_text())
    steps = workflow["jobs"]["robustness"]["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    assert uses[:2] == ["actions/checkout", "actions/setup-python"]
    assert "actions/upload-artifact" in uses
    runs = "\n".join(step.get("run", "") for step in steps)
    assert runs.index("torch==") < runs.index(f"wmbench=={__version__}")
    assert "-c " in runs and "download.pytorch.org/whl/cpu" in runs
    attack = "wmbench attack robustness.yaml --json robustness.json --junit robustness.xml"
    assert attack in runs and "--baseline robustness-baseline.json" in runs
    assert set(workflow.get("on", workflow.get(True))) == {"push", "pull_request"}
    capsys.readouterr()

    suite_file.write_text("# mine\n")
    assert run(["init", str(tmp_path)]) == 2
    assert one_error_line() == f"error: {suite_file}: exists; give --force to overwrite it"
    assert suite_file.read_text() == "# mine\n"
    assert run(["init", str(tmp_path), "--force"]) == 0
    assert suite_file.read_text() == text


def test_init_refuses_before_writing_anything(tmp_path, capsys, one_error_line):
    workflow = tmp_path / ".github" / "workflows" / "robustness.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("name: theirs\n")
    assert run(["init", str(tmp_path)]) == 2
    assert str(workflow) in one_error_line()
    assert not (tmp_path / "robustness.yaml").exists()
    assert workflow.read_text() == "name: theirs\n"
