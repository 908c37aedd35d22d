"""Automatic intake (issue 12): central retrieves news from RSS/Atom feeds and disaster
warnings as CAP 1.2 alerts, and turns each new one into an unapproved draft item.

Modules, one responsibility each:

- ``errors``      IntakeError: every failure an operator sees, bilingual, with a stable code
- ``plaintext``   HTML in titles and text reduced to plain text (pure)
- ``fetch``       the only network code: configured hosts only, bounded size and time,
                  conditional GET, redirects only to allowed hosts
- ``feeds``       RSS/Atom bytes → entries (feedparser; strict about broken XML)
- ``articles``    an article page → its text (trafilatura), the feed's summary as fallback
- ``cap``         CAP 1.2 messages → alerts, and what an alert means for an item (pure)
- ``capsig``      XML-DSig verification of CAP messages against pinned certificates (signxml)
- ``sources``     source configuration and status (the admin's side)
- ``drafts``      the DraftSink port, and its implementation over ``central.catalog.Catalog``
- ``poller``      poll due sources: fetch, parse, dedupe, turn new entries into drafts
- ``alerts``      take one CAP message (posted or polled): verify, decide, draft/approve/revoke
- ``provenance``  where a draft came from, for the editorial pages
- ``service``     all of it over one catalog, and the thread ``serve`` polls from
- (beside the package) ``central.intake_web``: /admin/sources, /api/intake/…, POST /v1/intake/cap;
  ``central.intake_cli``: ``commune-central source …``
- ``fixtures`` / ``fixture_server``   realistic and hostile inputs on loopback (tests, bench, demo)

Nothing taken in ever airs without an approver, except a CAP alert from a source whose
admin allowed automatic approval for its sender at Extreme/Immediate (signature required).
"""
