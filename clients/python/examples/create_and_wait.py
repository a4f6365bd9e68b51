#!/usr/bin/env python3
"""Create a layout and wait until it is ready by watching its events.

    create_and_wait.py <session> [template] [container]

Prints each event as it arrives (sequence, time, type and, for a state
change, the subject and its new state); exits 0 when the layout is ready, 1
when it settles otherwise, 2 on a closed-set error (printed as code and
details).
"""

import sys

from agenttower_client import ApiError, connect, pb, short_name


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
        layout = created.layout
        print(f"layout {layout.layout_id} created with {len(layout.panes)} panes")
        labels = {p.pane_id: p.label for p in layout.panes}
        # Replay this layout's events from the start, then follow them live.
        stream = tower.managed.WatchEvents(pb.WatchEventsRequest(layout_id=layout.layout_id))
        state = "creating"
        for item in stream:
            if not item.HasField("event"):
                continue
            e = item.event
            line = f"#{e.sequence} {e.event_time.ToJsonString()} {short_name(pb.EventType, e.event_type)}"
            # The payload member is named like the event type; a type newer
            # than this client has none.
            kind = e.WhichOneof("payload")
            if kind == "managed_pane_state_changed":
                change = e.managed_pane_state_changed
                label = change.label or labels.get(e.pane_id, e.pane_id)
                line += f" {label} {short_name(pb.PaneState, change.to_state)}"
            elif kind == "managed_layout_state_changed":
                change = e.managed_layout_state_changed
                line += f" {short_name(pb.LayoutState, change.to_state)}"
                line += f" ({change.ready_pane_count}/{change.intended_pane_count} ready)"
            print(line)
            if kind == "managed_layout_state_changed" and change.to_state != pb.LAYOUT_STATE_CREATING:
                state = short_name(pb.LayoutState, change.to_state)
                break
        stream.cancel()
        print(f"settled {state}")
        return 0 if state == "ready" else 1


if __name__ == "__main__":
    sys.exit(main())
