"""Package finished seed runs from run directories into a submission folder.

The folder is built in a temporary directory beside the target, validated, and renamed into
place, so ``submissions/<id>/`` is either complete and valid or absent.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geobench.config import OFFICIAL_PROTOCOL
from geobench.csvsafe import neutralize
from geobench.errors import ResultsError
from geobench.fileio import atomic_directory
from geobench.results_store import EXTRA_COLUMNS, OFFICIAL_COLUMNS, iter_rows
from geobench.submission import schema as S
from geobench.submission.report import Problem, Report
from geobench.sweep.model_info import MODEL_INFO_FILE

# A run directory records its model's facts in MODEL_INFO_FILE (geobench.sweep.model_info):
# {"<backbone>": {"parameters": N, "display_name": ..., "bands": [...], "patch_size": P, ...}}.
__all__ = ["MODEL_INFO_FILE", "InvalidSubmissionError", "SubmissionOptions", "build_submission",
           "load_repeat_rows", "model_entries", "rows_to_csv"]


class InvalidSubmissionError(ResultsError):
    """The packaged submission does not validate; nothing was written."""

    exit_code = 1

    def __init__(self, report: Report) -> None:
        super().__init__(f"the submission would not validate ({report.counts()}); nothing was written")
        self.report = report


@dataclass
class SubmissionOptions:
    """What the user says about the submission (the rest comes from the rows)."""

    submission_id: str | None = None
    fmt: str = "geobench"  # or "official"
    names: dict[str, str] = field(default_factory=dict)  # backbone -> display name
    sizes: dict[str, str] = field(default_factory=dict)  # backbone -> "300M" or a parameter count
    license: str | None = None  # None: from the model registry, else "N/A"
    paper: str | None = None
    code: str | None = None
    info: str = ""
    comments: str = "N/A"
    protocol: str = OFFICIAL_PROTOCOL  # rows of this protocol are accepted (another: a trial run)


def load_repeat_rows(run_dirs: list[Path]) -> list[dict[str, Any]]:
    """The seed-run rows (phase "repeat") of the run directories; HPO trials are left out."""
    if not run_dirs:
        raise ResultsError("no run directory given")
    seen: set[Path] = set()
    rows: list[dict[str, Any]] = []
    for d in run_dirs:
        key = Path(d).resolve()
        if key in seen:
            raise ResultsError(f"{d}: run directory given twice")
        seen.add(key)
        rows.extend(iter_rows(d))
    repeat = [r for r in rows if r.get("phase") == "repeat"]
    if not repeat:
        where = ", ".join(map(str, run_dirs))
        found = f"only {len(rows)} HPO trial rows" if rows else "no results rows at all"
        raise ResultsError(f"{where}: no finished seed runs (phase 'repeat') to submit, {found}; "
                           "let `python -m geobench.run` finish the seed runs first")
    by_id: dict[str, dict[str, Any]] = {}
    for row in repeat:
        other = by_id.setdefault(str(row["run_id"]), row)
        if other is not row and other != row:
            raise ResultsError(f"run {row['run_id']} appears in two run directories with different "
                               "results; submit them separately")
    return sorted(by_id.values(), key=lambda r: (str(r.get("backbone")), str(r.get("dataset")),
                                                 _num(r.get("Seed")), str(r.get("run_id"))))


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else -1.0


def _cell(value: Any) -> str:
    """A value as a CSV cell: numbers as Python prints them, text that a spreadsheet would run as
    a formula (``=…``, ``@…``, ``-x``) prefixed with ``'`` (:func:`geobench.csvsafe.neutralize`)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if value == value else ""
    if isinstance(value, str):
        return neutralize(value)
    return str(value)


