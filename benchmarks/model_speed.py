"""How fast are the default generative models on this machine's CPU?

Prints JSON: milliseconds to decode one 64 px image (batch 1, median after warm-up, under
``torch.inference_mode``) for the default VAE decoder and GAN generator, their parameter
counts, and milliseconds per training step at batch 32 and 64 (VAE: one Adam step on its
loss; GAN: one discriminator and one generator Adam step on one batch of fakes, hinge
loss). The explorer's slider budget is 16 ms per image; the goal is 6 ms.

Each figure is ``{"median", "min"}``: on a shared 2-core machine other processes inflate the
median (two torch threads stall whenever either is descheduled), and the minimum shows what
the model itself costs. The load average is printed to tell the two situations apart.

The generator is timed as the explorer runs it, loaded from a file with spectral norm folded
into its weights, and also with the spectral-norm parametrization still attached (as a
training preview would run it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from typing import TYPE_CHECKING

import torch

from studio.engine.models import (
    VAE,
    Generator,
    build_gan,
    discriminator_loss,
    fold_spectral_norm,
    generator_loss,
    plain_state_dict,
)
from studio.spec.models import GANConfig, VAEConfig

if TYPE_CHECKING:
    from collections.abc import Callable


def time_ms(step: Callable[[], object], runs: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    return {"median": round(statistics.median(times), 2), "min": round(min(times), 2)}


def decode_ms(decode: Callable[[torch.Tensor], torch.Tensor], latent_dim: int, runs: int) -> dict[str, float]:
    z = torch.randn(1, latent_dim)
    with torch.inference_mode():
        return time_ms(lambda: decode(z), runs, warmup=20)


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def vae_step_ms(config: VAEConfig, batch: int, runs: int) -> dict[str, float]:
    vae = VAE(config)
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-3)
    images = torch.rand(batch, config.channels, config.image_size, config.image_size) * 2 - 1

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        vae.loss(images)["total"].backward()
        optimizer.step()

    return time_ms(step, runs, warmup=2)


def gan_step_ms(config: GANConfig, batch: int, runs: int) -> dict[str, float]:
    generator, discriminator = build_gan(config)
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.0, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.0, 0.999))
    real = torch.rand(batch, 3, config.image_size, config.image_size) * 2 - 1

    def step() -> None:
        # As pytorch/examples' DCGAN: one batch of fakes serves both steps, detached for D's.
        fake = generator(torch.randn(batch, config.latent_dim))
        d_opt.zero_grad(set_to_none=True)
        discriminator_loss(config.loss, discriminator(real), discriminator(fake.detach())).backward()
        d_opt.step()
        g_opt.zero_grad(set_to_none=True)
        generator_loss(config.loss, discriminator(fake)).backward()
        g_opt.step()

    return time_ms(step, runs, warmup=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decode-runs", type=int, default=200)
    parser.add_argument("--train-runs", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    vae_config, gan_config = VAEConfig(), GANConfig()
    vae = VAE(vae_config).eval()
    generator, discriminator = build_gan(gan_config)
    generator.eval()
    # What load_generative_model gives the explorer: a plain module holding the effective weights.
    folded = fold_spectral_norm(Generator(gan_config).eval())
    folded.load_state_dict(plain_state_dict(generator))

    result = {
        "benchmark": "model_speed",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        # Other work on a shared machine slows every figure; this says how busy it was.
        "load_average_1min_at_start": os.getloadavg()[0],
        "decode_ms_batch1": {
            "vae": decode_ms(vae.decode, vae_config.latent_dim, args.decode_runs),
            "gan_generator": decode_ms(folded, gan_config.latent_dim, args.decode_runs),
            "gan_generator_spectral_norm_attached": decode_ms(generator, gan_config.latent_dim, args.decode_runs),
        },
        "parameters": {
            "vae": parameters(vae),
            "vae_decoder": parameters(vae.from_latent) + parameters(vae.decoder),
            "gan_generator": parameters(generator),
            "gan_discriminator": parameters(discriminator),
        },
        "train_ms_per_step": {
            "vae": {str(batch): vae_step_ms(vae_config, batch, args.train_runs) for batch in (32, 64)},
            "gan_hinge_d_and_g": {str(batch): gan_step_ms(gan_config, batch, args.train_runs) for batch in (32, 64)},
        },
        "configs": {"vae": dataclasses.asdict(vae_config), "gan": dataclasses.asdict(gan_config)},
        "load_average_1min_at_end": os.getloadavg()[0],
        "decode_goal_ms": 6.0,
        "decode_budget_ms": 16.0,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
