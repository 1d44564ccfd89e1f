//! Replies never block the poll loop: the outboxes and the server with a fake transport (no
//! media driver), time passed in by the test. `tests/worker_process.rs` does the same
//! against a real driver.

mod common;

use common::{decode_response, encode_cancel, encode_cancel_to, encode_request, encode_request_to, pattern};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::outbox::{Offered, ReplyTransport};
use polybridge_worker::wire::{FrameLimits, ReplyTo};
use polybridge_worker::{
    Context, Dispatcher, Handler, HandlerError, Outbox, OutboxConfig, Pool, PoolConfig, Registry, Reply, Server,
};
use proptest::collection::vec;
use proptest::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(1);

/// A reply stream as the fake driver sees it: the channel the worker asked for (`None`: its
/// own) and the stream id.
type Key = (Option<String>, i32);

fn own(stream: i32) -> Key {
    (None, stream)
}

/// What the fake driver saw, shared by the transport and its handles.
#[derive(Default)]
struct Driver {
    /// Streams with a subscriber.
    subscribed: HashSet<Key>,
    /// Offers a stream's publication takes before it is back-pressured (a slow or stuck
    /// subscriber); a stream not listed takes every offer.
    credit: HashMap<Key, usize>,
    /// Publications added (started), and those alive now (adding or open).
    adds: usize,
    live: usize,
    peak_live: usize,
    /// Frames published, per stream, in order.
    published: HashMap<Key, Vec<Vec<u8>>>,
    /// Polls an add takes before it completes.
    add_polls: u32,
}

type Shared = Rc<RefCell<Driver>>;

/// Counts a publication (adding or open) alive while it exists.
struct Token(Shared);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.borrow_mut().live -= 1;
    }
}

struct Adding {
    key: Key,
    polls_left: Cell<u32>,
    token: RefCell<Option<Token>>,
}

struct Publication {
    key: Key,
    _token: Token,
}

#[derive(Clone, Default)]
struct Fake(Shared);

impl Fake {
    fn subscribe(&self, stream: i32) {
        self.subscribe_on(own(stream));
    }

    fn subscribe_on(&self, key: Key) {
        self.0.borrow_mut().subscribed.insert(key);
    }

    /// Lets the stream's subscriber take `offers` more frames, then back-pressures it.
    fn credit(&self, stream: i32, offers: usize) {
        self.0.borrow_mut().credit.insert(own(stream), offers);
    }

    fn unsubscribe(&self, stream: i32) {
        self.0.borrow_mut().subscribed.remove(&own(stream));
    }

    fn published(&self, stream: i32) -> Vec<Vec<u8>> {
        self.published_on(&own(stream))
    }

    fn published_on(&self, key: &Key) -> Vec<Vec<u8>> {
        self.0.borrow().published.get(key).cloned().unwrap_or_default()
    }

    fn ids(&self, stream: i32) -> Vec<i64> {
        self.ids_on(&own(stream))
    }

    fn ids_on(&self, key: &Key) -> Vec<i64> {
        self.published_on(key).iter().map(|frame| decode_response(frame).correlation_id).collect()
    }
}

impl ReplyTransport for Fake {
    type Adding = Adding;
    type Publication = Publication;
    type Error = String;

    fn add(&mut self, channel: Option<&str>, stream: i32) -> Result<Adding, String> {
        let mut driver = self.0.borrow_mut();
        driver.adds += 1;
        driver.live += 1;
        driver.peak_live = driver.peak_live.max(driver.live);
        let polls = driver.add_polls;
        Ok(Adding {
            key: (channel.map(str::to_owned), stream),
            polls_left: Cell::new(polls),
            token: RefCell::new(Some(Token(Rc::clone(&self.0)))),
        })
    }

