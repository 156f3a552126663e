"""Write pickles in NVIDIA's format (dnnlib.tflib.network.Network state dicts) for tests."""

import contextlib
import pickle
import sys
import types

from idd_tf.stylegan import legacy


class Network:
    """Same pickled form as dnnlib's Network: NEWOBJ of dnnlib.tflib.network.Network + state."""

    def __init__(self, state):
        self._state = state

    def __getstate__(self):
        return self._state


@contextlib.contextmanager
def fake_dnnlib():
    names = ["dnnlib", "dnnlib.tflib", "dnnlib.tflib.network"]
    saved = {n: sys.modules.get(n) for n in names}
    mod = types.ModuleType("dnnlib.tflib.network")
    Network.__module__ = "dnnlib.tflib.network"
    Network.__qualname__ = "Network"
    mod.Network = Network
    sys.modules.update({"dnnlib": types.ModuleType("dnnlib"),
                        "dnnlib.tflib": types.ModuleType("dnnlib.tflib"),
                        "dnnlib.tflib.network": mod})
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def to_fake(stub):
    """legacy._NetworkStub (read from a real pickle) -> a picklable fake Network (deep copy)."""
    st = dict(stub.state)
    st["variables"] = list(st["variables"])
    st["components"] = {k: to_fake(v) for k, v in dict(st.get("components") or {}).items()}
    return Network(st)


def read_states(path):
    """The (G, D, Gs) of a NVIDIA pickle as fake Networks whose .state can be edited."""
    return [to_fake(n) for n in legacy.read_pickle(path)]


def write(obj, path, protocol=4):
    with fake_dnnlib():
        data = pickle.dumps(obj, protocol=protocol)
    path.write_bytes(data)
    return path
