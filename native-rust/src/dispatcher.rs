//! The dispatcher: from one request frame to one response frame, with no Aeron in sight.

use crate::context::{Context, Interruption};
pub use crate::counters::Counters;
use crate::handler::{Handler, HandlerError, LoanTarget, Registry, Reply};
use crate::region::{LendError, RegionSlice, RequestRegions, ResponseRegion};
use crate::wire::{self, DecodeError, FrameLimits, Inbound, Malformed, Metadata, RegionRef, Release, ReplyTo};
use polybridge_codecs::error_code::ErrorCode;
use std::cell::Cell;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What became of one inbound frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A response frame is in the buffer; publish it to `reply_to`.
    Reply { reply_to: ReplyTo, code: ErrorCode },
    /// A `Cancel`: handlers run inline here, so nothing is queued that it could remove.
    Cancelled { reply_to: ReplyTo },
    /// A `PayloadRelease`: nothing is lent here.
    Released,
    /// The frame did not decode and did not say where to reply, or named a reply stream id
    /// <= 0; it was dropped.
    Dropped(DecodeError),
}

/// A well-formed request for a handler this worker has, ready to run.
pub struct Call<'a> {
    pub reply_to: ReplyTo,
    /// `Request.timeoutNs`: the time the caller had left when it sent the request; 0 for none.
    pub timeout_ns: i64,
    pub name: Arc<str>,
    pub handler: Arc<dyn Handler>,
    /// The request's metadata, a view of the frame like the payload.
    pub metadata: Metadata<'a>,
    /// A view of the frame (of the term buffer, in a worker): copy it to keep it. Empty when
    /// the payload lies in a region (`region`).
    pub payload: &'a [u8],
    /// The payload where it lies in the caller's payload region, when the request referred to
    /// one: handlers read it there, never copied.
    pub region: Option<RegionSlice>,
    /// Run on the poll thread rather than the pool ([`Registry::register_inline`]).
    pub inline: bool,
}

impl Call<'_> {
    /// The payload the handler gets: in the caller's region, or in the frame.
    pub fn payload(&self) -> &[u8] {
        self.region.as_ref().map_or(self.payload, RegionSlice::bytes)
    }

    /// The caller's deadline for a call received at `received`; `None` when it set none.
    pub fn deadline(&self, received: Instant) -> Option<Instant> {
        deadline(received, self.timeout_ns)
    }

    /// The context of this call when it runs inline (it cannot be cancelled while it runs).
    pub fn inline_context(&self, received: Instant) -> Context {
        Context::for_call(self.deadline(received), metadata_map(self.metadata), None)
    }
}

/// `Request.timeoutNs` (the time the caller had left when it sent the request; 0 or less for
/// none) counted from `received`.
pub fn deadline(received: Instant, timeout_ns: i64) -> Option<Instant> {
    u64::try_from(timeout_ns)
        .ok()
        .filter(|&ns| ns > 0)
        .and_then(|ns| received.checked_add(Duration::from_nanos(ns)))
}

/// The metadata as handlers see it; no allocation when there is none.
pub(crate) fn metadata_map(metadata: Metadata<'_>) -> std::collections::HashMap<String, String> {
    if metadata.is_empty() {
        std::collections::HashMap::new()
    } else {
        metadata.to_map()
    }
}

/// Where [`Dispatcher::route`] sends a frame.
pub enum Routed<'a> {
    /// Run this handler (inline or on a pool) and reply with what it produced.
    Call(Call<'a>),
    /// Already answered: the response frame is in the buffer (`NOT_FOUND`, `BAD_REQUEST`,
    /// `TIMEOUT` for a deadline that had passed before the request arrived).
    Answered { reply_to: ReplyTo, code: ErrorCode },
    /// A `Cancel` for the call with this reply address.
    Cancel(ReplyTo),
    /// A `PayloadRelease`: the caller no longer reads a lent response.
    Release(Release),
    /// Undecodable and without a reply address, or with a reply stream id <= 0: dropped.
    Dropped(DecodeError),
}

