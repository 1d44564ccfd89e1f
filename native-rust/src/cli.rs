//! The worker command line, owned by the SDK so every worker built on it accepts the flags
//! Bridge passes: [`main`] parses the common flags ([`WorkerArgs`], the same as the Go SDK's)
//! plus the app's own (any `clap::Args`), logs to stderr, stops cleanly on SIGTERM/SIGINT
//! (drain), and exits 0 when asked to stop, 1 when the worker fails (driver lost, parent gone),
//! 2 on a usage error. The app registers its handlers in a setup function; `echo` is always
//! registered.
//!
//! ```no_run
//! use polybridge_worker::{cli, Context, Registry, Reply};
//!
//! #[derive(clap::Args)]
//! struct Flags {
//!     /// Greeting to use.
//!     #[arg(long, default_value = "hello")]
//!     greeting: String,
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     cli::main(cli::App::new("my-worker"), |flags: &Flags, registry: &mut Registry| {
//!         let greeting = flags.greeting.clone();
//!         registry.register("my.greet", move |_: &Context, _: &[u8], reply: &mut Reply<'_>| {
//!             reply.write(greeting.as_bytes());
//!             Ok(())
//!         })?;
//!         Ok(())
//!     })
//! }
//! ```

use crate::handler::Registry;
use crate::idle::{self, parse_duration, parse_positive_duration, IdleStrategy};
use crate::outbox::{self, OutboxConfig};
use crate::pool::PoolConfig;
use crate::worker::{self, WorkerConfig};
use clap::{Args, CommandFactory, FromArgMatches, Parser};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::error::Error;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The flags every polybridge worker accepts (docs/protocol.md), whatever its handlers.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The media driver's directory (required: Java, C and Go Aeron clients disagree on the default).
    #[arg(long, value_name = "DIR")]
    pub aeron_dir: String,

    /// Aeron channel for the request, reply and control streams: the worker's own channel,
    /// where it replies to callers that name no replyChannel (callers on its host), and the
    /// default of --request-channel and --announce-channel.
    #[arg(long, value_name = "URI", default_value = worker::DEFAULT_CHANNEL)]
    pub channel: String,

    /// Where the worker subscribes for requests, e.g. aeron:udp?endpoint=0.0.0.0:40100 for
    /// callers on other hosts [default: --channel].
    #[arg(long, value_name = "URI", value_parser = parse_channel)]
    pub request_channel: Option<String>,

    /// What announcements tell clients to publish requests on, when the address the worker
    /// binds is not the one callers reach (bind 0.0.0.0:40100, advertise 10.0.0.2:40100)
    /// [default: --request-channel unless it is IPC, then "" (the channel the announcement is
    /// heard on)].
    #[arg(long, value_name = "URI", value_parser = parse_advertised_channel)]
    pub advertised_request_channel: Option<String>,

    /// Where announcements go, e.g.
    /// aeron:udp?control=10.0.0.2:40102|control-mode=dynamic|term-length=64k for clients on
    /// other hosts [default: --channel].
    #[arg(long, value_name = "URI", value_parser = parse_channel)]
    pub announce_channel: Option<String>,

    /// Parameters the worker appends to a caller's replyChannel (aeron:udp?endpoint=HOST:PORT)
    /// as key=value pairs joined by '|', so that a request never chooses term length,
    /// interface and the like; "" adds none.
    #[arg(long, value_name = "PARAMS", default_value = worker::DEFAULT_REPLY_CHANNEL_PARAMS,
          value_parser = parse_reply_channel_params)]
    pub reply_channel_params: String,

    /// This worker's request stream.
    #[arg(long, value_name = "ID", default_value_t = worker::DEFAULT_REQUEST_STREAM_ID)]
    pub request_stream: i32,

    /// Where announcements go.
    #[arg(long, value_name = "ID", default_value_t = worker::DEFAULT_CONTROL_STREAM_ID)]
    pub control_stream: i32,

    /// Name in announcements and logs [default: rust-<pid>].
    #[arg(long, value_name = "NAME")]
    pub worker_id: Option<String>,

    /// Announcement period in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub announce_interval_ms: u64,

    /// Threads running handlers; 0 runs them on the polling thread [default: number of cores].
    #[arg(long, value_name = "N")]
    pub pool_size: Option<usize>,

    /// Calls that may wait for a handler thread; beyond that a call is answered OVERLOADED.
    #[arg(long, value_name = "N", default_value_t = worker::DEFAULT_QUEUE_DEPTH)]
    pub queue_depth: usize,

    /// What the polling thread does when idle: backoff (spin, yield, then park up to
    /// --idle-park, then sleep after --idle-sleep-after), sleep (park --idle-park), yield, or spin.
    #[arg(long, value_name = "NAME", default_value = "backoff")]
    pub idle: IdleStrategy,

    /// Longest park of the backoff strategy, period of the sleep one (e.g. 500us, 1ms).
    #[arg(long, value_name = "DURATION", default_value = "1ms", value_parser = parse_duration)]
    pub idle_park: Duration,

    /// How long backoff goes without work before it sleeps (parks --idle-sleep, or until its
    /// doorbell is rung); 0 never sleeps, otherwise at least 20ms. Only with nothing pending and
    /// an IPC request channel (the doorbell).
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = idle::parse_sleep_after)]
    pub idle_sleep_after: Duration,

    /// How long one sleep of backoff lasts unless the doorbell, a finished handler or a stop
    /// wakes it: more than 0, at most 10s. A sleep also ends when the next announcement is due,
    /// and within 1s (the parent and driver watch and the Aeron client's keepalives).
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = idle::parse_sleep)]
    pub idle_sleep: Duration,

    /// Replies one reply stream's outbox may hold while they cannot be published; beyond that
    /// (or 64 MiB in all outboxes) the worker takes no new requests until they are down to half.
    #[arg(long, value_name = "N", default_value_t = outbox::DEFAULT_REPLY_QUEUE,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub reply_queue: usize,

    /// How long a reply stream with replies queued may make no progress (no reply published:
    /// a stuck or missing subscriber) before they are dropped (and counted), and how long a
    /// reply publication may have no subscriber before it is closed.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_positive_duration)]
    pub reply_timeout: Duration,

    /// Reply publications that may exist at once (each is a log buffer in the driver's shared
    /// memory; closed ones count for 6 s, while they linger); a reply that needs one more is
    /// dropped (and counted).
    #[arg(long, value_name = "N", default_value_t = outbox::DEFAULT_MAX_REPLY_STREAMS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_reply_streams: usize,

    /// On SIGTERM/SIGINT, how long running handlers may finish and queued replies be
    /// published before the worker exits anyway. Calls still queued are answered
    /// WORKER_UNAVAILABLE at once.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_positive_duration)]
    pub drain_timeout: Duration,

    /// Size in MiB of the worker's payload region: a file in --aeron-dir (created at the first
    /// lent response, removed at exit) from which responses of at least
    /// --payload-loan-threshold bytes to callers on this host are lent instead of copied into
    /// the Aeron log. 0: no region (large responses go inline, up to the channel's largest
    /// message). At most 1024. The pages written stay in shared memory until the worker exits.
    #[arg(long, value_name = "MIB", default_value_t = worker::DEFAULT_PAYLOAD_REGION_MIB,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1024))]
    pub payload_region_mib: usize,

    /// Largest result payload in MiB, 1 to 1024: a longer one is answered TOO_LARGE before it is
    /// copied anywhere. At most --payload-region-mib when there is a region.
    #[arg(long, value_name = "MIB", default_value_t = worker::DEFAULT_MAX_MESSAGE_MIB,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub max_message_mib: usize,

    /// Responses of at least this many bytes to callers on this host (the worker's own IPC
    /// channel) are lent from the payload region; 0: never.
    #[arg(long, value_name = "BYTES", default_value_t = worker::DEFAULT_PAYLOAD_LOAN_THRESHOLD)]
    pub payload_loan_threshold: usize,

    /// Exit (code 1) within a second when this process is gone: the JVM that started the
    /// worker passes its own pid (0: none).
    #[arg(long, value_name = "PID", default_value_t = 0)]
    pub parent_pid: u32,
}

