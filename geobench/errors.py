"""Every exception geobench raises for a user's mistake or a bad file.

Each message says what went wrong, names the file or field, and says what to do. Command-line
entry points catch :class:`GeoBenchError` and print its message without a traceback
(see :func:`geobench.cli.main_guard`).
"""

from __future__ import annotations

from pathlib import Path


class GeoBenchError(Exception):
    """Base class: a problem the user can fix; printed as one line, never as a traceback."""

    exit_code = 2


class ConfigError(GeoBenchError):
    """A command-line override or configuration value is invalid."""


class ManifestError(GeoBenchError):
    """A dataset manifest (datasets_manifest/<ds>.yaml) is malformed."""


class UnknownNameError(GeoBenchError):
    """A dataset, capability, model, ... key that does not exist; suggests close names."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(
            f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(sorted(known))}."
        )
        self.kind = kind
        self.name = name


class DatasetNotFoundError(GeoBenchError):
    """The raw or prepared files of a dataset are not where they should be."""


class CorruptFileError(GeoBenchError):
    """A file exists but cannot be parsed (truncated, flipped bytes, wrong format)."""

    def __init__(self, path: str | Path, what: str, hint: str = "") -> None:
        msg = f"{path}: {what}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)
        self.path = Path(path)


class ChecksumError(GeoBenchError):
    """A file's sha256 does not match the manifest or lock file."""


class DownloadError(GeoBenchError):
    """The hub could not be reached or refused the request."""


class ModelError(GeoBenchError):
    """A model cannot be built, or its weights cannot be loaded."""


class ResultsError(GeoBenchError):
    """A results store, submission or official result folder is malformed."""


class NormalizerError(GeoBenchError):
    """A normalizer file is malformed, or lacks bounds for a dataset being scored."""


class UnwritableError(GeoBenchError, PermissionError):
    """A file cannot be written because its folder is not writable (also a ``PermissionError``)."""


class DiskFullError(GeoBenchError, OSError):
    """A file cannot be written because its disk is full or over quota (also an ``OSError``,
    errno ``ENOSPC``/``EDQUOT``); the message names the file and its folder."""