/// Longest prefix of an unknown handler's name quoted in `NOT_FOUND`.
const MAX_QUOTED_NAME: usize = 200;

/// Turns request frames into calls or immediate answers using a registry of handlers, and
/// counts outcomes. It never touches Aeron and never blocks.
pub struct Dispatcher {
    registry: Arc<Registry>,
    served: String,
    replies: Replies,
    /// The callers' payload regions, when region references are accepted (an IPC request
    /// channel: the caller shares this host's memory).
    regions: Option<RequestRegions>,
    /// Stream ids that are never reply streams besides those <= 0: the worker's own request
    /// and control streams.
    refused_reply_streams: Vec<i32>,
    /// The reply channels seen lately, so that a call's [`ReplyTo`] shares its caller's
    /// channel instead of allocating a copy per request.
    reply_channels: HashSet<Arc<str>>,
    counters: Counters,
}

/// Distinct reply channels remembered before the cache starts again (clients are few; a
/// flood of made-up channels only costs allocations).
const MAX_CACHED_REPLY_CHANNELS: usize = 256;

impl Dispatcher {
    pub fn new(registry: Arc<Registry>) -> Self {
        let served = registry.names().collect::<Vec<_>>().join(", ");
        Self {
            registry,
            served,
            replies: Replies::from(FrameLimits::UNLIMITED),
            regions: None,
            refused_reply_streams: Vec::new(),
            reply_channels: HashSet::new(),
            counters: Counters::default(),
        }
    }

    /// Frames naming one of these as their reply stream are dropped like those naming a
    /// stream id <= 0 (the worker passes its request and control streams, as the Go worker
    /// does: a response there would only be read back as a malformed frame, or by every
    /// client watching announcements).
    pub fn refuse_reply_streams(&mut self, streams: &[i32]) {
        self.refused_reply_streams = streams.to_vec();
    }

    /// Responses longer than this, on any channel, are replaced by `TOO_LARGE` (Aeron's
    /// largest message is a term length / 8).
    pub fn set_max_frame_length(&mut self, max: usize) {
        self.replies.limits = FrameLimits { own_channel: max, reply_channels: max };
    }

    /// Responses longer than their channel's limit are replaced by `TOO_LARGE`.
    pub fn set_frame_limits(&mut self, limits: FrameLimits) {
        self.replies.limits = limits;
    }

    pub fn frame_limits(&self) -> FrameLimits {
        self.replies.limits
    }

    /// How responses are sized and lent ([`Replies`]).
    pub fn set_replies(&mut self, replies: Replies) {
        self.replies = replies;
    }

    pub fn replies(&self) -> &Replies {
        &self.replies
    }

    /// Accepts requests whose payload lies in a caller's payload region in `aeron_dir` (only
    /// on an IPC request channel: without this, such requests are refused `BAD_REQUEST`).
    pub fn accept_region_refs(&mut self, aeron_dir: &str) {
        self.regions = Some(RequestRegions::new(aeron_dir));
    }

    /// Unmaps callers' regions whose file is gone and that no request has in hand, at most
    /// once a second.
    pub fn evict_gone_regions(&mut self, now: Instant) {
        if let Some(regions) = &mut self.regions {
            regions.evict_gone(now);
        }
    }

