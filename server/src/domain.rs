//! The domain's closed sets and the lifecycle rules of SPEC §6: pane states,
//! failed stages, allowed transitions, layout aggregation and operator hints.
//!
//! `closed_sets!` below is THE one mapping between a closed set's members and
//! their stored spelling: the database columns (through diesel, as `Text`),
//! the JSON of event payloads and `events.jsonl` (through serde) all go
//! through it. The wire (protobuf) mapping is `api::enums`. Nowhere else in
//! the daemon is a member spelled as a string (a unit test below checks it).
//! Typed event payloads are in [`event`].

pub(crate) mod event;

use std::fmt;
use std::str::FromStr;

pub(crate) use event::EventPayload;

/// One closed set: the enum, its spelling both ways (`as_str`, `FromStr`),
/// diesel `Text` (SQLite) and serde string mappings that use that spelling.
/// An unknown stored string is an error (diesel deserialization error, serde
/// error), never a panic.
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression,
            diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub(crate) enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every member, in declaration order.
            #[allow(dead_code)]
            pub(crate) const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every member's stored spelling.
            #[allow(dead_code)]
            pub(crate) const ALL_NAMES: &'static [&'static str] = &[$($text),+];

            /// The stored / `events.jsonl` spelling.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        set: stringify!($name),
                        value: s.to_string(),
                    }),
                }
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::sqlite::Sqlite> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>,
            ) -> diesel::serialize::Result {
                out.set_value(self.as_str());
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::sqlite::Sqlite>
            for $name
        {
            fn from_sql(
                value: <diesel::sqlite::Sqlite as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    diesel::sqlite::Sqlite,
                >>::from_sql(value)?;
                Ok(text.parse::<$name>()?)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Every closed set of the daemon, each through `closed_set!`, plus
/// `CLOSED_SETS`: the name and spellings of each (what the literal check
/// below walks, so a new set is covered without listing it twice).
macro_rules! closed_sets {
    ($($(#[$meta:meta])* $name:ident { $($body:tt)+ })+) => {
        $(closed_set!($(#[$meta])* $name { $($body)+ });)+

        /// `(set name, every member's spelling)` of every closed set.
        #[allow(dead_code)]
        pub(crate) const CLOSED_SETS: &[(&str, &[&str])] =
            &[$((stringify!($name), $name::ALL_NAMES)),+];
    };
}

/// A stored string that is not a member of its closed set.
#[derive(Debug, thiserror::Error)]
#[error("{value:?} is not a {set}")]
pub(crate) struct UnknownValue {
    pub set: &'static str,
    pub value: String,
}

closed_sets! {
    /// Lifecycle state of a pane (and, aggregated, of a layout).
    PaneState {
        Creating => "creating",
        Ready => "ready",
        Degraded => "degraded",
        Failed => "failed",
        Removed => "removed",
    }

    /// Where a degraded or failed pane stopped.
    FailedStage {
        PaneCreate => "pane_create",
        LaunchCommand => "launch_command",
        Registration => "registration",
        LogAttach => "log_attach",
        TmuxKill => "tmux_kill",
        RecoveryReattach => "recovery_reattach",
    }

    /// How an agent came to be registered.
    Origin {
        Managed => "managed",
        Adopted => "adopted",
    }

    /// Who caused an event.
    Actor {
        Operator => "operator",
        Daemon => "daemon",
    }

    /// Which runtime reaches a container.
    RuntimeKind {
        Local => "local",
        Docker => "docker",
    }

    /// Kind of a lifecycle event (SPEC §12).
    EventType {
        LayoutCreated => "managed_layout_created",
        LayoutStateChanged => "managed_layout_state_changed",
        PaneCreated => "managed_pane_created",
        PaneStateChanged => "managed_pane_state_changed",
        PaneRecreated => "managed_pane_recreated",
        PaneRemoved => "managed_pane_removed",
        PendingMarkerSet => "managed_pane_pending_marker_set",
        PendingMarkerCleared => "managed_pane_pending_marker_cleared",
        LaunchCommandExited => "managed_pane_launch_command_exited",
        LogAttachFailed => "managed_pane_log_attach_failed",
        RecoveryReattached => "managed_layout_recovery_reattached",
        RecoveryFailed => "managed_layout_recovery_failed",
        AgentActivityChanged => "agent_activity_changed",
    }

    /// What the agent in a pane is doing (docs/activity.md).
    Activity {
        Unknown => "unknown",
        Working => "working",
        WaitingForInput => "waiting_for_input",
        Idle => "idle",
        Exited => "exited",
    }

    /// Where an agent's activity came from.
    ActivitySource {
        /// ReportActivity from a process in the pane.
        Report => "report",
        /// A launch profile's prompt rule matched the pane's last lines.
        PromptRule => "prompt_rule",
        /// The pane's output, or its silence.
        Output => "output",
        /// The pane's process exited or the pane vanished.
        Process => "process",
    }

    /// What a container's runtime reported last.
    ContainerState {
        Running => "running",
        Stopped => "stopped",
    }

    /// What ResolveName looks for.
    NameKind {
        Layout => "layout",
        Pane => "pane",
        Agent => "agent",
        Route => "route",
    }

    /// How a launch command's exit was noticed.
    ExitDetection {
        /// The probe after the settle window, while the pane was created.
        SettleProbe => "settle_probe",
        /// The health watcher, after the pane was ready.
        HealthWatcher => "health_watcher",
    }
}

/// Layouts have the same states as panes, derived from them.
pub(crate) type LayoutState = PaneState;

impl PaneState {
    /// Whether `self → to` is an allowed transition (SPEC §6).
    pub(crate) fn can_become(self, to: PaneState) -> bool {
        use PaneState::*;
        matches!(
            (self, to),
            (Creating, Ready)
                | (Creating, Degraded)
                | (Creating, Failed)
                | (Ready, Degraded)
                | (Ready, Removed)
                | (Degraded, Failed)
                | (Degraded, Removed)
                | (Failed, Removed)
        )
    }

    /// A pane that still occupies its label and tmux slot.
    pub(crate) fn is_live(self) -> bool {
        matches!(
            self,
            PaneState::Creating | PaneState::Ready | PaneState::Degraded
        )
    }
}

/// Derives a layout's state from its panes' states (SPEC §6): any creating →
/// creating; else any failed → failed; else any degraded → degraded; else all
/// removed → removed; else ready.
pub(crate) fn aggregate(states: impl IntoIterator<Item = PaneState>) -> LayoutState {
    let (mut creating, mut failed, mut degraded, mut all_removed) = (false, false, false, true);
    for state in states {
        match state {
            PaneState::Creating => creating = true,
            PaneState::Failed => failed = true,
            PaneState::Degraded => degraded = true,
            PaneState::Ready => {}
            PaneState::Removed => continue,
        }
        all_removed = false;
    }
    if creating {
        PaneState::Creating
    } else if failed {
        PaneState::Failed
    } else if degraded {
        PaneState::Degraded
    } else if all_removed {
        PaneState::Removed
    } else {
        PaneState::Ready
    }
}

/// The suggested recovery action for a pane in `state` stopped at `stage`.
pub(crate) fn hint(state: PaneState, stage: Option<FailedStage>) -> &'static str {
    use FailedStage::*;
    match (state, stage) {
        (PaneState::Creating, _) => "being created; wait for it to settle",
        (PaneState::Ready, _) => "",
        (PaneState::Removed, _) => "removed; recreate it to get a new pane in the same slot",
        (PaneState::Degraded, Some(LaunchCommand)) => {
            "the launch command exited; read the pane log, then tolerate it or remove and recreate the pane"
        }
        (PaneState::Degraded, Some(LogAttach)) => {
            "the pane runs but its log is not attached; fix the log directory, then tolerate it or remove and recreate the pane"
        }
        (PaneState::Failed, Some(PaneCreate)) => {
            "tmux could not create the pane; check the container and session, then remove and recreate it"
        }
        (PaneState::Failed, Some(Registration)) => {
            "the pane was not registered; remove and recreate it"
        }
        (PaneState::Failed, Some(RecoveryReattach)) => {
            "the tmux pane is gone; remove and recreate it"
        }
        (PaneState::Failed, Some(TmuxKill)) => {
            "tmux could not kill the pane; check the container, then remove it again"
        }
        (PaneState::Degraded | PaneState::Failed, _) => "remove and recreate the pane",
    }
}

#[cfg(test)]
mod tests {
    use super::PaneState::*;
    use super::*;

    #[test]
    fn aggregation_follows_the_priority_rules() {
        assert_eq!(aggregate([Ready, Creating, Failed]), Creating);
        assert_eq!(aggregate([Ready, Degraded, Failed]), Failed);
        assert_eq!(aggregate([Ready, Degraded, Removed]), Degraded);
        assert_eq!(aggregate([Removed, Removed]), Removed);
        assert_eq!(aggregate([Ready, Removed]), Ready);
        assert_eq!(aggregate([]), Removed);
    }

    #[test]
    fn only_the_spec_transitions_are_allowed() {
        let allowed: Vec<_> = PaneState::ALL
            .iter()
            .flat_map(|&a| PaneState::ALL.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| a.can_become(b))
            .collect();
        assert_eq!(allowed.len(), 8);
        assert!(!Creating.can_become(Removed));
        assert!(!Removed.can_become(Ready));
        assert!(!Failed.can_become(Ready));
    }

    #[test]
    fn closed_sets_round_trip_their_spelling() {
        for s in EventType::ALL {
            assert_eq!(s.as_str().parse::<EventType>().unwrap(), *s);
        }
        assert!("bogus".parse::<FailedStage>().is_err());
        let names: Vec<&str> = CLOSED_SETS.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "PaneState",
                "FailedStage",
                "Origin",
                "Actor",
                "RuntimeKind",
                "EventType",
                "Activity",
                "ActivitySource",
                "ContainerState",
                "NameKind",
                "ExitDetection"
            ]
        );
    }

    #[test]
    fn serde_uses_the_stored_spelling() {
        assert_eq!(
            serde_json::to_string(&FailedStage::RecoveryReattach).unwrap(),
            r#""recovery_reattach""#
        );
        assert_eq!(
            serde_json::from_str::<ContainerState>(r#""stopped""#).unwrap(),
            ContainerState::Stopped
        );
        let err = serde_json::from_str::<PaneState>(r#""Ready""#).unwrap_err();
        assert!(err.to_string().contains("is not a PaneState"), "{err}");
        assert!(serde_json::from_str::<Actor>("1").is_err());
    }

    #[test]
    fn sqlite_text_uses_the_stored_spelling() {
        use diesel::dsl::sql;
        use diesel::prelude::*;
        use diesel::sql_types::{Nullable, Text};

        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        for kind in RuntimeKind::ALL {
            let stored: String = diesel::select(kind.into_sql::<Text>())
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(stored, kind.as_str());
            let read: RuntimeKind = diesel::select(sql::<Text>(&format!("'{stored}'")))
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(read, *kind);
        }
        let none: Option<FailedStage> = diesel::select(sql::<Nullable<Text>>("NULL"))
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(none, None);
        // An unknown stored string is a deserialization error, not a panic.
        let bogus = diesel::select(sql::<Text>("'Creating'")).get_result::<PaneState>(&mut conn);
        assert!(
            matches!(bogus, Err(diesel::result::Error::DeserializationError(_))),
            "{bogus:?}"
        );
    }
}

#[cfg(test)]
mod literal_scan;
