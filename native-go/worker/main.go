package worker

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
)

// App is a worker program built on the SDK: Main gives it the command line every polybridge
// worker accepts (the flags Bridge passes, docs/protocol.md), logging, signals, the drain at
// shutdown and the exit statuses; the App adds its own flags and handlers.
type App struct {
	// Name is the program's name in --help and in messages, e.g. "hello-worker-go".
	Name string
	// About says in a sentence or two what the worker serves, for --help.
	About string
	// Flags declares the app's own flags on fs (optional). They are parsed with the common ones.
	Flags func(fs *flag.FlagSet)
	// Start registers the app's handlers in env.Registry (echo is there already) once the
	// command line is parsed and valid, before the worker connects to the media driver
	// (optional). ctx ends on SIGTERM or SIGINT: background work started here (a watcher, a
	// lazy compilation) stops with it. The returned stop, if not nil, runs after the worker has
	// drained. An error made with UsageError exits 2 (a bad app flag), any other exits 1.
	Start func(ctx context.Context, env *Env) (stop func(), err error)
}

// Env is what App.Start gets: the registry the worker serves, its logger and the parsed common
// settings.
type Env struct {
	Registry *Registry
	Logger   *slog.Logger
	Config   Config // as parsed; Conclude has not run yet (defaults may still be zero)
}

