//! THE one mapping between the domain's closed sets (`crate::domain`) and the
//! wire enums of `agenttower::pb`: `From<domain> for pb` for answers, and one
//! function per set for requests, from the wire's `i32` enum field to the
//! domain member (`pane_state`, `layout_state`, `failed_stage`, `origin`,
//! `runtime_kind`, `container_state`, `event_type`, `actor`,
//! `exit_detection`, `activity`, `activity_source`, `name_kind`); `None` for `UNSPECIFIED` or a number this daemon does
//! not know, for the caller to report as a validation error of its field.
//! Every match is exhaustive, so a member added on either side fails to
//! compile until it is mapped here.
//!
//! Pane and layout states are one domain type (`LayoutState` is
//! `PaneState`) but two wire enums: `From<PaneState>` exists for both, and
//! `pane_state` / `layout_state` read each.

use agenttower::pb;

use crate::domain::{
    Activity, ActivitySource, Actor, ContainerState, EventType, ExitDetection, FailedStage,
    LayoutState, NameKind, Origin, PaneState, RuntimeKind,
};

/// `From<domain> for pb` and `fn $read(i32) -> Option<domain>` of one closed
/// set, from one list of `domain member => wire member` pairs.
macro_rules! wire_enum {
    (
        $read:ident: $domain:ident <=> $wire:ident {
            $($member:ident => $wire_member:ident),+ $(,)?
        }
    ) => {
        impl From<$domain> for pb::$wire {
            fn from(v: $domain) -> Self {
                match v {
                    $($domain::$member => pb::$wire::$wire_member),+
                }
            }
        }

        #[doc = concat!(
            "The `", stringify!($domain), "` of a wire `", stringify!($wire),
            "` number; `None` for `UNSPECIFIED` or a number this daemon does not know."
        )]
        // Some sets are only ever answered, never read from a request.
        #[allow(dead_code)]
        pub(crate) fn $read(v: i32) -> Option<$domain> {
            match pb::$wire::try_from(v) {
                $(Ok(pb::$wire::$wire_member) => Some($domain::$member),)+
                Ok(pb::$wire::Unspecified) | Err(_) => None,
            }
        }
    };
}

wire_enum!(pane_state: PaneState <=> PaneState {
    Creating => Creating,
    Ready => Ready,
    Degraded => Degraded,
    Failed => Failed,
    Removed => Removed,
});

wire_enum!(failed_stage: FailedStage <=> FailedStage {
    PaneCreate => PaneCreate,
    LaunchCommand => LaunchCommand,
    Registration => Registration,
    LogAttach => LogAttach,
    TmuxKill => TmuxKill,
    RecoveryReattach => RecoveryReattach,
});

wire_enum!(origin: Origin <=> AgentOrigin {
    Managed => Managed,
    Adopted => Adopted,
});

wire_enum!(runtime_kind: RuntimeKind <=> RuntimeKind {
    Local => Local,
    Docker => Docker,
});

wire_enum!(container_state: ContainerState <=> ContainerState {
    Running => Running,
    Stopped => Stopped,
});

wire_enum!(event_type: EventType <=> EventType {
    LayoutCreated => ManagedLayoutCreated,
    LayoutStateChanged => ManagedLayoutStateChanged,
    PaneCreated => ManagedPaneCreated,
    PaneStateChanged => ManagedPaneStateChanged,
    PaneRecreated => ManagedPaneRecreated,
    PaneRemoved => ManagedPaneRemoved,
    PendingMarkerSet => ManagedPanePendingMarkerSet,
    PendingMarkerCleared => ManagedPanePendingMarkerCleared,
    LaunchCommandExited => ManagedPaneLaunchCommandExited,
    LogAttachFailed => ManagedPaneLogAttachFailed,
    RecoveryReattached => ManagedLayoutRecoveryReattached,
    RecoveryFailed => ManagedLayoutRecoveryFailed,
    AgentActivityChanged => AgentActivityChanged,
});

wire_enum!(activity: Activity <=> Activity {
    Unknown => Unknown,
    Working => Working,
    WaitingForInput => WaitingForInput,
    Idle => Idle,
    Exited => Exited,
});

wire_enum!(activity_source: ActivitySource <=> ActivitySource {
    Report => Report,
    PromptRule => PromptRule,
    Output => Output,
    Process => Process,
});

wire_enum!(actor: Actor <=> Actor {
    Operator => Operator,
    Daemon => Daemon,
});

wire_enum!(exit_detection: ExitDetection <=> ExitDetection {
    SettleProbe => SettleProbe,
    HealthWatcher => HealthWatcher,
});

wire_enum!(name_kind: NameKind <=> NameKind {
    Layout => Layout,
    Pane => Pane,
    Agent => Agent,
    Route => Route,
});

impl From<LayoutState> for pb::LayoutState {
    fn from(v: LayoutState) -> Self {
        match v {
            PaneState::Creating => pb::LayoutState::Creating,
            PaneState::Ready => pb::LayoutState::Ready,
            PaneState::Degraded => pb::LayoutState::Degraded,
            PaneState::Failed => pb::LayoutState::Failed,
            PaneState::Removed => pb::LayoutState::Removed,
        }
    }
}

/// The `LayoutState` of a wire `LayoutState` number; `None` for
/// `UNSPECIFIED` or a number this daemon does not know.
pub(crate) fn layout_state(v: i32) -> Option<LayoutState> {
    match pb::LayoutState::try_from(v) {
        Ok(pb::LayoutState::Creating) => Some(PaneState::Creating),
        Ok(pb::LayoutState::Ready) => Some(PaneState::Ready),
        Ok(pb::LayoutState::Degraded) => Some(PaneState::Degraded),
        Ok(pb::LayoutState::Failed) => Some(PaneState::Failed),
        Ok(pb::LayoutState::Removed) => Some(PaneState::Removed),
        Ok(pb::LayoutState::Unspecified) | Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every member maps to a wire value and back, and the wire value's name
    /// is the stored spelling (as the proto documents for event types).
    macro_rules! round_trips {
        ($read:ident: $domain:ident <=> $wire:ident, $prefix:literal) => {
            for &member in $domain::ALL {
                let wire = pb::$wire::from(member);
                assert_eq!($read(wire as i32), Some(member));
                assert_eq!(
                    wire.as_str_name(),
                    format!("{}{}", $prefix, member.as_str().to_uppercase())
                );
            }
            assert_eq!($read(0), None);
            assert_eq!($read(999), None);
            assert_eq!($read(-1), None);
        };
    }

    #[test]
    fn every_closed_set_maps_to_the_wire_and_back() {
        round_trips!(pane_state: PaneState <=> PaneState, "PANE_STATE_");
        round_trips!(layout_state: PaneState <=> LayoutState, "LAYOUT_STATE_");
        round_trips!(failed_stage: FailedStage <=> FailedStage, "FAILED_STAGE_");
        round_trips!(origin: Origin <=> AgentOrigin, "AGENT_ORIGIN_");
        round_trips!(runtime_kind: RuntimeKind <=> RuntimeKind, "RUNTIME_KIND_");
        round_trips!(container_state: ContainerState <=> ContainerState, "CONTAINER_STATE_");
        round_trips!(event_type: EventType <=> EventType, "EVENT_TYPE_");
        round_trips!(actor: Actor <=> Actor, "ACTOR_");
        round_trips!(exit_detection: ExitDetection <=> ExitDetection, "EXIT_DETECTION_");
        round_trips!(activity: Activity <=> Activity, "ACTIVITY_");
        round_trips!(activity_source: ActivitySource <=> ActivitySource, "ACTIVITY_SOURCE_");
    }
}
