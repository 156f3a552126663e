"""Reading image files of any format Pillow reads, safely: EXIF orientation, any mode, huge or
tiny images refused or downscaled without a multi-GB allocation."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Image files in: smaller sides are refused (no face fits), larger ones are decoded at a reduced
# scale where the format allows it (JPEG) and downscaled to this side; more pixels than
# MAX_IMAGE_PIXELS (before decoding) are refused, so a huge file cannot exhaust memory.
MIN_IMAGE_SIDE = 32
MAX_IMAGE_SIDE = 4096
MAX_IMAGE_PIXELS = 100_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def list_images(spec) -> list[Path]:
    """Image files from a directory (sorted), a file, or a comma-separated list of either."""
    out = []
    for part in str(spec).split(","):
        p = Path(part.strip())
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"no images in {p}")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"image not found: {p}")
    return out


def resize_square(image_u8, size: int) -> np.ndarray:
    """HWC uint8 image resized (Lanczos) to size x size; unchanged if already that size."""
    image_u8 = np.asarray(image_u8)
    if image_u8.shape[:2] == (size, size):
        return image_u8
    return np.asarray(Image.fromarray(image_u8).resize((size, size), Image.LANCZOS), dtype=np.uint8)


def _to_rgb(im) -> np.ndarray:
    """A PIL image of any mode as HWC uint8 RGB: 16/32-bit integer images scaled (not clipped),
    transparency composited onto white, CMYK/palette/grayscale converted."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        gray = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        return np.round(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def load_image(path, size: int | None = None, min_side: int | None = None) -> np.ndarray:
    """Read an image file as HWC uint8 RGB, optionally resized (Lanczos) to size x size.

    EXIF orientation is applied; any PIL mode is converted (`_to_rgb`); sides above
    MAX_IMAGE_SIDE are downscaled while decoding where possible; a side below `min_side`
    (default 1) or more than MAX_IMAGE_PIXELS pixels is refused.
    Every failure is a ValueError (FileNotFoundError when missing) naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    min_side = 1 if min_side is None else min_side
    try:
        with warnings.catch_warnings():   # the size is checked here, against MAX_IMAGE_PIXELS
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise ValueError(f"image {path} is too large ({w}x{h} px; at most "
                                 f"{MAX_IMAGE_PIXELS:,} pixels)")
            if min(w, h) < min_side:
                raise ValueError(f"image {path} is too small ({w}x{h} px; at least {min_side} px a side)")
            if max(w, h) > MAX_IMAGE_SIDE:
                im.draft("RGB", (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))   # JPEG: decode smaller
            im = ImageOps.exif_transpose(im)
            if max(im.size) > MAX_IMAGE_SIDE:
                im.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.LANCZOS)
            img = _to_rgb(im)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"cannot read image {path}: {e}") from e
    return img if size is None else resize_square(img, size)
