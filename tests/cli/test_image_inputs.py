"""Every kind of image file a user may hand the scripts: a correct result or a clear error naming
the file; in folder mode bad files are skipped and counted and the batch goes on.

Folder and video modes (issue 30, item 4): every format Pillow reads is used whatever the file's
extension; every unusable entry (not an image, truncated, a sub-folder, a dangling link, ...) is
skipped and named in one summary line, and the batch goes on; any file name can be given (as it
is, or in an @LIST file); every error names the file at fault."""

import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
from conftest import run_script, run_script_here
from PIL import EpsImagePlugin, Image

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
    assert f"skipped 4 of 6 entries of {ids}: " in proc.stdout and "; using 2" in proc.stdout
    for name in ("empty.png", "notes.jpg", "tiny.png", "cut.jpg"):
        assert name in proc.stderr
    grid = image_files.load_image(tmp_path / "grid.png")
    assert grid.shape[1] == 3 * 32                  # 2 identities + the attribute column
    # pairs by file name: 4 bad pairs skipped, 2 written
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--pairs", "--id", ids, "--attr", attrs,
                           "--outdir", tmp_path / "pairs")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "wrote 2 pair outputs" in proc.stdout and "skipped 4 of 6 pairs" in proc.stdout
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
    Image.fromarray(astronaut).save(folder / "c.tif")           # a TIFF: used, whatever its extension
    (folder / "README.txt").write_text("photos for the landmark net\n")
    (folder / "sub").mkdir()
    (folder / "gone.png").symlink_to(folder / "deleted.png")    # a dangling link: skipped, not the end
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")           # hidden: ignored
    proc = run_script("scripts/train_landmarks.py", "--images", folder, "--detect", "--out", tmp_path / "lnd",
                      "--epochs", 1, "--input_size", 32, "--base_filters", 4, "--batch_size", 2,
                      "--val_fraction", 0.5, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (f"skipped 6 of 9 entries of {folder}: README.txt (not an image), corrupt.png (truncated), "
            "empty.jpg (empty file), gone.png (a dangling link), sub (a folder), tiny.png (too small: 16x16 px)"
            in proc.stdout), proc.stdout
    for name in ("corrupt.png", "empty.jpg", "tiny.png", "gone.png", "sub", "README.txt"):
        assert name in proc.stderr
    assert ".DS_Store" not in proc.stdout + proc.stderr
    assert (tmp_path / "lnd" / "landmarks.weights.h5").is_file()
    assert json.loads((tmp_path / "lnd" / "landmarks.json").read_text())["images"] == 3   # a.png, b.jpg, c.tif


# ------------------------------------------------------------------------------------------------
# Folder and video modes, file names, errors naming the file (issue 30, item 4)

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 96 96\n0 0 moveto 96 96 lineto stroke\nshowpage\n%%EOF\n"
NO_GHOSTSCRIPT = not EpsImagePlugin.has_ghostscript()


def _awkward_folder(folder, face_like):
    """A photo folder as users have them: images in formats and under names an extension filter
    misses, and entries that are not usable. Returns (usable names in order, {skipped: reason})."""
    folder.mkdir()
    usable = {"a.tif": "TIFF", "b.gif": "GIF", "c.ppm": "PPM", "d": "PNG", "e.JPEG": "JPEG"}
    for i, (name, fmt) in enumerate(usable.items()):
        Image.fromarray(np.roll(face_like, 5 * i, axis=1)).save(folder / name, format=fmt)
    (folder / "README.txt").write_text("my photos\n")
    (folder / "sub").mkdir()
    Image.fromarray(face_like).save(folder / "sub" / "inner.png")        # a sub-folder's images are not read
    (folder / "gone.png").symlink_to(folder / "deleted.png")             # a dangling link
    raw = _jpeg_bytes(face_like)
    (folder / "cut.jpg").write_bytes(raw[: len(raw) // 3])               # truncated
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")                   # hidden: ignored silently
    skipped = {"README.txt": "not an image", "cut.jpg": "truncated", "gone.png": "a dangling link", "sub": "a folder"}
    if NO_GHOSTSCRIPT:   # Pillow reads EPS through Ghostscript only
        (folder / "doc.eps").write_bytes(EPS)
        skipped["doc.eps"] = "EPS needs Ghostscript, which is not installed"
    return list(usable), dict(sorted(skipped.items()))


def _summary_names(skipped):
    return ", ".join(f"{name} ({reason})" for name, reason in skipped.items())


def test_folder_scan_takes_every_pillow_format_and_names_every_other_entry(tmp_path, face_like):
    usable, skipped = _awkward_folder(tmp_path / "photos", face_like)
    _png_header_only(tmp_path / "photos" / "bomb.png", 11000, 10000)   # refused from its header, no allocation
    _png_header_only(tmp_path / "photos" / "bomb2.png", 30000, 30000)  # beyond Pillow's own limit
    (tmp_path / "photos" / "empty.png").write_bytes(b"")
    os.mkfifo(tmp_path / "photos" / "pipe")                             # opening it would block
    paths, lost = image_files.scan_folder(tmp_path / "photos")
    # a JPEG's truncation shows when it is decoded (the scan reads headers only): cut.jpg is
    # skipped by the loop that reads it, as the tools do
    assert [p.name for p in paths] == sorted(usable + ["cut.jpg"])
    reasons = {os.path.basename(name): reason for name, reason, _ in lost.items}
    assert reasons == {**{k: v for k, v in skipped.items() if k != "cut.jpg"},
                       "bomb.png": "too large (11000x10000 px)", "bomb2.png": "too large (decompression bomb)",
                       "empty.png": "empty file", "pipe": "not a regular file"}
    for p in paths:   # each read as the image it holds, or named as unreadable
        try:
            assert image_files.load_image(p).shape == (96, 96, 3)
        except ValueError as e:
            lost.add_error(p, e)
    summary = lost.summary(len(paths) + len(reasons))
    assert summary.startswith(f"skipped {len(reasons) + 1} of {len(reasons) + 6} entries of {tmp_path / 'photos'}: ")
    assert "cut.jpg (truncated)" in summary and "pipe (not a regular file)" in summary
    assert ".DS_Store" not in summary


def test_names_with_commas_and_list_files(tmp_path, face_like):
    for name in ("Smith, John.png", "Doe, Jane.png", "plain.png"):
        Image.fromarray(face_like).save(tmp_path / name)
    (tmp_path / "ids.txt").write_text(f"{tmp_path / 'Smith, John.png'}\n\n{tmp_path / 'Doe, Jane.png'}\n")
    assert image_files.input_paths(tmp_path / "Smith, John.png") == [tmp_path / "Smith, John.png"]
    assert image_files.input_paths(f"@{tmp_path / 'ids.txt'}") == [tmp_path / "Smith, John.png",
                                                                   tmp_path / "Doe, Jane.png"]
    assert image_files.input_paths(f"{tmp_path / 'plain.png'}, {tmp_path / 'x.png'}") == [
        tmp_path / "plain.png", tmp_path / "x.png"]
    with pytest.raises(FileNotFoundError, match=r"image not found: .*Smith \(from .*@LIST"):
        image_files.image_inputs(tmp_path / "Smith, Jon.png")       # a typo: the hint says how commas work
    with pytest.raises(FileNotFoundError, match=r"list file not found: .*nolist\.txt"):
        image_files.image_inputs(f"@{tmp_path / 'nolist.txt'}")


def test_every_error_about_an_image_names_it(tmp_path, face_like):
    (tmp_path / "sub.png").mkdir()
    (tmp_path / "gone.png").symlink_to(tmp_path / "deleted.png")
    os.mkfifo(tmp_path / "pipe.png")
    for name, words in (("sub.png", "is a folder"), ("gone.png", "dangling link"), ("pipe.png", "not a regular file")):
        with pytest.raises((ValueError, FileNotFoundError)) as e:
            image_files.load_image(tmp_path / name)
        assert str(tmp_path / name) in str(e.value) and words in str(e.value), str(e.value)
        with pytest.raises((ValueError, FileNotFoundError)) as e:
            data.prepare_face(tmp_path / name, 32, align=False)
        assert str(tmp_path / name) in str(e.value)
    if NO_GHOSTSCRIPT:
        (tmp_path / "doc.eps").write_bytes(EPS)
        with pytest.raises(ValueError, match=r"cannot read image .*doc\.eps: .*Ghostscript"):
            image_files.load_image(tmp_path / "doc.eps")


def test_grid_reads_every_format_and_skips_and_names_the_rest(default_run, tmp_path, face_like):
    folder = tmp_path / "ids"
    usable, skipped = _awkward_folder(folder, face_like)
    proc = run_script_here("scripts/combine_grid.py", "--run", default_run["run"], "--id", folder,
                           "--attr_seeds", "0", "--out", tmp_path / "grid.png")
    assert proc.returncode == 0, proc.stderr[-2000:]
    entries = len(usable) + len(skipped)
    assert (f"skipped {len(skipped)} of {entries} entries of {folder}: {_summary_names(skipped)}; "
            f"using {len(usable)}") in proc.stdout, proc.stdout
    for name in skipped:   # and a warning each, with the whole message
        assert f"skipped {folder / name}" in proc.stderr
    assert ".DS_Store" not in proc.stdout + proc.stderr and "inner.png" not in proc.stdout + proc.stderr
    grid = image_files.load_image(tmp_path / "grid.png")
    assert grid.shape == (2 * 32, (len(usable) + 1) * 32, 3)   # every readable image is an identity


def test_pairs_skip_and_name_unusable_and_unmatched_entries(default_run, tmp_path, face_like):
    ids, attrs = tmp_path / "ids", tmp_path / "attrs"
    usable, skipped = _awkward_folder(ids, face_like)
    _awkward_folder(attrs, face_like)
    (attrs / "e.JPEG").unlink()                                  # no partner for ids/e.JPEG
    Image.fromarray(face_like).save(attrs / "only_attr.png")     # no partner in ids/
    proc = run_script_here("scripts/combine_grid.py", "--run", default_run["run"], "--pairs", "--id", ids,
                           "--attr", attrs, "--outdir", tmp_path / "pairs")
    assert proc.returncode == 0, proc.stderr[-2000:]
    expect = {**{n: f"ids/: {r}" for n, r in skipped.items()}, "e.JPEG": "not in attrs/",
              "only_attr.png": "not in ids/"}
    assert (f"skipped {len(expect)} of {len(expect) + 4} pairs: {_summary_names(dict(sorted(expect.items())))}"
            in proc.stdout), proc.stdout
    assert "wrote 4 pair outputs" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "pairs").iterdir()) == ["a.png", "b.png", "c.png", "d.png"]


def test_reenact_frames_folder_skips_and_names_entries(default_run, tmp_path, face_like):
    folder = tmp_path / "frames"
    usable, skipped = _awkward_folder(folder, face_like)
    proc = run_script_here("scripts/reenact.py", "--run", default_run["run"], "--identity_seed", "3",
                           "--driving", folder, "--outdir", tmp_path / "out", "--novideo")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"skipped {len(skipped)} of {len(usable) + len(skipped)} frames of {folder}: {_summary_names(skipped)}" \
        in proc.stdout, proc.stdout
    assert f"wrote {len(usable)} frames" in proc.stdout
    assert len(list((tmp_path / "out").glob("frame_*.png"))) == len(usable)


def test_reenact_driving_file_that_is_a_broken_image_or_no_video_is_named(default_run, tmp_path, face_like):
    raw = _jpeg_bytes(face_like)
    (tmp_path / "cut.jpg").write_bytes(raw[: len(raw) // 2])     # OpenCV would decode a garbled frame
    (tmp_path / "notes.txt").write_text("not a video\n" * 50)
    for name, words in (("cut.jpg", "truncated"), ("notes.txt", "cannot read video")):
        proc = run_script_here("scripts/reenact.py", "--run", default_run["run"], "--identity_seed", "3",
                               "--driving", tmp_path / name, "--outdir", tmp_path / f"out_{name}")
        assert proc.returncode == 1 and str(tmp_path / name) in proc.stderr and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    Image.fromarray(face_like).save(tmp_path / "still.tif")     # a good image: one frame
    proc = run_script_here("scripts/reenact.py", "--run", default_run["run"], "--identity_seed", "3",
                           "--driving", tmp_path / "still.tif", "--outdir", tmp_path / "out_still", "--novideo")
    assert proc.returncode == 0 and "wrote 1 frames" in proc.stdout, proc.stderr[-2000:]


def test_any_file_name_can_be_given(default_run, tmp_path, face_like):
    run = default_run["run"]
    names = ("Smith, John.png", "Doe, Jane.png")
    for i, name in enumerate(names):
        Image.fromarray(np.roll(face_like, 9 * i, axis=0)).save(tmp_path / name)
    (tmp_path / "ids.txt").write_text("".join(f"{tmp_path / n}\n" for n in names))
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--id", tmp_path / names[0],
                           "--attr_seeds", "0", "--out", tmp_path / "one.png")   # a comma in a single name
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert image_files.load_image(tmp_path / "one.png").shape == (64, 64, 3)
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--id", f"@{tmp_path / 'ids.txt'}",
                           "--attr_seeds", "0", "--out", tmp_path / "two.png")   # several, in a list file
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert image_files.load_image(tmp_path / "two.png").shape == (64, 96, 3)
    proc = run_script_here("scripts/interpolate.py", "--run", run, "--id", f"@{tmp_path / 'ids.txt'}",
                           "--attr_seeds", "0,1", "--steps", 2, "--space", "w", "--outdir", tmp_path / "interp")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_script_here("scripts/reenact.py", "--run", run, "--identity", tmp_path / names[1],
                           "--driving", tmp_path / names[0], "--outdir", tmp_path / "reenact", "--novideo")
    assert proc.returncode == 0 and "wrote 1 frames" in proc.stdout, proc.stderr[-2000:]
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--id", tmp_path / "Smith, Jon.png",
                           "--attr_seeds", "0", "--out", tmp_path / "typo.png")
    assert proc.returncode == 1 and "@LIST" in proc.stderr and "Traceback" not in proc.stderr


