"""``commune-radio panel``: serve the operator web panel with waitress (a production WSGI server)."""

from __future__ import annotations

import argparse
import logging

from appliance.commands import load_config
from appliance.state.config import Config
from appliance.state.store import Store


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", help="địa chỉ nghe / listen address (default: panel.listen)")
    parser.add_argument("--port", type=int, help="cổng / TCP port (default: panel.port)")
    # 4 (waitress's own default), not 8: the panel is one Python process, so more threads only
    # contend for the GIL; under 20 clients 8 threads had a ~40 % worse p99 (docs/benchmarks.md).
    # Nothing holds a worker long (argon2 has its own thread, media is sent by waitress's channel).
    parser.add_argument("--threads", type=int, default=4, help="số luồng / worker threads (default 4)")


def run(args: argparse.Namespace) -> int:
    from appliance.panel.accounts import Accounts
    from appliance.panel.serve import make_server

    config = load_config(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = Store.open(config.db_path)
    host = args.listen or config.panel.listen
    server = make_server(config, host=host, port=args.port or config.panel.port, threads=args.threads, store=store)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{server.effective_port}/"
    if not Accounts(store).has_users():
        setup = ("No account yet: open {url}setup to choose the admin password (possible once)."
                 if args.lang == "en" else
                 "Chưa có tài khoản: mở {url}setup để đặt mật khẩu quản trị (chỉ làm được một lần).")
        print(setup.format(url=url), flush=True)
    print(("Panel: " if args.lang == "en" else "Bảng điều khiển: ") + url, flush=True)
    https = _https(config, host, server, args.lang)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if https is not None:
            https.stop()
    return 0


def _https(config: Config, host: str, server: object, lang: str) -> object:
    """HTTPS beside HTTP when a certificate exists (browsers give the microphone only to it)."""
    from appliance.panel.tls import serve_https, tls_files

    files = tls_files(config.data_path)
    if not config.panel.https_port:
        return None
    if not files.ready():
        print(("No HTTPS: run `commune-radio panel-cert` (live voice from a phone needs it)." if lang == "en" else
               "Chưa có HTTPS: chạy `commune-radio panel-cert` (nói trực tiếp từ điện thoại cần HTTPS)."), flush=True)
        return None
    https = serve_https(server.application, files, host=host, port=config.panel.https_port)  # type: ignore[attr-defined]
    print(("Panel (HTTPS): " if lang == "en" else "Bảng điều khiển (HTTPS): ") + https.url, flush=True)
    return https
