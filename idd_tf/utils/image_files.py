"""Reading image files of any format Pillow reads, safely: EXIF orientation, any mode, huge or
tiny images refused or downscaled without a multi-GB allocation; naming the inputs of a flag (a
path, a comma-separated list or an @LIST file); scanning folders, where every entry that is not a
usable image is skipped and named (`Skipped`) and the batch goes on."""

from __future__ import annotations

import os
import re
import stat
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from idd_tf.utils.errors import UserError

# Image files in: smaller sides are refused (no face fits), larger ones are decoded at a reduced
# scale where the format allows it (JPEG) and downscaled to this side; more pixels than
# MAX_IMAGE_PIXELS (before decoding) are refused, so a huge file cannot exhaust memory.
MIN_IMAGE_SIDE = 32
MAX_IMAGE_SIDE = 4096
MAX_IMAGE_PIXELS = 100_000_000
# What Pillow's readers raise on a malformed file (besides their own UnidentifiedImageError and
# DecompressionBombError): caught around every open and decode, reported as ImageError.
PIL_READ_ERRORS = (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError,
                   EOFError, struct.error, IndexError, TypeError, KeyError, ZeroDivisionError)
SUMMARY_NAMES = 10   # a batch's summary line names at most this many skipped entries

INPUTS_HELP = ("a file or folder as given (commas and all), @LIST (a text file naming one path per "
               "line), or a comma-separated list of files and folders")


class ImageError(UserError, ValueError):
    """A file that cannot be used as an image. The message names the file; `reason` says why in
    a few words (e.g. "truncated", "not an image"), as a batch's summary line lists it."""

    def __init__(self, message: str, path, reason: str):
        super().__init__(message)
        self.path, self.reason = Path(path), reason


