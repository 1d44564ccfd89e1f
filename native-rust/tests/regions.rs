//! Payload regions end to end: the worker binary against a real media driver (see
//! `common/driver.rs`; skipped with a message when no Java driver is found), this test acting as
//! the client: it creates a request region file as the contract says, writes a payload into it,
//! sends a Request with the reference, reads a lent Response from the worker's region and gives
//! it back with a PayloadRelease.
//!
//! The test driver's IPC terms are 64 KiB (largest message 8 KiB), so the worker runs with
//! `--payload-loan-threshold 4096`: responses of 4 KiB and more are lent.

mod common;

use common::driver::{Client, MediaDriver, Worker, CONTROL, REPLIES, REQUESTS, STARTUP};
use common::{encode_region_request, encode_release, encode_request, pattern, DecodedResponse};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::region::{self, Header, HEADER_LENGTH};
use polybridge_worker::wire::RegionRef;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

const ANSWER: Duration = Duration::from_secs(30);

fn start_worker(driver: &MediaDriver, extra: &[&str]) -> Worker {
    let mut args = vec!["--aeron-dir", &driver.dir, "--announce-interval-ms", "100", "--idle-park", "200us"];
    args.extend_from_slice(&["--payload-loan-threshold", "4096"]);
    args.extend_from_slice(extra);
    Worker::serving(&args)
}

fn answer(client: &mut Client, worker: &Worker, id: i64) -> DecodedResponse {
    client.wait_for(id, ANSWER).map(|(response, _)| response).unwrap_or_else(|| {
        panic!("no response {id} within {ANSWER:?}; got {:?}; worker stderr:\n{}", client.responses.keys(), worker.stderr())
    })
}

/// The client's request region: a file as the contract describes, written with plain file I/O.
struct RequestRegion {
    id: i64,
    path: PathBuf,
}

impl RequestRegion {
    fn create(dir: &str, nonce: u32, data_length: usize) -> Self {
        let id = ((u64::from(std::process::id()) << 32) | u64::from(nonce)) as i64;
        let path = region::path(dir, id);
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).unwrap();
        file.set_len((HEADER_LENGTH + data_length) as u64).unwrap();
        let header = Header { region_id: id, owner_pid: i64::from(std::process::id()), data_length: data_length as i64 };
        file.write_all(&header.encode()).unwrap();
        Self { id, path }
    }

    /// Writes `bytes` at `offset` of the data area; the reference to them.
    fn write(&self, offset: usize, bytes: &[u8]) -> RegionRef {
        let mut file = std::fs::OpenOptions::new().write(true).open(&self.path).unwrap();
        file.seek(SeekFrom::Start((HEADER_LENGTH + offset) as u64)).unwrap();
        file.write_all(bytes).unwrap();
        RegionRef { region_id: self.id, offset: offset as i64, length: bytes.len() as i64 }
    }
}

impl Drop for RequestRegion {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The bytes a lent response refers to, read from the worker's region file.
fn read_lent(dir: &str, response: &DecodedResponse) -> Vec<u8> {
    let path = region::path(dir, response.region.region_id);
    let mut file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.seek(SeekFrom::Start(HEADER_LENGTH as u64 + response.region.offset as u64)).unwrap();
    let mut bytes = vec![0u8; response.region.length as usize];
    file.read_exact(&mut bytes).unwrap();
    bytes
}

fn region_files(dir: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(region::FILE_PREFIX))
        .collect()
}

fn stop(worker: &mut Worker) {
    worker.signal("-TERM");
    assert!(worker.wait_exit(Duration::from_secs(20)).success(), "{}", worker.stderr());
}

#[test]
fn a_64_mib_payload_is_echoed_and_checksummed_through_the_regions_and_the_loan_is_released() {
    let Some(driver) = MediaDriver::start("regions-64m") else { return };
    let mut worker = start_worker(&driver, &[]);
    let mut client = Client::announced(&driver);
    let payload = pattern(64 << 20);
    let requests = RequestRegion::create(&driver.dir, 0xA11C_E001, 64 << 20);
    let reference = requests.write(0, &payload);

    client.send(&encode_region_request(1, 0, REPLIES, "echo", reference, &[]));
    let echoed = answer(&mut client, &worker, 1);
    assert_eq!((echoed.code, echoed.message.as_str()), (ErrorCode::OK, ""));
    assert!(echoed.payload.is_empty(), "a lent response carries no inline payload");
    assert_eq!(echoed.region.length, 64 << 20);
    assert_eq!(echoed.region.region_id as u64 >> 32, u64::from(worker.pid()), "the worker's own region");
    assert_eq!(echoed.region.offset % 4096, 0);
    common::assert_bytes_eq("echo through the regions", &read_lent(&driver.dir, &echoed), &payload);
    let worker_region = region::path(&driver.dir, echoed.region.region_id);
    let mode = std::fs::metadata(&worker_region).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "owner-only");

    client.send(&encode_region_request(2, 0, REPLIES, "checksum", reference, &[]));
    let checksum = answer(&mut client, &worker, 2);
    assert_eq!(checksum.code, ErrorCode::OK, "{}", checksum.message);
    assert_eq!(checksum.payload, u64::from(crc32c::crc32c(&payload)).to_le_bytes());

    // A release naming something else is counted and ignored; the right one frees the loan.
    client.send(&encode_release(1, REPLIES, echoed.region.region_id, echoed.region.offset + 4096));
    client.send(&encode_release(1, REPLIES, echoed.region.region_id, echoed.region.offset));
    // The same bytes lent again: the first fit is the offset just freed.
    client.send(&encode_region_request(3, 0, REPLIES, "echo", reference, &[]));
    let again = answer(&mut client, &worker, 3);
    assert_eq!(again.region.offset, echoed.region.offset, "the released loan was reused");

    stop(&mut worker);
    assert!(!worker_region.exists(), "the worker's region file is removed at stop");
    assert_eq!(worker.final_counter("loaned_requests"), 3);
    assert_eq!(worker.final_counter("loaned_responses"), 2);
    assert_eq!(worker.final_counter("loan_releases"), 1);
    assert_eq!(worker.final_counter("bad_releases"), 1);
    assert_eq!(worker.final_counter("bad_region_refs"), 0);
}