    /// Counts a `PayloadRelease` that matched nothing.
    pub fn record_bad_release(&mut self) {
        self.counters.bad_releases += 1;
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Counts a `Cancel` that reached a call still queued or running (once per call, as Go
    /// counts `cancelled`); the call's answer itself is counted by [`Dispatcher::record`].
    pub fn record_cancelled(&mut self) {
        self.counters.cancelled += 1;
    }

    /// Counts the outcome of a call answered elsewhere (by a pool, or `OVERLOADED`). A
    /// `CANCELLED` answer counts nothing here: [`Dispatcher::record_cancelled`] did.
    pub fn record(&mut self, code: ErrorCode) {
        let counter = match code {
            ErrorCode::OK => &mut self.counters.ok,
            ErrorCode::NOT_FOUND => &mut self.counters.not_found,
            ErrorCode::BAD_REQUEST => &mut self.counters.bad_payloads,
            ErrorCode::HANDLER_ERROR => &mut self.counters.handler_errors,
            ErrorCode::PANIC => &mut self.counters.panics,
            ErrorCode::TOO_LARGE => &mut self.counters.too_large,
            ErrorCode::TIMEOUT => &mut self.counters.timeouts,
            ErrorCode::OVERLOADED => &mut self.counters.overloaded,
            ErrorCode::WORKER_UNAVAILABLE => &mut self.counters.unavailable,
            _ => return,
        };
        *counter += 1;
    }

    /// Decodes `frame` and decides what to do with it. Answers that need no handler are
    /// written into `response` (previous contents discarded, capacity reused) and counted.
    ///
    /// A frame naming a reply stream id <= 0 (or one of [`Dispatcher::refuse_reply_streams`])
    /// is dropped whatever else it holds: no client listens there, and publishing to it would
    /// only add a publication to the driver.
    pub fn route<'f>(&mut self, frame: &'f [u8], response: &mut Vec<u8>) -> Routed<'f> {
        let decoded = wire::decode_inbound(frame);
        let reply_stream_id = match &decoded {
            Ok(Inbound::Request(request)) => Some(request.reply_stream_id),
            Ok(Inbound::Cancel(cancel)) => Some(cancel.reply_stream_id),
            Ok(Inbound::Release(_)) => None,
            Err(Malformed { reply_to, .. }) => reply_to.as_ref().map(|r| r.reply_stream_id),
        };
        if let Some(found) = reply_stream_id.filter(|&id| id <= 0 || self.refused_reply_streams.contains(&id)) {
            self.counters.malformed_dropped += 1;
            return Routed::Dropped(DecodeError::BadReplyStream { found });
        }
        match decoded {
            Ok(Inbound::Request(request)) => {
                self.counters.requests += 1;
                let reply_to = self.reply_to(request.correlation_id, request.reply_stream_id, request.reply_channel);
                let Some((name, handler, inline)) = self.registry.entry(request.handler) else {
                    // A hostile name may be 64 KiB long: quote only its start.
                    let quoted = wire::truncate_utf8(request.handler, MAX_QUOTED_NAME);
                    let ellipsis = if quoted.len() < request.handler.len() { "..." } else { "" };
                    let message =
                        format!("no handler named '{quoted}{ellipsis}'; this worker serves: {}", self.served);
                    return self.answer(response, reply_to, ErrorCode::NOT_FOUND, &message);
                };
                if request.timeout_ns < 0 {
                    let message = format!(
                        "handler '{}' not started: the caller's deadline had passed when the request was sent",
                        request.handler
                    );
                    return self.answer(response, reply_to, ErrorCode::TIMEOUT, &message);
                }
                let (name, handler) = (Arc::clone(name), Arc::clone(handler));
                let region = if request.region.region_id == 0 {
                    None
                } else {
                    match self.resolve(request.region, request.payload.len()) {
                        Ok(slice) => Some(slice),
                        Err(message) => {
                            self.counters.bad_region_refs += 1;
                            let code = ErrorCode::BAD_REQUEST;
                            wire::encode_response(response, reply_to.correlation_id, code, &message, &[]);
                            return Routed::Answered { reply_to, code };
                        }
                    }
                };
                if region.is_some() {
                    self.counters.loaned_requests += 1;
                }
                Routed::Call(Call {
                    reply_to,
                    timeout_ns: request.timeout_ns,
                    name,
                    handler,
                    metadata: request.metadata,
                    payload: request.payload,
                    region,
                    inline,
                })
            }
            Ok(Inbound::Release(release)) => Routed::Release(release),
            Ok(Inbound::Cancel(cancel)) => {
                self.counters.cancels += 1;
                Routed::Cancel(self.reply_to(cancel.correlation_id, cancel.reply_stream_id, cancel.reply_channel))
            }
            Err(Malformed { error, reply_to: Some(reply_to) }) => {
                self.counters.malformed_replied += 1;
                let message = format!("malformed frame: {error}");
                wire::encode_response(response, reply_to.correlation_id, ErrorCode::BAD_REQUEST, &message, &[]);
                Routed::Answered { reply_to, code: ErrorCode::BAD_REQUEST }
            }
            Err(Malformed { error, reply_to: None }) => {
                self.counters.malformed_dropped += 1;
                Routed::Dropped(error)
            }
        }
    }