def short_reason(error) -> str:
    """A few words on why an input was not usable: an error's `reason` (ImageError, or the one
    data.prepare_face gives a missing face), else its message, cut short."""
    reason = getattr(error, "reason", None)
    if reason:
        return str(reason)
    if isinstance(error, FileNotFoundError):
        return "not found"
    if isinstance(error, PermissionError):
        return "permission denied"
    text = " ".join(str(error).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _pil_reason(error) -> str:
    """The short reason of an exception Pillow raised reading a file."""
    text = str(error)
    if isinstance(error, UnidentifiedImageError):
        return "not an image"
    if isinstance(error, Image.DecompressionBombError):
        return "too large (decompression bomb)"
    if isinstance(error, PermissionError):
        return "permission denied"
    if "Ghostscript" in text:
        return "EPS needs Ghostscript, which is not installed"
    if "truncated" in text.lower() or isinstance(error, EOFError):
        return "truncated"
    if "broken data stream" in text or "broken" in text.lower():
        return "corrupt data"
    text = " ".join(text.split())
    return f"unreadable ({text[:60]})" if text else f"unreadable ({type(error).__name__})"


def _entry_problem(path: Path) -> str | None:
    """Why `path` cannot be an image file whatever it holds (a folder, a dangling link, a device,
    missing), or None for a regular file."""
    try:
        st = path.stat()                      # follows links
    except FileNotFoundError:
        return "a dangling link" if path.is_symlink() else "not found"
    except OSError as e:                      # a link loop, permission denied on a parent, ...
        return f"cannot stat ({e.strerror or e})"
    if stat.S_ISDIR(st.st_mode):
        return "a folder"
    if not stat.S_ISREG(st.st_mode):          # opening a FIFO would block: never opened
        return "not a regular file"
    if st.st_size == 0:
        return "empty file"
    return None


def probe_image(path, verify: bool = True) -> tuple[str | None, str | None]:
    """(Pillow's format name, None) for a file Pillow reads, else (format or None, short reason).

    Cheap: the header and, with `verify`, Pillow's `verify()` (PNG: every chunk's checksum, which
    reads the file, so a truncated PNG is found here; JPEG and most others check their header only,
    so their truncation shows when the file is decoded, `load_image`); no pixels are decoded and
    nothing is allocated for them.
    """
    path = Path(path)
    problem = _entry_problem(path)
    if problem:
        return None, problem
    fmt = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                fmt, (w, h) = im.format, im.size
                if w * h > MAX_IMAGE_PIXELS:
                    return fmt, f"too large ({w}x{h} px)"
                if fmt == "EPS":
                    from PIL import EpsImagePlugin
                    if not EpsImagePlugin.has_ghostscript():
                        return fmt, "EPS needs Ghostscript, which is not installed"
                if verify:
                    im.verify()
    except PIL_READ_ERRORS as e:
        return fmt, _pil_reason(e)
    return fmt, None


def _not_a_file(path: Path, problem: str) -> ImageError:
    """The error for an input path that exists but is no file (a folder, a FIFO, ...)."""
    said = f"is {problem}" if problem.startswith(("a ", "not ")) else f"cannot be read: {problem}"
    return ImageError(f"{path} {said}, not an image file", path, problem)


def _not_found(path: Path, spec: str | None = None, split: bool = False) -> Exception:
    """The error for an input path that is not there, naming it (and why, if known)."""
    if path.is_symlink():
        return FileNotFoundError(f"image not found: {path} (a dangling link to {os.readlink(path)})")
    hint = (f" (from {spec!r}, split at its commas; a name with a comma: give it alone, or in an @LIST "
            "file, one path per line)") if split else ""
    return FileNotFoundError(f"image not found: {path}{hint}")


def input_paths(spec) -> list[Path]:
    """The paths an image flag's value names, in order. In turn: a value that exists as a path is
    that one path, commas and all; `@LIST` is the text file LIST, one path per line (taken as
    written: commas and spaces belong to the name; relative to the current folder; blank lines
    ignored); else the value is split at commas (spaces around each item ignored). Paths are not
    checked here (`image_inputs` does)."""
    text = str(spec)
    if not text.strip():
        raise ValueError("no image path given (an empty value)")
    if os.path.lexists(text):
        return [Path(text)]
    if text.startswith("@"):
        listing = Path(text[1:])
        if not listing.is_file():
            raise FileNotFoundError(f"list file not found: {listing} (from {text!r}: @LIST names a text "
                                    "file of paths, one per line)")
        raw = listing.read_bytes()
        if b"\0" in raw:
            raise ValueError(f"list file {listing} is not text (from {text!r}: @LIST names a text file of "
                             "paths, one per line)")
        lines = [os.fsdecode(line).rstrip("\r") for line in raw.split(b"\n")]
        paths = [Path(line) for line in lines if line.strip()]
        if not paths:
            raise ValueError(f"list file {listing} names no paths")
        return paths
    paths = [Path(part.strip()) for part in text.split(",") if part.strip()]
    if not paths:
        raise ValueError(f"no image path in {text!r}")
    return paths


class Skipped:
    """The entries of one batch that were not used, each named with a short reason; reported once
    per batch: a warning per entry (its full message) and one summary line (`summary`)."""

    def __init__(self):
        self.items: list[tuple[str, str, str]] = []   # (name, short reason, full message)

    def add(self, name, reason: str, detail: str | None = None) -> None:
        """`name` skipped for `reason` (a few words); `detail`: the whole message, if any."""
        self.items.append((str(name), reason, detail or reason))

    def add_error(self, name, error) -> None:
        """`name` skipped because of `error` (image_files.short_reason(error), its message)."""
        self.add(name, short_reason(error), str(error))

    def extend(self, other: "Skipped") -> None:
        self.items.extend(other.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def summary(self, total: int, noun: str = "entries") -> str:
        """'skipped 3 of 20 entries of photos: a.txt (not an image), cut.jpg (truncated), sub (a
        folder)': sorted by name (numbers by value), relative to their common folder, at most
        SUMMARY_NAMES of them."""
        items = sorted(((name, reason) for name, reason, _ in self.items),
                       key=lambda item: [(0, int(t), "") if t.isdigit() else (1, 0, t)
                                         for t in re.split(r"(\d+)", item[0])])
        parents = {os.path.dirname(n) for n, _ in items}
        where = ""
        if len(parents) == 1 and next(iter(parents)):
            where = f" of {next(iter(parents))}"
            items = [(os.path.basename(n), reason) for n, reason in items]
        listed = [f"{n} ({reason})" for n, reason in items]
        more = len(listed) - SUMMARY_NAMES
        text = ", ".join(listed[:SUMMARY_NAMES]) + (f" and {more} more (each in a warning above)" if more > 0 else "")
        return f"skipped {len(self.items)} of {total} {noun}{where}: {text}"

    def report(self, warn, say, total: int, noun: str = "entries", then: str = "") -> None:
        """warn(full message) per skipped entry, then say(summary line + `then`); nothing if none."""
        for name, _, detail in self.items:
            warn(f"skipped {detail}" if detail.startswith(name) else f"skipped {name}: {detail}")
        if self.items:
            say(self.summary(total, noun) + then)


def scan_folder(folder, recursive: bool = False, verify: bool = True) -> tuple[list[Path], Skipped]:
    """The image files of `folder` (sorted by name) and its other entries, skipped with a reason.

    Every regular file is probed with Pillow (`probe_image`, `verify`), whatever its name, so
    every format Pillow reads is used, and a file that is not an image (a README.txt), empty,
    truncated (where the header check shows it), too large, a sub-folder (unless `recursive`:
    then its images are taken, depth first), a dangling link or a device is skipped and named.
    Hidden entries (names starting with '.', e.g. .DS_Store, .ipynb_checkpoints) are ignored
    silently; links to folders are not followed in `recursive` mode.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {folder}")
    paths, skipped = [], Skipped()

    def visit(d: Path):
        with os.scandir(d) as it:
            names = sorted(e.name for e in it)
        for name in names:
            if name.startswith("."):
                continue
            p = d / name
            if recursive and p.is_dir() and not p.is_symlink():
                visit(p)
                continue
            if recursive and p.is_dir():
                skipped.add(p, "a link to a folder (not followed)")
                continue
            _, reason = probe_image(p, verify)
            if reason:
                skipped.add(p, reason)
            else:
                paths.append(p)

    visit(folder)
    return paths, skipped


def image_inputs(spec) -> tuple[list[Path], Skipped]:
    """The image files an image flag's value names (`input_paths`), folders scanned
    (`scan_folder`: their unusable entries skipped and named). A given file is kept as given (its
    errors come when it is read, naming it); a given path that is missing, a dangling link or not
    a file or folder, and a folder without any image, are errors naming it."""
    text = str(spec)
    given = input_paths(text)
    split = len(given) > 1 and not text.startswith("@")
    paths, skipped = [], Skipped()
    for p in given:
        problem = _entry_problem(p)
        if problem in ("not found", "a dangling link"):
            raise _not_found(p, text, split)
        if problem == "a folder":
            found, lost = scan_folder(p)
            if not found:
                raise FileNotFoundError(f"no images in {p}" + (f" ({lost.summary(len(lost))})" if lost else ""))
            paths.extend(found)
            skipped.extend(lost)
        elif problem in (None, "empty file"):
            paths.append(p)
        else:
            raise _not_a_file(p, problem)
    return paths, skipped


def list_images(spec) -> list[Path]:
    """The usable image files of `image_inputs(spec)`; the skipped entries are named in one logged
    warning (callers that report them themselves use `image_inputs`)."""
    import logging
    paths, skipped = image_inputs(spec)
    if skipped:
        logging.warning("%s", skipped.summary(len(paths) + len(skipped)))
    return paths


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
    Every failure is an ImageError (a ValueError; FileNotFoundError when missing) naming the file.
    """
    path = Path(path)
    problem = _entry_problem(path)
    if problem in ("not found", "a dangling link"):
        raise _not_found(path)
    if problem == "empty file":
        raise ImageError(f"cannot read image {path}: an empty file", path, problem)
    if problem:
        raise _not_a_file(path, problem)
    min_side = 1 if min_side is None else min_side
    try:
        with warnings.catch_warnings():   # the size is checked here, against MAX_IMAGE_PIXELS
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise ImageError(f"image {path} is too large ({w}x{h} px; at most {MAX_IMAGE_PIXELS:,} pixels)",
                                 path, f"too large: {w}x{h} px")
            if min(w, h) < min_side:
                raise ImageError(f"image {path} is too small ({w}x{h} px; at least {min_side} px a side)",
                                 path, f"too small: {w}x{h} px")
            if max(w, h) > MAX_IMAGE_SIDE:
                im.draft("RGB", (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))   # JPEG: decode smaller
            im = ImageOps.exif_transpose(im)
            if max(im.size) > MAX_IMAGE_SIDE:
                im.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.LANCZOS)
            img = _to_rgb(im)
    except ImageError:
        raise
    except PIL_READ_ERRORS as e:
        raise ImageError(f"cannot read image {path}: {e}", path, _pil_reason(e)) from e
    return img if size is None else resize_square(img, size)
