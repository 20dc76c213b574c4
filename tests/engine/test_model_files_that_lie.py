"""Model files that lie (RELIABILITY.md items 1-4, 30, 33; issue 14 case 7, case 8, output health).

Each test builds its own bad file: a tiny model saved with safetensors, then its card JSON or
its tensors tampered with. Every path that opens a model gives one clean ModelFileError naming
the file (and the field), before anything is allocated for what the card claims; NaN/Inf in
weights or in a drawn picture is a named message, never a flat grey image.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from studio.engine.checkpoints import ModelFileError, card_path
from studio.engine.data.dataset import ImageDataset
from studio.engine.devices import select_device
from studio.engine.jobs import run_to_end
from studio.engine.latent.model import LatentModel
from studio.engine.models import Generator, load_generative_model, save_generative_model
from studio.engine.picture_health import PictureNotFinite, check_picture
from studio.engine.training import loop
from studio.engine.training.checkpoint import checkpoint_path, load_checkpoint
from studio.engine.training.config import TrainingError, default_config
from studio.engine.training.finetune.library import library_path
from studio.engine.training.jobfolder import import_checkpoint
from studio.engine.training.loop import TrainingDiverged, train_job
from studio.files.paths import models_dir
from studio.spec.models import GANConfig, VAEConfig

CPU = select_device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_config(**changes) -> GANConfig:
    return GANConfig(**{"latent_dim": 16, "g_channels": 32, "d_channels": 8, **changes})


def saved_gan(folder, name="sketch", **changes):
    path = folder / f"{name}.safetensors"
    return save_generative_model(path, Generator(tiny_config(**changes)).eval(), {"name": name.title()})


def tamper_card(path, edit) -> bytes:
    card = json.loads(card_path(path).read_text(encoding="utf-8"))
    edit(card)
    card_path(path).write_text(json.dumps(card), encoding="utf-8")
    return path.read_bytes()


def tamper_tensors(path, edit) -> bytes:
    """Rewrite the tensors (the card inside and beside them unchanged, less its now wrong sha256)."""
    with safe_open(path, "pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = handle.metadata()
    edit(tensors)
    save_file(tensors, path, metadata=metadata)
    card = json.loads(card_path(path).read_text(encoding="utf-8"))
    card.pop("sha256", None)
    card_path(path).write_text(json.dumps(card), encoding="utf-8")
    return path.read_bytes()


def first_weight(tensors) -> str:
    return next(name for name, tensor in tensors.items() if tensor.is_floating_point() and tensor.ndim > 1)


# --- case 7: the card ----------------------------------------------------------------------------------------------


def _set(field, value):
    return lambda card: card["config"].update({field: value})


CARDS = {
    "architecture a list": (lambda card: card.update(architecture=["gan-generator"]), "architecture"),
    "architecture a dict": (lambda card: card.update(architecture={"name": "vae"}), "architecture"),
    "config a list": (lambda card: card.update(config=[16, 32]), "no model config"),
    "latent_dim 10**9": (_set("latent_dim", 10**9), "latent_dim must be 1 to 4096, got 1000000000"),
    "num_classes 10**9": (_set("num_classes", 10**9), "num_classes must be 0 to 10000"),
    "g_channels 10**6": (_set("g_channels", 10**6), "g_channels must be 1 to 4096"),
    "d_channels -1": (_set("d_channels", -1), "d_channels must be 1 to 4096"),
    "mapping_layers 10**6": (
        lambda card: card["config"].update(architecture="style", mapping_layers=10**6),
        "mapping_layers must be 1 to 32",
    ),
    "w_dim 10**9": (_set("w_dim", 10**9), "w_dim must be 1 to 4096"),
    "latent_dim a float": (_set("latent_dim", 16.5), "latent_dim must be a whole number"),
    "latent_dim 16.0": (_set("latent_dim", 16.0), "latent_dim must be a whole number"),
    "latent_dim true": (_set("latent_dim", True), "latent_dim must be a number"),
    "latent_dim a list": (_set("latent_dim", [16]), "latent_dim must be a number"),
    "image_size a list": (_set("image_size", [64]), "image_size must be one of 64, 128"),
    "loss a dict": (_set("loss", {"hinge": 1}), "loss must be one of"),
}


@pytest.mark.parametrize("case", CARDS)
def test_a_card_with_wrong_types_or_absurd_sizes_is_a_model_file_error(tmp_path, case, capsys):
    edit, message = CARDS[case]
    path = saved_gan(models_dir(), "lying")
    data = tamper_card(path, edit)
    for load in (load_generative_model, LatentModel.load):
        with pytest.raises(ModelFileError, match=message) as caught:
            load(path)
        assert "lying.safetensors" in str(caught.value)
    # studio sample: the same message, exit 2, nothing written.
    from studio.cli import main

    out = tmp_path / "out.png"
    assert main(["sample", "--model", "Lying", "--seed", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "lying.safetensors" in err and "Traceback" not in err and not out.exists()
    assert path.read_bytes() == data  # refusing the file does not touch it


def test_a_card_whose_sizes_do_not_fit_its_weights_names_the_field_before_building(tmp_path, monkeypatch):
    from studio.engine.models import store

    path = saved_gan(tmp_path)
    tamper_card(path, _set("latent_dim", 4000))  # fits the bounds, and memory: only the weights tell
    built = []
    monkeypatch.setattr(store, "fold_spectral_norm", lambda model: built.append(model) or model)
    with pytest.raises(ModelFileError, match=r"its card says latent_dim 4000 but its weights were made for 16"):
        load_generative_model(path)
    assert not built  # refused on the meta device's shapes: no layer was allocated for 4000


def test_a_vae_card_is_checked_against_the_same_bounds(tmp_path):
    from studio.engine.models import VAE

    path = save_generative_model(tmp_path / "v.safetensors", VAE(VAEConfig(latent_dim=8, base_channels=8)), {})
    tamper_card(path, _set("base_channels", 10**7))
    with pytest.raises(ModelFileError, match="base_channels must be 1 to 4096"):
        load_generative_model(path)
    tamper_card(path, lambda card: card["config"].update(base_channels=8, beta=float("inf")))
    with pytest.raises(ModelFileError, match="beta must be a finite number"):
        load_generative_model(path)


def test_the_model_list_and_studio_info_survive_a_lying_card(capsys):
    from studio.cli import main
    from studio.engine.environment import installed_models

    path = saved_gan(models_dir(), "lying")
    tamper_card(path, lambda card: card.update(architecture=["x"], name={"a": 1}, config={"latent_dim": 10**9}))
    assert path in [model.path for model in installed_models()]
    assert main(["info", "--device", "cpu"]) == 0
    assert "lying.safetensors" in capsys.readouterr().out


# --- weak: weights that are NaN/Inf or not floats --------------------------------------------------------------------


def _fill(value):
    def edit(tensors):
        tensors[first_weight(tensors)].view(-1)[0] = value

    return edit


def _cast(dtype):
    def edit(tensors):
        name = first_weight(tensors)
        tensors[name] = tensors[name].to(dtype) if dtype is not torch.bool else tensors[name] > 0

    return edit


WEIGHTS = {
    "nan": (_fill(float("nan")), r"this model's weights contain NaN/Inf"),
    "inf": (_fill(float("inf")), r"this model's weights contain NaN/Inf"),
    "-inf": (_fill(float("-inf")), r"this model's weights contain NaN/Inf"),
    "bool": (_cast(torch.bool), r"holds bool values where the model needs floating-point numbers"),
    "complex": (_cast(torch.complex64), r"holds complex64 values where the model needs floating-point numbers"),
    "int": (_cast(torch.int32), r"holds int32 values where the model needs floating-point numbers"),
}


@pytest.mark.parametrize("case", WEIGHTS)
def test_weights_that_are_not_usable_numbers_are_refused_at_load_naming_the_file(tmp_path, case, capsys):
    edit, message = WEIGHTS[case]
    path = saved_gan(models_dir(), "poisoned")
    data = tamper_tensors(path, edit)
    with pytest.raises(ModelFileError, match=message) as caught:
        LatentModel.load(path)
    assert str(caught.value).startswith("poisoned.safetensors: ")
    from studio.cli import main

    assert main(["sample", "--model", "Poisoned", "--seed", "1", "-o", str(tmp_path / "out.png")]) == 2
    assert "poisoned.safetensors" in capsys.readouterr().err and not (tmp_path / "out.png").exists()
    assert path.read_bytes() == data


def test_half_precision_weights_still_load(tmp_path):
    path = saved_gan(tmp_path)
    tamper_tensors(
        path, lambda tensors: tensors.update({k: v.half() for k, v in tensors.items() if v.is_floating_point()})
    )
    assert LatentModel.load(path).render(np.zeros(16, dtype=np.float32)).size == (64, 64)


# --- case 8: finetune --import of a crafted checkpoint ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny conditional GAN trained one step: its model and training checkpoint."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("trained")
    n = 8
    dataset = ImageDataset(
        torch.zeros((n, 3, 64, 64), dtype=torch.uint8),
        torch.arange(n) % 2,
        ["a", "b"],
        [str(i) for i in range(n)],
        torch.zeros(n, dtype=torch.uint8),
    )
    config = default_config("gan", tiny_config(num_classes=2), steps=1, batch=4, evaluate=False, name="Tiny")
    result = run_to_end(train_job(config, dataset, folder / "tiny.safetensors", device=CPU))
    return result.model_path, checkpoint_path(result.model_path), dataset


def crafted(trained, tmp_path, name, tensors_edit=None, card_edit=None):
    """A copy of the checkpoint with its tensors or embedded card changed."""
    with safe_open(trained[1], "pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        card = json.loads(handle.metadata()["card"])
    if tensors_edit:
        tensors_edit(tensors)
    if card_edit:
        card_edit(card)
    target = tmp_path / f"{name}.ckpt.safetensors"
    save_file(tensors, target, metadata={"card": json.dumps(card)})
    return target


def _widen(tensors):
    name = next(k for k, v in tensors.items() if ".g_ema." in f".{k}" and k.endswith("weight") and v.ndim == 2)
    tensors[name] = torch.zeros(tensors[name].shape[0], tensors[name].shape[1] + 1)


def _poison(tensors):
    for key, value in tensors.items():
        if "g_ema" in key and value.is_floating_point():
            value.fill_(float("nan"))


def _drop_generators(card):
    modules = card["state"]["trainer"]["modules"]
    del modules["g_ema"], modules["g"]


CHECKPOINTS = {
    "shape mismatch": ({"tensors_edit": _widen}, r"weights were made for 33|do not match"),
    "no module": ({"card_edit": _drop_generators}, r"cannot be imported: it holds no weights for 'g_ema' or 'g'"),
    "huge config": (
        {"card_edit": lambda card: card["train_config"]["model"].update(latent_dim=10**9)},
        r"latent_dim must be 1 to 4096, got 1000000000",
    ),
    "architecture a list": (
        {"card_edit": lambda card: card["train_config"]["model"].update(architecture=["style"])},
        r"architecture must be one of",
    ),
    "diverged weights": ({"tensors_edit": _poison}, r"this model's weights contain NaN/Inf"),
}


@pytest.mark.parametrize("case", CHECKPOINTS)
def test_finetune_import_of_a_crafted_checkpoint_is_a_model_file_error(trained, tmp_path, case, capsys):
    changes, message = CHECKPOINTS[case]
    source = crafted(trained, tmp_path, "crafted", **changes)
    data = source.read_bytes()
    with pytest.raises(ModelFileError, match=message) as caught:
        import_checkpoint(source, name="Crafted")
    assert "crafted.ckpt.safetensors" in str(caught.value)
    from studio.cli import main

    assert main(["finetune", "--import", str(source), "--out", "Crafted"]) == 2
    err = capsys.readouterr().err
    assert "crafted.ckpt.safetensors" in err and "Traceback" not in err
    assert not library_path("Crafted").exists() and source.read_bytes() == data  # nothing imported, nothing touched


def test_resume_and_import_share_the_same_clean_path(trained, tmp_path):
    """The resume of the same crafted file says the same thing (ModelFileError, naming it and the
    field), checked against the config before a trainer is built."""
    import shutil

    _, _, dataset = trained
    out = tmp_path / "resumed.safetensors"
    shutil.copy(crafted(trained, tmp_path, "x", tensors_edit=_widen), checkpoint_path(out))
    config = load_checkpoint(trained[1]).config
    with pytest.raises(ModelFileError, match=r"resumed\.ckpt\.safetensors: .*g_channels 32 .*weights were made for 33"):
        run_to_end(train_job(config, dataset, out, device=CPU, resume=True))


def test_an_intact_checkpoint_still_imports(trained):
    imported = import_checkpoint(trained[1], name="Fine")
    assert LatentModel.load(imported).name == "Fine"


def test_a_model_whose_training_diverged_is_not_imported(trained, tmp_path):
    import shutil

    source = tmp_path / "diverged.safetensors"
    shutil.copy(trained[0], source)
    shutil.copy(card_path(trained[0]), card_path(source))
    tamper_card(source, lambda card: card.update(final_losses={"d": float("nan"), "g": 1.0}))
    with pytest.raises(TrainingError, match=r"diverged\.safetensors: its training diverged \(the d loss is NaN/Inf\)"):
        import_checkpoint(source, name="Diverged")
    assert not library_path("Diverged").exists()


def test_a_run_whose_weights_went_nan_saves_no_model_and_keeps_its_checkpoint(trained, tmp_path, monkeypatch):
    _, _, dataset = trained
    config = default_config("gan", tiny_config(num_classes=2), steps=1, batch=4, evaluate=False, name="Tiny")
    real_build = loop.build_trainer

    def poisoned(*args, **kwargs):
        trainer = real_build(*args, **kwargs)
        real_final = trainer.final_model

        def final():
            model = real_final()
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))
            return model

        trainer.final_model = final
        return trainer

    monkeypatch.setattr(loop, "build_trainer", poisoned)
    out = tmp_path / "run.safetensors"
    with pytest.raises(TrainingDiverged, match=r"the model's weights contain NaN/Inf .*so it was not saved"):
        run_to_end(train_job(config, dataset, out, device=CPU))
    assert not out.exists()  # no model that draws grey
    # The checkpoint written at step 1, before the weights went bad, is intact and imports.
    kept = load_checkpoint(checkpoint_path(out))
    assert all(torch.isfinite(t).all() for t in kept.state["trainer"]["modules"]["g_ema"].values())
    assert LatentModel.load(import_checkpoint(checkpoint_path(out), name="Kept")).name == "Kept"


# --- output health: a drawn picture that is NaN/Inf ---------------------------------------------------------------


def test_check_picture_passes_numbers_and_names_nan_and_inf():
    check_picture(torch.zeros(3, 4, 4), "x")
    for bad in (float("nan"), float("inf"), float("-inf")):
        pixels = torch.zeros(3, 4, 4)
        pixels[1, 2, 3] = bad
        with pytest.raises(PictureNotFinite, match=r"^the picture came out as NaN/Inf: Tiny drew it$"):
            check_picture(pixels, "Tiny drew it")


def test_a_latent_render_that_comes_out_nan_is_named_not_grey(tmp_path, monkeypatch, capsys):
    path = saved_gan(models_dir(), "sketch")
    model = LatentModel.load(path)
    monkeypatch.setattr(
        LatentModel, "_generate", lambda self, z, labels, psi: torch.full((len(z), 3, 64, 64), float("nan"))
    )
    message = r"the picture came out as NaN/Inf: Sketch \(sketch\.safetensors\) gave no numbers"
    with pytest.raises(PictureNotFinite, match=message):
        model.render(np.zeros(16, dtype=np.float32))
    with pytest.raises(PictureNotFinite, match=message):
        model.render_batch(np.zeros((2, 16), dtype=np.float32))
    from studio.cli import main

    out = tmp_path / "out.png"
    assert main(["sample", "--model", "Sketch", "--seed", "1", "-o", str(out)]) == 2
    assert "the picture came out as NaN/Inf" in capsys.readouterr().err and not out.exists()


def _style_inputs(tmp_path):
    from tests.engine.test_style_transfer import painting, photo

    photo(48, 40).save(tmp_path / "photo.png")
    painting(48, 48).save(tmp_path / "style.png")
    return photo(48, 40), painting(48, 48)


def test_a_style_transfer_that_diverges_is_named_and_writes_no_grey_picture(tmp_path, monkeypatch, capsys):
    from studio.cli import build_parser
    from studio.engine.style import transfer
    from studio.spec.style_settings import StyleSettings

    content, style = _style_inputs(tmp_path)
    real = transfer._Run._as_rgb
    monkeypatch.setattr(transfer._Run, "_as_rgb", lambda self, v, c: real(self, v, c) * float("nan"))
    settings = StyleSettings(size=48, min_size=48, steps=2, preview_interval_s=0.0, amp=False, init="content")
    with pytest.raises(PictureNotFinite, match=r"the picture came out as NaN/Inf: the style transfer diverged on CPU"):
        run_to_end(transfer.stylize_job(content, [(style, 1.0)], settings, CPU))
    # studio stylize: after the whole run, the message and exit 1, not a traceback or a grey PNG.
    out = tmp_path / "out.png"
    command = ["stylize", str(tmp_path / "photo.png"), str(tmp_path / "style.png"), "-o", str(out), "--size", "48"]
    args = build_parser().parse_args([*command, "--steps", "2", "--init", "content", "--device", "cpu"])
    assert args.run(args) == 1
    err = capsys.readouterr().err
    assert "the picture came out as NaN/Inf" in err and "Traceback" not in err and not out.exists()


def test_an_instant_painting_that_comes_out_nan_is_named_not_grey(tmp_path, monkeypatch, capsys):
    from studio.cli import build_parser
    from studio.engine.style import instant

    content, style = _style_inputs(tmp_path)
    monkeypatch.setattr(instant.InstantStyle, "render", lambda self, photo, vector: photo * float("nan"))
    net = instant.load_instant_networks("cpu")
    with pytest.raises(PictureNotFinite, match=r"the picture came out as NaN/Inf: the instant style network"):
        net.stylize(content, net.style_vector(style))
    out = tmp_path / "out.png"
    command = ["stylize", str(tmp_path / "photo.png"), str(tmp_path / "style.png"), "-o", str(out), "--instant"]
    args = build_parser().parse_args([*command, "--device", "cpu"])
    assert args.run(args) == 2
    err = capsys.readouterr().err
    assert "the picture came out as NaN/Inf" in err and not out.exists()


def test_a_card_nested_past_the_parser_s_depth_is_a_model_file_error_and_other_models_still_resolve():
    from studio.engine.latent.state import LatentState, find_model_for_state

    good = saved_gan(models_dir(), "good")
    deep = saved_gan(models_dir(), "deep")
    card_path(deep).write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"deep\.json: model card is not valid JSON"):
        LatentModel.load(deep)
    model = LatentModel.load(good)
    state = model.state(np.zeros(16, dtype=np.float32))
    assert find_model_for_state(LatentState(model.sha256, "Good", state.z, None, 1.0, None)) == good


def test_a_multi_style_painting_that_comes_out_nan_is_named_not_grey(monkeypatch):
    from studio.engine.style import multistyle
    from tests.engine.test_style_transfer import photo

    styler = multistyle.load_multistyle("cpu")
    monkeypatch.setattr(multistyle.MultiStyle, "render", lambda self, tensor, weights: tensor * float("inf") * 0)
    with pytest.raises(PictureNotFinite, match=r"the picture came out as NaN/Inf: the multi-style network"):
        styler.stylize(photo(48, 40), [1.0] + [0.0] * (multistyle.NUM_STYLES - 1))


def test_a_lying_base_model_for_a_fine_tune_is_a_clear_error():
    from types import SimpleNamespace

    from studio.engine.training.finetune.base import base_init, load_base

    path = saved_gan(models_dir(), "base")
    tamper_card(path, lambda card: card.update(architecture=["gan-generator"]))
    with pytest.raises(TrainingError, match=r"base\.safetensors is not a VAE or GAN generator"):
        load_base("Base")
    tamper_card(path, lambda card: card.update(architecture="gan-generator"))
    tamper_tensors(path, _fill(float("nan")))
    base = load_base("Base")
    with pytest.raises(ModelFileError, match=r"base\.safetensors: this model's weights contain NaN/Inf"):
        base_init(base, SimpleNamespace(model=base.config))
