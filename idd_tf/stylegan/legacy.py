"""Read NVIDIA StyleGAN v1 pickles (TF1 `dnnlib.tflib.network.Network`) into the Keras port.

No TensorFlow 1, no dnnlib, and nothing from the pickle is executed: `_RestrictedUnpickler`
resolves only a short allow-list of globals (a stub Network class and NumPy's array/scalar
reconstruction) and refuses everything else *before* any object is built.

This is the only module that knows TF1 variable names: `NAME_TABLE` maps each one (after the
network tree is flattened to "mapping/...", "synthesis/...", "<own var>") to a Keras weight
key (see `keras_weights`) plus a layout transform. Every pickle variable must be consumed and
every Keras weight filled, or loading fails naming what is missing or left over.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from idd_tf.stylegan.config import StyleGANConfig
from idd_tf.utils.errors import UserError

SUPPORTED_STATE_VERSIONS = (2, 3)
CONVERTED_CONFIG_NAME = "stylegan.json"
CONVERTED_FORMAT = "idd-tf-stylegan-v1"
NETWORK_KINDS = ("G", "D", "Gs")


class StyleGANFormatError(UserError, ValueError):
    """The file is not a StyleGAN v1 network idd-tf can read; the message says why."""


# ----------------------------------------------------------------------------------------------
# Restricted unpickling.

class _NetworkStub:
    """Stands in for `dnnlib.tflib.network.Network`: keeps the pickled state dict, runs nothing."""

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise StyleGANFormatError("Network state is not a dict: not a dnnlib Network pickle")
        self.state = state


class _EasyDictStub(dict):
    """Stands in for `dnnlib.util.EasyDict` (a plain dict)."""


def _reconstructor(cls, base, state):
    """Protocol-0/1 `copyreg._reconstructor`, allowed only for the stub classes."""
    if cls not in (_NetworkStub, _EasyDictStub) or base not in (object, dict):
        raise StyleGANFormatError(f"refused to reconstruct {cls!r} from {base!r}")
    return base.__new__(cls) if base is object else cls()


def _numpy_globals() -> dict[tuple[str, str], Any]:
    import numpy.core.multiarray  # noqa: F401  (old name, still importable as an alias)
    allowed = {("numpy", "dtype"): np.dtype, ("numpy", "ndarray"): np.ndarray}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = np.core.multiarray._reconstruct
        allowed[(mod, "scalar")] = np.core.multiarray.scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "_frombuffer")] = np.core.numeric._frombuffer
    return allowed


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("dnnlib.tflib.network", "Network"): _NetworkStub,
    ("dnnlib.util", "EasyDict"): _EasyDictStub,
    ("dnnlib", "EasyDict"): _EasyDictStub,
    ("collections", "OrderedDict"): dict,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("builtins", "object"): object,
    ("builtins", "dict"): dict,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            allowed = _numpy_allowed().get((module, name))
        if allowed is not None:
            return allowed
        if module.split(".")[0] in ("torch", "torch_utils"):
            raise StyleGANFormatError(
                f"this is a PyTorch pickle (global {module}.{name}), e.g. stylegan2-ada-pytorch or "
                "stylegan3; idd-tf reads NVIDIA's TensorFlow StyleGAN v1 pickles")
        raise StyleGANFormatError(
            f"refused to load global '{module}.{name}': NVIDIA StyleGAN pickles only reference "
            "dnnlib.tflib.network.Network and NumPy arrays, so this file is foreign or unsafe. "
            "Nothing from it was executed.")


_NUMPY_ALLOWED: dict | None = None


def _numpy_allowed():
    global _NUMPY_ALLOWED
    if _NUMPY_ALLOWED is None:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            _NUMPY_ALLOWED = _numpy_globals()
    return _NUMPY_ALLOWED


def read_pickle(path) -> Any:
    """Unpickle `path` with the restricted unpickler; clear errors for non-pickles and truncation."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"StyleGAN pickle not found: {path}")
    data = path.read_bytes()
    if data[:2] == b"PK":
        raise StyleGANFormatError(
            f"{path} is a zip archive (a PyTorch checkpoint?), not a NVIDIA StyleGAN v1 pickle")
    if data[:1] != b"\x80":
        raise StyleGANFormatError(f"{path} is not a pickle file (it does not start with a "
                                  "pickle protocol header)")
    try:
        return _RestrictedUnpickler(io.BytesIO(data)).load()
    except StyleGANFormatError:
        raise
    except EOFError as e:
        raise StyleGANFormatError(f"{path} is truncated ({len(data)} bytes): re-download it") from e
    except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, OverflowError, RecursionError) as e:
        raise StyleGANFormatError(f"{path} is corrupt or not a StyleGAN pickle: {e}") from e


