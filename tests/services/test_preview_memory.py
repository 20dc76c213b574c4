"""RELIABILITY 22: a thousand previews streamed from the worker to the screen leave memory flat.

A leak per preview (a QImage kept alive by a signal argument, a PIL image cached by stamp) shows
up as resident memory growing with the number of previews; 256 x 256 RGB previews are 192 kB
each, so keeping even a tenth of them would add about 20 MB.
"""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest
from PIL import Image

from studio.services.worker import Worker
from studio.ui.image_view import ImageView
from studio.ui.qimage import to_qimage

PREVIEWS = 1000
SIZE = 256


def resident_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
def test_a_thousand_streamed_previews_leave_memory_flat(qtbot):
    worker = Worker("cpu")
    with qtbot.waitSignal(worker.ready, raising=True, timeout=60_000):
        worker.start()
    view = ImageView()
    qtbot.addWidget(view)
    shown: list[int] = []

    def on_render(stamp: int, image) -> None:
        view.set_image(to_qimage(image))
        shown.append(stamp)

    worker.renderDone.connect(on_render)

    def render(index: int):
        def fn(_device) -> Image.Image:
            pixels = np.full((SIZE, SIZE, 3), index % 256, np.uint8)
            pixels[index % SIZE] = 255 - index % 256  # every preview different
            return Image.fromarray(pixels)

        return fn

    def stream(count: int) -> None:
        for i in range(count):
            stamp = worker.request_render(render(i))
            qtbot.waitUntil(lambda stamp=stamp: bool(shown) and shown[-1] == stamp, timeout=10_000)

    try:
        stream(100)  # warm up: allocator pools, Qt's image caches, first imports
        gc.collect()
        before = resident_mb()
        stream(PREVIEWS)
        gc.collect()
        after = resident_mb()
    finally:
        worker.shutdown()
    assert len(shown) == 100 + PREVIEWS
    assert view.image() is not None
    # Kept previews would add 0.19 MB each: 1,000 of them about 190 MB.
    assert after - before < 15, f"resident memory grew by {after - before:.1f} MB over {PREVIEWS} previews"
