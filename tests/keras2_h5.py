"""Write Keras-2 style HDF5 weight files (the layout of the released VGGFace2 / ImageNet files):
root attribute `layer_names`; per layer a group with attribute `weight_names`; each weight stored
at `<layer name>/<weight name>` (names with '/' nest groups, as Keras 2's writer did)."""

import h5py
import numpy as np


def write_keras2_weights(path, layers):
    """layers: list of (layer_name, [(weight_name, array), ...]) in file (topological) order."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for name, weights in layers:
            g = f.require_group(name)
            full = [f"{name}/{w}" for w, _ in weights]
            g.attrs["weight_names"] = np.array([n.encode() for n in full])
            for n, (_, value) in zip(full, weights):
                g.create_dataset(n, data=np.asarray(value))
    return path
