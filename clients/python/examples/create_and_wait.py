#!/usr/bin/env python3
"""Create a layout and wait until it is ready by watching its events.

    create_and_wait.py <session> [template] [container]

Prints each event as it arrives; exits 0 when the layout is ready, 1 when it
settles otherwise, 2 on a closed-set error (printed as code and details).
"""

import json
import sys

from agenttower_client import ApiError, connect, pb


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    session = sys.argv[1]
    template = sys.argv[2] if len(sys.argv) > 2 else "1m+2s"
    container = sys.argv[3] if len(sys.argv) > 3 else "local"
    with connect() as tower:
        try:
            created = tower.managed.CreateLayout(
                pb.CreateLayoutRequest(container_id=container, template_name=template, tmux_session_name=session)
            )
        except ApiError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"layout {created.layout_id} created")
        # Replay this layout's events from the start, then follow them live.
        stream = tower.managed.WatchEvents(pb.WatchEventsRequest(layout_id=created.layout_id))
        state = "creating"
        for item in stream:
            if not item.HasField("event"):
                continue
            e = item.event
            payload = json.loads(e.payload_json or "{}")
            print(f"#{e.sequence} {pb.EventType.Name(e.event_type)} {payload.get('label', '')} {payload.get('to', '')}".rstrip())
            if e.event_type == pb.EVENT_TYPE_MANAGED_LAYOUT_STATE_CHANGED and payload["to"] != "creating":
                state = payload["to"]
                break
        stream.cancel()
        print(f"settled {state}")
        return 0 if state == "ready" else 1


if __name__ == "__main__":
    sys.exit(main())
