//! What the poll thread does with each frame and each duty cycle, Aeron aside: route the
//! frame, run an inline handler or hand the call to the pool, publish what comes back through
//! the outboxes, and stop. Nothing here blocks, so a duty cycle always ends quickly and the
//! worker keeps announcing itself. [`crate::worker`] wraps it in the Aeron loop; tests drive
//! it with a fake [`ReplyTransport`].

use crate::counters::Counters;
use crate::dispatcher::{Dispatcher, Routed};
use crate::outbox::{Outbox, ReplyTransport};
use crate::pool::{CancelOutcome, Pool};
use crate::region::LoanKey;
use crate::wire;
use polybridge_codecs::error_code::ErrorCode;
use std::time::Instant;

/// The poll thread's state: dispatcher, pool and outboxes.
pub struct Server<T: ReplyTransport> {
    dispatcher: Dispatcher,
    /// `None` when handlers run inline on the poll thread.
    pool: Option<Pool>,
    outbox: Outbox<T>,
    response: Vec<u8>,
    stopping: bool,
}

impl<T: ReplyTransport> Server<T> {
    pub fn new(dispatcher: Dispatcher, pool: Option<Pool>, outbox: Outbox<T>) -> Self {
        Self { dispatcher, pool, outbox, response: Vec::with_capacity(64 * 1024), stopping: false }
    }

    /// Handles one whole inbound message (`now`: when it was received).
    pub fn on_message(&mut self, frame: &[u8], now: Instant) {
        let mut response = std::mem::take(&mut self.response);
        match self.dispatcher.route(frame, &mut response) {
            Routed::Call(call) => {
                let reply_to = call.reply_to.clone();
                let code = if self.stopping {
                    let message = format!("handler '{}' not started: the worker is stopping", call.name);
                    let code = ErrorCode::WORKER_UNAVAILABLE;
                    wire::encode_response(&mut response, reply_to.correlation_id, code, &message, &[]);
                    Some(code)
                } else {
                    match self.pool.as_mut().filter(|_| !call.inline) {
                        Some(pool) => match pool.submit(&call, now) {
                            Ok(()) => None,
                            Err(rejected) => {
                                let message = rejected.to_string();
                                let code = ErrorCode::OVERLOADED;
                                wire::encode_response(&mut response, reply_to.correlation_id, code, &message, &[]);
                                Some(code)
                            }
                        },
                        None => Some(self.dispatcher.replies().run(&call, &call.inline_context(now), &mut response)),
                    }
                };
                if let Some(code) = code {
                    self.dispatcher.record(code);
                    self.outbox.send(reply_to, code, &response, now);
                }
            }
            Routed::Answered { reply_to, code } => self.outbox.send(reply_to, code, &response, now),
            Routed::Cancel(reply_to) => {
                match self.pool.as_mut().map_or(CancelOutcome::NotFound, |pool| pool.cancel(&reply_to)) {
                    CancelOutcome::Queued => {
                        self.dispatcher.record_cancelled();
                        let message = "cancelled by the caller before it started";
                        let code = ErrorCode::CANCELLED;
                        wire::encode_response(&mut response, reply_to.correlation_id, code, message, &[]);
                        self.dispatcher.record(code);
                        self.outbox.send(reply_to, code, &response, now);
                    }
                    // Its handler sees the cancel through its context and answers as it stops.
                    CancelOutcome::Running => self.dispatcher.record_cancelled(),
                    CancelOutcome::NotFound => {}
                }
            }
            Routed::Release(release) => {
                let key = LoanKey {
                    correlation_id: release.correlation_id,
                    reply_stream_id: release.reply_stream_id,
                    offset: release.region_offset,
                };
                match &self.dispatcher.replies().lending {
                    Some(lending) if release.region_id == lending.region.id() => {
                        lending.region.release(key);
                    }
                    // Another region, or this worker lends nothing: nothing to give back.
                    _ => self.dispatcher.record_bad_release(),
                }
            }
            Routed::Dropped(error) => {
                let dropped = self.dispatcher.counters().malformed_dropped;
                if dropped <= 10 || dropped.is_power_of_two() {
                    log::warn!("dropped a {}-byte frame: {error} ({dropped} dropped so far)", frame.len());
                }
            }
        }
        self.response = response;
    }

