"""Web addresses and e-mail, read with "chấm", "a còng", "gạch chéo"."""

from __future__ import annotations

import re

_TLDS = frozenset({"vn", "com", "net", "org", "gov", "edu", "info", "int"})
ADDRESS_RE = re.compile(r"(?<![\w.@/-])(?:https?://)?[\w-]+(?:\.[\w-]+)*(?:@[\w-]+(?:\.[\w-]+)+)?(?:/[\w./?=&%-]*)?")


def _address(m: re.Match[str]) -> str:
    token = m.group(0)
    host = re.sub(r"^https?://", "", token).split("/", 1)[0]
    if "." not in host or host.rsplit(".", 1)[-1].lower() not in _TLDS or host[0].isdigit():
        return token
    body = re.sub(r"^https?://", "", token).rstrip("/")
    spoken = (body.replace(".", " chấm ").replace("@", " a còng ").replace("/", " gạch chéo ")
              .replace("-", " gạch ngang ").replace("_", " gạch dưới "))
    spoken = re.sub(r"[?=&%]", " ", spoken)
    return f" {spoken.lower()} "



def read_web_addresses(text: str) -> str:
    return ADDRESS_RE.sub(_address, text)
