//! hello.greet as the worker runs it: a Greet is answered with a Greeting; an empty name, or a
//! payload that is no Greet, is a BAD_REQUEST.

use hello::greet_codec::GreetEncoder;
use hello::greeting_codec::GreetingDecoder;
use hello::message_header_codec::MessageHeaderDecoder;
use hello::{ReadBuf, WriteBuf};
use polybridge_worker::{Context, HandlerError, Registry, Reply};

fn greet_message(name: &str) -> Vec<u8> {
    let mut message = vec![0u8; 8 + 2 + name.len()];
    GreetEncoder::default().wrap(WriteBuf::new(&mut message), 8).header(0).parent().unwrap().name(name);
    message
}

fn call(payload: &[u8]) -> Result<String, HandlerError> {
    let mut registry = Registry::new();
    hello_worker::register(&mut registry).unwrap();
    let mut out = Vec::new();
    registry.get(hello_worker::METHOD).unwrap().handle(&Context::new(), payload, &mut Reply::new(&mut out))?;
    let header = MessageHeaderDecoder::default().wrap(ReadBuf::new(&out), 0);
    let (at, len) = GreetingDecoder::default().header(header, 0).text_decoder();
    Ok(String::from_utf8(out[at..at + len].to_vec()).unwrap())
}

#[test]
fn a_greet_is_answered_with_a_greeting() {
    assert_eq!(call(&greet_message("Ada")).unwrap(), "Hello, Ada, from Rust!");
}

#[test]
fn an_empty_name_or_a_payload_that_is_no_greet_is_a_bad_request() {
    let mut lying = greet_message("Ada");
    lying[8..10].copy_from_slice(&9999u16.to_le_bytes());
    let mut not_greet = greet_message("Ada");
    not_greet[2] = 2; // template id of Greeting
    for payload in [greet_message(""), lying, not_greet, b"Ada".to_vec(), Vec::new()] {
        assert!(matches!(call(&payload), Err(HandlerError::BadPayload(_))), "{payload:?}");
    }
}
