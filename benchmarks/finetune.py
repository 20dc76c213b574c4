"""Fine-tuning figures: the loop's training speed, and how far a short fine-tune moves a model.

Prints JSON. Three parts, each runnable alone (``python benchmarks/finetune.py PART``):

``throughput``
    Images per second for the bundled Emoji GAN's architecture (conditional, hinge loss,
    spectral norm) at batch 32 on this CPU: the studio's loop (:func:`train_job`, with
    everything it does per step: weight average, loss bookkeeping, its own random state) against
    a minimal hand-written PyTorch loop of the same model and loss (two Adam optimisers, one
    discriminator and one generator step, nothing else), as a tutorial would write it, and the
    same loop with the studio's three speed-ups (``minimal_tuned``: channels_last, one
    discriminator pass over real and fake, no discriminator gradients in the generator step),
    which leaves only the studio's own overhead to compare. Goal: the studio at least 0.9 of
    the minimal loop. The fine-tune recipe (FreezeD, flips, DiffAugment) is timed too. Runs are
    interleaved, studio / minimal / fine-tune, and each figure is the best of ``--rounds``
    (other processes on a shared machine only ever slow a run down).

``folder``
    Builds the adaptation data set offline from Debian's ``openclipart-png`` (public domain:
    Creative Commons Public Domain Dedication, see /usr/share/doc/openclipart-png/copyright):
    ``apt-get install openclipart-png``, then the drawings under ``transportation/`` and
    ``buildings/`` (vehicles and houses: nothing like an emoji), each read through the studio's
    safe loader, trimmed to its drawing, padded square on white with a small margin and saved
    as a 64 px PNG; a seeded choice of ``--count`` of them.

``adapt``
    Fine-tunes the bundled Emoji GAN on that folder (class 0 becomes the clip art; FreezeD;
    flips and DiffAugment; batch 32; ``--steps`` steps on one thread), with the held-out 10 %
    of the folder for KID (VGG19 relu5_1, as everywhere in the studio) before and after. Saves
    ``docs/finetune-before.png`` and ``docs/finetune-after.png``: the same 64 latent points
    through the base and the fine-tuned generator, and ``docs/finetune-data.png``, 64 of the
    training images. The model goes to a temporary folder, not the user's library.

With no part named, all three run. ``--threads`` (default 1) sets torch's CPU threads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CLIPART = Path("/usr/share/openclipart/png")
CATEGORIES = ("transportation", "buildings")
SIZE = 64


# --- (a) throughput ----------------------------------------------------------------------------


def _bundled_gan_config():
    from studio.engine.training.finetune.base import load_base

    return load_base("emoji-gan").config


def _synthetic(count: int, classes: int):
    from studio.engine.data.dataset import ImageDataset

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (count, 3, SIZE, SIZE), dtype=torch.uint8, generator=generator)
    labels = torch.arange(count) % classes
    names = [str(i) for i in range(count)]
    return ImageDataset(images, labels, [f"c{i}" for i in range(classes)], names, torch.zeros(count, dtype=torch.uint8))


def studio_images_per_second(config, dataset, steps: int, warmup: int, out_dir: Path) -> float:
    """Images per second of the studio's loop, between the yield after ``warmup`` and after the last step."""
    from studio.engine.devices import select_device
    from studio.engine.training.loop import TrainProgress, train_job

    out = out_dir / f"throughput-{time.monotonic_ns()}.safetensors"
    run = config.replace(steps=warmup + steps, log_every=50, sample_every=10**9, checkpoint_every=10**9, evaluate=False)
    job = train_job(run, dataset, out, device=select_device())
    started = None
    for progress in job:
        if isinstance(progress, TrainProgress) and progress.phase == "train":
            if progress.step == warmup:
                started = time.perf_counter()
            elif progress.step == run.steps:
                seconds = time.perf_counter() - started
                job.close()  # the final checkpoint and model are not part of the speed
                break
    return steps * config.batch * config.n_critic / seconds


