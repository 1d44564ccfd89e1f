package wasm

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
	"github.com/polybridge/polybridge/native-go/worker"
)

// testCacheDir keeps compiled modules between test runs (compiling a Go module takes
// seconds), one directory per wazero version: a test binary's build information lacks the
// version wazero keys its cache by, so wazero would call every version "dev".
var testCacheDir = filepath.Join("..", "bin", "wasm-cache", "test-"+wazeroVersion())

func wazeroVersion() string {
	goMod, _ := os.ReadFile(filepath.Join("..", "go.mod"))
	for _, line := range strings.Split(string(goMod), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "github.com/tetratelabs/wazero" {
			return fields[1]
		}
	}
	return "unknown"
}

// modulesDir holds the test modules, built from testdata/modules by build-modules.sh (TestMain
// runs it, quick when nothing changed). POLYBRIDGE_WASM_MODULES names a directory built
// already, and skips the build.
var modulesDir string

func TestMain(m *testing.M) {
	modulesDir = os.Getenv("POLYBRIDGE_WASM_MODULES")
	if modulesDir == "" {
		modulesDir = filepath.Join("..", "bin", "wasm-modules")
		build := exec.Command("./build-modules.sh", modulesDir)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building the wasm test modules failed: %v\n", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// moduleBytes reads a built test module, skipping the test when its language's toolchain is
// missing (build-modules.sh says why) and failing it when the module should be there.
func moduleBytes(tb testing.TB, name string) []byte {
	tb.Helper()
	wasm, err := os.ReadFile(filepath.Join(modulesDir, name+".wasm"))
	if err == nil {
		return wasm
	}
	language, _, _ := strings.Cut(name, "_")
	if why, skipErr := os.ReadFile(filepath.Join(modulesDir, "SKIPPED-"+language)); skipErr == nil {
		tb.Skipf("%s modules were not built: %s", language, strings.TrimSpace(string(why)))
	}
	tb.Fatalf("test module %s: %v", name, err)
	return nil
}

// hosts are shared by the tests of one binary, by memory limit: compiling the Go modules
// takes a while, and the compilation cache is per host.
var (
	hostsMu sync.Mutex
	hosts   = map[uint64]*Host{}
	modules = map[string]*Module{}
)

func testHost(tb testing.TB, memoryLimit uint64) *Host {
	tb.Helper()
	hostsMu.Lock()
	defer hostsMu.Unlock()
	if h := hosts[memoryLimit]; h != nil {
		return h
	}
	h, err := NewHost(context.Background(), Config{MemoryLimit: memoryLimit, CacheDir: testCacheDir, Logger: quietLogger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	hosts[memoryLimit] = h
	return h
}

// load returns the test module name loaded in the shared host with memoryLimit (0: default).
func load(tb testing.TB, name string, memoryLimit uint64) *Module {
	tb.Helper()
	h := testHost(tb, memoryLimit)
	key := fmt.Sprintf("%s@%d", name, memoryLimit)
	hostsMu.Lock()
	m := modules[key]
	hostsMu.Unlock()
	if m != nil {
		return m
	}
	m, err := h.Load(context.Background(), HandlerPrefix+name, moduleBytes(tb, name))
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	tb.Logf("loaded %s (%s ABI) in %v", name, m.ABI(), m.CompileTime.Round(time.Millisecond))
	hostsMu.Lock()
	modules[key] = m
	hostsMu.Unlock()
	return m
}

func quietLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// response is a decoded Response frame.
type response struct {
	code    polybridge.ErrorCode
	message string
	payload []byte
}

func (r response) String() string {
	payload := string(r.payload)
	if len(payload) > 80 {
		payload = payload[:80] + "..."
	}
	return fmt.Sprintf("%v %q payload %q", r.code, r.message, payload)
}

// call sends payload to handler through a worker.Dispatcher, the way the worker runs any
// handler (deadline from timeout, panics recovered, errors mapped to codes), and decodes the
// response. timeout 0 means no deadline.
func call(tb testing.TB, registry *worker.Registry, handler string, payload []byte, timeout time.Duration) response {
	tb.Helper()
	d := worker.NewDispatcher(registry, nil)
	reply, ok := d.Dispatch(encodeRequest(7, int64(timeout), 1001, handler, payload))
	if !ok {
		tb.Fatalf("no response to a request for %s", handler)
	}
	return decodeResponse(tb, reply.Frame)
}

// callModule registers m alone and calls it.
func callModule(tb testing.TB, m *Module, payload []byte, timeout time.Duration) response {
	tb.Helper()
	r := worker.NewRegistry()
	if err := r.Register(m.Name(), m); err != nil {
		tb.Fatal(err)
	}
	return call(tb, r, m.Name(), payload, timeout)
}

func encodeRequest(correlationID, timeoutNs int64, replyStream int32, handler string, payload []byte) []byte {
	const metadataGroupHeader = 4 // an empty metadata group: blockLength 0, numInGroup 0
	size := int(polybridge.MessageHeaderEncodedLength) + int(polybridge.RequestSbeBlockLength) + metadataGroupHeader + 2 + 2 + len(handler) + 4 + len(payload)
	buf := make([]byte, size)
	var m polybridge.Request
	m.WrapAndApplyHeader(buf, 0, uint64(size))
	m.SetCorrelationId(correlationID).SetTimeoutNs(timeoutNs).SetReplyStreamId(replyStream)
	m.MetadataCount(0)
	m.PutReplyChannel("") // the worker's own channel
	m.PutHandler(handler)
	m.PutPayload(string(payload))
	return buf
}

func decodeResponse(tb testing.TB, frame []byte) response {
	tb.Helper()
	var hdr polybridge.MessageHeader
	hdr.Wrap(frame, 0, uint64(polybridge.MessageHeaderSbeSchemaVersion), uint64(len(frame)))
	if hdr.TemplateId() != polybridge.ResponseSbeTemplateID {
		tb.Fatalf("not a Response: %s", hdr.String())
	}
	var m polybridge.Response
	m.WrapForDecode(frame, uint64(polybridge.MessageHeaderEncodedLength), uint64(hdr.BlockLength()),
		uint64(hdr.Version()), uint64(len(frame)))
	r := response{code: m.ErrorCode(), message: m.ErrorMessage()}
	r.payload = []byte(m.Payload())
	return r
}
