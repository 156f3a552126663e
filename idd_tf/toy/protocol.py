"""The toy world's evaluation protocol: the method against copy and style-mixing baselines.

The paper's Table 1 (disentanglement), Table 2 (reconstruction) and Fig. 4/5 settings, scored by
the independent evaluator only (never by E_id or E_lnd, which the method trains against):

- generated pairs (Fig. 4): I_id and I_attr drawn by the toy StyleGAN (z -> w, the run's
  truncation, const noise, as the training data), so w is known and style mixing is a baseline;
- rendered pairs (Fig. 5 / Table 1, the analog of real photos): renderer images of two different
  people, with the ideal answer, the render of (identity of I_id, attributes of I_attr);
- reconstruction (Table 2): I_id == I_attr, from both sources.

Every row is a function (I_id, I_attr) -> I_out over uint8 images; `evaluate` scores each one.
Render seeds are disjoint from those of every toy network's training (`toynets.SEEDS`) and of the
StyleGAN's data (seed 0).
"""

from __future__ import annotations

import functools

import numpy as np

from idd_tf.method import metrics
from idd_tf.stylegan import networks as stylegan
from idd_tf.toy import evaluation as toy_evaluation
from idd_tf.toy import world as toyworld

RENDER_SEED = 401          # + the protocol seed: renders never seen by any trained toy part
BATCH = 64


def _batched(fn, *arrays, batch=BATCH):
    return np.concatenate([fn(*(a[i:i + batch] for a in arrays)) for i in range(0, len(arrays[0]), batch)])


def generated_pairs(G, n: int, seed: int, psi: float, cutoff: int) -> dict:
    """n pairs of StyleGAN samples with their ws: z from RandomState([seed, 1]) (identities) and
    ([seed, 2]) (attributes), truncation (psi, cutoff) as the training data, const noise.
    {"id", "attr": uint8 [n, R, R, 3], "ws_id", "ws_attr": [n, num_layers, dlatent]}."""
    out = {}
    for key, stream in (("id", 1), ("attr", 2)):
        z = np.random.RandomState([seed, stream]).randn(n, G.latent_size).astype(np.float32)
        ws = _batched(lambda zz: G.truncate(G.mapping(zz), psi, cutoff).numpy(), z)
        out[key] = synthesize(G, ws)
        out[f"ws_{key}"] = ws
    return out


def synthesize(G, ws) -> np.ndarray:
    """uint8 images of ws [N, num_layers, dlatent] (const noise)."""
    return _batched(lambda w: stylegan.to_uint8(G.synthesis(w, noise_mode="const")).numpy(), ws)


def method(net):
    """The trained model as a row: (I_id, I_attr) uint8 -> I_out uint8."""
    def generate(id_u8, attr_u8):
        return _batched(lambda a, b: stylegan.to_uint8(
            net(stylegan.from_uint8(a), stylegan.from_uint8(b))["images"]).numpy(), id_u8, attr_u8)
    return generate


# project()'s prior for the in-distribution bound: it keeps the shipped toy StyleGAN's projected ws about as
# far from its samples as they are (docs/toy_world.md#rendered-pairs-what-closes-the-gap).
PRIOR = 0.003
# evaluate(bound=True)'s rows: (w_plus, prior, the space named in the row).
BOUND_ROWS = ((False, 0.0, "W"), (True, 0.0, "W+"), (False, PRIOR, "W, near its samples"))


def w_statistics(G, n: int = 20000, seed: int = 5):
    """(mean, whitening matrix) of the mapping network's w for n untruncated z: (w - mean) @ white
    has identity covariance, so its norm is w's Mahalanobis distance from the samples."""
    z = np.random.RandomState(seed).randn(n, G.latent_size).astype(np.float32)
    w = _batched(lambda zz: G.mapping(zz).numpy()[:, 0], z).astype(np.float64)
    values, vectors = np.linalg.eigh(np.cov(w.T) + 1e-6 * np.eye(w.shape[1]))
    return w.mean(0).astype(np.float32), (vectors / np.sqrt(values)).astype(np.float32)


