"""A build folder is replaced as a whole: staged beside the target, swapped in when complete, under a lock.

* ``staged_folder(target)`` yields a fresh staging folder ``.NAME.optinc-staging-PID-TOKEN`` beside
  ``target``; when the block succeeds it is swapped in with one ``renameat2(RENAME_EXCHANGE)`` (two
  renames where the file system lacks it, with SIGTERM/SIGINT held back in between) and the previous
  build is removed; when the block fails (error, Ctrl-C, SIGTERM) the staging folder is removed and
  the previous build stays untouched. So ``target`` always holds one complete build: the old or the new.
* The lock ``.NAME.optinc-lock`` beside ``target`` (an ``flock``, holding the writer's pid) refuses a
  second build into the same folder in one line; the kernel drops the lock of a killed process, so a
  stale lock file is simply taken over.
* Under the lock, leftovers of killed runs (staging folders, a previous build set aside between two
  renames) are removed, or put back when the target went missing.
* A folder that is neither empty nor a previous build (no ``.optinc-build`` marker or ``report.json``)
  is refused, since the swap replaces everything in it; so is the working folder itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from optinc_pdk.core.atomic import pid_alive, remove_tree, write_text_atomic
from optinc_pdk.errors import OptincError

MARKER = ".optinc-build"  # written last into a staged build: the folder is a complete optinc build
STAGING_MARK = ".optinc-staging-"
ASIDE_MARK = ".optinc-old-"
LOCK_MARK = ".optinc-lock"


def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}{LOCK_MARK}"


def is_build_folder(folder: Path) -> bool:
    return (folder / MARKER).is_file() or (folder / "report.json").is_file()


def mark_optinc_output(folder: Path) -> None:
    """Mark a folder that `optinc layout` or `optinc describe` completed, so a later build may replace it."""
    write_text_atomic(Path(folder) / MARKER, json.dumps({"pid": os.getpid(), "finished": time.time()}) + "\n")


class FolderLock:
    """An exclusive lock on building ``target``; refuses (one line) while another live process holds it."""

    def __init__(self, target: Path):
        self.target, self.path, self.fd = target, lock_path(target), None

    def __enter__(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): a pid file, taken over when its pid is dead
            self._acquire_pid_file()
            return self
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                os.close(fd)
                raise OptincError(f"{self.target}: another optinc build (pid {holder or '?'}) is writing this folder; "
                                  f"wait for it to finish or stop it (lock {self.path})") from None
            except OSError:
                os.close(fd)
                raise
            # the holder before us may have removed the file between our open and our flock: retry on the new one
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self.fd = fd
                return self
            os.close(fd)
        raise OptincError(f"{self.target}: could not take the lock {self.path}")

    def _acquire_pid_file(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._holder(None)
                if holder and pid_alive(holder):
                    raise OptincError(f"{self.target}: another optinc build (pid {holder}) is writing this folder; "
                                      f"wait for it to finish or stop it (lock {self.path})") from None
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()  # stale: its writer is gone
                continue
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return
        raise OptincError(f"{self.target}: could not take the lock {self.path}")

    def _holder(self, fd: int | None) -> int | None:
        try:
            text = os.pread(fd, 64, 0).decode() if fd is not None else self.path.read_text()
            return int(text.split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still holding it: a waiter that opened this file re-checks the inode
            os.close(self.fd)
            self.fd = None


def recover_leftovers(target: Path) -> list[Path]:
    """Under the lock: remove staging folders of dead runs; a set-aside previous build goes back if needed."""
    handled = []
    prefix = f".{target.name}"
    with contextlib.suppress(OSError):
        for entry in sorted(target.parent.iterdir()):
            name = entry.name
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            if rest.startswith(STAGING_MARK) and not _owned_by_live_other(rest[len(STAGING_MARK):]):
                remove_tree(entry)
                handled.append(entry)
            elif rest.startswith(ASIDE_MARK) and not _owned_by_live_other(rest[len(ASIDE_MARK):]):
                if not target.exists() and is_build_folder(entry):
                    os.rename(entry, target)  # killed between the two renames: the previous build comes back
                else:
                    remove_tree(entry)
                handled.append(entry)
    return handled


def _owned_by_live_other(tail: str) -> bool:
    try:
        pid = int(tail.split("-")[0])
    except ValueError:
        return False
    return pid != os.getpid() and pid_alive(pid)


def _check_target(target: Path, option: str) -> None:
    where = f"{option} {target}" if option else str(target)
    if target.exists() and not target.is_dir():
        raise OptincError(f"{where}: output folder is a file")
    here = Path.cwd().resolve()
    resolved = target.resolve()
    if resolved == here or resolved in here.parents:
        raise OptincError(f"{where}: is the working folder (or holds it); a build replaces its whole folder: "
                          "give a subfolder")
    if target.is_dir() and not is_build_folder(target) and any(target.iterdir()):
        raise OptincError(f"{where}: holds files and is not an optinc build; a build replaces its whole folder: "
                          "give a new or empty folder")
    existing = target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OptincError(f"{where}: {existing} is a file, not a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OptincError(f"{where}: cannot create the output folder ({error.strerror or error})") from None
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise OptincError(f"{where}: folder {target.parent} is not writable (the build is staged beside the "
                          "output folder and swapped in)")


def normalize(target: Path) -> Path:
    """The folder the swap renames: ``a/b/`` and ``a/./b`` alike; a symbolic link's destination, not the link."""
    target = Path(os.path.normpath(target))
    return target.resolve() if target.is_symlink() else target


def check_target(target: Path, option: str = "") -> Path:
    """Refuse, in one line, a build folder the swap cannot replace (a file, the working folder, foreign files)."""
    target = normalize(target)
    _check_target(target, option)
    return target


@contextlib.contextmanager
def staged_folder(target: Path, option: str = "") -> Iterator[Path]:
    """Lock ``target``, yield a fresh staging folder beside it, swap it in when the block succeeds."""
    target = check_target(target, option)
    with FolderLock(target):
        recover_leftovers(target)
        staging = target.parent / f".{target.name}{STAGING_MARK}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            staging.mkdir()
        except OSError as error:
            raise OptincError(f"{target}: cannot create the staging folder {staging.name} "
                              f"({error.strerror or error})") from None
        try:
            yield staging
            (staging / MARKER).write_text(json.dumps({"pid": os.getpid(), "finished": time.time()}) + "\n")
            aside = _swap(staging, target)
            remove_tree(aside)  # the previous build (or nothing)
        except BaseException:
            remove_tree(staging)  # before the swap: the unfinished build; after it: the previous build
            raise


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT wait until the renames are done (then the CLI's handlers run as usual)."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGTERM, signal.SIGINT}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _swap(staging: Path, target: Path) -> Path:
    """Put ``staging`` at ``target``; returns the path now holding the previous build (may not exist)."""
    with _signals_held():
        if not target.exists():
            os.rename(staging, target)
            return staging
        if _exchange(staging, target):
            return staging
        aside = target.parent / f".{target.name}{ASIDE_MARK}{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(target, aside)
        os.rename(staging, target)
        return aside


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where unsupported."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _renameat2():
    if not hasattr(_renameat2, "cached"):
        function = None
        if os.uname().sysname == "Linux":
            with contextlib.suppress(OSError, AttributeError, TypeError):
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
                function = libc.renameat2
                function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                function.restype = ctypes.c_int
        _renameat2.cached = function
    return _renameat2.cached
