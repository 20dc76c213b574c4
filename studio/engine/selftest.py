"""A short job that proves the compute device works end to end: tensors, a convolution, an image.

``latent-studio --self-test`` and the packaging smoke test run it through the worker.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from studio.engine.jobs import JobGenerator, Progress

if TYPE_CHECKING:
    from studio.engine.devices import DeviceInfo


def device_check_job(device: DeviceInfo, size: int = 128, steps: int = 4) -> JobGenerator:
    import torch
    import torch.nn.functional as F

    from studio.files.images import array_to_pil

    started = time.perf_counter()
    dev = device.torch()
    generator = torch.Generator(device="cpu").manual_seed(0)
    axis = torch.linspace(-1.0, 1.0, size, device=dev)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    radius = torch.sqrt(x * x + y * y)
    angle = torch.atan2(y, x)
    blur = torch.ones(3, 1, 5, 5, device=dev) / 25.0
    image = None
    for step in range(1, steps + 1):
        phase = step * math.pi / steps
        rgb = torch.stack(
            [
                0.5 + 0.5 * torch.sin(6 * radius - phase + angle),
                0.5 + 0.5 * torch.sin(4 * angle + 3 * radius + phase),
                0.5 + 0.5 * torch.cos(5 * radius * (1 + 0.3 * torch.sin(3 * angle))),
            ]
        )
        noise = torch.rand(3, size, size, generator=generator).to(dev) * 0.05
        padded = F.pad((rgb + noise).unsqueeze(0), (2, 2, 2, 2), mode="reflect")  # no dark frame at the edges
        rgb = F.conv2d(padded, blur, groups=3)[0].clamp(0, 1)
        if not torch.isfinite(rgb).all():
            raise RuntimeError(f"{device.label} produced invalid numbers (NaN or infinity)")
        image = array_to_pil(rgb.cpu())
        yield Progress(step / steps, f"Device check {step}/{steps} on {device.label}", image)
    return {"image": image, "device": device.label, "seconds": time.perf_counter() - started}
