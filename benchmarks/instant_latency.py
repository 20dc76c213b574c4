"""Drop to picture: how long after a painting is dropped does the Style panel show it painted?

Builds the real Style Transfer panel (offscreen by default) with a real CPU worker, gives it a
photo, lets the instant style networks load once (the "weights cached" state an artist is in
after the first drop of a session), then, for several new paintings and several strength
values, measures the wall time from the controller call the drop (or slider) makes to the
picture arriving on the GUI thread. Prints JSON, with the machine's load average, since the
2-core machines this runs on are shared.

Usage: ``python benchmarks/instant_latency.py [--repeats 7] [--photo-size 1600x1200]``
Goal (issue 12): on screen <= 0.5 s after a drop once the weights are cached.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def textured(width: int, height: int, seed: int) -> Image.Image:
    """A smooth gradient with grain: a stand-in photo or painting that differs per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 128 // (width + height)], -1)
    return Image.fromarray(np.clip(base + rng.integers(0, 60, (height, width, 3)), 0, 255).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--photo-size", default="1600x1200", help="WxH of the photo (default 1600x1200)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.photo_size.lower().split("x"))

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("LATENT_STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))
    from PySide6.QtWidgets import QApplication

    from studio.files.images import LoadedImage
    from studio.services.worker import Worker
    from studio.ui.panels.style_panel import StylePanel

    app = QApplication(sys.argv)
    worker = Worker("cpu")
    worker.start()
    panel = StylePanel(worker)
    panel.resize(1300, 800)
    panel.show()
    run = panel.run

    def loaded(image: Image.Image, name: str) -> LoadedImage:
        return LoadedImage(image, None, Path(name), "JPEG", None)

    def picture_after(action) -> tuple[float, object]:
        got: list[object] = []
        run.instantReady.connect(got.append)
        started = time.perf_counter()
        action()
        while not got and time.perf_counter() - started < 120:
            app.processEvents()
            time.sleep(0.001)
        elapsed = time.perf_counter() - started
        run.instantReady.disconnect(got.append)
        if not got:
            raise SystemExit("no instant picture within 120 s")
        return elapsed, got[0]

    run.set_photo(loaded(textured(width, height, 1), "photo.jpg"))
    first_s, _ = picture_after(lambda: run.set_painting(0, loaded(textured(800, 600, 2), "first.jpg")))
    drops, strengths = [], []
    for i in range(args.repeats):
        seconds, outcome = picture_after(lambda i=i: run.set_painting(0, loaded(textured(800, 600, 10 + i), "p.jpg")))
        drops.append(seconds)
    for i in range(args.repeats):
        seconds, outcome = picture_after(lambda i=i: run.set_strength(0.3 + 0.6 * i / max(1, args.repeats - 1)))
        strengths.append(seconds)
    worker.shutdown()
    print(
        json.dumps(
            {
                "photo": [width, height],
                "picture": list(outcome.image.size),
                "first_drop_s_including_network_load": round(first_s, 3),
                "drop_s": [round(s, 3) for s in drops],
                "drop_median_s": round(statistics.median(drops), 3),
                "strength_change_s": [round(s, 3) for s in strengths],
                "strength_median_s": round(statistics.median(strengths), 3),
                "goal_s": 0.5,
                "load_average": [round(v, 2) for v in os.getloadavg()],
                "threads": __import__("torch").get_num_threads(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
