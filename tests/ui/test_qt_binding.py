"""Guards against a Qt binding that corrupts reference counts when signals are emitted.

PySide6 6.12.0 drops one reference to ``True`` per Python-side ``emit()``; the process
aborts ("bool_dealloc") after a few hundred poll ticks. pyproject pins below it; this
test fails if a future upgrade brings such a build back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(int)


def test_emitting_signals_keeps_reference_counts(qapp: object) -> None:
    emitter = _Emitter()
    received: list[int] = []
    emitter.fired.connect(received.append)
    before = sys.getrefcount(True)
    for value in range(500):
        emitter.fired.emit(value)
    assert len(received) == 500
    assert sys.getrefcount(True) - before > -50
