"""Security headers on every response, and the proxy settings that make request data trustworthy;
the session signing key; the Origin check on state-changing requests; Secure cookies over HTTPS.

Content-Security-Policy allows nothing inline: no <script> blocks, no on*= handlers, no
javascript: links and no style="..." attributes. Pages load their scripts and styles from files
under /static or /assets (node_modules), which is also what the intranet (no CDN) needs.
"""

import logging
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger("taskflow.security")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)

# An evidence file served inline (a PDF's bytes for pdf.js, an image): even if a browser were
# made to render it as a document, it runs nothing, loads nothing, and is in an opaque origin.
INLINE_FILE_POLICY = "; ".join(
    (
        "sandbox",
        "default-src 'none'",
        "img-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)

# The pdf.js viewer page: the page's scripts, pdf.js and its worker from this site (no eval, no
# inline script), the PDF's bytes and CMaps fetched from this site, fonts pdf.js builds as data.
PDF_VIEWER_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "worker-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)


def content_security_policy(policy: str):
    """A view decorator: this route's responses carry `policy` instead of the site-wide CSP
    (apply_security_headers keeps a Content-Security-Policy the view has set)."""
    from functools import wraps

    from flask import make_response

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            response = make_response(view(*args, **kwargs))
            response.headers["Content-Security-Policy"] = policy
            return response

        return wrapper

    return decorate


PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "midi", "payment", "usb", "browsing-topics",
    )
)

# Set on every response (an endpoint may override one by setting it first).
STATIC_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_STATIC_HEADER_ITEMS = tuple(STATIC_HEADERS.items())

# Public, versioned files that browsers may cache: served before and after sign-in alike.
CACHEABLE_ENDPOINTS = frozenset({"static", "core.asset"})


def same_site_path(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirect after sign-in).

    Browsers drop tabs and line breaks from a URL and read a backslash as a slash, so
    "/\t/evil.example" and "/\\evil.example" would leave the site: any control character or
    backslash refuses the target, and what remains must parse with no scheme and no host."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _is_authenticated() -> bool:
    try:
        return bool(current_user and current_user.is_authenticated)
    except Exception:  # noqa: BLE001 - no user loader / no request user: treat as anonymous
        return False


def apply_security_headers(response: Response) -> Response:
    """after_request hook: the headers above, no-store for private pages, HSTS over HTTPS."""
    headers = response.headers
    # One pass over the response's few headers, instead of a scan per setdefault().
    present = {name.lower() for name in headers.keys()}
    headers.extend([(name, value) for name, value in _STATIC_HEADER_ITEMS
                    if name.lower() not in present])
    if request.endpoint not in CACHEABLE_ENDPOINTS and (
        response.mimetype == "text/html" or _is_authenticated()
    ):
        # Pages and downloads of a signed-in user must never be kept by the browser or a proxy
        # (a shared office PC, the back button after sign-out). The sign-in page carries a CSRF
        # token, so no HTML is cached at all.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
        if "vary" not in present:
            headers["Vary"] = "Cookie"
    hsts = current_app.config["HSTS_SECONDS"]
    if hsts and request.is_secure:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts}")
    return response


def init_app(app: Flask) -> None:
    """Register the header hook and the Origin check (first of all before_request hooks, so a
    cross-site request touches nothing); trust X-Forwarded-* from PROXY_COUNT reverse proxies."""
    app.after_request(apply_security_headers)
    app.before_request_funcs.setdefault(None, []).insert(0, check_origin)
    proxies = int(app.config["PROXY_COUNT"])
    if proxies > 0:
        # Behind nginx: the client's address (sign-in throttling, logs) and https scheme.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies,
                                x_prefix=proxies)


# ---------------------------------------------------------------- the session signing key

SECRET_KEY_FILE = "secret_key"
MIN_SECRET_KEY_LENGTH = 32
# Keys that were ever written in this repository, its docs or its tests, and the usual
# placeholders: anyone can sign a session with them, so no app serves with one.
PUBLISHED_SECRET_KEYS = frozenset({
    "dev-only-secret-change-me", "testing-secret", "production-test-secret",
    "benchmark-only-secret", "change-me", "changeme", "secret", "dev", "development",
    "your-secret-key", "secret-key", "please-change-me",
})


class InsecureSecretKey(RuntimeError):
    """The configured SECRET_KEY is published, too short, or its file is readable by others."""


def published_key_reason(key: str | bytes | None) -> str | None:
    """Why `key` must not sign sessions (empty, short, published), or None when it may."""
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    key = (key or "").strip()
    if not key:
        return "it is empty"
    if key.lower() in PUBLISHED_SECRET_KEYS:
        return "it is a published value"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"it is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    return None


