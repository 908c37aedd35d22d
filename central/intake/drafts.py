"""Where intake puts what it took: the DraftSink port, and its implementation over the catalog.

A draft is an UNAPPROVED catalog item created through ``Catalog.add_item`` (validated as a
device would validate it); nothing here approves one except ``approve`` for a CAP alert the
source allows to air automatically. Item ids are derived from (source, guid), so taking the
same entry twice (two pollers, a crash between the draft and its provenance) finds the
draft it already made instead of making another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import protocol
from protocol.errors import ValidationError

if TYPE_CHECKING:
    from central.catalog import Catalog


@dataclass(frozen=True)
class Draft:
    item_id: str
    title: str
    text: str
    priority: str = "normal"
    zones: tuple[str, ...] = ("*",)
    devices: tuple[str, ...] = ("*",)
    communes: tuple[str, ...] | None = None  # central's commune limit (None: every commune)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    schedule: dict[str, Any] | None = field(default=None)


def draft_id(source_id: str, guid: str) -> str:
    return "in-" + hashlib.sha256(f"{source_id}\n{guid}".encode()).hexdigest()[:20]


class DraftSink(Protocol):
    def add_draft(self, draft: Draft) -> str:
        """Create ``draft`` (or find the one with its id); returns the item id."""

    def approve(self, item_id: str, *, by: str) -> None: ...

    def revoke(self, item_id: str, *, by: str) -> bool:
        """Withdraw the item (a draft is dropped); False when it was revoked already."""

    def state(self, item_id: str) -> str | None:
        """draft | approved | revoked, or None for no such item."""

    def devices_in(self, communes: Sequence[str]) -> list[str]:
        """The registered devices of these communes (their ids start with the commune code)."""


class CatalogSink:
    """The DraftSink over central's catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def add_draft(self, draft: Draft) -> str:
        try:
            return self.catalog.add_item(
                kind="text", title=draft.title, text=draft.text, priority=draft.priority,
                valid_from=protocol.format_utc(draft.valid_from) if draft.valid_from else None,
                valid_until=protocol.format_utc(draft.valid_until) if draft.valid_until else None,
                zones=list(draft.zones), devices=list(draft.devices), schedule=draft.schedule, item_id=draft.item_id,
                communes=list(draft.communes) if draft.communes is not None else None)
        except ValidationError:
            if self.state(draft.item_id) is not None:
                return draft.item_id  # made by an earlier attempt: the same entry, the same draft
            raise

    def approve(self, item_id: str, *, by: str) -> None:
        self.catalog.approve_item(item_id, by=by)

    def revoke(self, item_id: str, *, by: str) -> bool:
        state = self.state(item_id)
        if state is None or state == "revoked":
            return False
        self.catalog.revoke_item(item_id, by=by)
        return True

    def state(self, item_id: str) -> str | None:
        with self.catalog.store.read() as tx:
            row = tx.items.get(item_id)
        return row.state if row is not None else None

    def devices_in(self, communes: Sequence[str]) -> list[str]:
        wanted = set(communes)
        return sorted(d.id for d in self.catalog.list_devices() if d.id.split("-", 1)[0] in wanted)
