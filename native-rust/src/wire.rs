//! Checked decoding and exact-size encoding of polybridge frames.
//!
//! The generated SBE decoders trust every length they read and panic (slice index out of
//! range) when a frame lies, and the generated encoders panic when the buffer is too small.
//! This module therefore validates a frame completely before any generated decoder
//! touches it, and sizes every buffer exactly before any generated encoder writes to it.

use polybridge_codecs::error_code::ErrorCode;
use polybridge_codecs::language::Language;
use polybridge_codecs::message_header_codec::{MessageHeaderDecoder, MessageHeaderEncoder};
use polybridge_codecs::request_codec::RequestDecoder;
use polybridge_codecs::response_codec::ResponseEncoder;
use polybridge_codecs::worker_announcement_codec::WorkerAnnouncementEncoder;
use polybridge_codecs::{
    cancel_codec, message_header_codec, payload_release_codec, request_codec, response_codec,
    worker_announcement_codec,
    ReadBuf, WriteBuf, SBE_SCHEMA_ID, SBE_SCHEMA_VERSION,
};
use std::net::Ipv6Addr;
use std::sync::Arc;
use thiserror::Error;

/// Length of the SBE `messageHeader` that starts every frame.
pub const HEADER_LENGTH: usize = message_header_codec::ENCODED_LENGTH;
/// Length of the `uint16` length prefix of a `varStringEncoding` field.
const VAR_STRING_PREFIX: usize = 2;
/// Length of the `uint32` length prefix of a `varDataEncoding` field.
const VAR_DATA_PREFIX: usize = 4;
/// Largest length a `varStringEncoding` may carry (its `maxValue`).
pub const MAX_VAR_STRING_LENGTH: usize = 65534;
/// Length of a `groupSizeEncoding` (block length and count, `uint16` each).
const GROUP_HEADER_LENGTH: usize = 4;
/// Most entries a `Request.metadata` may carry (docs/protocol.md; the same in every language).
pub const MAX_METADATA_ENTRIES: usize = 32;
/// Longest metadata key in bytes of UTF-8 (keys are at least 1 byte).
pub const MAX_METADATA_KEY_LENGTH: usize = 128;
/// Longest metadata value in bytes of UTF-8 (values may be empty).
pub const MAX_METADATA_VALUE_LENGTH: usize = 4096;

/// Longest `replyChannel` a worker accepts, in bytes.
pub const MAX_REPLY_CHANNEL_LENGTH: usize = 256;
/// The only form of a non-empty `replyChannel`: this, then `HOST:PORT` and nothing else.
pub const UDP_ENDPOINT_PREFIX: &str = "aeron:udp?endpoint=";

