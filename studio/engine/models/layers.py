"""Building blocks shared by the generative models, and helpers over their weights.

Spectral norm is applied through ``torch.nn.utils.parametrizations.spectral_norm``; a model
file holds the effective (already normalised) weights, so :func:`fold_spectral_norm` turns a
parametrized module into a plain one that computes exactly the same thing in eval mode, and
:func:`add_spectral_norm` puts the parametrization back before training such a model again.
"""

from __future__ import annotations

from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

# The attribute torch.nn.utils.parametrize adds to a parametrized module.
PARAMETRIZATIONS = "parametrizations"

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def add_spectral_norm(module: ModuleT) -> ModuleT:
    """Put spectral norm on every Conv2d and Linear weight inside ``module`` (in place).

    Layers that already have a parametrization are left alone, so calling it twice is harmless.
    The builders and a fine-tune of a loaded model go through this one function, so both put
    the normalisation on the same layers.
    """
    for layer in list(module.modules()):
        if isinstance(layer, (nn.Conv2d, nn.Linear)) and not parametrize.is_parametrized(layer, "weight"):
            spectral_norm(layer)
    return module


def _parametrizations(layer: nn.Module) -> nn.ModuleDict:
    """The parametrizations torch.nn.utils.parametrize has put on ``layer``, by tensor name."""
    parametrizations = getattr(layer, PARAMETRIZATIONS)
    assert isinstance(parametrizations, nn.ModuleDict)  # what parametrize always adds
    return parametrizations


def fold_spectral_norm(module: ModuleT) -> ModuleT:
    """Replace every parametrization inside ``module`` by the weight it currently produces (in place).

    The parametrizations are switched to eval first: a training-mode spectral norm would take
    one more power-iteration step while folding and the result would no longer match what the
    model computed a moment ago. Not for a ``copy.deepcopy`` of a parametrized model: torch
    shares the parametrized class between the copies, and folding one breaks the other; use
    :func:`plain_state_dict` to read a model's effective weights without touching it.
    """
    for layer in list(module.modules()):
        if not parametrize.is_parametrized(layer):
            continue
        parametrizations = _parametrizations(layer)
        for name in list(parametrizations.keys()):
            parametrizations[name].eval()
            parametrize.remove_parametrizations(layer, name, leave_parametrized=True)
    return module


@torch.no_grad()
def plain_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module``'s state dict as the same module with its parametrizations folded would have it.

    Each parametrized tensor appears under its plain name (``conv.weight``) with the value the
    module uses in eval mode; the parametrizations' own tensors (the raw weight, spectral
    norm's singular-vector estimates) are left out. ``module`` is not changed.
    """
    marker = f"{PARAMETRIZATIONS}."
    state: dict[str, torch.Tensor] = {}
    for key, tensor in module.state_dict().items():
        if marker not in key:
            state[key] = tensor
            continue
        prefix, rest = key.split(marker, 1)
        name, part = rest.split(".", 1)
        if part != "original":
            continue
        layer = module.get_submodule(prefix.rstrip("."))
        parametrization = _parametrizations(layer)[name]
        was_training = parametrization.training
        parametrization.eval()  # no power-iteration step: the weight the model uses now
        try:
            state[prefix + name] = getattr(layer, name).detach().clone()
        finally:
            parametrization.train(was_training)
    return state


@torch.no_grad()
def ema_update(target: nn.Module, source: nn.Module, decay: float) -> None:
    """Move ``target``'s weights toward ``source``'s: ``target = decay * target + (1 - decay) * source``.

    For an exponential moving average of a generator (sample from the average, train the
    source). Both modules must have the same structure; ``decay=0`` copies. Buffers are copied,
    not averaged: batch-norm statistics belong to the source's activations, and spectral norm's
    singular-vector estimates must stay unit vectors, which an average of two is not.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must be between 0 and 1, got {decay}")
    target_params = dict(target.named_parameters())
    source_params = dict(source.named_parameters())
    if target_params.keys() != source_params.keys():
        raise ValueError("ema_update needs two models of the same structure")
    for name, param in target_params.items():
        param.lerp_(source_params[name].detach(), 1.0 - decay)
    source_buffers = dict(source.named_buffers())
    for name, buffer in target.named_buffers():
        buffer.copy_(source_buffers[name])


def check_labels(labels: torch.Tensor | None, batch: int, num_classes: int) -> None:
    """Refuse labels that do not fit the model, with a message instead of an index error."""
    if num_classes == 0:
        if labels is not None:
            raise ValueError("this model is unconditional: pass labels=None")
        return
    if labels is None:
        raise ValueError(f"this model is conditional on {num_classes} classes: pass labels, one class per image")
    if labels.shape != (batch,) or labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"labels must be {batch} integer class indices, got shape {tuple(labels.shape)} of {labels.dtype}"
        )
    if batch and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class (Dumoulin et al.; SNGAN, BigGAN).

    Starts as plain batch norm (scale 1, shift 0 for every class), so the class signal is
    learned rather than imposed by the initialisation.
    """

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.num_features = num_features
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.embedding = nn.Embedding(num_classes, 2 * num_features)
        with torch.no_grad():
            self.embedding.weight[:, :num_features].fill_(1.0)
            self.embedding.weight[:, num_features:].zero_()

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        scale, shift = self.embedding(labels).chunk(2, dim=1)
        return self.norm(x) * scale[:, :, None, None] + shift[:, :, None, None]


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019) over the pixels of a feature map.

    Keys and values are max-pooled 2x2 as in BigGAN's version: a quarter of the cost, which
    matters at 32x32 on a CPU, for no visible loss. ``gamma`` starts at zero, so the block is
    the identity at first and the network learns how much non-local evidence to mix in.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.key_dim = max(1, channels // 8)
        self.value_dim = max(1, channels // 2)
        self.query = nn.Conv2d(channels, self.key_dim, 1, bias=False)
        self.key = nn.Conv2d(channels, self.key_dim, 1, bias=False)
        self.value = nn.Conv2d(channels, self.value_dim, 1, bias=False)
        self.out = nn.Conv2d(self.value_dim, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        query = self.query(x).flatten(2).transpose(1, 2)  # N x HW x k
        key = F.max_pool2d(self.key(x), 2).flatten(2).transpose(1, 2)  # N x HW/4 x k
        value = F.max_pool2d(self.value(x), 2).flatten(2).transpose(1, 2)  # N x HW/4 x v
        # SAGAN does not scale the scores by 1/sqrt(k); scale=1 keeps its formulation.
        attended = F.scaled_dot_product_attention(query, key, value, scale=1.0)
        attended = attended.transpose(1, 2).reshape(n, self.value_dim, h, w)
        return x + self.gamma * self.out(attended)
