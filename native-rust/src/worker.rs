//! The Aeron side of a worker: connect, announce, poll, dispatch, reply.
//!
//! Aeron lives on the calling thread, the poll thread. rusteron's handles (built without its
//! `multi-threaded` feature) are neither `Send` nor `Sync`, so the thread that creates the
//! client is the one that polls and publishes. Handlers run on a [`Pool`]; their response
//! frames come back to this thread through a bounded channel and are published here.

use crate::dispatcher::{run_handler, Counters, Dispatcher, Routed};
use crate::handler::Registry;
use crate::idle::{IdleStrategy, Idler};
use crate::pool::{Pool, PoolConfig, PoolError};
use crate::wire::{self, Announcement, AnnouncementError, ReplyTo};
use polybridge_codecs::language::Language;
use rusteron_client::{
    Aeron, AeronCError, AeronContext, AeronFragmentClosureAssembler, AeronHeader, AeronOfferError,
    AeronPublication, AeronSubscription, BackoffIdleStrategy, Handlers, IdleStrategy as _,
};
use polybridge_codecs::error_code::ErrorCode;
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

pub const DEFAULT_CHANNEL: &str = "aeron:ipc";
pub const DEFAULT_REQUEST_STREAM_ID: i32 = 200;
pub const DEFAULT_CONTROL_STREAM_ID: i32 = 10;
pub const DEFAULT_ANNOUNCE_INTERVAL: Duration = Duration::from_millis(1000);
pub const DEFAULT_QUEUE_DEPTH: usize = 256;

/// Default pool size: one thread per available core.
pub fn default_pool_size() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Fragments taken per poll: bounds the work between announcement checks.
const FRAGMENT_LIMIT: usize = 10;
/// How long adding a subscription or publication may take before giving up.
const ADD_RESOURCE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a reply may wait for back pressure to clear, or for a brand-new reply
/// publication to connect, before it is dropped (the client's own timeout then fires).
const REPLY_OFFER_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest sleep of the Aeron C client's conductor thread when idle (its default is 16 ms).
const CONDUCTOR_IDLE_SLEEP_ENV: &str = "AERON_CLIENT_IDLE_SLEEP_DURATION";
const CONDUCTOR_IDLE_SLEEP: &str = "1ms";

/// Settings of one worker, mirroring the command line in `docs/protocol.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    pub aeron_dir: String,
    pub channel: String,
    pub request_stream_id: i32,
    pub control_stream_id: i32,
    pub worker_id: String,
    pub announce_interval: Duration,
    /// Handler threads and how many calls may wait for one; size 0 runs handlers inline.
    pub pool: PoolConfig,
    /// What the poll thread does when a duty cycle found nothing to do.
    pub idle: IdleStrategy,
}

impl WorkerConfig {
    /// Defaults from the protocol, with the worker id `rust-<pid>`.
    pub fn new(aeron_dir: impl Into<String>) -> Self {
        Self {
            aeron_dir: aeron_dir.into(),
            channel: DEFAULT_CHANNEL.to_owned(),
            request_stream_id: DEFAULT_REQUEST_STREAM_ID,
            control_stream_id: DEFAULT_CONTROL_STREAM_ID,
            worker_id: format!("rust-{}", std::process::id()),
            announce_interval: DEFAULT_ANNOUNCE_INTERVAL,
            pool: PoolConfig { size: default_pool_size(), queue_depth: DEFAULT_QUEUE_DEPTH },
            idle: IdleStrategy::default(),
        }
    }
}

