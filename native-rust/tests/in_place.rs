//! A request whose payload lies in a caller's payload region reaches its handler in place: the
//! `&[u8]` a handler gets points into a read-only shared mapping of the region file (checked in
//! /proc/self/maps), on the pool as inline, never into a copy.

use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::dispatcher::Routed;
use polybridge_worker::region::{self, ResponseRegion};
use polybridge_worker::wire::{FrameLimits, RegionRef};
use polybridge_worker::{Context, Dispatcher, HandlerError, Outcome, Pool, PoolConfig, Registry, Reply};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

/// The permissions and path of the mapping of this process holding `address`.
fn mapping_of(address: usize) -> Option<(String, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let (start, end) = (usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?);
        let perms = fields.next()?.to_owned();
        let path = fields.nth(3).unwrap_or("").to_owned();
        (start <= address && address < end).then_some((perms, path))
    })
}

/// Answers where its payload lies: "r--s <file name>" for a read-only shared file mapping.
fn where_is_my_payload(_: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
    let (perms, path) = mapping_of(payload.as_ptr() as usize).unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or("").to_owned();
    reply.write(format!("{perms} {name} {}", String::from_utf8_lossy(payload)).as_bytes());
    Ok(())
}

#[test]
fn handlers_read_a_region_payload_where_it_lies_on_the_pool_and_inline() {
    let dir = std::env::temp_dir().join(format!("pb-in-place-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The caller's region, written by its owner (this test), as a client would.
    let id = region::new_region_id();
    let callers = ResponseRegion::new(&dir, id, 1 << 20);
    let offset = callers.lend(0, 0, b"the page").unwrap();
    let reference = RegionRef { region_id: id, offset: offset as i64, length: 8 };
    let file_name = region::path(&dir, id).file_name().unwrap().to_string_lossy().into_owned();
    let expected = format!("r--s {file_name} the page");

    let mut registry = Registry::with_builtin();
    registry.register("pooled", where_is_my_payload).unwrap();
    registry.register_inline("inline", where_is_my_payload).unwrap();
    let mut dispatcher = Dispatcher::new(Arc::new(registry));
    dispatcher.accept_region_refs(dir.to_str().unwrap());

    let mut response = Vec::new();
    let frame = common::encode_region_request(1, 0, 1001, "inline", reference, &[]);
    assert!(matches!(dispatcher.dispatch(&frame, &mut response), Outcome::Reply { code: ErrorCode::OK, .. }));
    assert_eq!(String::from_utf8(common::decode_response(&response).payload).unwrap(), expected);

    let mut pool = Pool::start(PoolConfig { size: 1, queue_depth: 1 }, FrameLimits::UNLIMITED, std::thread::current())
        .unwrap();
    let frame = common::encode_region_request(2, 0, 1001, "pooled", reference, &[]);
    let Routed::Call(call) = dispatcher.route(&frame, &mut response) else { panic!("not routed to a call") };
    assert!(call.payload.is_empty() && call.region.is_some());
    pool.submit(&call, Instant::now()).unwrap();
    drop(call);
    let give_up = Instant::now() + Duration::from_secs(10);
    let completion = loop {
        if let Some(completion) = pool.try_complete() {
            break completion;
        }
        assert!(Instant::now() < give_up, "the pool did not answer");
        std::thread::park_timeout(Duration::from_millis(10));
    };
    assert_eq!(completion.code, Some(ErrorCode::OK));
    assert_eq!(String::from_utf8(common::decode_response(&completion.frame).payload).unwrap(), expected);
    assert_eq!(dispatcher.counters().loaned_requests, 2);
    drop(callers);
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}

#[test]
fn region_references_are_refused_where_they_are_not_accepted() {
    // A worker whose request channel is not IPC never accepts region references (its callers
    // do not share its memory): BAD_REQUEST, counted, and it keeps serving.
    let mut dispatcher = Dispatcher::new(Arc::new(Registry::with_builtin()));
    let mut response = Vec::new();
    let reference = RegionRef { region_id: region::new_region_id(), offset: 0, length: 4 };
    let frame = common::encode_region_request(1, 0, 1001, "echo", reference, &[]);
    assert!(matches!(dispatcher.dispatch(&frame, &mut response), Outcome::Reply { code: ErrorCode::BAD_REQUEST, .. }));
    let message = common::decode_response(&response).message;
    assert!(message.contains("only on an IPC request channel"), "{message}");
    assert_eq!((dispatcher.counters().bad_region_refs, dispatcher.counters().malformed_replied), (1, 0));
    let echo = dispatcher.dispatch(&common::encode_request(2, 0, 1001, "echo", b"ok"), &mut response);
    assert!(matches!(echo, Outcome::Reply { code: ErrorCode::OK, .. }));
}
