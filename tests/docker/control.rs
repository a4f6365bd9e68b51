//! The control connection into bench containers (issue 16): one
//! long-lived `docker exec -i … tmux -C` per container. Stopping a
//! container ends it, which is pushed: that container's panes fail well
//! before the health poll, the others are untouched, and the connection
//! opens again once the container is back.

use std::time::Duration;

use agenttower::pb;

use super::{daemon, in_container, panes, scan};
use crate::support::docker::unique;
use crate::support::*;

/// The health poll never runs during the test.
const NO_POLL: &str = "health_interval_ms: 600000";
/// How long the pushed failure may take: a `docker exec` of the daemon's
/// own listing is in it, on a loaded 2-core machine.
const PUSH_BOUND: Duration = Duration::from_secs(15);

/// Whether the daemon's control client is attached inside `b`.
fn has_control_client(b: &crate::support::docker::Bench) -> bool {
    b.tmux(&[
        "list-clients",
        "-F",
        "#{client_control_mode} #{session_name}",
    ])
    .lines()
    .any(|l| l == format!("1 {CONTROL_SESSION}"))
}

#[tokio::test]
async fn a_stopped_container_fails_only_its_panes_by_push_and_reconnects_when_back() {
    let label = unique("control");
    let d = daemon(&label, NO_POLL).await;
    let a = super::bench(&d, &label, "at-ca", false);
    let b = super::bench(&d, &label, "at-cb", false);
    scan(&d).await;
    let la = d.create_and_settle(in_container(&a, "1m+2s", "work")).await;
    let lb = d.create_and_settle(in_container(&b, "1m+2s", "work")).await;
    for l in [&la, &lb] {
        assert_eq!(
            l.the_layout().state(),
            pb::LayoutState::Ready,
            "{}",
            d.log()
        );
    }
    assert!(has_control_client(&a) && has_control_client(&b));

    let lb_id = lb.the_layout().layout_id.clone();
    let mut s = d
        .watch(pb::WatchEventsRequest {
            layout_id: lb_id.clone(),
            ..Default::default()
        })
        .await;
    b.stop();
    tokio::time::timeout(
        PUSH_BOUND,
        events_until(&mut s, |e| layout_became(e, &lb_id, "failed")),
    )
    .await
    .expect("the stop pushed well before the ten-minute poll");
    for p in panes(&d.layout(&lb_id).await) {
        assert_eq!(p.state(), pb::PaneState::Failed, "{p:?}");
    }
    let a_now = d.layout(&la.the_layout().layout_id).await;
    assert!(
        panes(&a_now)
            .iter()
            .all(|p| p.state() == pb::PaneState::Ready),
        "{a_now:#?}"
    );
    assert!(has_control_client(&a), "A's connection was touched");

    // Back: a new layout in B opens a new connection there.
    b.start();
    scan(&d).await;
    let again = d
        .create_and_settle(in_container(&b, "1m+2s", "again"))
        .await;
    assert_eq!(
        again.the_layout().state(),
        pb::LayoutState::Ready,
        "{}",
        d.log()
    );
    eventually("a control client in B again", || {
        let back = has_control_client(&b);
        async move { back.then_some(()) }
    })
    .await;
}
