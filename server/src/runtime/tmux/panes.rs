//! Pane listings: the one format every listing uses, and its parser.

use crate::runtime::control::CONTROL_SESSION;

/// `#{...}` fields of `list-panes` separated by a tab; the title is last
/// because it may hold tabs. The one listing format: every parsed pane
/// comes from it.
pub(crate) const PANE_FIELDS: &str = concat!(
    "#{session_name}\t#{pane_id}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_pipe}\t",
    "#{@agenttower_pane}\t#{pid}:#{start_time}\t#{pane_pid}\t#{pane_current_command}\t",
    "#{@agenttower_marker}\t#{pane_title}"
);

/// One line of `list-panes -F PANE_FIELDS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaneInfo {
    pub session: String,
    pub pane_id: String,
    pub dead: bool,
    pub dead_status: Option<i32>,
    pub pipe: bool,
    /// The managed pane row this tmux pane belongs to; empty when none.
    pub owner: String,
    /// The tmux server instance (`SERVER_FORMAT`).
    pub server: String,
    /// `#{pane_pid}`: the pane's process, in the tmux server's pid namespace.
    pub pid: Option<i32>,
    pub current_command: String,
    /// `MARKER_OPTION`: the pending-marker token, or empty.
    pub marker: String,
    pub title: String,
}

impl PaneInfo {
    /// Whether this is the tmux pane of managed pane row `pane_id`.
    pub(crate) fn owned_by(&self, pane_id: &str) -> bool {
        self.owner == pane_id
    }
}

/// Parses `list-panes -F PANE_FIELDS` output, skipping malformed lines and
/// the daemon's own control session, which is never a layout or an agent.
pub(crate) fn parse_panes(out: &str) -> Vec<PaneInfo> {
    out.lines()
        .filter_map(|line| {
            let mut f = line.splitn(11, '\t');
            let session = f.next()?.to_string();
            if session == CONTROL_SESSION {
                return None;
            }
            let pane_id = f.next()?.to_string();
            if !pane_id.starts_with('%') {
                return None;
            }
            Some(PaneInfo {
                session,
                pane_id,
                dead: f.next()? == "1",
                dead_status: f.next().and_then(|s| s.parse().ok()),
                pipe: f.next()? == "1",
                owner: f.next()?.to_string(),
                server: f.next()?.to_string(),
                pid: f.next()?.parse().ok().filter(|p| *p > 0),
                current_command: f.next()?.to_string(),
                marker: f.next()?.trim().to_string(),
                title: f.next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

/// A tmux pane that carries an ownership mark or a pending marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marked {
    pub pane_id: String,
    /// `OWNER_OPTION`: the managed pane row, or empty.
    pub owner: String,
    /// `MARKER_OPTION`: the pending-marker token, or empty.
    pub marker: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pane_listing_parses_owner_server_and_titles_with_tabs() {
        let out = "w\t%3\t1\t7\t0\tp1\t9:1\t41\tsh\ttok\t@MANAGED:t:l\n\
             w\t%4\t0\t\t1\t\t9:1\t42\tvim\t\ta\tb\ngarbage\n\
             agenttower+control\t%0\t0\t\t0\t\t9:1\t40\tcat\t\tcat\n";
        let panes = parse_panes(out);
        assert_eq!(panes.len(), 2);
        assert_eq!((panes[0].dead, panes[0].dead_status), (true, Some(7)));
        assert!(panes[0].owned_by("p1") && !panes[1].owned_by("p1"));
        assert_eq!(panes[1].server, "9:1");
        assert_eq!((panes[0].pid, panes[1].pid), (Some(41), Some(42)));
        assert_eq!((panes[1].pipe, panes[1].title.as_str()), (true, "a\tb"));
        assert_eq!(
            (panes[0].marker.as_str(), panes[1].current_command.as_str()),
            ("tok", "vim")
        );
    }
}