    /// The payload a request's region reference names, or why it is refused.
    fn resolve(&mut self, region: RegionRef, inline_length: usize) -> Result<RegionSlice, String> {
        if inline_length != 0 {
            return Err(format!(
                "bad payload region reference: regionId {:#018x} with a non-empty inline payload of {inline_length} bytes",
                region.region_id
            ));
        }
        let Some(regions) = &mut self.regions else {
            return Err("bad payload region reference: region references are accepted only on an IPC request channel"
                .to_owned());
        };
        regions.resolve(region.region_id, region.offset, region.length).map_err(|e| format!("bad payload region reference: {e}"))
    }

    /// `ReplyTo` for a well-formed frame; `reply_channel` was checked by the decoder.
    fn reply_to(&mut self, correlation_id: i64, reply_stream_id: i32, reply_channel: &str) -> ReplyTo {
        if reply_channel.is_empty() {
            return ReplyTo::new(correlation_id, reply_stream_id);
        }
        let channel = match self.reply_channels.get(reply_channel) {
            Some(channel) => Arc::clone(channel),
            None => {
                if self.reply_channels.len() >= MAX_CACHED_REPLY_CHANNELS {
                    self.reply_channels.clear();
                }
                let channel: Arc<str> = Arc::from(reply_channel);
                self.reply_channels.insert(Arc::clone(&channel));
                channel
            }
        };
        ReplyTo { correlation_id, reply_stream_id, reply_channel: Some(channel) }
    }

    fn answer(&mut self, response: &mut Vec<u8>, reply_to: ReplyTo, code: ErrorCode, message: &str) -> Routed<'static> {
        self.record(code);
        wire::encode_response(response, reply_to.correlation_id, code, message, &[]);
        Routed::Answered { reply_to, code }
    }

    /// Routes `frame` and runs its handler inline, leaving the response frame in `response`.
    pub fn dispatch(&mut self, frame: &[u8], response: &mut Vec<u8>) -> Outcome {
        let received = Instant::now();
        match self.route(frame, response) {
            Routed::Call(call) => {
                let code = self.replies.run(&call, &call.inline_context(received), response);
                self.record(code);
                Outcome::Reply { reply_to: call.reply_to, code }
            }
            Routed::Answered { reply_to, code } => Outcome::Reply { reply_to, code },
            Routed::Cancel(reply_to) => Outcome::Cancelled { reply_to },
            Routed::Release(_) => Outcome::Released,
            Routed::Dropped(error) => Outcome::Dropped(error),
        }
    }
}

/// How the responses of a worker are sized and lent: the channels' largest messages,
/// `--max-message-mib`, and the response region with `--payload-loan-threshold`.
#[derive(Clone)]
pub struct Replies {
    pub limits: FrameLimits,
    /// Largest result payload (`--max-message-mib`): longer is `TOO_LARGE`, before any copy.
    pub max_message: usize,
    /// The worker's response region and when to lend from it; `None`: never.
    pub lending: Option<Lending>,
}

