// WebAssembly test modules written in Go, built by ../build.sh with GOOS=wasip1 GOARCH=wasm.
// A module of its own, with no dependencies, so the worker's module never builds them.
module polybridge.test/wasm-modules

go 1.25.0
