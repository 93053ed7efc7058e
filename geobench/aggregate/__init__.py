"""Aggregation: normalisation, IQM with stratified-bootstrap intervals, the official-compatible
mode, and ``python -m geobench.aggregate``.

Modules: :mod:`~geobench.aggregate.inputs` (run directories, submission and official folders),
:mod:`~geobench.aggregate.normalize` (frozen normalizer files), :mod:`~geobench.aggregate.stats`
(IQM, bootstrap, probability of improvement, profiles, ranks), :mod:`~geobench.aggregate.resample`
(the vectorised bootstrap engine), :mod:`~geobench.aggregate.official` (the published
leaderboard's computation) and :mod:`~geobench.aggregate.core` (tables). Nothing heavy is
imported here.
"""
