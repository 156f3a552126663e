"""scripts/demo.py: the Gradio web demo, served in a subprocess and called through gradio_client.

One server (on the session's tiny `default_run`) for the whole module; every endpoint is checked
against what `model.load_run` computes in this process for the same inputs.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

STARTUP_TIMEOUT = 420   # TF import + model load + one warm-up swap, on 2 busy cores
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # loopback, never a proxy
    try:
        with opener.open(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def _stop(proc, timeout=60):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(default_run, tmp_path_factory):
    """`python scripts/demo.py --run RUN --port P` on 127.0.0.1: {"url", "proc", "log"}."""
    tmp = tmp_path_factory.mktemp("demo_server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp / "server.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2",
               GRADIO_TEMP_DIR=str(tmp / "gradio"), GRADIO_ANALYTICS_ENABLED="False")
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "scripts/demo.py", "--run", str(default_run["run"]),
                                 "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"demo exited with {proc.returncode} before serving:\n{log.read_text()[-3000:]}")
            if "running on local URL" in log.read_text() and _answers(url):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"demo did not answer at {url} within {STARTUP_TIMEOUT} s:\n{log.read_text()[-3000:]}")
            time.sleep(1.0)
        yield {"url": url, "proc": proc, "log": log, "tmp": tmp}
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client
    dl = server["tmp"] / "downloads"
    dl.mkdir(exist_ok=True)
    return Client(server["url"], verbose=False, analytics_enabled=False, download_files=str(dl))


@pytest.fixture(scope="module")
def reference(default_run):
    """The same run loaded here: seed images and outputs to compare the server's with."""
    from idd_tf.method import model
    from idd_tf.stylegan import networks as stylegan
    run = model.load_run(default_run["run"])
    net, G, cfg = run["model"], run["stylegan"], run["config"]

    def seeds(*s):
        return stylegan.to_uint8(stylegan.seed_images(G, list(s), cfg.truncation_psi,
                                                      cfg.truncation_cutoff)).numpy()

    def swap(ids, attrs):
        out = net(stylegan.from_uint8(np.asarray(ids)), stylegan.from_uint8(np.asarray(attrs)))["images"]
        return stylegan.to_uint8(out).numpy()

    return {"seeds": seeds, "swap": swap, "resolution": G.resolution}


def _read(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGB", im.mode
        return np.asarray(im)


def _check_image(a, shape):
    assert a.dtype == np.uint8 and a.shape == shape, (a.dtype, a.shape)
    assert a.std() > 5 and len(np.unique(a.reshape(-1, 3), axis=0)) > 20, "image is (nearly) constant"


def _close(a, b, max_diff=3, mean_diff=0.5):
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    assert d.max() <= max_diff and d.mean() <= mean_diff, (int(d.max()), float(d.mean()))


def _error(client, *args, api_name):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError) as e:
        client.predict(*args, api_name=api_name)
    msg = str(e.value)
    assert "Traceback" not in msg and "File \"" not in msg, msg
    return msg


def test_api_names(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/swap", "/grid", "/interpolate"} <= names, names


def test_swap_by_seeds(client, reference):
    r = reference["resolution"]
    id_in, attr_in, out, status = client.predict(None, 3, None, 10, False, api_name="/swap")
    id_in, attr_in, out = _read(id_in), _read(attr_in), _read(out)
    for a in (id_in, attr_in, out):
        _check_image(a, (r, r, 3))
    ids, attrs = reference["seeds"](3), reference["seeds"](10)
    np.testing.assert_array_equal(id_in, ids[0])
    np.testing.assert_array_equal(attr_in, attrs[0])
    _close(out, reference["swap"](ids, attrs)[0])
    assert "seed 3" in status and "seed 10" in status, status


def test_swap_by_uploaded_files(client, reference, tmp_path):
    from gradio_client import handle_file
    r = reference["resolution"]
    ids, attrs = reference["seeds"](5), reference["seeds"](12)
    Image.fromarray(ids[0]).save(tmp_path / "me.png")
    Image.fromarray(attrs[0]).save(tmp_path / "pose.png")
    id_in, attr_in, out, status = client.predict(handle_file(tmp_path / "me.png"), 0,
                                                 handle_file(tmp_path / "pose.png"), 1, False, api_name="/swap")
    id_in, attr_in, out = _read(id_in), _read(attr_in), _read(out)
    np.testing.assert_array_equal(id_in, ids[0])      # PNG round trip, already the model's size
    np.testing.assert_array_equal(attr_in, attrs[0])
    _check_image(out, (r, r, 3))
    _close(out, reference["swap"](ids, attrs)[0])
    assert "me.png" in status and "pose.png" in status, status   # the file wins over the seed
    # a larger square image is resized to the model's resolution
    Image.fromarray(np.repeat(np.repeat(ids[0], 3, axis=0), 3, axis=1)).save(tmp_path / "big.png")
    _, _, out, _ = client.predict(handle_file(tmp_path / "big.png"), None, None, 12, False, api_name="/swap")
    _check_image(_read(out), (r, r, 3))


def test_bad_uploads_give_one_line_errors(client, tmp_path):
    from gradio_client import handle_file
    (tmp_path / "broken.png").write_bytes(b"this is not a PNG file")
    msg = _error(client, handle_file(tmp_path / "broken.png"), None, None, 1, False, api_name="/swap")
    assert "cannot read image broken.png" in msg and "identity" in msg, msg
    (tmp_path / "empty.jpg").write_bytes(b"")
    msg = _error(client, None, 0, handle_file(tmp_path / "empty.jpg"), None, False, api_name="/swap")
    assert "empty.jpg" in msg and "attributes" in msg, msg
    Image.fromarray(np.full((32, 48, 3), 90, np.uint8)).save(tmp_path / "wide.png")
    msg = _error(client, handle_file(tmp_path / "wide.png"), None, None, 1, False, api_name="/swap")
    assert "not square (48x32)" in msg and "Align real photo" in msg, msg
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / "tiny.png")
    msg = _error(client, handle_file(tmp_path / "tiny.png"), None, None, 1, False, api_name="/swap")
    assert "too small" in msg, msg
    msg = _error(client, None, None, None, 1, False, api_name="/swap")
    assert "upload an image or give a seed" in msg, msg


