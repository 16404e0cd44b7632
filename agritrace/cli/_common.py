"""What every command group shares: the lazily built context, output and the error edge."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from click._termui_impl import ProgressBar
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agritrace.config import Settings
from agritrace.db import make_engine, make_sessionmaker
from agritrace.errors import InvalidInputError
from agritrace.keys import KeyInfo, KeyRing, read_public_keys

__all__ = [
    "INDEX",
    "AsciiInt",
    "CliContext",
    "emit",
    "json_option",
    "output_path",
    "pass_ctx",
    "progress",
    "write_atomic",
]

F = TypeVar("F", bound=Callable[..., Any])


class AsciiInt(click.ParamType[int]):
    """A whole number in ``[minimum, maximum]`` written in ASCII digits (click's ``int``
    takes Arabic-Indic or full-width digits and any length); anything else is bad input."""

    name = "integer"

    def __init__(self, minimum: int = 0, maximum: int = 2**63 - 1) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 19):
                self.fail(f"{str(value)[:30]!r} is not a whole number in ASCII digits", param, ctx)
            number = int(text)
        if not self.minimum <= number <= self.maximum:
            self.fail(f"{number} is not in {self.minimum}..{self.maximum}", param, ctx)
        return number


#: A ledger index or a record's id.
INDEX = AsciiInt()


@dataclass
class CliContext:
    """Settings, engine and sessions, built on first use so ``--help`` needs nothing."""

    _settings: Settings | None = None
    _engine: Engine | None = None
    _sessions: sessionmaker[Session] | None = field(default=None, repr=False)
    _ring: KeyRing | None = field(default=None, repr=False)
    _owner_engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @property
    def owner_engine(self) -> Engine:
        """The engine migrations and grants run with (AGRITRACE_OWNER_DATABASE_URL, else the
        application's own)."""
        if self.settings.migration_database_url == self.settings.database_url:
            return self.engine
        if self._owner_engine is None:
            self._owner_engine = make_engine(self.settings.migration_database_url)
        return self._owner_engine

    def check_schema(self) -> None:
        from agritrace.migrations import check_schema

        check_schema(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self._sessions is None:
            self.check_schema()
            self._sessions = make_sessionmaker(self.engine)
        with self._sessions() as session:
            yield session

    def ring(self) -> KeyRing:
        """The key ring, decrypted with AGRITRACE_KEY_PASSPHRASE (for signing)."""
        if self._ring is None:
            passphrase = self.settings.require_key_passphrase()
            self._ring = KeyRing.open(self.settings.keys_dir, passphrase, kdf=self.settings.key_kdf)
        return self._ring

    def checkpoint(self, session: Session) -> None:
        """Sign a checkpoint over what was just committed, so new entries are provable."""
        from agritrace.trace import journal

        journal.sign_checkpoint(
            session,
            origin=self.settings.origin,
            ring=self.ring(),
            publish_to=self.settings.checkpoints_dir,
        )

    def public_keys(self) -> list[KeyInfo]:
        """The ring's public keys; needs no passphrase (for verifying)."""
        return read_public_keys(self.settings.keys_dir)

    def close(self) -> None:
        for engine in (self._engine, self._owner_engine):
            if engine is not None:
                engine.dispose()


pass_ctx = click.make_pass_decorator(CliContext, ensure=True)


def json_option(func: F) -> F:
    """Add ``--json``: print machine-readable output instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(
        func
    )


def emit(
    data: Any,
    *,
    as_json: bool,
    columns: Sequence[str] | None = None,
    message: str | None = None,
) -> None:
    """Print ``data`` (a record or a list of records) as JSON or as a plain table."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    if message:
        click.echo(message)
    rows = data if isinstance(data, list) else [data]
    if columns is None or not rows:
        if not rows:
            click.echo("(none)")
        return
    cells = [[str(c) for c in columns]] + [
        ["" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for i, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``advance_to(done)``. Hidden when not a terminal."""
    bar: ProgressBar[int] = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
    done = 0

    def advance_to(count: int) -> None:
        nonlocal done
        if count > done:
            bar.update(count - done)
            done = count

    with bar:
        yield advance_to


def output_path(raw: str | Path) -> Path:
    """An output file whose folder exists (checked before any work is done)."""
    path = Path(raw)
    if not path.absolute().parent.is_dir():
        raise InvalidInputError(f"cannot write {raw}: folder {path.parent} does not exist")
    return path


def write_atomic(path: Path, write: Callable[[TextIO], object]) -> None:
    """Write UTF-8 text through a temporary file renamed into place, so a failure never
    leaves a half-written output behind."""
    target = output_path(path).absolute()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
