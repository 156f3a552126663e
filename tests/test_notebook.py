"""notebooks/quickstart.ipynb runs top to bottom (slow: a Jupyter kernel and a trained run)."""

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes(default_run, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("IDD_RUN", str(default_run["run"]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert f"run: {default_run['run']}" in text and "checkpoint" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2      # the grid, the interpolations
    assert "pairs" in text or "identity" in text.lower()                      # the evaluation printed
    assert os.environ["IDD_RUN"] == str(default_run["run"])
