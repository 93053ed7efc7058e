"""The aggregate and leaderboard stages talk only through the aggregate output folder: the
rendering modules import nothing from geobench.aggregate, either stage runs (and can be
replaced) alone, a number edited in the folder's CSV is the number on the page, and no import
circle runs through either package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_leaderboard import EVIL, REPS, Page, write_inputs

from geobench.aggregate.__main__ import main as aggregate_main
from geobench.leaderboard.__main__ import main as leaderboard_main

PACKAGE = Path(__file__).resolve().parents[1] / "geobench"
FORBIDDEN = ("geobench.aggregate.core", "geobench.aggregate.stats", "geobench.aggregate.resample")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_inputs(tmp_path_factory.mktemp("stages") / "inputs")


@pytest.fixture(scope="module")
def folder(inputs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stages") / "agg"
    assert aggregate_main([*map(str, inputs), "--reps", str(REPS), "--out", str(out)]) == 0
    return out


# ------------------------------------------------------------------------------- static imports


def test_rendering_modules_import_nothing_from_the_aggregate_stage() -> None:
    from test_structure import import_graph

    graph = import_graph()  # geobench's own import edges (lazy ones included, TYPE_CHECKING not)
    render = {m for m in graph if m.startswith("geobench.leaderboard") and m != "geobench.leaderboard.__main__"}
    assert {"geobench.leaderboard.build", "geobench.leaderboard.reader", "geobench.leaderboard.pages"} <= render
    for name in sorted(render):
        found = sorted(m for m in graph[name] if m.startswith("geobench.aggregate"))
        assert not found, f"{name} imports {found}"
    # the command line runs the aggregate stage (given inputs) through its one entry point only
    cli = graph["geobench.leaderboard.__main__"]
    assert "geobench.aggregate.stage" in cli
    assert not [m for m in cli if m.startswith(FORBIDDEN)]


def test_rendering_a_folder_loads_no_aggregate_module(folder: Path, tmp_path: Path) -> None:
    code = ("import sys\n"
            "from geobench.leaderboard.__main__ import main\n"
            f"assert main([{str(folder)!r}, '--out', {str(tmp_path / 'board')!r}]) == 0\n"
            "print(sorted(m for m in sys.modules if m.startswith('geobench.aggregate')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "board" / "full_ft" / "capability-core.html").is_file()


# ------------------------------------------------------------------------------- two stages


def _cell(page: Page, table: str, model: str, key: str) -> dict:
    t = page.tables[table]
    row = next(r for r in t["rows"] if r[t["keys"].index("model")]["text"] == model)
    return row[t["keys"].index(key)]


def test_an_edited_number_in_the_aggregate_csv_is_on_the_page(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    edited = tmp_path / "agg"
    edited.mkdir()
    for f in folder.iterdir():
        (edited / f.name).write_bytes(f.read_bytes())
    path = edited / "capabilities.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    row = next(r for r in rows if r["backbone"] == EVIL)
    assert 0 < float(row["Core"]) < 1  # inspect: a fraction, as aggregate wrote it
    row["Core"] = "0.123456789"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "board"
    assert leaderboard_main([str(edited), "--out", str(out)]) == 0
    assert "capabilities.csv differs from the sha256 in its manifest.json" in capsys.readouterr().err
    index = Page((out / "index.html").read_text(encoding="utf-8"))
    cell = _cell(index, "full_ft-overview", EVIL, "Core")
    assert cell["v"] == "0.123457" and cell["text"].startswith("12.3")
    core = Page((out / "full_ft" / "capability-core.html").read_text(encoding="utf-8"))
    assert _cell(core, "full_ft-core-normalized", EVIL, "Core")["v"] == "0.123457"
    manifest = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))
    assert manifest["aggregate"] == {"format": "geobench-aggregate/1", "modified": ["capabilities.csv"]}


def test_inputs_give_the_pages_of_aggregate_then_render(inputs: list[Path], folder: Path,
                                                        tmp_path: Path) -> None:
    direct, kept, staged = tmp_path / "direct", tmp_path / "kept", tmp_path / "staged"
    assert leaderboard_main([*map(str, inputs), "--reps", str(REPS), "--out", str(direct),
                             "--aggregate-out", str(kept)]) == 0
    assert leaderboard_main([str(folder), "--out", str(staged)]) == 0
    a = {p.relative_to(direct): p.read_bytes() for p in direct.rglob("*") if p.is_file()}
    b = {p.relative_to(staged): p.read_bytes() for p in staged.rglob("*") if p.is_file()}
    assert a == b
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == {
        p.name: p.read_bytes() for p in folder.iterdir()}


def test_render_refuses_what_is_not_an_aggregate_folder(
        folder: Path, inputs: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "o")
    assert leaderboard_main([str(folder), "--mode", "official", "--out", out]) == 2
    assert "aggregate output folder: render it alone, without --mode" in capsys.readouterr().err
    assert leaderboard_main([str(folder), str(inputs[0]), "--out", out]) == 2
    assert "without other inputs" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in folder.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    caps = (broken / "capabilities.csv").read_text(encoding="utf-8").splitlines()
    head, first = caps[0].split(","), caps[1].split(",")
    first[head.index("Core")] = "abc"
    (broken / "capabilities.csv").write_text("\n".join([caps[0], ",".join(first), *caps[2:]]) + "\n",
                                             encoding="utf-8")
    assert leaderboard_main([str(broken), "--out", out]) == 2
    assert "capabilities.csv: Core: 'abc' is not a number" in capsys.readouterr().err
    (broken / "capabilities.csv").write_bytes((folder / "capabilities.csv").read_bytes())
    (broken / "poi.csv").write_text("frozen_or_full_ft,capability\n", encoding="utf-8")
    assert leaderboard_main([str(broken), "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "poi.csv: missing column(s) 'submission'" in err
    (broken / "manifest.json").write_text('{"format": "other/9"}', encoding="utf-8")
    assert leaderboard_main([str(broken), "--out", out]) == 2  # then it is an input, and not one
    assert "not a run directory" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_half_written_aggregate_folder_shows_in_its_hashes(
        inputs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files are replaced one by one, manifest.json last: a run that stops midway leaves files
    that differ from the (old) manifest, and the reader says which."""
    from geobench.aggregate import outputs
    from geobench.leaderboard.reader import read_aggregate

    out = tmp_path / "agg"
    assert aggregate_main([*map(str, inputs[:1]), "--reps", "50", "--out", str(out)]) == 0
    assert read_aggregate(out).modified == []
    written: list[str] = []
    real = outputs.atomic_write_text

    def failing(path: Path, text: str, **kw: object) -> Path:
        if len(written) == 2:
            raise OSError("disk full")
        written.append(Path(path).name)
        return real(path, text)

    monkeypatch.setattr(outputs, "atomic_write_text", failing)
    with pytest.raises(OSError, match="disk full"):
        aggregate_main([*map(str, inputs[:1]), "--reps", "60", "--out", str(out)])
    changed = read_aggregate(out).modified
    assert changed and set(changed) <= set(written) and "manifest.json" not in written
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
