"""``commune-central``: run the reference central and manage its devices and items.

Examples::

    commune-central init --data ./central-data          # key, database; says how to make the first admin
    commune-central user add lan --role admin           # a person (the password is asked for, never a default)
    commune-central user add binh --role editor --scope province --codes 08
    commune-central token add monitoring --role monitor # an automation token for /api (printed once)
    commune-central device add 26881-0001 --zones thon-1 thon-2
    commune-central item add --kind text --title "Lịch tiêm chủng" --text "…" --at "2025-06-01 06:30"
    commune-central item approve it-1a2b3c --by "Nguyễn Văn A"
    commune-central serve --data ./central-data --port 8700
    commune-central serve --config /etc/commune-central/central.toml   # PostgreSQL, retention…
    commune-central maintain --database-url postgresql://central@/central?host=/run/postgresql

Every command takes ``--config FILE`` (env COMMUNE_CENTRAL_CONFIG), ``--data DIR`` (env
COMMUNE_CENTRAL_DATA; the signing key and media live there) and ``--database-url URL`` (env
COMMUNE_CENTRAL_DATABASE_URL; default SQLite at DIR/central.db). See central/config.py.

Why this module is over 400 lines: it is the argument parser of every command central has
(people, tokens, devices, items, speech, voice packs, sources, serving, maintenance); each
command's body is a few lines that call a service, and the intake and monitoring commands
already live in their own modules.
"""

from __future__ import annotations

import argparse
import sys
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import protocol
from central.config import from_args as config_from_args
from protocol.errors import CommuneRadioError, ValidationError

DEFAULT_TZ = "Asia/Ho_Chi_Minh"


def _parse_local(text: str, tz: str) -> datetime:
    """'YYYY-MM-DD HH:MM[:SS]' in ``tz`` or an ISO time ending in Z → aware datetime."""
    text = text.strip()
    try:
        if text.endswith("Z"):
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise ValidationError(f"Thời gian không hợp lệ: {text!r} (dạng 'YYYY-MM-DD HH:MM').",
                              f"Invalid time {text!r} (expected 'YYYY-MM-DD HH:MM').") from None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    return moment.replace(tzinfo=_zone(tz))


