"""Files written so that nothing is lost: atomic writes, outputs never replaced without
--overwrite, numbered run folders."""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def _umask() -> int:
    """The process umask (from /proc on Linux, so it is never changed even for a moment)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` via a temp file + rename: readers never see a partial file. The file
    gets the usual permissions (0666 less the umask), not the temp file's private 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_image(path, image) -> Path:
    """Save an HWC uint8 array (RGB or grayscale) as PNG/JPEG by extension, atomically."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"save_image expects uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    buf = io.BytesIO()
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported image extension: {path}")
    Image.fromarray(image).save(buf, format=fmt)
    return atomic_write_bytes(path, buf.getvalue())


def check_output(path, overwrite: bool = False, is_dir: bool = False) -> Path:
    """Refuse to replace earlier results: an existing file, or a non-empty directory, is an error
    unless `overwrite`. Returns the path."""
    path = Path(path)
    taken = path.exists() and (not is_dir or not path.is_dir() or any(path.iterdir()))
    if taken and not overwrite:
        what = "directory is not empty" if is_dir else "file exists"
        raise FileExistsError(f"{path}: {what}; choose another output or pass --overwrite")
    return path


def new_run_dir(root, name: str) -> Path:
    """A new numbered directory `root/<NNNNN>-<name>` (created; never an existing one)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    nums = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"(\d{5})-", p.name))]
    for n in range(max(nums, default=-1) + 1, 100_000):
        run = root / f"{n:05d}-{name}"
        try:
            run.mkdir()
            return run
        except FileExistsError:
            continue
    raise RuntimeError(f"no free run number under {root}")
