"""The system libraries Qt's Linux desktop plugins need, and the launcher's check for them.

One table serves two readers: packaging/build.py turns the ones a build machine lacks into the
.deb's Depends, and ``latent-studio`` checks, before it creates the application, that those the
xcb plugin links to can be loaded. Without the check a fresh machine gets Qt's abort ("could not
load the Qt platform plugin xcb"), which names xcb-cursor0 even when others are the ones missing.

Nothing here imports Qt or torch: the check runs before either is loaded.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# The launcher's exit status when Qt's X11 plugin could not start for missing system
# libraries (documented in README "Set up"). 1 is a failed self-test, 2 a usage error.
EXIT_MISSING_LIBRARIES = 3


@dataclass(frozen=True)
class DesktopLibrary:
    debian: str  # the Debian/Ubuntu package holding it
    fedora: str  # the Fedora/RHEL package holding it
    xcb: bool  # Qt 6's xcb platform plugin links to it (checked at launch)


# Libraries a desktop may lack. PyInstaller bundles what it finds on the build machine, so a
# build machine that lacks one of these names it as a dependency of the .deb instead.
DESKTOP_LIBRARIES: dict[str, DesktopLibrary] = {
    "libxcb-cursor.so.0": DesktopLibrary("libxcb-cursor0", "xcb-util-cursor", xcb=True),
    "libxcb-icccm.so.4": DesktopLibrary("libxcb-icccm4", "xcb-util-wm", xcb=True),
    "libxcb-keysyms.so.1": DesktopLibrary("libxcb-keysyms1", "xcb-util-keysyms", xcb=True),
    "libxcb-image.so.0": DesktopLibrary("libxcb-image0", "xcb-util-image", xcb=True),
    "libxcb-render-util.so.0": DesktopLibrary("libxcb-render-util0", "xcb-util-renderutil", xcb=True),
    "libxcb-shape.so.0": DesktopLibrary("libxcb-shape0", "libxcb", xcb=True),
    # Listed by Qt's deployment notes; Qt 6's plugin no longer links to it (ldd), so a machine
    # without it still starts.
    "libxcb-xinerama.so.0": DesktopLibrary("libxcb-xinerama0", "libxcb", xcb=False),
    "libxcb-xkb.so.1": DesktopLibrary("libxcb-xkb1", "libxcb", xcb=True),
    "libxkbcommon-x11.so.0": DesktopLibrary("libxkbcommon-x11-0", "libxkbcommon-x11", xcb=True),
    "libwayland-cursor.so.0": DesktopLibrary("libwayland-cursor0", "libwayland-cursor", xcb=False),
    "libwayland-egl.so.1": DesktopLibrary("libwayland-egl1", "libwayland-egl", xcb=False),
}


def will_use_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will start on its X11 (xcb) plugin: an X display, and no other platform chosen."""
    if not environ.get("DISPLAY"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        # "xcb", "xcb:option=..." or a fallback list "wayland;xcb": only the first one is tried first.
        return chosen.split(";")[0].split(":")[0] == "xcb"
    # Unset: Qt 6 prefers Wayland in a Wayland session (XWayland's DISPLAY is set there too).
    return not (environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland")


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
        return True
    except OSError:
        pass
    # A frozen build ships them beside itself, where dlopen from here may not look.
    bundle = getattr(sys, "_MEIPASS", None)
    return bool(bundle) and (Path(bundle) / soname).is_file()


def missing_xcb_libraries(loadable: Callable[[str], bool]) -> list[str]:
    return [soname for soname, library in DESKTOP_LIBRARIES.items() if library.xcb and not loadable(soname)]


def read_os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    fields = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        try:
            text = Path("/usr/lib/os-release").read_text(encoding="utf-8")
        except OSError:
            return fields
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
    return fields


def install_command(sonames: list[str], os_release: Mapping[str, str]) -> str | None:
    """The one command that installs the packages holding ``sonames`` on this distribution."""
    family = {os_release.get("ID", ""), *os_release.get("ID_LIKE", "").split()}
    if family & {"debian", "ubuntu"}:
        packages = sorted({DESKTOP_LIBRARIES[name].debian for name in sonames})
        return "sudo apt-get install " + " ".join(packages)
    if family & {"fedora", "rhel", "centos"}:
        packages = sorted({DESKTOP_LIBRARIES[name].fedora for name in sonames})
        return "sudo dnf install " + " ".join(packages)
    return None


def missing_libraries_message(sonames: list[str], os_release: Mapping[str, str]) -> str:
    lines = [
        "Latent Studio cannot open its window: the X11 (xcb) display needs these system libraries,",
        "which are not installed:",
        *(f"    {name}" for name in sonames),
    ]
    command = install_command(sonames, os_release)
    if command:
        lines += ["Install them with:", f"    {command}"]
    else:
        debian = " ".join(sorted({DESKTOP_LIBRARIES[name].debian for name in sonames}))
        lines += [
            "Install the packages that provide them with your distribution's package manager",
            f"(on Debian and Ubuntu they are: {debian}).",
        ]
    return "\n".join(lines)


def check_display_libraries(
    environ: Mapping[str, str] | None = None,
    loadable: Callable[[str], bool] | None = None,
    os_release: Callable[[], Mapping[str, str]] | None = None,
    platform: str | None = None,
) -> str | None:
    """None when Qt can start here; otherwise what to tell the user (the missing libraries and
    the command that installs them). The defaults are this process's: its environment, dlopen,
    /etc/os-release."""
    if not (platform or sys.platform).startswith("linux") or not will_use_xcb(
        os.environ if environ is None else environ
    ):
        return None
    missing = missing_xcb_libraries(loadable or _loadable)
    if not missing:
        return None
    return missing_libraries_message(missing, (os_release or read_os_release)())
