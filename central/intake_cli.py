"""``commune-central source …``: configure intake sources, see their status, poll them now.

Examples::

    commune-central source add portal --kind feed --url https://baochinhphu.vn/rss/home.rss
    commune-central source add nchmf --kind cap --push --certificate nchmf.pem \\
        --auto-approve-sender canhbao@nchmf.gov.vn          # prints the push token once
    commune-central source list
    commune-central source poll portal                     # or --all (every enabled source)
    commune-central source entries portal                  # what it gave lately: drafts and their links
    commune-central source disable portal | enable portal | remove portal
    commune-central source token nchmf                     # a new push token (the old one stops working)
"""

from __future__ import annotations

import argparse
import json
import zoneinfo
from datetime import datetime
from pathlib import Path
from typing import Any

from protocol.errors import ValidationError

LOCAL = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")


def _local(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL).strftime("%d/%m/%Y %H:%M") if moment is not None else "-"


def _intake(args: argparse.Namespace) -> Any:
    from central.catalog import Catalog
    from central.config import from_args
    from central.intake.service import Intake

    config = from_args(args)
    catalog = Catalog(config.data_dir, config=config)
    return catalog, Intake(catalog)


def _read_certificate(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise ValidationError(f"Không đọc được tệp chứng thư {path}.", f"Cannot read the certificate file {path}.") from None


def cmd_source_add(args: argparse.Namespace) -> int:
    catalog, intake = _intake(args)
    with catalog:
        token = intake.sources.add(
            args.name, args.kind, args.url, push=args.push, enabled=not args.disabled,
            allowed_hosts=args.allow_host, zones=args.zones, interval_s=args.interval, fetch_pages=not args.no_pages,
            require_signature=not args.no_require_signature,
            certificates=[_read_certificate(p) for p in args.certificate], auto_senders=args.auto_approve_sender,
            timeout_s=args.timeout)
        status = intake.sources.get(args.name)
        print(f"source {status.id} ({status.kind}) {status.url or '-'} hosts {','.join(status.config.allowed_hosts) or '-'}")
        if token:
            print(f"push token (shown once / chỉ hiện một lần): {token}")
            print("  POST /v1/intake/cap with Authorization: Bearer <token>, body: one CAP 1.2 message")
    return 0


def cmd_source_list(args: argparse.Namespace) -> int:
    catalog, intake = _intake(args)
    with catalog:
        rows = intake.sources.list_sources()
    if args.json:
        print(json.dumps([s.as_json() for s in rows], ensure_ascii=False, indent=2))
        return 0
    print("nguồn/source\tloại/kind\tbật/on\tlấy được/taken\tthành công/last success\tlỗi/last error\turl")
    for s in rows:
        error = f"{s.last_error['code']}: {s.last_error['vi']}" if s.last_error else "-"
        print(f"{s.id}\t{s.kind}\t{'có' if s.enabled else 'không'}\t{s.items_taken}\t{_local(s.last_success_at)}\t"
              f"{error}\t{s.url or '(push)'}")
    return 0


def cmd_source_poll(args: argparse.Namespace) -> int:
    catalog, intake = _intake(args)
    with catalog:
        if args.all:
            names = [s.id for s in intake.sources.list_sources() if s.enabled and s.url]
        elif args.name:
            names = [args.name]
        else:
            raise ValidationError("Nêu tên nguồn hoặc --all.", "Name a source or give --all.")
        failed = 0
        for name in names:
            result = intake.poll(name)
            line = (f"{name}: HTTP {result.status or '-'}, {result.requests} yêu cầu/requests, "
                    f"{result.new} mới/new, {result.duplicates} trùng/duplicates")
            if result.error:
                failed += 1
                line += f"\n  Lỗi: {result.error.vi}\n  Error: {result.error.en}"
            for refused in result.refused[:5]:
                line += f"\n  từ chối/refused: {refused}"
            print(line)
        intake.close()
    return 1 if failed else 0


def cmd_source_entries(args: argparse.Namespace) -> int:
    catalog, intake = _intake(args)
    with catalog:
        rows = intake.sources.entries(args.name, limit=args.limit)
    print("lấy lúc/taken\tđăng lúc/published\tkết quả/outcome\tbản tin/item\tnguồn văn bản/text from\ttiêu đề/title\tliên kết/link")
    for e in rows:
        print(f"{_local(e.taken_at)}\t{_local(e.published_at)}\t{e.outcome}\t{e.item_id or '-'}\t{e.extraction}\t"
              f"{e.title}\t{e.link or '-'}" + (f"\n  {e.note}" if e.note else ""))
    return 0


def _set(args: argparse.Namespace, action: str) -> int:
    catalog, intake = _intake(args)
    with catalog:
        if action == "remove":
            intake.sources.remove(args.name)
        else:
            intake.sources.set_enabled(args.name, action == "enable")
    print(f"{args.name}: {action}d")
    return 0


def cmd_source_token(args: argparse.Namespace) -> int:
    catalog, intake = _intake(args)
    with catalog:
        print(f"push token (shown once / chỉ hiện một lần): {intake.sources.rotate_token(args.name)}")
    return 0


def add_intake_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    source = sub.add_parser("source", help="intake sources: RSS/Atom feeds and CAP alerts (issue 12)"
                            ).add_subparsers(dest="source_command", required=True)
    add = source.add_parser("add", parents=[common], help="configure a source")
    add.add_argument("name")
    add.add_argument("--kind", choices=("feed", "cap"), required=True)
    add.add_argument("--url", help="feed (or CAP message / CAP feed) to poll")
    add.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                     help="a host that may be fetched (repeatable; default: the URL's host; *.example.vn for subdomains)")
    add.add_argument("--zones", nargs="+", default=["*"], help="targets of this source's drafts")
    add.add_argument("--interval", type=int, default=900, help="seconds between polls (60..86400)")
    add.add_argument("--timeout", type=float, default=30.0, help="seconds one request may take in all")
    add.add_argument("--no-pages", action="store_true", help="feeds: use the feed's summary, fetch no article page")
    add.add_argument("--push", action="store_true", help="CAP: take messages posted to /v1/intake/cap (prints a token)")
    add.add_argument("--no-require-signature", action="store_true", help="CAP: take unsigned messages (never auto-approved)")
    add.add_argument("--certificate", action="append", default=[], metavar="PEM_FILE",
                     help="CAP: a trusted signing certificate (repeatable)")
    add.add_argument("--auto-approve-sender", action="append", default=[], metavar="SENDER",
                     help="CAP: this sender's signed Extreme/Immediate alerts air at once (repeatable)")
    add.add_argument("--disabled", action="store_true")
    add.set_defaults(func=cmd_source_add)
    listing = source.add_parser("list", parents=[common], help="sources and their status")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_source_list)
    poll = source.add_parser("poll", parents=[common], help="poll now")
    poll.add_argument("name", nargs="?")
    poll.add_argument("--all", action="store_true")
    poll.set_defaults(func=cmd_source_poll)
    entries = source.add_parser("entries", parents=[common], help="what a source gave lately (provenance of drafts)")
    entries.add_argument("name")
    entries.add_argument("--limit", type=int, default=20)
    entries.set_defaults(func=cmd_source_entries)
    for action in ("enable", "disable", "remove"):
        p = source.add_parser(action, parents=[common])
        p.add_argument("name")
        p.set_defaults(func=lambda args, action=action: _set(args, action))
    token = source.add_parser("token", parents=[common], help="CAP: a new push token")
    token.add_argument("name")
    token.set_defaults(func=cmd_source_token)
