//! The Aeron side of a worker: connect, announce, poll, reply, watch the driver and the parent.
//!
//! Aeron lives on the calling thread, the poll thread. rusteron's handles (built without its
//! `multi-threaded` feature) are neither `Send` nor `Sync`, so the thread that creates the
//! client is the one that polls and publishes. Handlers run on a [`Pool`]; their response
//! frames come back to this thread through a bounded channel and are published here, through
//! the outboxes of [`crate::outbox`]. Nothing in the loop waits for anything: liveness
//! (announcements) means "the process is alive and polling".
//!
//! The Aeron client's conductor runs in this loop too (agent-invoker mode) when handlers run on
//! the pool, so an idle worker has one thread that wakes, and it sleeps (see [`crate::idle`])
//! when nothing is pending and the doorbell ([`crate::doorbell`]) can wake it.

use crate::counters::Counters;
use crate::dispatcher::{Dispatcher, Lending, Replies};
use crate::region::{self, ResponseRegion};
use crate::doorbell::{self, Doorbell};
use crate::handler::Registry;
use crate::idle::{IdleStrategy, Idler};
use crate::outbox::{Offered, Outbox, OutboxConfig, ReplyTransport};
use crate::watch::{ProcessWatch, WatchError};
use crate::pool::{Pool, PoolConfig, PoolError};
use crate::server::Server;
use crate::wire::{self, Announcement, AnnouncementError, FrameLimits};
use polybridge_codecs::language::Language;
use rusteron_client::{
    Aeron, AeronAsyncAddExclusivePublication, AeronAsyncAddPublication, AeronCError, AeronContext,
    AeronExclusivePublication, AeronFragmentClosureAssembler, AeronHeader,
    AeronOfferError, AeronPublication, AeronSubscription, Handlers,
};
use std::ffi::CString;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

pub const DEFAULT_CHANNEL: &str = "aeron:ipc";
/// What the worker appends to a caller's `replyChannel` (`--reply-channel-params`): 16 MiB
/// terms let replies of up to 2 MiB (a term / 8) cross hosts.
pub const DEFAULT_REPLY_CHANNEL_PARAMS: &str = "term-length=16m";
pub const DEFAULT_REQUEST_STREAM_ID: i32 = 200;
pub const DEFAULT_CONTROL_STREAM_ID: i32 = 10;
pub const DEFAULT_ANNOUNCE_INTERVAL: Duration = Duration::from_millis(1000);
pub const DEFAULT_QUEUE_DEPTH: usize = 256;
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_PAYLOAD_REGION_MIB: usize = 256;
pub const DEFAULT_MAX_MESSAGE_MIB: usize = 64;
pub const DEFAULT_PAYLOAD_LOAN_THRESHOLD: usize = 65536;

/// Default pool size: one thread per available core.
pub fn default_pool_size() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Fragments taken per poll: bounds the work between announcement checks.
const FRAGMENT_LIMIT: usize = 10;
/// How long adding the request subscription and the control publication may take at startup.
const ADD_RESOURCE_TIMEOUT: Duration = Duration::from_secs(5);
/// How the worker notices that its media driver is gone, as the Go worker does:
/// - the driver's process (its pid is in the CnC file), checked every [`WATCH_INTERVAL`] when
///   it is visible from here: a SIGKILLed driver is noticed within a few hundred ms, and a
///   live driver that is merely slow (a GC pause in the JVM that embeds it) is given the C
///   client's default driver timeout, 10 s, before its silence counts;
/// - otherwise (another pid namespace, say) its heartbeat alone, with a 1.5 s timeout. A driver
///   heartbeats once per `aeron.timer.interval`: 100 ms in polybridge's drivers, but 1 s in a
///   stock Aeron driver (Java and C alike), against which a 1 s timeout took a live driver
///   under load for dead (ages of 1001-1004 ms seen in tests); 1.5 s leaves half a second.
///
/// `AERON_DRIVER_TIMEOUT` (ms), when set, wins over both timeouts.
const DRIVER_TIMEOUT_ENV: &str = "AERON_DRIVER_TIMEOUT";
const DRIVER_TIMEOUT_WATCHED: Duration = Duration::from_secs(10);
const DRIVER_TIMEOUT: Duration = Duration::from_millis(1500);
/// How often the C client's conductor sends its keepalive and checks the driver's heartbeat
/// (its default is 500 ms): a dead driver is noticed within DRIVER_TIMEOUT plus this.
const KEEPALIVE_INTERVAL: Duration = Duration::from_millis(100);
/// How often `--parent-pid` and the driver's process are checked.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// The longest one sleep of the poll loop whatever `--idle-sleep` says: the parent and driver
/// watch run from the loop, and so do the Aeron client's keepalives in agent-invoker mode (a
/// client silent for the driver's liveness timeout, 3 s in polybridge's drivers, is dropped).
const LONGEST_SLEEP: Duration = Duration::from_secs(1);
/// Where the CnC file keeps the driver's pid: `aeron_cnc_metadata_t` (CnC version 0.2.x) has
/// six i32s, the client liveness timeout and start timestamp (i64 each), then the pid (i64).
const CNC_FILE: &str = "cnc.dat";
const CNC_PID_OFFSET: usize = 40;

