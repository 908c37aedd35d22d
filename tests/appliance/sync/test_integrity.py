"""Items read back from the store are checked against what central signed (issue 16, fault 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import protocol
from appliance.state import config as config_module
from appliance.state.store import Store
from appliance.sync.integrity import SignedItems, Tampered
from tests.appliance.daemon.test_faults_process import signed_text_item, store_signed

KEY = Ed25519PrivateKey.generate()


@pytest.fixture()
def held(tmp_path: Path):
    config = config_module.from_mapping({"device": {"id": "12345-0001", "data_dir": str(tmp_path)},
                                         "central": {"public_key": protocol.public_key_to_b64(KEY.public_key())}},
                                        env={})
    store = Store.open(config.db_path)
    store_signed(store, signed_text_item(KEY, "bt-1", "Thông báo họp thôn."), KEY.public_key(), config.device.id)
    yield SignedItems(config), store
    store.close()


@pytest.mark.parametrize(("column", "value"), [
    ("text", "Tin giả."), ("priority", "emergency"), ("valid_until", "2099-01-01T00:00:00.000000Z"),
    ("zones", json.dumps(["thon-9"])), ("revoked", 1), ("kind", "stream"),
])
def test_any_column_the_daemon_acts_on_is_checked(held, column: str, value: object) -> None:
    signed, store = held
    assert signed.check(store.get_item("bt-1")).text == "Thông báo họp thôn."
    with store.transaction() as tx:
        tx.execute(f"UPDATE items SET {column} = ? WHERE id = 'bt-1'", (value,))
    with pytest.raises(Tampered) as info:
        signed.check(store.get_item("bt-1"))
    assert column in info.value.fields and info.value.verified is not None
    assert "not what central signed" in info.value.en and "đã bị sửa" in info.value.vi


def test_forged_document_and_local_items(held) -> None:
    signed, store = held
    row = store.get_item("bt-1")
    forged = dict(row, document=dict(row["document"], text="Tin giả."), text="Tin giả.")
    with pytest.raises(Tampered) as info:
        signed.check(forged)
    assert info.value.fields == ["document"] and info.value.verified is None
    assert "signature" in info.value.en
    assert signed.check(dict(row, source="local", text="Thông báo của xã.")) is None