/// Why a worker stopped other than being asked to.
#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("{what} contains a NUL byte")]
    NulByte { what: &'static str },
    #[error("cannot connect to the media driver in '{dir}': {source}")]
    Connect { dir: String, source: AeronCError },
    #[error("cannot add a {what} on '{channel}' stream {stream_id}: {source}")]
    AddResource { what: &'static str, channel: String, stream_id: i32, source: AeronCError },
    #[error("cannot encode the announcement: {0}")]
    Announcement(#[from] AnnouncementError),
    #[error("the media driver went away: {0}")]
    DriverLost(String),
    #[error("polling the request stream failed: {0}")]
    Poll(AeronCError),
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// Why one reply could not be published. The worker logs it and carries on.
#[derive(Debug, Error)]
pub enum ReplyError {
    #[error("cannot add the reply publication: {0}")]
    AddPublication(AeronCError),
    #[error("no reply after {0:?}: {1}")]
    TimedOut(Duration, AeronOfferError),
    #[error("the client's reply stream has no subscriber any more")]
    ClientGone,
    #[error("offer failed: {0}")]
    Offer(AeronOfferError),
    #[error("shutting down")]
    ShuttingDown,
}

/// Totals of a finished run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    pub dispatch: Counters,
    pub replies_sent: u64,
    pub replies_failed: u64,
    pub announcements: u64,
}

/// A cached reply publication and whether a reply has gone through it yet.
struct ReplyPublication {
    publication: AeronPublication,
    delivered: bool,
}

/// Publishes responses, with one lazily added publication per reply stream.
struct Replies<'a> {
    aeron: Aeron,
    channel: CString,
    publications: HashMap<i32, ReplyPublication>,
    shutdown: &'a AtomicBool,
    sent: u64,
    failed: u64,
}

impl Replies<'_> {
    fn publication(&mut self, stream_id: i32) -> Result<&mut ReplyPublication, ReplyError> {
        use std::collections::hash_map::Entry;
        match self.publications.entry(stream_id) {
            Entry::Occupied(entry) => Ok(entry.into_mut()),
            Entry::Vacant(entry) => {
                let publication = self
                    .aeron
                    .async_add_publication(&self.channel, stream_id)
                    .and_then(|add| add.poll_blocking(ADD_RESOURCE_TIMEOUT))
                    .map_err(ReplyError::AddPublication)?;
                Ok(entry.insert(ReplyPublication { publication, delivered: false }))
            }
        }
    }

    fn send(&mut self, stream_id: i32, frame: &[u8]) -> Result<(), ReplyError> {
        let shutdown = self.shutdown;
        let reply = self.publication(stream_id)?;
        let deadline = Instant::now() + REPLY_OFFER_TIMEOUT;
        let mut idle = BackoffIdleStrategy::new();
        loop {
            match reply.publication.offer(frame) {
                Ok(_) => {
                    reply.delivered = true;
                    return Ok(());
                }
                // A publication that has delivered before and lost its subscriber means
                // the client is gone: waiting would only stall every other caller.
                Err(AeronOfferError::NotConnected) if reply.delivered => return Err(ReplyError::ClientGone),
                Err(error) if error.is_retryable() => {
                    if shutdown.load(Ordering::Relaxed) {
                        return Err(ReplyError::ShuttingDown);
                    }
                    if Instant::now() >= deadline {
                        return Err(ReplyError::TimedOut(REPLY_OFFER_TIMEOUT, error));
                    }
                    idle.idle(0);
                }
                Err(error) => {
                    // Closed or past its maximum position: a fresh one is added next time.
                    self.publications.remove(&stream_id);
                    return Err(ReplyError::Offer(error));
                }
            }
        }
    }
}

/// State the fragment callback works on.
struct PollState<'a> {
    dispatcher: Dispatcher,
    /// `None` when handlers run inline on this thread.
    pool: Option<Pool>,
    response: Vec<u8>,
    replies: Replies<'a>,
}

impl PollState<'_> {
    fn publish(&mut self, reply_to: ReplyTo, code: ErrorCode, frame: &[u8]) {
        match self.replies.send(reply_to.reply_stream_id, frame) {
            Ok(()) => self.replies.sent += 1,
            Err(error) => {
                self.replies.failed += 1;
                let failed = self.replies.failed;
                if failed <= 10 || failed.is_power_of_two() {
                    eprintln!(
                        "polybridge-worker-rust: reply {code:?} to correlation id {} on stream {} \
                         not sent: {error} ({failed} failed so far)",
                        reply_to.correlation_id, reply_to.reply_stream_id
                    );
                }
            }
        }
    }

    /// Publishes what the pool has finished; returns how many it took.
    fn drain_completions(&mut self) -> usize {
        let mut taken = 0;
        while let Some(completion) = self.pool.as_mut().and_then(Pool::try_complete) {
            taken += 1;
            if let Some(code) = completion.code {
                self.dispatcher.record(code);
                self.publish(completion.reply_to, code, &completion.frame);
            }
            if let Some(pool) = &self.pool {
                pool.recycle(completion.frame);
            }
        }
        taken
    }
}

