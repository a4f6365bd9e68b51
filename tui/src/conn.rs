//! The console's connection to the daemon. One task owns it: it takes a
//! snapshot, follows `WatchEvents` (refetching the layout an event names),
//! runs the operator's requests, and on any loss reconnects with capped
//! back-off and resumes after the last sequence it delivered.

use std::path::PathBuf;
use std::time::Duration;

use agenttower::client::{self, ManagedSessionsServiceClient};
use agenttower::names::ShortName as _;
use agenttower::pb;
use tokio::sync::mpsc;

use crate::resolve;
use crate::words::hint_for;

/// Events shown from before the console started.
const TAIL: u32 = 50;
/// First and longest pause between reconnection attempts.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What the daemon looked like when (re)connecting.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub containers: Vec<pb::Container>,
    pub templates: Vec<String>,
    /// Every layout with all its panes.
    pub layouts: Vec<pb::Layout>,
    /// Adopted agents (registered ones).
    pub agents: Vec<pb::Agent>,
    /// Recent events, oldest first (empty when resuming).
    pub tail: Vec<pb::LifecycleEvent>,
}

/// A message from the connection to the state.
#[derive(Debug)]
pub(crate) enum Server {
    Snapshot(Snapshot),
    Event(Box<pb::LifecycleEvent>),
    /// A layout refetched after one of its events.
    Layout(Box<pb::Layout>),
    /// The adopted agents, refetched after an activity change of one.
    Agents(Vec<pb::Agent>),
    /// The daemon went away; reconnecting.
    Lost(String),
    /// A request succeeded.
    Done(String),
    /// A request failed with a closed-set code.
    Failed {
        code: String,
        message: String,
        hint: String,
    },
    LogTail {
        label: String,
        lines: Vec<String>,
    },
    /// The pane to attach to, resolved: its agent and container.
    AttachTo(Box<pb::ResolveNameResponse>),
    /// What the go-to prompt's `name` named.
    Found {
        name: String,
        found: Box<pb::ResolveNameResponse>,
    },
}

/// An operator request for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    Create {
        container_id: String,
        template_name: String,
        session: String,
        idempotency_key: String,
    },
    RemovePane {
        pane_id: String,
        label: String,
    },
    RecreatePane {
        pane_id: String,
        label: String,
    },
    RemoveLayout {
        layout_id: String,
        session: String,
    },
    LogTail {
        label: String,
        path: String,
    },
    /// Resolve a pane for attaching to it.
    Attach {
        pane_id: String,
    },
    /// Resolve what the operator typed at the go-to prompt.
    GoTo {
        name: String,
    },
}

