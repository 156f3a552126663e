"""The toy world's model cards, written in one place: the three toy nets' (scripts/train_toy_nets.py),
the toy StyleGAN's and the shipped run's (scripts/build_toy_world.py). Texts only; what they report is
measured by the tools."""

import json
import os
import platform
import time

# Every toy part is made from nothing by this repository's code on its own renders: the repository's licence.
LICENCE = ("## Licence\n\nMIT, as idd-tf itself (its LICENSE file): made from scratch by the command above, "
           "from renders of the toy world; no third-party data, code or weights.\n")


def card_before(card_file, heading):
    """A model card's text up to its section `heading` (the part a re-measure keeps)."""
    card = card_file.read_text()
    cut = card.find(heading)
    if cut < 0:
        raise ValueError(f"{card_file} has no {heading.strip('# (')!r} section to replace")
    return card[:cut]


# The toy StyleGAN: MODEL_CARD_stylegan.md

def stylegan_card(pickle_path, runs, q, n, command, run_commands):
    """MODEL_CARD_stylegan.md of the toy StyleGAN at `pickle_path`: how it was trained (`runs`: its
    training runs in order, the first from scratch, a second one from the first one's pickle, each
    {"step", "nimg", "seconds", "config" (a GANTrainConfig dict)}; `command` the build,
    `run_commands` each run's command line) and `quality_section(q, n)`."""
    # imported here: idd_tf.stylegan loads TensorFlow, and the tools import cards before the console is set up
    from idd_tf.stylegan.config import GANTrainConfig

    configs = [GANTrainConfig.from_dict(r["config"]) for r in runs]
    config = configs[0]
    growing = "fixed resolution" if not config.lod_initial_resolution else (
        f"progressive growing from {config.lod_initial_resolution} px, {config.lod_training_kimg:g} kimg "
        f"per level and {config.lod_transition_kimg:g} kimg per fade")
    gamma = f"{config.r1_gamma:g}" if config.r1_gamma_late is None else (
        f"{config.r1_gamma:g} for the first {config.r1_late_kimg:g} kimg, then {config.r1_gamma_late:g},")
    noise = "" if config.noise else ", no noise inputs"
    step, nimg, seconds = (sum(r[k] for r in runs) for k in ("step", "nimg", "seconds"))
    each = " + ".join(f"{r['seconds'] / 3600:.2f}" for r in runs)
    hours = f"{seconds / 3600:.2f} h" + (f" ({each} h)" if len(runs) > 1 else "")
    kimg = " + ".join(f"{r['nimg'] / 1000:g}" for r in runs)
    second = ""
    if len(runs) > 1:
        second = (f" Then trained on from that pickle for {runs[1]['nimg'] / 1000:g} kimg at R1 gamma "
                  f"{configs[1].r1_gamma:g} throughout (a second run started with `--init`: a fresh Adam "
                  "state and the render stream from its start), which brought its samples closer to the renders.")
    steps = "`" + "` and its second run `".join(run_commands) + "`"
    card = f"""# Toy StyleGAN (`{pickle_path.name}`)

A StyleGAN v1 ({config.stylegan.resolution} px, latent {config.stylegan.latent_size}, fmap_base
{config.stylegan.fmap_base}, fmap_max {config.stylegan.fmap_max}) trained on toy-world renders
(`toyworld.example(i, seed={config.seed})`) by `idd_tf.gan_training` with NVIDIA's recipe
(non-saturating logistic G loss, logistic D loss + R1 gamma {gamma} every
{config.r1_interval} D step(s), Adam {config.g_lr} beta1 {config.beta1} beta2 {config.beta2}, Gs
EMA half-life {config.g_smoothing_kimg} kimg, style mixing {config.style_mixing_prob}, {growing}{noise}).\
{second} Saved in NVIDIA's pickle format ((G, D, Gs) Network states, version 3); read it with
`idd_tf.load_stylegan` or NVIDIA's own code.

- Command: `{command}` (its StyleGAN step: {steps}; resumable: rerun the same command)
- Steps: {step}, images seen: {nimg} ({kimg} kimg),
  training wall time: {hours} on the machine it was built on
  ({nimg / max(seconds, 1e-9):.1f} images/s over the whole run, sample grids,
  checkpoints and snapshots included; one iteration in isolation: `python
  benchmarks/bench_gan_train_step.py`)
- Size: {pickle_path.stat().st_size / 1e6:.2f} MB

{LICENCE}
{quality_section(q, n)}"""
    return card


