"""Build the small CJK font the visible labels are drawn with (ships in hegui.labels/fonts).

Pillow's default font has no Chinese glyphs, and a full Noto Sans CJK is 20 MB, so this subsets
Debian's ``fonts-noto-cjk`` (Noto Sans CJK SC Bold, SIL OFL 1.1) to the characters that label texts
use and writes the OFL text next to it, as the licence requires for redistribution.

    .venv/bin/python scripts/build_label_font.py   # needs fonts-noto-cjk and fonttools (dev extra)

To allow a custom ``labels.label_text`` with other characters, add them to CHARS and rebuild.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
SC_INDEX_NAME = "Noto Sans CJK SC Bold"
COPYRIGHT = Path("/usr/share/doc/fonts-noto-cjk/copyright")
OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "hegui" / "labels" / "fonts"
OUT = OUT_DIR / "NotoSansCJKsc-Bold-labels.otf"
# Label vocabulary: the AI and generation elements and the usual wordings around them.
CHARS = (
    "人工智能生成合成本内容由深度提供标识疑似可能为图片视频音频文字作品制编号者服务平台注意"
    "，。：；（）“”、！？·—《》【】" + "".join(chr(c) for c in range(0x20, 0x7F))
)


def main() -> int:
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    if not SOURCE.exists():
        print(f"{SOURCE} not found: apt-get install fonts-noto-cjk", file=sys.stderr)
        return 1
    coll = TTCollection(str(SOURCE))
    font = next(f for f in coll.fonts if f["name"].getDebugName(4) == SC_INDEX_NAME)
    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(text=CHARS)
    sub.subset(font)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    font.save(str(OUT))
    text = COPYRIGHT.read_text(encoding="utf-8")
    m = re.search(r"^License: SIL-1\.1\n((?: .*\n)+)", text, re.M)
    if not m:
        print("OFL text not found in the Debian copyright file", file=sys.stderr)
        return 1
    ofl = "\n".join("" if ln.strip() == "." else ln[1:] for ln in m.group(1).splitlines())
    notice = font["name"].getDebugName(0) or ""
    header = (
        "The file NotoSansCJKsc-Bold-labels.otf is a subset of Noto Sans CJK SC Bold, built by\n"
        "scripts/build_label_font.py from Debian's fonts-noto-cjk.\n"
        f"{notice}\n"
        "It is licensed under the SIL Open Font License, Version 1.1, reproduced below.\n\n"
    )
    (OUT_DIR / "OFL.txt").write_text(header + ofl + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(set(CHARS))} characters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
