//! The doorbell in this process (no driver): a ring unparks the thread it was opened for and is
//! counted; the file is a 0600 socket that replaces a stale file and is removed when the doorbell
//! is dropped, which also ends its threads, with a client still connected.

use polybridge_worker::doorbell::{self, Doorbell, DoorbellError};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The thread checks count this process's doorbell threads: one test at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn scratch(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("doorbell-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn doorbell_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("pb-doorbell"))
        .count()
}

/// Parks until the doorbell has counted `wakes`, or fails after a generous time.
fn wait_for_wakes(doorbell: &Doorbell, wakes: u64) -> Duration {
    let start = Instant::now();
    while doorbell.wakes() < wakes {
        assert!(start.elapsed() < Duration::from_secs(10), "{} wakes, {wakes} expected", doorbell.wakes());
        std::thread::park_timeout(Duration::from_secs(1));
    }
    start.elapsed()
}

#[test]
fn a_ring_unparks_the_poll_thread_and_is_counted_on_a_connection_kept_open() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("ring");
    let doorbell = Doorbell::open(doorbell::path(dir.to_str().unwrap(), 200), std::thread::current()).unwrap();
    assert_eq!(doorbell.path(), dir.join("polybridge-doorbell-200"));
    let mut client = UnixStream::connect(doorbell.path()).unwrap();
    client.write_all(&[1]).unwrap();
    let woken = wait_for_wakes(&doorbell, 1);
    assert!(woken < Duration::from_secs(2), "woken after {woken:?}");
    // The same connection rings again; a second client too.
    client.write_all(&[1]).unwrap();
    wait_for_wakes(&doorbell, 2);
    UnixStream::connect(doorbell.path()).unwrap().write_all(&[1]).unwrap();
    wait_for_wakes(&doorbell, 3);
}

#[test]
fn the_file_is_a_0600_socket_that_replaces_a_stale_file_and_is_removed_with_its_threads_at_drop() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("file");
    let path = doorbell::path(dir.to_str().unwrap(), 7);
    std::fs::write(&path, b"a killed worker's").unwrap();
    let before = doorbell_threads();
    let doorbell = Doorbell::open(path.clone(), std::thread::current()).unwrap();
    let metadata = std::fs::symlink_metadata(&path).unwrap();
    assert!(metadata.file_type().is_socket(), "{:?}", metadata.file_type());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);

    let mut client = UnixStream::connect(&path).unwrap();
    client.write_all(&[1]).unwrap();
    wait_for_wakes(&doorbell, 1);
    assert_eq!(doorbell_threads(), before + 2, "the accepting thread and one per connection");

    let dropped = Instant::now();
    drop(doorbell);
    assert!(dropped.elapsed() < Duration::from_secs(2), "dropped in {:?}", dropped.elapsed());
    assert!(!path.exists(), "the doorbell file outlived the doorbell");
    assert_eq!(doorbell_threads(), before, "the doorbell's threads outlived it");
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(client.read(&mut [0u8; 1]).unwrap(), 0, "the client's connection is closed");
}

#[test]
fn a_file_replaced_by_a_successor_is_left_to_it() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("successor");
    let path = doorbell::path(dir.to_str().unwrap(), 8);
    let first = Doorbell::open(path.clone(), std::thread::current()).unwrap();
    let second = Doorbell::open(path.clone(), std::thread::current()).unwrap();
    drop(first);
    assert!(path.exists(), "the successor's doorbell was removed");
    UnixStream::connect(&path).unwrap().write_all(&[1]).unwrap();
    wait_for_wakes(&second, 1);
    drop(second);
    assert!(!path.exists());
}

#[test]
fn a_path_longer_than_a_unix_socket_allows_is_refused() {
    let dir = "/tmp/".to_owned() + &"d".repeat(90);
    let path = doorbell::path(&dir, 200);
    assert!(path.as_os_str().len() > doorbell::MAX_PATH_LEN);
    let error = Doorbell::open(path, std::thread::current()).unwrap_err();
    assert!(matches!(error, DoorbellError::PathTooLong { .. }), "{error}");
}
