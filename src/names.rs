//! Short names of the wire's closed sets: `PANE_STATE_READY` ↔ `ready`. The
//! one place the CLI, the console and error decoding turn generated enum
//! values into the words operators read and type (the Python package has
//! the same helper, `agenttower_client.short_name`).

use crate::pb;

/// A generated enum whose value names share one prefix.
pub trait ShortName: Sized + Copy {
    /// The prefix every value name starts with, e.g. `PANE_STATE_`.
    const PREFIX: &'static str;

    /// The value's full proto name, e.g. `PANE_STATE_READY`.
    fn full_name(self) -> &'static str;

    /// The value for a full proto name.
    fn from_full_name(name: &str) -> Option<Self>;

    /// The value's short name: prefix dropped, lower case (`ready`).
    fn short_name(self) -> String {
        let full = self.full_name();
        full.strip_prefix(Self::PREFIX)
            .unwrap_or(full)
            .to_ascii_lowercase()
    }

    /// The value for a short name (`ready`), any case; never the
    /// `UNSPECIFIED` value.
    fn from_short_name(short: &str) -> Option<Self> {
        let upper = short.to_ascii_uppercase();
        if upper == "UNSPECIFIED" {
            return None;
        }
        Self::from_full_name(&format!("{}{upper}", Self::PREFIX))
    }
}

macro_rules! short_names {
    ($($ty:ident => $prefix:literal),+ $(,)?) => {$(
        impl ShortName for pb::$ty {
            const PREFIX: &'static str = $prefix;
            fn full_name(self) -> &'static str {
                self.as_str_name()
            }
            fn from_full_name(name: &str) -> Option<Self> {
                pb::$ty::from_str_name(name)
            }
        }
    )+};
}

short_names!(
    PaneState => "PANE_STATE_",
    LayoutState => "LAYOUT_STATE_",
    FailedStage => "FAILED_STAGE_",
    ErrorCode => "ERROR_CODE_",
    EventType => "EVENT_TYPE_",
    Actor => "ACTOR_",
    ExitDetection => "EXIT_DETECTION_",
    AgentOrigin => "AGENT_ORIGIN_",
    RuntimeKind => "RUNTIME_KIND_",
    ContainerState => "CONTAINER_STATE_",
    Activity => "ACTIVITY_",
    ActivitySource => "ACTIVITY_SOURCE_",
    NameKind => "NAME_KIND_",
    NameMatch => "NAME_MATCH_",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_round_trip_and_never_name_unspecified() {
        assert_eq!(pb::PaneState::Ready.short_name(), "ready");
        assert_eq!(
            pb::EventType::ManagedPaneCreated.short_name(),
            "managed_pane_created"
        );
        assert_eq!(
            pb::ErrorCode::from_short_name("managed_pane_not_found"),
            Some(pb::ErrorCode::ManagedPaneNotFound)
        );
        assert_eq!(pb::LayoutState::from_short_name("unspecified"), None);
        assert_eq!(pb::LayoutState::from_short_name("bogus"), None);
        assert_eq!(
            pb::Activity::WaitingForInput.short_name(),
            "waiting_for_input"
        );
        assert_eq!(
            pb::ActivitySource::from_short_name("prompt_rule"),
            Some(pb::ActivitySource::PromptRule)
        );
        assert_eq!(pb::Activity::from_short_name("unspecified"), None);
        for v in 1..=13 {
            let t = pb::EventType::try_from(v).unwrap();
            assert_eq!(pb::EventType::from_short_name(&t.short_name()), Some(t));
        }
    }
}