def test_no_face_with_align(client, tmp_path):
    from gradio_client import handle_file
    Image.fromarray(np.full((128, 128, 3), 128, np.uint8)).save(tmp_path / "wall.png")
    msg = _error(client, handle_file(tmp_path / "wall.png"), None, None, 1, True, api_name="/swap")
    assert "wall.png" in msg and "no face" in msg, msg


def test_grid(client, reference):
    r = reference["resolution"]
    path, status = client.predict("0-3", "10-12", api_name="/grid")
    grid = _read(path)
    _check_image(grid, (4 * r, 5 * r, 3))
    assert (grid[:r, :r] == 255).all()                      # blank corner
    ids, attrs = reference["seeds"](0, 1, 2, 3), reference["seeds"](10, 11, 12)
    for j in range(4):                                      # identities along the top row
        np.testing.assert_array_equal(grid[:r, (j + 1) * r:(j + 2) * r], ids[j])
    for i in range(3):                                      # attributes down the left column
        np.testing.assert_array_equal(grid[(i + 1) * r:(i + 2) * r, :r], attrs[i])
    cell = grid[2 * r:3 * r, 3 * r:4 * r]                   # identity 2 with attributes 11
    _close(cell, reference["swap"](ids[2:3], attrs[1:2])[0])
    assert "4 identities" in status and "3 attributes" in status, status
    assert "at most" in _error(client, "0-100000000", "1", api_name="/grid")
    assert "not a seed" in _error(client, "zero", "1", api_name="/grid")


def test_interpolate_endpoints(client, reference):
    r = reference["resolution"]
    ends = {}
    for t in (0.0, 0.5, 1.0):
        path, status = client.predict(None, 0, None, 1, None, 10, False, t, api_name="/interpolate")
        ends[t] = _read(path)
        _check_image(ends[t], (r, r, 3))
        assert f"t = {t:.2f}" in status, status
    a, b, attr = reference["seeds"](0), reference["seeds"](1), reference["seeds"](10)
    _close(ends[0.0], reference["swap"](a, attr)[0])
    _close(ends[1.0], reference["swap"](b, attr)[0])
    assert not np.array_equal(ends[0.5], ends[0.0]) and not np.array_equal(ends[0.5], ends[1.0])
    msg = _error(client, None, None, None, 1, None, 10, False, 0.5, api_name="/interpolate")
    assert "identity A" in msg, msg


def test_screenshot(server, tmp_path):
    if not Path(CHROMIUM).exists():   # .ci/run installs it: on CI the page must be opened
        if os.environ.get("CI") == "true":
            pytest.fail("chromium not installed on CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not installed: apt-get install chromium")
    png = tmp_path / "demo.png"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
                           "--window-size=1280,900", "--virtual-time-budget=15000", server["url"]],
                          capture_output=True, text=True, timeout=180)
    assert png.is_file(), proc.stderr[-2000:]
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape == (900, 1280, 3), img.shape
    colours = len(np.unique(img.reshape(-1, 3)[::7], axis=0))
    assert img.std() > 10 and colours > 30, (float(img.std()), colours)   # the app rendered, not a blank page


def test_stops_with_a_final_line(server):
    """Last in the module: SIGTERM (as Ctrl+C) ends the server cleanly with its final line."""
    _stop(server["proc"])
    text = server["log"].read_text()
    assert server["proc"].returncode == 0, text[-2000:]
    assert "running on local URL: " + server["url"] in text
    assert text.rstrip().endswith("idd-tf demo stopped"), text[-2000:]


def test_without_run_it_serves_the_shipped_toy_run_or_says_there_is_none(tmp_path):
    """Without --run: the shipped toy run when it is there (checked in a subprocess that imports
    idd_tf.cli.demo), else exit 1 with a one-line error (the shipped folder pointed elsewhere)."""
    from idd_tf.method import presets
    shipped = presets.shipped_run_dir()
    code = ("from idd_tf.method import presets\n"
            "from idd_tf.cli import demo\n"
            "print('default:', demo.default_run_dir() if presets.shipped_run_dir().is_dir() else None, flush=True)\n"
            f"presets.TOY_WEIGHTS_DIR = {str(tmp_path / 'weights')!r}\n"
            f"demo.main(['demo.py', '--port', '{_free_port()}'])\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    expected = shipped if shipped.is_dir() else None
    assert f"default: {expected}" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    missing = tmp_path / "weights" / "run"
    assert f"no --run given and no shipped toy run at {missing}" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
