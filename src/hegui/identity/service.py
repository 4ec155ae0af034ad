"""Registration, offline checks, verification and one-time codes.

Every write happens after every check and every provider call, in one transaction, so a failure
(bad number, duplicate, verifier timeout) leaves no half-registered account behind. A unique index
on the ID-number hash makes a duplicate registration fail even when two arrive at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hegui.detect.pii.validators import ADULT_AGE, check_resident_id, id15_to_18, normalize_mobile
from hegui.gateway.errors import GatewayError
from hegui.identity.config import IdentityConfig
from hegui.identity.models import Identity, OtpCode
from hegui.identity.providers import IdVerifier, ProviderUnavailable, SmsSender


def keyed(key: bytes, purpose: str, value: str) -> str:
    """A keyed hash of ``value`` for ``purpose``: equal inputs match, nobody without the key can test a guess."""
    return hmac.new(key, f"{purpose}:".encode() + value.encode("utf-8"), hashlib.sha256).hexdigest()


def _err(status: int, code: str, zh: str, en: str) -> GatewayError:
    return GatewayError(status, code, zh, en)


def _clean_name(name: str) -> str:
    n = unicodedata.normalize("NFKC", name).strip()
    n = " ".join(n.split())
    if not n or len(n) > 64 or any(unicodedata.category(c).startswith("C") for c in n):
        raise _err(400, "invalid_name", "姓名须为 1–64 个可见字符", "the name must be 1–64 visible characters")
    return n


def _adult_on(birth: dt.date) -> dt.date:
    try:
        return birth.replace(year=birth.year + ADULT_AGE)
    except ValueError:  # born 29 February: of age on 1 March
        return dt.date(birth.year + ADULT_AGE, 3, 1)


@dataclass(frozen=True, slots=True)
class IdentityView:
    """What a user (or admin) may see: never more than the last four digits."""

    registered: bool
    verified: bool
    minor: bool
    age_known: bool
    id_last4: str | None = None
    id_verified: bool = False
    mobile_last4: str | None = None
    mobile_verified: bool = False
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def view_of(row: Identity | None, cfg: IdentityConfig, today: dt.date) -> IdentityView:
    """The view of an identity row already read (``None``: not registered)."""
    if row is None:
        return IdentityView(False, False, cfg.unknown_age_is_minor, False)
    verified = (row.id_hash is None or row.id_verified) and (row.mobile_hash is None or row.mobile_verified)
    minor = (row.minor_until is not None and today < row.minor_until) or (not row.age_known and cfg.unknown_age_is_minor)
    return IdentityView(True, verified, minor, row.age_known, row.id_last4, row.id_verified, row.mobile_last4,
                        row.mobile_verified, row.method)


def view(factory: sessionmaker[Session], cfg: IdentityConfig, account: str, *, today: dt.date | None = None) -> IdentityView:
    with factory() as s:
        return view_of(s.get(Identity, account), cfg, today or dt.date.today())


def check_id_number(value: str, cfg: IdentityConfig, today: dt.date) -> tuple[str, dt.date]:
    """The 18-digit form and birth date of a valid ID number; a clear error (without the number) otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise _err(400, "invalid_id_number", "身份证号不能为空", "the ID number is empty")
    res = check_resident_id(value, today=today, allow_15=cfg.allow_15_digit)
    if not res.valid:
        zh = {"wrong length or characters": "长度或字符不正确", "check digit mismatch": "校验码错误",
              "invalid birth date": "出生日期不存在", "birth date out of range": "出生日期超出范围",
              "unknown region code": "地区码不存在"}
        reasons = res.reason.split("; ")
        raise _err(400, "invalid_id_number", "身份证号无效：" + "；".join(zh.get(r, r) for r in reasons),
                   f"invalid ID number: {res.reason}")
    v = value.replace(" ", "").replace("-", "").upper()
    if len(v) == 15:
        v = id15_to_18(v)
    assert res.birth_date is not None
    return v, res.birth_date


