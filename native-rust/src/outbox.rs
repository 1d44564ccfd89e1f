//! Replies that never block the poll loop: one outbox per reply stream, and flow control
//! instead of dropping when the outboxes fill up. A reply stream is a (reply channel, stream
//! id) pair: the worker's own channel for callers on its host, a caller's
//! `aeron:udp?endpoint=HOST:PORT` across hosts ([`StreamKey`]).
//!
//! A reply is offered at once when its stream's publication is ready and nothing is queued
//! before it; otherwise it is copied into that stream's outbox, and [`Outbox::do_work`]
//! (once per duty cycle) offers each stream's queued replies, in order, until one does not go,
//! never retrying in a loop.
//!
//! **Flow control.** When the outboxes hold more than their budget (more than
//! `max_queued_bytes` in all, or more than `reply_queue` replies on one stream),
//! [`Outbox::intake_paused`] says so and the worker stops polling its request stream: new
//! requests wait in the Aeron log, so clients feel back pressure on their publications, while
//! the loop keeps draining the outboxes, announcing and watching. Intake resumes once the
//! outboxes are down to half of both bounds (a low-water mark, so intake does not flap). A full
//! outbox never drops a reply: memory is bounded by the budget plus what is already being
//! answered when intake pauses (one poll's fragments and the pool's calls in hand).
//!
//! **Dropped by progress, not age.** A reply is dropped, and counted in `replies_dropped`, when
//! - its stream has made no progress (no successful offer) for `reply_timeout` while it had
//!   replies queued: a stuck subscriber (a stopped or killed client whose image lingers), a
//!   stream that never got a subscriber, or a publication still not added. All its queued
//!   replies go, and later ones too until an offer succeeds again;
//! - its stream had a subscriber that has gone (`NOT_CONNECTED` after being connected);
//! - it needs a new publication while `max_reply_streams` exist already, counting those closed
//!   less than [`PUBLICATION_LINGER`] ago;
//! - or Aeron refuses the frame itself, or the publication cannot be added.
//!
//! Publications are added asynchronously ([`ReplyTransport::add`], then polled each duty
//! cycle): a reply waits in its outbox meanwhile. A publication that has had no subscriber
//! for `reply_timeout`, with nothing left to send, is closed. Each publication is a log buffer
//! in the driver's shared memory (48 MiB with polybridge's 16 MiB IPC terms), which the driver
//! keeps for its publication linger after the close: a hostile flood of random reply stream ids
//! therefore makes at most `max_reply_streams` of them exist at once.
//!
//! Aeron is behind [`ReplyTransport`], so the outbox is tested without a media driver.

use crate::wire::ReplyTo;
use polybridge_codecs::error_code::ErrorCode;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

pub const DEFAULT_REPLY_QUEUE: usize = 1024;
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(1);
pub const DEFAULT_MAX_REPLY_STREAMS: usize = 64;
/// Bytes all outboxes together may hold before intake pauses: `reply_queue` frames of up to
/// 2 MiB on each of `max_reply_streams` streams would be far more memory than a worker should
/// ever take.
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 64 << 20;
/// How long a closed publication's log buffer is taken to stay in the driver's shared memory:
/// Aeron's default publication linger (5 s) and a margin, as in the Go worker.
pub const PUBLICATION_LINGER: Duration = Duration::from_secs(6);
/// Spare frame buffers kept for later copies, and the largest capacity kept.
const MAX_SPARE_BUFFERS: usize = 64;
const MAX_SPARE_CAPACITY: usize = 256 << 10;

/// Bounds of the outboxes; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Replies one stream's outbox may hold before intake pauses (`--reply-queue`).
    pub reply_queue: usize,
    /// How long a stream with replies queued may go without progress before they are dropped,
    /// and how long a publication may stay without a subscriber before it is closed
    /// (`--reply-timeout`).
    pub reply_timeout: Duration,
    /// Reply publications that may exist at once (`--max-reply-streams`).
    pub max_reply_streams: usize,
    /// Bytes all outboxes together may hold before intake pauses.
    pub max_queued_bytes: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            reply_queue: DEFAULT_REPLY_QUEUE,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
            max_reply_streams: DEFAULT_MAX_REPLY_STREAMS,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
        }
    }
}

