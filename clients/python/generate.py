#!/usr/bin/env python3
"""Generates the Python stubs of agenttower.v1 from the repository's proto/.

Run before installing the package (the stubs are build output, never
committed or edited by hand):

    python clients/python/generate.py && pip install clients/python

Needs grpcio-tools (`pip install grpcio-tools`). The modules land in
clients/python/agenttower/v1/ as agenttower.v1.types_pb2,
agenttower.v1.events_pb2, agenttower.v1.managed_sessions_pb2 and
agenttower.v1.managed_sessions_pb2_grpc (the stubs).

Only proto/agenttower/v1/*.proto are compiled. Their imports of
google/protobuf/timestamp.proto and duration.proto resolve through the copy
of the well-known types bundled with grpcio-tools (the generated code then
imports them from the protobuf package). proto/google/rpc is never compiled:
it is there for the daemon's reflection only, and the Python client reads
google.rpc.ErrorInfo from googleapis-common-protos.
"""

import pathlib
import shutil
import sys

from grpc_tools import protoc

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
OUT = HERE / "agenttower"


def main() -> int:
    # agenttower/v1 only: never proto/google/rpc (see above).
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "agenttower" / "v1").glob("*.proto"))
    if not protos:
        print(f"no .proto files under {PROTO_ROOT}", file=sys.stderr)
        return 1
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    # protoc's include path for well-known types ships inside grpc_tools.
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={HERE}",
        f"--pyi_out={HERE}",
        f"--grpc_python_out={HERE}",
        *protos,
    ]
    if protoc.main(args) != 0:
        print("protoc failed", file=sys.stderr)
        return 1
    for package in (OUT, OUT / "v1"):
        (package / "__init__.py").write_text('"""Generated from proto/ by clients/python/generate.py; do not edit."""\n')
    print(f"generated {', '.join(protos)} into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
