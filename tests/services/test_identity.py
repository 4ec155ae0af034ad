"""Real-name identity through the HTTP API: register → verify → minor limits; bad input; no clear IDs."""

from __future__ import annotations

import datetime as dt
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from hegui.detect.pii.validators import make_resident_id

from .conftest import dump_store, sqlite_bytes
from .upstream import Verifier

TODAY = dt.date.today()
ADULT_ID = make_resident_id("110105", dt.date(1990, 5, 17), 123)
MINOR_ID = make_resident_id("310104", TODAY.replace(year=TODAY.year - 12, day=1), 456)
NAME = "张三"
MOBILE = "13912345678"


def _code(g, mobile: str) -> str:
    text = g.sender().last_to(mobile)
    assert text is not None, "no SMS was sent"
    return re.search(r"\d{6}", text).group(0)


def test_register_verify_minor_limits(make_gateway):
    """Draft preset: unverified → refused; register a minor with ID and mobile; verify by code;
    then the minors' daily limit applies (and the ID number is nowhere in clear)."""
    g = make_gateway(base="draft-2023", usage={"minor_daily_requests": 2, "minor_quiet_start": "00:00",
                                               "minor_quiet_end": "00:00"})
    u = g.user("kid")
    r = g.chat(u, "你好")
    assert r.status_code == 403 and r.json()["error"]["code"] == "real_name_required"
    r = g.client.post("/v1/hegui/identity", headers=u, json={"name": "李小明", "id_number": MINOR_ID, "mobile": MOBILE})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["otp_sent"] is True
    assert body["identity"]["minor"] is True and body["identity"]["verified"] is False
    assert body["identity"]["id_last4"] == MINOR_ID[-4:] and body["identity"]["mobile_last4"] == MOBILE[-4:]
    assert g.chat(u, "你好").status_code == 403  # mobile not verified yet
    r = g.client.post("/v1/hegui/identity/otp/verify", headers=u, json={"code": _code(g, MOBILE)})
    assert r.status_code == 200, r.text
    assert r.json()["identity"]["verified"] is True
    assert g.chat(u, "你好").status_code == 200
    assert g.chat(u, "再来一次").status_code == 200
    r = g.chat(u, "第三次")
    assert r.status_code == 429 and r.json()["error"]["code"] == "daily_limit"
    me = g.client.get("/v1/hegui/me", headers=u).json()
    assert me["usage"]["requests"] == 2 and me["identity"]["minor"] is True
    # Nothing in the database holds the clear ID number, name or mobile number.
    dump = dump_store(g.state)
    for secret in (MINOR_ID, MINOR_ID[:-4], "李小明", MOBILE):
        assert secret not in dump
    if not g.settings.store.url:
        raw = sqlite_bytes(g.settings.var_dir)
        for secret in (MINOR_ID, "李小明", MOBILE):
            assert secret.encode() not in raw


def test_minor_quiet_hours(make_gateway):
    now = datetime.now(UTC).astimezone(dt.timezone(timedelta(hours=8)))
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=1)).strftime("%H:%M")
    g = make_gateway(usage={"minor_quiet_start": start, "minor_quiet_end": end})
    kid, adult = g.user("kid"), g.user("adult")
    assert g.client.post("/v1/hegui/identity", headers=kid, json={"name": "王小", "id_number": MINOR_ID}).status_code == 201
    assert g.client.post("/v1/hegui/identity", headers=adult, json={"name": NAME, "id_number": ADULT_ID}).status_code == 201
    r = g.chat(kid, "你好")
    assert r.status_code == 403 and r.json()["error"]["code"] == "quiet_hours"
    assert g.chat(adult, "你好").status_code == 200


def test_interim_unverified_allowed_draft_limit(make_gateway):
    """interim-2023 lets unverified users in; a "limit" policy caps their daily requests."""
    g = make_gateway()
    assert g.chat(g.user("anon"), "你好").status_code == 200
    g2 = make_gateway(duties={"unverified_users": "limit"}, identity={"unverified_daily_requests": 1})
    u = g2.user("anon")
    assert g2.chat(u, "你好").status_code == 200
    r = g2.chat(u, "你好")
    assert r.status_code == 429 and r.json()["error"]["code"] == "unverified_limit"