/// Settings of one worker, mirroring the command line in `docs/protocol.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    pub aeron_dir: String,
    /// The worker's own channel: replies to callers that sent an empty `replyChannel`, and the
    /// default of the three channels below.
    pub channel: String,
    /// Where the worker subscribes for requests (`--request-channel`); `None`: `channel`.
    pub request_channel: Option<String>,
    /// The `requestChannel` of announcements (`--advertised-request-channel`); `None`: the
    /// request channel unless it is IPC, then "" (clients use the channel they heard on).
    pub advertised_request_channel: Option<String>,
    /// Where announcements go (`--announce-channel`); `None`: `channel`.
    pub announce_channel: Option<String>,
    /// Appended to callers' `replyChannel`s (`--reply-channel-params`); "" adds nothing.
    pub reply_channel_params: String,
    pub request_stream_id: i32,
    pub control_stream_id: i32,
    pub worker_id: String,
    pub announce_interval: Duration,
    /// Handler threads and how many calls may wait for one; size 0 runs handlers inline.
    pub pool: PoolConfig,
    /// What the poll thread does when a duty cycle found nothing to do.
    pub idle: IdleStrategy,
    /// Bounds of the reply outboxes and reply publications.
    pub outbox: OutboxConfig,
    /// How long running handlers may finish, and replies be flushed, after a stop is asked.
    pub drain_timeout: Duration,
    /// Stop (with an error) when this process is gone.
    pub parent_pid: Option<u32>,
    /// The Aeron client's name in the media driver (`cli::main` uses the program's name).
    pub client_name: String,
    /// Size of the response region in MiB; 0: no region.
    pub payload_region_mib: usize,
    /// Largest result payload in MiB.
    pub max_message_mib: usize,
    /// Responses of at least this many bytes are lent (0: never).
    pub payload_loan_threshold: usize,
}

impl WorkerConfig {
    /// Defaults from the protocol, with the worker id `rust-<pid>`.
    pub fn new(aeron_dir: impl Into<String>) -> Self {
        Self {
            aeron_dir: aeron_dir.into(),
            channel: DEFAULT_CHANNEL.to_owned(),
            request_channel: None,
            advertised_request_channel: None,
            announce_channel: None,
            reply_channel_params: DEFAULT_REPLY_CHANNEL_PARAMS.to_owned(),
            request_stream_id: DEFAULT_REQUEST_STREAM_ID,
            control_stream_id: DEFAULT_CONTROL_STREAM_ID,
            worker_id: format!("rust-{}", std::process::id()),
            announce_interval: DEFAULT_ANNOUNCE_INTERVAL,
            pool: PoolConfig { size: default_pool_size(), queue_depth: DEFAULT_QUEUE_DEPTH },
            idle: IdleStrategy::default(),
            outbox: OutboxConfig::default(),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            parent_pid: None,
            client_name: "polybridge-worker-rust".to_owned(),
            payload_region_mib: DEFAULT_PAYLOAD_REGION_MIB,
            max_message_mib: DEFAULT_MAX_MESSAGE_MIB,
            payload_loan_threshold: DEFAULT_PAYLOAD_LOAN_THRESHOLD,
        }
    }
}

