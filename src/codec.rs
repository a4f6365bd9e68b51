//! The codec of the generated *server* stubs (the client stubs keep
//! `tonic_prost::ProstCodec`). It is prost's, except that a request the
//! daemon cannot decode — a string field that is not UTF-8, a truncated
//! message — is answered like any other bad input: INVALID_ARGUMENT
//! `validation_failed` naming the field `request`, instead of tonic's
//! INTERNAL without details.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstEncoder};

/// Prost encoding for responses, closed-set errors for undecodable requests.
#[derive(Debug, Clone)]
pub struct RequestCodec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for RequestCodec<T, U> {
    fn default() -> Self {
        RequestCodec { _pd: PhantomData }
    }
}

impl<T, U> Codec for RequestCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = RequestDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder(PhantomData)
    }
}

/// Decodes a request message with prost, mapping its errors.
#[derive(Debug, Clone)]
pub struct RequestDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for RequestDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf)
            .map(Some)
            .map_err(|e| undecodable(&e.to_string()))
    }
}

/// `validation_failed` for a request body that is not a valid message.
fn undecodable(reason: &str) -> Status {
    crate::status::error_status(
        Code::InvalidArgument,
        "validation_failed",
        &format!("validation failed for request: {reason}"),
        [
            ("field".to_string(), "request".to_string()),
            ("reason".to_string(), reason.to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

    #[test]
    fn an_undecodable_request_is_a_validation_failure_naming_the_request() {
        // Field 1 (a string) holding the bytes ff fe.
        let e = pb::GetLayoutRequest::decode(&[0x0a, 0x02, 0xff, 0xfe][..]).unwrap_err();
        let status = undecodable(&e.to_string());
        assert_eq!(status.code(), Code::InvalidArgument);
        let api = crate::client::api_error(&status).unwrap();
        assert_eq!(api.code, pb::ErrorCode::ValidationFailed);
        assert_eq!(api.details["field"], "request");
        assert!(api.details["reason"].contains("UTF-8"), "{api}");
    }
}
