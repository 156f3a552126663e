"""monitor.Monitor: scalars also go to logs/scalars.jsonl and plots/curves.png (no TensorBoard needed)."""

import numpy as np

from idd_tf.utils import monitor


def test_curves_png_and_resumed_steps_keep_the_last_value(tmp_path):
    lines = []
    mon = monitor.Monitor(tmp_path, printer=lines.append)
    for step in (10, 20, 30):
        mon.scalars(step, {"loss_id": 1.0 / step, "val/psnr": 10.0 + step})
    mon.scalars(20, {"loss_id": 0.5})          # a resumed run redoing step 20
    mon.image(30, "fakes", np.zeros((8, 8, 3), np.uint8))
    png = tmp_path / "plots" / "curves.png"
    assert png.is_file() and png.stat().st_size > 2000
    (tmp_path / "logs" / monitor.SCALARS_FILE).open("a").write('{"step": 40, "loss_')   # a line cut by a kill
    curves = monitor.read_scalars(tmp_path / "logs" / monitor.SCALARS_FILE)
    steps, values = curves["loss_id"]
    assert list(steps) == [10, 20, 30] and values[1] == 0.5 and values[0] == 0.1
    assert list(curves["val/psnr"][0]) == [10, 20, 30]
    mon.close()
    assert monitor.plot_curves(tmp_path / "nothing.jsonl", tmp_path / "x.png") is None


def test_disabled_monitor_writes_nothing(tmp_path):
    mon = monitor.Monitor(tmp_path / "run", enabled=False)
    mon.scalars(1, {"loss": 1.0})
    assert mon.plot_curves() is None and not (tmp_path / "run").exists()
