"""Migrations, API keys and rate windows on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from hegui.store import StoreConfig, current, make_engine, session_factory, upgrade
from hegui.store import keys as keystore
from hegui.store.migrate import head
from hegui.store.models import ApiKey

SECRET = b"k" * 32


def _factory(cfg: StoreConfig, tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(cfg, tmp_path)
    upgrade(engine)
    return engine, session_factory(engine)


def test_migrations_idempotent(store_config: StoreConfig, tmp_path: Path) -> None:
    engine = make_engine(store_config, tmp_path)
    assert current(engine) is None
    upgrade(engine)
    upgrade(engine)  # a second start changes nothing
    assert current(engine) == head()
    tables = set(inspect(engine).get_table_names())
    assert {"api_keys", "rate_windows", "audit_records", "audit_chain_head", "alembic_version"} <= tables
    engine.dispose()


def test_keys_hashed_at_rest(store_config: StoreConfig, tmp_path: Path) -> None:
    engine, f = _factory(store_config, tmp_path)
    key, info = keystore.create_key(f, SECRET, "alice", rate_limit_rpm=5)
    assert key.startswith("hg-") and len(key) > 40
    with f() as s:
        row = s.execute(select(ApiKey)).scalar_one()
        dump = " ".join(str(getattr(row, c.key)) for c in ApiKey.__table__.columns)
    assert key not in dump and key[8:] not in dump  # only the prefix and a keyed hash
    assert keystore.lookup(f, SECRET, key) == info
    assert keystore.lookup(f, b"other-secret", key) is None  # the hash is keyed
    assert keystore.lookup(f, SECRET, key + "x") is None
    _, admin = keystore.create_key(f, SECRET, "root", role="admin")
    assert [k.user for k in keystore.list_keys(f)] == ["alice", "root"]
    assert keystore.revoke(f, info.id) and not keystore.revoke(f, info.id)
    assert keystore.lookup(f, SECRET, key) is None
    assert [k.id for k in keystore.list_keys(f)] == [admin.id]
    assert len(keystore.list_keys(f, include_revoked=True)) == 2
    for bad in ({"user": ""}, {"user": "x", "role": "root"}):
        try:
            keystore.create_key(f, SECRET, **bad)  # type: ignore[arg-type]
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")
    engine.dispose()


def test_rate_window_atomic_across_threads(store_config: StoreConfig, tmp_path: Path) -> None:
    engine, f = _factory(store_config, tmp_path)
    _, info = keystore.create_key(f, SECRET, "alice")
    now = 1_800_000_000.0
    counts: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            c = keystore.hit(f, info.id, now=now)
            with lock:
                counts.append(c)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == list(range(1, 41))  # no lost update, no duplicate count
    assert keystore.hit(f, info.id, now=now + 60) == 1  # a new minute starts at one
    assert keystore.hit(f, info.id, now=now + 180) == 1
    with f() as s:  # old windows were dropped
        assert s.execute(text("SELECT count(*) FROM rate_windows")).scalar_one() == 1
    engine.dispose()


def test_key_cache_bounds_revocation(store_config: StoreConfig, tmp_path: Path) -> None:
    """A live key is served from memory for ``ttl_s``; a revocation elsewhere (another process:
    here the store directly) is seen once that runs out, one through `forget` at once. Unknown and
    revoked keys are never cached."""
    import time

    engine, f = _factory(store_config, tmp_path)
    key, info = keystore.create_key(f, SECRET, "alice")
    cache = keystore.KeyCache(SECRET, ttl_s=0.5)
    assert cache.get(key) is None and cache.lookup(f, key) == info and cache.get(key) == info
    assert cache.lookup(f, key + "x") is None and cache.get(key + "x") is None
    assert keystore.revoke(f, info.id)  # by another process
    assert cache.get(key) == info  # within the bound it still works here
    time.sleep(0.6)
    assert cache.get(key) is None and cache.lookup(f, key) is None  # after it, refused
    key2, info2 = keystore.create_key(f, SECRET, "bob")
    assert cache.lookup(f, key2) == info2
    cache.forget(info2.id)  # revoked through this process: at once
    assert cache.get(key2) is None
    off = keystore.KeyCache(SECRET, ttl_s=0)
    assert off.lookup(f, key2) == info2 and off.get(key2) is None  # 0 turns it off
    assert all(key2 not in h and key not in h for h in cache._entries)  # keyed hashes, no key in clear
    engine.dispose()


def test_key_cache_checked_later_serves_longer_and_never_refreshes(store_config: StoreConfig, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry the caller checks itself (``checked_later``: the duties' read) serves for up to
    ``known_s`` with no refresh; `confirm` restarts its ``ttl_s`` for everyone else, but never
    brings back an entry `forget` dropped meanwhile; past ``known_s`` it is looked up again."""
    engine, f = _factory(store_config, tmp_path)
    key, info = keystore.create_key(f, SECRET, "erin")
    clock = [1000.0]
    monkeypatch.setattr(keystore.time, "monotonic", lambda: clock[0])
    cache = keystore.KeyCache(SECRET, ttl_s=2.0, known_s=60.0)
    cache.lookup(f, key)
    checks = lambda k: k.id == info.id  # noqa: E731
    clock[0] += 1.8  # due for a refresh, but not for a caller that checks the key itself
    assert cache.get_refreshing(key, checks) == (info, False)
    clock[0] += 10.0  # past ttl_s: expired for others, still served to such a caller
    assert cache.get_refreshing(key) == (None, False)
    assert cache.get_refreshing(key, checks) == (info, False)
    cache.confirm(key, clock[0] - 0.5)  # its read (begun half a second ago) found the key live
    assert cache.get(key) == info  # within ttl_s of that read, for everyone
    clock[0] += 1.6
    assert cache.get(key) is None
    cache.confirm(key, clock[0] - 100)  # an older read never moves the entry back
    assert cache.get_refreshing(key, checks) == (info, False)
    clock[0] += 60.0  # past known_s since the last check: looked up again, like any unknown key
    assert cache.get_refreshing(key, checks) == (None, False)
    cache.lookup(f, key)
    cache.forget(info.id)  # revoked through this process
    cache.confirm(key, clock[0])  # a read from before the revocation: does not bring it back
    assert cache.get_refreshing(key, checks) == (None, False)
    engine.dispose()


