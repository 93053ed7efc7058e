"""``python -m geobench.prepare dataset=<ds> data_root=DIR``: official tortillas -> prepared HDF5.

Reads ``DIR/raw/<ds>/*.tortilla`` once and writes ``DIR/prepared/<ds>/{train,validation,test}.h5``
and ``stats.json`` (format: :mod:`geobench.prepared`). Verified (every raw file's sha256 is checked
against the manifest or the download lock file, see :mod:`geobench.integrity`; ``verify=false``
prepares a mismatching file anyway and records it), atomic (every output is written to a temp file
and renamed only once all splits succeeded; a full disk is one error and leaves the old outputs),
idempotent (outputs whose recorded source matches the raw files are skipped), streaming (one sample
in memory per decode worker).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geobench import paths
from geobench.bandstats import BandStats
from geobench.datasets.base import DatasetAdapter, get_adapter
from geobench.errors import CorruptFileError, DatasetNotFoundError
from geobench.fileio import atomic_outputs, sweep_stale_temps
from geobench.integrity import check_raw_files
from geobench.prepare_split import write_split
from geobench.prepared import FORMAT_VERSION, STATS_FILE


def raw_files(adapter: DatasetAdapter, data_root: str | Path) -> list[Path]:
    """The raw tortilla files of a dataset: the manifest's hub file names, or every *.tortilla."""
    raw = paths.raw_dir(data_root, adapter.raw_dataset)
    download_hint = (f"run `python -m geobench.download dataset={adapter.raw_dataset} data_root={data_root}`, "
                     f"or put the official files ({', '.join(adapter.raw_file_names())}) in {raw}/, "
                     f"or write synthetic ones with `python -m geobench.prepare dataset={adapter.name} "
                     f"data_root={data_root} synthetic=true`")
    if not raw.is_dir():
        raise DatasetNotFoundError(f"{raw}: raw files of {adapter.name!r} not found; {download_hint}")
    named = [raw / n for n in adapter.raw_file_names()]
    if named and all(p.exists() for p in named):
        return named
    found = sorted(raw.glob("*.tortilla"))
    if not found:
        raise DatasetNotFoundError(f"{raw}: no .tortilla files; {download_hint}")
    return found


def source_signature(files: Sequence[Path], adapter: DatasetAdapter, *, verify: bool = True,
                     checks: list[dict[str, Any]] | None = None) -> str:
    """What the prepared files are made of: each raw file's name, size, sha256 and how it was
    verified (``checks`` of :func:`geobench.integrity.check_raw_files`, computed when not given),
    the adapter version and the format.

    Raises:
        ChecksumError: a raw file's sha256 differs from the manifest's and the lock file's (and
            ``verify`` is true).
    """
    if checks is None:
        checks = check_raw_files(files, adapter.manifest, dataset=adapter.name, verify=verify)
    return json.dumps({"files": checks, "adapter": f"{adapter.name}:{adapter.version}",
                       "format": FORMAT_VERSION}, sort_keys=True)


def is_up_to_date(out_dir: Path, signature: str) -> bool:
    import h5py

    if not (out_dir / STATS_FILE).exists():
        return False
    try:
        if json.loads((out_dir / STATS_FILE).read_text()).get("source") != signature:
            return False
        for split in paths.SPLITS:
            with h5py.File(out_dir / f"{split}.h5", "r") as h5:
                if h5.attrs.get("source") != signature:
                    return False
    except (OSError, ValueError):
        return False
    return True


def prepare_dataset(dataset: str, data_root: str | Path, *, force: bool = False,
                    compression: str | None = None, workers: int | None = None,
                    progress: bool = True, verify: bool = True) -> list[Path]:
    """Prepare one dataset; returns the written (or up-to-date) split files.

    Raises:
        ChecksumError: a raw file's sha256 differs from the manifest and the lock file (unless
            ``verify`` is false: then it is prepared anyway and recorded in ``source``).
        CorruptFileError: a raw file cannot be read or a sample cannot be decoded.
        UnwritableError, DiskFullError: the outputs cannot be written (old outputs are kept).
    """
    from geobench.tortilla.reader import Tortilla

    adapter = get_adapter(dataset)
    files = raw_files(adapter, data_root)
    out_dir = paths.prepared_dir(data_root, dataset)
    for folder in (out_dir, files[0].parent):  # temp files of killed writers
        sweep_stale_temps(folder)
    signature = source_signature(files, adapter, verify=verify)
    outputs = [out_dir / f"{s}.h5" for s in paths.SPLITS]
    if not force and is_up_to_date(out_dir, signature):
        print(f"{dataset}: prepared files are up to date in {out_dir} (force=true to rebuild)", file=sys.stderr)
        return outputs
    with Tortilla(files, dataset=adapter.name) as tortilla:  # its descriptors closed here, not by the GC
        return _write_outputs(tortilla, adapter, files, outputs, signature, compression, workers, progress)