    fn poll_add(&mut self, adding: &Adding) -> Result<Option<Publication>, String> {
        if adding.polls_left.get() > 0 {
            adding.polls_left.set(adding.polls_left.get() - 1);
            return Ok(None);
        }
        let token = adding.token.borrow_mut().take().ok_or("polled after completion")?;
        Ok(Some(Publication { key: adding.key.clone(), _token: token }))
    }

    fn offer(&mut self, publication: &Publication, frame: &[u8]) -> Offered {
        let mut driver = self.0.borrow_mut();
        if !driver.subscribed.contains(&publication.key) {
            Offered::NotConnected
        } else if driver.credit.get(&publication.key) == Some(&0) {
            Offered::BackPressured
        } else {
            if let Some(credit) = driver.credit.get_mut(&publication.key) {
                *credit -= 1;
            }
            driver.published.entry(publication.key.clone()).or_default().push(frame.to_vec());
            Offered::Sent
        }
    }

    fn is_connected(&mut self, publication: &Publication) -> bool {
        self.0.borrow().subscribed.contains(&publication.key)
    }

    fn close(&mut self, publication: Publication) {
        drop(publication);
    }
}

/// A response frame for `correlation_id`.
fn response(correlation_id: i64) -> Vec<u8> {
    let mut frame = Vec::new();
    polybridge_worker::wire::encode_response(&mut frame, correlation_id, ErrorCode::OK, "", b"r");
    frame
}

fn to(stream: i32, correlation_id: i64) -> ReplyTo {
    ReplyTo::new(correlation_id, stream)
}

fn outbox(max_reply_streams: usize, reply_queue: usize) -> (Outbox<Fake>, Fake) {
    outbox_with(OutboxConfig { reply_queue, reply_timeout: TIMEOUT, max_reply_streams, ..OutboxConfig::default() })
}

fn outbox_with(config: OutboxConfig) -> (Outbox<Fake>, Fake) {
    let fake = Fake::default();
    (Outbox::new(fake.clone(), config), fake)
}

/// An outbox with a publication to `stream` ready and connected.
fn connected(outbox: &mut Outbox<Fake>, fake: &Fake, stream: i32, now: Instant) {
    fake.subscribe(stream);
    outbox.send(to(stream, 0), ErrorCode::OK, &response(0), now);
    outbox.do_work(now);
    outbox.do_work(now);
    assert_eq!(fake.ids(stream), [0]);
}

#[test]
fn a_reply_to_a_stream_without_a_subscriber_does_not_delay_the_next_reply_and_is_dropped_after_the_timeout() {
    let (mut outbox, fake) = outbox(64, 1024);
    fake.subscribe(7);
    let t0 = Instant::now();
    outbox.send(to(5, 1), ErrorCode::OK, &response(1), t0);
    outbox.send(to(7, 2), ErrorCode::OK, &response(2), t0);
    // Two duty cycles at the same instant: the adds complete, the reply to 7 goes out.
    outbox.do_work(t0);
    outbox.do_work(t0);
    assert_eq!(fake.ids(7), [2]);
    assert_eq!((outbox.sent(), outbox.dropped(), outbox.queued()), (1, 0, 1), "the reply to 5 waits");
    // Once a publication is ready and has its subscriber, replies go out at once.
    outbox.send(to(7, 3), ErrorCode::OK, &response(3), t0);
    assert_eq!(fake.ids(7), [2, 3]);

    outbox.do_work(t0 + TIMEOUT);
    assert_eq!((outbox.sent(), outbox.dropped(), outbox.queued()), (2, 1, 0), "dropped after the reply timeout");
    assert_eq!(outbox.streams(), 1, "the publication without a subscriber is closed");
    assert_eq!(fake.0.borrow().live, 1);
}