def quality_section(q, n):
    """The card's quality section (the card's last section) for `measure_quality`'s dict."""
    cov = q["coverage"]
    floor = q["coverage_floor"]["per_factor"]
    rows = "\n".join(f"| {name} | {v.get('w1_std', v.get('tv')):.3f} | "
                     f"{floor[name].get('w1_std', floor[name].get('tv')):.3f} |"
                     for name, v in cov["per_factor"].items())
    cov_floor = q["coverage_floor"]
    return f"""## Quality (evaluator feature space, {n} samples vs {n} renders; floor = two disjoint render sets)

| metric | StyleGAN | floor |
|---|---|---|
| FID | {q['fid']:.2f} | {q['fid_floor']:.2f} |
| KID x 1000 | {q['kid']['mean'] * 1000:.2f} +- {q['kid']['std'] * 1000:.2f} | {q['kid_floor']['mean'] * 1000:.2f} |
| factor coverage, mean W1 / std (continuous) | {cov['mean_continuous']:.3f} | {cov_floor['mean_continuous']:.3f} |
| factor coverage, mean TV (discrete) | {cov['mean_discrete']:.3f} | {cov_floor['mean_discrete']:.3f} |

Per factor (W1 / std for continuous factors, total variation for discrete ones):

| factor | StyleGAN | floor |
|---|---|---|
{rows}

Samples (`stylegan_samples.png`, fixed seeds, no truncation) and per-factor histograms
(`stylegan_coverage.png`) are beside this card.
"""


# The shipped run: run/MODEL_CARD.md

def run_card(step, steps, run_set, batch_size, timing, size, evaluation_md, n, attr_weights=None):
    """MODEL_CARD.md of the shipped toy run: how it was trained (`step` reached of `steps`, the
    `--run_set` options `run_set`, `timing` from timing.json or {}, `size` bytes shipped, E_attr's
    starting weights `attr_weights`) and `evaluation_section(evaluation_md, n)`."""
    attr = (f"E_attr started from `{os.path.basename(attr_weights)}`, its backbone pretrained on renders\n"
            "(MODEL_CARD_attr.md)" if attr_weights else "E_attr started from random weights")
    sets = "".join(f" --set {x}" for x in run_set)
    run_sets = "".join(f" --run_set {x}" for x in run_set)
    minutes = f" ({timing['seconds'] / 60:.0f} min)" if timing.get("seconds") else ""
    card = f"""# Shipped toy-world run (`run/`)

The method (E_attr, M and D_W; toy E_id, toy E_lnd and the toy StyleGAN frozen, all from this
folder) trained {step} steps with `python scripts/train.py --preset toy --steps {steps}{sets}`, batch
{batch_size}, on 2 CPU cores{minutes}; {attr}; rebuilt by `python scripts/build_toy_world.py --run_steps \
{steps}{run_sets}` (step 4).
Only the trained weights are shipped (no optimizer state): {size / 1e6:.1f} MB with the evaluation.

Use it with `--run stylegan_weights/toy/run` in combine_grid.py, interpolate.py, reenact.py,
evaluate.py and export.py; demo.py and the notebook use it by default.

{LICENCE}
{evaluation_section(evaluation_md, n)}"""
    return card


def evaluation_section(evaluation_md, n):
    return f"""## Evaluation (`eval/eval.md`, {n} pairs per source, the independent evaluator)

{evaluation_md}
"""


# The toy nets (E_id, E_lnd, the evaluator): MODEL_CARD_<net>.md

WHAT = {"id": "the toy world E_id (stands in for the VGGFace2 ResNet-50)",
        "lnd": "the toy world E_lnd (stands in for the landmark network)",
        "evaluator": "the independent toy evaluator (stands in for ArcFace / dlib; evaluation only)"}
