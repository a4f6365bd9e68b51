//! M2/M4 paging: every row exactly once, in the documented order.

use std::collections::HashSet;

use agenttower::pb;

use crate::support::*;

const SOLO: &str = "name: solo\npanes:\n  - {role: r, capability: c, label_pattern: '{session}.only', default_launch_command_ref: talker}\n";

fn rank(state: i32) -> u8 {
    match pb::LayoutState::try_from(state).unwrap() {
        pb::LayoutState::Creating => 0,
        pb::LayoutState::Degraded => 1,
        pb::LayoutState::Ready => 2,
        pb::LayoutState::Failed => 3,
        _ => 4,
    }
}

#[tokio::test]
async fn paging_layouts_and_panes_returns_every_row_once_in_order() {
    let d = Daemon::start_with(
        Setup::default()
            .template("solo", SOLO)
            .profile("crash", "name: crash\ncommand: [sh, -c, 'exit 1']\n"),
    )
    .await;
    let mut c = d.client().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut req = create("solo", &format!("p{i}"));
        if i % 3 == 0 {
            req.launch_command_overrides
                .insert(format!("r:p{i}.only"), "crash".into());
        }
        ids.push(c.create_layout(req).await.unwrap().into_inner().layout_id());
    }
    ids.push(
        c.create_layout(create("1m+2s", "big"))
            .await
            .unwrap()
            .into_inner()
            .layout_id(),
    );
    for id in &ids {
        d.settled(id).await;
    }

    // Layouts, 3 per page.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let r = c
            .list_layouts(pb::ListLayoutsRequest {
                page_size: 3,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(r.layouts.len() <= 3);
        seen.extend(r.layouts);
        pages += 1;
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), ids.len());
    let unique: HashSet<_> = seen.iter().map(|l| l.layout_id.clone()).collect();
    assert_eq!(unique.len(), ids.len());
    // State priority, then newest first.
    let keys: Vec<(u8, std::cmp::Reverse<String>)> = seen
        .iter()
        .map(|l| {
            (
                rank(l.state),
                std::cmp::Reverse(agenttower::time::rfc3339(l.create_time.as_ref()) + &l.layout_id),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(
        seen.iter()
            .filter(|l| l.state() == pb::LayoutState::Degraded)
            .count(),
        3
    );
    // The ready count comes with each row.
    let big = seen.iter().find(|l| l.tmux_session_name == "big").unwrap();
    assert_eq!((big.ready_pane_count, big.intended_pane_count), (3, 3));

    // A state filter.
    let degraded = c
        .list_layouts(pb::ListLayoutsRequest {
            states: vec![pb::LayoutState::Degraded as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .layouts;
    assert_eq!(degraded.len(), 3);

    // Panes, 2 per page: 10 panes.
    let mut panes = Vec::new();
    let mut token = String::new();
    loop {
        let r = c
            .list_panes(pb::ListPanesRequest {
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        panes.extend(r.panes);
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(panes.len(), 10);
    let unique: HashSet<_> = panes.iter().map(|p| p.pane_id.clone()).collect();
    assert_eq!(unique.len(), 10);
    let keys: Vec<(u8, String, u32)> = panes
        .iter()
        .map(|p| (rank(p.state), p.layout_id.clone(), p.tmux_pane_index))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);

    // Filters by layout and state.
    let big_id = &big.layout_id;
    let of_big = c
        .list_panes(pb::ListPanesRequest {
            layout_id: big_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .panes;
    assert_eq!(
        of_big.iter().map(|p| p.tmux_pane_index).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let degraded = c
        .list_panes(pb::ListPanesRequest {
            states: vec![pb::PaneState::Degraded as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .panes;
    assert_eq!(degraded.len(), 3);
    assert!(
        degraded
            .iter()
            .all(|p| p.failed_stage() == pb::FailedStage::LaunchCommand)
    );

    // GetPane of one of them.
    let one = c
        .get_pane(pb::GetPaneRequest {
            pane_id: degraded[0].pane_id.clone(),
            include_predecessor_chain: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.pane.unwrap().pane_id, degraded[0].pane_id);
    assert!(one.predecessor_chain.is_empty());
}

/// ListContainers pages for real: id order, the token continues after the
/// last id, a page size over the maximum is clamped, a bad token refused.
#[tokio::test]
async fn list_containers_pages_in_id_order() {
    let d = Daemon::start_with(Setup::default().containers(&["c2", "c1"])).await;
    let mut c = d.client().await;
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_containers(pb::ListContainersRequest {
                page_size: 1,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.containers.len(), 1, "{page:?}");
        ids.push(page.containers[0].container_id.clone());
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.contains(&"local".to_string()));
    let all = c
        .list_containers(pb::ListContainersRequest {
            page_size: 100_000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let all_ids: Vec<String> = all.containers.into_iter().map(|c| c.container_id).collect();
    assert_eq!(all_ids, ids);
    assert!(all.next_page_token.is_empty());
    let (code, e) = err(c
        .list_containers(pb::ListContainersRequest {
            page_size: 1,
            page_token: "not-a-token".into(),
        })
        .await);
    assert_eq!(code, tonic::Code::InvalidArgument);
    assert_eq!(e.details["field"], "page_token");
}