#[test]
fn bad_region_references_are_bad_requests_and_the_worker_keeps_serving() {
    let Some(driver) = MediaDriver::start("regions-bad") else { return };
    let mut worker = start_worker(&driver, &[]);
    let mut client = Client::announced(&driver);
    let requests = RequestRegion::create(&driver.dir, 0xBAD0_0001, 8192);
    let good = requests.write(0, b"in the region");
    let bad_magic = RequestRegion::create(&driver.dir, 0xBAD0_0002, 8192);
    std::fs::OpenOptions::new().write(true).open(&bad_magic.path).unwrap().write_all(b"NOREGION").unwrap();
    let missing = RegionRef { region_id: requests.id + 100, offset: 0, length: 1 };

    let cases = [
        (RegionRef { offset: 4096, length: 4097, ..good }, &[][..], "outside the data area of 8192 bytes"),
        (RegionRef { offset: -1, ..good }, &[][..], "outside the data area"),
        (RegionRef { length: -5, ..good }, &[][..], "outside the data area"),
        (missing, &[][..], "cannot be opened"),
        (RegionRef { region_id: bad_magic.id, ..good }, &[][..], "no PBREGION magic"),
        (good, &b"inline too"[..], "non-empty inline payload"),
    ];
    for (i, (reference, inline, why)) in cases.iter().enumerate() {
        let id = 10 + i as i64;
        client.send(&encode_region_request(id, 0, REPLIES, "echo", *reference, inline));
        let response = answer(&mut client, &worker, id);
        assert_eq!(response.code, ErrorCode::BAD_REQUEST, "case {i}: {response:?}");
        assert!(response.message.contains(why), "case {i}: '{}' does not say '{why}'", response.message);
    }
    client.send(&encode_region_request(1, 0, REPLIES, "echo", good, &[]));
    let response = answer(&mut client, &worker, 1);
    assert_eq!((response.code, response.payload.as_slice()), (ErrorCode::OK, &b"in the region"[..]));
    client.send(&encode_request(2, 0, REPLIES, "echo", b"inline"));
    assert_eq!(answer(&mut client, &worker, 2).payload, b"inline");

    stop(&mut worker);
    assert_eq!(worker.final_counter("bad_region_refs"), cases.len() as u64);
    assert_eq!(worker.final_counter("loaned_requests"), 1);
}