impl WorkerConfig {
    /// Where the worker subscribes for requests.
    pub fn request_channel(&self) -> &str {
        self.request_channel.as_deref().unwrap_or(&self.channel)
    }

    /// What announcements say clients publish requests on: "" means the channel the
    /// announcement was heard on, which is right for IPC.
    pub fn advertised_request_channel(&self) -> &str {
        match &self.advertised_request_channel {
            Some(advertised) => advertised,
            None if is_ipc(self.request_channel()) => "",
            None => self.request_channel(),
        }
    }

    /// Where announcements go.
    pub fn announce_channel(&self) -> &str {
        self.announce_channel.as_deref().unwrap_or(&self.channel)
    }
}

/// Whether `channel` is an IPC channel (`aeron:ipc`, with or without parameters).
pub fn is_ipc(channel: &str) -> bool {
    channel == "aeron:ipc" || channel.starts_with("aeron:ipc?")
}

/// Checks `--reply-channel-params`: "" or `key=value` pairs joined by `|`, as in an Aeron URI
/// (`term-length=16m|so-sndbuf=2m`), never an `endpoint`, which the caller chooses.
pub fn check_reply_channel_params(params: &str) -> Result<(), String> {
    if params.is_empty() {
        return Ok(());
    }
    for pair in params.split('|') {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("'{pair}' is not key=value (parameters are joined by '|', e.g. term-length=16m|mtu=1408)"));
        };
        let plain = |text: &str| {
            !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'|' | b'?' | b'='))
        };
        if !plain(key) || !plain(value) {
            return Err(format!("'{pair}' is not key=value with printable ASCII key and value"));
        }
        if key == "endpoint" {
            return Err("endpoint is the caller's to choose (its replyChannel)".to_owned());
        }
    }
    Ok(())
}

/// Checks a channel flag: an Aeron IPC or UDP URI.
pub fn check_channel(channel: &str) -> Result<(), String> {
    let known = is_ipc(channel) || channel == "aeron:udp" || channel.starts_with("aeron:udp?");
    if !known {
        return Err(format!("'{channel}' is not an aeron:ipc or aeron:udp URI"));
    }
    if channel.contains('\0') {
        return Err("a channel cannot contain a NUL byte".to_owned());
    }
    Ok(())
}

/// Aeron's largest message (a term / 8, at most 16 MiB) for the `term-length` in `params`
/// (e.g. `16m`, `64k`, `65536`), if it names one.
fn max_message_length_of(params: &str) -> Option<usize> {
    let value = params.split('|').find_map(|pair| pair.strip_prefix("term-length="))?;
    let (digits, unit) = match value.as_bytes().last()? {
        b'k' | b'K' => (&value[..value.len() - 1], 1 << 10),
        b'm' | b'M' => (&value[..value.len() - 1], 1 << 20),
        b'g' | b'G' => (&value[..value.len() - 1], 1 << 30),
        _ => (value, 1),
    };
    let term = digits.parse::<usize>().ok()?.checked_mul(unit)?;
    Some((term / 8).min(16 << 20))
}

/// Why a worker stopped other than being asked to.
#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("{what} contains a NUL byte")]
    NulByte { what: &'static str },
    #[error("--reply-channel-params '{params}': {reason}")]
    ReplyChannelParams { params: String, reason: String },
    #[error("cannot connect to the media driver in '{dir}': {source}")]
    Connect { dir: String, source: AeronCError },
    #[error("cannot add a {what} on '{channel}' stream {stream_id}: {source}")]
    AddResource { what: &'static str, channel: String, stream_id: i32, source: AeronCError },
    #[error("cannot encode the announcement: {0}")]
    Announcement(#[from] AnnouncementError),
    #[error("the media driver in '{dir}' is gone: {message}")]
    DriverLost { dir: String, message: String },
    #[error("polling the request stream failed: {0}")]
    Poll(AeronCError),
    #[error("the Aeron client's conductor failed: {0}")]
    Conductor(AeronCError),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error("parent process {pid} is gone")]
    ParentGone { pid: u32 },
    #[error("cannot watch the parent process: {0}")]
    ParentWatch(WatchError),
}

/// Totals of a finished run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    pub counters: Counters,
    pub announcements: u64,
    /// The most reply publications that existed at once.
    pub reply_streams_peak: usize,
    /// Times the worker stopped taking requests because its outboxes were over their budget,
    /// and for how long in all.
    pub intake_pauses: u64,
    pub intake_paused: Duration,
    /// Times the poll loop entered the sleep phase of its idle strategy, and times a ring of the
    /// doorbell woke it.
    pub idle_sleeps: u64,
    pub doorbell_wakes: u64,
    /// Calls still running when the drain timeout ended the run: their callers got no reply.
    pub abandoned: usize,
}

