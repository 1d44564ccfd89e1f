//! The worker binary over UDP on loopback against a real media driver (see `common/driver.rs`;
//! skipped with a message when no Java driver is found): requests on `--request-channel`,
//! announcements on a dynamic MDC `--announce-channel` carrying that request channel, replies
//! to each caller's `replyChannel` exactly once, an invalid `replyChannel` answered
//! `BAD_REQUEST` on the worker's own (IPC) channel, and a `Cancel` that finds its call by
//! (channel, stream, id). Terms are 64 KiB everywhere so the test needs little shared memory.

mod common;

use common::driver::{MediaDriver, Worker};
use common::{decode_response, encode_cancel_to, encode_request_to, DecodedResponse};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::codecs::message_header_codec::MessageHeaderDecoder;
use polybridge_worker::codecs::worker_announcement_codec::WorkerAnnouncementDecoder;
use polybridge_worker::codecs::ReadBuf;
use rusteron_client::{
    Aeron, AeronContext, AeronFragmentClosureAssembler, AeronHeader, AeronPublication, AeronSubscription, Handlers,
    AERON_IPC_STREAM,
};
use std::collections::HashMap;
use std::ffi::CString;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const REQUESTS: i32 = 200;
const REPLIES: i32 = 1000;
const CONTROL: i32 = 10;
const STARTUP: Duration = Duration::from_secs(30);
const TERM: &str = "term-length=64k";

/// A UDP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|socket| socket.local_addr()).expect("a free UDP port").port()
}

/// Every response received, in order, with duplicates kept.
#[derive(Default)]
struct Received(Vec<DecodedResponse>);

fn on_response(received: &mut Received, frame: &[u8], _: AeronHeader) {
    received.0.push(decode_response(frame));
}

/// The `requestChannel` of each announcement heard.
fn on_announcement(channels: &mut Vec<String>, frame: &[u8], _: AeronHeader) {
    let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(frame), 0);
    let decoder = WorkerAnnouncementDecoder::default().header(header, 0);
    let mut handlers = decoder.handlers_decoder();
    while handlers.advance().expect("handlers").is_some() {
        handlers.name_decoder();
    }
    let mut decoder = handlers.parent().expect("announcement");
    decoder.worker_id_decoder();
    let (at, len) = decoder.request_channel_decoder();
    channels.push(String::from_utf8(frame[at..at + len].to_vec()).expect("UTF-8"));
}

/// A client on the same driver that talks to the worker only over UDP (and listens on the
/// worker's own IPC reply stream too, where nothing but refusals should arrive).
struct UdpClient {
    aeron: Aeron,
    replies: AeronSubscription,
    own_replies: AeronSubscription,
    assembler: AeronFragmentClosureAssembler,
    own_assembler: AeronFragmentClosureAssembler,
    received: Received,
    received_on_own: Received,
}

impl UdpClient {
    fn connect(dir: &str, reply_channel: &str) -> Self {
        let context = AeronContext::new().expect("context");
        context.set_dir(&CString::new(dir).unwrap()).expect("dir");
        context.set_error_handler(Some(|_: i32, _: &str| {})).expect("error handler");
        let aeron = Aeron::new(&context).expect("connect to the media driver");
        aeron.start().expect("start the client");
        let subscribe = |channel: &str, stream| {
            aeron
                .async_add_subscription(&CString::new(channel).unwrap(), stream, Handlers::NONE, Handlers::NONE)
                .and_then(|add| add.poll_blocking(STARTUP))
                .expect("subscription")
        };
        let replies = subscribe(reply_channel, REPLIES);
        let own_replies = subscribe(AERON_IPC_STREAM.to_str().unwrap(), REPLIES);
        Self {
            replies,
            own_replies,
            aeron,
            assembler: AeronFragmentClosureAssembler::new().expect("assembler"),
            own_assembler: AeronFragmentClosureAssembler::new().expect("assembler"),
            received: Received::default(),
            received_on_own: Received::default(),
        }
    }

    fn subscribe(&self, channel: &str, stream: i32) -> AeronSubscription {
        self.aeron
            .async_add_subscription(&CString::new(channel).unwrap(), stream, Handlers::NONE, Handlers::NONE)
            .and_then(|add| add.poll_blocking(STARTUP))
            .expect("subscription")
    }

    fn publish(&self, channel: &str) -> AeronPublication {
        self.aeron
            .async_add_publication(&CString::new(channel).unwrap(), REQUESTS)
            .and_then(|add| add.poll_blocking(STARTUP))
            .expect("publication")
    }

    fn poll(&mut self) -> i32 {
        let udp = self.assembler.poll(&self.replies, &mut self.received, on_response, 10).expect("poll");
        let own = self.own_assembler.poll(&self.own_replies, &mut self.received_on_own, on_response, 10).expect("poll");
        udp + own
    }

