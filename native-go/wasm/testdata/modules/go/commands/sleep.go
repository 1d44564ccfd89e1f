package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"
)

// sleepMain sleeps for the milliseconds in its payload (uint32, little-endian) through
// WASI's clock (poll_oneoff), then replies "slept N ms". For tests of calls in flight while a
// module is replaced, and of sleeps cut short by the deadline. Handler: wasm.go_sleep.
func sleepMain() {
	payload, _ := io.ReadAll(os.Stdin)
	if len(payload) != 4 {
		fmt.Fprintf(os.Stderr, "sleep takes 4 bytes (uint32 milliseconds, little-endian), got %d", len(payload))
		os.Exit(65)
	}
	ms := binary.LittleEndian.Uint32(payload)
	time.Sleep(time.Duration(ms) * time.Millisecond)
	fmt.Printf("slept %d ms", ms)
}
