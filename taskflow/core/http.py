"""HTTP helpers shared by downloads."""

from urllib.parse import quote


# The longest file name a download offers, in characters (the extension kept). Long enough for
# any real title; a 1 MB title saved before titles were capped made a 9 MB header that servers
# and browsers refuse (issue 12, A.7). Most file systems allow 255 bytes, i.e. ~85 Chinese
# characters in UTF-8, so this also leaves a name the user can save.
MAX_FILENAME_CHARS = 80


def safe_filename(filename: str, limit: int = MAX_FILENAME_CHARS) -> str:
    """The name cut to `limit` characters, keeping its extension; line breaks become spaces."""
    name = " ".join((filename or "").split()) or "download"
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > 10:
        return name[: limit - 1] + "…"
    return stem[: limit - len(extension) - 2] + "…." + extension


def attachment_headers(filename: str, *, inline: bool = False) -> dict[str, str]:
    """Content-Disposition for any file name, Chinese included (RFC 6266 / RFC 5987), with the
    name cut to MAX_FILENAME_CHARS so that any stored title still downloads."""
    filename = safe_filename(filename)
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = ascii_name.replace('"', "_").replace("\\", "_")
    disposition = "inline" if inline else "attachment"
    return {
        "Content-Disposition": (
            f'{disposition}; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(filename, safe="")}'
        )
    }
