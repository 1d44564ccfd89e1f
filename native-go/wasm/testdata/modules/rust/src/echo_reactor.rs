//! A reactor module (ABI "reactor", docs/wasm.md): the host calls `pb_alloc(len)` for room
//! for the payload, writes it there, calls `pb_handle(ptr, len)` and reads the upper-cased
//! reply at the (ptr << 32 | len) it returns. Both buffers belong to the module and are
//! reused by the next call. Handler: wasm.rust_echo_reactor.
use std::cell::RefCell;

thread_local! {
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static REPLY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Bit 31 of a reply's length: the bytes are an error message (HANDLER_ERROR).
const ERROR_FLAG: u64 = 1 << 31;

/// Returns where the host may write `len` bytes of payload.
// SAFETY: no other symbol in the module is named pb_alloc.
#[unsafe(no_mangle)]
pub extern "C" fn pb_alloc(len: u32) -> u32 {
    PAYLOAD.with_borrow_mut(|p| {
        p.clear();
        p.resize(len as usize, 0);
        p.as_mut_ptr() as u32
    })
}

/// Upper-cases the payload pb_alloc made room for; returns (reply ptr << 32) | reply len.
// SAFETY: no other symbol in the module is named pb_handle.
#[unsafe(no_mangle)]
pub extern "C" fn pb_handle(ptr: u32, len: u32) -> u64 {
    PAYLOAD.with_borrow(|p| {
        REPLY.with_borrow_mut(|r| {
            r.clear();
            let flags = if ptr != p.as_ptr() as u32 || len as usize != p.len() {
                r.extend_from_slice(b"pb_handle called with a buffer pb_alloc did not return");
                ERROR_FLAG
            } else {
                r.extend(p.iter().map(u8::to_ascii_uppercase));
                0
            };
            (r.as_ptr() as u64) << 32 | flags | r.len() as u64
        })
    })
}
