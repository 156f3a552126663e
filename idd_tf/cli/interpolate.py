"""Disentangled interpolation (paper Fig. 11/12/16/17): attributes between two images with the
identity fixed, and identity between two images with the attributes fixed, in W or in the
encoders' latent space Z (then mapped by M).

    python scripts/interpolate.py --run runs/00000-toy --id_seeds 0,1 --attr_seeds 10,11 --steps 8 --gif
    python scripts/interpolate.py --run RUN --id a.jpg,b.jpg --attr c.jpg,d.jpg --align --space w

--id / --attr: two files (a comma-separated pair, a folder holding two images, or @LIST, a text
file naming one path per line: the way to give names with commas); an input that cannot be used
is an error naming it.

Writes OUTDIR/{attr,id}_{w,z}.png strips (first row: the two endpoints' inputs) and, with --gif /
--mp4, an animated GIF / MP4 of each (forth and back).
"""

import os
from pathlib import Path

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.cli import console
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    from idd_tf.utils.image_files import INPUTS_HELP
    flags.DEFINE_bool("overwrite", False, "replace earlier outputs at the same place")
    flags.DEFINE_string("run", None, "training run directory (toy: the shipped toy run)", required=True)
    flags.DEFINE_string("checkpoint", None, "a specific checkpoint (default: latest)")
    flags.DEFINE_string("id", None, f"two identity images, the first the fixed one: {INPUTS_HELP}")
    flags.DEFINE_string("attr", None, f"two attribute images, the first the fixed one: {INPUTS_HELP}")
    flags.DEFINE_string("id_seeds", None, "two seeds instead of --id")
    flags.DEFINE_string("attr_seeds", None, "two seeds instead of --attr")
    flags.DEFINE_bool("align", False, "FFHQ-align real photos")
    flags.DEFINE_integer("steps", 8, "frames per interpolation (>= 2)")
    flags.DEFINE_enum("space", "both", ["w", "z", "both"], "interpolate in W, in Z (encoder codes), or both")
    flags.DEFINE_bool("gif", False, "also write animated GIFs")
    flags.DEFINE_bool("mp4", False, "also write MP4 videos (mp4v)")
    flags.DEFINE_string("outdir", "out/interpolate", "output folder")


def app_main(argv):
    del argv
    import numpy as np
    from PIL import Image

    from idd_tf.method import model
    from idd_tf.stylegan import networks as stylegan
    from idd_tf.utils import fileio
    try:
        if FLAGS.steps < 2:
            raise ValueError("--steps must be >= 2")
        fileio.check_output(FLAGS.outdir, FLAGS.overwrite, is_dir=True)
        run = model.load_run(FLAGS.run, FLAGS.checkpoint)
        net, G, cfg = run["model"], run["stylegan"], run["config"]
        inputs = []
        for flag, files, seeds in (("--id", FLAGS.id, FLAGS.id_seeds), ("--attr", FLAGS.attr, FLAGS.attr_seeds)):
            got = model.input_faces(files, seeds, G, cfg, FLAGS.align, strict=True)   # a bad file: its error
            if len(got["images"]) != 2:
                raise ValueError(f"{flag}{'_seeds' if seeds else ''} {files or seeds}: interpolation takes "
                                 f"exactly two inputs, got {len(got['images'])} ({', '.join(got['names'])})")
            inputs.append(model.usable_images(got, logging.warning, print))
        ids, attrs = inputs
    except ValueError as e:   # StyleGANFormatError and NoFaceError are UserErrors already
        raise UserError(e) from e
    outdir = Path(FLAGS.outdir)
    spaces = ["w", "z"] if FLAGS.space == "both" else [FLAGS.space]
    written = []
    for vary in ("attr", "id"):
        for space in spaces:
            t = np.linspace(0.0, 1.0, FLAGS.steps, dtype=np.float32)
            frames = stylegan.to_uint8(model.interpolate(net, stylegan.from_uint8(ids), stylegan.from_uint8(attrs),
                                                         vary, space, t)).numpy()
            r = G.resolution
            top = np.full((r, FLAGS.steps * r, 3), 255, np.uint8)
            ends = attrs if vary == "attr" else ids
            top[:, :r], top[:, -r:] = ends[0], ends[1]
            top[:, r:2 * r] = (ids if vary == "attr" else attrs)[0]  # the fixed input
            strip = np.concatenate([top, np.concatenate(list(frames), axis=1)], axis=0)
            path = fileio.save_image(outdir / f"{vary}_{space}.png", strip)
            written.append(path)
            movie = list(frames) + list(frames[-2:0:-1])  # forth and back, no repeated frame
            if FLAGS.gif:
                gif = outdir / f"{vary}_{space}.gif"
                tmp = gif.with_name(f".{gif.name}.tmp")
                imgs = [Image.fromarray(f) for f in movie]
                imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=80, loop=0)
                os.replace(tmp, gif)
                written.append(gif)
            if FLAGS.mp4:
                import cv2
                mp4 = outdir / f"{vary}_{space}.mp4"
                tmp = mp4.with_name(f".{mp4.stem}.tmp.mp4")
                vw = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), 12, (r, r))
                for f in movie:
                    vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
                vw.release()
                os.replace(tmp, mp4)
                written.append(mp4)
    print("wrote " + ", ".join(str(p) for p in written) + f" {console.elapsed()}")


def main(argv=None):
    """`idd-interpolate` and `python scripts/interpolate.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
