"""The editorial workflow over the catalog: write → submit → approve (sign) | reject, revoke.

Editors write items inside their scope and submit them; approvers see a queue of what waits
(submitted items, and drafts made by intake or the command line, which have no editorial row),
with the full content and the changes since the last approved version, and approve (the
catalog signs and publishes), reject with a comment, or revoke. Four eyes: an approver never
approves an item they wrote or changed since its last approval, except an emergency, which one
approver may approve with an explicit emergency confirmation (recorded as such). Every step
is kept in the item's history with the content as it stood.

Areas: the provinces and communes chosen for an item become the catalog's commune limit
(every commune of a province; none chosen: the whole country).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import protocol
from central.catalog import Catalog
from central.editorial import diff as diffs
from central.editorial import scope as scopes
from central.editorial.accounts import Person
from central.editorial.schedules import ScheduleForm, to_schedule
from central.editorial.units import units
from central.store.editorial import EditorialRow, HistoryRow
from central.store.items import ItemRow
from protocol.errors import ValidationError

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WRITING_ACTIONS = frozenset({"created", "edited"})
APPROVAL_ACTIONS = frozenset({"approved", "emergency_approved"})


class NotAllowed(ValidationError):
    code = "forbidden"


@dataclass(frozen=True)
class ItemInput:
    """What an editor's form says (local times as 'YYYY-MM-DDTHH:MM')."""

    kind: str
    title: str
    text: str = ""
    media: Mapping[str, Any] | None = None
    priority: str = "normal"
    valid_from: str = ""
    valid_until: str = ""
    schedule: ScheduleForm = field(default_factory=ScheduleForm)
    zones: tuple[str, ...] = ("*",)
    areas: scopes.Areas = field(default_factory=scopes.Areas)


@dataclass(frozen=True)
class ItemView:
    row: ItemRow
    editorial: EditorialRow | None
    areas: scopes.Areas
    status: str                     # writing | submitted | rejected | approved | revoked | draft (intake, CLI)
    history: list[HistoryRow]
    changes: list[diffs.Change]
    writers: frozenset[str]
    approved: dict[str, Any] | None = None    # content at the last approval (None: never approved)
    current: dict[str, Any] = field(default_factory=dict)

    @property
    def draft(self) -> dict[str, Any]:
        return self.row.draft

    @property
    def author(self) -> str:
        return self.editorial.author if self.editorial is not None else ""


def _local_to_utc(text: str, what_vi: str, what_en: str) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{what_vi} không hợp lệ.", f"Invalid {what_en}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZONE)
    return protocol.format_utc(moment.astimezone(UTC))


def _province_of(code: str) -> str:
    return units().commune(code).province


def snapshot(draft: Mapping[str, Any], zones: list[str], areas: scopes.Areas) -> dict[str, Any]:
    return {**{k: draft.get(k) for k in ("kind", "title", "text", "media", "priority", "valid_from",
                                          "valid_until", "schedule")},
            "zones": list(zones), "areas": areas.as_dict()}


