//! The worker binary's idle sleep and doorbell against a real media driver (skipped without
//! one, see `common/driver.rs`): asleep, a request whose doorbell is rung is answered at once,
//! one whose doorbell is not waits for the end of the sleep, announcements keep their period
//! and a SIGTERM stops it at once; the doorbell file is a 0600 socket
//! while the worker serves, replaces a stale file and is removed at stop (also when the driver
//! dies); a UDP request channel has no doorbell and never sleeps; out-of-range flags are usage
//! errors. Margins are wide: the machine may be a loaded 2-core one.

mod common;

use common::driver::{Client, MediaDriver, Worker, CONTROL, REPLIES, REQUESTS, STARTUP};
use common::encode_request;
use polybridge_worker::codecs::error_code::ErrorCode;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn start_worker(driver: &MediaDriver, extra: &[&str]) -> Worker {
    let mut args = vec!["--aeron-dir", &driver.dir, "--pool-size", "1"];
    args.extend_from_slice(extra);
    Worker::serving(&args)
}

/// A worker that sleeps 20 ms after its last work for `sleep`, announcing every 5 s (a sleep
/// ends by the next announcement: none falls within these tests).
fn sleepy_worker(driver: &MediaDriver, sleep: &str) -> Worker {
    start_worker(driver, &["--idle-sleep", sleep, "--idle-sleep-after", "20ms", "--announce-interval-ms", "5000"])
}

fn doorbell_path(driver: &MediaDriver) -> PathBuf {
    PathBuf::from(&driver.dir).join(format!("polybridge-doorbell-{REQUESTS}"))
}

/// An echo answered, then `idle` with nothing sent: the worker has gone to sleep.
fn warm_then_idle(client: &mut Client, worker: &Worker, idle: Duration) {
    client.send(&encode_request(1, 0, REPLIES, "echo", b"warm"));
    let answered = client.wait_for(1, STARTUP).unwrap_or_else(|| panic!("no echo; stderr:\n{}", worker.stderr()));
    assert_eq!(answered.0.code, ErrorCode::OK);
    std::thread::sleep(idle);
}

