"""Validate a submission folder (geobench's layout or the official two-file layout).

:func:`validate_path` never raises for bad input: every problem becomes a :class:`Problem` with
its file and line, so a user sees all of them at once.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from geobench.config import OFFICIAL_PROTOCOL
from geobench.manifest import DATASETS
from geobench.submission import schema as S
from geobench.submission.csv_check import CsvContents, check_rows, read_csv
from geobench.submission.json_check import (
    AdditionalInfo,
    GeobenchMeta,
    check_additional_info,
    check_geobench_json,
    load_json,
)
from geobench.submission.plausibility import check_published
from geobench.submission.report import OutOfTime, Report


def _list_folder(folder: Path, report: Report) -> dict[str, Path] | None:
    """The submission's regular files by name; every other entry is reported."""
    files: dict[str, Path] = {}
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        report.error(folder, None, f"cannot list the folder: {exc.strerror or exc}")
        return None
    if len(entries) > S.MAX_FOLDER_ENTRIES:
        report.error(folder, None, f"holds {len(entries)} entries; a submission holds only "
                     f"{', '.join(S.GEOBENCH_FILES)}")
        return None
    layout_files = S.GEOBENCH_FILES if any(e.name == S.GEOBENCH_FILE for e in entries) else S.OFFICIAL_FILES
    for entry in entries:
        shown = folder / entry.name
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            report.error(shown, None, "is a symbolic link; a submission holds plain files only")
        elif stat.S_ISDIR(mode):
            report.error(shown, None, f"unexpected folder; a submission holds only {', '.join(layout_files)}")
        elif entry.name in S.IGNORED_FILES:
            report.warning(shown, None, "remove this file from the submission")
        elif not stat.S_ISREG(mode):
            report.error(shown, None, "is not a regular file")
        elif entry.name not in layout_files:
            report.error(shown, None, f"unexpected file; a submission holds only {', '.join(layout_files)}")
        else:
            files[entry.name] = shown
    for name in layout_files:
        if name not in files and not (folder / name).is_symlink():
            report.error(folder / name, None, "missing")
    return files


def _seed_count(seeds: int | None, info: AdditionalInfo, meta: GeobenchMeta, json_file: Path,
                geobench_file: Path, report: Report) -> int:
    if info.seeds is not None and meta.seeds is not None and info.seeds != meta.seeds:
        report.error(geobench_file, meta.seeds_line, f"protocol.repeated_seeds is {meta.seeds} but "
                     f"additional_info.json says {info.seeds}")
    if seeds is not None:
        return seeds
    if info.seeds is not None:
        if info.seeds != S.OFFICIAL_REQUIRED_SEEDS:
            report.warning(json_file, info.seeds_line, f"{info.seeds} seeds per (backbone, dataset): "
                           f"the leaderboard requires {S.OFFICIAL_REQUIRED_SEEDS}")
        return info.seeds
    if meta.seeds is not None:
        if meta.seeds != S.OFFICIAL_REQUIRED_SEEDS:
            report.warning(geobench_file, meta.seeds_line, f"{meta.seeds} seeds per (backbone, dataset): "
                           f"the leaderboard requires {S.OFFICIAL_REQUIRED_SEEDS}")
        return meta.seeds
    return S.OFFICIAL_REQUIRED_SEEDS