/// The final log line: the counters, then the rest.
impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} announcements={} reply_streams_peak={} abandoned={} intake_pauses={} intake_paused_ms={} \
             idle_sleeps={} doorbell_wakes={}",
            self.counters,
            self.announcements,
            self.reply_streams_peak,
            self.abandoned,
            self.intake_pauses,
            self.intake_paused.as_millis(),
            self.idle_sleeps,
            self.doorbell_wakes
        )
    }
}

/// Reply publications through the Aeron C client, added asynchronously and polled once per
/// duty cycle, never waited for. Replies on the worker's own channel use shared publications
/// (`aeron_async_add_publication`, as on IPC); replies to a caller's UDP endpoint use exclusive
/// ones (`aeron_async_add_exclusive_publication`): two workers on one driver replying to the
/// same endpoint and stream would otherwise share one driver publication, and a worker
/// SIGKILLed halfway through a frame would block the other's replies until the driver's
/// unblock timeout.
pub struct AeronTransport {
    aeron: Aeron,
    channel: CString,
    /// `--reply-channel-params`, appended to every caller's `replyChannel`.
    reply_channel_params: String,
}

/// A reply publication being added.
pub enum AddingReply {
    Shared(AeronAsyncAddPublication),
    Exclusive(AeronAsyncAddExclusivePublication),
}

/// A reply publication.
pub enum ReplyPublication {
    Shared(AeronPublication),
    Exclusive(AeronExclusivePublication),
}

impl ReplyTransport for AeronTransport {
    type Adding = AddingReply;
    type Publication = ReplyPublication;
    type Error = AeronCError;

    fn add(&mut self, channel: Option<&str>, stream_id: i32) -> Result<Self::Adding, Self::Error> {
        match channel {
            None => self.aeron.async_add_publication(&self.channel, stream_id).map(AddingReply::Shared),
            Some(channel) => {
                let uri = reply_channel_uri(channel, &self.reply_channel_params);
                // A checked replyChannel has no NUL byte, nor have the worker's parameters
                // (checked at startup); the C client reports any other mistake in the URI.
                let uri = CString::new(uri).map_err(|_| AeronCError::from_code(-1))?;
                self.aeron.async_add_exclusive_publication(&uri, stream_id).map(AddingReply::Exclusive)
            }
        }
    }

    fn poll_add(&mut self, adding: &Self::Adding) -> Result<Option<Self::Publication>, Self::Error> {
        match adding {
            AddingReply::Shared(adding) => adding.poll().map(|p| p.map(ReplyPublication::Shared)),
            AddingReply::Exclusive(adding) => adding.poll().map(|p| p.map(ReplyPublication::Exclusive)),
        }
    }

    fn offer(&mut self, publication: &Self::Publication, frame: &[u8]) -> Offered {
        let offered = match publication {
            ReplyPublication::Shared(publication) => publication.offer(frame),
            ReplyPublication::Exclusive(publication) => publication.offer(frame),
        };
        match offered {
            Ok(_) => Offered::Sent,
            Err(AeronOfferError::NotConnected) => Offered::NotConnected,
            Err(AeronOfferError::BackPressured | AeronOfferError::AdminAction) => Offered::BackPressured,
            Err(AeronOfferError::Closed | AeronOfferError::MaxPositionExceeded) => Offered::Unusable,
            Err(AeronOfferError::TooManyParts | AeronOfferError::Error(_)) => Offered::Rejected,
        }
    }

