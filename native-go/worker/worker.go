package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lirm/aeron-go/aeron"
	aeronatomic "github.com/lirm/aeron-go/aeron/atomic"
	"github.com/lirm/aeron-go/aeron/counters"
	"github.com/lirm/aeron-go/aeron/idlestrategy"
	"github.com/lirm/aeron-go/aeron/logbuffer/term"
	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// Defaults from docs/protocol.md.
const (
	DefaultChannel          = "aeron:ipc"
	DefaultRequestStream    = 100
	DefaultControlStream    = 10
	DefaultAnnounceInterval = time.Second
	DefaultReplyTimeout     = time.Second
	// DefaultDriverTimeout is how long the media driver may go without a heartbeat before the
	// worker takes it for dead and exits, when the driver's process cannot be watched (see
	// hungDriverTimeout). A driver heartbeats once per aeron.timer.interval: 100 ms in
	// polybridge's drivers, up to 1 s in a stock one (where 1 s took a live driver for dead in
	// the Rust worker's tests); 1.5 s as the Rust worker. aeron-go checks every 500 ms, so a dead
	// driver is noticed 1.5-2 s after it died.
	DefaultDriverTimeout = 1500 * time.Millisecond
	// hungDriverTimeout replaces DriverTimeout when the driver's process can be watched (its
	// pid, from cnc.dat, is visible in /proc): its death is then seen within
	// parentCheckInterval, and a driver that is alive but silent (starved on a loaded
	// machine, stopped with SIGSTOP) is given this long. With 1 s, three workers took a live
	// stock Aeron driver, which heartbeats once a second (ages up to 1.14 s), for dead.
	hungDriverTimeout = 10 * time.Second
	fragmentLimit     = 16
	// housekeepingInterval paces what need not run every duty cycle: closing reply
	// publications without a subscriber, forgetting gone images.
	housekeepingInterval = 100 * time.Millisecond
)