def minimal_images_per_second(model_config, dataset, batch: int, steps: int, warmup: int, tuned: bool = False) -> float:
    """A minimal hand-written loop of the same model and loss: what a tutorial would write.

    ``tuned`` adds the three things the studio's step does for speed, and nothing else: NHWC
    tensors (channels_last), one discriminator pass over real and fake together, and no
    discriminator gradients during the generator's step. The studio's loop against this one
    shows its own overhead (weight average, loss bookkeeping, random-state swaps).
    """
    from studio.engine.models import build_gan

    torch.manual_seed(0)
    g, d = build_gan(model_config)
    layout = torch.channels_last if tuned else torch.contiguous_format
    g, d = g.to(memory_format=layout), d.to(memory_format=layout)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.0, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=4e-4, betas=(0.0, 0.999))
    images, labels = dataset.images, dataset.labels
    started = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            started = time.perf_counter()
        index = torch.randint(0, len(images), (batch,))
        real = (images[index].float() / 127.5 - 1).contiguous(memory_format=layout)
        y = labels[index]
        z = torch.randn(batch, model_config.latent_dim)
        fake = g(z, y)
        if tuned:
            real_logits, fake_logits = d(torch.cat([real, fake.detach()]), torch.cat([y, y])).chunk(2)
        else:
            real_logits, fake_logits = d(real, y), d(fake.detach(), y)
        d_loss = torch.relu(1 - real_logits).mean() + torch.relu(1 + fake_logits).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        if tuned:
            d.requires_grad_(False)
        g_loss = -d(fake, y).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if tuned:
            d.requires_grad_(True)
    return steps * batch / (time.perf_counter() - started)


