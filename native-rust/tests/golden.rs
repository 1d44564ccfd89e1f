//! Golden vectors (`schema/golden/README.md`): encode each logical value with the generated
//! codecs (and the worker's own encoders where it has them), compare with the bytes the Java
//! suite wrote, then decode the file back to the same values.

mod common;

use common::{
    assert_bytes_eq, decode_response, decode_signals_response, encode_request, encode_request_with_metadata, pattern,
};
use polybridge_worker::codecs::cancel_codec::CancelEncoder;
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::codecs::fingerprint_request_codec::{self, FingerprintRequestDecoder, FingerprintRequestEncoder};
use polybridge_worker::codecs::fingerprint_response_codec::{
    self, FingerprintResponseDecoder, FingerprintResponseEncoder,
};
use polybridge_worker::codecs::language::Language;
use polybridge_worker::codecs::message_header_codec::MessageHeaderDecoder;
use polybridge_worker::codecs::worker_announcement_codec::{self, WorkerAnnouncementDecoder};
use polybridge_worker::codecs::{ReadBuf, WriteBuf, SBE_SCHEMA_ID, SBE_SCHEMA_VERSION};
use polybridge_worker::codecs::signals_request_codec::SignalsRequestEncoder;
use polybridge_worker::signals::{self, Signals, SignalsRequest};
use polybridge_worker::wire::{self, Announcement, Cancel, Inbound};
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
    let encoded = encode_request_with_metadata(9, 1_000_000, 1002, &metadata, "echo", &pattern(16));
    assert_bytes_eq(file, &encoded, &expected);
    let Ok(Inbound::Request(request)) = wire::decode_inbound(&expected) else {
        panic!("{file} does not decode as a Request: {:?}", wire::decode_inbound(&expected));
    };
    assert_eq!(
        (request.correlation_id, request.timeout_ns, request.reply_stream_id, request.handler, request.payload),
        (9, 1_000_000, 1002, "echo", &pattern(16)[..])
    );
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

#[test]
fn cancel() {
    let expected = golden("cancel.bin");
    let mut encoded = vec![0u8; 8 + 12];
    {
        let mut header = CancelEncoder::default().wrap(WriteBuf::new(&mut encoded), 8).header(0);
        let mut cancel = header.parent().unwrap();
        cancel.correlation_id(7).reply_stream_id(1001);
    }
    assert_bytes_eq("cancel.bin", &encoded, &expected);
    assert_eq!(
        wire::decode_inbound(&expected),
        Ok(Inbound::Cancel(Cancel { correlation_id: 7, reply_stream_id: 1001 }))
    );
}

fn check_announcement(
    file: &str,
    language: Language,
    pid: i64,
    request_stream_id: i32,
    handlers: &[&str],
    worker_id: &str,
) {
    let expected = golden(file);
    let mut encoded = Vec::new();
    wire::encode_announcement(&mut encoded, &Announcement { language, pid, request_stream_id, handlers, worker_id })
        .unwrap();
    assert_bytes_eq(file, &encoded, &expected);

    header(&expected, worker_announcement_codec::SBE_TEMPLATE_ID, worker_announcement_codec::SBE_BLOCK_LENGTH);
    let mh = MessageHeaderDecoder::default().wrap(ReadBuf::new(&expected), 0);
    let decoder = WorkerAnnouncementDecoder::default().header(mh, 0);
    assert_eq!(decoder.schema_id(), SBE_SCHEMA_ID);
    assert_eq!(decoder.schema_version(), SBE_SCHEMA_VERSION);
    assert_eq!(decoder.language(), language);
    assert_eq!(decoder.pid(), pid);
    assert_eq!(decoder.request_stream_id(), request_stream_id);
    let mut group = decoder.handlers_decoder();
    let mut names = Vec::new();
    while group.advance().unwrap().is_some() {
        names.push(utf8(&expected, group.name_decoder()));
    }
    assert_eq!(names, handlers);
    let mut decoder = group.parent().unwrap();
    let (at, len) = decoder.worker_id_decoder();
    assert_eq!(utf8(&expected, (at, len)), worker_id);
    assert_eq!(at + len, expected.len());
}

