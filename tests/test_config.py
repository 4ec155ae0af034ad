"""The per-installation secret key: created once, the same for every process that starts together."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from hegui.config import ConfigError, Settings, installation_key


def _worker(var_dir: str, barrier: mp.synchronize.Barrier, out: mp.queues.Queue) -> None:  # type: ignore[name-defined]
    barrier.wait()
    try:
        out.put(Settings(var_dir=Path(var_dir)).key_bytes().decode())
    except Exception as e:  # reported to the test, which fails on it
        out.put(f"error: {type(e).__name__}: {e}")


@pytest.mark.timeout(120)
def test_processes_creating_the_key_at_once_agree(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    for round_ in range(15):
        var = tmp_path / f"r{round_}" / "var"
        barrier = ctx.Barrier(4)
        out = ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(str(var), barrier, out)) for _ in range(4)]
        for p in procs:
            p.start()
        keys = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert not [k for k in keys if k.startswith("error")], keys
        assert len(set(keys)) == 1, keys
        assert (var / "secret.key").read_text() == keys[0]
        assert len(keys[0]) == 64
        # No temporary files are left behind.
        assert [p.name for p in var.iterdir()] == ["secret.key"]


def test_key_is_stable_and_private(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path / "var")
    k1 = s.key_bytes()
    assert k1 == Settings(var_dir=tmp_path / "var").key_bytes()
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o077 == 0


def test_explicit_key_wins(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path / "var", secret_key="k" * 40)
    assert s.key_bytes() == b"k" * 40
    assert not (tmp_path / "var").exists()


def test_user_written_key_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("my own key\n")
    assert installation_key(tmp_path / "secret.key") == b"my own key"


@pytest.mark.timeout(30)
def test_empty_key_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hegui.config as config

    monkeypatch.setattr(config, "_KEY_WAIT_S", 0.1)
    (tmp_path / "secret.key").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        installation_key(tmp_path / "secret.key")
