"""Scoring against the toy world's ground truth: how well a StyleGAN covers the world.

All scores use the independent evaluator's outputs (features for FID/KID, predicted factors for
coverage), passed in as functions, so this module knows nothing about its architecture:

- `features_fn(images_u8 [N, R, R, 3]) -> [N, d]` (the evaluator's feature space)
- `factors_fn(images_u8) -> {factor name: [N]}` (the evaluator's factor predictions)

The floor of every distance is the same figure for two disjoint sets of renders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from idd_tf.method import annotate, metrics
from idd_tf.toy import world as toyworld


def kid(feats_a: np.ndarray, feats_b: np.ndarray, subsets: int = 20, subset_size: int = 1000,
        seed: int = 0) -> dict:
    """Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial
    kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets. Returns {"mean", "std"}."""
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) \
            - 2 * kxy.mean()
        vals.append(mmd)
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals))}


def wasserstein_1d(a, b) -> float:
    """1-D Wasserstein distance between two samples (mean |quantile difference|)."""
    a, b = np.sort(np.asarray(a, np.float64)), np.sort(np.asarray(b, np.float64))
    q = np.linspace(0, 1, max(len(a), len(b)))
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


def render_set(n: int, seed: int, resolution: int, batch: int = 256) -> dict:
    """n renders (toyworld.example(i, seed)) with their true factors: {"images", "factors"}."""
    images, factors = [], {name: [] for name in toyworld.FACTOR_NAMES}
    for i in range(n):
        ex = toyworld.example(i, seed, resolution)
        images.append(ex["image"])
        for name, value in {**ex["identity"], **ex["attributes"]}.items():
            factors[name].append(value)
    return {"images": np.stack(images), "factors": {k: np.asarray(v) for k, v in factors.items()}}


def factor_effects(factors, names, resolution: int = 64, threshold: int = 8) -> dict:
    """How much each factor can show in an image. For each factor vector (rows of `factors`, [N,
    len(FACTOR_NAMES)]) and each of `names`: the render with the factor at the low end of its range
    against the one at the high end (a hue, which wraps: against the opposite hue), all else fixed.
    -> {name: {"pixels": int [N] pixels that change by more than `threshold` levels (0: invisible in
    that image, e.g. light azimuth under no light), "landmark_shift": float [N] the largest move of a
    landmark, pixels}}. An evaluator's R^2 can reach 1 only where a factor shows, and only as far as
    its effect is resolved and told apart from the other factors' effects."""
    from idd_tf.toy.nets import CIRCULAR_FACTORS
    spec = {f.name: f for f in toyworld.IDENTITY_FACTORS + toyworld.ATTRIBUTE_FACTORS}
    out = {n: {"pixels": np.zeros(len(factors), np.int64), "landmark_shift": np.zeros(len(factors))} for n in names}
    for i, vec in enumerate(np.asarray(factors)):
        ident, att = toyworld.factors_from_vector(vec)
        both = {**ident, **att}
        for n in names:
            v = both[n]
            ends = []
            for value in ((v, (v + 0.5) % 1.0) if n in CIRCULAR_FACTORS else (spec[n].low, spec[n].high)):
                a, b = dict(ident), dict(att)
                (a if n in a else b)[n] = value
                ends.append((toyworld.render(a, b, resolution).astype(np.int16), toyworld.landmarks(a, b, resolution)))
            out[n]["pixels"][i] = int((np.abs(ends[1][0] - ends[0][0]).max(-1) > threshold).sum())
            out[n]["landmark_shift"][i] = float(np.linalg.norm(ends[0][1] - ends[1][1], axis=-1).max())
    return out


def stylegan_samples(Gs, n: int, seed: int = 0, psi: float = 1.0, batch: int = 64) -> np.ndarray:
    """n uint8 samples of a StyleGAN (z ~ N(0, I) from `seed`, random noise, truncation psi)."""
    from idd_tf.stylegan import networks as stylegan
    rng = np.random.RandomState(seed)
    out = []
    for start in range(0, n, batch):
        z = rng.randn(min(batch, n - start), Gs.latent_size).astype(np.float32)
        out.append(stylegan.to_uint8(Gs(z, truncation_psi=psi, noise_mode="random")).numpy())
    return np.concatenate(out)


