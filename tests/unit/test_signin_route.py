"""The sign-in cookie route (ui/signin.py, issue 19 item 3): a one-time code buys one HttpOnly, SameSite=Strict
cookie, only from this app's own origin; codes are spent once and expire."""
import asyncio
import concurrent.futures
import json

from starlette.requests import Request

from ui import signin

HOST = "127.0.0.1:8501"


def call(method: str, body: dict | None = None, origin: str | None = f"http://{HOST}", site: str | None = "same-origin",
         content_type: str = "application/json", scheme: str = "http"):
    headers = [(b"host", HOST.encode()), (b"content-type", content_type.encode())]
    headers += [(b"origin", origin.encode())] if origin else []
    headers += [(b"sec-fetch-site", site.encode())] if site else []
    payload = json.dumps(body).encode() if body is not None else b""

    async def receive():
        return {"type": "http.request", "body": payload, "more_body": False}

    scope = {"type": "http", "method": method, "path": signin.route_path(), "headers": headers, "query_string": b"",
             "scheme": scheme, "server": ("127.0.0.1", 8501)}
    # In a thread of its own: in the full suite the browser tests' Playwright loop may be running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, signin._session(Request(scope, receive))).result()


def cookies(response) -> list[str]:
    return [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]


def test_a_code_buys_one_httponly_strict_cookie_once():
    code = signin.offer("the-token")
    response = call("POST", {"code": code})
    assert response.status_code == 204
    [cookie] = cookies(response)
    assert cookie.startswith(f"{signin.COOKIE}=the-token;")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert response.headers["cache-control"] == "no-store"
    assert call("POST", {"code": code}).status_code == 403  # spent
    assert cookies(call("POST", {"code": "made-up"})) == []


def test_over_https_the_cookie_is_secure():
    response = call("POST", {"code": signin.offer("t")}, origin=f"https://{HOST}", scheme="https")
    assert "Secure" in cookies(response)[0]


def test_codes_expire():
    code = signin.offer("t", now=0.0)
    assert signin.redeem(code, now=signin.CODE_S + 1) is None


def test_other_origins_can_neither_set_nor_clear_it():
    """No login CSRF: another site cannot sign a browser into someone's account (or out)."""
    for kwargs in ({"origin": "https://evil.example"}, {"origin": None}, {"site": "cross-site"},
                   {"content_type": "text/plain"}):
        code = signin.offer("t")
        response = call("POST", {"code": code}, **kwargs)
        assert response.status_code == 403 and not cookies(response), kwargs
        assert call("DELETE", **kwargs).status_code == 403
    assert signin.redeem(code) == "t"  # a refused request does not spend the code


def test_delete_clears_the_cookie():
    [cookie] = cookies(call("DELETE"))
    assert cookie.startswith(f'{signin.COOKIE}="";') and "Max-Age=0" in cookie and "HttpOnly" in cookie