def register(
    factory: sessionmaker[Session], key: bytes, cfg: IdentityConfig, verifier: IdVerifier, sender: SmsSender,
    account: str, *, name: str | None, id_number: str | None, mobile: str | None, now: datetime | None = None,
) -> tuple[IdentityView, bool]:
    """Register ``account``. Returns the view and whether a one-time code was sent."""
    now = now or datetime.now(UTC)
    today = now.date()
    if id_number is None and mobile is None:
        raise _err(400, "invalid_request", "须提供身份证号或手机号", "an ID number or a mobile number is required")
    row = Identity(account=account, id_verified=False, mobile_verified=False, age_known=False, created_at=now, method="")
    methods = []
    clear_id = ""
    if id_number is not None:
        if not name:
            raise _err(400, "invalid_name", "提供身份证号时须提供姓名", "a name is required with the ID number")
        clean = _clean_name(name)
        clear_id, birth = check_id_number(id_number, cfg, today)
        row.name_hash, row.id_hash, row.id_last4 = keyed(key, "name", clean), keyed(key, "id", clear_id), clear_id[-4:]
        row.age_known = True
        adult = _adult_on(birth)
        row.minor_until = adult if today < adult else None
    clear_mobile = None
    if mobile is not None:
        clear_mobile = normalize_mobile(mobile) if isinstance(mobile, str) else None
        if clear_mobile is None:
            raise _err(400, "invalid_mobile", "手机号格式无效", "invalid mobile number")
        row.mobile_hash, row.mobile_last4 = keyed(key, "mobile", clear_mobile), clear_mobile[-4:]
    with factory() as s:
        if s.get(Identity, account) is not None:
            raise _err(409, "already_registered", "该账号已登记实名信息", "this account is already registered")
        if row.id_hash and s.execute(select(Identity.account).where(Identity.id_hash == row.id_hash)).first():
            raise _err(409, "duplicate_id_number", "该身份证号已被其他账号登记", "this ID number is registered to another account")
        if row.mobile_hash:
            holder = s.execute(select(Identity).where(Identity.mobile_hash == row.mobile_hash)).scalar_one_or_none()
            if holder is not None and not _release_unproven(s, holder, now, cfg):
                raise _err(409, "duplicate_mobile", "该手机号已被其他账号登记", "this mobile number is registered to another account")
        s.commit()
    if id_number is not None:
        try:
            ok = verifier.verify(_clean_name(name or ""), clear_id)
        except ProviderUnavailable as e:
            raise _err(504, "verifier_unavailable", "实名核验服务暂不可用，请稍后重试（未保存任何信息）",
                       f"{e}; nothing was stored, try again later") from None
        if not ok:
            raise _err(422, "identity_mismatch", "姓名与身份证号不一致", "the name and ID number do not match")
        row.id_verified = True
        methods.append(f"id:{verifier.name}")
    if clear_mobile:
        methods.append("mobile:otp")
    row.method = ",".join(methods)
    if row.id_verified and not clear_mobile:
        row.verified_at = now
    try:
        with factory() as s, s.begin():
            s.add(row)
    except IntegrityError:
        raise _err(409, "duplicate_registration", "该账号、身份证号或手机号已登记", "the account, ID number or mobile is already registered") from None
    sent = False
    if clear_mobile:
        send_code(factory, key, cfg, sender, account, clear_mobile, now=now, check_interval=False)
        sent = True
    return view_of(row, cfg, today), sent


def _release_unproven(s: Session, holder: Identity, now: datetime, cfg: IdentityConfig) -> bool:
    """A mobile number claimed but never proven (no code verified, the last one expired) is released,
    so nobody can block the real owner by typing their number."""
    if holder.mobile_verified:
        return False
    last = s.execute(select(OtpCode.expires_at).where(OtpCode.account == holder.account)
                     .order_by(OtpCode.id.desc()).limit(1)).scalar()
    if last is not None and _aware(last) > now:
        return False
    if holder.id_hash is None:
        s.delete(holder)
    else:
        holder.mobile_hash = holder.mobile_last4 = None
    s.execute(update(OtpCode).where(OtpCode.account == holder.account, OtpCode.used_at.is_(None)).values(used_at=now))
    return True


