"""Checkpoints: safetensors only, self-describing, refused clearly when they are anything else."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from wmbench import create_model, load_model
from wmbench.checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from wmbench.errors import CheckpointError, ModelError
from wmbench.models import state_shapes

SHIPPED = sorted(
    (Path(__file__).resolve().parents[1] / "models" / "checkpoints").glob("*.safetensors")
)


def _metadata(spec: dict) -> dict[str, str]:
    return {"wmbench.format": "1", "wmbench.spec": json.dumps(spec)}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = create_model("cnn-33-bn")
    with torch.no_grad():  # make the BatchNorm buffers differ from their defaults
        model.train()(torch.rand(8, 1, 28, 28))
    path = save_checkpoint(
        tmp_path / "m.safetensors", model, train={"seed": 3}, metrics={"test_error": 0.012}
    )
    return model.eval(), path


def test_round_trip_restores_weights_buffers_and_metadata(saved):
    model, path = saved
    loaded, info = load_checkpoint(path)
    assert not loaded.training
    assert info.spec.name == "cnn-33-bn"
    assert info.meta["train"] == {"seed": 3} and info.meta["metrics"]["test_error"] == 0.012
    for (name, a), (_, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model(x), loaded(x))
    assert len(info.sha256) == 64


def test_wm_weights_round_trip(tmp_path):
    torch.manual_seed(1)
    model = create_model("wm-unsharp-32").eval()
    path = save_checkpoint(tmp_path / "wm.safetensors", model)
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(load_model(path)(x), model(x))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.safetensors: no such file"):
        load_model(tmp_path / "nope.safetensors")


def test_pickle_is_refused_without_being_unpickled(tmp_path):
    path = tmp_path / "evil.pt"
    marker = tmp_path / "ran"
    path.write_bytes(pickle.dumps({"w": 1}, protocol=2))
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(path)
    torch.save({"w": torch.zeros(1)}, tmp_path / "zip.pt")
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(tmp_path / "zip.pt")
    assert not marker.exists()


def test_garbage_and_truncated_files(tmp_path, saved):
    _, good = saved
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_model(junk)
    truncated = tmp_path / "short.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="short.safetensors: corrupt"):
        load_model(truncated)
    with pytest.raises(CheckpointError, match="too short"):
        (tmp_path / "tiny.safetensors").write_bytes(b"\x01")
        load_model(tmp_path / "tiny.safetensors")


def test_safetensors_without_our_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="without wmbench metadata"):
        read_checkpoint_info(path)


def test_spec_that_does_not_match_the_weights(tmp_path):
    model = create_model("cnn-33")
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    spec = create_model("cnn-wide").spec.model_dump()
    path = tmp_path / "mismatch.safetensors"
    save_file(tensors, str(path), metadata=_metadata(spec))
    with pytest.raises(CheckpointError, match="do not match the spec of 'cnn-wide'"):
        load_model(path)


def test_embedded_spec_for_another_input_size(tmp_path):
    model = create_model("wm-smooth-32")
    spec = model.spec.model_dump()
    spec["input"]["size"] = 32
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    path = tmp_path / "size.safetensors"
    save_file(tensors, str(path), metadata=_metadata(spec))
    with pytest.raises(CheckpointError, match="has shape"):
        load_model(path)


def test_bad_header_length(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(CheckpointError, match="bad header"):
        load_model(path)


def test_save_replaces_only_when_complete(tmp_path, monkeypatch):
    model = create_model("cnn-33")
    path = save_checkpoint(tmp_path / "keep.safetensors", model)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("wmbench.checkpoint.save_file", explode)
    with pytest.raises(RuntimeError):
        save_checkpoint(path, create_model("cnn-33"))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def test_header_length_starting_with_the_pickle_byte_still_loads(tmp_path):
    """The header length is little-endian: its first byte may be 0x80, like a pickle's."""
    model = create_model("cnn-33")
    path = tmp_path / "x.safetensors"
    for padding in range(0, 4096, 8):
        save_checkpoint(path, model, note="x" * padding)
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no padding gave a header length whose first byte is 0x80")
    assert load_checkpoint(path)[1].meta["note"].startswith("x")


