package wasm

import (
	"context"
	"strings"
	"testing"
	"time"
)

// upperASCII is the echo modules' logic as a native Go handler: a new reply, 'a'..'z'
// upper-cased (bytes.ToUpper does more: it decodes UTF-8).
func upperASCII(_ context.Context, payload []byte) ([]byte, error) {
	reply := make([]byte, len(payload))
	for i, c := range payload {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		reply[i] = c
	}
	return reply, nil
}

// BenchmarkUpperCase is the per-call cost of one handler call, the same upper-casing echo as
// a native Go handler and as WebAssembly modules of both ABIs, at 32 B and 1 MiB. It calls
// Handle directly: the bridge's own cost (Aeron, the envelope) is the same for all and
// measured in perf/. Results: docs/wasm.md.
//
//	go test -run XXX -bench UpperCase -benchtime 2s ./wasm
func BenchmarkUpperCase(b *testing.B) {
	handlers := []struct {
		name   string
		module string // "" for the native handler
	}{
		{"native-go", ""},
		{"reactor-wat", "wat_echo"},
		{"reactor-rust", "rust_echo_reactor"},
		{"reactor-go", "go_echo_reactor"},
		{"command-wat", "wat_echo_command"},
		{"command-rust", "rust_echo"},
		{"command-go", "go_echo"},
		// The same modules without WithCloseOnContextDone: what enforcing the deadline
		// inside the guest costs (a check at every loop iteration).
		{"reactor-wat-unenforced", "wat_echo"},
		{"reactor-rust-unenforced", "rust_echo_reactor"},
		{"reactor-go-unenforced", "go_echo_reactor"},
	}
	sizes := []struct {
		name string
		n    int
	}{{"32B", 32}, {"1MiB", 1 << 20}}
	for _, h := range handlers {
		for _, size := range sizes {
			b.Run(h.name+"/"+size.name, func(b *testing.B) {
				handle := upperASCII
				switch {
				case strings.HasSuffix(h.name, "-unenforced"):
					handle = loadUnenforced(b, h.module).Handle
				case h.module != "":
					handle = load(b, h.module, 0).Handle
				}
				payload := mixedCase(size.n)
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				defer cancel()
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					reply, err := handle(ctx, payload)
					if err != nil || len(reply) != size.n {
						b.Fatalf("%d bytes, %v", len(reply), err)
					}
				}
			})
		}
	}
}

var unenforced *Host

// loadUnenforced loads a test module in a host that does not stop guests at their deadline.
func loadUnenforced(b *testing.B, name string) *Module {
	b.Helper()
	if unenforced == nil {
		h, err := NewHost(context.Background(), Config{CacheDir: testCacheDir, Logger: quietLogger(b), unenforcedDeadlines: true})
		if err != nil {
			b.Fatal(err)
		}
		unenforced = h
	}
	m, err := unenforced.Load(context.Background(), HandlerPrefix+name, moduleBytes(b, name))
	if err != nil {
		b.Fatal(err)
	}
	return m
}
