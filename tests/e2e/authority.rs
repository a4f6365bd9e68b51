//! Every gRPC client's default `:authority` is accepted on the Unix socket.
//!
//! grpcurl and grpc-java send the socket path, grpcio (grpc-core ≥ 1.57) the
//! %-encoded socket path, some clients an empty string: none is a URI
//! authority, and upstream h2 resets such a stream with PROTOCOL_ERROR. The
//! vendored h2 (vendor/h2/PATCHED.md) drops that authority instead; this test
//! fails if the patch is lost. No h2/hyper client can send an invalid
//! authority, so it speaks raw HTTP/2 to the real daemon.

use std::collections::HashMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::support::*;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// Frame types and flags (RFC 9113 §6).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
/// The gRPC frame of an empty HealthCheckRequest (service "": the server).
const EMPTY_REQUEST: [u8; 5] = [0, 0, 0, 0, 0];
/// The gRPC frame of HealthCheckResponse { status: SERVING }.
const SERVING: [u8; 7] = [0, 0, 0, 0, 2, 0x08, 0x01];

/// One frame: 9-byte header (24-bit length, type, flags, stream id), payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend(payload);
    f
}

/// An HPACK integer with an N-bit prefix (RFC 7541 §5.1); the flag bits of
/// the first byte are 0 (no Huffman for string lengths).
fn hpack_int(out: &mut Vec<u8>, prefix_bits: u32, mut n: usize) {
    let max = (1usize << prefix_bits) - 1;
    if n < max {
        out.push(n as u8);
        return;
    }
    out.push(max as u8);
    n -= max;
    while n >= 128 {
        out.push((n % 128) as u8 | 0x80);
        n /= 128;
    }
    out.push(n as u8);
}

/// A header block of "literal header field without indexing — new name"
/// entries (RFC 7541 §6.2.2): 0x00, name length + name, value length + value.
/// It touches no dynamic table, so each block stands alone.
fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        hpack_int(&mut block, 7, name.len());
        block.extend(name.as_bytes());
        hpack_int(&mut block, 7, value.len());
        block.extend(value.as_bytes());
    }
    block
}

/// The gRPC Health/Check request headers with `authority`, or without
/// `:path` when `path` is false.
fn health_check(authority: &str, path: bool) -> Vec<(&str, &str)> {
    let mut fields = vec![(":method", "POST"), (":scheme", "http")];
    if path {
        fields.push((":path", "/grpc.health.v1.Health/Check"));
    }
    fields.extend([
        (":authority", authority),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]);
    fields
}

/// Percent-encodes all but RFC 3986 unreserved bytes, as grpc-core does.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the server did with one stream.
#[derive(Default, Debug)]
struct Answer {
    /// The concatenated DATA payloads.
    data: Vec<u8>,
    /// RST_STREAM's error code, if the server reset the stream.
    reset: Option<u32>,
    /// END_STREAM or RST_STREAM arrived.
    done: bool,
}

/// Reads one frame: (type, flags, stream id, payload).
async fn read_frame(sock: &mut UnixStream) -> (u8, u8, u32, Vec<u8>) {
    let mut head = [0u8; 9];
    sock.read_exact(&mut head).await.expect("frame header");
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    sock.read_exact(&mut payload).await.expect("frame payload");
    (head[3], head[4], stream, payload)
}

/// Reads frames until every stream of `answers` is done: acks the server's
/// SETTINGS and PINGs, records DATA, END_STREAM and RST_STREAM, and skips
/// the rest (response HEADERS are HPACK with Huffman: not decoded;
/// CONTINUATION, WINDOW_UPDATE, PRIORITY carry nothing this test needs).
async fn read_answers(sock: &mut UnixStream, answers: &mut HashMap<u32, Answer>) {
    while answers.values().any(|a| !a.done) {
        let (kind, flags, stream, payload) = read_frame(sock).await;
        match kind {
            SETTINGS if flags & ACK == 0 => {
                sock.write_all(&frame(SETTINGS, ACK, 0, &[])).await.unwrap()
            }
            PING if flags & ACK == 0 => sock
                .write_all(&frame(PING, ACK, 0, &payload))
                .await
                .unwrap(),
            GOAWAY => panic!("GOAWAY: the server closed the connection: {payload:02x?}"),
            DATA | HEADERS | RST_STREAM => {
                let a = answers
                    .get_mut(&stream)
                    .expect("a frame on an unknown stream");
                if kind == RST_STREAM {
                    a.reset = Some(u32::from_be_bytes(payload[..4].try_into().unwrap()));
                    a.done = true;
                    continue;
                }
                if kind == DATA {
                    // A padded DATA frame: pad length byte, data, padding.
                    let data = match flags & PADDED {
                        0 => &payload[..],
                        _ => &payload[1..payload.len() - payload[0] as usize],
                    };
                    a.data.extend(data);
                }
                a.done |= flags & END_STREAM != 0;
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn every_client_default_authority_is_accepted_and_validation_stays() {
    let d = Daemon::start().await;
    let path = d.socket().display().to_string();
    // (stream id, :authority): what grpcurl/grpc-java, grpcio, some clients
    // and a plain URI authority send.
    let encoded = percent_encode(&path);
    let cases = [
        (1, path.as_str()),
        (3, encoded.as_str()),
        (5, ""),
        (7, "localhost"),
    ];
    // The control: a request without :path is still refused.
    const NO_PATH: u32 = 9;

    let mut sock = UnixStream::connect(d.socket()).await.unwrap();
    let mut answers: HashMap<u32, Answer> = HashMap::new();
    let exchange = async {
        // Connection preface and our (empty) SETTINGS.
        let mut out = PREFACE.to_vec();
        out.extend(frame(SETTINGS, 0, 0, &[]));
        for (stream, authority) in cases {
            let block = header_block(&health_check(authority, true));
            out.extend(frame(HEADERS, END_HEADERS, stream, &block));
            out.extend(frame(DATA, END_STREAM, stream, &EMPTY_REQUEST));
            answers.insert(stream, Answer::default());
        }
        let block = header_block(&health_check("localhost", false));
        out.extend(frame(HEADERS, END_HEADERS | END_STREAM, NO_PATH, &block));
        answers.insert(NO_PATH, Answer::default());
        sock.write_all(&out).await.unwrap();
        read_answers(&mut sock, &mut answers).await;
    };
    if tokio::time::timeout(DEADLINE, exchange).await.is_err() {
        panic!("no complete answer within {DEADLINE:?}: {answers:?}");
    }

    // Every reset at once: the failure names each authority h2 refused.
    let reset: Vec<_> = cases
        .iter()
        .filter(|(stream, _)| answers[stream].reset.is_some())
        .map(|(stream, authority)| (authority, answers[stream].reset))
        .collect();
    assert!(
        reset.is_empty(),
        "streams reset (1 = PROTOCOL_ERROR), is vendor/h2 still patched? \
         (vendor/h2/PATCHED.md): {reset:?}"
    );
    for (stream, authority) in cases {
        assert_eq!(
            answers[&stream].data, SERVING,
            "stream {stream} with :authority {authority:?}: not a SERVING HealthCheckResponse"
        );
    }
    // PROTOCOL_ERROR (0x1): the rest of the HTTP/2 validation is upstream's.
    assert_eq!(
        answers[&NO_PATH].reset,
        Some(0x1),
        "{:?}",
        answers[&NO_PATH]
    );
}
