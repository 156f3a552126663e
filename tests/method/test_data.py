import json

import numpy as np
import pytest
import tensorflow as tf

from idd_tf.method import data
from idd_tf.stylegan import config as sg_config
from idd_tf.stylegan import networks as stylegan
from idd_tf.utils import fileio, image_files


@pytest.fixture(scope="module")
def tiny_g():
    return stylegan.random_stylegan(sg_config.STYLEGAN_PRESETS["tiny"], seed=0)


def read_all(ds_dir):
    out = {}
    for s in data.read_manifest(ds_dir)["shards"]:
        for rec in tf.data.TFRecordDataset(str(ds_dir / s)):
            ex = data.parse_example(rec, 32, 8, 64)
            out[int(ex["index"])] = (ex["image"].numpy(), ex["w"].numpy(), ex["ws"].numpy())
    return out


def test_generate_is_deterministic_complete_and_matches_the_generator(tmp_path, tiny_g):
    r = data.generate_dataset(tiny_g, tmp_path / "a", 20, shard_size=8, seed=3, progress=False)
    assert r["complete"] and r["num_shards"] == 3
    data.generate_dataset(tiny_g, tmp_path / "b", 20, shard_size=8, seed=3, progress=False)
    a, b = read_all(tmp_path / "a"), read_all(tmp_path / "b")
    assert sorted(a) == list(range(20))
    for i in range(20):
        for x, y in zip(a[i], b[i]):
            np.testing.assert_array_equal(x, y)
    # Example 5 is exactly what the generator makes from z(seed, 5), truncated psi 0.7 cutoff 8.
    z = data.example_latent(3, 5, tiny_g.latent_size)[None]
    ws = tiny_g.truncate(tiny_g.mapping(z), 0.7, 8)
    img = stylegan.from_uint8(stylegan.to_uint8(tiny_g.synthesis(ws))).numpy()[0]
    # (batched vs single synthesis differ by float rounding: allow one uint8 level)
    np.testing.assert_allclose(a[5][0], img, atol=1.01 / 127.5)
    np.testing.assert_allclose(a[5][1], ws.numpy()[0, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a[5][2], ws.numpy()[0], rtol=1e-5, atol=1e-5)
    assert not list((tmp_path / "a").glob(".*tmp"))
    meta = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert meta["num_images"] == 20 and meta["truncation_psi"] == 0.7


def test_generation_resumes_without_rewriting_finished_shards(tmp_path, tiny_g):
    d = tmp_path / "ds"
    data.generate_dataset(tiny_g, d, 24, shard_size=8, seed=1, progress=False)
    before = read_all(d)
    (d / "manifest.json").unlink()      # as if interrupted before the end ...
    (d / data.shard_name(1)).unlink()   # ... with shard 1 not yet written
    mtime0 = (d / data.shard_name(0)).stat().st_mtime_ns
    r = data.generate_dataset(tiny_g, d, 24, shard_size=8, seed=1, progress=False)
    assert r["written"] == [data.shard_name(1)] and r["complete"]
    assert (d / data.shard_name(0)).stat().st_mtime_ns == mtime0
    after = read_all(d)
    for i in range(24):
        np.testing.assert_array_equal(before[i][0], after[i][0])
    with pytest.raises(ValueError, match="other settings"):
        data.generate_dataset(tiny_g, d, 24, shard_size=8, seed=2, progress=False)


def test_sharded_workers_equal_the_unsharded_dataset(tmp_path, tiny_g):
    data.generate_dataset(tiny_g, tmp_path / "one", 20, shard_size=4, seed=0, progress=False)
    r0 = data.generate_dataset(tiny_g, tmp_path / "two", 20, shard_size=4, seed=0, num_shards=2,
                               shard_index=0, progress=False)
    assert not r0["complete"] and not (tmp_path / "two" / "manifest.json").exists()
    r1 = data.generate_dataset(tiny_g, tmp_path / "two", 20, shard_size=4, seed=0, num_shards=2,
                               shard_index=1, progress=False)
    assert r1["complete"]
    a, b = read_all(tmp_path / "one"), read_all(tmp_path / "two")
    for i in range(20):
        np.testing.assert_array_equal(a[i][0], b[i][0])
        np.testing.assert_array_equal(a[i][1], b[i][1])


def test_training_batches(tmp_path, tiny_g):
    data.generate_dataset(tiny_g, tmp_path / "d", 16, shard_size=8, seed=0, progress=False)
    it = iter(data.training_batches(tmp_path / "d", 4, seed=0))
    b = next(it)
    assert b["image"].shape == (4, 32, 32, 3) and b["w_real"].shape == (4, 64)
    assert -1.0 <= float(tf.reduce_min(b["image"])) and float(tf.reduce_max(b["image"])) <= 1.0
    again = next(iter(data.training_batches(tmp_path / "d", 4, seed=0)))
    np.testing.assert_array_equal(b["image"], again["image"])
    with pytest.raises(FileNotFoundError, match="manifest"):
        data.training_batches(tmp_path / "nothing", 4)
    # every epoch visits each example once, in an order that changes per epoch
    it = iter(data.make_dataset(tmp_path / "d", 16, seed=0, shuffle_buffer=8))
    e0, e1 = (next(it)["index"].numpy().tolist() for _ in range(2))
    assert sorted(e0) == sorted(e1) == list(range(16))
    assert e0 != list(range(16)) and e0 != e1
    plain = next(iter(data.make_dataset(tmp_path / "d", 16, shuffle_buffer=0)))["index"].numpy()
    assert plain.tolist() == list(range(16))


def test_image_io(tmp_path):
    img = (np.arange(8 * 8 * 3) % 256).astype(np.uint8).reshape(8, 8, 3)
    p = fileio.save_image(tmp_path / "x.png", img)
    np.testing.assert_array_equal(image_files.load_image(p), img)
    assert image_files.load_image(p, size=4).shape == (4, 4, 3)
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read image"):
        image_files.load_image(tmp_path / "bad.png")
    with pytest.raises(FileNotFoundError):
        image_files.load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("shard", [None, (2, 1)])
def test_start_batch_equals_iterating_from_the_start(tmp_path, tiny_g, shard):
    data.generate_dataset(tiny_g, tmp_path / "d", 20, shard_size=4, seed=0, progress=False)
    it = iter(data.training_batches(tmp_path / "d", 3, seed=5, shuffle_buffer=4, shard=shard))
    stream = [next(it) for _ in range(12)]  # several epochs of 20 (or 8) records
    for k in (1, 3, 7, 11):
        got = next(iter(data.training_batches(tmp_path / "d", 3, seed=5, shuffle_buffer=4,
                                              shard=shard, start_batch=k)))
        for key in ("image", "attr_image", "w_real"):
            np.testing.assert_array_equal(got[key], stream[k][key], err_msg=f"{key} @ {k}")
