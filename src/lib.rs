//! AgentTower's wire contract (generated from `proto/`), the Unix-socket
//! client connector, and helpers shared by the CLI, the console and scripts.

pub mod attach;
pub mod client;
pub mod codec;
pub mod launch;
pub mod names;
pub mod paths;
pub mod status;
pub mod time;

/// Generated protobuf messages and gRPC stubs of package `agenttower.v1`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("agenttower.v1");
    include!(concat!(env!("OUT_DIR"), "/agenttower.v1.serde.rs"));

    /// Encoded descriptor set of every AgentTower proto, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("agenttower_descriptor");
}

#[cfg(test)]
mod contract_tests;

#[cfg(test)]
mod tests {
    use prost::Message as _;

    /// docs/api.md must name every service, method, message, enum value and
    /// error code of the proto, so the reference cannot drift from the wire.
    #[test]
    fn api_reference_covers_the_whole_proto() {
        let doc = include_str!("../docs/api.md");
        let fds = prost_types::FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap();
        let mut missing = Vec::new();
        let mut need = |name: &str| {
            if !doc.contains(name) {
                missing.push(name.to_string());
            }
        };
        for file in fds.file.iter().filter(|f| f.package() == "agenttower.v1") {
            for service in &file.service {
                need(service.name());
                for method in &service.method {
                    need(method.name());
                }
            }
            for message in &file.message_type {
                need(message.name());
            }
            for e in &file.enum_type {
                need(e.name());
                for value in &e.value {
                    need(value.name());
                    // Each error code also appears as its wire reason.
                    if e.name() == "ErrorCode" && value.number() != 0 {
                        let code = crate::pb::ErrorCode::try_from(value.number()).unwrap();
                        need(&format!("`{}`", crate::client::error_code_name(code)));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "docs/api.md does not mention: {missing:?}"
        );
    }

    /// Every method has an example in docs/api.md's Examples block: a line
    /// starting `Method {request}`, its response after `→`.
    #[test]
    fn every_method_has_an_example() {
        let doc = include_str!("../docs/api.md");
        let examples = doc
            .split("### Examples")
            .nth(1)
            .and_then(|rest| rest.split("## Messages").next())
            .expect("an Examples section before Messages");
        let fds = prost_types::FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap();
        let missing: Vec<String> = fds
            .file
            .iter()
            .filter(|f| f.package() == "agenttower.v1")
            .flat_map(|f| &f.service)
            .flat_map(|s| &s.method)
            .map(|m| m.name().to_string())
            .filter(|m| !examples.lines().any(|l| l.starts_with(&format!("{m} {{"))))
            .collect();
        assert!(missing.is_empty(), "no example for: {missing:?}");
    }
}
