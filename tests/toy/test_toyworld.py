"""The procedural toy face world: determinism, shapes, landmark geometry and image/landmark agreement."""

import colorsys
import dataclasses

import numpy as np
import pytest

from idd_tf.toy import world as tw


def _ident(**kw):
    ident = tw.identity_from_seed(11)
    ident.update(hair_style=0, skin_tone=0.15, hair_color=0.05, glasses=0, beard=0)
    ident.update(kw)
    return ident


def _att(**kw):
    att = dict(tw.NEUTRAL_ATTRIBUTES)
    att.update(kw)
    return att


def _lum(img, xy):
    x, y = (int(round(v)) for v in xy)
    return float(img[y, x].astype(np.float64) @ (0.299, 0.587, 0.114))


def test_factor_tables_and_sampling():
    names = [f.name for f in tw.IDENTITY_FACTORS + tw.ATTRIBUTE_FACTORS]
    assert tuple(names) == tw.FACTOR_NAMES and len(set(names)) == len(names)
    assert len(tw.IDENTITY_FACTORS) >= 8 and len(tw.ATTRIBUTE_FACTORS) >= 6
    with pytest.raises(dataclasses.FrozenInstanceError):
        tw.IDENTITY_FACTORS[0].low = 0.0
    rng = np.random.default_rng(0)
    for _ in range(200):
        both = {**tw.sample_identity(rng), **tw.sample_attributes(rng)}
        for f in tw.IDENTITY_FACTORS + tw.ATTRIBUTE_FACTORS:
            v = both[f.name]
            if f.kind == "discrete":
                assert isinstance(v, int) and 0 <= v < f.high
            else:
                assert f.kind == "continuous" and f.low <= v <= f.high
    seen = {tw.identity_from_seed(s)["hair_style"] for s in range(60)}
    assert seen == set(range(len(tw.HAIR_STYLES)))
    vec = tw.factor_vector(tw.identity_from_seed(1), tw.attributes_from_seed(2))
    assert vec.dtype == np.float32 and vec.shape == (len(tw.FACTOR_NAMES),)
    i = tw.FACTOR_NAMES.index("hair_style")
    assert vec[i] == tw.identity_from_seed(1)["hair_style"]
    assert vec[tw.FACTOR_NAMES.index("yaw")] == np.float32(tw.attributes_from_seed(2)["yaw"])
    ident, att = tw.factors_from_vector(vec)   # the inverse: the same dicts, discrete factors as int
    assert ident.keys() == tw.identity_from_seed(1).keys() and att.keys() == tw.attributes_from_seed(2).keys()
    assert isinstance(ident["hair_style"], int) and ident["hair_style"] == tw.identity_from_seed(1)["hair_style"]
    np.testing.assert_array_equal(tw.factor_vector(ident, att), vec)


def test_determinism():
    a, b = tw.example(5, seed=3), tw.example(5, seed=3)
    assert a["image"].tobytes() == b["image"].tobytes()
    np.testing.assert_array_equal(a["landmarks"], b["landmarks"])
    assert a["identity"] == b["identity"] and a["attributes"] == b["attributes"]
    assert tw.identity_from_seed(7) == tw.identity_from_seed(7) != tw.identity_from_seed(8)
    assert tw.attributes_from_seed(7) == tw.attributes_from_seed(7) != tw.attributes_from_seed(8)
    c, d = tw.example(6, seed=3), tw.example(5, seed=4)
    assert c["image"].tobytes() != a["image"].tobytes() and d["image"].tobytes() != a["image"].tobytes()


@pytest.mark.parametrize("res", [32, 64, 128, 256])
def test_resolutions(res):
    e = tw.example(2, resolution=res)
    assert e["image"].shape == (res, res, 3) and e["image"].dtype == np.uint8
    assert e["landmarks"].shape == (68, 2) and e["landmarks"].dtype == np.float32
    assert e["image"].std() > 10                      # not blank


