//! polybridge's Rust worker SDK: serves named handlers to polybridge clients over Aeron. A
//! service's worker is a `main` on [`cli::main`] that registers its handlers (plain
//! [`Handler`]s, or typed ones on its own SBE codecs with [`Registry::register_typed`]); each
//! call gets a [`Context`] (deadline, cancellation, metadata). Depends on Aeron and the
//! transport codecs only.
//!
//! - [`wire`]: checked decoding and exact-size encoding of the SBE frames;
//! - [`context`]: the [`Context`] of a call (deadline, cancellation, metadata);
//! - [`handler`]: the [`Handler`] trait, the [`Registry`] of named handlers, `echo`;
//! - [`dispatcher`]: request frame in, call or answer out, testable without Aeron;
//! - [`pool`]: the bounded handler pool with cancellation and deadlines;
//! - [`outbox`]: per-stream reply outboxes, so that no reply blocks the poll loop, with flow
//!   control (intake pauses) instead of drops when they fill up;
//! - [`server`]: what the poll thread does with frames and duty cycles, Aeron aside;
//! - [`counters`]: the totals, named as in the Go worker;
//! - [`watch`]: noticing that a process is gone (`--parent-pid`, the media driver's);
//! - [`idle`]: idle strategies for the poll thread, `backoff`'s sleep phase;
//! - [`doorbell`]: the Unix socket a client rings to wake a sleeping worker;
//! - [`typed`]: typed handlers on a service's own SBE codecs ([`Registry::register_typed`]);
//! - [`cli`]: the worker command line every worker built on the SDK shares ([`cli::main`]);
//! - [`region`]: payload regions (shared-memory files carrying large payloads): the worker's
//!   response region and the callers' request regions it reads in place;
//! - [`worker`]: the Aeron poll loop around a server.
//!
//! `unsafe` only in [`region`] (mmap and copies into a loan, each with its safety argument):
//! rusteron wraps the Aeron C client behind a safe API. Logging goes through
//! the `log` crate; [`cli::main`] sends it to stderr.

#![deny(unsafe_code)]

pub mod context;
pub mod cli;
pub mod counters;
pub mod dispatcher;
pub mod doorbell;
pub mod handler;
pub mod idle;
pub mod outbox;
pub mod pool;
pub mod region;
pub mod server;
pub mod typed;
pub mod watch;
pub mod wire;
pub mod worker;

pub use context::{CancelHandle, Context, Interruption};
pub use dispatcher::{Call, Counters, Dispatcher, Outcome, Routed};
pub use handler::{Echo, Handler, HandlerError, Registry, RegistryError, Reply};
pub use idle::IdleStrategy;
pub use outbox::{Outbox, OutboxConfig};
pub use pool::{Pool, PoolConfig};
pub use server::Server;
pub use typed::{DecodeMessage, EncodeMessage, Message};
pub use worker::{run, RunSummary, WorkerConfig, WorkerError};

/// The generated SBE codecs this worker was built with.
pub use polybridge_codecs as codecs;