#[test]
fn announcement_go() {
    check_announcement("announcement-go.bin", Language::GO, 4242, 2001, &["echo", "wappalyzer.fingerprint"], "go-0");
}

#[test]
fn announcement_empty() {
    check_announcement("announcement-empty.bin", Language::RUST, 0, 0, &[], "");
}

type Headers = Vec<(String, String)>;

fn encode_fingerprint_request(headers: &Headers, url: &str, body: &[u8]) -> Vec<u8> {
    let length = 8 + 4 + headers.iter().map(|(n, v)| 4 + n.len() + v.len()).sum::<usize>() + 2 + url.len() + 4 + body.len();
    let mut frame = vec![0u8; length];
    {
        let mut header = FingerprintRequestEncoder::default().wrap(WriteBuf::new(&mut frame), 8).header(0);
        let encoder = header.parent().unwrap();
        let mut group = encoder.headers_encoder(headers.len() as u16, Default::default());
        for (name, value) in headers {
            assert!(group.advance().unwrap().is_some());
            group.name(name).value(value);
        }
        let mut encoder = group.parent().unwrap();
        encoder.url(url).body(body);
        assert_eq!(8 + encoder.encoded_length(), length);
    }
    frame
}

fn decode_fingerprint_request(frame: &[u8]) -> (Headers, String, Vec<u8>) {
    header(frame, fingerprint_request_codec::SBE_TEMPLATE_ID, fingerprint_request_codec::SBE_BLOCK_LENGTH);
    let mh = MessageHeaderDecoder::default().wrap(ReadBuf::new(frame), 0);
    let mut group = FingerprintRequestDecoder::default().header(mh, 0).headers_decoder();
    let mut headers = Vec::new();
    while group.advance().unwrap().is_some() {
        let name = utf8(frame, group.name_decoder());
        let value = utf8(frame, group.value_decoder());
        headers.push((name, value));
    }
    let mut decoder = group.parent().unwrap();
    let url = utf8(frame, decoder.url_decoder());
    let (at, len) = decoder.body_decoder();
    assert_eq!(at + len, frame.len());
    (headers, url, frame[at..at + len].to_vec())
}

#[test]
fn fingerprint_request() {
    let headers: Headers = (0..40).map(|i| (format!("X-Header-{i}"), format!("välue {i} ✓"))).collect();
    let url = "https://example.com/päth?q=✓";
    let mut body = "<html><head><title>Tést</title></head><body>".as_bytes().to_vec();
    body.extend_from_slice(&[0xFF, 0xFE, 0x00]);
    body.extend_from_slice("</body></html>".as_bytes());

    let expected = golden("fingerprint-request.bin");
    assert_bytes_eq("fingerprint-request.bin", &encode_fingerprint_request(&headers, url, &body), &expected);
    assert_eq!(decode_fingerprint_request(&expected), (headers, url.to_owned(), body));
}

#[test]
fn fingerprint_request_empty() {
    let expected = golden("fingerprint-request-empty.bin");
    assert_bytes_eq("fingerprint-request-empty.bin", &encode_fingerprint_request(&Vec::new(), "", &[]), &expected);
    assert_eq!(decode_fingerprint_request(&expected), (Vec::new(), String::new(), Vec::new()));
}

/// (name, version, categories)
type Technologies = Vec<(String, String, Vec<String>)>;

fn encode_fingerprint_response(technologies: &Technologies) -> Vec<u8> {
    let length = 8
        + 4
        + technologies
            .iter()
            .map(|(n, v, c)| 4 + c.iter().map(|c| 2 + c.len()).sum::<usize>() + 2 + n.len() + 2 + v.len())
            .sum::<usize>();
    let mut frame = vec![0u8; length];
    {
        let mut header = FingerprintResponseEncoder::default().wrap(WriteBuf::new(&mut frame), 8).header(0);
        let encoder = header.parent().unwrap();
        let mut group = encoder.technologies_encoder(technologies.len() as u16, Default::default());
        for (name, version, categories) in technologies {
            assert!(group.advance().unwrap().is_some());
            let mut nested = group.categories_encoder(categories.len() as u16, Default::default());
            for category in categories {
                assert!(nested.advance().unwrap().is_some());
                nested.name(category);
            }
            group = nested.parent().unwrap();
            group.name(name).version(version);
        }
        let encoder = group.parent().unwrap();
        assert_eq!(8 + encoder.encoded_length(), length);
    }
    frame
}

