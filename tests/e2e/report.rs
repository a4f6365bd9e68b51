//! ReportActivity from a process in no pane (this test process, on the
//! host) is refused with `caller_not_in_agent_pane` whatever the request
//! says — known fields, unknown fields naming another pane — and changes
//! nothing. Reports from inside panes run the real CLI: tests/cli.rs and
//! tests/docker.rs.

use agenttower::client::{ApiError, api_error};
use agenttower::pb;
use prost::Message as _;
use tonic::Code;

use crate::raw_codec::RawCodec;
use crate::support::*;

const REPORT: &str = "/agenttower.v1.ManagedSessionsService/ReportActivity";
const APP_REPORT: &str = "/agenttower.v1.AppManagedSessionsService/ReportActivity";

/// Calls unary `method` with `body` as the request message; the error.
async fn raw_call(d: &Daemon, method: &'static str, body: Vec<u8>) -> (Code, ApiError) {
    let channel = agenttower::client::connect(d.socket()).await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static(method);
    let status = grpc
        .unary(tonic::Request::new(body), path, RawCodec)
        .await
        .expect_err("the report is refused");
    let e = api_error(&status).unwrap_or_else(|| panic!("no ErrorInfo: {status:?}"));
    (status.code(), e)
}

/// A protobuf length-delimited field `tag` holding `text`.
fn string_field(tag: u32, text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, &mut out);
    prost::encoding::encode_varint(text.len() as u64, &mut out);
    out.extend_from_slice(text.as_bytes());
    out
}

/// A protobuf varint field `tag` holding `value`.
fn varint_field(tag: u32, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_key(tag, prost::encoding::WireType::Varint, &mut out);
    prost::encoding::encode_varint(value, &mut out);
    out
}

fn assert_not_in_pane((code, e): &(Code, ApiError)) {
    assert_eq!(*code, Code::PermissionDenied, "{e}");
    assert_eq!(e.reason, "caller_not_in_agent_pane", "{e}");
    assert_eq!(e.code, pb::ErrorCode::CallerNotInAgentPane);
    assert!(e.details.is_empty(), "no details to probe with: {e}");
}

/// Every registered agent, as ListAgents shows it.
async fn agents(d: &Daemon) -> Vec<pb::Agent> {
    d.client()
        .await
        .list_agents(pb::ListAgentsRequest::default())
        .await
        .expect("list agents")
        .into_inner()
        .agents
}

/// Nothing was reported: no agent's activity comes from a report, and no
/// `agent_activity_changed` event has the report as its source (detection
/// from the panes' output may change activities meanwhile; it is not what
/// is checked).
async fn assert_nothing_reported(d: &Daemon) {
    for a in agents(d).await {
        let source = a.activity.as_ref().map(|x| x.source());
        assert_ne!(source, Some(pb::ActivitySource::Report), "{a:#?}");
    }
    for e in d.all_events().await {
        if let Some(pb::lifecycle_event::Payload::AgentActivityChanged(p)) = &e.payload {
            assert_ne!(p.source(), pb::ActivitySource::Report, "{e:#?}");
        }
    }
}

#[tokio::test]
async fn a_report_from_outside_every_pane_is_refused_whatever_the_request_names() {
    let d = Daemon::start().await;
    let l = d.create_settled("1m+2s", "rep").await;
    assert_eq!(l.state(), pb::LayoutState::Ready, "{}", d.log());
    // An adopted pane of the operator's on the same tmux server.
    let (own_pane, adopted) = d.adopt_own_pane("ops", "ops").await;
    let b = l.panes()[1].clone();

    // The generated client.
    let mut c = d.client().await;
    assert_not_in_pane(&err(c
        .report_activity(pb::ReportActivityRequest {
            activity: pb::Activity::WaitingForInput as i32,
            message: "from the host".into(),
        })
        .await));

    // The raw path reaches the handler: an unspecified activity is a
    // validation failure before any matching.
    let (code, e) = raw_call(&d, REPORT, Vec::new()).await;
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::InvalidArgument, "validation_failed")
    );
    assert_eq!(e.details["field"], "activity");

    // Known fields plus unknown ones naming pane B every way a client
    // could: pane id, agent id, tmux pane id, its process, the adopted
    // pane's tmux id.
    let mut body = pb::ReportActivityRequest {
        activity: pb::Activity::WaitingForInput as i32,
        message: "spoofed".into(),
    }
    .encode_to_vec();
    body.extend(string_field(3, &b.pane_id));
    body.extend(string_field(4, &b.agent_id));
    body.extend(string_field(5, &b.tmux_pane_id));
    body.extend(string_field(15, &adopted.agent_id));
    body.extend(string_field(16, &own_pane));
    let b_pid = tmux_ok(d.tmux(&[
        "display-message",
        "-p",
        "-t",
        &b.tmux_pane_id,
        "#{pane_pid}",
    ]));
    body.extend(varint_field(100, b_pid.trim().parse().unwrap()));
    body.extend(string_field(1000, "TMUX_PANE=%0"));
    for method in [REPORT, APP_REPORT] {
        assert_not_in_pane(&raw_call(&d, method, body.clone()).await);
    }

    assert_nothing_reported(&d).await;
    let now = d.pane(&b.pane_id).await;
    assert_ne!(
        now.activity.as_ref().map(|a| a.message.as_str()),
        Some("spoofed")
    );
}