def project(G, images_u8, w_plus: bool = False, steps: int = 300, lr: float = 0.05, batch: int = 128,
            prior: float = 0.0, stats=None) -> np.ndarray:
    """The toy StyleGAN's closest reach to `images_u8`: w (one for every layer, or one per layer
    with `w_plus`) from `dlatent_avg`, Adam on the pixels' mean squared error, const noise; uint8
    images of the ws found. Applied to the ideal renders it bounds what any encoder into this
    StyleGAN can output (by pixels; it never sees the evaluator). `prior` > 0 adds prior x the
    squared Mahalanobis distance / dlatent_size of w from the mapping's samples (`stats`, default
    `w_statistics(G)`): the reach of ws where the mapping network puts its samples, which is
    where an encoder trained on them learns to output (the unconstrained projection goes far off it)."""
    import tensorflow as tf
    layers = G.num_layers if w_plus else 1
    if prior:
        mean, white = stats if stats is not None else w_statistics(G)
        mean, white = tf.constant(mean), tf.constant(white)
    out = []
    for i in range(0, len(images_u8), batch):
        target = tf.constant(stylegan.from_uint8(images_u8[i:i + batch]))
        w = tf.Variable(np.tile(G.dlatent_avg.numpy()[None, None], [len(target), layers, 1]))
        opt = tf.keras.optimizers.Adam(lr)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                ws = w if w_plus else tf.tile(w, [1, G.num_layers, 1])
                loss = tf.reduce_mean(tf.square(G.synthesis(ws, noise_mode="const") - target))
                if prior:
                    loss += prior * tf.reduce_mean(tf.square((w - mean) @ white)) * layers
            opt.apply_gradients([(tape.gradient(loss, w), w)])

        for _ in range(steps):
            step()
        out.append(synthesize(G, w.numpy() if w_plus else np.tile(w.numpy(), [1, G.num_layers, 1])))
    return np.concatenate(out)


def style_mix(ws_coarse, ws_fine, crossover: int) -> np.ndarray:
    """StyleGAN's style mixing: layers < crossover from `ws_coarse`, the rest from `ws_fine`."""
    return np.concatenate([ws_coarse[:, :crossover], ws_fine[:, crossover:]], axis=1)


def _row(evaluator, e_id, e_attr, out_u8, ref_feats=None, truth=None) -> dict:
    """Scores of one row; `e_id`, `e_attr`: `toy_evaluation.evaluator_outputs` of the inputs."""
    e_out = toy_evaluation.evaluator_outputs(evaluator, out_u8)
    s = toy_evaluation.disentanglement_scores(evaluator, e_id, e_attr, e_out)
    row = {k: v for k, v in s.items() if k != "per_pair"}
    row["_per_pair"] = s["per_pair"]
    if ref_feats is not None:
        f = e_out["features"]
        row["fid"] = metrics.frechet_distance(f, ref_feats)
        row["kid"] = toy_evaluation.kid(f, ref_feats, subsets=10, subset_size=min(500, len(f)))["mean"]
    if truth is not None:
        row.update({f"truth_{k}": v for k, v in toy_evaluation.image_distances(out_u8, truth).items()})
    return row


def normalise(rows, id_ref: float, attr_ref: float) -> None:
    """Adds "norm_id" (identity-factor error / `id_ref`, copy-I_attr's), "norm_attr" (attribute-
    factor error / `attr_ref`, copy-I_id's) and their sum "norm_sum" to every row (dicts): copying
    either input scores 1, the ideal 0."""
    for r in rows:
        r["norm_id"] = r["id_factor_error"] / id_ref
        r["norm_attr"] = r["attr_factor_error"] / attr_ref
        r["norm_sum"] = r["norm_id"] + r["norm_attr"]


def normalise_table(rows: dict, extra=()) -> None:
    normalise([*rows.values(), *extra], rows["copy I_attr"]["id_factor_error"],
              rows["copy I_id"]["attr_factor_error"])


