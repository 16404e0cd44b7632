"""Error message keys: every key has English and Vietnamese text that name the same facts,
every raise site that a web page can show uses a key, and passes every fact its text names.

The raise sites are read from the source (``ast``), so a new error without a key, or a key
without a translation, fails here rather than showing English on a Vietnamese page.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

# The modules that define error classes, so that every class is known to _error_classes().
import agritrace.trace.access
import agritrace.web
import agritrace.web.security
from agritrace.errors import AgritraceError, ConflictError, InvalidInputError, NotFoundError
from agritrace.messages import ERROR_MESSAGES, render_message
from agritrace.web import i18n
from agritrace.web.i18n_errors import ERRORS_VI, FIELDS_VI

PACKAGE = Path(agritrace.web.__file__).resolve().parents[1]

#: Modules whose errors a page of the web can show: every raise there needs a key. Not
#: listed: trace/epcis_import.py and web/api.py (JSON and CLI only, whose problem documents
#: stay English), ledger/ and stamps/ (pure cores and their store).
WEB_FACING = sorted(
    [
        *(
            path
            for path in (PACKAGE / "trace").glob("*.py")
            # invariants.py: the rule replay reports to `ledger verify --rules` only, in English
            if path.name not in {"epcis_import.py", "demo.py", "invariants.py"}
        ),
        # the JSON API and its declared shapes answer in English only (web/api.py docstring)
        *(
            path
            for path in (PACKAGE / "web").glob("*.py")
            if path.name not in {"api.py", "api_shapes.py"}
        ),
    ]
)
#: (module, function) whose errors never reach a page: start-up checks, before any request.
NOT_ON_A_PAGE = {
    ("web/__init__.py", "_check_schema"),
    # A caller's mistake (a naive time) and a database the app's start-up check refuses.
    ("trace/scans.py", "record_scan"),
    ("trace/scans.py", "_count_scan"),
    ("trace/scans.py", "view"),
}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _error_classes() -> set[str]:
    found: set[str] = set()
    pending: list[type] = [AgritraceError]
    while pending:
        cls = pending.pop()
        found.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return found


def _calls(path: Path) -> Iterator[tuple[ast.Call, str]]:
    """Every call in ``path`` with the name of the function it is in ('' at module level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def walk(node: ast.AST, function: str) -> Iterator[tuple[ast.Call, str]]:
        for child in ast.iter_child_nodes(node):
            inside = (
                child.name
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                else function
            )
            if isinstance(child, ast.Call):
                yield child, inside
            yield from walk(child, inside)

    yield from walk(tree, "")


def _callee(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _function_keys(path: Path) -> dict[str, set[str]]:
    """The catalogue keys written as strings in each function of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = {
                n.value
                for n in ast.walk(node)
                if isinstance(n, ast.Constant) and n.value in ERROR_MESSAGES
            }
    return found


def _package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _where(path: Path, call: ast.Call) -> str:
    return f"{path.relative_to(PACKAGE)}:{call.lineno}"


# -- the catalogue --------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(ERROR_MESSAGES))
def test_every_message_key_has_english_and_vietnamese_text(key: str) -> None:
    english, vietnamese = i18n.EN.get(f"err.{key}"), i18n.VI.get(f"err.{key}")
    assert english == ERROR_MESSAGES[key]
    assert vietnamese, f"no Vietnamese for {key}"
    assert vietnamese != english


def test_the_vietnamese_catalogue_has_no_key_the_english_lacks() -> None:
    assert set(ERRORS_VI) == set(ERROR_MESSAGES)


def test_every_raise_site_key_exists_and_gets_the_facts_its_text_names() -> None:
    problems = []
    for path in _package_files():
        keys_in = _function_keys(path)
        for call, function in _calls(path):
            value = _keyword(call, "key")
            if value is None or _callee(call) in {"sorted", "min", "max", "sort"}:
                continue
            given = {k.arg for k in call.keywords if k.arg and k.arg != "key"}
            spread = any(k.arg is None for k in call.keywords)
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                keys = {value.value}
            elif spread:  # a helper passing on its caller's key and facts: callers are checked
                continue
            else:  # a key chosen in the function: check every key written there
                keys = keys_in.get(function, set())
                if not keys:
                    problems.append(f"{_where(path, call)}: key is not a literal")
            for key in keys:
                if key not in ERROR_MESSAGES:
                    problems.append(f"{_where(path, call)}: unknown key {key!r}")
                    continue
                # Both languages' texts may name only facts the raise site passes.
                needed = _fields(ERROR_MESSAGES[key]) | _fields(ERRORS_VI.get(key, ""))
                if not spread and not needed <= given:
                    missing = sorted(needed - given)
                    problems.append(f"{_where(path, call)}: {key} lacks facts {missing}")
    assert problems == []


def test_every_message_key_is_used() -> None:
    used = {
        node.value
        for path in _package_files()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert sorted(set(ERROR_MESSAGES) - used) == []


@pytest.mark.parametrize("path", WEB_FACING, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_error_a_page_can_show_has_a_key(path: Path) -> None:
    classes = _error_classes()
    module = str(path.relative_to(PACKAGE))
    unkeyed = [
        _where(path, call)
        for call, function in _calls(path)
        if _callee(call) in classes
        and _keyword(call, "key") is None
        and (module, function) not in NOT_ON_A_PAGE
    ]
    assert unkeyed == []


def test_every_field_a_message_names_has_a_vietnamese_name() -> None:
    named = set()
    for path in WEB_FACING:
        for call, _ in _calls(path):
            value = _keyword(call, "field")
            if (
                _keyword(call, "key") is not None
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                named.add(value.value)
    # Fields passed on by the validators (check_text(..., field="...")) are named too.
    for path in _package_files():
        for call, _ in _calls(path):
            value = _keyword(call, "field")
            if _callee(call).startswith(("check_", "parse_")) and isinstance(value, ast.Constant):
                named.add(str(value.value))
    named -= {"--from", "--to", "eventTime", "type", "agt:step", "place"}  # CLI and EPCIS only
    assert sorted(named - set(FIELDS_VI)) == []


# -- errors with a key ----------------------------------------------------------------------


def test_a_keyed_error_says_its_english_text_with_its_facts() -> None:
    error = ConflictError(key="lot.already_recalled", lot="HD-VAI-01/L1")
    assert str(error) == "lot HD-VAI-01/L1 is already recalled"
    assert (error.key, dict(error.facts)) == ("lot.already_recalled", {"lot": "HD-VAI-01/L1"})
    # The facts are read-only and never become attributes (no setattr on errors).
    assert not hasattr(error, "lot")
    with pytest.raises(TypeError):
        error.facts["lot"] = "X"  # type: ignore[index]


def test_an_error_with_a_message_has_no_key() -> None:
    error = NotFoundError("no such thing", index=3)
    assert (error.message, error.key, error.facts) == ("no such thing", None, {"index": 3})


@pytest.mark.parametrize(
    ("args", "facts"),
    [
        ((), {}),
        (("a message",), {"key": "lot.unknown", "lot": "A/B"}),
        ((), {"key": 7}),
        ((), {"key": "lot.unknown", "lot": "A/B", "message": "clash"}),
        (("text",), {"args": ()}),
    ],
)
def test_an_error_needs_a_message_or_a_key_and_no_reserved_fact(
    args: tuple[str, ...], facts: dict[str, object]
) -> None:
    with pytest.raises(TypeError):
        InvalidInputError(*args, **facts)


def test_a_template_missing_a_fact_still_gives_a_message() -> None:
    assert render_message("lot.unknown", {}) == "unknown lot {lot}"
    with pytest.raises(KeyError):
        render_message("no.such.key", {})
