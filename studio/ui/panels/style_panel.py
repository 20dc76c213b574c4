from studio.ui.panels.base import Panel


class StylePanel(Panel):
    title = "Style Transfer"
    subtitle = "Paint a photo in the style of one or more paintings, with a live preview."
    icon_name = "style-transfer"
    empty_hint = "Drop a photo here, or use File > Open image…"
