//! Request metadata on the wire: the limits of docs/protocol.md (at most 32 entries, keys 1-128
//! bytes, values up to 4096 bytes, UTF-8, unique keys); a frame that breaks one is answered
//! BAD_REQUEST with a message that says which.

mod common;

use common::{decode_response, encode_request_with_metadata};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::wire::{self, DecodeError, Inbound};
use polybridge_worker::{Context, Dispatcher, HandlerError, Outcome, Registry, Reply};
use std::sync::Arc;

fn frame(metadata: &[(&str, &str)]) -> Vec<u8> {
    encode_request_with_metadata(5, 0, 1001, metadata, "echo", b"hi")
}

/// The dispatcher's answer: its code and message.
fn answer(frame: &[u8]) -> (ErrorCode, String) {
    let mut dispatcher = Dispatcher::new(Arc::new(Registry::with_builtin()));
    let mut response = Vec::new();
    match dispatcher.dispatch(frame, &mut response) {
        Outcome::Reply { .. } => {
            let decoded = decode_response(&response);
            assert_eq!(decoded.correlation_id, 5);
            (decoded.code, decoded.message)
        }
        other => panic!("not answered: {other:?}"),
    }
}

fn rejected(frame: &[u8]) -> DecodeError {
    match wire::decode_inbound(frame) {
        Err(malformed) => {
            assert!(malformed.reply_to.is_some(), "the reply address is readable");
            malformed.error
        }
        Ok(inbound) => panic!("accepted: {inbound:?}"),
    }
}

#[test]
fn metadata_within_the_limits_is_decoded_in_order() {
    let key = "k".repeat(128);
    let value = "v".repeat(4096);
    let entries: Vec<(String, String)> = (0..31).map(|i| (format!("key-{i}"), format!("value {i}"))).collect();
    let mut metadata: Vec<(&str, &str)> = entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    metadata.push((&key, &value));
    let encoded = frame(&metadata);
    let Ok(Inbound::Request(request)) = wire::decode_inbound(&encoded) else { panic!("not a request") };
    assert_eq!(request.metadata.iter().collect::<Vec<_>>(), metadata);
    assert_eq!(answer(&encoded).0, ErrorCode::OK);
}

#[test]
fn more_than_32_entries_are_a_bad_request() {
    let keys: Vec<String> = (0..33).map(|i| format!("k{i}")).collect();
    let metadata: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "")).collect();
    let encoded = frame(&metadata);
    assert_eq!(rejected(&encoded), DecodeError::TooManyMetadataEntries { count: 33 });
    let (code, message) = answer(&encoded);
    assert_eq!(code, ErrorCode::BAD_REQUEST);
    assert!(message.contains("33 metadata entries"), "{message}");
}

#[test]
fn an_empty_or_too_long_key_is_a_bad_request() {
    assert_eq!(rejected(&frame(&[("a", "1"), ("", "2")])), DecodeError::MetadataKeyLength { index: 1, length: 0 });
    let long = "k".repeat(129);
    assert_eq!(rejected(&frame(&[(&long, "")])), DecodeError::MetadataKeyLength { index: 0, length: 129 });
    let (code, message) = answer(&frame(&[("", "x")]));
    assert_eq!(code, ErrorCode::BAD_REQUEST);
    assert!(message.contains("keys are 1 to 128 bytes"), "{message}");
}

#[test]
fn a_value_over_4096_bytes_is_a_bad_request() {
    let long = "v".repeat(4097);
    assert_eq!(
        rejected(&frame(&[("big", &long)])),
        DecodeError::MetadataValueTooLong { index: 0, key: "big".to_owned(), length: 4097 }
    );
}

#[test]
fn a_duplicate_key_is_a_bad_request() {
    let encoded = frame(&[("tenant", "a"), ("other", "b"), ("tenant", "c")]);
    assert_eq!(rejected(&encoded), DecodeError::DuplicateMetadataKey { key: "tenant".to_owned() });
    let (code, message) = answer(&encoded);
    assert_eq!(code, ErrorCode::BAD_REQUEST);
    assert!(message.contains("'tenant' appears more than once"), "{message}");
}

#[test]
fn keys_and_values_must_be_utf8() {
    // Header 8 + block 44 + group header 4 + key length 2: the key's first byte is at 58.
    let mut encoded = frame(&[("key", "value")]);
    encoded[58] = 0xFF;
    assert_eq!(rejected(&encoded), DecodeError::NotUtf8 { field: "metadata key" });
    let mut encoded = frame(&[("key", "value")]);
    encoded[58 + 3 + 2] = 0xC3;
    assert_eq!(rejected(&encoded), DecodeError::NotUtf8 { field: "metadata value" });
}

#[test]
fn lying_lengths_in_the_group_are_a_bad_request() {
    // A count of 3 with one entry: the second entry's key length runs past... into the handler.
    let mut encoded = frame(&[("key", "value")]);
    encoded[54] = 3;
    assert_eq!(answer(&encoded).0, ErrorCode::BAD_REQUEST);
    // A key length of 60000.
    let mut encoded = frame(&[("key", "value")]);
    encoded[56..58].copy_from_slice(&60000u16.to_le_bytes());
    assert!(matches!(rejected(&encoded), DecodeError::VarDataPastFrame { field: "metadata key", .. }));
    // A group whose entries claim a fixed block.
    let mut encoded = frame(&[]);
    encoded[52] = 4;
    assert_eq!(
        rejected(&encoded),
        DecodeError::WrongGroupBlockLength { group: "metadata", found: 4, expected: 0 }
    );
    // A frame cut inside the group header.
    let encoded = frame(&[]);
    assert!(matches!(rejected(&encoded[..54]), DecodeError::GroupHeaderPastFrame { .. }));
}

#[test]
fn a_handler_sees_the_metadata_in_its_context() {
    let mut registry = Registry::with_builtin();
    registry
        .register("meta", |ctx: &Context, _: &[u8], reply: &mut Reply<'_>| -> Result<(), HandlerError> {
            let value = ctx.metadata().get("traceparent").ok_or(HandlerError::BadPayload("no traceparent".into()))?;
            reply.write(value.as_bytes());
            Ok(())
        })
        .unwrap();
    let mut dispatcher = Dispatcher::new(Arc::new(registry));
    let mut response = Vec::new();
    let encoded = encode_request_with_metadata(5, 0, 1001, &[("traceparent", "00-abc-01")], "meta", b"");
    assert!(matches!(dispatcher.dispatch(&encoded, &mut response), Outcome::Reply { code: ErrorCode::OK, .. }));
    assert_eq!(decode_response(&response).payload, b"00-abc-01");
    let without = encode_request_with_metadata(6, 0, 1001, &[], "meta", b"");
    assert!(matches!(dispatcher.dispatch(&without, &mut response), Outcome::Reply { code: ErrorCode::BAD_REQUEST, .. }));
}