def throughput(rounds: int, steps: int, warmup: int) -> dict:
    from studio.engine.training.config import default_config
    from studio.engine.training.freezing import preset_blocks

    model = _bundled_gan_config()
    dataset = _synthetic(512, model.num_classes)
    plain = default_config("gan", model, batch=32, seed=0)
    finetune = plain.replace(
        freeze=preset_blocks("freeze-d", model),
        flip=True,
        diffaugment=("color", "translation", "cutout"),
        fixed_class=0,
    )
    results: dict[str, list[float]] = {"studio": [], "minimal": [], "minimal_tuned": [], "studio_finetune_recipe": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            results["studio"].append(studio_images_per_second(plain, dataset, steps, warmup, Path(folder)))
            results["minimal"].append(minimal_images_per_second(model, dataset, 32, steps, warmup))
            results["minimal_tuned"].append(minimal_images_per_second(model, dataset, 32, steps, warmup, tuned=True))
            results["studio_finetune_recipe"].append(
                studio_images_per_second(finetune, dataset, steps, warmup, Path(folder))
            )
    best = {name: max(values) for name, values in results.items()}
    return {
        "model": "Emoji GAN architecture (conditional, 9 classes, hinge, spectral norm)",
        "batch": 32,
        "steps_timed": steps,
        "threads": torch.get_num_threads(),
        "images_per_second_best": {k: round(v, 1) for k, v in best.items()},
        "images_per_second_all": {k: [round(x, 1) for x in v] for k, v in results.items()},
        "ratio_studio_to_minimal": round(best["studio"] / best["minimal"], 3),
        "ratio_studio_to_minimal_tuned": round(best["studio"] / best["minimal_tuned"], 3),
        "ratio_finetune_recipe_to_minimal": round(best["studio_finetune_recipe"] / best["minimal"], 3),
        "goal": "ratio_studio_to_minimal >= 0.9",
        "load_average": os.getloadavg(),
    }


# --- (b) the clip-art folder and the adaptation run ---------------------------------------------------


def _drawing_square(image: Image.Image, alpha: Image.Image | None) -> Image.Image | None:
    """The drawing trimmed to its ink, padded square on white with a 6 % margin; None if blank."""
    grey = np.asarray(image.convert("L"))
    ink = grey < 245
    if alpha is not None:
        ink |= np.asarray(alpha) > 16
        ink &= grey < 250
    ys, xs = np.nonzero(ink)
    if len(ys) < 50:
        return None
    box = image.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    side = int(max(box.size) * 1.12) + 1
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(box, ((side - box.width) // 2, (side - box.height) // 2))
    return canvas.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def build_folder(out: Path, count: int, seed: int = 0) -> dict:
    from studio.files.images import ImageLoadError, load_image

    if not CLIPART.is_dir():
        raise SystemExit(f"{CLIPART} is missing: apt-get install openclipart-png")
    sources = sorted(p for category in CATEGORIES for p in (CLIPART / category).rglob("*.png"))
    random.Random(seed).shuffle(sources)
    out.mkdir(parents=True, exist_ok=True)
    written, skipped = [], 0
    for source in sources:
        if len(written) == count:
            break
        try:
            loaded = load_image(source)
        except ImageLoadError:
            skipped += 1
            continue
        square = _drawing_square(loaded.image, loaded.alpha)
        if square is None:
            skipped += 1
            continue
        name = f"{len(written):03d}-{source.stem[:40]}.png"
        square.save(out / name)
        written.append(str(source.relative_to(CLIPART)))
    (out / "SOURCES.txt").write_text(
        "Rendered from Debian's openclipart-png (Open Clip Art Library 0.18), public domain\n"
        "(Creative Commons Public Domain Dedication; /usr/share/doc/openclipart-png/copyright).\n"
        "Built by: python benchmarks/finetune.py folder --out " + str(out) + "\n\n" + "\n".join(written) + "\n",
        encoding="utf-8",
    )
    return {
        "folder": str(out),
        "images": len(written),
        "categories": list(CATEGORIES),
        "skipped_sources": skipped,
        "licence": "public domain (openclipart-png)",
    }


def _grid_of(generator_fn, z: torch.Tensor, labels: torch.Tensor) -> Image.Image:
    from studio.engine.training.grid import image_grid

    with torch.inference_mode():
        return image_grid(generator_fn(z, labels), 8)


def adapt(folder: Path, steps: int, docs: Path) -> dict:
    from studio.engine.data.folder import load_folder_dataset
    from studio.engine.devices import select_device
    from studio.engine.jobs import run_to_end
    from studio.engine.models import load_generative_model
    from studio.engine.training.finetune.base import load_base
    from studio.engine.training.finetune.job import finetune_job
    from studio.engine.training.finetune.settings import FinetuneSettings
    from studio.engine.training.grid import image_grid
    from studio.files.images import save_png

    base = load_base("emoji-gan")
    settings = FinetuneSettings(
        base="emoji-gan",
        data=str(folder),
        name="Clip art GAN (benchmark)",
        steps=steps,
        batch=32,
        freeze="freeze-d",
        resize="pad",
        class_index=0,
        sample_every=max(1, steps // 4),
        checkpoint_every=max(1, steps // 4),
        log_every=50,
        kid=True,
        seed=0,
    )
    z = torch.randn(64, base.config.latent_dim, generator=torch.Generator().manual_seed(2024))
    labels = torch.zeros(64, dtype=torch.long)
    before_model = load_generative_model(base.path).model
    before = _grid_of(before_model, z, labels)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as out_dir:
        result = run_to_end(finetune_job(settings, device=select_device(), out_dir=out_dir))
        wall = time.monotonic() - started
        after_model = load_generative_model(result.model_path).model
        after = _grid_of(after_model, z, labels)
        card = json.loads(result.model_path.with_suffix(".json").read_text(encoding="utf-8"))
    dataset, _ = load_folder_dataset(folder, image_size=SIZE, resize="pad", heldout=0.1, seed=0)
    real = image_grid(dataset.train().batch(range(64)), 8)
    note = {"benchmark": "benchmarks/finetune.py adapt", "steps": steps, "z_seed": 2024, "class": 0}
    save_png(docs / "finetune-before.png", before, {**note, "model": "Emoji GAN (bundled)"})
    save_png(docs / "finetune-after.png", after, {**note, "model": "Emoji GAN fine-tuned on clip art"})
    save_png(docs / "finetune-data.png", real, {"benchmark": "benchmarks/finetune.py adapt", "what": "training images"})
    return {
        "base": "emoji-gan (bundled)",
        "data": {k: card["data"][k] for k in ("count", "train", "heldout", "skipped_count")},
        "steps": steps,
        "batch": 32,
        "freeze": card["finetune"]["freeze"],
        "augment": ["flip", "color", "translation", "cutout"],
        "kid_before": result.kid_before.history_entry() if result.kid_before else None,
        "kid_after": {k: result.kid_after.card_entry()[k] for k in ("kid", "kid_std", "n_real", "n_fake")},
        "kid_history": card.get("kid_history"),
        "training_time_s": card["wall_time_s"],
        "wall_time_s": round(wall, 1),
        "threads": torch.get_num_threads(),
        "grids": ["docs/finetune-before.png", "docs/finetune-after.png", "docs/finetune-data.png"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=("throughput", "folder", "adapt"), help="one part (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="throughput: interleaved rounds")
    parser.add_argument("--timed-steps", type=int, default=40, help="throughput: steps timed per run")
    parser.add_argument("--folder", type=Path, default=ROOT / "data" / "clipart64", help="the clip-art folder")
    parser.add_argument("--count", type=int, default=400, help="folder: how many drawings")
    parser.add_argument("--steps", type=int, default=1600, help="adapt: fine-tuning steps")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report: dict = {}
    if args.part in (None, "throughput"):
        report["throughput"] = throughput(args.rounds, args.timed_steps, warmup=5)
    if args.part in (None, "folder"):
        report["folder"] = build_folder(args.folder, args.count)
    if args.part in (None, "adapt"):
        report["adaptation"] = adapt(args.folder, args.steps, args.docs)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
