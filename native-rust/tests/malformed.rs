//! The shared malformed-frame cases in `../schema/malformed` (written by the Go suite): every
//! frame has the outcome its manifest names, and the worker keeps serving afterwards.

mod common;

use common::{decode_response, encode_request};
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::{Dispatcher, Outcome, Registry};
use std::path::PathBuf;
use std::sync::Arc;

/// Where every answerable case asks the answer to go: correlation id 77 on reply stream
/// 1001 of the worker's own channel, except the cases whose replyChannel was read and valid
/// (schema/malformed/README.md), which are answered on that channel.
const CORRELATION_ID: i64 = 77;
const REPLY_STREAM_ID: i32 = 1001;
const ANSWERED_ON_UDP: [&str; 2] = ["udp-reply-lying-handler-length.bin", "cancel-udp-trailing-bytes.bin"];
const UDP_REPLY_CHANNEL: &str = "aeron:udp?endpoint=10.42.0.1:41000";

#[test]
fn every_shared_malformed_frame_has_its_expected_outcome() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/malformed");
    let manifest_path = dir.join("manifest.tsv");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap_or_else(|error| {
        panic!(
            "{} cannot be read ({error}); the Go suite writes the cases: \
             cd native-go && go test -run TestWriteMalformedCases ./worker -malformed.write",
            manifest_path.display()
        )
    });
    let mut lines = manifest.lines().filter(|line| !line.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("manifest has a header line").split('\t').collect();
    assert_eq!(header[..2], ["file", "expected"], "manifest columns changed: {header:?}");

    let mut dispatcher = Dispatcher::new(Arc::new(Registry::with_builtin()));
    let mut response = Vec::new();
    let mut cases = 0;
    let mut problems = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        let (file, expected, what) = (fields[0], fields[1], fields.get(2).copied().unwrap_or(""));
        let frame = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let before = dispatcher.counters();
        let outcome = dispatcher.dispatch(&frame, &mut response);
        let after = dispatcher.counters();
        let channel = ANSWERED_ON_UDP.contains(&file).then_some(UDP_REPLY_CHANNEL);
        match expected {
            "BAD_REQUEST" => match outcome {
                Outcome::Reply { reply_to, code: ErrorCode::BAD_REQUEST }
                    if (reply_to.correlation_id, reply_to.reply_stream_id, reply_to.reply_channel.as_deref())
                        == (CORRELATION_ID, REPLY_STREAM_ID, channel) =>
                {
                    let decoded = decode_response(&response);
                    if decoded.correlation_id != 77 || decoded.code != ErrorCode::BAD_REQUEST || decoded.message.is_empty() {
                        problems.push(format!("{file} ({what}): answered {decoded:?}"));
                    }
                    // A bad payload region reference is counted as such (a request with a region
                    // reference and an inline payload too), every other one as malformed.
                    let counted = (after.malformed_replied + after.bad_region_refs)
                        - (before.malformed_replied + before.bad_region_refs);
                    assert_eq!(counted, 1, "{file}: not counted");
                }
                other => problems.push(format!(
                    "{file} ({what}): expected BAD_REQUEST to 77/1001 on {}, got {other:?}",
                    channel.unwrap_or("the worker's own channel")
                )),
            },
            "dropped" => match outcome {
                Outcome::Dropped(_) => {
                    assert_eq!(after.malformed_dropped, before.malformed_dropped + 1, "{file}: not counted")
                }
                other => problems.push(format!("{file} ({what}): expected it dropped, got {other:?}")),
            },
            other => panic!("{file}: unknown expected outcome '{other}' in the manifest"),
        }
        // Still serving.
        let echo = dispatcher.dispatch(&encode_request(1, 0, 5, "echo", b"ok"), &mut response);
        assert!(matches!(echo, Outcome::Reply { code: ErrorCode::OK, .. }), "{file}: worker stopped serving");
        cases += 1;
    }
    assert_eq!(problems, Vec::<String>::new());
    assert!(cases >= 10, "only {cases} cases in {}", manifest_path.display());
    eprintln!("{cases} shared malformed cases have their expected outcome");
}

/// `PayloadRelease` frames that do not decode are dropped (never answered: a release has no
/// answer) and counted; the worker keeps serving. A well-formed one is routed as a release.
#[test]
fn malformed_payload_releases_are_dropped_and_counted() {
    let mut dispatcher = Dispatcher::new(Arc::new(Registry::with_builtin()));
    let mut response = Vec::new();
    let release = common::encode_release(11, 1001, 0x0000_303A_0102_0304, 0);
    let mut wrong_version = release.clone();
    wrong_version[6..8].copy_from_slice(&2u16.to_le_bytes());
    let mut wrong_block = release.clone();
    wrong_block[0..2].copy_from_slice(&20u16.to_le_bytes());
    let mut trailing = release.clone();
    trailing.extend_from_slice(&[0, 0]);
    let cases: [&[u8]; 5] = [&release[..8], &release[..20], &wrong_version, &wrong_block, &trailing];
    for (i, frame) in cases.iter().enumerate() {
        assert!(matches!(dispatcher.dispatch(frame, &mut response), Outcome::Dropped(_)), "case {i}");
        assert_eq!(dispatcher.counters().malformed_dropped, i as u64 + 1, "case {i}");
    }
    assert_eq!(dispatcher.dispatch(&release, &mut response), Outcome::Released);
    let echo = dispatcher.dispatch(&encode_request(1, 0, 5, "echo", b"ok"), &mut response);
    assert!(matches!(echo, Outcome::Reply { code: ErrorCode::OK, .. }), "still serving");
    assert_eq!(decode_response(&response).payload, b"ok");
}
