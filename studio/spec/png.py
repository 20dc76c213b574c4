"""Where exported PNGs keep the settings that made them.

Every PNG the studio writes carries one JSON object in an iTXt chunk named
:data:`SETTINGS_KEY`; each panel keeps its part under its own key in that object, so opening a
PNG knows which panel made it and restores that panel's state.
"""

SETTINGS_KEY = "latent-studio"  # the PNG text chunk holding the settings JSON
LATENT_KEY = "latent"  # the Latent Explorer's point (studio.engine.latent.state)
STYLE_KEY = "style_transfer"  # a style transfer run's settings (studio.engine.style.transfer)