def test_errors_name_the_file_at_fault(default_run, tmp_path, face_like):
    run = default_run["run"]
    Image.fromarray(face_like).save(tmp_path / "good.png")
    raw = _jpeg_bytes(face_like)
    (tmp_path / "bad.jpg").write_bytes(raw[: len(raw) // 2])
    bad_only = tmp_path / "bad_only"
    bad_only.mkdir()
    (bad_only / "x.png").write_text("not an image")
    (bad_only / "y.jpg").symlink_to(tmp_path / "deleted.jpg")
    cases = [
        (("scripts/interpolate.py", "--id", f"{tmp_path / 'good.png'},{tmp_path / 'bad.jpg'}", "--attr_seeds", "0,1",
          "--outdir", tmp_path / "i"), [str(tmp_path / "bad.jpg"), "truncated"]),
        (("scripts/combine_grid.py", "--pairs", "--id", tmp_path / "good.png", "--attr", bad_only, "--outdir",
          tmp_path / "p"), [str(tmp_path / "good.png"), "not a folder"]),
        (("scripts/evaluate.py", "--id_dir", bad_only, "--out", tmp_path / "e"), ["x.png (not an image)",
                                                                                 "y.jpg (a dangling link)"]),
        (("scripts/reenact.py", "--identity_seed", "3", "--driving", bad_only, "--outdir", tmp_path / "r"),
         [str(bad_only / "x.png"), str(bad_only / "y.jpg"), f"no frame of {bad_only}"]),
    ]
    for (script, *args), words in cases:
        proc = run_script_here(script, "--run", run, *args)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, (script, proc.stderr[-2000:])
        assert all(w in proc.stdout + proc.stderr for w in words), (script, words, proc.stdout, proc.stderr)


def test_align_folder_reads_every_format_and_names_faceless_and_unusable_entries(default_run, astronaut, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "astronaut.tif")
    Image.new("RGB", (96, 96), (90, 90, 90)).save(folder / "blank.webp")
    (folder / "sub").mkdir()
    (folder / "gone.jpg").symlink_to(folder / "deleted.jpg")
    (folder / "notes.txt").write_text("no faces here")
    proc = run_script_here("scripts/combine_grid.py", "--run", default_run["run"], "--id", folder, "--align",
                           "--attr_seeds", "0", "--out", tmp_path / "grid.png")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (f"skipped 4 of 5 entries of {folder}: blank.webp (no face found), gone.jpg (a dangling link), "
            "notes.txt (not an image), sub (a folder); using 1") in proc.stdout, proc.stdout
    assert image_files.load_image(tmp_path / "grid.png").shape == (64, 64, 3)


def test_evaluate_folder_reads_every_format_and_names_skipped_entries(default_run, tmp_path, face_like):
    folder = tmp_path / "ids"
    usable, skipped = _awkward_folder(folder, face_like)
    proc = run_script_here("scripts/evaluate.py", "--run", default_run["run"], "--id_dir", folder, "--num_pairs", 2,
                           "--best_worst", 0, "--out", tmp_path / "eval")
    assert proc.returncode == 0, proc.stderr[-2000:]
    inputs = json.loads((tmp_path / "eval" / "metrics.json").read_text())["inputs"]["id_dir"]
    assert inputs["usable"] == len(usable)
    assert inputs["reasons"] == skipped and sorted(inputs["skipped"]["unreadable"]) == sorted(skipped)
    md = (tmp_path / "eval" / "metrics.md").read_text()
    assert f"{len(skipped)} unreadable (" in md and all(f"{n}: {r}" in md for n, r in skipped.items()), md