impl WorkerArgs {
    /// Checks what single flags cannot: --max-message-mib within --payload-region-mib.
    pub fn check(&self) -> Result<(), String> {
        if self.payload_region_mib > 0 && self.max_message_mib > self.payload_region_mib {
            return Err(format!(
                "--max-message-mib {} is larger than --payload-region-mib {}: a message that large could never be \
                 lent; lower --max-message-mib or raise --payload-region-mib",
                self.max_message_mib, self.payload_region_mib
            ));
        }
        Ok(())
    }

    /// The worker's settings from these flags.
    pub fn config(&self) -> WorkerConfig {
        let mut config = WorkerConfig::new(self.aeron_dir.clone());
        config.channel = self.channel.clone();
        config.request_channel = self.request_channel.clone();
        config.advertised_request_channel = self.advertised_request_channel.clone();
        config.announce_channel = self.announce_channel.clone();
        config.reply_channel_params = self.reply_channel_params.clone();
        config.request_stream_id = self.request_stream;
        config.control_stream_id = self.control_stream;
        config.announce_interval = Duration::from_millis(self.announce_interval_ms);
        if let Some(worker_id) = &self.worker_id {
            config.worker_id = worker_id.clone();
        }
        config.pool = PoolConfig {
            size: self.pool_size.unwrap_or_else(worker::default_pool_size),
            queue_depth: self.queue_depth,
        };
        config.idle = self.idle.with_park(self.idle_park).with_sleep(self.idle_sleep_after, self.idle_sleep);
        config.outbox = OutboxConfig {
            reply_queue: self.reply_queue,
            reply_timeout: self.reply_timeout,
            max_reply_streams: self.max_reply_streams,
            ..OutboxConfig::default()
        };
        config.drain_timeout = self.drain_timeout;
        config.payload_region_mib = self.payload_region_mib;
        config.max_message_mib = self.max_message_mib;
        config.payload_loan_threshold = self.payload_loan_threshold;
        config.parent_pid = Some(self.parent_pid).filter(|&pid| pid != 0);
        config
    }
}

