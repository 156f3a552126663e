"""TF checkpoints of Keras 3 models that reach every variable, and restoring the newest readable one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import tensorflow as tf

from idd_tf.utils import fileio


def named_weights(model) -> dict:
    """{checkpoint key: variable} for every weight of `model` (its Keras path without the model's
    own name, "/" -> ".")."""
    prefix = model.name + "/"
    named = {}
    for v in model.weights:
        key = (v.path[len(prefix):] if v.path.startswith(prefix) else v.path).replace("/", ".")
        if key in named:
            raise ValueError(f"{model.name}: two weights share the path {v.path!r}")
        named[key] = v
    return named


def weights_checkpoint(model) -> tf.train.Checkpoint:
    """A checkpoint node holding every variable of `model` (trainable or not) under its Keras path.

    Passing a Keras 3 model to tf.train.Checkpoint directly is not enough: layers it keeps in
    Python lists or dicts (M's and D_W's dense layers, the StyleGAN blocks) are not reached by
    the object graph, so their weights were saved only through the optimizers that update them
    and restored by nothing else (and non-trainable ones not at all).
    """
    return tf.train.Checkpoint(**named_weights(model))


def restore_latest(checkpoint: tf.train.Checkpoint, directory, strict: bool = False) -> dict:
    """Restore the newest readable checkpoint of a CheckpointManager `directory`.

    A corrupt or truncated checkpoint (a kill or a full disk during its write, a damaged file) is
    skipped for the one before it. `strict`: every saved value must be used (assert_consumed),
    otherwise every existing object must be matched. Returns {"path": the restored checkpoint or
    None (nothing saved yet), "skipped": [(path, reason)] newest first} for the caller to report;
    raises RuntimeError naming each checkpoint when none is readable.
    """
    directory = Path(directory)
    try:
        state = tf.train.get_checkpoint_state(str(directory))
        paths = list(state.all_model_checkpoint_paths) if state else []
    except (tf.errors.OpError, ValueError) as e:   # the `checkpoint` index file itself is damaged
        paths = []
        reason = f"unreadable checkpoint index ({type(e).__name__})"
    else:   # TF logs a parse error and returns None for a damaged index
        reason = "unreadable checkpoint index" if state is None and (directory / "checkpoint").exists() else None
    if not paths:   # no (usable) index: whatever ckpt-N.index files are there, by step
        found = sorted(directory.glob("ckpt-*.index"), key=lambda p: int(p.stem.split("-")[-1])
                       if p.stem.split("-")[-1].isdigit() else -1)
        paths = [str(p.with_suffix("")) for p in found]
    skipped = [(str(directory / "checkpoint"), reason)] if reason else []
    for path in reversed(paths):
        try:
            status = checkpoint.restore(path)
            status.assert_consumed() if strict else status.assert_existing_objects_matched()
            return {"path": path, "skipped": skipped}
        except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError) as e:
            first = (str(e).strip().splitlines() or [""])[0][:200]
            skipped.append((path, f"{type(e).__name__}: {first}"))
    if paths:
        raise RuntimeError(f"no readable checkpoint in {directory}: "
                           + "; ".join(f"{p} ({r})" for p, r in skipped))
    return {"path": None, "skipped": skipped}


class WallClock:
    """A run's training wall time over all its sessions, kept in `run_dir/timing.json` and written
    with each checkpoint: a resumed run adds to the seconds saved at the step it resumed from
    (0 when the file is from another step, e.g. a checkpoint written before a crash, not the time)."""

    def __init__(self, run_dir, step: int):
        self.path = Path(run_dir) / "timing.json"
        saved = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.before = saved.get("seconds", 0.0) if saved.get("step") == step else 0.0
        self.t0 = time.perf_counter()

    def session_seconds(self) -> float:
        return time.perf_counter() - self.t0

    def seconds(self) -> float:
        return self.before + self.session_seconds()

    def save(self, step: int, **extra) -> dict:
        timing = {"seconds": self.seconds(), "step": step, **extra}
        fileio.atomic_write_bytes(self.path, json.dumps(timing).encode())
        return timing
