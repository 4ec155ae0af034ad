"""Console plumbing: templates, sessions from cookies, role checks, CSRF, security headers.

Every page handler is wrapped by `page(role)` which signs the request in (or redirects to the login
page), refuses a role below ``role`` with 403, and for POST reads the form and checks its CSRF token
against the session's before the handler runs. Handlers therefore cannot forget either check.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hegui.console.accounts import ROLES, SessionInfo, session_for
from hegui.console.config import ConsoleConfig, CookieSecure
from hegui.console.i18n import HTML_LANG, pick_lang, translate, translate_or

log = logging.getLogger("hegui.console")

PREFIX = "/console"
COOKIE = "hegui_console"
PRE_COOKIE = "hegui_console_pre"  # login-form CSRF (double submit) before a session exists
LANG_COOKIE = "hegui_lang"
MAX_FORM_BYTES = 256 * 1024

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send Origin: null on POSTs
    "Cache-Control": "no-store",
}


class Problem(Exception):
    """Ends a request with an error page: ``key`` names the message in the catalogue."""

    def __init__(self, status: int, key: str, detail: str = "") -> None:
        super().__init__(key)
        self.status, self.key, self.detail = status, key, detail


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hegui.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dt"] = lambda v: "–" if v is None else v.strftime("%Y-%m-%d %H:%M:%S")
    env.filters["date"] = lambda v: "–" if v is None else v.strftime("%Y-%m-%d")
    return env


def console_config(request: Request) -> ConsoleConfig:
    return request.app.state.hegui.settings.console  # type: ignore[no-any-return]


def lang_of(request: Request) -> str:
    return pick_lang(request.cookies.get(LANG_COOKIE))


@dataclass
class Ctx:
    """What a page handler gets: the request, the gateway state, the signed-in session, the form."""

    request: Request
    state: Any
    session: SessionInfo | None
    lang: str
    form: dict[str, str] = field(default_factory=dict)

    @property
    def account(self) -> Any:
        assert self.session is not None
        return self.session.account

    def t(self, key: str, **fmt: object) -> str:
        return translate(key, self.lang, **fmt)

    def can(self, role: str) -> bool:
        return self.session is not None and self.session.account.can(role)

    def require(self, role: str) -> None:
        if not self.can(role):
            raise Problem(403, "forbidden.text")

    def render(self, template: str, status: int = 200, **data: Any) -> HTMLResponse:
        return render(self.request, template, self.lang, self.session, status=status, **data)


def render(request: Request, template: str, lang: str, session: SessionInfo | None, *, status: int = 200,
           **data: Any) -> HTMLResponse:
    tpl = _env().get_template(template)
    # Before sign-in the forms (login, language) carry the login form's token, which may be new.
    csrf = session.csrf if session else data.pop("login_csrf", None) or request.cookies.get(PRE_COOKIE, "")
    body = tpl.render(
        _=lambda key, **fmt: translate(key, lang, **fmt), _or=lambda key, default: translate_or(key, lang, default),
        lang=lang, html_lang=HTML_LANG[lang], session=session,
        csrf=csrf, path=request.url.path,
        can=lambda role: session is not None and session.account.can(role), roles=ROLES, prefix=PREFIX, **data,
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, lang: str, session: SessionInfo | None, p: Problem) -> HTMLResponse:
    title = {403: "forbidden", 404: "not_found"}.get(p.status, "bad_input")
    return render(request, "error.html.j2", lang, session, status=p.status, title_key=title, message_key=p.key,
                  detail=p.detail)


def cookie_secure(request: Request, config: ConsoleConfig) -> bool:
    if config.cookie_secure is CookieSecure.ALWAYS:
        return True
    return config.cookie_secure is CookieSecure.AUTO and request.url.scheme == "https"


def set_cookie(resp: Response, request: Request, name: str, value: str, *, max_age: int | None = None,
               http_only: bool = True) -> None:
    resp.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=http_only, samesite="strict",
                    secure=cookie_secure(request, console_config(request)))


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def safe_next(value: str | None) -> str:
    """A redirect target inside the console only (no open redirect)."""
    if not value:
        return f"{PREFIX}/overview"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX) or "\\" in value:
        return f"{PREFIX}/overview"
    return value


def same_origin(request: Request) -> bool:
    """Reject a cross-site POST when the browser says where it came from (defence in depth)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    o = urlsplit(origin)
    return o.netloc == request.headers.get("host", "")


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    if not body:
        return {}
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype != "application/x-www-form-urlencoded":
        raise Problem(400, "bad_input", "form encoding")
    if len(body) > MAX_FORM_BYTES:
        raise Problem(413, "bad_input", "form too large")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200))
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "bad_input", "form") from None


async def current_session(request: Request) -> SessionInfo | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    st = request.app.state.hegui
    return await run_in_threadpool(session_for, st.factory, token, st.settings.console)


Handler = Callable[[Ctx], Awaitable[Response]]


def page(role: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: sign-in, role ``role`` at least, CSRF on POST, errors as pages."""
    if role not in ROLES:
        raise ValueError(role)

    def deco(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            lang = lang_of(request)
            session: SessionInfo | None = None
            try:
                session = await current_session(request)
                if session is None:
                    if request.method == "GET":
                        return redirect(f"{PREFIX}/login?next={quote(request.url.path)}")
                    raise Problem(401, "forbidden.text")
                ctx = Ctx(request, request.app.state.hegui, session, lang)
                ctx.require(role)
                if request.method == "POST":
                    ctx.form = await read_form(request)
                    sent = ctx.form.get("csrf", "")
                    if not same_origin(request) or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                        raise Problem(403, "csrf")
                return await fn(ctx)
            except Problem as p:
                return error_page(request, lang, session, p)

        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        return endpoint

    return deco