#[test]
fn a_reply_that_arrives_while_its_publication_is_being_added_waits_for_it() {
    let (mut outbox, fake) = outbox(64, 1024);
    fake.0.borrow_mut().add_polls = 3;
    fake.subscribe(9);
    let t0 = Instant::now();
    outbox.send(to(9, 1), ErrorCode::OK, &response(1), t0);
    outbox.send(to(9, 2), ErrorCode::OK, &response(2), t0);
    for _ in 0..3 {
        outbox.do_work(t0);
        assert!(fake.ids(9).is_empty());
    }
    outbox.do_work(t0 + Duration::from_millis(1));
    assert_eq!(fake.ids(9), [1, 2], "in order, once added");
    assert_eq!(fake.0.borrow().adds, 1);
}

#[test]
fn reply_streams_zero_and_below_are_never_published_to() {
    let (mut outbox, fake) = outbox(64, 1024);
    let t0 = Instant::now();
    for (id, stream) in [(1, 0), (2, -1), (3, i32::MIN)] {
        outbox.send(to(stream, id), ErrorCode::OK, &response(id), t0);
    }
    outbox.do_work(t0);
    assert_eq!((outbox.sent(), outbox.dropped(), outbox.streams()), (0, 3, 0));
    assert_eq!(fake.0.borrow().adds, 0);
}

#[test]
fn a_flood_of_random_reply_streams_holds_at_most_max_reply_streams_publications() {
    let (mut outbox, fake) = outbox(8, 1024);
    fake.subscribe(1000);
    let mut now = Instant::now();
    outbox.send(to(1000, 0), ErrorCode::OK, &response(0), now);
    outbox.do_work(now);
    outbox.do_work(now);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let flood = 20_000;
    for i in 1..=flood {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let stream = i32::try_from(rng % 2_000_000_000).unwrap() + 1;
        outbox.send(to(stream, i), ErrorCode::OK, &response(i), now);
        if i % 10 == 0 {
            // The real client keeps being answered at once.
            outbox.send(to(1000, i), ErrorCode::OK, &response(i), now);
            outbox.do_work(now);
            now += Duration::from_millis(1);
        }
        assert!(fake.0.borrow().live <= 8, "{} publications alive", fake.0.borrow().live);
    }
    let driver = fake.0.borrow();
    assert!(driver.peak_live <= 8);
    assert_eq!(outbox.peak_streams(), 8);
    // 2 s of flood: closed publications linger in the driver for 6 s and count, so no more
    // than the cap were ever added.
    assert_eq!(driver.adds, 8, "publications added");
    assert_eq!(fake.ids(1000).len(), 1 + flood as usize / 10, "every reply to the real client went out");
    drop(driver);
    // Once the closed ones have lingered, there is room again.
    now += Duration::from_secs(7);
    outbox.do_work(now);
    assert!(outbox.streams() < 8);
    outbox.send(to(77, -1), ErrorCode::OK, &response(-1), now);
    assert_eq!(fake.0.borrow().adds, 9);
    assert_eq!(outbox.sent() + outbox.dropped() + outbox.queued() as u64, flood as u64 + 2 + flood as u64 / 10);
}

#[test]
fn a_slow_but_progressing_subscriber_never_loses_a_reply_and_intake_pauses_instead() {
    let (mut outbox, fake) = outbox(64, 8);
    let mut now = Instant::now();
    connected(&mut outbox, &fake, 4, now);
    fake.credit(4, 0);
    for id in 1..=100 {
        outbox.send(to(4, id), ErrorCode::OK, &response(id), now);
        if id == 8 {
            assert!(!outbox.intake_paused(), "8 replies are within --reply-queue");
        }
    }
    assert!(outbox.intake_paused(), "over --reply-queue: intake pauses");
    assert_eq!((outbox.queued(), outbox.dropped()), (100, 0), "a full outbox drops nothing");
    // The subscriber takes one reply per 0.9 reply timeout: 90 timeouts' worth of waiting in
    // all, and nothing is lost, because the stream keeps progressing.
    let mut resumed_at = None;
    while outbox.queued() > 0 {
        now += TIMEOUT * 9 / 10;
        fake.credit(4, 1);
        outbox.do_work(now);
        assert_eq!(outbox.dropped(), 0, "dropped with {} queued", outbox.queued());
        if !outbox.intake_paused() && resumed_at.is_none() {
            resumed_at = Some(outbox.queued());
        }
    }
    assert_eq!(fake.ids(4), (0..=100).collect::<Vec<_>>(), "every reply, in order");
    assert_eq!(resumed_at, Some(4), "intake resumes at half of --reply-queue, not at its edge");
    assert_eq!(outbox.intake_pauses(), 1);
    // Back to normal: replies go out at once.
    fake.0.borrow_mut().credit.remove(&own(4));
    outbox.send(to(4, 101), ErrorCode::OK, &response(101), now);
    assert_eq!((outbox.sent(), outbox.queued(), outbox.dropped()), (102, 0, 0));
}