# ----------------------------------------------------------------------------------------------
# Network trees -> flat {name: array}.

_STYLEGAN2_FUNCS = {"G_main", "G_synthesis_stylegan2", "G_mapping_stylegan2", "D_stylegan2",
                    "D_stylegan"}


def _state(net, what) -> dict:
    if not isinstance(net, _NetworkStub) or not hasattr(net, "state"):
        raise StyleGANFormatError(f"{what} is not a dnnlib Network (got {type(net).__name__})")
    st = net.state
    version = st.get("version")
    if type(version) is not int or version not in SUPPORTED_STATE_VERSIONS:
        raise StyleGANFormatError(
            f"{what}: unsupported dnnlib Network state version {version!r} "
            f"(StyleGAN v1 pickles are {SUPPORTED_STATE_VERSIONS})")
    func = str(st.get("build_func_name", ""))
    names = [n for n, _ in st.get("variables", [])]
    if func in _STYLEGAN2_FUNCS or any("mod_weight" in n or "mod_bias" in n for n in names):
        raise StyleGANFormatError(
            f"{what} ({func}) is a StyleGAN2 network; idd-tf supports StyleGAN v1 (G_style / "
            "G_synthesis / D_basic) only")
    if func and func not in ("G_style", "G_mapping", "G_synthesis", "D_basic"):
        raise StyleGANFormatError(f"{what} was built by '{func}', not by StyleGAN v1's "
                                  "G_style / G_mapping / G_synthesis / D_basic")
    return st


_MAX_COMPONENT_DEPTH = 3   # Gs -> mapping / synthesis; deeper (or cyclic) trees are not StyleGAN v1


def _variable_array(value, name, what) -> np.ndarray:
    """A pickled variable as a numeric ndarray (floats, ints, bools), else StyleGANFormatError."""
    if isinstance(value, (np.ndarray, np.generic, float, int)) and not isinstance(value, bool):
        arr = np.asarray(value)
        if arr.dtype.kind in "fiub":
            return arr
    kind = getattr(getattr(value, "dtype", None), "str", type(value).__name__)
    raise StyleGANFormatError(f"{what}: variable {name!r} is not a numeric array ({kind})")


