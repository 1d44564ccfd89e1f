//! `web-scan-worker-rust`: the web-scan example's Rust worker. Serves `html.signals` (and
//! `echo`, as every worker does) with the common worker flags of the SDK.

#![forbid(unsafe_code)]

use polybridge_worker::cli::{self, App, NoFlags};
use polybridge_worker::Registry;

fn main() -> std::process::ExitCode {
    let app = App::new("web-scan-worker-rust")
        .version(env!("CARGO_PKG_VERSION"))
        .about("web-scan's Rust worker: html.signals, an HTML5 parse of a page (SignalsRequest in, SignalsResponse out)");
    cli::main(app, |_: &NoFlags, registry: &mut Registry| Ok(web_scan::signals::register(registry)?))
}
