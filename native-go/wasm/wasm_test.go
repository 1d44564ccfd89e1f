package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
	"github.com/polybridge/polybridge/native-go/worker"
)

// echoModules upper-case their payload, in each language and ABI.
var echoModules = []struct {
	name string
	abi  ABI
}{
	{"go_echo", Command},
	{"go_echo_reactor", Reactor},
	{"rust_echo", Command},
	{"rust_echo_reactor", Reactor},
	{"wat_echo", Reactor},
	{"wat_echo_command", Command},
}

// mixedCase is n bytes of letters, digits and punctuation.
func mixedCase(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz ABCXYZ 0123456789 ,.-!"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[(i*7+i/13)%len(alphabet)]
	}
	return b
}

func TestEchoModulesUpperCaseTheirPayloadInEveryLanguageAndABI(t *testing.T) {
	for _, tc := range echoModules {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, tc.name, 0)
			if m.ABI() != tc.abi {
				t.Fatalf("%s declares the %s ABI by its exports, want %s", tc.name, m.ABI(), tc.abi)
			}
			// Three rounds: a reactor reuses its pooled instance, so state must not leak
			// from one call into the next (a longer payload, then a shorter one).
			for round, payload := range [][]byte{[]byte("hello, wasm"), mixedCase(1 << 20), {}, []byte("z")} {
				got := callModule(t, m, payload, 30*time.Second)
				if got.code != polybridge.ErrorCode_OK || !bytes.Equal(got.payload, bytes.ToUpper(payload)) {
					t.Fatalf("round %d (%d bytes): %v", round, len(payload), got)
				}
			}
		})
	}
}

// The Stats schema (docs/wasm.md): n little-endian f64 samples in; 32 bytes out.
func encodeSamples(values ...float64) []byte {
	b := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return b
}

type statsReply struct {
	count          uint64
	min, max, mean float64
}

func decodeStats(t *testing.T, b []byte) statsReply {
	t.Helper()
	if len(b) != 32 {
		t.Fatalf("StatsReply is 32 bytes, got %d", len(b))
	}
	f := func(at int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[at:])) }
	return statsReply{binary.LittleEndian.Uint64(b), f(8), f(16), f(24)}
}

func TestStatsIsATypedMethodOverItsSchema(t *testing.T) {
	for _, name := range []string{"go_stats", "rust_stats"} {
		t.Run(name, func(t *testing.T) {
			m := load(t, name, 0)
			got := callModule(t, m, encodeSamples(3, -1.5, 10, 0.5), 30*time.Second)
			if got.code != polybridge.ErrorCode_OK {
				t.Fatalf("stats: %v", got)
			}
			if s := decodeStats(t, got.payload); s != (statsReply{4, -1.5, 10, 3}) {
				t.Fatalf("stats of 3, -1.5, 10, 0.5: %+v", s)
			}
			// Not a whole number of samples: the module exits 65, the caller gets BAD_REQUEST.
			got = callModule(t, m, []byte("seven b"), 30*time.Second)
			if got.code != polybridge.ErrorCode_BAD_REQUEST || !strings.Contains(got.message, "got 7 bytes") {
				t.Fatalf("stats of 7 bytes: %v", got)
			}
		})
	}
}

func TestCommandModulesSeeOnlyTheABIsArgumentsAndEnvironment(t *testing.T) {
	t.Setenv("POLYBRIDGE_TEST_SECRET", "must not reach a module")
	m := load(t, "go_env", 0)
	before := time.Now()
	got := callModule(t, m, nil, time.Minute)
	if got.code != polybridge.ErrorCode_OK {
		t.Fatalf("env: %v", got)
	}
	lines := strings.Split(strings.TrimSpace(string(got.payload)), "\n")
	want := map[string]bool{
		"arg wasm.go_env":                    true,
		"env POLYBRIDGE_HANDLER=wasm.go_env": true,
		"env POLYBRIDGE_ABI=command":         true,
		"env POLYBRIDGE_CORRELATION_ID=7":    true, // call() sends correlation id 7
	}
	for _, line := range lines {
		if deadline, ok := strings.CutPrefix(line, "env POLYBRIDGE_DEADLINE_UNIX_NS="); ok {
			ns, err := strconv.ParseInt(deadline, 10, 64)
			at := time.Unix(0, ns)
			if err != nil || at.Before(before.Add(time.Minute)) || at.After(time.Now().Add(time.Minute)) {
				t.Fatalf("deadline %q is not about a minute from the call", deadline)
			}
			continue
		}
		if !want[line] {
			t.Errorf("the module saw %q, which the ABI does not give", line)
		}
		delete(want, line)
	}
	if len(want) > 0 {
		t.Errorf("the module did not see %v; it saw %q", want, lines)
	}
}

