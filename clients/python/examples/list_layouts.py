#!/usr/bin/env python3
"""Print every layout (all pages) as one JSON document on stdout.

    list_layouts.py [--container ID]
"""

import argparse
import json
import sys

from google.protobuf import json_format

from agenttower_client import ApiError, connect, pb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--container", default="")
    args = parser.parse_args()
    layouts = []
    with connect() as tower:
        token = ""
        while True:
            try:
                page = tower.managed.ListLayouts(
                    pb.ListLayoutsRequest(container_id=args.container, page_size=200, page_token=token)
                )
            except ApiError as e:
                print(json.dumps({"error": {"code": e.code, "message": e.message, "details": e.details}}))
                return 2
            layouts += [json_format.MessageToDict(l, preserving_proto_field_name=True) for l in page.layouts]
            token = page.next_page_token
            if not token:
                break
    json.dump({"layouts": layouts}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
