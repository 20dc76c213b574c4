"""The Emoji Faces model's shipped named directions, rebuilt from their committed labels and measured.

The labels (resources/models/emoji-faces.direction-labels.json) are seeds a person marked as
having a trait or not, by looking at the rendered samples. Each direction is fitted as ``studio
direction create --positive-seeds ... --negative-seeds ... --orthogonal-to ...`` fits it, in the
file's order, each orthogonal to the ones before, on the labelled seeds below
``fit_seeds_below``. Reported per shipped direction: the 5-fold cross-validated accuracy on those
seeds, the accuracy on the labelled seeds from ``fit_seeds_below`` up (never fitted on), and the
cross-effect matrix: how much every direction's classifier score (its value, in sigma) changes
per sigma moved along each one (target <= 0.1 off the diagonal).

``--rebuild`` writes resources/models/emoji-faces.directions.safetensors (deterministic: the
same labels give the same file); ``--figure PATH`` saves the shipped directions (rows) on a few
seeds (columns of five): each seed moved -2, -1, 0, +1, +2 sigma from its own value, the middle
tile being the seed as it is. That is what an artist sees dragging a named slider: it starts at
the picture's own value (for Emoji Faces samples anywhere from about -5 to +4 sigma, so a move to
"0" can already be a long way) and the drag moves the picture from there. Prints JSON.
Usage: ``python benchmarks/directions_by_example.py [--rebuild] [--figure docs/emoji-faces-named-directions.png]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's studio, which fits what it writes into its resources

from studio.engine.latent.direction_labels import fit_labelled, read_labels  # noqa: E402
from studio.engine.latent.model import LatentModel  # noqa: E402
from studio.engine.latent.named_directions import (  # noqa: E402
    NamedDirection,
    directions_path,
    read_directions,
    write_directions,
)

MODELS = ROOT / "resources" / "models"  # this checkout's, not an installed copy
FIGURE_SEEDS = (31, 62, 11, 39)  # open-mouthed, smiling, worried and frowning faces
STEPS = (-2.0, -1.0, 0.0, 1.0, 2.0)  # sigma from the seed's own value


def cross_effect(moved: NamedDirection, read: NamedDirection) -> float:
    """Change of ``read``'s value per sigma moved along ``moved``."""
    assert moved.normal is not None and read.normal is not None
    step = moved.scale / float(moved.normal.astype(np.float64) @ moved.vector.astype(np.float64))
    return float(read.normal.astype(np.float64) @ moved.vector.astype(np.float64)) * step / read.scale


def heldout_accuracy(model: LatentModel, direction: NamedDirection, positive: list[int], negative: list[int]) -> float:
    right = sum(direction.value(model.random_z(s)) > 0 for s in positive)
    right += sum(direction.value(model.random_z(s)) <= 0 for s in negative)
    return right / (len(positive) + len(negative))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="write the shipped directions file from the labels")
    parser.add_argument("--figure", help="save the shipped directions' figure here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    model_path = MODELS / "emoji-faces.safetensors"
    model = LatentModel.load(model_path)
    labels = read_labels(MODELS / "emoji-faces.direction-labels.json")
    fitted = fit_labelled(model, labels)
    shipped_file = directions_path(model_path)
    if args.rebuild:
        write_directions(shipped_file, fitted)
    shipped = read_directions(shipped_file, model.latent_dim, model.latent_space)
    report: dict[str, object] = {
        "model": model.name,
        "labels": "resources/models/emoji-faces.direction-labels.json",
        "rebuilt_matches_shipped": all(
            a.name == b.name and float(a.vector @ b.vector) > 0.9999 for a, b in zip(fitted, shipped, strict=True)
        ),
    }
    rows = {}
    for direction, item in zip(shipped, labels.directions, strict=True):
        rows[direction.name] = {
            "positive_fit": len(labels.split(item.positive, heldout=False)),
            "negative_fit": len(labels.split(item.negative, heldout=False)),
            "positive_heldout": len(labels.split(item.positive, heldout=True)),
            "negative_heldout": len(labels.split(item.negative, heldout=True)),
            "kfold_accuracy": round(float(direction.accuracy or 0.0), 3),
            "heldout_accuracy": round(
                heldout_accuracy(
                    model, direction, labels.split(item.positive, heldout=True), labels.split(item.negative, True)
                ),
                3,
            ),
            "orthogonal_to": list(item.orthogonal_to),
        }
    report["directions"] = rows
    report["cross_effect_per_sigma"] = {
        moved.name: {read.name: round(cross_effect(moved, read), 4) for read in shipped if read is not moved}
        for moved in shipped
    }
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=2))
    if args.figure:
        size, gap = model.image_size, 8
        width = len(FIGURE_SEEDS) * (len(STEPS) * size + gap) - gap
        figure = Image.new("RGB", (width, len(shipped) * size), "white")
        for row, direction in enumerate(shipped):
            for k, seed in enumerate(FIGURE_SEEDS):
                z = model.random_z(seed)
                own = direction.value(z)
                tiles = model.render_batch(np.stack([direction.moved_to(z, own + step) for step in STEPS]))
                for col, tile in enumerate(tiles):
                    figure.paste(tile, (k * (len(STEPS) * size + gap) + col * size, row * size))
        figure.resize((2 * figure.width, 2 * figure.height), Image.Resampling.NEAREST).save(args.figure)


if __name__ == "__main__":
    main()
