"""The generic backbone trainer on a tiny MLP: loss falls, resume is bit-identical, checkpoints are safetensors."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
import torch
from dysen_plugin_backbone_vdm.training import TrainSettings, learning_rate, train
from pydantic import ValidationError
from safetensors.torch import load_file

from dysen_core.errors import InputError


class MLP(torch.nn.Module):
    """A 2-layer regressor with dropout, so the global RNG matters."""

    def __init__(self, hidden: int = 16, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_dataset(n: int = 32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(123)
    x = torch.randn(n, 4, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return list(zip(x, y))


DATASET = make_dataset()


def collate(items):
    return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])


def loss_fn(model, batch, generator):
    """MSE on inputs jittered with the trainer's generator, so the generator matters too."""
    x, y = batch
    x = x + 0.05 * torch.randn(x.shape, generator=generator, device=x.device)
    return torch.nn.functional.mse_loss(model(x), y)


class Crash:
    """A loss_fn that raises on its ``at``-th call, like a killed job."""

    def __init__(self, at: int):
        self.calls, self.at = 0, at

    def __call__(self, model, batch, generator):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt("killed")
        return loss_fn(model, batch, generator)


def settings(**changes) -> TrainSettings:
    base = dict(
        steps=12, batch_size=4, grad_accum=2, lr=1e-2, warmup_steps=3, ema_decay=0.9, checkpoint_every=4, keep_checkpoints=2, log_every=3, seed=7
    )  # log windows straddle checkpoints
    return TrainSettings(**(base | changes))


def run(out_dir, steps=12, model=None, fn=loss_fn, **kwargs):
    return train(model or MLP(), fn, DATASET, collate, settings(steps=steps), out_dir, progress=False, **kwargs)


def checkpoint_tensors(folder) -> dict[str, dict[str, torch.Tensor]]:
    return {name: load_file(folder / name) for name in ("model.safetensors", "ema.safetensors", "optimizer.safetensors")}


def log_rows(out_dir) -> list[tuple[str, str, str, str]]:
    """log.csv without the timing columns, which differ between runs."""
    with (out_dir / "log.csv").open(newline="") as handle:
        return [(r["step"], r["loss"], r["lr"], r["grad_norm"]) for r in csv.DictReader(handle)]


def assert_same(got: dict[str, dict[str, torch.Tensor]], want: dict[str, dict[str, torch.Tensor]]) -> None:
    assert got.keys() == want.keys()
    for file in want:
        assert got[file].keys() == want[file].keys(), file
        for key in want[file]:
            assert torch.equal(got[file][key], want[file][key]), f"{file}:{key}"


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """Run A: 12 steps in one go."""
    out_dir = tmp_path_factory.mktemp("straight")
    result = run(out_dir, extra_state={"note": "run A"})
    return out_dir, result


def test_loss_falls(tmp_path):
    fast = TrainSettings(steps=60, batch_size=8, lr=3e-2, ema_decay=None, log_every=10, checkpoint_every=60)
    result = train(MLP(), loss_fn, DATASET, collate, fast, tmp_path, progress=False)
    first = float(log_rows(tmp_path)[0][1])
    assert result.window_loss < first / 5
    assert result.ema_state is None and result.steps == 60


def test_resume_after_stop_is_bit_identical(tmp_path, straight):
    out_a, result_a = straight
    run(tmp_path, steps=8)
    result = run(tmp_path, steps=12, model=MLP(seed=99))
    assert result.checkpoint.name == result_a.checkpoint.name == "step-0000012"
    assert_same(checkpoint_tensors(result.checkpoint), checkpoint_tensors(result_a.checkpoint))
    assert all(torch.equal(result.ema_state[k], result_a.ema_state[k]) for k in result_a.ema_state)
    assert result.final_loss == result_a.final_loss and result.window_loss == result_a.window_loss
    rows = log_rows(tmp_path)
    assert [row[0] for row in rows] == ["3", "6", "8", "9", "12"]  # 8 ended run B; 9 averages steps 7-9 over the resume
    assert [row for row in rows if row[0] != "8"] == log_rows(out_a)
    again = run(tmp_path, steps=12, model=MLP(seed=3))  # already done: loads and returns
    assert (again.final_loss, again.checkpoint) == (result.final_loss, result.checkpoint) and log_rows(tmp_path) == rows


