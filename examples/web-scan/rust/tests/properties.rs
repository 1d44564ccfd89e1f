//! Property tests: no payload panics html.signals (any body is answered, any other payload is
//! answered or rejected as BAD_REQUEST), and its messages round-trip.

mod common;

use common::{call, decode_signals_response, signals_request};
use polybridge_worker::typed;
use polybridge_worker::HandlerError;
use proptest::collection::vec;
use proptest::prelude::*;
use web_scan::signals::{self, Signals, SignalsRequest};

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

/// A valid SignalsRequest with some bytes then overwritten and the end maybe cut off.
fn mutated_request() -> impl Strategy<Value = Vec<u8>> {
    ("\\PC{0,20}", vec(any::<u8>(), 0..64), vec((any::<usize>(), any::<u8>()), 0..6), any::<usize>()).prop_map(
        |(url, body, edits, cut)| {
            let mut frame = signals_request(&url, &body);
            for (at, byte) in edits {
                let at = at % frame.len();
                frame[at] = byte;
            }
            let keep = cut % (frame.len() + 1);
            frame.truncate(keep.max(frame.len() / 2));
            frame
        },
    )
}

proptest! {
    #[test]
    fn decoding_arbitrary_or_mutated_payloads_never_panics(raw in vec(any::<u8>(), 0..256), mutated in mutated_request()) {
        for payload in [raw, mutated] {
            let _ = typed::decode::<SignalsRequest>(&payload);
            prop_assert!(matches!(call(&payload), Ok(_) | Err(HandlerError::BadPayload(_))));
        }
    }

    #[test]
    fn signals_requests_round_trip(url in "\\PC{0,60}", body in vec(any::<u8>(), 0..512)) {
        let frame = signals_request(&url, &body);
        prop_assert_eq!(typed::decode::<SignalsRequest>(&frame), Ok(SignalsRequest { url, body }));
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
    fn html_signals_answers_any_body(
        soup in html_soup(), raw in vec(any::<u8>(), 0..300), url in "(https?://[a-z]{1,8}\\.[a-z]{2,3}/)?[ -~]{0,10}") {
        for body in [soup.as_bytes(), &raw[..]] {
            let payload = call(&signals_request(&url, body)).expect("any body is answered");
            let s = decode_signals_response(&payload);
            prop_assert!(s.external_hosts.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(s, signals::extract(&url, body));
        }
    }
}
