//! ResolveName: ids, names (qualified by container), unique id prefixes,
//! live objects first, and closed errors for unknown and ambiguous names.
//! (A container peer's reach is shown with real Docker in tests/docker.)

use agenttower::client::ManagedSessionsServiceClient;
use agenttower::pb;

use crate::support::*;

async fn resolve(
    c: &mut ManagedSessionsServiceClient,
    kind: pb::NameKind,
    name: &str,
) -> Result<pb::ResolveNameResponse, tonic::Status> {
    c.resolve_name(pb::ResolveNameRequest {
        kind: kind as i32,
        name: name.into(),
    })
    .await
    .map(|r| r.into_inner())
}

async fn ok(
    c: &mut ManagedSessionsServiceClient,
    kind: pb::NameKind,
    name: &str,
) -> pb::ResolveNameResponse {
    resolve(c, kind, name)
        .await
        .unwrap_or_else(|e| panic!("resolve {name}: {e:?}"))
}

fn in_container(template: &str, session: &str, container: &str) -> pb::CreateLayoutRequest {
    pb::CreateLayoutRequest {
        container_id: container.into(),
        ..create(template, session)
    }
}

/// The shortest prefix (at least 8 characters) of `id` that no other id
/// in `all` starts with.
fn unique_prefix(id: &str, all: &[String]) -> String {
    (8..=id.len())
        .map(|n| &id[..n])
        .find(|p| all.iter().filter(|o| o.starts_with(p)).count() == 1)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn names_qualified_names_ids_and_prefixes_resolve_within_reach() {
    let d = Daemon::start_with(Setup::default().containers(&["c1", "c2"])).await;
    let mut c = d.client().await;
    let w1 = d
        .create_and_settle(in_container("1m+2s", "work", "c1"))
        .await
        .layout
        .unwrap();
    let w2 = d
        .create_and_settle(in_container("1m+2s", "work", "c2"))
        .await
        .layout
        .unwrap();
    let solo = d.create_settled("1m+2s", "solo").await.layout.unwrap();

    // The same session name in two containers: ambiguous, listing both.
    let (code, e) = err(resolve(&mut c, pb::NameKind::Layout, "work").await);
    assert_eq!(code, tonic::Code::FailedPrecondition);
    assert_eq!(e.reason, "name_ambiguous");
    assert_eq!(e.details["kind"], "layout");
    assert_eq!(e.details["candidates"], "c1:work,c2:work");
    assert_eq!(
        e.details["candidate_ids"],
        format!("{},{}", w1.layout_id, w2.layout_id)
    );
    assert!(e.message.contains("c1:work"), "{}", e.message);

    // Qualified by container name, or unique on its own.
    let r = ok(&mut c, pb::NameKind::Layout, "c2:work").await;
    assert_eq!(r.id, w2.layout_id);
    assert_eq!(r.r#match(), pb::NameMatch::Name);
    assert_eq!(r.container.as_ref().unwrap().name, "c2");
    assert_eq!(r.layout.as_ref().unwrap().tmux_session_name, "work");
    let r = ok(&mut c, pb::NameKind::Layout, "solo").await;
    assert_eq!(
        (r.id.as_str(), r.r#match()),
        (solo.layout_id.as_str(), pb::NameMatch::Name)
    );
    assert_eq!(r.container.unwrap().container_id, "local");
    let r = ok(&mut c, pb::NameKind::Layout, "local:solo").await;
    assert_eq!(r.id, solo.layout_id);

    // The full id.
    let r = ok(&mut c, pb::NameKind::Layout, &w1.layout_id).await;
    assert_eq!(
        (r.id.as_str(), r.r#match()),
        (w1.layout_id.as_str(), pb::NameMatch::Id)
    );

    // Panes and agents by label, with what comes with them.
    let s1 = w2.panes.iter().find(|p| p.label == "work.s1").unwrap();
    let r = ok(&mut c, pb::NameKind::Pane, "c2:work.s1").await;
    assert_eq!(r.id, s1.pane_id);
    let agent = r.agent.expect("a registered pane comes with its agent");
    assert_eq!(agent.agent_id, s1.agent_id);
    assert_eq!(agent.tmux_pane_id, s1.tmux_pane_id);
    assert_eq!(r.pane.unwrap().state(), pb::PaneState::Ready);
    let (_, e) = err(resolve(&mut c, pb::NameKind::Pane, "work.s1").await);
    assert_eq!(e.details["candidates"], "c1:work.s1,c2:work.s1");
    let r = ok(&mut c, pb::NameKind::Agent, "c1:work.m1").await;
    let m1 = w1.panes.iter().find(|p| p.label == "work.m1").unwrap();
    assert_eq!(r.id, m1.agent_id);
    assert_eq!(r.pane.expect("its managed pane").pane_id, m1.pane_id);

    // Id prefixes: one that no other id shares resolves; a shared one is
    // ambiguous and lists exactly the ids that share it.
    let all: Vec<String> = [&w1, &w2, &solo]
        .iter()
        .flat_map(|l| l.panes.iter().map(|p| p.pane_id.clone()))
        .collect();
    let target = &s1.pane_id;
    let unique = unique_prefix(target, &all);
    let r = ok(&mut c, pb::NameKind::Pane, &unique).await;
    assert_eq!(
        (r.id.as_str(), r.r#match()),
        (target.as_str(), pb::NameMatch::IdPrefix)
    );
    let upper = ok(&mut c, pb::NameKind::Pane, &unique.to_uppercase()).await;
    assert_eq!(upper.id, *target);
    let qualified = ok(&mut c, pb::NameKind::Pane, &format!("c2:{unique}")).await;
    assert_eq!(qualified.id, *target);
    let (_, e) = err(resolve(&mut c, pb::NameKind::Pane, &format!("c1:{unique}")).await);
    assert_eq!(e.reason, "name_not_found", "the prefix is c2's");
    let short = &target[..8];
    let sharing: Vec<&String> = all.iter().filter(|id| id.starts_with(short)).collect();
    match resolve(&mut c, pb::NameKind::Pane, short).await {
        Ok(r) => assert_eq!(sharing, [&r.id], "a prefix resolves only when unique"),
        Err(status) => {
            let (_, e) = err::<()>(Err(status));
            assert_eq!(e.reason, "name_ambiguous");
            let mut listed: Vec<&str> = e.details["candidate_ids"].split(',').collect();
            listed.sort();
            let mut expected: Vec<&str> = sharing.iter().map(|s| s.as_str()).collect();
            expected.sort();
            expected.truncate(5);
            assert_eq!(listed, expected);
        }
    }
    // Seven characters are never a prefix.
    let (code, e) = err(resolve(&mut c, pb::NameKind::Pane, &target[..7]).await);
    assert_eq!(
        (code, e.reason.as_str()),
        (tonic::Code::NotFound, "name_not_found")
    );

    // Routes: by id or prefix only.
    let route = c
        .create_route(pb::CreateRouteRequest {
            source_agent_id: m1.agent_id.clone(),
            target_agent_id: s1.agent_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .route
        .unwrap();
    let prefix = &route.route_id[..route.route_id.len() - 6];
    let r = ok(&mut c, pb::NameKind::Route, prefix).await;
    assert_eq!(r.route.unwrap().route_id, route.route_id);
    assert_eq!(
        r.container.unwrap().name,
        "c1",
        "a route lives with its source"
    );

    // Unknown names, containers and bad requests: closed errors.
    let (code, e) = err(resolve(&mut c, pb::NameKind::Agent, "nobody").await);
    assert_eq!(code, tonic::Code::NotFound);
    assert_eq!(e.reason, "name_not_found");
    assert_eq!(e.details["kind"], "agent");
    assert_eq!(e.details["name"], "nobody");
    let (_, e) = err(resolve(&mut c, pb::NameKind::Layout, "zz:work").await);
    assert_eq!(e.reason, "container_not_found");
    for (kind, name, field) in [
        (pb::NameKind::Unspecified, "work", "kind"),
        (pb::NameKind::Layout, "", "name"),
        (pb::NameKind::Layout, "c1:", "name"),
        (pb::NameKind::Layout, "wo\u{1b}rk", "name"),
    ] {
        let (code, e) = err(resolve(&mut c, kind, name).await);
        assert_eq!(code, tonic::Code::InvalidArgument, "{name:?}");
        assert_eq!(e.details["field"], field, "{name:?}");
    }
    let too_long = "x".repeat(257);
    let (_, e) = err(resolve(&mut c, pb::NameKind::Layout, &too_long).await);
    assert_eq!(e.reason, "validation_failed");
}

#[tokio::test]
async fn a_name_prefers_the_live_object_then_the_newest_removed_one() {
    let d = Daemon::start().await;
    let mut c = d.client().await;
    let first = d.create_settled("1m+2s", "work").await.layout.unwrap();
    let s1 = first.panes.iter().find(|p| p.label == "work.s1").unwrap();

    // A removed pane is still named by its label: recreate needs that.
    c.remove_pane(pb::RemovePaneRequest {
        pane_id: s1.pane_id.clone(),
    })
    .await
    .unwrap();
    let r = ok(&mut c, pb::NameKind::Pane, "work.s1").await;
    assert_eq!(r.id, s1.pane_id);
    assert_eq!(r.pane.unwrap().state(), pb::PaneState::Removed);
    let agent = ok(&mut c, pb::NameKind::Agent, "work.s1").await;
    assert!(!agent.agent.unwrap().registered);

    // Its successor takes the label; the predecessor keeps its id.
    let successor = c
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: s1.pane_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .pane
        .unwrap();
    let r = ok(&mut c, pb::NameKind::Pane, "work.s1").await;
    assert_eq!(r.id, successor.pane_id);
    let r = ok(&mut c, pb::NameKind::Pane, &s1.pane_id).await;
    assert_eq!(
        (r.id.as_str(), r.r#match()),
        (s1.pane_id.as_str(), pb::NameMatch::Id)
    );

    // A session name reused after a removal names the live layout, and once
    // both are removed, the newest.
    d.settled(&first.layout_id).await;
    c.remove_layout(pb::RemoveLayoutRequest {
        layout_id: first.layout_id.clone(),
    })
    .await
    .unwrap();
    let second = d.create_settled("1m+2s", "work").await.layout.unwrap();
    assert_eq!(
        ok(&mut c, pb::NameKind::Layout, "work").await.id,
        second.layout_id
    );
    c.remove_layout(pb::RemoveLayoutRequest {
        layout_id: second.layout_id.clone(),
    })
    .await
    .unwrap();
    let r = ok(&mut c, pb::NameKind::Layout, "work").await;
    assert_eq!(r.id, second.layout_id);
    assert_eq!(r.layout.unwrap().state(), pb::LayoutState::Removed);

    // Adopted agents have labels too, and no managed pane.
    d.adopt_own_pane("mine", "operator-shell").await;
    let r = ok(&mut c, pb::NameKind::Agent, "operator-shell").await;
    assert!(r.pane.is_none());
    assert_eq!(r.agent.unwrap().origin(), pb::AgentOrigin::Adopted);
    let (_, e) = err(resolve(&mut c, pb::NameKind::Pane, "operator-shell").await);
    assert_eq!(
        e.reason, "name_not_found",
        "an adopted agent has no managed pane"
    );
}
