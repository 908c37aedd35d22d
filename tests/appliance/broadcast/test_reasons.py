"""Play-log reasons in Vietnamese (appliance/broadcast/reasons.py): a shape whose group is the
whole sentence must not recurse on itself (the demo's "demo finished" did, and its play ended
'failed' with a RecursionError instead of 'interrupted')."""

from __future__ import annotations

import pytest

from appliance.broadcast.reasons import vietnamese


@pytest.mark.parametrize("reason", ["demo finished", "daemon stopping", "stopped by panel:lan; demo finished"])
def test_stop_reasons_translate_without_recursing(reason: str) -> None:
    said = vietnamese(reason)
    assert "Trạm dừng dịch vụ phát" in said and "tiếng Anh" not in said
