//! The handler pool without Aeron: admission, OVERLOADED, cancellation, deadlines, panics.

mod common;

use common::decode_response;
use polybridge_worker::codecs::error_code::ErrorCode;
use polybridge_worker::pool::{CancelOutcome, Completion, Rejected};
use polybridge_worker::wire::{self, FrameLimits, Inbound, Metadata, ReplyTo};
use polybridge_worker::{Call, Context, Echo, Handler, HandlerError, Pool, PoolConfig, Reply};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

fn call<'a>(correlation_id: i64, name: &str, handler: Arc<dyn Handler>, payload: &'a [u8], timeout_ns: i64) -> Call<'a> {
    Call {
        reply_to: ReplyTo::new(correlation_id, 1000),
        timeout_ns,
        name: Arc::from(name),
        handler,
        metadata: Metadata::EMPTY,
        payload,
        region: None,
        inline: false,
    }
}

fn pool(size: usize, queue_depth: usize) -> Pool {
    Pool::start(PoolConfig { size, queue_depth }, FrameLimits::UNLIMITED, std::thread::current()).unwrap()
}

/// Waits (parked, woken by the pool) for the next completion; gives up after a minute so a
/// bug fails the test instead of hanging it.
fn next(pool: &mut Pool) -> Completion {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(completion) = pool.try_complete() {
            return completion;
        }
        assert!(Instant::now() < give_up, "no completion within a minute");
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// A handler that tells when it starts and then waits until the gate opens.
struct Gated {
    started: Mutex<Sender<i64>>,
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl Handler for Gated {
    fn handle(&self, _: &Context, payload: &[u8], reply: &mut Reply<'_>) -> Result<(), HandlerError> {
        let id = i64::from(payload.first().copied().unwrap_or(0));
        self.started.lock().unwrap().send(id).unwrap();
        let (open, opened) = &*self.gate;
        let mut open = open.lock().unwrap();
        while !*open {
            open = opened.wait(open).unwrap();
        }
        reply.write(payload);
        Ok(())
    }
}

type Gate = Arc<(Mutex<bool>, Condvar)>;

fn gated() -> (Arc<dyn Handler>, std::sync::mpsc::Receiver<i64>, Gate) {
    let (tx, rx) = channel();
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    (Arc::new(Gated { started: Mutex::new(tx), gate: Arc::clone(&gate) }), rx, gate)
}

fn open(gate: &(Mutex<bool>, Condvar)) {
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
}

#[test]
fn every_call_completes_exactly_once_with_its_own_payload() {
    let mut pool = pool(3, 64);
    let echo: Arc<dyn Handler> = Arc::new(Echo);
    let mut seen = vec![0u32; 500];
    let mut submitted = 0;
    let mut completed = 0;
    while completed < seen.len() {
        while submitted < seen.len() {
            let payload = (submitted as u32).to_le_bytes();
            if pool.submit(&call(submitted as i64, "echo", Arc::clone(&echo), &payload, 0), Instant::now()).is_err() {
                break; // full: take completions first
            }
            submitted += 1;
        }
        let completion = next(&mut pool);
        let response = decode_response(&completion.frame);
        assert_eq!(completion.code, Some(ErrorCode::OK));
        let id = response.correlation_id as usize;
        assert_eq!(response.payload, (id as u32).to_le_bytes());
        seen[id] += 1;
        completed += 1;
        pool.recycle(completion.frame);
    }
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    assert_eq!(pool.in_flight(), 0);
    pool.shutdown();
}

#[test]
fn a_full_queue_is_overloaded_and_admits_again_once_drained() {
    let mut pool = pool(1, 2);
    let (handler, started, gate) = gated();
    pool.submit(&call(1, "gated", Arc::clone(&handler), &[1], 0), Instant::now()).unwrap();
    assert_eq!(started.recv().unwrap(), 1, "the only thread is now busy");
    pool.submit(&call(2, "gated", Arc::clone(&handler), &[2], 0), Instant::now()).unwrap();
    pool.submit(&call(3, "gated", Arc::clone(&handler), &[3], 0), Instant::now()).unwrap();
    let rejected = pool.submit(&call(4, "gated", Arc::clone(&handler), &[4], 0), Instant::now()).unwrap_err();
    assert_eq!(rejected, Rejected::Full { in_flight: 3, queue_depth: 2 });
    assert!(rejected.to_string().contains("overloaded"), "{rejected}");

    open(&gate);
    let mut ids: Vec<i64> = (0..3).map(|_| next(&mut pool).reply_to.correlation_id).collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3]);
    pool.submit(&call(5, "gated", handler, &[5], 0), Instant::now()).unwrap();
    assert_eq!(next(&mut pool).code, Some(ErrorCode::OK));
}

