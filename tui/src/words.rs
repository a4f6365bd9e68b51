//! Words the console shows for daemon facts: what to do about an error
//! code, how long ago something happened.

use time::OffsetDateTime;

/// What an operator can do about a closed-set error code.
pub(crate) fn hint_for(code: &str) -> &'static str {
    match code {
        "managed_session_name_conflict" => "pick another session name, or remove that layout",
        "managed_pane_label_conflict" => "a live pane already uses that label; remove it first",
        "managed_layout_capacity_exceeded" => "remove a layout, or raise `capacity` in config.yaml",
        "managed_template_not_found" => "add the template under managed_templates/",
        "managed_launch_command_not_found" => "add the launch profile under launch_commands/",
        "managed_pane_illegal_transition" => "wait until the pane leaves `creating`",
        "managed_pane_illegal_recreate_source" => {
            "remove the pane first; only removed or failed panes can be recreated"
        }
        "managed_pane_recreate_chain_too_deep" => "create a new layout instead",
        "managed_pane_concurrent_recreate" => "the pane already has a live successor",
        "managed_pane_protected_adopted" => "adopted panes are never touched by the daemon",
        "container_not_found" => "check `agenttower container list`",
        "validation_failed" => "fix the named field",
        "daemon_unavailable" => "the console reconnects by itself",
        _ => "",
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
