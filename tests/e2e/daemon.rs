//! The daemon process: socket security, one daemon per socket, stale socket
//! clean-up, health and reflection, graceful shutdown.

use std::os::unix::fs::PermissionsExt as _;

use agenttower::pb;

use crate::support::*;

#[tokio::test]
async fn the_socket_is_owner_only_and_a_second_daemon_is_refused() {
    let d = Daemon::start().await;
    let mode = std::fs::metadata(d.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(d.state_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);

    let second = std::process::Command::new(daemon_bin())
        .envs(d.env())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another agenttowerd is already running"),
        "{stderr}"
    );
    // Other files, same socket: refused too, the socket left alone.
    let other = tempfile::tempdir().unwrap();
    let third = std::process::Command::new(daemon_bin())
        .envs(d.env())
        .env("AGENTTOWER_STATE_DIR", other.path())
        .output()
        .unwrap();
    assert!(!third.status.success());
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(
        stderr.contains(&format!(
            "another agenttowerd is already running on {}",
            d.socket().display()
        )),
        "{stderr}"
    );
    // The first one still answers.
    d.client()
        .await
        .list_containers(pb::ListContainersRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stale_socket_left_by_a_crash_is_replaced() {
    let mut d = Daemon::start().await;
    d.kill9();
    assert!(d.socket().exists(), "kill -9 leaves the socket file behind");
    d.restart().await;
    d.client()
        .await
        .list_containers(pb::ListContainersRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn health_and_both_reflection_versions_answer_over_the_socket() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest as V1Req;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse as V1Resp;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaReq;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResp;

    let d = Daemon::start().await;
    let channel = agenttower::client::connect(d.socket()).await.unwrap();
    let health = HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "agenttower.v1.ManagedSessionsService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );

    let want = [
        "agenttower.v1.AppManagedSessionsService",
        "agenttower.v1.ManagedSessionsService",
        "grpc.health.v1.Health",
    ];

    let mut v1 = tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(
        channel.clone(),
    );
    let req = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(V1Req::ListServices(String::new())),
    };
    let mut stream = v1
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let Some(V1Resp::ListServicesResponse(list)) =
        stream.message().await.unwrap().unwrap().message_response
    else {
        panic!("no service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for w in want {
        assert!(
            names.iter().any(|n| n == w),
            "v1 reflection lacks {w}: {names:?}"
        );
    }

    let mut alpha =
        tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient::new(
            channel,
        );
    let req = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaReq::FileContainingSymbol(
            "agenttower.v1.ManagedSessionsService".into(),
        )),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let Some(AlphaResp::FileDescriptorResponse(files)) =
        stream.message().await.unwrap().unwrap().message_response
    else {
        panic!("no file descriptor");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_spawn_finish_before_exiting() {
    let mut d = Daemon::start_with(Setup::default().config("settle_window_ms: 1000")).await;
    let r = d
        .client()
        .await
        .create_layout(create("1m+2s", "grace"))
        .await
        .unwrap()
        .into_inner();
    let status = d.terminate().await;
    assert!(status.success(), "daemon exit: {status}\n{}", d.log());
    assert!(
        !d.socket().exists(),
        "the socket is removed on a clean stop"
    );
    // Restart: the layout settled before the old daemon went away.
    d.restart().await;
    let got = d
        .client()
        .await
        .get_layout(pb::GetLayoutRequest {
            layout_id: r.layout_id(),
            include_terminal_panes: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        got.the_layout().clone().state(),
        pb::LayoutState::Ready,
        "{}",
        d.log()
    );
}

#[tokio::test]
async fn the_local_container_is_registered_with_its_runtime() {
    let d = Daemon::start_with(Setup::default().containers(&["bench1"])).await;
    let list = d.containers().await;
    let ids: Vec<_> = list
        .iter()
        .map(|c| (c.container_id.as_str(), c.runtime(), c.state()))
        .collect();
    assert_eq!(
        ids,
        [
            (
                "bench1",
                pb::RuntimeKind::Local,
                pb::ContainerState::Running
            ),
            ("local", pb::RuntimeKind::Local, pb::ContainerState::Running),
        ]
    );
}

#[tokio::test]
async fn both_services_and_health_say_which_versions_they_speak() {
    let d = Daemon::start().await;
    let channel = agenttower::client::connect(d.socket()).await.unwrap();
    let managed = d
        .client()
        .await
        .get_version(pb::GetVersionRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(managed.api_version, "agenttower.v1");
    assert_eq!(managed.daemon_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(managed.schema_version, "20261122000005");
    let app = agenttower::client::AppManagedSessionsServiceClient::new(channel.clone())
        .get_version(pb::GetVersionRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app, managed);

    let health = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
    let header = |k: &str| {
        health
            .metadata()
            .get(k)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(header("agenttower-api-version"), "agenttower.v1");
    assert_eq!(header("agenttower-daemon-version"), managed.daemon_version);
}
