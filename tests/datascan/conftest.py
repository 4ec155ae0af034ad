"""Fixture corpora written by the tests themselves, in every format the scanner reads."""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path

import pytest

SENTENCES = [
    "今天天气很好，我们去公园散步，然后在湖边吃了午饭。",
    "这家餐厅的红烧肉做得非常地道，价格也很实惠。",
    "学校下周举行运动会，同学们都在积极准备。",
    "请联系我，手机号码是13812345678，邮箱是zhang.san@example.com。",
    "The weather is nice today and we are going to the park for a walk.",
    "城市图书馆新增了两千册图书，欢迎市民前来借阅。",
    "他的身份证号是110101199003071237，住在北京市朝阳区建国路88号。",
    "研究表明，适量运动有助于改善睡眠质量和心理健康。",
]


def make_docs(n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        k = rng.randint(1, 4)
        docs.append({"id": f"d{i}", "text": "".join(rng.choice(SENTENCES) + f"第{rng.randint(0, 10**6)}号。" for _ in range(k))})
    return docs


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """A directory with every format, plus broken lines, GB18030 lines and empty documents."""
    return write_corpus(tmp_path / "corpus")


def write_corpus(root: Path) -> Path:
    root.mkdir(parents=True)
    docs = make_docs(120)
    # JSONL with a broken line, a GB18030 line, an empty doc, a non-object and a missing field
    with open(root / "a.jsonl", "wb") as fh:
        for d in docs[:30]:
            fh.write(json.dumps(d, ensure_ascii=False).encode() + b"\n")
        fh.write(b'{"id": "broken", "text": "unterminated\n')
        fh.write(json.dumps({"id": "gbk", "text": "这是一段国标编码的文字，用于测试混合编码。"}, ensure_ascii=False).encode("gb18030") + b"\n")
        fh.write(b'{"id": "empty", "text": ""}\n')
        fh.write(b"[1, 2]\n")
        fh.write(b'{"id": "nofield", "body": "x"}\n')
        fh.write(b"\n")
    # gzip and zstd JSONL
    with gzip.open(root / "b.jsonl.gz", "wb") as fh:
        for d in docs[30:50]:
            fh.write(json.dumps(d, ensure_ascii=False).encode() + b"\n")
    import zstandard

    with open(root / "c.jsonl.zst", "wb") as raw, zstandard.ZstdCompressor().stream_writer(raw) as fh:
        for d in docs[50:60]:
            fh.write(json.dumps(d, ensure_ascii=False).encode() + b"\n")
    # JSON array
    (root / "d.json").write_text(json.dumps(docs[60:75], ensure_ascii=False, indent=1), encoding="utf-8")
    # CSV (with BOM) and TSV
    with open(root / "e.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        for d in docs[75:85]:
            w.writerow([d["id"], d["text"]])
        w.writerow(["empty-csv", ""])
    with open(root / "f.tsv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["id", "text"])
        for d in docs[85:95]:
            w.writerow([d["id"], d["text"]])
    # Parquet in two row groups
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pa.table({"id": [d["id"] for d in docs[95:110]], "text": [d["text"] for d in docs[95:110]]})
    pq.write_table(t, root / "g.parquet", row_group_size=7)
    # Plain text, one document per line
    (root / "h.txt").write_text("\n".join(d["text"] for d in docs[110:120]) + "\n", encoding="utf-8")
    return root
