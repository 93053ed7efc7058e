"""Leaderboard pages: page set and links, missing-data notes, the frozen / full fine-tuning split,
CSV/JSON equal to the tables, escaping, deterministic and atomic rebuilds, the CLI and
import-official. The browser checks are in test_leaderboard_browser.py (they reuse
:func:`write_inputs` and :func:`build_board` from here)."""

from __future__ import annotations

import csv
import json
import math
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from geobench.leaderboard.__main__ import main

EVIL = "<script>alert(1)</script>"
EVIL_SUB = 'evil"><svg onload=alert(5)>'
REPS = 200
METRICS = {
    "treesatai": "Multilabel_F1_Score", "benv2": "Multilabel_F1_Score",
    "forestnet": "Overall_Accuracy", "so2sat": "Overall_Accuracy", "biomassters": "RMSE",
    "everwatch": "test_test_map", "nzcattle": "test_test_map",
    "pastis_r": "test_test_segm_map", "substation": "test_test_segm_map",
}  # fmt: skip
DETECTION = ("everwatch", "nzcattle", "pastis_r", "substation")
ALL_DATASETS = (
    "benv2", "treesatai", "so2sat", "forestnet", "biomassters", "caffe", "cloudsen12",
    "burn_scars", "dynamic_earthnet", "flair2", "fotw", "kuro_siwo", "pastis", "spacenet2",
    "spacenet7", "everwatch", "nzcattle", "pastis_r", "substation",
)  # fmt: skip
CAPS = ("core", "multi_spectral_dependent", "multi_temporal", "pixel_wise", "classification",
        "detection", "under_10m", "at_least_10m", "rgb_nir")


def _rows(backbone: str, mode: str, quality: float, datasets: tuple[str, ...],
          rng: np.random.Generator) -> list[dict]:
    from geobench.aggregate.normalize import load_normalizer

    bounds = load_normalizer().bounds
    rows = []
    for d in datasets:
        lo, hi = bounds[d]
        for seed in (11, 22, 33, 44, 55):
            rows.append({"dataset": d, "Metric": METRICS.get(d, "Multiclass_Jaccard_Index"),
                         "test metric": lo + (hi - lo) * (quality + rng.normal(0, 0.08)),
                         "Seed": seed, "backbone": backbone, "decoder": "UNet",
                         "frozen_or_full_ft": mode})
    return rows