def sum_against_mixing(generated: dict, curve: list, resamples: int = 1000, seed: int = 0) -> dict | None:
    """How sure "the method's normalised sum is below the best style mixing's" is on these pairs:
    a paired bootstrap over the generated pairs (the same resampled pairs for every row, the copy
    baselines that normalise included) of method norm sum - best mixing norm sum, the best
    crossover chosen again in every resample (choosing the best of many on the same pairs favours
    mixing; the resampling keeps that). None without mixing rows.

    {"difference": observed, "low", "high": the 2.5% / 97.5% quantiles, "method_lower": the
    fraction of resamples where the method's sum is lower, "resamples"}."""
    if not curve:
        return None
    rows = [generated["method"], *curve]
    pp = lambda r, k: np.asarray(r["_per_pair"][k], np.float64)  # noqa: E731
    ident = np.stack([pp(r, "id_factor_error") for r in rows], axis=1)      # [n, rows]
    attrs = np.stack([pp(r, "attr_factor_error") for r in rows], axis=1)
    id_ref = pp(generated["copy I_attr"], "id_factor_error")
    attr_ref = pp(generated["copy I_id"], "attr_factor_error")
    n = len(id_ref)
    counts = np.random.default_rng([seed, 1234]).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    counts = np.vstack([np.ones(n), counts])                                # row 0: the pairs as drawn
    sums = (counts @ ident) / (counts @ id_ref)[:, None] + (counts @ attrs) / (counts @ attr_ref)[:, None]
    diff = sums[:, 0] - sums[:, 1:].min(axis=1)
    return {"difference": float(diff[0]), "low": float(np.quantile(diff[1:], 0.025)),
            "high": float(np.quantile(diff[1:], 0.975)), "method_lower": float(np.mean(diff[1:] < 0)),
            "resamples": int(resamples)}