#[test]
fn a_cancel_drops_a_queued_call_and_only_flags_a_running_one_that_ignores_its_context() {
    let mut pool = pool(1, 4);
    let (handler, started, gate) = gated();
    pool.submit(&call(1, "gated", Arc::clone(&handler), &[1], 0), Instant::now()).unwrap();
    assert_eq!(started.recv().unwrap(), 1);
    pool.submit(&call(2, "gated", Arc::clone(&handler), &[2], 0), Instant::now()).unwrap();

    let reply_to = |id| ReplyTo::new(id, 1000);
    let elsewhere = ReplyTo::on(1, 1000, "aeron:udp?endpoint=10.0.0.1:41000");
    assert_eq!(pool.cancel(&elsewhere), CancelOutcome::NotFound, "the reply channel is part of the key");
    assert_eq!(pool.cancel(&reply_to(1)), CancelOutcome::Running, "a running call only sees its context cancelled");
    assert_eq!(pool.cancel(&reply_to(2)), CancelOutcome::Queued, "a queued call is dropped");
    assert_eq!(pool.cancel(&reply_to(2)), CancelOutcome::NotFound, "only once");
    assert_eq!(pool.cancel(&reply_to(1)), CancelOutcome::NotFound, "only once while running too");
    assert_eq!(pool.cancel(&reply_to(99)), CancelOutcome::NotFound, "unknown ids are ignored");
    let other_stream = ReplyTo::new(1, 7);
    assert_eq!(pool.cancel(&other_stream), CancelOutcome::NotFound, "the reply stream is part of the key");

    open(&gate);
    let mut outcomes: Vec<(i64, Option<ErrorCode>)> =
        (0..2).map(|_| next(&mut pool)).map(|c| (c.reply_to.correlation_id, c.code)).collect();
    outcomes.sort_by_key(|(id, _)| *id);
    assert_eq!(outcomes, [(1, Some(ErrorCode::OK)), (2, None)], "the cancelled call never ran");
    assert!(started.try_recv().is_err(), "the cancelled handler was not started");
    assert_eq!(pool.in_flight(), 0);
}

#[test]
fn a_call_whose_deadline_passed_in_the_queue_is_answered_timeout_without_running() {
    let mut pool = pool(1, 4);
    let (handler, started, gate) = gated();
    pool.submit(&call(1, "gated", Arc::clone(&handler), &[1], 0), Instant::now()).unwrap();
    assert_eq!(started.recv().unwrap(), 1);
    // 1 ns: long gone by the time the busy thread takes it.
    pool.submit(&call(2, "gated", Arc::clone(&handler), &[2], 1), Instant::now()).unwrap();
    // No deadline (0) never expires.
    pool.submit(&call(3, "gated", Arc::clone(&handler), &[3], 0), Instant::now()).unwrap();
    open(&gate);
    let mut outcomes: Vec<(i64, Option<ErrorCode>)> =
        (0..3).map(|_| next(&mut pool)).map(|c| (c.reply_to.correlation_id, c.code)).collect();
    outcomes.sort_by_key(|(id, _)| *id);
    assert_eq!(outcomes, [(1, Some(ErrorCode::OK)), (2, Some(ErrorCode::TIMEOUT)), (3, Some(ErrorCode::OK))]);
    let started: Vec<i64> = started.try_iter().collect();
    assert_eq!(started, [3], "the expired call was not started");
}