#[test]
fn the_byte_budget_of_all_outboxes_together_pauses_intake_until_they_are_down_to_half() {
    let frame_len = response(0).len();
    let config = OutboxConfig {
        reply_queue: 1024,
        reply_timeout: TIMEOUT,
        max_reply_streams: 64,
        max_queued_bytes: 10 * frame_len,
    };
    let (mut outbox, fake) = outbox_with(config);
    let now = Instant::now();
    for stream in 1..=3 {
        connected(&mut outbox, &fake, stream, now);
        fake.credit(stream, 0);
    }
    // Six replies to stream 3, then three each to streams 1 and 2.
    for id in 1..=12 {
        let stream = if id <= 6 { 3 } else { 1 + id as i32 % 2 };
        outbox.send(to(stream, id), ErrorCode::OK, &response(id), now);
        assert_eq!(outbox.intake_paused(), id > 10, "after {id} replies of {frame_len} bytes");
    }
    // Streams 1 and 2 drain; stream 3 keeps its 6, still more than half the budget.
    fake.0.borrow_mut().credit.retain(|key, _| *key == own(3));
    outbox.do_work(now);
    assert_eq!(outbox.queued(), 6);
    assert!(outbox.intake_paused());
    fake.credit(3, 1);
    outbox.do_work(now);
    assert!(!outbox.intake_paused(), "5 frames of a budget of 10: resumed");
    assert_eq!((outbox.dropped(), outbox.intake_pauses()), (0, 1));
}

#[test]
fn a_stuck_stream_is_dropped_after_the_reply_timeout_and_intake_resumes() {
    let (mut outbox, fake) = outbox(64, 8);
    let t0 = Instant::now();
    connected(&mut outbox, &fake, 4, t0);
    connected(&mut outbox, &fake, 5, t0);
    // A stopped (or killed) client whose image lingers: connected, but it never takes a frame.
    fake.credit(4, 0);
    for id in 1..=20 {
        outbox.send(to(4, id), ErrorCode::OK, &response(id), t0);
    }
    assert!(outbox.intake_paused());
    outbox.do_work(t0 + TIMEOUT - Duration::from_millis(1));
    assert_eq!((outbox.queued(), outbox.dropped()), (20, 0), "not before the reply timeout");
    assert!(outbox.intake_paused());
    // Another client is still answered meanwhile (its replies come from calls already in hand).
    outbox.send(to(5, 100), ErrorCode::OK, &response(100), t0 + TIMEOUT - Duration::from_millis(1));
    assert_eq!(fake.ids(5), [0, 100]);

    let t1 = t0 + TIMEOUT;
    outbox.do_work(t1);
    assert_eq!((outbox.queued(), outbox.dropped()), (0, 20), "no progress for the reply timeout: dropped");
    assert!(!outbox.intake_paused(), "and intake resumes");
    // Still stuck: a later reply to it is dropped at once rather than pausing intake again.
    outbox.send(to(4, 21), ErrorCode::OK, &response(21), t1);
    assert_eq!((outbox.queued(), outbox.dropped()), (0, 21));
    assert_eq!(outbox.streams(), 2, "its publication stays: the client may resume");
    // Once it takes a frame again, it is served as before.
    fake.0.borrow_mut().credit.remove(&own(4));
    outbox.send(to(4, 22), ErrorCode::OK, &response(22), t1 + Duration::from_millis(1));
    fake.credit(4, 0);
    outbox.send(to(4, 23), ErrorCode::OK, &response(23), t1 + Duration::from_millis(2));
    assert_eq!((outbox.queued(), outbox.dropped()), (1, 21), "queued again: the stream made progress");
    assert_eq!(fake.ids(4), [0, 22]);
}

