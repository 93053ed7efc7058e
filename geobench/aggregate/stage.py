"""The aggregate stage in one call: inputs -> an aggregate output folder.

``python -m geobench.aggregate`` runs it, and so does ``python -m geobench.leaderboard`` when it
is given inputs rather than a folder this stage wrote; the folder's files
(:mod:`geobench.aggregate.outputs`) are all that the pages are rendered from.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geobench.aggregate.boards import Board
    from geobench.aggregate.normalize import Normalizer


@dataclass(frozen=True)
class StageResult:
    out: Path
    boards: list[Board]
    normalizer: Normalizer
    reps: int
    rows: int  # rows of capabilities.csv
    notes: list[str]  # capabilities left missing, and why
    seconds: float  # time spent scoring (loading and writing not counted)


def run(inputs: Sequence[str | Path], out: str | Path, *, mode: str = "default",
        normalizer: str | Path | None = None, reps: int | None = None, seed: int = 0,
        ci: float = 0.95, unit: str = "seeds", raw_metrics: bool = False,
        plot_top: int | None = None) -> StageResult:
    """Load ``inputs`` (run directories, submission or official result folders; each its own
    submission), score them per fine-tuning mode and write every table into ``out``.

    Options as :func:`~geobench.aggregate.core.aggregate`; ``normalizer`` is a file (``None``:
    the shipped official one). Nothing is written when an input or option is bad.

    Raises:
        ConfigError: bad options. ResultsError, NormalizerError: inputs that cannot be scored.
    """
    from geobench.aggregate.boards import PLOT_SEED, PLOT_TOP, PROFILE_POINTS, aggregate_boards
    from geobench.aggregate.core import check_options
    from geobench.aggregate.inputs import load_inputs
    from geobench.aggregate.normalize import load_normalizer
    from geobench.aggregate.outputs import render_files, write_folder

    reps = check_options(mode, reps, ci, unit)
    top = PLOT_TOP if plot_top is None else int(plot_top)
    if top < 2:
        from geobench.errors import ConfigError

        raise ConfigError(f"--plot-top {top}: the pairwise plots need at least 2 entries")
    norm = load_normalizer(normalizer)
    subs = load_inputs(inputs, raw_metrics=raw_metrics)
    t0 = time.perf_counter()
    boards = aggregate_boards(subs, mode=mode, normalizer=norm, reps=reps, seed=seed, ci=ci,
                              unit=unit, plot_top=top)
    seconds = time.perf_counter() - t0
    options = {"mode": mode, "reps": reps, "seed": seed, "ci": ci, "unit": unit,
               "raw_metrics": raw_metrics, "plot_seed": PLOT_SEED,
               "profile_points": PROFILE_POINTS, "plot_top": top}
    files = render_files(subs, boards, norm, options)
    write_folder(out, files)
    notes = [n for b in boards for n in b.result.notes]
    return StageResult(Path(out), boards, norm, reps, sum(len(b.result.capabilities) for b in boards),
                       notes, seconds)
