"""Static HTML leaderboards: ``python -m geobench.leaderboard AGGREGATE_DIR | INPUT...``.

Pages work from ``file://`` (no server, no network): an overview with one separately ranked
section per fine-tuning mode (full fine-tuning, frozen, LoRA), a page per capability and per
dataset, SVG plots, submission details, sortable tables, and CSV/JSON of every table. Every
number is read from an aggregate output folder (:mod:`geobench.leaderboard.reader`; written by
``python -m geobench.aggregate``); the rendering modules import nothing from
:mod:`geobench.aggregate`. See :mod:`geobench.leaderboard.build`; the per-seed scores table every
leaderboard carries (and the published one shipped in ``published/``):
:mod:`geobench.leaderboard.scores_table`; a run's leaderboard: :mod:`geobench.leaderboard.runboard`.
"""
