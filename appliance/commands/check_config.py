"""``commune-radio check-config``: validate and print the effective configuration, secrets masked.

Effective means the file plus the operator's panel overrides stored in the station's database
(what the daemon runs with); each panel-editable value says whether it comes from the file or
from the panel.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import Any

from appliance.commands import load_config
from appliance.state import settings as operator_settings
from appliance.state.config import Config, as_display_dict
from appliance.state.store import Store
from protocol.errors import CommuneRadioError


def effective_with_sources(config: Config) -> tuple[Config, list[dict[str, Any]]]:
    """The file's config with the stored panel overrides, and each editable value's source. A
    station without a database yet has only the file."""
    if not config.db_path.exists():
        return config, operator_settings.sources(config, _NoStore())
    with contextlib.suppress(CommuneRadioError, OSError), Store.open(config.db_path, migrate=False) as store:
        return operator_settings.effective_config(config, store), operator_settings.sources(config, store)
    return config, operator_settings.sources(config, _NoStore())


class _NoStore:
    def query(self, *_: Any) -> list[Any]:
        return []


def format_sources(entries: list[dict[str, Any]], *, en: bool) -> list[str]:
    """One line per panel-editable setting: value and where it comes from."""
    lines = ["# " + ("Settings the panel can change (value, source)" if en
                     else "Cài đặt sửa được trên bảng điều khiển (giá trị, nguồn)")]
    for entry in entries:
        if entry.get("source") == "panel":
            source = (f"panel ({entry.get('updated_by')}, {entry.get('updated_at')})" if en
                      else f"bảng điều khiển ({entry.get('updated_by')}, {entry.get('updated_at')})")
        else:
            source = "file" if en else "tệp cấu hình"
            if entry.get("ignored_override"):
                source += " (panel value invalid, ignored)" if en else " (giá trị trên bảng điều khiển không hợp lệ, bỏ qua)"
        lines.append(f"  {entry['key']} = {json.dumps(entry.get('value'), ensure_ascii=False)}  # {source}")
    return lines


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="in JSON / as JSON")


def run(args: argparse.Namespace) -> int:
    config, sources = effective_with_sources(load_config(args))
    data = as_display_dict(config)
    if args.json:
        print(json.dumps(data | {"settings_sources": sources}, ensure_ascii=False, indent=2))
        return 0
    ok = "Configuration is valid" if args.lang == "en" else "Cấu hình hợp lệ"
    print(f"# {ok}: {config.source}")
    for key, value in data.items():
        if isinstance(value, dict):
            print(f"[{key}]")
            for k, v in value.items():
                print(f"  {k} = {json.dumps(v, ensure_ascii=False)}")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for entry in value:
                print(f"[[{key}]]")
                for k, v in entry.items():
                    print(f"  {k} = {json.dumps(v, ensure_ascii=False)}")
        else:
            print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    print("\n".join(format_sources(sources, en=args.lang == "en")))
    return 0