    fn is_connected(&mut self, publication: &Self::Publication) -> bool {
        match publication {
            ReplyPublication::Shared(publication) => publication.is_connected(),
            ReplyPublication::Exclusive(publication) => publication.is_connected(),
        }
    }

    fn close(&mut self, publication: Self::Publication) {
        let closed = match publication {
            ReplyPublication::Shared(publication) => publication.close(),
            ReplyPublication::Exclusive(publication) => publication.close(),
        };
        if let Err(error) = closed {
            log::warn!("closing a reply publication failed: {error}");
        }
    }
}

/// The URI of a reply publication to a caller's checked `replyChannel`: the channel, then the
/// worker's own parameters (`--reply-channel-params`, e.g. `term-length=16m`) when there are any.
pub fn reply_channel_uri(reply_channel: &str, params: &str) -> String {
    if params.is_empty() {
        reply_channel.to_owned()
    } else {
        format!("{reply_channel}|{params}")
    }
}

/// Called by Aeron's fragment assembler with whole messages: an unfragmented message is
/// passed straight from the log buffer, a fragmented one after one copy per fragment.
fn on_message(server: &mut Server<AeronTransport>, frame: &[u8], _header: AeronHeader) {
    server.on_message(frame, Instant::now());
}

fn c_string(value: &str, what: &'static str) -> Result<CString, WorkerError> {
    CString::new(value).map_err(|_| WorkerError::NulByte { what })
}