/// Offset of `Response.payload`'s bytes in an OK response (empty error message): header,
/// fixed block, an empty error message, then the payload's length prefix.
pub const OK_RESPONSE_PAYLOAD_OFFSET: usize =
    HEADER_LENGTH + response_codec::SBE_BLOCK_LENGTH as usize + VAR_STRING_PREFIX + VAR_DATA_PREFIX;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("frame of {length} bytes is shorter than the {HEADER_LENGTH}-byte message header")]
    ShorterThanHeader { length: usize },
    #[error("schema id {found} is not polybridge's {SBE_SCHEMA_ID}")]
    WrongSchemaId { found: u16 },
    #[error("template id {found} is not a message a worker accepts (Request=1, Cancel=3, PayloadRelease=5)")]
    UnknownTemplate { found: u16 },
    #[error("schema version {found} is not this worker's version {SBE_SCHEMA_VERSION}")]
    WrongVersion { found: u16 },
    #[error("block length {found} is not the {expected} bytes of template {template_id} in version {SBE_SCHEMA_VERSION}")]
    WrongBlockLength { template_id: u16, found: u16, expected: u16 },
    #[error("{extra} bytes follow the end of the message at byte {end}")]
    TrailingBytes { end: usize, extra: usize },
    #[error("fixed block ends at byte {end} but the frame has only {length} bytes")]
    BlockPastFrame { end: usize, length: usize },
    #[error("length of field '{field}' at byte {offset} runs past the frame of {length} bytes")]
    VarLengthPastFrame { field: &'static str, offset: usize, length: usize },
    #[error("field '{field}' claims {claimed} bytes from byte {offset}, past the frame of {length} bytes")]
    VarDataPastFrame { field: &'static str, offset: usize, claimed: usize, length: usize },
    #[error("field '{field}' is not valid UTF-8")]
    NotUtf8 { field: &'static str },
    #[error("header of group '{group}' at byte {offset} runs past the frame of {length} bytes")]
    GroupHeaderPastFrame { group: &'static str, offset: usize, length: usize },
    #[error("group '{group}' has entries of {found} bytes of fixed fields; version {SBE_SCHEMA_VERSION} has {expected}")]
    WrongGroupBlockLength { group: &'static str, found: u16, expected: u16 },
    #[error("{count} metadata entries; at most {MAX_METADATA_ENTRIES} are allowed")]
    TooManyMetadataEntries { count: usize },
    #[error("metadata key {index} is {length} bytes; keys are 1 to {MAX_METADATA_KEY_LENGTH} bytes")]
    MetadataKeyLength { index: usize, length: usize },
    #[error("metadata value {index} (key '{key}') is {length} bytes; values are at most {MAX_METADATA_VALUE_LENGTH} bytes")]
    MetadataValueTooLong { index: usize, key: String, length: usize },
    #[error("metadata key '{key}' appears more than once")]
    DuplicateMetadataKey { key: String },
    #[error("replyChannel must be empty or aeron:udp?endpoint=HOST:PORT: {reason}")]
    BadReplyChannel { reason: &'static str },
    #[error("reply stream id {found} names no stream a worker replies on (it must be > 0, and not the worker's request or control stream)")]
    BadReplyStream { found: i32 },
}

/// Where to send an answer about a frame: readable even from some malformed frames.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyTo {
    pub correlation_id: i64,
    pub reply_stream_id: i32,
    /// The caller's `replyChannel` (checked by [`check_reply_channel`]), `None` for the
    /// worker's own channel: what the frame said when it was empty, unreadable or invalid.
    pub reply_channel: Option<Arc<str>>,
}

impl ReplyTo {
    /// An answer on the worker's own channel.
    pub fn new(correlation_id: i64, reply_stream_id: i32) -> Self {
        Self { correlation_id, reply_stream_id, reply_channel: None }
    }

    /// An answer on `reply_channel` ("" for the worker's own channel).
    pub fn on(correlation_id: i64, reply_stream_id: i32, reply_channel: &str) -> Self {
        Self { correlation_id, reply_stream_id, reply_channel: channel_of(reply_channel) }
    }
}

/// The largest response frame a worker may send back: Aeron's largest message (a term / 8) on
/// its own channel, where replies to IPC callers go, and on callers' UDP reply channels, whose
/// term length `--reply-channel-params` sets. They differ: a driver's IPC term and the reply
/// channels' term are configured apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    pub own_channel: usize,
    pub reply_channels: usize,
}

impl FrameLimits {
    pub const UNLIMITED: Self = Self { own_channel: usize::MAX, reply_channels: usize::MAX };

    /// The limit for an answer going to `reply_to`.
    pub fn for_reply(&self, reply_to: &ReplyTo) -> usize {
        if reply_to.reply_channel.is_some() {
            self.reply_channels
        } else {
            self.own_channel
        }
    }
}

/// `None` for "" (the worker's own channel), else the channel.
fn channel_of(reply_channel: &str) -> Option<Arc<str>> {
    Some(reply_channel).filter(|c| !c.is_empty()).map(Arc::from)
}

/// Checks a `replyChannel` (docs/protocol.md): empty, or exactly `aeron:udp?endpoint=HOST:PORT`
/// with HOST an IPv4 literal, a bracketed IPv6 literal or a host name, PORT 1-65535, no other
/// parameters, at most [`MAX_REPLY_CHANNEL_LENGTH`] bytes. A frame must never choose how the
/// worker's publication behaves (term length, interface, ...): the worker adds those itself.
/// Returns the channel as text, or why it is refused.
pub fn check_reply_channel(bytes: &[u8]) -> Result<&str, &'static str> {
    if bytes.len() > MAX_REPLY_CHANNEL_LENGTH {
        return Err("longer than 256 bytes");
    }
    let channel = std::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    if channel.is_empty() {
        return Ok(channel);
    }
    let endpoint = channel.strip_prefix(UDP_ENDPOINT_PREFIX).ok_or("not an aeron:udp?endpoint= channel")?;
    let (host, port) = endpoint.rsplit_once(':').ok_or("no :PORT")?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err("PORT is not a number from 1 to 65535 (other parameters are not accepted)");
    }
    match port.parse::<u16>() {
        Ok(1..) => {}
        _ => return Err("PORT is not a number from 1 to 65535"),
    }
    let valid_host = if let Some(inner) = host.strip_prefix('[') {
        inner.strip_suffix(']').is_some_and(|address| address.parse::<Ipv6Addr>().is_ok())
    } else {
        // An IPv4 literal is a host name by these rules too (as in the Go worker): a dotted quad
        // that is no address (10.0.0.256) passes, and the driver's failure to resolve it drops
        // the reply.
        is_host_name(host)
    };
    if valid_host {
        Ok(channel)
    } else {
        Err("HOST is not an IPv4 address, a bracketed IPv6 address or a host name")
    }
}

/// A DNS host name: dot-separated labels of 1-63 letters, digits and hyphens, not starting or
/// ending with a hyphen, 253 bytes at most (RFC 1123).
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A frame that did not decode, with the reply address when it could still be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub error: DecodeError,
    pub reply_to: Option<ReplyTo>,
}

