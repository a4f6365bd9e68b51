//! Agent activity (docs/activity.md): the one place an agent's activity
//! changes. Reports (ReportActivity), detection from the pane's output
//! (`crate::activity`) and the pane's process (exit, vanish) all go through
//! [`apply`], inside the writer's transaction, which settles precedence and
//! writes `agent_activity_changed` with the change.

use std::collections::HashMap;
use std::time::Duration;

use super::Services;
use crate::domain::event::AgentActivityChanged;
use crate::domain::{Activity, ActivitySource, Actor};
use crate::error::{Error, Result};
use crate::store::agents::{self, ActivityChange};
use crate::store::events::NewEvent;
use crate::store::models::AgentRow;
use crate::store::{self, Tx, panes};

/// Longest message a report or a matched prompt line carries, in bytes.
pub(crate) const MAX_MESSAGE_BYTES: usize = 256;

/// Who proposes an activity, which decides what it may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    /// ReportActivity from a process in the pane: applies at once and holds
    /// detection off for the profile's hold time.
    Report,
    /// Detection from the pane's output: yields to a report younger than
    /// `hold`, and never overrides `exited`.
    Detection { hold: Duration },
    /// The pane's process exited or the pane vanished: always applies.
    Process,
}

/// A proposed activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proposal {
    pub activity: Activity,
    pub source: ActivitySource,
    pub message: Option<String>,
}

/// What [`apply`] did.
#[derive(Debug, Clone)]
pub(crate) enum Applied {
    /// The activity (or a report's message) changed; the event is written.
    Changed(AgentRow),
    /// Nothing to change: the agent already is there (a report still
    /// refreshes its hold).
    Unchanged(AgentRow),
    /// Detection yields to a report until `until`.
    Held {
        row: AgentRow,
        until: time::OffsetDateTime,
    },
    /// No such agent.
    Missing,
}

impl Applied {
    /// The agent as it is after the call, if it exists.
    pub(crate) fn row(&self) -> Option<&AgentRow> {
        match self {
            Applied::Changed(row) | Applied::Unchanged(row) | Applied::Held { row, .. } => {
                Some(row)
            }
            Applied::Missing => None,
        }
    }
}

/// Applies `proposal` to agent `agent_id` in the caller's transaction,
/// writing `agent_activity_changed` when it changes anything.
pub(crate) fn apply(
    tx: &mut Tx<'_>,
    agent_id: &str,
    proposal: Proposal,
    by: By,
) -> Result<Applied> {
    let Some(row) = agents::get(tx.conn, agent_id)? else {
        return Ok(Applied::Missing);
    };
    let now = time::OffsetDateTime::now_utc();
    // The pane's process is gone: only the process may say so, and nothing
    // brings the agent back (a recreated pane is a new agent).
    if row.activity == Activity::Exited && by != By::Process {
        return Ok(Applied::Unchanged(row));
    }
    if let By::Detection { hold } = by
        && let Some(until) = report_hold_ends(&row, hold).filter(|u| *u > now)
    {
        return Ok(Applied::Held { row, until });
    }
    let message = proposal
        .message
        .map(|m| bounded_message(&m))
        .filter(|m| !m.is_empty());
    let same =
        row.activity == proposal.activity && (by != By::Report || row.activity_message == message);
    let stamp = store::format_time(now);
    if same {
        if by == By::Report {
            agents::set_activity(
                tx.conn,
                agent_id,
                &ActivityChange {
                    activity: row.activity,
                    source: ActivitySource::Report,
                    since: row
                        .activity_since
                        .clone()
                        .unwrap_or_else(|| row.created_at.clone()),
                    message: row.activity_message.clone(),
                    reported_at: Some(stamp),
                },
            )?;
        }
        let row = agents::get(tx.conn, agent_id)?.unwrap_or(row);
        return Ok(Applied::Unchanged(row));
    }
    let since = if row.activity == proposal.activity {
        row.activity_since.clone().unwrap_or_else(|| stamp.clone())
    } else {
        stamp.clone()
    };
    agents::set_activity(
        tx.conn,
        agent_id,
        &ActivityChange {
            activity: proposal.activity,
            source: proposal.source,
            since,
            message: message.clone(),
            reported_at: (by == By::Report).then_some(stamp),
        },
    )?;
    let pane = panes::of_agent(tx.conn, agent_id)?;
    tx.emit(NewEvent {
        actor: Actor::Daemon,
        container_id: Some(row.container_id.clone()),
        layout_id: pane.as_ref().map(|p| p.layout_id.clone()),
        pane_id: pane.map(|p| p.id),
        payload: AgentActivityChanged {
            agent_id: row.agent_id.clone(),
            label: row.label.clone(),
            from_activity: row.activity,
            to_activity: proposal.activity,
            source: proposal.source,
            message,
        }
        .into(),
    })?;
    let row = agents::get(tx.conn, agent_id)?.ok_or_else(|| {
        Error::internal(anyhow::anyhow!(
            "agent {agent_id} vanished in its own transaction"
        ))
    })?;
    Ok(Applied::Changed(row))
}

