//! WatchEvents: replay then live, exactly once and in order, for fast and
//! slow watchers alike, across a daemon restart.

use agenttower::pb;
use tokio_stream::StreamExt as _;

use crate::support::*;

fn from_now() -> pb::WatchEventsRequest {
    pb::WatchEventsRequest {
        from_now: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_watcher_sees_every_event_of_a_layout_in_order_and_a_replay_gets_the_same() {
    let d = Daemon::start().await;
    let mut live = d.watch(from_now()).await;

    let id = d
        .client()
        .await
        .create_layout(create("1m+2s", "w"))
        .await
        .unwrap()
        .into_inner()
        .layout_id();
    let seen = events_until(&mut live, |e| layout_became(e, &id, "ready")).await;
    assert_eq!(
        seen[0].event_type(),
        pb::EventType::ManagedLayoutCreated,
        "the first event after the call is its layout's creation"
    );
    let of_layout: Vec<_> = seen.into_iter().filter(|e| e.layout_id == id).collect();
    assert!(
        of_layout.windows(2).all(|w| w[0].sequence < w[1].sequence),
        "in sequence order"
    );

    // The table holds exactly what the live watcher saw for this layout,
    // up to its ready. (Its agents' activity changes may follow at any
    // time after: a pane's activity is watched once it is registered.)
    let stored: Vec<_> = d
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.layout_id == id && e.sequence <= of_layout.last().unwrap().sequence)
        .collect();
    assert_eq!(
        sequences(&of_layout),
        sequences(&stored),
        "{:?}",
        stored.iter().map(|e| e.event_type()).collect::<Vec<_>>()
    );
    let types: Vec<_> = of_layout.iter().map(|e| e.event_type()).collect();
    for t in [
        pb::EventType::ManagedPaneCreated,
        pb::EventType::ManagedPanePendingMarkerSet,
        pb::EventType::ManagedPaneStateChanged,
        pb::EventType::ManagedPanePendingMarkerCleared,
    ] {
        assert_eq!(
            types.iter().filter(|&&x| x == t).count(),
            3,
            "{t:?}: {types:?}"
        );
    }

    // A watcher started afterwards replays the same sequence exactly.
    let mut replay = d
        .watch(pb::WatchEventsRequest {
            after_sequence: of_layout[0].sequence - 1,
            layout_id: id.clone(),
            ..Default::default()
        })
        .await;
    let replayed = events_until(&mut replay, |e| layout_became(e, &id, "ready")).await;
    assert_eq!(sequences(&replayed), sequences(&of_layout));
    assert_eq!(replayed, of_layout, "identical envelopes and payloads");

    // Then it goes live without repeating anything: the next event it gets
    // is the removal that happens now.
    d.client()
        .await
        .remove_layout(pb::RemoveLayoutRequest {
            layout_id: id.clone(),
        })
        .await
        .unwrap();
    let next = next_event(&mut replay).await;
    assert!(next.sequence > of_layout.last().unwrap().sequence);
    assert_eq!(next.layout_id, id);
}

#[tokio::test]
async fn filters_select_by_pane_and_event_type_and_bad_filters_are_refused() {
    let d = Daemon::start().await;
    let layout = d.create_settled("1m+2s", "f").await;
    let pane = &layout.panes()[1];
    let mut by_pane = d
        .watch(pb::WatchEventsRequest {
            pane_id: pane.pane_id.clone(),
            event_types: vec![pb::EventType::ManagedPaneStateChanged as i32],
            ..Default::default()
        })
        .await;
    let e = next_event(&mut by_pane).await;
    assert_eq!(e.pane_id, pane.pane_id);
    assert_eq!(payload(&e)["to_state"], "PANE_STATE_READY");

    let mut c = d.client().await;
    let (code, e) = err(c
        .watch_events(pb::WatchEventsRequest {
            event_types: vec![999],
            ..Default::default()
        })
        .await);
    assert_eq!(code, tonic::Code::InvalidArgument);
    assert_eq!(e.reason, "validation_failed");
    assert_eq!(e.details["field"], "event_types");
    let (_, e) = err(c
        .watch_events(pb::WatchEventsRequest {
            container_id: "nowhere".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(e.reason, "container_not_found");
    // ListEvents shares the filter: by pane, only that pane's events.
    let listed = c
        .list_events(pb::ListEventsRequest {
            pane_id: pane.pane_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(!listed.is_empty() && listed.iter().all(|e| e.pane_id == pane.pane_id));

    // newest_first pages backwards through the tail of the log.
    let all = sequences(&d.all_events().await);
    let mut tail = Vec::new();
    let mut token = String::new();
    loop {
        let r = c
            .list_events(pb::ListEventsRequest {
                newest_first: true,
                page_size: 3,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        tail.extend(sequences(&r.events));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    // Events written after `all` was read (an agent's activity may change
    // at any time) are newer than its last one and come first here.
    let newest = all.last().copied().unwrap_or_default();
    tail.retain(|s| *s <= newest);
    assert_eq!(tail, all.iter().rev().copied().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_hundred_watchers_and_a_stalled_one_all_get_every_event_in_order() {
    // A tiny bus and per-watcher buffer so the stalled watcher must fall
    // behind and be resumed from the table.
    let d =
        Daemon::start_with(Setup::default().config("event_bus_capacity: 16\nwatch_buffer: 4\n"))
            .await;
    let start = d.all_events().await.last().map_or(0, |e| e.sequence);

    // The stalled watcher has a 1 KiB HTTP/2 window, so the daemon cannot
    // park its events in the client's socket buffers either.
    let tiny = agenttower::client::endpoint()
        .initial_stream_window_size(1024)
        .initial_connection_window_size(1024);
    let mut stalled = agenttower::client::ManagedSessionsServiceClient::new(
        agenttower::client::connect_with(d.socket(), tiny)
            .await
            .unwrap(),
    )
    .watch_events(pb::WatchEventsRequest {
        after_sequence: start,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();

    let mut readers = Vec::new();
    let (done_tx, _) = tokio::sync::broadcast::channel::<u64>(1);
    for _ in 0..99 {
        let mut s = d
            .watch(pb::WatchEventsRequest {
                after_sequence: start,
                ..Default::default()
            })
            .await;
        let mut done = done_tx.subscribe();
        readers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut last_wanted = None;
            loop {
                tokio::select! {
                    m = s.next() => {
                        let Some(pb::watch_events_response::Item::Event(e)) =
                            m.expect("open").expect("ok").item else { panic!("no event") };
                        got.push(e.sequence);
                    }
                    Ok(last) = done.recv(), if last_wanted.is_none() => last_wanted = Some(last),
                }
                if let Some(last) = last_wanted
                    && got.last().is_some_and(|&s| s >= last)
                {
                    return got;
                }
            }
        }));
    }
    let rss_before = d.rss_kib();

    // Enough work for well over a hundred events.
    let mut c = d.client().await;
    for i in 0..6 {
        let l = d.create_settled("1m+2s", &format!("h{i}")).await;
        let id = l.layout.unwrap().layout_id;
        c.remove_layout(pb::RemoveLayoutRequest { layout_id: id })
            .await
            .unwrap();
    }
    let expected: Vec<u64> = sequences(&d.all_events().await)
        .into_iter()
        .filter(|&s| s > start)
        .collect();
    assert!(expected.len() > 100, "{} events", expected.len());
    done_tx.send(*expected.last().unwrap()).unwrap();

    for r in readers {
        let got = tokio::time::timeout(DEADLINE, r)
            .await
            .expect("a reading watcher finishes")
            .unwrap();
        assert_eq!(got, expected, "every event, once, in order");
    }
    let rss_after = d.rss_kib();
    assert!(
        rss_after < rss_before + 32 * 1024,
        "daemon memory grew from {rss_before} to {rss_after} KiB"
    );

    // Only now does the stalled watcher read: still everything, in order.
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.push(next_event(&mut stalled).await.sequence);
    }
    assert_eq!(got, expected);
    assert!(
        d.log().contains("watcher resumes from the table"),
        "the stalled watcher was resumed from the table:\n{}",
        d.log()
    );
}

#[tokio::test]
async fn a_watcher_resumes_across_a_daemon_restart_without_gap_or_duplicate() {
    let mut d = Daemon::start().await;
    let mut s = d.watch(pb::WatchEventsRequest::default()).await;
    let first = d
        .client()
        .await
        .create_layout(create("1m+2s", "before"))
        .await
        .unwrap()
        .into_inner()
        .layout_id();
    let mut seen = events_until(&mut s, |e| layout_became(e, &first, "ready")).await;

    assert!(d.terminate().await.success(), "{}", d.log());
    // The stream ends with an error (daemon_unavailable or a broken
    // connection), never silently as if there were nothing more.
    let end = tokio::time::timeout(DEADLINE, s.message())
        .await
        .expect("the stream ends");
    assert!(end.is_err(), "{end:?}");

    // Events happen while the watcher is away: boot recovery and a new layout.
    d.restart().await;
    let second = d.create_settled("1m+2s", "after").await;
    let second = second.layout.unwrap().layout_id;

    let mut resumed = d
        .watch(pb::WatchEventsRequest {
            after_sequence: seen.last().unwrap().sequence,
            ..Default::default()
        })
        .await;
    seen.extend(events_until(&mut resumed, |e| layout_became(e, &second, "ready")).await);
    // No gap, no duplicate: exactly the table's events up to the last seen
    // (activity detection may have written more since).
    let all = d.all_events().await;
    assert!(all.len() >= seen.len());
    assert_eq!(sequences(&seen), sequences(&all[..seen.len()]));
    assert!(
        seen.iter()
            .any(|e| e.event_type() == pb::EventType::ManagedLayoutRecoveryReattached),
        "the boot recovery event written while away is replayed"
    );
}

#[tokio::test]
async fn a_watcher_that_disconnects_is_cleaned_up() {
    let d = Daemon::start().await;
    let mut streams = Vec::new();
    for _ in 0..5 {
        streams.push(d.watch(from_now()).await);
    }
    drop(streams);
    // Each watcher task notices its client left, even with no event to send.
    eventually("every watcher task to end", || {
        let n = d.log().matches("watch stream closed by its client").count();
        async move { (n == 5).then_some(()) }
    })
    .await;
}

/// A watch or list naming a layout or pane that does not exist answers its
/// not-found code at once (it used to wait forever for events that could
/// never come), as an unknown container always did.
#[tokio::test]
async fn unknown_layouts_and_panes_in_event_filters_are_not_found_at_once() {
    let d = Daemon::start().await;
    let real = d.create_settled("1m+2s", "known").await;
    let mut c = d.client().await;
    let nobody = "01a203e7-0000-7000-8000-000000000000".to_string();
    for (request, reason) in [
        (
            pb::WatchEventsRequest {
                layout_id: nobody.clone(),
                ..Default::default()
            },
            "managed_layout_not_found",
        ),
        (
            pb::WatchEventsRequest {
                pane_id: nobody.clone(),
                ..Default::default()
            },
            "managed_pane_not_found",
        ),
        (
            pb::WatchEventsRequest {
                // A layout id is not a pane id.
                pane_id: real.layout_id(),
                ..Default::default()
            },
            "managed_pane_not_found",
        ),
    ] {
        let answer = tokio::time::timeout(DEADLINE, c.watch_events(request))
            .await
            .expect("an answer, not a stream that waits");
        let (code, e) = err(answer);
        assert_eq!((code, e.reason.as_str()), (tonic::Code::NotFound, reason));
    }
    let (code, e) = err(c
        .list_events(pb::ListEventsRequest {
            layout_id: nobody.clone(),
            ..Default::default()
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (tonic::Code::NotFound, "managed_layout_not_found")
    );
    assert_eq!(e.details["layout_id"], nobody);
    // The real ones still filter.
    let listed = c
        .list_events(pb::ListEventsRequest {
            layout_id: real.layout_id(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|e| e.layout_id == real.layout_id()));
}
