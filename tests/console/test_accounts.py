"""Console accounts on SQLite and PostgreSQL: argon2 at rest, lock-out, roles, sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from hegui.console import accounts as acc
from hegui.console.config import ConsoleConfig

PASSWORD = "correct horse battery staple"


def test_password_is_argon2_and_never_in_clear(factory: object) -> None:
    acc.create_account(factory, "alice", PASSWORD, "reviewer")  # type: ignore[arg-type]
    with factory() as s:  # type: ignore[operator]
        stored = s.execute(text("SELECT password_hash FROM console_accounts")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert acc.authenticate(factory, "alice", PASSWORD).role == "reviewer"  # type: ignore[arg-type]


def test_bad_input_is_refused(factory: object) -> None:
    with pytest.raises(acc.AccountError, match="12"):
        acc.create_account(factory, "bob", "short", "viewer")  # type: ignore[arg-type]
    with pytest.raises(acc.AccountError, match="role"):
        acc.create_account(factory, "bob", PASSWORD, "root")  # type: ignore[arg-type]
    with pytest.raises(acc.AccountError, match="user name"):
        acc.create_account(factory, "<script>", PASSWORD, "viewer")  # type: ignore[arg-type]
    acc.create_account(factory, "bob", PASSWORD, "viewer")  # type: ignore[arg-type]
    with pytest.raises(acc.AccountError, match="taken"):
        acc.create_account(factory, "bob", PASSWORD, "admin")  # type: ignore[arg-type]


def test_lockout_after_repeated_failures(factory: object) -> None:
    cfg = ConsoleConfig(max_failures=3, lockout_minutes=10)
    acc.create_account(factory, "carol", PASSWORD, "admin", cfg)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(acc.LoginError) as e:
            acc.authenticate(factory, "carol", "wrong password!!", cfg)  # type: ignore[arg-type]
        assert e.value.reason == "invalid"
    with pytest.raises(acc.LoginError) as e:
        acc.authenticate(factory, "carol", "wrong password!!", cfg)  # type: ignore[arg-type]
    assert e.value.reason == "locked"
    # Locked: even the right password is refused until the lock runs out.
    with pytest.raises(acc.LoginError) as e:
        acc.authenticate(factory, "carol", PASSWORD, cfg)  # type: ignore[arg-type]
    assert e.value.reason == "locked"
    later = datetime.now(UTC) + timedelta(minutes=11)
    assert acc.authenticate(factory, "carol", PASSWORD, cfg, now=later).username == "carol"  # type: ignore[arg-type]
    # A success resets the count.
    assert acc.get_account(factory, "carol").failed_logins == 0  # type: ignore[arg-type, union-attr]


def test_unknown_and_disabled_users_look_the_same(factory: object) -> None:
    acc.create_account(factory, "dave", PASSWORD, "viewer")  # type: ignore[arg-type]
    acc.set_disabled(factory, "dave", True)  # type: ignore[arg-type]
    for name in ("dave", "nobody"):
        with pytest.raises(acc.LoginError) as e:
            acc.authenticate(factory, name, PASSWORD)  # type: ignore[arg-type]
        assert e.value.reason == "invalid"


def test_sessions_expire_end_on_password_change_and_store_no_token(factory: object) -> None:
    cfg = ConsoleConfig(idle_minutes=5, session_hours=1)
    a = acc.create_account(factory, "erin", PASSWORD, "admin")  # type: ignore[arg-type]
    token, info = acc.open_session(factory, a, cfg)  # type: ignore[arg-type]
    assert acc.session_for(factory, token, cfg).account.username == "erin"  # type: ignore[arg-type, union-attr]
    assert acc.session_for(factory, token + "x", cfg) is None  # type: ignore[arg-type]
    with factory() as s:  # type: ignore[operator]
        assert token not in str(s.execute(text("SELECT * FROM console_sessions")).all())
    idle = datetime.now(UTC) + timedelta(minutes=6)
    token2, _ = acc.open_session(factory, a, cfg)  # type: ignore[arg-type]
    assert acc.session_for(factory, token2, cfg, now=idle) is None  # type: ignore[arg-type]
    acc.set_password(factory, "erin", PASSWORD + "!", cfg)  # type: ignore[arg-type]
    assert acc.session_for(factory, token, cfg) is None  # type: ignore[arg-type]
    assert acc.can_role("admin", "reviewer") and not acc.can_role("viewer", "reviewer")
    assert info.account.can("viewer")
