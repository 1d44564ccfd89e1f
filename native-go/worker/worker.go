package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lirm/aeron-go/aeron"
	aeronatomic "github.com/lirm/aeron-go/aeron/atomic"
	"github.com/lirm/aeron-go/aeron/idlestrategy"
	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// Defaults from docs/protocol.md.
const (
	DefaultChannel          = "aeron:ipc"
	DefaultRequestStream    = 100
	DefaultControlStream    = 10
	DefaultAnnounceInterval = time.Second
	DefaultReplyTimeout     = time.Second
	fragmentLimit           = 16
	conductorIdleSleep      = time.Millisecond // aeron-go's default is 4 ms; see Run
)

// Config holds a worker's settings. Fill it, then call Conclude once (Run does) to validate
// it and fill the defaults left zero.
type Config struct {
	AeronDir         string        // the media driver's directory; required
	Channel          string        // channel of the request, reply and control streams
	RequestStream    int32         // this worker's request stream
	ControlStream    int32         // where announcements go
	WorkerID         string        // name in announcements and logs
	AnnounceInterval time.Duration // announcement period
	// ReplyTimeout bounds how long one reply is retried while back pressured, or while a new
	// reply publication waits for its subscriber. The poll loop is blocked meanwhile.
	ReplyTimeout time.Duration
	// Idle is the poll loop's idle strategy; default: spin 10, yield 20, then park 1µs..1ms.
	// A WakeableIdler is woken when a pooled handler finishes.
	Idle idlestrategy.Idler
	// PoolSize is how many goroutines run pooled handlers; default GOMAXPROCS.
	PoolSize int
	// QueueDepth is how many requests may wait for a pool goroutine; beyond it, OVERLOADED.
	// Default DefaultQueueDepth. 0 means no waiting: a request needs an idle goroutine.
	// Use -1 in a Config literal for 0 (a zero value means "default").
	QueueDepth int
	// DrainTimeout bounds how long Run waits on stop for running handlers to finish.
	DrainTimeout time.Duration
	Logger       *slog.Logger
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
	if c.Idle == nil {
		c.Idle = NewBackoff()
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
	if c.Logger == nil {
		c.Logger = slog.Default()
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
	Counters   *Counters
	// RepliesDropped counts responses that could not be published (no subscriber, back
	// pressure past ReplyTimeout, closed publication).
	RepliesDropped atomic.Uint64

	client    *aeron.Aeron
	replies   map[int32]*replyPublication
	offerBuf  aeronatomic.Buffer
	fatal     chan error
	goneImage chan int32
}

type replyPublication struct {
	pub           *aeron.Publication
	everConnected bool
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
		replies:   make(map[int32]*replyPublication),
		fatal:     make(chan error, 1),
		goneImage: make(chan int32, 256),
	}
	w.dispatcher = NewDispatcher(registry, w.Counters)
	w.assembler = NewAssembler(func(msg []byte, _ int32) { w.pool.OnMessage(msg) })
	return w, nil
}

// Run connects to the media driver, announces the worker and serves requests until ctx is
// cancelled (returns nil) or the Aeron client fails (returns the error). It occupies the
// calling goroutine, locked to its OS thread.
func (w *Worker) Run(ctx context.Context) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	log := w.cfg.Logger

	InstallAeronFatalHook()
	// aeron-go's conductor, and every blocking AddPublication/AddSubscription waiting on it,
	// sleeps 4 ms when idle by default: most of the worker's cold start. 1 ms costs about a
	// thousand wake-ups a second of an otherwise idle goroutine.
	actx := aeron.NewContext().
		AeronDir(w.cfg.AeronDir).
		IdleStrategy(idlestrategy.Sleeping{SleepFor: conductorIdleSleep}).
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

	requests, err := client.AddSubscriptionWithHandlers(w.cfg.Channel, w.cfg.RequestStream,
		func(aeron.Image) {},
		func(img aeron.Image) {
			select { // runs on the client conductor goroutine: hand the id to the poll loop
			case w.goneImage <- img.SessionID():
			default:
			}
		})
	if err != nil {
		return fmt.Errorf("subscribe to %s stream %d: %w", w.cfg.Channel, w.cfg.RequestStream, err)
	}
	control, err := client.AddPublication(w.cfg.Channel, w.cfg.ControlStream)
	if err != nil {
		return fmt.Errorf("publish on %s stream %d: %w", w.cfg.Channel, w.cfg.ControlStream, err)
	}
	encodeAnnouncement := func() []byte {
		return EncodeAnnouncement(Announcement{
			Language:        polybridge.Language_GO,
			Pid:             int64(os.Getpid()),
			RequestStreamID: w.cfg.RequestStream,
			Handlers:        w.registry.Names(),
			WorkerID:        w.cfg.WorkerID,
		})
	}
	announcedVersion := w.registry.Version()
	announcement := encodeAnnouncement()
	pool, err := NewPool(w.dispatcher, w.cfg.PoolSize, w.cfg.QueueDepth, w.publish)
	if err != nil {
		return err
	}
	w.pool = pool
	defer func() {
		if left := pool.Close(w.cfg.DrainTimeout); left > 0 {
			log.Warn("handlers still running after the drain timeout; their callers get no reply",
				"requests", left, "drainTimeout", w.cfg.DrainTimeout)
		}
	}()
	log.Info("worker serving", "worker", w.cfg.WorkerID, "channel", w.cfg.Channel,
		"requestStream", w.cfg.RequestStream, "controlStream", w.cfg.ControlStream,
		"handlers", strings.Join(w.registry.Names(), ","),
		"poolSize", w.cfg.PoolSize, "queueDepth", w.cfg.QueueDepth)

	var stopping atomic.Bool
	stop := context.AfterFunc(ctx, func() { stopping.Store(true) })
	defer stop()

	handler := w.assembler.FragmentHandler()
	idle, wakeable := w.cfg.Idle.(WakeableIdler)
	nextAnnounce := time.Time{}
	for !stopping.Load() {
		work := requests.Poll(handler, fragmentLimit)
		work += pool.Drain()
		if v := w.registry.Version(); v != announcedVersion {
			// Handlers were added or removed while running (--modules): announce the new set now.
			announcedVersion, announcement = v, encodeAnnouncement()
			nextAnnounce = time.Time{}
		}
		if now := time.Now(); !now.Before(nextAnnounce) {
			w.offerOnce(control, announcement) // nobody listening yet is normal: no retry
			nextAnnounce = now.Add(w.cfg.AnnounceInterval)
			select {
			case err := <-w.fatal:
				return err
			default:
			}
			w.forgetGoneImages()
		}
		if wakeable {
			idle.IdleOrWake(work, pool.Wake())
		} else {
			w.cfg.Idle.Idle(work)
		}
	}
	log.Info("worker stopping", "worker", w.cfg.WorkerID,
		"requests", w.Counters.Requests.Load(), "badRequests", w.Counters.MalformedReplied.Load(),
		"dropped", w.Counters.MalformedDropped.Load(), "overloaded", w.Counters.Overloaded.Load(),
		"cancelled", w.Counters.Cancelled.Load(), "repliesDropped", w.RepliesDropped.Load())
	return nil
}