def send_code(
    factory: sessionmaker[Session], key: bytes, cfg: IdentityConfig, sender: SmsSender, account: str, mobile: str,
    *, now: datetime | None = None, check_interval: bool = True,
) -> None:
    """Send a fresh one-time code to the account's registered mobile (earlier codes stop working)."""
    now = now or datetime.now(UTC)
    clear = normalize_mobile(mobile) if isinstance(mobile, str) else None
    if clear is None:
        raise _err(400, "invalid_mobile", "手机号格式无效", "invalid mobile number")
    with factory() as s:
        ident = s.get(Identity, account)
        if ident is None or ident.mobile_hash != keyed(key, "mobile", clear):
            raise _err(400, "mobile_not_registered", "该手机号未登记在此账号下", "this mobile number is not registered to this account")
        if ident.mobile_verified:
            raise _err(409, "already_verified", "手机号已验证", "the mobile number is already verified")
        last = s.execute(select(OtpCode).where(OtpCode.account == account).order_by(OtpCode.id.desc()).limit(1)).scalar_one_or_none()
        if check_interval and last is not None and (now - _aware(last.created_at)).total_seconds() < cfg.otp_resend_interval_s:
            raise _err(429, "otp_too_soon", "验证码发送过于频繁，请稍后再试", "a code was sent moments ago; wait before asking again")
    code = f"{secrets.randbelow(10**6):06d}"
    minutes = max(1, cfg.otp_ttl_s // 60)
    with factory() as s, s.begin():
        s.execute(update(OtpCode).where(OtpCode.account == account, OtpCode.used_at.is_(None)).values(used_at=now))
        s.add(OtpCode(account=account, code_hash=keyed(key, f"otp:{account}", code), created_at=now,
                      expires_at=now + timedelta(seconds=cfg.otp_ttl_s), attempts=0))
    text = cfg.sms.template_zh.format(code=code, minutes=minutes) + " " + cfg.sms.template_en.format(code=code, minutes=minutes)
    try:
        sender.send(clear, text)
    except ProviderUnavailable as e:
        raise _err(504, "sms_unavailable", "短信服务暂不可用，请稍后重试", f"{e}; try again later") from None


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # SQLite returns naive UTC


def verify_code(
    factory: sessionmaker[Session], key: bytes, cfg: IdentityConfig, account: str, code: str, *, now: datetime | None = None,
) -> IdentityView:
    """Check a one-time code: wrong, expired, used (replayed) or over-tried codes each fail with their reason."""
    now = now or datetime.now(UTC)
    if not isinstance(code, str) or not code.isdigit() or len(code) != 6:
        raise _err(400, "invalid_code", "验证码须为 6 位数字", "the code must be 6 digits")
    with factory() as s, s.begin():
        otp = s.execute(select(OtpCode).where(OtpCode.account == account).order_by(OtpCode.id.desc()).limit(1)
                        .with_for_update()).scalar_one_or_none()
        if otp is None:
            raise _err(400, "no_code", "尚未发送验证码", "no code was sent to this account")
        if otp.used_at is not None:
            raise _err(400, "code_used", "验证码已使用或已失效，请重新获取", "this code was already used or replaced; ask for a new one")
        if now >= _aware(otp.expires_at):
            raise _err(400, "code_expired", "验证码已过期，请重新获取", "the code has expired; ask for a new one")
        if otp.attempts >= cfg.otp_max_attempts:
            raise _err(429, "too_many_attempts", "验证码错误次数过多，请重新获取", "too many wrong codes; ask for a new one")
        if not hmac.compare_digest(otp.code_hash, keyed(key, f"otp:{account}", code)):
            otp.attempts += 1
            wrong = _err(400, "wrong_code", "验证码错误", "wrong code")
        else:
            wrong = None
            # Only one request can flip used_at: a replay racing this one finds no row to update.
            res = s.execute(update(OtpCode).where(OtpCode.id == otp.id, OtpCode.used_at.is_(None)).values(used_at=now))
            if not res.rowcount:
                raise _err(400, "code_used", "验证码已使用", "this code was already used")
            ident = s.get(Identity, account)
            if ident is None:
                raise _err(404, "not_registered", "账号未登记", "the account is not registered")
            ident.mobile_verified = True
            if ident.id_hash is None or ident.id_verified:
                ident.verified_at = now
    if wrong is not None:
        raise wrong
    return view(factory, cfg, account, today=now.date())


def forget(session: Session, account: str) -> int:
    """Delete the account's identity and codes (a deletion request); returns rows removed."""
    n = session.query(OtpCode).filter(OtpCode.account == account).delete()
    n += session.query(Identity).filter(Identity.account == account).delete()
    return int(n)
