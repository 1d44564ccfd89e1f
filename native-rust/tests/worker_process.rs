//! The worker binary against a real media driver (see `common/driver.rs`; skipped with a
//! message when no Java driver is found): replies that cannot be delivered do not hold up the
//! others, hostile reply streams, flow control (a slow client and a stuck one), shutdown,
//! `--parent-pid`, a SIGKILLed driver. Time limits are generous: the machine may be a loaded
//! 2-core one.

mod common;

use common::driver::{Client, MediaDriver, Worker, CONTROL, REPLIES, REQUESTS, STARTUP};
use common::{encode_request, DecodedResponse};
use polybridge_worker::codecs::error_code::ErrorCode;
use std::process::Command;
use std::time::{Duration, Instant};


fn start_worker(driver: &MediaDriver, extra: &[&str]) -> Worker {
    let mut args = vec!["--aeron-dir", &driver.dir, "--announce-interval-ms", "100", "--idle-park", "200us"];
    args.extend_from_slice(extra);
    Worker::serving(&args)
}

/// Response `id` within `timeout`, or a failure that shows what the worker said.
fn expect_response(client: &mut Client, worker: &Worker, id: i64, timeout: Duration) -> (DecodedResponse, Instant) {
    client.wait_for(id, timeout).unwrap_or_else(|| {
        panic!("no response {id} within {timeout:?}; got {:?}; worker stderr:\n{}", client.responses.keys(), worker.stderr())
    })
}

fn sleep_request(id: i64, millis: u32) -> Vec<u8> {
    encode_request(id, 0, REPLIES, "debug.sleep", &millis.to_le_bytes())
}

#[test]
fn replies_that_cannot_be_delivered_never_hold_up_the_others_and_are_counted() {
    let Some(driver) = MediaDriver::start("replies") else { return };
    let mut worker = start_worker(&driver, &["--reply-timeout", "2s", "--max-reply-streams", "4", "--pool-size", "1"]);
    let mut client = Client::announced(&driver);
    client.send(&encode_request(1, 0, REPLIES, "echo", b"warm"));
    assert_eq!(expect_response(&mut client, &worker, 1, STARTUP).0.code, ErrorCode::OK);

    // No subscriber on 4242: the old worker retried that reply for a second before the next.
    let sent = Instant::now();
    client.send(&encode_request(2, 0, 4242, "echo", b"nobody"));
    client.send(&encode_request(3, 0, REPLIES, "echo", b"next"));
    let (response, arrived) = expect_response(&mut client, &worker, 3, Duration::from_secs(10));
    assert_eq!(response.payload, b"next");
    let delay = arrived - sent;
    eprintln!("reply after one to a stream without a subscriber: {delay:?}");
    assert!(delay < Duration::from_millis(500), "the next reply took {delay:?}");

    // Reply streams 0 and below: no reply, counted, and the worker carries on.
    client.send(&encode_request(4, 0, 0, "echo", b"zero"));
    client.send(&encode_request(5, 0, -7, "echo", b"negative"));

    // A hostile flood of reply streams: at most --max-reply-streams publications, and the
    // real client is still answered promptly.
    let flood = 300;
    let sent = Instant::now();
    for i in 0..flood {
        client.send(&encode_request(100 + i, 0, 100_000 + i as i32, "echo", b"flood"));
    }
    client.send(&encode_request(6, 0, REPLIES, "echo", b"after the flood"));
    let (_, arrived) = expect_response(&mut client, &worker, 6, Duration::from_secs(10));
    eprintln!("{flood} requests to other reply streams, then a reply to ours: {:?}", arrived - sent);
    assert!(arrived - sent < Duration::from_secs(2), "{:?}", arrived - sent);
    client.collect_for(Duration::from_millis(200));
    let mut answered: Vec<i64> = client.responses.keys().copied().collect();
    answered.sort();
    assert_eq!(answered, [1, 3, 6], "only ours");

    worker.signal("-TERM");
    assert!(worker.wait_exit(Duration::from_secs(10)).success());
    assert_eq!(worker.final_counter("malformed_dropped"), 2);
    assert_eq!(worker.final_counter("replies"), 3);
    assert_eq!(worker.final_counter("requests"), 4 + flood as u64);
    assert_eq!(worker.final_counter("replies_dropped"), 1 + flood as u64);
    let peak = worker.final_counter("reply_streams_peak");
    assert!((2..=4).contains(&peak), "{peak} reply publications at once");
}

