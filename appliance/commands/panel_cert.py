"""``commune-radio panel-cert``: make the panel's HTTPS certificate (install.sh runs it once).

The station's own certificate authority is created the first time and kept; each run makes a
new server certificate for this host's names and addresses (``--address`` adds more, e.g. the
LAN address a DHCP server gave). Restart the panel to use it. See appliance.panel.tls.
"""

from __future__ import annotations

import argparse

from appliance.commands import load_config


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", action="append", default=[],
                        help="thêm địa chỉ IP / an extra IP address for the certificate (repeatable)")
    parser.add_argument("--name", action="append", default=[],
                        help="thêm tên máy / an extra host name for the certificate (repeatable)")
    parser.add_argument("--dir", help="thư mục chứng chỉ / certificate folder (default: <data_dir>/panel-tls)")
    parser.add_argument("--if-missing", action="store_true",
                        help="chỉ tạo khi chưa có / only when no certificate exists yet")


def run(args: argparse.Namespace) -> int:
    import ipaddress
    from pathlib import Path

    from appliance.panel.tls import TlsFiles, local_names, make_certificate, tls_files
    from protocol.errors import ValidationError

    commune = ""
    if args.dir:                       # install.sh: no configuration needed
        files = TlsFiles(Path(args.dir))
    else:
        config = load_config(args)
        files, commune = tls_files(config.data_path), config.device.id
    if args.if_missing and files.ready():
        print(f"{files.cert}: {'already there' if args.lang == 'en' else 'đã có'}")
        return 0
    names, addresses = local_names()
    for value in args.address:
        for part in value.split():
            try:
                addresses.append(str(ipaddress.ip_address(part)))
            except ValueError:
                raise ValidationError(f"Địa chỉ IP không hợp lệ: {part}", f"Invalid IP address: {part}",
                                      code="invalid_input.address") from None
    names += args.name
    found = make_certificate(files, names=sorted(set(names)), addresses=sorted(set(addresses)), commune=commune)
    if args.lang == "en":
        print(f"Certificate {files.cert} for {', '.join(sorted(set(names + addresses)))}.")
        print(f"Station CA to install on phones: {files.ca} (SHA-256 {found})")
    else:
        print(f"Chứng chỉ {files.cert} cho {', '.join(sorted(set(names + addresses)))}.")
        print(f"Chứng chỉ gốc của trạm (cài lên điện thoại): {files.ca} (SHA-256 {found})")
    return 0
