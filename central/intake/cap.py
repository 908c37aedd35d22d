"""CAP 1.2 (OASIS Common Alerting Protocol) messages → alerts, and what an alert means (pure).

``parse_alert(xml)`` reads every field the station needs, refusing a message that is not
CAP 1.2 (``intake.cap_invalid``): XML with a DTD or entities is refused outright.
``decide(alert, …)`` says what central does with it:

- ``status`` other than Actual (Test, Exercise, System, Draft) never airs as real: ignored.
- ``msgType`` Cancel revokes the items made from the alerts in ``references``; Update makes a
  new item that supersedes them; Ack and Error are ignored.
- ``expires`` becomes ``valid_until`` (none given: ``effective``/``sent`` + 24 h); an expired
  alert never airs.
- severity and urgency → priority (Extreme/Severe and Immediate/Expected → emergency;
  other Extreme/Severe and Moderate → priority; the rest normal).
- area geocodes with a 5-digit value (``commune``; not a ``province`` code) name the communes
  whose devices it targets; a ``province`` geocode with a 2-digit value names a province (every
  commune of it: resolved by ``central.intake.alerts`` through the administrative units).
- automatic approval only at Extreme + Immediate, for a sender the source allows, and only
  when the message's signature was verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from central.intake.errors import IntakeError, intake_error
from central.intake.plaintext import shorten, to_plain

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = {"cap": CAP_NS}
MAX_CAP_BYTES = 256 * 1024
DEFAULT_VALIDITY = timedelta(hours=24)
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
_COMMUNE_RE = re.compile(r"^[0-9]{5}$")
_PROVINCE_RE = re.compile(r"^[0-9]{2}$")
_PROVINCE_NAMES = frozenset({"province", "vn-province", "tinh", "ma_tinh", "ma-tinh"})


@dataclass(frozen=True)
class CapArea:
    description: str
    geocodes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CapInfo:
    language: str
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str
    description: str
    instruction: str
    sender_name: str
    effective: datetime | None
    expires: datetime | None
    areas: tuple[CapArea, ...]


@dataclass(frozen=True)
class CapAlert:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: tuple[tuple[str, str, str], ...]   # (sender, identifier, sent)
    infos: tuple[CapInfo, ...]

    @property
    def key(self) -> str:
        return alert_key(self.sender, self.identifier)

    @property
    def reference_keys(self) -> tuple[str, ...]:
        return tuple(alert_key(sender, identifier) for sender, identifier, _ in self.references)


@dataclass(frozen=True)
class Decision:
    action: str                        # draft | approve | cancel | ignore
    reason: str                        # why (stable words: test, expired, ack, cancel, alert, update, …)
    title: str = ""
    text: str = ""
    priority: str = "normal"
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    communes: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()    # 2-digit province codes: every commune of each
    supersedes: tuple[str, ...] = ()   # alert keys this one replaces (Update) or cancels (Cancel)
    note: str = ""


def alert_key(sender: str, identifier: str) -> str:
    return f"{sender},{identifier}"


def _invalid(what: str) -> IntakeError:
    return intake_error("cap_invalid", f"Bản tin CAP không hợp lệ: {what}.", f"Invalid CAP message: {what}.")


def _text(node: etree._Element, path: str) -> str:
    found = node.find(path, _NS)
    return (found.text or "").strip() if found is not None else ""


def _required(node: etree._Element, path: str, name: str) -> str:
    value = _text(node, path)
    if not value:
        raise _invalid(f"thiếu {name} / missing {name}")
    return value


def parse_time(value: str, name: str) -> datetime:
    """A CAP dateTime: ISO 8601 with an explicit offset (``Z`` is not CAP, but is accepted)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"{name} sai định dạng / malformed {name} {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise _invalid(f"{name} thiếu múi giờ / {name} has no time zone offset")
    return moment


def _optional_time(node: etree._Element, path: str, name: str) -> datetime | None:
    value = _text(node, path)
    return parse_time(value, name) if value else None


def parse_xml(xml: bytes) -> etree._Element:
    """The root element of a CAP message, parsed safely (no DTD, entities or network)."""
    if len(xml) > MAX_CAP_BYTES:
        raise _invalid(f"lớn hơn {MAX_CAP_BYTES // 1024} KB / larger than {MAX_CAP_BYTES // 1024} KB")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise _invalid(f"XML hỏng / broken XML ({str(exc)[:100]})") from None
    if root.getroottree().docinfo.doctype:
        raise _invalid("có DTD / it carries a DTD")
    if root.tag != f"{{{CAP_NS}}}alert":
        raise _invalid("không phải <alert> CAP 1.2 / not a CAP 1.2 <alert>")
    return root


def _area(node: etree._Element) -> CapArea:
    codes = tuple((_text(g, "cap:valueName"), _text(g, "cap:value")) for g in node.findall("cap:geocode", _NS))
    return CapArea(description=to_plain(_text(node, "cap:areaDesc"), max_chars=200), geocodes=codes)


