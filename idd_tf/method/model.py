"""The identity-disentanglement model: E_id, E_attr, M, G (frozen StyleGAN), E_lnd, D_W."""

from __future__ import annotations

import keras
import tensorflow as tf

from idd_tf.method.config import TrainConfig
from idd_tf.method.encoders import AttributeEncoder, IdentityEncoder, LandmarkEncoder
from idd_tf.method.networks import LatentDiscriminator, LatentMapping
from idd_tf.method.presets import relocate_toy_weights, resolve_run_dir


class IDDModel(keras.Model):
    """I_id, I_attr -> I_out = G(M(concat(E_id(I_id), E_attr(I_attr)))).

    Trainable: E_attr and M (the generator side) and D_W. Frozen: E_id, E_lnd and the StyleGAN G,
    which is passed in (built from a pickle, a converted dir or random init by the caller).
    """

    def __init__(self, config: TrainConfig, stylegan, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.stylegan = stylegan
        self.stylegan.trainable = False
        self.e_id = IdentityEncoder(config.id_encoder, name="E_id")
        self.e_attr = AttributeEncoder(config.attr_encoder, name="E_attr")
        self.e_lnd = LandmarkEncoder(config.landmarks, name="E_lnd")
        in_dim = self.e_id.embedding_size + self.e_attr.embedding_size
        self.mapping = LatentMapping(config.mapping, in_dim, stylegan.dlatent_size,
                                     stylegan.num_layers, name="M")
        if config.mapping.out_bias_init == "w_avg":   # not official: M starts at W's centre
            self.mapping.init_output_bias(stylegan.dlatent_avg)
        self.d_w = LatentDiscriminator(config.discriminator, stylegan.dlatent_size, name="D_W")
        self.built = True  # every part is built by its constructor

    @property
    def generator_variables(self):
        """What the non-adversarial and adversarial updates train: E_attr + M."""
        return self.e_attr.trainable_variables + self.mapping.trainable_variables

    def encode(self, id_images, attr_images):
        """{"id": E_id(I_id), "attr": E_attr(I_attr), "ws": M(concat)} (ws [B, num_layers, 512])."""
        z_id = self.e_id(id_images)
        z_attr = self.e_attr(attr_images)
        return {"id": z_id, "attr": z_attr,
                "ws": self.mapping(tf.concat([z_id, z_attr], axis=-1))}

    def call(self, id_images, attr_images):
        """The disentangled image I_out (raw [-1, 1] NHWC) and the codes used."""
        codes = self.encode(id_images, attr_images)
        return {**codes, "images": self.stylegan.synthesis(codes["ws"], noise_mode="const")}


def interpolate(net, ids, attrs, vary: str, space: str, t):
    """Raw images [len(t), R, R, 3] at positions t in [0, 1]: `vary` ("attr" | "id") goes from
    input 0 (t=0) to input 1 (t=1) of raw ids / attrs [2, R, R, 3] while the other kind stays at
    input 0. space "z": lerp the encoder code, then M; "w": lerp M's outputs."""
    t = tf.reshape(tf.constant(t, tf.float32), [-1, 1])
    z_id, z_attr = net.e_id(ids), net.e_attr(attrs)
    fixed, a, b = (z_id[0], z_attr[0], z_attr[1]) if vary == "attr" else (z_attr[0], z_id[0], z_id[1])

    def codes(v):  # [n, d] varying codes -> M's input with the fixed code repeated
        rep = tf.repeat(fixed[None], tf.shape(v)[0], axis=0)
        return tf.concat([rep, v] if vary == "attr" else [v, rep], axis=-1)

    if space == "z":
        ws = net.mapping(codes(a[None] + (b - a)[None] * t))
    else:
        ends = net.mapping(codes(tf.stack([a, b])))
        ws = ends[:1] + (ends[1:] - ends[:1]) * t[:, :, None]
    return net.stylegan.synthesis(ws, noise_mode="const")


def input_faces(files, seeds, G, config, align: bool = False, strict: bool = False) -> dict:
    """Model inputs from image files (a flag's value: see image_files.input_paths; FFHQ-aligned
    with `align`) or from StyleGAN seeds (the run's truncation): {"images": HWC uint8 [N, R, R, 3],
    "names": [N], "skipped": {entry: message}, "skipped_entries": image_files.Skipped, "entries": n}.
    Of several entries (a folder, a list), the unusable ones (not an image, unreadable, a
    sub-folder, no usable face, ...) are skipped and named; a single file that fails, any file
    with `strict`, or no usable entry, is a ValueError naming the file(s)."""
    import numpy as np

    from idd_tf.method import data
    from idd_tf.stylegan import networks as stylegan
    from idd_tf.utils import image_files
    if bool(files) == bool(seeds):
        raise ValueError("give either image files or seeds")
    if seeds:
        seeds = data.parse_seeds(seeds)
        raw = stylegan.seed_images(G, seeds, config.truncation_psi, config.truncation_cutoff)
        return {"images": stylegan.to_uint8(raw).numpy(), "names": [f"seed{s}" for s in seeds], "skipped": {},
                "skipped_entries": image_files.Skipped(), "entries": len(seeds)}
    paths, skipped = image_files.image_inputs(files)
    entries = len(paths) + len(skipped)
    images, names = [], []
    for p in paths:
        try:
            images.append(data.prepare_face(p, G.resolution, align))
            names.append(p.stem)
        except ValueError as e:   # unreadable, too small/large, not square, no face (NoFaceError)
            if strict or entries == 1:
                raise
            skipped.add_error(p, e)
    if not images:
        raise ValueError(f"no usable image in {files}: {skipped.summary(entries)}")
    return {"images": np.stack(images), "names": names, "entries": entries, "skipped_entries": skipped,
            "skipped": {name: detail for name, _, detail in skipped.items}}   # detail: the whole message


def swap_grid(net, ids_u8, attrs_u8, truth=None):
    """The paper's Fig. 4 layout as one uint8 image: identity images along the top row, attribute
    images down the left column, cell (i, j) = net(ids[j], attrs[i]) (the diagonal of equal
    lists is a reconstruction). `truth` [A, I, R, R, 3] fills the cells instead of the model
    (e.g. the toy world's ideal renders). White top-left corner."""
    import numpy as np

    from idd_tf.stylegan import networks as stylegan
    ids_u8, attrs_u8 = np.asarray(ids_u8), np.asarray(attrs_u8)
    r = ids_u8.shape[1]
    grid = np.full(((len(attrs_u8) + 1) * r, (len(ids_u8) + 1) * r, 3), 255, np.uint8)
    for j, im in enumerate(ids_u8):
        grid[:r, (j + 1) * r:(j + 2) * r] = im
    raw_ids = stylegan.from_uint8(ids_u8)
    for i, attr in enumerate(attrs_u8):
        grid[(i + 1) * r:(i + 2) * r, :r] = attr
        if truth is not None:
            out = np.asarray(truth[i])
        else:
            tiled = np.repeat(attr[None], len(ids_u8), axis=0)
            out = stylegan.to_uint8(net(raw_ids, stylegan.from_uint8(tiled))["images"]).numpy()
        for j in range(len(ids_u8)):
            grid[(i + 1) * r:(i + 2) * r, (j + 1) * r:(j + 2) * r] = out[j]
    return grid


def usable_images(faces_in: dict, warn, say):
    """The images of `input_faces`, after warn(line) per skipped entry and say(one summary line
    naming them: 'skipped 2 of 5 entries of photos: a.txt (not an image), sub (a folder); using 3')."""
    faces_in["skipped_entries"].report(warn, say, faces_in["entries"], then=f"; using {len(faces_in['images'])}")
    return faces_in["images"]


def checkpoint_path(spec) -> str:
    """A checkpoint prefix (RUN/checkpoints/ckpt-500) as given, or the latest one of a folder
    (RUN/checkpoints, RUN/checkpoints/best_id); FileNotFoundError naming what is missing."""
    import os
    spec = str(spec)
    if os.path.isdir(spec):
        found = tf.train.latest_checkpoint(spec)
        if found is None:
            raise FileNotFoundError(f"no checkpoint in {spec}")
        return found
    if not tf.io.gfile.glob(spec + ".index"):
        raise FileNotFoundError(f"checkpoint not found: {spec} (no {spec}.index)")
    return spec


def load_run(run_dir, checkpoint: str | None = None) -> dict:
    """A trained model from a run directory of scripts/train.py.

    Returns {"config", "model" (IDDModel with E_attr, M, D_W restored), "stylegan", "checkpoint"}.
    `run_dir` "toy" is the shipped toy run (`config.resolve_run_dir`). `checkpoint`: a prefix
    or a folder of checkpoints (its latest; default RUN/checkpoints).
    Random-init frozen parts (tiny runs) are rebuilt from the run's seed, as in training.
    Missing files raise FileNotFoundError naming them.
    """
    from pathlib import Path

    from idd_tf.stylegan import legacy

    run_dir = resolve_run_dir(run_dir)          # "toy": the shipped toy run
    config = TrainConfig.from_run_dir(run_dir)   # FileNotFoundError / ConfigError naming the file
    config = relocate_toy_weights(config)        # a toy run made in another clone (the shipped one)
    sg_path = Path(config.stylegan_weights) if config.stylegan_weights else run_dir / "stylegan"
    if not sg_path.exists() and (run_dir / "stylegan").exists():
        sg_path = run_dir / "stylegan"  # the run directory was moved
    G = legacy.load_stylegan(sg_path)
    keras.utils.set_random_seed(config.seed)
    net = IDDModel(config, G)
    path = checkpoint_path(checkpoint or run_dir / "checkpoints")
    from idd_tf.method.trainer import model_parts
    try:
        tf.train.Checkpoint(**model_parts(net)).restore(path).expect_partial().assert_existing_objects_matched()
    except AssertionError as e:
        raise ValueError(f"{path} does not hold every weight of E_attr, M and D_W (a checkpoint "
                         f"written before idd-tf stored them by name?): {str(e)[:300]}") from e
    return {"config": config, "model": net, "stylegan": G, "checkpoint": path}
