//! Conversions between stored rows / domain values and the generated wire
//! types. An unknown enum value from a client is a `validation_failed`.

use agenttower::pb;
use agenttower::pb::lifecycle_event::Payload;

use crate::config::catalog::{LaunchProfile, Template};
use crate::domain::{self, Activity, EventPayload, EventType, FailedStage, Origin, PaneState};
use crate::error::{Error, Result};
use crate::service::validate;

use super::enums;
use crate::service::records::{AgentRow, ContainerRow, EventRow, LayoutRow, PaneRow, RouteRow};

/// A stored RFC 3339 time on the wire (`None` if it does not parse, which
/// the store never writes).
fn time(text: &str) -> Option<agenttower::time::Timestamp> {
    agenttower::time::from_rfc3339(text)
}

fn empty(s: Option<String>) -> String {
    s.unwrap_or_default()
}

fn stage(s: Option<FailedStage>) -> i32 {
    s.map_or(pb::FailedStage::Unspecified, pb::FailedStage::from) as i32
}

/// A pane row on the wire, without its agent's activity (`api` adds it).
pub(crate) fn pane(p: PaneRow) -> pb::Pane {
    pb::Pane {
        activity: None,
        state: pb::PaneState::from(p.state) as i32,
        failed_stage: stage(p.failed_stage),
        hint: domain::hint(p.state, p.failed_stage).to_string(),
        log_attached: p.state.is_live() && p.log_path.is_some(),
        pending_marker: p.pending_marker_token.is_some(),
        create_time: time(&p.created_at),
        update_time: time(&p.updated_at),
        pane_id: p.id,
        layout_id: p.layout_id,
        container_id: p.container_id,
        agent_id: empty(p.agent_id),
        role: p.role,
        capability: p.capability,
        label: p.label,
        launch_command_ref: empty(p.launch_command_ref),
        tmux_session_name: p.tmux_session_name,
        tmux_pane_index: p.tmux_pane_index.max(0) as u32,
        tmux_pane_id: empty(p.tmux_pane_id),
        failure_reason: empty(p.failure_reason),
        predecessor_id: empty(p.predecessor_id),
        chain_depth: p.chain_depth.max(0) as u32,
        log_path: empty(p.log_path),
    }
}

/// A layout row on the wire; `panes` empty for list answers.
pub(crate) fn layout(l: LayoutRow, panes: Vec<PaneRow>) -> pb::Layout {
    let layout_hint = match l.state {
        PaneState::Ready | PaneState::Removed => String::new(),
        s => domain::hint(s, l.failed_stage).to_string(),
    };
    pb::Layout {
        state: pb::LayoutState::from(l.state) as i32,
        failed_stage: stage(l.failed_stage),
        hint: layout_hint,
        create_time: time(&l.created_at),
        update_time: time(&l.updated_at),
        layout_id: l.id,
        container_id: l.container_id,
        template_name: l.template_name,
        tmux_session_name: l.tmux_session_name,
        intended_pane_count: l.intended_pane_count.max(0) as u32,
        ready_pane_count: l.ready_pane_count.max(0) as u32,
        idempotency_key: empty(l.idempotency_key),
        panes: panes.into_iter().map(pane).collect(),
    }
}

/// An agent row on the wire.
pub(crate) fn agent(a: AgentRow) -> pb::Agent {
    pb::Agent {
        activity: Some(activity(&a)),
        origin: pb::AgentOrigin::from(a.origin) as i32,
        create_time: time(&a.created_at),
        update_time: time(&a.updated_at),
        agent_id: a.agent_id,
        container_id: a.container_id,
        tmux_socket: a.tmux_socket,
        tmux_session_name: a.tmux_session,
        tmux_pane_id: a.tmux_pane_id,
        role: a.role,
        capability: a.capability,
        label: a.label,
        registered: a.registered,
        log_path: empty(a.log_path),
        log_attached: a.log_attached,
    }
}

/// An agent's activity on the wire.
pub(crate) fn activity(a: &AgentRow) -> pb::AgentActivity {
    pb::AgentActivity {
        activity: pb::Activity::from(a.activity) as i32,
        source: a
            .activity_source
            .map_or(pb::ActivitySource::Unspecified, pb::ActivitySource::from)
            as i32,
        since_time: time(a.activity_since.as_deref().unwrap_or(&a.created_at)),
        message: a.activity_message.clone().unwrap_or_default(),
    }
}

/// A route row on the wire.
pub(crate) fn route(r: RouteRow) -> pb::Route {
    pb::Route {
        create_time: time(&r.created_at),
        route_id: r.route_id,
        source_agent_id: r.source_agent_id,
        target_agent_id: r.target_agent_id,
    }
}

/// A container row on the wire.
pub(crate) fn container(c: ContainerRow) -> pb::Container {
    pb::Container {
        runtime: pb::RuntimeKind::from(c.runtime) as i32,
        state: pb::ContainerState::from(c.state) as i32,
        labels: serde_json::from_str(&c.labels).unwrap_or_default(),
        last_seen_time: time(&c.last_seen),
        container_id: c.id,
        name: c.name,
        user: empty(c.user),
    }
}

