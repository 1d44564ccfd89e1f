//! polybridge's Rust worker: serves named handlers to polybridge clients over Aeron.
//!
//! - [`wire`]: checked decoding and exact-size encoding of the SBE frames;
//! - [`handler`]: the [`Handler`] trait, the [`Registry`] of named handlers, `echo`;
//! - [`dispatcher`]: request frame in, response frame out, testable without Aeron;
//! - [`worker`]: the Aeron poll loop around a dispatcher.
//!
//! No `unsafe` here: rusteron wraps the Aeron C client behind a safe API.

#![forbid(unsafe_code)]

pub mod dispatcher;
pub mod handler;
pub mod wire;
pub mod worker;

pub use dispatcher::{Counters, Dispatcher, Outcome};
pub use handler::{Echo, Handler, HandlerError, Registry, RegistryError, Reply};
pub use worker::{run, RunSummary, WorkerConfig, WorkerError};

/// The generated SBE codecs this worker was built with.
pub use polybridge_codecs as codecs;
