"""The training loop: early stopping and best-checkpoint restore on a scripted metric sequence,
ReduceLROnPlateau, the hooks, gradient accumulation, seeding and the BioMassters rescaling."""

from __future__ import annotations

import pytest
import torch

from geobench.errors import ConfigError
from geobench.manifest import MetricTransform
from geobench.train import TaskSpec, TrainConfig, build_task_model, fit, seed_everything
from geobench.train import loop as loop_mod
from geobench.train.loaders import collate_samples
from geobench.train.synthetic import SyntheticTaskDataset, TinyConvEncoder, TinyViTEncoder

CLS = TaskSpec("classification", num_classes=3)


pytestmark = pytest.mark.usefixtures("one_thread")


def _data(task: str = "classification", n: int = 8, split: int = 0) -> SyntheticTaskDataset:
    return SyntheticTaskDataset(task, n=n, bands=3, size=8, num_classes=3, split_seed=split)


def _model(spec: TaskSpec = CLS, seed: int = 0) -> torch.nn.Module:
    seed_everything(seed)
    return build_task_model(TinyConvEncoder({"s2": 3}, widths=(8, 16)), spec,
                            decoder_channels=(8,))


def _cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(lr=1e-2, batch_size=4, num_workers=0, device="cpu")
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def _script(monkeypatch: pytest.MonkeyPatch, values: list[float], name: str,
            losses: list[float] | None = None) -> list[int]:
    """Make validation return ``values`` (and validation ``losses``) in turn (test splits get
    0.123); count calls."""
    seq = iter(values)
    loss_seq = iter(losses or [])
    calls = [0]

    def fake_evaluate(stepper: object, loader: object, max_steps: object = None, *,
                      with_loss: bool = False) -> dict[str, float]:
        calls[0] += 1
        out = {name: next(seq, 0.123)}
        if with_loss:
            out["loss"] = next(loss_seq)
        return out

    monkeypatch.setattr(loop_mod, "evaluate", fake_evaluate)
    return calls


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    values = [0.1, 0.5, 0.3, 0.5, 0.2]  # best at epoch 1; ties do not count
    calls = _script(monkeypatch, values, "Overall_Accuracy")
    model = _model()
    snapshots: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(epoch: int, value: float) -> bool:
        snapshots.append(_params(model))
        return False

    res = fit(model, CLS, _data(), _data(split=1), _data(split=2),
              _cfg(early_stop_patience=3, max_epochs=20), on_epoch_end=on_epoch_end)
    assert res.stopped_by == "early_stopping"
    assert res.epochs == 5  # epochs 2, 3, 4 without improvement -> stop after epoch 4
    assert res.val_metric_per_epoch == values[:5]
    assert res.best_epoch == 1 and res.best_val_metric == 0.5
    final = _params(model)
    for k in final:
        assert torch.equal(final[k], snapshots[1][k]), f"{k} is not the best epoch's"
    assert any(not torch.equal(final[k], snapshots[-1][k]) for k in final)
    assert res.test_metrics == {"Overall_Accuracy": 0.123}  # the 6th call: the test split
    assert calls[0] == 6


def test_val_loss_drives_stopping_and_plateau_while_the_metric_picks_the_checkpoint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The published runs: EarlyStopping and ReduceLROnPlateau on val/loss, checkpoint on the metric."""
    metrics = [0.1, 0.9, 0.2, 0.3, 0.4, 0.5]
    losses = [1.0, 0.9, 0.8, 0.85, 0.85, 0.9]  # best loss at epoch 2; the best metric is epoch 1
    _script(monkeypatch, metrics, "Overall_Accuracy", losses)
    model = _model()
    snapshots: list[dict[str, torch.Tensor]] = []
    res = fit(model, CLS, _data(), _data(split=1), None,
              _cfg(monitor="val_loss", early_stop_patience=3, lr_patience=1, lr=1e-3, max_epochs=20),
              on_epoch_end=lambda e, v: snapshots.append(_params(model)) and False)
    assert res.stopped_by == "early_stopping" and res.epochs == 6  # 3 epochs after the best loss
    assert res.val_loss_per_epoch == losses
    assert res.best_epoch == 1 and res.best_val_metric == 0.9  # selection stays on the metric
    assert all(torch.equal(v, snapshots[1][k]) for k, v in _params(model).items())
    # plateau on the loss (mode min, patience 1): epochs 3 and 4 do not improve on 0.8 -> halved for epoch 5
    assert res.lr_per_epoch == pytest.approx([1e-3] * 5 + [5e-4])


def test_no_early_stopping_runs_max_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection in the published runs: no early stopping (patience None)."""
    _script(monkeypatch, [0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], "Overall_Accuracy")
    res = fit(_model(), CLS, _data(), _data(split=1), None, _cfg(early_stop_patience=None, max_epochs=8))
    assert res.epochs == 8 and res.stopped_by == "max_epochs" and res.best_epoch == 0