func TestAnInfiniteLoopIsStoppedByTheCallersDeadline(t *testing.T) {
	for _, name := range []string{"wat_loop", "wat_loop_reactor"} {
		t.Run(name, func(t *testing.T) {
			m := load(t, name, 0)
			for range 2 { // the reactor's stopped instance is not reused: the second call gets a new one
				started := time.Now()
				got := callModule(t, m, []byte("x"), 200*time.Millisecond)
				elapsed := time.Since(started)
				if got.code != polybridge.ErrorCode_TIMEOUT {
					t.Fatalf("%s: %v", name, got)
				}
				// Generous: only proves the guest was stopped, not spun to some other limit.
				if elapsed > 10*time.Second {
					t.Fatalf("the loop ran %v past a 200ms deadline", elapsed)
				}
				t.Logf("stopped after %v (deadline 200ms)", elapsed.Round(time.Millisecond))
			}
			assertStillServes(t)
		})
	}
}

func TestASleepingModuleIsWokenByTheDeadline(t *testing.T) {
	m := load(t, "go_sleep", 0)
	got := callModule(t, m, binary.LittleEndian.AppendUint32(nil, 10), 30*time.Second)
	if got.code != polybridge.ErrorCode_OK || string(got.payload) != "slept 10 ms" {
		t.Fatalf("a 10 ms sleep: %v", got)
	}
	started := time.Now()
	got = callModule(t, m, binary.LittleEndian.AppendUint32(nil, 60_000), 300*time.Millisecond)
	if got.code != polybridge.ErrorCode_TIMEOUT || time.Since(started) > 20*time.Second {
		t.Fatalf("a 60 s sleep under a 300 ms deadline: %v after %v", got, time.Since(started))
	}
}

func TestACancelledCallStopsTheGuest(t *testing.T) {
	m := load(t, "wat_loop_reactor", 0)
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(100*time.Millisecond, func() { cancel(worker.ErrCancelledByCaller) })
	_, err := m.Handle(ctx, []byte("x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled call returned %v, want an error wrapping context.Canceled (answered CANCELLED)", err)
	}
}

func TestATrapIsAnsweredPanicWithTheTrapsMessage(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		want    []string
	}{
		{"wat_trap", nil, []string{"unreachable"}},
		{"wat_trap_reactor", nil, []string{"integer divide by zero"}},
		// A Rust panic aborts: its message is on stderr, then the module traps.
		{"rust_trap", nil, []string{"unreachable", "rust_trap was called as \"wasm.rust_trap\" and gives up"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, tc.name, 0)
			got := callModule(t, m, tc.payload, 30*time.Second)
			if got.code != polybridge.ErrorCode_PANIC {
				t.Fatalf("%s: %v", tc.name, got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.message, w) {
					t.Errorf("PANIC message %q lacks %q", got.message, w)
				}
			}
		})
	}
	// The trapped reactor instance was dropped; the module still serves.
	if got := callModule(t, load(t, "wat_trap_reactor", 0), []byte("fine"), 30*time.Second); got.code != polybridge.ErrorCode_OK {
		t.Fatalf("wat_trap_reactor after its trap: %v", got)
	}
	assertStillServes(t)
}

func TestAMemoryHogIsStoppedAtTheMemoryLimit(t *testing.T) {
	const limit = 16 << 20
	for _, name := range []string{"go_hog", "rust_hog", "wat_hog"} {
		t.Run(name, func(t *testing.T) {
			m := load(t, name, limit)
			got := callModule(t, m, nil, time.Minute)
			if got.code != polybridge.ErrorCode_HANDLER_ERROR || !strings.Contains(got.message, "exceeded its memory limit of 16 MiB") {
				t.Fatalf("%s under a 16 MiB limit: %v", name, got)
			}
			t.Logf("%s: %s", name, got.message)
		})
	}
	assertStillServes(t)
}

func TestAModuleDeclaringMoreMemoryThanTheLimitIsRefusedAtLoad(t *testing.T) {
	h := testHost(t, 0)
	_, err := h.Load(context.Background(), "wasm.wat_bigmem", moduleBytes(t, "wat_bigmem"))
	if err == nil || !strings.Contains(err.Error(), "declares 128 MiB of memory up front; the memory limit is 64 MiB") {
		t.Fatalf("loading a module that declares 128 MiB under a 64 MiB limit: %v", err)
	}
}

