"""Paths between latent points: slerp, the path Gaussian latents want, and the job rendering one."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from studio.engine.jobs import Progress

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

    from PIL import Image

    from studio.engine.latent.model import LatentModel
    from studio.engine.latent.state import LatentState

# Frames rendered per step of the interpolation job: one progress report (and preview) each.
BATCH = 8


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation, the path Gaussian latents want (a lerp midpoint is atypically short).

    ``t=0`` and ``t=1`` return copies of ``a`` and ``b`` exactly. Nearly parallel, opposite or
    zero vectors, where the arc is ill-defined, fall back to a straight line.
    """
    a32, b32 = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    if t == 0:
        return a32.copy()
    if t == 1:
        return b32.copy()
    a64, b64 = a32.astype(np.float64), b32.astype(np.float64)
    norms = np.linalg.norm(a64) * np.linalg.norm(b64)
    cos = float(a64 @ b64 / norms) if norms > 0 else 1.0
    if abs(cos) > 0.9995:
        return ((1.0 - t) * a64 + t * b64).astype(np.float32)
    omega = math.acos(cos)
    sin = math.sin(omega)
    return (math.sin((1.0 - t) * omega) / sin * a64 + math.sin(t * omega) / sin * b64).astype(np.float32)


def interpolate_frames(zs: Sequence[np.ndarray], frames: int, loop: bool) -> np.ndarray:
    """``frames`` points spread evenly along the slerp path through ``zs``, as [frames, d].

    The first frame is ``zs[0]``. Without ``loop`` the last is ``zs[-1]``; with it the path
    returns toward ``zs[0]`` and stops one step short, so the animation repeats seamlessly.
    """
    keys = [np.asarray(z, dtype=np.float32) for z in zs]
    if len(keys) < 2:
        raise ValueError("an interpolation needs at least two points")
    if any(k.shape != keys[0].shape or k.ndim != 1 for k in keys):
        raise ValueError("every point of an interpolation needs the same latent size")
    if frames < 2:
        raise ValueError("an interpolation needs at least two frames")
    if loop:
        keys.append(keys[0])
    segments = len(keys) - 1
    steps = segments / frames if loop else segments / (frames - 1)
    path = np.empty((frames, keys[0].size), dtype=np.float32)
    for i in range(frames):
        position = i * steps
        segment = min(int(position), segments - 1)
        path[i] = slerp(keys[segment], keys[segment + 1], position - segment)
    return path


def interpolate_path(zs: Sequence[np.ndarray], frames_per_segment: int, loop: bool) -> np.ndarray:
    """``frames_per_segment`` frames from each point to the next, as [frames, d]; frame 0 is ``zs[0]``.

    Without ``loop`` one last frame equal to ``zs[-1]`` closes the path.
    """
    if frames_per_segment < 1:
        raise ValueError("an interpolation needs at least one frame per segment")
    segments = len(zs) if loop else len(zs) - 1
    return interpolate_frames(zs, frames_per_segment * segments + (0 if loop else 1), loop)


def frame_classes(states: Sequence[LatentState], frame_count: int, frames_per_segment: int) -> list[int | None]:
    """Each frame keeps the class of the bookmark its segment starts from (classes do not blend)."""
    return [states[min(i // frames_per_segment, len(states) - 1)].class_index for i in range(frame_count)]


def frame_layers(
    states: Sequence[LatentState], frame_count: int, frames_per_segment: int, loop: bool
) -> list[np.ndarray | None]:
    """Each frame's per-layer w offsets (a repainted region, ``LatentState.layers``), blended in a
    straight line between the bookmarks' (a bookmark without any counts as all zeros); all None
    when no bookmark carries any. Offsets are added to w, so a straight line is their path."""
    offsets = [s.layers_array() for s in states]
    present = [o for o in offsets if o is not None]
    if not present:
        return [None] * frame_count
    if any(o.shape != present[0].shape for o in present):
        raise ValueError(
            "these bookmarks carry changes for different numbers of layers (repainted with different "
            "models), so they cannot be blended"
        )
    keys = [np.zeros_like(present[0]) if o is None else o for o in offsets]
    keys.append(keys[0])
    segments = len(states) if loop else len(states) - 1
    frames: list[np.ndarray | None] = []
    for i in range(frame_count):  # frame i lies i / frames_per_segment of the way along the path
        segment = min(i // frames_per_segment, segments - 1)
        t = i / frames_per_segment - segment
        frames.append(((1.0 - t) * keys[segment] + t * keys[segment + 1]).astype(np.float32))
    return frames


def interpolation_job(
    model: LatentModel, states: Sequence[LatentState], frames_per_segment: int, loop: bool
) -> Generator[Progress, None, list[Image.Image]]:
    """Worker side: a job rendering the path through ``states``; returns the frames (PIL).

    Latent vectors follow the slerp path and per-layer offsets (a repaint) a straight line; the
    class and a style mix are those of the bookmark the segment starts from (they do not blend).
    """
    zs = interpolate_path([s.z_array() for s in states], frames_per_segment, loop)
    classes = frame_classes(states, len(zs), frames_per_segment)
    layers = frame_layers(states, len(zs), frames_per_segment, loop)
    uniform = all(c == classes[0] for c in classes)
    psi = states[0].psi
    frames: list[Image.Image] = []
    total = len(zs)
    if any(s.mix is not None or s.layers for s in states):  # drawn with per-layer w: one render each
        for i, z in enumerate(zs):
            key = states[min(i // frames_per_segment, len(states) - 1)]  # the bookmark the segment starts from
            offsets = layers[i]
            rows = () if offsets is None else tuple(map(tuple, offsets.astype(np.float64)))
            frame = replace(key, z=tuple(float(v) for v in z), psi=psi, layers=rows, seed=None)
            frames.append(model.render(frame))
            if len(frames) % BATCH == 0 or len(frames) == total:
                yield Progress(len(frames) / total, f"Interpolating: frame {len(frames)} of {total}", frames[-1])
        return frames
    for start in range(0, total, BATCH):
        chunk_classes = classes[0] if uniform else classes[start : start + BATCH]
        images = model.render_batch(zs[start : start + BATCH], chunk_classes, psi=psi)
        frames.extend(images)
        yield Progress(len(frames) / total, f"Interpolating: frame {len(frames)} of {total}", preview=images[-1])
    return frames
