#!/usr/bin/env python3
"""What `grpcurl -unix <socket> list` and `grpcurl ... describe/invoke` do,
through server reflection only: no generated stubs, no .proto files.

    reflect.py                         # list services and their methods
    reflect.py agenttower.v1.ManagedSessionsService/GetVersion '{}'

Uses grpcio-reflection (`pip install grpcio-reflection`), which speaks the
v1alpha reflection service the daemon serves beside v1.
"""

import json
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from agenttower_client import channel as open_channel


def main() -> int:
    channel = open_channel()
    database = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(database)
    if len(sys.argv) == 1:
        for name in sorted(database.get_services()):
            print(name)
            service = pool.FindServiceByName(name)
            for method in service.methods:
                stream = "stream " if method.server_streaming else ""
                print(f"  {method.name}({method.input_type.full_name}) returns ({stream}{method.output_type.full_name})")
        return 0
    service_name, method_name = sys.argv[1].rsplit("/", 1)
    method = pool.FindServiceByName(service_name).methods_by_name[method_name]
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    request = json_format.Parse(sys.argv[2] if len(sys.argv) > 2 else "{}", request_class())
    call = channel.unary_unary(
        f"/{service_name}/{method_name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    try:
        response = call(request)
    except grpc.RpcError as e:
        print(f"ERROR: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    print(json.dumps(json_format.MessageToDict(response, preserving_proto_field_name=True), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
