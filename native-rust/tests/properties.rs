//! Property tests: no input panics the decoder, the dispatcher or html.signals, and what is
//! encoded decodes back to the same values.

mod common;

use common::{decode_response, decode_signals_response, encode_request};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::codecs::signals_request_codec::SignalsRequestEncoder;
use polybridge_worker::codecs::WriteBuf;
use polybridge_worker::signals::{self, Signals, SignalsRequest};
use polybridge_worker::wire::{self, Inbound};
use polybridge_worker::{Dispatcher, Outcome, Registry};
use proptest::collection::vec;
use proptest::prelude::*;
use std::sync::Arc;

fn dispatcher() -> Dispatcher {
    Dispatcher::new(Arc::new(Registry::with_builtin()))
}

fn signals_request(url: &str, body: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 8 + 2 + url.len() + 4 + body.len()];
    let mut header = SignalsRequestEncoder::default().wrap(WriteBuf::new(&mut frame), 8).header(0);
    header.parent().unwrap().url(url).body(body);
    frame
}

/// A valid Request frame, with some bytes then overwritten and the end maybe cut off.
fn mutated_request() -> impl Strategy<Value = Vec<u8>> {
    (any::<i64>(), "[a-z.]{0,20}", vec(any::<u8>(), 0..64), vec((any::<usize>(), any::<u8>()), 0..6), any::<usize>())
        .prop_map(|(id, handler, payload, edits, cut)| {
            let mut frame = encode_request(id, 0, 1001, &handler, &payload);
            for (at, byte) in edits {
                let at = at % frame.len();
                frame[at] = byte;
            }
            let keep = cut % (frame.len() + 1);
            frame.truncate(keep.max(frame.len() / 2));
            frame
        })
}

fn html_soup() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("<a href=x>".to_owned()), Just("</a>".to_owned()), Just("<title>".to_owned()), Just("</title>".to_owned()),
        Just("<table>".to_owned()), Just("<tr><td>".to_owned()), Just("<form>".to_owned()), Just("<svg><a href=s>".to_owned()),
        Just("<template>".to_owned()), Just("<noscript>".to_owned()), Just("<script>".to_owned()), Just("</script>".to_owned()),
        Just("<input type=password>".to_owned()), Just("<link rel=stylesheet href=//h.org/>".to_owned()),
        Just("<base href=https://b.org/>".to_owned()), Just("<!--".to_owned()), Just("<b><i></b></i>".to_owned()),
        "[ -~]{0,12}", "\\PC{0,6}",
    ];
    vec(pieces, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(frame in vec(any::<u8>(), 0..256)) {
        let _ = wire::decode_inbound(&frame);
        let _ = signals::decode_request(&frame);
    }

    #[test]
    fn dispatching_arbitrary_bytes_never_panics_and_answers_only_with_a_readable_address(frame in vec(any::<u8>(), 0..256)) {
        let mut response = Vec::new();
        if let Outcome::Reply { reply_to, .. } = dispatcher().dispatch(&frame, &mut response) {
            prop_assert_eq!(decode_response(&response).correlation_id, reply_to.correlation_id);
        }
    }

    #[test]
    fn mutated_requests_never_panic_the_dispatcher(frame in mutated_request()) {
        let mut d = dispatcher();
        let mut response = Vec::new();
        d.dispatch(&frame, &mut response);
        let outcome = d.dispatch(&encode_request(1, 0, 1, "echo", b"after"), &mut response);
        prop_assert!(matches!(outcome, Outcome::Reply { code: ErrorCode::OK, .. }), "{:?}", outcome);
    }

    #[test]
    fn requests_round_trip(id in any::<i64>(), timeout in any::<i64>(), stream in any::<i32>(),
                           handler in "\\PC{0,30}", payload in vec(any::<u8>(), 0..512)) {
        let frame = encode_request(id, timeout, stream, &handler, &payload);
        let decoded = wire::decode_inbound(&frame);
        let Ok(Inbound::Request(request)) = decoded else { panic!("{decoded:?}") };
        prop_assert_eq!(
            (request.correlation_id, request.timeout_ns, request.reply_stream_id, request.handler, request.payload),
            (id, timeout, stream, &handler[..], &payload[..])
        );
        prop_assert!(request.metadata.is_empty());
    }

    #[test]
    fn responses_round_trip(id in any::<i64>(), code in 0u8..12, message in "\\PC{0,40}", payload in vec(any::<u8>(), 0..512)) {
        let code = ErrorCode::from(code);
        let mut frame = Vec::new();
        wire::encode_response(&mut frame, id, code, &message, &payload);
        let decoded = decode_response(&frame);
        prop_assert_eq!((decoded.correlation_id, decoded.code, decoded.message, decoded.payload), (id, code, message, payload));
    }

    #[test]
    fn signals_requests_round_trip(url in "\\PC{0,60}", body in vec(any::<u8>(), 0..512)) {
        let frame = signals_request(&url, &body);
        prop_assert_eq!(signals::decode_request(&frame), Ok(SignalsRequest { url: &url, body: &body }));
    }

    #[test]
    fn signals_responses_round_trip(counts in vec(any::<u32>(), 6), hosts in vec("[a-z0-9.-]{1,20}", 0..8),
                                    title in "\\PC{0,40}", favicon in "\\PC{0,40}", digest in "[0-9A-F]{0,72}") {
        let signals = Signals {
            links: counts[0], scripts: counts[1], stylesheets: counts[2], iframes: counts[3], forms: counts[4],
            password_inputs: counts[5], external_hosts: hosts, title, favicon, digest,
        };
        let mut frame = vec![0u8; signals::response_length(&signals)];
        signals::encode_response(&signals, &mut frame).unwrap();
        prop_assert_eq!(decode_signals_response(&frame), signals);
    }

    #[test]
    fn html_signals_answers_any_body_ok_and_any_payload_ok_or_bad_request(
        soup in html_soup(), raw in vec(any::<u8>(), 0..300), url in "(https?://[a-z]{1,8}\\.[a-z]{2,3}/)?[ -~]{0,10}") {
        let mut d = dispatcher();
        let mut response = Vec::new();
        for body in [soup.as_bytes(), &raw[..]] {
            let frame = encode_request(2, 0, 3, "html.signals", &signals_request(&url, body));
            let outcome = d.dispatch(&frame, &mut response);
            prop_assert!(matches!(outcome, Outcome::Reply { code: ErrorCode::OK, .. }), "{:?}", decode_response(&response));
            let s = signals::extract(&url, body);
            prop_assert!(s.external_hosts.windows(2).all(|w| w[0] < w[1]));
        }
        let frame = encode_request(3, 0, 3, "html.signals", &raw);
        let outcome = d.dispatch(&frame, &mut response);
        prop_assert!(matches!(outcome, Outcome::Reply { code: ErrorCode::OK | ErrorCode::BAD_REQUEST, .. }), "{:?}", outcome);
    }
}
