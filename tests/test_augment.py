"""Per-sample random flips of a collated batch (geobench.train.augment), checked with values and
against GEO-Bench-2's official kornia pipeline (geobench_v2 datamodules) on real fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from geobench.data.dataset import collate
from geobench.errors import ConfigError
from geobench.train.augment import BatchFlipper, draw_flips, flip_batch

# A flip code per sample: 0 none, 1 horizontal (W axis), 2 vertical (H axis), 3 both.
FLIPS: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = (
    lambda a: a, lambda a: a.flip(-1), lambda a: a.flip(-2), lambda a: a.flip(-1).flip(-2))


def flip_code(out: torch.Tensor, ref: torch.Tensor) -> list[int]:
    """Which of the four flips maps each sample of ``ref`` to ``out`` (-1: none of them)."""
    codes = []
    for o, r in zip(out, ref, strict=True):
        codes.append(next((c for c, f in enumerate(FLIPS) if torch.equal(o, f(r))), -1))
    return codes


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def inclusive_bbox(mask: torch.Tensor) -> list[float]:
    """``[x1, y1, x2, y2]`` with x2/y2 the last pixel inside (the official convention)."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())]


def detection_batch(n: int = 3, height: int = 9, width: int = 13, *, exclusive: bool = False,
                    seed: int = 0) -> dict[str, Any]:
    """Images whose pixel value k marks object k (1-based), instance masks, and tight boxes."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(n):
        img = torch.zeros(2, height, width)
        masks, boxes = [], []
        for k in (1, 2):
            y0 = int(torch.randint(0, height - 3, (1,), generator=g))
            x0 = int(torch.randint(0, width - 4, (1,), generator=g))
            y1 = y0 + int(torch.randint(0, 3, (1,), generator=g))
            x1 = x0 + int(torch.randint(0, 4, (1,), generator=g))
            m = torch.zeros(height, width, dtype=torch.uint8)
            m[y0: y1 + 1, x0: x1 + 1] = 1
            img[0][m.bool()] = k
            img[1][m.bool()] = 10 * k
            masks.append(m)
        # Objects may overlap; the box of object k is the box of its visible pixels.
        masks = [(img[0] == k).to(torch.uint8) for k in (1, 2)]
        for m in masks:
            b = inclusive_bbox(m)
            if exclusive:
                b = [b[0], b[1], b[2] + 1, b[3] + 1]
            boxes.append(b)
        samples.append({"index": i, "inputs": {"rgb": img},
                        "target": {"boxes": torch.tensor(boxes), "labels": torch.tensor([1, 2]),
                                   "masks": torch.stack(masks)}})
    return collate(samples)


# -- (1) segmentation: pixel-label correspondence ---------------------------------------------
def test_segmentation_keeps_pixel_label_correspondence() -> None:
    g = torch.Generator().manual_seed(1)
    label = torch.randint(0, 6, (16, 7, 11), generator=g)
    image = torch.stack([label.float(), 100.0 + label.float()], 1)  # (B, 2, H, W): value = label
    batch = {"inputs": {"s2": image}, "target": label, "index": torch.arange(16)}
    ref_image, ref_label = image.clone(), label.clone()
    out = flip_batch(batch, gen(3))
    assert out["target"].dtype == torch.int64
    assert torch.equal(out["inputs"]["s2"][:, 0], out["target"].float())
    assert torch.equal(out["inputs"]["s2"][:, 1], 100.0 + out["target"].float())
    codes = flip_code(out["target"], ref_label)
    assert -1 not in codes and len(set(codes)) > 1  # a real mix of flips
    assert codes == flip_code(out["inputs"]["s2"], ref_image)
    # The input batch is untouched and unrelated keys pass through.
    assert torch.equal(image, ref_image) and torch.equal(label, ref_label)
    assert out["index"] is batch["index"]
    assert out is not batch and out["inputs"] is not batch["inputs"]


# -- (2) time series: one flip per sample for every step and modality -------------------------
def test_time_series_sample_gets_same_flip_at_every_step() -> None:
    g = torch.Generator().manual_seed(2)
    b, t = 12, 5
    s2 = torch.randn(b, t, 3, 6, 8, generator=g)
    s1 = torch.randn(b, t, 2, 6, 8, generator=g)
    dem = torch.randn(b, 1, 6, 8, generator=g)  # single-date modality beside the series
    label = torch.randint(0, 4, (b, 6, 8), generator=g)
    time_mask = torch.rand(b, t, generator=g) > 0.3
    batch = {"inputs": {"s2": s2, "s1": s1, "dem": dem}, "time_mask": time_mask, "target": label}
    out = flip_batch(batch, gen(5))
    codes = flip_code(out["target"], label)
    assert -1 not in codes and len(set(codes)) > 1
    for step in range(t):
        assert flip_code(out["inputs"]["s2"][:, step], s2[:, step]) == codes
        assert flip_code(out["inputs"]["s1"][:, step], s1[:, step]) == codes
    assert flip_code(out["inputs"]["dem"], dem) == codes
    assert torch.equal(out["time_mask"], time_mask)


# -- (3) boxes and instance masks ------------------------------------------------------------
@pytest.mark.parametrize(("p_h", "p_v"), [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
@pytest.mark.parametrize("exclusive", [False, True])
def test_boxes_enclose_exactly_the_flipped_object(p_h: float, p_v: float, exclusive: bool) -> None:
    height, width = 9, 13
    batch = detection_batch(height=height, width=width, exclusive=exclusive)
    ref = [{k: v.clone() for k, v in t.items()} for t in batch["target"]]
    out = flip_batch(batch, gen(), p_h, p_v, box_convention="exclusive" if exclusive else "inclusive")
    pad = 1 if exclusive else 0
    for i, tgt in enumerate(out["target"]):
        img = out["inputs"]["rgb"][i]
        assert torch.equal(tgt["labels"], ref[i]["labels"])
        assert tgt["boxes"].dtype == torch.float32 and tgt["masks"].dtype == torch.uint8
        for k in (1, 2):
            obj = img[0] == k
            x1, y1, x2, y2 = inclusive_bbox(obj)
            assert tgt["boxes"][k - 1].tolist() == [x1, y1, x2 + pad, y2 + pad]
            # Instance masks flip with the image and agree with the boxes.
            assert torch.equal(tgt["masks"][k - 1].bool(), obj)
        # The explicit formulas, on the input boxes.
        b0 = ref[i]["boxes"]
        cx, cy = width - 1 + pad, height - 1 + pad
        exp = b0.clone()
        if p_h:
            exp = torch.stack([cx - exp[:, 2], exp[:, 1], cx - exp[:, 0], exp[:, 3]], 1)
        if p_v:
            exp = torch.stack([exp[:, 0], cy - exp[:, 3], exp[:, 2], cy - exp[:, 1]], 1)
        assert torch.equal(tgt["boxes"], exp)
    # Input targets untouched.
    for t, r in zip(batch["target"], ref, strict=True):
        assert all(torch.equal(t[k], r[k]) for k in r)


def test_detection_without_boxes_or_masks_keys_and_empty_boxes() -> None:
    img = torch.randn(2, 3, 5, 7)
    batch = {"inputs": {"rgb": img},
             "target": [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},
                        {"boxes": torch.tensor([[0.0, 1.0, 2.0, 3.0]]), "labels": torch.tensor([4])}]}
    out = flip_batch(batch, gen(), 1.0, 0.0)
    assert out["target"][0]["boxes"].shape == (0, 4)
    assert out["target"][1]["boxes"].tolist() == [[4.0, 1.0, 6.0, 3.0]]  # W - 1 - x
    assert out["target"][1]["labels"].tolist() == [4]


# -- (4) p = 0 is the identity, p = 1 flips everything ----------------------------------------
def test_p0_is_identity_and_p1_flips_all() -> None:
    batch = detection_batch(n=4)
    seg = {"inputs": {"a": torch.randn(4, 2, 5, 6)}, "target": torch.randint(0, 3, (4, 5, 6)),
           "valid_mask": torch.rand(4, 5, 6) > 0.5}
    for b in (batch, seg):
        same = flip_batch(b, gen(), 0.0, 0.0)
        assert torch.equal(same["inputs"][next(iter(b["inputs"]))], b["inputs"][next(iter(b["inputs"]))])
    same = flip_batch(seg, gen(), 0.0, 0.0)
    assert torch.equal(same["target"], seg["target"]) and torch.equal(same["valid_mask"], seg["valid_mask"])
    same_det = flip_batch(batch, gen(), 0.0, 0.0)
    for t, r in zip(same_det["target"], batch["target"], strict=True):
        assert torch.equal(t["boxes"], r["boxes"]) and torch.equal(t["masks"], r["masks"])
    for p_h, p_v, code in ((1.0, 0.0, 1), (0.0, 1.0, 2), (1.0, 1.0, 3)):
        out = flip_batch(seg, gen(), p_h, p_v)
        assert flip_code(out["inputs"]["a"], seg["inputs"]["a"]) == [code] * 4
        assert flip_code(out["target"], seg["target"]) == [code] * 4
        assert flip_code(out["valid_mask"], seg["valid_mask"]) == [code] * 4
    with pytest.raises(ConfigError):
        flip_batch(seg, gen(), 1.5, 0.5)
    with pytest.raises(ConfigError):
        BatchFlipper(0, box_convention="pixel")  # type: ignore[arg-type]


# -- (5) reproducible; about half of the samples flipped, independently ---------------------
def test_seeded_flips_are_reproducible_and_balanced() -> None:
    batch = {"inputs": {"a": torch.randn(8, 1, 4, 4)}, "target": torch.randint(0, 2, (8, 4, 4))}
    f1, f2, f3 = BatchFlipper(7), BatchFlipper(7), BatchFlipper(8)
    outs1 = [f1(batch) for _ in range(4)]
    outs2 = [f2(batch) for _ in range(4)]
    outs3 = [f3(batch) for _ in range(4)]
    for a, b in zip(outs1, outs2, strict=True):
        assert torch.equal(a["inputs"]["a"], b["inputs"]["a"]) and torch.equal(a["target"], b["target"])
    assert any(not torch.equal(a["inputs"]["a"], c["inputs"]["a"]) for a, c in zip(outs1, outs3, strict=True))
    # Resuming from a saved state continues the same stream.
    f4 = BatchFlipper(0)
    f4.load_state_dict(BatchFlipper(7).state_dict())
    assert torch.equal(f4(batch)["inputs"]["a"], outs1[0]["inputs"]["a"])
    # Disabled: the batch itself, and no draw from the generator.
    f5 = BatchFlipper(7, enabled=False)
    assert f5(batch) is batch
    f5.enabled = True
    assert torch.equal(f5(batch)["inputs"]["a"], outs1[0]["inputs"]["a"])

    # The flips applied are exactly the drawn decisions; over many samples about half flip,
    # horizontal and vertical independently.
    n = 4000
    x = torch.arange(n * 6, dtype=torch.float32).reshape(n, 1, 2, 3)
    out = flip_batch({"inputs": {"a": x}}, gen(11))
    h, v = draw_flips(n, gen(11))
    expected = (h.long() + 2 * v.long()).tolist()
    assert flip_code(out["inputs"]["a"], x) == expected
    counts = torch.bincount(torch.tensor(expected), minlength=4).double() / n
    assert abs(h.double().mean() - 0.5) < 0.04 and abs(v.double().mean() - 0.5) < 0.04
    assert torch.all((counts - 0.25).abs() < 0.04), counts
    h2, v2 = draw_flips(n, gen(11), 0.2, 0.9)
    assert abs(h2.double().mean() - 0.2) < 0.04 and abs(v2.double().mean() - 0.9) < 0.04


# -- (6) regression target and valid_mask flip together; class targets do not ----------------
def test_regression_target_and_valid_mask_flip_together() -> None:
    g = torch.Generator().manual_seed(4)
    target = torch.rand(10, 6, 9, generator=g)
    valid = target > 0.3
    target = torch.where(valid, target, torch.zeros(()))
    image = torch.stack([target, valid.float()], 1)
    out = flip_batch({"inputs": {"s1": image}, "target": target, "valid_mask": valid}, gen(9))
    assert out["target"].dtype == torch.float32 and out["valid_mask"].dtype == torch.bool
    assert torch.equal(out["valid_mask"], out["target"] > 0.3)
    assert torch.equal(out["inputs"]["s1"][:, 0], out["target"])
    assert torch.equal(out["inputs"]["s1"][:, 1], out["valid_mask"].float())
    codes = flip_code(out["target"], target)
    assert -1 not in codes and len(set(codes)) > 1


@pytest.mark.parametrize("target", [torch.tensor([0, 3, 1, 2]), torch.rand(4, 5)])
def test_classification_targets_unchanged(target: torch.Tensor) -> None:
    x = torch.randn(4, 3, 4, 4)
    out = flip_batch({"inputs": {"a": x}, "target": target}, gen(), 1.0, 1.0)
    assert out["target"] is target
    assert torch.equal(out["inputs"]["a"], x.flip(-1).flip(-2))


def _devices() -> Iterator[str]:
    yield "cpu"
    if torch.cuda.is_available():
        yield "cuda"


@pytest.mark.parametrize("device", list(_devices()))
def test_runs_on_the_batch_device(device: str) -> None:
    """Decisions drawn on the generator's device; outputs stay on the batch's device."""
    batch = detection_batch(n=5)
    seg = {"inputs": {"a": torch.randn(5, 2, 3, 9, 13)}, "target": torch.randint(0, 3, (5, 9, 13))}
    for b in (batch, seg):
        moved: dict[str, Any] = {"inputs": {k: v.to(device) for k, v in b["inputs"].items()}}
        moved["target"] = ([{k: v.to(device) for k, v in t.items()} for t in b["target"]]
                           if isinstance(b["target"], list) else b["target"].to(device))
        g = torch.Generator(device=device).manual_seed(3)
        state = g.get_state()
        out = flip_batch(moved, g)
        g.set_state(state)
        h, v = draw_flips(5, g)
        codes = (h.long() + 2 * v.long()).tolist()
        key = next(iter(b["inputs"]))
        assert out["inputs"][key].device.type == device
        assert flip_code(out["inputs"][key].cpu(), b["inputs"][key]) == codes
        if isinstance(b["target"], list):
            assert all(t["boxes"].device.type == device for t in out["target"])


# -- (7) the official pipeline (geobench_v2 + kornia) --------------------------------------
@pytest.fixture(scope="module")
def official() -> Any:
    """geobench_v2's datamodules (the reference package is in the dev extra)."""
    import geobench_v2.datamodules

    return geobench_v2.datamodules


