//! Checks of the wire contract's shape, from the compiled descriptors.

use prost::Message as _;
use prost_types::{DescriptorProto, FileDescriptorSet};

fn agenttower_messages() -> Vec<DescriptorProto> {
    FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET)
        .unwrap()
        .file
        .into_iter()
        .filter(|f| f.package() == "agenttower.v1")
        .flat_map(|f| f.message_type)
        .collect()
}

/// Fields of `response` that repeat a field of a message it nests
/// (`CreateLayoutResponse.layout_id` beside `layout.layout_id`): the same
/// datum twice in one answer.
fn duplicated(response: &DescriptorProto, all: &[DescriptorProto]) -> Vec<String> {
    let nested: Vec<&DescriptorProto> = response
        .field
        .iter()
        .filter_map(|f| f.type_name.as_deref())
        .filter_map(|t| t.strip_prefix(".agenttower.v1."))
        .filter_map(|name| all.iter().find(|m| m.name() == name))
        .collect();
    response
        .field
        .iter()
        .filter(|f| {
            nested
                .iter()
                .any(|m| m.field.iter().any(|inner| inner.name() == f.name()))
        })
        .map(|f| format!("{}.{}", response.name(), f.name()))
        .collect()
}

/// Each answer carries each datum once: no response message declares a
/// field that duplicates a field of a message it nests.
#[test]
fn no_response_repeats_a_nested_field() {
    let all = agenttower_messages();
    let responses: Vec<&DescriptorProto> = all
        .iter()
        .filter(|m| m.name().ends_with("Response"))
        .collect();
    assert!(responses.len() > 20, "found {} responses", responses.len());
    let dups: Vec<String> = responses.iter().flat_map(|r| duplicated(r, &all)).collect();
    assert!(dups.is_empty(), "fields repeating a nested one: {dups:?}");

    // The check does catch the shape it forbids (the pre-1.0 CreateLayout).
    let mut old = all
        .iter()
        .find(|m| m.name() == "CreateLayoutResponse")
        .unwrap()
        .clone();
    let mut copy = old.field[0].clone();
    copy.name = Some("layout_id".into());
    copy.type_name = None;
    old.field.push(copy);
    assert_eq!(duplicated(&old, &all), ["CreateLayoutResponse.layout_id"]);
}

/// Timestamps are `google.protobuf.Timestamp` fields named `*_time`
/// (AIP-142), and no string field is named like a time.
#[test]
fn times_are_timestamps_named_time() {
    for m in agenttower_messages() {
        for f in &m.field {
            let is_ts = f.type_name() == ".google.protobuf.Timestamp";
            assert_eq!(
                is_ts,
                f.name().ends_with("_time"),
                "{}.{}",
                m.name(),
                f.name()
            );
            assert!(
                !f.name().ends_with("_at") && f.name() != "timestamp",
                "{}.{} is a time not typed as one",
                m.name(),
                f.name()
            );
        }
    }
}
