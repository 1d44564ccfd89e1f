//! The dispatcher: from one request frame to one response frame, with no Aeron in sight.

use crate::handler::{HandlerError, Registry, Reply};
use crate::wire::{self, DecodeError, Inbound, Malformed, ReplyTo};
use polybridge_codecs::error_code::ErrorCode;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

/// What became of one inbound frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A response frame is in the buffer; publish it on `reply_stream_id`.
    Reply { reply_to: ReplyTo, code: ErrorCode },
    /// A `Cancel`: handlers run inline, so nothing is queued that it could remove.
    Cancelled { reply_to: ReplyTo },
    /// The frame did not decode and did not say where to reply; it was dropped.
    Dropped(DecodeError),
}

/// Running totals, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Well-formed requests, whatever their outcome.
    pub requests: u64,
    pub ok: u64,
    pub not_found: u64,
    pub handler_errors: u64,
    pub panics: u64,
    pub too_large: u64,
    pub cancels: u64,
    /// Malformed frames answered with `BAD_REQUEST`, plus payloads a handler rejected.
    pub bad_requests: u64,
    /// Malformed frames dropped because they did not say where to reply.
    pub dropped: u64,
}

/// Turns request frames into response frames using a registry of handlers.
pub struct Dispatcher {
    registry: Arc<Registry>,
    served: String,
    max_frame_length: usize,
    counters: Counters,
}

impl Dispatcher {
    pub fn new(registry: Arc<Registry>) -> Self {
        let served = registry.names().collect::<Vec<_>>().join(", ");
        Self { registry, served, max_frame_length: usize::MAX, counters: Counters::default() }
    }

    /// Responses longer than this are replaced by `TOO_LARGE` (Aeron's largest message is
    /// a term length / 8).
    pub fn set_max_frame_length(&mut self, max: usize) {
        self.max_frame_length = max;
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Decodes `frame`, runs the named handler inline and writes the response frame into
    /// `response` (whose previous contents are discarded; its capacity is reused).
    pub fn dispatch(&mut self, frame: &[u8], response: &mut Vec<u8>) -> Outcome {
        match wire::decode_inbound(frame) {
            Ok(Inbound::Request(request)) => {
                self.counters.requests += 1;
                let reply_to = ReplyTo {
                    correlation_id: request.correlation_id,
                    reply_stream_id: request.reply_stream_id,
                };
                let code = self.call(request.handler, request.payload, request.correlation_id, response);
                Outcome::Reply { reply_to, code }
            }
            Ok(Inbound::Cancel(cancel)) => {
                self.counters.cancels += 1;
                Outcome::Cancelled {
                    reply_to: ReplyTo {
                        correlation_id: cancel.correlation_id,
                        reply_stream_id: cancel.reply_stream_id,
                    },
                }
            }
            Err(Malformed { error, reply_to: Some(reply_to) }) => {
                self.counters.bad_requests += 1;
                let message = format!("malformed frame: {error}");
                wire::encode_response(response, reply_to.correlation_id, ErrorCode::BAD_REQUEST, &message, &[]);
                Outcome::Reply { reply_to, code: ErrorCode::BAD_REQUEST }
            }
            Err(Malformed { error, reply_to: None }) => {
                self.counters.dropped += 1;
                Outcome::Dropped(error)
            }
        }
    }

    fn call(&mut self, name: &str, payload: &[u8], correlation_id: i64, response: &mut Vec<u8>) -> ErrorCode {
        let Some(handler) = self.registry.get(name) else {
            self.counters.not_found += 1;
            let message = format!("no handler named '{name}'; this worker serves: {}", self.served);
            wire::encode_response(response, correlation_id, ErrorCode::NOT_FOUND, &message, &[]);
            return ErrorCode::NOT_FOUND;
        };

        response.clear();
        response.resize(wire::OK_RESPONSE_PAYLOAD_OFFSET, 0);
        // A panicking handler must not take the worker down (nor unwind into Aeron's C poll).
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut reply = Reply::new(response);
            handler.handle(payload, &mut reply)
        }));
        let (code, message) = match result {
            Ok(Ok(())) if response.len() <= self.max_frame_length => {
                self.counters.ok += 1;
                wire::finish_ok_response(response, correlation_id);
                return ErrorCode::OK;
            }
            Ok(Ok(())) => {
                self.counters.too_large += 1;
                let message = format!(
                    "handler '{name}' produced a {}-byte response; the largest message is {} bytes",
                    response.len(),
                    self.max_frame_length
                );
                (ErrorCode::TOO_LARGE, message)
            }
            Ok(Err(HandlerError::BadPayload(message))) => {
                self.counters.bad_requests += 1;
                (ErrorCode::BAD_REQUEST, message)
            }
            Ok(Err(HandlerError::Failed(message))) => {
                self.counters.handler_errors += 1;
                (ErrorCode::HANDLER_ERROR, message)
            }
            Err(panic) => {
                self.counters.panics += 1;
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
}