/// A stored event on the wire: the envelope and its typed payload. A
/// payload that does not parse (never written by a daemon) leaves the
/// `oneof` unset rather than failing the whole answer.
pub(crate) fn event(e: &EventRow) -> pb::LifecycleEvent {
    pb::LifecycleEvent {
        sequence: e.sequence.max(0) as u64,
        event_id: e.event_id.clone(),
        event_type: pb::EventType::from(e.event_type) as i32,
        container_id: e.container_id.clone().unwrap_or_default(),
        layout_id: e.layout_id.clone().unwrap_or_default(),
        pane_id: e.pane_id.clone().unwrap_or_default(),
        actor: pb::Actor::from(e.actor) as i32,
        event_time: time(&e.timestamp),
        payload: e.payload().ok().map(payload),
    }
}

/// A typed payload as its wire member.
fn payload(p: EventPayload) -> Payload {
    use crate::domain::event as d;
    match p {
        EventPayload::LayoutCreated(d::LayoutCreated {
            template_name,
            tmux_session_name,
            intended_pane_count,
            idempotency_key,
        }) => Payload::ManagedLayoutCreated(pb::ManagedLayoutCreated {
            template_name,
            tmux_session_name,
            intended_pane_count,
            idempotency_key: empty(idempotency_key),
        }),
        EventPayload::LayoutStateChanged(x) => {
            Payload::ManagedLayoutStateChanged(pb::ManagedLayoutStateChanged {
                from_state: pb::LayoutState::from(x.from_state) as i32,
                to_state: pb::LayoutState::from(x.to_state) as i32,
                failed_stage: stage(x.failed_stage),
                ready_pane_count: x.ready_pane_count,
                intended_pane_count: x.intended_pane_count,
            })
        }
        EventPayload::PaneCreated(x) => Payload::ManagedPaneCreated(pb::ManagedPaneCreated {
            role: x.role,
            capability: x.capability,
            label: x.label,
            tmux_pane_index: x.tmux_pane_index,
            launch: Some(pb::ResolvedLaunch {
                profile: x.launch.profile,
                argv: x.launch.argv,
                env: x.launch.env.into_iter().collect(),
                working_dir: empty(x.launch.working_dir),
            }),
        }),
        EventPayload::PaneStateChanged(x) => {
            Payload::ManagedPaneStateChanged(pb::ManagedPaneStateChanged {
                from_state: pb::PaneState::from(x.from_state) as i32,
                to_state: pb::PaneState::from(x.to_state) as i32,
                failed_stage: stage(x.failed_stage),
                reason: empty(x.reason),
                label: x.label,
            })
        }
        EventPayload::PaneRecreated(x) => Payload::ManagedPaneRecreated(pb::ManagedPaneRecreated {
            predecessor_id: x.predecessor_id,
            chain_depth: x.chain_depth,
            label: x.label,
        }),
        EventPayload::PaneRemoved(x) => Payload::ManagedPaneRemoved(pb::ManagedPaneRemoved {
            label: x.label,
            tmux_pane_id: empty(x.tmux_pane_id),
            agent_id: empty(x.agent_id),
            routes_deleted: x.routes_deleted,
            reason: x.reason,
        }),
        EventPayload::PendingMarkerSet(x) => {
            Payload::ManagedPanePendingMarkerSet(pb::ManagedPanePendingMarkerSet {
                token: empty(x.token),
                label: x.label,
            })
        }
        EventPayload::PendingMarkerCleared(x) => {
            Payload::ManagedPanePendingMarkerCleared(pb::ManagedPanePendingMarkerCleared {
                token: empty(x.token),
                label: x.label,
            })
        }
        EventPayload::LaunchCommandExited(x) => {
            Payload::ManagedPaneLaunchCommandExited(pb::ManagedPaneLaunchCommandExited {
                exit_code: x.exit_code,
                elapsed: x.elapsed_ms.map(|ms| agenttower::time::Duration {
                    seconds: (ms / 1000) as i64,
                    nanos: ((ms % 1000) * 1_000_000) as i32,
                }),
                detected_by: pb::ExitDetection::from(x.detected_by) as i32,
                profile: empty(x.profile),
                argv: x.argv,
            })
        }
        EventPayload::LogAttachFailed(x) => {
            Payload::ManagedPaneLogAttachFailed(pb::ManagedPaneLogAttachFailed {
                reason: x.reason,
                log_path: empty(x.log_path),
            })
        }
        EventPayload::RecoveryReattached(x) => {
            Payload::ManagedLayoutRecoveryReattached(pb::ManagedLayoutRecoveryReattached {
                label: x.label,
                tmux_pane_id: empty(x.tmux_pane_id),
                state: pb::PaneState::from(x.state) as i32,
            })
        }
        EventPayload::RecoveryFailed(x) => {
            Payload::ManagedLayoutRecoveryFailed(pb::ManagedLayoutRecoveryFailed {
                label: x.label,
                tmux_pane_id: empty(x.tmux_pane_id),
            })
        }
        EventPayload::AgentActivityChanged(x) => {
            Payload::AgentActivityChanged(pb::AgentActivityChanged {
                agent_id: x.agent_id,
                label: x.label,
                from_activity: pb::Activity::from(x.from_activity) as i32,
                to_activity: pb::Activity::from(x.to_activity) as i32,
                source: pb::ActivitySource::from(x.source) as i32,
                message: empty(x.message),
            })
        }
    }
}

