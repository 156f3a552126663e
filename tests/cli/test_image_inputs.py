"""Every kind of image file a user may hand the scripts: a correct result or a clear error naming
the file; in folder mode bad files are skipped and counted and the batch goes on."""

import io
import struct
import zlib

import numpy as np
import pytest
from conftest import run_script, run_script_here
from PIL import Image

from idd_tf.method import data
from idd_tf.utils import image_files


def _png_header_only(path, width, height):
    """A PNG that declares width x height but holds no pixel data (a 'decompression bomb' header)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


def _jpeg_bytes(img, mode="RGB", **kw):
    buf = io.BytesIO()
    Image.fromarray(img).convert(mode).save(buf, format="JPEG", quality=95, **kw)
    return buf.getvalue()


@pytest.fixture
def face_like():
    rng = np.random.default_rng(0)
    img = np.full((96, 96, 3), 200, np.uint8)
    img[20:70, 30:60] = rng.integers(0, 255, (50, 30, 3), dtype=np.uint8)
    return img


@pytest.mark.parametrize("name, content, words", [
    ("corrupt.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, ["cannot read image", "corrupt.png"]),
    ("empty.jpg", b"", ["cannot read image", "empty.jpg"]),
    ("notes.jpg", b"these are my notes, not an image\n" * 20, ["cannot read image", "notes.jpg"]),
])
def test_unreadable_files_name_the_file(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError) as e:
        image_files.load_image(path)
    assert all(w in str(e.value) for w in words), str(e.value)
    assert "\n" not in str(e.value).strip()


def test_truncated_jpeg_is_an_error(tmp_path, face_like):
    raw = _jpeg_bytes(face_like)
    path = tmp_path / "cut.jpg"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cannot read image .*cut\.jpg"):
        image_files.load_image(path)


def test_modes_are_converted_correctly(tmp_path, face_like):
    gray = face_like[..., 0]
    Image.fromarray(gray).save(tmp_path / "gray.png")
    got = image_files.load_image(tmp_path / "gray.png")
    assert got.shape == (96, 96, 3) and (got == gray[..., None]).all()

    rgba = np.dstack([face_like, np.full((96, 96), 255, np.uint8)])
    rgba[:10, :, 3] = 0                                   # transparent top rows: white, not garbage
    rgba[:10, :, :3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    got = image_files.load_image(tmp_path / "rgba.png")
    assert (got[:10] == 255).all() and (got[10:] == face_like[10:]).all()

    deep = (np.arange(96 * 96, dtype=np.uint32).reshape(96, 96) * 7 % 65536).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep16.png")      # 16-bit grayscale PNG
    with Image.open(tmp_path / "deep16.png") as im:
        assert im.mode.startswith("I")
    got = image_files.load_image(tmp_path / "deep16.png")
    np.testing.assert_allclose(got[..., 0], np.round(deep / 65535 * 255), atol=1)   # scaled, not clipped
    assert got.max() > 200 and got.min() < 50

    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 255
    (tmp_path / "cmyk.jpg").write_bytes(_jpeg_bytes(red, "CMYK"))
    with Image.open(tmp_path / "cmyk.jpg") as im:
        assert im.mode == "CMYK"
    got = image_files.load_image(tmp_path / "cmyk.jpg").astype(int)
    assert abs(got[..., 0].mean() - 255) < 8 and got[..., 1:].mean() < 8


def test_exif_rotation_is_applied(tmp_path):
    img = np.zeros((60, 40, 3), np.uint8)        # portrait as stored: 40 wide, 60 high
    img[:10, :10] = 255                          # a white corner at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6                             # "rotate 90 CW to display"
    (tmp_path / "phone.jpg").write_bytes(_jpeg_bytes(img, exif=exif.tobytes()))
    got = image_files.load_image(tmp_path / "phone.jpg")
    assert got.shape == (40, 60, 3)              # displayed landscape
    assert got[:10, -10:].mean() > 200 and got[:10, :10].mean() < 50   # the corner moved to the top-right


def test_huge_images_are_downscaled_or_refused(tmp_path):
    big = Image.new("RGB", (8000, 6000), (10, 200, 30))
    big.save(tmp_path / "big.jpg", quality=80)
    del big
    got = image_files.load_image(tmp_path / "big.jpg")
    assert max(got.shape[:2]) <= image_files.MAX_IMAGE_SIDE
    assert got.shape[1] / got.shape[0] == pytest.approx(4 / 3, abs=0.01)
    assert abs(int(got[..., 1].mean()) - 200) < 5
    with pytest.raises(ValueError, match=r"bomb\.png is too large \(11000x10000 px"):
        image_files.load_image(_png_header_only(tmp_path / "bomb.png", 11000, 10000))
    with pytest.raises(ValueError, match=r"cannot read image .*bomb2\.png: .*decompression bomb"):
        image_files.load_image(_png_header_only(tmp_path / "bomb2.png", 30000, 30000))   # PIL's own limit


def test_tiny_images_are_refused_as_faces_and_non_square_named(tmp_path, face_like):
    Image.fromarray(face_like[:20, :20]).save(tmp_path / "tiny.png")
    assert image_files.load_image(tmp_path / "tiny.png").shape == (20, 20, 3)    # readable as an image ...
    with pytest.raises(ValueError, match=r"tiny\.png is too small \(20x20 px; at least 32"):
        data.prepare_face(tmp_path / "tiny.png", 32, align=False)          # ... but not as a face
    Image.fromarray(face_like[:, :60]).save(tmp_path / "wide.png")
    with pytest.raises(ValueError, match=r"wide\.png is not square"):
        data.prepare_face(tmp_path / "wide.png", 32, align=False)


def _bad_and_good_folder(folder, face_like):
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.roll(face_like, 7 * i, axis=1)).save(folder / f"good{i}.png")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("not an image")
    Image.fromarray(face_like[:20, :20]).save(folder / "tiny.png")
    raw = _jpeg_bytes(face_like)
    (folder / "cut.jpg").write_bytes(raw[: len(raw) // 3])
    return folder


def test_folder_mode_skips_and_counts_bad_files(default_run, tmp_path, face_like):
    ids = _bad_and_good_folder(tmp_path / "ids", face_like)
    attrs = _bad_and_good_folder(tmp_path / "attrs", face_like)
    run = default_run["run"]
    # grid: identities from a folder with 4 bad files among 2 good ones
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--id", ids, "--attr_seeds", "0-1",
                           "--out", tmp_path / "grid.png")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "skipped 4 unusable file(s); using 2" in proc.stdout
    for name in ("empty.png", "notes.jpg", "tiny.png", "cut.jpg"):
        assert name in proc.stderr
    grid = image_files.load_image(tmp_path / "grid.png")
    assert grid.shape[1] == 3 * 32                  # 2 identities + the attribute column
    # pairs by file name: 4 bad pairs skipped, 2 written
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--pairs", "--id", ids, "--attr", attrs,
                           "--outdir", tmp_path / "pairs")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "wrote 2 pair outputs" in proc.stdout and "skipped 4 unusable pair(s)" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "pairs").iterdir()) == ["good0.png", "good1.png"]
    # a driving folder for reenactment: unreadable frames skipped and counted
    proc = run_script_here("scripts/reenact.py", "--run", run, "--identity_seed", "3", "--driving", ids,
                           "--outdir", tmp_path / "reenact")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "wrote 3 frames" in proc.stdout and "3 skipped: unreadable" in proc.stdout  # tiny.png is a frame


def test_train_landmarks_folder_skips_and_counts_bad_files(astronaut, tmp_path):
    """train_landmarks.py --images: unreadable, empty and too-small files are skipped with a
    warning and counted; the good photos (PNG, EXIF-rotated JPEG) are labelled and trained on."""
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "a.png")
    exif = Image.Exif()
    exif[0x0112] = 6                                   # stored rotated: EXIF says turn it back
    Image.fromarray(np.ascontiguousarray(np.rot90(astronaut, 1))).save(folder / "b.jpg", exif=exif, quality=95)
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "empty.jpg").write_bytes(b"")
    Image.fromarray(astronaut[:16, :16]).save(folder / "tiny.png")
    proc = run_script("scripts/train_landmarks.py", "--images", folder, "--detect", "--out", tmp_path / "lnd",
                      "--epochs", 1, "--input_size", 32, "--base_filters", 4, "--batch_size", 2,
                      "--val_fraction", 0.5, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "skipped 3 unreadable file(s) of 5" in proc.stdout
    for name in ("corrupt.png", "empty.jpg", "tiny.png"):
        assert name in proc.stderr
    assert (tmp_path / "lnd" / "landmarks.weights.h5").is_file()