def force_flips(aug: torch.nn.Module, p_h: float, p_v: float) -> None:
    """Set the probabilities of every kornia flip inside an official augmentation module."""
    import kornia.augmentation as K

    seen = 0
    for mod in aug.modules():
        if isinstance(mod, K.RandomHorizontalFlip):
            mod.p, seen = p_h, seen + 1
        elif isinstance(mod, K.RandomVerticalFlip):
            mod.p, seen = p_v, seen + 1
    assert seen == 2, aug


def run_official(dm: Any, batch: dict[str, Any]) -> dict[str, Any]:
    """The official train path: ``on_after_batch_transfer`` with a trainer in training mode."""
    dm.trainer = SimpleNamespace(training=True)
    copy = {k: ([t.clone() for t in v] if isinstance(v, list) else v.clone()) for k, v in batch.items()}
    return dm.on_after_batch_transfer(copy, 0)


@pytest.fixture
def global_seed() -> Iterator[None]:
    """kornia draws from torch's global generator: seed it for this test only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


def test_official_flip_facts_match(official: Any, global_seed: None) -> None:
    """What GEO-Bench-2's ``"default"`` / ``"multi_temporal_default"`` train flips do, on synthetic
    batches, and that flip_batch does the same:

    - each sample draws its own horizontal and vertical flip (p=0.5 each, independent);
    - all ``image*`` keys (modalities) and the ``mask`` share the sample's flips;
    - a (B, C, T, H, W) series (VideoSequential) gets the same flips at every time step.
    """
    from geobench_v2.datamodules.base import (
        GeoBenchClassificationDataModule,
        GeoBenchSegmentationDataModule,
    )

    def make(cls: Any, aug: str) -> Any:
        return cls(dataset_class=None, img_size=8, band_order=["a"], train_augmentations=aug)

    b, h, w = 400, 5, 7
    x = torch.randn(b, 2, h, w)
    cls_aug = make(GeoBenchClassificationDataModule, "default").train_augmentations
    out = cls_aug({"image": x.clone(), "label": torch.zeros(b)})
    counts = torch.bincount(torch.tensor(flip_code(out["image"], x)), minlength=4).double() / b
    assert torch.all((counts - 0.25).abs() < 0.08), counts  # per sample, both axes independent

    aerial, elev, mask = torch.randn(16, 4, h, w), torch.randn(16, 1, h, w), torch.randint(0, 5, (16, h, w))
    seg = make(GeoBenchSegmentationDataModule, "default")
    out = seg.train_augmentations({"image_aerial": aerial.clone(), "image_elevation": elev.clone(),
                                   "mask": mask.clone()})
    codes = flip_code(out["mask"], mask)
    assert flip_code(out["image_aerial"], aerial) == codes == flip_code(out["image_elevation"], elev)
    assert len(set(codes)) > 1

    t = 4
    series, mask = torch.randn(16, 3, t, h, w), torch.randint(0, 5, (16, h, w))  # official: BCTHW
    mt = make(GeoBenchSegmentationDataModule, "multi_temporal_default")
    out = mt.train_augmentations({"image": series.clone(), "mask": mask.clone()})
    codes = flip_code(out["mask"], mask)
    assert len(set(codes)) > 1
    for step in range(t):
        assert flip_code(out["image"][:, :, step], series[:, :, step]) == codes

    # Forced decisions: official and flip_batch agree (geobench's layout is (B, T, C, H, W)).
    for p_h, p_v in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)):
        force_flips(mt.train_augmentations, p_h, p_v)
        ref = mt.train_augmentations({"image": series.clone(), "mask": mask.clone()})
        ours = flip_batch({"inputs": {"s2": series.transpose(1, 2)}, "target": mask}, gen(), p_h, p_v)
        assert torch.equal(ours["inputs"]["s2"], ref["image"].transpose(1, 2))
        assert torch.equal(ours["target"], ref["mask"])


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copies of the real fixtures, named as the geobench_v2 dataset classes' ``paths`` expect."""
    from tests.conftest import FIXTURES

    if not FIXTURES.is_dir():
        pytest.skip(f"real GEO-Bench-2 fixtures not found at {FIXTURES}")
    root = tmp_path_factory.mktemp("geobench2")
    for name in ("everwatch", "nzcattle", "spacenet7", "flair2"):
        shutil.copy(FIXTURES / f"{name}.tortilla", root / f"geobench_{name}.tortilla")
    return root


