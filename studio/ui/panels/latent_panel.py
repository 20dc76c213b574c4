from studio.ui.panels.base import Panel


class LatentPanel(Panel):
    title = "Latent Explorer"
    subtitle = "Move sliders through what a generative model has learnt: samples, bookmarks, interpolation."
    icon_name = "latent-explorer"
    empty_hint = "No latent model is installed yet.\nDrop an image here, or use File > Open image…"
