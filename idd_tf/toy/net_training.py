"""How the toy world's nets (`toynets`) are trained and measured, on `toyworld` renders.

    render_people(persons, views, seed) -> arrays of renders; RenderStream: deterministic,
        background-rendered training batches (resumable: batch(step) depends on (seed, step) only)
    learning_rate(step, steps, peak): the toy nets' warm-up + cosine schedule
    claim_work_dir(work, settings) / train_resumable(work, objects, steps, make_stream, step_fn, ...):
        the resumable loop (checkpoints, wall and CPU time, progress with ETA) the toy nets and
        E_attr's pretraining (`attr_pretraining`) share
    heldout_sets(net) / evaluate_net(net, model, sets): the held-out numbers, as dicts, from
        verification_report, landmark_report, factor_report (R^2, circular for hues; accuracy)
        and identity_content_report; targets_met(net, report) against TARGETS

Used by scripts/train_toy_nets.py (and scripts/probe_factors.py); the nets themselves, their files
and their seeds (`toynets.SEEDS`: each net is measured on people from another seed) are in `toynets`.
"""

from __future__ import annotations

import json
import math
import threading
import time

import numpy as np

from idd_tf.method import metrics
from idd_tf.toy import evaluation as toy_evaluation
from idd_tf.toy import world as toyworld
from idd_tf.toy.nets import CIRCULAR_FACTORS, CONTINUOUS, DISCRETE, SEEDS, to_float


def learning_rate(step, steps, peak):
    """The toy nets' schedule: linear warm-up over 5% of `steps` to `peak`, then cosine decay to 2%."""
    warm = max(1, steps // 20)
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, steps - warm)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


# ----------------------------------------------------------------------------------------------
# Data: renders as arrays.

def render_people(persons, views, seed, resolution=64) -> dict:
    """Renders of (persons[i], views[i]) from `toyworld.person_example(.., seed)`:
    {"images": uint8 [N, R, R, 3], "person": int64 [N], "factors": float32 [N, F],
     "landmarks": float32 [N, 68, 2] in [0, 1] image coordinates}."""
    ims, lms, fac = [], [], []
    for p, v in zip(persons, views, strict=True):
        e = toyworld.person_example(int(p), int(v), seed=seed, resolution=resolution)
        ims.append(e["image"])
        lms.append((e["landmarks"] + 0.5) / resolution)
        fac.append(toyworld.factor_vector(e["identity"], e["attributes"]))
    return {"images": np.stack(ims), "person": np.asarray(persons, np.int64),
            "factors": np.stack(fac).astype(np.float32), "landmarks": np.stack(lms).astype(np.float32)}


