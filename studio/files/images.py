"""Every image the user gives comes in here, and every PNG the studio exports goes out here.

Loading is defensive because the files come from anywhere (drag and drop, training folders):

- only an allowlist of formats is ever parsed, whatever the file's extension says;
- Pillow's decompression-bomb limit is enforced, with its warning threshold treated as an
  error, and the limit itself is never changed;
- a truncated, empty or foreign file gives an :class:`ImageLoadError` naming the file, and no
  process-wide flag (``LOAD_TRUNCATED_IMAGES``, warning filters) is flipped to get there;
- animations give their first frame only, without counting or decoding the others;
- EXIF orientation is applied, and every mode is normalised to RGB plus an optional alpha mask.

Exports are PNGs carrying the settings that made them as JSON in an iTXt chunk, written
atomically through :func:`studio.files.atomic.atomic_write`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import stat
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import PIL
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from studio.files.atomic import atomic_write
from studio.files.user_json import UserJsonError, parse_json
from studio.spec.png import SETTINGS_KEY

if TYPE_CHECKING:
    import torch  # only for annotations: this module must load without torch

log = logging.getLogger(__name__)

# Older Pillow releases have known decoder vulnerabilities (RELIABILITY.md item 14).
MIN_PILLOW = (12, 2)

# Names of Pillow openers. Phone JPEGs with extra frames (MPO) come through the JPEG opener,
# which reports them as "MPO"; "MPO" itself is no opener, and Pillow fails on it here.
ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")
_SUPPORTED_NAMES = "PNG, JPEG, WebP, BMP, TIFF or GIF"

# Ordered for the file dialog; the set is for quick membership tests (folder scans).
_SUFFIXES = (".png", ".apng", ".jpg", ".jpeg", ".mpo", ".webp", ".bmp", ".tif", ".tiff", ".gif")
IMAGE_SUFFIXES: frozenset[str] = frozenset(_SUFFIXES)
IMAGE_FILE_FILTER = f"Images ({' '.join('*' + s for s in _SUFFIXES)});;All files (*)"

# Used only if something set Image.MAX_IMAGE_PIXELS to None: the studio never runs unguarded.
# This is Pillow's own default (a 24-bit image of about 256 MiB).
_FALLBACK_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3

# Magic numbers of allowed formats: a file that starts like one but cannot be identified was
# cut short or damaged, which is a different message from "wrong kind of file".
_ALLOWED_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")

# Files artists often drop by mistake; naming them makes the message actionable.
_KNOWN_UNSUPPORTED = (
    (b"8BPS", "a Photoshop file"),
    (b"%!PS", "a PostScript/EPS file"),
    (b"\xc5\xd0\xd3\xc6", "an EPS file"),
    (b"%PDF", "a PDF file"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


def _check_pillow_version(version: str) -> None:
    found = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if found < MIN_PILLOW:
        needed = ".".join(map(str, MIN_PILLOW))
        raise ImportError(
            f"Latent Studio needs Pillow {needed} or newer (older versions have image decoder "
            f"security bugs); found {version}. Upgrade with: pip install 'pillow>={needed}'"
        )


_check_pillow_version(PIL.__version__)


class ImageLoadError(ValueError):
    """An image could not be loaded; the message is for the user and names the file."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        # A bare name reads best in a dialog; "." or a drive root has none, so show it whole.
        super().__init__(f"Could not open {self.path.name or self.path}: {reason}")


@dataclass(frozen=True)
class LoadedImage:
    image: Image.Image  # mode "RGB", upright, transparent areas composited onto white
    alpha: Image.Image | None  # mode "L" mask, only when the source had real transparency
    path: Path
    source_format: str  # Pillow's name for what the file really is ("PNG", "JPEG", ...)
    settings: dict | None  # the studio settings a PNG export carried, if any


# --- loading ---------------------------------------------------------------------------------


