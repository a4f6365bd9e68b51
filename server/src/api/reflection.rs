//! gRPC server reflection (`grpc.reflection.v1` and `v1alpha`) over every
//! descriptor the daemon serves, so generic clients (grpcurl, grpcui,
//! Postman) can list, describe and call everything, and decode the
//! `google.rpc` error details we attach.
//!
//! Unlike tonic-reflection's own server, a failed lookup is answered in-stream
//! with an `ErrorResponse` (as the protocol says) and the stream stays open;
//! a file is served together with all its transitive imports.

use std::collections::HashMap;
use std::sync::Arc;

use agenttower::pb;
use anyhow::Context as _;
use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status, Streaming};
use tonic_reflection::pb::{v1, v1alpha};
use v1::server_reflection_request::MessageRequest;
use v1::server_reflection_response::MessageResponse;

/// Every encoded `FileDescriptorSet` served: AgentTower's (with the
/// `google.rpc` and `google.protobuf` files it includes), health, and the
/// reflection protocols themselves.
pub(crate) const DESCRIPTOR_SETS: [&[u8]; 4] = [
    pb::FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    v1::FILE_DESCRIPTOR_SET,
    v1alpha::FILE_DESCRIPTOR_SET,
];

/// A `FileDescriptorSet` whose files stay encoded, so each is served byte
/// for byte as compiled (nothing prost does not know is dropped).
#[derive(Clone, PartialEq, Message)]
struct EncodedFileSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// What a fully-qualified symbol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Service,
    Method,
    Message,
    Enum,
}

/// A symbol: its kind and the index of the file declaring it.
#[derive(Clone, Copy, Debug)]
struct Symbol {
    kind: Kind,
    file: usize,
}

/// One proto file: its encoded `FileDescriptorProto` and its imports.
#[derive(Debug)]
struct File {
    encoded: Vec<u8>,
    imports: Vec<usize>,
}

/// The index every reflection request is answered from.
#[derive(Debug)]
struct Descriptors {
    files: Vec<File>,
    files_by_name: HashMap<String, usize>,
    symbols: HashMap<String, Symbol>,
    /// Every service, sorted by full name.
    services: Vec<v1::ServiceResponse>,
}

impl Descriptors {
    /// Indexes `sets`; a file name seen again is skipped (first wins). Fails
    /// if a set is undecodable or a file imports one no set contains.
    fn new(sets: &[&[u8]]) -> anyhow::Result<Self> {
        let mut decoded = Vec::new();
        let mut files_by_name = HashMap::new();
        for set in sets {
            for encoded in EncodedFileSet::decode(*set)?.file {
                let proto = FileDescriptorProto::decode(encoded.as_slice())?;
                if !files_by_name.contains_key(proto.name()) {
                    files_by_name.insert(proto.name().to_owned(), decoded.len());
                    decoded.push((proto, encoded));
                }
            }
        }
        let mut symbols = HashMap::new();
        let mut files = Vec::with_capacity(decoded.len());
        for (index, (proto, encoded)) in decoded.into_iter().enumerate() {
            let imports = (proto.dependency.iter())
                .map(|import| {
                    (files_by_name.get(import).copied())
                        .with_context(|| format!("{} imports missing {import}", proto.name()))
                })
                .collect::<anyhow::Result<_>>()?;
            index_file(&proto, &mut |name, kind| {
                symbols.entry(name).or_insert(Symbol { kind, file: index });
            });
            files.push(File { encoded, imports });
        }
        let mut services: Vec<_> = (symbols.iter())
            .filter(|(_, symbol)| symbol.kind == Kind::Service)
            .map(|(name, _)| v1::ServiceResponse { name: name.clone() })
            .collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            files,
            files_by_name,
            symbols,
            services,
        })
    }

    /// Answers one request, echoing its `host` as `valid_host` and the
    /// request itself as `original_request`. A failure is an `ErrorResponse`.
    fn respond(&self, request: v1::ServerReflectionRequest) -> v1::ServerReflectionResponse {
        let answer = match &request.message_request {
            None => Err(Status::invalid_argument("message_request is not set")),
            Some(MessageRequest::FileByFilename(name)) => {
                lookup(&self.files_by_name, "file", name).map(|file| self.closure(file))
            }
            Some(MessageRequest::FileContainingSymbol(name)) => {
                lookup(&self.symbols, "symbol", name).map(|symbol| self.closure(symbol.file))
            }
            Some(MessageRequest::FileContainingExtension(extension)) => {
                Err(Status::not_found(format!(
                    "no extension {} of {:?}: this server defines no extensions",
                    extension.extension_number, extension.containing_type
                )))
            }
            Some(MessageRequest::AllExtensionNumbersOfType(name)) => {
                lookup(&self.symbols, "type", name).and_then(|symbol| match symbol.kind {
                    Kind::Message => Ok(MessageResponse::AllExtensionNumbersResponse(
                        v1::ExtensionNumberResponse {
                            base_type_name: name.clone(),
                            extension_number: Vec::new(),
                        },
                    )),
                    kind => Err(Status::not_found(format!(
                        "{name:?} is a {kind:?}, not a message type"
                    ))),
                })
            }
            Some(MessageRequest::ListServices(_)) => Ok(MessageResponse::ListServicesResponse(
                v1::ListServiceResponse {
                    service: self.services.clone(),
                },
            )),
        };
        let message_response = answer.unwrap_or_else(|status| {
            MessageResponse::ErrorResponse(v1::ErrorResponse {
                error_code: status.code() as i32,
                error_message: status.message().to_owned(),
            })
        });
        v1::ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(message_response),
        }
    }

    /// File `root` and its transitive imports, each once, `root` first.
    fn closure(&self, root: usize) -> MessageResponse {
        let mut seen = vec![false; self.files.len()];
        let mut pending = vec![root];
        let mut encoded = Vec::new();
        while let Some(index) = pending.pop() {
            if !std::mem::replace(&mut seen[index], true) {
                let file = &self.files[index];
                encoded.push(file.encoded.clone());
                pending.extend(file.imports.iter().rev());
            }
        }
        MessageResponse::FileDescriptorResponse(v1::FileDescriptorResponse {
            file_descriptor_proto: encoded,
        })
    }
}

