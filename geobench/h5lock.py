"""One lock around every use of HDF5 from more than one thread.

The HDF5 library inside h5py's wheels is not thread-safe; h5py serialises each of its own calls
with a process-wide recursive lock ("phil"), and frees its objects under it. Per call is not
always enough: with h5py 3.16 and HDF5 2.0, two threads that read at once can still crash the
process (h5py issue #2920, open). geobench's one threaded use of HDF5 is ``prepare``: a thread
pool decodes samples (some read HDF5 assets) while the main thread writes the output file. Both
sides hold :data:`HDF5_LOCK` for every HDF5 step, so HDF5 never runs in two threads at once.

:data:`HDF5_LOCK` is h5py's own lock (recursive, and waiting on it releases the GIL), so h5py's
calls and its deallocations in any other thread wait for a step to finish. Should a future h5py
drop it, a plain recursive lock takes its place (still serialising geobench's own steps).
"""

from __future__ import annotations

import threading
from typing import Any


def _h5py_lock() -> Any:
    try:
        from h5py._objects import phil
    except ImportError:  # pragma: no cover - h5py without its lock
        return threading.RLock()
    return phil


HDF5_LOCK: Any = _h5py_lock()


def held_by_this_thread() -> bool:
    """Whether the calling thread holds :data:`HDF5_LOCK` (for tests and assertions)."""
    owned = getattr(HDF5_LOCK, "_is_owned", None)
    return bool(owned()) if owned is not None else False
