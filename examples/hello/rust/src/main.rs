//! `hello-worker-rust`: serves `hello.greet` (and `echo`) with the common worker flags Bridge
//! passes, through the SDK's `cli::main`.

use polybridge_worker::cli::{self, App, NoFlags};
use polybridge_worker::Registry;

fn main() -> std::process::ExitCode {
    let app = App::new("hello-worker-rust").about("The hello example's Rust worker: hello.greet.");
    cli::main(app, |_: &NoFlags, registry: &mut Registry| Ok(hello_worker::register(registry)?))
}
