"""The central suite runs on both engines: every test that uses a central fixture is run once
on SQLite and once on PostgreSQL (ids ``[sqlite]`` / ``[postgresql]``)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def central_engine(request: pytest.FixtureRequest) -> str:
    return request.param