#[test]
fn a_full_region_answers_inline_what_fits_and_overloaded_what_does_not_until_a_release() {
    let Some(driver) = MediaDriver::start("regions-full") else { return };
    let mut worker = start_worker(&driver, &["--payload-region-mib", "1", "--max-message-mib", "1"]);
    let mut client = Client::announced(&driver);
    let requests = RequestRegion::create(&driver.dir, 0xF011_0001, 1 << 20);
    let most = requests.write(0, &pattern((1 << 20) - 4096));

    client.send(&encode_region_request(1, 0, REPLIES, "echo", most, &[]));
    let first = answer(&mut client, &worker, 1);
    assert_eq!((first.code, first.region.length), (ErrorCode::OK, (1 << 20) - 4096), "{}", first.message);

    // One block is left: 5000 bytes need two. They fit one message (8 KiB): inline.
    let small = RegionRef { length: 5000, ..most };
    client.send(&encode_region_request(2, 0, REPLIES, "echo", small, &[]));
    let inline = answer(&mut client, &worker, 2);
    assert_eq!((inline.code, inline.region.region_id), (ErrorCode::OK, 0), "{}", inline.message);
    assert_eq!(inline.payload, pattern(5000));

    // 64 KiB fit no message: OVERLOADED, saying why.
    let large = RegionRef { length: 65536, ..most };
    client.send(&encode_region_request(3, 0, REPLIES, "echo", large, &[]));
    let refused = answer(&mut client, &worker, 3);
    assert_eq!(refused.code, ErrorCode::OVERLOADED);
    assert!(refused.message.contains("payload region is full"), "{}", refused.message);

    client.send(&encode_release(1, REPLIES, first.region.region_id, first.region.offset));
    client.send(&encode_region_request(4, 0, REPLIES, "echo", large, &[]));
    let lent = answer(&mut client, &worker, 4);
    assert_eq!((lent.code, lent.region.length), (ErrorCode::OK, 65536), "{}", lent.message);

    // Longer than --max-message-mib: TOO_LARGE.
    let whole = requests.write(0, &pattern(1 << 20));
    client.send(&encode_region_request(5, 0, REPLIES, "echo", RegionRef { length: (1 << 20) + 1, ..whole }, &[]));
    assert_eq!(answer(&mut client, &worker, 5).code, ErrorCode::BAD_REQUEST, "past the data area");
    let requests_2 = RequestRegion::create(&driver.dir, 0xF011_0002, 2 << 20);
    let too_large = requests_2.write(0, &pattern((1 << 20) + 1));
    client.send(&encode_region_request(6, 0, REPLIES, "echo", too_large, &[]));
    let response = answer(&mut client, &worker, 6);
    assert_eq!(response.code, ErrorCode::TOO_LARGE, "{}", response.message);

    let files = region_files(&driver.dir);
    let own = format!("{}{:08x}", region::FILE_PREFIX, worker.pid());
    assert!(files.iter().any(|name| name.starts_with(&own)), "{files:?}");
    stop(&mut worker);
    assert_eq!(worker.final_counter("region_full"), 2);
    assert_eq!(worker.final_counter("loan_releases"), 1);
    let files = region_files(&driver.dir);
    assert!(!files.iter().any(|name| name.starts_with(&own)), "removed at stop: {files:?}");
}

#[test]
fn loans_to_a_client_that_has_gone_are_freed_when_its_reply_stream_closes() {
    let Some(driver) = MediaDriver::start("regions-gone") else { return };
    let mut worker = start_worker(&driver, &["--payload-region-mib", "1", "--max-message-mib", "1", "--reply-timeout", "300ms"]);
    let requests = RequestRegion::create(&driver.dir, 0x6011_0001, 1 << 20);
    let most = requests.write(0, &pattern((1 << 20) - 4096));
    {
        let mut gone = Client::connect(&driver.dir, REQUESTS, 2000, CONTROL);
        gone.wait_for_announcement(STARTUP);
        gone.send(&encode_region_request(1, 0, 2000, "echo", most, &[]));
        let lent = answer(&mut gone, &worker, 1);
        assert_eq!((lent.code, lent.region.length), (ErrorCode::OK, (1 << 20) - 4096), "{}", lent.message);
        // Gone without a release.
    }
    let mut client = Client::announced(&driver);
    let large = RegionRef { length: 65536, ..most };
    // Until the gone client's reply stream is closed (no subscriber for --reply-timeout), the
    // region is full; then its loan is freed and the same request is lent.
    let mut id = 10;
    let lent = loop {
        client.send(&encode_region_request(id, 0, REPLIES, "echo", large, &[]));
        let response = answer(&mut client, &worker, id);
        if response.code == ErrorCode::OK {
            break response;
        }
        assert_eq!(response.code, ErrorCode::OVERLOADED, "{}", response.message);
        assert!(id < 200, "the gone client's loan was never freed; stderr:\n{}", worker.stderr());
        id += 1;
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(lent.region.length, 65536);
    worker.wait_for_line("freed 1 lent responses of stream 2000", Duration::from_secs(1));
    stop(&mut worker);
    assert_eq!(worker.final_counter("loan_releases"), 0, "freed by the close, not released");
}

#[test]
fn malformed_payload_releases_are_dropped_and_the_worker_keeps_serving() {
    let Some(driver) = MediaDriver::start("regions-release") else { return };
    let mut worker = start_worker(&driver, &[]);
    let mut client = Client::announced(&driver);
    let release = encode_release(1, REPLIES, 0x1234_0000_0001, 0);
    let mut wrong_block = release.clone();
    wrong_block[0] = 20;
    let mut trailing = release.clone();
    trailing.extend_from_slice(&[0, 0]);
    for frame in [&release[..20], &wrong_block[..], &trailing[..]] {
        client.send(frame);
    }
    // Well-formed, but no loan of this worker: counted, ignored.
    client.send(&release);
    client.send(&encode_request(1, 0, REPLIES, "echo", b"still serving"));
    assert_eq!(answer(&mut client, &worker, 1).payload, b"still serving");
    stop(&mut worker);
    assert_eq!(worker.final_counter("malformed_dropped"), 3);
    assert_eq!(worker.final_counter("bad_releases"), 1);
}

#[test]
fn a_max_message_larger_than_the_region_is_a_usage_error() {
    let mut worker =
        Worker::spawn(&["--aeron-dir", "/nonexistent", "--payload-region-mib", "16", "--max-message-mib", "64"]);
    let status = worker.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(2));
    assert!(worker.stderr().contains("--max-message-mib 64 is larger than --payload-region-mib 16"), "{}", worker.stderr());
}