    /// One duty cycle's work besides polling: publishes what the pool has finished and works
    /// the outboxes. Returns the amount of work done.
    pub fn do_work(&mut self, now: Instant) -> usize {
        let mut work = 0;
        while let Some(completion) = self.pool.as_mut().and_then(Pool::try_complete) {
            work += 1;
            if let Some(code) = completion.code {
                self.dispatcher.record(code);
                self.outbox.send(completion.reply_to, code, &completion.frame, now);
            }
            if let Some(pool) = &self.pool {
                pool.recycle(completion.frame);
            }
        }
        work += self.outbox.do_work(now);
        // A reply stream closed for having had no subscriber: its client is gone, and with it
        // every response lent to it.
        for stream in self.outbox.take_abandoned() {
            if let (None, Some(lending)) = (&stream.channel, &self.dispatcher.replies().lending) {
                let freed = lending.region.release_stream(stream.stream_id);
                if freed > 0 {
                    log::info!("freed {freed} lent responses of {stream}: its reader is gone");
                }
            }
        }
        // A lent response dropped unpublished: its reader will never release it.
        for (reply_to, (region_id, offset)) in self.outbox.take_dropped_loans() {
            if let Some(lending) = self.dispatcher.replies().lending.as_ref().filter(|l| l.region.id() == region_id) {
                lending.region.forget(LoanKey {
                    correlation_id: reply_to.correlation_id,
                    reply_stream_id: reply_to.reply_stream_id,
                    offset,
                });
            }
        }
        self.dispatcher.evict_gone_regions(now);
        work
    }

    /// The first step of stopping: calls still queued for the pool are answered
    /// `WORKER_UNAVAILABLE`, and so is every call received from now on; running handlers
    /// finish. Keep calling [`Server::do_work`] until [`Server::is_drained`] (or a timeout).
    pub fn stop_taking_calls(&mut self) {
        self.stopping = true;
        if let Some(pool) = &mut self.pool {
            pool.stop_taking_calls();
        }
    }

    /// Whether the outboxes are over their budget: the poll loop then takes no requests (they
    /// wait in the Aeron log, and clients feel back pressure) and keeps calling
    /// [`Server::do_work`], which drains them. See [`crate::outbox`].
    pub fn intake_paused(&self) -> bool {
        self.outbox.intake_paused()
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// Calls admitted to the pool and not yet answered (queued, running, or finished and not
    /// yet taken by [`Server::do_work`]).
    pub fn in_flight(&self) -> usize {
        self.pool.as_ref().map_or(0, Pool::in_flight)
    }

    /// Nothing in flight and nothing waiting to be published.
    pub fn is_drained(&self) -> bool {
        self.in_flight() == 0 && self.outbox.is_empty()
    }

    /// Every counter, the outboxes' included.
    pub fn counters(&self) -> Counters {
        let mut counters = self.dispatcher.counters();
        counters.replies = self.outbox.sent();
        counters.replies_dropped = self.outbox.dropped();
        if let Some(lending) = &self.dispatcher.replies().lending {
            let lent = lending.region.counts();
            counters.loaned_responses = lent.loaned_responses;
            counters.loan_releases = lent.loan_releases;
            counters.bad_releases += lent.bad_releases;
            counters.region_full = lent.region_full;
        }
        counters
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    pub fn outbox(&self) -> &Outbox<T> {
        &self.outbox
    }

    /// The last step of stopping: replies still queued are dropped (counted), publications
    /// closed, and the pool let go without waiting for handlers still running.
    pub fn close(&mut self) {
        self.outbox.close();
        self.pool = None;
    }
}