def evaluate(net, G, evaluator, n: int = 500, seed: int = 0, psi: float = 0.7, cutoff: int = 8,
             mixing: bool = True, bound: bool = False, progress=None) -> dict:
    """The whole protocol for one trained model. `progress(message, stage, stages)` is called
    before each stage (for a progress bar).

    Returns {"n", "seed", "generated": {row: scores}, "rendered": {row: scores},
    "reconstruction": {"generated": scores, "rendered": scores}, "mixing_curve": [...],
    "best_mixing": row name, "_images": example images for pictures, and under
    "generated_pairs" every generated pair's "id", "attr" and "method" output (uint8 [n, R, R, 3],
    in the order of each row's "_per_pair" arrays)}. Scores: see
    `toy_evaluation.disentanglement_scores`, plus fid/kid (evaluator features of I_out vs renders)
    and, on rendered pairs, truth_psnr/ms_ssim/l1 against the ideal render. With `bound`, the
    rendered pairs get three rows more: the ideal render projected into the StyleGAN (`project`, W
    and W+), what any encoder into it could reach at best by pixels, and into W near the mapping's
    samples (`prior=PRIOR`), what an encoder that outputs ws like the ones it was trained on could.
    """
    stages = 4 + (G.num_layers - 1 if mixing else 0) + (len(BOUND_ROWS) if bound else 0)
    count = iter(range(stages))

    def say(message):
        if progress:
            progress(message, next(count), stages)

    res = G.resolution
    run = method(net)
    say(f"reference renders ({n})")
    ref = toy_evaluation.render_set(n, RENDER_SEED + 1000 + seed, res)
    ev = functools.partial(toy_evaluation.evaluator_outputs, evaluator)
    ref_feats = ev(ref["images"])["features"]
    other_feats = ev(toy_evaluation.render_set(n, RENDER_SEED + 2000 + seed, res)["images"])["features"]

    say(f"generated pairs ({n})")
    g = generated_pairs(G, n, seed, psi, cutoff)
    gi, ga = ev(g["id"]), ev(g["attr"])
    gen_out = run(g["id"], g["attr"])
    gen = {"method": _row(evaluator, gi, ga, gen_out, ref_feats),
           "copy I_attr": _row(evaluator, gi, ga, g["attr"], ref_feats),
           "copy I_id": _row(evaluator, gi, ga, g["id"], ref_feats)}
    curve = []
    if mixing:
        for c in range(1, G.num_layers):
            say(f"style mixing at crossover {c} of {G.num_layers - 1}")
            for coarse, fine, name in ((g["ws_attr"], g["ws_id"], "attr coarse + id fine"),
                                       (g["ws_id"], g["ws_attr"], "id coarse + attr fine")):
                out = synthesize(G, style_mix(coarse, fine, c))
                row = _row(evaluator, gi, ga, out, ref_feats)
                curve.append({"crossover": c, "kind": name, **row})
    normalise_table(gen, curve)
    best = None
    for kind in ("attr coarse + id fine", "id coarse + attr fine"):
        cands = [r for r in curve if r["kind"] == kind]
        if cands:
            b = min(cands, key=lambda r: r["norm_sum"])
            name = f"mixing: {kind} (crossover {b['crossover']})"
            gen[name] = {k: v for k, v in b.items() if k not in ("crossover", "kind")}
            if best is None or b["norm_sum"] < gen[best]["norm_sum"]:
                best = name

    say(f"rendered pairs ({n})")
    p = toy_evaluation.ground_truth_pairs(n, RENDER_SEED + seed, res)
    rendered_out = run(p["id"], p["attr"])
    pi, pa = ev(p["id"]), ev(p["attr"])
    rend = {"method": _row(evaluator, pi, pa, rendered_out, ref_feats, p["truth"]),
            "copy I_attr": _row(evaluator, pi, pa, p["attr"], ref_feats, p["truth"]),
            "copy I_id": _row(evaluator, pi, pa, p["id"], ref_feats, p["truth"]),
            "ground truth": _row(evaluator, pi, pa, p["truth"], ref_feats, p["truth"])}
    if bound:
        for w_plus, prior, space in BOUND_ROWS:
            name = f"ideal render projected into G ({space})"
            say(f"{name} ({n})")
            rend[name] = _row(evaluator, pi, pa, project(G, p["truth"], w_plus, prior=prior), ref_feats, p["truth"])
    normalise_table(rend)

    say("reconstruction")
    rec = {}
    for name, images, e_in in (("generated", g["id"], gi), ("rendered", p["id"], pi)):
        out = run(images, images)
        s = toy_evaluation.disentanglement_scores(evaluator, e_in, e_in, out)
        err = (out.astype(np.float64) - images) ** 2
        mse = err.mean(axis=(1, 2, 3))
        rec[name] = {"n": int(len(images)), "psnr": float(np.mean(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10)))),
                     "rmse": float(np.sqrt(mse).mean() / 255.0), "id_cosine": s["id_cosine"],
                     "id_factor_error": s["id_factor_error"], "landmark_error": s["landmark_error"],
                     "pose_error_deg": s["pose_error_deg"]}
    fid_floor = metrics.frechet_distance(other_feats, ref_feats)
    kid_floor = toy_evaluation.kid(other_feats, ref_feats, subsets=10, subset_size=min(500, n))["mean"]
    k = min(8, n)
    return {"n": n, "seed": seed, "psi": psi, "cutoff": cutoff, "generated": gen, "rendered": rend,
            "reconstruction": rec, "mixing_curve": curve, "best_mixing": best,
            "sum_against_mixing": sum_against_mixing(gen, curve, seed=seed),
            "fid_floor": fid_floor, "kid_floor": kid_floor,
            "_images": {"generated": {"id": g["id"][:k], "attr": g["attr"][:k]},
                        "generated_pairs": {"id": g["id"], "attr": g["attr"], "method": gen_out},
                        "rendered": {"id": p["id"][:k], "attr": p["attr"][:k], "truth": p["truth"][:k],
                                     "method": rendered_out[:k]}}}


# The photo analog's targets (issue 28), then the generated pairs' (the paper's setting)
RENDERED_PSNR_MARGIN_DB = 2.0


