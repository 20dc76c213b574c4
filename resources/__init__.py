"""Data files shipped with the studio: icons, bundled models, sample images.

Installed as the package ``studio.resources``; read it through :mod:`studio.engine.resources`.
"""