/// `--request-channel`, `--announce-channel`: an aeron:ipc or aeron:udp URI.
fn parse_channel(value: &str) -> Result<String, String> {
    worker::check_channel(value).map(|()| value.to_owned())
}

/// `--advertised-request-channel`: a channel, or "" for the one the announcement is heard on.
fn parse_advertised_channel(value: &str) -> Result<String, String> {
    if value.is_empty() {
        Ok(String::new())
    } else {
        parse_channel(value)
    }
}

fn parse_reply_channel_params(value: &str) -> Result<String, String> {
    worker::check_reply_channel_params(value).map(|()| value.to_owned())
}

/// An app without flags of its own.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct NoFlags {}

/// What the command line says about the program (`--help`, `--version`, log lines).
#[derive(Debug, Clone)]
pub struct App {
    name: &'static str,
    about: Option<&'static str>,
    version: Option<&'static str>,
}

impl App {
    /// `name` is the binary's name, used in `--help` and as the prefix of its log lines.
    pub fn new(name: &'static str) -> Self {
        Self { name, about: None, version: None }
    }

    /// One paragraph for `--help`.
    pub fn about(mut self, about: &'static str) -> Self {
        self.about = Some(about);
        self
    }

    /// The version `--version` prints (e.g. `env!("CARGO_PKG_VERSION")`).
    pub fn version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }
}

