"""`wmbench reproduce --paper lsa`: LSA's MNIST table, its R&G scores and claims, and a whole
(tiny) reproduction whose report numbers are checked against torchattacks on its checkpoints."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torchattacks
from mnist_files import write_mnist_head

from wmbench.checkpoint import load_checkpoint, read_checkpoint_info
from wmbench.cli import run
from wmbench.data import load_mnist, to_float
from wmbench.paper.lsa import LSA_EPS, LSA_RG, LSA_TABLE, AccuracyRow, lsa_claims
from wmbench.reproduce import LSA_BUDGETS, TrainJob
from wmbench.results import ResultsDocument

TINY_IMAGES = 120


def _row(job: str, values: tuple[float, ...]) -> AccuracyRow:
    return AccuracyRow(job, values, LSA_TABLE[job], sum(values), LSA_RG[job])


def test_published_rg_scores_are_the_sums_of_the_published_rows():
    for job, row in LSA_TABLE.items():
        assert len(row) == len(LSA_EPS)
        assert sum(row) == pytest.approx(LSA_RG[job], abs=0.011), job


def test_lsa_own_numbers_bear_out_every_claim():
    rows = [_row(job, values) for job, values in LSA_TABLE.items()]
    claims = lsa_claims(rows)
    assert len(claims) == 5
    assert [claim.held for claim in claims] == [True] * 5
    assert claims[1].values == {"accuracy": 96.97}
    assert "+22.88 points" in claims[2].text


def test_claims_fail_when_the_numbers_say_so_and_are_unmeasured_without_them():
    swapped = [
        _row("normal", (99.0, 90.0, 70.0, 45.0, 20.0, 10.0)),  # too robust for normal training
        _row("at", LSA_TABLE["at-lr"]),
        _row("at-lr", LSA_TABLE["at"]),
    ]
    held = [claim.held for claim in lsa_claims(swapped)]
    assert held == [False, True, False, False, False]
    only_normal = lsa_claims([_row("normal", LSA_TABLE["normal"])])
    assert [claim.held for claim in only_normal] == [True, None, None, None, None]
    partial = AccuracyRow("at", (99.0, None, None, 95.0, None, None), LSA_TABLE["at"], None, 0)
    claims = lsa_claims([partial, _row("at-lr", LSA_TABLE["at-lr"])])
    assert claims[1].held is True and claims[2].held is None and claims[4].held is None


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A reproduction on 300 training images, 1 epoch, attacks on 120 test images (of a copy of
    MNIST's first 3,000 training and 120 test images: validation on 300)."""
    quick = LSA_BUDGETS["quick"]
    jobs = tuple(dataclasses.replace(job, limit_train=300) for job in quick.jobs)
    tiny = dataclasses.replace(quick, name="tiny", jobs=jobs, suite_limit=TINY_IMAGES, pgd_steps=2)
    out = tmp_path_factory.mktemp("lsa")
    data = write_mnist_head(tmp_path_factory.mktemp("lsa-mnist"), 3000, TINY_IMAGES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(LSA_BUDGETS, "tiny", tiny)
        argv = ["reproduce", "--paper", "lsa", "--budget", "tiny", "--out", str(out)]
        assert run([*argv, "--data-dir", str(data), "--device", "cpu"]) == 0
    return out, jobs


@pytest.mark.integration
def test_checkpoints_record_how_each_model_was_trained(tiny_run):
    out, jobs = tiny_run
    assert [job.name for job in jobs] == ["normal", "at", "at-lr"]
    settings = {
        job.name: read_checkpoint_info(out / "checkpoints" / f"{job.name}-s0.safetensors").meta
        for job in jobs
    }
    assert settings["normal"]["train"]["adversarial"] is None
    assert settings["at"]["train"]["adversarial"]["method"] == "fgsm-rs"
    assert settings["at"]["train"]["adversarial"]["lr_gamma"] == 0.0
    at_lr = settings["at-lr"]["train"]["adversarial"]
    assert at_lr["lr_gamma"] == 1.0 and at_lr["lr_layers"] == ["body.conv1"]
    assert {meta["train"]["limit_train"] for meta in settings.values()} == {300}


@pytest.mark.integration
def test_report_fgsm_accuracies_equal_torchattacks_on_the_checkpoints(tiny_run):
    out, _ = tiny_run
    report = (out / "report.md").read_text()
    document = ResultsDocument.read(out / "results.json")
    mnist = load_mnist()
    images = to_float(mnist.test_images[:TINY_IMAGES])
    labels = mnist.test_labels[:TINY_IMAGES].long()
    for job in ("normal", "at", "at-lr"):
        model, _ = load_checkpoint(out / "checkpoints" / f"{job}-s0.safetensors")
        accuracies = []
        for eps in LSA_EPS:
            adversarial = torchattacks.FGSM(model, eps=eps)(images, labels) if eps else images
            with torch.no_grad():
                right = (model(adversarial).argmax(1) == labels).sum().item()
            accuracies.append(100 * right / TINY_IMAGES)
        line = " | ".join(f"{value:.2f}" for value in accuracies)
        assert f"| ours | {line} | {sum(accuracies):.2f} |" in report, job
        pgd = next(row for row in document.rows_of("pgd") if row.model == job)
        assert pgd.params == {"eps": 0.3, "alpha": 0.03, "steps": 2, "random_start": True}
    assert "## Claims of LSA" in report and report.count("| | LSA |") == 3
    # The per-layer table lists model B's five monitored layers for every model.
    assert "| model | body.conv1 | body.conv2 | body.conv3 | head.fc1 | head.fc2 |" in report


@pytest.mark.integration
def test_a_second_run_trains_nothing(tiny_run, capsys):
    out, jobs = tiny_run
    before = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()}
    tiny = dataclasses.replace(LSA_BUDGETS["quick"], name="tiny", jobs=jobs, suite_limit=20)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(LSA_BUDGETS, "tiny", tiny)
        argv = ["reproduce", "--paper", "lsa", "--budget", "tiny", "--out", str(out)]
        capsys.readouterr()
        assert run([*argv, "--device", "cpu"]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()}
    assert before == after
    err = capsys.readouterr().err
    assert "training" not in err and "report written" in err


def test_every_budget_trains_normal_at_and_at_lr_model_b():
    for budget in LSA_BUDGETS.values():
        assert [job.name for job in budget.jobs] == ["normal", "at", "at-lr"]
        assert {job.model for job in budget.jobs} == {"lsa-b"}
        normal, at, at_lr = budget.jobs
        assert normal.adversarial is None and isinstance(at, TrainJob)
        assert at.adversarial.eps == at_lr.adversarial.eps == 0.3
        assert at_lr.adversarial.method == at.adversarial.method
        assert at_lr.adversarial.lr_layers == ["body.conv1"] and not at.adversarial.lr_layers


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--paper", "nope"], "unknown paper 'nope' (choose wm, lsa)"),
        (["--paper", "lsa", "--budget", "huge"], "unknown budget 'huge' for --paper lsa"),
    ],
)
def test_unknown_paper_or_budget_is_bad_input(argv, message, one_error_line, tmp_path):
    assert run(["reproduce", *argv, "--out", str(tmp_path / "out")]) == 2
    assert message in one_error_line()
    assert not (tmp_path / "out").exists()
