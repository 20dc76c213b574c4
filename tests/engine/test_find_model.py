"""A model name that cannot be a path (found by tests/fuzz/test_cli_fuzz.py) is looked up by name."""

import pytest

from studio.engine.latent.state import ModelNotFoundError, find_model


@pytest.mark.parametrize("name", ["~0", "~no-such-user/model.safetensors", "m" * 5000, "a\x00b"])
def test_a_name_that_is_no_path_is_not_found_by_name(name, monkeypatch, tmp_path):
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "none")
    with pytest.raises(ModelNotFoundError, match="No model named"):
        find_model(name)


def test_the_cli_says_so(monkeypatch, tmp_path, capsys):
    from studio.cli import main

    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "none")
    assert main(["sample", "--model", "~0", "--seed", "1", "-o", str(tmp_path / "out.png")]) == 2
    assert capsys.readouterr().err.startswith("error: No model named '~0'")
    assert not (tmp_path / "out.png").exists()