def test_bad_resolution():
    with pytest.raises(ValueError):
        tw.render(_ident(), _att(), 48)


def test_batch_person_and_sheet():
    ids = [tw.identity_from_seed(i) for i in range(3)]
    atts = [tw.attributes_from_seed(i) for i in range(3)]
    batch = tw.render_batch(ids, atts, 32)
    assert batch.shape == (3, 32, 32, 3) and batch.dtype == np.uint8
    np.testing.assert_array_equal(batch[1], tw.render(ids[1], atts[1], 32))
    v0, v1 = tw.person_example(4, 0), tw.person_example(4, 1)
    assert v0["identity"] == v1["identity"] and v0["person"] == v1["person"] == 4
    assert v0["attributes"] != v1["attributes"]
    assert tw.person_example(5, 0)["identity"] != v0["identity"]
    assert tw.example(4)["image"].tobytes() == v0["image"].tobytes()
    sheet = tw.contact_sheet(ids, atts[:2], resolution=32, gap=2)
    assert sheet.shape == (3 * 34 + 2, 2 * 34 + 2, 3)
    np.testing.assert_array_equal(sheet[36:68, 2:34], tw.render(ids[1], atts[0], 32))
    assert (sheet[0] == 255).all()


def test_landmarks_inside_image_and_scale():
    for i in range(40):
        e = tw.example(i, seed=9)
        ident, att = e["identity"], e["attributes"]
        lm64 = tw.landmarks(ident, att, 64)
        np.testing.assert_array_equal(lm64, e["landmarks"])
        assert (lm64 > 0).all() and (lm64 < 63).all()
        lm128 = tw.landmarks(ident, att, 128)
        np.testing.assert_allclose(lm128, 2 * lm64 + 0.5, atol=1e-3)
    # FFHQ framing at neutral pose: eyes at y ~ 0.45 R, ~0.25 R apart, chin inside the face box.
    lm = tw.landmarks(_ident(), _att(), 256) / 256
    eyes = np.stack([lm[36:42].mean(0), lm[42:48].mean(0)])
    assert abs(eyes[:, 1].mean() - 0.45) < 0.02 and abs(eyes[1, 0] - eyes[0, 0] - 0.25) < 0.03
    assert 0.78 < lm[8, 1] < 0.9 and lm[0, 0] > 0.18 and lm[16, 0] < 0.82


def test_dlib_layout_order():
    lm = tw.landmarks(_ident(), _att(), 256)
    assert (np.diff(lm[0:9, 1]) > 0).all() and (np.diff(lm[8:17, 1]) < 0).all()      # jaw down, then up
    assert (np.diff(lm[17:22, 0]) > 0).all() and (np.diff(lm[22:27, 0]) > 0).all()    # brows left->right
    assert lm[21, 0] < 128 < lm[22, 0]                                                  # right brow on image left
    assert (np.diff(lm[27:31, 1]) > 0).all() and (np.diff(lm[31:36, 0]) > 0).all()
    for e in (lm[36:42], lm[42:48]):                                                    # corners, upper, lower lids
        assert e[0, 0] < e[1, 0] < e[2, 0] < e[3, 0] and e[3, 0] > e[4, 0] > e[5, 0] > e[0, 0]
        assert e[1, 1] < e[5, 1] and e[2, 1] < e[4, 1]
    assert lm[39, 0] < lm[42, 0] and lm[36, 0] < 128 < lm[45, 0]
    assert lm[48, 0] < lm[51, 0] < lm[54, 0] and lm[51, 1] < lm[57, 1] and lm[62, 1] <= lm[66, 1]
    assert lm[48, 0] < lm[60, 0] < lm[64, 0] < lm[54, 0]


