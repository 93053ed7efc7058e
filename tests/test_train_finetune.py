"""Fine-tuning modes: frozen leaves the encoder untouched, LoRA trains only its low-rank updates,
and the reported trainable-parameter counts are exact."""

from __future__ import annotations

import pytest
import torch

from geobench.errors import ConfigError
from geobench.train import TaskSpec, apply_finetune, build_task_model, count_parameters
from geobench.train.finetune import FinetuneConfig
from geobench.train.synthetic import TinyConvEncoder, TinyViTEncoder
from geobench.train.task_model import task_loss

SPEC = TaskSpec("segmentation", num_classes=3, ignore_index=-1)


pytestmark = pytest.mark.usefixtures("one_thread")


def _nparams(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _train_steps(model: torch.nn.Module, steps: int = 2) -> None:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x = torch.randn(4, 3, 16, 16, generator=gen)
        y = torch.randint(0, 3, (4, 16, 16), generator=gen)
        loss = task_loss("segmentation", model({"s2": x}), {"target": y}, -1)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _encoder_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.encoder.state_dict().items()}


def test_full_mode_trains_everything() -> None:
    torch.manual_seed(0)
    model = build_task_model(TinyConvEncoder({"s2": 3}), SPEC)
    counts = apply_finetune(model, "full")
    assert counts.trainable == counts.total == _nparams(model)
    assert counts.encoder_total == _nparams(model.encoder)
    before = _encoder_state(model)
    _train_steps(model)
    after = model.encoder.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_frozen_mode_leaves_encoder_weights_and_statistics_unchanged() -> None:
    torch.manual_seed(0)
    model = build_task_model(TinyConvEncoder({"s2": 3}), SPEC, finetune="frozen")
    counts = apply_finetune(model, "frozen")
    head = _nparams(model.neck) + _nparams(model.head)
    assert counts.trainable == head
    assert counts.total == head + _nparams(model.encoder)
    before = _encoder_state(model)  # includes BatchNorm running statistics
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    _train_steps(model)
    after = model.encoder.state_dict()
    for k in before:
        assert torch.equal(before[k], after[k]), f"frozen encoder changed {k}"
    assert not model.encoder.training  # eval mode even while the task model trains
    assert any(not torch.equal(head_before[k], v) for k, v in model.head.state_dict().items())


def test_lora_trains_only_lora_parameters_and_starts_from_the_base_function() -> None:
    torch.manual_seed(0)
    enc = TinyViTEncoder({"s2": 3}, dim=32, depth=2)
    model = build_task_model(enc, SPEC)
    x = torch.randn(2, 3, 16, 16)
    model.eval()
    with torch.no_grad():
        ref = model({"s2": x})
    rank = 4
    counts = apply_finetune(model, FinetuneConfig(mode="lora", lora_rank=rank, lora_alpha=8))
    with torch.no_grad():
        torch.testing.assert_close(model({"s2": x}), ref)  # B = 0: same function at the start
    linears = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 8  # qkv, proj, fc1, fc2 per block
    lora = sum(rank * (m.in_features + m.out_features) for m in linears)
    head = _nparams(model.neck) + _nparams(model.head)
    assert counts.trainable == lora + head
    assert counts.total == _nparams(model)
    assert count_parameters(model) == (counts.trainable, counts.total)
    named = dict(model.encoder.named_parameters())
    for name, p in named.items():
        assert p.requires_grad == ("lora_" in name), name
    base_before = {n: p.clone() for n, p in named.items() if "lora_" not in n}
    lora_b_before = {n: p.clone() for n, p in named.items() if n.endswith("lora_B")}
    _train_steps(model)
    named = dict(model.encoder.named_parameters())
    for n, v in base_before.items():
        assert torch.equal(named[n], v), f"LoRA changed base weight {n}"
    assert all(not torch.equal(named[n], v) for n, v in lora_b_before.items())
    # the effective weight includes the learned update
    blk = model.encoder.blocks[0]
    base = blk.qkv.parametrizations.weight.original
    assert not torch.equal(blk.qkv.weight, base)


def test_lora_targets_select_layers_by_name() -> None:
    model = build_task_model(TinyViTEncoder({"s2": 3}), SPEC)
    counts = apply_finetune(model, FinetuneConfig(mode="lora", lora_rank=2, lora_targets=("qkv",)))
    qkv = [m for n, m in model.encoder.named_modules() if n.endswith("qkv")]
    lora = sum(2 * (m.in_features + m.out_features) for m in qkv)
    assert counts.trainable == lora + _nparams(model.neck) + _nparams(model.head)


def test_lora_on_an_encoder_without_linear_layers_is_a_clear_error() -> None:
    model = build_task_model(TinyConvEncoder({"s2": 3}), SPEC)
    with pytest.raises(ConfigError, match="no nn.Linear layers"):
        apply_finetune(model, "lora")
    vit = build_task_model(TinyViTEncoder({"s2": 3}), SPEC)
    with pytest.raises(ConfigError, match="matches lora_targets"):
        apply_finetune(vit, FinetuneConfig(mode="lora", lora_targets=("nothing_like_this",)))
    with pytest.raises(ConfigError, match="not one of"):
        FinetuneConfig(mode="partial")  # type: ignore[arg-type]


def test_lora_reaches_the_packed_projection_of_multihead_attention() -> None:
    class MHAEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Conv2d(3, 16, 4, stride=4)
            self.attn = torch.nn.MultiheadAttention(16, 2, batch_first=True)
            self.channels, self.reductions, self.required_modalities = [16], [4], ["s2"]

        def forward(self, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
            x = self.embed(inputs["s2"])
            b, d, h, w = x.shape
            t = x.flatten(2).transpose(1, 2)
            t = self.attn(t, t, t, need_weights=False)[0]
            return [t.transpose(1, 2).reshape(b, d, h, w)]

    torch.manual_seed(0)
    model = build_task_model(MHAEncoder(), TaskSpec("classification", num_classes=3))
    x = torch.randn(2, 3, 16, 16)
    counts = apply_finetune(model, FinetuneConfig(mode="lora", lora_rank=2))
    lora = 2 * (16 + 48) + 2 * (16 + 16)  # in_proj (48 x 16) and out_proj (16 x 16)
    assert counts.trainable == lora + _nparams(model.head)
    mha = model.encoder.attn
    with torch.no_grad():
        mha.parametrizations.in_proj_weight[0].lora_B.fill_(0.1)
    assert not torch.equal(mha.in_proj_weight, mha.parametrizations.in_proj_weight.original)
    before = model({"s2": x})
    with torch.no_grad():
        mha.parametrizations.in_proj_weight[0].lora_B.zero_()
    assert not torch.allclose(model({"s2": x}), before)  # the update reaches the forward pass
