//! The web-scan example's Rust side: the `html.signals` handler, built on the polybridge Rust
//! SDK (`polybridge-worker`) as any service would be, with the codecs generated from the
//! web-scan schema (crate `webscan`, `../schema/web-scan.xml`).
//!
//! - [`signals`]: what `html.signals` reports about a page, and its typed messages;
//! - [`dom`]: the small arena DOM html5ever builds for it.

#![forbid(unsafe_code)]

pub mod dom;
pub mod signals;

pub use signals::{extract, Signals, SignalsRequest};
