"""Talk to agenttowerd from Python: connect over its Unix socket, call the
generated stubs, and read closed-set errors back out of a failed call.

    from agenttower_client import connect, ApiError, pb, short_name

    tower = connect()                      # same default socket as the daemon
    for layout in tower.managed.ListLayouts(pb.ListLayoutsRequest()).layouts:
        print(layout.tmux_session_name, short_name(pb.LayoutState, layout.state),
              layout.create_time.ToJsonString())
    try:
        tower.managed.GetPane(pb.GetPaneRequest(pane_id="bogus"))
    except ApiError as e:
        print(e.code, e.details)           # managed_pane_not_found {'pane_id': 'bogus'}

`pb` is the generated `agenttower.v1` messages and enums (`types_pb2`,
`events_pb2` and `managed_sessions_pb2` merged); the stubs are
`managed_sessions_pb2_grpc` (`ManagedSessionsServiceStub`,
`AppManagedSessionsServiceStub`). Every call made through `Clients` raises
`ApiError` (a subclass of `grpc.RpcError`) when the daemon answers with a
closed-set code. `short_name` turns an enum value into the word the CLI and
the logs use (`PANE_STATE_READY` → `ready`).

Timestamps are `google.protobuf.Timestamp` (`.ToDatetime()`,
`.ToJsonString()`); an event's typed payload is the `payload` oneof member
named like its type (`event.WhichOneof("payload")`).
"""

from __future__ import annotations

import os
import pathlib
import re
import types
from dataclasses import dataclass, field
from typing import Dict, Iterator, Optional, Union

import grpc
from google.protobuf import descriptor as _descriptor
from google.rpc import error_details_pb2, status_pb2

try:
    from agenttower.v1 import events_pb2, managed_sessions_pb2, managed_sessions_pb2_grpc, types_pb2
except ImportError as e:  # pragma: no cover - a message for a missing build step
    raise ImportError(
        "the agenttower.v1 stubs are not generated: run `python clients/python/generate.py` "
        "and reinstall the package"
    ) from e

__all__ = [
    "ApiError",
    "Clients",
    "api_error",
    "channel",
    "connect",
    "pb",
    "short_name",
    "socket_path",
    "API_VERSION",
]

#: The wire package this client was generated for.
API_VERSION = "agenttower.v1"

#: The generated messages and enums of agenttower.v1 in one namespace.
pb = types.SimpleNamespace(
    **{
        k: v
        for module in (types_pb2, events_pb2, managed_sessions_pb2)
        for k, v in vars(module).items()
        if not k.startswith("_") and k != "DESCRIPTOR"
    }
)

_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_APP_DIR = "opensoft/agenttower"


def short_name(
    value: Union[_descriptor.EnumValueDescriptor, object], number: Optional[int] = None
) -> str:
    """The short name of an enum value: its name without the enum's prefix,
    in lower case (`PANE_STATE_READY` → ``ready``), as the CLI, the console,
    `events.jsonl` and error reasons spell it.

    Takes an enum value descriptor, or an enum type and a number:

        short_name(pb.PaneState, pane.state)                  # 'ready'
        short_name(pb.EventType.DESCRIPTOR.values_by_number[3])  # 'managed_pane_created'

    A number this client does not know (a newer daemon) reads ``unknown``."""
    if number is None:
        enum, name = value.type, value.name
    else:
        enum = getattr(value, "DESCRIPTOR", value)
        known = enum.values_by_number.get(number)
        if known is None:
            return "unknown"
        name = known.name
    # PaneState → PANE_STATE_, the prefix every value name starts with.
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"
    return (name[len(prefix) :] if name.startswith(prefix) else name).lower()


