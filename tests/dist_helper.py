"""Subprocess helper for tests/test_distribute.py (TF device/cluster setup must precede any op).

    python tests/dist_helper.py mirrored DATASET OUT.json
    python tests/dist_helper.py worker DATASET OUT.npz   (TF_CONFIG set by the caller)
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

STEPS = 2


def train(strategy, dataset, run_dir, global_batch):
    import keras

    from idd_tf.method import model, presets, trainer
    from idd_tf.stylegan import networks as stylegan
    # adv_every=1: both steps run all three updates (one traced step function per strategy)
    cfg = presets.TRAIN_PRESETS["tiny"].replace(batch_size=global_batch, adv_every=1)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        G = stylegan.random_stylegan(cfg.stylegan, seed=0)
        net = model.IDDModel(cfg, G)
    tr = trainer.Trainer(net, trainer.dataset_fn_for(dataset, global_batch, 0, cfg.shuffle_buffer),
                         cfg, run_dir, strategy=strategy)
    metrics, weights = [], []
    for _ in range(STEPS):
        metrics.append({k: float(v) for k, v in tr.train_step(tr.next_batch()).items()})
        weights.append([v.numpy() for v in net.generator_variables + net.d_w.trainable_variables])
    tr.save()
    return metrics, weights, int(tr.step.numpy())


def main():
    mode, dataset, out = sys.argv[1:4]
    if mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        base = os.path.dirname(out)
        single = train(tf.distribute.OneDeviceStrategy("/cpu:0"), dataset, f"{base}/single", 4)
        mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        mirrored = train(mirrored_strategy, dataset, f"{base}/mirrored", 4)
        result = {"replicas": mirrored_strategy.num_replicas_in_sync,
                  "single_metrics": single[0], "mirrored_metrics": mirrored[0],
                  "max_weight_diff": [max(float(np.abs(a - b).max()) for a, b in zip(ws, wm))
                                      for ws, wm in zip(single[1], mirrored[1])],
                  "max_update": max(float(np.abs(a - b).max())
                                    for a, b in zip(mirrored[1][0], mirrored[1][1])),
                  "steps": [single[2], mirrored[2]]}
        with open(out, "w") as f:
            json.dump(result, f)
    elif mode == "worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        run_dir = os.path.join(os.path.dirname(out), "run")
        metrics, weights, step = train(strategy, dataset, run_dir, 4)
        np.savez(out, step=step, losses=np.array([m["loss_nonadv"] for m in metrics]),
                 replicas=strategy.num_replicas_in_sync, *weights[-1])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
