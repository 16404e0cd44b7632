"""The ``agritrace`` command line: click groups, one module per group, all thin.

:class:`AgritraceGroup.main` is the one error edge: any
:class:`~agritrace.errors.AgritraceError` or usage error becomes one line on stderr and exit
code 2; no traceback reaches the user.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click
from sqlalchemy.exc import OperationalError

from agritrace.cli import (
    db,
    demo,
    events,
    facility,
    init,
    keys,
    ledger,
    lot,
    product,
    serve,
    stamps,
    user,
)
from agritrace.cli._common import CliContext
from agritrace.errors import AgritraceError

__all__ = ["EXIT_BAD_INPUT", "cli", "main"]

EXIT_BAD_INPUT = 2


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    click.echo(f"agritrace: error: {message}", err=True)
    sys.exit(code)


class AgritraceGroup(click.Group):
    """A click group whose ``main`` translates every expected error into one line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args, prog_name or "agritrace", complete_var, standalone_mode=False, **extra
            )
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            _fail("aborted", 1)
        except click.ClickException as exc:
            _fail(exc.format_message())
        except AgritraceError as exc:
            _fail(str(exc))
        except OperationalError as exc:
            _fail(f"database unavailable: {str(exc.orig).strip()}")
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=AgritraceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="agritrace")
@click.pass_context
def cli(click_ctx: click.Context) -> None:
    """agritrace: signed QR stamps and a verifiable ledger for farm produce.

    Configuration comes from AGRITRACE_* environment variables (see the README).
    """
    ctx = click_ctx.ensure_object(CliContext)
    click_ctx.call_on_close(ctx.close)


for _module in (init, facility, product, lot, stamps, events, user, ledger, keys, serve, demo, db):
    _module.register(cli)


def main() -> None:
    """Console-script entry point."""
    cli.main()
