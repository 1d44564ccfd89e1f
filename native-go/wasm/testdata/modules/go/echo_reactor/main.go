// Command echo_reactor is a reactor module (ABI "reactor", docs/wasm.md), built with
// -buildmode=c-shared: the host calls pb_alloc for room for the payload, writes it there,
// then pb_handle, and reads the upper-cased reply where pb_handle says. Handler:
// wasm.go_echo_reactor.
package main

import "unsafe"

var (
	payload []byte // pb_alloc's buffer; a global, so it lives (and stays put) until the next call
	reply   []byte // the last reply; valid until the next call, as the ABI asks
)

//go:wasmexport pb_alloc
func pbAlloc(size uint32) uint32 {
	if cap(payload) < int(size) {
		payload = make([]byte, size)
	}
	payload = payload[:size]
	return ptr(payload)
}

//go:wasmexport pb_handle
func pbHandle(at, size uint32) uint64 {
	if at != ptr(payload) || int(size) != len(payload) {
		msg := "pb_handle called with a buffer pb_alloc did not return"
		reply = []byte(msg)
		return uint64(ptr(reply))<<32 | 1<<31 | uint64(len(reply)) // bit 31: an error message
	}
	if cap(reply) < len(payload) {
		reply = make([]byte, len(payload))
	}
	reply = reply[:len(payload)]
	for i, c := range payload {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		reply[i] = c
	}
	return uint64(ptr(reply))<<32 | uint64(len(reply))
}

// ptr is the linear-memory address of b's first byte (0 for an empty slice).
func ptr(b []byte) uint32 {
	if cap(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

func main() {}
