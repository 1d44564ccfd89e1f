//! Helpers shared by the integration tests: a client's side of the envelope.
#![allow(dead_code)]

pub mod driver;

use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::codecs::message_header_codec::MessageHeaderDecoder;
use polybridge_worker::codecs::request_codec::RequestEncoder;
use polybridge_worker::codecs::response_codec::{self, ResponseDecoder};
use polybridge_worker::codecs::payload_release_codec::PayloadReleaseEncoder;
use polybridge_worker::codecs::{ReadBuf, WriteBuf, SBE_SCHEMA_ID, SBE_SCHEMA_VERSION};
use polybridge_worker::wire::RegionRef;

/// `n` bytes where byte `i` is `(i * 31 + 7) & 0xFF` (golden README).
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(31).wrapping_add(7) & 0xFF) as u8).collect()
}

/// Encodes a `Request` without metadata with the generated encoder, as a client would.
pub fn encode_request(
    correlation_id: i64,
    timeout_ns: i64,
    reply_stream_id: i32,
    handler: &str,
    payload: &[u8],
) -> Vec<u8> {
    encode_request_with_metadata(correlation_id, timeout_ns, reply_stream_id, &[], handler, payload)
}

/// Encodes a `Request` replying on the worker's own channel, as a client on its host would.
pub fn encode_request_with_metadata(
    correlation_id: i64,
    timeout_ns: i64,
    reply_stream_id: i32,
    metadata: &[(&str, &str)],
    handler: &str,
    payload: &[u8],
) -> Vec<u8> {
    encode_request_to(correlation_id, timeout_ns, reply_stream_id, metadata, "", handler, payload)
}

/// Encodes a `Request` with the generated encoder, as a client would; `reply_channel` ""
/// for the worker's own channel.
pub fn encode_request_to(
    correlation_id: i64,
    timeout_ns: i64,
    reply_stream_id: i32,
    metadata: &[(&str, &str)],
    reply_channel: &str,
    handler: &str,
    payload: &[u8],
) -> Vec<u8> {
    let entries: usize = metadata.iter().map(|(k, v)| 2 + k.len() + 2 + v.len()).sum();
    let length = 8 + usize::from(polybridge_worker::codecs::request_codec::SBE_BLOCK_LENGTH) + 4 + entries + 2 + reply_channel.len() + 2 + handler.len() + 4 + payload.len();
    let mut frame = vec![0u8; length];
    {
        let mut header = RequestEncoder::default().wrap(WriteBuf::new(&mut frame), 8).header(0);
        let mut request = header.parent().unwrap();
        request.correlation_id(correlation_id).timeout_ns(timeout_ns).reply_stream_id(reply_stream_id);
        let mut group = request.metadata_encoder(metadata.len() as u16, Default::default());
        for (key, value) in metadata {
            assert!(group.advance().unwrap().is_some());
            group.key(key).value(value);
        }
        let mut request = group.parent().unwrap();
        request.reply_channel(reply_channel).handler(handler).payload(payload);
        assert_eq!(8 + request.encoded_length(), length);
    }
    frame
}

/// Encodes a `Request` whose payload lies in a payload region (inline payload empty), replying
/// on the worker's own channel.
pub fn encode_region_request(
    correlation_id: i64,
    timeout_ns: i64,
    reply_stream_id: i32,
    handler: &str,
    region: RegionRef,
    inline_payload: &[u8],
) -> Vec<u8> {
    let length = 8 + 44 + 4 + 2 + 2 + handler.len() + 4 + inline_payload.len();
    let mut frame = vec![0u8; length];
    {
        let mut header = RequestEncoder::default().wrap(WriteBuf::new(&mut frame), 8).header(0);
        let mut request = header.parent().unwrap();
        request
            .correlation_id(correlation_id)
            .timeout_ns(timeout_ns)
            .reply_stream_id(reply_stream_id)
            .region_id(region.region_id)
            .region_offset(region.offset)
            .region_length(region.length);
        let mut group = request.metadata_encoder(0, Default::default());
        let mut request = group.parent().unwrap();
        request.reply_channel("").handler(handler).payload(inline_payload);
        assert_eq!(8 + request.encoded_length(), length);
    }
    frame
}

