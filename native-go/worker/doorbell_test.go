package worker

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// doorbellGoroutines counts the goroutines running the doorbell's accept and read loops.
func doorbellGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "worker.(*doorbell).accept") + strings.Count(string(buf), "worker.(*doorbell).read")
}

// workerGoroutines counts the goroutines of a worker's own: its poll loop, pool, watchers and
// doorbell (not aeron-go's).
func workerGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range []string{"worker.(*Worker).Run", "worker.(*Pool).serve", "worker.processIdentity.watch",
			"worker.(*doorbell).accept", "worker.(*doorbell).read"} {
			if strings.Contains(g, f) {
				n++
				break
			}
		}
	}
	return n
}

// awaitWorkerGoroutines fails unless the worker goroutines are down to want within a while.
func awaitWorkerGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for workerGoroutines() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<22)
			t.Fatalf("%d worker goroutines left, want %d:\n%s", workerGoroutines(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// awaitNoDoorbellGoroutines fails unless every doorbell goroutine has ended within a while.
func awaitNoDoorbellGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for doorbellGoroutines() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d doorbell goroutines left", doorbellGoroutines())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func awaitRing(t *testing.T, d *doorbell) {
	t.Helper()
	select {
	case <-d.Rung():
	case <-time.After(10 * time.Second):
		t.Fatal("no ring")
	}
}

func TestDoorbellIsAnOwnerOnlySocketThatRingsAndIsRemovedAtClose(t *testing.T) {
	path := DoorbellPath(t.TempDir(), 100)
	if filepath.Base(path) != "polybridge-doorbell-100" {
		t.Fatalf("path %s", path)
	}
	d, err := openDoorbell(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(path)
	if err != nil || info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Fatalf("doorbell file %v %v; want a socket with mode 0600", info.Mode(), err)
	}
	if err := RingDoorbell(path); err != nil {
		t.Fatal(err)
	}
	awaitRing(t, d)
	// A client that keeps its connection rings many times; rings before a read coalesce.
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 3; i++ {
		if _, err := conn.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		awaitRing(t, d)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("doorbell file still there after Close: %v", err)
	}
	awaitNoDoorbellGoroutines(t)
	if err := RingDoorbell(path); err == nil {
		t.Error("a closed doorbell still rings")
	}
}

func TestDoorbellReplacesAStaleFileOrSocket(t *testing.T) {
	dir := t.TempDir()
	regular := DoorbellPath(dir, 101)
	if err := os.WriteFile(regular, []byte("left over"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A killed predecessor's socket: bound, never unlinked.
	stale := DoorbellPath(dir, 102)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	_ = ln.Close()
	for _, path := range []string{regular, stale} {
		d, err := openDoorbell(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := RingDoorbell(path); err != nil {
			t.Errorf("%s: %v", path, err)
		} else {
			awaitRing(t, d)
		}
		_ = d.Close()
	}
	awaitNoDoorbellGoroutines(t)
}

func TestDoorbellCloseLeavesASuccessorsSocket(t *testing.T) {
	path := DoorbellPath(t.TempDir(), 103)
	first, err := openDoorbell(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := openDoorbell(path) // a new worker on the same stream replaced it
	if err != nil {
		t.Fatal(err)
	}
	_ = first.Close()
	if err := RingDoorbell(path); err != nil {
		t.Fatalf("the successor's doorbell was removed: %v", err)
	}
	awaitRing(t, second)
	_ = second.Close()
	awaitNoDoorbellGoroutines(t)
}

func TestOnlyIPCWorkersWithAShortEnoughPathHaveADoorbell(t *testing.T) {
	for _, tc := range []struct {
		dir, channel string
		err          string
	}{
		{"/dev/shm/aeron-root", "aeron:ipc", ""},
		{"/dev/shm/aeron-root", "aeron:ipc?term-length=64k", ""},
		{"/dev/shm/aeron-root", "aeron:udp?endpoint=0.0.0.0:40100", "not IPC"},
		{"/dev/shm/" + strings.Repeat("d", 80), "aeron:ipc", "over the 107"},
	} {
		path, err := doorbellPathFor(tc.dir, tc.channel, 100)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s %s: %q %v, want %q", tc.dir, tc.channel, path, err, tc.err)
		}
	}
	if p, _ := doorbellPathFor("/dev/shm/"+strings.Repeat("d", 67), "aeron:ipc", 2147483647); len(p) != 107 {
		t.Errorf("a 107-byte path refused: %d bytes", len(p))
	}
	if p, err := doorbellPathFor("/dev/shm/"+strings.Repeat("d", 68), "aeron:ipc", 2147483647); err == nil {
		t.Errorf("a %d-byte path accepted", len(p))
	}
}
