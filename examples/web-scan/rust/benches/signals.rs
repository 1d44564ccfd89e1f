//! `cargo bench --bench signals`: html.signals alone (no Aeron) on every page of the shared
//! corpus: SignalsRequest in, SignalsResponse out, through the SDK's dispatcher on one thread.
//! Prints throughput over the whole corpus and the time of the smallest, median and largest page.

use polybridge_worker::codecs::request_codec::{RequestEncoder, SBE_BLOCK_LENGTH};
use polybridge_worker::{Dispatcher, Outcome, Registry};
use webscan::signals_request_codec::SignalsRequestEncoder;
use webscan::WriteBuf;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn request(url: &str, body: &[u8]) -> Vec<u8> {
    let mut payload = vec![0u8; 8 + 2 + url.len() + 4 + body.len()];
    let mut header = SignalsRequestEncoder::default().wrap(WriteBuf::new(&mut payload), 8).header(0);
    if let Ok(mut encoder) = header.parent() {
        encoder.url(url).body(body);
    }
    let handler = "html.signals";
    // Header, fixed block (its length from the schema: v3 added the region reference, left 0 here:
    // the payload is inline), an empty metadata group, an empty reply channel (IPC), the handler name
    // and the payload.
    let mut frame = vec![0u8; 8 + SBE_BLOCK_LENGTH as usize + 4 + 2 + 2 + handler.len() + 4 + payload.len()];
    let mut header = RequestEncoder::default()
        .wrap(polybridge_worker::codecs::WriteBuf::new(&mut frame), 8)
        .header(0);
    if let Ok(mut encoder) = header.parent() {
        encoder.correlation_id(1).timeout_ns(0).reply_stream_id(1);
        let mut metadata = encoder.metadata_encoder(0, Default::default());
        if let Ok(mut encoder) = metadata.parent() {
            encoder.reply_channel("").handler(handler).payload(&payload);
        }
    }
    frame
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/corpus/html");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("corpus {} is absent: nothing to benchmark", dir.display());
        return;
    };
    let mut pages: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .filter_map(|p| Some((p.file_name()?.to_string_lossy().into_owned(), std::fs::read(&p).ok()?)))
        .collect();
    pages.sort_by_key(|(_, body)| body.len());
    let frames: Vec<Vec<u8>> =
        pages.iter().map(|(name, body)| request(&format!("https://corpus.polybridge.test/{name}"), body)).collect();
    let total_bytes: usize = pages.iter().map(|(_, body)| body.len()).sum();

    let mut registry = Registry::with_builtin();
    if let Err(error) = web_scan::signals::register(&mut registry) {
        eprintln!("{error}");
        return;
    }
    let mut dispatcher = Dispatcher::new(Arc::new(registry));
    let mut response = Vec::new();
    let mut run = |frame: &[u8]| {
        let outcome = dispatcher.dispatch(frame, &mut response);
        assert!(
            matches!(outcome, Outcome::Reply { code: polybridge_worker::codecs::error_code::ErrorCode::OK, .. }),
            "html.signals did not answer OK: {outcome:?}"
        );
    };
    // Warm up, then whole-corpus passes for at least 5 s.
    frames.iter().for_each(|f| run(f));
    let mut per_page = vec![Duration::MAX; frames.len()];
    let started = Instant::now();
    let mut passes = 0u32;
    while passes < 3 || started.elapsed() < Duration::from_secs(5) {
        for (i, frame) in frames.iter().enumerate() {
            let t = Instant::now();
            run(frame);
            per_page[i] = per_page[i].min(t.elapsed());
        }
        passes += 1;
    }
    let elapsed = started.elapsed();
    let per_pass = elapsed / passes;
    println!(
        "html.signals on {} pages ({:.1} MB): {:.1} ms per pass over the corpus, {:.1} MB/s, {:.0} pages/s (one thread, {passes} passes)",
        pages.len(),
        total_bytes as f64 / 1e6,
        per_pass.as_secs_f64() * 1e3,
        total_bytes as f64 / 1e6 / per_pass.as_secs_f64(),
        pages.len() as f64 / per_pass.as_secs_f64()
    );
    for i in [0, pages.len() / 2, pages.len() - 1] {
        println!("  {:<40} {:>9} bytes: best {:>9.3} ms", pages[i].0, pages[i].1.len(), per_page[i].as_secs_f64() * 1e3);
    }
}
