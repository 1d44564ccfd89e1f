package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// statsMain is a typed method over a small fixed schema (docs/wasm.md, "Stats"): the
// request is n little-endian float64 samples (n >= 1), the reply a 32-byte StatsReply
// {count u64, min f64, max f64, mean f64}, little-endian. A payload that is not a whole
// number of samples exits 65 (EX_DATAERR), which the host answers BAD_REQUEST.
// Handler: wasm.go_stats.
func statsMain() {
	payload, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(1, "reading stdin: %v", err)
	}
	if len(payload) == 0 || len(payload)%8 != 0 {
		fail(65, "stats takes 1 or more little-endian float64 samples, got %d bytes", len(payload))
	}
	n := len(payload) / 8
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for i := range n {
		v := math.Float64frombits(binary.LittleEndian.Uint64(payload[8*i:]))
		lo, hi, sum = min(lo, v), max(hi, v), sum+v
	}
	var out [32]byte
	binary.LittleEndian.PutUint64(out[0:], uint64(n))
	binary.LittleEndian.PutUint64(out[8:], math.Float64bits(lo))
	binary.LittleEndian.PutUint64(out[16:], math.Float64bits(hi))
	binary.LittleEndian.PutUint64(out[24:], math.Float64bits(sum/float64(n)))
	os.Stdout.Write(out[:])
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, format, args...)
	os.Exit(code)
}