/// Responses whose payload is at least `threshold` bytes (0: never) and that go to a caller on
/// the worker's own IPC channel are lent from `region`.
#[derive(Clone)]
pub struct Lending {
    pub region: Arc<ResponseRegion>,
    pub threshold: usize,
}

impl From<FrameLimits> for Replies {
    fn from(limits: FrameLimits) -> Self {
        Self { limits, max_message: usize::MAX, lending: None }
    }
}

impl Replies {
    /// The lending that applies to a reply to `reply_to`: one on the worker's own channel (the
    /// region exists only when that is IPC).
    fn lending_for(&self, reply_to: &ReplyTo) -> Option<&Lending> {
        self.lending.as_ref().filter(|lending| lending.threshold > 0 && reply_to.reply_channel.is_none())
    }

    /// Runs `call`'s handler on its payload (in place when it lies in a region) and leaves
    /// the response frame in `response`; see [`Replies::finish`].
    pub fn run(&self, call: &Call<'_>, ctx: &Context, response: &mut Vec<u8>) -> ErrorCode {
        self.run_handler(&call.name, &*call.handler, ctx, call.payload(), &call.reply_to, response)
    }

    /// Runs a handler, then sizes its response for `reply_to`: `TOO_LARGE` beyond
    /// `max_message` (before any copy), lent when it should and can be, inline when it fits the
    /// channel, else `TOO_LARGE` or, when the region is full, `OVERLOADED`.
    pub fn run_handler(
        &self,
        name: &str,
        handler: &dyn Handler,
        ctx: &Context,
        payload: &[u8],
        reply_to: &ReplyTo,
        response: &mut Vec<u8>,
    ) -> ErrorCode {
        let payload_max = wire::OK_RESPONSE_PAYLOAD_OFFSET.saturating_add(self.max_message);
        let channel_max = self.limits.for_reply(reply_to);
        let lending = self.lending_for(reply_to);
        let max_frame = if lending.is_some() { payload_max } else { channel_max.min(payload_max) };
        let taken = Cell::new(None);
        let target = lending.map(|lending| LoanTarget {
            region: &lending.region,
            correlation_id: reply_to.correlation_id,
            reply_stream_id: reply_to.reply_stream_id,
            threshold: lending.threshold,
            max_length: self.max_message,
            taken: &taken,
        });
        let (code, lent) = run_handler_to(name, handler, ctx, payload, reply_to.correlation_id, max_frame, response, target);
        if let (Some((offset, length)), Some(lending)) = (lent, lending) {
            let region = RegionRef { region_id: lending.region.id(), offset: offset as i64, length: length as i64 };
            wire::encode_region_response(response, reply_to.correlation_id, region);
            return ErrorCode::OK;
        }
        match lending {
            Some(lending) if code == ErrorCode::OK => self.finish(name, lending, reply_to, response, channel_max),
            _ => code,
        }
    }

    /// An OK response of a lending reply: lent, kept inline, or refused.
    fn finish(&self, name: &str, lending: &Lending, reply_to: &ReplyTo, response: &mut Vec<u8>, channel_max: usize) -> ErrorCode {
        let length = response.len() - wire::OK_RESPONSE_PAYLOAD_OFFSET;
        if length < lending.threshold {
            if response.len() <= channel_max {
                return ErrorCode::OK;
            }
            let message = format!(
                "handler '{name}' produced a {}-byte response; the largest message is {channel_max} bytes",
                response.len()
            );
            wire::encode_response(response, reply_to.correlation_id, ErrorCode::TOO_LARGE, &message, &[]);
            return ErrorCode::TOO_LARGE;
        }
        let payload = &response[wire::OK_RESPONSE_PAYLOAD_OFFSET..];
        match lending.region.lend(reply_to.correlation_id, reply_to.reply_stream_id, payload) {
            Ok(offset) => {
                let region = RegionRef { region_id: lending.region.id(), offset: offset as i64, length: length as i64 };
                wire::encode_region_response(response, reply_to.correlation_id, region);
                ErrorCode::OK
            }
            Err(error) => {
                let times = lending.region.count_full();
                if let LendError::Region(why) = &error {
                    if times <= 10 || times.is_power_of_two() {
                        log::warn!("response of {length} bytes not lent: {why} ({times} not lent so far)");
                    }
                }
                if response.len() <= channel_max {
                    return ErrorCode::OK;
                }
                let message = format!(
                    "response of {length} bytes: {error}; retry later, or raise --payload-region-mib of the worker"
                );
                wire::encode_response(response, reply_to.correlation_id, ErrorCode::OVERLOADED, &message, &[]);
                ErrorCode::OVERLOADED
            }
        }
    }
}

