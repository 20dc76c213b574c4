"""PyInstaller runtime hook: give a windowed build real stdout and stderr.

A windowed build (no console: Windows' GUI subsystem, a macOS .app started from the Finder)
starts with ``sys.stdout`` and ``sys.stderr`` set to None. Libraries that print progress
(tqdm, torch warnings, ``print`` in a dependency) would then raise AttributeError and take the
app down (RELIABILITY.md item 29). This hook runs before any of the app's imports, so even
import-time prints are safe; ``studio.app`` repeats the same guard for non-frozen launches.

The streams go to the null device: the studio's own log file keeps what matters.
"""

import os
import sys


def _give_missing_streams_the_null_device() -> None:
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            stream = open(os.devnull, "w", encoding="utf-8")
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)  # what faulthandler and some libraries fall back to


_give_missing_streams_the_null_device()
