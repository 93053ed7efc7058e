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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geobench.aggregate.boards import Board
    from geobench.aggregate.inputs import Submission
    from geobench.aggregate.normalize import Normalizer
    from geobench.capabilities import Capability


@dataclass(frozen=True)
class StageResult:
    out: Path
    boards: list[Board]
    normalizer: Normalizer
    reps: int
    rows: int  # rows of capabilities.csv
    notes: list[str]  # capabilities left missing, and why
    seconds: float  # time spent scoring (loading and writing not counted)


def _with_published(subs: list[Submission], folder: str | Path,
                    caps: Sequence[Capability]) -> list[Submission]:
    """``subs`` and, after them, the published submissions of ``folder`` on the datasets and
    fine-tuning modes that ``subs`` ran (each published submission stays its own)."""
    from geobench.aggregate.published import load_published
    from geobench.errors import ConfigError

    synthetic = [c.name for c in caps if c.synthetic]
    if synthetic:
        raise ConfigError(f"capability {synthetic[0]!r} runs on geobench's synthetic data: the "
                          "published results have no scores for it (leave out published=)")
    datasets = {str(d) for s in subs for d in s.rows["dataset"]}
    modes = {str(m) for s in subs for m in s.rows["frozen_or_full_ft"]}
    return [*subs, *load_published(folder, datasets=datasets, modes=modes)]


def _scope(subs: list[Submission], capabilities: Sequence[str | Capability] | None,
           partial: bool, published: str | Path | None
           ) -> tuple[list[Submission], list[Capability], dict[str, Any]]:
    """The submissions to score (the published ones added), the capabilities, and the options
    that record both (none when they are the defaults)."""
    from geobench.aggregate.scope import select

    ran = {str(d) for s in subs for d in s.rows["dataset"]}
    caps = select(capabilities, partial=partial, datasets=ran)
    options: dict[str, Any] = {}
    if capabilities is not None or partial:
        options["capabilities"] = [c.name for c in caps]
    if partial:
        options["partial"] = True
    if published is not None:
        every = _with_published(subs, published, caps)
        options["published"] = [s.name for s in every[len(subs):]]
        subs = every
    return subs, caps, options


def run(inputs: Sequence[str | Path], out: str | Path, *, mode: str = "default",
        normalizer: str | Path | None = None, reps: int | None = None, seed: int = 0,
        ci: float = 0.95, unit: str = "seeds", raw_metrics: bool = False,
        plot_top: int | None = None, capabilities: Sequence[str | Capability] | None = None,
        partial: bool = False, published: str | Path | None = None) -> StageResult:
    """Load ``inputs`` (run directories, submission or official result folders; each its own
    submission), score them per fine-tuning mode and write every table into ``out``.

    Options as :func:`~geobench.aggregate.core.aggregate`; ``normalizer`` is a file (``None``:
    the shipped official one). ``capabilities``: names in ``conf/capability`` (``None``: the
    official nine); ``partial``: a capability the inputs ran only some datasets of is scored
    over those, marked partial (:func:`geobench.aggregate.scope.select`); ``published``: a
    published scores folder (:mod:`geobench.aggregate.published`) whose submissions are scored
    beside the inputs, on the datasets and modes the inputs ran. In default mode a submission's
    scores do not depend on the other inputs, so the published ones equal their scores on the
    published leaderboard. Nothing is written when an input or option is bad.

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
    subs, caps, scope = _scope(load_inputs(inputs, raw_metrics=raw_metrics), capabilities,
                               partial, published)
    t0 = time.perf_counter()
    boards = aggregate_boards(subs, mode=mode, normalizer=norm, reps=reps, seed=seed, ci=ci,
                              unit=unit, plot_top=top, capabilities=caps)
    seconds = time.perf_counter() - t0
    options = {"mode": mode, "reps": reps, "seed": seed, "ci": ci, "unit": unit,
               "raw_metrics": raw_metrics, "plot_seed": PLOT_SEED,
               "profile_points": PROFILE_POINTS, "plot_top": top, **scope}
    files = render_files(subs, boards, norm, options)
    write_folder(out, files)
    notes = [n for b in boards for n in b.result.notes]
    return StageResult(Path(out), boards, norm, reps, sum(len(b.result.capabilities) for b in boards),
                       notes, seconds)
