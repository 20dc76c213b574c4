"""A VAE or GAN generator behind the one interface the Latent Explorer and the command line share."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from PIL import Image, ImageOps

from studio.engine.jobs import JobCancelled, Progress
from studio.engine.latent.directions import (
    Directions,
    axis_directions,
    directions_cache_path,
    ganspace_directions,
    prior_directions,
    read_cached_directions,
    scaled_to,
    sefa_directions,
    w_pca_directions,
    write_cached_directions,
)
from studio.engine.latent.mixing import MixNotSupported, StyleMix, layer_group
from studio.engine.latent.named_directions import (
    NamedDirection,
    delete_direction,
    model_directions,
    own_direction_names,
    save_direction,
)
from studio.engine.latent.state import LatentState, is_int
from studio.spec.bounds import MAX_SEED

if TYPE_CHECKING:
    import os
    from collections.abc import Generator, Sequence

    import torch
    from numpy.typing import ArrayLike

    from studio.engine.models.gan import Generator as GANGenerator
    from studio.engine.models.stylegan import StyleGenerator
    from studio.engine.models.vae import VAE
    from studio.engine.models.vae_prior import MixturePrior

DIRECTION_METHODS = {"vae": ("vae-kl", "vae-variance", "vae-prior"), "gan": ("sefa", "ganspace")}
_DIRECTIONS_SEED = 0
_KL_SAMPLES = 64
_VARIANCE_BASES = 4
_GANSPACE_SAMPLES = 512
_BATCH = 64  # images per forward pass when rendering or measuring many
_W_MEAN_SAMPLES = 1024  # per class: the class mean to a few hundredths of w's spread
_W_MEAN_SEED = 1


class EncodeNotSupported(NotImplementedError):
    """The model has no encoder (a GAN): images are projected with ``project_job`` instead."""


@dataclass
class _RenderBuffers:
    z: torch.Tensor  # [1, d] on the device, reused by every render
    labels: torch.Tensor | None  # [1] long on the device, or None for an unconditional model


@dataclass(eq=False)
class LatentModel:
    """A VAE or GAN generator, ready to render latent points. Build with :meth:`load`.

    Renders reuse one input buffer, so a model belongs to one thread at a time (the worker's).
    """

    module: VAE | GANGenerator | StyleGenerator = field(repr=False)  # in eval mode, parameters frozen
    kind: str  # "vae" or "gan"
    sha256: str
    name: str
    path: Path | None = None
    card: dict[str, Any] = field(default_factory=dict, repr=False)
    class_names: list[str] = field(default_factory=list)
    device: str = "cpu"
    latent_dim: int = field(init=False)
    image_size: int = field(init=False)

    def __post_init__(self) -> None:
        import torch

        if self.kind not in DIRECTION_METHODS:
            raise ValueError(f"kind must be 'vae' or 'gan', got {self.kind!r}")
        config = self.module.config
        # GAN v2: the explorer's latent vector is w's offset from its class's mean w (see
        # random_z); everything else works on z itself.
        self.style_based = self.kind == "gan" and bool(getattr(config, "style_based", False))
        self.latent_dim = int(self._style_generator.config.w_dim if self.style_based else config.latent_dim)
        self._prior = _prior_of(self._vae) if self.kind == "vae" else None
        if self.kind == "gan":
            num_classes = int(getattr(config, "num_classes", 0) or 0)
        else:
            # A VAE's fitted prior has its components per class, so a class can be picked; a card
            # lists its data set's classes even for a VAE without one: there is no class to pick then.
            num_classes = self._prior.num_classes if self._prior is not None else 0
        if not num_classes:
            self.class_names = []
        elif len(self.class_names) != num_classes:
            self.class_names = [f"class {i}" for i in range(num_classes)]
        self.module.eval().requires_grad_(False)
        self._directions: dict[tuple[str, int | None], Directions] = {}
        self._named: list[NamedDirection] | None = None
        self._truncate = _truncation() if self.kind == "gan" else None
        with torch.inference_mode():
            self._w_means = self._class_mean_ws() if self.style_based else None
            labels = torch.zeros(1, dtype=torch.long, device=self.device) if self.class_names else None
            self._buffers = _RenderBuffers(torch.zeros(1, self.latent_dim, device=self.device), labels)
            # One render now: warms the kernels up and tells the image size.
            self.image_size = int(self._generate(self._buffers.z, labels, 1.0).shape[-1])

    # The module as the class its kind says it is (kind "vae", a GAN v1, a GAN v2).
    @property
    def _vae(self) -> VAE:
        return cast("VAE", self.module)

    @property
    def _gan_generator(self) -> GANGenerator:
        return cast("GANGenerator", self.module)

    @property
    def _style_generator(self) -> StyleGenerator:
        return cast("StyleGenerator", self.module)

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "cpu") -> LatentModel:
        from studio.engine.checkpoints import ModelFileError, model_sha256
        from studio.engine.models.store import load_generative_model

        file = Path(path)
        loaded = load_generative_model(file, device)
        kinds = {"vae": "vae", "gan-generator": "gan"}
        if loaded.architecture not in kinds:
            raise ModelFileError(f"{file.name}: a {loaded.architecture} has no latent space to explore")
        card = loaded.card or {}
        return cls(
            loaded.model,
            kinds[loaded.architecture],
            sha256=model_sha256(file),
            name=str(card.get("name") or file.stem),
            path=file,
            card=card,
            class_names=_class_names(card),
            device=str(device),
        )

    # --- points --------------------------------------------------------------------------------

    @property
    def seed_depends_on_class(self) -> bool:
        """Whether a seed gives another latent vector in another class (a conditional GAN v2, a
        VAE drawing from its class's part of the prior)."""
        return (self.style_based or self._prior is not None) and bool(self.class_names)

    @property
    def directions_depend_on_class(self) -> bool:
        """Whether each class has its own slider axes (a VAE's prior: its class's components)."""
        return self._prior is not None and bool(self.class_names)

    def random_z(self, seed: int, class_index: int | None = None) -> np.ndarray:
        """The latent vector of a seed, the same for the same seed on every machine.

        A GAN v1 draws z from N(0, I); a VAE from its fitted prior when it has one (else
        N(0, I)); a GAN v2 maps the seed's z (in ``class_index``) to w and returns w's offset
        from the class's mean w.
        """
        if not is_int(seed) or seed < 0:
            raise ValueError(f"a seed is a non-negative whole number, got {seed!r}")
        index = self._class(class_index)
        return self.sample_latents(np.random.default_rng(seed), 1, None if index is None else [index])[0]

    def sample_latents(
        self, rng: np.random.Generator, count: int, class_indices: Sequence[int] | Any = None
    ) -> np.ndarray:
        """``count`` latent vectors drawn as Randomize draws them, from ``rng`` (count x latent_dim)."""
        import torch

        if self._prior is not None:
            if class_indices is None or not self.class_names:
                return self._prior.sample(rng, count)
            classes = np.asarray(class_indices).reshape(-1)
            if len(classes) == 1:
                classes = np.repeat(classes, count)
            zs = np.empty((count, self.latent_dim), dtype=np.float32)
            for c in np.unique(classes):  # in class order, so the same rng gives the same points
                chosen = classes == c
                zs[chosen] = self._prior.for_class(int(c)).sample(rng, int(chosen.sum()))
            return zs
        if not self.style_based:
            return rng.standard_normal((count, self.latent_dim), dtype=np.float32)
        z = torch.from_numpy(rng.standard_normal((count, self.module.config.latent_dim), dtype=np.float32))
        labels = None
        if self.class_names:
            label_values = (
                [0] * count if class_indices is None else [int(c) for c in np.asarray(class_indices).reshape(-1)]
            )
            labels = torch.tensor(label_values, dtype=torch.long, device=self.device)
        assert self._w_means is not None  # set for every style-based model
        with torch.inference_mode():
            w = self._style_generator.mapping(z.to(self.device), labels)
            offsets = w - self._w_means[0 if labels is None else labels]
        return offsets.float().cpu().numpy()

    def sampling_description(self) -> str:
        if self._prior is not None:
            return f"z from the fitted prior, a mixture of {len(self._prior.weights)} Gaussians"
        if self.style_based:
            return "z from N(0, I) through the mapping network, psi = 1"
        return "z from N(0, I)" + (", psi = 1" if self.kind == "gan" else "")

    def generate_tensor(
        self, zs: np.ndarray, class_indices: Sequence[int] | Any = None, psi: float = 1.0
    ) -> torch.Tensor:
        """Images (N x 3 x H x W in [-1, 1], on the CPU) at many points, for measuring."""
        import torch

        zs = np.ascontiguousarray(zs, dtype=np.float32).reshape(-1, self.latent_dim)
        labels = None
        if self.class_names:
            classes = (
                [0] * len(zs) if class_indices is None else [int(c) for c in np.asarray(class_indices).reshape(-1)]
            )
            labels = torch.tensor(classes, dtype=torch.long)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(zs), _BATCH):
                z = torch.from_numpy(zs[start : start + _BATCH]).to(self.device)
                chunk_labels = None if labels is None else labels[start : start + _BATCH].to(self.device)
                chunks.append(self._generate(z, chunk_labels, psi).float().cpu())
        return torch.cat(chunks)

    def _class_mean_ws(self) -> torch.Tensor:
        """Each class's mean w (C x w_dim; one row for an unconditional model): where psi = 0 leads."""
        import torch

        generator = torch.Generator().manual_seed(_W_MEAN_SEED)
        mapping = self._style_generator.mapping
        z = torch.randn(_W_MEAN_SAMPLES, self.module.config.latent_dim, generator=generator).to(self.device)
        if not self.class_names:
            return mapping(z, None).mean(dim=0, keepdim=True)
        means = []
        for c in range(len(self.class_names)):
            labels = torch.full((len(z),), c, dtype=torch.long, device=self.device)
            means.append(mapping(z, labels).mean(dim=0))
        return torch.stack(means)

    def state(
        self, z: np.ndarray, class_index: int | None = None, psi: float = 1.0, seed: int | None = None
    ) -> LatentState:
        """A :class:`LatentState` of this model (the class defaults to the first of a conditional model)."""
        return LatentState(self.sha256, self.name, tuple(self._check_z(z)), self._class(class_index), float(psi), seed)

    def class_index(self, name_or_index: str | int | None) -> int | None:
        """A class given by name or index (the command line's --class), checked against the model."""
        if name_or_index is None:
            return None
        if not self.class_names:
            raise ValueError(f"{self.name} is unconditional: it has no classes")
        text = str(name_or_index).strip()
        if text.isdigit() and int(text) < len(self.class_names):
            return int(text)
        folded = [c.casefold() for c in self.class_names]
        if text.casefold() in folded:
            return folded.index(text.casefold())
        raise ValueError(
            f"{self.name} has no class {text!r}; "
            f"its classes: {', '.join(self.class_names)} (or 0..{len(self.class_names) - 1})"
        )

    def _class(self, class_index: int | None) -> int | None:
        if not self.class_names:
            return None
        index = 0 if class_index is None else int(class_index)
        if not 0 <= index < len(self.class_names):
            raise ValueError(f"class index {index} is outside 0..{len(self.class_names) - 1}")
        return index

    def _check_z(self, z: ArrayLike) -> np.ndarray:
        array = np.ascontiguousarray(z, dtype=np.float32)
        if array.shape != (self.latent_dim,):
            raise ValueError(f"{self.name} takes a latent vector of {self.latent_dim} values, got shape {array.shape}")
        return array

    # --- rendering -----------------------------------------------------------------------------

    def _generate(self, z: torch.Tensor, labels: torch.Tensor | None, psi: float) -> torch.Tensor:
        if self.kind == "vae":
            return self._vae.decode(z)
        if self.style_based:
            return self._style_generator.synthesis(self._w(z, labels, psi))
        if psi != 1.0:
            assert self._truncate is not None  # set for every GAN
            z = self._truncate(z, psi)
        return self.module(z, labels=labels)

    def _w(self, z: torch.Tensor, labels: torch.Tensor | int | None, psi: float) -> torch.Tensor:
        """A style-based GAN's w: z holds w's offset from the class's mean w, and psi scales the
        offset (truncation in w)."""
        assert self._w_means is not None  # set for every style-based model
        means = self._w_means[0 if labels is None else labels]
        means = means.expand(z.shape[0], -1) if means.ndim == 2 and means.shape[0] == 1 else means
        return means + psi * z

    def render(
        self, state_or_z: LatentState | np.ndarray, class_index: int | None = None, psi: float = 1.0
    ) -> Image.Image:
        """The image at one point: the slider path, so it reuses buffers and skips autograd.

        A :class:`LatentState` brings its own class and psi. psi (truncation) applies to a GAN only.
        """
        import torch

        if isinstance(state_or_z, LatentState):
            if state_or_z.mix is not None or state_or_z.layers:
                return self._render_ws(state_or_z)
            class_index, psi = state_or_z.class_index, state_or_z.psi
            state_or_z = state_or_z.z_array()
        z = self._check_z(state_or_z)
        index = self._class(class_index)
        buffers = self._buffers
        with torch.inference_mode():
            buffers.z.copy_(torch.from_numpy(z).unsqueeze(0))
            if buffers.labels is not None:
                assert index is not None  # a model with a labels buffer has classes, so _class gave one
                buffers.labels.fill_(index)
            return self._picture(self._generate(buffers.z, buffers.labels, psi)[0])

    # --- style mixing --------------------------------------------------------------------------

    @property
    def can_mix(self) -> bool:
        """Whether the model draws with one w per layer (GAN v2), so layer groups can be mixed."""
        return self.style_based

    def mix_groups(self) -> dict[str, list[int]]:
        """The layer groups this model has, each with the resolutions (px) its layers draw at."""
        self.check_can_mix()
        groups: dict[str, list[int]] = {}
        for size in self._style_generator.layer_sizes():
            sizes = groups.setdefault(layer_group(size), [])
            if size not in sizes:
                sizes.append(size)
        return groups

    def check_can_mix(self) -> None:
        """MixNotSupported, saying why, for a model without per-layer w."""
        if not self.can_mix:
            what = "a VAE" if self.kind == "vae" else "a GAN v1 (DCGAN)"
            raise MixNotSupported(
                f"{self.name} is {what}: it draws with one latent vector for the whole picture, so there "
                "are no layer styles to mix (style mixing needs a GAN v2 'style' model, such as Emoji Faces)"
            )

    def mixed_state(
        self, state: LatentState, other: LatentState, coarse: str = "a", middle: str = "b", fine: str = "b"
    ) -> LatentState:
        """``state`` (point A) mixed with ``other`` (point B): each layer group takes its w from the
        point named for it ("a" or "b"). Render it with :meth:`render`; it travels in PNGs."""
        import dataclasses

        self.check_can_mix()
        for point, label in ((state, "the first point"), (other, "the second point")):
            if point.model_sha256 != self.sha256:
                raise ValueError(f"{label} belongs to another model than {self.name}")
        self._check_z(other.z_array())
        self._class(other.class_index)
        mix = StyleMix(other.z, other.class_index, other.psi, other.seed, coarse=coarse, middle=middle, fine=fine)
        return dataclasses.replace(state, mix=mix)

    def mixed_ws(self, state: LatentState, mix: StyleMix) -> torch.Tensor:
        """The per-layer w (1 x num_ws x w_dim) of a mixed picture: layer i gets A's or B's w by its
        group, plus ``state``'s per-layer offsets (``state.layers``, a repainted region), if any."""
        import torch

        self.check_can_mix()
        if state.model_sha256 != self.sha256:
            raise ValueError(f"this state belongs to another model than {self.name}")
        ws = []
        for z, class_index, psi in (
            (state.z_array(), state.class_index, state.psi),
            (mix.z_array(), mix.class_index, mix.psi),
        ):
            ws.append(self._w(torch.from_numpy(self._check_z(z)).to(self.device), self._class(class_index), psi))
        w_a, w_b = ws
        take_b = [mix.source(layer_group(size)) == "b" for size in self._style_generator.layer_sizes()]
        return self._with_layers(torch.stack([w_b if b else w_a for b in take_b])[None], state)

    # --- per-layer w (what repainting a region changes) ------------------------------------------

    @property
    def num_layers(self) -> int:
        """How many w vectors the model draws with (one per synthesis layer); 1 without per-layer w."""
        return self._style_generator.num_ws if self.style_based else 1

    def check_layers(self, state: LatentState) -> None:
        """ValueError, in plain words, when ``state`` carries per-layer changes this model cannot draw."""
        if not state.layers:
            return
        if not self.style_based:
            what = "a VAE" if self.kind == "vae" else "a GAN v1 (DCGAN)"
            raise ValueError(
                f"this picture carries changes per layer (a repainted region), which only a GAN v2 'style' "
                f"model draws; {self.name} is {what}"
            )
        if len(state.layers) != self.num_layers:
            raise ValueError(
                f"this picture carries changes for {len(state.layers)} layers, but {self.name} draws with "
                f"{self.num_layers}: it was made by another model"
            )

    def state_ws(self, state: LatentState) -> torch.Tensor:
        """The per-layer w (1 x num_ws x w_dim) ``state`` is drawn with (GAN v2): its w, or each
        layer's w from its style mix, plus its per-layer offsets (``state.layers``)."""
        import torch

        self.check_layers(state)  # first: its message names what the picture carries
        self.check_can_mix()
        if state.model_sha256 != self.sha256:
            raise ValueError(f"this state belongs to another model than {self.name}")
        if state.mix is not None:
            return self.mixed_ws(state, state.mix)
        w = self._w(
            torch.from_numpy(self._check_z(state.z_array())).to(self.device), self._class(state.class_index), state.psi
        )
        return self._with_layers(w[None, None].expand(1, self.num_layers, -1), state)

    def _with_layers(self, ws: torch.Tensor, state: LatentState) -> torch.Tensor:
        """``ws`` (1 x num_ws x w_dim) plus ``state``'s per-layer offsets, added after psi and mixing."""
        import torch

        self.check_layers(state)
        layers = state.layers_array()
        if layers is None:
            return ws
        return ws + torch.from_numpy(layers).to(device=ws.device, dtype=ws.dtype)[None]

    def _render_ws(self, state: LatentState) -> Image.Image:
        import torch

        with torch.inference_mode():
            ws = self.state_ws(state)  # refuses a model without per-layer w
            return self._picture(self._style_generator.synthesis(ws)[0])

    def _picture(self, image: torch.Tensor) -> Image.Image:
        """The picture as an image, refused with a message naming the model when it holds NaN/Inf
        (weights that diverged, or half precision overflowing on some GPUs): never flat grey."""
        from studio.engine.picture_health import check_picture

        file = f" ({self.path.name})" if self.path is not None else ""
        check_picture(image, f"{self.name}{file} gave no numbers at this point on {self.device}")
        return _to_pil(image)

    def render_batch(
        self, zs: np.ndarray, class_indices: int | Sequence[int | None] | None = None, psi: float = 1.0
    ) -> list[Image.Image]:
        """Images at many points; ``class_indices`` is one class for all or one per point."""
        import torch

        zs = np.ascontiguousarray(zs, dtype=np.float32).reshape(-1, self.latent_dim)
        if class_indices is None or isinstance(class_indices, (int, np.integer)):
            # One class for every point: None or a scalar (an int, a numpy integer).
            classes = [self._class(None if class_indices is None else int(class_indices))] * len(zs)
        else:
            classes = [self._class(None if c is None else int(c)) for c in class_indices]
            if len(classes) != len(zs):
                raise ValueError(f"{len(zs)} latent vectors but {len(classes)} class indices")
        images: list[Image.Image] = []
        with torch.inference_mode():
            for start in range(0, len(zs), _BATCH):
                z = torch.from_numpy(zs[start : start + _BATCH]).to(self.device)
                labels = None
                if self.class_names:
                    labels = torch.tensor(classes[start : start + _BATCH], dtype=torch.long, device=self.device)
                images.extend(self._picture(x) for x in self._generate(z, labels, psi))
        return images

    def sample_grid(
        self, seed: int, rows: int = 4, cols: int = 4, class_index: int | None = None, psi: float = 1.0
    ) -> tuple[Image.Image, list[np.ndarray]]:
        """``rows`` x ``cols`` samples (tile i has seed ``seed + i``, row by row), no gutters."""
        zs = [self.random_z(seed + i, class_index) for i in range(rows * cols)]
        tiles = self.render_batch(np.stack(zs), class_index, psi)
        width, height = tiles[0].size
        grid = Image.new("RGB", (cols * width, rows * height))
        for i, tile in enumerate(tiles):
            grid.paste(tile, ((i % cols) * width, (i // cols) * height))
        return grid, zs

    # --- directions ----------------------------------------------------------------------------

    def directions(self, method: str | None = None, class_index: int | None = None) -> Directions:
        """The slider axes, computed once per model and method and cached under data_dir()/cache.

        A VAE's prior axes can be those of one class's components (``class_index``): sliders
        that move a point within what that class's codes cover, in units of their spread.
        """
        method = method or self.default_direction_method
        if method == "vae-prior" and self._prior is None:
            raise ValueError(f"{self.name} has no fitted prior; use vae-kl or vae-variance")
        if method not in DIRECTION_METHODS[self.kind]:
            raise ValueError(
                f"a {self.kind} has no {method!r} directions; use one of {', '.join(DIRECTION_METHODS[self.kind])}"
            )
        per_class = method == "vae-prior" and class_index is not None
        key = (method, self._class(class_index) if per_class else None)
        if key in self._directions:
            return self._directions[key]
        found: Directions | None
        if per_class:
            # "vae-prior" has a prior (checked above), whose components are per class, so the
            # model has class names and _class gave an index.
            assert self._prior is not None and key[1] is not None
            found = _prior_directions(self._prior.for_class(key[1]))  # a few 32 x 32 eigenproblems
        else:
            cache = directions_cache_path(self.sha256, method)
            found = read_cached_directions(cache, self.latent_dim, method)
            if found is None:
                found = self._compute_directions(method)
                write_cached_directions(cache, found)
        self._directions[key] = found
        return found

    @property
    def default_direction_method(self) -> str:
        """PCA of w for GAN v2, the fitted prior's axes for a VAE that has one, else the first method."""
        if self.style_based:
            return "ganspace"
        if self._prior is not None:
            return "vae-prior"
        return DIRECTION_METHODS[self.kind][0]

    def _compute_directions(self, method: str) -> Directions:
        import torch

        generator = torch.Generator().manual_seed(_DIRECTIONS_SEED)
        with torch.inference_mode():
            if self.style_based:
                offsets = self._sample_offsets(generator)
                if method == "ganspace":
                    return w_pca_directions(offsets)
                return scaled_to(sefa_directions(self._style_generator.sefa_weight().float().cpu().numpy()), offsets)
            if method == "sefa":
                return sefa_directions(self._gan_generator.sefa_weight().float().cpu().numpy())
            if method == "ganspace":
                return self._ganspace(generator)
            if method == "vae-prior":
                assert self._prior is not None  # directions() refuses "vae-prior" without a prior
                return _prior_directions(self._prior)
            if method == "vae-kl":
                return self._vae_kl(generator)
            return self._vae_variance(generator)

    def _sample_offsets(self, generator: torch.Generator) -> np.ndarray:
        """w offsets of random z over every class, for GAN v2's directions."""
        import torch

        seed = int(torch.randint(0, MAX_SEED, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        classes = rng.integers(0, len(self.class_names), _GANSPACE_SAMPLES * 4) if self.class_names else None
        return self.sample_latents(rng, _GANSPACE_SAMPLES * 4, classes)

    def _ganspace(self, generator: torch.Generator) -> Directions:
        import torch

        z = torch.randn(_GANSPACE_SAMPLES, self.latent_dim, generator=generator)
        # A conditional model is measured over all its classes, so the axes suit every class.
        labels = torch.randint(len(self.class_names), (len(z),), generator=generator) if self.class_names else None
        features = []
        for i in range(0, len(z), _BATCH):
            batch_labels = None if labels is None else labels[i : i + _BATCH].to(self.device)
            batch = self._gan_generator.early_features(z[i : i + _BATCH].to(self.device), labels=batch_labels)
            features.append(batch.flatten(1).float().cpu())
        return ganspace_directions(z.numpy(), torch.cat(features).numpy())

    def _vae_kl(self, generator: torch.Generator) -> Directions:
        import torch

        z = torch.randn(_KL_SAMPLES, self.latent_dim, generator=generator)
        total = torch.zeros(self.latent_dim, dtype=torch.float64)
        for i in range(0, len(z), _BATCH):
            batch = z[i : i + _BATCH].to(self.device)
            mu, logvar = self._vae.encode(self._vae.decode(batch))
            # kl_per_dim averages over its batch; weighting by the batch size keeps the mean exact.
            total += self._vae.kl_per_dim(mu, logvar).reshape(-1, self.latent_dim).mean(0).double().cpu() * len(batch)
        return axis_directions((total / len(z)).numpy(), "vae-kl")

    def _vae_variance(self, generator: torch.Generator) -> Directions:
        import torch

        # Mean squared pixel change between z + e_i and z - e_i, averaged over a few base points.
        base = torch.randn(_VARIANCE_BASES, self.latent_dim, generator=generator)
        eye = torch.eye(self.latent_dim)
        scores = torch.zeros(self.latent_dim, dtype=torch.float64)
        for point in base:
            for i in range(0, self.latent_dim, _BATCH // 2):
                step = eye[i : i + _BATCH // 2]
                plus, minus = self._vae.decode(torch.cat([point + step, point - step]).to(self.device)).float().chunk(2)
                scores[i : i + len(step)] += (plus - minus).pow(2).flatten(1).mean(1).double().cpu()
        return axis_directions((scores / len(base)).numpy(), "vae-variance")

    def coordinates(self, z: np.ndarray, directions: Directions | None = None) -> np.ndarray:
        """The slider values of ``z``: its projection on each direction, in that direction's units."""
        directions = directions or self.directions()
        return ((directions.vectors @ (self._check_z(z) - directions.origin)) / directions.scales).astype(np.float32)

    def with_coordinate(
        self, z: np.ndarray, index: int, value: float, directions: Directions | None = None
    ) -> np.ndarray:
        """``z`` moved along direction ``index`` until that slider reads ``value``; the others keep theirs."""
        directions = directions or self.directions()
        z = self._check_z(z).astype(np.float64)
        vector = directions.vectors[index].astype(np.float64)
        assert directions.scales is not None  # Directions.__post_init__ fills it in
        target = float(value) * float(directions.scales[index]) + float(vector @ directions.origin)
        return (z + (target - vector @ z) * vector).astype(np.float32)

    def state_with_coordinate(
        self, state: LatentState, index: int, value: float, directions: Directions | None = None
    ) -> LatentState:
        """``state`` with slider ``index`` at ``value`` (:meth:`with_coordinate` on its latent vector):
        the explorer's slider move, its -/+ pictures and ``studio sample --change``."""
        import dataclasses

        z = self.with_coordinate(state.z_array(), index, value, directions)
        return dataclasses.replace(state, z=tuple(float(v) for v in np.asarray(z, dtype=np.float64).reshape(-1)))

    # --- named directions (defined by example; studio direction create) ---------------------------

    @property
    def latent_space(self) -> str:
        """What the latent vector is: "w" (a style-based GAN's w offset) or "z"."""
        return "w" if self.style_based else "z"

    def named_directions(self) -> list[NamedDirection]:
        """The directions saved with this model (none for a model that is not a file); a damaged
        directions file raises ModelFileError naming it."""
        if self._named is None:
            self._named = (
                []
                if self.path is None
                else model_directions(self.path, self.sha256, self.latent_dim, self.latent_space)
            )
        return list(self._named)

    def named_direction(self, name: str) -> NamedDirection:
        for direction in self.named_directions():
            if direction.name.casefold() == name.casefold():
                return direction
        names = ", ".join(d.name for d in self.named_directions()) or "none yet (studio direction create)"
        raise ValueError(f"{self.name} has no direction named {name!r}; its named directions: {names}")

    def save_named_direction(self, direction: NamedDirection) -> Path:
        """Keep ``direction`` with the model (replacing one of the same name); returns the file written."""
        if self.path is None:
            raise ValueError(f"{self.name} is not a model file, so it cannot keep named directions")
        written = save_direction(self.path, self.sha256, self.latent_dim, self.latent_space, direction)
        self._named = None
        return written

    def own_named_directions(self) -> list[str]:
        """The names of the directions the artist made (deletable); not those a bundled model ships."""
        if self.path is None:
            return []
        return own_direction_names(self.path, self.sha256, self.latent_dim, self.latent_space)

    def delete_named_direction(self, name: str) -> Path:
        """Remove the artist's direction ``name`` from the model; returns the file changed (or removed,
        when it held no other). A shipped or unknown name is a ValueError that says so; a state that
        still records the name's value keeps rendering and exporting (the value is only a record)."""
        if self.path is None:
            raise ValueError(f"{self.name} is not a model file, so it keeps no named directions")
        try:
            return delete_direction(self.path, self.sha256, self.latent_dim, self.latent_space, name)
        finally:
            self._named = None

    def state_with_named(self, state: LatentState, name: str, value: float) -> LatentState:
        """``state`` moved along the named direction until it reads ``value`` (in sigma); the state
        records the value, so an exported PNG carries it."""
        import dataclasses

        direction = self.named_direction(name)
        z = direction.moved_to(state.z_array(), value)
        named = {**dict(state.named), direction.name: float(value)}
        return dataclasses.replace(
            state, z=tuple(float(v) for v in np.asarray(z, dtype=np.float64)), named=tuple(named.items())
        )

    # --- the artist's own image ------------------------------------------------------------------

    def _image_tensor(self, image: Image.Image) -> torch.Tensor:
        import torch

        from studio.files.images import pil_to_array

        # Crop to the middle square rather than squash, then Lanczos: sharp and without aliasing.
        rgb = Image.fromarray(pil_to_array(image))
        fitted = ImageOps.fit(rgb, (self.image_size, self.image_size), Image.Resampling.LANCZOS)
        array = np.asarray(fitted, dtype=np.float32) / 127.5 - 1.0
        tensor = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
        if getattr(self.module.config, "channels", 3) == 1:
            tensor = tensor.mean(dim=1, keepdim=True)
        return tensor.to(self.device)

    def encode(self, image: Image.Image) -> np.ndarray:
        """The VAE's mean latent for an image (cropped to a square, resized to the model's size)."""
        import torch

        if self.kind != "vae":
            raise EncodeNotSupported(
                f"{self.name} is a GAN and has no encoder: project the image with project_job() instead"
            )
        with torch.inference_mode():
            mu, _ = self._vae.encode(self._image_tensor(image))
        return mu[0].float().cpu().numpy().astype(np.float32)

    def project_job(
        self, image: Image.Image, steps: int = 200, lr: float = 0.05, seed: int = 0, class_index: int | None = None
    ) -> Generator[Progress, None, np.ndarray]:
        """A job finding the z whose image looks most like ``image``; returns the best z found.

        The loss is pixel L2 at three scales (the coarse ones weigh overall shapes and colours,
        a cheap stand-in for a perceptual loss) plus, for N(0, I) latents, a pull toward the shell where Gaussian
        latents live, so the result stays a typical point that sliders move sensibly. A VAE
        starts from its encoder's mean; a GAN from the best of 16 seeded random points.
        Cancelling returns the best z so far.
        """
        import torch

        if steps < 1:
            raise ValueError("a projection needs at least one step")
        target = self._image_tensor(image)
        index = self._class(class_index)
        labels = None if index is None else torch.full((1,), index, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            if self.kind == "vae":
                start = self._vae.encode(target)[0].float()
            else:
                candidates = torch.from_numpy(np.stack([self.random_z(seed + i, index) for i in range(16)])).to(
                    self.device
                )
                losses = [float(_projection_loss(self._generate(c[None], labels, 1.0), target)) for c in candidates]
                start = candidates[int(np.argmin(losses))][None]
        z = start.clone().detach().requires_grad_(True)
        optimiser = torch.optim.Adam([z], lr=lr)
        best_z, best_loss = z.detach().clone(), math.inf
        try:
            for step in range(steps):
                with torch.enable_grad():
                    optimiser.zero_grad(set_to_none=True)
                    loss = _projection_loss(self._generate(z, labels, 1.0), target)
                    if not self.style_based:
                        loss = loss + 0.01 * (z.pow(2).mean() - 1.0).pow(2)
                    loss.backward()
                value = float(loss.detach())
                if value < best_loss:
                    best_loss, best_z = value, z.detach().clone()
                optimiser.step()
                preview = None
                if step % 10 == 0 or step == steps - 1:
                    preview = self.render(best_z[0].cpu().numpy(), index)
                yield Progress(
                    (step + 1) / steps, f"Projecting: step {step + 1} of {steps}, error {best_loss:.4f}", preview
                )
        except JobCancelled:
            pass
        return best_z[0].float().cpu().numpy().astype(np.float32)


def _projection_loss(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    loss = F.mse_loss(image, target)
    for _ in range(2):
        if image.shape[-1] < 8:
            break
        image, target = F.avg_pool2d(image, 2), F.avg_pool2d(target, 2)
        loss = loss + F.mse_loss(image, target)
    return loss


def _to_pil(image: torch.Tensor) -> Image.Image:
    """A [C, H, W] tensor in [-1, 1] (checked to hold numbers) as an RGB image."""
    import torch

    pixels = image.add(1.0).mul_(127.5).clamp_(0.0, 255.0).add_(0.5).to(torch.uint8)
    if pixels.shape[0] == 1:
        pixels = pixels.expand(3, -1, -1)
    return Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy())


def _truncation():
    from studio.engine.models.gan import truncate

    return truncate


def _class_names(card: dict[str, Any]) -> list[str]:
    data = card.get("data")
    for source in (card, data if isinstance(data, dict) else {}):
        names = source.get("class_names") or source.get("classes")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return list(names)
    return []


def _prior_directions(prior: MixturePrior) -> Directions:
    """The principal axes of a mixture prior as a whole."""
    covariances = np.einsum("kai,ka,kaj->kij", prior.axes, prior.stds**2, prior.axes)
    return prior_directions(prior.means, covariances, prior.weights)


def _prior_of(module: VAE) -> MixturePrior | None:
    from studio.engine.models.vae_prior import prior_of  # torch: imported when a model loads

    return prior_of(module)