/// Runs one handler and writes its response frame into `response`: `OK` with its payload,
/// or the error it returned (`BAD_REQUEST`, `HANDLER_ERROR`; `CANCELLED`, `TIMEOUT` or
/// `WORKER_UNAVAILABLE` for [`HandlerError::Interrupted`]), `PANIC` with the panic's
/// message (the panic is caught here, so it never takes a thread down nor unwinds into
/// Aeron's C code), or `TOO_LARGE` when the frame would exceed `max_frame_length`.
pub fn run_handler(
    name: &str,
    handler: &dyn Handler,
    ctx: &Context,
    payload: &[u8],
    correlation_id: i64,
    max_frame_length: usize,
    response: &mut Vec<u8>,
) -> ErrorCode {
    run_handler_to(name, handler, ctx, payload, correlation_id, max_frame_length, response, None).0
}

/// [`run_handler`], with a reply that may be lent: then also the loan holding the whole
/// result, when the handler wrote it there (`response` is left for the caller to fill).
#[allow(clippy::too_many_arguments)]
fn run_handler_to(
    name: &str,
    handler: &dyn Handler,
    ctx: &Context,
    payload: &[u8],
    correlation_id: i64,
    max_frame_length: usize,
    response: &mut Vec<u8>,
    loan: Option<LoanTarget<'_>>,
) -> (ErrorCode, Option<(usize, usize)>) {
    response.clear();
    response.resize(wire::OK_RESPONSE_PAYLOAD_OFFSET, 0);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut reply = match &loan {
            Some(target) => Reply::lending(response, target.clone()),
            None => Reply::new(response),
        };
        handler.handle(ctx, payload, &mut reply)
    }));
    if let Some(target) = &loan {
        match (&result, target.taken.get()) {
            (Ok(Ok(())), Some(lent)) => return (ErrorCode::OK, Some(lent)),
            // The handler failed or panicked after writing into a loan: give it back.
            _ => target.take_back(),
        }
    }
    let (code, message) = match result {
        Ok(Ok(())) if response.len() <= max_frame_length => {
            wire::finish_ok_response(response, correlation_id);
            return (ErrorCode::OK, None);
        }
        Ok(Ok(())) => {
            let message = format!(
                "handler '{name}' produced a {}-byte response; the largest message is {max_frame_length} bytes",
                response.len()
            );
            (ErrorCode::TOO_LARGE, message)
        }
        Ok(Err(HandlerError::BadPayload(message))) => (ErrorCode::BAD_REQUEST, message),
        Ok(Err(HandlerError::Failed(message))) => (ErrorCode::HANDLER_ERROR, message),
        Ok(Err(HandlerError::Interrupted(why))) => {
            let code = match why {
                Interruption::CancelledByCaller => ErrorCode::CANCELLED,
                Interruption::DeadlinePassed => ErrorCode::TIMEOUT,
                Interruption::WorkerStopping => ErrorCode::WORKER_UNAVAILABLE,
            };
            (code, format!("handler '{name}' stopped: {why}"))
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("non-string panic payload");
            (ErrorCode::PANIC, format!("handler '{name}' panicked: {what}"))
        }
    };
    wire::encode_response(response, correlation_id, code, &message, &[]);
    (code, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::{self, BLOCK_SIZE, HEADER_LENGTH};

    fn lending(tag: &str) -> (Replies, Arc<ResponseRegion>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("pb-replies-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let region = Arc::new(ResponseRegion::new(&dir, region::new_region_id(), 16 * BLOCK_SIZE));
        let replies = Replies {
            limits: FrameLimits { own_channel: 1024, reply_channels: 1024 },
            max_message: 8 * BLOCK_SIZE,
            lending: Some(Lending { region: Arc::clone(&region), threshold: 4096 }),
        };
        (replies, region, dir)
    }

    fn lent_bytes(region: &ResponseRegion, response: &[u8]) -> Vec<u8> {
        use polybridge_codecs::message_header_codec::MessageHeaderDecoder;
        use polybridge_codecs::response_codec::ResponseDecoder;
        let header = MessageHeaderDecoder::default().wrap(polybridge_codecs::ReadBuf::new(response), 0);
        let decoded = ResponseDecoder::default().header(header, 0);
        assert_eq!(decoded.region_id(), region.id(), "a lent response");
        let file = std::fs::read(region.path()).unwrap();
        let at = HEADER_LENGTH + decoded.region_offset() as usize;
        file[at..at + decoded.region_length() as usize].to_vec()
    }

    #[test]
    fn a_result_written_whole_goes_straight_into_a_loan_and_one_written_in_pieces_after_it() {
        let (replies, region, dir) = lending("whole");
        let reply_to = ReplyTo::new(7, 1001);
        let payload = vec![5u8; 3 * BLOCK_SIZE];
        let mut response = Vec::new();
        let echo = |_: &Context, p: &[u8], r: &mut Reply<'_>| -> Result<(), HandlerError> {
            r.write(p);
            Ok(())
        };
        assert_eq!(replies.run_handler("echo", &echo, &Context::new(), &payload, &reply_to, &mut response), ErrorCode::OK);
        assert_eq!(lent_bytes(&region, &response), payload);
        assert_eq!((region.loans(), region.counts().loaned_responses), (1, 1));

        let pieces = |_: &Context, p: &[u8], r: &mut Reply<'_>| -> Result<(), HandlerError> {
            r.write(p);
            r.write(b"tail");
            Ok(())
        };
        let reply_to = ReplyTo::new(8, 1001);
        assert_eq!(replies.run_handler("pieces", &pieces, &Context::new(), &payload, &reply_to, &mut response), ErrorCode::OK);
        let mut expected = payload.clone();
        expected.extend_from_slice(b"tail");
        assert_eq!(lent_bytes(&region, &response), expected);
        assert_eq!((region.loans(), region.counts().loaned_responses), (2, 2), "the first loan taken back, one more");

        let fails = |_: &Context, p: &[u8], r: &mut Reply<'_>| -> Result<(), HandlerError> {
            r.write(p);
            Err(HandlerError::Failed("after writing".to_owned()))
        };
        let reply_to = ReplyTo::new(9, 1001);
        let code = replies.run_handler("fails", &fails, &Context::new(), &payload, &reply_to, &mut response);
        assert_eq!(code, ErrorCode::HANDLER_ERROR);
        let panics = |_: &Context, p: &[u8], r: &mut Reply<'_>| -> Result<(), HandlerError> {
            r.write(p);
            panic!("after writing")
        };
        let code = replies.run_handler("panics", &panics, &Context::new(), &payload, &reply_to, &mut response);
        assert_eq!(code, ErrorCode::PANIC);
        assert_eq!((region.loans(), region.counts().loaned_responses), (2, 2), "failed calls' loans given back");

        let too_large = vec![1u8; 8 * BLOCK_SIZE + 1];
        let code = replies.run_handler("echo", &echo, &Context::new(), &too_large, &reply_to, &mut response);
        assert_eq!(code, ErrorCode::TOO_LARGE);
        drop(region);
        drop(replies);
        let _ = std::fs::remove_dir_all(dir);
    }
}
