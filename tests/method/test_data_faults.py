"""Nothing is lost and no partial file is read as complete: a full disk and kill -9 during writes."""

import errno
import io
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_script_here
from PIL import Image

from idd_tf.method import data
from idd_tf.utils import fileio


def test_full_disk_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "config.json"
    fileio.atomic_write_bytes(target, b'{"old": true}\n')

    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, _b):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(fileio.os, "fdopen", lambda fd, mode="r": FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as e:
        fileio.atomic_write_bytes(target, b'{"new": true}\n')
    assert e.value.errno == errno.ENOSPC
    assert target.read_bytes() == b'{"old": true}\n'                 # the previous file survives
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]   # no temp file left behind


def test_kill_9_during_dataset_generation_then_rerun(default_run, tmp_path):
    stylegan = default_run["run"] / "stylegan"
    args = ["--stylegan", stylegan, "--num_images", "48", "--shard_size", "4", "--batch_size", "1"]
    whole = tmp_path / "whole"
    proc = run_script_here("scripts/generate_dataset.py", *args, "--out", whole)
    assert proc.returncode == 0, proc.stderr[-2000:]

    killed = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    p = subprocess.Popen([sys.executable, "scripts/generate_dataset.py", *map(str, args), "--out", str(killed)],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and len(list(killed.glob("*.tfrecord"))) < 3 and p.poll() is None:
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait(60)
    finally:
        if p.poll() is None:
            p.kill()
    shards = sorted(killed.glob("*.tfrecord"))
    assert 3 <= len(shards) < 12, "kill the generation part-way"
    assert not (killed / data.MANIFEST).exists()                  # incomplete: never read as a dataset
    with pytest.raises(FileNotFoundError, match="not a finished generated dataset"):
        data.read_manifest(killed)
    for s in shards:                                              # every visible shard is complete
        _same_records(s, whole / s.name)

    proc = run_script_here("scripts/generate_dataset.py", *args, "--out", killed)   # the rerun
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = sorted(p.name for p in whole.iterdir())
    assert sorted(p.name for p in killed.iterdir() if not p.name.endswith(".tmp")) == names
    for name in names:
        if name.endswith(".tfrecord"):
            _same_records(killed / name, whole / name)
    a, b = data.read_manifest(whole), data.read_manifest(killed)
    assert a == b


def _same_records(a, b):
    """Same examples (indices, images) and w up to float noise (CPU float ops are not bit-exact
    across processes)."""
    import numpy as np
    import tensorflow as tf

    def examples(path):
        out = []
        for raw in tf.data.TFRecordDataset(str(path)):
            f = tf.train.Example.FromString(raw.numpy()).features.feature
            out.append((f["index"].int64_list.value[0], np.array(f["w"].float_list.value),
                        np.asarray(Image.open(io.BytesIO(f["image_png"].bytes_list.value[0])))))
        return out
    ea, eb = examples(a), examples(b)
    assert [e[0] for e in ea] == [e[0] for e in eb], a
    for (_, wa, ia), (_, wb, ib) in zip(ea, eb):
        np.testing.assert_allclose(wa, wb, atol=1e-4)
        assert np.abs(ia.astype(int) - ib.astype(int)).max() <= 1


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        path = fileio.atomic_write_bytes(tmp_path / "out.json", b"{}")
        assert path.stat().st_mode & 0o777 == 0o644     # not the temp file's private 0600
    finally:
        os.umask(old)


def test_truncated_or_corrupt_shard_is_named(tmp_path):
    """A shard cut short (or missing) is refused by read_manifest, naming it, before any
    training; a flipped byte inside a record fails its TFRecord checksum when read (train.py
    turns that DataLossError into a one-line error naming the dataset)."""
    import pytest
    import tensorflow as tf

    from idd_tf.method.presets import TRAIN_PRESETS
    from idd_tf.stylegan import networks as stylegan
    G = stylegan.random_stylegan(TRAIN_PRESETS["tiny"].stylegan, seed=0)
    ds = tmp_path / "ds"
    data.generate_dataset(G, ds, 4, shard_size=2, batch_size=2, progress=False)
    meta = data.read_manifest(ds)
    assert len(meta["shard_bytes"]) == 2
    shard = ds / meta["shards"][1]
    good = shard.read_bytes()
    shard.write_bytes(good[:-10])
    with pytest.raises(ValueError, match=f"{shard.name}.*truncated"):
        data.read_manifest(ds)
    shard.unlink()
    with pytest.raises(ValueError, match=f"{shard.name}: missing"):
        data.read_manifest(ds)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF          # same size, one flipped byte
    shard.write_bytes(bytes(bad))
    data.read_manifest(ds)              # sizes match: only reading can tell
    with pytest.raises(tf.errors.DataLossError):
        for _ in data.make_dataset(ds, 2, seed=0, shuffle_buffer=0).take(4):
            pass