/// What one offer of a frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    Sent,
    /// Back pressure or an administrative action: try again next duty cycle.
    BackPressured,
    /// No subscriber on the stream.
    NotConnected,
    /// This frame can never be sent (too long, for instance); the publication is fine.
    Rejected,
    /// The publication is closed or exhausted: it must be replaced.
    Unusable,
}

/// A reply stream: the caller's reply channel (`None`: the worker's own channel) and the
/// stream id on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub channel: Option<Arc<str>>,
    pub stream_id: i32,
}

impl StreamKey {
    pub fn of(reply_to: &ReplyTo) -> Self {
        Self { channel: reply_to.reply_channel.clone(), stream_id: reply_to.reply_stream_id }
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.channel {
            Some(channel) => write!(f, "stream {} on '{channel}'", self.stream_id),
            None => write!(f, "stream {}", self.stream_id),
        }
    }
}

/// How replies reach Aeron: the worker implements it with the Aeron C client, tests with
/// fakes. Every method must return at once.
pub trait ReplyTransport {
    /// A publication being added; dropping it gives up the add.
    type Adding;
    type Publication;
    type Error: fmt::Display;

    /// Starts adding a publication on `stream_id` of `channel` (a caller's checked
    /// `replyChannel`), or of the worker's own channel when `None`.
    fn add(&mut self, channel: Option<&str>, stream_id: i32) -> Result<Self::Adding, Self::Error>;
    /// The publication, once the driver has added it.
    fn poll_add(&mut self, adding: &Self::Adding) -> Result<Option<Self::Publication>, Self::Error>;
    fn offer(&mut self, publication: &Self::Publication, frame: &[u8]) -> Offered;
    fn is_connected(&mut self, publication: &Self::Publication) -> bool;
    fn close(&mut self, publication: Self::Publication);
}

/// Why a reply was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Undeliverable {
    #[error("reply stream id {0} is not a stream to reply on")]
    BadStream(i32),
    #[error("the reply stream made no progress for the reply timeout of {0:?} (a stuck or missing subscriber)")]
    Stalled(Duration),
    #[error("the reply stream's subscriber has gone")]
    SubscriberGone,
    #[error("{0} reply publications exist already, open or lingering after their close (--max-reply-streams)")]
    TooManyStreams(usize),
    #[error("cannot add the reply publication: {0}")]
    AddFailed(String),
    #[error("Aeron refused the frame of {0} bytes")]
    Rejected(usize),
    #[error("the worker stopped before it could be published")]
    Stopped,
}

struct Queued {
    reply_to: ReplyTo,
    code: ErrorCode,
    frame: Vec<u8>,
}

enum Link<T: ReplyTransport> {
    Adding(T::Adding),
    Ready(T::Publication),
    Closed,
}

struct Stream<T: ReplyTransport> {
    link: Link<T>,
    queue: VecDeque<Queued>,
    /// Whether a subscriber was ever seen: losing it then means the client has gone.
    connected_before: bool,
    /// Since when the stream has had no subscriber (or has been adding); `None` while connected.
    unconnected_since: Option<Instant>,
    /// Since when the stream has had replies queued without a successful offer: set when a
    /// reply is queued, moved to `now` by each successful offer, cleared when that empties the
    /// queue. Kept when a stall drops the queue, so that later replies to a stream that still
    /// makes no progress are dropped at once instead of pausing intake again.
    waiting_since: Option<Instant>,
}

impl<T: ReplyTransport> Stream<T> {
    fn stalled(&self, now: Instant, timeout: Duration) -> bool {
        self.waiting_since.is_some_and(|since| now.saturating_duration_since(since) >= timeout)
    }
}

