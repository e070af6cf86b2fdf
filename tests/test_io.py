"""Atomic writes (dysen_core.io): a finished write replaces the file whole; a failed one leaves the old file alone."""

from __future__ import annotations

import stat

import pytest
import torch
from safetensors import safe_open

from dysen_core.io import atomic_file, write_safetensors_atomic


def test_safetensors_are_written_whole_readable_and_with_their_metadata(tmp_path):
    path = tmp_path / "sub" / "weights.safetensors"
    weight = torch.arange(6, dtype=torch.float32).view(2, 3).t()  # not contiguous: the writer makes it so
    write_safetensors_atomic(path, {"w": weight, "b": torch.ones(2, requires_grad=True)}, {"step": "7"})
    with safe_open(str(path), "pt") as handle:
        assert handle.metadata() == {"step": "7"}
        assert torch.equal(handle.get_tensor("w"), weight)
        assert torch.equal(handle.get_tensor("b"), torch.ones(2))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # an ordinary file, not mkstemp's private one
    assert [p.name for p in path.parent.iterdir()] == ["weights.safetensors"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(path, "w") as handle:
        handle.write("half of the new")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