    /// Polls until `done` (or fails after `timeout`, showing what the worker said).
    fn poll_until(&mut self, worker: &Worker, timeout: Duration, what: &str, done: impl Fn(&Self) -> bool) {
        let give_up = Instant::now() + timeout;
        while !done(self) {
            assert!(Instant::now() < give_up, "{what}: not within {timeout:?}; worker stderr:\n{}", worker.stderr());
            if self.poll() == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }

    /// Polls for `period` more, so that a duplicate would have arrived.
    fn linger(&mut self, period: Duration) {
        let until = Instant::now() + period;
        while Instant::now() < until {
            if self.poll() == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

fn send(publication: &AeronPublication, frame: &[u8]) {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        match publication.offer(frame) {
            Ok(_) => return,
            Err(error) if error.is_retryable() && Instant::now() < give_up => {
                std::thread::sleep(Duration::from_micros(100));
            }
            Err(error) => panic!("request not sent: {error}"),
        }
    }
}

fn count(received: &Received, id: i64) -> usize {
    received.0.iter().filter(|response| response.correlation_id == id).count()
}

fn response(received: &Received, id: i64) -> &DecodedResponse {
    received.0.iter().find(|response| response.correlation_id == id).expect("response")
}

#[test]
fn over_udp_every_call_is_answered_exactly_once_on_its_reply_channel_and_invalid_ones_are_refused() {
    let Some(driver) = MediaDriver::start("udp") else { return };
    let (request_port, announce_port, reply_port) = (free_port(), free_port(), free_port());
    let request_channel = format!("aeron:udp?endpoint=127.0.0.1:{request_port}");
    let announce_channel = format!("aeron:udp?control=127.0.0.1:{announce_port}|control-mode=dynamic|{TERM}");
    let reply_channel = format!("aeron:udp?endpoint=127.0.0.1:{reply_port}");
    let worker = Worker::spawn(&[
        "--aeron-dir",
        &driver.dir,
        "--announce-interval-ms",
        "100",
        "--idle-park",
        "200us",
        "--pool-size",
        "1",
        "--debug-handlers",
        "--request-channel",
        &request_channel,
        "--announce-channel",
        &announce_channel,
        "--reply-channel-params",
        TERM,
    ]);
    worker.wait_for_line("serving", STARTUP);
    let mut client = UdpClient::connect(&driver.dir, &reply_channel);

    // Announcements come over the dynamic MDC channel and name the UDP request channel.
    let announcements = client.subscribe(&format!("aeron:udp?control=127.0.0.1:{announce_port}"), CONTROL);
    let mut heard = Vec::new();
    let mut assembler = AeronFragmentClosureAssembler::new().expect("assembler");
    let give_up = Instant::now() + STARTUP;
    while heard.is_empty() {
        assert!(Instant::now() < give_up, "no announcement over UDP; worker stderr:\n{}", worker.stderr());
        assembler.poll(&announcements, &mut heard, on_announcement, 10).expect("poll announcements");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(heard[0], request_channel, "the announcement's requestChannel");

    let requests = client.publish(&format!("{}|{TERM}", heard[0]));
    let calls = 500i64;
    for id in 1..=calls {
        let payload = vec![(id % 251) as u8; 1024];
        send(&requests, &encode_request_to(id, 0, REPLIES, &[], &reply_channel, "echo", &payload));
    }
    client.poll_until(&worker, Duration::from_secs(60), "every echo answered", |c| {
        (1..=calls).all(|id| count(&c.received, id) > 0)
    });

    // Refused reply channels: BAD_REQUEST on the worker's own channel, never sent anywhere else.
    let refused = [
        (9001, "aeron:ipc".to_owned()),
        (9002, format!("{reply_channel}|{TERM}")),
        (9003, "aeron:udp?endpoint=127.0.0.1:0".to_owned()),
    ];
    for (id, channel) in &refused {
        send(&requests, &encode_request_to(*id, 0, REPLIES, &[], channel, "echo", b"x"));
    }
    client.poll_until(&worker, Duration::from_secs(30), "every refusal", |c| {
        refused.iter().all(|(id, _)| count(&c.received_on_own, *id) > 0)
    });

    // A Cancel finds its call by (channel, stream, id): 1011 waits behind 1010 on the one handler
    // thread; a Cancel naming another channel misses it, the one naming its channel cancels it.
    send(&requests, &encode_request_to(1010, 0, REPLIES, &[], &reply_channel, "debug.sleep", &1500u32.to_le_bytes()));
    send(&requests, &encode_request_to(1011, 0, REPLIES, &[], &reply_channel, "debug.sleep", &1u32.to_le_bytes()));
    send(&requests, &encode_cancel_to(1011, REPLIES, "aeron:udp?endpoint=127.0.0.1:9"));
    send(&requests, &encode_cancel_to(1011, REPLIES, &reply_channel));
    client.poll_until(&worker, Duration::from_secs(30), "the slow call and the cancelled one", |c| {
        count(&c.received, 1010) > 0 && count(&c.received, 1011) > 0
    });
    client.linger(Duration::from_millis(500));

    for id in 1..=calls {
        assert_eq!(count(&client.received, id), 1, "echo {id} answered exactly once");
        let answer = response(&client.received, id);
        assert_eq!((answer.code, answer.payload.len()), (ErrorCode::OK, 1024), "echo {id}");
        assert!(answer.payload.iter().all(|&b| b == (id % 251) as u8), "echo {id}'s payload");
    }
    for (id, channel) in &refused {
        assert_eq!(count(&client.received_on_own, *id), 1, "{channel}: answered once on the own channel");
        assert_eq!(count(&client.received, *id), 0, "{channel}: nothing on the caller's channel");
        let answer = response(&client.received_on_own, *id);
        assert_eq!(answer.code, ErrorCode::BAD_REQUEST, "{channel}");
        assert!(answer.message.contains("replyChannel must be empty or aeron:udp?endpoint=HOST:PORT"), "{answer:?}");
    }
    assert_eq!(response(&client.received, 1011).code, ErrorCode::CANCELLED);
    assert_eq!(response(&client.received, 1010).code, ErrorCode::OK);
    assert_eq!((count(&client.received, 1010), count(&client.received, 1011)), (1, 1));
    let mut by_id: HashMap<i64, usize> = HashMap::new();
    for answer in &client.received.0 {
        *by_id.entry(answer.correlation_id).or_default() += 1;
    }
    assert_eq!(by_id.len() as i64, calls + 2, "nothing else arrived on the caller's channel");
    assert_eq!(client.received_on_own.0.len(), refused.len(), "nothing else arrived on the own channel");
}

/// Driver publications whose `pub-pos` counter names `channel`: one per publication, however
/// many clients share it.
fn publications_on(client: &UdpClient, channel: &str) -> usize {
    let counters = client.aeron.counters_reader();
    (0..=counters.max_counter_id())
        .filter(|&id| counters.counter_state(id).is_ok_and(|state| state == 1)) // allocated
        .filter_map(|id| counters.get_counter_label(id, 512).ok())
        .filter(|label| label.starts_with("pub-pos") && label.contains(channel))
        .count()
}

#[test]
fn two_workers_on_one_driver_reply_to_one_caller_through_exclusive_publications_of_their_own() {
    let Some(driver) = MediaDriver::start("udp-exclusive") else { return };
    let (request_port, reply_port) = (free_port(), free_port());
    let request_channel = format!("aeron:udp?endpoint=127.0.0.1:{request_port}");
    let reply_channel = format!("aeron:udp?endpoint=127.0.0.1:{reply_port}");
    let workers: Vec<Worker> = ["200", "201"]
        .iter()
        .map(|stream| {
            let worker = Worker::spawn(&[
                "--aeron-dir",
                &driver.dir,
                "--idle-park",
                "200us",
                "--request-stream",
                stream,
                "--request-channel",
                &request_channel,
                "--reply-channel-params",
                TERM,
            ]);
            worker.wait_for_line("serving", STARTUP);
            worker
        })
        .collect();
    let mut client = UdpClient::connect(&driver.dir, &reply_channel);
    let publish = |stream| {
        client
            .aeron
            .async_add_publication(&CString::new(format!("{request_channel}|{TERM}")).unwrap(), stream)
            .and_then(|add| add.poll_blocking(STARTUP))
            .expect("publication")
    };
    let (to_first, to_second) = (publish(200), publish(201));
    send(&to_first, &encode_request_to(1, 0, REPLIES, &[], &reply_channel, "echo", b"first"));
    send(&to_second, &encode_request_to(2, 0, REPLIES, &[], &reply_channel, "echo", b"second"));
    client.poll_until(&workers[0], Duration::from_secs(30), "both echoes", |c| {
        count(&c.received, 1) > 0 && count(&c.received, 2) > 0
    });
    assert_eq!(response(&client.received, 1).payload, b"first");
    assert_eq!(response(&client.received, 2).payload, b"second");
    // Shared publications from two clients to one channel and stream would be one driver
    // publication; exclusive ones are one each.
    let reply_uri = format!("{reply_channel}|{TERM}");
    assert_eq!(publications_on(&client, &reply_uri), 2, "reply publications to {reply_uri}");
}