/// A stored event as one `events.jsonl` line: the wire message in proto3
/// JSON, the shape every client reads.
pub(crate) fn event_line(e: &EventRow) -> String {
    serde_json::to_string(&event(e)).unwrap_or_default()
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

/// A repeated state filter read with `read` (`enums::pane_state` or
/// `enums::layout_state`), without duplicates; an unknown or UNSPECIFIED
/// value is refused.
pub(crate) fn state_filter(
    many: &[i32],
    read: fn(i32) -> Option<PaneState>,
) -> Result<Vec<PaneState>> {
    let mut out = Vec::new();
    for &v in bounded("states", many)? {
        let state = read(v)
            .ok_or_else(|| Error::validation("states", format!("unknown state value {v}")))?;
        if !out.contains(&state) {
            out.push(state);
        }
    }
    Ok(out)
}

/// Event type filters, without duplicates.
pub(crate) fn event_type_filter(many: &[i32]) -> Result<Vec<EventType>> {
    let mut out = Vec::new();
    for &v in bounded("event_types", many)? {
        let t = enums::event_type(v).ok_or_else(|| {
            Error::validation("event_types", format!("unknown event type value {v}"))
        })?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The activities a ListAgents asks for (empty: all).
pub(crate) fn activity_filter(many: &[i32]) -> Result<Vec<Activity>> {
    let mut out: Vec<Activity> = Vec::new();
    for &v in bounded("activities", many)? {
        let a = enums::activity(v)
            .ok_or_else(|| Error::validation("activities", format!("unknown activity {v}")))?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// An agent origin filter; UNSPECIFIED means any.
pub(crate) fn origin_filter(v: i32) -> Result<Option<Origin>> {
    if v == pb::AgentOrigin::Unspecified as i32 {
        return Ok(None);
    }
    enums::origin(v)
        .map(Some)
        .ok_or_else(|| Error::validation("origin", format!("unknown origin value {v}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_refuse_unknown_values() {
        assert_eq!(
            event_type_filter(&[pb::EventType::ManagedPaneCreated as i32]).unwrap(),
            [EventType::PaneCreated]
        );
        assert!(event_type_filter(&[999]).is_err());
        assert!(event_type_filter(&[0]).is_err());
        assert!(state_filter(&[42], enums::pane_state).is_err());
        assert!(state_filter(&[0], enums::layout_state).is_err());
        assert_eq!(origin_filter(0).unwrap(), None);
        assert!(origin_filter(7).is_err());
    }

    #[test]
    fn repeated_filters_are_bounded_and_deduplicated() {
        let created = pb::EventType::ManagedPaneCreated as i32;
        assert_eq!(
            event_type_filter(&[created; 12]).unwrap(),
            [EventType::PaneCreated]
        );
        assert_eq!(
            state_filter(&[pb::PaneState::Ready as i32; 64], enums::pane_state).unwrap(),
            [PaneState::Ready]
        );
        for e in [
            event_type_filter(&[created; 65]).unwrap_err(),
            state_filter(&[2; 40_000], enums::layout_state).unwrap_err(),
        ] {
            assert_eq!(e.code(), "validation_failed");
            assert!(e.details()["reason"].contains("at most 64"), "{e}");
        }
    }

    #[test]
    fn old_payloads_reach_the_wire_typed() {
        let row = EventRow {
            sequence: 7,
            event_id: "e".into(),
            timestamp: "2026-11-22T15:37:37.285Z".into(),
            event_type: EventType::PaneStateChanged,
            layout_id: Some("l".into()),
            pane_id: Some("p".into()),
            container_id: Some("local".into()),
            actor: domain::Actor::Daemon,
            payload: r#"{"from":"creating","to":"ready","failed_stage":null,"reason":null,"label":"w.m1"}"#.into(),
        };
        let e = event(&row);
        assert_eq!(e.event_time.unwrap().seconds, 1_795_361_857);
        let Some(Payload::ManagedPaneStateChanged(p)) = e.payload else {
            panic!("{e:?}");
        };
        assert_eq!(
            (p.from_state(), p.to_state()),
            (pb::PaneState::Creating, pb::PaneState::Ready)
        );
        let line: serde_json::Value = serde_json::from_str(&event_line(&row)).unwrap();
        // RFC 3339 (pbjson writes the UTC offset as `+00:00`).
        let time = line["event_time"].as_str().unwrap();
        assert_eq!(agenttower::time::from_rfc3339(time), e.event_time, "{time}");
        assert_eq!(
            line["managed_pane_state_changed"]["to_state"],
            "PANE_STATE_READY"
        );
    }
}