def flatten_network(net, what, depth=0) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """{flat name: array} over a network and its components, and {prefix: static_kwargs}."""
    if depth > _MAX_COMPONENT_DEPTH:
        raise StyleGANFormatError(f"{what}: networks nested deeper than StyleGAN v1's (or cyclic)")
    st = _state(net, what)
    variables: dict[str, np.ndarray] = {}
    static, entries, components = st.get("static_kwargs") or {}, st.get("variables", []), st.get("components") or {}
    if not isinstance(static, dict) or not isinstance(entries, (list, tuple)) or not isinstance(components, dict):
        raise StyleGANFormatError(f"{what}: malformed Network state (static_kwargs, variables or components)")
    kwargs = {"": dict(static)}
    for entry in entries:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2 or not isinstance(entry[0], str):
            raise StyleGANFormatError(f"{what}: malformed variable entry {type(entry).__name__}")
        if entry[0] in variables:
            raise StyleGANFormatError(f"{what}: variable {entry[0]!r} appears twice")
        variables[entry[0]] = _variable_array(entry[1], entry[0], what)
    for comp_name, comp in components.items():
        sub_vars, sub_kwargs = flatten_network(comp, f"{what}.{comp_name}", depth + 1)
        variables.update({f"{comp_name}/{k}": v for k, v in sub_vars.items()})
        kwargs.update({f"{comp_name}/{k}".rstrip("/"): v for k, v in sub_kwargs.items()})
    # State version 2 kept component variables in the parent under their network name.
    for old, new in (("G_mapping/", "mapping/"), ("G_synthesis/", "synthesis/")):
        for k in [k for k in variables if k.startswith(old)]:
            variables[new + k[len(old):]] = variables.pop(k)
    return variables, kwargs


def split_networks(obj) -> dict[str, Any]:
    """The unpickled object -> {"G": ..., "D": ..., "Gs": ...} (whatever of these it holds)."""
    if isinstance(obj, dict) and {"G", "D", "G_ema"} & set(obj):
        raise StyleGANFormatError("this is a stylegan2-ada/stylegan3 network dict; idd-tf reads "
                                  "NVIDIA's TensorFlow StyleGAN v1 pickles")
    items = list(obj) if isinstance(obj, (tuple, list)) else [obj]
    if len(items) == 3 and all(isinstance(x, _NetworkStub) for x in items):
        return dict(zip(NETWORK_KINDS, items))
    out = {}
    for x in items:
        if not isinstance(x, _NetworkStub):
            raise StyleGANFormatError(
                f"expected a (G, D, Gs) tuple of dnnlib Networks, found {type(x).__name__}")
        out[str(_state(x, "network").get("name"))] = x
    return out


# ----------------------------------------------------------------------------------------------
# Config inference.

def _channels_by_stage(variables: dict[str, np.ndarray], resolution_log2: int) -> dict[int, int]:
    """{stage: channels} seen in a synthesis network's weights (stage = res - 1)."""
    chans = {1: int(variables["synthesis/4x4/Const/const"].shape[1])}
    for res in range(3, resolution_log2 + 1):
        w = variables.get(f"synthesis/{2**res}x{2**res}/Conv1/weight")
        if w is not None:
            chans[res - 1] = int(w.shape[-1])
    return chans


