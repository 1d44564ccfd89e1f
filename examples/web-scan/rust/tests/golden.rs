//! The web-scan schema's golden vectors (`../schema/golden/README.md`): encode each logical
//! value with the generated codecs (and the worker's own encoder where it has one), compare
//! with the bytes the Java suite wrote, then decode the file back to the same values.

mod common;

use common::{assert_bytes_eq, decode_signals_response};
use polybridge_worker::typed;
use std::path::PathBuf;
use web_scan::signals::{self, Signals, SignalsRequest};
use webscan::fingerprint_request_codec::{self, FingerprintRequestDecoder, FingerprintRequestEncoder};
use webscan::fingerprint_response_codec::{self, FingerprintResponseDecoder, FingerprintResponseEncoder};
use webscan::message_header_codec::MessageHeaderDecoder;
use webscan::signals_request_codec::SignalsRequestEncoder;
use webscan::{ReadBuf, WriteBuf, SBE_SCHEMA_ID, SBE_SCHEMA_VERSION};

fn golden(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/golden").join(name);
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!("golden vector {} cannot be read ({error}); the Java suite writes it", path.display())
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
    use webscan::Decoder;
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
    let decoded: SignalsRequest = typed::decode(&expected).expect("decodes");
    assert_eq!(decoded, SignalsRequest { url: url.to_owned(), body });
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
