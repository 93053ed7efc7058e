"""The ``model`` config group's options that no file or catalogue entry lists: ``model=timm:NAME``,
``model=terratorch:NAME`` and the names of installed entry points (``model=tinygeo_cnn``).

A Hydra config source (scheme ``geobench-models://``) answers for them: each is a model node
``{key: <registry key>}`` made on demand, merged into the typed ``ModelConfig`` like any option.
:func:`register` adds the source and a search-path plugin that puts it on every search path;
``geobench.config.register`` calls it. Nothing here imports torch.
"""

from __future__ import annotations

from hydra.core.object_type import ObjectType
from hydra.core.plugins import Plugins
from hydra.plugins.config_source import ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

from geobench.errors import ModelError
from geobench.models import plugins
from geobench.models.catalog import ALIASES, SPECS
from geobench.models.sources import library_key, library_model

SCHEME = "geobench-models"
GROUP = "model"


def _option(config_path: str) -> str | None:
    """The model option a config path names (``model/timm:resnet18.yaml``), None for others."""
    path = config_path.strip("/").removesuffix(".yaml")
    group, sep, name = path.partition("/")
    return name if group == GROUP and sep and name and "/" not in name else None


def option_key(name: str) -> str | None:
    """The registry key of an option this source answers for (None: not one of them)."""
    try:
        lib = library_model(name)
    except ModelError:
        return None
    if lib is not None:
        return library_key(*lib)
    if name in ALIASES or any(s.key == name for s in SPECS):
        return None  # the catalogue's own option answers
    return name if name in plugins.installed() else None


class ModelConfigSource(ConfigSource):
    """``model=timm:NAME``, ``model=terratorch:NAME``, ``model=<entry point>``."""

    @staticmethod
    def scheme() -> str:
        return SCHEME

    def load_config(self, config_path: str) -> ConfigResult:
        name = _option(config_path)
        key = option_key(name) if name else None
        if key is None:
            raise ModelError(f"no model option {config_path!r}")
        return ConfigResult(config=OmegaConf.create({"key": key}), path=f"{SCHEME}://",
                            provider=self.provider, header={"package": None})

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        return config_path.strip("/") == GROUP

    def is_config(self, config_path: str) -> bool:
        name = _option(config_path)
        return name is not None and option_key(name) is not None

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        if config_path.strip("/") != GROUP or results_filter == ObjectType.GROUP:
            return []
        return sorted(plugins.installed())


class ModelSearchPath(SearchPathPlugin):
    """Puts :class:`ModelConfigSource` on the config search path."""

    def manipulate_search_path(self, search_path: object) -> None:
        search_path.append(provider=SCHEME, path=f"{SCHEME}://")  # type: ignore[attr-defined]


def register() -> None:
    """Register the source and its search-path plugin with Hydra (idempotent)."""
    for plugin in (ModelConfigSource, ModelSearchPath):
        Plugins.instance().register(plugin)