func TestFilesAndSocketsAreOutOfReach(t *testing.T) {
	got := callModule(t, load(t, "go_openfile", 0), nil, time.Minute)
	if got.code != polybridge.ErrorCode_HANDLER_ERROR || strings.Count(got.message, "denied:") != 3 {
		t.Fatalf("go_openfile should be denied a file, a directory listing and a file creation: %v", got)
	}
	t.Logf("go_openfile: %s", got.message)

	got = callModule(t, load(t, "wat_escape", 0), nil, time.Minute)
	if got.code != polybridge.ErrorCode_OK || len(got.payload) != 4 {
		t.Fatalf("wat_escape: %v", got)
	}
	pathOpen, sockAccept := binary.LittleEndian.Uint16(got.payload), binary.LittleEndian.Uint16(got.payload[2:])
	const ebadf = 8 // WASI errno: no such descriptor, since nothing is preopened
	if pathOpen != ebadf || sockAccept != ebadf {
		t.Fatalf("path_open errno %d, sock_accept errno %d; want %d (EBADF) for both", pathOpen, sockAccept, ebadf)
	}
}

func TestModulesThatCannotServeAreRefusedWithTheReason(t *testing.T) {
	h := testHost(t, 0)
	cases := []struct {
		name string
		wasm []byte
		want string
	}{
		{"garbage", []byte("not a module at all"), "not a WebAssembly binary"},
		{"truncated", moduleBytes(t, "wat_echo")[:40], "compile"},
		{"wat_noabi", moduleBytes(t, "wat_noabi"), "exports neither _start (command ABI) nor pb_alloc and pb_handle (reactor ABI)"},
		{"wat_badimport", moduleBytes(t, "wat_badimport"), "imports env.host_secret; modules may import only from wasi_snapshot_preview1"},
	}
	for _, tc := range cases {
		_, err := h.Load(context.Background(), "wasm."+tc.name, tc.wasm)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loading %s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// Run with -race: reactor instances are pooled across goroutines, commands instantiated per call.
func TestConcurrentCallsEachGetTheirOwnReply(t *testing.T) {
	mods := []*Module{load(t, "go_echo_reactor", 0), load(t, "wat_echo", 0), load(t, "wat_echo_command", 0)}
	r := worker.NewRegistry()
	for _, m := range mods {
		if err := r.Register(m.Name(), m); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				payload := []byte(strings.Repeat("abc", g*100+i))
				name := mods[(g+i)%len(mods)].Name()
				got := call(t, r, name, payload, 30*time.Second)
				if got.code != polybridge.ErrorCode_OK || !bytes.Equal(got.payload, bytes.ToUpper(payload)) {
					t.Errorf("%s, goroutine %d call %d: %v", name, g, i, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// assertStillServes calls an echo module, to show a failure left the host serving.
func assertStillServes(t *testing.T) {
	t.Helper()
	if got := callModule(t, load(t, "wat_echo", 0), []byte("still here"), 30*time.Second); string(got.payload) != "STILL HERE" {
		t.Fatalf("after the failure, wat_echo answers %v", got)
	}
}

func TestAReplyLargerThanTheMemoryLimitIsRefused(t *testing.T) {
	got := callModule(t, load(t, "wat_flood", 16<<20), nil, time.Minute)
	if got.code != polybridge.ErrorCode_HANDLER_ERROR || !strings.Contains(got.message, "wrote more than 16 MiB to stdout") {
		t.Fatalf("a module writing without end: %v", got)
	}
}

func TestAReactorsReplyFlagsChooseTheErrorCode(t *testing.T) {
	m := load(t, "wat_flags_reactor", 0)
	cases := []struct {
		payload string
		code    polybridge.ErrorCode
		want    string
	}{
		{"plain", polybridge.ErrorCode_OK, ""},
		{"e", polybridge.ErrorCode_HANDLER_ERROR, "module wasm.wat_flags_reactor: custom failure"},
		{"b", polybridge.ErrorCode_BAD_REQUEST, "module wasm.wat_flags_reactor rejected its payload: custom failure"},
		{"o", polybridge.ErrorCode_HANDLER_ERROR, "outside its 0.1 MiB of memory"},
		{"plain again", polybridge.ErrorCode_OK, ""}, // after a bad pointer, a fresh instance
	}
	for _, tc := range cases {
		got := callModule(t, m, []byte(tc.payload), 10*time.Second)
		if got.code != tc.code || !strings.Contains(got.message, tc.want) {
			t.Errorf("payload %q: %v, want %v containing %q", tc.payload, got, tc.code, tc.want)
		}
		if tc.code == polybridge.ErrorCode_OK && string(got.payload) != tc.payload {
			t.Errorf("payload %q came back as %q", tc.payload, got.payload)
		}
	}
}
