//! What an operator types for a layout, pane, agent or route (a session
//! name, a label, `c1:work`, a unique id prefix, or the id itself) to the one
//! object it names. The daemon decides (ResolveName), so the CLI, the
//! console and scripts resolve alike and a container client never sees
//! another container's names.

use agenttower::client::{ManagedSessionsServiceClient, api_error};
use agenttower::pb;

use crate::Failure;

/// Asks the daemon which `kind` of object `name` names. Errors are the
/// daemon's closed codes: `name_not_found` (exit 4, with a hint) or
/// `name_ambiguous` (with the candidates).
pub(crate) async fn resolve(
    c: &mut ManagedSessionsServiceClient,
    kind: pb::NameKind,
    name: &str,
) -> Result<pb::ResolveNameResponse, Failure> {
    Ok(agenttower::client::resolve_name(c, kind, name).await?)
}

/// `resolve`, with `name_not_found` as `None`: for callers that try
/// another kind next, or for whom the object being gone is an answer.
pub(crate) async fn resolve_if_any(
    c: &mut ManagedSessionsServiceClient,
    kind: pb::NameKind,
    name: &str,
) -> Result<Option<pb::ResolveNameResponse>, Failure> {
    match agenttower::client::resolve_name(c, kind, name).await {
        Ok(r) => Ok(Some(r)),
        Err(s) if api_error(&s).is_some_and(|e| e.code == pb::ErrorCode::NameNotFound) => Ok(None),
        Err(s) => Err(s.into()),
    }
}

/// The id of the `kind` of object `name` names. A full id goes to the
/// method as it is, without a ResolveName round trip: a script passing ids
/// pays nothing for names and keeps getting the method's own answers
/// (`managed_layout_not_found`, `host_only`), as before names existed.
pub(crate) async fn id(
    c: &mut ManagedSessionsServiceClient,
    kind: pb::NameKind,
    name: &str,
) -> Result<String, Failure> {
    if is_full_id(name) {
        return Ok(name.to_string());
    }
    Ok(resolve(c, kind, name).await?.id)
}

/// Whether `s` is a whole id as the daemon writes them: a lower-case,
/// hyphenated UUID (8-4-4-4-12 hex digits).
pub(crate) fn is_full_id(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
}

/// `id` of an optional filter (`--layout`, `--pane`, `--agent`); an absent
/// filter stays empty (no filter) and is never sent to the daemon.
pub(crate) async fn filter(
    c: &mut ManagedSessionsServiceClient,
    kind: pb::NameKind,
    name: Option<&str>,
) -> Result<String, Failure> {
    match name {
        None | Some("") => Ok(String::new()),
        Some(name) => id(c, kind, name).await,
    }
}

#[cfg(test)]
mod tests {
    use super::is_full_id;

    #[test]
    fn only_whole_lower_case_uuids_skip_resolution() {
        assert!(is_full_id("01a204b8-72e7-7269-b494-99927a4b54f1"));
        assert!(!is_full_id("01A204B8-72E7-7269-B494-99927A4B54F1"));
        assert!(!is_full_id("01a204b8-72e7-7269-b494-99927a4b54f"));
        assert!(!is_full_id("01a204b8"));
        assert!(!is_full_id("work.s1"));
        assert!(!is_full_id("c1:01a204b8-72e7-7269-b494-99927a4b54f1"));
    }
}
