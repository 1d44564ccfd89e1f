//! Helpers shared by the web-scan tests: a client's side of the web-scan messages, and calling
//! a handler the way a worker does.
#![allow(dead_code)]

use polybridge_worker::{Context, HandlerError, Reply};
use web_scan::Signals;
use webscan::message_header_codec::MessageHeaderDecoder;
use webscan::signals_request_codec::SignalsRequestEncoder;
use webscan::signals_response_codec::{self, SignalsResponseDecoder};
use webscan::{ReadBuf, WriteBuf, SBE_SCHEMA_ID, SBE_SCHEMA_VERSION};

/// A `SignalsRequest` message encoded with the generated encoder, as a client would.
pub fn signals_request(url: &str, body: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 8 + 2 + url.len() + 4 + body.len()];
    let mut header = SignalsRequestEncoder::default().wrap(WriteBuf::new(&mut frame), 8).header(0);
    header.parent().unwrap().url(url).body(body);
    frame
}

/// Runs `html.signals` as the worker would (panics are the test's failures): the payload it
/// wrote, or its error.
pub fn call(payload: &[u8]) -> Result<Vec<u8>, HandlerError> {
    let mut registry = polybridge_worker::Registry::new();
    web_scan::signals::register(&mut registry).unwrap();
    let handler = registry.get(web_scan::signals::HANDLER_NAME).unwrap();
    let mut out = Vec::new();
    handler.handle(&Context::new(), payload, &mut Reply::new(&mut out)).map(|()| out)
}

/// Decodes a `SignalsResponse` with the generated decoder and checks it fills the frame exactly.
pub fn decode_signals_response(frame: &[u8]) -> Signals {
    let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(frame), 0);
    assert_eq!(header.schema_id(), SBE_SCHEMA_ID);
    assert_eq!(header.version(), SBE_SCHEMA_VERSION);
    assert_eq!(header.template_id(), signals_response_codec::SBE_TEMPLATE_ID);
    assert_eq!(header.block_length(), signals_response_codec::SBE_BLOCK_LENGTH);
    let decoder = SignalsResponseDecoder::default().header(header, 0);
    let mut s = Signals {
        links: decoder.links(),
        scripts: decoder.scripts(),
        stylesheets: decoder.stylesheets(),
        iframes: decoder.iframes(),
        forms: decoder.forms(),
        password_inputs: decoder.password_inputs(),
        ..Default::default()
    };
    let text = |(at, len): (usize, usize)| String::from_utf8(frame[at..at + len].to_vec()).expect("UTF-8");
    let mut group = decoder.external_hosts_decoder();
    while group.advance().unwrap().is_some() {
        s.external_hosts.push(text(group.host_decoder()));
    }
    let mut decoder = group.parent().unwrap();
    s.title = text(decoder.title_decoder());
    s.favicon = text(decoder.favicon_decoder());
    let (at, len) = decoder.digest_decoder();
    s.digest = text((at, len));
    assert_eq!(at + len, frame.len(), "trailing bytes after the SignalsResponse");
    s
}

/// Equality for large byte strings that reports the first difference, not both dumps.
pub fn assert_bytes_eq(what: &str, actual: &[u8], expected: &[u8]) {
    if actual == expected {
        return;
    }
    let first = actual.iter().zip(expected).position(|(a, e)| a != e).unwrap_or(actual.len().min(expected.len()));
    panic!("{what}: {} bytes encoded, {} expected; first difference at byte {first}", actual.len(), expected.len());
}
