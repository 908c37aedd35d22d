"""SIGKILL ``commune-radio sync --once`` at random moments; the store must always stay consistent.

A pre-imported "zygote" process forks one real CLI sync per round (so each round costs
milliseconds, not an interpreter start-up), and the test kills it after a random delay.
After every kill the store is opened and checked: SQLite integrity, every ready item's media
present and verifying, no partial file in use; then a sync must complete.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.state import config as config_module
from appliance.state.mediastore import MediaStore, sha256_file
from appliance.state.store import Store, utc_now_iso
from appliance.sync.client import CentralClient
from appliance.sync.syncer import Syncer
from protocol.durable import TEMP_PREFIX
from tests.support.paths import REPO

ROUNDS = 50

ZYGOTE = r"""
import os, sys
import appliance.cli, appliance.commands.sync, appliance.sync.syncer, protocol, requests  # noqa: F401
config = sys.argv[1]
print("ready", flush=True)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os._exit(appliance.cli.main(["--config", config, "sync", "--once"]))
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(status, flush=True)
"""


def _write_config(path: Path, central: Any, data_dir: Path) -> None:
    path.write_text(
        "[device]\n"
        f'id = "{central.device_id}"\n'
        f'data_dir = "{data_dir}"\n'
        "[central]\n"
        f'url = "{central.url}"\n'
        f'token = "{central.token}"\n'
        f'public_key = "{central.public_key_b64}"\n'
        "connect_timeout_s = 5.0\n"
        "read_timeout_s = 10.0\n"
        "max_retries = 1\n", encoding="utf-8")


def _check_consistent(config: config_module.Config) -> dict[str, int]:
    """Assert the invariants of a store another process died writing to; returns state counts."""
    media = MediaStore(config.media_dir)
    with Store.open(config.db_path) as store:
        assert store.integrity_ok()
        counts: dict[str, int] = {}
        for item in store.list_items():
            counts[item["state"]] = counts.get(item["state"], 0) + 1
            if item["state"] == "ready" and item["kind"] == "audio":
                path = media.path_for(item["media_sha256"])
                assert path.is_file(), f"ready item {item['id']} has no media file"
                assert not path.name.startswith(TEMP_PREFIX)
                assert sha256_file(path) == item["media_sha256"], f"media of {item['id']} does not verify"
                assert path.stat().st_size == item["media_bytes"]
    # Whatever is under a final name is complete: its name is its checksum.
    for sha in media.list():
        assert media.verify(sha), f"{sha} under its final name does not verify"
    return counts


@pytest.mark.slow
# The station's store is under test, not central's: one engine is enough for this long,
# timing-driven test (its "some kill landed mid-download" check is probabilistic).
@pytest.mark.parametrize("central_engine", ["sqlite"])
def test_sigkill_during_sync_never_leaves_an_inconsistent_store(central: Any, tmp_path: Path) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    data_dir = tmp_path / "device"
    config_path = tmp_path / "appliance.toml"
    _write_config(config_path, central, data_dir)
    config = config_module.load(config_path, env={})
    items: list[str] = []
    revoked: set[str] = set()

    def publish(round_no: int) -> None:
        for n in range(2):
            item_id, _ = central.audio_item(os.urandom(rng.randint(100_000, 600_000)),
                                            title=f"Bản tin {round_no}.{n}")
            items.append(item_id)
        items.append(central.text_item(title=f"Thông báo {round_no}"))
        live = [i for i in items[:-3] if i not in revoked]
        if round_no % 5 == 4 and live:
            victim = rng.choice(live)
            central.catalog.revoke_item(victim)
            revoked.add(victim)

    zygote = subprocess.Popen([sys.executable, "-c", ZYGOTE, str(config_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert zygote.stdin is not None and zygote.stdout is not None
    try:
        assert zygote.stdout.readline().strip() == "ready"

        def start() -> int:
            zygote.stdin.write("go\n")  # type: ignore[union-attr]
            zygote.stdin.flush()  # type: ignore[union-attr]
            return int(zygote.stdout.readline())  # type: ignore[union-attr]

        def finish() -> int:
            return int(zygote.stdout.readline())  # type: ignore[union-attr]

        # Calibrate: how long does an uninterrupted CLI sync of one round take here?
        publish(-1)
        began = time.monotonic()
        start()
        assert os.waitstatus_to_exitcode(finish()) == 0
        span = max(0.05, time.monotonic() - began)

        killed = interrupted = 0
        client = CentralClient.from_config(config, backoff_base_s=0.05)
        for round_no in range(ROUNDS):
            publish(round_no)
            pid = start()
            time.sleep(rng.uniform(0, span))
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            status = finish()
            if os.WIFSIGNALED(status):
                killed += 1
            counts = _check_consistent(config)
            if counts.get("waiting_media") or any(MediaStore(config.media_dir).root.rglob(f"{TEMP_PREFIX}*")):
                interrupted += 1
            # The next sync completes and leaves nothing waiting.
            with Store.open(config.db_path) as store:
                result = Syncer(config, store, MediaStore(config.media_dir), client).sync_once()
                assert result.ok, result.error
                now = utc_now_iso()
                waiting = [i["id"] for i in store.list_items(states=("waiting_media",))
                           if not i["valid_until"] or i["valid_until"] > now]
                assert waiting == []
            _check_consistent(config)
        client.close()
        print(f"\n{killed} of {ROUNDS} syncs killed in flight, {interrupted} left work unfinished"
              f" (calibrated sync span {span:.3f} s)")
        # The random delays must actually have hit syncs in flight, not just finished ones.
        assert killed >= ROUNDS // 5, f"only {killed} of {ROUNDS} syncs were killed in flight"
        assert interrupted >= 1
        with Store.open(config.db_path) as store:
            assert {i["id"] for i in store.list_items(states=("revoked",))} == revoked
            assert {i["id"] for i in store.list_items(states=("ready",))} == set(items) - revoked
    finally:
        if zygote.stdin:
            zygote.stdin.close()
        zygote.wait(timeout=30)