def test_resume_after_kill_is_bit_identical(tmp_path, straight):
    out_a, result_a = straight
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, fn=Crash(at=13))  # first micro-batch of step 7: step 6 is logged, the checkpoint is step 4
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "step-0000004"
    assert [row[0] for row in log_rows(tmp_path)] == ["3", "6"]
    result = run(tmp_path, model=MLP(seed=5))
    assert_same(checkpoint_tensors(result.checkpoint), checkpoint_tensors(result_a.checkpoint))
    assert log_rows(tmp_path) == log_rows(out_a)  # step 6 written once, its window (4-6) whole


def test_checkpoint_files_are_safetensors_json_and_pruned(straight):
    out_a, _ = straight
    root = out_a / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step-0000008", "step-0000012"]
    assert (root / "latest").read_text().strip() == "step-0000012"
    files = sorted(p.name for p in (root / "step-0000012").iterdir())
    assert files == ["ema.safetensors", "model.safetensors", "optimizer.safetensors", "trainer.json"]
    for path in root.glob("step-*/*.safetensors"):
        assert path.read_bytes()[:2] not in (b"\x80\x04", b"PK")  # neither pickle nor torch.save's zip
    state = json.loads((root / "step-0000012" / "trainer.json").read_text())
    assert (state["step"], state["extra_state"], state["settings"]["grad_accum"]) == (12, {"note": "run A"}, 2)
    assert "params" not in state["param_groups"][0] and len(state["loss_tail"]) == 3
    assert set(load_file(root / "step-0000012" / "optimizer.safetensors")) >= {"state.0.exp_avg", "state.3.step"}


def test_truncated_checkpoint_is_an_input_error(tmp_path, straight):
    shutil.copytree(straight[0], tmp_path, dirs_exist_ok=True)
    model_file = tmp_path / "checkpoints" / "step-0000012" / "model.safetensors"
    model_file.write_bytes(model_file.read_bytes()[:-10])
    with pytest.raises(InputError, match=r"step-0000012.*model\.safetensors is missing, truncated or changed"):
        run(tmp_path)


def test_checkpoint_of_another_model_is_an_input_error(tmp_path, straight):
    shutil.copytree(straight[0], tmp_path, dirs_exist_ok=True)
    with pytest.raises(InputError, match=r"step-0000012.*does not match the model.*net\.0\.weight \(16, 4\) vs \(8, 4\)"):
        run(tmp_path, model=MLP(hidden=8))
    with pytest.raises(InputError, match="past steps=8"):
        run(tmp_path, steps=8)


def test_ema_follows_the_warm_up_decay(tmp_path):
    model = MLP()
    w0 = {k: v.clone() for k, v in model.named_parameters()}
    first = run(tmp_path, steps=1, model=model)
    w1 = {k: v.detach().clone() for k, v in model.named_parameters()}
    for k in w0:  # decay min(0.9, (1 + 0) / (10 + 0)) = 0.1
        assert torch.allclose(first.ema_state[k], 0.1 * w0[k] + 0.9 * w1[k], atol=1e-7)
        assert not torch.equal(first.ema_state[k], w1[k])
    ema1 = {k: v.clone() for k, v in first.ema_state.items()}
    second = run(tmp_path, steps=2, model=model)
    for k, w2 in model.named_parameters():  # resumed: decay (1 + 1) / (10 + 1)
        assert torch.allclose(second.ema_state[k], 2 / 11 * ema1[k] + 9 / 11 * w2.detach(), atol=1e-7)


def test_randomness_comes_from_the_seed_only(tmp_path):
    weights = []
    for global_seed, seed in ((1, 7), (2, 7), (1, 8)):
        model = MLP()
        torch.manual_seed(global_seed)
        train(model, loss_fn, DATASET, collate, settings(steps=2, seed=seed), tmp_path / f"{global_seed}-{seed}", progress=False)
        weights.append(model.net[0].weight.detach().clone())
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_learning_rate_warms_up_then_stays():
    warm = TrainSettings(steps=10, lr=1.0, warmup_steps=4)
    assert [learning_rate(warm, s) for s in range(1, 7)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_learning_rate_decays_over_the_last_steps():
    wsd = TrainSettings(steps=10, lr=1.0, warmup_steps=2, decay_steps=4)
    assert [learning_rate(wsd, s) for s in range(1, 11)] == [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]


def test_settings_and_dataset_errors(tmp_path):
    with pytest.raises(ValidationError, match="extra"):
        TrainSettings(steps=1, batchsize=2)
    small = TrainSettings(steps=1, batch_size=64)
    with pytest.raises(InputError, match="32 examples, fewer than batch_size 64"):
        train(MLP(), loss_fn, DATASET, collate, small, tmp_path, progress=False)