#[test]
fn full_outboxes_pause_intake_a_slow_client_loses_nothing_and_a_stuck_one_is_dropped_after_the_reply_timeout() {
    let Some(driver) = MediaDriver::start("flow") else { return };
    // The test driver's 64 KiB terms let a reply publication run 32 KiB ahead of its
    // subscriber: 30 replies of 2 KiB fill that and then more than 4 queued replies.
    let mut worker = start_worker(&driver, &["--reply-queue", "4", "--reply-timeout", "2s", "--pool-size", "1"]);
    let mut slow = Client::announced(&driver);
    let payload = vec![7u8; 2048];
    let burst = |client: &Client, first: i64| {
        for id in first..first + 30 {
            client.send(&encode_request(id, 0, REPLIES, "echo", &payload));
        }
    };

    // A client that reads late, but well within the reply timeout: intake pauses, nothing is lost.
    burst(&slow, 1);
    worker.wait_for_line("taking no requests", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    for id in 1..=30 {
        assert_eq!(expect_response(&mut slow, &worker, id, Duration::from_secs(10)).0.payload, payload);
    }

    // The same client stops reading for good (its image lingers, as a SIGSTOPped one's would):
    // after the reply timeout its replies are dropped and intake resumes, so another client on
    // the same request stream, whose request waited in the log meanwhile, is answered.
    burst(&slow, 100);
    worker.wait_for_line("taking no requests", Duration::from_secs(10));
    let mut other = Client::connect(&driver.dir, REQUESTS, REPLIES + 1, CONTROL);
    other.send(&encode_request(1000, 0, REPLIES + 1, "echo", b"other"));
    let (response, _) = expect_response(&mut other, &worker, 1000, Duration::from_secs(15));
    assert_eq!(response.payload, b"other");

    worker.signal("-TERM");
    assert!(worker.wait_exit(Duration::from_secs(10)).success());
    let (requests, replies, dropped) =
        (worker.final_counter("requests"), worker.final_counter("replies"), worker.final_counter("replies_dropped"));
    eprintln!("flow control: requests={requests} replies={replies} replies_dropped={dropped}");
    assert_eq!(requests, 61);
    assert_eq!(replies + dropped, requests);
    assert!(dropped >= 5, "{dropped} replies to the stuck client dropped");
    assert!(worker.final_counter("intake_pauses") >= 2);
}

#[test]
fn at_shutdown_queued_calls_are_answered_worker_unavailable_and_running_ones_finish() {
    let Some(driver) = MediaDriver::start("shutdown") else { return };
    let mut worker = start_worker(&driver, &["--debug-handlers", "--pool-size", "1", "--drain-timeout", "10s"]);
    let mut client = Client::announced(&driver);
    client.send(&sleep_request(1, 1500));
    // The one pool thread takes call 1 at once; give it ample time on a loaded machine.
    std::thread::sleep(Duration::from_millis(400));
    client.send(&sleep_request(2, 10));
    client.send(&sleep_request(3, 10));
    client.collect_for(Duration::from_millis(100));
    assert!(client.responses.is_empty());
    let stopped = Instant::now();
    worker.signal("-TERM");
    for id in [2, 3] {
        let (response, arrived) = expect_response(&mut client, &worker, id, Duration::from_secs(10));
        assert_eq!(response.code, ErrorCode::WORKER_UNAVAILABLE, "{response:?}");
        assert!(arrived - stopped < Duration::from_millis(900), "answered after {:?}", arrived - stopped);
    }
    let (response, _) = expect_response(&mut client, &worker, 1, Duration::from_secs(10));
    assert_eq!(response.code, ErrorCode::OK, "the running call finished and was answered");
    let status = worker.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert_eq!(worker.final_counter("unavailable"), 2);
    assert_eq!(worker.final_counter("abandoned"), 0);

    // A handler that outlives --drain-timeout does not hold the exit up.
    let mut worker = start_worker(&driver, &["--debug-handlers", "--pool-size", "1", "--drain-timeout", "300ms"]);
    client.wait_for_announcement(STARTUP);
    client.send(&sleep_request(10, 20_000));
    std::thread::sleep(Duration::from_millis(400));
    let stopped = Instant::now();
    worker.signal("-TERM");
    let status = worker.wait_exit(Duration::from_secs(10));
    eprintln!("exit with a handler running past a 300 ms drain timeout: {:?}", stopped.elapsed());
    assert_eq!(status.code(), Some(0));
    assert!(stopped.elapsed() < Duration::from_secs(3), "{:?}", stopped.elapsed());
    assert_eq!(worker.final_counter("abandoned"), 1);
}

#[test]
fn the_worker_exits_soon_after_its_parent_process_is_gone() {
    let Some(driver) = MediaDriver::start("parent") else { return };
    let mut parent = Command::new("sleep").arg("600").spawn().expect("start a parent stand-in");
    let pid = parent.id().to_string();
    let mut worker = start_worker(&driver, &["--parent-pid", &pid]);
    let killed = Instant::now();
    parent.kill().expect("kill the parent stand-in");
    let status = worker.wait_exit(Duration::from_secs(10));
    let elapsed = killed.elapsed();
    let _ = parent.wait();
    eprintln!("worker exit after its parent's SIGKILL: {elapsed:?}");
    assert_eq!(status.code(), Some(1));
    assert!(worker.stderr().contains(&format!("parent process {pid} is gone")), "{}", worker.stderr());
    // Promised: 1 s (checks every 200 ms); the margin is for a loaded machine.
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn the_worker_exits_soon_after_its_media_driver_is_sigkilled() {
    let Some(mut driver) = MediaDriver::start("death") else { return };
    let mut worker = start_worker(&driver, &[]);
    drop(Client::announced(&driver));
    let killed = driver.kill();
    let status = worker.wait_exit(Duration::from_secs(15));
    let elapsed = killed.elapsed();
    eprintln!("worker exit after its driver's SIGKILL: {elapsed:?}");
    assert_eq!(status.code(), Some(1));
    let stderr = worker.stderr();
    assert!(stderr.contains(&format!("the media driver in '{}' is gone", driver.dir)), "{stderr}");
    assert!(stderr.contains("its process") && stderr.contains("has exited"), "noticed by its pid: {stderr}");
    // The driver's process is checked every 200 ms; the margin is for a loaded machine.
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn a_parent_pid_that_is_gone_already_stops_the_worker_at_once() {
    let mut gone = Command::new("true").spawn().expect("start true");
    let pid = gone.id().to_string();
    gone.wait().expect("reap it");
    let mut worker = Worker::spawn(&["--aeron-dir", "/nonexistent", "--parent-pid", &pid]);
    let status = worker.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    assert!(worker.stderr().contains(&format!("parent process {pid} is gone")), "{}", worker.stderr());
}

#[test]
fn bad_reply_and_drain_settings_are_refused_with_exit_code_2() {
    for args in [
        ["--reply-timeout", "0s"],
        ["--drain-timeout", "0ms"],
        ["--max-reply-streams", "0"],
        ["--reply-queue", "0"],
        ["--parent-pid", "-1"],
    ] {
        let mut worker = Worker::spawn(&[&["--aeron-dir", "/nonexistent"][..], &args[..]].concat());
        assert_eq!(worker.wait_exit(Duration::from_secs(10)).code(), Some(2), "{args:?}");
    }
}