@pytest.mark.parametrize("yaw", [-25.0, -10.0, 10.0, 25.0])
def test_nose_tip_follows_yaw(yaw):
    ident = _ident()
    z_tip = tw.landmarks3d(ident, _att())[30, 2]
    assert z_tip > 0.03                                   # the nose tip is in front of the pivot
    x0 = tw.landmarks(ident, _att(), 128)[30, 0]
    x1 = tw.landmarks(ident, _att(yaw=yaw), 128)[30, 0]
    expected = 128 * z_tip * np.sin(np.radians(yaw))      # documented: +yaw moves it to image right
    assert np.sign(x1 - x0) == np.sign(yaw)
    assert abs((x1 - x0) - expected) < 0.1 * abs(expected) + 0.05
    # Pitch up moves the nose tip up; roll rotates the eye line clockwise.
    assert tw.landmarks(ident, _att(pitch=10), 128)[30, 1] < tw.landmarks(ident, _att(), 128)[30, 1] - 0.5
    lm = tw.landmarks(ident, _att(roll=4), 128)
    assert lm[45, 1] > lm[36, 1] + 0.5


def test_expression_moves_landmarks():
    ident = _ident()
    lm = lambda **kw: tw.landmarks(ident, _att(**kw), 128)  # noqa: E731
    gap = lambda p: p[65:68, 1].mean() - p[61:64, 1].mean()  # noqa: E731
    assert abs(gap(lm(mouth_open=0.0))) < 0.3
    assert gap(lm(mouth_open=0.5)) > 2 and gap(lm(mouth_open=1.0)) > gap(lm(mouth_open=0.5)) + 1
    lid = lambda p: (p[[40, 41, 46, 47], 1] - p[[38, 37, 43, 44], 1]).mean()  # noqa: E731
    assert lid(lm(eye_open=1.0)) > lid(lm(eye_open=0.5)) + 1 > lid(lm(eye_open=0.15)) + 1
    corners = lambda p: p[[48, 54], 1].mean() - p[[51, 57], 1].mean()  # noqa: E731
    assert corners(lm(smile=1.0)) < corners(lm(smile=0.0)) - 1
    assert lm(brow_raise=1.0)[17:27, 1].mean() < lm(brow_raise=0.0)[17:27, 1].mean() - 1.5
    # Expressions leave the jaw contour above the mouth and the nose alone.
    np.testing.assert_allclose(lm(smile=1.0, mouth_open=1.0)[27:36], lm()[27:36], atol=1e-4)


def test_identity_factors_change_the_image():
    att, base = _att(), _ident()
    img = tw.render(base, att, 64).astype(np.int16)
    for f in tw.IDENTITY_FACTORS:
        if f.kind == "discrete":
            other = (base[f.name] + 1) % int(f.high)
        else:
            other = f.high if base[f.name] < (f.low + f.high) / 2 else f.low
        changed = tw.render({**base, f.name: other}, att, 64).astype(np.int16)
        assert np.abs(changed - img).sum() > 200, f.name


def test_attributes_change_the_image_but_not_identity_factors():
    ident = _ident()
    img = tw.render(ident, _att(), 64).astype(np.int16)
    for f in tw.ATTRIBUTE_FACTORS:
        v = tw.NEUTRAL_ATTRIBUTES[f.name]
        other = f.high if v < (f.low + f.high) / 2 else f.low
        assert np.abs(tw.render(ident, _att(**{f.name: other}), 64).astype(np.int16) - img).sum() > 200, f.name


def test_background_colour_in_corners():
    for i in range(30):
        e = tw.example(i, seed=1)
        att = e["attributes"]
        bg = np.array(colorsys.hsv_to_rgb(att["bg_hue"], 0.35, att["bg_value"])) * 255
        for y, x in ((0, 0), (0, 63)):
            assert np.abs(e["image"][y, x] - bg).max() <= 1.0, (i, y, x)