class Editorial:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.store = catalog.store
        self.clock = catalog.clock

    # ------------------------------------------------------------------ checks

    @staticmethod
    def _need(person: Person, role: str) -> None:
        if not person.has(role):
            names = {"editor": ("biên tập viên", "an editor"), "approver": ("người duyệt", "an approver"),
                     "admin": ("quản trị viên", "an admin")}[role]
            raise NotAllowed(f"Việc này cần vai trò {names[0]}.", f"This needs {names[1]}.")

    @staticmethod
    def _in_scope(person: Person, areas: scopes.Areas) -> bool:
        return scopes.covers(person.scope, areas, _province_of)

    def _check_areas(self, person: Person, areas: scopes.Areas) -> list[str] | None:
        u = units()
        for code in areas.provinces:
            u.province(code)
        for code in areas.communes:
            u.commune(code)
        if not self._in_scope(person, areas):
            raise scopes.out_of_scope()
        return None if areas.whole_country else u.communes_of(list(areas.provinces), list(areas.communes))

    def _content(self, data: ItemInput) -> dict[str, Any]:
        if data.kind not in protocol.KINDS:
            raise ValidationError("Loại bản tin không hợp lệ.", "Invalid kind of item.")
        return {"kind": data.kind, "title": data.title.strip(), "text": data.text.strip(),
                "media": dict(data.media) if data.media is not None else None, "priority": data.priority,
                "valid_from": _local_to_utc(data.valid_from, "Thời điểm bắt đầu hiệu lực", "valid-from time")
                or protocol.format_utc(self.clock()),
                "valid_until": _local_to_utc(data.valid_until, "Thời điểm hết hiệu lực", "valid-until time"),
                "schedule": to_schedule(data.schedule)}

    # ------------------------------------------------------------------ writing

    def create(self, person: Person, data: ItemInput, *, address: str = "") -> str:
        self._need(person, "editor")
        communes = self._check_areas(person, data.areas)
        content = self._content(data)
        item_id = self.catalog.add_item(**content, zones=list(data.zones), communes=communes)
        now = self.clock()
        with self.store.write() as tx:
            tx.editorial.put(item_id, author=person.username, status="writing", areas=data.areas.as_dict(), now=now)
            tx.editorial.record(item_id, actor=person.username, action="created",
                                content=snapshot(content, list(data.zones), data.areas), now=now)
            tx.people.audit(actor=person.username, action="item.create", target=item_id, address=address, now=now)
        return item_id

    def edit(self, person: Person, item_id: str, data: ItemInput, *, address: str = "") -> None:
        self._need(person, "editor")
        view = self.view(item_id)
        if view.status == "revoked":
            raise ValidationError("Bản tin đã bị thu hồi.", "The item is revoked.")
        if not self._in_scope(person, view.areas):
            raise scopes.out_of_scope()
        communes = self._check_areas(person, data.areas)
        content = self._content(data)
        self.catalog.update_item(item_id, **content, zones=list(data.zones), communes=communes)
        now = self.clock()
        with self.store.write() as tx:
            tx.editorial.put(item_id, author=view.author or person.username, status="writing",
                             areas=data.areas.as_dict(), now=now)
            tx.editorial.record(item_id, actor=person.username, action="edited",
                                content=snapshot(content, list(data.zones), data.areas), now=now)
            tx.people.audit(actor=person.username, action="item.edit", target=item_id, address=address, now=now)

    def submit(self, person: Person, item_id: str, *, address: str = "") -> None:
        self._need(person, "editor")
        view = self.view(item_id)
        if not self._in_scope(person, view.areas):
            raise scopes.out_of_scope()
        if view.row.state != "draft" or view.status not in ("writing", "rejected", "draft"):
            raise ValidationError("Bản tin này không có bản nháp để gửi duyệt.", "This item has no draft to submit.")
        now = self.clock()
        with self.store.write() as tx:
            if view.editorial is None:
                tx.editorial.put(item_id, author=person.username, status="submitted", areas=view.areas.as_dict(),
                                 now=now)
            else:
                tx.editorial.set_status(item_id, "submitted", now=now)
            tx.editorial.record(item_id, actor=person.username, action="submitted", content=None, now=now)
            tx.people.audit(actor=person.username, action="item.submit", target=item_id, address=address, now=now)

    # ------------------------------------------------------------------ review

    def approve(self, person: Person, item_id: str, *, emergency_confirmed: bool = False,
                address: str = "") -> dict[str, Any]:
        self._need(person, "approver")
        view = self.view(item_id)
        if not self._in_scope(person, view.areas):
            raise scopes.out_of_scope()
        if view.row.state != "draft" or view.status not in ("submitted", "draft"):
            raise ValidationError("Bản tin này không chờ duyệt.", "This item is not waiting for approval.")
        action = "approved"
        if person.username in view.writers:
            if view.draft.get("priority") != "emergency":
                raise NotAllowed("Nguyên tắc bốn mắt: bạn không được duyệt bản tin do chính mình viết hoặc sửa.",
                                 "Four eyes: you may not approve an item you wrote or changed.")
            if not emergency_confirmed:
                raise NotAllowed("Bản tin khẩn cấp do chính bạn viết: hãy đánh dấu xác nhận khẩn cấp để tự duyệt.",
                                 "An emergency you wrote yourself: tick the emergency confirmation to approve it alone.")
            action = "emergency_approved"
        signed = self.catalog.approve_item(item_id, by=person.display_name or person.username)
        now = self.clock()
        with self.store.write() as tx:
            if view.editorial is None:
                tx.editorial.put(item_id, author="", status="approved", areas=view.areas.as_dict(), now=now)
            else:
                tx.editorial.set_status(item_id, "approved", now=now)
            tx.editorial.record(item_id, actor=person.username, action=action,
                                content={**snapshot(signed, list(signed["zones"]), view.areas),
                                         "version": signed["version"]}, now=now)
            tx.people.audit(actor=person.username, action=f"item.{action}", target=item_id, address=address,
                            detail={"version": signed["version"]}, now=now)
        return signed

    def reject(self, person: Person, item_id: str, comment: str, *, address: str = "") -> None:
        self._need(person, "approver")
        comment = (comment or "").strip()[:2000]
        if not comment:
            raise ValidationError("Hãy ghi lý do từ chối để người viết biết cần sửa gì.",
                                  "Write why you reject it, so the writer knows what to change.")
        view = self.view(item_id)
        if not self._in_scope(person, view.areas):
            raise scopes.out_of_scope()
        if view.row.state != "draft":
            raise ValidationError("Bản tin này không chờ duyệt.", "This item is not waiting for approval.")
        now = self.clock()
        with self.store.write() as tx:
            if view.editorial is None:
                tx.editorial.put(item_id, author="", status="rejected", areas=view.areas.as_dict(), comment=comment,
                                 now=now)
            else:
                tx.editorial.set_status(item_id, "rejected", comment=comment, now=now)
            tx.editorial.record(item_id, actor=person.username, action="rejected", content=None, comment=comment,
                                now=now)
            tx.people.audit(actor=person.username, action="item.reject", target=item_id, address=address, now=now)

    def revoke(self, person: Person, item_id: str, comment: str = "", *, address: str = "") -> None:
        self._need(person, "approver")
        view = self.view(item_id)
        if not self._in_scope(person, view.areas):
            raise scopes.out_of_scope()
        self.catalog.revoke_item(item_id, by=person.display_name or person.username)
        now = self.clock()
        with self.store.write() as tx:
            if view.editorial is None:
                tx.editorial.put(item_id, author="", status="revoked", areas=view.areas.as_dict(), now=now)
            else:
                tx.editorial.set_status(item_id, "revoked", comment=comment.strip()[:2000], now=now)
            tx.editorial.record(item_id, actor=person.username, action="revoked", content=None,
                                comment=comment.strip()[:2000], now=now)
            tx.people.audit(actor=person.username, action="item.revoke", target=item_id, address=address, now=now)

    # ------------------------------------------------------------------ reading

    def view(self, item_id: str) -> ItemView:
        row = self.catalog.get_item(item_id)
        with self.store.read() as tx:
            editorial = tx.editorial.get(item_id)
            history = tx.editorial.history(item_id)
        return self._view(row, editorial, history)

    def _view(self, row: ItemRow, editorial: EditorialRow | None, history: list[HistoryRow]) -> ItemView:
        if editorial is not None:
            areas = scopes.Areas.from_dict(editorial.areas)
        elif row.communes is not None:
            areas = scopes.Areas(communes=tuple(row.communes))
        else:
            areas = scopes.Areas()
        status = editorial.status if editorial is not None else row.state
        last_approved: dict[str, Any] | None = None
        writers: set[str] = set()
        for step in history:
            if step.action in APPROVAL_ACTIONS:
                last_approved, writers = step.content, set()
            elif step.action in WRITING_ACTIONS:
                writers.add(step.actor)
        if editorial is not None and editorial.author and last_approved is None:
            writers.add(editorial.author)
        if last_approved is None and row.published is not None:
            import json

            doc = json.loads(row.published)
            last_approved = snapshot(doc, list(doc.get("zones", [])), areas)
        current = snapshot(row.draft, row.zones, areas)
        return ItemView(row=row, editorial=editorial, areas=areas, status=status, history=history,
                        changes=diffs.changes(last_approved, current), writers=frozenset(writers),
                        approved=last_approved, current=current)

    def items(self, person: Person) -> list[ItemView]:
        """Every item whose areas lie in ``person``'s scope, newest first."""
        rows = {r.id: r for r in self._rows()}
        with self.store.read() as tx:
            editorial = tx.editorial.all()
        views = [self._view(row, editorial.get(item_id), []) for item_id, row in rows.items()]
        return sorted((v for v in views if self._in_scope(person, v.areas)),
                      key=lambda v: v.row.updated_at, reverse=True)

    def queue(self, person: Person) -> list[ItemView]:
        """What waits for ``person``'s approval: emergencies first, then oldest first."""
        waiting = [v for v in self.items(person) if v.row.state == "draft" and v.status in ("submitted", "draft")]
        return sorted(waiting, key=lambda v: (v.draft.get("priority") != "emergency", v.row.updated_at))

    def _rows(self) -> list[ItemRow]:
        with self.store.read() as tx:
            return tx.items.list()
