"""Console accounts and sessions: argon2id passwords, lock-out after repeated failures, roles.

Why here and not in ``store.keys``: API keys are 32 random bytes checked on every request (a fast
keyed hash is right); staff passwords are chosen by people, so they get a slow, salted argon2id hash
and a lock-out. Sessions are server-side rows so that logging out, disabling an account or changing
its role takes effect at once in every gateway process.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hegui.console.config import ConsoleConfig
from hegui.console.models import ConsoleAccount, ConsoleSession

# Ordered by privilege: each role can do everything the ones before it can.
ROLES = ("viewer", "reviewer", "admin")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# Verified against for unknown user names, so their timing matches a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """Bad input for an account operation, said in both languages."""


class LoginError(Exception):
    """A refused login. ``reason`` is ``invalid`` (wrong name or password, never which) or ``locked``."""

    def __init__(self, reason: str, until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason, self.until = reason, until


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    username: str
    role: str
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None

    def can(self, role: str) -> bool:
        """True when this account holds ``role`` or a higher one."""
        return role_rank(self.role) >= role_rank(role)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    account: Account
    csrf: str
    expires_at: datetime


def role_rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        raise AccountError(f"unknown role {role!r}; one of {', '.join(ROLES)} / 未知角色") from None


def _aware(ts: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive (they were written in UTC).
    return ts.replace(tzinfo=UTC) if ts is not None and ts.tzinfo is None else ts


def _account(a: ConsoleAccount) -> Account:
    return Account(a.id, a.username, a.role, a.failed_logins, _aware(a.locked_until), _aware(a.created_at),  # type: ignore[arg-type]
                   _aware(a.last_login_at), _aware(a.disabled_at))


def check_password(password: str, config: ConsoleConfig) -> None:
    if len(password) < config.min_password_chars:
        raise AccountError(f"the password must have at least {config.min_password_chars} characters "
                           f"/ 密码至少 {config.min_password_chars} 个字符")
    if len(password) > 1024:
        raise AccountError("the password is too long / 密码过长")


def create_account(factory: sessionmaker[Session], username: str, password: str, role: str,
                   config: ConsoleConfig | None = None) -> Account:
    """A new console account. Raises `AccountError` for a bad name, role or password, or a taken name."""
    config = config or ConsoleConfig()
    username = username.strip()
    if not _USERNAME.match(username):
        raise AccountError("user name: 3–64 letters, digits or . _ @ - / 用户名须为 3–64 个字母、数字或 . _ @ -")
    role_rank(role)
    check_password(password, config)
    try:
        with factory() as session, session.begin():
            row = ConsoleAccount(username=username, password_hash=_HASHER.hash(password), role=role,
                                 failed_logins=0, created_at=datetime.now(UTC))
            session.add(row)
            session.flush()
            return _account(row)
    except IntegrityError:
        raise AccountError(f"the user name {username!r} is taken / 用户名已存在") from None


def list_accounts(factory: sessionmaker[Session]) -> list[Account]:
    with factory() as session:
        return [_account(a) for a in session.execute(select(ConsoleAccount).order_by(ConsoleAccount.id)).scalars()]


def count_accounts(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.execute(select(func.count()).select_from(ConsoleAccount)).scalar_one())


def get_account(factory: sessionmaker[Session], username: str) -> Account | None:
    with factory() as session:
        row = session.execute(select(ConsoleAccount).where(ConsoleAccount.username == username)).scalar_one_or_none()
        return _account(row) if row else None


def authenticate(factory: sessionmaker[Session], username: str, password: str,
                 config: ConsoleConfig | None = None, *, now: datetime | None = None) -> Account:
    """The account for ``username`` if ``password`` is right and it is neither locked nor disabled.

    Each wrong password counts; at ``max_failures`` in a row the account is locked for
    ``lockout_minutes`` (even the right password is refused meanwhile). The count is updated with
    a single UPDATE so concurrent guesses from several processes are all counted.
    """
    config = config or ConsoleConfig()
    now = now or datetime.now(UTC)
    with factory() as session:
        row = session.execute(
            select(ConsoleAccount).where(ConsoleAccount.username == username.strip()[:64])
        ).scalar_one_or_none()
        if row is None or row.disabled_at is not None:
            _verify(_DUMMY_HASH, password)
            raise LoginError("invalid")
        locked = _aware(row.locked_until)
        if locked is not None and locked > now:
            raise LoginError("locked", locked)
        account_id, stored = row.id, row.password_hash
    if not _verify(stored, password):
        until: datetime | None = None
        with factory() as session, session.begin():
            count = session.execute(
                update(ConsoleAccount).where(ConsoleAccount.id == account_id)
                .values(failed_logins=ConsoleAccount.failed_logins + 1).returning(ConsoleAccount.failed_logins)
            ).scalar_one()
            if count >= config.max_failures:
                until = now + timedelta(minutes=config.lockout_minutes)
                session.execute(update(ConsoleAccount).where(ConsoleAccount.id == account_id)
                                .values(failed_logins=0, locked_until=until))
        raise LoginError("locked", until) if until else LoginError("invalid")
    with factory() as session, session.begin():
        values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
        if _HASHER.check_needs_rehash(stored):
            values["password_hash"] = _HASHER.hash(password)
        session.execute(update(ConsoleAccount).where(ConsoleAccount.id == account_id).values(**values))
        return _account(session.get_one(ConsoleAccount, account_id))


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def set_password(factory: sessionmaker[Session], username: str, password: str, config: ConsoleConfig | None = None) -> None:
    """Set a new password, unlock the account and end its sessions."""
    check_password(password, config or ConsoleConfig())
    _change(factory, username, password_hash=_HASHER.hash(password), failed_logins=0, locked_until=None)


def set_role(factory: sessionmaker[Session], username: str, role: str) -> None:
    role_rank(role)
    _change(factory, username, role=role)


def unlock(factory: sessionmaker[Session], username: str) -> None:
    _change(factory, username, failed_logins=0, locked_until=None, end_sessions=False)


def set_disabled(factory: sessionmaker[Session], username: str, disabled: bool) -> None:
    _change(factory, username, disabled_at=datetime.now(UTC) if disabled else None)


def _change(factory: sessionmaker[Session], username: str, *, end_sessions: bool = True, **values: object) -> None:
    with factory() as session, session.begin():
        row = session.execute(select(ConsoleAccount).where(ConsoleAccount.username == username)).scalar_one_or_none()
        if row is None:
            raise AccountError(f"no console account {username!r} / 账号不存在")
        for k, v in values.items():
            setattr(row, k, v)
        if end_sessions:
            session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == row.id))


# -- sessions -----------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(factory: sessionmaker[Session], account: Account, config: ConsoleConfig | None = None) -> tuple[str, SessionInfo]:
    """A new session for ``account``: (cookie token, info). The token is shown only here."""
    config = config or ConsoleConfig()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = now + timedelta(hours=config.session_hours)
    with factory() as session, session.begin():
        session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))  # housekeeping
        session.add(ConsoleSession(token_hash=_token_hash(token), account_id=account.id, csrf=csrf,
                                   created_at=now, expires_at=expires, last_seen_at=now))
    return token, SessionInfo(account, csrf, expires)


def session_for(factory: sessionmaker[Session], token: str, config: ConsoleConfig | None = None,
                *, now: datetime | None = None) -> SessionInfo | None:
    """The live session for a cookie token, or None (unknown, expired, idle too long, account disabled)."""
    if not token or len(token) > 128:
        return None
    config = config or ConsoleConfig()
    now = now or datetime.now(UTC)
    h = _token_hash(token)
    with factory() as session, session.begin():
        row = session.get(ConsoleSession, h)
        if row is None:
            return None
        acc = session.get(ConsoleAccount, row.account_id)
        idle_limit = _aware(row.last_seen_at) + timedelta(minutes=config.idle_minutes)  # type: ignore[operator]
        if acc is None or acc.disabled_at is not None or _aware(row.expires_at) <= now or idle_limit <= now:  # type: ignore[operator]
            session.delete(row)
            return None
        if (now - _aware(row.last_seen_at)).total_seconds() > 30:  # type: ignore[operator]
            row.last_seen_at = now  # at most one write per half minute per session
        return SessionInfo(_account(acc), row.csrf, _aware(row.expires_at))  # type: ignore[arg-type]


def close_session(factory: sessionmaker[Session], token: str) -> None:
    with factory() as session, session.begin():
        session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token)))


def can_role(have: str, need: str) -> bool:
    """True when role ``have`` includes the rights of role ``need``."""
    return role_rank(have) >= role_rank(need)