/// Both sets of flags, parsed together.
#[derive(Debug, Parser)]
struct Flags<A: Args> {
    #[command(flatten)]
    worker: WorkerArgs,
    #[command(flatten)]
    app: A,
}

/// Runs a worker process: parses the command line (common flags + `A`), installs a stderr
/// logger and the SIGTERM/SIGINT handlers, lets `setup` register the app's handlers (`echo`
/// is there already), and serves until stopped. Returns the exit code for `main` to return:
/// 0 when stopped by a signal (after draining), 1 when the worker failed or `setup` returned an
/// error, 2 on a usage error (printed by clap).
pub fn main<A, F>(app: App, setup: F) -> ExitCode
where
    A: Args + FromArgMatches,
    F: FnOnce(&A, &mut Registry) -> Result<(), Box<dyn Error>>,
{
    let mut command = Flags::<A>::command().name(app.name).bin_name(app.name);
    if let Some(about) = app.about {
        command = command.about(about);
    }
    if let Some(version) = app.version {
        command = command.version(version);
    }
    let flags = match command.clone().try_get_matches().and_then(|matches| Flags::<A>::from_arg_matches(&matches)) {
        Ok(flags) => flags,
        // --help and --version exit 0, usage errors 2.
        Err(error) => error.exit(),
    };
    if let Err(message) = flags.worker.check() {
        command.error(clap::error::ErrorKind::ArgumentConflict, message).exit();
    }
    install_logger(app.name);

    // The first SIGTERM/SIGINT asks the poll loop to stop; a second one, while the flag is
    // still set, exits at once in case the first is stuck.
    // The flag is set first; then a byte down a socket wakes the poll thread (this one) if it
    // sleeps, so a stop is not held up by --idle-sleep.
    let shutdown = Arc::new(AtomicBool::new(false));
    let woken = match stop_waker(std::thread::current()) {
        Ok(woken) => woken,
        Err(error) => {
            log::error!("cannot start the stop waker: {error}");
            return ExitCode::FAILURE;
        }
    };
    for signal in [SIGTERM, SIGINT] {
        let registered = signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&shutdown))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&shutdown)))
            .and_then(|_| woken.try_clone())
            .and_then(|woken| signal_hook::low_level::pipe::register(signal, woken));
        if let Err(error) = registered {
            log::error!("cannot install a handler for signal {signal}: {error}");
            return ExitCode::FAILURE;
        }
    }

    let mut registry = Registry::with_builtin();
    if let Err(error) = setup(&flags.app, &mut registry) {
        log::error!("{error}");
        return ExitCode::FAILURE;
    }
    let mut config = flags.worker.config();
    config.client_name = app.name.to_owned();
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

/// A thread that unparks `poll_thread` whenever a byte arrives on the returned socket, which
/// signal-hook writes to from the signal handler (writing is async-signal-safe, unparking a
/// thread is not documented as such). It waits in a blocking read: free while idle.
fn stop_waker(poll_thread: std::thread::Thread) -> std::io::Result<UnixStream> {
    let (woken, mut wakes) = UnixStream::pair()?;
    std::thread::Builder::new().name("pb-stop-waker".to_owned()).stack_size(64 << 10).spawn(move || {
        let mut byte = [0u8; 16];
        while matches!(wakes.read(&mut byte), Ok(n) if n > 0) {
            poll_thread.unpark();
        }
    })?;
    Ok(woken)
}

/// Prints `log` records to stderr as `NAME: [warning: ]message`: from info up, rusteron's (the
/// Aeron client's) from warn up. Panics (a handler's, caught and answered `PANIC`) go through
/// it too, as one line each instead of the default hook's two.
struct StderrLogger {
    name: &'static str,
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let aeron = metadata.target().starts_with("rusteron");
        metadata.level() <= if aeron { log::Level::Warn } else { log::Level::Info }
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
        // The logging backend of a worker process (installed only by `main`); the SDK's code
        // itself logs only through `log`. A failed write to stderr has nowhere to be reported.
        let _ = writeln!(std::io::stderr().lock(), "{}: {level}{}", self.name, record.args());
    }

    fn flush(&self) {}
}