def infer_config(variables: dict[str, np.ndarray], kwargs: dict[str, dict]) -> StyleGANConfig:
    """StyleGANConfig from static_kwargs where present, otherwise from variable shapes.

    Whatever is chosen is then checked against every variable shape by the loader.
    """
    if "synthesis/4x4/Const/const" not in variables:
        raise StyleGANFormatError("no synthesis network (synthesis/4x4/Const/const) in the pickle")
    given: dict[str, Any] = {}
    for key in ("", "synthesis", "mapping"):
        given.update({k: v for k, v in kwargs.get(key, {}).items() if v is not None})
    noise = sorted(int(m.group(1)) for k in variables
                   if (m := re.fullmatch(r"synthesis/noise(\d+)", k)))
    dense = sorted(int(m.group(1)) for k in variables
                   if (m := re.fullmatch(r"mapping/Dense(\d+)/weight", k)))
    if not noise or not dense:
        raise StyleGANFormatError("pickle lacks noise buffers or mapping layers: not StyleGAN v1")
    for key in ("synthesis/ToRGB_lod0/weight", "mapping/Dense0/weight"):
        if key not in variables:
            raise StyleGANFormatError(f"pickle variable {key!r} is missing")
    resolution = int(variables[f"synthesis/noise{noise[-1]}"].shape[-1])
    log2 = int(np.log2(resolution))
    chans = _channels_by_stage(variables, log2)
    fmap_max = max(chans.values())
    below = [s for s in sorted(chans) if chans[s] < fmap_max]
    fmap_base = chans[below[0]] * 2 ** below[0] if below else fmap_max * 2 ** log2
    inferred = {
        "resolution": resolution,
        "num_channels": int(variables["synthesis/ToRGB_lod0/weight"].shape[-1]),
        "latent_size": int(variables["mapping/Dense0/weight"].shape[0]),
        "dlatent_size": int(variables[f"mapping/Dense{dense[-1]}/weight"].shape[-1]),
        "mapping_layers": len(dense),
        "mapping_fmaps": int(variables["mapping/Dense0/weight"].shape[-1]),
        "fmap_base": fmap_base,
        "fmap_max": fmap_max,
        "fmap_decay": 1.0,
    }
    merged = {**inferred, **{k: v for k, v in given.items() if k in StyleGANConfig.__annotations__}}
    if merged.get("label_size"):
        raise StyleGANFormatError("conditional StyleGAN (label_size > 0) is not supported")
    # static_kwargs must agree with the variables' shapes (checked before any network is built, so a
    # file cannot make the loader build a huge network it would reject anyway)
    for key in ("resolution", "num_channels", "latent_size", "dlatent_size", "mapping_layers", "mapping_fmaps"):
        if merged[key] != inferred[key]:
            raise StyleGANFormatError(f"static_kwargs say {key}={merged[key]!r} but the variables' shapes "
                                      f"say {inferred[key]}: inconsistent pickle")
    try:
        config = StyleGANConfig.from_dict(merged)
        wrong = {s: (config.nf(s), c) for s, c in chans.items() if config.nf(s) != c}
    except (ValueError, TypeError, OverflowError, ZeroDivisionError) as e:
        raise StyleGANFormatError(f"unsupported StyleGAN configuration: {e}") from e
    if wrong:
        raise StyleGANFormatError(f"fmap_base/fmap_decay/fmap_max give feature maps {wrong} "
                                  "(stage: (config, variables)): inconsistent pickle")
    return config


# ----------------------------------------------------------------------------------------------
# The name table: TF1 (flattened) name -> Keras weight key, with layout transforms.

def _identity(x, _shape):
    return x


def _nchw_to_nhwc(x, _shape):
    return np.transpose(x, (0, 2, 3, 1))


def _dense_after_nchw_flatten(x, shape):
    """Rows of a Dense fed by an NCHW flatten -> rows for an NHWC flatten (D's 4x4/Dense0)."""
    rows, out = x.shape
    channels = rows // 16
    return x.reshape(channels, 4, 4, out).transpose(1, 2, 0, 3).reshape(rows, out)


_LAYER = r"(\d+x\d+)/(Const|Conv|Conv0_up|Conv1)"

# (network, TF name regex, Keras weight key template, transform). First match wins.
NAME_TABLE: list[tuple[str, str, str | None, Callable]] = [
    ("G", r"lod", None, _identity),
    ("G", r"dlatent_avg", r"dlatent_avg", _identity),
    ("G", r"mapping/Dense(\d+)/(weight|bias)", r"mapping/Dense\1/\2", _identity),
    ("G", r"synthesis/lod", None, _identity),
    ("G", r"synthesis/noise(\d+)", r"synthesis/noise\1", _nchw_to_nhwc),
    ("G", r"synthesis/4x4/Const/const", r"synthesis/4x4_Const/const", _nchw_to_nhwc),
    ("G", rf"synthesis/{_LAYER}/Noise/weight", r"synthesis/\1_\2/noise_strength", _identity),
    ("G", rf"synthesis/{_LAYER}/bias", r"synthesis/\1_\2/bias", _identity),
    ("G", rf"synthesis/{_LAYER}/weight", r"synthesis/\1_\2/conv/weight", _identity),
    ("G", rf"synthesis/{_LAYER}/StyleMod/(weight|bias)", r"synthesis/\1_\2/StyleMod/\3", _identity),
    ("G", r"synthesis/ToRGB_lod(\d+)/(weight|bias)", r"synthesis/ToRGB_lod\1/\2", _identity),
    ("D", r"lod", None, _identity),
    ("D", r"FromRGB_lod(\d+)/(weight|bias)", r"FromRGB_lod\1/\2", _identity),
    ("D", r"4x4/Dense0/weight", r"4x4_Dense0/weight", _dense_after_nchw_flatten),
    ("D", r"(\d+x\d+)/(Conv|Conv0|Conv1_down|Dense0|Dense1)/(weight|bias)", r"\1_\2/\3", _identity),
]


