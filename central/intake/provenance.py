"""Where a draft came from, for the editorial pages: ``provenance_of(store, item_id)``.

The contract with the editorial work (issue 12 item 3): an item made by intake is an ordinary
unapproved catalog item; its source, link, original publication time and guid live in
``intake_entries`` and are read here. ``None`` means the item was not taken in by intake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central.store import Store


@dataclass(frozen=True)
class Provenance:
    item_id: str
    source_id: str
    source_kind: str | None       # feed | cap (None: the source was removed since)
    source_url: str | None
    guid: str
    link: str | None
    title: str                    # as the source gave it (plain text)
    published_at: datetime | None  # the original publication time (UTC), if the source said
    taken_at: datetime
    extraction: str               # page (article text) | summary (the feed's) | cap
    outcome: str                  # draft | approved (CAP, automatic) | update
    note: str
    cap_key: str | None           # CAP "sender,identifier"


def provenance_of(store: Store, item_id: str) -> Provenance | None:
    with store.read() as tx:
        entry = tx.intake.entry_for_item(item_id)
        if entry is None:
            return None
        source = tx.intake.source(entry.source_id)
    return Provenance(item_id=item_id, source_id=entry.source_id, source_kind=source.kind if source else None,
                      source_url=source.url if source else None, guid=entry.guid, link=entry.link,
                      title=entry.title, published_at=entry.published_at, taken_at=entry.taken_at,
                      extraction=entry.extraction, outcome=entry.outcome, note=entry.note, cap_key=entry.cap_key)