def _write_outputs(tortilla: Any, adapter: DatasetAdapter, files: list[Path], outputs: list[Path],
                   signature: str, compression: str | None, workers: int | None, progress: bool) -> list[Path]:
    """Every split and ``stats.json``, all complete before any of them replaces the old files."""
    out_dir = outputs[0].parent
    splits = {s: tortilla.split(s) for s in paths.SPLITS}
    for s, samples in splits.items():
        if not samples:
            raise CorruptFileError(files[0], f"no samples in split {s!r}",
                                   "the file is incomplete; delete it and download it again")
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    stats: dict[str, BandStats] = {m.name: BandStats(list(m.band_names)) for m in adapter.manifest.modalities}
    with atomic_outputs([*outputs, out_dir / STATS_FILE]) as temps:
        *split_temps, stats_tmp = temps
        for (split, samples), tmp in zip(splits.items(), split_temps, strict=True):
            write_split(tmp, adapter, tortilla, split, samples, signature,
                        stats if split == "train" else None,
                        compression=compression, workers=workers, progress=progress)
        stats_payload = {"dataset": adapter.name, "split": "train", "source": signature,
                         "modalities": {k: v.result() for k, v in stats.items() if v.count.any()}}
        stats_tmp.write_text(json.dumps(stats_payload, indent=1), encoding="utf-8")
    return outputs


ALLOWED = {
    "dataset": "a dataset key (e.g. benv2) or a list [a,b]",
    "capability": "prepare every dataset of a capability (e.g. core, smoke)",
    "data_root": "data folder holding raw/<ds>/ (default $GEOBENCH_DATA_ROOT or ./data)",
    "synthetic": "true: first write synthetic tortilla files in the official layout into raw/<ds>/",
    "force": "true: rebuild even if the prepared files are up to date",
    "verify": "true (default): refuse raw files whose sha256 differs from the manifest / lock file; "
              "false: prepare them anyway (recorded in the prepared files)",
    "compression": "HDF5 compression of the arrays: none (default: fastest to load), lzf or gzip",
    "workers": "decode threads (default min(4, cores))",
    "seed": "seed of the synthetic data (default 0)",
}


def main(argv: Sequence[str] | None = None) -> int:
    from geobench.cli import datasets_from_args, main_guard, parse_bool, parse_overrides, usage

    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(usage("geobench.prepare", "Convert raw tortilla files into prepared HDF5 files.", ALLOWED))
        return 0

    @main_guard
    def run() -> int:
        from geobench.errors import ConfigError

        args = parse_overrides(argv, ALLOWED)
        datasets, cap = datasets_from_args(args)
        data_root = Path(args.get("data_root", paths.default_data_root()))
        compression = args.get("compression", "none")
        if compression not in ("lzf", "gzip", "none"):
            raise ConfigError(f"compression={compression!r}: expected lzf, gzip or none")
        synthetic = parse_bool(args.get("synthetic", "true" if cap is not None and cap.synthetic else "false"), "synthetic")
        force = parse_bool(args.get("force", "false"), "force")
        verify = parse_bool(args.get("verify", "true"), "verify")
        workers = int(args["workers"]) if "workers" in args else None
        for ds in datasets:
            if synthetic:
                from geobench.synthetic import write_synthetic

                write_synthetic(ds, data_root, capability=cap, seed=int(args.get("seed", 0)))
            outs = prepare_dataset(ds, data_root, force=force, workers=workers, verify=verify,
                                   compression=None if compression == "none" else compression)
            print(f"{ds}: {', '.join(str(o) for o in outs)}")
        return 0

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