def rows_to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """CSV text (``\n`` line ends, as the published files) of ``rows``' ``columns``; text cells
    are safe to open in a spreadsheet (:mod:`geobench.csvsafe`), numbers are unchanged.

    Raises:
        ResultsError: a value holds a line break (it would not survive as one CSV row here).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = [_cell(row.get(c)) for c in columns]
        for col, cell in zip(columns, cells, strict=True):
            if "\r" in cell or "\n" in cell:
                raise ResultsError(f"run {row.get('run_id')}: {col!r} holds a line break; results "
                                   "rows must hold single-line values")
        writer.writerow(cells)
    return buf.getvalue()


def _recorded(run_dirs: list[Path]) -> dict[str, dict[str, Any]]:
    """The model facts runs recorded in ``RUN_DIR/model_info.json`` (absent: none), each checked:
    ``parameters`` (int), ``display_name``/``license``/``source`` (text), ``paper`` (an http(s)
    link), ``bands`` (list of text), ``patch_size`` (int or null)."""
    out: dict[str, dict[str, Any]] = {}
    for d in run_dirs:
        path = Path(d) / MODEL_INFO_FILE
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResultsError(f"{path}: unreadable ({exc}); fix or delete it") from None
        if isinstance(data, dict):
            for backbone, entry in data.items():
                if isinstance(entry, dict):
                    out[str(backbone)] = _checked_facts(entry)
    return out


def _checked_facts(entry: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    n = entry.get("parameters")
    if isinstance(n, int) and not isinstance(n, bool) and n >= 0:
        facts["parameters"] = n
    for key in ("display_name", "license", "source"):
        if isinstance(entry.get(key), str) and entry[key].strip():
            facts[key] = entry[key].strip()
    if isinstance(entry.get("paper"), str) and re.fullmatch(r"https?://\S+", entry["paper"]):
        facts["paper"] = entry["paper"]
    if isinstance(entry.get("bands"), list) and all(isinstance(b, str) for b in entry["bands"]):
        facts["bands"] = list(entry["bands"])
    patch = entry.get("patch_size", "absent")
    if patch is None or (isinstance(patch, int) and not isinstance(patch, bool) and patch > 0):
        facts["patch_size"] = patch
    return facts


def _parse_size(text: str) -> tuple[int | None, str]:
    """'25557032' -> (25557032, '26M'); '300M' -> (None, '300M')."""
    t = text.strip()
    if re.fullmatch(r"[0-9]{1,15}", t):
        return int(t), S.format_size(int(t))
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*[KMBT]?", t, flags=re.IGNORECASE):
        raise ResultsError(f"model size {text!r}: give a parameter count (25557032) or a size such as 300M")
    return None, t.upper().replace(" ", "")


def _registry_spec(backbone: str) -> Any:
    """The model registry's spec of ``backbone`` (None for a model geobench does not know)."""
    from geobench.errors import GeoBenchError

    try:
        from geobench.models import get_spec
    except ImportError:  # a minimal install without the model registry
        return None
    try:
        return get_spec(backbone) if backbone in _registry_keys() else None
    except GeoBenchError:
        return None


def _registry_keys() -> list[str]:
    from geobench.models import list_models

    return list_models()


def model_entries(rows: list[dict[str, Any]], run_dirs: list[Path], opts: SubmissionOptions) -> list[dict[str, Any]]:
    """One geobench.json model entry per backbone. Each field comes from, in order: the options,
    the official leaderboard's table (display name and size, so known models keep their
    leaderboard names), the run directories' ``model_info.json`` (parameter count; and for a model
    of your own its name, license, paper, input bands, patch size, source), geobench's registry."""
    backbones = sorted({str(r["backbone"]) for r in rows})
    for what, mapping in (("--name", opts.names), ("--size", opts.sizes)):
        unknown = sorted(set(mapping) - set(backbones))
        if unknown:
            raise ResultsError(f"{what} names backbone(s) {', '.join(unknown)} that have no rows; "
                               f"the rows hold {', '.join(backbones)}")
    recorded = _recorded(run_dirs)
    entries = []
    for b in backbones:
        spec, facts = _registry_spec(b), recorded.get(b, {})
        official_name, official_size = S.OFFICIAL_MODELS.get(b, ("", ""))
        params: int | None = facts.get("parameters", spec.backbone_params if spec is not None else None)
        size = official_size or (S.format_size(params) if params is not None else "")
        if b in opts.sizes:
            params, size = _parse_size(opts.sizes[b])
        own = spec.display_name if spec is not None else facts.get("display_name", b)
        entry = {
            "backbone": b, "display_name": opts.names.get(b) or official_name or own,
            "parameters": params, "size": size,
            "license": opts.license or (spec.license if spec is not None else facts.get("license")) or "N/A",
            "paper": opts.paper or (spec.paper if spec is not None else facts.get("paper")) or "N/A",
            "code": opts.code or "N/A",
        }  # fmt: skip
        entry.update({k: facts[k] for k in S.MODEL_OPTIONAL_KEYS if k in facts})
        entries.append(entry)
    return entries


def _protocol(rows: list[dict[str, Any]], run_dirs: list[Path], accepted: str = OFFICIAL_PROTOCOL) -> dict[str, Any]:
    """geobench.json's protocol block: the rows' protocol, seeds, budgets and resolved settings."""
    from geobench.submission.protocol_check import protocol_problems, run_settings

    settings = run_settings(run_dirs)
    problems = protocol_problems(rows, settings, accepted)
    if problems:
        which = "the published protocol" if accepted == OFFICIAL_PROTOCOL else f"protocol {accepted!r}"
        raise ResultsError(f"only results of {which} can be submitted:\n  " + "\n  ".join(problems))
    counts = Counter((r["backbone"], r["dataset"]) for r in rows)
    trials = {str(r["dataset"]): r["n_trials"] for r in rows}
    names = sorted({str(r.get("protocol")) for r in rows})
    hashes = sorted({str(r["protocol_hash"]) for r in rows if r.get("protocol_hash")})
    return {
        "name": names[0] if len(names) == 1 else "mixed",
        "protocol_hashes": hashes,
        "settings": {h: settings[h] for h in hashes if h in settings},
        "repeated_seeds": Counter(counts.values()).most_common(1)[0][0],
        "seeds": sorted({int(r["Seed"]) for r in rows if isinstance(r.get("Seed"), int)}),
        "hpo_trials": dict(sorted(trials.items())),
        "config_hashes": sorted({str(r["config_hash"]) for r in rows if r.get("config_hash")}),
    }


