"""The package's layers: imports go one way, cli -> toy -> method -> stylegan (utils below all of them)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "idd_tf"
# Which top-level subpackages each layer may import.
ALLOWED = {
    "utils": {"utils"},
    "stylegan": {"utils", "stylegan"},
    "method": {"utils", "stylegan", "method"},
    "toy": {"utils", "stylegan", "method", "toy"},
    "cli": {"utils", "stylegan", "method", "toy", "cli"},   # the command-line tools: nothing imports them
}


def loaded_after(statement: str) -> list[str]:
    """The idd_tf modules a fresh interpreter holds after running `statement`."""
    code = f"import sys\n{statement}\nprint('\\n'.join(m for m in sys.modules if m.startswith('idd_tf')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


def test_importing_idd_tf_loads_no_layer():
    assert loaded_after("import idd_tf") == ["idd_tf"]


def test_the_stylegan_library_loads_nothing_of_the_method_or_the_toy_world():
    mods = loaded_after("import idd_tf.stylegan, idd_tf.stylegan.training, idd_tf.stylegan.precision")
    assert "idd_tf.stylegan.networks" in mods and "idd_tf.stylegan.legacy" in mods
    assert not [m for m in mods if m.startswith(("idd_tf.method", "idd_tf.toy"))], mods


def test_the_method_loads_nothing_of_the_toy_world():
    modules = sorted(p.stem for p in (PACKAGE / "method").glob("*.py") if p.stem != "__init__")
    mods = loaded_after("\n".join(f"import idd_tf.method.{m}" for m in modules)
                        + "\nimport idd_tf; idd_tf.TRAIN_PRESETS, idd_tf.load_run")
    assert len([m for m in mods if m.startswith("idd_tf.method.")]) == len(modules)
    assert not [m for m in mods if "toy" in m], mods


def _imports(path: Path) -> set[str]:
    """Every idd_tf module a source file imports, at any depth of the file (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("idd_tf")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("idd_tf"):
            names.add(node.module)
            if node.module == "idd_tf":   # `from idd_tf import x`: the top-level API or a moved module
                names |= {f"idd_tf.{a.name}" for a in node.names}
    return names


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_module_imports_a_layer_above_its_own(layer):
    """Also the imports inside functions, which loading the module does not run."""
    for path in sorted((PACKAGE / layer).glob("*.py")):
        for name in _imports(path):
            parts = name.split(".")
            assert len(parts) > 1 and parts[1] in ALLOWED[layer], f"{path.relative_to(PACKAGE)} imports {name}"


def test_old_module_paths_still_import_as_the_new_modules():
    import warnings

    import idd_tf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import idd_tf.toyworld as old_world
        from idd_tf import losses as old_losses
    from idd_tf.method import losses
    from idd_tf.toy import world
    assert old_world is world and old_losses is losses
    assert any(issubclass(w.category, DeprecationWarning) and "idd_tf.toy.world" in str(w.message) for w in caught)
    assert set(idd_tf.MOVED_MODULES.values()) <= {f"idd_tf.{p.parent.name}.{p.stem}" for p in PACKAGE.glob("*/*.py")}
