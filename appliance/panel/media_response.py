"""How the panel hands stored audio to a browser: only ever as audio, and inert.

Media bytes come from central (or an operator's upload) and are served on the panel's own
origin, where a document or a script would run with the operator's session. So a response
carries one of protocol §4.1's audio types (anything else is refused with 415, whatever the
item row says), ``nosniff`` so the browser never guesses another type, ``attachment`` so a
navigation to the URL downloads instead of rendering, and a CSP ``sandbox`` so that even a
rendered response would get an opaque origin with scripts off. ``<audio>`` players ignore all
three and play as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Response, abort, send_file

import protocol

MEDIA_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
_EXTENSIONS = {"audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/opus": "opus", "audio/flac": "flac",
               "audio/x-flac": "flac", "audio/mp4": "m4a", "audio/aac": "aac", "audio/webm": "weba"}
_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


def audio_type_allowed(mime: object) -> bool:
    return isinstance(mime, str) and protocol.media_type_allowed("audio", mime)


def send_audio(path: Path, mime: object, name: str) -> Response:
    """``path`` as an inert audio download named ``name`` (+ extension); 415 for any other type."""
    if not audio_type_allowed(mime):
        abort(415)
    assert isinstance(mime, str)
    stem = _NAME_RE.sub("-", name).strip("-.")[:60] or "audio"
    response = send_file(path, mimetype=mime, conditional=True, max_age=0, as_attachment=True,
                         download_name=f"{stem}.{_EXTENSIONS.get(mime, 'wav')}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
