"""Settings: read once from the environment, checked, with clear messages."""

from __future__ import annotations

import pytest

from agritrace.config import Settings
from agritrace.errors import InvalidInputError

BASE = {"AGRITRACE_BASE_URL": "https://trace.example.vn"}


def test_defaults_outside_demo_have_no_secrets() -> None:
    settings = Settings.from_env(BASE)
    with pytest.raises(InvalidInputError, match="AGRITRACE_KEY_PASSPHRASE"):
        settings.require_key_passphrase()
    with pytest.raises(InvalidInputError, match="AGRITRACE_SECRET_KEY"):
        settings.require_secret_key()


def test_demo_mode_supplies_public_demo_values() -> None:
    settings = Settings.from_env({}, force_demo=True)
    assert settings.base_url == "http://127.0.0.1:5000"
    assert settings.require_key_passphrase()
    assert settings.database_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "AGRITRACE_BASE_URL"),
        ({"AGRITRACE_BASE_URL": "http://trace.example.vn"}, "AGRITRACE_BASE_URL"),
        ({**BASE, "AGRITRACE_DATABASE_URL": "mysql://x"}, "AGRITRACE_DATABASE_URL"),
        ({**BASE, "AGRITRACE_TIMEZONE": "Mars/Olympus"}, "AGRITRACE_TIMEZONE"),
        ({**BASE, "AGRITRACE_DEMO": "perhaps"}, "AGRITRACE_DEMO"),
        ({**BASE, "AGRITRACE_RATE_LIMITS": "stamp=lots"}, "AGRITRACE_RATE_LIMITS"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(InvalidInputError, match=variable):
        Settings.from_env(env)


def test_rate_limits_are_parsed() -> None:
    settings = Settings.from_env({**BASE, "AGRITRACE_RATE_LIMITS": "stamp=0, public=900"})
    assert settings.rate_limits == {"stamp": 0, "public": 900}
    assert Settings.from_env(BASE).rate_limits is None
