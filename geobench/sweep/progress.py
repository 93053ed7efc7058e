"""Live progress of a sweep: one status line on a terminal, plain log lines otherwise.

Everything is also written to ``RUN_DIR/run.log`` (the logging set-up of the run, which also
sends third-party log records and Python warnings there instead of to the terminal).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field

log = logging.getLogger("geobench.run")


def _fmt_seconds(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class Progress:
    """Tracks units (trials and seed runs) and prints where the sweep stands."""

    total_units: int
    mode: str = "auto"            # auto | live | log
    done_units: int = 0
    started: float = field(default_factory=time.monotonic)
    unit_seconds: list[float] = field(default_factory=list)
    status: str = ""

    def __post_init__(self) -> None:
        self.live = self.mode == "live" or (self.mode == "auto" and sys.stderr.isatty())

    def eta(self) -> str:
        if not self.unit_seconds:
            return "?"
        per = sum(self.unit_seconds) / len(self.unit_seconds)
        return _fmt_seconds(per * max(0, self.total_units - self.done_units))

    def begin(self, text: str) -> None:
        self.status = text
        log.info("%s | units %d/%d | ETA %s", text, self.done_units, self.total_units, self.eta())
        self._show(text)

    def epoch(self, epoch: int, value: float, best: float | None) -> None:
        best_s = "-" if best is None else f"{best:.4f}"
        text = f"{self.status} | epoch {epoch + 1} val {value:.4f} best {best_s}"
        if self.live:
            self._show(text)
        else:
            log.debug(text)

    def end(self, seconds: float, text: str) -> None:
        self.done_units += 1
        self.unit_seconds.append(seconds)
        log.info("%s | %.1f s | units %d/%d | ETA %s", text, seconds, self.done_units, self.total_units, self.eta())

    def _show(self, text: str) -> None:
        if self.live:
            line = f"[{self.done_units}/{self.total_units} ETA {self.eta()}] {text}"
            sys.stderr.write("\r\033[K" + line[:200])
            sys.stderr.flush()

    def close(self) -> None:
        if self.live:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"  # every line of run.log


def _console(h: logging.Handler) -> bool:
    """A handler that writes to the terminal (Hydra's job logging puts one on the root logger)."""
    if isinstance(h, logging.FileHandler) or not isinstance(h, logging.StreamHandler):
        return False
    return h.stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)


def _strip_warning(record: logging.LogRecord) -> bool:
    """A captured warning is logged as ``warnings.formatwarning``'s text, which ends in a newline:
    drop it (no empty lines in run.log)."""
    if isinstance(record.msg, str):
        record.msg = record.msg.rstrip()
    if isinstance(record.args, tuple):  # logger.warning("%s", text) in older Pythons
        record.args = tuple(a.rstrip() if isinstance(a, str) else a for a in record.args)
    return True


def _quiet_third_parties(fh: logging.Handler, run_dir_log: str) -> None:
    """Everything that is not geobench's own output goes to run.log only, in its one format:
    third-party log records (matplotlib's "building the font cache", Optuna's warnings) and Python
    warnings (``logging.captureWarnings``: rasterio's NotGeoreferencedWarning, Optuna's
    ExperimentalWarning). The root logger's terminal handlers and any other handler of run.log
    (Hydra's job logging writes the same file in another format) are replaced by ``fh``."""
    root = logging.getLogger()
    target = os.path.abspath(run_dir_log)
    for h in list(root.handlers):
        ours = getattr(h, "_geobench_run_log", False)
        same = isinstance(h, logging.FileHandler) and os.path.abspath(h.baseFilename) == target
        if ours or same or _console(h):
            root.removeHandler(h)
            if ours or same:
                h.close()
    root.addHandler(fh)
    logging.captureWarnings(True)  # warnings -> logger "py.warnings" -> root -> run.log
    warned = logging.getLogger("py.warnings")
    if _strip_warning not in warned.filters:
        warned.addFilter(_strip_warning)
    try:
        import optuna
    except ImportError:  # pragma: no cover - a dependency
        return
    optuna.logging.disable_default_handler()  # its own stderr handler
    optuna.logging.enable_propagation()


def setup_logging(run_dir_log: str, live: bool) -> None:
    """geobench's messages to run.log (all levels) and, unless ``live``, to the terminal (INFO
    and up); third-party messages and Python warnings to run.log only (one format)."""
    root = logging.getLogger("geobench")
    root.setLevel(logging.DEBUG)
    for h in list(root.handlers):
        root.removeHandler(h)
    fh = logging.FileHandler(run_dir_log)
    fh.setFormatter(logging.Formatter(LOG_FORMAT))
    fh.setLevel(logging.DEBUG)
    fh._geobench_run_log = True  # type: ignore[attr-defined]
    root.addHandler(fh)
    if not live:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        sh.setLevel(logging.INFO)
        root.addHandler(sh)
    root.propagate = False
    _quiet_third_parties(fh, run_dir_log)
