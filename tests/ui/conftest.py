import pytest

from studio.files.paths import models_dir
from studio.services.settings import Settings
from studio.ui.main_window import MainWindow


class QuitAnswers:
    """Stands in for the "Stop it and quit?" question; records what was asked."""

    def __init__(self, answer: bool = True):
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, _parent, job_title: str) -> bool:
        self.asked.append(job_title)
        return self.answer


@pytest.fixture
def quit_answers():
    return QuitAnswers()


@pytest.fixture
def no_bundled_models(monkeypatch, tmp_path):
    """Hide the bundled models: with one loaded, the explorer would encode opened images
    instead of showing them, and these tests are about the window, not the explorer."""
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "no-bundled-models")


@pytest.fixture
def window(qtbot, worker, quit_answers, no_bundled_models):
    win = MainWindow(worker, Settings(), confirm_quit=quit_answers)
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.fixture
def tiny_models(studio_home, tmp_path, monkeypatch):
    """A 20-dimensional VAE and a 3-class GAN in the library; no bundled models in the way."""
    import torch

    from studio.engine.models.gan import Generator
    from studio.engine.models.store import save_generative_model
    from studio.engine.models.vae import VAE
    from studio.spec.models import GANConfig, VAEConfig

    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    torch.manual_seed(0)
    folder = models_dir()
    vae = save_generative_model(
        folder / "tiny-vae.safetensors",
        VAE(VAEConfig(image_size=64, latent_dim=20, base_channels=4)),
        {"name": "Tiny VAE"},
    )
    generator = Generator(GANConfig(image_size=64, latent_dim=8, num_classes=3, g_channels=16, d_channels=4))
    with torch.no_grad():  # an untrained conditional norm is the same for every class
        for name, parameter in generator.named_parameters():
            if "norm" in name:
                parameter.add_(torch.randn_like(parameter) * 0.5)
    gan = save_generative_model(
        folder / "tiny-gan.safetensors",
        generator,
        {"name": "Tiny GAN", "class_names": ["cat", "dog", "owl"]},
    )
    return {"vae": vae, "gan": gan}