// Config holds a worker's settings. Fill it, then call Conclude once (Run does) to validate
// it and fill the defaults left zero.
type Config struct {
	AeronDir string // the media driver's directory; required
	Channel  string // the worker's own channel: replies to callers that name none, and the default of the three below
	// RequestChannel is where the worker subscribes for requests; default Channel. Across
	// hosts e.g. aeron:udp?endpoint=0.0.0.0:40100 (all workers on a host share it, told apart
	// by RequestStream).
	RequestChannel string
	// AdvertisedRequestChannel is what announcements tell clients to publish requests on
	// (WorkerAnnouncement.requestChannel), when the address the worker binds is not the one
	// clients reach (bind 0.0.0.0:40100, advertise 10.0.0.2:40100). Default: RequestChannel
	// when it is not IPC, else "" (clients use the channel they heard the announcement on).
	AdvertisedRequestChannel string
	// AnnounceChannel is where announcements are published; default Channel. Across hosts a
	// dynamic multi-destination-cast channel, e.g.
	// aeron:udp?control=10.0.0.2:40102|control-mode=dynamic|term-length=64k.
	AnnounceChannel string
	// ReplyChannelParams are the URI parameters the worker appends to a caller's UDP reply
	// channel (Request.replyChannel aeron:udp?endpoint=HOST:PORT), so a frame never chooses
	// them. Default DefaultReplyChannelParams.
	ReplyChannelParams string
	// explicit marks AdvertisedRequestChannel and ReplyChannelParams given on the command line,
	// where "" means none rather than the default (as in the Rust worker).
	advertisedExplicit, replyParamsExplicit bool
	RequestStream                           int32         // this worker's request stream
	ControlStream                           int32         // where announcements go
	WorkerID                                string        // name in announcements and logs
	AnnounceInterval                        time.Duration // announcement period
	// ReplyTimeout bounds how long a reply stream with replies in its outbox may make no
	// progress (no reply published: a stuck or missing subscriber, a publication never added)
	// before they are dropped and counted, and how long a reply publication may go without a
	// subscriber before it is closed. A slow subscriber that keeps taking replies loses none,
	// however long they wait. The poll loop never waits for a reply: it tries each queued one
	// once per duty cycle.
	ReplyTimeout time.Duration
	// ReplyQueue is how many replies one reply stream's outbox holds before the worker stops
	// taking requests (they wait in the Aeron log) until the outboxes are down to half; 64 MiB
	// in all outboxes does the same. Nothing is dropped for it. Default DefaultReplyQueue.
	ReplyQueue int
	// MaxReplyStreams bounds the reply publications that exist at once, counting those closed
	// less than the driver's publication linger ago (each is a log buffer in the driver's
	// shared memory). A reply to yet another stream is dropped and counted. Default
	// DefaultMaxReplyStreams.
	MaxReplyStreams int
	// ParentPID, when positive, is a process the worker must not outlive (the JVM that
	// spawned it): Run returns an error wrapping ErrParentGone within about 200 ms of its
	// death, recognising pid reuse by the process's start time.
	ParentPID int
	// DriverTimeout is how long the media driver may go without a heartbeat before Run
	// returns an error naming its directory, when its process cannot be watched; when it can,
	// Run returns within about 200 ms of the process's death and allows a live but silent
	// driver hungDriverTimeout (or DriverTimeout, if longer). Default DefaultDriverTimeout.
	DriverTimeout time.Duration
	// Idle is the poll loop's idle strategy; default NewBackoff: spin 100, yield 50, park
	// 1µs..1ms, then sleep. A WakeableIdler is woken when a pooled handler finishes; a
	// SleepingIdler may sleep when the worker has a doorbell and nothing pending.
	Idle idlestrategy.Idler
	// IdleSleepAfter and IdleSleep set a Backoff's sleep phase (Idle nil or a *Backoff): after
	// IdleSleepAfter without work (default 50ms; at least 20ms; negative: never sleep) the loop
	// sleeps for IdleSleep (default 100ms, at most 10s, never past the next announcement) or
	// until woken. Zero keeps the Backoff's.
	IdleSleepAfter, IdleSleep time.Duration
	// PoolSize is how many goroutines run pooled handlers; default GOMAXPROCS.
	PoolSize int
	// QueueDepth is how many requests may wait for a pool goroutine; beyond it, OVERLOADED.
	// Default DefaultQueueDepth. 0 means no waiting: a request needs an idle goroutine.
	// Use -1 in a Config literal for 0 (a zero value means "default").
	QueueDepth int
	// DrainTimeout bounds how long Run waits on stop for running handlers to finish.
	DrainTimeout time.Duration
	// PayloadRegionMiB is the size of the worker's response region's data area, where
	// responses of at least PayloadLoanThreshold bytes to IPC callers are lent (created at the
	// first loan in AeronDir). Default DefaultPayloadRegionMiB, at most MaxMessageMiBLimit; -1:
	// none (large responses go inline, within the channel's largest message).
	PayloadRegionMiB int
	// MaxMessageMiB bounds a handler's result: longer ones are answered TOO_LARGE before they
	// are copied anywhere. Default DefaultMaxMessageMiB, 1 to MaxMessageMiBLimit, at most
	// PayloadRegionMiB when there is a region.
	MaxMessageMiB int
	// PayloadLoanThreshold is the smallest response payload that is lent; default
	// DefaultPayloadLoanThreshold; -1: never lend.
	PayloadLoanThreshold int
	Logger               *slog.Logger
}