static LOGGER: OnceLock<StderrLogger> = OnceLock::new();

/// Installs the stderr logger (once per process) and a panic hook that logs through it.
pub fn install_logger(name: &'static str) {
    let logger = LOGGER.get_or_init(|| StderrLogger { name });
    // Fails only when a logger is set already: then that one stays.
    if log::set_logger(logger).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
        std::panic::set_hook(Box::new(|info| {
            let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            let thread = std::thread::current();
            let what = crate::typed::panic_text(info.payload());
            log::warn!("thread '{}' panicked{location}: {what}", thread.name().unwrap_or("unnamed"));
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<WorkerConfig, clap::Error> {
        let command = Flags::<NoFlags>::command();
        let matches = command.try_get_matches_from(["worker", "--aeron-dir", "/dev/shm/x"].iter().chain(args))?;
        Ok(Flags::<NoFlags>::from_arg_matches(&matches)?.worker.config())
    }

    #[test]
    fn without_the_channel_flags_every_channel_is_the_ipc_channel_and_nothing_is_advertised() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.request_channel(), "aeron:ipc");
        assert_eq!(config.announce_channel(), "aeron:ipc");
        assert_eq!(config.advertised_request_channel(), "");
        assert_eq!(config.reply_channel_params, "term-length=16m");
    }

    #[test]
    fn channel_is_the_default_of_the_request_and_announce_channels() {
        let config = parse(&["--channel", "aeron:ipc?term-length=64k"]).unwrap();
        assert_eq!(config.request_channel(), "aeron:ipc?term-length=64k");
        assert_eq!(config.announce_channel(), "aeron:ipc?term-length=64k");
        assert_eq!(config.advertised_request_channel(), "", "an IPC request channel is not advertised");
    }

    #[test]
    fn a_udp_request_channel_is_advertised_unless_another_is_named() {
        let bound = "aeron:udp?endpoint=0.0.0.0:40100";
        let config = parse(&["--request-channel", bound]).unwrap();
        assert_eq!(config.request_channel(), bound);
        assert_eq!(config.advertised_request_channel(), bound);
        assert_eq!(config.channel, "aeron:ipc", "local callers' replies stay on IPC");

        let advertised = "aeron:udp?endpoint=10.0.0.2:40100";
        let config = parse(&["--request-channel", bound, "--advertised-request-channel", advertised]).unwrap();
        assert_eq!(config.advertised_request_channel(), advertised);
        let config = parse(&["--request-channel", bound, "--advertised-request-channel", ""]).unwrap();
        assert_eq!(config.advertised_request_channel(), "", "an explicit empty one is kept");
    }

    #[test]
    fn the_announce_channel_and_reply_channel_params_are_taken_as_given() {
        let announce = "aeron:udp?control=10.0.0.2:40102|control-mode=dynamic|term-length=64k";
        let config = parse(&["--announce-channel", announce, "--reply-channel-params", "term-length=4m|mtu=8192"])
            .unwrap();
        assert_eq!(config.announce_channel(), announce);
        assert_eq!(config.request_channel(), "aeron:ipc");
        assert_eq!(config.reply_channel_params, "term-length=4m|mtu=8192");
        assert_eq!(parse(&["--reply-channel-params", ""]).unwrap().reply_channel_params, "");
    }

    #[test]
    fn channel_flags_that_are_not_aeron_ipc_or_udp_uris_are_usage_errors() {
        for args in [
            &["--request-channel", "udp://10.0.0.2:40100"][..],
            &["--request-channel", ""],
            &["--announce-channel", "aeron:tcp?endpoint=x:1"],
            &["--advertised-request-channel", "10.0.0.2:40100"],
            &["--reply-channel-params", "term-length"],
            &["--reply-channel-params", "term-length=16m|"],
            &["--reply-channel-params", "endpoint=10.0.0.9:1"],
            &["--reply-channel-params", "term-length=16m?x=y"],
        ] {
            let error = parse(args).expect_err(&format!("{args:?} was accepted"));
            assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation, "{args:?}: {error}");
        }
    }

    #[test]
    fn payload_flags_default_to_a_256_mib_region_64_mib_messages_and_a_64_kib_threshold() {
        let config = parse(&[]).unwrap();
        assert_eq!((config.payload_region_mib, config.max_message_mib, config.payload_loan_threshold), (256, 64, 65536));
        let config = parse(&["--payload-region-mib", "0", "--max-message-mib", "1024", "--payload-loan-threshold", "0"])
            .unwrap();
        assert_eq!((config.payload_region_mib, config.max_message_mib, config.payload_loan_threshold), (0, 1024, 0));
    }

    #[test]
    fn payload_flags_out_of_range_are_usage_errors() {
        for args in [
            &["--payload-region-mib", "1025"][..],
            &["--payload-region-mib", "many"],
            &["--max-message-mib", "0"],
            &["--max-message-mib", "1025"],
            &["--payload-loan-threshold", "64k"],
        ] {
            let error = parse(args).expect_err(&format!("{args:?} was accepted"));
            assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation, "{args:?}: {error}");
        }
        let command = Flags::<NoFlags>::command();
        let args = ["worker", "--aeron-dir", "/x", "--payload-region-mib", "32", "--max-message-mib", "64"];
        let flags = Flags::<NoFlags>::from_arg_matches(&command.try_get_matches_from(args).unwrap()).unwrap();
        let error = flags.worker.check().unwrap_err();
        assert!(error.contains("--max-message-mib 64 is larger than --payload-region-mib 32"), "{error}");
    }

    #[test]
    fn idle_flags_default_to_backoff_sleeping_after_50ms_for_100ms() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.idle, IdleStrategy::BACKOFF);
        let config = parse(&["--idle-park", "200us", "--idle-sleep-after", "20ms", "--idle-sleep", "10s"]).unwrap();
        assert_eq!(
            config.idle,
            IdleStrategy::Backoff {
                max_park: Duration::from_micros(200),
                sleep_after: Duration::from_millis(20),
                sleep: Duration::from_secs(10)
            }
        );
        assert!(!parse(&["--idle-sleep-after", "0"]).unwrap().idle.sleeps(), "0 never sleeps");
        assert!(!parse(&["--idle", "sleep"]).unwrap().idle.sleeps(), "only backoff has a sleep phase");
    }

    #[test]
    fn idle_sleep_flags_out_of_range_are_usage_errors_that_say_why() {
        for (args, why) in [
            (&["--idle-sleep-after", "19ms"][..], "at least 20ms"),
            (&["--idle-sleep-after", "1us"], "at least 20ms"),
            (&["--idle-sleep-after", "later"], "not a duration"),
            (&["--idle-sleep", "0s"], "more than 0 and at most 10s"),
            (&["--idle-sleep", "0"], "more than 0 and at most 10s"),
            (&["--idle-sleep", "10001ms"], "more than 0 and at most 10s"),
            (&["--idle-sleep", "11s"], "more than 0 and at most 10s"),
        ] {
            let error = parse(args).expect_err(&format!("{args:?} was accepted"));
            assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation, "{args:?}: {error}");
            assert!(error.to_string().contains(why), "{args:?}: {error}");
        }
    }

    #[test]
    fn a_reply_channel_is_the_callers_endpoint_then_the_workers_params() {
        let channel = "aeron:udp?endpoint=10.0.0.1:41000";
        assert_eq!(worker::reply_channel_uri(channel, "term-length=16m"), format!("{channel}|term-length=16m"));
        assert_eq!(worker::reply_channel_uri(channel, ""), channel);
    }
}