/// How long echo `id` took to be answered, ringing the doorbell after sending it when `ring`.
fn call(client: &mut Client, worker: &Worker, id: i64, ring: Option<&PathBuf>) -> Duration {
    let sent = Instant::now();
    client.send(&encode_request(id, 0, REPLIES, "echo", b"after a sleep"));
    if let Some(path) = ring {
        UnixStream::connect(path).and_then(|mut bell| bell.write_all(&[1])).expect("ring the doorbell");
    }
    let (response, arrived) = client
        .wait_for(id, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no response {id}; stderr:\n{}", worker.stderr()));
    assert_eq!(response.payload, b"after a sleep");
    arrived - sent
}

fn stop(worker: &mut Worker) {
    worker.signal("-TERM");
    // The counters' line, read before the exit is (the reader thread may lag on a busy machine).
    worker.wait_for_line("stopped: ", Duration::from_secs(10));
    assert!(worker.wait_exit(Duration::from_secs(10)).success(), "stderr:\n{}", worker.stderr());
}

#[test]
fn a_sleeping_worker_whose_doorbell_is_rung_answers_at_once() {
    let Some(driver) = MediaDriver::start("doorbell-rung") else { return };
    // As the Java client's test starts it (the loop's own bound makes a sleep at most 1 s).
    let mut worker = sleepy_worker(&driver, "10s");
    let mut client = Client::announced(&driver);
    warm_then_idle(&mut client, &worker, Duration::from_millis(200));
    let took = call(&mut client, &worker, 2, Some(&doorbell_path(&driver)));
    eprintln!("answered {took:?} after the ring (--idle-sleep 10s)");
    assert!(took < Duration::from_millis(400), "a rung worker answered after {took:?}");
    stop(&mut worker);
    assert!(worker.final_counter("idle_sleeps") >= 1);
    assert!(worker.final_counter("doorbell_wakes") >= 1);
}

#[test]
fn a_sleeping_worker_whose_doorbell_is_not_rung_answers_when_the_sleep_ends() {
    let Some(driver) = MediaDriver::start("doorbell-silent") else { return };
    let mut worker = sleepy_worker(&driver, "1s");
    let mut client = Client::announced(&driver);
    warm_then_idle(&mut client, &worker, Duration::from_millis(200));
    // Asleep since ~20 ms after the echo, for 1 s: about 800 ms to go.
    let took = call(&mut client, &worker, 2, None);
    eprintln!("answered {took:?} without a ring (--idle-sleep 1s)");
    assert!(took >= Duration::from_millis(500), "an unrung worker answered after {took:?}: it did not sleep");
    // A stop is not held up by the sleep: the signal wakes the worker.
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    stop(&mut worker);
    let stopped = signalled.elapsed();
    eprintln!("stopped {stopped:?} after SIGTERM while asleep");
    assert!(stopped < Duration::from_millis(500), "a SIGTERM waited out the sleep: {stopped:?}");
    assert!(worker.final_counter("idle_sleeps") >= 2);
    assert_eq!(worker.final_counter("doorbell_wakes"), 0);
}

#[test]
fn announcements_keep_their_period_while_the_worker_sleeps() {
    let Some(driver) = MediaDriver::start("doorbell-announce") else { return };
    let mut client = Client::connect(&driver.dir, REQUESTS, REPLIES, CONTROL);
    let mut worker =
        start_worker(&driver, &["--idle-sleep", "10s", "--idle-sleep-after", "20ms", "--announce-interval-ms", "300"]);
    client.wait_for_announcement(STARTUP);
    let start = Instant::now();
    for _ in 0..5 {
        client.wait_for_announcement(Duration::from_secs(10));
    }
    let took = start.elapsed();
    eprintln!("5 announcements every 300 ms while asleep: {took:?}");
    // Sleeping a whole second each time would take 5 s.
    assert!(took < Duration::from_millis(3500), "5 announcements took {took:?}");
    stop(&mut worker);
    assert!(worker.final_counter("idle_sleeps") >= 1);
}

#[test]
fn the_doorbell_is_a_0600_socket_while_serving_replaces_a_stale_file_and_is_removed_at_stop() {
    let Some(driver) = MediaDriver::start("doorbell-file") else { return };
    let path = doorbell_path(&driver);
    std::fs::write(&path, b"left by a killed worker").unwrap();
    let mut worker = start_worker(&driver, &[]);
    let metadata = std::fs::symlink_metadata(&path).unwrap();
    assert!(metadata.file_type().is_socket(), "{:?}", metadata.file_type());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    stop(&mut worker);
    assert!(!path.exists(), "the doorbell outlived its worker");

    // Also when the worker fails: its driver dies.
    let mut driver = driver;
    let mut worker = start_worker(&driver, &[]);
    assert!(path.exists());
    driver.kill();
    assert_eq!(worker.wait_exit(Duration::from_secs(10)).code(), Some(1), "stderr:\n{}", worker.stderr());
    assert!(!path.exists(), "the doorbell outlived its failed worker");
}

#[test]
fn a_worker_on_a_udp_request_channel_has_no_doorbell_and_never_sleeps() {
    let Some(driver) = MediaDriver::start("doorbell-udp") else { return };
    let port = std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("a free port").port();
    let channel = format!("aeron:udp?endpoint=127.0.0.1:{port}");
    let mut worker = start_worker(&driver, &["--request-channel", &channel, "--idle-sleep-after", "20ms"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!doorbell_path(&driver).exists());
    stop(&mut worker);
    assert!(worker.stderr().contains("no doorbell: the request channel is not IPC"));
    assert_eq!(worker.final_counter("idle_sleeps"), 0);
}

#[test]
fn idle_sleep_flags_out_of_range_are_usage_errors() {
    for (args, why) in [
        (["--idle-sleep", "11s"], "at most 10s"),
        (["--idle-sleep", "0ms"], "more than 0"),
        (["--idle-sleep-after", "5ms"], "at least 20ms"),
    ] {
        let mut worker = Worker::spawn(&[&["--aeron-dir", "/nonexistent"][..], &args].concat());
        worker.wait_for_line(why, Duration::from_secs(10));
        assert_eq!(worker.wait_exit(Duration::from_secs(10)).code(), Some(2), "{args:?}");
    }
}
