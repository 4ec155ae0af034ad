"""Console security through HTTP (real app, real store): sign-in, roles, CSRF, XSS, cookies, lock-out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import ADMIN_KEY, PASSWORD, add_accounts, csrf_of, make_settings

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'

GET_PAGES = ["/console/overview", "/console/audit", "/console/reports", "/console/policy", "/console/complaints",
             "/console/users", "/console/blocklist", "/console/blocklist/export", "/console/reports/view?path=a.html",
             "/console/complaints/C1"]
# (path, least role allowed)
POSTS = [("/console/logout", "viewer"), ("/console/audit/verify", "viewer"), ("/console/policy/texts", "admin"),
         ("/console/complaints/C1/assign", "reviewer"), ("/console/complaints/C1/decision", "reviewer"),
         ("/console/complaints/C1/reply", "reviewer"), ("/console/complaints/C1/close", "reviewer"),
         ("/console/users/" + "0" * 32 + "/sanction", "reviewer"), ("/console/blocklist/add", "reviewer"),
         ("/console/blocklist/1/remove", "reviewer"), ("/console/tickets/1/done", "reviewer")]
ADMIN_ROUTES = ["/admin/v1/keys", "/admin/v1/audit/verify", "/admin/v1/audit/search", "/admin/v1/audit/stats", "/admin/v1/complaints", "/admin/v1/tickets"]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from hegui.gateway.app import create_app

    a = create_app(make_settings(tmp_path_factory.mktemp("console") / "var", None))
    add_accounts(a.state.hegui)
    yield a


def login(app: Any, user: str, *, https: bool = False, password: str = PASSWORD) -> TestClient:
    c = TestClient(app, base_url="https://testserver" if https else "http://testserver")
    tok = csrf_of(c.get("/console/login").text)
    r = c.post("/console/login", data={"username": user, "password": password, "csrf": tok}, follow_redirects=False)
    assert r.status_code == 303, r.text[-500:]
    return c


def test_anonymous_is_refused_everywhere(app: Any) -> None:
    c = TestClient(app)
    for path in GET_PAGES:
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login"), path
    for path, _ in POSTS:
        assert c.post(path, data={"csrf": "x"}, follow_redirects=False).status_code == 401, path
    for path in ADMIN_ROUTES:
        assert c.get(path).status_code == 401, path
    # A console session is no admin key: the REST API still wants one.
    s = login(app, "ada")
    for method, path in _all_routes(app, "/admin/v1"):
        assert s.request(method, path).status_code == 401, (method, path)
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert s.get("/admin/v1/keys", headers=auth).status_code == 200
    # The admin API answers the same audit queries as the console.
    assert s.get("/admin/v1/audit/search", params={"risk": "pii", "limit": "5"}, headers=auth).status_code == 200
    assert s.get("/admin/v1/audit/search", params={"from": "yesterday"}, headers=auth).status_code == 400
    assert len(s.get("/admin/v1/audit/stats", params={"days": "7"}, headers=auth).json()["days"]) == 7


def _all_routes(app: Any, prefix: str) -> list[tuple[str, str]]:
    """Every (method, path) the app serves under ``prefix``, path parameters filled with dummies."""
    out: list[tuple[str, str]] = []

    def walk(routes: list[Any], base: str) -> None:
        for r in routes:
            inner = getattr(r, "original_router", None)  # FastAPI ≥ 0.16x keeps included routers nested
            if inner is not None:
                walk(inner.routes, base + getattr(getattr(r, "include_context", None), "prefix", ""))
                continue
            path = base + getattr(r, "path", "")
            if path.startswith(prefix):
                concrete = re.sub(r"\{[^}]+\}", "1", path)
                out.extend((m, concrete) for m in sorted(getattr(r, "methods", ()) or ()) if m not in ("HEAD", "OPTIONS"))

    walk(app.routes, "")
    return out


def test_every_admin_and_console_route_refuses_anonymous(app: Any) -> None:
    c = TestClient(app)
    public = {"/console", "/console/", "/console/login", "/console/lang", "/console/static/1"}
    admin_routes = _all_routes(app, "/admin/v1")
    console_routes = _all_routes(app, "/console")
    assert len(admin_routes) >= 10 and len(console_routes) >= 15
    for method, path in admin_routes:
        assert c.request(method, path).status_code == 401, (method, path)
    for method, path in console_routes:
        if path in public:
            continue
        r = c.request(method, path, follow_redirects=False)
        expected = 303 if method == "GET" else 401
        assert r.status_code == expected, (method, path, r.status_code)
        assert "hegui_console=" not in r.headers.get("set-cookie", "")


@pytest.mark.parametrize("user,role", [("vic", "viewer"), ("rita", "reviewer")])
def test_under_privileged_roles_are_refused(app: Any, user: str, role: str) -> None:
    from hegui.console.accounts import can_role

    c = login(app, user)
    tok = csrf_of(c.get("/console/overview").text)
    for path, need in POSTS:
        if path == "/console/logout":
            continue
        r = c.post(path, data={"csrf": tok}, follow_redirects=False)
        if can_role(role, need):
            assert r.status_code != 403, (path, r.text[-300:])
        else:
            assert r.status_code == 403, path
    # Every console POST outside the ones a viewer may use is refused to a viewer.
    if role == "viewer":
        for method, path in _all_routes(app, "/console"):
            if method == "POST" and path not in ("/console/login", "/console/lang", "/console/logout",
                                                 "/console/audit/verify"):
                assert c.post(path, data={"csrf": tok}).status_code == 403, path
    # Termination needs an admin even for a reviewer.
    acc = "0" * 32
    r = c.post(f"/console/users/{acc}/sanction", data={"csrf": tok, "action": "terminate", "reason": "x"})
    assert r.status_code == 403


def test_every_state_changing_form_needs_the_csrf_token(app: Any) -> None:
    c = login(app, "ada")
    page = c.get("/console/overview").text
    for path, _ in POSTS:
        for data in ({}, {"csrf": "forged"}):
            r = c.post(path, data=data, follow_redirects=False)
            assert r.status_code == 403, (path, data)
    # Every form in every page carries the token.
    for path in GET_PAGES[:7]:
        html = c.get(path).text
        for form in re.findall(r'<form method="post".*?</form>', html, flags=re.S):
            assert 'name="csrf"' in form, (path, form[:200])
    # A cross-site origin is refused even with the right token.
    tok = csrf_of(page)
    r = c.post("/console/audit/verify", data={"csrf": tok}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert c.post("/console/audit/verify", data={"csrf": tok}).status_code == 200
    # The login form too: no pre-session cookie/token, no login.
    fresh = TestClient(app)
    r = fresh.post("/console/login", data={"username": "ada", "password": PASSWORD, "csrf": "x"}, follow_redirects=False)
    assert r.status_code == 403 and "hegui_console=" not in r.headers.get("set-cookie", "")


def test_language_switch_before_sign_in(app: Any) -> None:
    c = TestClient(app)
    page = c.get("/console/login")
    assert '<html lang="zh-CN">' in page.text
    r = c.post("/console/lang", data={"csrf": csrf_of(page.text), "lang": "en", "next": "/console/login"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert '<html lang="en">' in c.get("/console/login").text and "Sign in" in c.get("/console/login").text


def test_cookies_are_httponly_samesite_and_secure_behind_tls(app: Any) -> None:
    for https in (False, True):
        c = TestClient(app, base_url="https://testserver" if https else "http://testserver")
        tok = csrf_of(c.get("/console/login").text)
        r = c.post("/console/login", data={"username": "ada", "password": PASSWORD, "csrf": tok}, follow_redirects=False)
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("hegui_console="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert ("Secure" in cookie) is https
    r = TestClient(app).get("/console/login")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


def test_lockout_and_no_user_enumeration(app: Any) -> None:
    from hegui.console.accounts import create_account

    create_account(app.state.hegui.factory, "lock.me", PASSWORD, "viewer")
    c = TestClient(app)
    msgs = []
    for user in ("lock.me", "lock.me", "nobody"):
        tok = csrf_of(c.get("/console/login").text)
        r = c.post("/console/login", data={"username": user, "password": "wrong-password-x", "csrf": tok})
        assert r.status_code == 401
        msgs.append(re.search(r'role="alert">([^<]+)', r.text).group(1))  # type: ignore[union-attr]
    assert msgs[0] == msgs[2]  # unknown user and wrong password read the same
    tok = csrf_of(c.get("/console/login").text)
    c.post("/console/login", data={"username": "lock.me", "password": "wrong-password-x", "csrf": tok})
    tok = csrf_of(c.get("/console/login").text)
    r = c.post("/console/login", data={"username": "lock.me", "password": PASSWORD, "csrf": tok})
    assert r.status_code == 401 and "锁定" in r.text  # locked: the right password is refused too
    # Sign-ins and refusals are on the audit chain, without the typed names.
    from hegui.audit import verify
    from hegui.audit.search import AuditQuery, search

    st = app.state.hegui
    rows = search(st.factory, st.key, AuditQuery(kind="console", limit=500))
    actions = [r.action for r in rows]
    assert "login_failed" in actions and "login_locked" in actions and "login" in actions
    assert not any("nobody" in r.detail or "lock.me" in r.detail for r in rows)
    assert verify(st.factory, st.key).ok


def test_no_reflected_or_stored_xss(app: Any, tmp_path: Path) -> None:
    from hegui.audit import AuditEntry, append
    from hegui.console.accounts import AccountError, create_account

    st = app.state.hegui
    # Stored: a script in audit content, model and risk fields.
    append(st.factory, st.key, [AuditEntry(request_id="xss-1", kind="input", user_pseudo=XSS[:60], route="/v1/x",
                                           model=XSS, action="block", status=200, latency_ms=1, risks=[XSS[:30]],
                                           content=XSS, detail=XSS)], keep_content=True)
    # User names cannot carry markup at all.
    with pytest.raises(AccountError):
        create_account(st.factory, XSS, PASSWORD, "viewer")
    c = login(app, "ada")
    pages = [c.get("/console/audit?request_id=xss-1"), c.get("/console/overview"),
             c.get("/console/audit", params={"user": XSS, "risk": XSS, "request_id": XSS}),  # reflected
             c.get("/console/users", params={"q": XSS}), c.get("/console/login", params={"next": XSS}),
             c.get("/console/complaints/" + "%3Cscript%3E")]
    for r in pages:
        assert "<script>alert" not in r.text and "<img src=x" not in r.text, r.url
    assert "&lt;script&gt;alert" in pages[0].text  # shown, escaped
    _complaint_xss(app, c)


def _complaint_xss(app: Any, c: TestClient) -> None:
    st = app.state.hegui
    if getattr(st, "services", None) is None:
        return
    from hegui.complaints import service as complaints

    out = complaints.submit(st.factory, st.key, st.settings.complaints,
                            {"type": "illegal_content", "description": XSS, "content": XSS + "这是一段违法的生成内容示例",
                             "contact": XSS}, account=None)
    for path in ("/console/complaints", f"/console/complaints/{out['ref']}", "/console/overview"):
        r = c.get(path)
        assert r.status_code == 200 and "<script>alert" not in r.text and "<img src=x" not in r.text, path


def test_open_redirect_and_report_traversal_are_refused(app: Any) -> None:
    c = login(app, "vic")
    st = app.state.hegui
    root = Path(st.settings.var_dir) / "reports"
    (root / "scan").mkdir(parents=True, exist_ok=True)
    (root / "scan" / "report.html").write_text("<html><body><h1>扫描报告</h1></body></html>", encoding="utf-8")
    (Path(st.settings.var_dir) / "secret.html").write_text("secret", encoding="utf-8")
    listing = c.get("/console/reports").text
    assert "scan/report.html" in listing
    r = c.get("/console/reports/view", params={"path": "scan/report.html"})
    assert r.status_code == 200 and "扫描报告" in r.text and "sandbox" in r.headers["content-security-policy"]
    for bad in ("../secret.html", "/etc/passwd", "scan/../../secret.html", "..%2Fsecret.html"):
        assert c.get("/console/reports/view", params={"path": bad}).status_code == 404, bad
    tok = csrf_of(c.get("/console/overview").text)
    r = c.post("/console/lang", data={"csrf": tok, "lang": "en", "next": "https://evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/console/overview"