#[test]
fn panics_and_errors_in_pooled_handlers_are_answered_and_the_pool_keeps_serving() {
    let mut pool = pool(2, 8);
    let boom: Arc<dyn Handler> =
        Arc::new(|_: &Context, _: &[u8], _: &mut Reply<'_>| -> Result<(), HandlerError> { panic!("pooled kaboom") });
    let fail: Arc<dyn Handler> =
        Arc::new(|_: &Context, _: &[u8], _: &mut Reply<'_>| Err(HandlerError::Failed("nope".to_owned())));
    for i in 0..4 {
        pool.submit(&call(i, "boom", Arc::clone(&boom), &[], 0), Instant::now()).unwrap();
    }
    pool.submit(&call(10, "fail", fail, &[], 0), Instant::now()).unwrap();
    pool.submit(&call(11, "echo", Arc::new(Echo), b"alive", 0), Instant::now()).unwrap();
    let mut by_id: Vec<(i64, ErrorCode, String)> = (0..6)
        .map(|_| next(&mut pool))
        .map(|c| {
            let r = decode_response(&c.frame);
            (r.correlation_id, c.code.unwrap(), if r.code == ErrorCode::OK { String::from_utf8(r.payload).unwrap() } else { r.message })
        })
        .collect();
    by_id.sort_by_key(|(id, _, _)| *id);
    for (_, code, message) in &by_id[..4] {
        assert_eq!(*code, ErrorCode::PANIC);
        assert_eq!(message, "handler 'boom' panicked: pooled kaboom");
    }
    assert_eq!(by_id[4], (10, ErrorCode::HANDLER_ERROR, "nope".to_owned()));
    assert_eq!(by_id[5], (11, ErrorCode::OK, "alive".to_owned()));
}

#[test]
fn stopping_answers_queued_calls_worker_unavailable_and_lets_the_running_one_finish() {
    let mut pool = pool(1, 4);
    let (handler, started, gate) = gated();
    pool.submit(&call(1, "gated", Arc::clone(&handler), &[1], 0), Instant::now()).unwrap();
    assert_eq!(started.recv().unwrap(), 1);
    pool.submit(&call(2, "gated", Arc::clone(&handler), &[2], 0), Instant::now()).unwrap();
    pool.submit(&call(3, "gated", Arc::clone(&handler), &[3], 0), Instant::now()).unwrap();
    assert_eq!(pool.cancel(&ReplyTo::new(3, 1000)), CancelOutcome::Queued);
    pool.stop_taking_calls();
    // The queued calls are answered at once, while the running one still holds its thread.
    let queued = next(&mut pool);
    assert_eq!((queued.reply_to.correlation_id, queued.code), (2, Some(ErrorCode::WORKER_UNAVAILABLE)));
    let response = decode_response(&queued.frame);
    assert_eq!(response.message, "handler 'gated' not started: the worker is stopping");
    let cancelled = next(&mut pool);
    assert_eq!((cancelled.reply_to.correlation_id, cancelled.code), (3, None), "its CANCELLED went out already");
    assert_eq!(pool.submit(&call(4, "gated", Arc::clone(&handler), &[4], 0), Instant::now()), Err(Rejected::Stopped));
    assert!(!pool.is_stopped());
    open(&gate);
    let running = next(&mut pool);
    assert_eq!((running.reply_to.correlation_id, running.code), (1, Some(ErrorCode::OK)));
    assert_eq!(pool.in_flight(), 0);
    pool.shutdown();
    assert!(started.try_recv().is_err(), "no queued call was run");
}

/// A handler that tells when it starts, then works until its context says stop (giving up after
/// a minute so a bug fails the test), and answers with what the context says.
fn until_cancelled() -> (Arc<dyn Handler>, std::sync::mpsc::Receiver<i64>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let handler = move |ctx: &Context, payload: &[u8], _: &mut Reply<'_>| -> Result<(), HandlerError> {
        tx.lock().unwrap().send(i64::from(payload[0])).unwrap();
        let give_up = Instant::now() + Duration::from_secs(60);
        while !ctx.is_cancelled() && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(1));
        }
        ctx.check()
    };
    (Arc::new(handler), rx)
}

#[test]
fn a_cancel_reaches_a_running_handler_through_its_context_and_it_answers_cancelled() {
    let mut pool = pool(1, 4);
    let (handler, started) = until_cancelled();
    pool.submit(&call(1, "slow", handler, &[1], 0), Instant::now()).unwrap();
    assert_eq!(started.recv().unwrap(), 1);
    assert_eq!(pool.cancel(&ReplyTo::new(1, 1000)), CancelOutcome::Running);
    let completion = next(&mut pool);
    assert_eq!(completion.code, Some(ErrorCode::CANCELLED));
    assert_eq!(decode_response(&completion.frame).message, "handler 'slow' stopped: the caller cancelled the request");
}

#[test]
fn a_running_handler_sees_its_deadline_pass_and_answers_timeout() {
    let mut pool = pool(1, 4);
    let (handler, started) = until_cancelled();
    // 50 ms: long enough to be taken from the queue before it passes (else TIMEOUT unstarted,
    // which the test accepts too, as the answer is the same).
    pool.submit(&call(1, "slow", handler, &[1], 50_000_000), Instant::now()).unwrap();
    let completion = next(&mut pool);
    assert_eq!(completion.code, Some(ErrorCode::TIMEOUT));
    drop(started);
}