/// When the last report on `row` stops holding detection off (`hold` after
/// it); `None` if it never reported.
pub(crate) fn report_hold_ends(row: &AgentRow, hold: Duration) -> Option<time::OffsetDateTime> {
    let at = time::OffsetDateTime::parse(
        row.reported_at.as_deref()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    Some(at.saturating_add(time::Duration::try_from(hold).unwrap_or(time::Duration::MAX)))
}

/// The agent's pane process is gone: its activity becomes `exited`.
pub(crate) fn exited(tx: &mut Tx<'_>, agent_id: &str) -> Result<()> {
    apply(
        tx,
        agent_id,
        Proposal {
            activity: Activity::Exited,
            source: ActivitySource::Process,
            message: None,
        },
        By::Process,
    )?;
    Ok(())
}

/// Unregisters an agent whose pane is gone or removed; its activity
/// becomes `exited` in the same transaction.
pub(crate) fn unregister(tx: &mut Tx<'_>, agent_id: &str) -> Result<()> {
    exited(tx, agent_id)?;
    agents::unregister(tx.conn, agent_id)
}

/// `message` on one line without control characters, cut to
/// [`MAX_MESSAGE_BYTES`] at a character boundary.
pub(crate) fn bounded_message(message: &str) -> String {
    let mut out = String::new();
    for c in message.trim().chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > MAX_MESSAGE_BYTES {
            break;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

impl Services {
    /// Applies a report from inside agent `agent_id`'s pane (the caller was
    /// matched to it from the kernel's view).
    pub(crate) async fn report_activity(
        &self,
        agent_id: &str,
        activity: Activity,
        message: Option<String>,
    ) -> Result<AgentRow> {
        if !matches!(
            activity,
            Activity::Working | Activity::WaitingForInput | Activity::Idle
        ) {
            return Err(Error::validation(
                "activity",
                "must be working, waiting_for_input or idle",
            ));
        }
        if let Some(m) = &message
            && m.len() > MAX_MESSAGE_BYTES
        {
            return Err(Error::validation(
                "message",
                format!("at most {MAX_MESSAGE_BYTES} bytes"),
            ));
        }
        let id = agent_id.to_string();
        let applied = self
            .store
            .write(move |tx| {
                apply(
                    tx,
                    &id,
                    Proposal {
                        activity,
                        source: ActivitySource::Report,
                        message,
                    },
                    By::Report,
                )
            })
            .await?;
        applied.row().cloned().ok_or(Error::NotInAgentPane)
    }

    /// Applies what detection saw for agent `agent_id`.
    pub(crate) async fn detected_activity(
        &self,
        agent_id: &str,
        proposal: Proposal,
        hold: Duration,
    ) -> Result<Applied> {
        let id = agent_id.to_string();
        self.store
            .write(move |tx| apply(tx, &id, proposal, By::Detection { hold }))
            .await
    }

    /// The agents behind `agent_ids` by id, for answers that show a pane's
    /// activity.
    pub(crate) async fn agents_by_id(
        &self,
        agent_ids: Vec<String>,
    ) -> Result<HashMap<String, AgentRow>> {
        if agent_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = self
            .store
            .read(move |conn| agents::by_ids(conn, &agent_ids))
            .await?;
        Ok(rows.into_iter().map(|a| (a.agent_id.clone(), a)).collect())
    }
}
