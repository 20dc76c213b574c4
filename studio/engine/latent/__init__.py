"""The engine behind the Latent Explorer (import the modules: this package imports nothing, so
:mod:`.state` loads without torch): render a latent point, find directions, walk between points.

A :class:`LatentModel` wraps a loaded VAE or GAN generator behind one small interface the
panel and the command line share: ``render`` (the slider path, kept allocation-light),
``directions`` (the slider axes, cached on disk per model hash), ``encode`` / ``project_job``
(an artist's own image into the latent space) and ``sample_grid``. A :class:`LatentState` is
the exact point shown; it rides in exported PNGs so opening one restores it.

Slider axes (:meth:`LatentModel.directions`):

- VAE ("vae-kl", the default): one axis per latent dimension, ordered by the average KL
  divergence of that dimension over a fixed seeded batch of prior samples, decoded and encoded
  again. KL is the encoder's own measure of how much a dimension carries: collapsed dimensions
  (which change nothing in the image) score about zero, and the measure needs one batch, does
  not depend on a step size or on the pixel scale, and ranks the same on every run.
  "vae-variance" (mean squared pixel change when a dimension moves by +-1 sigma) measures the
  visible change directly; it costs 2 x latent_dim decodes per base sample and is offered for
  comparison.
- GAN ("sefa", the default): SeFa's closed-form factorisation, the eigenvectors of W^T W for
  the first layer's weight W, largest eigenvalue first. Instant and needs no samples.
  "ganspace": GANSpace's PCA of early-layer activations over seeded samples, carried back to
  the latent space by linear regression and made orthonormal (Gram-Schmidt in rank order).
"""