def _nhwc_to_nchw(x, _shape):
    return np.transpose(x, (0, 3, 1, 2))


def _dense_before_nchw_flatten(x, _shape):
    """Inverse of `_dense_after_nchw_flatten` (Keras NHWC-flatten rows -> NVIDIA NCHW rows)."""
    rows, out = x.shape
    channels = rows // 16
    return x.reshape(4, 4, channels, out).transpose(2, 0, 1, 3).reshape(rows, out)


# The inverse of each NAME_TABLE transform (Keras layout -> NVIDIA layout), for writing pickles.
INVERSE_TRANSFORMS: dict[Callable, Callable] = {
    _identity: _identity,
    _nchw_to_nhwc: _nhwc_to_nchw,
    _dense_after_nchw_flatten: _dense_before_nchw_flatten,
}


def keras_weights(model) -> dict[str, Any]:
    """{key: variable} for a port model, key = variable path without the model's own name."""
    prefix = model.name + "/"
    return {(v.path[len(prefix):] if v.path.startswith(prefix) else v.path): v
            for v in model.weights}


def translate(variables: dict[str, np.ndarray], kind: str) -> dict[str, np.ndarray]:
    """Flat TF1 variables of a G-type ("G") or D-type ("D") network -> {keras key: array}.

    Fails on any variable no table row matches, and on lod != 0 (progressive-growing snapshot).
    """
    out, unmatched = {}, []
    rows = [r for r in NAME_TABLE if r[0] == kind]
    for name, value in variables.items():
        for _, pattern, template, transform in rows:
            m = re.fullmatch(pattern, name)
            if m is None:
                continue
            if template is None:
                if name.endswith("lod") and float(value) != 0.0:
                    raise StyleGANFormatError(
                        f"{name} = {float(value)}: this is a progressive-growing snapshot "
                        "taken before full resolution (lod must be 0)")
                break
            out[m.expand(template)] = transform(np.asarray(value, dtype=np.float32), None)
            break
        else:
            unmatched.append(name)
    if unmatched:
        raise StyleGANFormatError(f"pickle variables with no Keras counterpart: {sorted(unmatched)}")
    return out


def assign(model, values: dict[str, np.ndarray], what: str) -> None:
    """Fill every weight of `model` from `values`; error on missing, extra or mis-shaped ones."""
    targets = keras_weights(model)
    missing = sorted(set(targets) - set(values))
    extra = sorted(set(values) - set(targets))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing from the pickle: {missing}")
        if extra:
            parts.append(f"not in the model: {extra}")
        raise StyleGANFormatError(f"{what}: " + "; ".join(parts))
    bad = [f"{k}: pickle {values[k].shape} vs model {tuple(v.shape)}"
           for k, v in targets.items() if tuple(values[k].shape) != tuple(v.shape)]
    if bad:
        raise StyleGANFormatError(f"{what}: shape mismatch (wrong config?): {bad}")
    for k, v in targets.items():
        v.assign(values[k])


# ----------------------------------------------------------------------------------------------
# Public loading / conversion.