func (w *Worker) publish(reply Reply) {
	rp, err := w.replyPublication(reply.StreamID)
	if err != nil {
		w.RepliesDropped.Add(1)
		w.cfg.Logger.Warn("no reply publication", "stream", reply.StreamID, "err", err)
		return
	}
	err = w.offer(rp, reply.Frame)
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		reply = w.dispatcher.EncodeResponse(reply.StreamID, reply.CorrelationID, polybridge.ErrorCode_TOO_LARGE,
			fmt.Sprintf("response of %d bytes exceeds the reply stream's largest message: %v", len(reply.Frame), tooLarge.cause))
		err = w.offer(rp, reply.Frame)
	}
	if err != nil {
		w.RepliesDropped.Add(1)
		w.cfg.Logger.Warn("reply dropped", "stream", reply.StreamID, "correlationId", reply.CorrelationID, "err", err)
	}
}

// replyPublication returns the publication for a reply stream, adding it on first use.
func (w *Worker) replyPublication(streamID int32) (*replyPublication, error) {
	if rp, ok := w.replies[streamID]; ok && !rp.pub.IsClosed() {
		return rp, nil
	}
	pub, err := w.client.AddPublication(w.cfg.Channel, streamID)
	if err != nil {
		return nil, err
	}
	rp := &replyPublication{pub: pub}
	w.replies[streamID] = rp
	return rp, nil
}

type tooLargeError struct{ cause any }

func (e *tooLargeError) Error() string { return fmt.Sprintf("message too large: %v", e.cause) }

// offer publishes frame, retrying back pressure for up to ReplyTimeout.
func (w *Worker) offer(rp *replyPublication, frame []byte) error {
	deadline := time.Now().Add(w.cfg.ReplyTimeout)
	idle := idlestrategy.NewDefaultBackoffIdleStrategy()
	for {
		result, err := w.offerFrame(rp.pub, frame)
		if err != nil {
			return err
		}
		switch {
		case result > 0:
			rp.everConnected = true
			return nil
		case result == aeron.NotConnected && rp.everConnected:
			return errors.New("the reply stream has no subscriber")
		case result == aeron.PublicationClosed || result == aeron.MaxPositionExceeded:
			delete(w.replies, rp.pub.StreamID())
			return fmt.Errorf("reply publication unusable (offer returned %d)", result)
		}
		// Back pressured, admin action, or a new publication not yet connected.
		if time.Now().After(deadline) {
			return fmt.Errorf("offer still returning %d after %v", result, w.cfg.ReplyTimeout)
		}
		idle.Idle(0)
	}
}

// offerFrame calls Publication.Offer, which panics on a message longer than the term allows.
func (w *Worker) offerFrame(pub *aeron.Publication, frame []byte) (result int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &tooLargeError{cause: r}
		}
	}()
	w.offerBuf.Wrap(unsafe.Pointer(unsafe.SliceData(frame)), int32(len(frame)))
	return pub.Offer(&w.offerBuf, 0, int32(len(frame)), nil), nil
}

func (w *Worker) offerOnce(pub *aeron.Publication, frame []byte) {
	_, _ = w.offerFrame(pub, frame)
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
	if conductorStopped(err) {
		select {
		case w.fatal <- fmt.Errorf("aeron client stopped: %w", err):
		default:
		}
		return
	}
	w.cfg.Logger.Warn("aeron client error", "err", err)
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
