//! AgentTower's wire contract (generated from `proto/`), the Unix-socket
//! client connector, and helpers shared by the CLI, the console and scripts.

pub mod client;
pub mod paths;

/// Generated protobuf messages and gRPC stubs of package `agenttower.v1`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("agenttower.v1");
    include!(concat!(env!("OUT_DIR"), "/agenttower.v1.serde.rs"));

    /// Encoded descriptor set of every AgentTower proto, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("agenttower_descriptor");
}
