#!/usr/bin/env python3
"""Print every layout (all pages) as one JSON document on stdout.

    list_layouts.py [--container ID] [--panes]

The JSON is canonical proto3 JSON: enum value names (`LAYOUT_STATE_READY`),
timestamps as RFC 3339 text. ListLayouts answers layouts without their panes;
with --panes each layout is read again with GetLayout, which fills
`layout.panes`.
"""

import argparse
import json
import sys

from google.protobuf import json_format

from agenttower_client import ApiError, connect, pb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--container", default="")
    parser.add_argument("--panes", action="store_true", help="include each layout's panes (GetLayout)")
    args = parser.parse_args()
    layouts = []
    with connect() as tower:
        token = ""
        try:
            while True:
                page = tower.managed.ListLayouts(
                    pb.ListLayoutsRequest(container_id=args.container, page_size=200, page_token=token)
                )
                for layout in page.layouts:
                    if args.panes:
                        layout = tower.managed.GetLayout(pb.GetLayoutRequest(layout_id=layout.layout_id)).layout
                    layouts.append(json_format.MessageToDict(layout, preserving_proto_field_name=True))
                token = page.next_page_token
                if not token:
                    break
        except ApiError as e:
            print(json.dumps({"error": {"code": e.code, "message": e.message, "details": e.details}}))
            return 2
    json.dump({"layouts": layouts}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
