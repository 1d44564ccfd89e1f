//! Property tests: no input panics the decoder or the dispatcher, and what is encoded decodes
//! back to the same values.

mod common;

use common::{decode_response, encode_request};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::wire::{self, Inbound};
use polybridge_worker::{Dispatcher, Outcome, Registry};
use proptest::collection::vec;
use proptest::prelude::*;
use std::sync::Arc;

fn dispatcher() -> Dispatcher {
    Dispatcher::new(Arc::new(Registry::with_builtin()))
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

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(frame in vec(any::<u8>(), 0..256)) {
        let _ = wire::decode_inbound(&frame);
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
}
