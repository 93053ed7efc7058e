"""Checks of ``additional_info.json`` (the official keys) and ``geobench.json`` (model metadata)."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geobench.submission import schema as S
from geobench.submission.report import Report
from geobench.submission.textfile import control_chars, line_of_offset, read_text

MAX_TEXT_CHARS = 20_000
_BACKBONE = re.compile(S.BACKBONE_PATTERN)
_TYPE_NAMES = {str: "a string", list: "a list", dict: "an object", int: "an integer", type(None): "null"}
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string literal
_KEY_END = re.compile(r"[ \t\r\n]*:")
_BREAK = re.compile(r"\r\n|\r|\n")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _key_lines(text: str) -> dict[str, list[int]]:
    """Every object key of a JSON text -> the lines it appears on as a key, in order (one pass;
    lines as a text editor counts them)."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    index: dict[str, list[int]] = {}
    for m in _STRING.finditer(text):  # outside string literals JSON holds no '"'
        if _KEY_END.match(text, m.end()):
            try:
                key = json.loads(m.group())
            except ValueError:
                continue
            index.setdefault(key, []).append(bisect.bisect_right(starts, m.start()))
    return index


@dataclass
class JsonFile:
    data: Any
    text: str
    _index: dict[str, list[int]] | None = field(default=None, repr=False)

    def line_of(self, key: str, occurrence: int = 0) -> int | None:
        """Line of the ``occurrence``-th appearance of ``"key"`` as a key (None if not found);
        the key index is built once per document, so each look-up is O(1)."""
        if self._index is None:
            self._index = _key_lines(self.text)
        hits = self._index.get(key)
        if not hits:
            return None
        return hits[min(occurrence, len(hits) - 1)]


