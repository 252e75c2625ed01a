"""`wmbench attack` end to end on data and checkpoints the tests make: exit codes 0/1/2, the
JSON and JUnit files, the baseline comparison, and one-line errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import torch
import yaml
from mnist_files import learnable_mnist, write_mnist_dir

from wmbench.checkpoint import save_checkpoint
from wmbench.cli import run
from wmbench.models import get_spec
from wmbench.train import TrainConfig, prepare_data, train_model

pytestmark = pytest.mark.heavy(seconds=35)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, synthetic_mnist):
    """IDX data of a learnable task, and two briefly trained checkpoints."""
    root = tmp_path_factory.mktemp("attack")
    data_dir = write_mnist_dir(root / "data", learnable_mnist(400, 120))
    mnist = synthetic_mnist(400, 120)
    config = TrainConfig(epochs=1, batch_size=40, device="cpu")
    data = prepare_data(mnist, config, torch.device("cpu"))
    for name in ("cnn-33", "wm-smooth-32"):
        result = train_model(get_spec(name), data, config)
        save_checkpoint(root / "runs" / f"{name}.safetensors", result.model)
    return root, data_dir


def suite_file(root, **overrides):
    document = {
        "name": "cli",
        "dataset": {"name": "mnist", "split": "test", "limit": 100},
        "batch_size": 50,
        "device": "cpu",
        "models": {"cnn": "runs/cnn-33.safetensors", "wm": "runs/wm-smooth-32.safetensors"},
        "perturbations": [
            {"kind": "clean"},
            {"kind": "uniform", "upper": [0.5, 1.0]},
            {"kind": "fgsm", "eps": [0.05, 0.1]},
        ],
    }
    document.update(overrides)
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def attack(capsys, *args):
    code = run(["attack", *map(str, args)])
    return code, capsys.readouterr()


def test_passing_gates_exit_0_and_write_json_and_junit(workspace, capsys):
    root, data_dir = workspace
    gates = [
        {"model": "wm", "perturbation": "clean", "max_error": 1.0},
        {"model": "cnn", "perturbation": "fgsm", "eps": 0.05, "max_error": 1.0},
    ]
    suite = suite_file(root, gates=gates)
    code, out = attack(
        capsys, suite, "--data-dir", data_dir, "--json", root / "r.json", "--junit", root / "r.xml"
    )
    assert code == 0, out.err
    assert "fgsm" in out.out and "eps=0.05" in out.out and "★" in out.out
    document = json.loads((root / "r.json").read_text())
    assert document["format"] == "wmbench.results" and document["version"] == 1
    assert document["passed"] is True and len(document["gates"]) == 2
    assert len(document["results"]) == 2 * 5
    row = next(r for r in document["results"] if r["model"] == "wm" and r.get("eps") == 0.1)
    assert row["n"] == 100 and row["error"] == row["wrong"] / 100 and row["activation_mse"] > 0
    assert set(document["checkpoints"]) == {"cnn", "wm"}
    assert len(document["checkpoints"]["wm"]["sha256"]) == 64
    suite_xml = ET.fromstring((root / "r.xml").read_text())
    assert suite_xml.get("tests") == "2" and suite_xml.get("failures") == "0"


def test_failing_gate_exit_1_lists_it(workspace, capsys):
    root, data_dir = workspace
    suite = suite_file(
        root, gates=[{"model": "wm", "perturbation": "uniform", "upper": 1.0, "max_error": 0.0}]
    )
    code, out = attack(capsys, suite, "--data-dir", data_dir, "--junit", root / "f.xml")
    assert code == 1
    assert "FAILED wm uniform upper=1.0: error <= 0" in out.err
    failure = ET.fromstring((root / "f.xml").read_text()).find("testcase/failure")
    assert failure is not None and "over by" in failure.get("message")


def test_json_to_stdout_stays_parseable(workspace, capsys):
    root, data_dir = workspace
    code, out = attack(capsys, suite_file(root), "--data-dir", data_dir, "--json", "-")
    assert code == 0
    assert json.loads(out.out)["suite"]["name"] == "cli"
    assert "clean" in out.err  # the tables moved to stderr


def test_baseline_regression_and_tolerance(workspace, capsys):
    root, data_dir = workspace
    suite = suite_file(root)
    assert attack(capsys, suite, "--data-dir", data_dir, "--json", root / "base.json")[0] == 0
    baseline = json.loads((root / "base.json").read_text())
    for row in baseline["results"]:  # pretend the old run was 5 points better everywhere
        row["wrong"] = max(row["wrong"] - 5, 0)
        row["error"] = row["wrong"] / row["n"]
    (root / "better.json").write_text(json.dumps(baseline))
    code, out = attack(capsys, suite, "--data-dir", data_dir, "--baseline", root / "better.json")
    assert code == 1 and "regression:" in out.err
    code, _ = attack(
        capsys,
        suite,
        "--data-dir",
        data_dir,
        "--baseline",
        root / "better.json",
        "--tolerance",
        "0.06",
    )
    assert code == 0


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda root: suite_file(root, perturbations=[{"kind": "fgsm", "eps": "x"}]),
            "perturbations[0].eps[0]",
        ),
        (
            lambda root: suite_file(root, models={"cnn": "runs/none.safetensors"}),
            "none.safetensors",
        ),
        (
            lambda root: suite_file(
                root, perturbations=[{"kind": "torchattacks", "attack": "Nope"}]
            ),
            "'Nope' is not an attack of torchattacks",
        ),
        (lambda root: root / "missing.yaml", "missing.yaml: no such file"),
    ],
)
def test_bad_input_exit_2_one_line(workspace, capsys, mutate, expected):
    root, data_dir = workspace
    code, out = attack(capsys, mutate(root), "--data-dir", data_dir)
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and expected in lines[0], out.err
    assert "Traceback" not in out.err


def test_bad_baseline_file_exit_2(workspace, capsys):
    root, data_dir = workspace
    (root / "junk.json").write_text("{not json")
    code, out = attack(
        capsys, suite_file(root), "--data-dir", data_dir, "--baseline", root / "junk.json"
    )
    assert code == 2 and "junk.json" in out.err


def test_baseline_from_other_checkpoints_is_compared_and_listed(workspace, capsys):
    """New weights against old numbers is the normal case in CI: compared, and the changed
    checkpoint named in the tables and the JSON; --same-checkpoints refuses it (exit 2)."""
    root, data_dir = workspace
    suite = suite_file(root)
    assert attack(capsys, suite, "--data-dir", data_dir, "--json", root / "b0.json")[0] == 0
    baseline = json.loads((root / "b0.json").read_text())
    new_sha = baseline["checkpoints"]["wm"]["sha256"]
    baseline["checkpoints"]["wm"]["sha256"] = "0" * 64
    (root / "other.json").write_text(json.dumps(baseline))
    args = [suite, "--data-dir", data_dir, "--baseline", root / "other.json"]
    code, out = attack(capsys, *args, "--json", root / "vs-other.json")
    assert code == 0, out.err
    assert "checkpoints changed since the baseline" in out.out
    assert "000000000000…" in out.out and new_sha[:12] + "…" in out.out
    document = json.loads((root / "vs-other.json").read_text())
    assert document["baseline"] == {
        "path": str(root / "other.json"),
        "checkpoints_changed": [{"model": "wm", "old_sha256": "0" * 64, "new_sha256": new_sha}],
    }
    assert all(v["passed"] for v in document["gates"] if v["kind"] == "regression")

    code, out = attack(capsys, *args, "--same-checkpoints")
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, out.err
    assert "other.json" in lines[0] and "model 'wm' ran on another checkpoint" in lines[0]
    assert "--same-checkpoints" in lines[0] and "--allow-different-checkpoints" not in lines[0]

    code, out = attack(capsys, *args, "--allow-different-checkpoints")  # deprecated, a no-op
    assert code == 0 and "deprecated" in out.err


def test_same_baseline_records_no_changed_checkpoint(workspace, capsys):
    root, data_dir = workspace
    suite = suite_file(root)
    assert attack(capsys, suite, "--data-dir", data_dir, "--json", root / "same.json")[0] == 0
    code, out = attack(
        capsys, suite, "--data-dir", data_dir, "--baseline", root / "same.json",
        "--same-checkpoints", "--json", "-",
    )  # fmt: skip
    assert code == 0, out.err
    assert json.loads(out.out)["baseline"]["checkpoints_changed"] == []
    assert "checkpoints changed" not in out.err


def test_markdown_summary_end_to_end(workspace, capsys):
    root, data_dir = workspace
    gates = [{"model": "wm", "perturbation": "uniform", "upper": 1.0, "max_error": 0.0}]
    suite = suite_file(root, gates=gates)
    code, out = attack(
        capsys, suite, "--data-dir", data_dir, "--json", root / "md.json",
        "--markdown", root / "summary.md",
    )  # fmt: skip
    assert code == 1
    text = (root / "summary.md").read_text(encoding="utf-8")
    document = json.loads((root / "md.json").read_text())
    (verdict,) = document["gates"]
    assert text.startswith("## wmbench: cli\n\n❌ 1 gate: 0 passed, 1 failed\n")
    assert [line for line in text.splitlines() if line.startswith("### ")] == [
        "### clean", "### uniform", "### fgsm", "### Gates",
    ]  # fmt: skip
    assert "| model | upper=0.5 | upper=1.0 |" in text and "| model | eps=0.05 | eps=0.1 |" in text
    row = next(r for r in document["results"] if r["model"] == "wm" and r.get("eps") == 0.1)
    low, high = row["error_ci95"]
    error = f"{100 * row['error']:.2f}%"
    assert f"{error} (" in text or f"{error} ★ (" in text
    assert f"({100 * low:.1f}–{100 * high:.1f})" in text
    assert f"| ❌ | {verdict['name']} | {verdict['detail']} |" in text
    # '-' writes the same text to stdout, and the tables move to stderr
    code, out = attack(capsys, suite, "--data-dir", data_dir, "--markdown", "-")
    assert code == 1 and out.out == text and "clean" in out.err
    code, out = attack(capsys, suite, "--data-dir", data_dir, "--markdown", "-", "--json", "-")
    assert code == 2 and "cannot both write to stdout" in out.err


def test_results_carry_intervals_and_warnings(workspace, capsys):
    root, data_dir = workspace
    code, out = attack(capsys, suite_file(root), "--data-dir", data_dir, "--json", "-")
    document = json.loads(out.out)
    assert isinstance(document["warnings"], list)
    for row in document["results"]:
        low, high = row["error_ci95"]
        assert low <= row["error"] <= high


def test_interrupted_suite_resumes_with_the_same_numbers(workspace, capsys):
    """Ctrl-C after the first model: its cells are kept; --resume measures only the second,
    and the results equal an uninterrupted run's."""
    import signal
    import subprocess
    import sys
    import time

    root, data_dir = workspace
    perturbations = [
        {"kind": "clean"},
        {"kind": "fgsm", "eps": [0.05, 0.1]},
        {"kind": "pgd", "eps": 0.1, "alpha": 0.01, "steps": 40},
    ]
    suite = suite_file(root, perturbations=perturbations, dataset={"name": "mnist", "limit": 120})
    assert attack(capsys, suite, "--data-dir", data_dir, "--json", root / "whole.json")[0] == 0
    out = root / "cut.json"
    partial = root / "cut.json.partial.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wmbench",
            "attack",
            str(suite),
            "--data-dir",
            str(data_dir),
            "--json",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A shell without job control starts background jobs with SIGINT ignored, and children
        # inherit that; Python then installs no KeyboardInterrupt handler. Give the child the
        # default disposition a user's terminal gives it, however this test run was launched.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted: 1 of 2 models kept" in err and "Traceback" not in err
    assert not out.exists()
    code, output = attack(capsys, suite, "--data-dir", data_dir, "--json", out, "--resume")
    assert code == 0 and "resuming: 1 of 2 models" in output.err
    assert not partial.exists()
    whole = json.loads((root / "whole.json").read_text())["results"]
    resumed = json.loads(out.read_text())["results"]
    assert resumed == whole


