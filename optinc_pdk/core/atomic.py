"""Every output file goes through here: written under a temporary name beside it, renamed when complete.

Guarantees (see also :mod:`optinc_pdk.flows.build` for whole build folders):

* the final name is exactly the one asked for; a name a verb cannot honour (wrong extension, a
  folder, a path under a file, an unwritable folder) is refused with one :class:`OptincError` line,
  ideally before any work (:func:`check_output_file`, :func:`check_output_folder`);
* the file under the final name is complete: the rename happens only after the writer returned;
* the temporary file (``.NAME.optinc-tmp-PID-TOKEN.EXT``) is removed on every exit path that runs
  Python code (errors, Ctrl-C, SIGTERM once the CLI turned it into an exception); what a SIGKILLed
  run leaves is removed by the next write into the same folder (its PID is no longer alive).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from optinc_pdk.errors import OptincError

TEMP_MARK = ".optinc-tmp-"
_TEMP_NAME = re.compile(r"^\..*\.optinc-tmp-(\d+)-[0-9a-f]+")
_swept: set[str] = set()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return False
    return True


def remove_tree(path: Path) -> None:
    """Remove a file or folder; missing is fine."""
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def sweep_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files of dead writers (a SIGKILLed run) in ``folder``; returns what went."""
    gone = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return gone
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match and not pid_alive(int(match.group(1))):
            remove_tree(Path(entry.path))
            gone.append(Path(entry.path))
    return gone


def _one_line(final: Path, error: OSError) -> OptincError:
    reason = error.strerror or str(error)
    return OptincError(f"{final}: cannot write ({reason})")


def check_output_file(path: str | os.PathLike, option: str, suffixes: Iterable[str] | None = None) -> Path:
    """Refuse, in one line and before any work, an output file name the writer cannot honour.

    ``suffixes``: the accepted extensions (``(".npy",)``); ``None`` accepts any name.
    """
    path = Path(path)
    suffixes = tuple(suffixes or ())
    if suffixes and path.suffix.lower() not in suffixes:
        raise OptincError(f"{option} {path}: must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise OptincError(f"{option} {path}: is a folder, expected a file name")
    parent = path.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OptincError(f"{option} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OptincError(f"{option} {path}: folder {existing} is not writable")
    if path.exists() and not os.access(parent, os.W_OK):
        raise OptincError(f"{option} {path}: folder {parent} is not writable")
    return path


def check_output_folder(out_dir: str | os.PathLike, option: str = "") -> Path:
    """Create ``out_dir`` (with parents) and check it takes files; refuse in one line otherwise."""
    out_dir = Path(out_dir)
    where = f"{option} {out_dir}" if option else str(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OptincError(f"{where}: output folder is a file")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OptincError(f"{where}: cannot create the output folder ({error.strerror or error})") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OptincError(f"{where}: output folder is not writable")
    return out_dir


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it onto ``final`` only if the block succeeds.

    The temporary name ends in the final suffixes (``suffix`` overrides them) because some writers
    (gdsfactory, klayout) choose the format from the extension. The block must write exactly the
    path it is given: a writer that appends its own extension (``np.save`` to a name without
    ``.npy``) is caught and nothing is renamed. Pass numpy an open file instead of a name.
    OS errors (read-only folder, a file where a folder should be, the name is a folder) become one
    :class:`OptincError` line naming ``final``.
    """
    final = Path(final)
    if final.is_dir():
        raise OptincError(f"{final}: is a folder, cannot write a file there")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _one_line(final, error) from None
    folder = str(final.parent.resolve())
    if folder not in _swept:
        _swept.add(folder)
        sweep_stale_temps(final.parent)
    ending = suffix if suffix is not None else "".join(final.suffixes[-2:])
    tmp_path = final.parent / f".{final.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}{ending}"
    try:
        yield tmp_path
        if not tmp_path.is_file():
            strays = sorted(p.name for p in final.parent.glob(f"{glob_escape(tmp_path.name)}*"))
            raise RuntimeError(f"{final}: the writer did not write {tmp_path.name}"
                               + (f" but {strays[0]} (it appended an extension)" if strays else ""))
        os.replace(tmp_path, final)
    except OSError as error:
        _remove_temps(tmp_path)
        raise _one_line(final, error) from None
    except BaseException:
        _remove_temps(tmp_path)
        raise


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _remove_temps(tmp_path: Path) -> None:
    """The temporary file and anything a writer made by appending to its name."""
    remove_tree(tmp_path)
    with contextlib.suppress(OSError):
        for stray in tmp_path.parent.glob(f"{glob_escape(tmp_path.name)}*"):
            remove_tree(stray)


def write_text_atomic(final: str | os.PathLike, text: str) -> Path:
    with atomic_path(final) as tmp:
        tmp.write_text(text)
    return Path(final)


def write_bytes_atomic(final: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
    return Path(final)
