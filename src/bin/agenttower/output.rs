//! Human tables and `--json` output.

use std::collections::BTreeMap;

use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::time;

/// Where results go: a table for people or proto3 JSON for scripts.
pub(crate) struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `msg` as JSON, or runs `human` to print it for people.
    pub(crate) fn show<T: serde::Serialize>(&self, msg: &T, human: impl FnOnce()) {
        if self.json {
            match serde_json::to_string_pretty(msg) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot encode JSON: {e}"),
            }
        } else {
            human();
        }
    }

    /// Reports a closed-set error once: `error: <code>: <message>`, its
    /// details, then `hint: <what to do>` on stderr; with --json one error
    /// object (`code`, `message`, `details`, `hint` when there is one) on
    /// stdout.
    pub(crate) fn error(
        &self,
        code: &str,
        message: &str,
        details: &BTreeMap<&str, String>,
        hint: Option<&str>,
    ) {
        if self.json {
            let mut error =
                serde_json::json!({ "code": code, "message": message, "details": details });
            if let Some(hint) = hint {
                error["hint"] = hint.into();
            }
            println!("{}", serde_json::json!({ "error": error }));
        } else {
            eprintln!("error: {code}: {message}");
            for (k, v) in details {
                eprintln!("  {k}: {v}");
            }
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
        }
    }
}

pub(crate) fn layout_state(s: pb::LayoutState) -> String {
    s.short_name()
}

fn pane_state(s: pb::PaneState) -> String {
    s.short_name()
}

/// A failed stage's short name; empty when there is none.
pub(crate) fn stage(s: pb::FailedStage) -> String {
    match s {
        pb::FailedStage::Unspecified => String::new(),
        s => s.short_name(),
    }
}

/// Prints rows under headers with aligned columns.
pub(crate) fn print_table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = rows.into_iter().collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let text: Vec<String> = cells
            .into_iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

/// One layout's row, a blank line, then its panes (`layout get|remove`).
pub(crate) fn layout_with_panes(layout: &pb::Layout) {
    layouts_table(std::slice::from_ref(layout));
    println!();
    panes_table(&layout.panes);
}

pub(crate) fn layouts_table(layouts: &[pb::Layout]) {
    print_table(
        &[
            "LAYOUT",
            "CONTAINER",
            "TEMPLATE",
            "SESSION",
            "STATE",
            "READY",
            "CREATED",
        ],
        layouts.iter().map(|l| {
            vec![
                l.layout_id.clone(),
                l.container_id.clone(),
                l.template_name.clone(),
                l.tmux_session_name.clone(),
                layout_state(l.state()),
                format!("{}/{}", l.ready_pane_count, l.intended_pane_count),
                time::rfc3339(l.create_time.as_ref()),
            ]
        }),
    );
}

pub(crate) fn panes_table(panes: &[pb::Pane]) {
    print_table(
        &[
            "PANE", "LABEL", "ROLE", "TMUX", "STATE", "STAGE", "AGENT", "HINT",
        ],
        panes.iter().map(|p| {
            vec![
                p.pane_id.clone(),
                p.label.clone(),
                p.role.clone(),
                p.tmux_pane_id.clone(),
                pane_state(p.state()),
                stage(p.failed_stage()),
                p.agent_id.clone(),
                p.hint.clone(),
            ]
        }),
    );
}

pub(crate) fn agents_table(agents: &[pb::Agent]) {
    print_table(
        &[
            "AGENT",
            "CONTAINER",
            "SESSION",
            "TMUX",
            "LABEL",
            "ROLE",
            "ORIGIN",
            "REGISTERED",
            "ACTIVITY",
            "FOR",
        ],
        agents.iter().map(|a| {
            let activity = a.activity.clone().unwrap_or_default();
            vec![
                a.agent_id.clone(),
                a.container_id.clone(),
                a.tmux_session_name.clone(),
                a.tmux_pane_id.clone(),
                a.label.clone(),
                a.role.clone(),
                a.origin().short_name(),
                a.registered.to_string(),
                match activity.activity() {
                    pb::Activity::Unspecified => pb::Activity::Unknown.short_name(),
                    other => other.short_name(),
                },
                age(activity.since_time.as_ref(), std::time::SystemTime::now()),
            ]
        }),
    );
}

/// How long ago `since` was, coarsely (`42s`, `3m12s`, `2h5m`, `3d4h`);
/// empty when unset.
pub(crate) fn age(since: Option<&time::Timestamp>, now: std::time::SystemTime) -> String {
    let Some(since) = since else {
        return String::new();
    };
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let s = (now - since.seconds).max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

pub(crate) fn next_page(token: &str) {
    if !token.is_empty() {
        println!("\nmore: --page-token {token}");
    }
}

pub(crate) fn warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: skipped {w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_coarse_and_never_negative() {
        let at = |secs: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        let since = time::Timestamp {
            seconds: 1_000,
            nanos: 0,
        };
        assert_eq!(age(Some(&since), at(1_042)), "42s");
        assert_eq!(age(Some(&since), at(1_000 + 192)), "3m12s");
        assert_eq!(age(Some(&since), at(1_000 + 7_500)), "2h5m");
        assert_eq!(
            age(Some(&since), at(1_000 + 3 * 86_400 + 4 * 3_600)),
            "3d4h"
        );
        assert_eq!(age(Some(&since), at(900)), "0s");
        assert_eq!(age(None, at(1_000)), "");
    }
}
