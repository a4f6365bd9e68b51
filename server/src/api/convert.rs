//! Conversions between stored rows / domain values and the generated wire
//! types. An unknown enum value from a client is a `validation_failed`.

use std::str::FromStr;

use agenttower::pb;

use crate::config::catalog::{LaunchProfile, Template};
use crate::error::{Error, Result};
use crate::service::create::LayoutView;
use crate::service::domain::{self, FailedStage, Origin, PaneState};
use crate::service::validate;
use crate::store::models::{AgentRow, ContainerRow, EventRow, LayoutRow, PaneRow, RouteRow};

fn parsed<T: FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

fn pane_state(s: &str) -> pb::PaneState {
    match parsed::<PaneState>(s) {
        Some(PaneState::Creating) => pb::PaneState::Creating,
        Some(PaneState::Ready) => pb::PaneState::Ready,
        Some(PaneState::Degraded) => pb::PaneState::Degraded,
        Some(PaneState::Failed) => pb::PaneState::Failed,
        Some(PaneState::Removed) => pb::PaneState::Removed,
        None => pb::PaneState::Unspecified,
    }
}

fn layout_state(s: &str) -> pb::LayoutState {
    match parsed::<PaneState>(s) {
        Some(PaneState::Creating) => pb::LayoutState::Creating,
        Some(PaneState::Ready) => pb::LayoutState::Ready,
        Some(PaneState::Degraded) => pb::LayoutState::Degraded,
        Some(PaneState::Failed) => pb::LayoutState::Failed,
        Some(PaneState::Removed) => pb::LayoutState::Removed,
        None => pb::LayoutState::Unspecified,
    }
}

fn failed_stage(s: Option<&str>) -> pb::FailedStage {
    match s.and_then(parsed::<FailedStage>) {
        Some(FailedStage::PaneCreate) => pb::FailedStage::PaneCreate,
        Some(FailedStage::LaunchCommand) => pb::FailedStage::LaunchCommand,
        Some(FailedStage::Registration) => pb::FailedStage::Registration,
        Some(FailedStage::LogAttach) => pb::FailedStage::LogAttach,
        Some(FailedStage::TmuxKill) => pb::FailedStage::TmuxKill,
        Some(FailedStage::RecoveryReattach) => pb::FailedStage::RecoveryReattach,
        None => pb::FailedStage::Unspecified,
    }
}

fn hint(state: &str, stage: Option<&str>) -> String {
    match parsed::<PaneState>(state) {
        Some(s) => domain::hint(s, stage.and_then(parsed)).to_string(),
        None => String::new(),
    }
}

