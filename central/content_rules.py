"""What central refuses to publish, as pure functions over plain data.

The catalog calls them before it stores media or an item draft, and any other storage layer
must call them too, so no path (CLI, API, demo, a future editor UI) can create what a device
would refuse, or what would be dangerous to serve back: the media-type rule of protocol §4.1
(only listed audio types) and "the media object of an audio item is the uploaded file's".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import protocol
from protocol.errors import ValidationError


def check_media_type(kind: str, mime: Any) -> str:
    """``mime`` if an item of ``kind`` may carry it (protocol §4.1); ValidationError otherwise."""
    if not isinstance(mime, str) or not protocol.MIME_RE.fullmatch(mime) \
            or not protocol.media_type_allowed(kind, mime):
        allowed = ", ".join(protocol.AUDIO_MEDIA_TYPES if kind == "audio" else protocol.STREAM_MEDIA_TYPES)
        shown = str(mime)[:80]
        noun_vi, noun_en = ("tệp âm thanh", "audio file") if kind == "audio" else ("luồng tiếp sóng", "stream")
        raise ValidationError(
            f"Không nhận {noun_vi} có kiểu {shown!r}; chỉ nhận: {allowed}.",
            f"Refused {noun_en} of type {shown!r}; allowed types: {allowed}.")
    return mime


def check_audio_media(media: Mapping[str, Any], stored: tuple[int, str] | None) -> None:
    """The media object of an ``audio`` item must be an uploaded file's, exactly: its path,
    size and type. ``stored`` is that file's (bytes, mime), or None when it was never uploaded.

    Why: a device fetches ``url`` and stops at ``bytes`` (a wrong size makes it refuse the item),
    and serves the bytes back with ``mime``: a type changed on the item would turn an uploaded
    "audio" file into a document on the station's panel.
    """
    sha = media.get("sha256")
    check_media_type("audio", media.get("mime"))
    if stored is None:
        raise ValidationError(f"Chưa tải lên tệp âm thanh {str(sha)[:12]}….",
                              f"Media {str(sha)[:12]}… has not been uploaded.")
    size, mime = stored
    if media.get("url") != f"/v1/media/{sha}" or media.get("bytes") != size or media.get("mime") != mime:
        raise ValidationError(
            "Thông tin tệp của bản tin (đường dẫn, kích thước, kiểu) phải đúng như tệp đã tải lên.",
            "The item's media (path, size, type) must be exactly that of the uploaded file.")
