"""The only writer of summaries and progress: TensorBoard scalars/images, preview PNGs, console lines."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from idd_tf.data import save_image


class Monitor:
    """Writes to `<run_dir>/logs` (TensorBoard) and `<run_dir>/images`; prints one line per log.

    With `enabled=False` (non-chief workers) every method is a no-op.
    """

    def __init__(self, run_dir, enabled: bool = True, printer=print):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.printer = printer
        self._writer = tf.summary.create_file_writer(str(self.run_dir / "logs")) if enabled else None
        self._last = None

    def scalars(self, step: int, metrics: dict) -> None:
        if not self.enabled:
            return
        with self._writer.as_default():
            for name, value in metrics.items():
                tf.summary.scalar(name, float(value), step=step)
        self._writer.flush()

    def progress(self, step: int, total: int, metrics: dict) -> None:
        """One console line: step, steps/s since the last line, and the main losses."""
        if not self.enabled:
            return
        now = time.perf_counter()
        rate = ""
        if self._last is not None and step > self._last[0]:
            per_s = (step - self._last[0]) / (now - self._last[1])
            rate = f"{per_s:6.2f} steps/s  ETA {format_duration((total - step) / per_s)}  "
        self._last = (step, now)
        shown = " ".join(f"{k}={float(v):.4g}" for k, v in metrics.items()
                         if k.startswith("loss") or k == "r1")
        self.printer(f"step {step:>7d}/{total}  {rate}{shown}")

    def validation(self, step: int, metrics: dict, improved: list[str] = ()) -> None:
        """Held-out metrics as TensorBoard scalars `val/<name>` and one console line (naming the
        metrics that reached a new best, whose checkpoints were kept)."""
        if not self.enabled:
            return
        self.scalars(step, {f"val/{k}": v for k, v in metrics.items()})
        shown = " ".join(f"{k}={float(v):.4g}" for k, v in metrics.items())
        best = f"  new best: {', '.join(improved)}" if improved else ""
        self.printer(f"validation at step {step}: {shown}{best}")

    def message(self, text: str) -> None:
        """One console line (chief only)."""
        if self.enabled:
            self.printer(text)

    def start_timer(self, step: int) -> None:
        self._last = (step, time.perf_counter())

    def image_grid(self, step: int, name: str, rows: list[np.ndarray]) -> Path | None:
        """rows: list of [N, H, W, 3] uint8 arrays (e.g. id | attr | out); saved as one grid PNG
        (columns = rows given) and as a TensorBoard image."""
        if not self.enabled:
            return None
        grid = make_grid(rows)
        with self._writer.as_default():
            tf.summary.image(name, grid[None], step=step)
        self._writer.flush()
        return save_image(self.run_dir / "images" / f"{name}_{step:07d}.png", grid)

    def image(self, step: int, name: str, image: np.ndarray) -> Path | None:
        """One uint8 HWC image: `images/<name>_<step>.png` and a TensorBoard image."""
        if not self.enabled:
            return None
        with self._writer.as_default():
            tf.summary.image(name, np.asarray(image)[None], step=step)
        self._writer.flush()
        return save_image(self.run_dir / "images" / f"{name}_{step:07d}.png", image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()


def make_grid(columns: list[np.ndarray]) -> np.ndarray:
    """[N, H, W, C] uint8 arrays -> one image, each array a column, sample i in row i."""
    cols = [np.concatenate(list(np.asarray(c)), axis=0) for c in columns]
    return np.concatenate(cols, axis=1)


def format_duration(seconds: float) -> str:
    """12.3 -> '12s', 754 -> '12m34s', 7384 -> '2h03m'."""
    seconds = max(float(seconds), 0.0)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