def _lone_surrogate(data: Any) -> str | None:
    """The first lone UTF-16 surrogate (a ``\\ud800`` escape without its pair) in any key or
    string of ``data``: valid JSON, but not text that UTF-8 output can hold."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and (m := _SURROGATE.search(item)):
            return m.group()
    return None


def load_json(path: Path, display: str, report: Report) -> JsonFile | None:
    """Parse a JSON file strictly (no NaN/Infinity, no duplicate keys); None if unusable."""
    text = read_text(path, display, S.MAX_JSON_BYTES, report)
    if text is None:
        return None
    constants: list[str] = []
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                duplicates.append(k)
            out[k] = v
        return out

    def constant(name: str) -> None:
        constants.append(name)

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as exc:
        report.error(display, exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})")
        return None
    except RecursionError:
        report.error(display, None, "not valid JSON here: nested too deeply")
        return None
    except ValueError as exc:  # e.g. an integer with thousands of digits
        report.error(display, None, f"not valid JSON here: {exc}")
        return None
    doc = JsonFile(data, text)
    for name in dict.fromkeys(constants):
        offset = text.find(name)
        report.error(display, line_of_offset(text, offset)[0] if offset >= 0 else None,
                     f"{name} is not valid JSON; write a number or a string")
    for key in dict.fromkeys(duplicates):
        report.error(display, doc.line_of(key, 1), f"key {key[:100]!r} appears twice")
    surrogate = _lone_surrogate(data)
    if surrogate is not None:
        report.error(display, None, f"holds the escape {ascii(surrogate)[1:-1]}, half of a UTF-16 "
                     "surrogate pair without its other half: not a character, so the leaderboard "
                     "cannot write it; remove it")
    return doc


def _type_name(tp: type | tuple[type, ...]) -> str:
    types = tp if isinstance(tp, tuple) else (tp,)
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)


def _is(value: Any, tp: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # JSON true/false are not integers here
        return False
    return isinstance(value, tp)


def _check_string(value: str, what: str, display: str, line: int | None, report: Report) -> bool:
    if len(value) > MAX_TEXT_CHARS:
        report.error(display, line, f"{what} holds {len(value)} characters (limit {MAX_TEXT_CHARS})")
        return False
    bad = control_chars(value, allow="\n\t")
    if bad:
        report.error(display, line, f"{what} contains control characters {', '.join(bad)}")
        return False
    return True


def _check_link(value: str, what: str, display: str, line: int | None, report: Report) -> None:
    v = value.strip()
    if v in ("", "N/A") or re.fullmatch(r"https?://\S+", v):
        return
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", v) and not re.match(r"https?:", v):
        report.error(display, line, f"{what} {value!r}: only http(s) links are accepted")
    else:
        report.warning(display, line, f"{what} {value!r} is not an http(s) link (use N/A if there is none)")


def _missing_key(key: str, data: dict[str, Any], display: str, doc: JsonFile, report: Report) -> None:
    found = [k for k in data if isinstance(k, str) and k.strip().lower() == key.strip().lower()]
    hint = f" (found {found[0]!r}: the official key is spelled {key!r})" if found else ""
    report.error(display, doc.line_of(found[0]) if found else 1, f"missing key {key!r}{hint}")


@dataclass
class AdditionalInfo:
    seeds: int | None = None
    seeds_line: int | None = None
    new_models: dict[str, int | None] = field(default_factory=dict)  # backbone -> line


def _seed_count(value: Any) -> int | None:
    if _is(value, int):
        return int(value) if 1 <= value <= 1000 else None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,4}", value.strip()):
        n = int(value.strip())
        return n if 1 <= n <= 1000 else None
    return None


def check_additional_info(doc: JsonFile, display: str, report: Report) -> AdditionalInfo:
    """The official keys, their types, and the model entries in "New model info"."""
    out = AdditionalInfo()
    data = doc.data
    if not isinstance(data, dict):
        report.error(display, 1, f"must be a JSON object with the keys {', '.join(map(repr, S.ADDITIONAL_INFO_KEYS))}")
        return out
    for key, tp in S.ADDITIONAL_INFO_KEYS.items():
        line = doc.line_of(key)
        if key not in data:
            _missing_key(key, data, display, doc, report)
        elif not _is(data[key], tp):
            example = ' (e.g. "16")' if key == "Number of HPO trials" else ""
            report.error(display, line, f"{key!r} must be {_type_name(tp)}{example}, not "
                         f"{_type_name(type(data[key]))}")
        elif isinstance(data[key], str) and _check_string(data[key], repr(key), display, line, report):
            if key in ("Paper Link", "Code Repository Link "):
                _check_link(data[key], repr(key), display, line, report)
            elif key == "Number of HPO trials" and not re.fullmatch(r"[0-9]+", data[key].strip()):
                report.warning(display, line, f"'Number of HPO trials' is {data[key]!r}; give the number "
                               "of trials, e.g. \"16\"")
    if S.SEEDS_KEY in data:
        out.seeds_line = doc.line_of(S.SEEDS_KEY)
        out.seeds = _seed_count(data[S.SEEDS_KEY])
        if out.seeds is None:
            report.error(display, out.seeds_line, f"{S.SEEDS_KEY!r} must be a whole number of seeds "
                         f"between 1 and 1000 (e.g. \"5\"), not {data[S.SEEDS_KEY]!r}"[:300])
    for key in data:
        if key not in S.ADDITIONAL_INFO_KEYS and key not in S.ADDITIONAL_INFO_OPTIONAL:
            if not any(key.strip().lower() == k.strip().lower() for k in S.ADDITIONAL_INFO_KEYS):
                report.warning(display, doc.line_of(key), f"unknown key {key[:100]!r}: the official "
                               "leaderboard ignores it")
    models = data.get("New model info")
    if isinstance(models, list):
        line = doc.line_of("New model info")
        for i, entry in enumerate(models):
            report.check_time()
            _check_new_model(entry, i, doc.line_of("unique_backbone_key", i) or line, display, report, out)
    return out


def _check_new_model(entry: Any, i: int, eline: int | None, display: str, report: Report,
                     out: AdditionalInfo) -> None:
    """One "New model info" entry (its line ``eline``); a valid one goes into ``out.new_models``."""
    where = f"'New model info' entry {i + 1}"
    if not isinstance(entry, dict):
        report.error(display, eline, f"{where} must be an object with keys {', '.join(S.NEW_MODEL_KEYS)}")
        return
    bad = [k for k in S.NEW_MODEL_KEYS if not isinstance(entry.get(k), str)]
    if bad:
        report.error(display, eline, f"{where}: {', '.join(map(repr, bad))} must be present and strings")
        return
    if not all(_check_string(entry[k], f"{where} {k!r}", display, eline, report) for k in S.NEW_MODEL_KEYS):
        return
    key = entry["unique_backbone_key"]
    if key == "" and entry["model_display_name"] == "" and entry["model_size"] == "":
        return  # the template's empty placeholder, as in the published submissions
    if not _BACKBONE.fullmatch(key):
        report.error(display, eline, f"{where}: 'unique_backbone_key' {key!r} is not a valid backbone key")
    elif key in out.new_models:
        report.error(display, eline, f"{where}: backbone {key!r} is listed twice")
    else:
        out.new_models[key] = eline
        if not entry["model_display_name"].strip():
            report.error(display, eline, f"{where}: 'model_display_name' is empty")
        if not entry["model_size"].strip():
            report.warning(display, eline, f"{where}: 'model_size' is empty (e.g. \"300M\")")


@dataclass
class GeobenchMeta:
    seeds: int | None = None
    seeds_line: int | None = None
    fine_tuning: str | None = None
    fine_tuning_line: int | None = None
    submission_id: str | None = None
    models: dict[str, int | None] = field(default_factory=dict)  # backbone -> line
    protocol_name: str | None = None
    protocol_settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # hash -> settings


def _check_optional(value: Any, where: str, tp: type | tuple[type, ...], display: str, line: int | None,
                    report: Report) -> None:
    """An optional model fact: its type; a list holds short strings (band names)."""
    if not _is(value, tp):
        report.error(display, line, f"{where} must be {_type_name(tp)}, not {_type_name(type(value))}")
    elif isinstance(value, str):
        _check_string(value, where, display, line, report)
    elif isinstance(value, list):
        if len(value) > 1000 or not all(isinstance(v, str) and len(v) <= 200 for v in value):
            report.error(display, line, f"{where} must be a list of at most 1000 short strings")
        else:
            for v in value:
                _check_string(v, where, display, line, report)
    elif isinstance(value, int) and not isinstance(value, bool) and value < 1:
        report.error(display, line, f"{where} must be a positive integer or null")


def _check_model(entry: Any, i: int, doc: JsonFile, display: str, report: Report, meta: GeobenchMeta) -> None:
    line = doc.line_of("backbone", i) or doc.line_of("models")
    where = f"models[{i}]"
    if not isinstance(entry, dict):
        report.error(display, line, f"{where} must be an object with keys {', '.join(S.MODEL_KEYS)}")
        return
    for key, tp in S.MODEL_KEYS.items():
        if key not in entry:
            report.error(display, line, f"{where}: missing key {key!r}")
        elif not _is(entry[key], tp):
            report.error(display, line, f"{where}.{key} must be {_type_name(tp)}, not {_type_name(type(entry[key]))}")
        elif isinstance(entry[key], str) and _check_string(entry[key], f"{where}.{key}", display, line, report):
            if key in ("paper", "code"):
                _check_link(entry[key], f"{where}.{key}", display, line, report)
    for key in entry:
        if key in S.MODEL_OPTIONAL_KEYS:
            _check_optional(entry[key], f"{where}.{key}", S.MODEL_OPTIONAL_KEYS[key], display, line, report)
        elif key not in S.MODEL_KEYS:
            report.warning(display, line, f"{where}: unknown key {str(key)[:100]!r}")
    name = entry.get("display_name")
    if isinstance(name, str) and not name.strip():
        report.error(display, line, f"{where}.display_name is empty")
    elif isinstance(name, str) and len(name) > S.MAX_DISPLAY_NAME_CHARS:
        report.error(display, line, f"{where}.display_name is longer than {S.MAX_DISPLAY_NAME_CHARS} characters")
    params = entry.get("parameters")
    if isinstance(params, int) and not isinstance(params, bool) and params < 0:
        report.error(display, line, f"{where}.parameters cannot be negative")
    if params is None and entry.get("size") == "" and "parameters" in entry:
        report.warning(display, line, f"{where}: model size unknown (pass --size to geobench.submit)")
    backbone = entry.get("backbone")
    if isinstance(backbone, str):
        if not _BACKBONE.fullmatch(backbone):
            report.error(display, line, f"{where}.backbone {backbone[:100]!r} is not a valid backbone key")
        elif backbone in meta.models:
            report.error(display, line, f"{where}: backbone {backbone!r} is listed twice")
        else:
            meta.models[backbone] = line


def check_geobench_json(doc: JsonFile, display: str, report: Report) -> GeobenchMeta:
    """geobench.json: format version, fine-tuning mode, protocol, one entry per model."""
    meta = GeobenchMeta()
    data = doc.data
    if not isinstance(data, dict):
        report.error(display, 1, "must be a JSON object (see the README, 'Submitting results')")
        return meta
    for key, tp in S.GEOBENCH_KEYS.items():
        if key not in data:
            report.error(display, 1, f"missing key {key!r}")
        elif not _is(data[key], tp):
            report.error(display, doc.line_of(key), f"{key!r} must be {_type_name(tp)}, not "
                         f"{_type_name(type(data[key]))}")
        elif isinstance(data[key], str):
            _check_string(data[key], repr(key), display, doc.line_of(key), report)
    for key in data:
        if key not in S.GEOBENCH_KEYS:
            report.warning(display, doc.line_of(key), f"unknown key {key[:100]!r}")
    if _is(data.get("format_version"), int) and data["format_version"] != S.GEOBENCH_FORMAT_VERSION:
        report.error(display, doc.line_of("format_version"), f"format_version {data['format_version']} is "
                     f"not supported (this geobench reads version {S.GEOBENCH_FORMAT_VERSION})")
    if isinstance(data.get("submission_id"), str):
        meta.submission_id = data["submission_id"]
    ft = data.get("fine_tuning")
    if isinstance(ft, str):
        meta.fine_tuning, meta.fine_tuning_line = ft, doc.line_of("fine_tuning")
        if ft not in S.GEOBENCH_FT_MODES:
            report.error(display, meta.fine_tuning_line, f"fine_tuning {ft[:50]!r} is not one of "
                         f"{', '.join(S.GEOBENCH_FT_MODES)}")
    protocol = data.get("protocol")
    if isinstance(protocol, dict):
        meta.seeds_line = doc.line_of("repeated_seeds") or doc.line_of("protocol")
        if "repeated_seeds" not in protocol:
            report.error(display, meta.seeds_line, "protocol.repeated_seeds is missing")
        elif not _is(protocol["repeated_seeds"], int) or not 1 <= protocol["repeated_seeds"] <= 1000:
            report.error(display, meta.seeds_line, "protocol.repeated_seeds must be a whole number "
                         "between 1 and 1000")
        else:
            meta.seeds = protocol["repeated_seeds"]
        if isinstance(protocol.get("name"), str):
            meta.protocol_name = protocol["name"]
        settings = protocol.get("settings")
        if isinstance(settings, dict):
            meta.protocol_settings = {str(k): v for k, v in settings.items() if isinstance(v, dict)}
    models = data.get("models")
    if isinstance(models, list):
        if not models:
            report.error(display, doc.line_of("models"), "models is empty: describe each backbone")
        for i, entry in enumerate(models):
            report.check_time()
            _check_model(entry, i, doc, display, report, meta)
    return meta
