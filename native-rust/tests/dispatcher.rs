//! The dispatcher, request frame in, response frame out: no media driver needed.

mod common;

use common::{decode_response, encode_cancel, encode_cancel_to, encode_request, encode_request_to, pattern};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::wire::{self, DecodeError, FrameLimits, ReplyTo};
use polybridge_worker::{Context, Dispatcher, HandlerError, Outcome, Registry, Reply};
use std::sync::Arc;

fn dispatcher() -> Dispatcher {
    Dispatcher::new(Arc::new(Registry::with_builtin()))
}

fn reply(correlation_id: i64, reply_stream_id: i32, code: ErrorCode) -> Outcome {
    Outcome::Reply { reply_to: ReplyTo::new(correlation_id, reply_stream_id), code }
}

#[test]
fn echo_answers_ok_with_the_same_payload() {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let frame = encode_request(17, 1_000_000, 1001, "echo", b"hello");
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(17, 1001, ErrorCode::OK));
    let decoded = decode_response(&response);
    assert_eq!(decoded.correlation_id, 17);
    assert_eq!(decoded.code, ErrorCode::OK);
    assert_eq!(decoded.message, "");
    assert_eq!(decoded.payload, b"hello");
    assert_eq!(dispatcher.counters().ok, 1);
}

#[test]
fn ok_response_written_in_place_equals_the_generated_encoding() {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    dispatcher.dispatch(&encode_request(42, 0, 7, "echo", b"pong"), &mut response);
    let mut expected = Vec::new();
    wire::encode_response(&mut expected, 42, ErrorCode::OK, "", b"pong");
    assert_eq!(response, expected);
}

#[test]
fn echo_of_an_empty_payload_is_empty() {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let frame = encode_request(0, 0, 1, "echo", &[]);
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(0, 1, ErrorCode::OK));
    let decoded = decode_response(&response);
    assert_eq!(decoded.code, ErrorCode::OK);
    assert!(decoded.payload.is_empty());
}

#[test]
fn echo_of_one_mebibyte_is_exact_and_the_buffer_is_reused() {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let payload = pattern(1 << 20);
    let frame = encode_request(-5, 0, 1001, "echo", &payload);
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(-5, 1001, ErrorCode::OK));
    assert_eq!(decode_response(&response).payload, payload);
    let capacity = response.capacity();

    let frame = encode_request(-6, 0, 1001, "echo", b"small");
    dispatcher.dispatch(&frame, &mut response);
    assert_eq!(decode_response(&response).payload, b"small");
    assert_eq!(response.capacity(), capacity, "the response buffer is reused, not reallocated");
}

#[test]
fn unknown_handler_is_not_found_and_names_what_is_served() {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let frame = encode_request(9, 0, 1001, "wappalyzer.fingerprint", b"x");
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(9, 1001, ErrorCode::NOT_FOUND));
    let decoded = decode_response(&response);
    assert_eq!(decoded.message, "no handler named 'wappalyzer.fingerprint'; this worker serves: echo");
    assert!(decoded.payload.is_empty());
    assert_eq!(dispatcher.counters().not_found, 1);
}

fn bad_request(frame: &[u8], correlation_id: i64, reply_stream_id: i32) -> String {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let outcome = dispatcher.dispatch(frame, &mut response);
    assert_eq!(outcome, reply(correlation_id, reply_stream_id, ErrorCode::BAD_REQUEST));
    let decoded = decode_response(&response);
    assert_eq!(decoded.correlation_id, correlation_id);
    assert_eq!(decoded.code, ErrorCode::BAD_REQUEST);
    assert!(decoded.payload.is_empty());
    assert_eq!(dispatcher.counters().malformed_replied, 1);
    assert_eq!(dispatcher.counters().requests, 0);
    decoded.message
}

fn dropped(frame: &[u8]) -> DecodeError {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let Outcome::Dropped(error) = dispatcher.dispatch(frame, &mut response) else {
        panic!("expected the frame to be dropped");
    };
    assert_eq!(dispatcher.counters().malformed_dropped, 1);
    assert_eq!(dispatcher.counters().malformed_replied, 0);
    error
}

#[test]
fn wrong_version_is_a_bad_request() {
    let mut frame = encode_request(11, 0, 1001, "echo", b"x");
    frame[6..8].copy_from_slice(&1u16.to_le_bytes());
    let message = bad_request(&frame, 11, 1001);
    assert!(message.contains("schema version 1"), "{message}");
}