def socket_path() -> str:
    """The daemon socket, resolved exactly as agenttowerd resolves it:
    $AGENTTOWER_SOCKET, else <state dir>/agenttowerd.sock where the state dir
    is $AGENTTOWER_STATE_DIR, else $XDG_STATE_HOME/opensoft/agenttower, else
    ~/.local/state/opensoft/agenttower."""
    explicit = os.environ.get("AGENTTOWER_SOCKET")
    if explicit:
        return explicit
    state = os.environ.get("AGENTTOWER_STATE_DIR")
    if not state:
        xdg = os.environ.get("XDG_STATE_HOME")
        base = pathlib.Path(xdg) if xdg and os.path.isabs(xdg) else pathlib.Path.home() / ".local" / "state"
        state = str(base / _APP_DIR)
    return str(pathlib.Path(state) / "agenttowerd.sock")


@dataclass
class ApiError(grpc.RpcError, Exception):
    """A closed-set error from the daemon (SPEC §11)."""

    code: str
    """The machine code, e.g. ``managed_pane_not_found``: the ErrorInfo's
    reason, the short name of an `ErrorCode` value."""
    message: str
    details: Dict[str, str] = field(default_factory=dict)
    grpc_code: Optional[grpc.StatusCode] = None

    def __str__(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in sorted(self.details.items()))
        return f"{self.code}: {self.message}" + (f" ({extra})" if extra else "")


def api_error(error: grpc.RpcError) -> Optional[ApiError]:
    """The closed-set error carried by a failed call, or None when it carries
    none (for example the daemon was unreachable). The status details hold one
    google.rpc.ErrorInfo: reason = the code, metadata = what failed."""
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailers or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.type_url == _ERROR_INFO:
                info = error_details_pb2.ErrorInfo.FromString(detail.value)
                return ApiError(
                    code=info.reason,
                    message=status.message,
                    details=dict(info.metadata),
                    grpc_code=error.code(),
                )
    return None


class _Raising:
    """Wraps a stub so failed calls raise ApiError when they carry a code."""

    def __init__(self, stub: object) -> None:
        self._stub = stub

    def __getattr__(self, name: str):
        method = getattr(self._stub, name)

        def call(*args, **kwargs):
            try:
                result = method(*args, **kwargs)
            except grpc.RpcError as e:
                raise (api_error(e) or e) from None
            if isinstance(result, grpc.Future) and hasattr(result, "__iter__"):
                return _Stream(result)
            return result

        return call


class _Stream:
    """A server stream whose failures raise ApiError; `cancel()` ends it."""

    def __init__(self, call) -> None:
        self._call = call

    def __iter__(self) -> Iterator:
        return self

    def __next__(self):
        try:
            return next(self._call)
        except grpc.RpcError as e:
            raise (api_error(e) or e) from None

    def cancel(self) -> None:
        self._call.cancel()


@dataclass
class Clients:
    """A client per service over one channel."""

    channel: grpc.Channel
    managed: object
    """ManagedSessionsService (host and bench containers)."""
    app: object
    """AppManagedSessionsService (the app bridge, host-only)."""

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "Clients":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def channel(socket: Optional[str] = None) -> grpc.Channel:
    """A channel to the daemon's Unix socket (default: `socket_path()`).

    The daemon accepts gRPC C-core's default `:authority` (the %-encoded
    socket path), so a plain `grpc.insecure_channel("unix://...")` works too.
    The authority means nothing on a Unix socket; this sets `localhost`, which
    daemons built before they accepted the default also take."""
    target = f"unix://{os.path.abspath(socket or socket_path())}"
    return grpc.insecure_channel(target, options=[("grpc.default_authority", "localhost")])


def connect(socket: Optional[str] = None) -> Clients:
    """Opens a client per service on the daemon's Unix socket."""
    channel_ = channel(socket)
    return Clients(
        channel=channel_,
        managed=_Raising(managed_sessions_pb2_grpc.ManagedSessionsServiceStub(channel_)),
        app=_Raising(managed_sessions_pb2_grpc.AppManagedSessionsServiceStub(channel_)),
    )
