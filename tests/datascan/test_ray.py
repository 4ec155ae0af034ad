"""The Ray Data executor gives byte-identical output to the local one (Ray started locally)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hegui.config import Settings
from hegui.datascan import Pipeline, ReaderOptions, ScanOptions, default_steps, scan
from hegui.datascan.pipeline import review_keys

pytestmark = pytest.mark.ray


def test_local_and_ray_byte_identical(corpus: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    settings = Settings(var_dir=tmp_path / "var")
    settings.key_bytes()  # create the key once, so both runs hash with the same one

    def pipeline() -> Pipeline:
        return Pipeline(default_steps(settings), ReaderOptions(id_field="id"), review_n=40, keep_text=True)

    local, remote = tmp_path / "local", tmp_path / "ray"
    scan([str(corpus)], local, pipeline(), settings=settings,
         options=ScanOptions(workers=2, shard_bytes=2048, filter_dir=local / "f"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    dctx = ray.data.DataContext.get_current()
    before = dctx.enable_progress_bars
    try:
        res = scan([str(corpus)], remote, pipeline(), settings=settings,
                   options=ScanOptions(executor="ray", workers=2, shard_bytes=2048, filter_dir=remote / "f"))
        assert dctx.enable_progress_bars == before  # Ray Data's progress lines were off only for the scan
    finally:
        ray.shutdown()
    assert res.shards_run == res.shards_total > 8
    for name in ("annotations.jsonl", "issues.jsonl", "review_sample.jsonl", "review_sample.csv",
                 "f/clean.jsonl", "f/rejects.jsonl"):
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name
    assert (local / "annotations.jsonl").stat().st_size > 10_000
    # each actor bounds the review candidates by the shards it finished: fewer texts checkpointed
    ckpt = remote / ".scan" / "shards"
    kept = sum(len(review_keys(f.read_bytes())) for f in ckpt.glob("*.review_keys.npy"))
    unbounded = sum(min(40, json.loads(f.read_text())["docs"]) for f in ckpt.glob("*.stats.json"))
    assert kept < unbounded


def test_ray_actor_builds_detectors_and_freezes_its_heap(tmp_path: Path) -> None:
    """The UDF's constructor (run here, in-process) leaves the Guard built and the heap frozen, so
    the actor's collections stop walking Ray's and the detectors' objects; it keeps a review bound
    over the keys it is given."""
    import gc

    import numpy as np

    from hegui.datascan.executors import _RayShardFn

    settings = Settings(var_dir=tmp_path / "var")
    p = Pipeline(default_steps(settings), ReaderOptions(id_field="id"), review_n=2)
    assert not gc.get_freeze_count()
    try:
        fn = _RayShardFn(p, {}, np.array([5, 9, 30], dtype=np.uint64))
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    guard_step = next(s for s in p.steps if s.name == "guard")
    assert guard_step._guard is not None
    assert fn.bound.value == 9