def _config_for(networks: dict[str, Any]) -> StyleGANConfig:
    src = networks.get("Gs") or networks.get("G")
    if src is None:
        raise StyleGANFormatError("the pickle holds no generator (G or Gs)")
    variables, kwargs = flatten_network(src, "Gs" if "Gs" in networks else "G")
    config = infer_config(variables, kwargs)
    if "D" in networks:
        d_kwargs = dict(_state(networks["D"], "D").get("static_kwargs") or {})
        extra = {k: d_kwargs[k] for k in ("mbstd_group_size", "mbstd_num_features") if k in d_kwargs}
        if extra:
            config = StyleGANConfig.from_dict({**config.to_dict(), **extra})
    return config


def _build(kind: str, config: StyleGANConfig):
    from idd_tf.stylegan import networks as stylegan
    if kind == "D":
        return stylegan.Discriminator(config, name=kind)
    return stylegan.StyleGAN(config, name=kind)


def load_pickle(path, which=NETWORK_KINDS) -> dict[str, Any]:
    """Load the requested networks ("G", "D", "Gs") of a NVIDIA pickle into Keras models.

    Returns {"config": StyleGANConfig, "G": StyleGAN, "D": Discriminator, "Gs": StyleGAN}
    restricted to `which`.
    """
    obj = read_pickle(path)
    try:
        networks = split_networks(obj)
        config = _config_for(networks)
        values = {}
        for kind in which:
            if kind not in networks:
                raise StyleGANFormatError(f"{path} holds no '{kind}' network "
                                          f"(it has {sorted(networks)})")
            func = _state(networks[kind], kind).get("build_func_name")
            if func and (func == "D_basic") != (kind == "D"):
                raise StyleGANFormatError(f"{path}: its '{kind}' network was built by {func!r}")
            variables, _ = flatten_network(networks[kind], kind)
            values[kind] = translate(variables, "D" if kind == "D" else "G")
    except StyleGANFormatError:
        raise
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError, RecursionError) as e:
        # the checks above name every known defect; anything else is a damaged file, still named
        raise StyleGANFormatError(f"{path} is corrupt or not a StyleGAN v1 pickle "
                                  f"({type(e).__name__}: {e})") from e
    out: dict[str, Any] = {"config": config}
    for kind in which:
        model = _build(kind, config)
        assign(model, values[kind], f"{path} [{kind}]")
        out[kind] = model
    return out