/// A decoded `Request`, borrowing its var data from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub correlation_id: i64,
    pub timeout_ns: i64,
    pub reply_stream_id: i32,
    pub metadata: Metadata<'a>,
    /// Where the response goes: "" for the worker's own channel, else a channel that passed
    /// [`check_reply_channel`].
    pub reply_channel: &'a str,
    pub handler: &'a str,
    pub payload: &'a [u8],
    /// Where the payload lies instead, when `region.region_id != 0` (then `payload` should be
    /// empty): a caller's payload region.
    pub region: RegionRef,
}

/// A reference into a payload region: `region_id` 0 means none (the payload is inline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionRef {
    pub region_id: i64,
    pub offset: i64,
    pub length: i64,
}

/// A decoded `PayloadRelease`: the client no longer reads a lent response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub correlation_id: i64,
    pub reply_stream_id: i32,
    pub region_id: i64,
    pub region_offset: i64,
}

/// The `metadata` group of a decoded `Request`: a view of the frame whose entries were all
/// checked (bounds, UTF-8, the limits above, unique keys) when the frame was decoded, so
/// iterating it cannot fail.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Metadata<'a> {
    /// The entries' bytes: per entry a `uint16` key length, the key, a `uint16` value length,
    /// the value.
    entries: &'a [u8],
    count: usize,
}

impl<'a> Metadata<'a> {
    /// No entries.
    pub const EMPTY: Metadata<'static> = Metadata { entries: &[], count: 0 };

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The (key, value) pairs in wire order.
    pub fn iter(&self) -> MetadataIter<'a> {
        MetadataIter { entries: self.entries, left: self.count }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, value)| value)
    }

    /// The entries as an owned map, as handlers see them ([`crate::Context::metadata`]).
    pub fn to_map(&self) -> std::collections::HashMap<String, String> {
        self.iter().map(|(key, value)| (key.to_owned(), value.to_owned())).collect()
    }
}

impl std::fmt::Debug for Metadata<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Metadata<'a> {
    type Item = (&'a str, &'a str);
    type IntoIter = MetadataIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over [`Metadata`] entries.
#[derive(Debug, Clone)]
pub struct MetadataIter<'a> {
    entries: &'a [u8],
    left: usize,
}

impl<'a> MetadataIter<'a> {
    /// The next length-prefixed string; `None` only if the entries were not validated, which
    /// [`decode_inbound`] rules out.
    fn next_string(&mut self) -> Option<&'a str> {
        let length = usize::from(read_u16(self.entries, 0)?);
        let bytes = self.entries.get(VAR_STRING_PREFIX..VAR_STRING_PREFIX + length)?;
        self.entries = &self.entries[VAR_STRING_PREFIX + length..];
        std::str::from_utf8(bytes).ok()
    }
}

impl<'a> Iterator for MetadataIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let key = self.next_string()?;
        let value = self.next_string()?;
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// Validates the `metadata` group at `offset` against the frame and the limits of
/// docs/protocol.md; returns it and the offset after it.
fn decode_metadata(frame: &[u8], offset: usize) -> Result<(Metadata<'_>, usize), DecodeError> {
    let length = frame.len();
    let (Some(block_length), Some(count)) = (read_u16(frame, offset), read_u16(frame, offset + 2)) else {
        return Err(DecodeError::GroupHeaderPastFrame { group: "metadata", offset, length });
    };
    // Entries have no fixed fields in this version; other sizes would put the strings elsewhere.
    if block_length != 0 {
        return Err(DecodeError::WrongGroupBlockLength { group: "metadata", found: block_length, expected: 0 });
    }
    let count = usize::from(count);
    if count > MAX_METADATA_ENTRIES {
        return Err(DecodeError::TooManyMetadataEntries { count });
    }
    let start = offset + GROUP_HEADER_LENGTH;
    let mut next = start;
    // At most 32 keys: comparing each with those before it needs no allocation.
    let mut keys: [&str; MAX_METADATA_ENTRIES] = [""; MAX_METADATA_ENTRIES];
    for index in 0..count {
        let (key_at, key_len, after_key) = var_string(frame, next, "metadata key")?;
        let (value_at, value_len, after_value) = var_string(frame, after_key, "metadata value")?;
        next = after_value;
        if key_len == 0 || key_len > MAX_METADATA_KEY_LENGTH {
            return Err(DecodeError::MetadataKeyLength { index, length: key_len });
        }
        let key = std::str::from_utf8(&frame[key_at..key_at + key_len])
            .map_err(|_| DecodeError::NotUtf8 { field: "metadata key" })?;
        if value_len > MAX_METADATA_VALUE_LENGTH {
            return Err(DecodeError::MetadataValueTooLong { index, key: key.to_owned(), length: value_len });
        }
        std::str::from_utf8(&frame[value_at..value_at + value_len])
            .map_err(|_| DecodeError::NotUtf8 { field: "metadata value" })?;
        if keys[..index].contains(&key) {
            return Err(DecodeError::DuplicateMetadataKey { key: key.to_owned() });
        }
        keys[index] = key;
    }
    Ok((Metadata { entries: &frame[start..next], count }, next))
}