#[test]
fn a_stream_that_never_gets_a_subscriber_is_dropped_after_the_reply_timeout_and_intake_resumes() {
    let (mut outbox, _fake) = outbox(64, 2);
    let t0 = Instant::now();
    for id in 1..=5 {
        outbox.send(to(6, id), ErrorCode::OK, &response(id), t0);
    }
    assert!(outbox.intake_paused());
    outbox.do_work(t0);
    outbox.do_work(t0 + TIMEOUT / 2);
    assert_eq!((outbox.queued(), outbox.dropped()), (5, 0));
    outbox.do_work(t0 + TIMEOUT);
    assert_eq!((outbox.queued(), outbox.dropped(), outbox.streams()), (0, 5, 0), "dropped, publication closed");
    assert!(!outbox.intake_paused());
}

#[test]
fn replies_to_a_client_that_has_gone_are_dropped_at_once() {
    let (mut outbox, fake) = outbox(64, 1024);
    fake.subscribe(3);
    let t0 = Instant::now();
    outbox.send(to(3, 1), ErrorCode::OK, &response(1), t0);
    outbox.do_work(t0);
    outbox.do_work(t0);
    assert_eq!(fake.ids(3), [1]);
    fake.unsubscribe(3);
    outbox.send(to(3, 2), ErrorCode::OK, &response(2), t0);
    assert_eq!((outbox.queued(), outbox.dropped()), (0, 1));
    outbox.do_work(t0 + Duration::from_millis(1));
    assert_eq!(outbox.streams(), 1, "kept for the reply timeout: the client may come back");
    outbox.do_work(t0 + Duration::from_millis(1) + TIMEOUT);
    assert_eq!(outbox.streams(), 0, "then closed");
}

#[test]
fn closing_drops_what_is_queued_and_closes_every_publication() {
    let (mut outbox, fake) = outbox(64, 1024);
    let t0 = Instant::now();
    for id in 1..=3 {
        outbox.send(to(id as i32, id), ErrorCode::OK, &response(id), t0);
    }
    outbox.do_work(t0);
    outbox.close();
    assert_eq!((outbox.queued(), outbox.dropped(), outbox.streams()), (0, 3, 0));
    assert_eq!(fake.0.borrow().live, 0);
}

/// A handler that counts its starts and waits until its gate opens.
struct Gated(Arc<(Mutex<bool>, Condvar)>, Arc<AtomicUsize>);

impl Handler for Gated {
    fn handle(&self, _: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        let (open, opened) = &*self.0;
        let mut open = open.lock().unwrap();
        while !*open {
            open = opened.wait(open).unwrap();
        }
        reply.write(payload);
        Ok(())
    }
}

fn server(registry: Registry, pool_size: usize, queue_depth: usize, max_reply_streams: usize) -> (Server<Fake>, Fake) {
    let dispatcher = Dispatcher::new(Arc::new(registry));
    let pool = Pool::start(PoolConfig { size: pool_size, queue_depth }, FrameLimits::UNLIMITED, std::thread::current()).unwrap();
    let fake = Fake::default();
    let config = OutboxConfig { reply_queue: 1024, reply_timeout: TIMEOUT, max_reply_streams, ..OutboxConfig::default() };
    (Server::new(dispatcher, Some(pool), Outbox::new(fake.clone(), config)), fake)
}