@pytest.mark.parametrize(("module", "cls", "img_size"), [
    ("everwatch", "GeoBenchEverWatchDataModule", 512),
    ("nzcattle", "GeoBenchNZCattleDataModule", 500),
])
def test_official_detection_flip_on_real_fixture(official: Any, fixture_root: Path, module: str,
                                                 cls: str, img_size: int) -> None:
    """Real EverWatch / NZCattle train samples through the official dataset class and datamodule
    (``train_augmentations="default"``: kornia flips with ``data_keys=None``, boxes under
    ``bbox_xyxy``), flips forced, against flip_batch on the same image and boxes.

    The official pipeline maps box coordinates ``x -> W - 1 - x`` (kornia ``xyxy_plus``,
    inclusive max); flip_batch's default convention reproduces it exactly, and the
    ``"exclusive"`` convention (``x -> W - x``) is one pixel to the right/below.
    """
    dm = getattr(official, cls)(root=str(fixture_root), img_size=img_size, batch_size=2,
                                train_augmentations="default")
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape[-1] == img_size
    assert sum(len(b) for b in batch["bbox_xyxy"]) > 0
    ours_in = {"inputs": {"rgb": batch["image"]},
               "target": [{"boxes": bx, "labels": lb + 1} for bx, lb in
                          zip(batch["bbox_xyxy"], batch["label"], strict=True)]}
    for p_h, p_v in ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0)):
        force_flips(dm.train_augmentations, p_h, p_v)
        ref = run_official(dm, batch)
        ours = flip_batch(ours_in, gen(), p_h, p_v)
        assert torch.equal(ours["inputs"]["rgb"], ref["image"])
        excl = flip_batch(ours_in, gen(), p_h, p_v, box_convention="exclusive")
        shift = torch.tensor([p_h, p_v, p_h, p_v])
        for o, e, r, lb, t in zip(ours["target"], excl["target"], ref["bbox_xyxy"], ref["label"],
                                  ours_in["target"], strict=True):
            assert torch.equal(o["boxes"], r), (p_h, p_v)
            assert torch.equal(e["boxes"], r + shift)
            assert torch.equal(o["labels"], lb + 1) and torch.equal(o["labels"], t["labels"])


