#!/usr/bin/env python3
"""Remove a pane, recreate it, and wait for the successor to be ready.

    remove_recreate.py <pane_id>

Prints the successor's id. A bad id prints the closed-set code decoded from
the daemon's ErrorInfo (e.g. managed_pane_not_found) and exits 2.
"""

import json
import sys
from datetime import timezone

from agenttower_client import ApiError, connect, pb, short_name


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    pane_id = sys.argv[1]
    with connect() as tower:
        try:
            removed = tower.managed.RemovePane(pb.RemovePaneRequest(pane_id=pane_id))
            print(f"removed {removed.pane.label} ({short_name(pb.PaneState, removed.pane.state)})")
            # Watch from the current end of the log so the successor's
            # events cannot slip past between the call and the stream.
            tail = tower.managed.ListEvents(pb.ListEventsRequest(newest_first=True, page_size=1))
            after = tail.events[0].sequence if tail.events else 0
            successor = tower.managed.RecreatePane(pb.RecreatePaneRequest(predecessor_pane_id=pane_id)).pane
        except ApiError as e:
            print(f"error: {e.code} {json.dumps(e.details, sort_keys=True)}", file=sys.stderr)
            return 2
        print(
            f"successor {successor.pane_id} (chain depth {successor.chain_depth}, "
            f"created {successor.create_time.ToDatetime(timezone.utc).isoformat(timespec='seconds')})"
        )
        stream = tower.managed.WatchEvents(
            pb.WatchEventsRequest(
                after_sequence=after,
                pane_id=successor.pane_id,
                event_types=[pb.EVENT_TYPE_MANAGED_PANE_STATE_CHANGED],
            )
        )
        to = "unknown"
        for item in stream:
            if not item.HasField("event") or item.event.WhichOneof("payload") != "managed_pane_state_changed":
                continue
            change = item.event.managed_pane_state_changed
            to = short_name(pb.PaneState, change.to_state)
            # A degraded or failed successor says why.
            reason = f" ({change.reason})" if change.reason and to != "ready" else ""
            print(f"successor {to}{reason}")
            break
        stream.cancel()
        return 0 if to == "ready" else 1


if __name__ == "__main__":
    sys.exit(main())