def additional_info(rows: list[dict[str, Any]], models: list[dict[str, Any]], protocol: dict[str, Any],
                    opts: SubmissionOptions) -> dict[str, Any]:
    """The official additional_info.json; models new to the leaderboard go to "New model info"."""
    from geobench import __version__

    trials = [r["n_trials"] for r in rows if isinstance(r.get("n_trials"), int)]
    info = opts.info or (f"Produced with geobench {__version__} (protocol {protocol['name']}: "
                         f"{protocol['repeated_seeds']} seeds per dataset after Optuna HPO).")
    def shared(key: str) -> str:  # one value for the submission: the models' if they agree
        values = {m[key] for m in models}
        return values.pop() if len(values) == 1 else "N/A"

    return {
        "Paper Link": opts.paper or shared("paper"),
        "Code Repository Link ": opts.code or shared("code"),
        "License": opts.license or shared("license"),
        "Number of HPO trials": str(max(trials)) if trials else "N/A",
        S.SEEDS_KEY: str(protocol["repeated_seeds"]),
        "Additional information about submission": info,
        "Comments on new models in submission": opts.comments,
        "New model info": [
            {"model_display_name": m["display_name"], "model_size": m["size"],
             "unique_backbone_key": m["backbone"]}
            for m in models if m["backbone"] not in S.OFFICIAL_MODELS
        ],
    }


def _files(rows: list[dict[str, Any]], run_dirs: list[Path], opts: SubmissionOptions, sid: str) -> dict[str, str]:
    from geobench import __version__

    modes = sorted({str(r.get("frozen_or_full_ft")) for r in rows})
    if len(modes) > 1:
        raise ResultsError(f"the runs mix fine-tuning modes ({', '.join(modes)}); the leaderboard ranks "
                           "each separately: submit the run directories of each mode separately")
    if opts.fmt == "official" and opts.protocol != OFFICIAL_PROTOCOL:
        raise ResultsError(f"--format official takes {OFFICIAL_PROTOCOL} results only (the official "
                           f"leaderboard's protocol); drop --protocol {opts.protocol}")
    if opts.fmt == "official" and modes[0] not in S.OFFICIAL_FT_MODES:
        raise ResultsError(f"fine-tuning mode {modes[0]!r}: the official leaderboard accepts only "
                           f"{' and '.join(S.OFFICIAL_FT_MODES)} results")
    models = model_entries(rows, run_dirs, opts)
    protocol = _protocol(rows, run_dirs, opts.protocol)
    info = additional_info(rows, models, protocol, opts)
    dump = lambda obj: json.dumps(obj, indent=2, ensure_ascii=False) + "\n"  # noqa: E731
    if opts.fmt == "official":
        return {S.CSV_FILE: rows_to_csv(rows, OFFICIAL_COLUMNS), S.JSON_FILE: dump(info)}
    meta = {
        "format_version": S.GEOBENCH_FORMAT_VERSION,
        "submission_id": sid,
        "created_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "geobench_version": __version__,
        "fine_tuning": modes[0],
        "protocol": protocol,
        "models": models,
    }
    return {S.CSV_FILE: rows_to_csv(rows, OFFICIAL_COLUMNS + EXTRA_COLUMNS), S.JSON_FILE: dump(info),
            S.GEOBENCH_FILE: dump(meta)}


def build_submission(run_dirs: list[Path], out_dir: Path, opts: SubmissionOptions) -> tuple[Path, Report]:
    """Write ``out_dir/<id>/`` from the run directories' seed runs; return it and its report.

    Raises:
        ResultsError: no seed runs, mixed fine-tuning modes, a bad option, or the target exists.
        InvalidSubmissionError: the result would not validate (its report lists why).
    """
    from geobench.submission.validator import validate_path

    sid = opts.submission_id or str(uuid.uuid4())
    if not re.fullmatch(S.SUBMISSION_ID_PATTERN, sid):
        raise ResultsError(f"--id {sid!r}: use letters, digits and _ . - only (at most 100 characters)")
    if opts.fmt not in ("geobench", "official"):
        raise ResultsError(f"format {opts.fmt!r}: expected geobench or official")
    rows = load_repeat_rows(run_dirs)
    files = _files(rows, run_dirs, opts, sid)
    target = out_dir / sid
    if target.exists() or target.is_symlink():
        raise ResultsError(f"{target} already exists; choose another --id or remove it")
    # staged as out_dir/.<id>.<random>.tmp/<id>/ (the validator sees the real folder name), renamed
    # into place only once valid; every file is fsynced first
    with atomic_directory(target) as folder:
        for name, text in files.items():
            with open(folder / name, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        report = validate_path(folder, protocol=opts.protocol)
        report.path = target
        report.problems = [Problem(p.file.replace(str(folder), str(target), 1), p.line, p.severity, p.message)
                           for p in report.problems]
        if not report.ok:
            raise InvalidSubmissionError(report)
        if target.exists():
            raise ResultsError(f"{target} appeared while packaging; choose another --id")
    return target, report
