"""Identity x attribute grid (paper Fig. 2/4), or one output per (identity, attribute) pair.

    python scripts/combine_grid.py --run runs/00000-toy --id_seeds 0-3 --attr_seeds 10-12 --out grid.png
    python scripts/combine_grid.py --run RUN --id photos/a.jpg,photos/b.jpg --attr photos/ --align --out grid.png
    python scripts/combine_grid.py --run RUN --pairs --id ids/ --attr attrs/ --align --outdir out/pairs
    python scripts/combine_grid.py --run RUN --id_seeds 0-3 --attr_seeds 10-12 --annotate --out grid.png

Grid: top row = identity images, left column = attribute images, cell = identity of its column
with the attributes of its row; (n_id + 1) x (n_attr + 1) tiles at the model's resolution.
--pairs: files with the same name in both folders; writes OUTDIR/<name>.png per pair.
--id / --attr: a file or folder as given (commas and all), @LIST (a text file naming one path per
line: the way to give several files whose names hold commas), or a comma-separated list. Folders
are read whatever the files' extensions (every format Pillow reads); their entries that are not
usable images (not an image, unreadable, truncated, too small, a sub-folder, a dangling link, no
face with --align) are skipped, each named in a warning and in one summary line, and the batch goes
on; in --pairs, names found in one folder only are skipped and named too. Hidden files (.name)
are ignored.
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
    from idd_tf.utils.image_files import INPUTS_HELP
    flags.DEFINE_bool("overwrite", False, "replace earlier outputs at the same place")
    flags.DEFINE_string("run", None, "training run directory (toy: the shipped toy run)", required=True)
    flags.DEFINE_string("checkpoint", None, "a specific checkpoint (default: the run's latest)")
    flags.DEFINE_string("id", None, f"identity images: {INPUTS_HELP}")
    flags.DEFINE_string("attr", None, f"attribute images: {INPUTS_HELP}")
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
    from idd_tf.method import annotate, model
    from idd_tf.utils import fileio
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
            return pairs_main(net, G)
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


def pairs_main(net, G):
    """--pairs: OUTDIR/<name>.png for every name found in both folders; every other entry of either
    folder (unusable on one side, or without a partner) is skipped and named."""
    from idd_tf.method import data
    from idd_tf.stylegan import networks as stylegan
    from idd_tf.utils import fileio, image_files
    if not (FLAGS.id and FLAGS.attr):
        raise ValueError("--pairs needs --id DIR and --attr DIR")
    for flag, value in (("--id", FLAGS.id), ("--attr", FLAGS.attr)):
        if not Path(value).is_dir():
            raise ValueError(f"--pairs needs two folders: {flag} {value} is not a folder")
    sides = []   # per folder: (folder, usable names, {unusable name: reason})
    for folder in (Path(FLAGS.id), Path(FLAGS.attr)):
        found, lost = image_files.scan_folder(folder)
        sides.append((folder, {p.name for p in found}, {Path(n).name: r for n, r, _ in lost.items}))
    names = sorted(set().union(*(ok | set(bad) for _, ok, bad in sides)))
    if not names:
        raise FileNotFoundError(f"no files in {sides[0][0]} or {sides[1][0]}")
    skipped, done = image_files.Skipped(), 0
    for name in names:
        problem = next(((f"{folder.name}/: {bad[name]}", f"{folder / name}: {bad[name]}") if name in bad
                        else (f"not in {folder.name}/", f"no {name} in {folder}")
                        for folder, ok, bad in sides if name not in ok), None)
        if problem:
            skipped.add(name, *problem)
            continue
        faces = []
        for folder, _, _ in sides:
            try:   # a bad pair is skipped and named; the batch goes on
                faces.append(data.prepare_face(folder / name, G.resolution, FLAGS.align)[None])
            except ValueError as e:
                skipped.add(name, f"{folder.name}/: {image_files.short_reason(e)}", str(e))
                break
        if len(faces) < 2:
            continue
        ids, attrs = faces
        out = net(stylegan.from_uint8(ids), stylegan.from_uint8(attrs))["images"]
        fileio.save_image(Path(FLAGS.outdir) / f"{Path(name).stem}.png", stylegan.to_uint8(out)[0])
        done += 1
    skipped.report(logging.warning, print, len(names), noun="pairs")
    if not done:
        raise UserError(f"no usable pair of files with the same name in {sides[0][0]} and {sides[1][0]}")
    print(f"wrote {done} pair outputs to {FLAGS.outdir}")


def main(argv=None):
    """`idd-grid` and `python scripts/combine_grid.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
