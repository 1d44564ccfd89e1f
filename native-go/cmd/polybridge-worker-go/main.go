// Command polybridge-worker-go is the Go SDK's test worker: echo, checksum, debug.sleep under
// --debug-handlers, and WebAssembly modules from --modules. The command line, logging, signals
// and drain are the SDK's (worker.Main); see docs/protocol.md for the streams and messages.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"io"
	"os"
	"time"

	"github.com/polybridge/polybridge/native-go/wasm"
	"github.com/polybridge/polybridge/native-go/worker"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	var debugHandlers bool
	var modulesDir, wasmCache string
	var wasmMemoryLimit int
	return worker.Run(worker.App{
		Name:  "polybridge-worker-go",
		About: "The Go SDK's test worker: echo, checksum (CRC32C of the payload), debug.sleep (--debug-handlers) and WebAssembly handlers (--modules).",
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&debugHandlers, "debug-handlers", false, "also serve debug.sleep (payload: uint32 milliseconds, little-endian), a handler that ignores deadlines, for tests of timeouts and cancellation")
			fs.StringVar(&modulesDir, "modules", "", "serve every NAME.wasm in DIR as the handler wasm.NAME (WebAssembly, docs/wasm.md); files added, changed or removed are picked up within about a second, without a restart")
			fs.IntVar(&wasmMemoryLimit, "wasm-memory-limit", wasm.DefaultMemoryLimit>>20, "MiB of linear memory one WebAssembly instance may have (--modules); a module asking for more is answered HANDLER_ERROR")
			fs.StringVar(&wasmCache, "wasm-cache", "", "directory keeping compiled WebAssembly modules between runs (--modules; it holds native code: writable by this user only); default: compile in memory at each start")
		},
		Start: func(ctx context.Context, env *worker.Env) (func(), error) {
			if err := env.Registry.Register(ChecksumName, Checksum); err != nil {
				return nil, err
			}
			if debugHandlers {
				if err := env.Registry.Register(worker.DebugSleepName, worker.DebugSleep); err != nil {
					return nil, err
				}
			}
			return startModules(ctx, env, modulesDir, wasmCache, wasmMemoryLimit)
		},
	}, args, stderr)
}

// ChecksumName is the handler Checksum is served as, in the Go and the Rust test workers.
const ChecksumName = "checksum"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum answers 8 bytes: the CRC32C (Castagnoli, as java.util.zip.CRC32C) of the payload as
// a little-endian uint64. It runs on the pool and reads a region payload where it lies: the
// benchmark of a large payload in, a small answer out.
var Checksum worker.Handler = worker.HandlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(make([]byte, 0, 8), uint64(crc32.Checksum(payload, castagnoli))), nil
})

// startModules serves the WebAssembly modules of dir (none when dir is empty). They compile in
// the background, the first scan too: echo is served and announced at once, each module as
// soon as it is compiled (the worker re-announces when the registry changes).
func startModules(ctx context.Context, env *worker.Env, dir, cache string, memoryLimitMiB int) (func(), error) {
	if memoryLimitMiB < 1 || memoryLimitMiB > 4096 {
		return nil, worker.UsageError("--wasm-memory-limit must be 1 to 4096 MiB, got %d", memoryLimitMiB)
	}
	if dir == "" {
		return nil, nil
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, worker.UsageError("--modules %s is not a directory", dir)
	}
	host, err := wasm.NewHost(context.Background(), wasm.Config{
		MemoryLimit:      uint64(memoryLimitMiB) << 20,
		MaxIdleInstances: env.Config.PoolSize,
		CacheDir:         cache,
		Logger:           env.Logger,
	})
	if err != nil {
		return nil, worker.UsageError("--modules: %v", err)
	}
	watcher := wasm.NewWatcher(host, env.Registry, dir, env.Logger)
	watched := make(chan struct{})
	go func() { watcher.Run(ctx); close(watched) }()
	return func() {
		select { // a module still compiling is not waited for past a second
		case <-watched:
		case <-time.After(time.Second):
		}
		host.Close(context.Background())
	}, nil
}
