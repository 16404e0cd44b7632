"""Settings: read once from the environment, checked, with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from agritrace.config import Settings
from agritrace.errors import InvalidInputError
from agritrace.key_seal import ARGON2ID_OWASP, UNSAFE_TEST_KDF

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
        ({**BASE, "AGRITRACE_OWNER_DATABASE_URL": "mysql://x"}, "AGRITRACE_OWNER_DATABASE_URL"),
        ({**BASE, "AGRITRACE_UNSAFE_TEST_KDF": "maybe"}, "AGRITRACE_UNSAFE_TEST_KDF"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(InvalidInputError, match=variable):
        Settings.from_env(env)


def test_rate_limits_are_parsed() -> None:
    settings = Settings.from_env({**BASE, "AGRITRACE_RATE_LIMITS": "stamp=0, public=900"})
    assert settings.rate_limits == {"stamp": 0, "public": 900}
    assert Settings.from_env(BASE).rate_limits is None


def test_a_key_passphrase_needs_16_characters() -> None:
    short = Settings.from_env({**BASE, "AGRITRACE_KEY_PASSPHRASE": "fifteen chars!!"})
    with pytest.raises(InvalidInputError, match="at least 16"):
        short.require_key_passphrase()
    ok = Settings.from_env({**BASE, "AGRITRACE_KEY_PASSPHRASE": "sixteen chars!!!"})
    assert ok.require_key_passphrase() == b"sixteen chars!!!"


def test_checkpoint_folder_owner_url_and_kdf_settings(tmp_path: Path) -> None:
    plain = Settings.from_env({**BASE, "AGRITRACE_INSTANCE": str(tmp_path)})
    assert plain.checkpoints_dir == tmp_path / "checkpoints"
    assert plain.verify_state_file == tmp_path / "verified-checkpoint"
    assert plain.migration_database_url == plain.database_url
    assert plain.key_kdf == ARGON2ID_OWASP
    chosen = Settings.from_env(
        {
            **BASE,
            "AGRITRACE_CHECKPOINT_DIR": str(tmp_path / "mirror"),
            "AGRITRACE_DATABASE_URL": "postgresql+psycopg://app@db/agritrace",
            "AGRITRACE_OWNER_DATABASE_URL": "postgresql+psycopg://owner@db/agritrace",
            "AGRITRACE_UNSAFE_TEST_KDF": "1",
        }
    )
    assert chosen.checkpoints_dir == tmp_path / "mirror"
    assert chosen.migration_database_url == "postgresql+psycopg://owner@db/agritrace"
    assert chosen.key_kdf == UNSAFE_TEST_KDF
    assert "owner@" not in repr(chosen)


def test_rate_limits_name_any_group_in_ascii_digits() -> None:
    settings = Settings.from_env({**BASE, "AGRITRACE_RATE_LIMITS": "signin=5,api=100"})
    assert settings.rate_limits == {"signin": 5, "api": 100}
    for bad in ("signin=٥", "login=5", "api=1_000", "stamp=99999999999"):
        with pytest.raises(InvalidInputError, match="AGRITRACE_RATE_LIMITS"):
            Settings.from_env({**BASE, "AGRITRACE_RATE_LIMITS": bad})


def test_redis_settings() -> None:
    assert Settings.from_env(BASE).rate_storage_url == "memory://"
    env = {
        **BASE,
        "AGRITRACE_REDIS_URL": "redis://127.0.0.1:6379/2",
        "AGRITRACE_REDIS_PREFIX": "t1",
    }
    settings = Settings.from_env(env)
    assert (settings.rate_storage_url, settings.redis_prefix) == ("redis://127.0.0.1:6379/2", "t1")
    with pytest.raises(InvalidInputError, match="AGRITRACE_REDIS_URL"):
        Settings.from_env({**BASE, "AGRITRACE_REDIS_URL": "http://127.0.0.1:6379"})
