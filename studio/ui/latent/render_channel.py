"""One client's view of the worker's shared, newest-wins render slot.

The worker has a single render slot for the whole app: a request from anyone replaces the
pending one, and ``latest_stamp`` counts every caller's requests. A channel keeps the stamp of
its *own* newest request, so it shows only that result, whatever other panels (or another
channel of the same panel) ask for in between. When a result with a newer stamp arrives while
its own is still missing, its request was displaced from the slot before it ran (results come
back in stamp order from the one thread), and the channel asks again with the newest function.

With ``show_intermediate`` the channel also delivers a result of its own that is older than
its newest request but newer than anything it delivered. When a render takes about as long as
the gap between two slider events, the newest request is always one step ahead of the result
that just finished; dropping such results would leave the picture frozen for the whole drag.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

if TYPE_CHECKING:
    from studio.services.worker import RenderFn, Worker

log = logging.getLogger(__name__)


class RenderChannel(QObject):
    done = Signal(object)  # the result of the newest request
    failed = Signal(str)  # the newest request's error message

    def __init__(self, worker: Worker, parent: QObject | None = None, *, show_intermediate: bool = False) -> None:
        super().__init__(parent)
        self._worker = worker
        self._show_intermediate = show_intermediate
        self._stamp: int | None = None
        self._outstanding: set[int] = set()  # stamps of this channel's requests not yet answered
        self._fn: RenderFn | None = None
        self.requests = 0  # how many times a caller asked (for tests and benchmarks)
        self.renders = 0  # how many results came back for this channel
        worker.renderDone.connect(self._on_done)
        worker.renderFailed.connect(self._on_failed)

    @property
    def pending(self) -> bool:
        return self._stamp is not None

    def request(self, fn: RenderFn) -> int:
        """Run ``fn(device)`` on the worker; only the newest request's result is delivered."""
        self.requests += 1
        self._fn = fn
        self._stamp = self._worker.request_render(fn)
        self._outstanding.add(self._stamp)
        return self._stamp

    def forget(self) -> None:
        """Stop waiting: whatever is in flight is dropped when it arrives."""
        self._stamp = None
        self._fn = None
        self._outstanding.clear()

    def _displaced(self, stamp: int) -> bool:
        return self._stamp is not None and stamp > self._stamp

    def _retry(self) -> None:
        fn = self._fn
        assert fn is not None
        log.debug("render request %s was displaced from the slot; asking again", self._stamp)
        self._stamp = self._worker.request_render(fn)
        self._outstanding.add(self._stamp)

    def _answered(self, stamp: int) -> bool:
        """Whether ``stamp`` is one of this channel's requests; forget every older one, since
        results arrive in stamp order and those were dropped from the slot unanswered."""
        ours = stamp in self._outstanding
        self._outstanding = {s for s in self._outstanding if s > stamp}
        return ours

    @Slot(int, object)
    def _on_done(self, stamp: int, result: object) -> None:
        ours = self._answered(stamp)
        if stamp == self._stamp:
            self._stamp = None
            self._fn = None
            self.renders += 1
            self.done.emit(result)
        elif ours and self._show_intermediate:
            self.renders += 1
            self.done.emit(result)
        elif self._displaced(stamp) and self._worker.latest_stamp == stamp:
            self._retry()

    @Slot(int, str)
    def _on_failed(self, stamp: int, message: str) -> None:
        self._answered(stamp)
        if stamp == self._stamp:
            self._stamp = None
            self._fn = None
            self.failed.emit(message)
        elif self._displaced(stamp) and self._worker.latest_stamp == stamp:
            self._retry()
