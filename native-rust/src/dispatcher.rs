//! The dispatcher: from one request frame to one response frame, with no Aeron in sight.

use crate::context::{Context, Interruption};
pub use crate::counters::Counters;
use crate::handler::{Handler, HandlerError, Registry, Reply};
use crate::wire::{self, DecodeError, FrameLimits, Inbound, Malformed, Metadata, ReplyTo};
use polybridge_codecs::error_code::ErrorCode;
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
    /// A view of the frame (of the term buffer, in a worker): copy it to keep it.
    pub payload: &'a [u8],
    /// Run on the poll thread rather than the pool ([`Registry::register_inline`]).
    pub inline: bool,
}

impl Call<'_> {
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
    limits: FrameLimits,
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
            limits: FrameLimits::UNLIMITED,
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
        self.limits = FrameLimits { own_channel: max, reply_channels: max };
    }

    /// Responses longer than their channel's limit are replaced by `TOO_LARGE`.
    pub fn set_frame_limits(&mut self, limits: FrameLimits) {
        self.limits = limits;
    }

    pub fn frame_limits(&self) -> FrameLimits {
        self.limits
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
                Routed::Call(Call {
                    reply_to,
                    timeout_ns: request.timeout_ns,
                    name: Arc::clone(name),
                    handler: Arc::clone(handler),
                    metadata: request.metadata,
                    payload: request.payload,
                    inline,
                })
            }
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
                let code = run_handler(
                    &call.name,
                    &*call.handler,
                    &call.inline_context(received),
                    call.payload,
                    call.reply_to.correlation_id,
                    self.limits.for_reply(&call.reply_to),
                    response,
                );
                self.record(code);
                Outcome::Reply { reply_to: call.reply_to, code }
            }
            Routed::Answered { reply_to, code } => Outcome::Reply { reply_to, code },
            Routed::Cancel(reply_to) => Outcome::Cancelled { reply_to },
            Routed::Dropped(error) => Outcome::Dropped(error),
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
    response.clear();
    response.resize(wire::OK_RESPONSE_PAYLOAD_OFFSET, 0);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut reply = Reply::new(response);
        handler.handle(ctx, payload, &mut reply)
    }));
    let (code, message) = match result {
        Ok(Ok(())) if response.len() <= max_frame_length => {
            wire::finish_ok_response(response, correlation_id);
            return ErrorCode::OK;
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
    code
}
