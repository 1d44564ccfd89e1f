//! The request context a handler gets with every call, as Go handlers get their `ctx`: the
//! caller's deadline, whether the call should stop (the caller sent a `Cancel`, the deadline
//! passed, or the worker is stopping), and the request's metadata.
//!
//! Handlers are never interrupted: one that runs long checks [`Context::is_cancelled`] (or
//! returns [`Context::check`]'s error with `?`) between steps, and its answer then says why it
//! stopped (`CANCELLED`, `TIMEOUT`, `WORKER_UNAVAILABLE`).

use crate::handler::HandlerError;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Why a call should stop before its handler is done, as Go's `context.Cause` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// The caller sent a `Cancel` for this call: answered `CANCELLED`.
    CancelledByCaller,
    /// The caller's deadline (`Request.timeoutNs`) passed: answered `TIMEOUT`.
    DeadlinePassed,
    /// The worker is shutting down (SIGTERM, drain): answered `WORKER_UNAVAILABLE`.
    WorkerStopping,
}

impl fmt::Display for Interruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CancelledByCaller => "the caller cancelled the request",
            Self::DeadlinePassed => "the caller's deadline passed",
            Self::WorkerStopping => "the worker is stopping",
        })
    }
}

/// Flags a pool shares with the contexts of the calls it runs: one cancel flag per slot (a
/// slot holds one call at a time, from admission until its answer is taken) and the pool's
/// stopping flag. Preallocated, so a call's context costs no allocation for them.
#[derive(Debug)]
pub(crate) struct CallFlags {
    cancelled: Box<[AtomicBool]>,
    stopping: AtomicBool,
}

impl CallFlags {
    pub(crate) fn new(slots: usize) -> Self {
        Self { cancelled: (0..slots).map(|_| AtomicBool::new(false)).collect(), stopping: AtomicBool::new(false) }
    }

    /// Clears a slot's cancel flag for the call that takes it.
    pub(crate) fn reset(&self, slot: usize) {
        self.cancelled[slot].store(false, Ordering::Release);
    }

    pub(crate) fn cancel(&self, slot: usize) {
        self.cancelled[slot].store(true, Ordering::Release);
    }

    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// What a handler knows about its call besides the payload.
///
/// Build one with [`Context::new`] (and [`Context::with_deadline`], [`Context::with_metadata`])
/// to call a handler in a unit test; [`Context::cancellable`] gives one a test can cancel.
#[derive(Default)]
pub struct Context {
    deadline: Option<Instant>,
    metadata: HashMap<String, String>,
    /// The pool's flags and this call's slot; `None` for calls run inline on the poll thread
    /// (they cannot be cancelled while running: the poll thread is busy running them).
    flags: Option<(Arc<CallFlags>, usize)>,
}

impl Context {
    /// No deadline, no metadata, never cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// This context with the caller's deadline.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// This context with the request's metadata.
    pub fn with_metadata(mut self, metadata: HashMap<String, String>) -> Self {
        self.metadata = metadata;
        self
    }

    /// A context and a handle that cancels it, as a `Cancel` frame would (for tests).
    pub fn cancellable() -> (Self, CancelHandle) {
        let flags = Arc::new(CallFlags::new(1));
        let context = Self { flags: Some((Arc::clone(&flags), 0)), ..Self::default() };
        (context, CancelHandle { flags })
    }

    pub(crate) fn for_call(
        deadline: Option<Instant>,
        metadata: HashMap<String, String>,
        flags: Option<(Arc<CallFlags>, usize)>,
    ) -> Self {
        Self { deadline, metadata, flags }
    }

    /// When the caller stops waiting (`Request.timeoutNs` counted from when the worker received
    /// the request); `None` when the caller set no deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the handler should stop: the caller cancelled, the deadline passed, or the
    /// worker is stopping. Cheap (two atomic loads and a clock read at most).
    pub fn is_cancelled(&self) -> bool {
        self.interruption().is_some()
    }

    /// Why the handler should stop, if it should.
    pub fn interruption(&self) -> Option<Interruption> {
        if let Some((flags, slot)) = &self.flags {
            if flags.cancelled[*slot].load(Ordering::Acquire) {
                return Some(Interruption::CancelledByCaller);
            }
        }
        if self.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Some(Interruption::DeadlinePassed);
        }
        if self.flags.as_ref().is_some_and(|(flags, _)| flags.is_stopping()) {
            return Some(Interruption::WorkerStopping);
        }
        None
    }

    /// `Err(HandlerError::Interrupted(..))` when the handler should stop, for `?` between steps.
    pub fn check(&self) -> Result<(), HandlerError> {
        self.interruption().map_or(Ok(()), |why| Err(HandlerError::Interrupted(why)))
    }

    /// The request's metadata (e.g. a W3C `traceparent`); empty when the caller sent none.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("deadline", &self.deadline)
            .field("interruption", &self.interruption())
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// Cancels the context it came with ([`Context::cancellable`]).
#[derive(Debug, Clone)]
pub struct CancelHandle {
    flags: Arc<CallFlags>,
}

impl CancelHandle {
    pub fn cancel(&self) {
        self.flags.cancel(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_new_context_is_never_cancelled_and_has_no_metadata() {
        let context = Context::new();
        assert!(!context.is_cancelled());
        assert_eq!(context.deadline(), None);
        assert!(context.metadata().is_empty());
        assert_eq!(context.check(), Ok(()));
    }

    #[test]
    fn a_passed_deadline_cancels() {
        let context = Context::new().with_deadline(Instant::now().checked_sub(Duration::from_millis(1)));
        assert_eq!(context.interruption(), Some(Interruption::DeadlinePassed));
        let far = Context::new().with_deadline(Some(Instant::now() + Duration::from_secs(3600)));
        assert!(!far.is_cancelled());
    }

    #[test]
    fn a_cancel_handle_cancels_its_context() {
        let (context, handle) = Context::cancellable();
        assert!(!context.is_cancelled());
        handle.cancel();
        assert_eq!(context.check(), Err(HandlerError::Interrupted(Interruption::CancelledByCaller)));
    }

    #[test]
    fn a_stopping_pool_cancels_with_worker_stopping() {
        let flags = Arc::new(CallFlags::new(2));
        let context = Context::for_call(None, HashMap::new(), Some((Arc::clone(&flags), 1)));
        flags.cancel(0);
        assert!(!context.is_cancelled(), "another slot's cancel is not this call's");
        flags.stop();
        assert_eq!(context.interruption(), Some(Interruption::WorkerStopping));
    }
}