/// Runs a worker until `shutdown` is set (then drains, and returns the totals), the media
/// driver goes away, or the `--parent-pid` process is gone.
///
/// While idle the loop may sleep (`--idle-sleep`, at most a second at a time): whoever sets
/// `shutdown` should also unpark the thread running `run` (`Thread::unpark`) for the stop to be
/// noticed at once, as [`crate::cli::main`] does for SIGTERM/SIGINT.
pub fn run(config: &WorkerConfig, registry: Arc<Registry>, shutdown: &AtomicBool) -> Result<RunSummary, WorkerError> {
    // Before connecting: a parent gone already is reported at once.
    let parent = config
        .parent_pid
        .map(|pid| {
            ProcessWatch::new(pid).map_err(|error| match error {
                WatchError::Gone { pid } => WorkerError::ParentGone { pid },
                other => WorkerError::ParentWatch(other),
            })
        })
        .transpose()?;
    let driver_process = driver_pid(&config.aeron_dir).and_then(|pid| ProcessWatch::new(pid).ok());
    let dir = c_string(&config.aeron_dir, "--aeron-dir")?;
    let channel = c_string(&config.channel, "--channel")?;
    let request_channel = c_string(config.request_channel(), "--request-channel")?;
    let announce_channel = c_string(config.announce_channel(), "--announce-channel")?;
    check_reply_channel_params(&config.reply_channel_params)
        .map_err(|reason| WorkerError::ReplyChannelParams { params: config.reply_channel_params.clone(), reason })?;
    let connect_error = |source| WorkerError::Connect { dir: config.aeron_dir.clone(), source };

    // The conductor reports asynchronous errors here; the last one explains a driver loss.
    let last_error = Arc::new(Mutex::new(String::new()));
    // The C client's conductor runs in the poll loop (agent-invoker mode: no thread of its own
    // that wakes while idle; its own thread slept 1 ms, about a thousand wake-ups a second, to
    // keep the adds of the cold start quick) unless handlers run inline: a long one would then
    // starve the client's keepalives and the driver would drop it after its liveness timeout,
    // so a thread with the client's default idle sleep (16 ms) runs it. Blocking adds drive the
    // conductor themselves in agent-invoker mode (rusteron's poll_blocking).
    let invoker = config.pool.size > 0;
    let context = AeronContext::new().map_err(connect_error)?;
    context.set_use_conductor_agent_invoker(invoker).map_err(connect_error)?;
    context.set_dir(&dir).map_err(connect_error)?;
    context.set_client_name(&c_string(&config.client_name, "the client name")?).map_err(connect_error)?;
    if std::env::var_os(DRIVER_TIMEOUT_ENV).is_none() {
        let timeout = if driver_process.is_some() { DRIVER_TIMEOUT_WATCHED } else { DRIVER_TIMEOUT };
        context.set_driver_timeout_ms(millis(timeout)).map_err(connect_error)?;
    }
    context.set_keepalive_interval_ns(nanos(KEEPALIVE_INTERVAL)).map_err(connect_error)?;
    {
        let last_error = Arc::clone(&last_error);
        context
            .set_error_handler(Some(move |code: i32, message: &str| {
                log::error!("aeron error {code}: {message}");
                if let Ok(mut last) = last_error.lock() {
                    *last = message.to_owned();
                }
            }))
            .map_err(connect_error)?;
    }
    let aeron = Aeron::new(&context).map_err(connect_error)?;
    aeron.start().map_err(connect_error)?;

    let add_error = |what, channel: &str, stream_id, source| WorkerError::AddResource {
        what,
        channel: channel.to_owned(),
        stream_id,
        source,
    };
    let subscription: AeronSubscription = aeron
        .async_add_subscription(&request_channel, config.request_stream_id, Handlers::NONE, Handlers::NONE)
        .and_then(|add| add.poll_blocking(ADD_RESOURCE_TIMEOUT))
        .map_err(|e| add_error("subscription", config.request_channel(), config.request_stream_id, e))?;
    let control: AeronPublication = aeron
        .async_add_publication(&announce_channel, config.control_stream_id)
        .and_then(|add| add.poll_blocking(ADD_RESOURCE_TIMEOUT))
        .map_err(|e| add_error("publication", config.announce_channel(), config.control_stream_id, e))?;
    // The largest reply: Aeron's largest message on the worker's own channel (where the
    // control publication is, unless announcements go elsewhere: then a publication on the own
    // channel's control stream, shared with the other workers of the driver, tells it), and on
    // the reply channels to callers when --reply-channel-params names their term length.
    let own_max = if config.announce_channel() == config.channel {
        control.get_constants().ok().map(|constants| constants.max_message_length())
    } else {
        aeron
            .async_add_publication(&channel, config.control_stream_id)
            .and_then(|add| add.poll_blocking(ADD_RESOURCE_TIMEOUT))
            .map_err(|e| add_error("publication", &config.channel, config.control_stream_id, e))?
            .get_constants()
            .ok()
            .map(|constants| constants.max_message_length())
    };
    // Replies to IPC callers go on the own channel; replies to UDP callers on their reply
    // channel, whose term --reply-channel-params names (else the driver's default, taken to be
    // no larger than the own channel's).
    let limits = FrameLimits {
        own_channel: own_max.unwrap_or(usize::MAX),
        reply_channels: max_message_length_of(&config.reply_channel_params).or(own_max).unwrap_or(usize::MAX),
    };

    // The doorbell, before the first announcement, so that clients find it. Without one the
    // loop never sleeps (nothing would wake it).
    let poll_thread = std::thread::current();
    let doorbell = if !is_ipc(config.request_channel()) {
        log::info!("no doorbell: the request channel is not IPC, so the worker never sleeps when idle");
        None
    } else if !config.idle.sleeps() {
        None
    } else {
        match Doorbell::open(doorbell::path(&config.aeron_dir, config.request_stream_id), poll_thread.clone()) {
            Ok(doorbell) => Some(doorbell),
            Err(error) => {
                log::info!("no doorbell ({error}), so the worker never sleeps when idle");
                None
            }
        }
    };

    // The response region: its id is fixed now and announced; the file comes at the first loan.
    // Only callers on this host can read it: those replied to on the own channel, when IPC.
    let region = (config.payload_region_mib > 0 && is_ipc(&config.channel)).then(|| {
        Arc::new(ResponseRegion::new(&config.aeron_dir, region::new_region_id(), config.payload_region_mib << 20))
    });
    let replies = Replies {
        limits,
        max_message: config.max_message_mib << 20,
        lending: region
            .as_ref()
            .map(|region| Lending { region: Arc::clone(region), threshold: config.payload_loan_threshold }),
    };

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
            request_channel: config.advertised_request_channel(),
            region_id: region.as_ref().map_or(0, |region| region.id()),
        },
    )?;
    let elsewhere = |what: &str, channel: &str| {
        if channel == config.channel { String::new() } else { format!(", {what} '{channel}'") }
    };
    log::info!(
        "worker '{}' serving [{}] on '{}' stream {} (control stream {}{}{}{}, aeron dir '{}', {}{})",
        config.worker_id,
        names.join(", "),
        config.request_channel(),
        config.request_stream_id,
        config.control_stream_id,
        elsewhere("own channel", &config.channel),
        elsewhere("announcing on", config.announce_channel()),
        if config.advertised_request_channel() == config.request_channel() || config.advertised_request_channel().is_empty() {
            String::new()
        } else {
            format!(", advertising '{}'", config.advertised_request_channel())
        },
        config.aeron_dir,
        driver_process.as_ref().map_or("driver heartbeat watched".to_owned(), |p| format!("driver process {}", p.pid())),
        parent.as_ref().map_or(String::new(), |p| format!(", parent process {}", p.pid()))
    );

    let mut dispatcher = Dispatcher::new(Arc::clone(&registry));
    dispatcher.refuse_reply_streams(&[config.request_stream_id, config.control_stream_id]);
    dispatcher.set_replies(replies.clone());
    if is_ipc(config.request_channel()) {
        dispatcher.accept_region_refs(&config.aeron_dir);
    }
    let pool = match config.pool.size {
        0 => None,
        _ => Some(Pool::start(config.pool, replies, poll_thread)?),
    };
    let transport =
        AeronTransport { aeron: aeron.clone(), channel, reply_channel_params: config.reply_channel_params.clone() };
    let mut server = Server::new(dispatcher, pool, Outbox::new(transport, config.outbox));
    let driver_lost = || {
        let message = last_error.lock().map(|m| m.clone()).unwrap_or_default();
        let message = if message.is_empty() { "the Aeron client closed".to_owned() } else { message };
        WorkerError::DriverLost { dir: config.aeron_dir.clone(), message }
    };
    let poll_error = |error: AeronCError| if aeron.is_closed() { driver_lost() } else { WorkerError::Poll(error) };
    let mut assembler = AeronFragmentClosureAssembler::new().map_err(poll_error)?;
    let mut idle: Idler = config.idle.idler();
    let mut announcements = 0u64;
    let mut next_announcement = Instant::now();
    let mut next_watch = Instant::now() + WATCH_INTERVAL;
    let mut drain_until: Option<Instant> = None;

    let outcome: Result<(), WorkerError> = 'serve: loop {
        if drain_until.is_none() && shutdown.load(Ordering::Relaxed) {
            log::info!(
                "stopping: {} calls in flight, {} replies queued; draining for up to {:?}",
                server.in_flight(),
                server.outbox().queued(),
                config.drain_timeout
            );
            server.stop_taking_calls();
            drain_until = Some(Instant::now() + config.drain_timeout);
        }
        if let Some(until) = drain_until {
            if server.is_drained() || Instant::now() >= until {
                break 'serve Ok(());
            }
        }
        // Flow control: while the outboxes are over their budget, requests wait in the Aeron log
        // (clients feel back pressure) and the loop only drains, announces and watches. While
        // draining, requests are still read, and answered WORKER_UNAVAILABLE at once.
        let fragments = if server.intake_paused() {
            0
        } else {
            match assembler.poll(&subscription, &mut server, on_message, FRAGMENT_LIMIT) {
                Ok(fragments) => fragments,
                Err(error) => break 'serve Err(poll_error(error)),
            }
        };
        // The conductor's own work (keepalives, other clients' news from the driver) is not
        // the worker's: it neither keeps the loop from sleeping nor needs the loop awake.
        if invoker {
            if let Err(error) = aeron.main_do_work() {
                break 'serve Err(if aeron.is_closed() { driver_lost() } else { WorkerError::Conductor(error) });
            }
        }
        let now = Instant::now();
        let mut work = usize::try_from(fragments).unwrap_or(0);
        work += server.do_work(now);
        if aeron.is_closed() {
            break 'serve Err(driver_lost());
        }
        if now >= next_watch {
            next_watch = now + WATCH_INTERVAL;
            if let Some(parent) = parent.as_ref().filter(|p| !p.is_alive()) {
                break 'serve Err(WorkerError::ParentGone { pid: parent.pid() });
            }
            if let Some(driver) = driver_process.as_ref().filter(|p| !p.is_alive()) {
                let message = format!("its process {} has exited", driver.pid());
                break 'serve Err(WorkerError::DriverLost { dir: config.aeron_dir.clone(), message });
            }
        }
        if drain_until.is_none() && now >= next_announcement {
            next_announcement = now + config.announce_interval;
            match control.offer(&announcement) {
                Ok(_) => announcements += 1,
                // Nobody listening yet, or a busy control stream: the next period repeats it.
                Err(error) if error.is_retryable() => {}
                Err(error) => log::warn!("announcement not sent: {error}"),
            }
        }
        // Asleep only with nothing pending: a call in flight is woken by the pool when it
        // completes, but queued replies and a drain need the loop to keep turning. A sleep ends
        // by the next announcement, and within a second (watches, keepalives).
        let pending = server.in_flight() > 0 || !server.outbox().is_empty() || drain_until.is_some();
        let sleep_limit = (doorbell.is_some() && !pending)
            .then(|| next_announcement.saturating_duration_since(now).min(LONGEST_SLEEP));
        idle.idle_or_sleep(work, sleep_limit);
    };

    let abandoned = server.in_flight();
    if outcome.is_ok() && abandoned > 0 {
        log::warn!(
            "{abandoned} calls still running after the drain timeout of {:?}; their callers get no reply",
            config.drain_timeout
        );
    }
    server.close();
    // Now, not when the last reference goes: a handler thread abandoned by the drain timeout
    // may hold one until the process exits.
    if let Some(region) = &region {
        region.close();
    }
    let summary = RunSummary {
        counters: server.counters(),
        announcements,
        reply_streams_peak: server.outbox().peak_streams(),
        abandoned,
        intake_pauses: server.outbox().intake_pauses(),
        intake_paused: server.outbox().intake_paused_for(Instant::now()),
        idle_sleeps: idle.sleeps(),
        doorbell_wakes: doorbell.as_ref().map_or(0, Doorbell::wakes),
    };
    drop(doorbell);
    match outcome {
        Ok(()) => Ok(summary),
        Err(error) => {
            // The counters, also when the run ends in an error (logged by the caller).
            log::info!("stopped: {summary}");
            Err(error)
        }
    }
}

