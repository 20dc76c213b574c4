"""The explorer's render channel: newest wins, but a finished picture newer than the one on
screen is still shown while a newer request waits (else a fast drag freezes the picture)."""

from PySide6.QtCore import QObject, Signal

from studio.ui.latent.render_channel import RenderChannel


class FakeWorker(QObject):
    renderDone = Signal(int, object)
    renderFailed = Signal(int, str)

    def __init__(self):
        super().__init__()
        self.latest_stamp = 0

    def request_render(self, fn):
        self.latest_stamp += 1
        return self.latest_stamp


def _channel(show_intermediate):
    worker = FakeWorker()
    channel = RenderChannel(worker, show_intermediate=show_intermediate)
    shown = []
    channel.done.connect(shown.append)
    return worker, channel, shown


def test_a_finished_older_render_is_shown_while_a_newer_one_is_pending():
    worker, channel, shown = _channel(show_intermediate=True)
    channel.request(lambda device: "first")
    channel.request(lambda device: "second")
    worker.renderDone.emit(1, "first picture")
    assert shown == ["first picture"] and channel.pending
    worker.renderDone.emit(2, "second picture")
    assert shown == ["first picture", "second picture"] and not channel.pending


def test_results_older_than_one_already_shown_are_never_shown():
    worker, channel, shown = _channel(show_intermediate=True)
    for name in ("a", "b", "c"):
        channel.request(lambda device, n=name: n)
    worker.renderDone.emit(2, "b")  # 1 was dropped from the slot
    worker.renderDone.emit(1, "a (late, impossible in order, must be ignored)")
    worker.renderDone.emit(3, "c")
    assert shown == ["b", "c"]


def test_without_intermediate_only_the_newest_request_is_delivered():
    worker, channel, shown = _channel(show_intermediate=False)
    channel.request(lambda device: "first")
    channel.request(lambda device: "second")
    worker.renderDone.emit(1, "first picture")
    worker.renderDone.emit(2, "second picture")
    assert shown == ["second picture"]
