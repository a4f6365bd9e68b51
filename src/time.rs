//! `google.protobuf.Timestamp` ↔ RFC 3339 text, the one conversion the
//! daemon (stored text → wire), the CLI and the console (wire → text) use.

pub use pbjson_types::{Duration, Timestamp};

/// The wire timestamp of an RFC 3339 text; `None` if it does not parse.
pub fn from_rfc3339(text: &str) -> Option<Timestamp> {
    let t: prost_types::Timestamp = text.parse().ok()?;
    Some(Timestamp {
        seconds: t.seconds,
        nanos: t.nanos,
    })
}

/// RFC 3339 text in UTC (`2026-11-22T15:37:37.285Z`); empty when unset.
pub fn rfc3339(t: Option<&Timestamp>) -> String {
    t.map(|t| {
        prost_types::Timestamp {
            seconds: t.seconds,
            nanos: t.nanos,
        }
        .to_string()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_round_trips_through_the_wire_type() {
        let t = from_rfc3339("2026-11-22T15:37:37.285Z").unwrap();
        assert_eq!(rfc3339(Some(&t)), "2026-11-22T15:37:37.285Z");
        assert_eq!(rfc3339(None), "");
        assert!(from_rfc3339("yesterday").is_none());
    }
}
