"""The message catalogue covers every literal key the templates use, in both languages."""

from __future__ import annotations

import re
from importlib import resources

from hegui.console.accounts import ROLES
from hegui.console.i18n import MESSAGES, translate


def test_every_template_key_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for f in resources.files("hegui.console").joinpath("templates").iterdir():
        used |= set(re.findall(r"""_\(\s*["']([a-z0-9_.]+)["']""", f.read_text("utf-8")))
    used |= {f"role.{r}" for r in ROLES} | {f"how.{h}" for h in ("key", "key prefix", "last 4", "pseudonym", "account name")}
    used |= {"label.prefix", "label.suffix"}
    missing = sorted(k for k in used if k not in MESSAGES and not k.endswith("."))  # "x." ~ var: listed above
    assert not missing, missing
    assert len(used) > 60


def test_both_languages_are_filled_and_differ() -> None:
    for key, (zh, en) in MESSAGES.items():
        assert zh.strip() and en.strip(), key
        assert re.search(r"[\u4e00-\u9fff]", zh) or key in ("switch_lang",) or zh == en or key.startswith("role."), key
    assert translate("chain_ok", "en", n=3).startswith("The hash chain is intact")
    assert translate("chain_ok", "zh", n=3).startswith("哈希链完整")
