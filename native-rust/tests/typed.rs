//! Typed handlers (`Registry::register_typed`) through the dispatcher, with the hello example's
//! generated codecs: the header is checked against the request type, any decoding failure (a
//! lying length that makes the generated decoder panic included) is BAD_REQUEST, a handler's
//! own panic is PANIC, and the response is exactly one message of the response type.

mod common;

use common::{decode_response, encode_request};
use hello::greet_codec::{GreetDecoder, GreetEncoder};
use hello::greeting_codec::{GreetingDecoder, GreetingEncoder};
use hello::message_header_codec::MessageHeaderDecoder;
use hello::{ReadBuf, WriteBuf};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::typed::{self, DecodeError, DecodeMessage, EncodeMessage, MESSAGE_HEADER_LENGTH};
use polybridge_worker::{sbe_message, Context, Dispatcher, HandlerError, Registry};
use std::sync::Arc;

struct Greet(String);
struct Greeting(String);
sbe_message!(Greet, hello::greet_codec, "Greet");
sbe_message!(Greeting, hello::greeting_codec, "Greeting");

impl DecodeMessage for Greet {
    fn decode(message: &[u8]) -> Result<Self, DecodeError> {
        let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(message), 0);
        let (at, len) = GreetDecoder::default().header(header, 0).name_decoder();
        let name = std::str::from_utf8(&message[at..at + len]).map_err(|e| DecodeError::Invalid(e.to_string()))?;
        Ok(Self(name.to_owned()))
    }
}

impl EncodeMessage for Greeting {
    fn encoded_length(&self) -> usize {
        MESSAGE_HEADER_LENGTH + 2 + self.0.len()
    }
    fn encode(&self, message: &mut [u8]) -> Result<(), HandlerError> {
        let mut header = GreetingEncoder::default().wrap(WriteBuf::new(message), MESSAGE_HEADER_LENGTH).header(0);
        header.parent().unwrap().text(&self.0);
        Ok(())
    }
}

/// A response type that claims to be a Greeting but writes no header.
struct Headless;
sbe_message!(Headless, hello::greeting_codec, "Greeting");
impl EncodeMessage for Headless {
    fn encoded_length(&self) -> usize {
        MESSAGE_HEADER_LENGTH + 2
    }
    fn encode(&self, _: &mut [u8]) -> Result<(), HandlerError> {
        Ok(())
    }
}

fn greet(name: &str) -> Vec<u8> {
    let mut message = vec![0u8; 8 + 2 + name.len()];
    GreetEncoder::default().wrap(WriteBuf::new(&mut message), 8).header(0).parent().unwrap().name(name);
    message
}

fn dispatcher() -> Dispatcher {
    let mut registry = Registry::with_builtin();
    registry
        .register_typed("greet", |_: &Context, Greet(name)| match name.as_str() {
            "panic" => panic!("greet panicked on purpose"),
            "fail" => Err(HandlerError::Failed("greet failed".to_owned())),
            _ => Ok(Greeting(format!("Hello, {name}!"))),
        })
        .unwrap();
    registry.register_typed("headless", |_: &Context, _: Greet| Ok(Headless)).unwrap();
    Dispatcher::new(Arc::new(registry))
}

/// (code, message, payload) of one call.
fn call(dispatcher: &mut Dispatcher, handler: &str, payload: &[u8]) -> (ErrorCode, String, Vec<u8>) {
    let mut response = Vec::new();
    dispatcher.dispatch(&encode_request(1, 0, 1001, handler, payload), &mut response);
    let decoded = decode_response(&response);
    (decoded.code, decoded.message, decoded.payload)
}

#[test]
fn a_well_formed_request_is_decoded_handled_and_encoded_as_one_message() {
    let (code, message, payload) = call(&mut dispatcher(), "greet", &greet("Ada"));
    assert_eq!(code, ErrorCode::OK, "{message}");
    let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(&payload), 0);
    assert_eq!((header.schema_id(), header.template_id()), (hello::SBE_SCHEMA_ID, hello::greeting_codec::SBE_TEMPLATE_ID));
    let (at, len) = GreetingDecoder::default().header(header, 0).text_decoder();
    assert_eq!((&payload[at..at + len], at + len), (&b"Hello, Ada!"[..], payload.len()));
}