def test_key_cache_refreshes_ahead_within_the_bound(store_config: StoreConfig, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in use is refreshed in its entry's last quarter, while the entry still serves; the
    entry's expiry stays ``ttl_s`` after the lookup that made it; a refresh that finds the key
    revoked drops it at once; a revocation here during a lookup is not undone by that lookup."""
    engine, f = _factory(store_config, tmp_path)
    key, info = keystore.create_key(f, SECRET, "alice")
    clock = [1000.0]
    monkeypatch.setattr(keystore.time, "monotonic", lambda: clock[0])
    cache = keystore.KeyCache(SECRET, ttl_s=2.0)
    assert cache.get_refreshing(key) == (None, False)
    cache.lookup(f, key)
    clock[0] += 1.4  # 70 % of its life: not due
    assert cache.get_refreshing(key) == (info, False)
    clock[0] += 0.2  # 80 %: due, once
    assert cache.get_refreshing(key) == (info, True)
    assert cache.get_refreshing(key) == (info, False)  # one refresh under way is enough
    assert cache.refresh(f, key) == info
    clock[0] += 1.9  # the refresh made a new entry: 1.9 s after it, still served
    assert cache.get(key) == info
    clock[0] += 0.2  # … and 2.1 s after it, expired like any entry
    assert cache.get_refreshing(key) == (None, False)

    cache.lookup(f, key)
    clock[0] += 1.8
    assert cache.get_refreshing(key) == (info, True)
    assert keystore.revoke(f, info.id)  # by another process
    assert cache.refresh(f, key) is None and cache.get(key) is None  # dropped at once

    key2, info2 = keystore.create_key(f, SECRET, "bob")
    real_lookup = keystore.lookup

    def revoked_meanwhile(*a: object) -> keystore.KeyInfo | None:
        row = real_lookup(*a)  # type: ignore[arg-type]
        cache.forget(info2.id)  # revoked through this process while the row was being read
        return row

    monkeypatch.setattr(keystore, "lookup", revoked_meanwhile)
    assert cache.lookup(f, key2) == info2  # this request read the row before the revocation…
    monkeypatch.setattr(keystore, "lookup", real_lookup)
    assert cache.get(key2) is None  # … but the row is not cached: the next request is refused
    engine.dispose()
