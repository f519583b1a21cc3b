"""Read one array from a ``.npy`` file people bring (gradients, matrices): plain arrays only, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optinc_pdk.errors import OptincError, first_line


def read_npy(path: str | Path, what: str = "array") -> np.ndarray:
    """The array saved in ``path`` with ``numpy.save`` (no pickle), or an OptincError naming the file.

    ``what`` names the content in the messages ("gradients file", "matrix"). A truncated file, a
    foreign file, an empty one, an .npz archive and pickled object arrays are all refused by name.
    """
    path = Path(path)
    if path.is_dir():
        raise OptincError(f"{path}: is a directory, expected a .npy {what}")
    if not path.exists():
        raise OptincError(f"{path}: {what} not found")
    try:
        empty = path.stat().st_size == 0
    except OSError as error:
        raise OptincError(f"{path}: cannot read ({error.strerror or error})") from None
    if empty:
        raise OptincError(f"{path}: is empty (0 bytes), expected a .npy {what}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise OptincError(f"{path}: not a readable .npy array without pickle: it holds pickled Python objects"
                              ) from None
        raise OptincError(f"{path}: not a readable .npy array ({first_line(error)})") from None
    except Exception as error:  # truncated or foreign files: EOF, bad headers, sizes that do not add up
        raise OptincError(f"{path}: not a readable .npy array ({first_line(error)})") from None
    if not isinstance(loaded, np.ndarray):
        loaded.close()
        raise OptincError(f"{path}: holds an .npz archive; save one array with numpy.save")
    return loaded
