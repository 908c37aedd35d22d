"""Rendered speech of items and voice-pack offers: the rows behind protocol §4.3 and §4.4."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from central.store.engine import Database
from central.store.schema import item_speech, voice_pack_offers


@dataclass(frozen=True)
class SpeechRow:
    item_id: str
    version: int
    document: dict[str, Any]
    media_sha256: str
    created_at: datetime


@dataclass(frozen=True)
class OfferRow:
    pack_id: str
    document: dict[str, Any]
    media_sha256: str
    offered_at: datetime


class SpeechRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    def put(self, item_id: str, version: int, document: dict[str, Any], media_sha256: str, *, now: datetime) -> None:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        self._conn.execute(delete(item_speech).where(item_speech.c.item_id == item_id))
        self._conn.execute(item_speech.insert().values(item_id=item_id, version=version, document=text,
                                                       media_sha256=media_sha256, created_at=now))

    def get(self, item_id: str) -> SpeechRow | None:
        row = self._conn.execute(select(item_speech).where(item_speech.c.item_id == item_id)).one_or_none()
        return None if row is None else SpeechRow(row.item_id, int(row.version), json.loads(row.document),
                                                  row.media_sha256, row.created_at)

    def for_items(self, item_ids: Sequence[str]) -> list[SpeechRow]:
        if not item_ids:
            return []
        rows = self._conn.execute(select(item_speech).where(item_speech.c.item_id.in_(list(item_ids))))
        return [SpeechRow(r.item_id, int(r.version), json.loads(r.document), r.media_sha256, r.created_at)
                for r in rows]

    def remove(self, item_id: str) -> bool:
        return bool(self._conn.execute(delete(item_speech).where(item_speech.c.item_id == item_id)).rowcount)

    # ------------------------------------------------------------------ offers

    def put_offer(self, pack_id: str, document: dict[str, Any], media_sha256: str, *, now: datetime) -> None:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        self._conn.execute(delete(voice_pack_offers).where(voice_pack_offers.c.pack_id == pack_id))
        self._conn.execute(voice_pack_offers.insert().values(pack_id=pack_id, document=text,
                                                             media_sha256=media_sha256, offered_at=now))

    def offers(self) -> list[OfferRow]:
        rows = self._conn.execute(select(voice_pack_offers).order_by(voice_pack_offers.c.pack_id))
        return [OfferRow(r.pack_id, json.loads(r.document), r.media_sha256, r.offered_at) for r in rows]

    def withdraw_offer(self, pack_id: str) -> bool:
        return bool(self._conn.execute(delete(voice_pack_offers).where(voice_pack_offers.c.pack_id == pack_id)).rowcount)
