"""geobench's local Hydra launcher, ``hydra/launcher=geobench_local``: the jobs of a multirun (the
workers of one sweep, ``-m worker=0,1,2``) as supervised child processes of the command; a worker
killed by a signal is logged, restarted and its unit redone (see :mod:`.launcher`)."""
