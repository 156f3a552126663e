"""Driving sequence + one identity -> per-frame outputs and a video (the paper's sequence and
de-identification application): every frame gives the attributes (pose, expression), the identity
image gives the identity, held constant.

    python scripts/reenact.py --run RUN --identity me.jpg --driving clip.mp4 --align --outdir out/reenact
    python scripts/reenact.py --run runs/00000-toy --identity_seed 3 --driving frames/ --outdir out/r

--driving: a video file (anything OpenCV decodes), a single image file (one frame; read by Pillow,
so a broken image is an error naming it, never a garbled frame), or a folder of frames (sorted by
name, every format Pillow reads whatever the extension). Frames without a detectable face (with
--align) and folder entries that are not usable images (not an image, unreadable, truncated, a
sub-folder, a dangling link) are skipped, each named in a warning and in one summary line; hidden
files (.name) are ignored. A video none of whose frames decodes is an error naming it. Writes
OUTDIR/frame_00000.png ... and OUTDIR/reenact.mp4 (mp4v) unless --no_video.
"""

import os
from pathlib import Path

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.cli import console
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_bool("overwrite", False, "replace earlier outputs at the same place")
    flags.DEFINE_string("run", None, "training run directory (toy: the shipped toy run)", required=True)
    flags.DEFINE_string("checkpoint", None, "a specific checkpoint (default: latest)")
    flags.DEFINE_string("identity", None, "identity image: a file as given (commas and all), a folder holding "
                        "one image, or @LIST (a text file naming its path)")
    flags.DEFINE_string("identity_seed", None, "StyleGAN seed instead of --identity")
    flags.DEFINE_string("driving", None, "driving video file, image file or folder of frames (the path as given)",
                        required=True)
    flags.DEFINE_bool("align", False, "FFHQ-align the identity image and every frame")
    flags.DEFINE_float("fps", 25.0, "output video frame rate (folder input)")
    flags.DEFINE_bool("video", True, "write OUTDIR/reenact.mp4")
    flags.DEFINE_string("outdir", "out/reenact", "output folder")


def _still_image(path) -> bool:
    """Whether Pillow reads `path` as a single image (a one-frame driving sequence), broken or not;
    videos, animations and what Pillow does not know go to OpenCV."""
    from PIL import Image

    from idd_tf.utils import image_files
    fmt, _ = image_files.probe_image(path)
    if fmt is None or fmt == "MPEG":   # Pillow knows an MPEG header, not its frames
        return False
    try:
        with Image.open(path) as im:
            return getattr(im, "n_frames", 1) == 1
    except image_files.PIL_READ_ERRORS:
        return True   # a broken image: load_image says what is wrong with it


def _text_file(path) -> bool:
    """Whether the file starts as text (UTF-8, no NUL byte in its first 4 KiB): no video does."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3   # a multi-byte character cut at the end
    return True


def frames_of(path, skipped):
    """Yield (name, HWC uint8 RGB frame) of a video file, an image file (one frame) or an image
    folder. Folder entries that are not usable images are added to `skipped` (an
    image_files.Skipped), named, and not yielded; a file that gives no frame is a ValueError
    naming it."""
    import cv2

    from idd_tf.utils import image_files
    path = Path(path)
    if path.is_dir():
        paths, lost = image_files.scan_folder(path)
        skipped.extend(lost)
        for p in paths:
            try:
                yield str(p), image_files.load_image(p)
            except ValueError as e:   # unreadable frame: skipped and named, the batch goes on
                skipped.add_error(p, e)
        return
    if not path.is_file():
        what = "a dangling link" if path.is_symlink() else ("not a file" if path.exists() else "not found")
        raise FileNotFoundError(f"driving video not found: {path} ({what})")
    if _still_image(path):
        yield str(path), image_files.load_image(path)   # a broken image: ImageError naming it
        return
    if _text_file(path):   # FFmpeg would render it as ANSI art, frame after frame
        raise ValueError(f"cannot read video {path}: a text file, not a video or image")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot read video {path}: not a video or image OpenCV or Pillow reads")
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
    if bytes((fourcc >> 8 * i) & 0xFF for i in range(4)) == b"ansi":
        cap.release()
        raise ValueError(f"cannot read video {path}: text (FFmpeg's ANSI-art reader), not a video")
    count = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield f"frame {count}", cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            count += 1
    finally:
        cap.release()
    if not count:
        raise ValueError(f"cannot read video {path}: no frame could be decoded (not a video or image "
                         "OpenCV or Pillow reads, or empty)")


def app_main(argv):
    del argv
    import cv2
    from tqdm import tqdm

    from idd_tf.method import faces, model
    from idd_tf.stylegan import networks as stylegan
    from idd_tf.utils import fileio, image_files
    outdir = Path(FLAGS.outdir)
    try:
        fileio.check_output(outdir, FLAGS.overwrite, is_dir=True)
        run = model.load_run(FLAGS.run, FLAGS.checkpoint)
        net, G, cfg = run["model"], run["stylegan"], run["config"]
        ident = model.input_faces(FLAGS.identity, FLAGS.identity_seed, G, cfg, FLAGS.align)
        if len(ident["images"]) != 1:
            raise ValueError(f"--identity {FLAGS.identity}: give one image, got {len(ident['images'])} "
                             f"({', '.join(ident['names'])})")
        raw_id = stylegan.from_uint8(model.usable_images(ident, logging.warning, print))
        r = G.resolution
        written, skipped = [], image_files.Skipped()
        for name, frame in tqdm(frames_of(FLAGS.driving, skipped), desc="frames", unit="frame"):
            try:
                if FLAGS.align:
                    face = faces.align_face(frame, r, name=name)
                else:
                    face = image_files.resize_square(frame, r)
            except faces.NoFaceError:
                skipped.add(name, "no face found")
                continue
            out = stylegan.to_uint8(net(raw_id, stylegan.from_uint8(face[None]))["images"]).numpy()[0]
            written.append(fileio.save_image(outdir / f"frame_{len(written):05d}.png", out))
    except ValueError as e:   # StyleGANFormatError and NoFaceError are UserErrors already
        raise UserError(e) from e
    no_face = sum(reason == "no face found" for _, reason, _ in skipped.items)
    skipped.report(logging.warning, print, len(written) + len(skipped), noun="frames")
    if not written:
        raise UserError(f"no frame of {FLAGS.driving} with a usable face ({no_face} without a face, "
                        f"{len(skipped) - no_face} unreadable: named above)")
    if FLAGS.video:
        fps = FLAGS.fps
        if Path(FLAGS.driving).is_file():
            cap = cv2.VideoCapture(FLAGS.driving)
            fps = cap.get(cv2.CAP_PROP_FPS) or fps
            cap.release()
        tmp = outdir / ".reenact.tmp.mp4"
        vw = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (r, r))
        for p in written:
            vw.write(cv2.cvtColor(image_files.load_image(p), cv2.COLOR_RGB2BGR))
        vw.release()
        os.replace(tmp, outdir / "reenact.mp4")
    print(f"wrote {len(written)} frames to {outdir} ({no_face} skipped: no face; {len(skipped) - no_face} skipped: "
          f"unreadable) {console.elapsed()}")


def main(argv=None):
    """`idd-reenact` and `python scripts/reenact.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