/// The `what` (file, symbol, type) named `name` in `index`.
fn lookup<T: Copy>(index: &HashMap<String, T>, what: &str, name: &str) -> Result<T, Status> {
    match index.get(name) {
        Some(found) => Ok(*found),
        None if name.is_empty() => Err(Status::invalid_argument(format!("no {what} name given"))),
        None => Err(Status::not_found(format!("{what} {name:?} not found"))),
    }
}

/// Calls `add` with the full name and kind of every service, method,
/// message and enum (nested ones included) `file` declares.
fn index_file(file: &FileDescriptorProto, add: &mut impl FnMut(String, Kind)) {
    let package = file.package();
    for service in &file.service {
        let service_name = qualify(package, service.name());
        for method in &service.method {
            add(qualify(&service_name, method.name()), Kind::Method);
        }
        add(service_name, Kind::Service);
    }
    for message in &file.message_type {
        index_message(package, message, add);
    }
    for enumeration in &file.enum_type {
        add(qualify(package, enumeration.name()), Kind::Enum);
    }
}

/// Calls `add` for `message` in `scope` and every type nested in it.
fn index_message(scope: &str, message: &DescriptorProto, add: &mut impl FnMut(String, Kind)) {
    let name = qualify(scope, message.name());
    for nested in &message.nested_type {
        index_message(&name, nested, add);
    }
    for enumeration in &message.enum_type {
        add(qualify(&name, enumeration.name()), Kind::Enum);
    }
    add(name, Kind::Message);
}

