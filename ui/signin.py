"""The sign-in cookie (team mode): the session token lives in an HttpOnly, SameSite=Strict cookie that only
a server response sets or clears, never in a URL, a Referer, the page's HTML or its JavaScript (issue 19 item 3).

Streamlit 1.67 reads cookies (`st.context.cookies`, from the request that opened the page's WebSocket)
but a script cannot set one: a script's output travels over that WebSocket, not in an HTTP response.
`st.login` sets an HttpOnly cookie from its own routes, but only for OpenID Connect. What Streamlit
does offer is `st.App` (an ASGI app around the script, served by `streamlit run` too) with extra
Starlette routes; serve.py mounts `routes()` there. The hand-over:

1. The sign-in page checks the password in `core` (auth.login: a new random token, only its SHA-256
   stored) and keeps the token here, in this process's memory, under a one-time code that lives
   CODE_S seconds.
2. A tiny component (the one piece of JavaScript) POSTs that code to `/api/session`, same origin;
   the response sets the cookie (HttpOnly, SameSite=Strict, Secure on HTTPS) and the page reloads at
   the same URL, so a deep link lands where it pointed. The code is useless once spent or expired,
   and it never appears in a URL either.
3. Every run of app.py reads the token from the cookie; Sign out ends the session in the store at
   once (every tab, core refuses its actor) and a DELETE to the same route clears the cookie.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time

import streamlit as st

COOKIE = "sieve_session"
CODE_S = 60.0  # a one-time code is spent within a second; a minute allows for a slow browser
ROUTE = "api/session"

_codes: dict[str, tuple[str, float]] = {}  # SHA-256 of a one-time code -> (session token, expiry)
_lock = threading.Lock()
_mounted = False  # whether this process serves `routes()` (serve.py); plain `streamlit run app.py` does not


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _base() -> str:
    from streamlit import config

    return (config.get_option("server.baseUrlPath") or "").strip("/")


def route_path() -> str:
    base = _base()
    return f"/{base}/{ROUTE}" if base else f"/{ROUTE}"


def offer(token: str, now: float | None = None) -> str:
    """A one-time code that the route exchanges for a cookie holding `token`."""
    t = time.monotonic() if now is None else now
    code = secrets.token_urlsafe(32)
    with _lock:
        for key in [k for k, (_, expires) in _codes.items() if expires <= t]:
            del _codes[key]
        _codes[_hash(code)] = (token, t + CODE_S)
    return code


def redeem(code: str, now: float | None = None) -> str | None:
    """The token a code was offered for, once; None for an unknown, spent or expired code."""
    t = time.monotonic() if now is None else now
    with _lock:
        token, expires = _codes.pop(_hash(code or ""), (None, 0.0))
    return token if token is not None and t < expires else None


def mounted() -> bool:
    return _mounted


def token() -> str | None:
    """The session token from the cookie the browser sent when this page opened."""
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) and value else None  # (AppTest has no real cookies)


# ---------------------------------------------------------------- the route (Starlette, served by serve.py)


def _same_origin(request) -> bool:
    """Only this app's own pages may set or clear the cookie: no login CSRF from another site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    return origin is not None and origin.split("://", 1)[-1] == request.headers.get("host")


def _secure(request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


async def _session(request):
    from starlette.responses import Response

    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    if not _same_origin(request) or request.headers.get("content-type") != "application/json":
        return Response(status_code=403, headers=headers)
    response = Response(status_code=204, headers=headers)
    path = "/" + _base()
    if request.method == "DELETE":
        response.delete_cookie(COOKIE, path=path, secure=_secure(request), httponly=True, samesite="strict")
        return response
    try:
        code = json.loads(await request.body()).get("code")
    except (ValueError, AttributeError):
        code = None
    session_token = redeem(code) if isinstance(code, str) else None
    if session_token is None:
        return Response(status_code=403, headers=headers)
    # A browser-session cookie (no Max-Age): the store's expiry (auth.SESSION_S) is the one that counts.
    response.set_cookie(COOKIE, session_token, path=path, secure=_secure(request), httponly=True, samesite="strict")
    return response


def routes() -> list:
    """The Starlette route serve.py adds to Streamlit's own."""
    global _mounted
    from starlette.routing import Route

    _mounted = True
    return [Route(route_path(), _session, methods=["POST", "DELETE"])]


# ---------------------------------------------------------------- the component (the browser side)

_JS = """
export default function ({ data }) {
    if (!data || window.__sieveHandover === data.nonce) return;
    window.__sieveHandover = data.nonce;
    fetch(data.url, { method: data.method, credentials: "same-origin", cache: "no-store",
                      referrerPolicy: "no-referrer", headers: { "Content-Type": "application/json" },
                      body: data.method === "POST" ? JSON.stringify({ code: data.code }) : undefined })
        .finally(() => window.location.reload());
}
"""
_component = None


def _send(method: str, code: str | None = None) -> None:
    global _component
    if _component is None:
        _component = st.components.v2.component("sieve_session_cookie", js=_JS)
    _component(data={"url": route_path(), "method": method, "code": code, "nonce": secrets.token_hex(8)},
               key=f"sieve_session_{method}")


def hand_over(session_token: str) -> None:
    """After a successful sign-in: set the cookie through the route, then reload this same URL.
    Ends the script run (nothing else is drawn while the page reloads)."""
    if not mounted():
        st.error("Signing in needs Sieve's server: start Sieve with `sieve run` (or `streamlit run serve.py`), "
                 "not `streamlit run app.py`.")
        st.stop()
    st.caption("Signing in…")
    _send("POST", offer(session_token))
    st.stop()


def clear() -> None:
    """After Sign out (the session has already ended in the store): clear the cookie, then reload."""
    if not mounted():
        st.rerun()
    _send("DELETE")
    st.stop()
