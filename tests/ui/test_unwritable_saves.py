"""The GUI's saves into a folder that cannot be written: the message names the file asked for
(never a temporary file), the previous file stays, and the picture stays on screen to save elsewhere."""

import errno
import tempfile
from pathlib import Path

from PIL import Image

from studio.files.images import read_png_settings


def _red_square(path):
    Image.new("RGB", (40, 30), (220, 30, 30)).save(path)
    return path


def test_file_save_image_into_a_read_only_folder_names_the_target(window, tmp_path, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(window, "show_error", lambda summary, _details: shown.append(summary))
    window.open_image(_red_square(tmp_path / "red.png"))
    out = tmp_path / "out" / "saved.png"
    assert window.save_image(out)
    before = out.read_bytes()
    real_mkstemp = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if Path(dir) == out.parent:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkstemp(*args, dir=dir, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", read_only)
        assert not window.save_image(out)

    assert shown == [f"cannot write {out}: read-only file system"]
    assert out.read_bytes() == before and sorted(p.name for p in out.parent.iterdir()) == ["saved.png"]
    assert window.current_panel().current() is not None  # still there to save elsewhere
    assert window.save_image(tmp_path / "elsewhere.png")
    assert read_png_settings(tmp_path / "elsewhere.png")["panel"] == "Latent Explorer"


def test_a_panels_save_png_into_a_missing_drive_names_the_target(window, tmp_path, monkeypatch):
    window.open_image(_red_square(tmp_path / "red.png"))
    panel = window.current_panel()
    blocker = tmp_path / "usb"
    blocker.write_bytes(b"not a folder")
    target = blocker / "renders" / "out.png"
    shown: list[str] = []
    monkeypatch.setattr(panel, "ask_png_path", lambda _title="": target)
    monkeypatch.setattr(panel, "_show_error", shown.append)

    assert panel.save_png_dialog() is None

    assert len(shown) == 1 and shown[0].startswith(f"cannot write {target}: ")
    assert ".tmp" not in shown[0] and "Errno" not in shown[0]
    assert blocker.read_bytes() == b"not a folder"
