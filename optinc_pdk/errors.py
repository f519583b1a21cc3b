"""One exception type for every user-facing error.

The CLI prints ``str(error)`` as a single line and exits non-zero, so messages must name the
file and the field they are about. Line breaks that reach a message anyway (a YAML key, a foreign
library's text) are escaped, so the message stays one line.
"""

# every character str.splitlines() breaks on, written as its escape instead
_LINE_BREAKS = {ord(ch): repr(ch)[1:-1] for ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: object) -> str:
    """``text`` as one line: line breaks become their escapes (``\\n``)."""
    return str(text).translate(_LINE_BREAKS)


def first_line(error: BaseException) -> str:
    """A foreign exception as ``Type: its first line``, for one-line messages about files people bring."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


class OptincError(Exception):
    """A user-facing error: bad input file, bad field, impossible request (always one line)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(one_line(arg) if isinstance(arg, str) else arg for arg in args))


def located(path, field: str, message: str) -> OptincError:
    """Build an error that names the file and the field, e.g. ``a.yml: widths[2]: must be > 0``."""
    where = f"{path}: " if path is not None else ""
    what = f"{field}: " if field else ""
    return OptincError(f"{where}{what}{message}")
