"""idd-tf: Face Identity Disentanglement via Latent Space Mapping, in TensorFlow 2 / Keras 3.

Three products, imports one way (toy -> method -> stylegan; utils below all):
- `idd_tf.stylegan`: StyleGAN v1, NVIDIA's pickles read and written, NVIDIA's training recipe;
- `idd_tf.method`: the paper's encoders, M, D_W, losses, training and evaluation;
- `idd_tf.toy`: the toy world with ground truth, the default run and the proof that the method works.

The names below load on first use, so `import idd_tf.stylegan` loads nothing of the method.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__version__ = "0.1.0"

# Public name -> the module that defines it.
_API = {
    **dict.fromkeys(("Discriminator", "MappingNetwork", "StyleGAN", "SynthesisNetwork", "from_uint8",
                     "random_stylegan", "seed_images", "to_nchw", "to_uint8", "to_unit_range"),
                    "idd_tf.stylegan.networks"),
    **dict.fromkeys(("StyleGANFormatError", "load_discriminator", "load_networks", "load_stylegan",
                     "save_converted", "save_pickle"), "idd_tf.stylegan.legacy"),
    **dict.fromkeys(("STYLEGAN_PRESETS", "StyleGANConfig"), "idd_tf.stylegan.config"),
    "TrainConfig": "idd_tf.method.config",
    "TRAIN_PRESETS": "idd_tf.method.presets",
    **dict.fromkeys(("IDDModel", "load_run"), "idd_tf.method.model"),
    "UserError": "idd_tf.utils.errors",
}
__all__ = sorted(_API)

# Modules of the flat layout before 0.2 -> where they live now (CHANGELOG.md). The old names
# still import, as the new module itself, with a DeprecationWarning.
MOVED_MODULES = {
    "idd_tf.config": "idd_tf.method.config",
    "idd_tf.legacy": "idd_tf.stylegan.legacy",
    "idd_tf.gan_training": "idd_tf.stylegan.training",
    "idd_tf.stylegan_precision": "idd_tf.stylegan.precision",
    **{f"idd_tf.{m}": f"idd_tf.method.{m}" for m in (
        "annotate", "data", "encoders", "faces", "losses", "metrics", "model", "networks", "preflight",
        "protocol", "trainer")},
    "idd_tf.monitor": "idd_tf.utils.monitor",
    "idd_tf.toyworld": "idd_tf.toy.world",
    "idd_tf.toynets": "idd_tf.toy.nets",
    "idd_tf.toynet_training": "idd_tf.toy.net_training",
    "idd_tf.toy_evaluation": "idd_tf.toy.evaluation",
    "idd_tf.toy_protocol": "idd_tf.toy.protocol",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old module name of MOVED_MODULES to its new module (the same module object)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = MOVED_MODULES[spec.name]
        warnings.warn(f"{spec.name} moved to {new}", DeprecationWarning, stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module):
        pass   # the new module is already executed


if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())


def __getattr__(name):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    if f"idd_tf.{name}" in MOVED_MODULES:   # `from idd_tf import config` etc.
        return importlib.import_module(f"idd_tf.{name}")
    raise AttributeError(f"module 'idd_tf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
