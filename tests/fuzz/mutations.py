"""Hypothesis strategies shared by the fuzz tests: byte mutations of a valid file, and any JSON."""

from __future__ import annotations

import math

from hypothesis import strategies as st

_INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, ord("{"), ord('"'))


@st.composite
def mutated(draw: st.DrawFn, base: bytes, max_ops: int = 6) -> bytes:
    """``base`` with a few bytes flipped, inserted, deleted or overwritten, or cut short."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(("flip", "set", "insert", "delete", "truncate", "duplicate")))
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[where] = draw(st.sampled_from(_INTERESTING_BYTES) | st.integers(0, 255))
        elif op == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and data:
            del data[where : where + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[where:]
        elif op == "duplicate" and data:
            chunk = data[where : where + draw(st.integers(1, 64))]
            data[where:where] = chunk
    return bytes(data)


def json_values(max_leaves: int = 20) -> st.SearchStrategy:
    """Any JSON value: scalars (huge, negative, NaN and Inf floats included) nested in lists and dicts."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.sampled_from((2**31, 2**63, 2**64 + 1, -1, 10**300, 0))
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.sampled_from((math.nan, math.inf, -math.inf, 1e308, -0.0))
        | st.text(max_size=12)
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
        max_leaves=max_leaves,
    )


class Nested(str):
    """JSON text nested many lists deep, shown short in Hypothesis's falsifying examples."""

    def __repr__(self) -> str:
        return f"deeply_nested({len(self) // 2})"


class Blob(bytes):
    """Bytes shown by their length and first bytes, not in full."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes: {bytes(self[:24])!r}...>"


def deeply_nested(depth: int) -> Nested:
    """JSON text nested ``depth`` lists deep (past Python's recursion limit for large depth)."""
    return Nested("[" * depth + "]" * depth)
