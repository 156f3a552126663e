"""The config engine: frozen dataclasses whose fields carry their own rules, checked when made.

A field is declared with its rule beside it::

    batch_size: int = field(6, low=1)                 # a number >= 1
    rec_mask: str = field("gaussian", choices=("gaussian", "uniform"))

`validate` checks every field's type (from the annotation) and rule, nested dataclasses by dotted
name, and raises `ConfigError` naming the first wrong one. `RunConfig` adds the JSON round trip,
`replace` with dotted names, reading a run's config.json and the resume rules. No values live here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Mapping

from idd_tf.utils.errors import UserError


class ConfigError(UserError, ValueError):
    """A config field with an unknown name, a wrong type or an impossible value (names the field)."""


def field(default, *, low=None, high=math.inf, low_inclusive: bool = True, choices=None, check=None):
    """A dataclass field with its rule: a number range [low, high] (`low_inclusive=False`: > low;
    tuples are checked element by element, None skipped), a tuple of allowed `choices`, or
    `check(value)` raising ConfigError (for choices known only at run time, e.g. a registry)."""
    rule = None
    if choices is not None:
        rule = tuple(choices)
    elif low is not None:
        rule = (low, high, low_inclusive)
    elif check is not None:
        rule = check
    return dataclasses.field(default=default, metadata={"rule": rule} if rule else {})


def rules(cls, prefix: str = "") -> dict[str, tuple]:
    """{dotted field name: rule} of a config class and its nested config classes."""
    out = {}
    for f in dataclasses.fields(cls):
        if "rule" in f.metadata:
            out[prefix + f.name] = f.metadata["rule"]
        if dataclasses.is_dataclass(f.default) and not getattr(f.default, "checks_itself", False):
            out.update(rules(type(f.default), prefix + f.name + "."))
    return out


def _type_ok(value, hint) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_type_ok(v, args[0]) for v in value)
        return len(value) == len(args) and all(_type_ok(v, a) for v, a in zip(value, args))
    return isinstance(value, hint)


def _type_name(hint) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def check_rule(name: str, value, rule) -> None:
    """ConfigError when `value` breaks `rule` (see `field`)."""
    if callable(rule):
        rule(value)
        return
    if isinstance(rule[0], str):
        if value not in rule:
            raise ConfigError(f"{name}={value!r} is not allowed; one of {', '.join(map(repr, rule))}")
        return
    low, high, low_inclusive = rule
    for v in (value if isinstance(value, tuple) else (value,)):
        if v is None:
            continue
        if not (low <= v if low_inclusive else low < v) or v > high or (isinstance(v, float) and math.isnan(v)):
            bound = f"{'>=' if low_inclusive else '>'} {low}" + (f" and <= {high}" if high != math.inf else "")
            raise ConfigError(f"{name}={value!r} is impossible: it must be {bound}")


def validate(config, prefix: str = "") -> None:
    """Raise ConfigError naming the first field whose type or value is wrong (nested by dotted name).
    A nested config that `checks_itself` (e.g. StyleGANConfig) was checked when it was made."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        name, value = prefix + f.name, getattr(config, f.name)
        if not _type_ok(value, hints[f.name]):
            hint = ""
            if isinstance(value, str) and "," in value and typing.get_origin(hints[f.name]) in (tuple, list):
                hint = f" (a JSON list: --set {name}=[{value}])"
            raise ConfigError(f"{name}={value!r} has the wrong type: expected {_type_name(hints[f.name])}{hint}")
        if dataclasses.is_dataclass(value):
            if not getattr(value, "checks_itself", False):
                validate(value, name + ".")
        elif "rule" in f.metadata:
            check_rule(name, value, f.metadata["rule"])


def from_dict(cls, d: Mapping[str, Any]):
    """A config class from its to_dict() form (lists become tuples; unknown keys: KeyError)."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        value = d[f.name]
        sub = f.default.__class__ if dataclasses.is_dataclass(f.default) else None
        if sub is not None and isinstance(value, Mapping):
            value = sub.from_dict(value) if hasattr(sub, "from_dict") else from_dict(sub, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise KeyError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**kwargs)


class RunConfig:
    """Mixin of a run's config: to_dict / from_dict (JSON round trip, unknown keys refused) /
    replace with dotted names / from_run_dir. Fields are checked when a config is made.
    `resume_fixed`: the fields a run's checkpoints or data were made with (`check_resume`)."""

    resume_fixed: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        return from_dict(cls, d)

    @classmethod
    def locate_run_dir(cls, run_dir) -> Path:
        """The folder a run name means (subclasses may resolve names of shipped runs)."""
        return Path(run_dir)

    @classmethod
    def from_run_dir(cls, run_dir):
        """The config.json of a run directory (FileNotFoundError naming it when absent)."""
        path = cls.locate_run_dir(run_dir) / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir} is not a run directory: no config.json there")
        try:
            d = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path} is not valid JSON ({e}); was it edited or cut short?") from None
        if not isinstance(d, Mapping):
            raise ConfigError(f"{path} does not hold a {cls.__name__} (a JSON object)")
        try:
            return cls.from_dict(d)
        except KeyError as e:   # fields this version does not have: a newer (or another) idd-tf
            raise ConfigError(f"{path} was written by another idd-tf version or edited: "
                              f"{e.args[0]}; this version knows {cls.__name__} as in "
                              f"{cls.__module__} (use the idd-tf that made the run)") from None

    def replace(self, **changes):
        """Copy with changes; nested fields by dotted name, e.g. replace(**{"loss.id": 2.0})."""
        import difflib
        d = self.to_dict()
        for key, value in changes.items():
            node, where, parts = d, "", key.split(".")
            for i, p in enumerate(parts):
                if not isinstance(node, dict) or p not in node:
                    fields = sorted(node) if isinstance(node, dict) else []
                    close = difflib.get_close_matches(p, fields, n=1)
                    raise ConfigError(
                        f"unknown config field {key!r}"
                        + (f" (did you mean {where + close[0]!r}?)" if close else "")
                        + (f"; fields of {where.rstrip('.') or type(self).__name__}: {', '.join(fields)}"
                           if fields else f"; {where.rstrip('.')} has no sub-fields"))
                if i < len(parts) - 1:
                    node, where = node[p], where + p + "."
            node[parts[-1]] = value
        return type(self).from_dict(d)


def leaves(value, prefix: str) -> dict[str, Any]:
    """{dotted name: value} of every leaf of a nested dict."""
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in leaves(sub, f"{prefix}.{key}").items()}
    return {prefix: value}


def check_resume(old, new) -> None:
    """ConfigError naming the first `resume_fixed` field that `new` (a resumed run's config with the
    user's changes) changes from `old` (the run's config.json), e.g. mapping.w_plus on a W run."""
    a, b = old.to_dict(), new.to_dict()
    for name in type(old).resume_fixed:
        va, vb = a, b
        for part in name.split("."):
            va, vb = va[part], vb[part]
        for key, value in leaves(va, name).items():
            changed = leaves(vb, name).get(key)
            if changed != value:
                raise ConfigError(f"{key}: this run was made with {json.dumps(value)}; a resumed run cannot "
                                  f"change it to {json.dumps(changed)} (its checkpoints/dataset depend on it): "
                                  "start a new run instead")


def parse_overrides(items) -> dict[str, Any]:
    """`--set key=value` strings -> {key: value}; values are JSON where they parse, else strings."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out