def _info(node: etree._Element) -> CapInfo:
    urgency = _required(node, "cap:urgency", "urgency")
    severity = _required(node, "cap:severity", "severity")
    if urgency not in URGENCIES or severity not in SEVERITIES:
        raise _invalid(f"urgency/severity lạ / unknown urgency/severity {urgency[:20]}/{severity[:20]}")
    return CapInfo(
        language=_text(node, "cap:language") or "en-US", event=to_plain(_required(node, "cap:event", "event")),
        urgency=urgency, severity=severity, certainty=_required(node, "cap:certainty", "certainty"),
        headline=to_plain(_text(node, "cap:headline")), description=to_plain(_text(node, "cap:description"),
                                                                              keep_lines=True),
        instruction=to_plain(_text(node, "cap:instruction"), keep_lines=True),
        sender_name=to_plain(_text(node, "cap:senderName")),
        effective=_optional_time(node, "cap:effective", "effective"),
        expires=_optional_time(node, "cap:expires", "expires"),
        areas=tuple(_area(a) for a in node.findall("cap:area", _NS)))


def parse_references(value: str) -> tuple[tuple[str, str, str], ...]:
    refs = []
    for part in value.split():
        pieces = part.split(",")
        if len(pieces) != 3 or not all(pieces):
            raise _invalid(f"references sai / malformed reference {part[:60]!r}")
        refs.append((pieces[0], pieces[1], pieces[2]))
    return tuple(refs)


def alert_from_element(root: etree._Element) -> CapAlert:
    status = _required(root, "cap:status", "status")
    msg_type = _required(root, "cap:msgType", "msgType")
    if status not in STATUSES:
        raise _invalid(f"status lạ / unknown status {status[:20]!r}")
    if msg_type not in MSG_TYPES:
        raise _invalid(f"msgType lạ / unknown msgType {msg_type[:20]!r}")
    identifier = _required(root, "cap:identifier", "identifier")
    sender = _required(root, "cap:sender", "sender")
    if any(ch in identifier + sender for ch in " ,<&") or len(identifier) > 200 or len(sender) > 200:
        raise _invalid("identifier/sender có ký tự cấm / identifier or sender has forbidden characters")
    alert = CapAlert(identifier=identifier, sender=sender,
                     sent=parse_time(_required(root, "cap:sent", "sent"), "sent"), status=status,
                     msg_type=msg_type, scope=_required(root, "cap:scope", "scope"),
                     references=parse_references(_text(root, "cap:references")),
                     infos=tuple(_info(i) for i in root.findall("cap:info", _NS)))
    if msg_type in ("Update", "Cancel") and not alert.references:
        raise _invalid(f"{msg_type} thiếu references / {msg_type} without references")
    return alert


def parse_alert(xml: bytes) -> CapAlert:
    return alert_from_element(parse_xml(xml))


def _chosen_info(alert: CapAlert) -> CapInfo | None:
    for info in alert.infos:
        if info.language.lower().startswith("vi"):
            return info
    return alert.infos[0] if alert.infos else None


def priority_of(info: CapInfo) -> str:
    if info.severity in ("Extreme", "Severe"):
        return "emergency" if info.urgency in ("Immediate", "Expected") else "priority"
    return "priority" if info.severity == "Moderate" else "normal"


def communes_of(info: CapInfo) -> tuple[str, ...]:
    found: list[str] = []
    for area in info.areas:
        for name, value in area.geocodes:
            if _COMMUNE_RE.match(value) and name.lower() not in _PROVINCE_NAMES:
                found.append(value)
    return tuple(dict.fromkeys(found))


def provinces_of(info: CapInfo) -> tuple[str, ...]:
    found = [value for area in info.areas for name, value in area.geocodes
             if _PROVINCE_RE.match(value) and name.lower() in _PROVINCE_NAMES]
    return tuple(dict.fromkeys(found))


def decide(alert: CapAlert, *, now: datetime, signature_verified: bool, auto_senders: tuple[str, ...] = ()
           ) -> Decision:
    """What central does with ``alert`` (pure). ``auto_senders``: senders this source lets air at once."""
    if alert.status != "Actual":
        return Decision("ignore", "test", note=f"status {alert.status}: không bao giờ phát như thật / never aired as real")
    if alert.msg_type in ("Ack", "Error"):
        return Decision("ignore", "ack", note=f"msgType {alert.msg_type}")
    if alert.msg_type == "Cancel":
        return Decision("cancel", "cancel", supersedes=alert.reference_keys)
    info = _chosen_info(alert)
    if info is None:
        raise _invalid("không có <info> / no <info> block")
    valid_from = info.effective or alert.sent
    valid_until = info.expires or (valid_from + DEFAULT_VALIDITY)
    if valid_until <= now:
        return Decision("ignore", "expired", note=f"hết hạn / expired at {valid_until.isoformat()}")
    title = shorten(info.headline or info.event, 200)
    areas = ", ".join(a.description for a in info.areas if a.description)
    parts = [info.headline or info.event, info.description, info.instruction,
             f"Khu vực: {areas}." if areas else ""]
    text = shorten("\n".join(p for p in parts if p), 20_000)
    priority = priority_of(info)
    automatic = (signature_verified and alert.sender in auto_senders and info.severity == "Extreme"
                 and info.urgency == "Immediate")
    return Decision("approve" if automatic else "draft", alert.msg_type.lower(), title=title, text=text,
                    priority=priority, valid_from=valid_from, valid_until=valid_until,
                    communes=communes_of(info), provinces=provinces_of(info),
                    supersedes=alert.reference_keys if alert.msg_type == "Update" else ())
