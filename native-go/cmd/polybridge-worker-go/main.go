// Command polybridge-worker-go serves polybridge handlers written in Go over Aeron.
// See docs/protocol.md for the streams and messages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/polybridge/polybridge/native-go/fingerprint"
	"github.com/polybridge/polybridge/native-go/wasm"
	"github.com/polybridge/polybridge/native-go/worker"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("polybridge-worker-go", flag.ContinueOnError)
	fs.SetOutput(stderr)
	aeronDir := fs.String("aeron-dir", "", "the media driver's directory, e.g. /dev/shm/aeron-$USER (required: Java, C and Go clients disagree on the default)")
	channel := fs.String("channel", worker.DefaultChannel, "Aeron channel for the request, reply and control streams")
	requestStream := fs.Int("request-stream", worker.DefaultRequestStream, "this worker's request stream (instance i of a pool: 100+i)")
	controlStream := fs.Int("control-stream", worker.DefaultControlStream, "stream the worker announces itself on")
	workerID := fs.String("worker-id", "", "name in announcements and logs (default go-<pid>)")
	announceMs := fs.Int("announce-interval-ms", int(worker.DefaultAnnounceInterval/time.Millisecond), "announcement period in milliseconds")
	poolSize := fs.Int("pool-size", runtime.GOMAXPROCS(0), "goroutines running pooled handlers (default: GOMAXPROCS)")
	queueDepth := fs.Int("queue-depth", worker.DefaultQueueDepth, "requests that may wait for a pool goroutine; beyond that the reply is OVERLOADED (0: none wait)")
	idleName := fs.String("idle", "backoff", "poll loop idle strategy: "+worker.IdleStrategies)
	idlePark := fs.Duration("idle-park", time.Millisecond, "longest park of the backoff strategy, period of the sleep strategy")
	debugHandlers := fs.Bool("debug-handlers", false, "also serve debug.sleep (payload: uint32 milliseconds, little-endian), a handler that ignores deadlines, for tests of timeouts and cancellation")
	drainTimeout := fs.Duration("drain-timeout", worker.DefaultDrainTimeout, "on SIGTERM, how long running handlers may take to finish and reply, and queued replies to be published")
	replyQueue := fs.Int("reply-queue", worker.DefaultReplyQueue, "replies one reply stream may hold while they cannot be published (back pressure, a new stream); beyond that (or 64 MiB in all outboxes) the worker takes no new requests until they are down to half")
	replyTimeout := fs.Duration("reply-timeout", worker.DefaultReplyTimeout, "how long a reply stream with replies queued may make no progress (no reply published: a stuck or missing subscriber) before they are dropped and counted, and a reply publication may go without a subscriber before it is closed")
	maxReplyStreams := fs.Int("max-reply-streams", worker.DefaultMaxReplyStreams, "reply publications that may exist at once (each is a log buffer in the driver's shared memory); replies to more streams are dropped and counted")
	parentPID := fs.Int("parent-pid", 0, "exit (status 1) within a second once this process is gone, e.g. the JVM that spawned the worker (0: none)")
	modulesDir := fs.String("modules", "", "serve every NAME.wasm in DIR as the handler wasm.NAME (WebAssembly, docs/wasm.md); files added, changed or removed are picked up within about a second, without a restart")
	wasmMemoryLimit := fs.Int("wasm-memory-limit", wasm.DefaultMemoryLimit>>20, "MiB of linear memory one WebAssembly instance may have (--modules); a module asking for more is answered HANDLER_ERROR")
	wasmCache := fs.String("wasm-cache", "", "directory keeping compiled WebAssembly modules between runs (--modules; it holds native code: writable by this user only); default: compile in memory at each start")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: polybridge-worker-go --aeron-dir DIR [options]\n\n"+
			"Serves Go handlers (echo, wappalyzer.fingerprint) to polybridge clients through an\n"+
			"Aeron media driver. Handlers run on a pool of --pool-size goroutines fed by a queue of\n"+
			"--queue-depth requests; echo runs inline on the poll goroutine.\n"+
			"Exits 0 on SIGTERM or SIGINT (after the drain), 1 if the media driver or the\n"+
			"--parent-pid process goes away, 2 for a bad command line.\n"+
			"Options take one dash or two (-aeron-dir or --aeron-dir).\n\nOptions:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "polybridge-worker-go: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *aeronDir == "" {
		fmt.Fprintln(stderr, "polybridge-worker-go: --aeron-dir is required: pass the media driver's directory (aeron.dir of the Java driver)")
		return 2
	}
	for name, v := range map[string]int{"--request-stream": *requestStream, "--control-stream": *controlStream} {
		if v < -1<<31 || v > 1<<31-1 {
			fmt.Fprintf(stderr, "polybridge-worker-go: %s %d is not an int32\n", name, v)
			return 2
		}
	}
	if *announceMs <= 0 {
		fmt.Fprintf(stderr, "polybridge-worker-go: --announce-interval-ms must be positive, got %d\n", *announceMs)
		return 2
	}
	if *replyQueue < 1 || *replyTimeout <= 0 || *maxReplyStreams < 1 || *parentPID < 0 {
		fmt.Fprintf(stderr, "polybridge-worker-go: --reply-queue must be at least 1 (got %d), --reply-timeout positive (got %v), --max-reply-streams at least 1 (got %d), --parent-pid not negative (got %d)\n",
			*replyQueue, *replyTimeout, *maxReplyStreams, *parentPID)
		return 2
	}
	if *poolSize < 1 || *queueDepth < 0 || *drainTimeout <= 0 {
		fmt.Fprintf(stderr, "polybridge-worker-go: --pool-size must be at least 1 (got %d), --queue-depth at least 0 (got %d), --drain-timeout positive (got %v)\n",
			*poolSize, *queueDepth, *drainTimeout)
		return 2
	}
	if *wasmMemoryLimit < 1 || *wasmMemoryLimit > 4096 {
		fmt.Fprintf(stderr, "polybridge-worker-go: --wasm-memory-limit must be 1 to 4096 MiB, got %d\n", *wasmMemoryLimit)
		return 2
	}
	if *modulesDir != "" {
		if info, err := os.Stat(*modulesDir); err != nil || !info.IsDir() {
			fmt.Fprintf(stderr, "polybridge-worker-go: --modules %s is not a directory\n", *modulesDir)
			return 2
		}
	}
	idle, err := worker.NewIdleStrategy(*idleName, *idlePark)
	if err != nil {
		fmt.Fprintf(stderr, "polybridge-worker-go: --idle: %v\n", err)
		return 2
	}
	if *queueDepth == 0 {
		*queueDepth = -1 // Config: -1 means no queue, 0 the default
	}

	worker.InstallAeronFatalHook() // before anything connects to the driver
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	registry := worker.NewRegistry()
	// Compiling ~7,500 fingerprints takes ~0.35 s: do it while the worker connects and announces
	// itself, so echo is served at once; fingerprint calls wait for the compilation (or their deadline).
	fingerprinter := fingerprint.NewLazy()
	go func() {
		if _, err := fingerprinter.Wait(context.Background()); err != nil {
			logger.Error("start handler", "handler", fingerprint.Name, "err", err)
			os.Exit(1)
		}
	}()
	registrations := []error{
		registry.RegisterInline("echo", worker.Echo),
		registry.Register(fingerprint.Name, fingerprinter),
	}
	if *debugHandlers {
		registrations = append(registrations, registry.Register(worker.DebugSleepName, worker.DebugSleep))
	}
	for _, err := range registrations {
		if err != nil {
			logger.Error("register handler", "err", err)
			return 1
		}
	}
	var watcher *wasm.Watcher
	if *modulesDir != "" {
		host, err := wasm.NewHost(context.Background(), wasm.Config{
			MemoryLimit:      uint64(*wasmMemoryLimit) << 20,
			MaxIdleInstances: *poolSize,
			CacheDir:         *wasmCache,
			Logger:           logger,
		})
		if err != nil {
			fmt.Fprintf(stderr, "polybridge-worker-go: --modules: %v\n", err)
			return 2
		}
		defer host.Close(context.Background())
		watcher = wasm.NewWatcher(host, registry, *modulesDir, logger)
	}
	w, err := worker.New(worker.Config{
		AeronDir:         *aeronDir,
		Channel:          *channel,
		RequestStream:    int32(*requestStream),
		ControlStream:    int32(*controlStream),
		WorkerID:         *workerID,
		AnnounceInterval: time.Duration(*announceMs) * time.Millisecond,
		PoolSize:         *poolSize,
		QueueDepth:       *queueDepth,
		Idle:             idle,
		DrainTimeout:     *drainTimeout,
		ReplyQueue:       *replyQueue,
		ReplyTimeout:     *replyTimeout,
		MaxReplyStreams:  *maxReplyStreams,
		ParentPID:        *parentPID,
		Logger:           logger,
	}, registry)
	if err != nil {
		fmt.Fprintf(stderr, "polybridge-worker-go: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if watcher != nil {
		// Modules compile in the background, the first scan too: the built-in handlers are
		// served and announced at once, each module as soon as it is compiled (the worker
		// re-announces when the registry changes).
		watched := make(chan struct{})
		go func() { watcher.Run(ctx); close(watched) }()
		defer func() {
			select { // a module still compiling is not waited for past a second
			case <-watched:
			case <-time.After(time.Second):
			}
		}()
	}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "polybridge-worker-go: %v\n", err)
		return 1
	}
	return 0
}