@pytest.mark.parametrize(("id_number", "fragment"), [
    ("12345", "wrong length"),
    (ADULT_ID[:-1] + ("0" if ADULT_ID[-1] != "0" else "1"), "check digit"),
    ("11010519900230" + "123", "birth date"),  # 30 February (check digit computed below)
    ("990105199005171234", "region"),
    ("", "empty"),
])
def test_bad_id_numbers(make_gateway, id_number, fragment):
    from hegui.detect.pii.validators import id_check_char

    if len(id_number) == 17:
        id_number += id_check_char(id_number)
    g = make_gateway()
    u = g.user("bob")
    r = g.client.post("/v1/hegui/identity", headers=u, json={"name": NAME, "id_number": id_number})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_id_number" and fragment in err["message"]
    if id_number:
        assert id_number not in r.text.replace(err["message"], "") and id_number not in err["message"]
    assert g.client.get("/v1/hegui/identity", headers=u).json()["identity"]["registered"] is False


def test_future_birth_date_and_bad_mobile(make_gateway):
    g = make_gateway()
    u = g.user("bob")
    future = make_resident_id("110105", TODAY + timedelta(days=3), 1)
    r = g.client.post("/v1/hegui/identity", headers=u, json={"name": NAME, "id_number": future})
    assert r.status_code == 400 and "out of range" in r.json()["error"]["message"]
    r = g.client.post("/v1/hegui/identity", headers=u, json={"mobile": "12345678901"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_mobile"
    r = g.client.post("/v1/hegui/identity", headers=u, json={"id_number": ADULT_ID})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_name"
    r = g.client.post("/v1/hegui/identity", headers=u, json={})
    assert r.status_code == 400
    assert g.client.get("/v1/hegui/identity", headers=u).json()["identity"]["registered"] is False


def test_duplicate_registration(make_gateway):
    g = make_gateway()
    a, b = g.user("a"), g.user("b")
    assert g.client.post("/v1/hegui/identity", headers=a, json={"name": NAME, "id_number": ADULT_ID, "mobile": MOBILE}).status_code == 201
    r = g.client.post("/v1/hegui/identity", headers=a, json={"name": NAME, "id_number": ADULT_ID})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_registered"
    # Same number with spaces and a lower-case check character is the same person.
    spaced = ADULT_ID[:6] + " " + ADULT_ID[6:14] + " " + ADULT_ID[14:].lower()
    r = g.client.post("/v1/hegui/identity", headers=b, json={"name": NAME, "id_number": spaced})
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_id_number"
    r = g.client.post("/v1/hegui/identity", headers=b, json={"mobile": "+86 139-1234-5678"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_mobile"
    assert g.client.get("/v1/hegui/identity", headers=b).json()["identity"]["registered"] is False
    # A claimed number never proven (its code expired) is released to whoever proves it.
    from hegui.identity.models import OtpCode

    with g.state.factory() as s, s.begin():
        s.execute(update(OtpCode).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    r = g.client.post("/v1/hegui/identity", headers=b, json={"mobile": "+86 139-1234-5678"})
    assert r.status_code == 201, r.text
    a_view = g.client.get("/v1/hegui/identity", headers=a).json()["identity"]
    assert a_view["id_verified"] and a_view["mobile_last4"] is None and a_view["verified"]
    r = g.client.post("/v1/hegui/identity/otp/verify", headers=b, json={"code": _code(g, MOBILE)})
    assert r.status_code == 200 and r.json()["identity"]["verified"]
    c = g.user("c")
    r = g.client.post("/v1/hegui/identity", headers=c, json={"mobile": MOBILE})
    assert r.status_code == 409  # now proven: no longer released


def test_otp_replay_expiry_attempts(make_gateway):
    from hegui.identity.models import OtpCode

    g = make_gateway(identity={"otp_max_attempts": 2, "otp_resend_interval_s": 0})
    u = g.user("carol")
    assert g.client.post("/v1/hegui/identity", headers=u, json={"mobile": MOBILE}).status_code == 201
    first = _code(g, MOBILE)
    # A new code replaces the old one: the old one no longer works.
    assert g.client.post("/v1/hegui/identity/otp", headers=u, json={"mobile": MOBILE}).status_code == 200
    second = _code(g, MOBILE)
    if first != second:
        r = g.client.post("/v1/hegui/identity/otp/verify", headers=u, json={"code": first})
        assert r.status_code == 400 and r.json()["error"]["code"] == "wrong_code"
    # Expired: move the expiry into the past.
    with g.state.factory() as s, s.begin():
        s.execute(update(OtpCode).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    r = g.client.post("/v1/hegui/identity/otp/verify", headers=u, json={"code": second})
    assert r.status_code == 400 and r.json()["error"]["code"] == "code_expired"
    assert g.client.get("/v1/hegui/identity", headers=u).json()["identity"]["verified"] is False
    # Too many wrong codes.
    assert g.client.post("/v1/hegui/identity/otp", headers=u, json={"mobile": MOBILE}).status_code == 200
    good = _code(g, MOBILE)
    bad = "000000" if good != "000000" else "111111"
    for _ in range(2):
        assert g.client.post("/v1/hegui/identity/otp/verify", headers=u, json={"code": bad}).json()["error"]["code"] == "wrong_code"
    r = g.client.post("/v1/hegui/identity/otp/verify", headers=u, json={"code": good})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
    # A fresh code works once; replaying it fails.
    assert g.client.post("/v1/hegui/identity/otp", headers=u, json={"mobile": MOBILE}).status_code == 200
    good = _code(g, MOBILE)
    assert g.client.post("/v1/hegui/identity/otp/verify", headers=u, json={"code": good}).status_code == 200
    r = g.client.post("/v1/hegui/identity/otp/verify", headers=u, json={"code": good})
    assert r.status_code == 400 and r.json()["error"]["code"] == "code_used"
    assert g.client.post("/v1/hegui/identity/otp/verify", headers=u, json={"code": "12ab"}).status_code == 400
    r = g.client.post("/v1/hegui/identity/otp", headers=u, json={"mobile": MOBILE})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_verified"


def test_http_verifier_signed_match_mismatch_timeout(make_gateway):
    secret = "provider-shared-secret"
    with Verifier(secret) as v:
        g = make_gateway(identity={"id_verifier": "http", "http": {"url": v.url, "secret": secret, "timeout_s": 0.5}})
        slow, wrong, ok = g.user("slow"), g.user("wrong"), g.user("ok")
        r = g.client.post("/v1/hegui/identity", headers=slow, json={"name": "慢慢", "id_number": ADULT_ID})
        assert r.status_code == 504 and r.json()["error"]["code"] == "verifier_unavailable"
        assert "nothing was stored" in r.json()["error"]["message"]
        assert g.client.get("/v1/hegui/identity", headers=slow).json()["identity"]["registered"] is False
        r = g.client.post("/v1/hegui/identity", headers=wrong, json={"name": "李四", "id_number": ADULT_ID})
        assert r.status_code == 422 and r.json()["error"]["code"] == "identity_mismatch"
        r = g.client.post("/v1/hegui/identity", headers=ok, json={"name": NAME, "id_number": ADULT_ID})
        assert r.status_code == 201, r.text
        ident = r.json()["identity"]
        assert ident["verified"] and ident["method"] == "id:http" and ident["minor"] is False
        assert v.calls == 3 and v.bad_signatures == 0
        assert ADULT_ID not in dump_store(g.state)


def test_http_sms_sender_and_its_failure(make_gateway):
    from .upstream import SmsGateway

    with SmsGateway() as sms:
        g = make_gateway(identity={"otp_resend_interval_s": 0,
                                   "sms": {"sender": "http", "url": sms.url, "api_key": "sms-key", "timeout_s": 0.5}})
        u = g.user("dave")
        sms.slow = True
        r = g.client.post("/v1/hegui/identity", headers=u, json={"mobile": MOBILE})
        assert r.status_code == 504 and r.json()["error"]["code"] == "sms_unavailable"
        ident = g.client.get("/v1/hegui/identity", headers=u).json()["identity"]
        assert ident["registered"] and not ident["mobile_verified"]  # registered; the code can be sent again
        sms.slow = False
        assert g.client.post("/v1/hegui/identity/otp", headers=u, json={"mobile": MOBILE}).status_code == 200
        msg = sms.messages[-1]
        assert msg["to"] == MOBILE and sms.auth[-1] == "Bearer sms-key"
        code = re.search(r"\d{6}", msg["text"]).group(0)
        r = g.client.post("/v1/hegui/identity/otp/verify", headers=u, json={"code": code})
        assert r.status_code == 200 and r.json()["identity"]["verified"]
        # Only the code's keyed hash is stored, and never the clear mobile number.
        from sqlalchemy import select

        from hegui.identity.models import OtpCode

        with g.state.factory() as s:
            assert all(len(h) == 64 and h != code for h in s.execute(select(OtpCode.code_hash)).scalars())
        assert MOBILE not in dump_store(g.state)


def test_require_real_name_overrides_allow(make_gateway):
    g = make_gateway(duties={"require_real_name": "true", "unverified_users": "allow"})
    r = g.chat(g.user("anon"), "你好")
    assert r.status_code == 403 and r.json()["error"]["code"] == "real_name_required"