/// Publishes replies, each stream through its own bounded outbox.
pub struct Outbox<T: ReplyTransport> {
    transport: T,
    config: OutboxConfig,
    streams: HashMap<StreamKey, Stream<T>>,
    /// When publications were closed, oldest first, while they may still linger.
    closed_at: VecDeque<Instant>,
    queued_bytes: usize,
    /// Since when intake has been paused (the outboxes over their budget).
    paused_since: Option<Instant>,
    pauses: u64,
    paused_total: Duration,
    spare: Vec<Vec<u8>>,
    sent: u64,
    dropped: u64,
    peak_streams: usize,
    /// Streams closed for having had no subscriber for the reply timeout, not yet taken.
    abandoned: Vec<StreamKey>,
    /// Lent responses dropped unpublished, not yet taken: nobody will release their loans.
    dropped_loans: Vec<(ReplyTo, LentRef)>,
}

impl<T: ReplyTransport> Outbox<T> {
    pub fn new(transport: T, config: OutboxConfig) -> Self {
        Self {
            transport,
            config,
            streams: HashMap::new(),
            closed_at: VecDeque::new(),
            queued_bytes: 0,
            paused_since: None,
            pauses: 0,
            paused_total: Duration::ZERO,
            spare: Vec::new(),
            sent: 0,
            dropped: 0,
            peak_streams: 0,
            abandoned: Vec::new(),
            dropped_loans: Vec::new(),
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn config(&self) -> OutboxConfig {
        self.config
    }

    /// The reply streams closed since the last call for having had no subscriber for the
    /// reply timeout (their readers are gone).
    pub fn take_abandoned(&mut self) -> Vec<StreamKey> {
        std::mem::take(&mut self.abandoned)
    }

    /// The lent responses dropped since the last call (never published): (reply address,
    /// (region id, region offset)) of each, whose loans the worker frees.
    pub fn take_dropped_loans(&mut self) -> Vec<(ReplyTo, LentRef)> {
        std::mem::take(&mut self.dropped_loans)
    }

    /// Replies published.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Replies dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Reply streams with a publication (or one being added) now.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Reply publications closed less than [`PUBLICATION_LINGER`] before `now`.
    pub fn lingering(&mut self, now: Instant) -> usize {
        while self.closed_at.front().is_some_and(|&at| now.saturating_duration_since(at) >= PUBLICATION_LINGER) {
            self.closed_at.pop_front();
        }
        self.closed_at.len()
    }

    /// The most reply streams that existed at once.
    pub fn peak_streams(&self) -> usize {
        self.peak_streams
    }

    /// Replies waiting in outboxes.
    pub fn queued(&self) -> usize {
        self.streams.values().map(|stream| stream.queue.len()).sum()
    }

    /// Bytes of replies waiting in outboxes.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.streams.values().all(|stream| stream.queue.is_empty())
    }

    /// Whether the outboxes are over their budget: the worker must not take new requests
    /// until this is false again (it keeps calling [`Outbox::do_work`]).
    pub fn intake_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// How many times intake has paused.
    pub fn intake_pauses(&self) -> u64 {
        self.pauses
    }

    /// How long intake has been paused in all, up to `now`.
    pub fn intake_paused_for(&self, now: Instant) -> Duration {
        self.paused_total + self.paused_since.map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// Publishes `frame` (a `Response` for `reply_to`) now if it can, else queues a copy.
    pub fn send(&mut self, reply_to: ReplyTo, code: ErrorCode, frame: &[u8], now: Instant) {
        let key = StreamKey::of(&reply_to);
        if key.stream_id <= 0 {
            self.drop_reply(reply_to, code, &Undeliverable::BadStream(key.stream_id), lent_ref(frame));
            return;
        }
        if !self.streams.contains_key(&key) {
            if let Err(why) = self.open(key.clone(), now) {
                self.drop_reply(reply_to, code, &why, lent_ref(frame));
                return;
            }
        }
        let Some(stream) = self.streams.get_mut(&key) else { return };
        if stream.queue.is_empty() {
            if let Link::Ready(publication) = &stream.link {
                match self.transport.offer(publication, frame) {
                    Offered::Sent => {
                        stream.connected_before = true;
                        stream.unconnected_since = None;
                        stream.waiting_since = None;
                        self.sent += 1;
                        return;
                    }
                    Offered::NotConnected if stream.connected_before => {
                        stream.unconnected_since.get_or_insert(now);
                        self.drop_reply(reply_to, code, &Undeliverable::SubscriberGone, lent_ref(frame));
                        return;
                    }
                    Offered::NotConnected | Offered::BackPressured => {}
                    Offered::Rejected => {
                        self.drop_reply(reply_to, code, &Undeliverable::Rejected(frame.len()), lent_ref(frame));
                        return;
                    }
                    Offered::Unusable => {
                        self.closed_at.push_back(now);
                        if let Err(why) = replace(&mut self.transport, stream, &key) {
                            self.drop_reply(reply_to, code, &why, lent_ref(frame));
                            self.remove(&key);
                            return;
                        }
                    }
                }
            }
        }
        let Some(stream) = self.streams.get_mut(&key) else { return };
        if stream.stalled(now, self.config.reply_timeout) {
            // Still no progress since its queue was dropped: this one would only wait as long.
            self.drop_reply(reply_to, code, &Undeliverable::Stalled(self.config.reply_timeout), lent_ref(frame));
            return;
        }
        let mut copy = self.spare.pop().unwrap_or_default();
        copy.extend_from_slice(frame);
        self.queued_bytes += copy.len();
        stream.waiting_since.get_or_insert(now);
        stream.queue.push_back(Queued { reply_to, code, frame: copy });
        let over_queue = stream.queue.len() > self.config.reply_queue;
        if over_queue || self.queued_bytes > self.config.max_queued_bytes {
            self.pause(now);
        }
    }

    /// One duty cycle: completes adds, offers each stream's queued replies (stopping at the
    /// first that does not go), drops the queues of streams without progress for the reply
    /// timeout, closes publications without a subscriber for the reply timeout, and pauses or
    /// resumes intake. Returns the amount of work done.
    pub fn do_work(&mut self, now: Instant) -> usize {
        let mut work = 0;
        let mut dropped: Vec<(ReplyTo, ErrorCode, Undeliverable, Option<LentRef>)> = Vec::new();
        let mut recycled: Vec<Vec<u8>> = Vec::new();
        let Self { transport, streams, config, queued_bytes, sent, closed_at, abandoned, .. } = self;
        streams.retain(|key, stream| {
            if let Link::Adding(adding) = &stream.link {
                match transport.poll_add(adding) {
                    Ok(Some(publication)) => {
                        stream.link = Link::Ready(publication);
                        work += 1;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        let why = Undeliverable::AddFailed(error.to_string());
                        for queued in stream.queue.drain(..) {
                            *queued_bytes -= queued.frame.len();
                            dropped.push((queued.reply_to, queued.code, why.clone(), lent_ref(&queued.frame)));
                            recycled.push(queued.frame);
                        }
                        return false;
                    }
                }
            }
            if let Link::Ready(publication) = &stream.link {
                if transport.is_connected(publication) {
                    stream.connected_before = true;
                    stream.unconnected_since = None;
                } else {
                    stream.unconnected_since.get_or_insert(now);
                }
                let mut replace_publication = false;
                let mut progressed = false;
                while let Some(queued) = stream.queue.front() {
                    match transport.offer(publication, &queued.frame) {
                        Offered::Sent => {
                            stream.connected_before = true;
                            stream.unconnected_since = None;
                            progressed = true;
                            *sent += 1;
                            work += 1;
                        }
                        Offered::BackPressured => break,
                        Offered::NotConnected if stream.connected_before => {
                            for queued in stream.queue.drain(..) {
                                *queued_bytes -= queued.frame.len();
                                dropped.push((queued.reply_to, queued.code, Undeliverable::SubscriberGone, lent_ref(&queued.frame)));
                                recycled.push(queued.frame);
                            }
                            break;
                        }
                        Offered::NotConnected => break,
                        Offered::Rejected => {
                            let why = Undeliverable::Rejected(queued.frame.len());
                            dropped.push((queued.reply_to.clone(), queued.code, why, lent_ref(&queued.frame)));
                        }
                        Offered::Unusable => {
                            replace_publication = true;
                            break;
                        }
                    }
                    if let Some(queued) = stream.queue.pop_front() {
                        *queued_bytes -= queued.frame.len();
                        recycled.push(queued.frame);
                    }
                }
                if progressed {
                    stream.waiting_since = if stream.queue.is_empty() { None } else { Some(now) };
                }
                if replace_publication {
                    closed_at.push_back(now);
                    if let Err(why) = replace(transport, stream, key) {
                        for queued in stream.queue.drain(..) {
                            *queued_bytes -= queued.frame.len();
                            dropped.push((queued.reply_to, queued.code, why.clone(), lent_ref(&queued.frame)));
                            recycled.push(queued.frame);
                        }
                        return false;
                    }
                }
            }
            // No progress for the reply timeout: a subscriber that is stuck (stopped, or killed
            // while its image lingers), one that never came, or an add that never completed.
            if !stream.queue.is_empty() && stream.stalled(now, config.reply_timeout) {
                for queued in stream.queue.drain(..) {
                    *queued_bytes -= queued.frame.len();
                    dropped.push((queued.reply_to, queued.code, Undeliverable::Stalled(config.reply_timeout), lent_ref(&queued.frame)));
                    recycled.push(queued.frame);
                }
            }
            let idle_too_long =
                stream.unconnected_since.is_some_and(|since| now.saturating_duration_since(since) >= config.reply_timeout);
            if stream.queue.is_empty() && idle_too_long {
                if close(transport, stream) {
                    closed_at.push_back(now);
                }
                abandoned.push(key.clone());
                return false;
            }
            true
        });
        for (reply_to, code, why, lent) in dropped {
            self.drop_reply(reply_to, code, &why, lent);
        }
        for frame in recycled {
            self.recycle(frame);
        }
        self.update_intake(now);
        work
    }

    /// Pauses intake (the outboxes are over their budget).
    fn pause(&mut self, now: Instant) {
        if self.paused_since.is_some() {
            return;
        }
        self.paused_since = Some(now);
        self.pauses += 1;
        let pauses = self.pauses;
        if pauses <= 10 || pauses.is_power_of_two() {
            log::info!(
                "taking no requests until the outboxes drain: {} replies ({} bytes) queued, over the budget of {} \
                 bytes or {} replies on one stream ({pauses} pauses so far)",
                self.queued(),
                self.queued_bytes,
                self.config.max_queued_bytes,
                self.config.reply_queue
            );
        }
    }

    /// Pauses intake when the outboxes are over their budget; resumes it once they are down to
    /// half of it (a low-water mark, so that intake does not flap at the edge).
    fn update_intake(&mut self, now: Instant) {
        let longest = self.streams.values().map(|stream| stream.queue.len()).max().unwrap_or(0);
        match self.paused_since {
            Some(since) => {
                if self.queued_bytes <= self.config.max_queued_bytes / 2 && longest <= self.config.reply_queue / 2 {
                    self.paused_since = None;
                    self.paused_total += now.saturating_duration_since(since);
                }
            }
            None => {
                if self.queued_bytes > self.config.max_queued_bytes || longest > self.config.reply_queue {
                    self.pause(now);
                }
            }
        }
    }

    /// Drops every queued reply (counted) and closes every publication.
    pub fn close(&mut self) {
        let streams: Vec<StreamKey> = self.streams.keys().cloned().collect();
        for key in streams {
            self.remove(&key);
        }
    }

    /// Adds a stream, unless `max_reply_streams` publications exist already (open, being
    /// added, or lingering in the driver after their close). None is closed to make room: a
    /// closed one lingers anyway, and one with a subscriber serves a real client.
    fn open(&mut self, key: StreamKey, now: Instant) -> Result<(), Undeliverable> {
        let existing = self.streams.len() + self.lingering(now);
        if existing >= self.config.max_reply_streams {
            return Err(Undeliverable::TooManyStreams(existing));
        }
        let adding = self
            .transport
            .add(key.channel.as_deref(), key.stream_id)
            .map_err(|error| Undeliverable::AddFailed(error.to_string()))?;
        self.streams.insert(
            key,
            Stream {
                link: Link::Adding(adding),
                queue: VecDeque::new(),
                connected_before: false,
                unconnected_since: Some(now),
                waiting_since: None,
            },
        );
        self.peak_streams = self.peak_streams.max(self.streams.len());
        Ok(())
    }

    /// Removes a stream: its queued replies are dropped (counted), its publication closed.
    fn remove(&mut self, key: &StreamKey) {
        let Some(mut stream) = self.streams.remove(key) else { return };
        for queued in std::mem::take(&mut stream.queue) {
            self.queued_bytes -= queued.frame.len();
            self.drop_reply(queued.reply_to, queued.code, &Undeliverable::Stopped, lent_ref(&queued.frame));
            self.recycle(queued.frame);
        }
        if close(&mut self.transport, &mut stream) {
            self.closed_at.push_back(Instant::now());
        }
    }

    fn recycle(&mut self, mut frame: Vec<u8>) {
        if self.spare.len() < MAX_SPARE_BUFFERS && frame.capacity() <= MAX_SPARE_CAPACITY {
            frame.clear();
            self.spare.push(frame);
        }
    }

    fn drop_reply(&mut self, reply_to: ReplyTo, code: ErrorCode, why: &Undeliverable, lent: Option<LentRef>) {
        if let Some(lent) = lent {
            self.dropped_loans.push((reply_to.clone(), lent));
        }
        self.dropped += 1;
        let dropped = self.dropped;
        if dropped <= 10 || dropped.is_power_of_two() {
            log::warn!(
                "reply {code:?} to correlation id {} on {} dropped: {why} ({dropped} dropped so far)",
                reply_to.correlation_id,
                StreamKey::of(&reply_to)
            );
        }
    }
}

/// (region id, region offset) of a lent response.
pub type LentRef = (i64, i64);

/// Where a `Response` frame's payload was lent, if it was: its `regionId` (0: inline) and
/// `regionOffset`, read from the fixed block (after correlationId and errorCode).
fn lent_ref(frame: &[u8]) -> Option<LentRef> {
    let i64_at = |at: usize| frame.get(at..at + 8).and_then(|b| b.try_into().ok()).map(i64::from_le_bytes);
    let template = frame.get(2..4).map(|b| u16::from_le_bytes([b[0], b[1]]));
    if template != Some(polybridge_codecs::response_codec::SBE_TEMPLATE_ID) {
        return None;
    }
    let at = crate::wire::HEADER_LENGTH + 9;
    match (i64_at(at), i64_at(at + 8)) {
        (Some(region_id), Some(offset)) if region_id != 0 => Some((region_id, offset)),
        _ => None,
    }
}

/// Closes a stream's publication (or gives up its add); returns whether there was one, which
/// now lingers in the driver.
fn close<T: ReplyTransport>(transport: &mut T, stream: &mut Stream<T>) -> bool {
    match std::mem::replace(&mut stream.link, Link::Closed) {
        Link::Ready(publication) => {
            transport.close(publication);
            true
        }
        // The driver may have added it already: count it as lingering too.
        Link::Adding(_) => true,
        Link::Closed => false,
    }
}

/// Replaces an unusable publication with a new one being added.
fn replace<T: ReplyTransport>(transport: &mut T, stream: &mut Stream<T>, key: &StreamKey) -> Result<(), Undeliverable> {
    let adding =
        transport.add(key.channel.as_deref(), key.stream_id).map_err(|error| Undeliverable::AddFailed(error.to_string()))?;
    if let Link::Ready(old) = std::mem::replace(&mut stream.link, Link::Adding(adding)) {
        transport.close(old);
    }
    stream.connected_before = false;
    Ok(())
}
