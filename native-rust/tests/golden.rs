//! Golden vectors (`schema/golden/README.md`): encode each logical value with the generated
//! codecs (and the worker's own encoders where it has them), compare with the bytes the Java
//! suite wrote, then decode the file back to the same values.

mod common;

use common::{
    assert_bytes_eq, decode_response, encode_cancel_to, encode_region_request, encode_release, encode_request,
    encode_request_to, pattern,
};
use polybridge_worker::codecs::cancel_codec::CancelEncoder;
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::codecs::language::Language;
use polybridge_worker::codecs::message_header_codec::MessageHeaderDecoder;
use polybridge_worker::codecs::worker_announcement_codec::{self, WorkerAnnouncementDecoder};
use polybridge_worker::codecs::{ReadBuf, WriteBuf, SBE_SCHEMA_ID, SBE_SCHEMA_VERSION};
use polybridge_worker::wire::{self, Announcement, Cancel, Inbound, RegionRef, Release};
use std::path::PathBuf;

fn golden(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/golden").join(name);
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "golden vector {} cannot be read ({error}); the Java suite writes it \
             (GoldenVectorsTest with -Dgolden.write=true)",
            path.display()
        )
    })
}

fn header(frame: &[u8], template_id: u16, block_length: u16) {
    let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(frame), 0);
    assert_eq!(header.schema_id(), SBE_SCHEMA_ID);
    assert_eq!(header.version(), SBE_SCHEMA_VERSION);
    assert_eq!(header.template_id(), template_id);
    assert_eq!(header.block_length(), block_length);
}

fn utf8(frame: &[u8], (at, len): (usize, usize)) -> String {
    String::from_utf8(frame[at..at + len].to_vec()).expect("UTF-8")
}

fn check_request(file: &str, correlation_id: i64, timeout_ns: i64, reply_stream_id: i32, handler: &str, payload: &[u8]) {
    let expected = golden(file);
    assert_bytes_eq(file, &encode_request(correlation_id, timeout_ns, reply_stream_id, handler, payload), &expected);
    let Ok(Inbound::Request(request)) = wire::decode_inbound(&expected) else {
        panic!("{file} does not decode as a Request: {:?}", wire::decode_inbound(&expected));
    };
    assert_eq!(
        (request.correlation_id, request.timeout_ns, request.reply_stream_id, request.handler, request.payload),
        (correlation_id, timeout_ns, reply_stream_id, handler, payload)
    );
    assert!(request.metadata.is_empty());
    assert_eq!(request.reply_channel, "", "{file}: the worker's own channel");
    assert_eq!(request.region, RegionRef::default(), "{file}: the payload is inline");
}

#[test]
fn request_metadata() {
    let file = "request-metadata.bin";
    let metadata = [
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("tenant", "ünïcode ✓"),
        ("empty", ""),
    ];
    let expected = golden(file);
    let reply_channel = "aeron:udp?endpoint=10.42.0.1:41000";
    let encoded = encode_request_to(9, 1_000_000, 1002, &metadata, reply_channel, "echo", &pattern(16));
    assert_bytes_eq(file, &encoded, &expected);
    let Ok(Inbound::Request(request)) = wire::decode_inbound(&expected) else {
        panic!("{file} does not decode as a Request: {:?}", wire::decode_inbound(&expected));
    };
    assert_eq!(
        (request.correlation_id, request.timeout_ns, request.reply_stream_id, request.handler, request.payload),
        (9, 1_000_000, 1002, "echo", &pattern(16)[..])
    );
    assert_eq!(request.reply_channel, reply_channel);
    assert_eq!(request.metadata.iter().collect::<Vec<_>>(), metadata);
    assert_eq!(request.metadata.get("tenant"), Some("ünïcode ✓"));
    let map = request.metadata.to_map();
    assert_eq!(map.len(), 3);
    assert_eq!(map["empty"], "");
}

#[test]
fn request_echo() {
    check_request("request-echo.bin", 0x0102030405060708, 5_000_000_000, 1001, "echo", &pattern(256));
}

#[test]
fn request_empty() {
    check_request("request-empty.bin", 0, 0, 0, "", &[]);
}

#[test]
fn request_large() {
    check_request("request-large.bin", -1, i64::MAX, i32::MAX, "wappalyzer.fingerprint", &pattern(100_000));
}

fn check_response(file: &str, correlation_id: i64, code: ErrorCode, message: &str, payload: &[u8]) {
    let expected = golden(file);
    let mut encoded = Vec::new();
    wire::encode_response(&mut encoded, correlation_id, code, message, payload);
    assert_bytes_eq(file, &encoded, &expected);
    let decoded = decode_response(&expected);
    assert_eq!(decoded.correlation_id, correlation_id);
    assert_eq!(decoded.code, code);
    assert_eq!(decoded.message, message);
    assert_eq!(decoded.payload, payload);
    assert_eq!(decoded.region, RegionRef::default());
}

/// The region of `request-region.bin`: a client's (pid 0x3039).
const CLIENT_REGION: i64 = 0x0000_3039_2A2B_2C2D;
/// The region of `response-region.bin`, `payload-release.bin`, `announcement-go.bin`: a worker's.
const WORKER_REGION: i64 = 0x0000_303A_0102_0304;