/// Runs duty cycles until `done`, for at most a minute (so a bug fails instead of hanging).
fn work_until(server: &mut Server<Fake>, mut done: impl FnMut(&Server<Fake>) -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done(server) {
        assert!(Instant::now() < give_up, "not done within a minute");
        if server.do_work(Instant::now()) == 0 {
            std::thread::park_timeout(Duration::from_millis(5));
        }
    }
}

fn codes(fake: &Fake, stream: i32) -> Vec<(i64, ErrorCode)> {
    let mut codes: Vec<(i64, ErrorCode)> = fake
        .published(stream)
        .iter()
        .map(|frame| decode_response(frame))
        .map(|r| (r.correlation_id, r.code))
        .collect();
    codes.sort_by_key(|(id, _)| *id);
    codes
}

#[test]
fn at_shutdown_queued_calls_are_answered_worker_unavailable_and_the_running_one_finishes() {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let mut registry = Registry::with_builtin();
    let started = Arc::new(AtomicUsize::new(0));
    registry.register("gated", Gated(Arc::clone(&gate), Arc::clone(&started))).unwrap();
    let (mut server, fake) = server(registry, 1, 8, 64);
    fake.subscribe(1001);
    let now = Instant::now();
    for id in 1..=4 {
        server.on_message(&encode_request(id, 0, 1001, "gated", b"g"), now);
    }
    assert_eq!(server.in_flight(), 4);
    work_until(&mut server, |_| started.load(Ordering::SeqCst) == 1);
    server.stop_taking_calls();
    // Calls 2..4 never started: answered at once, while 1 still runs.
    work_until(&mut server, |_| fake.published(1001).len() == 3);
    assert_eq!(codes(&fake, 1001), [2, 3, 4].map(|id| (id, ErrorCode::WORKER_UNAVAILABLE)));
    // Calls arriving while draining are answered at once too, inline ones included.
    server.on_message(&encode_request(5, 0, 1001, "gated", b"g"), Instant::now());
    server.on_message(&encode_request(6, 0, 1001, "echo", b"e"), Instant::now());
    assert!(!server.is_drained());
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    work_until(&mut server, Server::is_drained);
    let expected = [
        (1, ErrorCode::OK),
        (2, ErrorCode::WORKER_UNAVAILABLE),
        (3, ErrorCode::WORKER_UNAVAILABLE),
        (4, ErrorCode::WORKER_UNAVAILABLE),
        (5, ErrorCode::WORKER_UNAVAILABLE),
        (6, ErrorCode::WORKER_UNAVAILABLE),
    ];
    assert_eq!(codes(&fake, 1001), expected);
    let counters = server.counters();
    assert_eq!((counters.requests, counters.replies, counters.unavailable, counters.ok), (6, 6, 5, 1));
    assert_eq!(started.load(Ordering::SeqCst), 1, "no queued call ran");
}

const CLIENT_A: &str = "aeron:udp?endpoint=10.42.0.1:41000";
const CLIENT_B: &str = "aeron:udp?endpoint=10.42.0.3:41000";

fn udp(channel: &str, stream: i32) -> Key {
    (Some(channel.to_owned()), stream)
}

#[test]
fn replies_on_one_stream_id_to_different_channels_each_get_their_own_publication() {
    let (mut outbox, fake) = outbox(8, 16);
    for key in [own(1001), udp(CLIENT_A, 1001), udp(CLIENT_B, 1001)] {
        fake.subscribe_on(key);
    }
    let now = Instant::now();
    outbox.send(to(1001, 1), ErrorCode::OK, &response(1), now);
    outbox.send(ReplyTo::on(2, 1001, CLIENT_A), ErrorCode::OK, &response(2), now);
    outbox.send(ReplyTo::on(3, 1001, CLIENT_B), ErrorCode::OK, &response(3), now);
    outbox.send(ReplyTo::on(4, 1001, CLIENT_A), ErrorCode::OK, &response(4), now);
    outbox.do_work(now);
    outbox.do_work(now);
    assert_eq!(outbox.streams(), 3);
    assert_eq!(fake.ids_on(&own(1001)), [1]);
    assert_eq!(fake.ids_on(&udp(CLIENT_A, 1001)), [2, 4]);
    assert_eq!(fake.ids_on(&udp(CLIENT_B, 1001)), [3]);
}