/// A pane row on the wire.
pub(crate) fn pane(p: PaneRow) -> pb::Pane {
    let live = parsed::<PaneState>(&p.state).is_some_and(PaneState::is_live);
    pb::Pane {
        state: pane_state(&p.state) as i32,
        failed_stage: failed_stage(p.failed_stage.as_deref()) as i32,
        hint: hint(&p.state, p.failed_stage.as_deref()),
        log_attached: live && p.log_path.is_some(),
        pending_marker: p.pending_marker_token.is_some(),
        pane_id: p.id,
        layout_id: p.layout_id,
        container_id: p.container_id,
        agent_id: p.agent_id.unwrap_or_default(),
        role: p.role,
        capability: p.capability,
        label: p.label,
        launch_command_ref: p.launch_command_ref.unwrap_or_default(),
        tmux_session_name: p.tmux_session_name,
        tmux_pane_index: p.tmux_pane_index.max(0) as u32,
        tmux_pane_id: p.tmux_pane_id.unwrap_or_default(),
        failure_reason: p.failure_reason.unwrap_or_default(),
        predecessor_id: p.predecessor_id.unwrap_or_default(),
        chain_depth: p.chain_depth.max(0) as u32,
        log_path: p.log_path.unwrap_or_default(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// A layout row (and optionally its panes) on the wire.
pub(crate) fn layout(l: LayoutRow, panes: Vec<PaneRow>) -> pb::Layout {
    let layout_hint = match parsed::<PaneState>(&l.state) {
        Some(PaneState::Ready | PaneState::Removed) | None => String::new(),
        Some(s) => domain::hint(s, l.failed_stage.as_deref().and_then(parsed)).to_string(),
    };
    pb::Layout {
        state: layout_state(&l.state) as i32,
        failed_stage: failed_stage(l.failed_stage.as_deref()) as i32,
        hint: layout_hint,
        layout_id: l.id,
        container_id: l.container_id,
        template_name: l.template_name,
        tmux_session_name: l.tmux_session_name,
        intended_pane_count: l.intended_pane_count.max(0) as u32,
        ready_pane_count: l.ready_pane_count.max(0) as u32,
        idempotency_key: l.idempotency_key.unwrap_or_default(),
        created_at: l.created_at,
        updated_at: l.updated_at,
        panes: panes.into_iter().map(pane).collect(),
    }
}

/// A layout with its panes.
pub(crate) fn layout_view(v: LayoutView) -> pb::Layout {
    layout(v.layout, v.panes)
}

/// An agent row on the wire.
pub(crate) fn agent(a: AgentRow) -> pb::Agent {
    pb::Agent {
        origin: match parsed::<Origin>(&a.origin) {
            Some(Origin::Managed) => pb::AgentOrigin::Managed,
            Some(Origin::Adopted) => pb::AgentOrigin::Adopted,
            None => pb::AgentOrigin::Unspecified,
        } as i32,
        agent_id: a.agent_id,
        container_id: a.container_id,
        tmux_socket: a.tmux_socket,
        tmux_session_name: a.tmux_session,
        tmux_pane_id: a.tmux_pane_id,
        role: a.role,
        capability: a.capability,
        label: a.label,
        registered: a.registered,
        log_path: a.log_path.unwrap_or_default(),
        log_attached: a.log_attached,
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

/// A route row on the wire.
pub(crate) fn route(r: RouteRow) -> pb::Route {
    pb::Route {
        route_id: r.route_id,
        source_agent_id: r.source_agent_id,
        target_agent_id: r.target_agent_id,
        created_at: r.created_at,
    }
}

/// A container row on the wire.
pub(crate) fn container(c: ContainerRow) -> pb::Container {
    pb::Container {
        runtime: match c.runtime.as_str() {
            "local" => pb::RuntimeKind::Local,
            "docker" => pb::RuntimeKind::Docker,
            _ => pb::RuntimeKind::Unspecified,
        } as i32,
        state: match c.state.as_str() {
            "running" => pb::ContainerState::Running,
            "stopped" => pb::ContainerState::Stopped,
            _ => pb::ContainerState::Unspecified,
        } as i32,
        labels: serde_json::from_str(&c.labels).unwrap_or_default(),
        container_id: c.id,
        name: c.name,
        user: c.user.unwrap_or_default(),
        last_seen: c.last_seen,
    }
}

/// A stored event on the wire.
pub(crate) fn event(e: EventRow) -> pb::LifecycleEvent {
    pb::LifecycleEvent {
        sequence: e.sequence.max(0) as u64,
        event_type: pb::EventType::from_str_name(&format!(
            "EVENT_TYPE_{}",
            e.event_type.to_uppercase()
        ))
        .unwrap_or(pb::EventType::Unspecified) as i32,
        actor: match e.actor.as_str() {
            "operator" => pb::Actor::Operator,
            "daemon" => pb::Actor::Daemon,
            _ => pb::Actor::Unspecified,
        } as i32,
        event_id: e.event_id,
        timestamp: e.timestamp,
        container_id: e.container_id.unwrap_or_default(),
        layout_id: e.layout_id.unwrap_or_default(),
        pane_id: e.pane_id.unwrap_or_default(),
        payload_json: e.payload,
    }
}

/// A pane found by ScanPanes on the wire.
pub(crate) fn scanned_pane(p: crate::service::agent_io::Scanned) -> pb::ScannedPane {
    pb::ScannedPane {
        tmux_session_name: p.session,
        tmux_pane_id: p.pane_id,
        title: p.title,
        current_command: p.current_command,
        agent_id: p.agent_id.unwrap_or_default(),
    }
}

/// A template on the wire.
pub(crate) fn template(t: Template) -> pb::Template {
    pb::Template {
        name: t.name,
        source: t.source,
        panes: t
            .panes
            .into_iter()
            .map(|p| pb::TemplatePane {
                role: p.role,
                capability: p.capability,
                label_pattern: p.label_pattern,
                default_launch_command_ref: p.default_launch_command_ref.unwrap_or_default(),
            })
            .collect(),
    }
}

/// A launch profile on the wire.
pub(crate) fn profile(p: LaunchProfile) -> pb::LaunchProfile {
    pb::LaunchProfile {
        name: p.name,
        command: p.command,
        env: p.env.into_iter().collect(),
        working_dir: p.working_dir.unwrap_or_default(),
        source: p.source,
    }
}

/// Refuses a repeated request field with more than `MAX_MAP_ENTRIES`
/// entries: a filter never needs more (each closed set is smaller), and an
/// unbounded list would become an unbounded SQL statement.
fn bounded<'a>(field: &str, values: &'a [i32]) -> Result<&'a [i32]> {
    if values.len() > validate::MAX_MAP_ENTRIES {
        return Err(Error::validation(
            field,
            format!(
                "{} entries; at most {} are allowed",
                values.len(),
                validate::MAX_MAP_ENTRIES
            ),
        ));
    }
    Ok(values)
}

/// Pane/layout state filters: the singular and repeated fields together,
/// without duplicates. UNSPECIFIED in the singular field means "no filter";
/// anything unknown is refused.
pub(crate) fn state_filter(field: &str, single: i32, many: &[i32]) -> Result<Vec<PaneState>> {
    let many = bounded(field, many)?;
    let mut out = Vec::new();
    for &v in std::iter::once(&single).filter(|v| **v != 0).chain(many) {
        let state = match pb::PaneState::try_from(v) {
            Ok(pb::PaneState::Creating) => PaneState::Creating,
            Ok(pb::PaneState::Ready) => PaneState::Ready,
            Ok(pb::PaneState::Degraded) => PaneState::Degraded,
            Ok(pb::PaneState::Failed) => PaneState::Failed,
            Ok(pb::PaneState::Removed) => PaneState::Removed,
            _ => {
                return Err(Error::validation(field, format!("unknown state value {v}")));
            }
        };
        if !out.contains(&state) {
            out.push(state);
        }
    }
    Ok(out)
}

/// Event type filters as their stored names, without duplicates.
pub(crate) fn event_type_filter(many: &[i32]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for &v in bounded("event_types", many)? {
        let name = match pb::EventType::try_from(v) {
            Ok(t) if t != pb::EventType::Unspecified => t
                .as_str_name()
                .trim_start_matches("EVENT_TYPE_")
                .to_ascii_lowercase(),
            _ => {
                return Err(Error::validation(
                    "event_types",
                    format!("unknown event type value {v}"),
                ));
            }
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// An agent origin filter; UNSPECIFIED means any.
pub(crate) fn origin_filter(v: i32) -> Result<Option<Origin>> {
    match pb::AgentOrigin::try_from(v) {
        Ok(pb::AgentOrigin::Unspecified) => Ok(None),
        Ok(pb::AgentOrigin::Managed) => Ok(Some(Origin::Managed)),
        Ok(pb::AgentOrigin::Adopted) => Ok(Some(Origin::Adopted)),
        Err(_) => Err(Error::validation(
            "origin",
            format!("unknown origin value {v}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_event_type_has_a_wire_value() {
        for t in domain::EventType::ALL {
            let name = format!("EVENT_TYPE_{}", t.as_str().to_uppercase());
            assert!(pb::EventType::from_str_name(&name).is_some(), "{name}");
        }
        assert_eq!(
            event_type_filter(&[pb::EventType::ManagedPaneCreated as i32]).unwrap(),
            ["managed_pane_created"]
        );
        assert!(event_type_filter(&[999]).is_err());
        assert!(state_filter("states", 0, &[42]).is_err());
    }

    #[test]
    fn repeated_filters_are_bounded_and_deduplicated() {
        let created = pb::EventType::ManagedPaneCreated as i32;
        assert_eq!(
            event_type_filter(&[created; 12]).unwrap(),
            ["managed_pane_created"]
        );
        assert_eq!(
            state_filter("states", pb::PaneState::Ready as i32, &[2; 64]).unwrap(),
            [PaneState::Ready]
        );
        for e in [
            event_type_filter(&[created; 65]).unwrap_err(),
            state_filter("states", 0, &[2; 40_000]).unwrap_err(),
        ] {
            assert_eq!(e.code(), "validation_failed");
            assert!(e.details()["reason"].contains("at most 64"), "{e}");
        }
    }
}