ARCHITECTURE = {
    "id": "small residual CNN: stride-2 3x3 stem, one residual block (two 3x3 conv+BN) per width "
          "(stride 2 after the first), 1x1 squeeze to 32, flatten 4x4, Dense, L2 normalisation",
    "lnd": "`idd_tf.encoders.landmark_net` (the project's E_lnd): per halving two 3x3 convs + "
           "LeakyReLU 0.2 (the second stride 2), flatten, Dense 256, Dense 136 sigmoid",
    "evaluator": "plain VGG-style CNN (no residuals): 5x5 stem halving the size (stride 2, or with "
                 "`stem_stride` 1 a 2x2 max-pool), 3x3 conv+BN+ReLU stages (one, "
                 "then two convs) with 2x2 max-pooling, flatten 4x4, Dense+ReLU; heads: continuous factors "
                 "(MLP: Dense + ReLU, Dense; range -> [-1, 1]; hues as cos/sin), one softmax per discrete "
                 "factor, L2 identity embedding, 68 landmarks (sigmoid, [0, 1])",
}


def loss_text(net, s):
    cosface = (f"CosFace (scale {s.get('scale')}, margin {s.get('margin')}) over its "
               f"{s.get('labelled_persons', s['persons'])} labelled training people")
    return {"id": f"softmax with {cosface}",
            "lnd": "L1 of the [0, 1] coordinates times the input size (pixels); targets (pixel + 0.5) / R",
            "evaluator": "sum of squared errors of the standardised continuous factors"
                         + (" (" + ", ".join(f"{n} x {w:g}" for n, w in s["factor_weights"].items()) + ")"
                            if s.get("factor_weights") else "")
                         + " + softmax CE per discrete "
                         f"factor + landmark L1 in pixels (as E_lnd's) + {s.get('id_weight')} x {cosface}"}[net]


def labelled_text(s):
    if "labelled_persons" not in s:
        return ""
    return (f" (half the renders from people 0..{s['labelled_persons'] - 1}, the only ones the identity "
            "loss sees)")


def heldout_text(net, held):
    ver = (f"verification on all pairs of {held['persons']} people x {held['views']} random views "
           f"(threshold chosen on {held['persons']} other people)")
    single = f"{held['images']} renders of different people"
    content = (f"; identity content: {held['content_images']} renders of different people "
               f"(a linear fit on 3/4, R^2 on the rest)")
    return {"id": ver + content, "lnd": single, "evaluator": f"{single} (factors, landmarks); {ver}"}[net]


def report_rows(report, met):
    from idd_tf.toy import net_training as toynet_training
    from idd_tf.toy import nets as toynets
    tg = toynet_training.TARGETS
    ok = lambda b: "met" if b else "NOT met"  # noqa: E731
    rows = []
    if "verification" in report:
        rows.append(("verification accuracy (held-out people, across attribute changes)",
                     report["verification"]["accuracy"], f">= {tg['verification_accuracy']}",
                     ok(met["verification_accuracy"])))
    if "identity_content" in report:
        c = report["identity_content"]
        rows.append((f"identity content: mean R^2 of the {len(c['r2'])} continuous identity factors, "
                     f"linear from the embedding (fit {c['fit']}, test {c['test']} people; no target)",
                     c["mean_r2"], "", ""))
        for n, r2 in c["r2"].items():
            rows.append((f"identity content R^2 {n}", r2, "", ""))
    if "landmarks" in report:
        m = report["landmarks"]
        rows.append(("landmark NME (inter-ocular, points 36/45)", m["nme"], f"<= {tg['nme']}", ok(met["nme"])))
        rows.append(("NME of the mean held-out shape (baseline)", m["nme_mean_shape_baseline"], "", ""))
    if "factors" in report:
        for n, r2 in report["factors"]["r2"].items():
            circ = " (circular)" if n in toynets.CIRCULAR_FACTORS else ""
            rows.append((f"R^2 {n}{circ}", r2, f">= {tg['r2']}", ok(r2 >= tg["r2"])))
        for n, acc in report["factors"]["accuracy"].items():
            rows.append((f"accuracy {n}", acc, f">= {tg['discrete_accuracy']}", ok(acc >= tg["discrete_accuracy"])))
    return "\n".join(f"| {a} | {b:.4f} | {c} | {d} |" for a, b, c, d in rows)