def _write(folder: Path, rows: list[dict], info: dict) -> Path:
    folder.mkdir(parents=True)
    with open(folder / "results_and_parameters.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (folder / "additional_info.json").write_text(json.dumps(info), encoding="utf-8")
    return folder


def write_inputs(root: Path) -> list[Path]:
    """Three official-layout submissions: a full fine-tuning one (with a backbone named like a
    script tag and one lacking the detection datasets), a frozen one whose folder name and info
    are hostile, and one with full fine-tuning and LoRA rows for different backbones."""
    rng = np.random.default_rng(7)
    no_det = tuple(d for d in ALL_DATASETS if d not in DETECTION)
    base_info = {"Paper Link": "https://example.org/paper", "License": "Apache 2.0",
                 "New model info": [{"model_display_name": "", "model_size": "",
                                     "unique_backbone_key": ""}]}
    a = _write(root / "alpha-full",
               _rows("resnet50", "full_ft", 0.35, ALL_DATASETS, rng)
               + _rows(EVIL, "full_ft", 0.6, ALL_DATASETS, rng)
               + _rows("dofa_base_patch16_224", "full_ft", 0.5, no_det, rng), base_info)
    b = _write(root / EVIL_SUB,
               _rows("resnet50", "frozen", 0.2, no_det, rng)
               + _rows("clay_v1_base", "frozen", 0.3, no_det, rng),
               {"Paper Link": "javascript:alert(3)",
                "Additional information about submission": "<img src=x onerror=alert(2)>",
                "New model info": [{"model_display_name": "Clay <b>bold</b>", "model_size": "100M",
                                    "unique_backbone_key": "clay_v1_base"}]})
    c = _write(root / "gamma-mixed",
               [{**r, "protocol": "geobench2"} for r in
                _rows("terramind_v1_base", "full_ft", 0.7, ALL_DATASETS, rng)
                + _rows("prithvi_eo_v2_300_tl", "lora", 0.45, ALL_DATASETS, rng)
                + _rows("resnet50", "lora", 0.3, ALL_DATASETS, rng)], base_info)
    return [a, b, c]


def build_board(root: Path) -> Path:
    inputs = write_inputs(root / "inputs")
    out = root / "board"
    rc = main([*map(str, inputs), "--out", str(out), "--reps", str(REPS), "--title", "Test board"])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_board(tmp_path_factory.mktemp("lb"))


class Page(HTMLParser):
    """Links, ids, tables (header keys, cells with data-v and text) and notes of one page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.tables: dict[str, dict] = {}
        self.scripts: list[dict] = []
        self.notes: list[str] = []
        self._table: dict | None = None
        self._cell: dict | None = None
        self._note_depth = 0
        self._note_text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if key in a:
                self.links.append(a[key])
        if tag == "script":
            self.scripts.append(a)
        if tag == "div" and a.get("class") == "note":
            self._note_depth, self._note_text = 1, []
        elif tag == "div" and self._note_depth:
            self._note_depth += 1
        if tag == "table" and "data-table" in a:
            self._table = {"keys": [], "types": [], "rows": []}
            self.tables[a["data-table"]] = self._table
        elif self._table is not None:
            if tag == "th":
                self._table["keys"].append(a["data-k"])
                self._table["types"].append(a["data-type"])
            elif tag == "tr" and self._table["keys"]:
                self._table["rows"].append([])
            elif tag == "td":
                self._cell = {"v": a.get("data-v"), "text": "", "class": a.get("class", "")}
                self._table["rows"][-1].append(self._cell)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        if tag == "td":
            self._cell = None
        if tag == "div" and self._note_depth:
            self._note_depth -= 1
            if not self._note_depth:
                self.notes.append("".join(self._note_text))

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
        if self._note_depth:
            self._note_text.append(data)


def pages(out: Path) -> dict[str, Page]:
    return {p.relative_to(out).as_posix(): Page(p.read_text(encoding="utf-8"))
            for p in sorted(out.rglob("*.html"))}


def test_page_set_and_every_link_resolves(board: Path) -> None:
    parsed = pages(board)
    expected = {"index.html", "submissions.html"}
    for mode in ("full_ft", "lora"):
        expected |= {f"{mode}/capability-{c}.html" for c in CAPS}
        expected |= {f"{mode}/dataset-{d}.html" for d in ALL_DATASETS}
    expected |= {f"frozen/capability-{c}.html" for c in CAPS}
    expected |= {f"frozen/dataset-{d}.html" for d in ALL_DATASETS if d not in DETECTION}
    assert set(parsed) == expected
    for c in CAPS:  # every capability with two complete models has its four plots
        for kind in ("intervals", "poi", "profiles", "ranks"):
            assert (board / "full_ft" / "plots" / f"{c}-{kind}.svg").is_file()
    checked = 0
    for rel, page in parsed.items():
        assert any(s.get("src", "").endswith("assets/sort.js") for s in page.scripts)
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                continue
            assert not parts.scheme, f"{rel}: unexpected link {link!r}"
            target = (board / rel).parent / unquote(parts.path) if parts.path else board / rel
            target = target.resolve()
            assert target.is_file(), f"{rel}: broken link {link!r}"
            assert board.resolve() in target.parents
            if parts.fragment and target.suffix == ".html":
                target_page = parsed[target.relative_to(board.resolve()).as_posix()]
                assert unquote(parts.fragment) in target_page.ids, f"{rel}: no #{parts.fragment}"
            checked += 1
    assert checked > 500
    for svg in board.rglob("*.svg"):  # well-formed XML
        ET.parse(svg)
    for table_csv in (board / "data").glob("*.csv"):
        name = table_csv.name
        if name == "scores.csv":  # the per-seed scores; scores-info.json describes them
            assert (board / "data" / "scores-info.json").is_file()
        elif not name.endswith(("-poi.csv", "-ranks.csv")):
            assert table_csv.with_suffix(".json").is_file(), name
    manifest = json.loads((board / "leaderboard.json").read_text(encoding="utf-8"))
    files = {p.relative_to(board).as_posix() for p in board.rglob("*") if p.is_file()}
    assert set(manifest["files"]) | {"leaderboard.json"} == files


def test_fine_tuning_modes_are_separate_leaderboards(board: Path) -> None:
    index = pages(board)["index.html"]
    assert {"full_ft", "frozen", "lora"} <= index.ids
    tables = index.tables
    assert set(tables) == {"full_ft-overview", "frozen-overview", "lora-overview"}

    def column(table: dict, key: str) -> list[str]:
        i = table["keys"].index(key)
        return [row[i]["text"] for row in table["rows"]]

    full, frozen, lora = (tables[f"{m}-overview"] for m in ("full_ft", "frozen", "lora"))
    assert set(column(full, "frozen_or_full_ft")) == {"full_ft"}
    assert set(column(frozen, "frozen_or_full_ft")) == {"frozen"}
    assert set(column(lora, "frozen_or_full_ft")) == {"lora"}
    assert sorted(column(full, "model")) == sorted(["Resnet50-ImageNet", EVIL, "DOFA-ViT-B",
                                                    "TerraMind-V1-Base"])
    assert sorted(column(frozen, "model")) == ["Clay <b>bold</b>", "Resnet50-ImageNet"]
    assert sorted(column(lora, "model")) == ["Prithvi-EO-V2 300M TL", "Resnet50-ImageNet"]
    # each leaderboard ranks from 1 on its own (resnet50 is in all three)
    for table in (full, frozen, lora):
        ranks = [r for r in column(table, "rank") if r != "n/a"]
        assert ranks and ranks[0] == "1"
    # full fine-tuning ranked by Core (every row but DOFA-ViT-B has it), best first
    core = full["keys"].index("Core")
    values = [row[core]["v"] for row in full["rows"]]
    present = [float(v) for v in values if v]
    assert present == sorted(present, reverse=True) and values[-1] == ""
    assert column(full, "model")[-1] == "DOFA-ViT-B"
    # capability pages hold one mode only
    cap = pages(board)["frozen/capability-classification.html"].tables
    assert sorted(column(cap["frozen-classification-normalized"], "model")) == [
        "Clay <b>bold</b>", "Resnet50-ImageNet"]


def test_submissions_page_shows_each_protocol(board: Path) -> None:
    table = pages(board)["submissions.html"].tables["submissions"]
    col = table["keys"].index("protocol")
    by_name = {row[0]["text"]: row[col]["text"] for row in table["rows"]}
    assert by_name["alpha-full"] == "geobench2 (published runs)"  # official layout: no protocol column
    assert by_name["gamma-mixed"] == "geobench2"


def test_missing_data_notes(board: Path) -> None:
    parsed = pages(board)
    index_notes = " ".join(parsed["index.html"].notes)
    assert "DOFA-ViT-B (alpha-full): no results for everwatch, nzcattle, pastis_r, substation" in index_notes
    assert "Core n/a" in index_notes and "Detection (Object/Instance) n/a" in index_notes
    assert "No frozen backbone results at all for everwatch, nzcattle, pastis_r, substation" in index_notes
    full = parsed["index.html"].tables["full_ft-overview"]
    core = full["keys"].index("Core")
    dofa = next(r for r in full["rows"] if r[1]["text"] == "DOFA-ViT-B")
    assert dofa[core]["text"] == "n/a" and "missing" in dofa[core]["class"]
    core_notes = " ".join(parsed["full_ft/capability-core.html"].notes)
    assert "DOFA-ViT-B (alpha-full): no results for substation, everwatch" in core_notes
    assert "no results for this dataset" in " ".join(parsed["full_ft/dataset-nzcattle.html"].notes)
    assert parsed["full_ft/dataset-benv2.html"].notes == []
    assert "(no results)" in (board / "frozen" / "capability-detection.html").read_text("utf-8")
    assert not (board / "frozen" / "plots" / "detection-poi.svg").exists()


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_csv_and_json_equal_the_tables(board: Path) -> None:
    n_tables = 0
    for rel, page in pages(board).items():
        for table_id, table in page.tables.items():
            header, rows = _csv_rows(board / "data" / f"{table_id}.csv")
            data = json.loads((board / "data" / f"{table_id}.json").read_text(encoding="utf-8"))
            assert data["columns"] == header and len(data["rows"]) == len(rows) == len(table["rows"])
            for html_row, csv_row, json_row in zip(table["rows"], rows, data["rows"], strict=True):
                for key, kind, cell in zip(table["keys"], table["types"], html_row, strict=True):
                    i = header.index(key)
                    if kind == "num":
                        assert cell["v"] == csv_row[i], (rel, table_id, key)
                        if csv_row[i] == "":
                            assert json_row[i] is None and cell["text"] == "n/a"
                        else:
                            assert json_row[i] == float(csv_row[i])
                    else:
                        shown = cell["text"]
                        assert json_row[i] == csv_row[i]
                        assert shown == csv_row[i] or (key == "submission" and csv_row[i].startswith(shown))
            n_tables += 1
    assert n_tables > 100
    # the overview keeps the aggregation's field names and fractions (not ×100)
    header, rows = _csv_rows(board / "data" / "full_ft-overview.csv")
    assert header[:4] == ["rank", "model", "submission", "backbone"]
    assert {"Core", "Core ci_low", "Core ci_high"} <= set(header)
    core = [float(r[header.index("Core")]) for r in rows if r[header.index("Core")]]
    assert all(-1 < v < 2 for v in core)


def test_capability_scores_come_from_the_aggregation(board: Path) -> None:
    from geobench.aggregate.boards import split_by_mode
    from geobench.aggregate.core import aggregate
    from geobench.aggregate.inputs import load_inputs

    subs = load_inputs(sorted((board.parent / "inputs").iterdir()))
    frozen = split_by_mode(subs)["frozen"]
    result = aggregate(frozen, mode="default", reps=REPS)
    header, rows = _csv_rows(board / "data" / "frozen-overview.csv")
    ours = {r[header.index("backbone")]: r for r in rows}
    for rec in result.capabilities.to_dict(orient="records"):
        for col in ("Classification", "Classification ci_low", "Classification ci_high"):
            assert math.isclose(float(ours[rec["backbone"]][header.index(col)]), rec[col],
                                abs_tol=1e-6)


def test_hostile_text_is_escaped_everywhere(board: Path) -> None:
    for path in board.rglob("*"):
        if path.suffix in (".html", ".svg"):
            text = path.read_text(encoding="utf-8")
            low = text.lower()
            assert "<script>alert" not in low and "<img src=x" not in low and "<b>bold" not in low
            assert "<svg onload" not in low and 'href="javascript:' not in low
            assert low.count("<script") == (1 if path.suffix == ".html" else 0), path
    index = (board / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    subs = (board / "submissions.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(2)&gt;" in subs and "javascript:alert(3)" in subs
    assert 'evil&quot;&gt;&lt;svg onload=alert(5)&gt;' in subs
    svg = (board / "full_ft" / "plots" / "core-intervals.svg").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg


def test_rebuild_is_identical_and_atomic(board: Path, tmp_path: Path) -> None:
    inputs = sorted((board.parent / "inputs").iterdir())
    args = [*map(str, inputs), "--reps", str(REPS), "--title", "Test board"]
    again = tmp_path / "again"
    assert main([*args, "--out", str(again)]) == 0
    a = {p.relative_to(board): p.read_bytes() for p in board.rglob("*") if p.is_file()}
    b = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert a == b
    # rebuilding over an existing leaderboard replaces it and leaves no temporary folder behind
    (again / "stale.html").write_text("old", encoding="utf-8")
    assert main([*args, "--out", str(again)]) == 0
    assert not (again / "stale.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]
    # a folder that is not a leaderboard is never replaced
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine", encoding="utf-8")
    assert main([*args, "--out", str(other)]) == 2
    assert (other / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nope" in err and "Traceback" not in err
    assert main(["x", "--name", "../up"]) == 2
    assert "--name" in capsys.readouterr().err
    assert main(["x", "--mode", "weird"]) == 2
    assert main(["import-official", str(tmp_path)]) == 2
    assert "no result folders" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_import_official_layouts(official_dir: Path, tmp_path: Path) -> None:
    """Both layouts (results/<uuid>/ as in the repository, <uuid>/ as in ../shared) give the
    same leaderboard; display names come from the folder's model_info.json."""
    repo = tmp_path / "checkout" / official_dir.name  # same folder name: same normalizer label
    (repo / "results").mkdir(parents=True)
    (repo / "utils").mkdir()
    uuids = sorted(p.name for p in official_dir.iterdir() if (p / "results_and_parameters.csv").is_file())
    assert len(uuids) == 3
    for u in uuids:
        shutil.copytree(official_dir / u, repo / "results" / u)
    shutil.copy(official_dir / "model_info.json", repo / "utils" / "model_info.json")
    shutil.copy(official_dir / "normalizer.json", repo / "normalizer.json")
    outs = []
    for i, src in enumerate((repo, official_dir)):
        out = tmp_path / f"out{i}"
        assert main(["import-official", str(src), "--out", str(out), "--reps", "20",
                     "--commit", "1659ccf"]) == 0
        outs.append(out)
    index = (outs[0] / "index.html").read_text(encoding="utf-8")
    assert "The-AI-Alliance/GEO-Bench-2-Leaderboard (commit 1659ccf, Apache-2.0)" in index
    assert "Satlas-Resnet50" in index and "DinoV3-ViT-L-SAT" in index
    header, rows = _csv_rows(outs[0] / "data" / "full_ft-overview.csv")
    assert len(rows) == 21
    header, rows = _csv_rows(outs[0] / "data" / "frozen-overview.csv")
    assert len(rows) == 10 and all(r[header.index("Core")] == "" for r in rows)
    a = {p.relative_to(outs[0]): p.read_bytes() for p in outs[0].rglob("*") if p.is_file()}
    b = {p.relative_to(outs[1]): p.read_bytes() for p in outs[1].rglob("*") if p.is_file()}
    assert a == b


def test_committed_geobench2_matches_the_published_inputs(official_dir: Path) -> None:
    """leaderboards/geobench2 is small, complete and built from the current official inputs."""
    from geobench.aggregate.inputs import load_inputs
    from geobench.aggregate.outputs import input_hash
    from geobench.leaderboard.official import find_layout

    root = Path(__file__).resolve().parents[1] / "leaderboards" / "geobench2"
    manifest = json.loads((root / "leaderboard.json").read_text(encoding="utf-8"))
    assert manifest["mode"] == "default" and manifest["reps"] == 10_000
    assert "commit 1659ccf, Apache-2.0" in manifest["attribution"]
    subs = load_inputs(find_layout(official_dir).submissions)
    assert [(i["submission"], i["sha256"]) for i in manifest["inputs"]] == [
        (s.name, input_hash(s)) for s in subs]
    import hashlib

    total = 0
    for rel, digest in manifest["files"].items():
        data = (root / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{rel} differs from its build"
        total += len(data)
    assert total < 2_500_000  # the pages ~1.9 MB, the published per-seed scores (data/scores.csv) 0.33 MB
    assert (root / "index.html").is_file() and (root / "full_ft" / "capability-core.html").is_file()


def test_official_mode_shows_mean_and_sem(board: Path, tmp_path: Path) -> None:
    inputs = sorted((board.parent / "inputs").iterdir())
    out = tmp_path / "official"
    assert main([*map(str, inputs), "--out", str(out), "--mode", "official"]) == 0
    header, _ = _csv_rows(out / "data" / "full_ft-overview.csv")
    assert "Core sem" in header and "Core ci_low" not in header
    index = Page((out / "index.html").read_text(encoding="utf-8"))
    core = index.tables["full_ft-overview"]["keys"].index("Core")
    shown = [r[core]["text"] for r in index.tables["full_ft-overview"]["rows"]]
    assert any("±" in t for t in shown)
    manifest = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))
    assert manifest["mode"] == "official" and manifest["reps"] == 100


