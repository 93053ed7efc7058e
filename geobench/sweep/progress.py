"""Live progress of a sweep: one status line on a terminal, plain log lines otherwise.

Everything is also written to ``RUN_DIR/run.log`` (the logging set-up of the run).
"""

from __future__ import annotations

import logging
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


def setup_logging(run_dir_log: str, live: bool) -> None:
    root = logging.getLogger("geobench")
    root.setLevel(logging.DEBUG)
    for h in list(root.handlers):
        root.removeHandler(h)
    fh = logging.FileHandler(run_dir_log)
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    fh.setLevel(logging.DEBUG)
    root.addHandler(fh)
    if not live:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        sh.setLevel(logging.INFO)
        root.addHandler(sh)
    root.propagate = False