class RenderStream:
    """Deterministic, background-rendered training batches.

    Image i of the stream is `person_example(p_i, v_i, seed)` with (p_i, v_i) drawn from
    rng [seed, i] (p_i < num_persons). Batch `step` samples `batch_size` images uniformly from the
    window [step * fresh, step * fresh + window): every step brings `fresh` new renders and each
    render is used about batch_size / fresh times. A background thread renders ahead into a ring
    buffer. batch(step) is a pure function of (seed, step), so a resumed run sees the same data.

    With `labelled_persons` L, half the renders (on average) come from people 0..L-1 (enough views
    per person for an identity loss) and the rest from all `num_persons` people (diverse identity
    factors); batch["labelled"] says which.
    """

    def __init__(self, seed, num_persons, batch_size, fresh, window, resolution=64, start_step=0,
                 labelled_persons=None):
        self.seed, self.num_persons, self.batch_size = int(seed), int(num_persons), int(batch_size)
        self.labelled_persons = None if labelled_persons is None else int(labelled_persons)
        self.fresh, self.window, self.resolution = int(fresh), int(window), int(resolution)
        self.cap = self.window + 8 * self.fresh
        r = self.resolution
        self.buf = {"images": np.zeros((self.cap, r, r, 3), np.uint8),
                    "person": np.zeros((self.cap,), np.int64),
                    "labelled": np.zeros((self.cap,), bool),
                    "factors": np.zeros((self.cap, len(toyworld.FACTOR_NAMES)), np.float32),
                    "landmarks": np.zeros((self.cap, 68, 2), np.float32)}
        self.low = start_step * self.fresh      # smallest index still needed
        self.produced = self.low                # next index to render
        self.cond = threading.Condition()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def item(self, i):
        """(person, view, labelled) of render i."""
        rng = np.random.default_rng([self.seed, i])
        if self.labelled_persons is None:
            return int(rng.integers(self.num_persons)), int(rng.integers(2 ** 31)), True
        labelled = bool(rng.random() < 0.5)
        p = int(rng.integers(self.labelled_persons if labelled else self.num_persons))
        return p, int(rng.integers(2 ** 31)), labelled or p < self.labelled_persons

    def _run(self):
        i = self.produced
        while True:
            with self.cond:
                while not self.stop and i >= self.low + self.cap:
                    self.cond.wait()
                if self.stop:
                    return
            p, v, labelled = self.item(i)
            e = render_people([p], [v], self.seed, self.resolution)
            s = i % self.cap
            e["labelled"] = np.array([labelled])
            for k in self.buf:
                self.buf[k][s] = e[k][0]
            with self.cond:
                self.produced = i + 1
                self.cond.notify_all()
            i += 1

    def batch(self, step) -> dict:
        lo = step * self.fresh
        with self.cond:
            if lo < self.low:
                raise ValueError("RenderStream batches must be requested in increasing step order")
            self.low = lo
            self.cond.notify_all()
            while self.produced < lo + self.window:
                self.cond.wait()
        idx = lo + np.random.default_rng([self.seed, 1 << 20, step]).integers(self.window, size=self.batch_size)
        out = {k: v[idx % self.cap] for k, v in self.buf.items()}
        with self.cond:
            self.low = lo + self.fresh
            self.cond.notify_all()
        return out

    def close(self):
        with self.cond:
            self.stop = True
            self.cond.notify_all()
        self.thread.join()


# ----------------------------------------------------------------------------------------------
# The resumable training loop (the toy nets and E_attr's pretraining).

def claim_work_dir(work, settings: dict, may_change=()) -> None:
    """`work`/settings.json names the run that `work` holds: written by the first run, and a run with
    other settings (the keys in `may_change` aside) is refused rather than mixed into its checkpoint."""
    from idd_tf.utils import fileio
    from idd_tf.utils.errors import UserError
    work.mkdir(parents=True, exist_ok=True)
    path = work / "settings.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if {k: v for k, v in old.items() if k not in may_change} != \
                {k: v for k, v in settings.items() if k not in may_change}:
            raise UserError(f"{work} holds a run with other settings ({path}); use another work folder or delete it")
    fileio.atomic_write_bytes(path, (json.dumps(settings, indent=2) + "\n").encode())


