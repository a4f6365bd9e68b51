//! The domain's closed sets and the lifecycle rules of SPEC §6: pane states,
//! failed stages, allowed transitions, layout aggregation and operator hints.

use std::fmt;
use std::str::FromStr;

macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum $name { $($variant),+ }

        impl $name {
            /// Every member, in declaration order.
            #[allow(dead_code)]
            pub(crate) const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every member's stored spelling.
            #[allow(dead_code)]
            pub(crate) const ALL_NAMES: &'static [&'static str] = &[$($text),+];

            /// The stored / wire spelling.
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
                    _ => Err(UnknownValue(s.to_string())),
                }
            }
        }
    };
}

/// A stored string that is not a member of its closed set.
#[derive(Debug, thiserror::Error)]
#[error("unknown closed-set value {0:?}")]
pub(crate) struct UnknownValue(pub String);

closed_set!(
    /// Lifecycle state of a pane (and, aggregated, of a layout).
    PaneState {
        Creating => "creating",
        Ready => "ready",
        Degraded => "degraded",
        Failed => "failed",
        Removed => "removed",
    }
);

closed_set!(
    /// Where a degraded or failed pane stopped.
    FailedStage {
        PaneCreate => "pane_create",
        LaunchCommand => "launch_command",
        Registration => "registration",
        LogAttach => "log_attach",
        TmuxKill => "tmux_kill",
        RecoveryReattach => "recovery_reattach",
    }
);

closed_set!(
    /// How an agent came to be registered.
    Origin {
        Managed => "managed",
        Adopted => "adopted",
    }
);

closed_set!(
    /// Who caused an event.
    Actor {
        Operator => "operator",
        Daemon => "daemon",
    }
);

closed_set!(
    /// Which runtime reaches a container.
    RuntimeKind {
        Local => "local",
        Docker => "docker",
    }
);

closed_set!(
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
    }
);

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
    }
}
