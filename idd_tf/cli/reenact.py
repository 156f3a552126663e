"""Driving sequence + one identity -> per-frame outputs and a video (the paper's sequence and
de-identification application): every frame gives the attributes (pose, expression), the identity
image gives the identity, held constant.

    python scripts/reenact.py --run RUN --identity me.jpg --driving clip.mp4 --align --outdir out/reenact
    python scripts/reenact.py --run runs/00000-toy --identity_seed 3 --driving frames/ --outdir out/r

Frames without a detectable face (with --align) are skipped and counted. Writes
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
    flags.DEFINE_string("identity", None, "identity image")
    flags.DEFINE_string("identity_seed", None, "StyleGAN seed instead of --identity")
    flags.DEFINE_string("driving", None, "driving video file or folder of frames", required=True)
    flags.DEFINE_bool("align", False, "FFHQ-align the identity image and every frame")
    flags.DEFINE_float("fps", 25.0, "output video frame rate (folder input)")
    flags.DEFINE_bool("video", True, "write OUTDIR/reenact.mp4")
    flags.DEFINE_string("outdir", "out/reenact", "output folder")


def frames_of(path):
    """Yield HWC uint8 RGB frames of a video file or an image folder."""
    import cv2

    from idd_tf.utils import image_files
    path = Path(path)
    if path.is_dir():
        for p in image_files.list_images(path):
            try:
                yield image_files.load_image(p)
            except ValueError as e:   # unreadable frame: skipped and counted, the batch goes on
                logging.warning("skipping frame: %s", e)
                yield None
        return
    if not path.is_file():
        raise FileNotFoundError(f"driving video not found: {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot read video {path}")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


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
        ident = model.input_faces(FLAGS.identity, FLAGS.identity_seed, G, cfg, FLAGS.align)["images"]
        raw_id = stylegan.from_uint8(ident[:1])
        r = G.resolution
        written, skipped, unreadable = [], 0, 0
        for frame in tqdm(frames_of(FLAGS.driving), desc="frames", unit="frame"):
            if frame is None:
                unreadable += 1
                continue
            try:
                if FLAGS.align:
                    face = faces.align_face(frame, r)
                else:
                    face = image_files.resize_square(frame, r)
            except faces.NoFaceError:
                skipped += 1
                continue
            out = stylegan.to_uint8(net(raw_id, stylegan.from_uint8(face[None]))["images"]).numpy()[0]
            written.append(fileio.save_image(outdir / f"frame_{len(written):05d}.png", out))
    except ValueError as e:   # StyleGANFormatError and NoFaceError are UserErrors already
        raise UserError(e) from e
    if not written:
        raise UserError(f"no frame with a usable face ({skipped} without a face, {unreadable} unreadable)")
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
    print(f"wrote {len(written)} frames to {outdir} ({skipped} skipped: no face; {unreadable} skipped: "
          f"unreadable) {console.elapsed()}")


def main(argv=None):
    """`idd-reenact` and `python scripts/reenact.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
