"""Entry point of the ``optinc`` console script.

Each verb lives in its own module under ``optinc_pdk.cli`` and exposes ``register(app)``.
Every user-facing failure is an :class:`~optinc_pdk.errors.OptincError`, printed as one line
on stderr with exit code 2.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading

import typer

from optinc_pdk.errors import OptincError

# Verb modules, in the order `optinc --help` lists them.
COMMAND_MODULES = [
    "optinc_pdk.cli.scenarios",
    "optinc_pdk.cli.area",
    "optinc_pdk.cli.comm",
    "optinc_pdk.cli.training",
    "optinc_pdk.cli.simulate",
    "optinc_pdk.cli.yield_cmd",
    "optinc_pdk.cli.robust",
    "optinc_pdk.cli.cascade",
    "optinc_pdk.cli.build",
    "optinc_pdk.cli.compare",
    "optinc_pdk.cli.decompose",
    "optinc_pdk.cli.layout",
    "optinc_pdk.cli.lab",  # one entry, `optinc lab`: the research tools' group
]

app = typer.Typer(
    name="optinc",
    help="OptINC layout compiler: ONN weights -> MZI phases -> circuit, simulation, layout.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _click_exceptions() -> tuple[type, ...]:
    """Click's usage-error base class: typer >= 0.24 ships its own copy of click, older typer uses click."""
    try:
        from typer._click.exceptions import ClickException
    except ImportError:
        from click import ClickException
    return (ClickException,)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` and ``except BaseException`` cleans up
    (temporary files, a build's staging folder and lock) before the process exits with 143."""


def _terminate(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
    raise Terminated


@contextlib.contextmanager
def _sigterm_raises():
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only; restored after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    try:
        with _sigterm_raises():
            # non-standalone click returns a raised Exit's code instead of raising it: pass it on
            code = app(args=argv, standalone_mode=False)
    except Terminated:
        typer.echo("optinc: terminated", err=True)
        return 143
    except OptincError as error:
        typer.echo(f"optinc: error: {error}", err=True)
        return 2
    except typer.Exit as done:
        if isinstance(done.__cause__, KeyboardInterrupt):
            typer.echo("optinc: interrupted", err=True)
        return done.exit_code
    except typer.Abort:
        typer.echo("optinc: aborted", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("optinc: interrupted", err=True)
        return 130
    except Exception as error:  # click usage errors come here in non-standalone mode
        if isinstance(error, _click_exceptions()):
            error.show()
            return error.exit_code
        raise
    if code == 130:  # typer turns Ctrl-C (KeyboardInterrupt) into a silent 130
        typer.echo("optinc: interrupted", err=True)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
