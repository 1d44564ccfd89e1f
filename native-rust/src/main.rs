//! `polybridge-worker-rust`: the SDK's own test worker. It serves `echo` (as every worker does)
//! and, with `--debug-handlers`, `debug.sleep` for tests of deadlines and cancellation.

#![forbid(unsafe_code)]

use polybridge_worker::{cli, handler, Registry};
use std::error::Error;

/// Flags of the test worker besides the common ones.
#[derive(Debug, clap::Args)]
struct Flags {
    /// Also serve debug.sleep (payload: u32 milliseconds, little-endian), a handler that ignores
    /// deadlines, for tests of timeouts and cancellation. Off in production.
    #[arg(long)]
    debug_handlers: bool,
}

fn setup(flags: &Flags, registry: &mut Registry) -> Result<(), Box<dyn Error>> {
    if flags.debug_handlers {
        registry.register(handler::DEBUG_SLEEP, handler::DebugSleep)?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let app = cli::App::new("polybridge-worker-rust")
        .version(env!("CARGO_PKG_VERSION"))
        .about(
            "polybridge worker in Rust: the SDK's test worker (echo, debug.sleep).\n\n\
             Connects to the media driver in --aeron-dir, announces itself on the control stream and \
             answers Requests from its request stream. SIGTERM or SIGINT stops it cleanly (exit 0); \
             a lost media driver or a gone --parent-pid stops it with exit code 1.",
        );
    cli::main(app, setup)
}
