"""Training state as plain tensors plus JSON, so a checkpoint never needs pickle.

Optimiser, scheduler and grad-scaler ``state_dict()`` objects are nests of dicts (sometimes with
int keys), lists, tuples, numbers, strings, None and tensors. :func:`flatten_state` splits such a
nest into a flat ``{name: tensor}`` map (for safetensors) and a JSON-able skeleton that names
each tensor; :func:`unflatten_state` puts them back together. Nothing else is accepted, so an
object that would need pickle fails loudly when the checkpoint is written, not when it is read.

Random generator states travel the same way: they are uint8 tensors already.
"""

from __future__ import annotations

import math
from typing import Any

import torch

_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_ITEMS = "__items__"  # a dict whose keys are not all plain strings (optimiser state uses ints)
_FLOAT = "__float__"  # inf and nan, which strict JSON cannot spell
_MARKERS = frozenset({_TENSOR, _TUPLE, _ITEMS, _FLOAT})


class StateError(ValueError):
    """A training state cannot be written or read back; the message says which entry."""


def flatten_state(obj: Any, prefix: str) -> tuple[dict[str, torch.Tensor], Any]:
    """Split ``obj`` into ``({name: tensor}, skeleton)``; every name starts with ``prefix``.

    Tensors are detached, moved to the CPU and made contiguous (they are written as is).
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):
            name = f"{prefix}{path}"
            tensors[name] = value.detach().to("cpu").contiguous()
            return {_TENSOR: name}
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {_FLOAT: repr(value)}
        if isinstance(value, tuple):
            return {_TUPLE: [walk(v, f"{path}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(value)]
        if isinstance(value, dict):
            plain = all(isinstance(k, str) for k in value) and not (_MARKERS & set(value))
            if plain:
                return {k: walk(v, f"{path}.{k}") for k, v in value.items()}
            for key in value:
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    raise StateError(f"cannot store a state whose key {key!r} at {prefix}{path} is not a string or int")
            return {_ITEMS: [[k, walk(v, f"{path}.{k}")] for k, v in value.items()]}
        raise StateError(f"cannot store {type(value).__name__} at {prefix}{path} without pickle")

    skeleton = walk(obj, "")
    return tensors, skeleton


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Rebuild what :func:`flatten_state` split; raises :class:`StateError` for a missing tensor."""

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            if _TENSOR in value:
                name = value[_TENSOR]
                if name not in tensors:
                    raise StateError(f"the checkpoint lacks the tensor {name!r}")
                return tensors[name]
            if _TUPLE in value:
                return tuple(walk(v) for v in value[_TUPLE])
            if _FLOAT in value:
                return float(value[_FLOAT])
            if _ITEMS in value:
                return {k: walk(v) for k, v in value[_ITEMS]}
            return {k: walk(v) for k, v in value.items()}
        return value

    return walk(skeleton)