def test_drop_last_and_eval_batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real_step = loop_mod.Stepper.train_step

    def count(self: object, batch: dict) -> object:
        seen.append(int(batch["target"].shape[0]))
        return real_step(self, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(loop_mod.Stepper, "train_step", count)
    fit(_model(), CLS, _data(n=10), _data(split=1), None,
        _cfg(batch_size=4, drop_last=True, max_epochs=1))
    assert seen == [4, 4]  # 10 samples, the partial batch of 2 dropped
    seen.clear()
    fit(_model(), CLS, _data(n=10), _data(split=1), None, _cfg(batch_size=4, max_epochs=1))
    assert seen == [4, 4, 2]
    evaluated: list[int] = []
    real_eval = loop_mod.evaluate

    def spy(stepper: object, loader: object, *a: object, **kw: object) -> dict[str, float]:
        evaluated.append(int(loader.batch_size))  # type: ignore[attr-defined]
        return real_eval(stepper, loader, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(loop_mod, "evaluate", spy)
    fit(_model(), CLS, _data(n=8), _data(split=1, n=8), _data(split=2, n=8),
        _cfg(batch_size=4, eval_batch_size=64, max_epochs=1))
    assert evaluated == [64, 64]  # validation and test use the eval batch size


def test_flips_change_the_training_but_keep_it_reproducible() -> None:
    def run(flips: bool) -> dict[str, torch.Tensor]:
        model = _model()
        fit(model, CLS, _data(), _data(split=1), None, _cfg(flips=flips, max_epochs=2, seed=3))
        return _params(model)

    a, b, c = run(True), run(True), run(False)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_lower_is_better_metric_and_biomassters_rescaling(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = TaskSpec("regression", metric_transform=MetricTransform("one_minus_scaled", 0.2537951171398163))
    _script(monkeypatch, [3.0, 2.0, 2.5, 1.5, 1.6, 1.7], "RMSE")
    res = fit(_model(spec), spec, _data("regression"), _data("regression", split=1),
              _data("regression", split=2), _cfg(early_stop_patience=2, max_epochs=20))
    assert res.higher_is_better is False
    assert res.best_epoch == 3 and res.best_val_metric == 1.5 and res.epochs == 6
    assert res.test_metrics_raw == {"RMSE": 0.123}
    assert res.test_metrics == {"RMSE": 1.0 - 0.123 * 0.2537951171398163}


def test_reduce_lr_on_plateau_halves_after_patience(monkeypatch: pytest.MonkeyPatch) -> None:
    _script(monkeypatch, [0.5] * 10, "Overall_Accuracy")
    res = fit(_model(), CLS, _data(), _data(split=1), None, _cfg(lr=1e-3, max_epochs=10))
    # epoch 0 sets the best; epochs 1..6 are 6 bad epochs > patience 5 -> halved from epoch 7 on
    assert res.lr_per_epoch[:7] == [1e-3] * 7
    assert res.lr_per_epoch[7] == pytest.approx(5e-4)
    assert res.epochs == 10 and res.stopped_by == "max_epochs"  # patience 10 not reached
    assert res.test_metrics == {}


def test_on_epoch_end_can_stop_a_run_and_progress_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _script(monkeypatch, [0.1, 0.2, 0.3, 0.4], "Overall_Accuracy")
    seen: list[tuple[int, float]] = []
    ticks: list[tuple[int, int, float]] = []

    def prune(epoch: int, value: float) -> bool:
        seen.append((epoch, value))
        return epoch == 1

    res = fit(_model(), CLS, _data(), _data(split=1), _data(split=2),
              _cfg(max_epochs=10, progress_every=1), on_epoch_end=prune,
              progress=lambda e, s, loss: ticks.append((e, s, loss)))
    assert seen == [(0, 0.1), (1, 0.2)]
    assert res.stopped_by == "callback" and res.epochs == 2
    assert res.test_metrics == {} and calls[0] == 2  # a stopped trial is not scored on test
    assert [(e, s) for e, s, _ in ticks] == [(0, 1), (0, 2), (1, 3), (1, 4)]
    assert all(isinstance(loss, float) and loss > 0 for *_, loss in ticks)


def test_gradient_accumulation_matches_the_full_batch() -> None:
    def one_step(micro: int) -> dict[str, torch.Tensor]:
        seed_everything(0)
        model = build_task_model(TinyViTEncoder({"s2": 3}, dim=16, depth=1), CLS)
        data = _data(n=8)
        loader = [collate_samples([data[i] for i in range(8)])]
        if micro < 8:
            loader = [collate_samples([data[i] for i in range(j, j + micro)])
                      for j in range(0, 8, micro)]
        fit(model, CLS, loader, loader, None,
            _cfg(batch_size=8, micro_batch_size=micro, max_epochs=1, lr=1e-2))
        return _params(model)

    full, accumulated = one_step(8), one_step(4)
    for k in full:
        torch.testing.assert_close(accumulated[k], full[k], rtol=1e-4, atol=1e-6)


def test_same_seed_same_weights_and_metrics_different_seed_differs() -> None:
    def run(seed: int) -> tuple[dict[str, torch.Tensor], object]:
        model = _model(seed=seed)
        res = fit(model, CLS, _data(n=12), _data(split=1), _data(split=2),
                  _cfg(max_epochs=2, seed=seed))
        return _params(model), res

    (w1, r1), (w2, r2), (w3, _) = run(7), run(7), run(8)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert r1.val_metric_per_epoch == r2.val_metric_per_epoch  # type: ignore[attr-defined]
    assert r1.test_metrics == r2.test_metrics  # type: ignore[attr-defined]
    assert r1.train_loss_per_epoch == r2.train_loss_per_epoch  # type: ignore[attr-defined]
    assert any(not torch.equal(w1[k], w3[k]) for k in w1)


def test_result_fields_and_config_errors() -> None:
    res = fit(_model(), CLS, _data(), _data(split=1), _data(split=2), _cfg(max_epochs=1))
    d = res.to_dict()
    assert d["device"] == "cpu" and d["epochs"] == 1 and d["metric"] == "Overall_Accuracy"
    assert d["trainable_params"] == d["total_params"] > 0
    assert d["images_per_second"] > 0 and d["train_seconds"] > 0
    assert set(d["test_metrics"]) == {"Overall_Accuracy"}
    with pytest.raises(ConfigError, match="lr must be"):
        TrainConfig(lr=0)
    with pytest.raises(ConfigError, match="bf16 needs a CUDA"):
        fit(_model(), CLS, _data(), _data(), None, _cfg(precision="bf16"))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            fit(_model(), CLS, _data(), _data(), None, _cfg(device="cuda"))


def test_loader_workers_give_the_same_run_as_the_main_process() -> None:
    def run(workers: int) -> list[float]:
        model = _model(seed=3)
        return fit(model, CLS, _data(n=12), _data(split=1), None,
                   _cfg(max_epochs=1, seed=3, num_workers=workers)).train_loss_per_epoch

    assert run(0) == run(2)


def test_device_batches_moves_and_limits() -> None:
    from geobench.train.loaders import device_batches

    data = _data(n=6)
    batches = [collate_samples([data[i], data[i + 1]]) for i in range(0, 6, 2)]
    got = list(device_batches(batches, torch.device("cpu"), channels_last=True, limit=2))
    assert len(got) == 2
    x = got[0]["inputs"]["s2"]
    assert x.shape == (2, 3, 8, 8) and x.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x, batches[0]["inputs"]["s2"])
    assert len(list(device_batches(batches, torch.device("cpu")))) == 3