/// A `PayloadRelease` frame, with the generated encoder.
pub fn encode_release(correlation_id: i64, reply_stream_id: i32, region_id: i64, region_offset: i64) -> Vec<u8> {
    let mut frame = vec![0u8; 8 + 28];
    let mut header = PayloadReleaseEncoder::default().wrap(WriteBuf::new(&mut frame), 8).header(0);
    let mut release = header.parent().unwrap();
    release.correlation_id(correlation_id).reply_stream_id(reply_stream_id).region_id(region_id).region_offset(region_offset);
    frame
}

/// A `Cancel` frame replying on the worker's own channel.
pub fn encode_cancel(correlation_id: i64, reply_stream_id: i32) -> Vec<u8> {
    encode_cancel_to(correlation_id, reply_stream_id, "")
}

/// A `Cancel` frame (header: block 12, template 3, schema 7101, this version), then its
/// `replyChannel`.
pub fn encode_cancel_to(correlation_id: i64, reply_stream_id: i32, reply_channel: &str) -> Vec<u8> {
    let mut frame = Vec::with_capacity(22 + reply_channel.len());
    for v in [12u16, 3, SBE_SCHEMA_ID, SBE_SCHEMA_VERSION] {
        frame.extend_from_slice(&v.to_le_bytes());
    }
    frame.extend_from_slice(&correlation_id.to_le_bytes());
    frame.extend_from_slice(&reply_stream_id.to_le_bytes());
    frame.extend_from_slice(&(reply_channel.len() as u16).to_le_bytes());
    frame.extend_from_slice(reply_channel.as_bytes());
    frame
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedResponse {
    pub correlation_id: i64,
    pub code: ErrorCode,
    pub message: String,
    pub payload: Vec<u8>,
    /// Where the payload lies instead, in the worker's response region (region_id 0: inline).
    pub region: RegionRef,
}

/// Decodes a `Response` with the generated decoder and checks it fills the frame exactly.
pub fn decode_response(frame: &[u8]) -> DecodedResponse {
    let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(frame), 0);
    assert_eq!(header.schema_id(), SBE_SCHEMA_ID);
    assert_eq!(header.version(), SBE_SCHEMA_VERSION);
    assert_eq!(header.template_id(), response_codec::SBE_TEMPLATE_ID);
    assert_eq!(header.block_length(), response_codec::SBE_BLOCK_LENGTH);
    let mut response = ResponseDecoder::default().header(header, 0);
    let correlation_id = response.correlation_id();
    let code = response.error_code();
    let region = RegionRef {
        region_id: response.region_id(),
        offset: response.region_offset(),
        length: response.region_length(),
    };
    let (at, len) = response.error_message_decoder();
    let message = String::from_utf8(frame[at..at + len].to_vec()).expect("error message is UTF-8");
    let (at, len) = response.payload_decoder();
    assert_eq!(at + len, frame.len(), "response has trailing bytes");
    DecodedResponse { correlation_id, code, message, payload: frame[at..at + len].to_vec(), region }
}

/// Equality for large byte strings that reports the first difference, not both dumps.
pub fn assert_bytes_eq(what: &str, actual: &[u8], expected: &[u8]) {
    if actual == expected {
        return;
    }
    let first = actual.iter().zip(expected).position(|(a, e)| a != e).unwrap_or(actual.len().min(expected.len()));
    let window = |b: &[u8]| b[first.saturating_sub(8)..(first + 8).min(b.len())].to_vec();
    panic!(
        "{what}: {} bytes encoded, {} expected; first difference at byte {first}: encoded {:02x?}, expected {:02x?}",
        actual.len(),
        expected.len(),
        window(actual),
        window(expected)
    );
}