def test_official_segmentation_flip_on_real_fixtures(official: Any, fixture_root: Path) -> None:
    """Real SpaceNet7 (one image) and FLAIR2 (aerial + elevation modalities) train batches through
    the official datamodules' default flips, forced, against flip_batch: image(s) and mask equal."""
    for cls, modalities in (("GeoBenchSpaceNet7DataModule", ("image",)),
                            ("GeoBenchFLAIR2DataModule", ("image_aerial", "image_elevation"))):
        dm = getattr(official, cls)(root=str(fixture_root), img_size=64, batch_size=2,
                                    train_augmentations="default")
        dm.setup("fit")
        batch = next(iter(dm.train_dataloader()))
        assert set(batch) == {*modalities, "mask"}
        ours_in = {"inputs": {m: batch[m] for m in modalities}, "target": batch["mask"]}
        for p_h, p_v in ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0)):
            force_flips(dm.train_augmentations, p_h, p_v)
            ref = run_official(dm, batch)
            ours = flip_batch(ours_in, gen(), p_h, p_v)
            for m in modalities:
                assert torch.equal(ours["inputs"][m], ref[m]), (cls, m, p_h, p_v)
            assert ref["mask"].dtype == torch.int64
            assert torch.equal(ours["target"], ref["mask"]), (cls, p_h, p_v)
