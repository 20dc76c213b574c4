"""Paths the user types that cannot be paths here: "~nosuchuser/x" and a 300-character name.

pathlib raises RuntimeError for the first and the file system OSError (ENAMETOOLONG) for the
second; every command that takes a path says so in plain words instead (studio.files.paths).
"""

from __future__ import annotations

import pytest

from studio.cli import build_parser
from studio.files.paths import UserPathError, existing_file, user_path

LONG = "/tmp/" + "a" * 300
NO_USER = "~nosuchuser/x"
SAYS = {
    NO_USER: "~nosuchuser/x: there is no user 'nosuchuser' on this computer (the path starts with ~nosuchuser)",
    LONG: "/tmp/" + "a" * 45 + "…" + "a" * 20 + ": a name in this path is too long for the file system",
}


@pytest.mark.parametrize("bad", [NO_USER, LONG], ids=["unknown-user", "long-name"])
@pytest.mark.parametrize(
    "command",
    [
        ["finetune", "--base", "emoji-gan", "--out", "t", "--steps", "1", "--data", "{}"],
        ["train", "vae", "--out", "{out}", "--steps", "1", "--data", "{}"],
        ["finetune", "--job", "{}"],
        ["finetune", "--import", "{}"],
    ],
    ids=["finetune-data", "train-data", "finetune-job", "finetune-import"],
)
def test_a_path_that_cannot_be_one_is_a_plain_error(command, bad, tmp_path, capsys):
    out = tmp_path / "out.safetensors"
    argv = [part.replace("{out}", str(out)).replace("{}", bad) for part in command]
    args = build_parser().parse_args(argv)
    assert args.run(args) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith(SAYS[bad])
    assert not out.exists()


def test_user_path_expands_home_and_leaves_missing_paths_to_the_caller(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_path("~/images") == tmp_path / "images"  # missing is fine
    with pytest.raises(UserPathError) as raised:
        user_path(NO_USER)
    assert str(raised.value) == SAYS[NO_USER]
    with pytest.raises(KeyError, match="too long"):
        user_path(LONG, KeyError)
    with pytest.raises(UserPathError, match="NUL character"):
        user_path("a\0b")
    # existing_file never raises: a model name is not an error there.
    assert existing_file(NO_USER) is None and existing_file(LONG) is None and existing_file("a\0b") is None
    (tmp_path / "m.safetensors").write_bytes(b"x")
    assert existing_file("~/m.safetensors") == tmp_path / "m.safetensors"