/// Called by Aeron's fragment assembler with whole messages: an unfragmented message is
/// passed straight from the log buffer, a fragmented one after one copy per fragment.
fn on_message(state: &mut PollState<'_>, frame: &[u8], _header: AeronHeader) {
    let mut response = std::mem::take(&mut state.response);
    match state.dispatcher.route(frame, &mut response) {
        Routed::Call(call) => {
            let reply_to = call.reply_to;
            let code = match state.pool.as_mut().filter(|_| !call.inline) {
                Some(pool) => match pool.submit(&call, Instant::now()) {
                    Ok(()) => None,
                    Err(rejected) => {
                        let message = rejected.to_string();
                        wire::encode_response(&mut response, reply_to.correlation_id, ErrorCode::OVERLOADED, &message, &[]);
                        Some(ErrorCode::OVERLOADED)
                    }
                },
                None => Some(run_handler(
                    &call.name,
                    &*call.handler,
                    call.payload,
                    reply_to.correlation_id,
                    state.dispatcher.max_frame_length(),
                    &mut response,
                )),
            };
            if let Some(code) = code {
                state.dispatcher.record(code);
                state.publish(reply_to, code, &response);
            }
        }
        Routed::Answered { reply_to, code } => state.publish(reply_to, code, &response),
        Routed::Cancel(reply_to) => {
            if state.pool.as_mut().is_some_and(|pool| pool.cancel(reply_to)) {
                let message = "cancelled by the caller before it started";
                wire::encode_response(&mut response, reply_to.correlation_id, ErrorCode::CANCELLED, message, &[]);
                state.dispatcher.record(ErrorCode::CANCELLED);
                state.publish(reply_to, ErrorCode::CANCELLED, &response);
            }
        }
        Routed::Dropped(error) => {
            let dropped = state.dispatcher.counters().dropped;
            if dropped <= 10 || dropped.is_power_of_two() {
                eprintln!(
                    "polybridge-worker-rust: dropped a {}-byte frame: {error} ({dropped} dropped so far)",
                    frame.len()
                );
            }
        }
    }
    state.response = response;
}

fn c_string(value: &str, what: &'static str) -> Result<CString, WorkerError> {
    CString::new(value).map_err(|_| WorkerError::NulByte { what })
}

