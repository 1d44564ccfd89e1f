//! A WASI command module (ABI "command", docs/wasm.md): upper-cases the payload read from
//! stdin and writes it to stdout. Handler: wasm.rust_echo.
use std::io::{self, Read, Write};

fn main() -> io::Result<()> {
    let mut payload = Vec::new();
    io::stdin().read_to_end(&mut payload)?;
    payload.make_ascii_uppercase();
    io::stdout().write_all(&payload)
}