// Conclude validates the configuration and fills defaults.
func (c *Config) Conclude() error {
	if c.AeronDir == "" {
		return errors.New("the media driver directory (--aeron-dir) is required")
	}
	cnc := filepath.Join(c.AeronDir, "cnc.dat")
	if _, err := os.Stat(cnc); err != nil {
		return fmt.Errorf("no media driver in %s: %w", c.AeronDir, err)
	}
	if c.Channel == "" {
		c.Channel = DefaultChannel
	}
	if c.RequestChannel == "" {
		c.RequestChannel = c.Channel
	}
	if c.AnnounceChannel == "" {
		c.AnnounceChannel = c.Channel
	}
	if c.AdvertisedRequestChannel == "" && !c.advertisedExplicit && !isIPC(c.RequestChannel) {
		c.AdvertisedRequestChannel = c.RequestChannel
	}
	if c.ReplyChannelParams == "" && !c.replyParamsExplicit {
		c.ReplyChannelParams = DefaultReplyChannelParams
	}
	if err := validateChannels(c); err != nil {
		return err
	}
	if c.RequestStream == 0 {
		c.RequestStream = DefaultRequestStream
	}
	if c.ControlStream == 0 {
		c.ControlStream = DefaultControlStream
	}
	if c.RequestStream == c.ControlStream {
		return fmt.Errorf("request stream and control stream are both %d", c.RequestStream)
	}
	if c.WorkerID == "" {
		c.WorkerID = fmt.Sprintf("go-%d", os.Getpid())
	}
	if len(c.WorkerID) > maxHandlerNameLength {
		return fmt.Errorf("worker id of %d bytes exceeds %d", len(c.WorkerID), maxHandlerNameLength)
	}
	if c.AnnounceInterval < 0 {
		return fmt.Errorf("announce interval %v is negative", c.AnnounceInterval)
	}
	if c.AnnounceInterval == 0 {
		c.AnnounceInterval = DefaultAnnounceInterval
	}
	if c.ReplyTimeout <= 0 {
		c.ReplyTimeout = DefaultReplyTimeout
	}
	switch {
	case c.ReplyQueue < 0:
		return fmt.Errorf("reply queue %d is negative", c.ReplyQueue)
	case c.ReplyQueue == 0:
		c.ReplyQueue = DefaultReplyQueue
	}
	switch {
	case c.MaxReplyStreams < 0:
		return fmt.Errorf("max reply streams %d is negative", c.MaxReplyStreams)
	case c.MaxReplyStreams == 0:
		c.MaxReplyStreams = DefaultMaxReplyStreams
	}
	if c.ParentPID < 0 {
		return fmt.Errorf("parent pid %d is negative", c.ParentPID)
	}
	if c.DriverTimeout <= 0 {
		c.DriverTimeout = DefaultDriverTimeout
	}
	if c.Idle == nil {
		c.Idle = NewBackoff()
	}
	if b, ok := c.Idle.(*Backoff); ok {
		switch {
		case c.IdleSleepAfter < 0:
			b.SleepAfter = 0
		case c.IdleSleepAfter > 0:
			b.SleepAfter = c.IdleSleepAfter
		}
		if c.IdleSleep != 0 {
			b.Sleep = c.IdleSleep
		}
		if b.SleepAfter > 0 || c.IdleSleep != 0 {
			if err := ValidateIdleSleep(b.SleepAfter, b.Sleep); err != nil {
				return err
			}
		}
	}
	if c.PoolSize < 0 {
		return fmt.Errorf("pool size %d is negative", c.PoolSize)
	}
	if c.PoolSize == 0 {
		c.PoolSize = runtime.GOMAXPROCS(0)
	}
	switch {
	case c.QueueDepth < -1:
		return fmt.Errorf("queue depth %d is negative", c.QueueDepth)
	case c.QueueDepth == -1:
		c.QueueDepth = 0
	case c.QueueDepth == 0:
		c.QueueDepth = DefaultQueueDepth
	}
	if c.DrainTimeout < 0 {
		return fmt.Errorf("drain timeout %v is negative", c.DrainTimeout)
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if err := c.concludePayloads(); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// concludePayloads validates and defaults the payload region settings.
func (c *Config) concludePayloads() error {
	switch {
	case c.PayloadRegionMiB < -1 || c.PayloadRegionMiB > MaxMessageMiBLimit:
		return fmt.Errorf("payload region of %d MiB: 0 (none) to %d", c.PayloadRegionMiB, MaxMessageMiBLimit)
	case c.PayloadRegionMiB == 0:
		c.PayloadRegionMiB = DefaultPayloadRegionMiB
	}
	switch {
	case c.MaxMessageMiB < 0 || c.MaxMessageMiB > MaxMessageMiBLimit:
		return fmt.Errorf("max message of %d MiB: 1 to %d", c.MaxMessageMiB, MaxMessageMiBLimit)
	case c.MaxMessageMiB == 0:
		c.MaxMessageMiB = DefaultMaxMessageMiB
	}
	if c.PayloadRegionMiB > 0 && c.MaxMessageMiB > c.PayloadRegionMiB {
		return fmt.Errorf("--max-message-mib %d exceeds --payload-region-mib %d: a largest response must fit the region (raise it, or 0: no region)",
			c.MaxMessageMiB, c.PayloadRegionMiB)
	}
	switch {
	case c.PayloadLoanThreshold < -1:
		return fmt.Errorf("payload loan threshold %d is negative", c.PayloadLoanThreshold)
	case c.PayloadLoanThreshold == 0:
		c.PayloadLoanThreshold = DefaultPayloadLoanThreshold
	}
	return nil
}

// Worker serves the handlers of a registry over Aeron.
type Worker struct {
	cfg        Config
	registry   *Registry
	dispatcher *Dispatcher
	assembler  *Assembler
	pool       *Pool
	outbox     *outbox
	Counters   *Counters

	client     *aeron.Aeron
	offerBuf   aeronatomic.Buffer
	fatal      chan error    // capacity 1: why Run must stop (driver or parent gone)
	failed     atomic.Bool   // fatal has been sent
	failedCh   chan struct{} // closed once fatal has been sent: wakes a sleeping loop
	failOnce   sync.Once
	conductor  *conductorIdler
	goneImage  chan int32
	publishers atomic.Int64  // reply publications, for ReplyPublications
	pauses     atomic.Uint64 // times intake paused, for IntakePauses

	driverTimeout time.Duration // the Aeron client's, see DriverTimeout
}

// New returns a worker over registry (DefaultRegistry if nil); Run starts it.
func New(cfg Config, registry *Registry) (*Worker, error) {
	if err := cfg.Conclude(); err != nil {
		return nil, err
	}
	if registry == nil {
		registry = DefaultRegistry
	}
	w := &Worker{
		cfg:       cfg,
		registry:  registry,
		Counters:  new(Counters),
		fatal:     make(chan error, 1),
		failedCh:  make(chan struct{}),
		conductor: newConductorIdler(),
		goneImage: make(chan int32, 256),
	}
	w.dispatcher = NewDispatcher(registry, w.Counters)
	p := w.dispatcher.payloads
	p.log = cfg.Logger
	p.maxMessage = cfg.MaxMessageMiB << 20
	p.threshold = max(cfg.PayloadLoanThreshold, 0)
	p.requestIPC, p.replyIPC = isIPC(cfg.RequestChannel), isIPC(cfg.Channel)
	p.maps = newRegionMaps(cfg.AeronDir)
	if cfg.PayloadRegionMiB > 0 {
		p.region = newRegion(cfg.AeronDir, newRegionID(), int64(cfg.PayloadRegionMiB)<<20)
	}
	w.assembler = NewAssembler(func(msg []byte, _ int32) { w.pool.OnMessage(msg) })
	return w, nil
}

// ReplyPublications returns how many reply publications the worker holds now (added or being
// added); safe to call from any goroutine.
func (w *Worker) ReplyPublications() int {
	return int(w.publishers.Load())
}

// IntakePauses returns how many times the worker has stopped taking requests because its
// reply outboxes were over their budget; safe to call from any goroutine.
func (w *Worker) IntakePauses() uint64 {
	return w.pauses.Load()
}

// Run connects to the media driver, announces the worker and serves requests until ctx is
// cancelled (returns nil after the drain), or until the Aeron client fails, the media driver
// stops heartbeating or Config.ParentPID's process goes (returns the error, at once). It
// occupies the calling goroutine, locked to its OS thread.
func (w *Worker) Run(ctx context.Context) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	log := w.cfg.Logger

	// Before connecting: a worker whose parent died while it started must not serve.
	var parent processIdentity
	if w.cfg.ParentPID > 0 {
		p, err := identifyProcess(w.cfg.ParentPID)
		if err != nil {
			return &parentGoneError{pid: w.cfg.ParentPID, detail: err.Error()}
		}
		parent = p
	}

	InstallAeronFatalHook()
	// A driver whose process can be watched is taken for dead when the process goes; the
	// heartbeat then only catches a hung one. Otherwise the heartbeat timeout is short
	// (aeron-go's default is 5 s) so a worker whose driver died goes within ~1.5 s.
	if err := awaitDriver(ctx, w.cfg.AeronDir, hungDriverTimeout); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting: nothing was served
		}
		return err
	}
	driver, driverWatchable := driverProcess(w.cfg.AeronDir)
	w.driverTimeout = w.cfg.DriverTimeout
	if driverWatchable {
		w.driverTimeout = max(w.cfg.DriverTimeout, hungDriverTimeout)
	}
	// aeron-go's conductor, and every blocking AddPublication/AddSubscription waiting on it,
	// sleeps 4 ms when idle by default: most of the worker's cold start; a fixed 1 ms costs a
	// thousand wake-ups a second of an idle worker. conductorIdler parks 1 ms while an answer
	// from the driver is expected and 16 ms otherwise (100 ms in a worker that sleeps).
	actx := aeron.NewContext().
		AeronDir(w.cfg.AeronDir).
		MediaDriverTimeout(w.driverTimeout).
		IdleStrategy(w.conductor).
		ErrorHandler(w.onAeronError)
	client, err := aeron.Connect(actx)
	if err != nil {
		return fmt.Errorf("connect to media driver in %s: %w", w.cfg.AeronDir, err)
	}
	w.client = client
	defer func() {
		if err := client.Close(); err != nil {
			log.Warn("closing aeron client", "err", err)
		}
	}()

	requests, err := client.AddSubscriptionWithHandlers(w.cfg.RequestChannel, w.cfg.RequestStream,
		func(aeron.Image) {},
		func(img aeron.Image) {
			select { // runs on the client conductor goroutine: hand the id to the poll loop
			case w.goneImage <- img.SessionID():
			default:
			}
		})
	if err != nil {
		return fmt.Errorf("subscribe to %s stream %d: %w", w.cfg.RequestChannel, w.cfg.RequestStream, err)
	}
	control, err := client.AddPublication(w.cfg.AnnounceChannel, w.cfg.ControlStream)
	if err != nil {
		return fmt.Errorf("publish on %s stream %d: %w", w.cfg.AnnounceChannel, w.cfg.ControlStream, err)
	}
	encodeAnnouncement := func() []byte {
		return EncodeAnnouncement(Announcement{
			Language:        polybridge.Language_GO,
			Pid:             int64(os.Getpid()),
			RequestStreamID: w.cfg.RequestStream,
			Handlers:        w.registry.Names(),
			WorkerID:        w.cfg.WorkerID,
			RequestChannel:  w.cfg.AdvertisedRequestChannel,
			RegionID:        w.dispatcher.payloads.regionID(),
		})
	}
	announcedVersion := w.registry.Version()
	announcement := encodeAnnouncement()
	w.dispatcher.RefuseReplyStreams(w.cfg.RequestStream, w.cfg.ControlStream)
	w.conductor.started()
	w.outbox = newOutbox(&aeronAdder{client: client, channel: w.cfg.Channel, params: w.cfg.ReplyChannelParams,
		added: func() { w.conductor.expect(conductorAfterAdd) }}, w.Counters, log,
		w.cfg.ReplyQueue, w.cfg.ReplyTimeout, w.cfg.MaxReplyStreams)
	w.outbox.gauge, w.outbox.pauses = &w.publishers, &w.pauses
	payloads := w.dispatcher.payloads
	w.outbox.dropped = payloads.dropped
	w.outbox.closed = func(key replyKey) {
		if key.channel == "" { // loans go only to replies on the worker's own channel
			payloads.streamClosed(key.streamID)
		}
	}
	pool, err := NewPool(w.dispatcher, w.cfg.PoolSize, w.cfg.QueueDepth, w.publish)
	if err != nil {
		return err
	}
	w.pool = pool
	defer w.closePayloads()
	log.Info("worker serving", "worker", w.cfg.WorkerID, "channel", w.cfg.Channel,
		"requestChannel", w.cfg.RequestChannel, "advertisedRequestChannel", w.cfg.AdvertisedRequestChannel,
		"announceChannel", w.cfg.AnnounceChannel, "replyChannelParams", w.cfg.ReplyChannelParams,
		"requestStream", w.cfg.RequestStream, "controlStream", w.cfg.ControlStream,
		"handlers", strings.Join(w.registry.Names(), ","),
		"poolSize", w.cfg.PoolSize, "queueDepth", w.cfg.QueueDepth,
		"replyQueue", w.cfg.ReplyQueue, "replyTimeout", w.cfg.ReplyTimeout,
		"maxReplyStreams", w.cfg.MaxReplyStreams, "parentPid", w.cfg.ParentPID,
		"payloadRegionId", fmt.Sprintf("%016x", uint64(payloads.regionID())), "payloadRegionMiB", w.cfg.PayloadRegionMiB,
		"maxMessageMiB", w.cfg.MaxMessageMiB, "payloadLoanThreshold", w.cfg.PayloadLoanThreshold,
		"driverPid", driver.pid, "driverTimeout", w.driverTimeout)

	var stopping atomic.Bool
	stop := context.AfterFunc(ctx, func() { stopping.Store(true) })
	defer stop()
	watchCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	if parent.pid != 0 {
		go parent.watch(watchCtx, parentCheckInterval, w.fail)
	}
	if driverWatchable {
		go driver.watch(watchCtx, parentCheckInterval, func(error) {
			w.fail(&driverGoneError{dir: w.cfg.AeronDir, detail: fmt.Sprintf("its process %d has exited", driver.pid)})
		})
	}

	// The doorbell is opened before the first announcement: a client that has heard of the
	// worker may ring it.
	wakeups := Wakeups{Work: pool.Wake(), Stop: ctx.Done(), Fatal: w.failedCh}
	sleeper, sleeps := w.cfg.Idle.(SleepingIdler)
	if sleeps = sleeps && sleeper.Sleeps(); sleeps {
		path, err := doorbellPathFor(w.cfg.AeronDir, w.cfg.RequestChannel, w.cfg.RequestStream)
		var bell *doorbell
		if err == nil {
			if bell, err = openDoorbell(path); err != nil {
				log.Warn("cannot open the doorbell", "worker", w.cfg.WorkerID, "err", err)
			}
		}
		if err != nil {
			sleeps = false
			log.Info("no doorbell: the worker will not sleep when idle", "worker", w.cfg.WorkerID, "reason", err.Error())
		} else {
			defer func() {
				if err := bell.Close(); err != nil {
					log.Warn("closing the doorbell", "path", bell.path, "err", err)
				}
			}()
			wakeups.Doorbell = bell.Rung()
			w.conductor.sleeping()
			log.Info("doorbell open", "worker", w.cfg.WorkerID, "path", bell.path)
		}
	}

	handler := w.assembler.FragmentHandler()
	idle, wakeable := w.cfg.Idle.(WakeableIdler)
	var nextAnnounce, nextHousekeeping time.Time
	var fatal error
	asleep := false // in the sleep phase: counted once per entry
	for !stopping.Load() && fatal == nil {
		work := 0
		// Flow control: while the outboxes are over their budget, requests wait in the Aeron
		// log (clients feel back pressure) and the loop only drains, announces and watches.
		if !w.outbox.intakePaused() {
			work += requests.Poll(handler, fragmentLimit)
		}
		work += pool.Drain()
		now := time.Now()
		work += w.outbox.flush(now)
		if v := w.registry.Version(); v != announcedVersion {
			// Handlers were added or removed while running (--modules): announce the new set now.
			announcedVersion, announcement = v, encodeAnnouncement()
			nextAnnounce = time.Time{}
		}
		if !now.Before(nextAnnounce) {
			w.offerOnce(control, announcement) // nobody listening yet is normal: no retry
			nextAnnounce = now.Add(w.cfg.AnnounceInterval)
		}
		if !now.Before(nextHousekeeping) {
			w.outbox.housekeep(now)
			w.forgetGoneImages()
			payloads.maps.sweep(now)
			nextHousekeeping = now.Add(housekeepingInterval)
		}
		select {
		case fatal = <-w.fatal:
			continue
		default:
		}
		switch {
		case sleeps:
			wakeups.Pending = pool.InHand() > 0 || !w.outbox.empty()
			wakeups.Until = nextAnnounce
			reason := sleeper.IdleOrSleep(work, &wakeups)
			if reason != NotSlept && !asleep {
				w.Counters.IdleSleeps.Add(1) // entered the sleep phase
			}
			asleep = reason == WokenByTimer // sleeps on at the next idle call
			if reason == WokenByDoorbell {
				w.Counters.DoorbellWakes.Add(1)
				// A new client's first request may come with its image, which the conductor
				// hands over: wake it too.
				w.conductor.expect(conductorAfterRing)
			}
		case wakeable:
			idle.IdleOrWake(work, pool.Wake())
		default:
			w.cfg.Idle.Idle(work)
		}
	}
	if fatal != nil {
		log.Error("worker stopping", "worker", w.cfg.WorkerID, "err", fatal)
	}
	w.drain(pool, requests, handler, fatal == nil)
	log.Info("worker stopped", append(append([]any{"worker", w.cfg.WorkerID}, w.Counters.LogAttrs()...),
		"intake_pauses", w.pauses.Load(), "intake_paused_ms", w.outbox.intakePausedFor(time.Now()).Milliseconds())...)
	return fatal
}

