//! The handler pool: a fixed number of threads running handlers for the poll thread.
//!
//! rusteron's handles stay on the poll thread, so the pool never touches Aeron: the poll
//! thread submits a [`Call`] (its payload copied out of the term buffer into a recycled
//! buffer), a pool thread runs the handler and sends the response frame back through a
//! bounded channel, and the poll thread publishes it. Every admitted call holds one of
//! `size + queue_depth` slots until the poll thread has taken its completion, so the
//! completion channel (of that capacity) never blocks a pool thread, and admission is the
//! only place work is refused: with no free slot or a full queue the call is `OVERLOADED`.
//!
//! Cancellation and deadlines, as in the Go worker. A `Cancel` whose call has not started
//! marks the slot cancelled (the poll thread answers `CANCELLED` at once; the pool thread
//! later skips the call). A call whose deadline (`Request.timeoutNs` counted from when the
//! poll thread received it) has passed when a pool thread takes it is answered `TIMEOUT`
//! without running. A call already running is not interrupted: its [`Context`] says it is
//! cancelled (by the caller, the deadline, or the worker stopping) and its handler decides
//! when to stop; its answer is whatever the handler returns.
//!
//! Stopping ([`Pool::stop_taking_calls`]): calls still queued are answered `WORKER_UNAVAILABLE`
//! without running (the poll thread takes them off the queue itself, so they need not wait
//! for a busy pool thread), running handlers see their context cancelled (`WorkerStopping`)
//! and finish, and their completions come back as usual. The poll thread waits for them only
//! as long as it chooses (the worker's `--drain-timeout`): dropping the pool never waits for a
//! handler.

use crate::context::{CallFlags, Context};
use crate::dispatcher::{metadata_map, Call, Replies};
use crate::handler::Handler;
use crate::region::RegionSlice;
use crate::wire::{self, ReplyTo};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use polybridge_codecs::error_code::ErrorCode;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle, Thread};
use std::time::Instant;
use thiserror::Error;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const CANCELLED: u8 = 2;

/// Buffers larger than this are freed after use rather than kept for reuse.
const MAX_RECYCLED_CAPACITY: usize = 4 << 20;

/// Size of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Threads running handlers; 0 runs handlers inline on the poll thread.
    pub size: usize,
    /// Calls that may wait for a thread; more are answered `OVERLOADED`.
    pub queue_depth: usize,
}

#[derive(Debug, Error)]
pub enum PoolError {
    #[error("cannot start handler thread {index}: {source}")]
    Spawn { index: usize, source: std::io::Error },
}

/// Why a call was not admitted; the caller answers `OVERLOADED` with this message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejected {
    #[error("worker overloaded: {in_flight} calls in flight, queue of {queue_depth} full")]
    Full { in_flight: usize, queue_depth: usize },
    #[error("worker overloaded: the handler pool has stopped")]
    Stopped,
}

/// What a `Cancel` found ([`Pool::cancel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The call was still queued: it will not run; the caller answers `CANCELLED` now.
    Queued,
    /// The call is running: its context now says so; its handler's answer goes out as usual.
    Running,
    /// No call in hand by that address (finished, never seen, or cancelled already).
    NotFound,
}

/// One call handed to the pool.
struct Job {
    slot: usize,
    reply_to: ReplyTo,
    deadline: Option<Instant>,
    name: Arc<str>,
    handler: Arc<dyn Handler>,
    metadata: HashMap<String, String>,
    /// The payload copied out of the term buffer, or empty when it lies in a region.
    payload: Vec<u8>,
    /// The payload where it lies in the caller's region: not copied, and the mapping stays
    /// while the job holds it.
    region: Option<RegionSlice>,
}

/// What the pool did with a call.
#[derive(Debug)]
pub struct Completion {
    pub reply_to: ReplyTo,
    /// The response's code, or `None` when the call was cancelled before it ran (the
    /// `CANCELLED` answer already went out) and `frame` is empty.
    pub code: Option<ErrorCode>,
    /// The response frame to publish; give it back with [`Pool::recycle`] afterwards.
    pub frame: Vec<u8>,
    slot: usize,
}

struct Shared {
    states: Box<[AtomicU8]>,
    /// Per-slot cancel flags and the stopping flag, shared with the calls' contexts.
    flags: Arc<CallFlags>,
    stopping: AtomicBool,
    replies: Replies,
    poll_thread: Thread,
    buffers: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
}

impl Shared {
    fn buffer(&self) -> Vec<u8> {
        self.buffers.1.try_recv().unwrap_or_default()
    }