def save_converted(models: dict[str, Any], out_dir, source: str = "") -> Path:
    """Write Keras-native weights (`<kind>.weights.h5`) and `stylegan.json` atomically.

    Refuses to touch an existing directory; the result appears complete or not at all.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} exists; choose a new output directory")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        kinds = [k for k in NETWORK_KINDS if k in models]
        for kind in kinds:
            models[kind].save_weights(tmp / f"{kind}.weights.h5")
        meta = {"format": CONVERTED_FORMAT, "config": models["config"].to_dict(),
                "networks": kinds, "source": source}
        (tmp / CONVERTED_CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def load_converted(path, which=NETWORK_KINDS) -> dict[str, Any]:
    """Load networks written by `save_converted` (no pickle needed)."""
    path = Path(path)
    meta_path = path / CONVERTED_CONFIG_NAME
    if not meta_path.is_file():
        raise StyleGANFormatError(f"{path} has no {CONVERTED_CONFIG_NAME}: not a converted model")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != CONVERTED_FORMAT:
        raise StyleGANFormatError(f"{meta_path}: unknown format {meta.get('format')!r}")
    config = StyleGANConfig.from_dict(meta["config"])
    out: dict[str, Any] = {"config": config}
    for kind in which:
        weights = path / f"{kind}.weights.h5"
        if not weights.is_file():
            raise StyleGANFormatError(f"{path} holds no '{kind}' network ({weights.name} missing)")
        model = _build(kind, config)
        model.load_weights(weights)
        out[kind] = model
    return out


def load_networks(path, which=NETWORK_KINDS) -> dict[str, Any]:
    """Pickle file or converted directory -> {"config", and each of `which`}."""
    path = Path(path)
    if path.is_dir():
        return load_converted(path, which)
    return load_pickle(path, which)


def load_stylegan(path, which: str = "Gs"):
    """The generator of a NVIDIA pickle or converted directory: Gs (EMA) by default, or "G"."""
    if which not in ("G", "Gs"):
        raise ValueError(f"which must be 'G' or 'Gs', got {which!r}")
    return load_networks(path, (which,))[which]


def load_discriminator(path):
    """The discriminator D of a NVIDIA pickle or converted directory."""
    return load_networks(path, ("D",))["D"]


# ----------------------------------------------------------------------------------------------
# Writing NVIDIA's format: (G, D, Gs) dnnlib Network states, version 3, NVIDIA's variable names.

# dnnlib rebuilds a network by exec'ing `build_module_src` and calling `build_func_name` from it.
# NVIDIA's source is not copied into our pickles; this line makes dnnlib import the real module
# instead, which works wherever NVIDIA's repository is importable (its scripts run from its root).
BUILD_MODULE_SRC = "from training.networks_stylegan import *  # written by idd-tf\n"


def nvidia_variable_names(config: StyleGANConfig) -> dict[str, list[str]]:
    """NVIDIA's variables in creation order: {"G": [...], "G/mapping": [...], "G/synthesis": [...],
    "D": [...]} for `networks_stylegan.py` at `config` (lod 0, structure as built by NVIDIA)."""
    log2 = config.resolution_log2

    def styled(prefix):
        return [f"{prefix}/{v}" for v in ("weight", "Noise/weight", "bias", "StyleMod/weight",
                                           "StyleMod/bias")]

    mapping = [f"Dense{i}/{v}" for i in range(config.mapping_layers) for v in ("weight", "bias")]
    synthesis = ["lod"] + [f"noise{i}" for i in range(config.num_layers)]
    synthesis += ["4x4/Const/const"] + styled("4x4/Const")[1:] + styled("4x4/Conv")
    synthesis += [f"ToRGB_lod{log2 - 2}/weight", f"ToRGB_lod{log2 - 2}/bias"]
    for res in range(3, log2 + 1):
        r = f"{2 ** res}x{2 ** res}"
        synthesis += styled(f"{r}/Conv0_up") + styled(f"{r}/Conv1")
        synthesis += [f"ToRGB_lod{log2 - res}/weight", f"ToRGB_lod{log2 - res}/bias"]
    d = ["lod"]
    for res in range(log2, 2, -1):
        r = f"{2 ** res}x{2 ** res}"
        d += [f"FromRGB_lod{log2 - res}/weight", f"FromRGB_lod{log2 - res}/bias",
              f"{r}/Conv0/weight", f"{r}/Conv0/bias", f"{r}/Conv1_down/weight", f"{r}/Conv1_down/bias"]
    d += [f"FromRGB_lod{log2 - 2}/weight", f"FromRGB_lod{log2 - 2}/bias"]
    d += [f"4x4/{n}/{v}" for n in ("Conv", "Dense0", "Dense1") for v in ("weight", "bias")]
    return {"G": ["lod", "dlatent_avg"], "G/mapping": mapping, "G/synthesis": synthesis, "D": d}


def _to_nvidia(flat_name: str, kind: str, values: dict[str, np.ndarray]) -> np.ndarray:
    """The NVIDIA-layout value of one flattened TF1 name, from Keras values, via NAME_TABLE."""
    for net, pattern, template, transform in NAME_TABLE:
        m = re.fullmatch(pattern, flat_name) if net == kind else None
        if m is None:
            continue
        if template is None:
            return np.float32(0.0)  # lod: a full-resolution network
        key = m.expand(template)
        if key not in values:
            raise StyleGANFormatError(f"model has no weight {key!r} for NVIDIA variable {flat_name!r}")
        return np.ascontiguousarray(INVERSE_TRANSFORMS[transform](values.pop(key), None),
                                    dtype=np.float32)
    raise StyleGANFormatError(f"no NAME_TABLE row for NVIDIA variable {flat_name!r}")


class _NetworkOut:
    """Pickles exactly like a dnnlib Network: NEWOBJ of dnnlib.tflib.network.Network + state dict."""

    def __init__(self, state):
        self._state = state

    def __getstate__(self):
        return self._state


class _NvidiaPickler(pickle._Pickler):
    """Writes `_NetworkOut` as dnnlib.tflib.network.Network and NumPy's globals under their NumPy 1
    names (`numpy.core...`), which both NumPy 1 (NVIDIA's environment) and NumPy 2 resolve."""

    def save_global(self, obj, name=None):
        if obj is _NetworkOut:
            module, name = "dnnlib.tflib.network", "Network"
        else:
            module = pickle.whichmodule(obj, name or obj.__qualname__)
            name = name or obj.__qualname__
            if module.startswith("numpy._core"):
                module = "numpy.core" + module[len("numpy._core"):]
        self.save(module)
        self.save(name)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)


