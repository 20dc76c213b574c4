from studio.ui.panels.base import Panel


class FinetunePanel(Panel):
    title = "Fine-tune"
    subtitle = "Teach a model your own visual language from a folder of your images."
    icon_name = "fine-tune"
    empty_hint = "Drop an image here, or use File > Open image…"