#[test]
fn block_length_shorter_than_the_template_is_a_bad_request() {
    let mut frame = encode_request(12, 0, 1001, "echo", b"x");
    frame[0..2].copy_from_slice(&19u16.to_le_bytes());
    let message = bad_request(&frame, 12, 1001);
    assert!(message.contains("block length 19"), "{message}");
}

#[test]
fn block_length_past_the_frame_is_a_bad_request() {
    let mut frame = encode_request(12, 0, 1001, "echo", b"x");
    frame[0..2].copy_from_slice(&u16::MAX.to_le_bytes());
    bad_request(&frame, 12, 1001);
}

#[test]
fn truncated_request_is_a_bad_request() {
    let frame = encode_request(13, 0, 1001, "echo", &pattern(100));
    for cut in [28, 29, 30, 33, 35, frame.len() - 1] {
        let message = bad_request(&frame[..cut], 13, 1001);
        assert!(message.starts_with("malformed frame: "), "{message}");
    }
}

#[test]
fn lying_handler_length_is_a_bad_request() {
    let mut frame = encode_request(14, 0, 1001, "echo", b"x");
    // Header 8 + block 44 + an empty metadata group 4 + an empty replyChannel 2: the
    // handler's length is at 58.
    frame[58..60].copy_from_slice(&60000u16.to_le_bytes());
    let message = bad_request(&frame, 14, 1001);
    assert!(message.contains("'handler' claims 60000 bytes"), "{message}");
}

#[test]
fn lying_payload_length_is_a_bad_request() {
    let mut frame = encode_request(15, 0, 1001, "echo", b"xyz");
    let at = 8 + 44 + 4 + 2 + 2 + 4;
    frame[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let message = bad_request(&frame, 15, 1001);
    assert!(message.contains("'payload' claims 4294967295 bytes"), "{message}");
}

#[test]
fn handler_name_that_is_not_utf8_is_a_bad_request() {
    let mut frame = encode_request(16, 0, 1001, "echo", b"");
    frame[60] = 0xFF;
    let message = bad_request(&frame, 16, 1001);
    assert!(message.contains("UTF-8"), "{message}");
}

#[test]
fn malformed_cancel_with_readable_ids_is_a_bad_request() {
    // Cancel header (block 12, template 3) with version 9, correlation id 21, reply stream 77.
    let mut frame = Vec::new();
    for v in [12u16, 3, 7101, 9] {
        frame.extend_from_slice(&v.to_le_bytes());
    }
    frame.extend_from_slice(&21i64.to_le_bytes());
    frame.extend_from_slice(&77i32.to_le_bytes());
    bad_request(&frame, 21, 77);
}

#[test]
fn well_formed_cancel_is_counted_and_not_answered() {
    let frame = encode_cancel(21, 77);
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let outcome = dispatcher.dispatch(&frame, &mut response);
    assert_eq!(outcome, Outcome::Cancelled { reply_to: ReplyTo::new(21, 77) });
    assert_eq!(dispatcher.counters().cancels, 1);
}

#[test]
fn wrong_schema_id_is_dropped_because_nothing_in_it_can_be_trusted() {
    let mut frame = encode_request(1, 0, 1001, "echo", b"x");
    frame[4..6].copy_from_slice(&7100u16.to_le_bytes());
    assert_eq!(dropped(&frame), DecodeError::WrongSchemaId { found: 7100 });
}

#[test]
fn unknown_template_is_dropped() {
    let mut frame = encode_request(1, 0, 1001, "echo", b"x");
    frame[2..4].copy_from_slice(&2u16.to_le_bytes()); // a Response sent to a worker
    assert_eq!(dropped(&frame), DecodeError::UnknownTemplate { found: 2 });
}

#[test]
fn frames_without_a_readable_correlation_id_and_reply_stream_are_dropped() {
    let frame = encode_request(1, 0, 1001, "echo", b"x");
    assert_eq!(dropped(&[]), DecodeError::ShorterThanHeader { length: 0 });
    assert_eq!(dropped(&frame[..7]), DecodeError::ShorterThanHeader { length: 7 });
    // header plus part of the correlation id, then header plus the id but no reply stream
    assert!(matches!(dropped(&frame[..12]), DecodeError::BlockPastFrame { .. }));
    assert!(matches!(dropped(&frame[..20]), DecodeError::BlockPastFrame { .. }));
}

#[test]
fn dispatcher_keeps_working_after_bad_frames() {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    dispatcher.dispatch(&[1, 2, 3], &mut response);
    let mut lying = encode_request(2, 0, 5, "echo", b"x");
    lying[52..54].copy_from_slice(&999u16.to_le_bytes());
    dispatcher.dispatch(&lying, &mut response);
    assert_eq!(dispatcher.dispatch(&encode_request(3, 0, 5, "echo", b"ok"), &mut response), reply(3, 5, ErrorCode::OK));
    assert_eq!(decode_response(&response).payload, b"ok");
    let counters = dispatcher.counters();
    assert_eq!((counters.malformed_dropped, counters.malformed_replied, counters.ok), (1, 1, 1));
}

#[test]
fn a_reply_stream_id_of_zero_or_below_is_dropped_unanswered_whatever_the_frame() {
    let cancel = common::encode_cancel(7, 0);
    let mut wrong_version = encode_request(8, 0, -5, "echo", b"x");
    wrong_version[6..8].copy_from_slice(&2u16.to_le_bytes());
    for (frame, stream) in [
        (encode_request(1, 0, 0, "echo", b"x"), 0),
        (encode_request(2, 0, -1, "echo", b"x"), -1),
        (encode_request(3, 0, i32::MIN, "nope", b"x"), i32::MIN),
        (encode_request(4, -1, 0, "echo", b"x"), 0),
        (wrong_version, -5),
    ] {
        assert_eq!(dropped(&frame), DecodeError::BadReplyStream { found: stream });
    }
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let outcome = dispatcher.dispatch(&cancel, &mut response);
    assert!(matches!(outcome, Outcome::Dropped(DecodeError::BadReplyStream { found: 0 })), "{outcome:?}");
    assert_eq!(dispatcher.counters().cancels, 0);
}

#[test]
fn the_workers_own_request_and_control_streams_are_refused_as_reply_streams() {
    let mut dispatcher = dispatcher();
    dispatcher.refuse_reply_streams(&[200, 10]);
    let mut response = Vec::new();
    for stream in [200, 10] {
        let outcome = dispatcher.dispatch(&encode_request(1, 0, stream, "echo", b"x"), &mut response);
        assert_eq!(outcome, Outcome::Dropped(DecodeError::BadReplyStream { found: stream }));
    }
    assert_eq!(dispatcher.counters().malformed_dropped, 2);
    assert_eq!(dispatcher.dispatch(&encode_request(2, 0, 11, "echo", b"x"), &mut response), reply(2, 11, ErrorCode::OK));
}

#[test]
fn an_enormous_unknown_handler_name_is_quoted_only_in_part() {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let name = "x".repeat(65_000);
    let frame = encode_request(9, 0, 1001, &name, b"");
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(9, 1001, ErrorCode::NOT_FOUND));
    let message = decode_response(&response).message;
    assert!(message.len() < 400, "{} bytes", message.len());
    assert!(message.starts_with(&format!("no handler named '{}...'", &name[..200])), "{message}");
}