def _factor_scale(name: str) -> float:
    f = {f.name: f for f in toyworld.IDENTITY_FACTORS + toyworld.ATTRIBUTE_FACTORS}[name]
    return float(f.high - f.low)


def coverage(predicted: dict, prior: dict) -> dict:
    """Per-factor 1-D Wasserstein distance between the evaluator's predictions on generated images
    and the renderer's prior samples, in units of the prior's std (discrete factors: total
    variation distance of the class histograms). Returns {"per_factor", "mean_continuous", "mean_discrete"}."""
    kinds = {f.name: f.kind for f in toyworld.IDENTITY_FACTORS + toyworld.ATTRIBUTE_FACTORS}
    per = {}
    for name, pred in predicted.items():
        true = np.asarray(prior[name])
        if kinds[name] == "discrete":
            k = int(max(true.max(), np.max(pred))) + 1
            p = np.bincount(np.asarray(pred, int), minlength=k) / len(pred)
            q = np.bincount(true.astype(int), minlength=k) / len(true)
            per[name] = {"kind": "discrete", "tv": float(0.5 * np.abs(p - q).sum())}
        else:
            std = float(np.std(true)) or 1.0
            per[name] = {"kind": "continuous", "w1_std": wasserstein_1d(pred, true) / std}
    cont = [v["w1_std"] for v in per.values() if v["kind"] == "continuous"]
    disc = [v["tv"] for v in per.values() if v["kind"] == "discrete"]
    return {"per_factor": per, "mean_continuous": float(np.mean(cont)) if cont else None,
            "mean_discrete": float(np.mean(disc)) if disc else None}


def stylegan_quality(Gs, features_fn, factors_fn, n: int = 5000, seed: int = 0) -> dict:
    """FID/KID of Gs samples vs renders and of renders vs disjoint renders (the floor), and factor
    coverage of Gs samples and of the disjoint renders (the floor), all in the evaluator's terms."""
    res = Gs.resolution
    ref = render_set(n, seed + 1_000_001, res)
    other = render_set(n, seed + 2_000_003, res)
    fakes = stylegan_samples(Gs, n, seed)
    f_ref, f_other, f_fake = (np.asarray(features_fn(x), np.float64)
                              for x in (ref["images"], other["images"], fakes))
    pred_fake, pred_other = factors_fn(fakes), factors_fn(other["images"])
    return {
        "n": n,
        "fid": metrics.frechet_distance(f_fake, f_ref),
        "fid_floor": metrics.frechet_distance(f_other, f_ref),
        "kid": kid(f_fake, f_ref), "kid_floor": kid(f_other, f_ref),
        "coverage": coverage(pred_fake, ref["factors"]),
        "coverage_floor": coverage(pred_other, ref["factors"]),
        "_predicted": pred_fake, "_prior": ref["factors"],
    }


def coverage_plot(predicted: dict, prior: dict, path, title: str = "") -> Path:
    """One PNG: per factor, the histogram of the renderer's prior and of the evaluator's
    predictions on generated images."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from idd_tf.utils import fileio
    names = list(predicted)
    cols = 6
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.4, rows * 1.9))
    for ax, name in zip(np.ravel(axes), names):
        true, pred = np.asarray(prior[name], float), np.asarray(predicted[name], float)
        bins = np.linspace(min(true.min(), pred.min()), max(true.max(), pred.max()) + 1e-9, 25)
        ax.hist(true, bins=bins, alpha=0.5, density=True, label="renderer prior")
        ax.hist(pred, bins=bins, alpha=0.5, density=True, label="StyleGAN (evaluator)")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in np.ravel(axes)[len(names):]:
        ax.axis("off")
    np.ravel(axes)[0].legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return fileio.atomic_write_bytes(Path(path), buf.getvalue())


# ----------------------------------------------------------------------------------------------
# Disentanglement: does I_out keep the identity of I_id and the attributes of I_attr?

IDENTITY_NAMES = tuple(f.name for f in toyworld.IDENTITY_FACTORS)
ATTRIBUTE_NAMES = tuple(f.name for f in toyworld.ATTRIBUTE_FACTORS)
POSE = ("yaw", "pitch", "roll")


def prior_std(name: str) -> float:
    """Standard deviation of a continuous factor under the renderer's prior (uniform in [low, high])."""
    return _factor_scale(name) / np.sqrt(12.0)


