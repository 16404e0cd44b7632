"""The one write path (agritrace.runtime): a write through ``Runtime.write`` is provable at
once, a failed one is rolled back and signs nothing, and no module signs a checkpoint any
other way."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

import agritrace
from agritrace.config import Settings
from agritrace.errors import InvalidInputError
from agritrace.keys import KeyPurpose, KeyRing
from agritrace.ledger import store
from agritrace.ledger.store import NewEntry
from agritrace.runtime import Runtime
from agritrace.trace import journal, registry

PASSPHRASE = b"runtime test passphrase, not secret"


def _settings(instance: Path, url: str) -> Settings:
    return Settings(
        instance=instance,
        database_url=url,
        base_url="https://trace.example.vn",
        key_passphrase=PASSPHRASE,
        secret_key="runtime-test-secret-key-0123456789-abcdef",
        unsafe_test_kdf=True,  # a trivial sealing cost (test-only knob)
    )


@pytest.fixture
def runtime(fresh_db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = _settings(tmp_path / "instance", fresh_db_url)
    KeyRing.create(settings.keys_dir, PASSPHRASE, kdf=settings.key_kdf)
    shared = Runtime(settings)
    yield shared
    shared.close()


def _published(runtime: Runtime) -> list[str]:
    folder = runtime.settings.checkpoints_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_write_is_provable_at_once(runtime: Runtime) -> None:
    with runtime.write() as session:
        registry.add_facility(
            session, code="DRY01", name="Xưởng sấy", province="Bắc Giang", address="Lục Ngạn"
        )
    with runtime.session() as session:
        head = store.head(session).size
        assert head > 0
        latest = store.latest_checkpoint(session)
        assert latest is not None
        assert latest.size == head
        # Covered already: no ring is given, so nothing could be signed here.
        record = journal.proof_record(session, head - 1, origin=runtime.settings.origin, ring=None)
    assert record.checkpoint_note == latest.note
    folder = runtime.settings.checkpoints_dir
    assert (folder / str(head)).read_text(encoding="utf-8") == latest.note


def _ledger(runtime: Runtime) -> tuple[int, str | None]:
    with runtime.session() as session:
        latest = store.latest_checkpoint(session)
        return store.head(session).size, None if latest is None else latest.note


def _append_then_fail(runtime: Runtime) -> None:
    with runtime.write() as session:
        store.append(session, [NewEntry(body={"type": "test.note"}, subjects=("test:1",))])
        raise RuntimeError("failed half-way")


def test_an_error_inside_a_write_rolls_back_and_signs_nothing(runtime: Runtime) -> None:
    with runtime.write() as session:
        registry.add_facility(
            session, code="DRY01", name="Xưởng sấy", province="Bắc Giang", address="Lục Ngạn"
        )
    before, files = _ledger(runtime), _published(runtime)
    with pytest.raises(RuntimeError, match="half-way"):
        _append_then_fail(runtime)
    assert _ledger(runtime) == before
    assert _published(runtime) == files


def test_a_write_without_the_passphrase_is_refused_before_it_starts(
    runtime: Runtime,
) -> None:
    locked = Runtime(dataclasses.replace(runtime.settings, key_passphrase=b""))
    ran = False
    with pytest.raises(InvalidInputError, match="AGRITRACE_KEY_PASSPHRASE"), locked.write():
        ran = True
    locked.close()
    assert not ran
    assert _ledger(runtime) == (0, None)


def test_the_ring_is_opened_again_after_a_rotation_by_another_process(
    runtime: Runtime,
) -> None:
    before = runtime.ring().active(KeyPurpose.CHECKPOINT).key_id
    elsewhere = KeyRing.open(runtime.settings.keys_dir, PASSPHRASE, kdf=runtime.settings.key_kdf)
    rotated = elsewhere.rotate(KeyPurpose.CHECKPOINT)
    assert rotated.key_id != before
    assert runtime.ring().active(KeyPurpose.CHECKPOINT).key_id == rotated.key_id


#: Modules that may sign a checkpoint themselves: the ledger, the journal that wraps it for
#: the rest of agritrace, and the runtime (the one write path).
ALLOWED = ("agritrace/ledger/", "agritrace/trace/journal.py", "agritrace/runtime.py")


def _calls_of(tree: ast.AST, name: str) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                lines.append(node.lineno)
    return lines


def test_only_the_runtime_signs_checkpoints_outside_the_ledger() -> None:
    package = Path(agritrace.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        relative = f"agritrace/{path.relative_to(package).as_posix()}"
        if relative.startswith(ALLOWED):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders += [f"{relative}:{line}" for line in _calls_of(tree, "sign_checkpoint")]
    assert offenders == [], "write through agritrace.runtime.Runtime.write instead"


def test_the_guard_sees_a_direct_call() -> None:
    planted = ast.parse("journal.sign_checkpoint(session, origin=o, ring=r, publish_to=None)\n")
    assert _calls_of(planted, "sign_checkpoint") == [1]