/// A decoded `Cancel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancel<'a> {
    pub correlation_id: i64,
    pub reply_stream_id: i32,
    /// As in the Request it cancels (checked like it).
    pub reply_channel: &'a str,
}

/// Every message a worker accepts on its request stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound<'a> {
    Request(Request<'a>),
    Cancel(Cancel<'a>),
    Release(Release),
}

/// Little-endian reads that return `None` instead of panicking past the end.
fn read_u16(frame: &[u8], at: usize) -> Option<u16> {
    let bytes = frame.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn read_u32(frame: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = frame.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

fn read_i32(frame: &[u8], at: usize) -> Option<i32> {
    let bytes: [u8; 4] = frame.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_le_bytes(bytes))
}

fn read_i64(frame: &[u8], at: usize) -> Option<i64> {
    let bytes: [u8; 8] = frame.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(i64::from_le_bytes(bytes))
}

/// Validates a var-data field at `offset` and returns (data offset, data length, next offset).
fn var_field(
    frame: &[u8],
    offset: usize,
    prefix: usize,
    field: &'static str,
) -> Result<(usize, usize, usize), DecodeError> {
    let length = frame.len();
    let claimed = if prefix == VAR_STRING_PREFIX {
        read_u16(frame, offset).map(usize::from)
    } else {
        read_u32(frame, offset).and_then(|n| usize::try_from(n).ok())
    }
    .ok_or(DecodeError::VarLengthPastFrame { field, offset, length })?;
    let start = offset + prefix;
    let end = start
        .checked_add(claimed)
        .filter(|end| *end <= length)
        .ok_or(DecodeError::VarDataPastFrame { field, offset: start, claimed, length })?;
    Ok((start, claimed, end))
}

/// A message must fill its frame exactly: bytes after its end mean a length lied.
pub fn no_trailing_bytes(frame: &[u8], end: usize) -> Result<(), DecodeError> {
    match frame.len().checked_sub(end) {
        Some(0) | None => Ok(()),
        Some(extra) => Err(DecodeError::TrailingBytes { end, extra }),
    }
}

/// Validates a var-string (`uint16` length) field at `offset`: (data offset, length, next offset).
pub fn var_string(frame: &[u8], offset: usize, field: &'static str) -> Result<(usize, usize, usize), DecodeError> {
    var_field(frame, offset, VAR_STRING_PREFIX, field)
}

/// Validates a var-data (`uint32` length) field at `offset`: (data offset, length, next offset).
pub fn var_data(frame: &[u8], offset: usize, field: &'static str) -> Result<(usize, usize, usize), DecodeError> {
    var_field(frame, offset, VAR_DATA_PREFIX, field)
}

/// Decodes a frame from a worker's request stream, validating the header, the fixed block
/// and every var-data length against the frame length before reading anything.
pub fn decode_inbound(frame: &[u8]) -> Result<Inbound<'_>, Malformed> {
    let length = frame.len();
    let no_reply = |error| Malformed { error, reply_to: None };
    if length < HEADER_LENGTH {
        return Err(no_reply(DecodeError::ShorterThanHeader { length }));
    }
    let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(frame), 0);
    let (block_length, template_id, schema_id, version) =
        (header.block_length(), header.template_id(), header.schema_id(), header.version());
    if schema_id != SBE_SCHEMA_ID {
        return Err(no_reply(DecodeError::WrongSchemaId { found: schema_id }));
    }

    // Fields never move within a template (the schema only appends), so the correlation id
    // and reply stream id can be read from any version of a Request or Cancel whose bytes
    // are there, which lets even a malformed call be answered instead of timing out.
    let (expected_block, reply_stream_offset) = match template_id {
        request_codec::SBE_TEMPLATE_ID => (request_codec::SBE_BLOCK_LENGTH, 16),
        cancel_codec::SBE_TEMPLATE_ID => (cancel_codec::SBE_BLOCK_LENGTH, 8),
        payload_release_codec::SBE_TEMPLATE_ID => return decode_release(frame, header, block_length, version),
        found => return Err(no_reply(DecodeError::UnknownTemplate { found })),
    };
    let reply_to = match (
        read_i64(frame, HEADER_LENGTH),
        read_i32(frame, HEADER_LENGTH + reply_stream_offset),
    ) {
        (Some(correlation_id), Some(reply_stream_id)) => Some(ReplyTo::new(correlation_id, reply_stream_id)),
        _ => None,
    };
    let malformed = |error| Malformed { error, reply_to: reply_to.clone() };

    if version != SBE_SCHEMA_VERSION {
        return Err(malformed(DecodeError::WrongVersion { found: version }));
    }
    // Only this version is accepted, and in one version a template's block never changes size:
    // any other block length means the fields are not where they should be.
    if block_length != expected_block {
        return Err(malformed(DecodeError::WrongBlockLength {
            template_id,
            found: block_length,
            expected: expected_block,
        }));
    }
    let block_end = HEADER_LENGTH + usize::from(block_length);
    if block_end > length {
        return Err(malformed(DecodeError::BlockPastFrame { end: block_end, length }));
    }

    // Invalid replyChannels are answered on the worker's own channel: never send anything
    // to a place the worker would not reply to.
    let reply_channel_at = |offset| -> Result<(&str, usize), Malformed> {
        let (start, len, next) = var_string(frame, offset, "replyChannel").map_err(malformed)?;
        let channel = check_reply_channel(&frame[start..start + len])
            .map_err(|reason| malformed(DecodeError::BadReplyChannel { reason }))?;
        Ok((channel, next))
    };

    // Once the caller's replyChannel is known to be good, anything else wrong is answered there.
    let malformed_to = |reply_channel: &str| {
        let reply_to = reply_to.clone().map(|r| ReplyTo { reply_channel: channel_of(reply_channel), ..r });
        move |error| Malformed { error, reply_to: reply_to.clone() }
    };

    if template_id == cancel_codec::SBE_TEMPLATE_ID {
        let (reply_channel, end) = reply_channel_at(block_end)?;
        no_trailing_bytes(frame, end).map_err(malformed_to(reply_channel))?;
        let cancel = cancel_codec::CancelDecoder::default().header(header, 0);
        return Ok(Inbound::Cancel(Cancel {
            correlation_id: cancel.correlation_id(),
            reply_stream_id: cancel.reply_stream_id(),
            reply_channel,
        }));
    }

    let (metadata, next) = decode_metadata(frame, block_end).map_err(malformed)?;
    let (reply_channel, next) = reply_channel_at(next)?;
    let malformed = malformed_to(reply_channel);
    let (handler_start, handler_len, next) =
        var_field(frame, next, VAR_STRING_PREFIX, "handler").map_err(&malformed)?;
    let (payload_start, payload_len, end) =
        var_field(frame, next, VAR_DATA_PREFIX, "payload").map_err(&malformed)?;
    no_trailing_bytes(frame, end).map_err(&malformed)?;
    let handler = std::str::from_utf8(&frame[handler_start..handler_start + handler_len])
        .map_err(|_| malformed(DecodeError::NotUtf8 { field: "handler" }))?;

    // Everything is in bounds now, so the generated decoder cannot panic.
    let request = RequestDecoder::default().header(header, 0);
    Ok(Inbound::Request(Request {
        correlation_id: request.correlation_id(),
        timeout_ns: request.timeout_ns(),
        reply_stream_id: request.reply_stream_id(),
        metadata,
        reply_channel,
        handler,
        payload: &frame[payload_start..payload_start + payload_len],
        region: RegionRef {
            region_id: request.region_id(),
            offset: request.region_offset(),
            length: request.region_length(),
        },
    }))
}