def factor_errors(pred: dict, ref: dict, names) -> dict:
    """Per-sample factor disagreement of `pred` with `ref` ({name: [N]}, e.g. the evaluator on
    I_out and on I_id): |difference| in prior std units for continuous factors (hues wrapped),
    0/1 mismatch for discrete ones. Returns {"per_factor": {name: mean}, "continuous": [N] mean
    over the continuous factors, "discrete": [N] mean mismatch (None without discrete factors)}."""
    from idd_tf.toy.nets import CIRCULAR_FACTORS  # hues wrap around: 0 and 1 are the same colour
    kinds = {f.name: f.kind for f in toyworld.IDENTITY_FACTORS + toyworld.ATTRIBUTE_FACTORS}
    cont, disc, per = [], [], {}
    for name in names:
        a, b = np.asarray(pred[name], np.float64), np.asarray(ref[name], np.float64)
        if kinds[name] == "discrete":
            err = (np.rint(a) != np.rint(b)).astype(np.float64)
            disc.append(err)
        else:
            d = a - b
            if name in CIRCULAR_FACTORS:
                d = (d + 0.5) % 1.0 - 0.5
            err = np.abs(d) / prior_std(name)
            cont.append(err)
        per[name] = float(err.mean())
    return {"per_factor": per, "continuous": np.mean(cont, axis=0) if cont else None,
            "discrete": np.mean(disc, axis=0) if disc else None}


def evaluator_outputs(evaluator, images_u8, batch: int = 256) -> dict:
    """One evaluator pass over uint8 images: {"factors": {name: [N]}, "embedding": [N, d],
    "landmarks": [N, 68, 2], "features": [N, hidden] float64} (reuse it for every row that shares
    I_id or I_attr)."""
    from idd_tf.toy import nets as toynets
    x = toynets.to_float(images_u8)
    outs = [evaluator(x[i:i + batch]) for i in range(0, len(x), batch)]
    raw = {k: np.concatenate([o[k].numpy() for o in outs]) for k in outs[0]}
    return {"factors": toynets.decode_factors({k: v for k, v in raw.items()
                                               if k not in ("embedding", "landmarks", "features")}),
            "embedding": raw["embedding"], "landmarks": raw["landmarks"],
            "features": raw["features"].astype(np.float64)}


def disentanglement_scores(evaluator, id_u8, attr_u8, out_u8, batch: int = 256) -> dict:
    """The toy world's analog of the paper's Table 1, scored by the independent evaluator only.

    identity: factor error of I_out vs I_id over the identity factors (std units / mismatch
    rate) and the cosine of the evaluator's identity embeddings; attributes: factor error of
    I_out vs I_attr over the attribute factors, landmark distance (mean L2 of the evaluator's 68
    points, as a fraction of the image side: the paper's expression metric normalised by
    resolution) and pose error (L2 of yaw, pitch, roll differences, degrees). Means over pairs,
    and the per-pair arrays under "per_pair" (for confidence intervals and best/worst pairs).
    Any of the three image sets may be given as `evaluator_outputs` instead (computed once).
    """
    e_id, e_attr, e_out = (x if isinstance(x, dict) else evaluator_outputs(evaluator, x, batch)
                           for x in (id_u8, attr_u8, out_u8))
    ident = factor_errors(e_out["factors"], e_id["factors"], IDENTITY_NAMES)
    attrs = factor_errors(e_out["factors"], e_attr["factors"], ATTRIBUTE_NAMES)
    cosine = np.sum(e_out["embedding"] * e_id["embedding"], axis=-1)
    lnd = np.linalg.norm(e_out["landmarks"] - e_attr["landmarks"], axis=-1).mean(-1)
    pose = np.sqrt(sum((e_out["factors"][n] - e_attr["factors"][n]) ** 2 for n in POSE))
    per_pair = {"id_factor_error": ident["continuous"], "id_discrete_error": ident["discrete"],
                "id_cosine": cosine, "attr_factor_error": attrs["continuous"],
                "landmark_error": lnd, "pose_error_deg": pose}
    return {"n": int(len(cosine)),
            **{k: float(np.mean(v)) for k, v in per_pair.items()},
            "id_per_factor": ident["per_factor"], "attr_per_factor": attrs["per_factor"],
            "per_pair": per_pair}