/// Runs a worker until `shutdown` is set (returns the totals) or the driver goes away.
pub fn run(config: &WorkerConfig, registry: Arc<Registry>, shutdown: &AtomicBool) -> Result<RunSummary, WorkerError> {
    let dir = c_string(&config.aeron_dir, "--aeron-dir")?;
    let channel = c_string(&config.channel, "--channel")?;
    let connect_error = |source| WorkerError::Connect { dir: config.aeron_dir.clone(), source };

    // The conductor thread reports asynchronous errors here; the last one explains a
    // driver loss.
    let last_error = Arc::new(Mutex::new(String::new()));
    // Adding a publication or subscription waits for the C client's conductor thread, which by
    // default sleeps 16 ms when idle: such waits made up most of the worker's cold start (about
    // 50 ms to its announcement, 100 ms to its first reply). The C client builds that idle
    // strategy from this variable when the context is created (setting the duration on the
    // context afterwards has no effect), so set it first unless the user has. 1 ms costs about
    // a thousand wake-ups a second of an otherwise idle thread.
    if std::env::var_os(CONDUCTOR_IDLE_SLEEP_ENV).is_none() {
        std::env::set_var(CONDUCTOR_IDLE_SLEEP_ENV, CONDUCTOR_IDLE_SLEEP);
    }
    let context = AeronContext::new().map_err(connect_error)?;
    context.set_dir(&dir).map_err(connect_error)?;
    context.set_client_name(c"polybridge-worker-rust").map_err(connect_error)?;
    {
        let last_error = Arc::clone(&last_error);
        context
            .set_error_handler(Some(move |code: i32, message: &str| {
                eprintln!("polybridge-worker-rust: aeron error {code}: {message}");
                if let Ok(mut last) = last_error.lock() {
                    *last = message.to_owned();
                }
            }))
            .map_err(connect_error)?;
    }
    let aeron = Aeron::new(&context).map_err(connect_error)?;
    aeron.start().map_err(connect_error)?;

    let add_error = |what, stream_id, source| WorkerError::AddResource {
        what,
        channel: config.channel.clone(),
        stream_id,
        source,
    };
    let subscription: AeronSubscription = aeron
        .async_add_subscription(&channel, config.request_stream_id, Handlers::NONE, Handlers::NONE)
        .and_then(|add| add.poll_blocking(ADD_RESOURCE_TIMEOUT))
        .map_err(|e| add_error("subscription", config.request_stream_id, e))?;
    let control: AeronPublication = aeron
        .async_add_publication(&channel, config.control_stream_id)
        .and_then(|add| add.poll_blocking(ADD_RESOURCE_TIMEOUT))
        .map_err(|e| add_error("publication", config.control_stream_id, e))?;

    let names: Vec<&str> = registry.names().collect();
    let mut announcement = Vec::new();
    wire::encode_announcement(
        &mut announcement,
        &Announcement {
            language: Language::RUST,
            pid: i64::from(std::process::id()),
            request_stream_id: config.request_stream_id,
            handlers: &names,
            worker_id: &config.worker_id,
        },
    )?;
    eprintln!(
        "polybridge-worker-rust: worker '{}' serving [{}] on '{}' stream {} (control stream {}, aeron dir '{}')",
        config.worker_id,
        names.join(", "),
        config.channel,
        config.request_stream_id,
        config.control_stream_id,
        config.aeron_dir
    );

    let mut dispatcher = Dispatcher::new(Arc::clone(&registry));
    if let Ok(constants) = control.get_constants() {
        dispatcher.set_max_frame_length(constants.max_message_length());
    }
    let pool = match config.pool.size {
        0 => None,
        _ => Some(Pool::start(config.pool, dispatcher.max_frame_length(), std::thread::current())?),
    };
    let mut state = PollState {
        dispatcher,
        pool,
        response: Vec::with_capacity(64 * 1024),
        replies: Replies {
            aeron: aeron.clone(),
            channel,
            publications: HashMap::new(),
            shutdown,
            sent: 0,
            failed: 0,
        },
    };
    let poll_error = |error: AeronCError| {
        if aeron.is_closed() {
            driver_lost(&last_error)
        } else {
            WorkerError::Poll(error)
        }
    };
    let mut assembler = AeronFragmentClosureAssembler::new().map_err(poll_error)?;
    let mut idle: Idler = config.idle.idler();
    let mut announcements = 0u64;
    let mut next_announcement = Instant::now();

    while !shutdown.load(Ordering::Relaxed) {
        let fragments = assembler
            .poll(&subscription, &mut state, on_message, FRAGMENT_LIMIT)
            .map_err(poll_error)?;
        let mut work = usize::try_from(fragments).unwrap_or(0);
        work += state.drain_completions();
        if aeron.is_closed() {
            return Err(driver_lost(&last_error));
        }
        let now = Instant::now();
        if now >= next_announcement {
            next_announcement = now + config.announce_interval;
            match control.offer(&announcement) {
                Ok(_) => announcements += 1,
                // Nobody listening yet, or a busy control stream: the next period repeats it.
                Err(error) if error.is_retryable() => {}
                Err(error) => eprintln!("polybridge-worker-rust: announcement not sent: {error}"),
            }
            work += 1;
        }
        idle.idle(work);
    }

    if let Some(pool) = state.pool.take() {
        pool.shutdown();
    }
    Ok(RunSummary {
        dispatch: state.dispatcher.counters(),
        replies_sent: state.replies.sent,
        replies_failed: state.replies.failed,
        announcements,
    })
}

fn driver_lost(last_error: &Mutex<String>) -> WorkerError {
    let message = last_error.lock().map(|m| m.clone()).unwrap_or_default();
    WorkerError::DriverLost(if message.is_empty() { "the Aeron client closed".to_owned() } else { message })
}