/// Decodes a `PayloadRelease` (fixed fields only): never answered, so a malformed one has no
/// reply address.
fn decode_release<'a>(
    frame: &'a [u8],
    header: MessageHeaderDecoder<ReadBuf<'a>>,
    block_length: u16,
    version: u16,
) -> Result<Inbound<'a>, Malformed> {
    let no_reply = |error| Malformed { error, reply_to: None };
    if version != SBE_SCHEMA_VERSION {
        return Err(no_reply(DecodeError::WrongVersion { found: version }));
    }
    if block_length != payload_release_codec::SBE_BLOCK_LENGTH {
        return Err(no_reply(DecodeError::WrongBlockLength {
            template_id: payload_release_codec::SBE_TEMPLATE_ID,
            found: block_length,
            expected: payload_release_codec::SBE_BLOCK_LENGTH,
        }));
    }
    let end = HEADER_LENGTH + usize::from(block_length);
    if end > frame.len() {
        return Err(no_reply(DecodeError::BlockPastFrame { end, length: frame.len() }));
    }
    no_trailing_bytes(frame, end).map_err(no_reply)?;
    let release = payload_release_codec::PayloadReleaseDecoder::default().header(header, 0);
    Ok(Inbound::Release(Release {
        correlation_id: release.correlation_id(),
        reply_stream_id: release.reply_stream_id(),
        region_id: release.region_id(),
        region_offset: release.region_offset(),
    }))
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Length of a `Response` frame carrying `message_len` and `payload_len` bytes.
pub fn response_length(message_len: usize, payload_len: usize) -> usize {
    HEADER_LENGTH
        + response_codec::SBE_BLOCK_LENGTH as usize
        + VAR_STRING_PREFIX
        + message_len
        + VAR_DATA_PREFIX
        + payload_len
}

