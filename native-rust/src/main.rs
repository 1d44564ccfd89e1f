//! `polybridge-worker-rust`: the SDK's own test worker. It serves `echo` (as every worker does),
//! `checksum` (CRC32C of the payload, for the payload benchmarks) and, with `--debug-handlers`,
//! `debug.sleep` for tests of deadlines and cancellation.

#![forbid(unsafe_code)]

use polybridge_worker::{cli, handler, Context, HandlerError, Registry, Reply};
use std::error::Error;

/// Flags of the test worker besides the common ones.
#[derive(Debug, clap::Args)]
struct Flags {
    /// Also serve debug.sleep (payload: u32 milliseconds, little-endian), a handler that ignores
    /// deadlines, for tests of timeouts and cancellation. Off in production.
    #[arg(long)]
    debug_handlers: bool,
}

/// Name of [`checksum`].
const CHECKSUM: &str = "checksum";

/// `checksum`: 8 bytes, the little-endian u64 whose value is the CRC32C (Castagnoli, as
/// `java.util.zip.CRC32C` computes it) of the payload. Runs on the pool: it reads the whole
/// payload, in place when it lies in a payload region.
fn checksum(_ctx: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
    reply.write(&u64::from(crc32c::crc32c(payload)).to_le_bytes());
    Ok(())
}

fn setup(flags: &Flags, registry: &mut Registry) -> Result<(), Box<dyn Error>> {
    registry.register(CHECKSUM, checksum)?;
    if flags.debug_handlers {
        registry.register(handler::DEBUG_SLEEP, handler::DebugSleep)?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let app = cli::App::new("polybridge-worker-rust")
        .version(env!("CARGO_PKG_VERSION"))
        .about(
            "polybridge worker in Rust: the SDK's test worker (echo, checksum, debug.sleep).\n\n\
             Connects to the media driver in --aeron-dir, announces itself on the control stream and \
             answers Requests from its request stream. SIGTERM or SIGINT stops it cleanly (exit 0); \
             a lost media driver or a gone --parent-pid stops it with exit code 1.",
        );
    cli::main(app, setup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_the_crc32c_of_the_payload_as_a_little_endian_u64() {
        let mut frame = Vec::new();
        checksum(&Context::new(), b"123456789", &mut Reply::new(&mut frame)).unwrap();
        // The CRC-32C check value (RFC 3720, B.4).
        assert_eq!(frame, 0xE306_9283u64.to_le_bytes());
        frame.clear();
        checksum(&Context::new(), b"", &mut Reply::new(&mut frame)).unwrap();
        assert_eq!(frame, 0u64.to_le_bytes());
    }
}
