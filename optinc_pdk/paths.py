"""Where the project's data lives: shipped scenarios, weights and layer views; build outputs.

The shipped files travel inside the package (``optinc_pdk/shipped/``). In a source checkout those
are links to the top-level ``circuits/``, ``weights/`` and ``layouts/`` folders, which stay their
source; building the wheel copies the files in. Outputs go under the current working folder.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_DIR = PACKAGE_DIR / "shipped"
CIRCUITS_DIR = (SHIPPED_DIR / "circuits").resolve()
WEIGHTS_DIR = (SHIPPED_DIR / "weights").resolve()
LAYER_VIEWS_PATH = (SHIPPED_DIR / "layouts" / "optinc.lyp").resolve()


def layouts_dir() -> Path:
    """Default parent of build outputs: ``layouts/`` in the current working folder."""
    return Path.cwd() / "layouts"


def runs_dir() -> Path:
    """Default parent of training run folders: ``runs/`` in the current working folder."""
    return Path.cwd() / "runs"