// usageError marks an App.Start error as a bad command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// UsageError returns an error that makes Main print the formatted message and exit 2, for an
// app flag whose value is wrong.
func UsageError(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// EchoName is the built-in handler every SDK worker serves (Echo, inline): a ping any client
// can send to any worker.
const EchoName = "echo"

// Main runs app as the process's command: it parses os.Args, serves until SIGTERM or SIGINT,
// drains and exits 0; it exits 1 when the media driver or the --parent-pid process goes away
// or the app fails to start, and 2 for a bad command line. It does not return.
func Main(app App) {
	os.Exit(Run(app, os.Args[1:], os.Stderr))
}

// Run is Main without the exit: it returns the exit status, writing usage, errors and the
// worker's log (slog text) to stderr.
func Run(app App, args []string, stderr io.Writer) int {
	if app.Name == "" {
		app.Name = "polybridge-worker"
	}
	fs := flag.NewFlagSet(app.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := declareCommonFlags(fs)
	if app.Flags != nil {
		app.Flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s --aeron-dir DIR [options]\n\n", app.Name)
		if app.About != "" {
			fmt.Fprintf(stderr, "%s\n", app.About)
		}
		fmt.Fprintf(stderr, "Serves its handlers (and echo, inline on the poll goroutine) to polybridge clients\n"+
			"through an Aeron media driver, on a pool of --pool-size goroutines fed by a queue of\n"+
			"--queue-depth requests.\n"+
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
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", app.Name, fs.Arg(0))
		fs.Usage()
		return 2
	}
	cfg, err := f.config()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", app.Name, err)
		return 2
	}

	InstallAeronFatalHook() // before anything connects to the driver
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.Logger = logger
	registry := NewRegistry()
	if err := registry.RegisterInline(EchoName, Echo); err != nil {
		logger.Error("register handler", "handler", EchoName, "err", err)
		return 1
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stopSignals()
	if app.Start != nil {
		stopApp, err := app.Start(ctx, &Env{Registry: registry, Logger: logger, Config: cfg})
		var usage *usageError
		switch {
		case errors.As(err, &usage):
			fmt.Fprintf(stderr, "%s: %v\n", app.Name, err)
			return 2
		case err != nil:
			fmt.Fprintf(stderr, "%s: %v\n", app.Name, err)
			return 1
		}
		if stopApp != nil {
			// After the drain, ctx ends first (also when Run returns for another reason than a
			// signal) so the app's background work stops before stopApp waits for it.
			defer func() { stopSignals(); stopApp() }()
		}
	}
	w, err := New(cfg, registry)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", app.Name, err)
		return 1
	}
	return 0
}

// commonFlags are the flags every SDK worker accepts (docs/protocol.md, the same in Rust).
type commonFlags struct {
	aeronDir, channel, workerID, idleName          string
	requestChannel, advertisedRequestChannel       string
	announceChannel, replyChannelParams            string
	requestStream, controlStream, announceMs       int
	poolSize, queueDepth, replyQueue, maxStreams   int
	parentPID                                      int
	payloadRegionMiB, maxMessageMiB, loanThreshold int
	idlePark, drainTimeout, replyTimeout           time.Duration
	idleSleepAfter, idleSleep                      time.Duration
	fs                                             *flag.FlagSet // to tell a flag given as "" from one not given
}

func declareCommonFlags(fs *flag.FlagSet) *commonFlags {
	f := &commonFlags{fs: fs}
	fs.StringVar(&f.aeronDir, "aeron-dir", "", "the media driver's directory, e.g. /dev/shm/aeron-$USER (required: Java, C and Go clients disagree on the default)")
	fs.StringVar(&f.channel, "channel", DefaultChannel, "the worker's own Aeron channel: replies to callers whose requests name no reply channel, and the default of --request-channel and --announce-channel")
	fs.StringVar(&f.requestChannel, "request-channel", "", "channel the worker subscribes to for requests, e.g. aeron:udp?endpoint=0.0.0.0:40100 (default: --channel)")
	fs.StringVar(&f.advertisedRequestChannel, "advertised-request-channel", "", "request channel the announcements tell clients to publish on, e.g. aeron:udp?endpoint=10.0.0.2:40100 (default: --request-channel when it is not IPC, else none; \"\": none, clients use the channel they heard the announcement on)")
	fs.StringVar(&f.announceChannel, "announce-channel", "", "channel announcements are published on, e.g. aeron:udp?control=10.0.0.2:40102|control-mode=dynamic|term-length=64k (default: --channel)")
	fs.StringVar(&f.replyChannelParams, "reply-channel-params", DefaultReplyChannelParams, "URI parameters added to a caller's UDP reply channel (aeron:udp?endpoint=HOST:PORT from its requests), so no request chooses them; \"\": none (the driver's defaults)")
	fs.IntVar(&f.requestStream, "request-stream", DefaultRequestStream, "this worker's request stream (instance i of a pool: 100+i)")
	fs.IntVar(&f.controlStream, "control-stream", DefaultControlStream, "stream the worker announces itself on")
	fs.StringVar(&f.workerID, "worker-id", "", "name in announcements and logs (default go-<pid>)")
	fs.IntVar(&f.announceMs, "announce-interval-ms", int(DefaultAnnounceInterval/time.Millisecond), "announcement period in milliseconds")
	fs.IntVar(&f.poolSize, "pool-size", runtime.GOMAXPROCS(0), "goroutines running pooled handlers (default: GOMAXPROCS)")
	fs.IntVar(&f.queueDepth, "queue-depth", DefaultQueueDepth, "requests that may wait for a pool goroutine; beyond that the reply is OVERLOADED (0: none wait)")
	fs.StringVar(&f.idleName, "idle", "backoff", "poll loop idle strategy: "+IdleStrategies)
	fs.DurationVar(&f.idlePark, "idle-park", time.Millisecond, "longest park of the backoff strategy, period of the sleep strategy")
	fs.DurationVar(&f.idleSleepAfter, "idle-sleep-after", DefaultIdleSleepAfter, "backoff: after this long without work the poll loop sleeps (woken by the doorbell, IPC request channels only); 0: never, otherwise at least 20ms")
	fs.DurationVar(&f.idleSleep, "idle-sleep", DefaultIdleSleep, "backoff: how long one sleep lasts unless woken (or the next announcement is due); positive, at most 10s")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", DefaultDrainTimeout, "on SIGTERM, how long running handlers may take to finish and reply, and queued replies to be published")
	fs.IntVar(&f.replyQueue, "reply-queue", DefaultReplyQueue, "replies one reply stream may hold while they cannot be published (back pressure, a new stream); beyond that (or 64 MiB in all outboxes) the worker takes no new requests until they are down to half")
	fs.DurationVar(&f.replyTimeout, "reply-timeout", DefaultReplyTimeout, "how long a reply stream with replies queued may make no progress (no reply published: a stuck or missing subscriber) before they are dropped and counted, and a reply publication may go without a subscriber before it is closed")
	fs.IntVar(&f.maxStreams, "max-reply-streams", DefaultMaxReplyStreams, "reply publications that may exist at once (each is a log buffer in the driver's shared memory); replies to more streams are dropped and counted")
	fs.IntVar(&f.payloadRegionMiB, "payload-region-mib", DefaultPayloadRegionMiB, "MiB of the worker's payload region, a file in the driver's directory (created at the first loan) where responses of at least --payload-loan-threshold bytes to IPC callers are lent instead of copied into the Aeron log; 0: none (large responses inline, within the channel's largest message)")
	fs.IntVar(&f.maxMessageMiB, "max-message-mib", DefaultMaxMessageMiB, "largest handler result in MiB (1 to 1024, at most --payload-region-mib when there is a region); longer ones are answered TOO_LARGE")
	fs.IntVar(&f.loanThreshold, "payload-loan-threshold", DefaultPayloadLoanThreshold, "smallest response payload in bytes that is lent in the payload region; 0: never lend")
	fs.IntVar(&f.parentPID, "parent-pid", 0, "exit (status 1) within a second once this process is gone, e.g. the JVM that spawned the worker (0: none)")
	return f
}

// config checks the parsed flags and turns them into a Config; an error is a bad command line.
func (f *commonFlags) config() (Config, error) {
	if f.aeronDir == "" {
		return Config{}, errors.New("--aeron-dir is required: pass the media driver's directory (aeron.dir of the Java driver)")
	}
	for name, v := range map[string]int{"--request-stream": f.requestStream, "--control-stream": f.controlStream} {
		if v < -1<<31 || v > 1<<31-1 {
			return Config{}, fmt.Errorf("%s %d is not an int32", name, v)
		}
	}
	switch {
	case f.announceMs <= 0:
		return Config{}, fmt.Errorf("--announce-interval-ms must be positive, got %d", f.announceMs)
	case f.replyQueue < 1 || f.replyTimeout <= 0 || f.maxStreams < 1 || f.parentPID < 0:
		return Config{}, fmt.Errorf("--reply-queue must be at least 1 (got %d), --reply-timeout positive (got %v), --max-reply-streams at least 1 (got %d), --parent-pid not negative (got %d)",
			f.replyQueue, f.replyTimeout, f.maxStreams, f.parentPID)
	case f.poolSize < 1 || f.queueDepth < 0 || f.drainTimeout <= 0:
		return Config{}, fmt.Errorf("--pool-size must be at least 1 (got %d), --queue-depth at least 0 (got %d), --drain-timeout positive (got %v)",
			f.poolSize, f.queueDepth, f.drainTimeout)
	}
	switch {
	case f.payloadRegionMiB < 0 || f.payloadRegionMiB > MaxMessageMiBLimit:
		return Config{}, fmt.Errorf("--payload-region-mib must be 0 (no region) to %d, got %d", MaxMessageMiBLimit, f.payloadRegionMiB)
	case f.maxMessageMiB < 1 || f.maxMessageMiB > MaxMessageMiBLimit:
		return Config{}, fmt.Errorf("--max-message-mib must be 1 to %d, got %d", MaxMessageMiBLimit, f.maxMessageMiB)
	case f.payloadRegionMiB > 0 && f.maxMessageMiB > f.payloadRegionMiB:
		return Config{}, fmt.Errorf("--max-message-mib %d exceeds --payload-region-mib %d: the largest response must fit the region (raise --payload-region-mib, or 0: no region)",
			f.maxMessageMiB, f.payloadRegionMiB)
	case f.loanThreshold < 0:
		return Config{}, fmt.Errorf("--payload-loan-threshold must be 0 (never lend) or more bytes, got %d", f.loanThreshold)
	}
	if f.replyChannelParams != "" {
		if err := ValidateReplyChannelParams(f.replyChannelParams); err != nil {
			return Config{}, fmt.Errorf("--reply-channel-params: %w", err)
		}
	}
	idle, err := NewIdleStrategy(f.idleName, f.idlePark)
	if err != nil {
		return Config{}, fmt.Errorf("--idle: %w", err)
	}
	if f.idleSleepAfter < 0 || (f.idleSleepAfter > 0 && f.idleSleepAfter < MinIdleSleepAfter) {
		return Config{}, fmt.Errorf("--idle-sleep-after must be 0 (never sleep) or at least %v, got %v: a client rings a sleeping worker's doorbell only when its previous request is 10 ms old or more", MinIdleSleepAfter, f.idleSleepAfter)
	}
	if f.idleSleep <= 0 || f.idleSleep > MaxIdleSleep {
		return Config{}, fmt.Errorf("--idle-sleep must be positive and at most %v, got %v", MaxIdleSleep, f.idleSleep)
	}
	idleSleepAfter := f.idleSleepAfter
	if idleSleepAfter == 0 {
		idleSleepAfter = -1 // Config: negative means never, 0 the default
	}
	queueDepth := f.queueDepth
	if queueDepth == 0 {
		queueDepth = -1 // Config: -1 means no queue, 0 the default
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	return Config{
		advertisedExplicit:       given["advertised-request-channel"],
		replyParamsExplicit:      given["reply-channel-params"],
		AeronDir:                 f.aeronDir,
		Channel:                  f.channel,
		RequestChannel:           f.requestChannel,
		AnnounceChannel:          f.announceChannel,
		ReplyChannelParams:       f.replyChannelParams,
		AdvertisedRequestChannel: f.advertisedRequestChannel,
		RequestStream:            int32(f.requestStream),
		ControlStream:            int32(f.controlStream),
		WorkerID:                 f.workerID,
		AnnounceInterval:         time.Duration(f.announceMs) * time.Millisecond,
		PoolSize:                 f.poolSize,
		QueueDepth:               queueDepth,
		Idle:                     idle,
		IdleSleepAfter:           idleSleepAfter,
		IdleSleep:                f.idleSleep,
		DrainTimeout:             f.drainTimeout,
		ReplyQueue:               f.replyQueue,
		ReplyTimeout:             f.replyTimeout,
		MaxReplyStreams:          f.maxStreams,
		ParentPID:                f.parentPID,
		PayloadRegionMiB:         zeroMeansNone(f.payloadRegionMiB),
		MaxMessageMiB:            f.maxMessageMiB,
		PayloadLoanThreshold:     zeroMeansNone(f.loanThreshold),
	}, nil
}

// zeroMeansNone turns a flag's 0 (none) into a Config's -1 (a zero Config field means the default).
func zeroMeansNone(v int) int {
	if v == 0 {
		return -1
	}
	return v
}
