//! Handlers: named units of work a worker serves.

use crate::context::{Context, Interruption};
use crate::region::{LoanKey, ResponseRegion};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// Where a handler writes its result payload. It appends straight into the response frame,
/// after the space reserved for the envelope, so a result is copied once (into the frame)
/// and once more by Aeron (into the log buffer), never in between.
///
/// A reply that may be lent (a large result to a caller on the worker's host, see
/// [`crate::region`]) takes a result written whole by its first [`Reply::write`] straight into
/// a loan of the worker's response region: an echo of a payload in a caller's region is one
/// copy, region to region. Any later write moves it back into the frame.
pub struct Reply<'a> {
    frame: &'a mut Vec<u8>,
    start: usize,
    loan: Option<LoanTarget<'a>>,
}

/// Where a reply may be lent, and the loan once taken.
#[derive(Clone)]
pub(crate) struct LoanTarget<'a> {
    pub(crate) region: &'a ResponseRegion,
    pub(crate) correlation_id: i64,
    pub(crate) reply_stream_id: i32,
    /// Results of at least this many bytes are lent.
    pub(crate) threshold: usize,
    /// Longer results are never lent (`TOO_LARGE`).
    pub(crate) max_length: usize,
    /// The loan holding the result written so far: (offset, length). Outside the reply, so
    /// that whoever ran the handler finds it even when the handler panicked.
    pub(crate) taken: &'a Cell<Option<(usize, usize)>>,
}

impl LoanTarget<'_> {
    /// Gives back the loan taken, if any (the handler failed, or wrote more).
    pub(crate) fn take_back(&self) {
        if let Some((offset, _)) = self.taken.take() {
            self.region.take_back(LoanKey {
                correlation_id: self.correlation_id,
                reply_stream_id: self.reply_stream_id,
                offset: offset as i64,
            });
        }
    }
}

impl<'a> Reply<'a> {
    /// A reply appending to `frame` (for calling a handler in a test: the payload is what it appends).
    pub fn new(frame: &'a mut Vec<u8>) -> Self {
        let start = frame.len();
        Self { frame, start, loan: None }
    }

    /// A reply that may go straight into a loan of `target`'s region.
    pub(crate) fn lending(frame: &'a mut Vec<u8>, target: LoanTarget<'a>) -> Self {
        let start = frame.len();
        Self { frame, start, loan: Some(target) }
    }

    /// Appends bytes to the payload.
    pub fn write(&mut self, bytes: &[u8]) {
        if self.is_empty() {
            if let Some(loan) = &mut self.loan {
                if bytes.len() >= loan.threshold && bytes.len() <= loan.max_length {
                    // A full region: the result goes into the frame, and the worker decides
                    // afterwards (inline or OVERLOADED).
                    if let Ok(offset) = loan.region.lend(loan.correlation_id, loan.reply_stream_id, bytes) {
                        loan.taken.set(Some((offset, bytes.len())));
                        return;
                    }
                }
            }
        }
        self.unlend();
        self.frame.extend_from_slice(bytes);
    }

    /// Moves a result lent by the first write back into the frame (more is being written).
    fn unlend(&mut self) {
        let Some(loan) = &self.loan else { return };
        let Some((offset, length)) = loan.taken.get() else { return };
        self.frame.extend_from_slice(loan.region.loaned(offset, length));
        loan.take_back();
    }

    /// Appends `n` zero bytes to the payload and returns them, for encoders that write into
    /// a slice of exactly the right size.
    pub fn append_zeroed(&mut self, n: usize) -> &mut [u8] {
        self.unlend();
        let at = self.frame.len();
        self.frame.resize(at + n, 0);
        &mut self.frame[at..]
    }