def _zone(tz: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Múi giờ không tồn tại: {tz}", f"Unknown time zone {tz}") from None


def _local_floating(text: str, tz: str) -> str:
    moment = _parse_local(text, tz)
    return moment.astimezone(_zone(tz)).replace(tzinfo=None).isoformat(timespec="seconds")


def _catalog(args: argparse.Namespace) -> Any:
    from central.catalog import Catalog

    config = config_from_args(args)
    return Catalog(config.data_dir, config=config)


def _admin(catalog: Any) -> Any:
    from central.admin import AdminAuth

    return AdminAuth(catalog.store, clock=catalog.clock)


def _print_admin_token(token: str) -> None:
    print(f"API token (shown once / chỉ hiện một lần): {token}")
    print("  JSON API and monitoring: Authorization: Bearer <token>; people log in at /login with an account")


def _accounts(catalog: Any) -> Any:
    from central.editorial.accounts import Accounts
    from central.login_throttle import LoginThrottle

    return Accounts(catalog.store, clock=catalog.clock, throttle=LoginThrottle(catalog.clock))


def _first_admin_hint(catalog: Any) -> None:
    if not _accounts(catalog).has_people():
        print("Chưa có tài khoản; tạo quản trị viên đầu tiên / no account yet; make the first admin:")
        print("  commune-central user add NAME --role admin   (mật khẩu được hỏi / the password is asked for)")


def cmd_init(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog:
        print(f"Dữ liệu trung tâm / central data: {catalog.data_dir.resolve()}")
        print(f"Cơ sở dữ liệu / database: {catalog.store.database.describe()}")
        _first_admin_hint(catalog)
        print(f"key_id: {catalog.key_id}")
        print(f"public_key: {catalog.public_key_b64}")
    return 0


def cmd_public_key(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog:
        print(catalog.public_key_b64)
    return 0


def cmd_admin_token(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog, _admin(catalog) as admin:
        _print_admin_token(admin.create_token("admin", ("admin",), by=f"cli:{_os_user()}"))
    print("Mã 'admin' cũ đã bị thu hồi / the previous 'admin' token is revoked.")
    return 0


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


def _read_password(args: argparse.Namespace) -> str:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Mật khẩu / password: ")
    if getpass.getpass("Nhập lại / repeat: ") != first:
        raise ValidationError("Hai lần nhập mật khẩu không khớp.", "The two passwords do not match.")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog:
        person = _accounts(catalog).add_person(
            args.username, _read_password(args), roles=args.role, scope_kind=args.scope,
            scope_codes=args.codes, display_name=args.name or "", language=args.language, by=f"cli:{_os_user()}")
        print(f"{person.username}\t{','.join(person.roles)}\t{person.scope}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog:
        for person in _accounts(catalog).list_people():
            print(f"{person.username}\t{','.join(person.roles)}\t{person.scope}\t"
                  f"{'disabled' if person.disabled else 'enabled'}\t{person.display_name}")
    return 0


def cmd_token_add(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog, _admin(catalog) as admin:
        _print_admin_token(admin.create_token(args.name, args.role, by=f"cli:{_os_user()}", replace=False))
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog, _admin(catalog) as admin:
        for token in admin.tokens():
            state = f"revoked {protocol.format_utc(token.revoked_at)}" if token.revoked_at else "live"
            print(f"{token.id}\t{token.name}\t{','.join(token.roles)}\t{state}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog, _admin(catalog) as admin:
        if not admin.revoke(args.token_id, by=f"cli:{_os_user()}"):
            raise ValidationError(f"Không có mã đang dùng số {args.token_id}.", f"No live token {args.token_id}.")
        print(f"token {args.token_id} revoked")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from central.proxies import parse_networks
    from central.serving import ServeOptions, serve_gunicorn, serve_waitress

    parse_networks(args.trusted_proxy)  # a typo is an error before anything starts
    config = config_from_args(args)
    # Before any worker starts: migrate the schema, make the key; say how to make the first admin.
    with _catalog(args) as catalog:
        _first_admin_hint(catalog)
        shown = catalog.store.database.describe()
    options = ServeOptions(host=args.host, port=args.port, threads=args.threads,
                           trusted_proxies=tuple(args.trusted_proxy), access_log=args.access_log,
                           **({"workers": args.workers} if args.workers else {}))
    server = args.server or ("gunicorn" if sys.platform.startswith("linux") else "waitress")
    print(f"commune-central: http://{args.host}:{args.port} ({server}, "
          f"{options.workers if server == 'gunicorn' else 1} process(es) × {options.threads} threads; "
          f"data {config.data_dir.resolve()}, database {shown})", flush=True)
    if server == "gunicorn":
        serve_gunicorn(config, options)
    else:
        serve_waitress(config, options)
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from central.maintenance import run_once

    config = config_from_args(args)
    with _catalog(args) as catalog:
        done = run_once(catalog.store, config.retention, catalog.clock())
    for key, value in done.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key}: {shown if shown != '' else '-'}")
    return 0


def cmd_copy_database(args: argparse.Namespace) -> int:
    from central.store import Store
    from central.store.copy import copy_database

    config = config_from_args(args)
    source = Store.open(config.effective_database_url)
    try:
        target = Store.open(args.to)
        try:
            counts = copy_database(source, target)
            shown = target.database.describe()
        finally:
            target.close()
    finally:
        source.close()
    for table, count in counts.items():
        print(f"{table}\t{count}")
    print(f"Đã chép sang / copied to {shown}. Đặt [database] url = ... rồi khởi động lại / "
          "set [database] url to it and restart central.")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from central.store.migrate import head_revision

    with _catalog(args) as catalog:  # opening migrates
        print(f"{catalog.store.database.describe()}: schema {head_revision()} (newest)")
    return 0


def cmd_device_add(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog:
        token = catalog.add_device(args.device_id, args.zones, province=args.province)
        print(f"device {args.device_id} zones {' '.join(args.zones)}")
        print(f"token (shown once / chỉ hiện một lần): {token}")
    return 0


def cmd_device_import(args: argparse.Namespace) -> int:
    from central.registration import parse_csv, write_token_files

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Không đọc được tệp {args.file}: {exc}", f"Cannot read {args.file}: {exc}") from None
    rows = parse_csv(text)
    tokens_dir = Path(args.tokens_dir)
    taken = [r.device_id for r in rows if (tokens_dir / f"{r.device_id}.token").exists()]
    if taken:  # checked before registering: a token is shown only once
        raise ValidationError(f"Tệp mã đã có: {taken[0]}.token (chọn thư mục khác).",
                              f"A token file exists already: {taken[0]}.token (choose another directory).")
    with _catalog(args) as catalog:
        tokens = catalog.add_devices([(r.device_id, r.zones, r.province) for r in rows])
    paths = write_token_files(tokens_dir, tokens)
    print(f"Đã đăng ký {len(tokens)} thiết bị / registered {len(tokens)} devices; "
          f"tệp mã / token files: {tokens_dir.resolve()} ({len(paths)})")
    return 0


def cmd_device_list(args: argparse.Namespace) -> int:
    from central.monitor import Monitor

    with _catalog(args) as catalog:
        monitor = Monitor(catalog.store, clock=catalog.clock, private_key=catalog.private_key)
        for device in catalog.list_devices():
            seen = monitor.device_state(device.id)[0]
            print(f"{device.id}\t{','.join(device.zones)}\tlast seen {seen or '-'}")
    return 0


def _schedule(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.at and args.rrule:
        raise ValidationError("Chọn --at hoặc --rrule, không dùng cả hai.", "Use --at or --rrule, not both.")
    if args.at:
        starts = [protocol.format_utc(_parse_local(at, args.tz)) for at in args.at]
        return {"type": "once", "starts": starts, "duration_s": args.duration}
    if args.rrule:
        if not args.dtstart:
            raise ValidationError("--rrule cần --dtstart (giờ địa phương).", "--rrule needs --dtstart (local time).")
        return {"type": "rrule", "dtstart": _local_floating(args.dtstart, args.tz), "tzid": args.tz,
                "rrule": args.rrule, "exdates": [_local_floating(x, args.tz) for x in args.exdate],
                "duration_s": args.duration}
    return None


def cmd_item_add(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog:
        media = None
        if args.kind == "audio":
            if not args.file:
                raise ValidationError("Bản tin âm thanh cần --file.", "An audio item needs --file.")
            media = catalog.add_media(Path(args.file), mime=args.mime)
        elif args.kind == "stream":
            if not args.url:
                raise ValidationError("Bản tin tiếp sóng cần --url.", "A stream item needs --url.")
            media = {"url": args.url, "mime": args.mime or "audio/mpeg"}
        item_id = catalog.add_item(
            kind=args.kind, title=args.title, text=args.text or "", language=args.language, media=media,
            priority=args.priority,
            valid_from=protocol.format_utc(_parse_local(args.valid_from, args.tz)) if args.valid_from else None,
            valid_until=protocol.format_utc(_parse_local(args.valid_until, args.tz)) if args.valid_until else None,
            zones=args.zones, devices=args.devices, schedule=_schedule(args), item_id=args.id)
        if args.approve:
            catalog.approve_item(item_id, by=args.approve)
        print(item_id)
    return 0


def cmd_item_approve(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog:
        doc = catalog.approve_item(args.item_id, by=args.by)
        print(f"{doc['id']} version {doc['version']} approved by {doc['approved_by']}")
    return 0


def cmd_item_revoke(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog:
        doc = catalog.revoke_item(args.item_id, by=args.by)
        print(f"{args.item_id} revoked" + (f" (version {doc['version']})" if doc else " (never published)"))
    return 0


def cmd_item_list(args: argparse.Namespace) -> int:
    with _catalog(args) as catalog:
        for row in catalog.list_items():
            print(f"{row['id']}\t{row['state']}\tv{row['version']}\t{row['kind']}\t{row['priority']}\t"
                  f"{','.join(row['zones'])}\t{row['title']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="configuration file (TOML; env COMMUNE_CENTRAL_CONFIG)")
    common.add_argument("--data", help="data directory: signing key, media, SQLite database "
                                       "(env COMMUNE_CENTRAL_DATA; default ./central-data)")
    common.add_argument("--database-url", help="sqlite:///PATH or postgresql://USER@HOST/NAME "
                                               "(env COMMUNE_CENTRAL_DATABASE_URL; default SQLite in the data directory)")
    parser = argparse.ArgumentParser(prog="commune-central", description="Reference central server (protocol v1)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init", parents=[common],
                   help="create the data dir, signing key and database; print the public key"
                   ).set_defaults(func=cmd_init)
    sub.add_parser("admin-token", parents=[common],
                   help="replace the automation token named 'admin' (admin role; printed once)"
                   ).set_defaults(func=cmd_admin_token)
    user = sub.add_parser("user", help="people (editors, approvers, admins)").add_subparsers(
        dest="user_command", required=True)
    add = user.add_parser("add", parents=[common], help="add a person (the password is asked for)")
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True, choices=("editor", "approver", "admin"),
                     help="repeatable")
    add.add_argument("--scope", default="country", choices=("country", "province", "communes"))
    add.add_argument("--codes", nargs="*", default=[], help="province codes (2 digits) or commune codes (5 digits)")
    add.add_argument("--name", help="full name shown in the pages and on approvals")
    add.add_argument("--language", default="vi", choices=("vi", "en"))
    add.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    add.set_defaults(func=cmd_user_add)
    user.add_parser("list", parents=[common]).set_defaults(func=cmd_user_list)
    token = sub.add_parser("token", help="automation tokens for the JSON API").add_subparsers(
        dest="token_command", required=True)
    add = token.add_parser("add", parents=[common], help="make a token (printed once)")
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, choices=("monitor", "admin"))
    add.set_defaults(func=cmd_token_add)
    token.add_parser("list", parents=[common]).set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", parents=[common], help="revoke a token by its number")
    revoke.add_argument("token_id", type=int)
    revoke.set_defaults(func=cmd_token_revoke)
    sub.add_parser("public-key", parents=[common], help="print the public key (base64)"
                   ).set_defaults(func=cmd_public_key)
    serve = sub.add_parser("serve", parents=[common],
                           help="serve protocol v1 and the monitoring pages (gunicorn, several processes; "
                                "or waitress); the pages and /api/monitor need the admin token")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8700)
    serve.add_argument("--server", choices=("gunicorn", "waitress"),
                       help="gunicorn: worker processes with threads (default on Linux); waitress: one process")
    serve.add_argument("--workers", type=int, help="gunicorn worker processes (default: cores + 1)")
    serve.add_argument("--threads", type=int, default=8, help="request threads per process")
    serve.add_argument("--access-log", action="store_true", help="log every request to standard output")
    serve.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                       help="a reverse proxy (IP address or network) believed about X-Forwarded-Proto/-For: "
                            "behind a TLS proxy, cookies become Secure and HSTS is sent (repeatable)")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("maintain", parents=[common],
                   help="apply the retention periods now (serve does it hourly); PostgreSQL: make the "
                        "coming months' log partitions").set_defaults(func=cmd_maintain)
    copy = sub.add_parser("copy-database", parents=[common],
                          help="copy this central's database into a new, empty one (SQLite → PostgreSQL)")
    copy.add_argument("--to", required=True, metavar="URL", help="the new database (created, empty)")
    copy.set_defaults(func=cmd_copy_database)
    sub.add_parser("migrate", parents=[common],
                   help="bring the database to the newest schema (every command does it when needed)"
                   ).set_defaults(func=cmd_migrate)

    device = sub.add_parser("device", help="devices").add_subparsers(dest="device_command", required=True)
    add = device.add_parser("add", parents=[common], help="register a device; prints its token once")
    add.add_argument("device_id")
    add.add_argument("--zones", nargs="+", required=True)
    add.add_argument("--province", default="", help="the province shown and filtered on by the fleet pages")
    add.set_defaults(func=cmd_device_add)
    bulk = device.add_parser("import", parents=[common],
                             help="register every device of a CSV file (device_id,zones[,province]) in one go; "
                                  "writes a <device_id>.token file per device")
    bulk.add_argument("file", help="UTF-8 CSV with a header row: device_id, zones (space or ; separated), province")
    bulk.add_argument("--tokens-dir", required=True, help="where the token files go (created, mode 0700)")
    bulk.set_defaults(func=cmd_device_import)
    device.add_parser("list", parents=[common]).set_defaults(func=cmd_device_list)

    item = sub.add_parser("item", help="items").add_subparsers(dest="item_command", required=True)
    add = item.add_parser("add", parents=[common], help="create a draft item; prints its id")
    add.add_argument("--kind", choices=protocol.KINDS, required=True)
    add.add_argument("--title", required=True)
    add.add_argument("--text", default="")
    add.add_argument("--file", help="audio file (kind audio)")
    add.add_argument("--url", help="absolute http(s) stream URL (kind stream)")
    add.add_argument("--mime")
    add.add_argument("--language", default="vi")
    add.add_argument("--priority", choices=protocol.PRIORITIES, default="normal")
    add.add_argument("--zones", nargs="+", default=["*"])
    add.add_argument("--devices", nargs="+", default=["*"])
    add.add_argument("--valid-from", help="local 'YYYY-MM-DD HH:MM' (or UTC ending in Z); default now")
    add.add_argument("--valid-until", help="local 'YYYY-MM-DD HH:MM' (or UTC ending in Z)")
    add.add_argument("--at", action="append", default=[], help="one-off local start time (repeatable)")
    add.add_argument("--rrule", help="RFC 5545 RRULE, e.g. 'FREQ=DAILY;BYHOUR=6;BYMINUTE=30'")
    add.add_argument("--dtstart", help="local first occurrence for --rrule")
    add.add_argument("--exdate", action="append", default=[], help="local excluded occurrence (repeatable)")
    add.add_argument("--duration", type=int, default=300, help="slot length in seconds")
    add.add_argument("--tz", default=DEFAULT_TZ, help="zone of the local times given")
    add.add_argument("--id", help="item id (default: generated)")
    add.add_argument("--approve", metavar="NAME", help="approve at once as NAME")
    add.set_defaults(func=cmd_item_add)
    approve = item.add_parser("approve", parents=[common], help="sign and publish the pending version")
    approve.add_argument("item_id")
    approve.add_argument("--by", required=True)
    approve.set_defaults(func=cmd_item_approve)
    revoke = item.add_parser("revoke", parents=[common], help="withdraw an item from every device")
    revoke.add_argument("item_id")
    revoke.add_argument("--by", default="central")
    revoke.set_defaults(func=cmd_item_revoke)
    item.add_parser("list", parents=[common]).set_defaults(func=cmd_item_list)

    from central.speech_cli import add_speech_commands  # issue 17: item speech, voice-pack

    add_speech_commands(sub, item, common, _catalog)

    from central.monitoring_cli import add_monitoring_commands  # issue 5: command, monitor

    add_monitoring_commands(sub, common)
    from central.intake_cli import add_intake_commands  # issue 12: source add/list/poll/…

    add_intake_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CommuneRadioError as exc:
        print(f"Lỗi: {exc.vi}\nError: {exc.en}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