fn decode_fingerprint_response(frame: &[u8]) -> Technologies {
    header(frame, fingerprint_response_codec::SBE_TEMPLATE_ID, fingerprint_response_codec::SBE_BLOCK_LENGTH);
    let mh = MessageHeaderDecoder::default().wrap(ReadBuf::new(frame), 0);
    let mut group = FingerprintResponseDecoder::default().header(mh, 0).technologies_decoder();
    let mut technologies = Vec::new();
    while group.advance().unwrap().is_some() {
        let mut nested = group.categories_decoder();
        let mut categories = Vec::new();
        while nested.advance().unwrap().is_some() {
            categories.push(utf8(frame, nested.name_decoder()));
        }
        group = nested.parent().unwrap();
        let name = utf8(frame, group.name_decoder());
        let version = utf8(frame, group.version_decoder());
        technologies.push((name, version, categories));
    }
    let decoder = group.parent().unwrap();
    use polybridge_worker::codecs::Decoder;
    assert_eq!(decoder.get_limit(), frame.len());
    technologies
}

#[test]
fn fingerprint_response() {
    let s = |v: &str| v.to_owned();
    let technologies: Technologies = vec![
        (s("Nginx"), s("1.25.3"), vec![s("Web servers"), s("Reverse proxies")]),
        (s("React"), s(""), vec![s("JavaScript frameworks")]),
        (s("Ünïcode ✓ 日本"), s(""), vec![]),
    ];
    let expected = golden("fingerprint-response.bin");
    assert_bytes_eq("fingerprint-response.bin", &encode_fingerprint_response(&technologies), &expected);
    assert_eq!(decode_fingerprint_response(&expected), technologies);
}

#[test]
fn fingerprint_response_empty() {
    let expected = golden("fingerprint-response-empty.bin");
    assert_bytes_eq("fingerprint-response-empty.bin", &encode_fingerprint_response(&Vec::new()), &expected);
    assert_eq!(decode_fingerprint_response(&expected), Vec::new());
}

fn fingerprint_body() -> Vec<u8> {
    let mut body = "<html><head><title>Tést</title></head><body>".as_bytes().to_vec();
    body.extend_from_slice(&[0xFF, 0xFE, 0x00]);
    body.extend_from_slice("</body></html>".as_bytes());
    body
}

#[test]
fn signals_request() {
    let url = "https://example.com/päth";
    let body = fingerprint_body();
    let expected = golden("signals-request.bin");
    let mut encoded = vec![0u8; 8 + 2 + url.len() + 4 + body.len()];
    {
        let mut header = SignalsRequestEncoder::default().wrap(WriteBuf::new(&mut encoded), 8).header(0);
        header.parent().unwrap().url(url).body(&body);
    }
    assert_bytes_eq("signals-request.bin", &encoded, &expected);
    assert_eq!(signals::decode_request(&expected), Ok(SignalsRequest { url, body: &body }));
}

fn check_signals_response(file: &str, signals: &Signals) {
    let expected = golden(file);
    let mut encoded = vec![0u8; signals::response_length(signals)];
    signals::encode_response(signals, &mut encoded).unwrap();
    assert_bytes_eq(file, &encoded, &expected);
    assert_eq!(&decode_signals_response(&expected), signals);
}

#[test]
fn signals_response() {
    let signals = Signals {
        links: 12,
        scripts: 3,
        stylesheets: 2,
        iframes: 1,
        forms: 1,
        password_inputs: 1,
        external_hosts: vec!["cdn.example.net".to_owned(), "ünïcode.example".to_owned()],
        title: "Tést ✓".to_owned(),
        favicon: "https://example.com/favicon.ico".to_owned(),
        digest: "T1A2B3C4".to_owned(),
    };
    check_signals_response("signals-response.bin", &signals);
}

#[test]
fn signals_response_empty() {
    check_signals_response("signals-response-empty.bin", &Signals::default());
}
