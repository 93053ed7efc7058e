"""Building a model of a library by name: ``timm:NAME`` (``timm.create_model``) and
``terratorch:NAME`` (terratorch's ``BACKBONE_REGISTRY``), with the first layer sized to the bands.

timm models are built ``features_only`` at the levels their ``feature_info`` offers (four equally
spaced blocks of a ViT, the last four stages of a CNN), with ``in_chans`` = the band count (timm
adapts pretrained first-layer weights to it), and a ViT's ``img_size`` set to the protocol's size.
terratorch backbones get the band names (``bands=``) when their builder takes them, else
``in_chans``; without declared bands they keep their own (``model_bands``), else RGB.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from geobench.errors import ModelError
from geobench.models import band_sets as bs
from geobench.models.spec import BandSpec
from geobench.models.wrap import choose_levels


@dataclass(frozen=True)
class LibraryFacts:
    """What the library says about a model: its default input size, license, paper, version, and
    the library's indices of the levels its module returns (timm: of ``feature_info``)."""

    image_size: int = 224
    license: str = ""
    paper: str = ""
    version: str = ""
    out_indices: tuple[int, ...] | None = None


@contextlib.contextmanager
def _device(meta: bool) -> Iterator[None]:
    if meta:
        with torch.device("meta"):
            yield
    else:
        yield


def build(lib: str, name: str, bands: Sequence[BandSpec] | None, kwargs: dict[str, Any], *,
          pretrained: bool, size: tuple[int, int] | None,
          meta: bool) -> tuple[nn.Module, tuple[BandSpec, ...], LibraryFacts]:
    """The library's module for ``bands`` (None: its default), the bands it takes, its facts."""
    if lib == "timm":
        return _timm(name, tuple(bands or bs.RGB), kwargs, pretrained, size, meta)
    return _terratorch(name, tuple(bands) if bands else None, kwargs, pretrained, meta)


def _timm_facts(probe: Any, take: tuple[int, ...]) -> LibraryFacts:
    import timm

    cfg = dict(getattr(probe, "pretrained_cfg", None) or {})
    size = cfg.get("input_size") or (3, 224, 224)
    papers = cfg.get("paper_ids") or ""
    paper = papers if isinstance(papers, str) else ", ".join(map(str, papers))
    return LibraryFacts(int(size[-1]), str(cfg.get("license") or ""), paper, timm.__version__, take)


def _timm(name: str, bands: tuple[BandSpec, ...], kwargs: dict[str, Any], pretrained: bool,
          size: tuple[int, int] | None, meta: bool) -> tuple[nn.Module, tuple[BandSpec, ...], LibraryFacts]:
    import timm

    if not timm.is_model(name.split(".")[0]):
        close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelError(f"timm:{name}: timm has no model {name!r}.{hint} (timm.list_models() lists them)")
    try:
        with _device(True):
            probe = timm.create_model(name, pretrained=False, num_classes=0, in_chans=len(bands), **kwargs)
    except Exception as exc:
        raise ModelError(f"timm:{name}: timm cannot build it with in_chans={len(bands)}"
                         f"{', ' + str(kwargs) if kwargs else ''}: {type(exc).__name__}: {exc}") from None
    info = getattr(probe, "feature_info", None)
    if not info:
        raise ModelError(f"timm:{name} has no feature_info (no multi-scale features); choose a timm "
                         "model that supports features_only")
    take = choose_levels([int(f["reduction"]) for f in info])
    params = inspect.signature(type(probe).__init__).parameters
    extra: dict[str, Any] = {}
    if "img_size" in params and size is not None:
        extra["img_size"] = size
    if "dynamic_img_size" in params:
        extra["dynamic_img_size"] = True
    try:
        with _device(meta):
            module = timm.create_model(name, pretrained=pretrained, features_only=True, out_indices=take,
                                       in_chans=len(bands), **extra, **kwargs)
    except Exception as exc:
        raise ModelError(f"timm:{name}: timm cannot build its features: {type(exc).__name__}: "
                         f"{str(exc)[:300]}") from None
    return module, bands, _timm_facts(probe, take)


def _terratorch_registry() -> Any:
    import os

    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    from terratorch.registry import BACKBONE_REGISTRY

    return BACKBONE_REGISTRY


def _terratorch_params(registry: Any, name: str) -> set[str] | None:
    """The parameters of a registry entry's builder (None when they cannot be read)."""
    for prefix, source in getattr(registry, "_sources", {}).items():
        short = name.removeprefix(f"{prefix}_")
        if short in source and hasattr(source, "_registry"):
            try:
                params = inspect.signature(source[short]).parameters
            except (TypeError, ValueError, KeyError):
                return None
            return set(params)
    return None


def _own_bands(module: nn.Module, name: str) -> tuple[BandSpec, ...]:
    """A terratorch backbone's own input bands (``model_bands``), else RGB for 3 channels."""
    own = getattr(module, "model_bands", None)
    if own:
        return bs.parse_bands([getattr(b, "value", b) for b in own], f"terratorch:{name} model_bands")
    conv = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None or conv.in_channels == 3:
        return bs.RGB
    raise ModelError(f"terratorch:{name} takes {conv.in_channels} channels; declare them with "
                     "model.bands=[...] (names or wavelengths)")


def _terratorch(name: str, bands: tuple[BandSpec, ...] | None, kwargs: dict[str, Any], pretrained: bool,
                meta: bool) -> tuple[nn.Module, tuple[BandSpec, ...], LibraryFacts]:
    from importlib.metadata import version

    registry = _terratorch_registry()
    if name not in registry:
        names = [n for src in registry._sources.values() for n in src]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelError(f"terratorch:{name}: not in terratorch's BACKBONE_REGISTRY.{hint}")
    kw: dict[str, Any] = {"pretrained": pretrained, **kwargs}
    params = _terratorch_params(registry, name) or set()
    named = next((p for p in ("bands", "model_bands") if p in params), None)
    if bands is not None:
        kw[named or "in_chans"] = [b.name for b in bands] if named else len(bands)
    elif named == "model_bands":
        raise ModelError(f"terratorch:{name} needs its input bands: declare them with "
                         "model.bands=[...] (names or wavelengths)")
    try:
        with _device(meta):
            module = registry.build(name, **kw)
    except Exception as exc:
        raise ModelError(f"terratorch:{name}: terratorch cannot build it ({type(exc).__name__}: "
                         f"{str(exc)[:300]})") from None
    used = bands if bands is not None else _own_bands(module, name)
    indices = getattr(module, "out_indices", None)
    out = tuple(int(i) for i in indices) if isinstance(indices, list | tuple) else None
    return module, used, LibraryFacts(version=version("terratorch"), out_indices=out)