/// Encodes a complete `Response` into `out`, replacing its contents. Messages longer than a
/// `varStringEncoding` allows are cut on a character boundary.
pub fn encode_response(
    out: &mut Vec<u8>,
    correlation_id: i64,
    code: ErrorCode,
    message: &str,
    payload: &[u8],
) {
    let message = truncate_utf8(message, MAX_VAR_STRING_LENGTH);
    out.clear();
    out.resize(response_length(message.len(), payload.len()), 0);
    let mut encoder = ResponseEncoder::default()
        .wrap(WriteBuf::new(out.as_mut_slice()), HEADER_LENGTH)
        .header(0);
    if let Ok(mut response) = encoder.parent() {
        response.correlation_id(correlation_id).error_code(code).error_message(message).payload(payload);
    }
}

/// Completes an OK `Response` whose payload bytes were already written from
/// [`OK_RESPONSE_PAYLOAD_OFFSET`] to the end of `frame`, so the payload is never copied.
pub fn finish_ok_response(frame: &mut [u8], correlation_id: i64) {
    debug_assert!(frame.len() >= OK_RESPONSE_PAYLOAD_OFFSET);
    let payload_len = frame.len() - OK_RESPONSE_PAYLOAD_OFFSET;
    let mut encoder = ResponseEncoder::default()
        .wrap(WriteBuf::new(&mut frame[..OK_RESPONSE_PAYLOAD_OFFSET]), HEADER_LENGTH)
        .header(0);
    if let Ok(mut response) = encoder.parent() {
        response.correlation_id(correlation_id).error_code(ErrorCode::OK).error_message("");
    }
    // The payload's uint32 length prefix, written by hand because the generated `payload()`
    // would also copy the bytes that are already in place. A frame longer than u32::MAX
    // cannot travel (Aeron's limit is 1/8 of a term, at most 128 MiB).
    let prefix = u32::try_from(payload_len).unwrap_or(u32::MAX);
    frame[OK_RESPONSE_PAYLOAD_OFFSET - VAR_DATA_PREFIX..OK_RESPONSE_PAYLOAD_OFFSET]
        .copy_from_slice(&prefix.to_le_bytes());
}

/// Encodes an OK `Response` whose payload lies in the worker's response region, replacing
/// `out`'s contents: the reference, an empty error message and an empty inline payload.
pub fn encode_region_response(out: &mut Vec<u8>, correlation_id: i64, region: RegionRef) {
    out.clear();
    out.resize(response_length(0, 0), 0);
    let mut encoder = ResponseEncoder::default()
        .wrap(WriteBuf::new(out.as_mut_slice()), HEADER_LENGTH)
        .header(0);
    if let Ok(mut response) = encoder.parent() {
        response
            .correlation_id(correlation_id)
            .error_code(ErrorCode::OK)
            .region_id(region.region_id)
            .region_offset(region.offset)
            .region_length(region.length)
            .error_message("")
            .payload(&[]);
    }
}

/// What a worker says about itself on the control stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement<'a> {
    pub language: Language,
    pub pid: i64,
    pub request_stream_id: i32,
    pub handlers: &'a [&'a str],
    pub worker_id: &'a str,
    /// Where clients publish this worker's requests: "" for the channel they heard the
    /// announcement on (IPC).
    pub request_channel: &'a str,
    /// The worker's response region (0: it lends no responses).
    pub region_id: i64,
}

