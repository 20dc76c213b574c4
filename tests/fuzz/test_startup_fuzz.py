"""Random settings files, bookmarks and explorer sessions in the user's folders: the window starts.

Each example writes a settings.ini (the keys the studio reads, with garbage, Qt's @Variant and
@ByteArray forms, and random keys), a bookmarks.json and an explorer_session.json (any JSON,
damaged valid files, deep nesting), then builds the main window as ``latent-studio`` does and
shows it. Any exception raised while it starts, in a constructor or in a Qt slot, fails.
"""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.engine.latent.state import LatentState
from tests.fuzz.mutations import Blob, deeply_nested, json_values, mutated
from tests.fuzz.profile import fuzz_examples

pytestmark = pytest.mark.fuzz

STATE = LatentState("ab" * 32, "Tiny", (0.5, -1.0, 2.0), class_index=1, psi=0.7, seed=42).to_settings()
VALID_BOOKMARKS = json.dumps(
    {"version": 1, "bookmarks": [{"id": "b1", "name": "Seed 42", "created": 1.0, "state": STATE, "thumbnail_png": ""}]}
)
VALID_SESSION = json.dumps({"version": 1, "states": [STATE]})

SETTINGS_KEYS = (
    "appearance/theme", "compute/device", "window/panel", "files/last_folder", "export/size", "export/resample",
    "window/geometry", "window/state", "latent/model", "style/advanced_open", "style/settings",
    "style/seconds_per_step_mp",
)  # fmt: skip
INI_VALUES = st.sampled_from(
    ["", "dark", "light", "cuda", "-1", "99", "1e999", "nan", "true", "@Invalid()", "@ByteArray(\\0\\xff)",
     "@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x18)", "@Variant(garbage", "@Rect(1 2 3)", "@Size(-1 -1)", "4x",
     "0x0", "99999x99999", "/nonexistent/model.safetensors", '{"size": -1}', '{"steps": 1e999}', "\\",
     '"', "a, b, c", deeply_nested(3)]
) | st.text(max_size=20).map(lambda t: t.replace("\n", " ")) | json_values(6).map(json.dumps)  # fmt: skip


@st.composite
def ini_files(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for key in draw(st.lists(st.sampled_from(SETTINGS_KEYS) | st.text("abc/[]=;", max_size=8), max_size=8)):
        section, _, name = key.partition("/")
        lines += [f"[{section}]", f"{name or section}={draw(INI_VALUES)}"]
    if draw(st.integers(0, 9)) == 0:
        lines.append(draw(st.text(max_size=40)))
    return "\n".join(lines) + "\n"


def json_files(valid: str) -> st.SearchStrategy[bytes | None]:
    return st.one_of(
        st.none(),
        st.just(valid.encode()),
        mutated(valid.encode()),
        json_values(25).map(lambda v: json.dumps(v).encode()),
        st.sampled_from([Blob(deeply_nested(100_000).encode()), b"\xff\xfe", b"", b"{", b"null"]),
        st.binary(max_size=64),
    )


@pytest.fixture
def start_window(qtbot, studio_home, tmp_path, monkeypatch):
    """Build, show and close the main window on the files now in the user's folders."""
    from studio.files.paths import config_dir, data_dir
    from studio.services.settings import Settings
    from studio.ui.main_window import MainWindow
    from tests.conftest import _delete_finished_links
    from tests.fake_worker import FakeWorker

    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "no-bundled-models")

    def write(settings: str, bookmarks: bytes | None, session: bytes | None) -> None:
        config_dir().mkdir(parents=True, exist_ok=True)
        data_dir().mkdir(parents=True, exist_ok=True)
        (config_dir() / "settings.ini").write_text(settings, encoding="utf-8", errors="surrogatepass")
        for name, content in (("bookmarks.json", bookmarks), ("explorer_session.json", session)):
            path = data_dir() / name
            path.unlink(missing_ok=True)
            if content is not None:
                path.write_bytes(content)

    def start(settings: str, bookmarks: bytes | None, session: bytes | None) -> None:
        write(settings, bookmarks, session)
        worker = FakeWorker()
        with qtbot.captureExceptions() as raised:
            window = MainWindow(worker, Settings(), confirm_quit=lambda *_: True)
            window.show()
            qtbot.waitExposed(window)
            qtbot.wait(10)
            assert window.isVisible()
            window.close()
            window.deleteLater()
        worker.shutdown()
        _delete_finished_links()
        assert not raised, "".join(str(exc) for _, exc, _ in raised)

    return start


@fuzz_examples(40)
@given(settings=ini_files(), bookmarks=json_files(VALID_BOOKMARKS), session=json_files(VALID_SESSION))
def test_the_window_starts_on_any_user_files(start_window, settings, bookmarks, session, caplog):
    caplog.set_level(logging.CRITICAL)
    start_window(settings, bookmarks, session)


def test_the_window_starts_on_deeply_nested_user_files(start_window):
    nested = deeply_nested(100_000)
    start_window(f"[style]\nsettings={nested}\n", nested.encode(), nested.encode())
