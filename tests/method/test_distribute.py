"""tf.distribute: MirroredStrategy over 2 logical CPUs equals one device; 2 workers on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, run_script_here

from idd_tf.method import data, presets
from idd_tf.stylegan import config as sg_config
from idd_tf.stylegan import networks as stylegan

HELPER = ROOT / "tests" / "dist_helper.py"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist") / "ds"
    G = stylegan.random_stylegan(sg_config.STYLEGAN_PRESETS["tiny"], seed=0)
    data.generate_dataset(G, d, 32, shard_size=8, seed=0, progress=False)
    return d


def _env(**extra):
    return dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", **extra)


def test_mirrored_two_cpus_equals_single_device(dataset, tmp_path):
    out = tmp_path / "mirrored.json"
    proc = subprocess.run([sys.executable, str(HELPER), "mirrored", str(dataset), str(out)],
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["replicas"] == 2 and r["steps"] == [2, 2]
    first_s, first_m = r["single_metrics"][0], r["mirrored_metrics"][0]
    # Step 1 starts from identical weights: every loss and the global-batch gradient norms agree
    # to float precision. (The norms come from the per-replica gradients scaled by 1/replicas and
    # summed: a wrong loss scaling would show here, while Adam itself is scale-invariant.)
    for k in first_s:
        np.testing.assert_allclose(first_m[k], first_s[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert {"grad_norm_nonadv", "grad_norm_adv", "grad_norm_d", "r1"} <= set(first_m)
    # Step 2: Adam's first updates are ~lr * sign(g), so float noise in near-zero gradient entries
    # flips a few signs (+-2 lr); losses agree closely, weights almost everywhere exactly.
    for k in r["single_metrics"][1]:
        np.testing.assert_allclose(r["mirrored_metrics"][1][k], r["single_metrics"][1][k],
                                   rtol=3e-3, atol=1e-5, err_msg=k)
    assert [m["cross_step"] for m in r["mirrored_metrics"]] == [1.0, 0.0]
    optim = presets.TRAIN_PRESETS["tiny"].optim
    lr = optim.lr_nonadv
    after_1, after_2 = r["max_weight_diff"]
    assert after_1 < 1e-6  # identical gradients -> identical first updates
    assert after_2 <= 2 * (lr + optim.lr_adv)  # bounded by sign flips (E_attr and M: two updates a step)
    assert r["max_update"] > 0.5 * lr  # and step 2 did move the weights


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def run_two_workers(argv_of, timeout=420):
    """Start worker 0 and 1 of a 127.0.0.1 cluster (free ports) with argv_of(i); wait (bounded),
    kill whatever is left; assert both succeeded; return their (stdout, stderr)."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    try:
        for i in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            procs.append(subprocess.Popen(argv_of(i), cwd=ROOT, env=_env(TF_CONFIG=tf_config),
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    return outs


@pytest.mark.slow
def test_two_workers_multiworker_mirrored(dataset, tmp_path):
    """Slow (two processes in a cluster); the default run keeps the one-process MirroredStrategy
    test above and test_multiworker_refusal_and_chief below."""
    run_two_workers(lambda i: [sys.executable, str(HELPER), "worker", str(dataset), str(tmp_path / f"w{i}.npz")])
    w0, w1 = (np.load(tmp_path / f"w{i}.npz") for i in range(2))
    assert int(w0["replicas"]) == int(w1["replicas"]) == 2
    assert int(w0["step"]) == int(w1["step"]) == 2
    np.testing.assert_array_equal(w0["losses"], w1["losses"])
    names = [k for k in w0.files if k.startswith("arr_")]
    assert names and names == [k for k in w1.files if k.startswith("arr_")]
    for k in names:
        np.testing.assert_array_equal(w0[k], w1[k])
    # only the chief (worker 0) keeps checkpoints; the other's scratch directory is gone
    run = tmp_path / "run"
    assert (run / "checkpoints" / "checkpoint").is_file()
    assert not list(run.glob(".scratch-worker-*"))


@pytest.mark.slow
def test_train_script_multiworker(dataset, tmp_path):
    """Slow (two train.py processes in a cluster)."""
    run = tmp_path / "run"
    args = [sys.executable, "scripts/train.py", "--preset", "tiny", "--strategy", "multiworker", "--run_dir", str(run),
            "--dataset", str(dataset), "--steps", "4", "--set", "log_every=2"]
    outs = run_two_workers(lambda i: args)
    assert "done: step 4" in outs[0][0] and "worker done: step 4" in outs[1][0]
    assert (run / "checkpoints" / "ckpt-4.index").is_file() and (run / "config.json").is_file()
    assert len(list((run / "logs").glob("events.out.tfevents.*"))) == 1  # chief only
    assert not list(run.glob(".scratch-worker-*"))


def test_multiworker_refusal_and_chief(monkeypatch):
    """Without TF_CONFIG, train.py --strategy multiworker refuses clearly; in a cluster, the chief
    (the one process that writes summaries and checkpoints) is task "chief", else worker 0."""
    from types import SimpleNamespace

    import tensorflow as tf

    from idd_tf.method.trainer import is_chief
    monkeypatch.delenv("TF_CONFIG", raising=False)
    solo = run_script_here("scripts/train.py", "--strategy", "multiworker")   # stops before any TF work
    assert solo.returncode == 1 and "TF_CONFIG" in solo.stderr and "Traceback" not in solo.stderr

    def strategy(cluster, task_type, task_id):
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)
        return SimpleNamespace(cluster_resolver=resolver)

    two = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    with_chief = {"chief": ["127.0.0.1:3"], "worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    assert is_chief(tf.distribute.get_strategy())  # one process: no resolver
    assert is_chief(strategy({}, None, None))       # a resolver without a cluster
    assert [is_chief(strategy(two, "worker", i)) for i in (0, 1)] == [True, False]
    assert is_chief(strategy(with_chief, "chief", 0))
    assert [is_chief(strategy(with_chief, "worker", i)) for i in (0, 1)] == [False, False]