/// Errors encoding an announcement.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnnouncementError {
    #[error("{count} handlers do not fit a repeating group (at most 65535)")]
    TooManyHandlers { count: usize },
    #[error("the generated encoder lost its parent")]
    Codec,
}

/// Encodes a `WorkerAnnouncement` (schema id and version are this build's) into `out`.
pub fn encode_announcement(out: &mut Vec<u8>, announcement: &Announcement<'_>) -> Result<(), AnnouncementError> {
    let count = u16::try_from(announcement.handlers.len())
        .map_err(|_| AnnouncementError::TooManyHandlers { count: announcement.handlers.len() })?;
    let names: Vec<&str> =
        announcement.handlers.iter().map(|name| truncate_utf8(name, MAX_VAR_STRING_LENGTH)).collect();
    let worker_id = truncate_utf8(announcement.worker_id, MAX_VAR_STRING_LENGTH);
    let request_channel = truncate_utf8(announcement.request_channel, MAX_VAR_STRING_LENGTH);
    let length = HEADER_LENGTH
        + worker_announcement_codec::SBE_BLOCK_LENGTH as usize
        + 4 // groupSizeEncoding
        + names.iter().map(|name| VAR_STRING_PREFIX + name.len()).sum::<usize>()
        + VAR_STRING_PREFIX
        + worker_id.len()
        + VAR_STRING_PREFIX
        + request_channel.len();
    out.clear();
    out.resize(length, 0);

    let mut header: MessageHeaderEncoder<WorkerAnnouncementEncoder<'_>> =
        WorkerAnnouncementEncoder::default().wrap(WriteBuf::new(out.as_mut_slice()), HEADER_LENGTH).header(0);
    let mut encoder = header.parent().map_err(|_| AnnouncementError::Codec)?;
    encoder
        .schema_id(SBE_SCHEMA_ID)
        .schema_version(SBE_SCHEMA_VERSION)
        .language(announcement.language)
        .pid(announcement.pid)
        .request_stream_id(announcement.request_stream_id)
        .region_id(announcement.region_id);
    let mut group = encoder.handlers_encoder(count, Default::default());
    for name in &names {
        if group.advance().map_err(|_| AnnouncementError::Codec)?.is_none() {
            return Err(AnnouncementError::Codec);
        }
        group.name(name);
    }
    let mut encoder = group.parent().map_err(|_| AnnouncementError::Codec)?;
    encoder.worker_id(worker_id).request_channel(request_channel);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_channels_a_worker_accepts() {
        for channel in [
            "",
            "aeron:udp?endpoint=10.42.0.1:41000",
            "aeron:udp?endpoint=127.0.0.1:1",
            "aeron:udp?endpoint=client-7.example.com:65535",
            "aeron:udp?endpoint=localhost:41000",
            "aeron:udp?endpoint=[::1]:41000",
            "aeron:udp?endpoint=[fe80::1:2]:41000",
            // A dotted quad is a host name too, and PORT is any 1-5 digits from 1 to 65535, as
            // in the Go worker: both answer the same frames alike.
            "aeron:udp?endpoint=10.0.0.256:08080",
        ] {
            assert_eq!(check_reply_channel(channel.as_bytes()), Ok(channel), "{channel}");
        }
    }

    #[test]
    fn reply_channels_a_worker_refuses() {
        let longest_host = format!("{}.example", "a".repeat(MAX_REPLY_CHANNEL_LENGTH));
        let too_long = format!("aeron:udp?endpoint={longest_host}:1");
        for channel in [
            "aeron:ipc",
            "aeron:udp",
            "aeron:udp?endpoint=",
            "aeron:udp?endpoint=x:1|term-length=64k",
            "aeron:udp?endpoint=10.0.0.1:41000|interface=10.0.0.2",
            "aeron:udp?interface=10.0.0.2|endpoint=10.0.0.1:41000",
            "aeron:udp?control=10.0.0.1:40102|control-mode=dynamic",
            "aeron:udp?endpoint=10.0.0.1",
            "aeron:udp?endpoint=10.0.0.1:",
            "aeron:udp?endpoint=10.0.0.1:0",
            "aeron:udp?endpoint=10.0.0.1:65536",
            "aeron:udp?endpoint=10.0.0.1:+80",
            "aeron:udp?endpoint=10.0.0.1:123456",
            "aeron:udp?endpoint=[fe80::1%eth0]:41000",
            "aeron:udp?endpoint=:41000",
            "aeron:udp?endpoint=::1:41000",
            "aeron:udp?endpoint=[::1:41000",
            "aeron:udp?endpoint=[10.0.0.1]:41000",
            "aeron:udp?endpoint=-bad.example:41000",
            "aeron:udp?endpoint=under_score:41000",
            "aeron:udp?endpoint=a..b:41000",
            "aeron:udp?endpoint=10.0.0.1:41000 ",
            " aeron:udp?endpoint=10.0.0.1:41000",
            "AERON:UDP?endpoint=10.0.0.1:41000",
            too_long.as_str(),
        ] {
            assert!(check_reply_channel(channel.as_bytes()).is_err(), "{channel} was accepted");
        }
        assert!(check_reply_channel(b"aeron:udp?endpoint=\xff:1").is_err(), "not UTF-8");
    }

    /// The Go worker's table (`TestValidateReplyChannelAcceptsOnlyAUDPEndpoint` in
    /// native-go/worker/replychannel_test.go), so that both workers answer the same frames alike.
    #[test]
    fn reply_channels_are_judged_as_the_go_worker_judges_them() {
        let labels = |last: usize| format!("{}.{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(last));
        let (exactly_256, over_256) =
            (format!("aeron:udp?endpoint={}:41000", labels(39)), format!("aeron:udp?endpoint={}:41000", labels(40)));
        let table: &[(&[u8], bool)] = &[
            (b"", true),
            (b"aeron:udp?endpoint=10.42.0.1:41000", true),
            (b"aeron:udp?endpoint=127.0.0.1:1", true),
            (b"aeron:udp?endpoint=[::1]:65535", true),
            (b"aeron:udp?endpoint=[fe80::1:2]:40100", true),
            (b"aeron:udp?endpoint=client-1.example.com:41000", true),
            (b"aeron:udp?endpoint=x:1", true),
            (b"aeron:ipc", false),
            (b"aeron:udp?endpoint=x:1|term-length=64k", false),
            (b"aeron:udp?endpoint=10.42.0.1:41000|interface=10.0.0.0/8", false),
            (b"aeron:udp?control=10.42.0.1:41000", false),
            (b"aeron:udp?endpoint=10.42.0.1:0", false),
            (b"aeron:udp?endpoint=10.42.0.1:65536", false),
            (b"aeron:udp?endpoint=10.42.0.1:08080", true),
            (b"aeron:udp?endpoint=10.42.0.1:041000", false),
            (b"aeron:udp?endpoint=10.42.0.1:000041", false),
            (b"aeron:udp?endpoint=10.42.0.1:+1", false),
            (b"aeron:udp?endpoint=10.42.0.1", false),
            (b"aeron:udp?endpoint=:41000", false),
            (b"aeron:udp?endpoint=10.42.0.256:41000", true),
            (b"aeron:udp?endpoint=localhost:41000", true),
            (b"aeron:udp?endpoint=10.0.0.1:41000 ", false),
            (b"aeron:udp?endpoint=[::1:41000", false),
            (b"aeron:udp?endpoint=::1:41000", false),
            (b"aeron:udp?endpoint=[10.0.0.1]:41000", false),
            (b"aeron:udp?endpoint=[fe80::1%eth0]:41000", false),
            (b"aeron:udp?endpoint=-host:41000", false),
            (b"aeron:udp?endpoint=a..b:41000", false),
            (b"aeron:udp?endpoint=host_name:41000", false),
            (b"aeron:udp?endpoint=\xff:41000", false),
            (b"AERON:UDP?endpoint=10.42.0.1:41000", false),
            (b" aeron:udp?endpoint=10.42.0.1:41000", false),
            (exactly_256.as_bytes(), true),
            (over_256.as_bytes(), false),
        ];
        for (channel, ok) in table {
            assert_eq!(check_reply_channel(channel).is_ok(), *ok, "{}", String::from_utf8_lossy(channel));
        }
    }

    #[test]
    fn a_reply_channel_of_exactly_256_bytes_is_accepted() {
        let prefix = UDP_ENDPOINT_PREFIX.len() + ":41000".len();
        let host = ["a".repeat(63), "b".repeat(63), "c".repeat(63)].join(".");
        let host = format!("{host}.{}", "d".repeat(MAX_REPLY_CHANNEL_LENGTH - prefix - host.len() - 1));
        let channel = format!("{UDP_ENDPOINT_PREFIX}{host}:41000");
        assert_eq!(channel.len(), MAX_REPLY_CHANNEL_LENGTH);
        assert!(check_reply_channel(channel.as_bytes()).is_ok());
        let longer = format!("{UDP_ENDPOINT_PREFIX}{host}x:41000");
        assert!(check_reply_channel(longer.as_bytes()).is_err());
    }
}
