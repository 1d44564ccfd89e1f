//! Opt-in: runs the worker binary against a real media driver.
//!
//! `POLYBRIDGE_AERON_DIR=/dev/shm/pb-rust-dev cargo test --release --test driver_smoke -- --ignored --nocapture`
//! with a driver started as in README.md (16 MiB IPC terms). Skipped when the variable is unset.

mod common;

use common::{decode_response, encode_request, pattern, DecodedResponse};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::codecs::language::Language;
use polybridge_worker::codecs::message_header_codec::MessageHeaderDecoder;
use polybridge_worker::codecs::worker_announcement_codec::{self, WorkerAnnouncementDecoder};
use polybridge_worker::codecs::ReadBuf;
use rusteron_client::{
    Aeron, AeronFragmentClosureAssembler, AeronHeader, AeronPublication, AeronSubscription, BackoffIdleStrategy,
    Handlers, IdleStrategy, AERON_IPC_STREAM,
};
use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

struct Inbox {
    worker_id: String,
    announced: bool,
    responses: HashMap<i64, DecodedResponse>,
}

fn on_control(inbox: &mut Inbox, frame: &[u8], _: AeronHeader) {
    let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(frame), 0);
    if header.template_id() != worker_announcement_codec::SBE_TEMPLATE_ID {
        return;
    }
    let decoder = WorkerAnnouncementDecoder::default().header(header, 0);
    let language = decoder.language();
    let mut group = decoder.handlers_decoder();
    let mut names = Vec::new();
    while let Ok(Some(_)) = group.advance() {
        let (at, len) = group.name_decoder();
        names.push(String::from_utf8_lossy(&frame[at..at + len]).into_owned());
    }
    let Ok(mut decoder) = group.parent() else { return };
    let (at, len) = decoder.worker_id_decoder();
    if frame[at..at + len] == *inbox.worker_id.as_bytes() {
        assert_eq!(language, Language::RUST);
        assert_eq!(names, ["debug.sleep", "echo"]);
        inbox.announced = true;
    }
}

fn on_reply(inbox: &mut Inbox, frame: &[u8], _: AeronHeader) {
    let response = decode_response(frame);
    inbox.responses.insert(response.correlation_id, response);
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs a running media driver: POLYBRIDGE_AERON_DIR=DIR cargo test --release --test driver_smoke -- --ignored"]
fn worker_binary_serves_requests_through_a_real_media_driver() {
    let Ok(dir) = std::env::var("POLYBRIDGE_AERON_DIR") else {
        panic!("set POLYBRIDGE_AERON_DIR to a running media driver's directory");
    };
    let offset = (std::process::id() % 500) as i32;
    let (request_stream, reply_stream, control_stream) = (5000 + offset, 6000 + offset, 7000 + offset);
    let worker_id = format!("smoke-{}", std::process::id());

    let aeron = Aeron::connect_dir(&dir).expect("connect to the media driver");
    let add_sub = |stream: i32| -> AeronSubscription {
        aeron
            .async_add_subscription(AERON_IPC_STREAM, stream, Handlers::NONE, Handlers::NONE)
            .and_then(|a| a.poll_blocking(Duration::from_secs(5)))
            .expect("subscription")
    };
    let control = add_sub(control_stream);
    let replies = add_sub(reply_stream);
    let requests: AeronPublication = aeron
        .async_add_publication(AERON_IPC_STREAM, request_stream)
        .and_then(|a| a.poll_blocking(Duration::from_secs(5)))
        .expect("publication");

    let mut worker = Worker(
        Command::new(env!("CARGO_BIN_EXE_polybridge-worker-rust"))
            .args(["--aeron-dir", &dir, "--worker-id", &worker_id, "--announce-interval-ms", "100"])
            .args(["--pool-size", "1", "--queue-depth", "4", "--idle", "sleep", "--idle-park", "200us"])
            .arg("--debug-handlers")
            .args(["--request-stream", &request_stream.to_string()])
            .args(["--control-stream", &control_stream.to_string()])
            .spawn()
            .expect("start the worker"),
    );

    let mut inbox = Inbox { worker_id, announced: false, responses: HashMap::new() };
    let mut control_assembler = AeronFragmentClosureAssembler::new().unwrap();
    let mut reply_assembler = AeronFragmentClosureAssembler::new().unwrap();
    let mut idle = BackoffIdleStrategy::new();
    let deadline = Instant::now() + WAIT;
    while !inbox.announced {
        assert!(Instant::now() < deadline, "no announcement from the worker");
        idle.idle(control_assembler.poll(&control, &mut inbox, on_control, 10).unwrap());
    }

    let megabyte = pattern(1 << 20);
    let mut unreadable = encode_request(99, 0, reply_stream, "echo", b"x");
    unreadable[4..6].copy_from_slice(&1u16.to_le_bytes()); // wrong schema id: dropped
    let mut wrong_version = encode_request(4, 0, reply_stream, "echo", b"x");
    wrong_version[6..8].copy_from_slice(&7u16.to_le_bytes());
    let frames = [
        encode_request(1, 0, reply_stream, "echo", b"hello"),
        encode_request(2, 0, reply_stream, "echo", &megabyte),
        encode_request(3, 0, reply_stream, "nope", b""),
        unreadable,
        wrong_version,
        encode_request(5, 0, reply_stream, "echo", &[]),
        encode_request(6, 60_000_000_000, reply_stream, "debug.sleep", &1u32.to_le_bytes()),
        encode_request(7, 0, reply_stream, "debug.sleep", b"not a u32 of milliseconds"),
    ];
    for frame in &frames {
        loop {
            match requests.offer(frame) {
                Ok(_) => break,
                Err(e) if e.is_retryable() => {
                    assert!(Instant::now() < deadline, "request not accepted: {e}");
                    idle.idle(0);
                }
                Err(e) => panic!("offer failed: {e}"),
            }
        }
    }
    let started = Instant::now();
    while inbox.responses.len() < 7 {
        assert!(Instant::now() < deadline, "responses so far: {:?}", inbox.responses.keys());
        idle.idle(reply_assembler.poll(&replies, &mut inbox, on_reply, 10).unwrap());
    }
    eprintln!("7 responses (one of 1 MiB, two from the pool) in {:?}", started.elapsed());

    let r = &inbox.responses;
    assert_eq!((r[&1].code, r[&1].payload.as_slice()), (ErrorCode::OK, &b"hello"[..]));
    assert_eq!(r[&2].code, ErrorCode::OK);
    assert!(r[&2].payload == megabyte, "1 MiB echo differs");
    assert_eq!(r[&3].code, ErrorCode::NOT_FOUND);
    assert_eq!(r[&3].message, "no handler named 'nope'; this worker serves: debug.sleep, echo");
    assert_eq!(r[&4].code, ErrorCode::BAD_REQUEST);
    assert_eq!((r[&5].code, r[&5].payload.len()), (ErrorCode::OK, 0));
    assert!(!r.contains_key(&99));
    assert_eq!(r[&6].code, ErrorCode::OK, "{}", r[&6].message);
    assert_eq!(r[&6].payload, 1u32.to_le_bytes());
    assert_eq!(r[&7].code, ErrorCode::BAD_REQUEST);

    let status = Command::new("kill").args(["-TERM", &worker.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = worker.0.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "SIGTERM is a graceful exit");
}
