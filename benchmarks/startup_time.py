"""Launch to visible window: how long after `latent-studio` starts is its window on screen?

Runs the app several times with the offscreen platform (or another Qt platform with
--platform) and prints JSON: the time from spawning the process (what a user waits) to the
window being shown and the event loop running. The window must not wait for torch, which the
worker thread imports after the window is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def one_launch(platform: str) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM=platform)
    env.setdefault("LATENT_STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "studio.app", "--startup-probe"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in process.stdout:
        if line.startswith("window-visible"):
            spawn_to_window = time.perf_counter() - started
            break
    else:
        raise RuntimeError(f"the app never showed its window: {process.stderr.read()}")
    process.wait(timeout=60)
    return spawn_to_window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--platform", default="offscreen", help="Qt platform plugin (offscreen, xcb, ...)")
    args = parser.parse_args()
    one_launch(args.platform)  # warm the file cache, as a second launch of an installed app would be
    runs = [one_launch(args.platform) for _ in range(args.runs)]
    print(
        json.dumps(
            {
                "benchmark": "launch_to_visible_window",
                "platform": args.platform,
                "runs": args.runs,
                "cpu_count": os.cpu_count(),
                "spawn_to_window_s": {"median": statistics.median(runs), "min": min(runs), "max": max(runs)},
                "goal_s": 1.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