/// The media driver's pid from its CnC file, if the file is there, of a known layout, and
/// complete (the driver writes the version last).
fn driver_pid(dir: &str) -> Option<u32> {
    let mut metadata = [0u8; CNC_PID_OFFSET + 8];
    std::fs::File::open(Path::new(dir).join(CNC_FILE)).ok()?.read_exact(&mut metadata).ok()?;
    let version = i32::from_le_bytes(metadata[..4].try_into().ok()?);
    // Semantic version major.minor.patch in one int: only major 0 has this layout.
    if version == 0 || version >> 16 != 0 {
        return None;
    }
    let pid = i64::from_le_bytes(metadata[CNC_PID_OFFSET..].try_into().ok()?);
    u32::try_from(pid).ok().filter(|&pid| pid > 0)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_reply_follows_the_term_length_of_the_reply_channel_params() {
        assert_eq!(max_message_length_of("term-length=16m"), Some(2 << 20));
        assert_eq!(max_message_length_of("mtu=1408|term-length=64k"), Some(8 << 10));
        assert_eq!(max_message_length_of("term-length=65536"), Some(8192));
        assert_eq!(max_message_length_of("term-length=1g"), Some(16 << 20), "Aeron's cap");
        assert_eq!(max_message_length_of("mtu=1408"), None);
        assert_eq!(max_message_length_of(""), None);
    }

    #[test]
    fn ipc_channels_are_recognised_with_or_without_parameters() {
        assert!(is_ipc("aeron:ipc"));
        assert!(is_ipc("aeron:ipc?term-length=64k"));
        assert!(!is_ipc("aeron:udp?endpoint=10.0.0.2:40100"));
        assert!(!is_ipc("aeron:ipcx"));
    }
}
