//! The protobuf codec of every generated service and client: prost's, except that a
//! request that does not decode (garbage, a truncated message, a wrong wire type, invalid
//! UTF-8 in a string) is the caller's mistake — INVALID_ARGUMENT — not an INTERNAL error
//! of the server, which is what prost's codec reports; and an answer is at most
//! [`MAX_ANSWER_BYTES`]: one that would be larger is RESOURCE_EXHAUSTED, never sent.
//!
//! Why a bound on answers when every input is bounded: what an answer holds grows with
//! the record (a project's timeline, a page of projects with their tasks), not only with
//! the request, and a node must not build an answer no client can take. The JSON API
//! checks the same bound with [`check_answer`].

use std::marker::PhantomData;

use tonic::codec::{BufferSettings, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;
use tonic_prost::ProstEncoder;

/// The largest answer, encoded, in bytes (16 MiB: four times the largest request).
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// RESOURCE_EXHAUSTED when an answer would be larger than [`MAX_ANSWER_BYTES`].
///
/// # Errors
/// The answer is too large.
pub fn check_answer(m: &impl prost::Message) -> Result<(), Status> {
    let len = m.encoded_len();
    if len > MAX_ANSWER_BYTES {
        return Err(Status::resource_exhausted(format!(
            "the answer would be {} bytes; at most {MAX_ANSWER_BYTES}: ask for less (a smaller page, one project)",
            len
        )));
    }
    Ok(())
}

/// A [`tonic::codec::Codec`] for prost messages (named in `build.rs`'s `codec_path`).
#[derive(Debug, Clone)]
pub struct Codec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = BoundedEncoder<T>;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        BoundedEncoder(ProstEncoder::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(PhantomData)
    }
}

/// Decodes a prost message; a message that does not decode is INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct StrictDecoder<U>(PhantomData<U>);

impl<U: prost::Message + Default> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| {
            Status::invalid_argument(format!("the message does not decode as protobuf: {e}"))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// Encodes a prost message of at most [`MAX_ANSWER_BYTES`].
#[derive(Debug)]
pub struct BoundedEncoder<T>(ProstEncoder<T>);

impl<T: prost::Message> Encoder for BoundedEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        check_answer(&item)?;
        self.0.encode(item, buf)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

    #[test]
    fn an_answer_over_the_bound_is_resource_exhausted_not_sent() {
        let small = pb::CompareResponse { json: "[]".into() };
        assert!(check_answer(&small).is_ok());
        let big = pb::CompareResponse {
            json: "x".repeat(MAX_ANSWER_BYTES),
        };
        let e = check_answer(&big).unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e.message().contains("at most 16777216"), "{}", e.message());
        assert!(e.message().len() < 200);
    }
}