fn registry_with(name: &str, handler: impl polybridge_worker::Handler + 'static) -> Dispatcher {
    let mut registry = Registry::with_builtin();
    registry.register(name, handler).unwrap();
    Dispatcher::new(Arc::new(registry))
}

#[test]
fn handler_failure_is_a_handler_error_with_its_message() {
    let mut dispatcher = registry_with("fail", |_: &Context, _: &[u8], reply: &mut Reply<'_>| {
        reply.write(b"partial output is discarded");
        Err(HandlerError::Failed("handler failed: Ünïcödé ✓".to_owned()))
    });
    let mut response = Vec::new();
    let frame = encode_request(-42, 0, 3, "fail", b"");
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(-42, 3, ErrorCode::HANDLER_ERROR));
    let decoded = decode_response(&response);
    assert_eq!(decoded.message, "handler failed: Ünïcödé ✓");
    assert!(decoded.payload.is_empty());
}

#[test]
fn rejected_payload_is_a_bad_request() {
    let mut dispatcher = registry_with("picky", |_: &Context, _: &[u8], _: &mut Reply<'_>| {
        Err(HandlerError::BadPayload("not a fingerprint request".to_owned()))
    });
    let mut response = Vec::new();
    let frame = encode_request(4, 0, 3, "picky", b"?");
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(4, 3, ErrorCode::BAD_REQUEST));
    assert_eq!(decode_response(&response).message, "not a fingerprint request");
}