    /// Reserves room for at least `additional` more payload bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.frame.reserve(additional);
    }

    /// Payload bytes written so far.
    pub fn len(&self) -> usize {
        match self.loan.as_ref().and_then(|loan| loan.taken.get()) {
            Some((_, length)) => length,
            None => self.frame.len() - self.start,
        }
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a handler fails. The worker turns it into an error response.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandlerError {
    /// The payload is not what this handler accepts: answered with `BAD_REQUEST`.
    #[error("{0}")]
    BadPayload(String),
    /// The handler could not do its work: answered with `HANDLER_ERROR`.
    #[error("{0}")]
    Failed(String),
    /// The handler stopped because its [`Context`] said so ([`Context::check`]): answered
    /// `CANCELLED`, `TIMEOUT` or `WORKER_UNAVAILABLE` by the reason.
    #[error("{0}")]
    Interrupted(Interruption),
}

/// A named unit of work: takes the call's [`Context`] and request payload, writes a result
/// payload.
///
/// `Send + Sync` because handlers run on a pool of threads, several calls at once; a handler
/// that keeps state guards it itself. A panic is caught and answered with `PANIC`. For
/// handlers whose payloads are SBE messages of a service's own schema, see [`crate::typed`].
pub trait Handler: Send + Sync {
    fn handle(&self, ctx: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError>;
}

/// Any `Fn(&Context, &[u8], &mut Reply) -> Result<(), HandlerError>` closure is a handler.
impl<F> Handler for F
where
    F: Fn(&Context, &[u8], &mut Reply<'_>) -> Result<(), HandlerError> + Send + Sync,
{
    fn handle(&self, ctx: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
        self(ctx, payload, reply)
    }
}

/// Name of [`Echo`], which every worker serves.
pub const ECHO: &str = "echo";

/// `echo`: answers with the payload it was given. Every worker built on this SDK serves it (a
/// ping every worker answers).
#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

impl Handler for Echo {
    fn handle(&self, _ctx: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
        reply.write(payload);
        Ok(())
    }
}

/// Errors building a registry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistryError {
    #[error("a handler named '{0}' is already registered")]
    Duplicate(String),
    #[error("a handler name must be 1 to 65534 bytes of UTF-8")]
    InvalidName,
}

/// Handlers by name, in name order (so announcements and error messages are stable).
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<Arc<str>, Entry>,
}

#[derive(Clone)]
struct Entry {
    handler: Arc<dyn Handler>,
    inline: bool,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The handlers every worker serves: `echo`.
    pub fn with_builtin() -> Self {
        let mut registry = Self::new();
        // echo only copies bytes: queueing it would cost more than running it (as in Go).
        registry.handlers.insert(Arc::from(ECHO), Entry { handler: Arc::new(Echo), inline: true });
        registry
    }

    /// Registers a handler that runs on the worker's pool.
    pub fn register(&mut self, name: &str, handler: impl Handler + 'static) -> Result<(), RegistryError> {
        self.insert(name, Arc::new(handler), false)
    }

    /// Registers a handler that runs inline on the poll thread: for handlers so quick that a
    /// queue would cost more than they do. A slow inline handler delays every other call.
    pub fn register_inline(&mut self, name: &str, handler: impl Handler + 'static) -> Result<(), RegistryError> {
        self.insert(name, Arc::new(handler), true)
    }

    fn insert(&mut self, name: &str, handler: Arc<dyn Handler>, inline: bool) -> Result<(), RegistryError> {
        if name.is_empty() || name.len() > crate::wire::MAX_VAR_STRING_LENGTH {
            return Err(RegistryError::InvalidName);
        }
        if self.handlers.contains_key(name) {
            return Err(RegistryError::Duplicate(name.to_owned()));
        }
        self.handlers.insert(Arc::from(name), Entry { handler, inline });
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Handler>> {
        self.handlers.get(name).map(|entry| &entry.handler)
    }

    /// The name (shared, so a call can carry it without allocating), the handler, and
    /// whether it runs inline.
    pub fn entry(&self, name: &str) -> Option<(&Arc<str>, &Arc<dyn Handler>, bool)> {
        self.handlers.get_key_value(name).map(|(name, entry)| (name, &entry.handler, entry.inline))
    }

    /// Handler names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(|name| &**name)
    }

    pub fn len(&self) -> usize {
        self.handlers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// Name of [`DebugSleep`], registered only with `--debug-handlers`.
pub const DEBUG_SLEEP: &str = "debug.sleep";

/// A deliberately slow handler for tests of deadlines and cancellation: sleeps for the number of
/// milliseconds in its payload (4 bytes, little-endian, at most 60 000) without looking at any
/// deadline, as a handler stuck in a library call would, then echoes the payload.
pub struct DebugSleep;

impl Handler for DebugSleep {
    fn handle(&self, _ctx: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
        let millis: [u8; 4] = payload.try_into().map_err(|_| {
            HandlerError::BadPayload(format!("debug.sleep takes 4 bytes (u32 milliseconds, little-endian), got {}", payload.len()))
        })?;
        let millis = u32::from_le_bytes(millis);
        if millis > 60_000 {
            return Err(HandlerError::BadPayload(format!("debug.sleep sleeps at most 60000 ms, asked for {millis}")));
        }
        std::thread::sleep(std::time::Duration::from_millis(u64::from(millis)));
        reply.write(payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_sleep_echoes_its_payload_after_sleeping() {
        let mut frame = Vec::new();
        let payload = 3u32.to_le_bytes();
        let started = std::time::Instant::now();
        DebugSleep.handle(&Context::new(), &payload, &mut Reply::new(&mut frame)).expect("4 bytes of millis are valid");
        assert!(started.elapsed() >= std::time::Duration::from_millis(3));
        assert_eq!(frame, payload);
    }

    #[test]
    fn debug_sleep_rejects_payloads_that_are_not_a_u32_or_too_long_a_sleep() {
        let mut frame = Vec::new();
        assert!(matches!(DebugSleep.handle(&Context::new(), &[1, 2], &mut Reply::new(&mut frame)), Err(HandlerError::BadPayload(_))));
        let too_long = 60_001u32.to_le_bytes();
        assert!(matches!(DebugSleep.handle(&Context::new(), &too_long, &mut Reply::new(&mut frame)), Err(HandlerError::BadPayload(_))));
    }
}