#[test]
fn max_reply_streams_bounds_publications_on_all_channels_together() {
    let (mut outbox, fake) = outbox(2, 16);
    let now = Instant::now();
    outbox.send(to(1001, 1), ErrorCode::OK, &response(1), now);
    outbox.send(ReplyTo::on(2, 1001, CLIENT_A), ErrorCode::OK, &response(2), now);
    outbox.send(ReplyTo::on(3, 1001, CLIENT_B), ErrorCode::OK, &response(3), now);
    assert_eq!(outbox.streams(), 2);
    assert_eq!(outbox.dropped(), 1, "a third channel needs a third publication");
    assert_eq!(fake.0.borrow().adds, 2);
}

#[test]
fn a_udp_call_is_answered_on_its_channel_and_cancelled_only_by_a_cancel_naming_that_channel() {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let mut registry = Registry::with_builtin();
    let started = Arc::new(AtomicUsize::new(0));
    registry.register("gated", Gated(Arc::clone(&gate), Arc::clone(&started))).unwrap();
    let (mut server, fake) = server(registry, 1, 8, 64);
    fake.subscribe_on(udp(CLIENT_A, 1001));
    fake.subscribe(1001);
    let now = Instant::now();
    // 1 runs (and holds the only thread); 2 waits in the queue.
    server.on_message(&encode_request_to(1, 0, 1001, &[], CLIENT_A, "gated", b"g"), now);
    server.on_message(&encode_request_to(2, 0, 1001, &[], CLIENT_A, "gated", b"g"), now);
    work_until(&mut server, |_| started.load(Ordering::SeqCst) == 1);
    // The same id and stream on another channel is another call: nothing happens.
    server.on_message(&encode_cancel(2, 1001), now);
    server.on_message(&encode_cancel_to(2, 1001, CLIENT_B), now);
    assert!(fake.published_on(&udp(CLIENT_A, 1001)).is_empty());
    server.on_message(&encode_cancel_to(2, 1001, CLIENT_A), now);
    work_until(&mut server, |_| fake.published_on(&udp(CLIENT_A, 1001)).len() == 1);
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    work_until(&mut server, |_| fake.published_on(&udp(CLIENT_A, 1001)).len() == 2);
    let mut answers: Vec<(i64, ErrorCode)> = fake
        .published_on(&udp(CLIENT_A, 1001))
        .iter()
        .map(|frame| decode_response(frame))
        .map(|r| (r.correlation_id, r.code))
        .collect();
    answers.sort_by_key(|(id, _)| *id);
    assert_eq!(answers, [(1, ErrorCode::OK), (2, ErrorCode::CANCELLED)]);
    assert!(fake.published(1001).is_empty(), "nothing went to the worker's own channel");
}

