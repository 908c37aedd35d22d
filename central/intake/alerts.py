"""Take one CAP message (posted to the endpoint or found by polling): verify, decide, act.

1. The signature is checked as the source requires (``central.intake.capsig``); what is read
   is the signed content. 2. The message is parsed (``central.intake.cap``); one already taken
   (same sender and identifier) is a duplicate. 3. ``cap.decide`` says what it means:
   - Test/Exercise/…, Ack/Error, expired: recorded, never made into an item;
   - Cancel: the items made from the referenced alerts are revoked;
   - Alert/Update: an emergency (or lower) draft targeted at the devices of the communes in its
     area geocodes, a province geocode standing for every commune of the province
     (``central.editorial.units``); more devices than a signed list holds: the draft is limited
     to those communes instead (the catalog's commune limit). The source's zones when it names
     none; when it names only communes this central has no device in, or a province code that
     does not exist, the draft goes to the source's zones and is never approved automatically; approved at once only when the source allows its sender at
     Extreme/Immediate and the signature verified. An Update revokes the items it supersedes
     when it airs automatically, and drops superseded drafts that were never approved.

Refusals raise ``IntakeError`` and change nothing; the caller records them on the source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import protocol
from central.editorial.units import units
from central.intake import cap, capsig
from central.intake.drafts import Draft, DraftSink, draft_id
from central.intake.sources import SourceStatus
from central.store import Store
from central.store.intake import DuplicateEntry

EMERGENCY_SLOT_S = 600


@dataclass(frozen=True)
class AlertOutcome:
    outcome: str                  # draft | approved | cancel | test | expired | ack | duplicate
    item_id: str | None = None
    revoked: tuple[str, ...] = ()
    identifier: str = ""
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return {"outcome": self.outcome, "item_id": self.item_id, "revoked": list(self.revoked),
                "identifier": self.identifier, "note": self.note}


class AlertTaker:
    def __init__(self, store: Store, sink: DraftSink, *, clock: Callable[[], datetime]) -> None:
        self.store, self.sink, self.clock = store, sink, clock

    def take(self, source: SourceStatus, xml: bytes, *, link: str | None = None) -> AlertOutcome:
        config = source.config
        verified = capsig.verify(xml, certificates=config.certificates, required=config.require_signature)
        alert = cap.alert_from_element(verified.element)
        digest = hashlib.sha256(xml).hexdigest()
        with self.store.read() as tx:
            # The same alert through another source (a replay, or two sources carrying one sender)
            # is the same alert: it makes no second item.
            known = tx.intake.known(source.id, guid=alert.key, link=None, content_sha256=digest) or next(
                iter(tx.intake.entries_for_cap([alert.key])), None)
        if known is not None:
            return AlertOutcome("duplicate", known.item_id, identifier=alert.identifier)
        now = self.clock()
        decision = cap.decide(alert, now=now, signature_verified=verified.verified, auto_senders=config.auto_senders)
        by = f"CAP {alert.sender}"[:100]
        item_id: str | None = None
        revoked: list[str] = []
        note = decision.note
        outcome = decision.reason if decision.action == "ignore" else decision.action
        if decision.action == "cancel":
            outcome = "cancel"
            revoked = self._revoke(decision.supersedes, by=by, published_too=True)
            note = "thu hồi / revoked: " + (", ".join(revoked) or "-")
        elif decision.action in ("draft", "approve"):
            item_id, outcome, note = self._item(source, alert, decision, now=now)
            if decision.supersedes:
                revoked = self._revoke(decision.supersedes, by=by, published_too=outcome == "approved")
                note = (note + "; " if note else "") + "thay thế / supersedes: " + (", ".join(revoked) or "-")
        title = decision.title or (alert.infos[0].headline if alert.infos else "") or alert.identifier
        try:
            with self.store.write() as tx:
                tx.intake.add_entry(source_id=source.id, guid=alert.key, link=link, content_sha256=digest,
                                    title=title[:200], published_at=alert.sent, taken_at=now, item_id=item_id,
                                    outcome=outcome, extraction="cap", note=note[:1000], cap_key=alert.key)
        except DuplicateEntry:
            return AlertOutcome("duplicate", item_id, identifier=alert.identifier)
        return AlertOutcome(outcome, item_id, tuple(revoked), alert.identifier, note)

    def _item(self, source: SourceStatus, alert: cap.CapAlert, decision: cap.Decision, *,
              now: datetime) -> tuple[str, str, str]:
        config = source.config
        automatic = decision.action == "approve"
        note = ""
        zones, devices, limit = config.zones, ("*",), None
        communes, unknown = _communes(decision)
        if unknown:
            automatic = False
            note = ("không có tỉnh/thành phố mã " + ", ".join(unknown[:10])
                    + " / no province with code " + ", ".join(unknown[:10]))
        elif communes:
            found = self.sink.devices_in(communes)
            if found and len(found) <= protocol.MAX_LIST_ENTRIES:
                zones, devices = ("*",), tuple(found)
            elif found:  # a whole province: too many devices to name, so its communes
                zones, limit = ("*",), tuple(communes)
            else:
                automatic = False
                named = list(decision.provinces) + list(decision.communes)
                note = ("không có thiết bị nào ở " + ", ".join(named[:10])
                        + " / no device in " + ", ".join(named[:10]))
        schedule = None
        if automatic:
            start = max(now, decision.valid_from or now)
            schedule = {"type": "once", "starts": [protocol.format_utc(start)], "duration_s": EMERGENCY_SLOT_S}
        valid_from = decision.valid_from
        if valid_from is not None and decision.valid_until is not None and valid_from >= decision.valid_until:
            valid_from = decision.valid_until - timedelta(minutes=1)
        item_id = self.sink.add_draft(Draft(
            item_id=draft_id(source.id, alert.key), title=decision.title, text=decision.text,
            priority=decision.priority, zones=tuple(zones), devices=tuple(devices), communes=limit,
            valid_from=valid_from,
            valid_until=decision.valid_until, schedule=schedule))
        if automatic:
            self.sink.approve(item_id, by=f"CAP tự động / automatic: {alert.sender}"[:100])
            return item_id, "approved", note
        return item_id, "draft", note

    def _revoke(self, keys: tuple[str, ...], *, by: str, published_too: bool) -> list[str]:
        with self.store.read() as tx:
            entries = tx.intake.entries_for_cap(list(keys))
        revoked = []
        for entry in entries:
            if entry.item_id is None:
                continue
            state = self.sink.state(entry.item_id)
            wanted = state == "draft" or (published_too and state == "approved")
            if wanted and self.sink.revoke(entry.item_id, by=by):
                revoked.append(entry.item_id)
        return revoked


def _communes(decision: cap.Decision) -> tuple[list[str], list[str]]:
    """The commune codes an alert names, its provinces' communes included; and unknown provinces."""
    if not decision.provinces:
        return list(decision.communes), []
    known = units().by_province
    unknown = [code for code in decision.provinces if code not in known]
    found = {c.code for code in decision.provinces if code in known for c in known[code].communes}
    return sorted(found | set(decision.communes)), unknown
