//! `polybridge-consumer-rust`: a worker built outside the polybridge repository on its Rust SDK
//! (the `polybridge-worker` crate). It serves one handler, `consumer.reverse`: the payload's bytes
//! reversed. Bridge starts it with the flags parsed below.

use polybridge_worker::{worker, HandlerError, Registry, Reply, WorkerConfig};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

fn main() -> ExitCode {
    let mut config = WorkerConfig::new("");
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        match pair[0].as_str() {
            "--aeron-dir" => config.aeron_dir = value.to_owned(),
            "--worker-id" => config.worker_id = value.to_owned(),
            "--request-stream" => config.request_stream_id = value.parse().unwrap_or(config.request_stream_id),
            "--announce-interval-ms" => {
                config.announce_interval = Duration::from_millis(value.parse().unwrap_or(1000));
            }
            _ => {} // --parent-pid and others: Bridge stops this worker with SIGTERM
        }
    }

    let mut registry = Registry::new();
    let reverse = |payload: &[u8], reply: &mut Reply<'_>| -> Result<(), HandlerError> {
        let reversed: Vec<u8> = payload.iter().rev().copied().collect();
        reply.write(&reversed);
        Ok(())
    };
    if let Err(error) = registry.register("consumer.reverse", reverse) {
        eprintln!("polybridge-consumer-rust: {error}");
        return ExitCode::FAILURE;
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGINT] {
        if let Err(error) = signal_hook::flag::register(signal, Arc::clone(&shutdown)) {
            eprintln!("polybridge-consumer-rust: signal {signal}: {error}");
            return ExitCode::FAILURE;
        }
    }
    match worker::run(&config, Arc::new(registry), &shutdown) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("polybridge-consumer-rust: {error}");
            ExitCode::FAILURE
        }
    }
}
