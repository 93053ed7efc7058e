"""Aggregation: normalisation, IQM with stratified-bootstrap intervals, the official-compatible
mode, and ``python -m geobench.aggregate``.

Modules: :mod:`~geobench.aggregate.inputs` (run directories, submission and official folders),
:mod:`~geobench.aggregate.normalize` (frozen normalizer files), :mod:`~geobench.aggregate.stats`
(IQM, bootstrap, probability of improvement, profiles, ranks), :mod:`~geobench.aggregate.resample`
(the vectorised bootstrap engine), :mod:`~geobench.aggregate.official` (the published
leaderboard's computation), :mod:`~geobench.aggregate.core` (the tables of one set of
submissions), :mod:`~geobench.aggregate.boards` (one scoring per fine-tuning mode, plot numbers),
:mod:`~geobench.aggregate.outputs` (the output folder, format ``geobench-aggregate/1``),
:mod:`~geobench.aggregate.scope` (which capabilities are scored: official, named, partial),
:mod:`~geobench.aggregate.published` (a published per-seed scores table as inputs) and
:mod:`~geobench.aggregate.stage` (the stage in one call). The output folder is this stage's only
interface to the next one (:mod:`geobench.leaderboard`). Nothing heavy is imported here.
"""
