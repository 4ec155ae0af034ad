"""Motor-vehicle licence plates (GA 36): province character + issuing-authority letter + serial."""

from __future__ import annotations

import re

from hegui.detect.pii.gates import Gate, chars
from hegui.detect.pii.recognizer import NOT_ALNUM_AFTER, Check, Pattern, PatternRecognizer

PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "[a-hj-np-z]"  # plate letters exclude I and O
_LD = "[a-hj-np-z0-9]"
_SEP = r"[·• .\-]?"


class LicensePlateRecognizer(PatternRecognizer):
    """Ordinary plates (5 serial characters, optionally ending 警/学/挂/港/澳/领), new-energy plates
    (6 serial characters: D/F-series small cars, or 5 digits + D/F for large vehicles), embassy 使."""

    name = "license_plate"
    risk = "pii.license_plate"
    patterns = (
        Pattern(
            "new_energy",
            f"[{PROVINCE_CHARS}]{_L}{_SEP}(?:[a-hj-k]{_LD}\\d{{4}}|\\d{{5}}[a-hj-k])" + NOT_ALNUM_AFTER,
            0.7,
        ),
        Pattern(
            "ordinary",
            f"[{PROVINCE_CHARS}]{_L}{_SEP}(?:{_LD}{{5}}|{_LD}{{4}}[警学挂港澳领试超])" + NOT_ALNUM_AFTER,
            0.6,
        ),
        Pattern("embassy", r"使\d{6}" + NOT_ALNUM_AFTER, 0.6),
    )
    context_words = ("车牌", "牌照", "号牌", "车号", "车辆", "驾驶", "违章", "停车", "plate")
    context_boost = 0.25

    _quick = re.compile(f"[{PROVINCE_CHARS}使]{_L}?{_SEP}[0-9a-z]")
    # The quick test, character for character.
    gate = Gate.any_of(
        chars(PROVINCE_CHARS + "使")
        + f"{chars('abcdefghjklmnpqrstuvwxyz')}?{chars('·• .-')}?"
        + chars("0123456789abcdefghijklmnopqrstuvwxyz")
    )

    def prefilter(self, text: str) -> bool:
        return self._quick.search(text) is not None

    def validate(self, value: str, pattern: Pattern) -> Check:
        serial = re.sub(r"[·• .\-]", "", value)[2:]
        if pattern.name == "ordinary":
            letters = sum(c.isalpha() and c.isascii() for c in serial)
            if letters > 3:  # real serials have at most a few letters; "京abcde" is a word
                return Check(False, "too many letters")
            if not any(c.isdigit() for c in serial):
                return Check(False, "no digits")
        return Check(True, "plate shape ok")
