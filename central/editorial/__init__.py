"""Central as the source system's editorial side (issue 12): people and roles, Vietnam's
administrative units, and the write → submit → approve (sign) workflow with each item's history.

``accounts`` (people, sessions, automation tokens, audit), ``units`` (provinces and communes
from the maintained ``vietnam-provinces`` package), ``scope`` (what a person may target and
review: pure), ``schedules`` (plain-language schedules ↔ protocol schedules: pure), ``diff``
(changes since the last approved version: pure), ``workflow`` (the editorial service over the
catalog), ``speech`` (previews and audio preparation through the station's own pipeline),
``web`` and ``views_*`` (the browser pages).
"""
