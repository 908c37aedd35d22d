"""Who an item reaches, as audience keys a database index can answer (pure).

An item targets ``zones`` (or ``["*"]``) and ``devices`` (or ``["*"]``); a device receives it
when both match (docs/protocol.md §6). Central may also limit an item to a list of
``communes`` (5-digit commune codes; a province is its communes, ``central.editorial.units``):
a device is in the commune its id starts with. ``None`` means every commune. The signed
document carries zones and devices; the commune limit is central's, applied to the feed.

For the feed index, each publication is filed under the most selective keys of its targeting
(``device:<id>`` when it names devices, else ``commune:<code>`` per commune, else
``zone:<name>`` per zone, else ``all``), and a device reads the keys it belongs to; the exact
rule (``reaches``) is applied again to what the index returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

ALL = "all"


def commune_of(device_id: str) -> str:
    """The commune code a device id starts with (protocol: 5 digits, '-', serial)."""
    return device_id.split("-", 1)[0]


def item_audience(zones: Sequence[str], devices: Sequence[str],
                  communes: Sequence[str] | None = None) -> list[str]:
    """The keys a publication with this targeting is filed under (sorted, no duplicates)."""
    if list(devices) != ["*"]:
        return sorted({f"device:{d}" for d in devices})
    if communes is not None:
        return sorted({f"commune:{c}" for c in communes})
    if list(zones) != ["*"]:
        return sorted({f"zone:{z}" for z in zones})
    return [ALL]


def device_audience(device_id: str, zones: Iterable[str]) -> list[str]:
    """Every key under which a publication for this device can be filed."""
    return [ALL, f"commune:{commune_of(device_id)}", f"device:{device_id}", *sorted({f"zone:{z}" for z in zones})]


def reaches(zones: Sequence[str], devices: Sequence[str], device_id: str, device_zones: Iterable[str],
            communes: Sequence[str] | None = None) -> bool:
    """The protocol's targeting rule (the device is named, or all are, and shares a zone, or all
    are), and central's commune limit."""
    device_ok = list(devices) == ["*"] or device_id in devices
    zone_ok = list(zones) == ["*"] or bool(set(zones) & set(device_zones))
    commune_ok = communes is None or commune_of(device_id) in communes
    return device_ok and zone_ok and commune_ok
