//! Error answers keep the error model whatever the request: bounded details
//! for huge values, `validation_failed` for oversized repeated fields and
//! for bytes that are not a valid message — never INTERNAL or a transport
//! error without ErrorInfo.

use agenttower::client::api_error;
use agenttower::pb;
use agenttower::status::MAX_ECHO_BYTES;
use tonic::Code;

use crate::raw_codec::RawCodec;
use crate::support::*;

/// Every text of the error is within the bound.
fn assert_bounded(e: &agenttower::client::ApiError) {
    assert!(e.message.len() <= MAX_ECHO_BYTES, "{}", e.message.len());
    for (k, v) in &e.details {
        assert!(v.len() <= MAX_ECHO_BYTES, "{k}: {} bytes", v.len());
    }
}

#[tokio::test]
async fn huge_override_keys_are_refused_with_bounded_details() {
    let d = Daemon::start().await;
    let mut c = d.client().await;
    for key in ["k".repeat(1 << 20), format!("master:{}", "l".repeat(7000))] {
        let mut req = create("1m+2s", "s");
        req.launch_command_overrides = [(key.clone(), "talker".to_string())].into();
        let (code, e) = err(c.create_layout(req).await);
        assert_eq!(code, Code::InvalidArgument, "{} bytes", key.len());
        assert_eq!(e.reason, "validation_failed");
        assert_eq!(e.code, pb::ErrorCode::ValidationFailed);
        assert_eq!(e.details["field"], "launch_command_overrides");
        assert!(
            e.details["reason"].ends_with('…'),
            "{}",
            e.details["reason"]
        );
        assert_bounded(&e);
    }
}

#[tokio::test]
async fn more_than_64_filter_entries_are_refused_naming_the_field() {
    let d = Daemon::start().await;
    let mut c = d.client().await;
    let created = pb::EventType::ManagedLayoutCreated as i32;
    let many_types = vec![created; 40_000];
    let many_states = vec![pb::PaneState::Ready as i32; 40_000];
    let refusals = [
        (
            err(c
                .list_events(pb::ListEventsRequest {
                    event_types: many_types.clone(),
                    ..Default::default()
                })
                .await),
            "event_types",
        ),
        (
            err(c
                .watch_events(pb::WatchEventsRequest {
                    event_types: many_types,
                    ..Default::default()
                })
                .await),
            "event_types",
        ),
        (
            err(c
                .list_panes(pb::ListPanesRequest {
                    states: many_states.clone(),
                    ..Default::default()
                })
                .await),
            "states",
        ),
        (
            err(c
                .list_layouts(pb::ListLayoutsRequest {
                    states: many_states,
                    ..Default::default()
                })
                .await),
            "states",
        ),
    ];
    for ((code, e), field) in refusals {
        assert_eq!(code, Code::InvalidArgument, "{e}");
        assert_eq!(e.reason, "validation_failed");
        assert_eq!(e.details["field"], field);
        assert!(e.details["reason"].contains("at most 64"), "{e}");
    }

    // Duplicates within the bound are one filter.
    let layout = d.create_settled("1m+2s", "dup").await;
    let events = c
        .list_events(pb::ListEventsRequest {
            event_types: vec![created; 12],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_type(), pb::EventType::ManagedLayoutCreated);
    let mut watch = d
        .watch(pb::WatchEventsRequest {
            event_types: vec![created; 12],
            ..Default::default()
        })
        .await;
    assert_eq!(next_event(&mut watch).await.sequence, events[0].sequence);
    let ready = pb::PaneState::Ready as i32;
    let panes = c
        .list_panes(pb::ListPanesRequest {
            layout_id: layout.layout.unwrap().layout_id,
            states: vec![ready; 12],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .panes;
    assert_eq!(panes.len(), 3);
}

/// Calls `method` (`Service/Method`) with `body` as the request message.
async fn raw_call(d: &Daemon, method: &'static str, body: &[u8]) -> tonic::Status {
    let channel = agenttower::client::connect(d.socket()).await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static(method);
    let request = tonic::Request::new(body.to_vec());
    if method.ends_with("/WatchEvents") {
        return grpc
            .server_streaming(request, path, RawCodec)
            .await
            .expect_err("an undecodable watch is refused");
    }
    grpc.unary(request, path, RawCodec)
        .await
        .expect_err("the call fails")
}

#[tokio::test]
async fn undecodable_requests_are_validation_failures_naming_the_request() {
    let d = Daemon::start().await;
    // A valid body reaches the handler: the raw path is sound.
    let status = raw_call(
        &d,
        "/agenttower.v1.ManagedSessionsService/GetLayout",
        b"\x0a\x04nope",
    )
    .await;
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let cases: [(&'static str, &[u8], &str); 4] = [
        // GetLayoutRequest.layout_id holding the bytes ff fe.
        (
            "/agenttower.v1.ManagedSessionsService/GetLayout",
            b"\x0a\x02\xff\xfe",
            "UTF-8",
        ),
        // A five-byte string with one byte present.
        (
            "/agenttower.v1.ManagedSessionsService/GetLayout",
            b"\x0a\x05a",
            "buffer underflow",
        ),
        (
            "/agenttower.v1.ManagedSessionsService/WatchEvents",
            b"\x1a\x02\xff\xfe",
            "UTF-8",
        ),
        // A varint field with no value, on the host-only service too.
        (
            "/agenttower.v1.AppManagedSessionsService/GetVersion",
            b"\x08",
            "invalid varint",
        ),
    ];
    for (method, body, why) in cases {
        let status = raw_call(&d, method, body).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{method}: {status:?}");
        let e = api_error(&status).unwrap_or_else(|| panic!("no ErrorInfo: {status:?}"));
        assert_eq!(e.reason, "validation_failed", "{method}");
        assert_eq!(e.code, pb::ErrorCode::ValidationFailed);
        assert_eq!(e.details["field"], "request");
        assert!(e.details["reason"].contains(why), "{method}: {e}");
        assert_bounded(&e);
    }
}
