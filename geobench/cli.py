"""Small helpers shared by the ``python -m geobench.<stage>`` entry points.

The data stages (download, prepare) take Hydra-style ``key=value`` overrides so that their command
lines look like ``geobench.run``'s, without paying Hydra's start-up for a one-shot command.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from geobench.errors import ConfigError, GeoBenchError

F = TypeVar("F", bound=Callable[..., int])


def parse_overrides(
    argv: Sequence[str], allowed: dict[str, str], *, required: Sequence[str] = ()
) -> dict[str, str]:
    """Parse ``key=value`` arguments.

    Args:
        argv: the arguments (without the program name).
        allowed: key -> one-line help, the keys this command accepts.
        required: keys that must be present.

    Raises:
        ConfigError: an argument is not ``key=value``, a key is unknown, or a required key is missing.
    """
    out: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+")
        if not sep or not key:
            raise ConfigError(f"argument {arg!r} is not of the form key=value; accepted keys: "
                              + ", ".join(sorted(allowed)))
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(key, list(allowed), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown key {key!r}.{hint} Accepted keys: {', '.join(sorted(allowed))}")
        out[key] = value
    missing = [k for k in required if k not in out]
    if missing:
        raise ConfigError(f"missing {', '.join(f'{k}=...' for k in missing)}")
    return out


def usage(prog: str, summary: str, allowed: dict[str, str]) -> str:
    lines = [f"usage: python -m {prog} key=value ...", "", summary, "", "keys:"]
    width = max(len(k) for k in allowed)
    lines += [f"  {k.ljust(width)}  {v}" for k, v in allowed.items()]
    return "\n".join(lines)


def main_guard(func: F) -> F:
    """Run a command-line main(); print a :class:`GeoBenchError` as one line, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return func(*args, **kwargs)
        except GeoBenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper  # type: ignore[return-value]


def parse_list(value: str) -> list[str]:
    """``[a,b]`` or ``a,b`` -> ``['a', 'b']``."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return [v.strip().strip("'\"") for v in value.split(",") if v.strip()]


def datasets_from_args(args: dict[str, str]) -> tuple[list[str], Any]:
    """The datasets named by ``dataset=`` (one or a list) or ``capability=`` (and the capability)."""
    from geobench.capabilities import load_capability

    if "dataset" in args and "capability" in args:
        raise ConfigError("give dataset=... or capability=..., not both")
    if "dataset" in args:
        return parse_list(args["dataset"]), None
    if "capability" in args:
        cap = load_capability(args["capability"])
        return list(cap.datasets), cap
    raise ConfigError("missing dataset=<ds> or capability=<cap>")


def parse_bool(value: str, key: str) -> bool:
    """``true/1/yes`` or ``false/0/no`` (any case); anything else is a ConfigError naming the key."""
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ConfigError(f"{key}={value!r}: expected true or false")