#[test]
fn request_region() {
    let file = "request-region.bin";
    let expected = golden(file);
    let region = RegionRef { region_id: CLIENT_REGION, offset: 12288, length: 8_388_608 };
    assert_bytes_eq(file, &encode_region_request(11, 2_000_000_000, 1001, "checksum", region, &[]), &expected);
    let Ok(Inbound::Request(request)) = wire::decode_inbound(&expected) else {
        panic!("{file} does not decode as a Request: {:?}", wire::decode_inbound(&expected));
    };
    assert_eq!(
        (request.correlation_id, request.timeout_ns, request.reply_stream_id, request.handler, request.payload),
        (11, 2_000_000_000, 1001, "checksum", &[][..])
    );
    assert_eq!(request.region, region);
    assert!(request.metadata.is_empty());
    assert_eq!(request.reply_channel, "");
}

#[test]
fn response_region() {
    let file = "response-region.bin";
    let expected = golden(file);
    let region = RegionRef { region_id: WORKER_REGION, offset: 0, length: 8_388_608 };
    let mut encoded = b"leftovers of an earlier response".to_vec();
    wire::encode_region_response(&mut encoded, 11, region);
    assert_bytes_eq(file, &encoded, &expected);
    let decoded = decode_response(&expected);
    assert_eq!((decoded.correlation_id, decoded.code, decoded.message.as_str()), (11, ErrorCode::OK, ""));
    assert!(decoded.payload.is_empty());
    assert_eq!(decoded.region, region);
}

#[test]
fn payload_release() {
    let file = "payload-release.bin";
    let expected = golden(file);
    assert_bytes_eq(file, &encode_release(11, 1001, WORKER_REGION, 0), &expected);
    assert_eq!(
        wire::decode_inbound(&expected),
        Ok(Inbound::Release(Release { correlation_id: 11, reply_stream_id: 1001, region_id: WORKER_REGION, region_offset: 0 }))
    );
}

#[test]
fn response_ok() {
    check_response("response-ok.bin", 42, ErrorCode::OK, "", b"pong");
    // the in-place path the dispatcher uses for OK responses gives the same bytes
    let mut frame = vec![0u8; wire::OK_RESPONSE_PAYLOAD_OFFSET];
    frame.extend_from_slice(b"pong");
    wire::finish_ok_response(&mut frame, 42);
    assert_bytes_eq("response-ok.bin (in place)", &frame, &golden("response-ok.bin"));
}

#[test]
fn response_error() {
    check_response("response-error.bin", -42, ErrorCode::HANDLER_ERROR, "handler failed: Ünïcödé ✓ 日本語 🚀", &[]);
}

fn check_cancel(file: &str, reply_channel: &str) {
    let expected = golden(file);
    let mut encoded = vec![0u8; 8 + 12 + 2 + reply_channel.len()];
    {
        let mut header = CancelEncoder::default().wrap(WriteBuf::new(&mut encoded), 8).header(0);
        let mut cancel = header.parent().unwrap();
        cancel.correlation_id(7).reply_stream_id(1001).reply_channel(reply_channel);
    }
    assert_bytes_eq(file, &encoded, &expected);
    assert_bytes_eq(&format!("{file} (test helper)"), &encode_cancel_to(7, 1001, reply_channel), &expected);
    assert_eq!(
        wire::decode_inbound(&expected),
        Ok(Inbound::Cancel(Cancel { correlation_id: 7, reply_stream_id: 1001, reply_channel }))
    );
}

#[test]
fn cancel() {
    check_cancel("cancel.bin", "");
}

#[test]
fn cancel_udp() {
    check_cancel("cancel-udp.bin", "aeron:udp?endpoint=10.42.0.1:41000");
}

fn check_announcement(file: &str, announcement: &Announcement<'_>) {
    let expected = golden(file);
    let mut encoded = Vec::new();
    wire::encode_announcement(&mut encoded, announcement).unwrap();
    assert_bytes_eq(file, &encoded, &expected);
    let Announcement { language, pid, request_stream_id, handlers, worker_id, request_channel, region_id } =
        *announcement;

    header(&expected, worker_announcement_codec::SBE_TEMPLATE_ID, worker_announcement_codec::SBE_BLOCK_LENGTH);
    let mh = MessageHeaderDecoder::default().wrap(ReadBuf::new(&expected), 0);
    let decoder = WorkerAnnouncementDecoder::default().header(mh, 0);
    assert_eq!(decoder.schema_id(), SBE_SCHEMA_ID);
    assert_eq!(decoder.schema_version(), SBE_SCHEMA_VERSION);
    assert_eq!(decoder.language(), language);
    assert_eq!(decoder.pid(), pid);
    assert_eq!(decoder.request_stream_id(), request_stream_id);
    assert_eq!(decoder.region_id(), region_id);
    let mut group = decoder.handlers_decoder();
    let mut names = Vec::new();
    while group.advance().unwrap().is_some() {
        names.push(utf8(&expected, group.name_decoder()));
    }
    assert_eq!(names, handlers);
    let mut decoder = group.parent().unwrap();
    let (at, len) = decoder.worker_id_decoder();
    assert_eq!(utf8(&expected, (at, len)), worker_id);
    let (at, len) = decoder.request_channel_decoder();
    assert_eq!(utf8(&expected, (at, len)), request_channel);
    assert_eq!(at + len, expected.len());
}

#[test]
fn announcement_go() {
    check_announcement(
        "announcement-go.bin",
        &Announcement {
            language: Language::GO,
            pid: 4242,
            request_stream_id: 2001,
            handlers: &["echo", "wappalyzer.fingerprint"],
            worker_id: "go-0",
            request_channel: "aeron:udp?endpoint=10.42.0.2:40100",
            region_id: WORKER_REGION,
        },
    );
}

#[test]
fn announcement_empty() {
    check_announcement(
        "announcement-empty.bin",
        &Announcement {
            language: Language::RUST,
            pid: 0,
            request_stream_id: 0,
            handlers: &[],
            worker_id: "",
            request_channel: "",
            region_id: 0,
        },
    );
}
