//! `polybridge-worker-rust`: the command-line entry point of the Rust worker.

#![forbid(unsafe_code)]

use clap::Parser;
use polybridge_worker::idle::{parse_duration, parse_positive_duration};
use polybridge_worker::{handler, outbox, worker, IdleStrategy, OutboxConfig, PoolConfig, Registry, WorkerConfig};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// polybridge worker in Rust: serves named handlers to polybridge clients over Aeron.
///
/// Connects to the media driver in --aeron-dir, announces itself on the control stream and
/// answers Requests from its request stream. SIGTERM or SIGINT stops it cleanly (exit 0);
/// a lost media driver or a gone --parent-pid stops it with exit code 1.
#[derive(Debug, Parser)]
#[command(name = "polybridge-worker-rust", version)]
struct Cli {
    /// The media driver's directory (required: Java, C and Go Aeron clients disagree on the default).
    #[arg(long, value_name = "DIR")]
    aeron_dir: String,

    /// Aeron channel for the request, reply and control streams.
    #[arg(long, value_name = "URI", default_value = worker::DEFAULT_CHANNEL)]
    channel: String,

    /// This worker's request stream.
    #[arg(long, value_name = "ID", default_value_t = worker::DEFAULT_REQUEST_STREAM_ID)]
    request_stream: i32,

    /// Where announcements go.
    #[arg(long, value_name = "ID", default_value_t = worker::DEFAULT_CONTROL_STREAM_ID)]
    control_stream: i32,

    /// Name in announcements and logs [default: rust-<pid>].
    #[arg(long, value_name = "NAME")]
    worker_id: Option<String>,

    /// Announcement period in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    announce_interval_ms: u64,

    /// Threads running handlers; 0 runs them on the polling thread [default: number of cores].
    #[arg(long, value_name = "N")]
    pool_size: Option<usize>,

    /// Calls that may wait for a handler thread; beyond that a call is answered OVERLOADED.
    #[arg(long, value_name = "N", default_value_t = worker::DEFAULT_QUEUE_DEPTH)]
    queue_depth: usize,

    /// What the polling thread does when idle: backoff (spin, yield, then park up to
    /// --idle-park), sleep (park --idle-park), yield, or spin.
    #[arg(long, value_name = "NAME", default_value = "backoff")]
    idle: IdleStrategy,

    /// Longest park of the backoff strategy, period of the sleep one (e.g. 500us, 1ms).
    #[arg(long, value_name = "DURATION", default_value = "1ms", value_parser = parse_duration)]
    idle_park: Duration,

    /// Replies one reply stream's outbox may hold while they cannot be published; beyond that
    /// (or 64 MiB in all outboxes) the worker takes no new requests until they are down to half.
    #[arg(long, value_name = "N", default_value_t = outbox::DEFAULT_REPLY_QUEUE,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    reply_queue: usize,

    /// How long a reply stream with replies queued may make no progress (no reply published:
    /// a stuck or missing subscriber) before they are dropped (and counted), and how long a
    /// reply publication may have no subscriber before it is closed.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_positive_duration)]
    reply_timeout: Duration,

    /// Reply publications that may exist at once (each is a log buffer in the driver's shared
    /// memory; closed ones count for 6 s, while they linger); a reply that needs one more is
    /// dropped (and counted).
    #[arg(long, value_name = "N", default_value_t = outbox::DEFAULT_MAX_REPLY_STREAMS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_reply_streams: usize,

    /// On SIGTERM/SIGINT, how long running handlers may finish and queued replies be
    /// published before the worker exits anyway.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_positive_duration)]
    drain_timeout: Duration,

    /// Exit (code 1) within a second when this process is gone: the JVM that started the
    /// worker passes its own pid (0: none).
    #[arg(long, value_name = "PID", default_value_t = 0)]
    parent_pid: u32,

    /// Also serve debug.sleep (payload: u32 milliseconds, little-endian), a handler that ignores
    /// deadlines, for tests of timeouts and cancellation. Off in production.
    #[arg(long)]
    debug_handlers: bool,
}

/// Prints `log` records to stderr as `polybridge-worker-rust: [warning: ]message`: this crate's
/// from info up, other crates' (rusteron) from warn up.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let ours = metadata.target().starts_with("polybridge_worker");
        metadata.level() <= if ours { log::Level::Info } else { log::Level::Warn }
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            _ => "",
        };
        eprintln!("polybridge-worker-rust: {level}{}", record.args());
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Fails only when a logger is set already, which cannot happen here.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
    let mut config = WorkerConfig::new(cli.aeron_dir);
    config.channel = cli.channel;
    config.request_stream_id = cli.request_stream;
    config.control_stream_id = cli.control_stream;
    config.announce_interval = Duration::from_millis(cli.announce_interval_ms);
    if let Some(worker_id) = cli.worker_id {
        config.worker_id = worker_id;
    }
    config.pool = PoolConfig {
        size: cli.pool_size.unwrap_or_else(worker::default_pool_size),
        queue_depth: cli.queue_depth,
    };
    config.idle = cli.idle.with_park(cli.idle_park);
    config.outbox = OutboxConfig {
        reply_queue: cli.reply_queue,
        reply_timeout: cli.reply_timeout,
        max_reply_streams: cli.max_reply_streams,
        ..OutboxConfig::default()
    };
    config.drain_timeout = cli.drain_timeout;
    config.parent_pid = Some(cli.parent_pid).filter(|&pid| pid != 0);

    // The first SIGTERM/SIGINT asks the poll loop to stop; a second one, while the flag is
    // still set, exits at once in case the first is stuck.
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGINT] {
        let registered = signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&shutdown))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&shutdown)));
        if let Err(error) = registered {
            log::error!("cannot install a handler for signal {signal}: {error}");
            return ExitCode::FAILURE;
        }
    }

    let mut registry = Registry::with_builtin();
    if cli.debug_handlers {
        if let Err(error) = registry.register(handler::DEBUG_SLEEP, handler::DebugSleep) {
            log::error!("{error}");
            return ExitCode::FAILURE;
        }
    }
    match worker::run(&config, Arc::new(registry), &shutdown) {
        Ok(summary) => {
            log::info!("stopped: {summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            log::error!("{error}; exiting");
            ExitCode::FAILURE
        }
    }
}