def test_model_option_measures_a_subset_with_the_same_numbers(workspace, capsys):
    """--model keeps the matching models (labels or patterns); their rows equal the whole run's,
    and a pattern matching nothing, or a gate or corruption baseline naming a model left out, is
    one line and exit 2."""
    root, data_dir = workspace
    suite = suite_file(root, models={
        "cnn-s0": "runs/cnn-33.safetensors", "wm-s0": "runs/wm-smooth-32.safetensors",
        "wm-s1": "runs/wm-smooth-32.safetensors",
    })  # fmt: skip
    assert attack(capsys, suite, "--data-dir", data_dir, "--json", root / "all.json")[0] == 0
    whole = json.loads((root / "all.json").read_text())["results"]
    code, out = attack(
        capsys, suite, "--data-dir", data_dir, "--model", "*-s0", "--json", root / "s0.json"
    )
    assert code == 0, out.err
    document = json.loads((root / "s0.json").read_text())
    assert set(document["checkpoints"]) == {"cnn-s0", "wm-s0"}
    assert document["results"] == [row for row in whole if row["model"].endswith("-s0")]
    code, out = attack(capsys, suite, "--data-dir", data_dir, "--model", "wm-s1", "--json", "-")
    assert code == 0 and {row["model"] for row in json.loads(out.out)["results"]} == {"wm-s1"}

    code, out = attack(capsys, suite, "--data-dir", data_dir, "--model", "resnet*")
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, out.err
    assert "suite.yaml" in lines[0] and "--model 'resnet*' matches no model" in lines[0]
    gated = suite_file(root, gates=[{"better": "wm", "than": "cnn", "perturbation": "clean"}])
    code, out = attack(capsys, gated, "--data-dir", data_dir, "--model", "wm")
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, out.err
    assert "gates[0] needs model 'cnn', which --model leaves out" in lines[0]
    corrupted = suite_file(root, perturbations=[
        {"kind": "corruption", "name": "mnist-c", "corruption": "fog", "baseline": "cnn"},
    ])  # fmt: skip
    code, out = attack(capsys, corrupted, "--data-dir", data_dir, "--model", "wm")
    assert code == 2 and "perturbations[0].baseline needs model 'cnn'" in out.err
