package wasm

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
	"github.com/polybridge/polybridge/native-go/worker"
)

// put writes a module file the way a deployment should: a temporary name, then a rename.
func put(t *testing.T, dir, file string, wasm []byte) {
	t.Helper()
	tmp := filepath.Join(dir, ".tmp-"+file)
	if err := os.WriteFile(tmp, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, file)); err != nil {
		t.Fatal(err)
	}
}

func newTestWatcher(t *testing.T) (*Watcher, *worker.Registry, string) {
	t.Helper()
	dir := t.TempDir()
	r := worker.NewRegistry()
	return NewWatcher(testHost(t, 0), r, dir, quietLogger(t)), r, dir
}

func TestWatcherServesEachModuleFileAsWasmNAME(t *testing.T) {
	w, r, dir := newTestWatcher(t)
	put(t, dir, "a.wasm", moduleBytes(t, "wat_echo"))
	put(t, dir, "b.wasm", moduleBytes(t, "wat_echo_command"))
	put(t, dir, "broken.wasm", []byte("not wasm"))
	put(t, dir, "bad name!.wasm", moduleBytes(t, "wat_echo"))
	put(t, dir, "notes.txt", []byte("not a module"))
	w.Scan(context.Background()) // the first scan loads at once

	if got := strings.Join(r.Names(), ","); got != "wasm.a,wasm.b" {
		t.Fatalf("registered %q, want wasm.a,wasm.b (a broken module and a bad name are not served)", got)
	}
	for _, name := range []string{"wasm.a", "wasm.b"} {
		if got := call(t, r, name, []byte("abc"), 10*time.Second); got.code != polybridge.ErrorCode_OK || string(got.payload) != "ABC" {
			t.Fatalf("%s: %v", name, got)
		}
	}
}

func TestWatcherReplacesAChangedModuleWhileCallsInFlightFinishOnTheOldOne(t *testing.T) {
	w, r, dir := newTestWatcher(t)
	// go_sleep is the Go multi-call binary, which acts by its name: the file keeps it.
	put(t, dir, "go_sleep.wasm", moduleBytes(t, "go_sleep"))
	w.Scan(context.Background())
	old, _ := r.Lookup([]byte("wasm.go_sleep"))

	inFlight := make(chan response, 1)
	go func() {
		inFlight <- call(t, r, "wasm.go_sleep", binary.LittleEndian.AppendUint32(nil, 1500), time.Minute)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for old.(*Module).running() == 0 { // wait until the call runs on the old version
		if time.Now().After(deadline) {
			t.Fatal("the call did not start")
		}
		time.Sleep(time.Millisecond)
	}

	put(t, dir, "go_sleep.wasm", moduleBytes(t, "wat_echo"))
	w.Scan(context.Background()) // sees the change
	w.Scan(context.Background()) // the file held still for a poll: load it
	if got := call(t, r, "wasm.go_sleep", []byte("new"), 10*time.Second); got.code != polybridge.ErrorCode_OK || string(got.payload) != "NEW" {
		t.Fatalf("after the replacement wasm.go_sleep answers %v", got)
	}
	if got := <-inFlight; got.code != polybridge.ErrorCode_OK || string(got.payload) != "slept 1500 ms" {
		t.Fatalf("the call in flight during the replacement: %v", got)
	}
	if !old.(*Module).isClosed() {
		t.Fatal("the replaced module was not closed after its last call")
	}
	// A request routed to the old version before the swap, and run after it closed, is served
	// by its successor.
	if got, err := old.Handle(context.Background(), []byte("late")); err != nil || string(got) != "LATE" {
		t.Fatalf("a late request to the replaced module: %q, %v", got, err)
	}
}

func TestWatcherWithdrawsRemovedAndBrokenModulesAndServesThemAgainWhenFixed(t *testing.T) {
	w, r, dir := newTestWatcher(t)
	ctx := context.Background()
	put(t, dir, "a.wasm", moduleBytes(t, "wat_echo"))
	put(t, dir, "b.wasm", moduleBytes(t, "wat_echo"))
	w.Scan(ctx)

	if err := os.Remove(filepath.Join(dir, "a.wasm")); err != nil {
		t.Fatal(err)
	}
	put(t, dir, "b.wasm", []byte("broken now"))
	w.Scan(ctx)
	w.Scan(ctx)
	if names := r.Names(); len(names) != 0 {
		t.Fatalf("still registered after removal and breakage: %v", names)
	}
	if got := call(t, r, "wasm.a", nil, time.Second); got.code != polybridge.ErrorCode_NOT_FOUND {
		t.Fatalf("a removed module: %v", got)
	}

	put(t, dir, "b.wasm", moduleBytes(t, "wat_echo_command"))
	w.Scan(ctx)
	w.Scan(ctx)
	if got := call(t, r, "wasm.b", []byte("back"), 10*time.Second); string(got.payload) != "BACK" {
		t.Fatalf("a fixed module: %v", got)
	}
}

func TestWatcherPicksUpANewModuleWithinASecondAndWithdrawsAllWhenStopped(t *testing.T) {
	w, r, dir := newTestWatcher(t)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { w.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()

	time.Sleep(50 * time.Millisecond) // let the first (empty) scan pass
	written := time.Now()
	put(t, dir, "late.wasm", moduleBytes(t, "wat_echo"))
	for !slices.Contains(r.Names(), "wasm.late") {
		// Generous: the watcher needs two polls (250 ms apart) plus the compile; a loaded
		// 2-core machine is slow, and this proves the pickup, not its speed.
		if time.Since(written) > 20*time.Second {
			t.Fatal("wasm.late was not picked up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("picked up %v after the file appeared", time.Since(written).Round(time.Millisecond))

	cancel()
	<-stopped
	if names := r.Names(); len(names) != 0 {
		t.Fatalf("registered after the watcher stopped: %v", names)
	}
}

func TestARetiredModuleWithoutSuccessorSaysSo(t *testing.T) {
	m, err := testHost(t, 0).Load(context.Background(), "wasm.gone", moduleBytes(t, "wat_echo"))
	if err != nil {
		t.Fatal(err)
	}
	m.Retire(context.Background(), nil)
	if _, err := m.Handle(context.Background(), []byte("x")); err == nil || !strings.Contains(err.Error(), "was removed") {
		t.Fatalf("calling a removed module: %v", err)
	}
}
