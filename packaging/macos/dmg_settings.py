# dmgbuild settings for Latent Studio's disk image: the .app and a link to /Applications, side
# by side, so installing is one drag. `python packaging/build.py dmg` passes the paths in
# `defines` (dmgbuild runs this file with `defines` in its namespace).
import os.path

application = defines["app"]  # noqa: F821 - provided by dmgbuild
app_name = os.path.basename(application)

format = "UDZO"  # zlib-compressed, readable on every macOS the app supports
filesystem = "HFS+"
size = None  # dmgbuild measures the .app
files = [application]
symlinks = {"Applications": "/Applications"}
icon = defines.get("icon")  # noqa: F821 - the volume's icon: the app's own
badge_icon = None
icon_locations = {app_name: (140, 150), "Applications": (400, 150)}
window_rect = ((200, 200), (540, 340))
default_view = "icon-view"
show_status_bar = False
show_tab_view = False
show_toolbar = False
show_pathbar = False
show_sidebar = False
icon_size = 112
text_size = 13