def load_image(path: str | os.PathLike[str]) -> LoadedImage:
    """Load a user's image safely; raise :class:`ImageLoadError` naming the file otherwise."""
    path = Path(path)
    # Pillow is handed an open handle that this function closes, so neither the file nor
    # the image keeps it open afterwards (Windows could not replace or delete it otherwise).
    with _open_for_reading(path) as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise ImageLoadError(path, "empty file")
        try:
            try:
                image, alpha, source_format, settings = _decode(path, handle)
            except ValueError as exc:
                if isinstance(exc, ImageLoadError) or not _is_text_limit(exc):
                    raise
                # Pillow refuses PNG text chunks above MAX_TEXT_CHUNK / MAX_TEXT_MEMORY (a guard
                # against memory bombs, which stays as it is): the pixels are read without them.
                stripped = _png_without_text(handle)
                if stripped is None:
                    raise ImageLoadError(path, _TEXT_TOO_LARGE) from exc
                log.warning("%s: %s; opened without it", path, _TEXT_TOO_LARGE)
                try:
                    image, alpha, source_format, _ = _decode(path, stripped)
                except ImageLoadError:
                    raise
                except Exception as inner:
                    raise ImageLoadError(path, f"{_TEXT_TOO_LARGE}, and the pixels are damaged") from inner
                settings = None
        except ImageLoadError:
            raise
        except UnidentifiedImageError as exc:
            raise ImageLoadError(path, _unidentified_reason(handle)) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            # The warning arrives as an exception when warnings are errors (python -W error).
            raise ImageLoadError(path, _too_large_reason()) from exc
        except MemoryError as exc:
            raise ImageLoadError(path, "not enough memory to open it") from exc
        except Exception as exc:
            # Decoders signal damage in many ways (OSError, SyntaxError, struct.error,
            # zlib.error, ValueError...); for the user they all mean the same thing.
            log.info("Decoding %s failed", path, exc_info=True)
            raise ImageLoadError(path, "truncated or corrupt file") from exc
    return LoadedImage(image, alpha, path, source_format, settings)


def _decode(path: Path, handle: BinaryIO) -> tuple[Image.Image, Image.Image | None, str, dict | None]:
    with Image.open(handle, formats=ALLOWED_FORMATS) as opened:
        _check_pixel_limit(path, opened.size)
        # Decodes the current frame only: frame 0. n_frames and seeking are avoided
        # because they walk the whole file, unbounded for an animation of many frames.
        opened.load()
        source_format = opened.format or "unknown"
        settings = _settings_from_info(path, opened.info) if source_format == "PNG" else None
        upright = ImageOps.exif_transpose(opened)  # a copy, detached from the file
    image, alpha = _to_rgb_and_alpha(upright)
    return image, alpha, source_format, settings


_TEXT_TOO_LARGE = "its text metadata is too large to read safely"
_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A PNG is copied into memory (without its text) only up to this size.
_MAX_STRIPPED_BYTES = 256 * 1024 * 1024


def _is_text_limit(exc: ValueError) -> bool:
    """Pillow's refusal of a PNG text chunk that decompresses past its limits."""
    text = str(exc)
    return "MAX_TEXT_CHUNK" in text or "MAX_TEXT_MEMORY" in text


def _png_without_text(handle: BinaryIO) -> io.BytesIO | None:
    """The PNG in ``handle`` with its text chunks left out, or None when it cannot be walked."""
    handle.seek(0)
    if handle.read(8) != _PNG_SIGNATURE:
        return None
    out = io.BytesIO()
    out.write(_PNG_SIGNATURE)
    while True:
        header = handle.read(8)
        if len(header) < 8:
            return None  # ends without IEND
        (length,) = struct.unpack(">I", header[:4])
        kind = header[4:]
        if kind in _TEXT_CHUNKS:
            handle.seek(length + 4, os.SEEK_CUR)  # data and CRC
            continue
        if out.tell() + length + 12 > _MAX_STRIPPED_BYTES:
            return None
        body = handle.read(length + 4)
        if len(body) < length + 4:
            return None
        out.write(header + body)
        if kind == b"IEND":
            out.seek(0)
            return out