def _data_size(path: Path) -> int:
    """Bytes after the header, from the header length in the file's first 8 bytes."""
    (header,) = struct.unpack("<Q", path.read_bytes()[:8])
    return path.stat().st_size - 8 - header


@pytest.mark.parametrize(("cut", "extra"), [(1, 0), (0, 1)])
def test_one_byte_short_or_long_is_refused_with_the_sizes(tmp_path, saved, cut, extra):
    """safetensors itself refuses both ("file not fully covered"); the message says which."""
    _, good = saved
    need = _data_size(good)
    path = tmp_path / "odd.safetensors"
    data = good.read_bytes()
    path.write_bytes(data[: len(data) - cut] + b"\0" * extra)
    if cut:
        message = (
            f"odd.safetensors: corrupt safetensors data: truncated (its tensors need {need:,} "
            f"bytes after the header, the file has {need - 1:,})"
        )
    else:
        message = "odd.safetensors: corrupt safetensors data: 1 bytes after the last tensor"
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint_info(path)
    assert str(caught.value).endswith(message)


def test_a_header_only_the_library_refuses_is_refused_by_info(tmp_path):
    """A dtype whose size does not fit the offsets: the hand-written checks did not look at it,
    safe_open does, so `wmbench info` no longer accepts a file that would not load."""
    model = create_model("cnn-33")
    path = tmp_path / "f16.safetensors"
    save_checkpoint(path, model)
    data = path.read_bytes()
    start = data.index(b'"F32"')
    path.write_bytes(data[:start] + b'"F16"' + data[start + 5 :])  # same header length
    with pytest.raises(CheckpointError, match="f16.safetensors: corrupt safetensors data: .*"):
        read_checkpoint_info(path)


def test_pickle_is_refused_before_safetensors_opens_it(tmp_path, monkeypatch):
    def opened(*args, **kwargs):
        raise AssertionError("safe_open was called")

    monkeypatch.setattr("wmbench.checkpoint.safe_open", opened)
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": 1}, protocol=4))
    with pytest.raises(CheckpointError, match="is a pickle / torch.save file, not safetensors"):
        read_checkpoint_info(path)


def test_a_model_without_a_spec_is_not_saved(tmp_path):
    with pytest.raises(ModelError, match="model has no spec; build it with wmbench.create_model"):
        save_checkpoint(tmp_path / "x.safetensors", nn.Linear(2, 2))
    model = create_model("cnn-33")
    model.spec = None
    with pytest.raises(ModelError, match="model has no spec"):
        save_checkpoint(tmp_path / "x.safetensors", model)
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_checkpoints_written_with_the_old_arg_name_still_load(path, tmp_path):
    """Checkpoints written when the CNN family's argument was ``layer`` (the 6-epoch ones shipped
    until issue 17) still load: the shipped checkpoint's header rewritten with the old name."""
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
    spec = json.loads(metadata["wmbench.spec"])
    spec["args"] = {("layer" if k == "layers" else k): v for k, v in spec["args"].items()}
    metadata["wmbench.spec"] = json.dumps(spec)
    old = tmp_path / path.name
    save_file(load_file(str(path)), str(old), metadata=metadata)
    model, info = load_checkpoint(old)
    assert "layer" in info.spec.args and "layers" not in info.spec.args
    assert info.spec.name == path.stem
    zoo = create_model(path.stem)
    assert state_shapes(info.spec) == state_shapes(zoo.spec)
    weights = load_file(str(path))
    assert set(weights) == set(model.state_dict())
    assert all(torch.equal(weights[name], model.state_dict()[name]) for name in weights)