def _coverage(contents: CsvContents, csv_file: Path, report: Report,
              protocol: str = OFFICIAL_PROTOCOL) -> dict[str, dict[str, list[str]]]:
    """Which capabilities each backbone covers completely; warn for partly covered ones. A trial
    run of another protocol (``--protocol smoke``) may also complete geobench's own capabilities
    (``smoke``)."""
    from geobench.capabilities import (
        OFFICIAL_CAPABILITIES,
        available_capabilities,
        load_capability,
        official_capabilities,
    )

    caps = official_capabilities()
    if protocol != OFFICIAL_PROTOCOL:
        caps += [load_capability(c) for c in available_capabilities() if c not in OFFICIAL_CAPABILITIES]
    by_backbone: dict[str, set[str]] = {b: set() for b in contents.backbones}
    for row in contents.rows:
        report.check_time()
        b, d = row.cells.get("backbone", ""), row.cells.get("dataset", "")
        if b in by_backbone and d in DATASETS:
            by_backbone[b].add(d)
    union = set().union(*by_backbone.values()) if by_backbone else set()
    if contents.rows and "dataset" in contents.columns and not any(set(c.datasets) <= union for c in caps):
        best = min(caps, key=lambda c: len(set(c.datasets) - union))
        report.error(csv_file, None, "no capability is complete: a submission needs every dataset of "
                     f"at least one capability (closest: {best.display_name}, missing "
                     f"{', '.join(sorted(set(best.datasets) - union))})")
    out: dict[str, dict[str, list[str]]] = {}
    for backbone, datasets in by_backbone.items():
        report.check_time()
        line = contents.backbones[backbone]
        full = [c.display_name for c in caps if set(c.datasets) <= datasets]
        partial = [c for c in caps if set(c.datasets) & datasets and not set(c.datasets) <= datasets]
        out[backbone] = {"datasets": sorted(datasets), "complete": full,
                         "partial": [c.display_name for c in partial]}
        report.info(csv_file, line, f"backbone {backbone!r}: {len(datasets)} datasets; complete "
                    f"capabilities: {', '.join(full) if full else 'none'}")
        if partial:
            gaps = "; ".join(f"{c.display_name} lacks {', '.join(sorted(set(c.datasets) - datasets))}"
                             for c in partial)
            report.warning(csv_file, line, f"backbone {backbone!r}: incomplete capabilities get no "
                           f"score: {gaps}")
    return out


def _cross_check(contents: CsvContents, info: AdditionalInfo | None, meta: GeobenchMeta | None,
                 folder: Path, report: Report) -> None:
    json_file, gb_file = folder / S.JSON_FILE, folder / S.GEOBENCH_FILE
    csv_backbones = contents.backbones
    if info is not None:
        for backbone, first in csv_backbones.items():
            if backbone not in S.OFFICIAL_MODELS and backbone not in info.new_models:
                report.error(json_file, None, f"backbone {backbone!r} (CSV line {first}) is new to the "
                             "leaderboard: add it to 'New model info' with model_display_name, "
                             "model_size and unique_backbone_key")
        for backbone, line in info.new_models.items():
            if backbone not in csv_backbones:
                report.warning(json_file, line, f"'New model info' lists {backbone!r}, which has no rows")
    if meta is not None:
        for backbone, first in csv_backbones.items():
            if backbone not in meta.models:
                report.error(gb_file, None, f"backbone {backbone!r} (CSV line {first}) has no entry in models")
        for backbone, line in meta.models.items():
            if backbone not in csv_backbones:
                report.warning(gb_file, line, f"models lists {backbone!r}, which has no rows")
        if meta.fine_tuning is not None and len(contents.ft_modes) == 1 and meta.fine_tuning not in contents.ft_modes:
            report.error(gb_file, meta.fine_tuning_line, f"fine_tuning is {meta.fine_tuning!r} but the "
                         f"rows say {next(iter(contents.ft_modes))!r}")
        if meta.submission_id is not None and meta.submission_id != folder.name:
            report.warning(gb_file, None, f"submission_id {meta.submission_id[:100]!r} differs from the "
                           f"folder name {folder.name!r}")


def _check_protocol(contents: CsvContents, meta: GeobenchMeta | None, csv_file: Path, report: Report,
                    protocol: str = OFFICIAL_PROTOCOL) -> None:
    """geobench layout: every (backbone, dataset) must come from the published protocol (or the
    one named by ``--protocol``)."""
    from geobench.submission.protocol_check import row_problem

    if "protocol" not in contents.columns:
        return
    settings = meta.protocol_settings if meta is not None else {}
    reported: set[str] = set()
    for row in contents.rows:
        report.check_time()
        problem = row_problem(row.cells, settings.get(row.cells.get("protocol_hash", "")), protocol)
        if problem and problem not in reported:  # once per distinct problem, at its first line
            reported.add(problem)
            report.error(csv_file, row.line, problem)


