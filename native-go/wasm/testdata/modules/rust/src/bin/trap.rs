//! Panics on purpose. With panic = "abort" the panic message goes to stderr and the module
//! executes `unreachable`: a trap, which the host answers PANIC. Handler: wasm.rust_trap.
fn main() {
    let payload = std::env::var("POLYBRIDGE_HANDLER").unwrap_or_default();
    panic!("rust_trap was called as {payload:?} and gives up");
}