def train_resumable(work, objects: dict, steps, make_stream, step_fn, *, images_per_step, name, log,
                    log_every=50, checkpoint_every=100) -> dict:
    """Train from `work`/checkpoints on, or from step 0: `objects` (model, optimizer, ...) are checkpointed
    there with the step, wall seconds, images seen and CPU seconds. For each step left, `step_fn(batch,
    step)` -> {loss name: value} on `make_stream(first step).batch(step)`; a progress line (rate,
    elapsed, ETA) every `log_every` steps and a checkpoint every `checkpoint_every` and at the end.
    Returns {steps, images_seen, wall_s, cpu_s (None for a run begun before CPU time was kept),
    resumed_from}."""
    import tensorflow as tf
    step_var, seen_var = tf.Variable(0, dtype=tf.int64), tf.Variable(0, dtype=tf.int64)
    wall_var = tf.Variable(0.0, dtype=tf.float64)
    cpu_var = tf.Variable(-1.0, dtype=tf.float64)   # < 0: not recorded (a checkpoint without it)
    ckpt = tf.train.Checkpoint(**objects, step=step_var, wall=wall_var, seen=seen_var, cpu=cpu_var)
    manager = tf.train.CheckpointManager(ckpt, str(work / "checkpoints"), max_to_keep=1)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_nontrivial_match()
        log(f"{name}: resuming from step {int(step_var.numpy())} ({manager.latest_checkpoint})")
    start = int(step_var.numpy())
    if start == 0:
        cpu_var.assign(0.0)
    if start < steps:
        stream = make_stream(start)
        t0, wall0 = time.time(), float(wall_var.numpy())
        cpu_t0, cpu0 = time.process_time(), float(cpu_var.numpy())
        try:
            for step in range(start, steps):
                logs = step_fn(stream.batch(step), step)
                step_var.assign(step + 1)
                seen_var.assign_add(images_per_step)
                wall_var.assign(wall0 + time.time() - t0)
                if cpu0 >= 0:
                    cpu_var.assign(cpu0 + time.process_time() - cpu_t0)
                done = step + 1
                if done % log_every == 0 or done == steps:
                    rate = (done - start) / max(1e-9, time.time() - t0)
                    losses = "  ".join(f"{k} {float(v):.4f}" for k, v in logs.items())
                    log(f"{name} step {done}/{steps}  {losses}  {rate:.2f} steps/s  "
                        f"elapsed {float(wall_var.numpy()):.0f}s  ETA {(steps - done) / max(rate, 1e-9):.0f}s")
                if done % checkpoint_every == 0 or done == steps:
                    manager.save(checkpoint_number=done)
        finally:
            stream.close()
    return {"steps": int(step_var.numpy()), "images_seen": int(seen_var.numpy()), "wall_s": float(wall_var.numpy()),
            "cpu_s": float(cpu_var.numpy()) if cpu_var.numpy() >= 0 else None, "resumed_from": start}


# ----------------------------------------------------------------------------------------------
# Reports (pure functions of arrays).

def _pair_scores(emb, labels):
    emb, labels = np.asarray(emb, np.float64), np.asarray(labels)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    iu = np.triu_indices(len(emb), 1)
    sim = (emb @ emb.T)[iu]
    same = (labels[:, None] == labels[None, :])[iu]
    return sim, same


def _balanced_accuracy(sim, same, thr):
    tpr = float(np.mean(sim[same] >= thr))
    tnr = float(np.mean(sim[~same] < thr))
    return 0.5 * (tpr + tnr), tpr, tnr


def verification_report(emb_threshold, labels_threshold, emb_test, labels_test) -> dict:
    """Face verification on all pairs of two disjoint sets of people: the cosine threshold that
    maximises the balanced pair accuracy ((TPR + TNR) / 2, = the accuracy on equally many same and
    different pairs) is chosen on the first set, the accuracy is measured on the second."""
    s_thr, y_thr = _pair_scores(emb_threshold, labels_threshold)
    s_test, y_test = _pair_scores(emb_test, labels_test)
    if not (y_thr.any() and (~y_thr).any() and y_test.any() and (~y_test).any()):
        raise ValueError("each split needs same-person and different-person pairs")
    cand = np.unique(np.r_[s_thr, -1.0, 1.0 + 1e-9])
    cand = cand[np.linspace(0, len(cand) - 1, min(len(cand), 2000)).astype(int)]
    accs = [_balanced_accuracy(s_thr, y_thr, t)[0] for t in cand]
    thr = float(cand[int(np.argmax(accs))])
    acc, tpr, tnr = _balanced_accuracy(s_test, y_test, thr)
    return {"accuracy": acc, "tpr": tpr, "tnr": tnr, "threshold": thr,
            "threshold_split_accuracy": float(max(accs)),
            "same_pairs": int(y_test.sum()), "different_pairs": int((~y_test).sum()),
            "mean_similarity_same": float(s_test[y_test].mean()),
            "mean_similarity_different": float(s_test[~y_test].mean())}


def landmark_report(pred, ref) -> dict:
    """NME (mean point error / outer-eye-corner distance of `ref`, points 36 and 45; `metrics.nme`)."""
    per = metrics.nme(pred, ref, per_image=True)
    return {"nme": float(per.mean()), "nme_median": float(np.median(per)),
            "nme_p95": float(np.percentile(per, 95)), "images": int(len(per))}


