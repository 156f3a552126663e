"""Identity x attribute grid (paper Fig. 2/4), or one output per (identity, attribute) pair.

    python scripts/combine_grid.py --run runs/00000-toy --id_seeds 0-3 --attr_seeds 10-12 --out grid.png
    python scripts/combine_grid.py --run RUN --id photos/a.jpg,photos/b.jpg --attr photos/ --align --out grid.png
    python scripts/combine_grid.py --run RUN --pairs --id ids/ --attr attrs/ --align --outdir out/pairs
    python scripts/combine_grid.py --run RUN --id_seeds 0-3 --attr_seeds 10-12 --annotate --out grid.png

Grid: top row = identity images, left column = attribute images, cell = identity of its column
with the attributes of its row; (n_id + 1) x (n_attr + 1) tiles at the model's resolution.
--pairs: files with the same name in both folders; writes OUTDIR/<name>.png per pair.
--annotate: under every output cell, the identity similarity of I_out to I_id and the landmark
error of I_out vs I_attr, with a legend naming the scorer: the toy world's independent evaluator
for toy runs, else dlib (identity descriptors, or ArcFace with --arcface) and dlib landmarks,
"no face" where none is found; grids of cells under 128 px are enlarged (nearest neighbour) so
the text stays legible (idd_tf.annotate).
"""

from pathlib import Path

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_bool("overwrite", False, "replace earlier outputs at the same place")
    flags.DEFINE_string("run", None, "training run directory (toy: the shipped toy run)", required=True)
    flags.DEFINE_string("checkpoint", None, "a specific checkpoint (default: the run's latest)")
    flags.DEFINE_string("id", None, "identity images: files, folders, comma-separated")
    flags.DEFINE_string("attr", None, "attribute images: files, folders, comma-separated")
    flags.DEFINE_string("id_seeds", None, "identity images generated from these StyleGAN seeds")
    flags.DEFINE_string("attr_seeds", None, "attribute images generated from these StyleGAN seeds")
    flags.DEFINE_bool("pairs", False, "pair mode: files with the same name in the --id and --attr folders")
    flags.DEFINE_bool("align", False, "FFHQ-align real photos (MTCNN + dlib landmarks)")
    flags.DEFINE_string("out", "out/grid.png", "grid output file")
    flags.DEFINE_string("outdir", "out/pairs", "output folder in --pairs mode")
    flags.DEFINE_bool("annotate", False,
                      "caption every output cell with its identity and landmark scores, plus a legend")
    flags.DEFINE_string("arcface", None,
                        "--annotate: ArcFace network (.keras/.h5 or SavedModel) for identity instead of dlib")


def app_main(argv):
    from idd_tf.method import annotate, data, model
    from idd_tf.stylegan import networks as stylegan
    from idd_tf.utils import fileio, image_files
    del argv
    try:
        if FLAGS.pairs and FLAGS.annotate:
            raise ValueError("--annotate captions the grid; it does not apply to --pairs")
        if FLAGS.arcface and not FLAGS.annotate:
            raise ValueError("--arcface is the identity scorer of --annotate")
        if FLAGS.pairs:
            fileio.check_output(FLAGS.outdir, FLAGS.overwrite, is_dir=True)
        else:
            fileio.check_output(FLAGS.out, FLAGS.overwrite)
        run = model.load_run(FLAGS.run, FLAGS.checkpoint)
        net, G, cfg = run["model"], run["stylegan"], run["config"]
        if FLAGS.pairs:
            if not (FLAGS.id and FLAGS.attr and Path(FLAGS.id).is_dir() and Path(FLAGS.attr).is_dir()):
                raise ValueError("--pairs needs --id DIR and --attr DIR")
            id_dir, attr_dir = Path(FLAGS.id), Path(FLAGS.attr)
            names = sorted({p.name for p in image_files.list_images(id_dir)}
                           & {p.name for p in image_files.list_images(attr_dir)})
            if not names:
                raise FileNotFoundError(f"no file names common to {id_dir} and {attr_dir}")
            done, skipped = 0, 0
            for name in names:
                try:   # a bad pair is skipped and counted; the batch goes on
                    ids = data.prepare_face(id_dir / name, G.resolution, FLAGS.align)[None]
                    attrs = data.prepare_face(attr_dir / name, G.resolution, FLAGS.align)[None]
                except ValueError as e:
                    logging.warning("skipped pair %s: %s", name, e)
                    skipped += 1
                    continue
                out = net(stylegan.from_uint8(ids), stylegan.from_uint8(attrs))["images"]
                fileio.save_image(Path(FLAGS.outdir) / f"{Path(name).stem}.png", stylegan.to_uint8(out)[0])
                done += 1
            print(f"wrote {done} pair outputs to {FLAGS.outdir}; skipped {skipped} unusable pair(s)")
            return 1 if not done else None
        scorer = annotate.scorer_for(cfg, FLAGS.arcface) if FLAGS.annotate else None
        id_in = model.input_faces(FLAGS.id, FLAGS.id_seeds, G, cfg, FLAGS.align)
        attr_in = model.input_faces(FLAGS.attr, FLAGS.attr_seeds, G, cfg, FLAGS.align)
        ids = model.usable_images(id_in, logging.warning, print)
        attrs = model.usable_images(attr_in, logging.warning, print)
    except ValueError as e:   # StyleGANFormatError and NoFaceError are UserErrors already
        raise UserError(e) from e
    grid = model.swap_grid(net, ids, attrs)
    note = ""
    if scorer is not None:
        scores = annotate.score_grid(scorer, grid, G.resolution)
        grid = annotate.annotate_grid(grid, G.resolution, scores, scorer.legend(), id_in["names"], attr_in["names"])
        note = f", annotated (scorer: {scorer.name}"
        if scorer.kind == "face":
            note += f"; no face in I_out of {int((scores['note'] == 'no face').sum())} of {scores['note'].size} cells"
        note += ")"
    fileio.save_image(FLAGS.out, grid)
    print(f"wrote {FLAGS.out}: {len(ids)} identities x {len(attrs)} attributes{note}")


def main(argv=None):
    """`idd-grid` and `python scripts/combine_grid.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