def ground_truth_pairs(n: int, seed: int, resolution: int = 64) -> dict:
    """n renderer pairs with the ideal answer: I_id = person a in view a, I_attr = person b in view
    b (a != b), truth = render(identity of a, attributes of b). uint8 {"id", "attr", "truth"}."""
    rng = np.random.default_rng([seed, 7])
    ids, attrs, truths = [], [], []
    for i in range(n):
        a = toyworld.person_example(2 * i, 0, seed, resolution)
        b = toyworld.person_example(2 * i + 1, 1 + int(rng.integers(1000)), seed, resolution)
        ids.append(a["image"])
        attrs.append(b["image"])
        truths.append(toyworld.render(a["identity"], b["attributes"], resolution))
    return {"id": np.stack(ids), "attr": np.stack(attrs), "truth": np.stack(truths)}


def image_distances(out_u8, truth_u8) -> dict:
    """Per-image PSNR (dB), MS-SSIM and mean L1 (in [0, 1] units) of outputs against targets,
    averaged: {"psnr", "ms_ssim", "l1"}."""
    from idd_tf.method import losses
    from idd_tf.toy import nets as toynets
    a = np.asarray(out_u8, np.float64)
    b = np.asarray(truth_u8, np.float64)
    mse = ((a - b) ** 2).mean(axis=(1, 2, 3))
    psnr = 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))
    l1 = np.abs(a - b).mean(axis=(1, 2, 3)) / 255.0
    ssim = losses.ms_ssim(toynets.to_float(out_u8), toynets.to_float(truth_u8)).numpy()
    return {"psnr": float(psnr.mean()), "ms_ssim": float(ssim.mean()), "l1": float(l1.mean())}


# ----------------------------------------------------------------------------------------------
# The grid scorer of toy runs (`annotate.scorer_for`, through the "scorers" entry point "toy").

class ToyScorer:
    """Scores by the toy world's independent evaluator (`nets.load_net(dir, "evaluator")`):
    the same per-pair numbers as `disentanglement_scores` (id_cosine,
    landmark_error). Every image gets a score (no detection step)."""

    kind, name = "toy", "the toy world's independent evaluator"

    def __init__(self, evaluator):
        self.evaluator = evaluator

    def legend(self) -> list[str]:
        return annotate.legend("toy")

    def score(self, id_u8, attr_u8, out_u8) -> dict:
        """{"identity": [N] cosine, "landmarks": [N] error / side, "note": [N] str (all "")}."""
        pp = disentanglement_scores(self.evaluator, np.asarray(id_u8), np.asarray(attr_u8),
                                                   np.asarray(out_u8))["per_pair"]
        n = len(pp["id_cosine"])
        return {"identity": np.asarray(pp["id_cosine"], np.float64),
                "landmarks": np.asarray(pp["landmark_error"], np.float64), "note": np.full(n, "", object)}


def toy_scorer(evaluator_dir=None) -> ToyScorer:
    """A `ToyScorer` with the evaluator of `evaluator_dir` (default: the shipped toy parts)."""
    from idd_tf.method import presets
    from idd_tf.toy import nets
    return ToyScorer(nets.load_net(evaluator_dir or presets.TOY_WEIGHTS_DIR, "evaluator"))
