//! Words the console shows for daemon facts: what to do about an error
//! code, how long ago something happened.

use agenttower::pb;
use time::OffsetDateTime;

/// What an operator can do about a closed-set error code.
pub(crate) fn hint_for(code: pb::ErrorCode) -> &'static str {
    use pb::ErrorCode as E;
    match code {
        E::ManagedSessionNameConflict => "pick another session name, or remove that layout",
        E::ManagedPaneLabelConflict => "a live pane already uses that label; remove it first",
        E::ManagedLayoutCapacityExceeded => "remove a layout, or raise `capacity` in config.yaml",
        E::ManagedTemplateNotFound => "add the template under managed_templates/",
        E::ManagedLaunchCommandNotFound => "add the launch profile under launch_commands/",
        E::ManagedPaneIllegalTransition => "wait until the pane leaves `creating`",
        E::ManagedPaneIllegalRecreateSource => {
            "remove the pane first; only removed or failed panes can be recreated"
        }
        E::ManagedPaneRecreateChainTooDeep => "create a new layout instead",
        E::ManagedPaneConcurrentRecreate => "the pane already has a live successor",
        E::ManagedPaneProtectedAdopted => "adopted panes are never touched by the daemon",
        E::ContainerNotFound => "check `agenttower container list`",
        E::ValidationFailed => "fix the named field",
        E::DaemonUnavailable => "the console reconnects by itself",
        E::NameNotFound => "type a label, a session name or at least 8 characters of an id",
        E::NameAmbiguous => "qualify it with its container (`c1:work`) or type more of the id",
        E::Unspecified
        | E::HostOnly
        | E::NotImplemented
        | E::InternalError
        | E::ManagedLayoutNotFound
        | E::ManagedPaneNotFound
        | E::CallerNotInAgentPane => "",
    }
}

/// How long ago a wire timestamp's `seconds` (Unix time) was, compactly:
/// `42s`, `5m`, `3h`, `2d`; `?` when unset. Callers pass
/// `x.create_time.as_ref().map(|t| t.seconds)`.
pub(crate) fn age(now: OffsetDateTime, seconds: Option<i64>) -> String {
    let Some(seconds) = seconds else {
        return "?".into();
    };
    let secs = (now.unix_timestamp() - seconds).max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_compact() {
        let now = OffsetDateTime::parse(
            "2026-11-22T10:00:00.000Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let ago = |text: &str| age(now, agenttower::time::from_rfc3339(text).map(|t| t.seconds));
        assert_eq!(ago("2026-11-22T09:59:19.000Z"), "41s");
        assert_eq!(ago("2026-11-22T09:55:00.000Z"), "5m");
        assert_eq!(ago("2026-11-22T07:00:00.000Z"), "3h");
        assert_eq!(ago("2026-11-20T10:00:00.000Z"), "2d");
        assert_eq!(
            ago("2026-11-22T10:00:30.000Z"),
            "0s",
            "clock skew is not negative"
        );
        assert_eq!(age(now, None), "?");
    }
}
