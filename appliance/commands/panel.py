"""``commune-radio panel``: serve the operator web panel with waitress (a production WSGI server)."""

from __future__ import annotations

import argparse
import logging

from appliance.commands import load_config
from appliance.store import Store


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", help="địa chỉ nghe / listen address (default: panel.listen)")
    parser.add_argument("--port", type=int, help="cổng / TCP port (default: panel.port)")
    parser.add_argument("--threads", type=int, default=8, help="số luồng / worker threads (default 8)")


def run(args: argparse.Namespace) -> int:
    import waitress

    from appliance.panel import create_app
    from appliance.panel.accounts import Accounts

    config = load_config(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # "Task queue depth" is logged for every queued request under load: noise in the journal.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    store = Store.open(config.db_path)
    app = create_app(config, store=store)
    host = args.listen or config.panel.listen
    port = args.port or config.panel.port
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/"
    if not Accounts(store).has_users():
        setup = ("Chưa có tài khoản: mở {url}setup để đặt mật khẩu quản trị (chỉ làm được một lần)."
                 if args.lang != "en" else "No account yet: open {url}setup to choose the admin password (once).")
        print(setup.format(url=url), flush=True)
    print(("Panel: " if args.lang == "en" else "Bảng điều khiển: ") + url, flush=True)
    # Waitress trusts no proxy headers by default: request.is_secure reflects the real scheme.
    waitress.serve(app, host=host, port=port, threads=args.threads, ident="commune-radio",
                   max_request_body_size=config.panel.max_upload_bytes + 1_000_000,
                   clear_untrusted_proxy_headers=True)
    return 0
