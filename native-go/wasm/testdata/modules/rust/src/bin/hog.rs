//! Grows a vector without bound, touching every page, until the host refuses to grow the
//! linear memory; the allocator then aborts (a trap). Handler: wasm.rust_hog.
fn main() {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        blocks.push(vec![7u8; 1 << 20]);
    }
}
