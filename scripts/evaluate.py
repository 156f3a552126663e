"""The paper's Table 1 / Table 2 metrics on N random (identity, attribute) pairs of a dataset.

    python scripts/evaluate.py --run RUN --num_pairs 500 --fid_weights inception_v3_notop.h5 --out out/eval

Disentanglement (I_id != I_attr): identity = cosine similarity of dlib face descriptors of I_id and
I_out (higher is better), expression = mean L2 of dlib 68 landmarks of I_attr vs I_out / resolution,
pose = L2 of (yaw, pitch, roll) of I_attr vs I_out in degrees; FID of I_out vs dataset images on
MTCNN face crops (only with --fid_weights). Reconstruction (I_id == I_attr): RMSE, PSNR, identity.
Pairs whose faces cannot be found are skipped and counted. Writes OUT/metrics.json and OUT/metrics.md.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_bool("overwrite", False, "replace earlier outputs at the same place")
flags.DEFINE_string("run", None, "training run directory", required=True)
flags.DEFINE_string("checkpoint", None, "a specific checkpoint (default: latest)")
flags.DEFINE_string("dataset", None, "generated dataset (default: the run's)")
flags.DEFINE_integer("num_pairs", 100, "number of random pairs")
flags.DEFINE_integer("seed", 0, "which pairs")
flags.DEFINE_string("arcface", None, "ArcFace network (.keras/.h5 or SavedModel) for a second identity metric")
flags.DEFINE_string("fid_weights", None, "InceptionV3 notop .h5 for FID (no download; FID skipped without)")
flags.DEFINE_string("out", "out/evaluate", "output folder")


def face_info(image_u8):
    """metrics.face_info, or None where no face is found (the pair is then skipped and counted)."""
    from idd_tf import faces, metrics
    try:
        return metrics.face_info(image_u8)
    except faces.NoFaceError:
        return None


def mean_or_none(values):
    import numpy as np
    return float(np.mean(values)) if values else None


def main(argv):
    del argv
    import numpy as np
    from tqdm import tqdm

    from idd_tf import data, metrics, model, stylegan
    from idd_tf.legacy import StyleGANFormatError
    try:
        data.check_output(FLAGS.out, FLAGS.overwrite, is_dir=True)
        run = model.load_run(FLAGS.run, FLAGS.checkpoint)
        net = run["model"]
        dataset = FLAGS.dataset or run["config"].dataset
        if FLAGS.fid_weights and not Path(FLAGS.fid_weights).is_file():
            raise FileNotFoundError(f"--fid_weights {FLAGS.fid_weights}: no such file")
        arcface = metrics.ArcFace(FLAGS.arcface) if FLAGS.arcface else None
        batches = iter(data.make_dataset(dataset, 2, seed=FLAGS.seed, shuffle_buffer=256))
    except (FileNotFoundError, FileExistsError, ValueError, StyleGANFormatError) as e:
        logging.error("%s", e)
        sys.exit(1)
    vals = {k: [] for k in ("identity", "identity_arcface", "expression", "pose", "rec_rmse",
                            "rec_psnr", "rec_identity")}
    skipped = {"disentanglement": 0, "reconstruction": 0}
    outs, reals = [], []
    for _ in tqdm(range(FLAGS.num_pairs), desc="pairs", unit="pair"):
        raw = next(batches)["image"]
        id_img, attr_img = raw[:1], raw[1:2]
        out = stylegan.to_uint8(net(id_img, attr_img)["images"]).numpy()[0]
        rec = stylegan.to_uint8(net(id_img, id_img)["images"]).numpy()[0]
        i_u8, a_u8 = (stylegan.to_uint8(x).numpy()[0] for x in (id_img, attr_img))
        fi, fa, fo, fr = (face_info(x) for x in (i_u8, a_u8, out, rec))  # one detection each
        if fi and fa and fo:
            vals["identity"].append(metrics.cosine(fi["descriptor"], fo["descriptor"]))
            if arcface:
                vals["identity_arcface"].append(float(arcface.embed(i_u8, fi["detection"])
                                                      @ arcface.embed(out, fo["detection"])))
            vals["expression"].append(metrics.landmark_distance(fa["landmarks"], fo["landmarks"],
                                                                out.shape[0]))
            vals["pose"].append(float(np.linalg.norm(metrics.head_pose(a_u8, fa["landmarks"])
                                                     - metrics.head_pose(out, fo["landmarks"]))))
            outs.append(out)
            reals.append(a_u8)
        else:
            skipped["disentanglement"] += 1
        vals["rec_rmse"].append(metrics.rmse(i_u8, rec))
        vals["rec_psnr"].append(min(metrics.psnr(i_u8, rec), 100.0))
        if fi and fr:
            vals["rec_identity"].append(metrics.cosine(fi["descriptor"], fr["descriptor"]))
        else:
            skipped["reconstruction"] += 1
    fid = None
    if FLAGS.fid_weights and len(outs) >= 2:
        feats = metrics.FIDFeatures(FLAGS.fid_weights)
        fid = metrics.frechet_distance(feats(reals), feats(outs))
    result = {"run": str(FLAGS.run), "checkpoint": run["checkpoint"], "pairs": FLAGS.num_pairs,
              "skipped_no_face": skipped, "fid": fid,
              **{k: mean_or_none(v) for k, v in vals.items()},
              "counts": {k: len(v) for k, v in vals.items()}}
    out_dir = Path(FLAGS.out)
    data.atomic_write_bytes(out_dir / "metrics.json", (json.dumps(result, indent=2) + "\n").encode())
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    rows = [("identity similarity, dlib (higher better)", "identity"),
            ("identity similarity, ArcFace (higher better)", "identity_arcface"), ("expression L2 / res (lower)", "expression"),
            ("pose L2, degrees (lower)", "pose"), ("reconstruction RMSE", "rec_rmse"),
            ("reconstruction PSNR, dB", "rec_psnr"), ("reconstruction identity", "rec_identity")]
    md = ["| metric | value | n |", "|---|---|---|"]
    md += [f"| {label} | {fmt(result[key])} | {result['counts'][key]} |" for label, key in rows]
    md += [f"| FID (face crops) | {fmt(fid) if fid is not None else 'n/a (no --fid_weights)'} | {len(outs)} |",
           "", f"Pairs: {FLAGS.num_pairs}; skipped without a detectable face: "
           f"{skipped['disentanglement']} (disentanglement), {skipped['reconstruction']} (reconstruction)."]
    data.atomic_write_bytes(out_dir / "metrics.md", ("\n".join(md) + "\n").encode())
    print("\n".join(md))


if __name__ == "__main__":
    app.run(main)
