//! Compiles `proto/` into the generated client and server stubs with a
//! pure-Rust protobuf compiler (protox), so no system `protoc` is needed. The
//! encoded descriptor set is kept for gRPC server reflection, and serde
//! (proto3 JSON) implementations are generated with pbjson.

use std::path::PathBuf;

use prost::Message as _;

const PROTOS: &[&str] = &[
    "proto/agenttower/v1/types.proto",
    "proto/agenttower/v1/managed_sessions.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let encoded = fds.encode_to_vec();
    std::fs::write(out_dir.join("agenttower_descriptor.bin"), &encoded)?;
    // Canonical proto3 JSON for `--json` output and scripts: enum names,
    // snake_case field names, default values written out.
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .preserve_proto_field_names()
        .emit_fields()
        .build(&[".agenttower.v1"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
