"""HTTP helpers shared by downloads."""

from urllib.parse import quote


def attachment_headers(filename: str, *, inline: bool = False) -> dict[str, str]:
    """Content-Disposition for any file name, Chinese included (RFC 6266 / RFC 5987)."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = ascii_name.replace('"', "_").replace("\\", "_")
    disposition = "inline" if inline else "attachment"
    return {
        "Content-Disposition": (
            f'{disposition}; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(filename, safe="")}'
        )
    }
