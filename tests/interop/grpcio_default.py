#!/usr/bin/env python3
"""A script author's first grpcio client of agenttowerd, with DEFAULT settings.

    grpcio_default.py <socket> <session>

Stubs are generated from proto/ by `python -m grpc_tools.protoc` (put their
directory on PYTHONPATH); the channel is `grpc.insecure_channel("unix://...")`
with no options and no authority override, so grpc-core sends its own
:authority (the %-encoded socket path). Creates a layout, polls it ready,
watches for its creation event, provokes a not-found error and decodes its
google.rpc.ErrorInfo, and asks the health service. The last line printed is
a JSON summary for tests/interop.rs.
"""

import json
import sys
import time
import uuid

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from agenttower.v1 import events_pb2, managed_sessions_pb2 as ms, managed_sessions_pb2_grpc, types_pb2

TIMEOUT = 10  # seconds per call
DEADLINE = 30  # seconds for the layout to become ready


def wait_ready(stub, layout_id):
    """Polls GetLayout until the layout leaves CREATING or the deadline passes."""
    deadline = time.monotonic() + DEADLINE
    while True:
        layout = stub.GetLayout(ms.GetLayoutRequest(layout_id=layout_id), timeout=TIMEOUT).layout
        if layout.state != types_pb2.LAYOUT_STATE_CREATING or time.monotonic() > deadline:
            return layout
        time.sleep(0.05)  # poll interval, not a wait for readiness


def created_event(stub, session):
    """Replays the event log from the start until this session's creation."""
    stream = stub.WatchEvents(ms.WatchEventsRequest(after_sequence=0), timeout=DEADLINE)
    try:
        for item in stream:
            e = item.event
            if (
                item.WhichOneof("item") == "event"
                and e.event_type == events_pb2.EVENT_TYPE_MANAGED_LAYOUT_CREATED
                and e.WhichOneof("payload") == "managed_layout_created"
                and e.managed_layout_created.tmux_session_name == session
            ):
                return e
    finally:
        stream.cancel()
    raise SystemExit("the watch ended without the managed_layout_created event")


def error_info(stub):
    """GetLayout of an unknown id: the status code and its decoded ErrorInfo."""
    try:
        stub.GetLayout(ms.GetLayoutRequest(layout_id=str(uuid.uuid4())), timeout=TIMEOUT)
    except grpc.RpcError as e:
        status = rpc_status.from_call(e)
        if status is None:
            raise SystemExit(f"no grpc-status-details-bin on {e.code()}: {e.details()}")
        info = error_details_pb2.ErrorInfo()
        for detail in status.details:
            if detail.Unpack(info):
                return {"code": e.code().name, "reason": info.reason, "domain": info.domain}
        raise SystemExit(f"no ErrorInfo among {status.details}")
    raise SystemExit("GetLayout of an unknown id succeeded")


def main():
    socket, session = sys.argv[1], sys.argv[2]
    with grpc.insecure_channel("unix://" + socket) as channel:
        stub = managed_sessions_pb2_grpc.ManagedSessionsServiceStub(channel)
        request = ms.CreateLayoutRequest(container_id="local", template_name="1m+2s", tmux_session_name=session)
        created, call = stub.CreateLayout.with_call(request, timeout=TIMEOUT)
        headers = {k: v for k, v in call.initial_metadata() if k.startswith("agenttower-")}
        ready = wait_ready(stub, created.layout.layout_id)
        event = created_event(stub, session)
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
        summary = {
            "grpc_version": grpc.__version__,
            "headers": headers,
            "layout_id": created.layout.layout_id,
            "created_state": types_pb2.LayoutState.Name(created.layout.state),
            "created_panes": len(created.layout.panes),
            "state": types_pb2.LayoutState.Name(ready.state),
            "ready_pane_count": ready.ready_pane_count,
            "panes": len(ready.panes),
            "event": {
                "sequence": event.sequence,
                "layout_id": event.layout_id,
                "template_name": event.managed_layout_created.template_name,
            },
            "error": error_info(stub),
            "health": health_pb2.HealthCheckResponse.ServingStatus.Name(health.status),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