def r2_score(pred, true, circular=False) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot; `circular`: residuals wrapped to
    [-0.5, 0.5) (a hue in [0, 1)) and SS_tot about the true values' circular mean."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if circular:
        wrap = lambda d: (d + 0.5) % 1.0 - 0.5  # noqa: E731
        ang = 2 * np.pi * true
        mean = (np.arctan2(np.sin(ang).mean(), np.cos(ang).mean()) / (2 * np.pi)) % 1.0
        res, tot = wrap(pred - true), wrap(true - mean)
    else:
        res, tot = pred - true, true - true.mean()
    return float(1.0 - np.sum(res ** 2) / np.sum(tot ** 2))


def factor_report(pred: dict, factors, effects: dict | None = None) -> dict:
    """R^2 per continuous factor (circular for CIRCULAR_FACTORS) and accuracy per discrete factor of
    `pred` (name -> [N]) against true factor vectors [N, len(FACTOR_NAMES)]. With `effects`
    (`toy_evaluation.factor_effects` of the same renders) also, per continuous factor, "effects":
    {"r2_where_visible": R^2 over the renders the factor changes, "invisible": how many it does
    not change, "pixels_median", "landmark_shift_median": its whole range's median effect}."""
    factors = np.asarray(factors)
    col = {n: factors[:, j] for j, n in enumerate(toyworld.FACTOR_NAMES)}
    r2 = {n: r2_score(pred[n], col[n], n in CIRCULAR_FACTORS) for n in CONTINUOUS if n in pred}
    acc = {n: float(np.mean(np.asarray(pred[n]).astype(int) == col[n].astype(int)))
           for n in DISCRETE if n in pred}
    out = {"r2": r2, "accuracy": acc, "r2_min": min(r2.values()) if r2 else None,
           "accuracy_min": min(acc.values()) if acc else None, "images": int(len(factors))}
    if effects:
        out["effects"] = {}
        for n in r2:
            px, seen = effects[n]["pixels"], effects[n]["pixels"] > 0
            out["effects"][n] = {
                "r2_where_visible": (r2_score(np.asarray(pred[n])[seen], col[n][seen], n in CIRCULAR_FACTORS)
                                     if seen.sum() > 2 else None),
                "invisible": int((~seen).sum()), "pixels_median": float(np.median(px)),
                "landmark_shift_median": float(np.median(effects[n]["landmark_shift"]))}
    return out


def embed(model, images_u8, batch_size=256) -> np.ndarray:
    """Embeddings of uint8 images by a ToyIdentityNet or Evaluator (numpy, batched)."""
    out = []
    for i in range(0, len(images_u8), batch_size):
        y = model(to_float(images_u8[i:i + batch_size]))
        out.append((y["embedding"] if isinstance(y, dict) else y).numpy())
    return np.concatenate(out)


def heldout_sets(net, persons=100, views=4, images=400, resolution=64, first_person=0,
                 content_images=2000, effects=False) -> dict:
    """The held-out renders a net is measured on (seed SEEDS[net + '_heldout']): for 'id' and
    'evaluator' (embedding) two disjoint sets of `persons` people x `views` views (threshold split,
    test split; people first_person ..); for 'lnd' and 'evaluator' (factors) `images` renders of
    different people (10000 + first_person ..); for 'id' (identity content) `content_images`
    renders of different people (20000 + first_person ..; 3/4 fit, 1/4 test). `effects`: the
    evaluator's factor renders also carry `toy_evaluation.factor_effects` (2 renders per factor each)."""
    seed = SEEDS[f"{net}_heldout"]
    out = {}
    if net in ("id", "evaluator"):
        p = np.repeat(np.arange(first_person, first_person + 2 * persons), views)
        v = np.tile(np.arange(views), 2 * persons)
        half = persons * views
        out["threshold"] = render_people(p[:half], v[:half], seed, resolution)
        out["test"] = render_people(p[half:], v[half:], seed, resolution)
    if net in ("lnd", "evaluator"):
        out["single"] = render_people(np.arange(10_000 + first_person, 10_000 + first_person + images),
                                      np.zeros(images, int), seed, resolution)
        if net == "evaluator" and effects:
            out["single"]["effects"] = toy_evaluation.factor_effects(out["single"]["factors"], CONTINUOUS, resolution)
    if net == "id" and content_images:
        out["content"] = render_people(np.arange(20_000 + first_person, 20_000 + first_person + content_images),
                                       np.zeros(content_images, int), seed, resolution)
    return out


