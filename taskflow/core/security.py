"""Security headers on every response, and the proxy settings that make request data trustworthy.

Content-Security-Policy allows nothing inline: no <script> blocks, no on*= handlers, no
javascript: links and no style="..." attributes. Pages load their scripts and styles from files
under /static or /assets (node_modules), which is also what the intranet (no CDN) needs.
"""

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

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
    hsts = current_app.config.get("HSTS_SECONDS", 0)
    if hsts and request.is_secure:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts}")
    return response


def init_app(app: Flask) -> None:
    """Register the header hook; trust X-Forwarded-* from PROXY_COUNT reverse proxies."""
    app.after_request(apply_security_headers)
    proxies = int(app.config.get("PROXY_COUNT", 0) or 0)
    if proxies > 0:
        # Behind nginx: the client's address (sign-in throttling, logs) and https scheme.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies,
                                x_prefix=proxies)
