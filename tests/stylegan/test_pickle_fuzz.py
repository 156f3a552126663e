"""Fuzzing the NVIDIA pickle reader: every mutation of a valid pickle ends in StyleGANFormatError
or a correct load; never another exception, a hang, a large allocation or code execution.

The default run tries FUZZ_CASES seeded cases; `pytest -m slow tests/test_pickle_fuzz.py` tries 2,000.
"""

import functools
import pickle
import resource
import signal
import time

import numpy as np
import nvidia_pickle_tools as npt
import pytest

from idd_tf.stylegan import config as sg_config
from idd_tf.stylegan import legacy
from idd_tf.stylegan import training as gan_training
from idd_tf.stylegan.legacy import StyleGANFormatError

FUZZ_CASES = 300
SLOW_CASES = 2000
CASE_SECONDS = 20          # a case taking longer is a hang
MAX_RSS_GROWTH_MB = 600    # over all cases together


class _Payload:
    """Unpickled by a normal unpickler, it would create `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def valid_pickle(tmp_path_factory):
    nets = gan_training.build_networks(sg_config.GAN_PRESETS["quick"], seed=3)
    path = tmp_path_factory.mktemp("fuzz") / "valid.pkl"
    legacy.save_pickle(nets, path)
    return path


# ---- mutations: (rng, valid bytes, tmp dir, marker) -> bytes of the mutated file ----------------

def _bytes_flip(rng, raw, _d, _m):
    b = bytearray(raw)
    for i in rng.integers(len(b), size=int(rng.integers(1, 9))):
        b[i] ^= 1 << int(rng.integers(8))
    return bytes(b)


def _bytes_truncate(rng, raw, _d, _m):
    return raw[:int(rng.integers(len(raw)))]


def _bytes_insert(rng, raw, _d, _m):
    i = int(rng.integers(len(raw)))
    return raw[:i] + rng.bytes(int(rng.integers(1, 16))) + raw[i:]


def _bytes_huge_size(rng, raw, _d, _m):
    # overwrite 4 or 8 bytes with a huge length: a declared size of a string/bytes/frame opcode
    i = int(rng.integers(len(raw) - 8))
    big = [b"\xff\xff\xff\x7f", b"\xff\xff\xff\xff", b"\xff" * 7 + b"\x7f"][int(rng.integers(3))]
    return raw[:i] + big + raw[i + len(big):]


def _bytes_duplicate(rng, raw, _d, _m):
    i, j = sorted(rng.integers(len(raw), size=2))
    return raw[:j] + raw[i:j] + raw[j:]


def _states(raw, d):
    p = d / "src.pkl"
    p.write_bytes(raw)
    return npt.read_states(p)


def _write(obj, d):
    with npt.fake_dnnlib():
        return pickle.dumps(obj, protocol=4)


def _all_nets(nets):
    out = []
    for n in nets:
        out.append(n)
        out.extend(_all_nets(list(n._state["components"].values())))
    return out


def _pick_var(rng, nets):
    candidates = [(n, i) for n in _all_nets(nets) for i in range(len(n._state["variables"]))]
    return candidates[int(rng.integers(len(candidates)))]


def _swap_arrays(rng, raw, d, _m):
    nets = _states(raw, d)
    (n1, i1), (n2, i2) = _pick_var(rng, nets), _pick_var(rng, nets)
    v1, v2 = n1._state["variables"][i1], n2._state["variables"][i2]
    n1._state["variables"][i1], n2._state["variables"][i2] = (v1[0], v2[1]), (v2[0], v1[1])
    return _write(tuple(nets), d)


def _wrong_dtype(rng, raw, d, _m):
    nets = _states(raw, d)
    n, i = _pick_var(rng, nets)
    name, value = n._state["variables"][i]
    choices = [lambda v: v.astype(np.float16), lambda v: v.astype(np.int8), lambda v: v.astype(object),
               lambda v: v.astype(np.complex64), lambda v: np.array(["x"] * v.size), lambda v: None,
               lambda v: "weights", lambda v: [1.0, 2.0], lambda v: {"a": 1}, lambda v: True]
    n._state["variables"][i] = (name, choices[int(rng.integers(len(choices)))](np.asarray(value)))
    return _write(tuple(nets), d)


def _wrong_shape(rng, raw, d, _m):
    nets = _states(raw, d)
    n, i = _pick_var(rng, nets)
    name, value = n._state["variables"][i]
    value = np.asarray(value)
    choices = [lambda v: v.reshape(-1), lambda v: v.T, lambda v: v[..., :max(1, v.shape[-1] // 2)] if v.ndim else v,
               lambda v: np.concatenate([v.reshape(-1), v.reshape(-1)]), lambda v: np.zeros((0,), v.dtype),
               lambda v: v[None], lambda v: np.float32(1.0)]
    n._state["variables"][i] = (name, choices[int(rng.integers(len(choices)))](value))
    return _write(tuple(nets), d)


def _missing_or_extra(rng, raw, d, _m):
    nets = _states(raw, d)
    n, i = _pick_var(rng, nets)
    while n._state["variables"][i][0] == "lod":    # the one optional variable (must be 0 if present)
        n, i = _pick_var(rng, nets)
    if rng.random() < 0.5:
        del n._state["variables"][i]
    else:
        name, value = n._state["variables"][i]
        n._state["variables"].append((name + ["_x", "", "/extra"][int(rng.integers(3))], value))
    return _write(tuple(nets), d)


def _nested(rng, raw, d, _m):
    nets = _states(raw, d)
    G, D, Gs = nets
    k = int(rng.integers(5))
    if k == 0:                                   # a cycle: Gs is its own component
        Gs._state["components"]["synthesis"] = Gs
    elif k == 1:                                 # a deep chain of components
        inner = Gs
        for _ in range(50):
            inner = npt.Network({**Gs._state, "components": {"synthesis": inner}})
        nets = [G, D, inner]
    elif k == 2:                                 # the same object in several places
        nets = [Gs, Gs, Gs]
    elif k == 3:                                 # containers nested deeply inside the state
        deep = [1.0]
        for _ in range(300):
            deep = [deep]
        Gs._state["static_kwargs"] = {**Gs._state["static_kwargs"], "deep": deep}
    else:                                        # a whole file of 100,000 nested lists (raw opcodes)
        return b"\x80\x04" + b"]" * 100_000 + b"a" * 99_999 + b"."
    return _write(tuple(nets), d)


def _static_kwargs(rng, raw, d, _m):
    nets = _states(raw, d)
    net = nets[int(rng.integers(3))]
    key = ["resolution", "fmap_max", "fmap_base", "latent_size", "dlatent_size", "mapping_layers",
           "mbstd_group_size", "mapping_lrmul", "fmap_decay", "num_channels", "label_size"][int(rng.integers(11))]
    value = [2 ** 20, 10 ** 9, -1, 0, "64", 3.5, None, float("nan"), float("inf"), [1], 2 ** 70][int(rng.integers(11))]
    if rng.random() < 0.3:
        net._state["static_kwargs"] = [("resolution", 32)]          # not a dict
    else:
        net._state["static_kwargs"] = {**net._state["static_kwargs"], key: value}
    return _write(tuple(nets), d)


def _malformed_state(rng, raw, d, _m):
    nets = _states(raw, d)
    net = _all_nets(nets)[int(rng.integers(len(_all_nets(nets))))]
    k = int(rng.integers(6))
    if k == 0:
        net._state["variables"] = "variables"
    elif k == 1:
        net._state["variables"] = [("a", np.zeros(2, np.float32), 3)]
    elif k == 2:
        net._state["variables"] = [(7, np.zeros(2, np.float32))]
    elif k == 3:
        net._state["components"] = ["synthesis"]
    elif k == 4:
        net._state["version"] = [4, "x", None, 2.0][int(rng.integers(4))]
    else:
        net._state["build_func_name"] = ["G_synthesis_stylegan2", 17, "evil"][int(rng.integers(3))]
    return _write(tuple(nets), d)


def _payload(rng, raw, d, marker):
    nets = _states(raw, d)
    net = _all_nets(nets)[int(rng.integers(len(_all_nets(nets))))]
    evil = _Payload(marker)
    k = int(rng.integers(4))
    if k == 0:
        net._state["static_kwargs"] = {**net._state["static_kwargs"], "x": evil}
    elif k == 1:
        net._state["variables"].append(("evil", evil))
    elif k == 2:
        net._state["components"]["evil"] = evil
    else:
        return _write((evil,) + tuple(nets), d)
    return _write(tuple(nets), d)


MUTATIONS = [_bytes_flip, _bytes_truncate, _bytes_insert, _bytes_huge_size, _bytes_duplicate, _swap_arrays,
             _wrong_dtype, _wrong_shape, _missing_or_extra, _nested, _static_kwargs, _malformed_state, _payload]


class _Hang(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Hang()


def _fuzz(valid_pickle, tmp_path, monkeypatch, cases, seed):
    # one Keras model per (kind, config) for the whole run: loading assigns every weight anyway
    monkeypatch.setattr(legacy, "_build", functools.lru_cache(maxsize=None)(legacy._build))
    raw = valid_pickle.read_bytes()
    reference = legacy.load_pickle(valid_pickle)
    z = np.random.default_rng(0).standard_normal((2, reference["config"].latent_size)).astype(np.float32)
    marker = tmp_path / "pwned"
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = {}
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for case in range(cases):
            rng = np.random.default_rng([seed, case])
            mutate = MUTATIONS[case % len(MUTATIONS)]
            path = tmp_path / "case.pkl"
            path.write_bytes(mutate(rng, raw, tmp_path, marker))
            t0 = time.perf_counter()
            signal.alarm(CASE_SECONDS)
            try:
                nets = legacy.load_pickle(path)
                kind = "loaded"
            except StyleGANFormatError:
                kind = "refused"
            except _Hang:
                pytest.fail(f"case {case} ({mutate.__name__}) ran over {CASE_SECONDS} s")
            except Exception as e:  # noqa: BLE001  (the point of the test: nothing else escapes)
                pytest.fail(f"case {case} ({mutate.__name__}): {type(e).__name__}: {e}")
            finally:
                signal.alarm(0)
            assert time.perf_counter() - t0 < CASE_SECONDS
            assert not marker.exists(), f"case {case} ({mutate.__name__}) executed code from the pickle"
            if kind == "loaded":
                # a correct load: complete networks of a consistent config that run
                assert set(nets) == {"config", "G", "D", "Gs"}
                img = nets["Gs"](z, truncation_psi=1.0, noise_mode="const")
                assert img.shape == (2, nets["config"].resolution, nets["config"].resolution, 3)
            outcomes.setdefault(mutate.__name__, {"loaded": 0, "refused": 0, "seconds": 0.0})[kind] += 1
            outcomes[mutate.__name__]["seconds"] += time.perf_counter() - t0
    finally:
        signal.signal(signal.SIGALRM, old)
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert growth_mb < MAX_RSS_GROWTH_MB, f"peak memory grew by {growth_mb:.0f} MB"
    return outcomes


def test_fuzzed_pickles_fail_cleanly(valid_pickle, tmp_path, monkeypatch):
    outcomes = _fuzz(valid_pickle, tmp_path, monkeypatch, FUZZ_CASES, seed=0)
    # every mutation kind ran, and the structural ones were refused (never silently accepted)
    assert set(outcomes) == {m.__name__ for m in MUTATIONS}
    for name in ("_missing_or_extra", "_payload", "_malformed_state"):
        assert outcomes[name]["loaded"] == 0, (name, outcomes[name])
    assert outcomes["_bytes_truncate"]["refused"] > 0


@pytest.mark.slow
def test_fuzzed_pickles_fail_cleanly_2000_cases(valid_pickle, tmp_path, monkeypatch):
    _fuzz(valid_pickle, tmp_path, monkeypatch, SLOW_CASES, seed=1)