#[test]
fn panicking_handler_is_answered_with_panic_and_the_dispatcher_survives() {
    let mut dispatcher = registry_with("boom", |_: &Context, _: &[u8], _: &mut Reply<'_>| -> Result<(), HandlerError> {
        panic!("kaboom")
    });
    let mut response = Vec::new();
    let frame = encode_request(5, 0, 3, "boom", b"");
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(5, 3, ErrorCode::PANIC));
    assert_eq!(decode_response(&response).message, "handler 'boom' panicked: kaboom");
    let frame = encode_request(6, 0, 3, "echo", b"still here");
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(6, 3, ErrorCode::OK));
}

#[test]
fn response_larger_than_the_largest_message_is_too_large() {
    let mut dispatcher = dispatcher();
    dispatcher.set_max_frame_length(1000);
    let mut response = Vec::new();
    let frame = encode_request(8, 0, 3, "echo", &pattern(2000));
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(8, 3, ErrorCode::TOO_LARGE));
    let decoded = decode_response(&response);
    assert!(decoded.message.contains("largest message is 1000 bytes"), "{}", decoded.message);
}

#[test]
fn very_long_error_message_is_cut_on_a_character_boundary() {
    let long = "✓".repeat(30000); // 90000 bytes
    let mut response = Vec::new();
    wire::encode_response(&mut response, 1, ErrorCode::HANDLER_ERROR, &long, &[]);
    let decoded = decode_response(&response);
    assert!(decoded.message.len() <= wire::MAX_VAR_STRING_LENGTH);
    assert_eq!(decoded.message.len() % 3, 0);
}

#[test]
fn registry_rejects_duplicate_and_empty_names() {
    let mut registry = Registry::with_builtin();
    assert!(registry.register("echo", polybridge_worker::Echo).is_err());
    assert!(registry.register("", polybridge_worker::Echo).is_err());
    assert_eq!(registry.names().collect::<Vec<_>>(), ["echo"]);
}

#[test]
fn a_deadline_already_passed_when_sent_is_a_timeout_without_running_the_handler() {
    let mut dispatcher = registry_with("never", |_: &Context, _: &[u8], _: &mut Reply<'_>| -> Result<(), HandlerError> {
        panic!("must not run")
    });
    let mut response = Vec::new();
    let frame = encode_request(31, -1, 3, "never", b"");
    assert_eq!(dispatcher.dispatch(&frame, &mut response), reply(31, 3, ErrorCode::TIMEOUT));
    assert!(decode_response(&response).message.contains("deadline"));
    assert_eq!((dispatcher.counters().timeouts, dispatcher.counters().panics), (1, 0));
}

#[test]
fn echo_runs_inline_and_registered_handlers_on_the_pool() {
    let mut registry = Registry::with_builtin();
    registry.register("pooled", polybridge_worker::Echo).unwrap();
    registry.register_inline("quick", polybridge_worker::Echo).unwrap();
    let mut dispatcher = Dispatcher::new(Arc::new(registry));
    let mut response = Vec::new();
    for (name, inline) in [("echo", true), ("pooled", false), ("quick", true)] {
        let frame = encode_request(1, 0, 1, name, b"");
        match dispatcher.route(&frame, &mut response) {
            polybridge_worker::Routed::Call(call) => assert_eq!((&*call.name, call.inline), (name, inline)),
            _ => panic!("{name} was not routed to a call"),
        }
    }
}

#[test]
fn trailing_bytes_after_a_request_or_cancel_are_a_bad_request() {
    let mut frame = encode_request(41, 0, 1001, "echo", b"x");
    frame.extend_from_slice(&[0, 0, 0]);
    assert!(bad_request(&frame, 41, 1001).contains("3 bytes follow"));
    let mut cancel = encode_cancel(42, 1001);
    cancel.push(0);
    assert!(bad_request(&cancel, 42, 1001).contains("1 bytes follow"));
}

const UDP_REPLY: &str = "aeron:udp?endpoint=10.42.0.1:41000";

#[test]
fn a_request_with_a_reply_channel_is_answered_there() {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let frame = encode_request_to(51, 0, 1001, &[], UDP_REPLY, "echo", b"hi");
    let outcome = dispatcher.dispatch(&frame, &mut response);
    assert_eq!(outcome, Outcome::Reply { reply_to: ReplyTo::on(51, 1001, UDP_REPLY), code: ErrorCode::OK });
    assert_eq!(decode_response(&response).payload, b"hi");
    let Outcome::Reply { reply_to, .. } = dispatcher.dispatch(&frame, &mut response) else { panic!("not answered") };
    assert_eq!(reply_to.reply_channel.as_deref(), Some(UDP_REPLY));
}

