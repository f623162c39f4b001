"""Static assets (CSS, JS, icon), served from memory under content-hashed names.

``static_url("catalogue.css")`` gives ``/static/catalogue.<hash>.css``: that URL's bytes never
change, so it is cached for a year (``immutable``); a new release has new hashes. The plain
name answers too, with ``no-cache`` and an ETag, for anyone who links it directly.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str
    cache_control: str


class Assets:
    """Every file of ``static/``, read once, addressable by plain and by hashed name."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self._by_name: dict[str, Asset] = {}
        self._hashed: dict[str, str] = {}
        for path in sorted(directory.iterdir()):
            if not path.is_file():
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media_type.startswith("text/") or media_type.endswith(("javascript", "svg+xml")):
                media_type += "; charset=utf-8"
            etag = f'"{digest}"'
            hashed = f"{path.stem}.{digest}{path.suffix}"
            self._hashed[path.name] = hashed
            self._by_name[path.name] = Asset(body, media_type, etag, REVALIDATE)
            self._by_name[hashed] = Asset(body, media_type, etag, IMMUTABLE)

    def url(self, name: str) -> str:
        """The cache-forever URL of ``name`` (a file of ``static/``)."""
        return f"/static/{self._hashed[name]}"

    def get(self, name: str) -> Asset | None:
        return self._by_name.get(name)
