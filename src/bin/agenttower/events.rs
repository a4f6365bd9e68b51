//! `events list|watch` and the event-driven progress of `layout create
//! --wait`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use agenttower::client::{self, ManagedSessionsServiceClient};
use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::pb::lifecycle_event::Payload;
use agenttower::time;
use clap::{Args, Subcommand};
use tokio::time::Instant;

use crate::output::{self, Out, print_table};
use crate::start::Socket;
use crate::{CliResult, Failure, PageArgs, resolve};

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCmd {
    /// Print the event history after a sequence.
    List {
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Newest first: the tail of the log.
        #[arg(long)]
        newest_first: bool,
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Follow events as they are committed (one JSON object per line with
    /// --json). Resumes by sequence if the daemon restarts.
    Watch {
        /// Replay events after this sequence first (default: only new ones).
        #[arg(long)]
        after: Option<u64>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
        #[command(flatten)]
        filter: FilterArgs,
    },
}

/// Filters shared by `events list` and `events watch`.
#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// Only this container's events (id, short id or name).
    #[arg(long)]
    container: Option<String>,
    /// Only this layout's events: its session name, id or unique id prefix.
    #[arg(long)]
    layout: Option<String>,
    /// Only this pane's events: its label, id or unique id prefix.
    #[arg(long)]
    pane: Option<String>,
    /// Event type, e.g. managed_pane_state_changed (repeatable).
    #[arg(long = "type", value_name = "EVENT_TYPE", value_parser = parse_event_type)]
    types: Vec<i32>,
}

fn parse_event_type(s: &str) -> Result<i32, String> {
    pb::EventType::from_short_name(s)
        .map(|t| t as i32)
        .ok_or_else(|| format!("unknown event type {s:?} (e.g. managed_pane_state_changed)"))
}

/// The filters with names resolved to ids.
struct Filter {
    container_id: String,
    layout_id: String,
    pane_id: String,
    types: Vec<i32>,
}

impl FilterArgs {
    async fn resolve(self, c: &mut ManagedSessionsServiceClient) -> Result<Filter, Failure> {
        Ok(Filter {
            container_id: self.container.unwrap_or_default(),
            layout_id: resolve::filter(c, pb::NameKind::Layout, self.layout.as_deref()).await?,
            pane_id: resolve::filter(c, pb::NameKind::Pane, self.pane.as_deref()).await?,
            types: self.types,
        })
    }
}

pub(crate) async fn run(cmd: EventsCmd, socket: &Socket, out: &Out) -> CliResult {
    let mut c = socket.connect().await?;
    match cmd {
        EventsCmd::List {
            after,
            newest_first,
            filter,
            page,
        } => {
            let filter = filter.resolve(&mut c).await?;
            let r = c
                .list_events(pb::ListEventsRequest {
                    after_sequence: after,
                    container_id: filter.container_id,
                    layout_id: filter.layout_id,
                    pane_id: filter.pane_id,
                    event_types: filter.types,
                    page_size: page.page_size,
                    page_token: page.page_token,
                    newest_first,
                })
                .await?
                .into_inner();
            out.show(&r, || {
                events_table(&r.events);
                output::next_page(&r.next_page_token);
            });
            Ok(())
        }
        EventsCmd::Watch {
            after,
            count,
            filter,
        } => {
            let filter = filter.resolve(&mut c).await?;
            // "From now" is pinned to the current head, so a reconnect
            // before the first event still misses nothing.
            let after = match after {
                Some(seq) => seq,
                None => head(&mut c).await?,
            };
            watch(&socket.path, after, count, filter, out).await
        }
    }
}

fn events_table(events: &[pb::LifecycleEvent]) {
    print_table(
        &["SEQ", "TIME", "EVENT", "LAYOUT", "PANE", "ACTOR"],
        events.iter().map(|e| {
            vec![
                e.sequence.to_string(),
                time::rfc3339(e.event_time.as_ref()),
                e.event_type().short_name(),
                e.layout_id.clone(),
                e.pane_id.clone(),
                e.actor().short_name(),
            ]
        }),
    );
}

/// The longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Follows events after sequence `after`; when the daemon goes away,
/// reconnects with capped back-off (never starting one: a daemon stopped on
/// purpose stays stopped) and resumes after the last sequence it handled.
async fn watch(
    socket: &Path,
    after: u64,
    count: Option<u64>,
    filter: Filter,
    out: &Out,
) -> CliResult {
    let mut last = after;
    let mut printed = 0u64;
    let mut backoff = Duration::from_millis(100);
    loop {
        let request = pb::WatchEventsRequest {
            after_sequence: last,
            from_now: false,
            container_id: filter.container_id.clone(),
            layout_id: filter.layout_id.clone(),
            pane_id: filter.pane_id.clone(),
            event_types: filter.types.clone(),
        };
        let opened = match client::connect(socket).await {
            Ok(ch) => {
                ManagedSessionsServiceClient::new(ch)
                    .watch_events(request)
                    .await
            }
            Err(e) => Err(tonic::Status::unavailable(e.to_string())),
        };
        let mut stream = match opened {
            Ok(s) => s.into_inner(),
            // A closed-set answer (a bad filter) is final.
            Err(s)
                if client::api_error(&s)
                    .is_some_and(|e| e.code != pb::ErrorCode::DaemonUnavailable) =>
            {
                return Err(s.into());
            }
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        loop {
            match stream.message().await {
                Ok(Some(pb::WatchEventsResponse {
                    item: Some(pb::watch_events_response::Item::Event(e)),
                })) => {
                    print_event(&e, out);
                    last = e.sequence;
                    printed += 1;
                    if count.is_some_and(|n| printed >= n) {
                        return Ok(());
                    }
                }
                Ok(Some(pb::WatchEventsResponse {
                    item: Some(pb::watch_events_response::Item::LaggedResumeAfter(seq)),
                })) => {
                    last = seq;
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    eprintln!(
                        "agenttower: event stream interrupted; reconnecting after sequence {last}"
                    );
                    break;
                }
            }
        }
    }
}

/// The newest sequence in the log (0 when empty).
async fn head(c: &mut ManagedSessionsServiceClient) -> Result<u64, Failure> {
    let r = c
        .list_events(pb::ListEventsRequest {
            newest_first: true,
            page_size: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(r.events.first().map_or(0, |e| e.sequence))
}

fn print_event(e: &pb::LifecycleEvent, out: &Out) {
    if out.json {
        match serde_json::to_string(e) {
            Ok(s) => println!("{s}"),
            Err(err) => eprintln!("error: cannot encode JSON: {err}"),
        }
    } else {
        println!(
            "{:>6}  {}  {:<36}  {}  {}  {}",
            e.sequence,
            time::rfc3339(e.event_time.as_ref()),
            e.event_type().short_name(),
            if e.layout_id.is_empty() {
                "-"
            } else {
                &e.layout_id
            },
            if e.pane_id.is_empty() {
                "-"
            } else {
                &e.pane_id
            },
            payload_json(e)
        );
    }
}

/// The event's payload member as compact proto3 JSON (`{}` when the type
/// is newer than this CLI).
fn payload_json(e: &pb::LifecycleEvent) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|mut v| v.get_mut(e.event_type().short_name()).map(|p| p.take()))
        .map_or_else(|| "{}".to_string(), |p| p.to_string())
}

/// Follows the layout's events until it leaves `creating`, printing each
/// pane's progress, then shows the settled layout.
pub(crate) async fn wait_settled(
    c: &mut ManagedSessionsServiceClient,
    created: &pb::CreateLayoutResponse,
    timeout: Duration,
    out: &Out,
) -> CliResult {
    let created = created.layout.clone().unwrap_or_default();
    let layout_id = created.layout_id.clone();
    let deadline = Instant::now() + timeout;
    let labels: HashMap<String, String> = created
        .panes
        .iter()
        .map(|p| (p.pane_id.clone(), p.label.clone()))
        .collect();
    // Replaying the layout's own events from the start covers whatever
    // happened between the create answer and this call.
    let mut stream = c
        .watch_events(pb::WatchEventsRequest {
            layout_id: layout_id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut settled = created.state() != pb::LayoutState::Creating;
    while !settled {
        let next = tokio::time::timeout_at(deadline, stream.message())
            .await
            .map_err(|_| {
                Failure::Timeout(format!(
                    "layout {layout_id} still creating after {timeout:?}"
                ))
            })??;
        let Some(pb::WatchEventsResponse {
            item: Some(pb::watch_events_response::Item::Event(e)),
        }) = next
        else {
            return Err(Failure::Api(tonic::Status::unavailable(
                "the event stream ended before the layout settled",
            )));
        };
        match e.payload {
            Some(Payload::ManagedPaneStateChanged(p)) if !out.json => {
                let label = labels.get(&e.pane_id).map_or(e.pane_id.as_str(), |l| l);
                let stage = output::stage(p.failed_stage());
                eprintln!(
                    "  pane {label}: {} → {}{}",
                    p.from_state().short_name(),
                    p.to_state().short_name(),
                    if stage.is_empty() {
                        String::new()
                    } else {
                        format!(" ({stage}: {})", p.reason)
                    }
                );
            }
            Some(Payload::ManagedLayoutStateChanged(p)) => {
                if !out.json {
                    eprintln!(
                        "layout {layout_id}: {} ({}/{} ready)",
                        p.to_state().short_name(),
                        p.ready_pane_count,
                        p.intended_pane_count
                    );
                }
                settled = p.to_state() != pb::LayoutState::Creating;
            }
            _ => {}
        }
    }
    let r = c
        .get_layout(pb::GetLayoutRequest {
            layout_id: layout_id.clone(),
            include_terminal_panes: false,
        })
        .await?
        .into_inner();
    let layout = r.layout.clone().unwrap_or_default();
    out.show(&r, || output::panes_table(&layout.panes));
    match layout.state() {
        pb::LayoutState::Ready => Ok(()),
        other => Err(Failure::NotReady(format!(
            "layout {layout_id} settled {}: {}",
            output::layout_state(other),
            layout.hint
        ))),
    }
}
