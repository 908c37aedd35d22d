"""Play-log reasons in Vietnamese (appliance/broadcast/reasons.py)."""

from __future__ import annotations

import pytest

from appliance.broadcast.reasons import vietnamese


@pytest.mark.parametrize("reason", ["demo finished", "daemon stopping", "during warm-up: demo finished"])
def test_a_stop_at_shutdown_reads_in_vietnamese_without_recursing(reason: str) -> None:
    # "demo finished" matched a pattern whose group was itself "demo finished", translated again
    # forever (RecursionError): the demo's first bulletin was logged 'failed' when it stopped.
    assert vietnamese(reason).endswith("Trạm dừng dịch vụ phát")