def targets(result: dict) -> dict:
    """The targets, rendered pairs first: {name: {"value", "limit", "met"}}."""
    gen, rend = result["generated"], result["rendered"]
    m, r = gen["method"], rend["method"]
    psnr_limit = rend["copy I_attr"]["truth_psnr"] + RENDERED_PSNR_MARGIN_DB
    # name: (value, limit, met)
    out = {"rendered: norm sum < 1 (better than copying either input)": (r["norm_sum"], 1.0, r["norm_sum"] < 1.0),
           f"rendered: PSNR to truth >= copy-I_attr's + {RENDERED_PSNR_MARGIN_DB:g} dB":
               (r["truth_psnr"], psnr_limit, r["truth_psnr"] >= psnr_limit),
           "generated: identity error <= 0.3 x copy-I_attr's": (m["norm_id"], 0.3, m["norm_id"] <= 0.3),
           "generated: attribute error <= 0.3 x copy-I_id's": (m["norm_attr"], 0.3, m["norm_attr"] <= 0.3)}
    if result["best_mixing"]:
        best = gen[result["best_mixing"]]["norm_sum"]
        out["generated: norm sum < best style mixing"] = (m["norm_sum"], best, m["norm_sum"] < best)
    return {k: {"value": float(v), "limit": float(lim), "met": bool(met)} for k, (v, lim, met) in out.items()}


