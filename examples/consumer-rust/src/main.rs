//! `polybridge-consumer-rust`: a worker built outside the polybridge repository on its Rust SDK
//! (the `polybridge-worker` crate). It serves one handler, `consumer.reverse` (the payload's
//! bytes reversed), plus the built-in `echo`; the SDK's `cli::main` gives it the command line
//! Bridge passes, logging, signals and the drain.

use polybridge_worker::cli::{self, App, NoFlags};
use polybridge_worker::{Context, HandlerError, Registry, Reply};

fn reverse(_ctx: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
    let reversed: Vec<u8> = payload.iter().rev().copied().collect();
    reply.write(&reversed);
    Ok(())
}

fn main() -> std::process::ExitCode {
    let app = App::new("polybridge-consumer-rust").about("A worker of one's own: consumer.reverse.");
    cli::main(app, |_: &NoFlags, registry: &mut Registry| Ok(registry.register("consumer.reverse", reverse)?))
}
