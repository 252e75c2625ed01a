"""scripts/verdict-train and scripts/recipe-train, with `echo` standing in for wmbench: the
commands they run (the protocol's options, where each checkpoint goes) and --resume exactly where
a run left a resume file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(script: str, runs: Path, **env: str) -> list[str]:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / script)],
        env={**os.environ, "WMBENCH": "echo", "RUNS": str(runs), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_recipe_train_anneals_over_30_epochs_and_resumes_what_was_started(tmp_path):
    (tmp_path / "wm-smooth-32-cosine-s1.resume.safetensors").touch()
    lines = _commands("recipe-train", tmp_path, SEEDS="1", MODELS="cnn-33 wm-smooth-32")
    assert lines == [
        f"train cnn-33 --seed 1 --epochs 30 --lr-schedule cosine --skip-existing "
        f"-o {tmp_path}/cnn-33-cosine-s1.safetensors",
        f"train wm-smooth-32 --seed 1 --epochs 30 --lr-schedule cosine --skip-existing --resume "
        f"-o {tmp_path}/wm-smooth-32-cosine-s1.safetensors",
    ]
    everything = _commands("recipe-train", tmp_path)
    assert [line.split()[1:4:2] for line in everything] == [
        [model, str(seed)]
        for seed in range(3)
        for model in ("cnn-33", "wm-unsharp-32", "wm-smooth-32")
    ]


def test_verdict_train_keeps_the_papers_protocol(tmp_path):
    lines = _commands("verdict-train", tmp_path, SEEDS="2", MODELS="wm-unsharp-32")
    assert lines == [
        f"train wm-unsharp-32 --seed 2 --epochs 50 --patience 10 --skip-existing "
        f"-o {tmp_path}/wm-unsharp-32-s2.safetensors"
    ]
