"""Who an item reaches, as audience keys a database index can answer (pure).

An item targets ``zones`` (or ``["*"]``) and ``devices`` (or ``["*"]``); a device receives it
when both match (docs/protocol.md §6). For the feed index, each publication is filed under the
most selective keys of its targeting (``device:<id>`` when it names devices, else
``zone:<name>`` per zone, else ``all``), and a device reads the keys it belongs to; the exact
rule (``reaches``) is applied again to what the index returns. New kinds of target (provinces,
communes) add a key kind here and a migration that refiles published items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

ALL = "all"


def item_audience(zones: Sequence[str], devices: Sequence[str]) -> list[str]:
    """The keys a publication with this targeting is filed under (sorted, no duplicates)."""
    if list(devices) != ["*"]:
        return sorted({f"device:{d}" for d in devices})
    if list(zones) != ["*"]:
        return sorted({f"zone:{z}" for z in zones})
    return [ALL]


def device_audience(device_id: str, zones: Iterable[str]) -> list[str]:
    """Every key under which a publication for this device can be filed."""
    return [ALL, f"device:{device_id}", *sorted({f"zone:{z}" for z in zones})]


def reaches(zones: Sequence[str], devices: Sequence[str], device_id: str, device_zones: Iterable[str]) -> bool:
    """The protocol's targeting rule: the device is named (or all are) and shares a zone (or all)."""
    device_ok = list(devices) == ["*"] or device_id in devices
    zone_ok = list(zones) == ["*"] or bool(set(zones) & set(device_zones))
    return device_ok and zone_ok