def _network_state(name, func, kwargs, variables, components=None) -> _NetworkOut:
    return _NetworkOut({"version": 3, "name": name, "static_kwargs": dict(kwargs),
                        "components": dict(components or {}), "build_module_src": BUILD_MODULE_SRC,
                        "build_func_name": func, "variables": variables})


def network_states(models: dict[str, Any]) -> tuple:
    """{"G", "D", "Gs"} Keras models -> (G, D, Gs) Network states in NVIDIA's format."""
    missing = [k for k in NETWORK_KINDS if k not in models]
    if missing:
        raise ValueError(f"writing a NVIDIA pickle needs G, D and Gs; missing {missing}")
    config = models["G"].config
    names = nvidia_variable_names(config)
    c = config.to_dict()
    g_kwargs = {k: c[k] for k in ("num_channels", "resolution", "label_size", "fmap_base",
                                   "fmap_decay", "fmap_max", "latent_size", "dlatent_size",
                                   "mapping_layers", "mapping_fmaps", "mapping_lrmul")}
    d_kwargs = {k: c[k] for k in ("num_channels", "resolution", "label_size", "fmap_base",
                                   "fmap_decay", "fmap_max", "mbstd_group_size", "mbstd_num_features")}
    out = []
    for kind in NETWORK_KINDS:
        model = models[kind]
        if model.config != config:
            raise ValueError(f"{kind} has a different configuration from G")
        table_kind = "D" if kind == "D" else "G"
        values = {k: np.asarray(v.numpy()) for k, v in keras_weights(model).items()}

        def take(prefix, flat_prefix=""):
            return [(n, _to_nvidia(flat_prefix + n, table_kind, values)) for n in names[prefix]]

        if kind == "D":
            net = _network_state(kind, "D_basic", d_kwargs, take("D"))
        else:
            mapping = _network_state("G_mapping", "G_mapping",
                                     {**g_kwargs, "dlatent_broadcast": config.num_layers},
                                     take("G/mapping", "mapping/"))
            synthesis = _network_state("G_synthesis", "G_synthesis", g_kwargs,
                                       take("G/synthesis", "synthesis/"))
            net = _network_state(kind, "G_style", g_kwargs, take("G"),
                                 {"synthesis": synthesis, "mapping": mapping})
        if values:
            raise StyleGANFormatError(f"{kind}: Keras weights with no NVIDIA name: {sorted(values)}")
        out.append(net)
    return tuple(out)


def save_pickle(models: dict[str, Any], path, overwrite: bool = False) -> Path:
    """Write (G, D, Gs) as a NVIDIA StyleGAN v1 pickle (protocol 4, as NVIDIA's `save_pkl`).

    Atomic (temp file + rename); refuses an existing file unless `overwrite`.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    buf = io.BytesIO()
    _NvidiaPickler(buf, protocol=4).dump(network_states(models))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