// drain stops the pool (queued requests are answered WORKER_UNAVAILABLE without running,
// running handlers see their context cancelled), publishes what finishes and flushes the
// outboxes, until nothing is left or the drain timeout passes. Requests that arrive meanwhile
// are read and answered WORKER_UNAVAILABLE at once, so their callers need not wait for their
// deadline (as the Rust worker does), unless intake is paused (the outboxes over budget). wait is false when the driver or the parent has gone:
// nobody is left to answer, so it makes one pass and returns.
func (w *Worker) drain(pool *Pool, requests *aeron.Subscription, handler term.FragmentHandler, wait bool) {
	deadline := time.Now().Add(w.cfg.DrainTimeout)
	pool.Stop()
	wake := time.NewTimer(time.Millisecond)
	defer wake.Stop()
	for {
		if wait && !w.outbox.intakePaused() {
			requests.Poll(handler, fragmentLimit)
		}
		pool.Drain()
		now := time.Now()
		w.outbox.flush(now)
		if pool.InHand() == 0 && w.outbox.empty() {
			return
		}
		if !wait || !now.Before(deadline) {
			w.cfg.Logger.Warn("stopping with work left: those callers get no reply",
				"handlersRunning", pool.InHand(), "repliesUnsent", w.outbox.queued, "drainTimeout", w.cfg.DrainTimeout)
			return
		}
		wake.Reset(time.Millisecond)
		select {
		case <-pool.Wake():
		case <-wake.C:
		}
	}
}