#[test]
fn a_payload_whose_header_is_not_the_request_type_is_a_bad_request_naming_what_differs() {
    let patched = |at: usize, value: u16| {
        let mut message = greet("Ada");
        message[at..at + 2].copy_from_slice(&value.to_le_bytes());
        message
    };
    let cases = [
        (b"Ada".to_vec(), "shorter than the 8-byte SBE message header"),
        (patched(4, 7101), "schema id 7101 is not 7301"),
        (patched(2, 2), "template id 2 is not 1 (Greet)"),
        (patched(6, 9), "schema version 9 is not 1"),
        (patched(0, 4), "block length 4 is not 0"),
    ];
    let mut dispatcher = dispatcher();
    for (payload, expected) in cases {
        let (code, message, _) = call(&mut dispatcher, "greet", &payload);
        assert_eq!(code, ErrorCode::BAD_REQUEST, "{message}");
        assert!(message.starts_with("not a valid Greet: ") && message.contains(expected), "{message}");
    }
}

#[test]
fn a_lying_length_that_panics_the_generated_decoder_is_a_bad_request_not_a_panic() {
    let mut dispatcher = dispatcher();
    for (at, value) in [(8, 60_000u16), (8, 4)] {
        let mut payload = greet("Ada");
        payload[at..at + 2].copy_from_slice(&value.to_le_bytes());
        let (code, message, _) = call(&mut dispatcher, "greet", &payload);
        assert_eq!(code, ErrorCode::BAD_REQUEST, "{message}");
        assert!(message.contains("runs past the payload"), "{message}");
    }
    // Cut inside the name's length prefix.
    let (code, _, _) = call(&mut dispatcher, "greet", &greet("Ada")[..9]);
    assert_eq!(code, ErrorCode::BAD_REQUEST);
    let counters = dispatcher.counters();
    assert_eq!((counters.bad_payloads, counters.panics), (3, 0));
    assert_eq!(call(&mut dispatcher, "greet", &greet("still serving")).0, ErrorCode::OK);
}

#[test]
fn invalid_content_the_decoder_reports_is_a_bad_request() {
    let mut payload = greet("Ada");
    payload[10] = 0xFF;
    let (code, message, _) = call(&mut dispatcher(), "greet", &payload);
    assert_eq!(code, ErrorCode::BAD_REQUEST);
    assert!(message.contains("utf-8"), "{message}");
}

#[test]
fn the_handlers_own_failures_are_handler_error_and_panic() {
    let mut dispatcher = dispatcher();
    assert_eq!(call(&mut dispatcher, "greet", &greet("fail")).0, ErrorCode::HANDLER_ERROR);
    let (code, message, _) = call(&mut dispatcher, "greet", &greet("panic"));
    assert_eq!((code, message.as_str()), (ErrorCode::PANIC, "handler 'greet' panicked: greet panicked on purpose"));
    let (code, message, _) = call(&mut dispatcher, "headless", &greet("Ada"));
    assert_eq!(code, ErrorCode::HANDLER_ERROR);
    assert!(message.contains("did not write its header"), "{message}");
}

#[test]
fn decode_and_encode_work_alone_too() {
    let Greet(name) = typed::decode::<Greet>(&greet("Ada")).unwrap();
    assert_eq!(name, "Ada");
    assert_eq!(typed::encode(&Greeting("x".to_owned())).unwrap().len(), 8 + 2 + 1);
    assert!(matches!(typed::decode::<Greet>(&[]), Err(DecodeError::ShorterThanHeader { length: 0 })));
}

proptest::proptest! {
    #[test]
    fn any_payload_is_answered_ok_or_bad_request_never_panic(
        raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
        name in "\\PC{0,12}",
        edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..4),
        cut in proptest::prelude::any::<usize>(),
    ) {
        let mut mutated = greet(&name);
        for (at, byte) in edits {
            let at = at % mutated.len();
            mutated[at] = byte;
        }
        mutated.truncate(cut % (mutated.len() + 1));
        let mut dispatcher = dispatcher();
        for payload in [raw, mutated] {
            let (code, message, _) = call(&mut dispatcher, "greet", &payload);
            proptest::prop_assert!(
                matches!(code, ErrorCode::OK | ErrorCode::BAD_REQUEST | ErrorCode::HANDLER_ERROR | ErrorCode::PANIC),
                "{code:?}: {message}"
            );
            // PANIC and HANDLER_ERROR only from the test handler's own names "panic" and "fail".
            if code == ErrorCode::PANIC || code == ErrorCode::HANDLER_ERROR {
                let decoded = typed::decode::<Greet>(&payload).map(|Greet(name)| name);
                proptest::prop_assert!(matches!(decoded.as_deref(), Ok("panic" | "fail")), "{code:?}: {message}");
            }
        }
    }
}