def instance_secret_key(instance_dir: str | Path) -> str:
    """The key kept in INSTANCE_DIR/secret_key, generated (mode 600) on first use.

    Every process over the folder (`flask db upgrade`, `flask demo setup`, the gunicorn workers,
    the scheduler) reads the same file. The new key is written to a private temporary file and
    published by a hard link, which fails if another process published first: a reader never
    sees a half-written key, and two first runs agree on one key."""
    folder = Path(instance_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SECRET_KEY_FILE
    if not path.exists():
        temporary = folder / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)
                log.warning("generated a new session signing key in %s", path)
            except FileExistsError:
                pass  # another process published its key first: use that one
        finally:
            temporary.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InsecureSecretKey(
            f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")
    key = path.read_text(encoding="utf-8").strip()
    reason = published_key_reason(key)
    if reason:
        raise InsecureSecretKey(f"the key in {path} cannot be used: {reason}; delete the file "
                                "to generate a new one")
    return key


def configure_secret_key(app: Flask) -> None:
    """Set app.secret_key (TASKFLOW_SECRET_KEY wins over the instance file) and refuse to serve
    with a published, empty or short key, except under TESTING."""
    key = app.config["SECRET_KEY"]
    if not key and app.config["SECRET_KEY_FROM_INSTANCE"]:
        key = app.config["SECRET_KEY"] = instance_secret_key(app.config["INSTANCE_DIR"])
    if app.config["TESTING"]:
        if not key:
            raise InsecureSecretKey("TASKFLOW_SECRET_KEY must be set")
        return
    reason = published_key_reason(key)
    if reason == "it is empty":
        raise InsecureSecretKey("TASKFLOW_SECRET_KEY must be set (python3 -c \"import secrets; "
                                "print(secrets.token_hex(32))\")")
    if reason:
        raise InsecureSecretKey(f"refusing to start: SECRET_KEY cannot be used because {reason}; "
                                "set TASKFLOW_SECRET_KEY to a random value of at least "
                                f"{MIN_SECRET_KEY_LENGTH} characters")


# ---------------------------------------------------------------- Origin check

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_of(url: str | None) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL, or None when it has none."""
    try:
        parts = urlsplit(url or "")
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number, an unbalanced [ ]
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port


def allowed_origins() -> set[tuple[str, str, int]]:
    """The request's own origin (scheme and host as seen after ProxyFix) and BASE_URL's."""
    allowed = {origin for origin in (_origin_of(request.host_url),
                                     _origin_of(current_app.config["BASE_URL"]))
               if origin is not None}
    return allowed


def check_origin():
    """before_request: refuse a state-changing request sent from another site.

    The browser names the page a form came from in Origin (or, lacking it, Referer). When one
    is present and its scheme, host and port differ from this site's, the request is refused
    before anything else runs. Requests with neither header (older clients, scripts) pass on
    to the CSRF token check as before."""
    if request.method not in UNSAFE_METHODS:
        return None
    header, value = "Origin", request.headers.get("Origin")
    if not value:
        header, value = "Referer", request.headers.get("Referer")
    if not value:
        return None
    # "Origin: null" (a sandboxed frame, a page opened from a file) is not this site either.
    if _origin_of(value) in allowed_origins():
        return None
    log.warning("refused cross-site %s %s: %s %r, host %r, from %s", request.method,
                request.path, header, value[:200], request.host, request.remote_addr)
    return Response(_("This request came from another site and was refused. Nothing was saved."),
                    status=403, mimetype="text/plain")


# ---------------------------------------------------------------- Secure cookies over HTTPS


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, whose cookie is Secure whenever the request came over HTTPS
    (request.is_secure, after ProxyFix), even when SESSION_COOKIE_SECURE is off."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """SESSION_COOKIE_SECURE, or True for an HTTPS request."""
        if super().get_cookie_secure(app):
            return True
        return has_request_context() and request.is_secure


def secure_cookies_over_https(response: Response) -> Response:
    """after_request: add Secure to every other cookie (Flask-Login's remember cookie, the
    language cookie) set on an HTTPS response. Registered before Flask-Login's own hook, so it
    runs after it (Flask runs after_request hooks in reverse order)."""
    if not request.is_secure:
        return response
    cookies = response.headers.getlist("Set-Cookie")
    if not cookies:
        return response
    fixed = [cookie if any(part.strip().lower() == "secure" for part in cookie.split(";"))
             else f"{cookie}; Secure" for cookie in cookies]
    if fixed != cookies:
        del response.headers["Set-Cookie"]
        for cookie in fixed:
            response.headers.add("Set-Cookie", cookie)
    return response


def init_cookies(app: Flask) -> None:
    """The HTTPS-aware session interface and the Secure-cookie hook; call before
    login_manager.init_app (see secure_cookies_over_https)."""
    app.session_interface = HttpsAwareSessionInterface()
    app.after_request(secure_cookies_over_https)