/// Runs until the console drops its receiver.
pub(crate) async fn run(
    socket: PathBuf,
    out: mpsc::Sender<Server>,
    mut requests: mpsc::Receiver<Request>,
) {
    let mut after: Option<u64> = None;
    let mut backoff = MIN_BACKOFF;
    loop {
        let reason = match session(&socket, &mut after, &mut backoff, &out, &mut requests).await {
            Ok(()) => return,
            Err(reason) => reason,
        };
        if out.send(Server::Lost(reason)).await.is_err() {
            return;
        }
        // Requests made while disconnected fail at once rather than queue.
        while let Ok(r) = requests.try_recv() {
            let _ = out.send(failed_offline(&r)).await;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn failed_offline(_: &Request) -> Server {
    Server::Failed {
        code: pb::ErrorCode::DaemonUnavailable.short_name(),
        message: "not connected to agenttowerd".into(),
        hint: hint_for(pb::ErrorCode::DaemonUnavailable).into(),
    }
}

/// A failed call as the status line shows it: its closed-set code, or
/// `daemon_unavailable` when the daemon never answered.
pub(crate) fn failed(status: &tonic::Status) -> Server {
    match client::api_error(status) {
        Some(e) => Server::Failed {
            hint: hint_for(e.code).into(),
            code: e.reason,
            message: e.message,
        },
        None => Server::Failed {
            code: pb::ErrorCode::DaemonUnavailable.short_name(),
            message: status.message().to_string(),
            hint: hint_for(pb::ErrorCode::DaemonUnavailable).into(),
        },
    }
}

/// One connection: snapshot, then events and requests until something
/// breaks (`Err` with the reason) or the console goes away (`Ok`). A
/// successful snapshot resets the back-off.
async fn session(
    socket: &std::path::Path,
    after: &mut Option<u64>,
    backoff: &mut Duration,
    out: &mpsc::Sender<Server>,
    requests: &mut mpsc::Receiver<Request>,
) -> Result<(), String> {
    let mut c = ManagedSessionsServiceClient::new(
        client::connect(socket).await.map_err(|e| e.to_string())?,
    );
    let lost = |s: tonic::Status| s.message().to_string();
    // The tail first: its newest sequence is where the stream starts, so
    // nothing between the snapshot and the stream is lost.
    let tail = match *after {
        Some(_) => Vec::new(),
        None => {
            let mut t = c
                .list_events(pb::ListEventsRequest {
                    newest_first: true,
                    page_size: TAIL,
                    ..Default::default()
                })
                .await
                .map_err(lost)?
                .into_inner()
                .events;
            t.reverse();
            t
        }
    };
    let start = after.unwrap_or_else(|| tail.last().map_or(0, |e| e.sequence));
    let snapshot = Snapshot {
        containers: c
            .list_containers(pb::ListContainersRequest::default())
            .await
            .map_err(lost)?
            .into_inner()
            .containers,
        templates: c
            .list_templates(pb::ListTemplatesRequest::default())
            .await
            .map_err(lost)?
            .into_inner()
            .templates
            .into_iter()
            .map(|t| t.name)
            .collect(),
        layouts: all_layouts(&mut c).await.map_err(lost)?,
        agents: adopted_agents(&mut c).await.map_err(lost)?,
        tail,
    };
    let mut stream = c
        .watch_events(pb::WatchEventsRequest {
            after_sequence: start,
            ..Default::default()
        })
        .await
        .map_err(lost)?
        .into_inner();
    *after = Some(start);
    *backoff = MIN_BACKOFF;
    if out.send(Server::Snapshot(snapshot)).await.is_err() {
        return Ok(());
    }
    loop {
        tokio::select! {
            m = stream.message() => {
                let e = match m {
                    Ok(Some(pb::WatchEventsResponse {
                        item: Some(pb::watch_events_response::Item::Event(e)),
                    })) => e,
                    Ok(Some(pb::WatchEventsResponse {
                        item: Some(pb::watch_events_response::Item::LaggedResumeAfter(seq)),
                    })) => {
                        *after = Some(seq);
                        return Err("fell behind the event stream".into());
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) => return Err("the event stream ended".into()),
                    Err(s) => return Err(lost(s)),
                };
                let layout_id = e.layout_id.clone();
                // An adopted agent's activity: its envelope names no layout.
                let adopted = layout_id.is_empty()
                    && e.event_type() == pb::EventType::AgentActivityChanged;
                *after = Some(e.sequence);
                if out.send(Server::Event(Box::new(e))).await.is_err() {
                    return Ok(());
                }
                if adopted {
                    let agents = adopted_agents(&mut c).await.map_err(lost)?;
                    if out.send(Server::Agents(agents)).await.is_err() {
                        return Ok(());
                    }
                }
                if !layout_id.is_empty() {
                    let layout = fetch_layout(&mut c, &layout_id).await.map_err(lost)?;
                    if out.send(Server::Layout(Box::new(layout))).await.is_err() {
                        return Ok(());
                    }
                }
            }
            r = requests.recv() => {
                let Some(r) = r else { return Ok(()) };
                let answer = perform(&mut c, r).await;
                if out.send(answer).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// Every layout (all pages), each with all its panes (all pages):
/// ListLayouts answers layouts without panes, so ListPanes fills them in.
async fn all_layouts(
    c: &mut ManagedSessionsServiceClient,
) -> Result<Vec<pb::Layout>, tonic::Status> {
    let mut layouts = Vec::new();
    let mut token = String::new();
    loop {
        let r = c
            .list_layouts(pb::ListLayoutsRequest {
                page_size: 200,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        layouts.extend(r.layouts);
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    let mut panes: std::collections::HashMap<String, Vec<pb::Pane>> = Default::default();
    let mut token = String::new();
    loop {
        let r = c
            .list_panes(pb::ListPanesRequest {
                page_size: 200,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        for p in r.panes {
            panes.entry(p.layout_id.clone()).or_default().push(p);
        }
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    for l in &mut layouts {
        l.panes = panes.remove(&l.layout_id).unwrap_or_default();
    }
    Ok(layouts)
}

/// Every registered adopted agent (all pages).
async fn adopted_agents(
    c: &mut ManagedSessionsServiceClient,
) -> Result<Vec<pb::Agent>, tonic::Status> {
    let mut agents = Vec::new();
    let mut token = String::new();
    loop {
        let r = c
            .list_agents(pb::ListAgentsRequest {
                origin: pb::AgentOrigin::Adopted as i32,
                page_size: 200,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        agents.extend(r.agents);
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    Ok(agents)
}

async fn fetch_layout(
    c: &mut ManagedSessionsServiceClient,
    layout_id: &str,
) -> Result<pb::Layout, tonic::Status> {
    let r = c
        .get_layout(pb::GetLayoutRequest {
            layout_id: layout_id.to_string(),
            include_terminal_panes: true,
        })
        .await?
        .into_inner();
    // GetLayout answers the layout with its panes.
    Ok(r.layout.unwrap_or_default())
}

/// Runs one request and says how it went.
async fn perform(c: &mut ManagedSessionsServiceClient, r: Request) -> Server {
    let result = match r {
        Request::Create {
            container_id,
            template_name,
            session,
            idempotency_key,
        } => c
            .create_layout(pb::CreateLayoutRequest {
                container_id,
                template_name: template_name.clone(),
                tmux_session_name: session.clone(),
                idempotency_key,
                ..Default::default()
            })
            .await
            .map(|r| {
                let r = r.into_inner();
                if r.replay {
                    format!("layout {session} already exists for that key (replay)")
                } else {
                    format!("creating {template_name} as session {session}")
                }
            }),
        Request::RemovePane { pane_id, label } => c
            .remove_pane(pb::RemovePaneRequest { pane_id })
            .await
            .map(|_| format!("removed pane {label}")),
        Request::RecreatePane { pane_id, label } => c
            .recreate_pane(pb::RecreatePaneRequest {
                predecessor_pane_id: pane_id,
                ..Default::default()
            })
            .await
            .map(|_| format!("recreating pane {label}")),
        Request::RemoveLayout { layout_id, session } => c
            .remove_layout(pb::RemoveLayoutRequest { layout_id })
            .await
            .map(|_| format!("removed layout {session}")),
        Request::LogTail { label, path } => return crate::preview::log_tail(label, path).await,
        Request::Attach { pane_id } => return resolve::attach_target(c, pane_id).await,
        Request::GoTo { name } => return resolve::go_to(c, name).await,
    };
    match result {
        Ok(text) => Server::Done(text),
        Err(status) => failed(&status),
    }
}
