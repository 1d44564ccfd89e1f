//! The Stats typed method (docs/wasm.md): the request is n >= 1 little-endian f64 samples,
//! the reply a 32-byte StatsReply {count u64, min f64, max f64, mean f64}, little-endian.
//! A payload that is not a whole number of samples exits 65 (EX_DATAERR): BAD_REQUEST.
//! Handler: wasm.rust_stats.
use std::io::{self, Read, Write};
use std::process::ExitCode;

const EX_DATAERR: u8 = 65;

fn main() -> ExitCode {
    let mut payload = Vec::new();
    if let Err(err) = io::stdin().read_to_end(&mut payload) {
        eprintln!("reading stdin: {err}");
        return ExitCode::FAILURE;
    }
    if payload.is_empty() || payload.len() % 8 != 0 {
        eprintln!(
            "stats takes 1 or more little-endian f64 samples, got {} bytes",
            payload.len()
        );
        return ExitCode::from(EX_DATAERR);
    }
    let samples = payload.chunks_exact(8).map(|c| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        f64::from_le_bytes(b)
    });
    let (mut lo, mut hi, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0u64);
    for v in samples {
        lo = lo.min(v);
        hi = hi.max(v);
        sum += v;
        n += 1;
    }
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&lo.to_le_bytes());
    out.extend_from_slice(&hi.to_le_bytes());
    out.extend_from_slice(&(sum / n as f64).to_le_bytes());
    match io::stdout().write_all(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("writing stdout: {err}");
            ExitCode::FAILURE
        }
    }
}
