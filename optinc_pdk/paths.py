"""Where the project's data lives: scenarios, shipped weights, build outputs."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
CIRCUITS_DIR = REPO_DIR / "circuits"
WEIGHTS_DIR = REPO_DIR / "weights"
LAYOUTS_DIR = REPO_DIR / "layouts"
