"""``commune-radio check-config``: validate and print the effective configuration, secrets masked."""

from __future__ import annotations

import argparse
import json

from appliance.commands import load_config
from appliance.state.config import as_display_dict


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="in JSON / as JSON")


def run(args: argparse.Namespace) -> int:
    config = load_config(args)
    data = as_display_dict(config)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
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
    return 0