/// `name` within `scope` (a package or an enclosing type).
fn qualify(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

/// Re-encodes a message as its twin of the other reflection version: the
/// v1 and v1alpha protos are field-for-field identical, so this is lossless
/// (and decoding cannot fail; a default would read as an empty request).
fn transcode<From: Message, To: Message + Default>(message: &From) -> To {
    To::decode(message.encode_to_vec().as_slice()).unwrap_or_default()
}

/// The reflection service, for both protocol versions.
#[derive(Clone, Debug)]
pub(crate) struct Reflection(Arc<Descriptors>);

impl Reflection {
    /// A service answering from `sets` (see `Descriptors::new`).
    pub(crate) fn new(sets: &[&[u8]]) -> anyhow::Result<Self> {
        Ok(Self(Arc::new(Descriptors::new(sets)?)))
    }

    /// The `grpc.reflection.v1.ServerReflection` service.
    pub(crate) fn v1(&self) -> v1::server_reflection_server::ServerReflectionServer<Self> {
        v1::server_reflection_server::ServerReflectionServer::new(self.clone())
    }

    /// The `grpc.reflection.v1alpha.ServerReflection` service.
    pub(crate) fn v1alpha(
        &self,
    ) -> v1alpha::server_reflection_server::ServerReflectionServer<Self> {
        v1alpha::server_reflection_server::ServerReflectionServer::new(self.clone())
    }

    /// Answers `inbound` in order with `answer`; the returned stream ends
    /// when `inbound` ends or fails, or once the client stops listening.
    fn session<Req, Resp>(
        &self,
        mut inbound: impl Stream<Item = Result<Req, Status>> + Send + Unpin + 'static,
        answer: fn(&Descriptors, Req) -> Resp,
    ) -> ReceiverStream<Result<Resp, Status>>
    where
        Req: Send + 'static,
        Resp: Send + 'static,
    {
        let (tx, rx) = mpsc::channel(1);
        let descriptors = Arc::clone(&self.0);
        tokio::spawn(async move {
            while let Some(Ok(request)) = inbound.next().await {
                if tx.send(Ok(answer(&descriptors, request))).await.is_err() {
                    break;
                }
            }
        });
        ReceiverStream::new(rx)
    }
}

/// Implements version `$version`'s `ServerReflection` with `$answer`.
macro_rules! serve_version {
    ($version:ident, $answer:expr) => {
        #[tonic::async_trait]
        impl $version::server_reflection_server::ServerReflection for Reflection {
            type ServerReflectionInfoStream =
                ReceiverStream<Result<$version::ServerReflectionResponse, Status>>;

            async fn server_reflection_info(
                &self,
                request: Request<Streaming<$version::ServerReflectionRequest>>,
            ) -> Result<Response<Self::ServerReflectionInfoStream>, Status> {
                Ok(Response::new(self.session(request.into_inner(), $answer)))
            }
        }
    };
}

serve_version!(v1, Descriptors::respond);
serve_version!(v1alpha, |descriptors, request| {
    transcode(&descriptors.respond(transcode(&request)))
});

#[cfg(test)]
mod tests {
    use std::future::Future;

    use tokio_stream::wrappers::UnixListenerStream;
    use tonic::Code;

    use super::*;

    fn request(message: MessageRequest) -> v1::ServerReflectionRequest {
        let host = "agenttowerd".into();
        v1::ServerReflectionRequest {
            host,
            message_request: Some(message),
        }
    }

    /// The answer to `message`, asked of the daemon's descriptors.
    fn ask(message: MessageRequest) -> MessageResponse {
        let response = Descriptors::new(&DESCRIPTOR_SETS)
            .unwrap()
            .respond(request(message));
        response.message_response.unwrap()
    }

    /// The names of the files of a `FileDescriptorResponse`.
    fn file_names(response: &MessageResponse) -> Vec<String> {
        let MessageResponse::FileDescriptorResponse(files) = response else {
            panic!("expected files, got {response:?}");
        };
        let decode = |file: &Vec<u8>| FileDescriptorProto::decode(file.as_slice()).unwrap();
        files
            .file_descriptor_proto
            .iter()
            .map(|f| decode(f).name().to_owned())
            .collect()
    }

    fn error_code(response: &MessageResponse) -> Code {
        let MessageResponse::ErrorResponse(error) = response else {
            panic!("expected an error, got {response:?}");
        };
        Code::from_i32(error.error_code)
    }

    #[test]
    fn answers_from_every_descriptor_set() {
        let MessageResponse::ListServicesResponse(list) =
            ask(MessageRequest::ListServices("".into()))
        else {
            panic!("expected services");
        };
        let services: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        for name in [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(
                services.contains(&name.to_owned()),
                "{name} not in {services:?}"
            );
        }
        assert!(
            services
                .iter()
                .any(|name| name.starts_with("agenttower.v1."))
        );

        let symbol = |name: &str| ask(MessageRequest::FileContainingSymbol(name.into()));
        let names = file_names(&symbol("google.rpc.ErrorInfo"));
        assert_eq!(names[0], "google/rpc/error_details.proto");
        assert!(
            names.contains(&"google/protobuf/duration.proto".into()),
            "{names:?}"
        );
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        let nested = file_names(&symbol("google.rpc.ErrorInfo.MetadataEntry"));
        assert_eq!(nested, names);
        let health = file_names(&symbol("grpc.health.v1.Health.Check"));
        assert_eq!(health, ["health.proto"]);
        let by_name = ask(MessageRequest::FileByFilename(health[0].clone()));
        assert_eq!(file_names(&by_name), health);
    }

    #[test]
    fn extensions_and_bad_requests() {
        let of_type = |name: &str| ask(MessageRequest::AllExtensionNumbersOfType(name.into()));
        let MessageResponse::AllExtensionNumbersResponse(numbers) = of_type("google.rpc.ErrorInfo")
        else {
            panic!("expected extension numbers");
        };
        assert_eq!(numbers.base_type_name, "google.rpc.ErrorInfo");
        assert!(numbers.extension_number.is_empty());
        assert_eq!(
            error_code(&of_type("grpc.health.v1.Health")),
            Code::NotFound
        );
        let containing_type = "google.rpc.ErrorInfo".into();
        let extension = v1::ExtensionRequest {
            containing_type,
            extension_number: 100,
        };
        let extension = ask(MessageRequest::FileContainingExtension(extension));
        assert_eq!(error_code(&extension), Code::NotFound);
        let no_file = ask(MessageRequest::FileByFilename("no/such.proto".into()));
        assert_eq!(error_code(&no_file), Code::NotFound);
        let no_name = ask(MessageRequest::FileContainingSymbol("".into()));
        assert_eq!(error_code(&no_name), Code::InvalidArgument);
    }

    /// Sends `requests` on one stream opened by `open`, each once the
    /// previous one is answered, and returns the answers.
    async fn exchange<Req: Send + 'static, Resp, F>(
        requests: impl IntoIterator<Item = Req>,
        open: impl FnOnce(ReceiverStream<Req>) -> F,
    ) -> Vec<Resp>
    where
        F: Future<Output = Result<Response<Streaming<Resp>>, Status>>,
    {
        let (tx, rx) = mpsc::channel(1);
        let mut answers = open(ReceiverStream::new(rx)).await.unwrap().into_inner();
        let mut responses = Vec::new();
        for request in requests {
            tx.send(request).await.unwrap();
            responses.push(answers.message().await.unwrap().expect("stream still open"));
        }
        responses
    }

    /// Over a Unix socket, v1 then v1alpha: errors are answered in-stream,
    /// the stream stays open, requests are echoed, both versions agree.
    #[tokio::test]
    async fn errors_are_answered_in_stream_by_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("reflection.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let reflection = Reflection::new(&DESCRIPTOR_SETS).unwrap();
        let server = tonic::transport::Server::builder()
            .add_service(reflection.v1())
            .add_service(reflection.v1alpha());
        tokio::spawn(server.serve_with_incoming(UnixListenerStream::new(listener)));
        let channel = agenttower::client::connect(&socket).await.unwrap();

        let requests = [
            request(MessageRequest::FileContainingSymbol(
                "no.such.Symbol".into(),
            )),
            v1::ServerReflectionRequest::default(),
            request(MessageRequest::FileContainingSymbol(
                "google.rpc.ErrorInfo".into(),
            )),
        ];
        let v1_client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
        let v1: Vec<_> = exchange(requests.clone(), |stream| async move {
            v1_client.clone().server_reflection_info(stream).await
        })
        .await;
        let answers: Vec<_> = v1
            .iter()
            .map(|r| r.message_response.clone().unwrap())
            .collect();
        assert_eq!(error_code(&answers[0]), Code::NotFound);
        assert_eq!(error_code(&answers[1]), Code::InvalidArgument);
        assert_eq!(file_names(&answers[2])[0], "google/rpc/error_details.proto");
        for (response, request) in v1.iter().zip(&requests) {
            assert_eq!(response.valid_host, request.host);
            assert_eq!(response.original_request.as_ref(), Some(request));
        }

        let alpha_client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
        let alpha: Vec<v1alpha::ServerReflectionResponse> =
            exchange(requests.iter().map(transcode), |stream| async move {
                alpha_client.clone().server_reflection_info(stream).await
            })
            .await;
        use v1alpha::server_reflection_response::MessageResponse as Alpha;
        assert!(
            matches!(&alpha[0].message_response, Some(Alpha::ErrorResponse(e)) if e.error_code == 5)
        );
        let alpha_as_v1: Vec<v1::ServerReflectionResponse> = alpha.iter().map(transcode).collect();
        assert_eq!(alpha_as_v1, v1);
    }
}
