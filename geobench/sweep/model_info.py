"""``RUN_DIR/model_info.json``: the facts of the model a run trains, for its submission.

``{"<backbone>": {"parameters": N, "display_name": ..., "bands": [...], "patch_size": P, ...}}``.
A catalogue model's facts come from its spec; a model outside the catalogue (``timm:NAME``, a
factory, an installed entry point) and a model sized to the dataset's bands (the smoke model)
are built once, offline with random weights, for the run's first dataset.
``geobench.submit`` fills a submission's model metadata from it
(:data:`geobench.submission.package.MODEL_INFO_FILE`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from geobench.config import RunConfig
from geobench.models.spec import ModelSpec

MODEL_INFO_FILE = "model_info.json"


def _band_names(bands: dict[str, tuple[Any, ...]]) -> list[str]:
    """``["B04 (664.6 nm)", "VV"]``; model modalities named when there are several."""
    out = []
    for mm, items in bands.items():
        prefix = f"{mm}/" if len(bands) > 1 else ""
        for b in items:
            nm = getattr(b, "wavelength_nm", None)
            if nm is None:
                nm = getattr(b, "target_wavelength_nm", None)
            name = getattr(b, "name", None) or getattr(b, "target", "?")
            out.append(f"{prefix}{name}" + (f" ({nm:g} nm)" if nm is not None else ""))
    return out


def _facts(spec: ModelSpec, params: int, bands: list[str]) -> dict[str, Any]:
    return {"parameters": params, "display_name": spec.display_name, "family": spec.family,
            "source": spec.source or "geobench catalogue", "architecture": spec.architecture,
            "bands": bands, "patch_size": spec.patch_size, "layers": list(spec.out_indices),
            "license": spec.license, "paper": spec.paper}


def model_facts(run: RunConfig) -> dict[str, Any]:
    """The facts of the run's model (built for its first dataset when the spec cannot say)."""
    from geobench.models.registry import get_spec
    from geobench.sweep.trainer import model_request

    spec = get_spec(run.model)
    if spec.in_catalogue and not spec.takes_dataset_bands:
        return _facts(spec, spec.backbone_params, _band_names(dict(spec.input_bands)))
    from geobench.models.encoder import count_params
    from geobench.models.registry import build_encoder
    from geobench.sweep.plan import make_plan
    from geobench.sweep.trainer import dataset_modalities, task_spec

    plan = make_plan(run, run.datasets[0])
    s = plan.settings
    enc = build_encoder(model_request(run), dataset_modalities=dataset_modalities(plan),
                        modalities=list(s.modalities) if s.modalities else None, pretrained=False,
                        image_size=task_spec(plan).image_size, model_inputs=s.model_inputs)
    facts = _facts(enc.spec, count_params(enc.backbone), _band_names(dict(enc.band_plan)))
    facts["built_for"] = plan.dataset
    facts["levels"] = {"channels": list(enc.channels), "reductions": list(enc.reductions)}
    return facts


def record_model_info(run_dir: Path, run: RunConfig) -> None:
    """Write (or update) ``RUN_DIR/model_info.json`` with the run's model facts."""
    from geobench.fileio import atomic_write_text

    path = Path(run_dir) / MODEL_INFO_FILE
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            data = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            data = {}
    data[run.model.key] = model_facts(run)
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")

