"""``geobench <stage> [args]``: the installed command; the same as ``python -m geobench.<stage> [args]``.

    geobench run model=resnet50 dataset=benv2
    geobench models check resnet50
    geobench download|prepare|aggregate|leaderboard|results|submit|validate ...
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# stage -> the module whose main() runs it
STAGES: dict[str, str] = {
    "run": "geobench.run",
    "download": "geobench.download",
    "prepare": "geobench.prepare",
    "models": "geobench.models.__main__",
    "aggregate": "geobench.aggregate.__main__",
    "leaderboard": "geobench.leaderboard.__main__",
    "results": "geobench.results",
    "submit": "geobench.submit",
    "validate": "geobench.validate",
}

USAGE = ("usage: geobench <stage> [args]   (the same as python -m geobench.<stage> [args])\n\nstages: "
         + ", ".join(STAGES) + "\n`geobench <stage> --help` describes each.")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    stage, rest = args[0], args[1:]
    if stage not in STAGES:
        import difflib

        close = difflib.get_close_matches(stage, list(STAGES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        print(f"error: unknown stage {stage!r}.{hint}\n{USAGE}", file=sys.stderr)
        return 2
    module = importlib.import_module(STAGES[stage])
    if stage == "run":  # a Hydra app: it reads sys.argv itself
        sys.argv = [f"geobench {stage}", *rest]
        module.main()
        return 0
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
