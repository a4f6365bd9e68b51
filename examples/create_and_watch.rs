//! Creates a layout and follows its events until it settles.
//!
//! ```sh
//! cargo run --example create_and_watch -- <session> [template] [container]
//! ```
//!
//! Exits 0 when the layout is `ready`, 1 when it settles otherwise, 2 on a
//! closed-set API error (printed with its details).

use agenttower::{client, pb};

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
        .into_inner();
    println!("layout {} created", created.layout_id);

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
            "#{} {} {}",
            e.sequence,
            e.event_type().as_str_name(),
            e.payload_json
        );
        let payload: serde_json::Value = serde_json::from_str(&e.payload_json)?;
        if e.event_type() == pb::EventType::ManagedLayoutStateChanged && payload["to"] != "creating"
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
    let state = layout
        .layout
        .map_or(pb::LayoutState::Unspecified, |l| l.state());
    println!("settled {}", state.as_str_name());
    for p in layout.panes {
        println!(
            "  {} {} {}",
            p.label,
            p.state().as_str_name(),
            p.tmux_pane_id
        );
    }
    Ok(state)
}

/// A failed call as its closed-set error when it carries one.
fn explain(status: tonic::Status) -> Box<dyn std::error::Error> {
    match client::api_error(&status) {
        Some(e) => Box::new(e),
        None => Box::new(status),
    }
}