def effects_table(report):
    """The evaluator's R^2 next to how much each factor shows (`toy_evaluation.factor_effects`)."""
    eff = report.get("factors", {}).get("effects")
    if not eff:
        return ""
    n = report["factors"]["images"]
    rows = "\n".join(
        f"| {k} | {report['factors']['r2'][k]:.4f} | "
        f"{'-' if e['r2_where_visible'] is None else format(e['r2_where_visible'], '.4f')} | "
        f"{e['invisible']} | {e['pixels_median']:.0f} | {e['landmark_shift_median']:.2f} |" for k, e in eff.items())
    return f"""
## What each factor shows, and what the evaluator reads of it

Each held-out render is rendered again with the factor at the low and at the high end of its range
(a hue: the opposite hue), all else fixed (`toy_evaluation.factor_effects`). "Invisible": renders of
the {n} in which that changes no pixel by more than 8 levels (no estimator can beat the prior mean
on those; e.g. eye colour behind closed eyes or brows under hair). The last columns are medians
over the renders: pixels changed, and the largest move of a landmark (at 64 px). Where the
evaluator falls short on a factor, `scripts/probe_factors.py --factors <names>` trains this backbone
on those factors alone: a probe that reads one says the evaluator can do better, a probe that
cannot says the world shows too little of it (world v1's jaw width, which moved the jaw contour by
about a pixel and read at R^2 0.06: world v2 redrew the jaw). The target above is judged on all
renders.

| factor | R^2 | R^2 where visible | invisible | pixels changed | landmark shift, px |
| --- | --- | --- | --- | --- | --- |
{rows}
"""


def kept_made_section(card_file):
    """A net card's "How it was made" section, without its earlier re-measure lines: what a
    re-measure (train_toy_nets.py --evaluate_only) keeps."""
    card = card_file.read_text()
    a, b = card.find("## How it was made"), card.find("## Held-out numbers")
    if a < 0 or b < a:
        raise ValueError(f"{card_file} has no 'How it was made' section to keep")
    return "\n".join(line for line in card[a:b].rstrip().split("\n")
                     if not line.startswith("- Held-out numbers re-measured"))


def augment_text(net, s) -> str:
    """The card's words on the photo-like degradations of the training renders (method/augment.py)."""
    if not s.get("augment"):
        return ""
    shift = "" if net == "lnd" else ", a shift of up to 2 px"
    return (";\n  each batch degraded per image as photos vary (`method/augment.py`): a blur or sharpening, a "
            f"resampling through a smaller size{shift}, Gaussian noise")


def made_section(net, s, result, eval_s, command):
    """The card's "How it was made" section, for a net trained by this invocation (`command`)."""
    from idd_tf.toy import nets as toynets
    cpu = ("CPU time not recorded: trained before CPU accounting was added" if result["cpu_s"] is None
           else f"{result['cpu_s']:.0f} s of CPU time, all threads")
    return f"""## How it was made

- Command: `{command}`
- Data: `toyworld.person_example(person, view, seed={toynets.SEEDS[net]})`, people 0..{s['persons'] - 1}\
{labelled_text(s)},
  rendered on the fly at 64 px in a background thread; each step {s['fresh']} new renders, a batch of
  {s['batch']} drawn from the last {s['window']} ({s['steps'] * s['fresh'] + s['window']} distinct renders \
in all){augment_text(net, s)}.
- Loss: {loss_text(net, s)}.
- Optimiser: Adam, lr {s['lr']} (linear warm-up over 5% of the steps, cosine decay to 2%).
- Steps: {result['steps']}, batch {s['batch']}, images seen {result['images_seen']}
  (resumed from step {result['resumed_from']} in the last invocation).
- Training wall time: {result['wall_s']:.0f} s ({cpu}); held-out
  evaluation {eval_s:.0f} s; finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())};
  machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs), GPUs used: {gpus()}.

"""


