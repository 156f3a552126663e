"""Architectures that other packages add to the method, by name, so the method imports none of them.

Three kinds, each a table of name -> callable:
- `id_encoders`: `id_encoder.arch` -> build(weights) -> a Keras model from raw [-1, 1] RGB NHWC to an
  L2-normalised embedding, with an `embedding_dim` attribute (the built-in `resnet50_vggface2` and
  `dlib_resnet` are `encoders.IdentityEncoder`'s own);
- `landmark_checks`: check(path) called on a landmark `.weights.h5` before it loads (e.g. the toy
  world refuses a net of another world);
- `scorers`: `id_encoder.arch` -> make(evaluator_dir) -> a grid scorer (`annotate.FaceScorer`'s
  contract) for runs of that architecture.

Entries come from `register(kind, name, fn)` or from the installed packages' entry points of the
groups `idd_tf.<kind>` (setup.cfg: the toy world's are there); names are listed without importing.
"""

from __future__ import annotations

from importlib import metadata
from typing import Callable

from idd_tf.utils.configs import ConfigError

KINDS = ("id_encoders", "landmark_checks", "scorers")
BUILTIN_ID_ENCODERS = ("resnet50_vggface2", "dlib_resnet")
_registered: dict[str, dict[str, Callable]] = {kind: {} for kind in KINDS}
# The method's own raw-input E_id (the VGGFace2 ResNet is IdentityEncoder's own), loaded like an
# installed entry point: on first use.
_BUILT_IN = {"id_encoders": {"dlib_resnet": metadata.EntryPoint(
    name="dlib_resnet", value="idd_tf.method.dlib_resnet:encoder", group="idd_tf.id_encoders")}}


def _entry_points(kind: str) -> dict:
    return {**_BUILT_IN.get(kind, {}), **{ep.name: ep for ep in metadata.entry_points(group=f"idd_tf.{kind}")}}


def register(kind: str, name: str, fn: Callable) -> None:
    """Add `fn` under `name` to the table `kind` (one of KINDS) for this process."""
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}; one of {', '.join(KINDS)}")
    _registered[kind][name] = fn


def names(kind: str) -> tuple[str, ...]:
    """Every name of a table (registered and installed), without importing their code."""
    return tuple(sorted(set(_registered[kind]) | set(_entry_points(kind))))


def get(kind: str, name: str) -> Callable | None:
    """The callable registered under `name`, loading its package if it is an entry point; None if
    there is none."""
    if name in _registered[kind]:
        return _registered[kind][name]
    ep = _entry_points(kind).get(name)
    if ep is None:
        return None
    _registered[kind][name] = ep.load()
    return _registered[kind][name]


def every(kind: str) -> list[Callable]:
    """All callables of a table (entry points loaded)."""
    return [get(kind, name) for name in names(kind)]


def id_encoder_names() -> tuple[str, ...]:
    """The values `id_encoder.arch` may take: the built-in ones and every registered one."""
    return BUILTIN_ID_ENCODERS + tuple(n for n in names("id_encoders") if n not in BUILTIN_ID_ENCODERS)


def check_id_encoder_arch(arch: str) -> None:
    """ConfigError naming the known architectures when `arch` is none of them."""
    known = id_encoder_names()
    if arch not in known:
        raise ConfigError(f"id_encoder.arch={arch!r} is not allowed; one of {', '.join(map(repr, known))}")
