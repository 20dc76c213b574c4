"""The frozen app's entry point: PyInstaller needs a script, the studio has a function."""

import multiprocessing
import sys

from studio.app import main

if __name__ == "__main__":
    # A frozen app that starts a worker process (torch data loading, spawn on Windows and
    # macOS) re-runs this executable; freeze_support() makes that child run the worker
    # instead of opening a second window.
    multiprocessing.freeze_support()
    sys.exit(main())
