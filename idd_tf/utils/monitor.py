"""The only writer of summaries and progress: TensorBoard scalars/images, preview PNGs, console lines."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from idd_tf.utils.fileio import save_image

SCALARS_FILE = "scalars.jsonl"


class Monitor:
    """Writes to `<run_dir>/logs` (TensorBoard, scalars.jsonl), `<run_dir>/images` and
    `<run_dir>/plots/curves.png`; prints one line per log.

    With `enabled=False` (non-chief workers) every method is a no-op.
    """

    def __init__(self, run_dir, enabled: bool = True, printer=print):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.printer = printer
        self._writer = tf.summary.create_file_writer(str(self.run_dir / "logs")) if enabled else None
        self._last = None
        self._plotted = None   # (size, mtime) of the scalars file when curves.png was last drawn

    def scalars(self, step: int, metrics: dict) -> None:
        """TensorBoard scalars, also appended to `logs/scalars.jsonl` (for `plot_curves`)."""
        if not self.enabled:
            return
        with self._writer.as_default():
            for name, value in metrics.items():
                tf.summary.scalar(name, float(value), step=step)
        self._writer.flush()
        line = json.dumps({"step": int(step), **{k: float(v) for k, v in metrics.items()}})
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "logs" / SCALARS_FILE, "a") as f:
            f.write(line + "\n")

    def progress(self, step: int, total: int, metrics: dict, work_left: float | None = None) -> None:
        """One console line: step, steps/s since the last line, ETA and the main losses.

        `work_left`: the remaining work in units of the current step's cost, where steps differ
        in cost (progressive growing); default total - step."""
        if not self.enabled:
            return
        now = time.perf_counter()
        rate = ""
        if self._last is not None and step > self._last[0]:
            per_s = (step - self._last[0]) / (now - self._last[1])
            left = total - step if work_left is None else work_left
            rate = f"{per_s:6.2f} steps/s  ETA {format_duration(left / per_s)}  "
        self._last = (step, now)
        shown = " ".join(f"{k}={float(v):.4g}" for k, v in metrics.items()
                         if k.startswith("loss") or k == "r1" or k == "lod")
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
        self.plot_curves()
        return save_image(self.run_dir / "images" / f"{name}_{step:07d}.png", grid)

    def image(self, step: int, name: str, image: np.ndarray) -> Path | None:
        """One uint8 HWC image: `images/<name>_<step>.png` and a TensorBoard image."""
        if not self.enabled:
            return None
        with self._writer.as_default():
            tf.summary.image(name, np.asarray(image)[None], step=step)
        self._writer.flush()
        self.plot_curves()
        return save_image(self.run_dir / "images" / f"{name}_{step:07d}.png", image)

    def plot_curves(self) -> Path | None:
        """`plots/curves.png`: every logged scalar against the step (for people who do not run
        TensorBoard); refreshed with every preview image and at close()."""
        if not self.enabled:
            return None
        src, out = self.run_dir / "logs" / SCALARS_FILE, self.run_dir / "plots" / "curves.png"
        # drawn only when scalars were logged since the last drawing (a few seconds each on a CPU)
        stat = src.stat() if src.is_file() else None
        stamp = (stat.st_size, stat.st_mtime_ns) if stat else None
        if stamp is not None and stamp == self._plotted and out.is_file():
            return out
        self._plotted = stamp
        return plot_curves(src, out)

    def close(self) -> None:
        if self._writer is not None:
            self.plot_curves()
            self._writer.flush()
            self._writer.close()


def read_scalars(path) -> dict:
    """logs/scalars.jsonl -> {name: (steps, values)}; of repeated steps (a resumed run redoes the
    steps after its checkpoint) the last value wins."""
    by_name: dict = {}
    path = Path(path)
    if not path.is_file():
        return {}
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:   # a line cut by a kill
            continue
        step = rec.pop("step", None)
        for name, value in rec.items():
            by_name.setdefault(name, {})[step] = value
    return {name: (np.array(sorted(d)), np.array([d[k] for k in sorted(d)])) for name, d in by_name.items()}


def plot_curves(scalars_path, out_path, cols: int = 4) -> Path | None:
    """One PNG, a panel per scalar (log scale where positive over > 2 decades); None without data."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curves = read_scalars(scalars_path)
    if not curves:
        return None
    names = sorted(curves, key=lambda n: (not n.startswith("loss"), n.startswith("val/"), n))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * 2.3), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        steps, values = curves[name]
        ax.plot(steps, values, lw=1)
        finite = values[np.isfinite(values)]
        if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 100:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.supxlabel("step", fontsize=9)
    # fixed margins: tight_layout measured every tick label and took a third of the drawing time
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.35 / rows + 0.02, top=1 - 0.25 / rows,
                        wspace=0.35, hspace=0.55)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    from idd_tf.utils.fileio import atomic_write_bytes
    return atomic_write_bytes(Path(out_path), buf.getvalue())


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


@contextlib.contextmanager
def stage_progress(desc: str):
    """A console bar over the stages of a long job. Yields `progress(message, stage, stages)`,
    the callback `toy_protocol.evaluate` takes; the bar is filled when the block ends normally
    and closed either way."""
    from tqdm import tqdm
    bar = tqdm(total=None, unit="stage", desc=desc)

    def progress(message, stage, stages):
        bar.total = stages
        bar.set_postfix_str(message)
        bar.update(stage - bar.n)

    try:
        yield progress
        if bar.total:
            bar.update(bar.total - bar.n)
    finally:
        bar.close()