#[test]
fn stopping_cancels_running_handlers_contexts_and_they_answer_worker_unavailable() {
    let mut pool = pool(1, 4);
    let (handler, started) = until_cancelled();
    pool.submit(&call(1, "slow", Arc::clone(&handler), &[1], 0), Instant::now()).unwrap();
    assert_eq!(started.recv().unwrap(), 1);
    pool.submit(&call(2, "slow", handler, &[2], 0), Instant::now()).unwrap();
    pool.stop_taking_calls();
    let mut outcomes: Vec<(i64, Option<ErrorCode>)> =
        (0..2).map(|_| next(&mut pool)).map(|c| (c.reply_to.correlation_id, c.code)).collect();
    outcomes.sort_by_key(|(id, _)| *id);
    assert_eq!(
        outcomes,
        [(1, Some(ErrorCode::WORKER_UNAVAILABLE)), (2, Some(ErrorCode::WORKER_UNAVAILABLE))],
        "the running call stopped through its context, the queued one never ran"
    );
    assert!(started.try_recv().is_err());
    pool.shutdown();
}

#[test]
fn a_pooled_handler_gets_the_requests_metadata_and_deadline() {
    let frame = common::encode_request_with_metadata(
        8,
        5_000_000_000,
        1000,
        &[("traceparent", "00-abc-01"), ("tenant", "t1")],
        "meta",
        b"",
    );
    let Ok(Inbound::Request(request)) = wire::decode_inbound(&frame) else { panic!("not a request") };
    let handler = |ctx: &Context, _: &[u8], reply: &mut Reply<'_>| -> Result<(), HandlerError> {
        let mut pairs: Vec<String> = ctx.metadata().iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.sort();
        reply.write(pairs.join(",").as_bytes());
        reply.write(if ctx.deadline().is_some() { b";deadline" } else { b";none" });
        Ok(())
    };
    let mut pool = pool(1, 4);
    let mut pooled = call(8, "meta", Arc::new(handler), request.payload, request.timeout_ns);
    pooled.metadata = request.metadata;
    pool.submit(&pooled, Instant::now()).unwrap();
    let completion = next(&mut pool);
    assert_eq!(decode_response(&completion.frame).payload, b"tenant=t1,traceparent=00-abc-01;deadline");
}

#[test]
fn dropping_the_pool_does_not_wait_for_a_running_handler() {
    let mut pool = pool(1, 4);
    let (handler, started, gate) = gated();
    pool.submit(&call(1, "gated", handler, &[1], 0), Instant::now()).unwrap();
    assert_eq!(started.recv().unwrap(), 1);
    let before = Instant::now();
    drop(pool);
    assert!(before.elapsed() < Duration::from_secs(5), "dropped in {:?}", before.elapsed());
    open(&gate); // lets the detached thread end
}

#[test]
fn idle_strategies_and_park_durations_parse_as_the_go_worker_writes_them() {
    use polybridge_worker::idle::parse_duration;
    use polybridge_worker::IdleStrategy;
    assert_eq!(
        "backoff".parse::<IdleStrategy>().unwrap().with_park(Duration::from_micros(250)),
        IdleStrategy::Backoff {
            max_park: Duration::from_micros(250),
            sleep_after: Duration::from_millis(50),
            sleep: Duration::from_millis(100)
        }
    );
    assert_eq!("sleep".parse::<IdleStrategy>().unwrap(), IdleStrategy::Sleeping { period: Duration::from_millis(1) });
    assert_eq!("yield".parse::<IdleStrategy>().unwrap(), IdleStrategy::Yielding);
    assert_eq!("spin".parse::<IdleStrategy>().unwrap(), IdleStrategy::BusySpin);
    assert!("fast".parse::<IdleStrategy>().is_err());
    assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
    assert_eq!(parse_duration("1ms"), Ok(Duration::from_millis(1)));
    assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
    assert_eq!(parse_duration("0.25s"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert!(parse_duration(".ms").is_err());
    assert!(parse_duration("1.2.3s").is_err());
    assert!(polybridge_worker::idle::parse_positive_duration("0s").is_err());
    assert!(parse_duration("ms").is_err());
    assert!(parse_duration("10").is_err());
}