// closePayloads removes the response region (unmapping it only if no handler may still be
// writing a loan: one that outlived the drain) and unmaps the request regions nothing reads.
func (w *Worker) closePayloads() {
	p := w.dispatcher.payloads
	if p.region != nil {
		if err := p.region.close(w.pool.InHand() == 0); err != nil {
			w.cfg.Logger.Warn("removing the payload region", "path", p.region.path(), "err", err)
		}
	}
	if err := p.maps.close(); err != nil {
		w.cfg.Logger.Warn("unmapping payload regions", "err", err)
	}
}

// RegionID returns the id of the worker's response region (0: none); the file is
// RegionPath(aeronDir, id), created at the first loan.
func (w *Worker) RegionID() int64 { return w.dispatcher.payloads.regionID() }

// LentBytes returns the bytes of the response region lent now (whole 4096-byte blocks).
func (w *Worker) LentBytes() int64 {
	if r := w.dispatcher.payloads.region; r != nil {
		return r.lentBytes()
	}
	return 0
}

// ErrDriverGone is what the error Run returns when the media driver stopped heartbeating Is
// (errors.Is).
var ErrDriverGone = errors.New("media driver is gone")

type driverGoneError struct {
	dir    string
	detail string // how it was noticed
}

func (e *driverGoneError) Error() string {
	return fmt.Sprintf("media driver in %s is gone: %s", e.dir, e.detail)
}