def test_model_names_and_sizes_resolution() -> None:
    from geobench.leaderboard.models import ModelCatalog, ModelMeta, parse_size

    assert parse_size("300M") == 3e8 and parse_size("1.2B") == 1.2e9 and parse_size("n/a") is None
    catalog = ModelCatalog({"resnet50": ModelMeta("resnet50", "From model_info", "26M")})
    assert catalog.lookup("resnet50").display_name == "From model_info"
    assert catalog.lookup("clay_v1_base").display_name == "Clay-V1 ViT-B"  # package table
    assert catalog.lookup("my_net") == ModelMeta("my_net", "my_net", "")
    official = {"New model info": [{"model_display_name": "My Net", "model_size": "12M",
                                    "unique_backbone_key": "my_net"}]}
    assert catalog.lookup("my_net", official).display_name == "My Net"
    ours = official | {"geobench": {"models": [{"backbone": "my_net", "display_name": "My Net v2",
                                                "parameters": 12_345_678, "size": "12M"}]}}
    meta = catalog.lookup("my_net", ours)
    assert (meta.display_name, meta.size, meta.parameters) == ("My Net v2", "12M", 12_345_678.0)


def test_formula_like_names_are_neutralised_in_csv_files_and_intact_on_pages(tmp_path: Path) -> None:
    """A submitted name that a spreadsheet would run as a formula is quoted in every CSV geobench
    writes (aggregate folder and the pages' data files) and shown as given on the pages."""
    rng = np.random.default_rng(3)
    evil = "=HYPERLINK(1)"
    sub = _write(tmp_path / "inputs" / "formula", _rows(evil, "full_ft", 0.5, ALL_DATASETS, rng),
                 {"New model info": [{"model_display_name": "@SUM(A1)", "model_size": "1M",
                                      "unique_backbone_key": evil}]})
    agg, out = tmp_path / "agg", tmp_path / "board"
    assert main([str(sub), "--out", str(out), "--reps", str(REPS), "--aggregate-out", str(agg)]) == 0
    for folder in (agg, out / "data"):
        texts = [p.read_text(encoding="utf-8") for p in folder.glob("*.csv")]
        assert any("'=HYPERLINK(1)" in t for t in texts)
        for t in texts:
            for line in t.splitlines():
                assert not any(cell.startswith(("=", "@")) for cell in line.split(","))
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "@SUM(A1)" in html and "'@SUM(A1)" not in html  # the display name, as given
    assert "=HYPERLINK(1)" in (out / "submissions.html").read_text(encoding="utf-8")