IDENTITY_CONTINUOUS = tuple(f.name for f in toyworld.IDENTITY_FACTORS if f.kind == "continuous")


def identity_content_report(emb_fit, factors_fit, emb_test, factors_test, ridge=0.01) -> dict:
    """How much of each continuous identity factor an embedding carries: R^2 on the test renders
    of a ridge regression (standardised inputs, penalty `ridge` x N) fitted on the fit renders.
    Verification accuracy only asks that people be told apart, which a few salient factors
    (skin, hair) suffice for; L_id can only keep in I_out what E_id's embedding carries."""
    xf, xt = np.asarray(emb_fit, np.float64), np.asarray(emb_test, np.float64)
    mu, sd = xf.mean(0), xf.std(0) + 1e-8
    a = np.c_[(xf - mu) / sd, np.ones(len(xf))]
    b = np.c_[(xt - mu) / sd, np.ones(len(xt))]
    cols = [toyworld.FACTOR_NAMES.index(n) for n in IDENTITY_CONTINUOUS]
    yf, yt = np.asarray(factors_fit)[:, cols], np.asarray(factors_test)[:, cols]
    coef = np.linalg.solve(a.T @ a + ridge * len(a) * np.eye(a.shape[1]), a.T @ yf)
    pred = b @ coef
    r2 = {n: r2_score(pred[:, j], yt[:, j]) for j, n in enumerate(IDENTITY_CONTINUOUS)}
    return {"r2": r2, "mean_r2": float(np.mean(list(r2.values()))), "fit": len(xf), "test": len(xt)}


def evaluate_net(net, model, sets) -> dict:
    """The held-out report of `model` (a net named `net`) on `heldout_sets(net)`."""
    rep = {}
    if net in ("id", "evaluator"):
        a, b = sets["threshold"], sets["test"]
        rep["verification"] = verification_report(embed(model, a["images"]), a["person"],
                                                  embed(model, b["images"]), b["person"])
    if "content" in sets:
        c = sets["content"]
        e, fit = embed(model, c["images"]), (3 * len(c["images"])) // 4
        rep["identity_content"] = identity_content_report(e[:fit], c["factors"][:fit], e[fit:], c["factors"][fit:])
    if net in ("lnd", "evaluator"):
        s = sets["single"]
        pred = (model.predict_landmarks(to_float(s["images"])) if net == "evaluator" else
                np.concatenate([model(to_float(s["images"][i:i + 256])).numpy()
                                for i in range(0, len(s["images"]), 256)]))
        mean_shape = np.broadcast_to(s["landmarks"].mean(0), s["landmarks"].shape)
        rep["landmarks"] = landmark_report(pred, s["landmarks"])
        rep["landmarks"]["nme_mean_shape_baseline"] = metrics.nme(mean_shape, s["landmarks"])
    if net == "evaluator":
        s = sets["single"]
        rep["factors"] = factor_report(model.predict_factors(to_float(s["images"])), s["factors"], s.get("effects"))
    return rep


TARGETS = {"verification_accuracy": 0.95, "nme": 0.03, "r2": 0.9, "discrete_accuracy": 0.95}


def targets_met(net, report) -> dict:
    """{target name: bool} for the numbers in `report` (see TARGETS)."""
    out = {}
    if "verification" in report:
        out["verification_accuracy"] = report["verification"]["accuracy"] >= TARGETS["verification_accuracy"]
    if "landmarks" in report:
        out["nme"] = report["landmarks"]["nme"] <= TARGETS["nme"]
    if "factors" in report:
        out["r2"] = report["factors"]["r2_min"] >= TARGETS["r2"]
        out["discrete_accuracy"] = report["factors"]["accuracy_min"] >= TARGETS["discrete_accuracy"]
    return out