// awaitDriver waits until dir's cnc.dat is initialised, as Aeron's Java and C clients do: a
// driver that has just created the file has not written its version yet, and aeron-go's
// Connect fails at once on that.
func awaitDriver(ctx context.Context, dir string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		_, cnc, err := counters.MapFile(filepath.Join(dir, "cnc.dat"))
		if err == nil {
			return cnc.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no media driver ready in %s after %v: %w", dir, limit, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the media driver in %s: %w", dir, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// driverProcess identifies the media driver's process from the pid in dir's cnc.dat; false
// if that is not possible (no such pid here: the driver runs in another pid namespace, or
// the cnc.dat cannot be read yet).
func driverProcess(dir string) (processIdentity, bool) {
	meta, cnc, err := counters.MapFile(filepath.Join(dir, "cnc.dat"))
	if err != nil {
		return processIdentity{}, false
	}
	pid := meta.DriverPid.Get()
	_ = cnc.Close()
	if pid <= 0 || pid > math.MaxInt32 {
		return processIdentity{}, false
	}
	p, err := identifyProcess(int(pid))
	return p, err == nil
}

func (e *driverGoneError) Is(target error) bool { return target == ErrDriverGone }

// fail makes Run stop with err (the first one given); any goroutine may call it.
func (w *Worker) fail(err error) {
	select {
	case w.fatal <- err:
		w.failed.Store(true)
		w.failOnce.Do(func() { close(w.failedCh) })
	default:
	}
}

// publish hands a reply to its stream's outbox: it is published now if it can be, else
// queued, never waited for. Called on the poll goroutine (by the pool).
func (w *Worker) publish(reply Reply) {
	w.outbox.publish(reply, time.Now())
}

// offerOnce offers frame on pub once (announcements: nobody listening is normal).
func (w *Worker) offerOnce(pub *aeron.Publication, frame []byte) {
	p := aeronPublication{pub: pub, buf: &w.offerBuf}
	_, _ = p.Offer(frame)
}

func (w *Worker) forgetGoneImages() {
	for {
		select {
		case id := <-w.goneImage:
			w.assembler.Forget(id)
		default:
			return
		}
	}
}

// onAeronError is aeron-go's error handler; it runs on the client conductor goroutine.
// The conductor stops after the errors listed in conductorStopped, and with it the client: the
// worker then exits non-zero. Anything else is logged and survived.
func (w *Worker) onAeronError(err error) {
	switch {
	case strings.Contains(err.Error(), "MediaDriver keepalive"):
		// aeron-go's own message gets the heartbeat's age wrong (milliseconds read as nanoseconds).
		w.fail(&driverGoneError{dir: w.cfg.AeronDir, detail: fmt.Sprintf("no heartbeat for %v", w.driverTimeout)})
	case conductorStopped(err):
		w.fail(fmt.Errorf("aeron client of the media driver in %s stopped: %w", w.cfg.AeronDir, err))
	case w.failed.Load():
		// Closing the client after the driver died reports each publication it cannot release.
		w.cfg.Logger.Debug("aeron client error while stopping", "err", err)
	default:
		w.cfg.Logger.Warn("aeron client error", "err", err)
	}
}

// conductorStopped recognises the errors after which aeron-go's client conductor has stopped
// (see ClientConductor.run, onHeartbeatCheckTimeouts and OnClientTimeout at the pinned version).
func conductorStopped(err error) bool {
	msg := err.Error()
	for _, s := range []string{
		"MediaDriver keepalive",         // the driver stopped heartbeating: it is gone
		"timeout between service calls", // our conductor stalled past the inter-service timeout
		"client heartbeat timestamp not active",
		"OnClientTimeout", // the driver timed us out
		"Panic:",          // a panic inside the conductor, e.g. lapped by the broadcast buffer
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
