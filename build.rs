//! Compiles `proto/` into the generated client and server stubs with a
//! pure-Rust protobuf compiler (protox), so no system `protoc` is needed. The
//! encoded descriptor set is kept for gRPC server reflection, and serde
//! (proto3 JSON) implementations are generated with pbjson. The server stubs
//! decode requests with `codec::RequestCodec` (closed-set errors for
//! undecodable requests); the client stubs keep tonic's prost codec.

use std::path::PathBuf;

use prost::Message as _;
use prost_build::{Service, ServiceGenerator};

const PROTOS: &[&str] = &[
    "proto/agenttower/v1/types.proto",
    "proto/agenttower/v1/events.proto",
    "proto/agenttower/v1/managed_sessions.proto",
];

/// Served by reflection only (our error details), never generated here:
/// `tonic-types` has their Rust types.
const ERROR_PROTOS: &[&str] = &[
    "proto/google/rpc/status.proto",
    "proto/google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // The reflection descriptor set: our files, the google.rpc error
    // details, and every well-known type they import.
    let served = protox::compile(PROTOS.iter().chain(ERROR_PROTOS), ["proto"])?;
    std::fs::write(
        out_dir.join("agenttower_descriptor.bin"),
        served.encode_to_vec(),
    )?;
    let fds = protox::compile(PROTOS, ["proto"])?;
    let encoded = fds.encode_to_vec();
    // Canonical proto3 JSON for `--json` output, `events.jsonl` and
    // scripts: enum names, snake_case field names, default values written
    // out, timestamps as RFC 3339 strings (pbjson-types).
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .preserve_proto_field_names()
        .emit_fields()
        .extern_path(".google.protobuf", "::pbjson_types")
        .build(&[".agenttower.v1"])?;
    let client = tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .service_generator();
    let server = tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .codec_path("crate::codec::RequestCodec")
        .service_generator();
    let mut config = prost_build::Config::new();
    config
        .compile_well_known_types()
        .extern_path(".google.protobuf", "::pbjson_types");
    config.service_generator(Box::new(Both(client, server)));
    // Neither side here: the generators above are already in `config`.
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}

/// Client and server stubs from two generators, one codec each (tonic's
/// builder takes one codec path for both).
struct Both(Box<dyn ServiceGenerator>, Box<dyn ServiceGenerator>);

impl ServiceGenerator for Both {
    fn generate(&mut self, service: Service, buf: &mut String) {
        self.0.generate(service.clone(), buf);
        self.1.generate(service, buf);
    }

    fn finalize(&mut self, buf: &mut String) {
        self.0.finalize(buf);
        self.1.finalize(buf);
    }

    fn finalize_package(&mut self, package: &str, buf: &mut String) {
        self.0.finalize_package(package, buf);
        self.1.finalize_package(package, buf);
    }
}
