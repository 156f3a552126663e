"""E_lnd accuracy: the NME metric, and scripts/train_landmarks.py reporting it on held-out faces."""

import json

import numpy as np
import pytest

from idd_tf.method import metrics


def _face(scale=1.0, shift=(0.0, 0.0)):
    """68 hand-made points: outer eye corners 36 and 45 are 50 units apart (times `scale`)."""
    pts = np.zeros((68, 2))
    pts[:, 0] = np.linspace(-30, 30, 68)
    pts[:, 1] = 10.0
    pts[36], pts[45] = (-25.0, 0.0), (25.0, 0.0)
    return pts * scale + np.asarray(shift)


def test_nme_on_hand_made_points():
    ref = _face()
    assert metrics.nme(ref, ref) == 0.0
    # every point 5 units off (3-4-5 triangle), inter-ocular 50: NME 0.1
    assert metrics.nme(ref + [3.0, 4.0], ref) == pytest.approx(0.1)
    # one point 68 units off: mean error 1 unit, NME 1/50
    one = ref.copy()
    one[10, 1] += 68.0
    assert metrics.nme(one, ref) == pytest.approx(1 / 50)
    # normalised by the REFERENCE's outer eye corners, so invariant to scale and translation
    big = _face(scale=5.0, shift=(100.0, -7.0))
    assert metrics.nme(big + [15.0, 20.0], big) == pytest.approx(0.1)
    # batches: the mean over images, or per image
    batch_pred = np.stack([ref + [3.0, 4.0], ref, one])
    batch_ref = np.stack([ref, ref, ref])
    np.testing.assert_allclose(metrics.nme(batch_pred, batch_ref, per_image=True), [0.1, 0.0, 1 / 50])
    assert metrics.nme(batch_pred, batch_ref) == pytest.approx((0.1 + 1 / 50) / 3)
    with pytest.raises(ValueError):
        metrics.nme(ref[:51], ref[:51])
    with pytest.raises(ValueError, match="eye corners"):
        metrics.nme(ref, np.zeros((68, 2)))


def test_train_landmarks_reports_held_out_nme(distilled_landmarks):
    from idd_tf.method import data, encoders, faces
    from idd_tf.method.config import LandmarkConfig
    out, proc = distilled_landmarks["out"], distilled_landmarks["proc"]  # 96 images, --val_fraction 0.25
    assert "NME" in proc.stdout + proc.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["train_images"] == 72 and m["val_images"] == 24
    assert m["nme_val"] > 0 and np.isfinite(m["nme_val"]) and np.isfinite(m["nme_train"])
    assert m["nme_val"] == json.loads(proc.stdout.strip().splitlines()[-1])["nme_val"]
    # the reported number is the NME of the saved network against dlib on the held-out images
    # (24 of the 96 labelled, named by their dataset index, never trained on)
    assert len(set(m["val_items"])) == 24 and set(m["val_items"]) <= set(range(96))
    enc = encoders.LandmarkEncoder(LandmarkConfig(input_size=32, base_filters=8,
                                                  weights=str(out / "landmarks.weights.h5")))
    batch = next(iter(data.make_dataset(distilled_landmarks["dataset"], 96, shuffle_buffer=0)))
    imgs = batch["image"].numpy()[np.isin(batch["index"].numpy(), m["val_items"])]
    assert len(imgs) == 24
    u8 = ((imgs + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    ref = np.stack([faces.dlib_landmarks(x, aligned=True) for x in u8]) / 32
    assert metrics.nme(enc(imgs).numpy(), ref) == pytest.approx(m["nme_val"], rel=1e-4)
