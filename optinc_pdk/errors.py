"""One exception type for every user-facing error.

The CLI prints ``str(error)`` as a single line and exits non-zero, so messages must name the
file and the field they are about.
"""


class OptincError(Exception):
    """A user-facing error: bad input file, bad field, impossible request."""


def located(path, field: str, message: str) -> OptincError:
    """Build an error that names the file and the field, e.g. ``a.yml: widths[2]: must be > 0``."""
    where = f"{path}: " if path is not None else ""
    what = f"{field}: " if field else ""
    return OptincError(f"{where}{what}{message}")