def read_png_settings(path: str | os.PathLike[str]) -> dict | None:
    """The settings a studio PNG export carries, or None when the image has none.

    The whole image goes through :func:`load_image`, so a file that is not a readable image
    raises :class:`ImageLoadError` exactly as opening it would.
    """
    return load_image(path).settings


def _open_for_reading(path: Path) -> BinaryIO:
    try:
        # A folder (which Windows would report as "permission denied"), a FIFO or a device (which
        # would block or never end when read) is refused before opening. The open is non-blocking
        # too, and checked again, in case the path changed in between.
        _check_regular(path, os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError as exc:
        raise ImageLoadError(path, "file not found") from exc
    except PermissionError as exc:
        raise ImageLoadError(path, "permission denied") from exc
    except OSError as exc:
        raise ImageLoadError(path, f"could not read the file ({exc.strerror or exc})") from exc
    handle = os.fdopen(fd, "rb")
    try:
        _check_regular(path, os.fstat(fd).st_mode)
    except ImageLoadError:
        handle.close()
        raise
    return handle


def _check_regular(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise ImageLoadError(path, "this is a folder, not an image")
    if not stat.S_ISREG(mode):
        kind = (
            "a pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a special file"
        )
        raise ImageLoadError(path, f"not a regular file ({kind}), so it cannot be an image")


def _max_pixels() -> int:
    return Image.MAX_IMAGE_PIXELS or _FALLBACK_MAX_PIXELS


def _check_pixel_limit(path: Path, size: tuple[int, int]) -> None:
    # Pillow only warns between 1x and 2x its limit. Checking here turns that range into an
    # error too, without warning filters or global flags, which other threads would share.
    width, height = size
    if width * height > _max_pixels():
        raise ImageLoadError(path, _too_large_reason(width, height))


def _too_large_reason(width: int | None = None, height: int | None = None) -> str:
    size = f"{width} × {height} pixels, " if width is not None else ""
    return f"image too large to open safely ({size}the limit is {_max_pixels():,} pixels)"


def _unidentified_reason(handle: BinaryIO) -> str:
    handle.seek(0)
    head = handle.read(16)
    if head.startswith(_ALLOWED_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "truncated or corrupt file"
    kind = next((name for magic, name in _KNOWN_UNSUPPORTED if head.startswith(magic)), None)
    if kind is None and head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        kind = "a HEIC/AVIF file"
    what = f"{kind}; " if kind else ""
    return f"not a supported image ({what}use {_SUPPORTED_NAMES})"


def _settings_from_info(path: Path, info: dict[str | tuple[int, int], Any]) -> dict | None:
    raw = info.get(SETTINGS_KEY)
    if raw is None:
        return None
    try:
        settings: dict = parse_json(raw if isinstance(raw, (str, bytes)) else str(raw), expect=dict)
    except UserJsonError as exc:
        log.warning("Ignoring the studio settings in %s: %s", path, exc)
        return None
    return settings


# --- mode normalisation ----------------------------------------------------------------------


def _has_alpha(img: Image.Image) -> bool:
    # Palette, grey and RGB PNGs/GIFs can mark a colour as transparent instead of carrying
    # an alpha channel; Pillow keeps that in info["transparency"].
    return img.mode in _ALPHA_MODES or (img.mode in ("P", "L", "RGB") and "transparency" in img.info)


def _to_rgb_and_alpha(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Normalise any Pillow mode to RGB plus an "L" alpha mask (None when fully opaque).

    Rules, chosen to be deterministic rather than clever:

    - transparency (RGBA, LA, PA, P/L/RGB with a transparent colour): composited onto white,
      the alpha kept as the mask, unless every pixel is opaque;
    - 16-bit grey (I;16 and its byte orders): 0..65535 scaled to 0..255, rounded;
    - 32-bit integer (I) and float (F): the values are taken as 0..255 and clipped, since
      those modes carry no range of their own (NaN becomes 0);
    - 1-bit: black and white; CMYK, YCbCr, LAB, HSV, grey, palette: Pillow's conversion.
    """
    if _has_alpha(img):
        return _flatten(_to_rgba(img))
    return _to_rgb(img), None


def _to_rgba(img: Image.Image) -> Image.Image:
    if img.mode == "La":  # premultiplied grey converts only to LA
        img = img.convert("LA")
    return img.convert("RGBA")


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(img).astype(np.uint32)  # asarray honours I;16B's byte order
        return Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8)).convert("RGB")
    if img.mode in ("I", "F"):
        values = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0)
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def _flatten(rgba: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    alpha = rgba.getchannel("A")
    if alpha.getextrema() == (255, 255):
        return rgba.convert("RGB"), None
    # White, not black: what a transparent area looks like on a page and in most viewers.
    rgb = Image.new("RGB", rgba.size, (255, 255, 255))
    rgb.paste(rgba.convert("RGB"), mask=alpha)
    return rgb, alpha


# --- arrays and tensors ----------------------------------------------------------------------


def pil_to_array(img: Image.Image) -> np.ndarray:
    """HxWx3 uint8 RGB array (a writable copy); transparency is composited onto white."""
    rgb, _ = _to_rgb_and_alpha(img)
    return np.array(rgb, dtype=np.uint8)


def array_to_pil(arr: np.ndarray | torch.Tensor) -> Image.Image:
    """An RGB image from an array or a tensor.

    Accepted: numpy arrays HxWx3, HxWx1 or HxW, either uint8 (0..255) or float (0..1,
    clipped; NaN becomes 0, since half precision on some GPUs yields it); torch tensors
    CxHxW or 1xCxHxW with C = 1 or 3, same value rules, on any device.
    """
    torch = sys.modules.get("torch")  # a tensor implies torch is already imported
    if torch is not None and isinstance(arr, torch.Tensor):
        arr = _tensor_to_hwc(arr)
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected a numpy array or a torch tensor, got {type(arr).__name__}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"expected an HxWx3 or HxW image array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"an image needs at least one pixel, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        arr = _unit_float_to_uint8(arr)
    elif arr.dtype != np.uint8:
        # Other integer types have no agreed range (0..1? 0..255? 0..65535?): refuse to guess.
        raise ValueError(f"expected uint8 or float values, got {arr.dtype}")
    return Image.fromarray(np.ascontiguousarray(arr)).convert("RGB")


def _unit_float_to_uint8(arr: np.ndarray) -> np.ndarray:
    values = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)


def _tensor_to_hwc(tensor: torch.Tensor) -> np.ndarray:
    if tensor.ndim == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.ndim != 3 or tensor.shape[0] not in (1, 3):
        shape = tuple(tensor.shape)
        raise ValueError(f"expected a CxHxW or 1xCxHxW tensor with 1 or 3 channels, got {shape}")
    tensor = tensor.detach().cpu()
    if tensor.is_floating_point():
        tensor = tensor.float()  # numpy has no bfloat16
    return tensor.permute(1, 2, 0).numpy()


# --- saving ----------------------------------------------------------------------------------


def save_png(
    path: str | os.PathLike[str], image: Image.Image | np.ndarray | torch.Tensor, settings: dict | None = None
) -> Path:
    """Write ``image`` as a PNG carrying ``settings`` as JSON, atomically.

    ``image`` is a Pillow image of any mode, or anything :func:`array_to_pil` accepts.
    On failure the previous file at ``path`` is untouched and
    :class:`~studio.files.atomic.SaveError` says why ("disk full" included).
    """
    pil = image if isinstance(image, Image.Image) else array_to_pil(image)
    pil = _png_writable(pil)
    info = PngImagePlugin.PngInfo()
    if settings is not None:
        # Serialised before the temp file exists, so unserialisable settings leave no trace.
        # iTXt holds UTF-8, so names in any script stay readable in other tools.
        info.add_itxt(SETTINGS_KEY, json.dumps(settings, ensure_ascii=False), zip=True)
    return atomic_write(path, lambda handle: pil.save(handle, format="PNG", pnginfo=info))


def _png_writable(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "RGBA"):
        return img
    # Keep transparency as an alpha channel rather than flattening it onto white.
    if _has_alpha(img):
        return _to_rgba(img)
    return _to_rgb(img)