def test_light_shades_the_face():
    ident = _ident(hair_style=4)
    lm = tw.landmarks(ident, _att(), 128)
    left, right = lm[1] + (lm[31] - lm[1]) * 0.5, lm[15] + (lm[35] - lm[15]) * 0.5   # cheeks
    lit_left = tw.render(ident, _att(light_azimuth=-70, light_strength=1.0), 128)
    lit_right = tw.render(ident, _att(light_azimuth=70, light_strength=1.0), 128)
    assert _lum(lit_left, left) > _lum(lit_left, right) + 15
    assert _lum(lit_right, right) > _lum(lit_right, left) + 15
    flat = tw.render(ident, _att(light_strength=0.0), 128)
    assert abs(_lum(flat, left) - _lum(flat, right)) < 3


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 0), (-15, 8, -3), (15, -12, 4), (-28, 0, 0), (28, 0, 0)])
def test_landmarks_match_image_content(yaw, pitch, roll):
    for k, tone in enumerate((0.05, 0.35)):
        ident = _ident(skin_tone=tone, eye_color=0.0, hair_color=0.05, hair_style=k)
        att = _att(yaw=yaw, pitch=pitch, roll=roll, eye_open=1.0, light_strength=0.0, mouth_open=1.0)
        img, lm = tw.render(ident, att, 128), tw.landmarks(ident, att, 128)
        skin = _lum(img, (lm[28] + lm[29]) / 2)                       # nose bridge
        for eye in (lm[36:42], lm[42:48]):                           # pupil at the eye centre
            assert _lum(img, eye.mean(0)) < 0.5 * skin
            for corner in (eye[0], eye[3]) if abs(yaw) < 20 else ():  # eye white beside the iris
                assert _lum(img, eye.mean(0) + 0.75 * (corner - eye.mean(0))) > 0.8 * skin
        for n in range(31, 36):                                      # nose bottom line and nostrils
            assert _lum(img, lm[n]) < (0.6 if n in (32, 34) else 0.85) * skin
        for b in (19, 24):                                           # brows (dark hair)
            assert _lum(img, lm[b] + (0, 1.5)) < 0.7 * skin
        assert _lum(img, lm[62] * 0.25 + lm[66] * 0.75) < 0.6 * skin   # open mouth: dark cavity
        assert _lum(img, lm[62] * 0.8 + lm[66] * 0.2) > 0.9 * skin     # ... below the upper teeth
        outer = _lum(img, (lm[8] * 0.3 + lm[57] * 0.7)), _lum(img, lm[8] + (lm[8] - lm[57]) * 0.8)
        assert abs(outer[0] - outer[1]) > 5                          # the chin outline is at lm[8]


def test_toy_pictures_script_makes_the_readme_pictures(tmp_path):
    """scripts/toy_pictures.py writes the contact sheet (8 x 8 cells of 64 px, first column
    neutral) and the landmark strip, the same bytes twice, and refuses to replace without --overwrite."""
    import cv2
    from conftest import run_script_here
    proc = run_script_here("scripts/toy_pictures.py", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    sheet = cv2.imread(str(tmp_path / "toy_contact_sheet.png"))[..., ::-1]
    assert sheet.shape == (8 * 66 + 2, 8 * 66 + 2, 3)
    np.testing.assert_array_equal(sheet[2:66, 2:66], tw.render(tw.identity_from_seed(0), tw.NEUTRAL_ATTRIBUTES, 64))
    assert cv2.imread(str(tmp_path / "toy_landmarks.png")).shape == (256, 1024, 3)
    first = (tmp_path / "toy_landmarks.png").read_bytes()
    proc = run_script_here("scripts/toy_pictures.py", "--out", tmp_path)
    assert proc.returncode != 0 and "--overwrite" in proc.stderr + proc.stdout
    proc = run_script_here("scripts/toy_pictures.py", "--out", tmp_path, "--overwrite")
    assert proc.returncode == 0 and (tmp_path / "toy_landmarks.png").read_bytes() == first
