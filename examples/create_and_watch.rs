//! Creates a layout and follows its events until it settles.
//!
//! ```sh
//! cargo run --example create_and_watch -- <session> [template] [container]
//! ```
//!
//! Exits 0 when the layout is `ready`, 1 when it settles otherwise, 2 on a
//! closed-set API error (printed with its details).
//!
//! Enum values print by their proto names (`PANE_STATE_READY`), as in proto3
//! JSON; the event summaries use the short words of
//! `agenttower::names::ShortName` (`ready`), as the CLI does.

use agenttower::names::ShortName as _;
use agenttower::pb::lifecycle_event::Payload;
use agenttower::{client, pb, time};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(session) = args.next() else {
        eprintln!("usage: create_and_watch <session> [template] [container]");
        return std::process::ExitCode::from(2);
    };
    let template = args.next().unwrap_or_else(|| "1m+2s".into());
    let container = args.next().unwrap_or_else(|| "local".into());
    match run(session, template, container).await {
        Ok(pb::LayoutState::Ready) => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(
    session: String,
    template: String,
    container: String,
) -> Result<pb::LayoutState, Box<dyn std::error::Error>> {
    let mut c = client::open_default().await?;
    let created = c
        .managed
        .create_layout(pb::CreateLayoutRequest {
            container_id: container,
            template_name: template,
            tmux_session_name: session,
            ..Default::default()
        })
        .await
        .map_err(explain)?
        .into_inner()
        .layout
        .unwrap_or_default();
    println!(
        "layout {} created with {} panes",
        created.layout_id,
        created.panes.len()
    );

    // Replay this layout's events from the start, then follow them live.
    let mut events = c
        .managed
        .watch_events(pb::WatchEventsRequest {
            layout_id: created.layout_id.clone(),
            ..Default::default()
        })
        .await
        .map_err(explain)?
        .into_inner();
    while let Some(item) = events.message().await.map_err(explain)? {
        let Some(pb::watch_events_response::Item::Event(e)) = item.item else {
            continue;
        };
        println!(
            "#{} {} {} {}",
            e.sequence,
            time::rfc3339(e.event_time.as_ref()),
            e.event_type().as_str_name(),
            summary(&e)
        );
        // The typed payload; `None` for an event type newer than this build.
        if let Some(Payload::ManagedLayoutStateChanged(p)) = &e.payload
            && p.to_state() != pb::LayoutState::Creating
        {
            break;
        }
    }
    let layout = c
        .managed
        .get_layout(pb::GetLayoutRequest {
            layout_id: created.layout_id,
            include_terminal_panes: false,
        })
        .await
        .map_err(explain)?
        .into_inner();
    // GetLayout answers the layout with its panes.
    let layout = layout.layout.unwrap_or_default();
    let state = layout.state();
    println!("settled {}", state.as_str_name());
    for p in &layout.panes {
        println!(
            "  {} {} {}",
            p.label,
            p.state().as_str_name(),
            p.tmux_pane_id
        );
    }
    Ok(state)
}

/// A state change as `label: from → to`, any other payload as its compact
/// proto3 JSON (the member named like the event type).
fn summary(e: &pb::LifecycleEvent) -> String {
    match &e.payload {
        Some(Payload::ManagedPaneStateChanged(p)) => format!(
            "{}: {} → {}",
            p.label,
            p.from_state().short_name(),
            p.to_state().short_name()
        ),
        Some(Payload::ManagedLayoutStateChanged(p)) => format!(
            "{} → {} ({}/{} ready)",
            p.from_state().short_name(),
            p.to_state().short_name(),
            p.ready_pane_count,
            p.intended_pane_count
        ),
        _ => serde_json::to_value(e)
            .ok()
            .and_then(|mut v| v.get_mut(e.event_type().short_name()).map(|p| p.take()))
            .map_or_else(String::new, |p| p.to_string()),
    }
}

/// A failed call as its closed-set error when it carries one.
fn explain(status: tonic::Status) -> Box<dyn std::error::Error> {
    match client::api_error(&status) {
        Some(e) => Box::new(e),
        None => Box::new(status),
    }
}