def write_net_card(out, net, model, report, met, files, made, held, quick):
    """out/MODEL_CARD_<net>.md of a toy net: what it is, `made` (`made_section`, or the kept one
    of a re-measure), its held-out numbers (`held`: the held-out set sizes) against the targets."""
    from idd_tf.toy import nets as toynets
    from idd_tf.utils import fileio
    text = f"""# Model card: toy {net} ({'QUICK smoke run' if quick else 'shipped'})

What: {WHAT[net]}.
Input: raw NHWC float32 RGB in [-1, 1], any square size (bilinear antialiased resize to {model.input_size}).
Architecture: {ARCHITECTURE[net]}; config `{json.dumps(toynets.net_config(model)['config'])}`,
{model.count_params()} parameters, `{files['weights'].name}` {files['weights'].stat().st_size} bytes.
Load: `idd_tf.toynets.load_net(DIR, "{net}")` (or `load_toy_networks(DIR)`).

{made}## Held-out numbers (measured)

Held-out renders from seed {toynets.SEEDS[net + '_heldout']} (people never trained on): {heldout_text(net, held)}.

| metric | value | target | |
| --- | --- | --- | --- |
{report_rows(report, met)}
{effects_table(report)}
Full numbers: `{toynets.file_names(net)['report']}`.

{LICENCE}"""
    fileio.atomic_write_bytes(out / f"MODEL_CARD_{net}.md", text.encode())


def gpus():
    import tensorflow as tf
    return len(tf.config.list_physical_devices("GPU"))


# The toy E_attr backbone pretrained on renders (scripts/pretrain_toy_attr.py): MODEL_CARD_attr.md

def attr_card(info, weights_path, command):
    """MODEL_CARD_attr.md of the pretrained toy E_attr backbone: `info` (attr_pretraining.train's
    dict: settings, held-out PSNR, wall time), its weights file and the `command` that made it."""
    s = info["settings"]
    return f"""# Model card: toy attr (E_attr backbone pretrained on renders)

What: the toy analog of the official E_attr's ImageNet pretraining: the toy preset's arch-"small"
E_attr backbone (`idd_tf.method.encoders.small_attr_backbone`, widths {s['widths']}, code {s['code']},
input {s['input_size']} px) trained as an autoencoder on renders; the method then fine-tunes it, as the
paper fine-tunes its InceptionV3. Neither the evaluator nor the factors it scores are used.
Load: `--set attr_encoder.weights=DIR/{weights_path.name}` (the toy preset's default);
{info['encoder_parameters']} parameters, `{weights_path.name}` {weights_path.stat().st_size} bytes.

## How it was made

- Command: `{command}`
- Data: `toyworld.person_example(person, view, seed={s['seed']})` (people no other toy part is trained
  or measured on), rendered on the fly at {s['input_size']} px; each step {s['fresh']} new renders, a
  batch of {s['batch']} drawn from the last {s['window']}.
- Loss: {s['loss']} through the code (an upsampling decoder, dropped afterwards).
- Optimiser: Adam, lr {s['lr']} (linear warm-up over 5% of the steps, cosine decay to 2%).
- Steps: {info['steps_done']}, batch {s['batch']}, images seen {info['steps_done'] * s['batch']}.
- Training wall time: {info['wall_s']:.0f} s; machine: {platform.machine()}, {os.cpu_count()} CPU cores
  (shared with other jobs), GPUs used: {gpus()}.

## Held-out numbers (measured)

| metric | value |
| --- | --- |
| reconstruction PSNR, {info.get('heldout_n', 256)} renders of held-out people \
(seed {info.get('heldout_seed', 502)}) | {info['heldout_psnr_db']:.2f} dB |

Its effect on the method, measured at the same budget: docs/toy_world.md#rendered-pairs-what-closes-the-gap.
Full numbers: `toy_attr.json`.

{LICENCE}"""