def strip_private(value):
    """A JSON-ready copy: keys starting with "_" removed, numpy scalars and arrays as lists."""
    if isinstance(value, dict):
        return {k: strip_private(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [strip_private(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def mixing_interval_text(b: dict, who: str, n: int) -> str:
    """One sentence on `sum_against_mixing`'s result `b` for `who` (a row or variant) on n pairs."""
    return (f"{who}'s norm sum minus the best style mixing's: {b['difference']:+.3f}, 95% interval "
            f"{b['low']:+.3f} to {b['high']:+.3f} (paired bootstrap over these {n} pairs, {b['resamples']} "
            f"resamples, the best crossover chosen again in each); the method is lower in "
            f"{100 * b['method_lower']:.0f}% of them.")


def _md_row(*cells) -> str:
    """One markdown table row."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _header(*names) -> list[str]:
    """A markdown table's header row and rule."""
    return [_md_row(*names).replace("|  |", "| |"), "|" + "---|" * len(names)]


def _fmt(v, digits=3):
    return "-" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


def report_markdown(result: dict, title: str = "Toy-world evaluation") -> str:
    """eval.md: the tables (rendered pairs against the truth, the photo analog, first; generated pairs
    with baselines; reconstruction), the targets, and how to read them."""
    n = result["n"]
    lines = [f"# {title}", "",
             f"{n} pairs per source, protocol seed {result['seed']}; every score from the independent "
             "evaluator (`stylegan_weights/toy/toy_evaluator.*`). Identity error: mean |factor difference| "
             "of I_out vs I_id over the continuous identity factors, in prior-std units (discrete: mismatch "
             "rate); attribute error: the same vs I_attr over the attribute factors; landmarks: mean L2 of "
             "68 points / image side; pose: L2 of (yaw, pitch, roll) in degrees; norm: error / the copy "
             "baseline's (copy I_attr for identity, copy I_id for attributes; sum 1 = no better than copying).",
             "", "## Rendered pairs (renderer images, the photo analog; the ideal output is known)", "",
             *_header("", "id error", "id cosine", "attr error", "landmarks", "pose (deg)", "norm sum",
                      "PSNR to truth", "MS-SSIM to truth", "L1 to truth")]
    for name, r in result["rendered"].items():
        lines.append(_md_row(name, _fmt(r["id_factor_error"]), _fmt(r["id_cosine"]), _fmt(r["attr_factor_error"]),
                             _fmt(r["landmark_error"], 4), _fmt(r["pose_error_deg"], 2), _fmt(r["norm_sum"]),
                             _fmt(r["truth_psnr"], 2), _fmt(r["truth_ms_ssim"]), _fmt(r["truth_l1"], 4)))
    lines += ["", f"## Generated pairs (toy StyleGAN, psi {result['psi']})", "",
              *_header("", "id error", "id discrete", "id cosine", "attr error", "landmarks", "pose (deg)",
                       "norm id", "norm attr", "norm sum", "FID", "KID")]
    for name, r in result["generated"].items():
        lines.append(_md_row(name, _fmt(r["id_factor_error"]), _fmt(r["id_discrete_error"]), _fmt(r["id_cosine"]),
                             _fmt(r["attr_factor_error"]), _fmt(r["landmark_error"], 4), _fmt(r["pose_error_deg"], 2),
                             _fmt(r["norm_id"]), _fmt(r["norm_attr"]), _fmt(r["norm_sum"]), _fmt(r.get("fid"), 1),
                             _fmt(r.get("kid"), 4)))
    lines += ["", f"FID/KID floor (two disjoint render sets): {result['fid_floor']:.1f} / {result['kid_floor']:.4f}."]
    lines += ["", "## Reconstruction (I_id == I_attr)", "",
              *_header("source", "PSNR", "RMSE", "id cosine", "id error", "landmarks", "pose (deg)")]
    for name, r in result["reconstruction"].items():
        lines.append(_md_row(name, _fmt(r["psnr"], 2), _fmt(r["rmse"], 4), _fmt(r["id_cosine"]),
                          _fmt(r["id_factor_error"]), _fmt(r["landmark_error"], 4), _fmt(r["pose_error_deg"], 2)))
    lines += ["", "## Targets", "", *_header("target", "value", "limit", "met")]
    for name, t in targets(result).items():
        lines.append(_md_row(name, f"{t['value']:.3f}", f"{t['limit']:.3f}", "yes" if t["met"] else "no"))
    if result.get("sum_against_mixing"):
        lines += ["", mixing_interval_text(result["sum_against_mixing"], "Method", n)]
    if result["mixing_curve"]:
        lines += ["", "## Style mixing at every crossover (generated pairs)", "",
                  *_header("kind", "crossover", "norm id", "norm attr", "norm sum")]
        for r in result["mixing_curve"]:
            lines.append(_md_row(r["kind"], r["crossover"], f"{r['norm_id']:.3f}", f"{r['norm_attr']:.3f}",
                              f"{r['norm_sum']:.3f}"))
    return "\n".join(lines) + "\n"


def rendered_grid_inputs(k: int, seed: int, resolution: int) -> dict:
    """k renderer people for identities and k others for attributes, with the ideal grid:
    {"id", "attr": uint8 [k, R, R, 3], "truth": [k (attr), k (id), R, R, 3]} (truth[i, j] = the
    identity of id j rendered with the attributes of attr i)."""
    a = [toyworld.person_example(j, 0, RENDER_SEED + 500 + seed, resolution) for j in range(k)]
    b = [toyworld.person_example(k + i, 1, RENDER_SEED + 500 + seed, resolution) for i in range(k)]
    truth = np.stack([[toyworld.render(x["identity"], y["attributes"], resolution) for x in a] for y in b])
    return {"id": np.stack([x["image"] for x in a]), "attr": np.stack([y["image"] for y in b]), "truth": truth}


INTERPOLATION_ROWS = (("attr", "w"), ("attr", "z"), ("id", "w"), ("id", "z"))


def interpolation_strip(net, ids_u8, attrs_u8, steps: int = 8) -> np.ndarray:
    """uint8 image, one row per INTERPOLATION_ROWS entry (what varies, where it is interpolated):
    attributes from attr 0 to attr 1 with identity 0 fixed, in W (M's outputs) and in Z (the
    encoder codes, then M); then identity from id 0 to id 1 with attributes 0 fixed."""
    from idd_tf.method import model
    ids, attrs = stylegan.from_uint8(ids_u8[:2]), stylegan.from_uint8(attrs_u8[:2])
    t = np.linspace(0.0, 1.0, steps)
    rows = [stylegan.to_uint8(model.interpolate(net, ids, attrs, vary, space, t)).numpy()
            for vary, space in INTERPOLATION_ROWS]
    return np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)


def w_pca_plot(net, G, pairs: dict, psi: float, cutoff: int, n_real: int = 2000, seed: int = 0) -> np.ndarray:
    """uint8 image: M's outputs on the pairs and real W samples (z -> mapping, truncated as the
    training data) projected on the first two principal components of the real ones: what D_W
    pushes M's outputs towards."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    z = np.random.RandomState([seed, 3]).randn(n_real, G.latent_size).astype(np.float32)
    real = _batched(lambda zz: G.truncate(G.mapping(zz), psi, cutoff).numpy()[:, 0], z)
    fake = _batched(lambda i: net.encode(stylegan.from_uint8(pairs["id"][i]),
                                         stylegan.from_uint8(pairs["attr"][i]))["ws"].numpy()[:, 0],
                    np.arange(len(pairs["id"])))
    mean = real.mean(0)
    _, _, vt = np.linalg.svd(real - mean, full_matrices=False)
    pr, pf = (real - mean) @ vt[:2].T, (fake - mean) @ vt[:2].T
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(pr[:, 0], pr[:, 1], s=4, alpha=0.4, label=f"real w (mapping, psi {psi})")
    ax.scatter(pf[:, 0], pf[:, 1], s=6, alpha=0.7, label="M(E_id(I_id), E_attr(I_attr))")
    ax.set_xlabel("PC 1 of real w")
    ax.set_ylabel("PC 2 of real w")
    ax.legend(loc="best", fontsize=8)
    ax.set_title("W space: the method's codes against real samples", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return np.asarray(Image.open(buf).convert("RGB"))


def pictures(net, G, seed: int = 0, psi: float = 0.7, cutoff: int = 8, k: int = 6,
             pca_pairs: int = 200) -> dict:
    """The paper's figure analogs as uint8 images: {"grid_generated": k x k grid on StyleGAN
    samples (Fig. 4), "grid_rendered": the method's grid on renders | the ground-truth grid,
    side by side, "interpolation": `interpolation_strip` on generated inputs, "w_pca":
    `w_pca_plot` of M's outputs on `pca_pairs` generated pairs}."""
    from idd_tf.method import model
    g = generated_pairs(G, k, seed + 77, psi, cutoff)
    r = rendered_grid_inputs(k, seed, G.resolution)
    method_grid = model.swap_grid(net, r["id"], r["attr"])
    truth_grid = model.swap_grid(None, r["id"], r["attr"], truth=r["truth"])
    gap = np.full((method_grid.shape[0], G.resolution // 2, 3), 255, np.uint8)
    return {"grid_generated": model.swap_grid(net, g["id"], g["attr"]),
            "grid_rendered": np.concatenate([method_grid, gap, truth_grid], axis=1),
            "interpolation": interpolation_strip(net, g["id"], g["attr"]),
            "w_pca": w_pca_plot(net, G, generated_pairs(G, pca_pairs, seed + 78, psi, cutoff), psi, cutoff,
                                seed=seed)}


def table_markdown(results: dict, steps: int, command: str) -> str:
    """The results table of several trained variants ({variant: `evaluate` result, JSON form}):
    each variant's method row, then the baselines (from "full", or the first variant)."""
    base = results.get("full") or next(iter(results.values()))
    n = base["n"]

    def gen_row(name, r):
        return _md_row(name, _fmt(r["norm_sum"]), _fmt(r["norm_id"]), _fmt(r["norm_attr"]), _fmt(r["id_factor_error"]),
                       _fmt(r["id_cosine"]), _fmt(r["attr_factor_error"]), _fmt(r["landmark_error"], 4),
                       _fmt(r["pose_error_deg"], 2), _fmt(r.get("fid"), 1))

    def rend_row(name, r):
        return _md_row(name, _fmt(r["norm_sum"]), _fmt(r["id_factor_error"]), _fmt(r["id_cosine"]),
                       _fmt(r["attr_factor_error"]), _fmt(r["truth_psnr"], 2), _fmt(r["truth_ms_ssim"]))

    lines = ["# Toy world: method, ablations and baselines", "",
             f"Every variant trained {steps} steps (`--preset toy`, one `--set` apart), scored on the same "
             f"{n} pairs per source by the independent evaluator. `{command}`", "",
             "norm id = identity-factor error / copy-I_attr's; norm attr = attribute-factor error / "
             "copy-I_id's; norm sum 1 = no better than copying either input, 0 = ideal. Lower is better "
             "except id cosine, PSNR and MS-SSIM.", "",
             "## Generated pairs", "",
             *_header("", "norm sum", "norm id", "norm attr", "id error", "id cosine", "attr error", "landmarks",
                      "pose (deg)", "FID")]
    lines += [gen_row(v, r["generated"]["method"]) for v, r in results.items()]
    lines += [gen_row(name, r) for name, r in base["generated"].items() if name != "method"]
    if base.get("sum_against_mixing"):
        name = next(v for v, r in results.items() if r is base)
        lines += ["", mixing_interval_text(base["sum_against_mixing"], name, n)]
    lines += ["", "## Rendered pairs (against the ideal render)", "",
              *_header("", "norm sum", "id error", "id cosine", "attr error", "PSNR to truth", "MS-SSIM to truth")]
    lines += [rend_row(v, r["rendered"]["method"]) for v, r in results.items()]
    lines += [rend_row(name, r) for name, r in base["rendered"].items() if name != "method"]
    lines += ["", "## Reconstruction (I_id == I_attr)", "",
              *_header("", "PSNR generated", "id cosine generated", "PSNR rendered", "id cosine rendered")]
    for v, r in results.items():
        g, q = r["reconstruction"]["generated"], r["reconstruction"]["rendered"]
        lines.append(_md_row(v, _fmt(g["psnr"], 2), _fmt(g["id_cosine"]), _fmt(q["psnr"], 2), _fmt(q["id_cosine"])))
    return "\n".join(lines) + "\n"


def best_worst(result: dict, title: str, count: int = 4) -> np.ndarray:
    """best_worst.png of `evaluate`'s result (before strip_private): the `count` best and worst
    generated pairs by the evaluator's identity cosine and by landmark error."""
    from idd_tf.method import annotate
    pairs, pp = result["_images"]["generated_pairs"], result["generated"]["method"]["_per_pair"]
    extra = [f"factor error: id {a:.3f}  attr {b:.3f}" for a, b in zip(pp["id_factor_error"], pp["attr_factor_error"])]
    legend = annotate.legend("toy") + ["factor error = the protocol's identity (vs I_id) and attribute (vs I_attr) "
                                       "factor errors, prior-std units (lower is better)"]
    return annotate.best_worst_sheet(lambda i: (pairs["id"][i], pairs["attr"][i], pairs["method"][i]),
                                     pp["id_cosine"], pp["landmark_error"], legend, pairs["id"].shape[1],
                                     count, [f"generated pair {i}" for i in range(len(extra))], title, extra)


def write_evaluation(net, G, evaluator, out_dir, *, n: int = 500, seed: int = 0, psi: float = 0.7,
                     cutoff: int = 8, mixing: bool = True, bound: bool = False, best_worst_count: int = 4,
                     title: str = "Toy-world evaluation", header: dict | None = None, progress=None) -> dict:
    """`evaluate` + `pictures`, written to `out_dir` (atomically): eval.json (`header`, the
    targets, the scores), eval.md, grid_generated / grid_rendered / interpolation / w_pca .png and,
    with `best_worst_count`, best_worst.png. Returns {"result": eval.json's content, "markdown":
    eval.md's text, "files": the names written}."""
    import json
    from pathlib import Path

    from idd_tf.utils import fileio
    out_dir = Path(out_dir)
    result = evaluate(net, G, evaluator, n=n, seed=seed, psi=psi, cutoff=cutoff, mixing=mixing,
                      bound=bound, progress=progress)
    sheet = best_worst(result, f"{title}: generated pairs, best and worst of {n} by the toy evaluator",
                       best_worst_count) if best_worst_count else None
    images = pictures(net, G, seed, psi, cutoff, pca_pairs=min(n, 200))
    if sheet is not None:
        images["best_worst"] = sheet
    result = {**(header or {}), "targets": targets(result), **strip_private(result)}
    md = report_markdown(result, title)
    fileio.atomic_write_bytes(out_dir / "eval.json", (json.dumps(result, indent=2) + "\n").encode())
    fileio.atomic_write_bytes(out_dir / "eval.md", md.encode())
    for name, image in images.items():
        fileio.save_image(out_dir / f"{name}.png", image)
    return {"result": result, "markdown": md, "files": ["eval.json", "eval.md", *(f"{k}.png" for k in images)]}