    fn recycle(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() <= MAX_RECYCLED_CAPACITY {
            buffer.clear();
            let _ = self.buffers.0.try_send(buffer);
        }
    }
}

/// The pool, owned by the poll thread.
pub struct Pool {
    config: PoolConfig,
    shared: Arc<Shared>,
    jobs: Option<Sender<Job>>,
    /// The job queue's other end, so that the poll thread can answer queued calls itself
    /// when stopping, and its completion channel (which has room for every slot).
    queue: Receiver<Job>,
    done: Sender<Completion>,
    completions: Receiver<Completion>,
    free: Vec<usize>,
    /// Calls that can still be cancelled, by (correlation id, reply stream id, reply channel).
    cancellable: HashMap<ReplyTo, usize>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `config.size` threads (at least one). Pool threads wake `poll_thread` (with
    /// `Thread::unpark`) whenever a completion is ready.
    pub fn start(config: PoolConfig, replies: impl Into<Replies>, poll_thread: Thread) -> Result<Self, PoolError> {
        let size = config.size.max(1);
        let slots = size + config.queue_depth;
        let shared = Arc::new(Shared {
            states: (0..slots).map(|_| AtomicU8::new(QUEUED)).collect(),
            flags: Arc::new(CallFlags::new(slots)),
            stopping: AtomicBool::new(false),
            replies: replies.into(),
            poll_thread,
            buffers: bounded(2 * slots),
        });
        // A zero-capacity channel would be a rendezvous: a queue depth of 0 still queues one.
        let (jobs, queue) = bounded::<Job>(config.queue_depth.max(1));
        let (done, completions) = bounded::<Completion>(slots);
        let mut pool = Self {
            config,
            shared,
            jobs: Some(jobs),
            queue: queue.clone(),
            done: done.clone(),
            completions,
            free: (0..slots).rev().collect(),
            cancellable: HashMap::with_capacity(slots),
            threads: Vec::with_capacity(size),
        };
        for index in 0..size {
            let (shared, queue, done) = (Arc::clone(&pool.shared), queue.clone(), done.clone());
            let thread = thread::Builder::new()
                .name(format!("polybridge-handler-{index}"))
                .spawn(move || serve(&shared, &queue, &done))
                .map_err(|source| PoolError::Spawn { index, source })?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// Calls admitted and not yet completed (queued, running, or waiting to be published).
    pub fn in_flight(&self) -> usize {
        self.shared.states.len() - self.free.len()
    }

    /// Admits a call: copies its payload (unless it lies in a region) and queues it, or says
    /// why not.
    pub fn submit(&mut self, call: &Call<'_>, received: Instant) -> Result<(), Rejected> {
        let full = Rejected::Full { in_flight: self.in_flight(), queue_depth: self.config.queue_depth };
        let jobs = self.jobs.as_ref().ok_or(Rejected::Stopped)?;
        let slot = self.free.pop().ok_or(full.clone())?;
        let mut payload = Vec::new();
        if call.region.is_none() {
            payload = self.shared.buffer();
            payload.extend_from_slice(call.payload);
        }
        self.shared.states[slot].store(QUEUED, Ordering::Release);
        self.shared.flags.reset(slot);
        let job = Job {
            slot,
            reply_to: call.reply_to.clone(),
            deadline: call.deadline(received),
            name: Arc::clone(&call.name),
            handler: Arc::clone(&call.handler),
            metadata: metadata_map(call.metadata),
            payload,
            region: call.region.clone(),
        };
        match jobs.try_send(job) {
            Ok(()) => {
                self.cancellable.insert(call.reply_to.clone(), slot);
                Ok(())
            }
            Err(error) => {
                let stopped = matches!(error, TrySendError::Disconnected(_));
                let job = error.into_inner();
                self.shared.recycle(job.payload);
                self.free.push(slot);
                Err(if stopped { Rejected::Stopped } else { full })
            }
        }
    }

    /// Cancels a call: one still queued will not run (the caller then answers `CANCELLED`),
    /// one running sees its context cancelled. A call reached once is not reached again.
    pub fn cancel(&mut self, reply_to: &ReplyTo) -> CancelOutcome {
        let Some(slot) = self.cancellable.remove(reply_to) else {
            return CancelOutcome::NotFound;
        };
        match self.shared.states[slot].compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => CancelOutcome::Queued,
            Err(RUNNING) => {
                self.shared.flags.cancel(slot);
                CancelOutcome::Running
            }
            Err(_) => CancelOutcome::NotFound,
        }
    }

    /// The next finished call, if any; its slot is free again.
    pub fn try_complete(&mut self) -> Option<Completion> {
        let completion = self.completions.try_recv().ok()?;
        if self.cancellable.get(&completion.reply_to) == Some(&completion.slot) {
            self.cancellable.remove(&completion.reply_to);
        }
        self.free.push(completion.slot);
        Some(completion)
    }

    /// Takes back a frame from a [`Completion`] for reuse.
    pub fn recycle(&self, frame: Vec<u8>) {
        self.shared.recycle(frame);
    }

    /// Stops taking calls: calls still queued are answered `WORKER_UNAVAILABLE` without
    /// running (their completions are ready at once), later submissions are refused, running
    /// handlers see their context cancelled, finish and complete as usual. The first step of stopping a worker.
    pub fn stop_taking_calls(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.flags.stop();
        // Closing the queue lets idle threads exit once it is empty.
        self.jobs = None;
        while let Ok(job) = self.queue.try_recv() {
            let completion = unavailable(&self.shared, job);
            // Never fails: the channel has room for every slot, and the pool holds a receiver.
            let _ = self.done.try_send(completion);
        }
    }

    /// Whether every pool thread has exited (after [`Pool::stop_taking_calls`], once the
    /// running handlers have finished).
    pub fn is_stopped(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    /// Stops taking calls (see [`Pool::stop_taking_calls`]) and waits for running handlers
    /// to finish, however long they take; the threads are joined. Completions not taken yet
    /// are discarded.
    pub fn shutdown(mut self) {
        self.stop_taking_calls();
        for thread in self.threads.drain(..) {
            // A pool thread cannot panic (handlers run under catch_unwind); nothing to report.
            let _ = thread.join();
        }
    }
}

/// Dropping the pool stops it without waiting: a handler still running finishes on its own
/// thread (or dies with the process) and its completion is discarded.
impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.flags.stop();
        self.jobs = None;
    }
}

/// The answer to a call that was still queued when the pool stopped: `WORKER_UNAVAILABLE`,
/// or nothing when it had been cancelled (its `CANCELLED` answer already went out).
fn unavailable(shared: &Shared, job: Job) -> Completion {
    let claimed =
        shared.states[job.slot].compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_ok();
    let mut frame = Vec::new();
    let code = claimed.then(|| {
        frame = shared.buffer();
        let message = format!("handler '{}' not started: the worker is stopping", job.name);
        wire::encode_response(&mut frame, job.reply_to.correlation_id, ErrorCode::WORKER_UNAVAILABLE, &message, &[]);
        ErrorCode::WORKER_UNAVAILABLE
    });
    shared.recycle(job.payload);
    Completion { reply_to: job.reply_to, code, frame, slot: job.slot }
}

/// A pool thread: takes jobs until the queue closes.
fn serve(shared: &Shared, queue: &Receiver<Job>, done: &Sender<Completion>) {
    while let Ok(job) = queue.recv() {
        let completion = if shared.stopping.load(Ordering::Acquire) {
            unavailable(shared, job)
        } else {
            run(shared, job)
        };
        // Never blocks: the channel has room for every slot. It fails only when the pool is
        // being dropped, and then nobody waits for the answer.
        let _ = done.try_send(completion);
        shared.poll_thread.unpark();
    }
}

/// Runs one job, or answers `TIMEOUT` when its deadline passed in the queue, or nothing when
/// it was cancelled there.
fn run(shared: &Shared, job: Job) -> Completion {
    let started =
        shared.states[job.slot].compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_ok();
    let correlation_id = job.reply_to.correlation_id;
    let mut frame = Vec::new();
    let code = if !started {
        None
    } else if job.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
        frame = shared.buffer();
        let message = format!("handler '{}' not started: the caller's deadline passed while queued", job.name);
        wire::encode_response(&mut frame, correlation_id, ErrorCode::TIMEOUT, &message, &[]);
        Some(ErrorCode::TIMEOUT)
    } else {
        frame = shared.buffer();
        let ctx = Context::for_call(job.deadline, job.metadata, Some((Arc::clone(&shared.flags), job.slot)));
        let payload = job.region.as_ref().map_or(&job.payload[..], RegionSlice::bytes);
        Some(shared.replies.run_handler(&job.name, &*job.handler, &ctx, payload, &job.reply_to, &mut frame))
    };
    shared.recycle(job.payload);
    Completion { reply_to: job.reply_to, code, frame, slot: job.slot }
}