/// Hostile frames: random bytes, mutated and truncated requests, lying lengths, reply
/// streams that are zero, negative, random or real, duplicated correlation ids, enormous
/// handler names, cancels.
fn hostile_frame() -> impl Strategy<Value = Vec<u8>> {
    let stream = prop_oneof![Just(0), Just(-1), Just(i32::MIN), Just(7), Just(7), 1..5i32, any::<i32>()];
    let name = prop_oneof![
        Just("echo".to_owned()),
        Just("html.signals".to_owned()),
        Just("nope".to_owned()),
        Just("x".repeat(65_000)),
        "\\PC{0,12}",
    ];
    let request = (0..4i64, any::<i64>(), stream.clone(), name, vec(any::<u8>(), 0..200))
        .prop_map(|(id, timeout, stream, name, payload)| encode_request(id, timeout.max(0), stream, &name, &payload));
    let mutated = (request.clone(), vec((any::<usize>(), any::<u8>()), 1..4), any::<usize>()).prop_map(
        |(mut frame, edits, cut)| {
            for (at, byte) in edits {
                let at = at % frame.len();
                frame[at] = byte;
            }
            frame.truncate(cut % (frame.len() + 1));
            frame
        },
    );
    prop_oneof![
        3 => request,
        3 => mutated,
        1 => (0..4i64, stream).prop_map(|(id, stream)| encode_cancel(id, stream)),
        1 => vec(any::<u8>(), 0..64),
        1 => Just(encode_request(1, 0, 7, "echo", &pattern(100_000))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_frame_panics_or_blocks_the_poll_loop_and_every_answer_is_accounted_for(frames in vec(hostile_frame(), 1..60)) {
        let (mut server, fake) = server(Registry::with_builtin(), 1, 4, 4);
        fake.subscribe(7);
        let mut slowest = Duration::ZERO;
        for frame in &frames {
            let started = Instant::now();
            server.on_message(frame, started);
            server.do_work(Instant::now());
            slowest = slowest.max(started.elapsed());
            prop_assert!(fake.0.borrow().live <= 4);
        }
        // Generous: a duty cycle never waits for anything, so it takes microseconds.
        prop_assert!(slowest < Duration::from_millis(500), "a frame took {:?}", slowest);
        server.stop_taking_calls();
        work_until(&mut server, |s| s.in_flight() == 0);
        server.close();
        let c = server.counters();
        // Exactly one answer per well-formed request (CANCELLED for one cancelled while
        // queued) and per answered malformed frame; each published or dropped, never lost.
        prop_assert_eq!(c.replies + c.replies_dropped, c.requests + c.malformed_replied);
        let published: usize = fake.0.borrow().published.values().map(Vec::len).sum();
        prop_assert_eq!(published as u64, c.replies);
        prop_assert!(fake.0.borrow().published.keys().all(|(_, stream)| *stream > 0));
        prop_assert_eq!(fake.0.borrow().live, 0);
    }
}

#[test]
fn lent_responses_that_are_dropped_and_streams_closed_without_a_subscriber_are_reported_for_their_loans() {
    let (mut outbox, fake) = outbox(64, 1024);
    let t0 = Instant::now();
    connected(&mut outbox, &fake, 4, t0);
    // A stuck client: its lent response is dropped after the reply timeout, never published.
    fake.credit(4, 0);
    let mut lent = Vec::new();
    let region = polybridge_worker::wire::RegionRef { region_id: 0x1234_0000_0001, offset: 8192, length: 70_000 };
    polybridge_worker::wire::encode_region_response(&mut lent, 1, region);
    outbox.send(to(4, 1), ErrorCode::OK, &lent, t0);
    outbox.send(to(4, 2), ErrorCode::OK, &response(2), t0);
    outbox.do_work(t0 + TIMEOUT);
    assert_eq!(outbox.dropped(), 2);
    assert_eq!(outbox.take_dropped_loans(), vec![(to(4, 1), (region.region_id, region.offset))], "the inline one is not a loan");
    assert!(outbox.take_dropped_loans().is_empty(), "taken once");

    // A client gone: its stream is closed once it has had no subscriber for the reply timeout.
    fake.unsubscribe(4);
    outbox.do_work(t0 + TIMEOUT + Duration::from_millis(1));
    outbox.do_work(t0 + 2 * TIMEOUT + Duration::from_millis(2));
    let abandoned = outbox.take_abandoned();
    assert_eq!(abandoned.iter().map(|key| key.stream_id).collect::<Vec<_>>(), [4]);
}
