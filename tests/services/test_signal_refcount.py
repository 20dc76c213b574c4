"""Guards against a Qt binding that miscounts references when signals are emitted.

PySide6 6.12.0 dropped a reference to ``True`` on every ``emit()``. Python 3.11's ``True`` is
not immortal, so after a few thousand emits (a slider drag renders hundreds) the interpreter
aborts with "bool_dealloc: deallocating True or False". pyproject.toml excludes that release;
this test fails on any binding that does the same.
"""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    plain = Signal()
    with_values = Signal(int, object)


def test_emitting_signals_leaves_reference_counts_alone():
    emitter = _Emitter()
    received = []
    emitter.plain.connect(lambda: received.append(None))
    emitter.with_values.connect(lambda stamp, value: received.append(value))
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for stamp in range(200):
        emitter.plain.emit()
        emitter.with_values.emit(stamp, None)
    assert len(received) == 400
    # Python 3.12+ makes True and None immortal (their count is fixed), so this holds there too.
    assert sys.getrefcount(True) - true_before >= -5
    assert sys.getrefcount(None) - none_before >= -5