def _check_files(folder: Path, files: dict[str, Path], layout: str, seeds: int | None, report: Report,
                 protocol: str = OFFICIAL_PROTOCOL) -> None:
    """Every check after the folder listing; ``report.check_time()`` runs between steps and rows."""
    info = meta = None
    if S.JSON_FILE in files:
        doc = load_json(files[S.JSON_FILE], str(files[S.JSON_FILE]), report)
        if doc is not None:
            info = check_additional_info(doc, str(files[S.JSON_FILE]), report)
    report.check_time()
    if S.GEOBENCH_FILE in files:
        doc = load_json(files[S.GEOBENCH_FILE], str(files[S.GEOBENCH_FILE]), report)
        if doc is not None:
            meta = check_geobench_json(doc, str(files[S.GEOBENCH_FILE]), report)
    report.check_time()
    n_seeds = _seed_count(seeds, info or AdditionalInfo(), meta or GeobenchMeta(),
                          folder / S.JSON_FILE, folder / S.GEOBENCH_FILE, report)
    report.summary = {"layout": layout, "seeds": n_seeds}
    if S.CSV_FILE not in files:
        return
    csv_file = files[S.CSV_FILE]
    contents = read_csv(csv_file, str(csv_file), layout, report)
    if contents is None:
        return
    check_rows(contents, n_seeds, str(csv_file), report)
    report.summary["rows"] = len(contents.rows)
    report.summary["fine_tuning"] = sorted(contents.ft_modes)
    if "backbone" in contents.columns:
        report.check_time()
        report.summary["backbones"] = _coverage(contents, csv_file, report, protocol)
        _cross_check(contents, info, meta, folder, report)
        check_published(contents, str(csv_file), report)
        if layout == "geobench":
            _check_protocol(contents, meta, csv_file, report, protocol)


def validate_path(path: str | Path, *, seeds: int | None = None,
                  budget_s: float | None = S.VALIDATION_BUDGET_S,
                  protocol: str = OFFICIAL_PROTOCOL) -> Report:
    """Validate one submission folder (a file inside it is taken as its folder).

    Args:
        path: the folder holding ``results_and_parameters.csv`` and ``additional_info.json``
            (and ``geobench.json`` in geobench's layout).
        seeds: required seed runs per (backbone, dataset); default: ``additional_info.json``'s
            "Number of repeated seeds trials", else ``geobench.json``'s protocol, else 5.
        budget_s: stop checking after this many seconds (one error says so); None: no limit.
            Work grows linearly with the input, within the size limits of :mod:`.schema`.
        protocol: the protocol whose rows are accepted (geobench layout): ``geobench2`` with its
            exact settings (the default: what the leaderboard takes), or another protocol's
            name for a trial run (``smoke``), whose rows are accepted by name.

    Returns:
        A :class:`Report` listing every problem (``report.ok`` is False if any is an error).
    """
    folder = Path(path)
    report = Report(folder)
    report.start_budget(budget_s)
    if folder.is_file() and folder.name in S.GEOBENCH_FILES and not folder.is_symlink():
        folder = folder.parent
        report.path = folder
    if not folder.exists() and not folder.is_symlink():
        report.error(folder, None, "not found")
        return report
    if folder.is_symlink() or not folder.is_dir():
        report.error(folder, None, "not a submission folder (give the folder holding "
                     f"{S.CSV_FILE} and {S.JSON_FILE})")
        return report
    files = _list_folder(folder, report)
    if files is None:
        return report
    geobench_layout = S.GEOBENCH_FILE in files or (folder / S.GEOBENCH_FILE).is_symlink()
    report.layout = "geobench" if geobench_layout else "official"
    try:
        _check_files(folder, files, report.layout, seeds, report, protocol)
    except OutOfTime:
        report.error(folder, None, f"validation took longer than {budget_s:g} s and was stopped: "
                     "what comes after the problems listed was not checked (is the submission "
                     "unusually large?)")
    report.finish()
    return report
