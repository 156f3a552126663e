"""The benchmark scripts still run (tiny sizes; no timing is asserted — targets live in benchmarks/)."""

import json

from conftest import run_script


def test_bench_synthesis_runs():
    proc = run_script("benchmarks/bench_synthesis.py", "--cases", "32x1", "--modes", "eager,function",
                      "--iters", 1, "--warmup", 1)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [r["mode"] for r in summary["results"]] == ["eager", "function"]
    assert all(r["img_per_s"] > 0 for r in summary["results"])


def test_bench_train_step_runs():
    # eager: the same step without ~20 s of tracing (the traced step is the trainer's, tested there)
    proc = run_script("benchmarks/bench_train_step.py", "--preset", "tiny", "--modes", "eager",
                      "--iters", 1, "--batch", 2)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["results"][0]["s_per_step"] > 0


def test_bench_dataset_runs():
    proc = run_script("benchmarks/bench_dataset.py", "--preset", "tiny", "--num", 8, "--batch", 4)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "images/s" in proc.stdout.strip().splitlines()[-1]


def test_bench_nvidia_stylegan_refuses_a_folder_that_is_not_nvidias_code(tmp_path):
    # the reference benchmark runs NVIDIA's own code, which is never shipped or downloaded here
    proc = run_script("benchmarks/bench_nvidia_stylegan.py", "--stylegan_repo", tmp_path)
    assert proc.returncode != 0
    assert "is not a checkout of github.com/NVlabs/stylegan" in proc.stderr
