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
    settings = Settings(var_dir=tmp_path / "var")
    settings.key_bytes()  # create the key once, so both runs hash with the same one

    def pipeline() -> Pipeline:
        return Pipeline(default_steps(settings), ReaderOptions(id_field="id"), review_n=40, keep_text=True)

    local, remote = tmp_path / "local", tmp_path / "ray"
    scan([str(corpus)], local, pipeline(), settings=settings,
         options=ScanOptions(workers=2, shard_bytes=2048, filter_dir=local / "f"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        res = scan([str(corpus)], remote, pipeline(), settings=settings,
                   options=ScanOptions(executor="ray", workers=2, shard_bytes=2048, filter_dir=remote / "f"))
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
