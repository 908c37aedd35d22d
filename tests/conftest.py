"""Shared pytest fixtures.

Central fixtures (owner: protocol/central): a real reference central on a free loopback
port with a fresh data directory and a fresh database. ``central_engine`` names the engine:
every test that uses a central fixture runs once on SQLite and once on PostgreSQL (ids
``[sqlite]`` / ``[postgresql]``; a throwaway cluster started once per run,
tests/support/postgres.py). Other fixtures go below this section.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

import protocol
from central.app import create_app
from central.catalog import Catalog
from central.config import CentralConfig
from central.faults import Faults
from central.loopback import RunningServer, serve_in_thread

DEVICE_ID = "12345-0001"
PERSON_PASSWORD = "mật khẩu thử nghiệm 2026"
DEVICE_ZONES = ("thon-1", "thon-2")


class ManualClock:
    """Central's clock in tests: real time plus an offset the test can move."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)


@dataclass
class CentralHandle:
    """A running central plus seeding helpers. ``device_id``/``token`` are a registered device."""

    server: RunningServer
    catalog: Catalog
    faults: Faults
    clock: ManualClock
    data_dir: Path
    device_id: str
    token: str
    extra_tokens: dict[str, str] = field(default_factory=dict)
    admin_token: str = ""  # automation token (admin role) of the JSON API / monitoring pages
    database_url: str = ""

    def cli_args(self) -> list[str]:
        """The options that point ``commune-central`` at this central's data and database."""
        return ["--data", str(self.data_dir), "--database-url", self.database_url]

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def public_key_b64(self) -> str:
        return self.catalog.public_key_b64

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def session(self, token: str | None = None) -> requests.Session:
        session = requests.Session()
        session.headers.update(self.headers(token))
        return session

    def add_person(self, username: str, roles: Sequence[str] = ("admin",), *, scope_kind: str = "country",
                   codes: Sequence[str] = (), password: str = PERSON_PASSWORD) -> Any:
        """A person at central (``central.editorial.accounts``) with these roles and scope."""
        return self.server.app.extensions["central.accounts"].add_person(
            username, password, roles=list(roles), scope_kind=scope_kind, scope_codes=list(codes), by="test")

    def login(self, username: str, password: str = PERSON_PASSWORD) -> requests.Session:
        """A browser-like session logged in as ``username`` (cookie set; ``session.csrf`` for forms)."""
        session = requests.Session()
        answer = session.post(f"{self.url}/login", data={"username": username, "password": password},
                              allow_redirects=False, timeout=30)
        assert answer.status_code == 303, answer.text
        page = session.get(f"{self.url}/monitor", timeout=30)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        session.csrf = found.group(1) if found else ""  # type: ignore[attr-defined]
        return session

    def add_device(self, device_id: str, zones: Sequence[str] = ("thon-1",)) -> str:
        token = self.catalog.add_device(device_id, zones)
        self.extra_tokens[device_id] = token
        return token

    def text_item(self, title: str = "Thông báo lịch tiêm chủng", text: str = "Kính mời bà con đưa trẻ đi tiêm.",
                  *, approve: bool = True, **options: Any) -> str:
        item_id = self.catalog.add_item(kind="text", title=title, text=text, **options)
        if approve:
            self.catalog.approve_item(item_id, by="Chủ tịch UBND xã")
        return item_id

    def audio_item(self, data: bytes, *, title: str = "Bản tin âm thanh", mime: str = "audio/wav",
                   approve: bool = True, **options: Any) -> tuple[str, dict[str, Any]]:
        media = self.catalog.add_media(data, mime=mime)
        item_id = self.catalog.add_item(kind="audio", title=title, media=media, **options)
        if approve:
            self.catalog.approve_item(item_id, by="Chủ tịch UBND xã")
        return item_id, media

    def feed(self, cursor: str | None = None, **params: Any) -> requests.Response:
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        return requests.get(f"{self.url}/v1/devices/{self.device_id}/feed", params=query,
                            headers=self.headers(), timeout=30)

    def verify(self, doc: Any) -> protocol.Item:
        return protocol.validate_item(doc, self.catalog.public_key, device_id=self.device_id)


@pytest.fixture
def central_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def central_faults() -> Faults:
    return Faults()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """One PostgreSQL cluster for the whole run, with a migrated template database."""
    from central.store import Store
    from tests.support.postgres import TEMPLATE, PostgresCluster

    cluster = PostgresCluster().start()
    try:
        Store.open(cluster.create_database(TEMPLATE)).close()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def central_engine(request: pytest.FixtureRequest) -> str:
    """The database engine of the ``central`` fixtures: each such test runs on both."""
    return request.param


@pytest.fixture
def central_database_url(central_engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on ``central_engine`` (SQLite: a file in the data dir)."""
    if central_engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'central' / 'central.db'}"
        return
    from tests.support.postgres import TEMPLATE

    cluster = request.getfixturevalue("postgres_cluster")
    name = cluster.new_database_name()
    url = cluster.create_database(name, template=TEMPLATE)
    try:
        yield url
    finally:
        cluster.drop_database(name)


@pytest.fixture
def central_config(tmp_path: Path, central_database_url: str) -> CentralConfig:
    return CentralConfig(data_dir=tmp_path / "central", database_url=central_database_url)


@pytest.fixture
def central_app(central_config: CentralConfig, central_faults: Faults, central_clock: ManualClock) -> Iterator[Flask]:
    """The central Flask app on a fresh data dir, with the fault middleware and a movable clock."""
    app = create_app(central_config.data_dir, clock=central_clock, faults=central_faults, config=central_config)
    try:
        yield app
    finally:
        app.extensions["central.catalog"].close()


@pytest.fixture
def central(central_app: Flask, central_faults: Faults, central_clock: ManualClock,
            central_config: CentralConfig) -> Iterator[CentralHandle]:
    """A running central on a free loopback port with device ``12345-0001`` (zones thon-1, thon-2)."""
    server = serve_in_thread(central_app)
    try:
        catalog = server.catalog
        token = catalog.add_device(DEVICE_ID, DEVICE_ZONES)
        admin_token = central_app.extensions["central.admin"].create_token()
        yield CentralHandle(server=server, catalog=catalog, faults=central_faults, clock=central_clock,
                            data_dir=central_config.data_dir, device_id=DEVICE_ID, token=token,
                            admin_token=admin_token, database_url=central_config.database_url)
    finally:
        server.stop()


# ---------------------------------------------------------------- other fixtures below