#[test]
fn each_reply_is_held_to_the_largest_message_of_its_own_channel() {
    // A driver's IPC term (the own channel) and the UDP reply channels' term are set apart: a
    // 4 MB echo over IPC must not be refused for the reply channels' 2 MiB.
    let mut dispatcher = dispatcher();
    dispatcher.set_frame_limits(FrameLimits { own_channel: 4000, reply_channels: 1000 });
    let mut response = Vec::new();
    let ipc = encode_request(61, 0, 1001, "echo", &pattern(2000));
    assert_eq!(dispatcher.dispatch(&ipc, &mut response), reply(61, 1001, ErrorCode::OK));
    let udp = encode_request_to(62, 0, 1001, &[], UDP_REPLY, "echo", &pattern(2000));
    let outcome = dispatcher.dispatch(&udp, &mut response);
    assert_eq!(outcome, Outcome::Reply { reply_to: ReplyTo::on(62, 1001, UDP_REPLY), code: ErrorCode::TOO_LARGE });
    assert!(decode_response(&response).message.contains("largest message is 1000 bytes"));
    let too_large_anywhere = encode_request(63, 0, 1001, "echo", &pattern(5000));
    assert_eq!(dispatcher.dispatch(&too_large_anywhere, &mut response), reply(63, 1001, ErrorCode::TOO_LARGE));
}

#[test]
fn a_cancel_names_the_call_by_its_reply_channel_too() {
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let outcome = dispatcher.dispatch(&encode_cancel_to(21, 77, UDP_REPLY), &mut response);
    assert_eq!(outcome, Outcome::Cancelled { reply_to: ReplyTo::on(21, 77, UDP_REPLY) });
}

#[test]
fn an_invalid_reply_channel_is_a_bad_request_on_the_workers_own_channel() {
    let too_long = format!("aeron:udp?endpoint={}.example:1", "a".repeat(240));
    for channel in [
        "aeron:ipc",
        "aeron:udp?endpoint=x:1|term-length=64k",
        "aeron:udp?endpoint=10.0.0.1:0",
        "aeron:udp?endpoint=10.0.0.1:65536",
        "aeron:udp?endpoint=10.0.0.1",
        "aeron:udp?control=10.0.0.1:40102",
        "aeron:udp?endpoint=[::1:41000",
        "aeron:udp?endpoint=bad_host:41000",
        too_long.as_str(),
    ] {
        let mut dispatcher = dispatcher();
        let mut response = Vec::new();
        let frame = encode_request_to(61, 0, 1001, &[], channel, "echo", b"x");
        let outcome = dispatcher.dispatch(&frame, &mut response);
        assert_eq!(
            outcome,
            Outcome::Reply { reply_to: ReplyTo::new(61, 1001), code: ErrorCode::BAD_REQUEST },
            "{channel}"
        );
        let message = decode_response(&response).message;
        assert!(message.contains("replyChannel must be empty or aeron:udp?endpoint=HOST:PORT"), "{channel}: {message}");
        let cancel = dispatcher.dispatch(&encode_cancel_to(62, 1001, channel), &mut response);
        assert_eq!(cancel, Outcome::Reply { reply_to: ReplyTo::new(62, 1001), code: ErrorCode::BAD_REQUEST }, "{channel}");
    }
}

#[test]
fn a_malformed_request_with_a_valid_reply_channel_is_answered_on_it() {
    let mut frame = encode_request_to(71, 0, 1001, &[], UDP_REPLY, "echo", b"x");
    // The handler's length follows the replyChannel: make it lie.
    let at = 8 + 44 + 4 + 2 + UDP_REPLY.len();
    frame[at..at + 2].copy_from_slice(&60000u16.to_le_bytes());
    let mut dispatcher = dispatcher();
    let mut response = Vec::new();
    let outcome = dispatcher.dispatch(&frame, &mut response);
    assert_eq!(outcome, Outcome::Reply { reply_to: ReplyTo::on(71, 1001, UDP_REPLY), code: ErrorCode::BAD_REQUEST });
}

#[test]
fn a_reply_channel_whose_length_lies_is_a_bad_request_on_the_workers_own_channel() {
    let mut frame = encode_request_to(81, 0, 1001, &[], UDP_REPLY, "echo", b"x");
    frame[56..58].copy_from_slice(&60000u16.to_le_bytes());
    let message = bad_request(&frame, 81, 1001);
    assert!(message.contains("'replyChannel' claims 60000 bytes"), "{message}");
}
