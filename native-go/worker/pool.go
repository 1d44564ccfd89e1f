package worker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// Pool defaults.
const (
	DefaultQueueDepth   = 256
	DefaultDrainTimeout = 2 * time.Second
	// retainedPayloadCapacity bounds the payload buffer a recycled job keeps, so one huge
	// request does not pin its size in every job for the life of the worker.
	retainedPayloadCapacity = 256 * 1024
)

// Pool runs pooled handlers on a bounded set of goroutines, fed by the poll goroutine.
//
// Threading: OnMessage, Drain and Close are called from the poll goroutine only, which owns the
// in-flight map, the free list and every publication. Pool goroutines only run handlers and
// encode responses into their job's own buffer; finished jobs come back to the poll goroutine
// on the done channel and are published from there. That keeps one writer per publication:
// aeron-go's Publication.Offer claims space with an atomic add like Java's concurrent
// Publication, but the library (dormant) does not document it as safe for concurrent use, the
// worker's offer buffer is shared, and the reply-publication map is not locked.
//
// Admission: at most Size+QueueDepth requests are in hand (queued, running, or finished and
// not yet drained); a request beyond that, or one that finds the queue full, is answered
// OVERLOADED at once. The done channel holds Size+QueueDepth, so a pool goroutine never
// blocks handing back a job. Memory: in the worst case (Size+QueueDepth) × the largest request.
type Pool struct {
	dispatcher *Dispatcher
	publish    func(Reply)
	size       int
	capacity   int // Size + QueueDepth

	jobs chan *job     // poll goroutine -> pool goroutines
	done chan *job     // pool goroutines -> poll goroutine
	wake chan struct{} // capacity 1: a job finished while the poll goroutine may be parked
	stop context.CancelCauseFunc
	root context.Context // parent of every request context; cancelled when the worker stops
	wg   sync.WaitGroup

	// Owned by the poll goroutine.
	inflight map[inflightKey]*job
	inHand   int
	free     []*job
	closed   bool

	inlineInfo requestState    // the running inline handler's request
	inlineCtx  context.Context // p.root carrying &inlineInfo
}

// inflightKey names a request the way a Cancel does. Correlation ids are unique per client,
// and the reply channel and stream tell clients apart (clients on other hosts may use the same
// reply stream id).
type inflightKey struct {
	correlationID int64
	replyStreamID int32
	replyChannel  string // "" for the worker's own channel
}

type job struct {
	key     inflightKey
	entry   *entry
	payload []byte        // what the handler gets: copied, or in place in a client's region (mapping)
	copied  []byte        // the job's own buffer for a copy of an inline payload, reused
	mapping *mappedRegion // the request region payload is a view of, in hand until finish; nil when inline
	frame   []byte        // the encoded Response, reused
	loan    regionRef     // frame's payload in the response region (id 0: inline)
	// overloaded replaces an inline frame too large for the reply stream (the loan failed).
	overloaded string
	ctx        context.Context
	cancel     context.CancelCauseFunc
	release    context.CancelFunc // frees the deadline timer
	reply      bool               // a response was encoded into frame
	info       requestState       // what RequestInfoFrom(ctx) and Metadata(ctx) return to the handler

	cancelledByCaller bool // poll goroutine only
}

// NewPool starts size goroutines serving a queue of queueDepth. publish is called from the
// poll goroutine (inside OnMessage, Drain and Close) with each response to send; the Reply's
// frame is valid only during the call.
func NewPool(d *Dispatcher, size, queueDepth int, publish func(Reply)) (*Pool, error) {
	if size < 1 {
		return nil, fmt.Errorf("pool size %d: at least one goroutine is needed", size)
	}
	if queueDepth < 0 {
		return nil, fmt.Errorf("queue depth %d is negative", queueDepth)
	}
	root, stop := context.WithCancelCause(context.Background())
	p := &Pool{
		dispatcher: d,
		publish:    publish,
		size:       size,
		capacity:   size + queueDepth,
		jobs:       make(chan *job, queueDepth),
		done:       make(chan *job, size+queueDepth),
		wake:       make(chan struct{}, 1),
		stop:       stop,
		root:       root,
		inflight:   make(map[inflightKey]*job),
	}
	p.inlineCtx = withRequestInfo(root, &p.inlineInfo)
	p.wg.Add(size)
	for range size {
		go p.serve()
	}
	return p, nil
}

// Wake is signalled (without blocking) each time a job finishes, so an idle strategy that
// parks can wake up and Drain instead of sleeping out its period.
func (p *Pool) Wake() <-chan struct{} { return p.wake }

// InHand returns how many requests are queued, running or waiting to be drained.
func (p *Pool) InHand() int { return p.inHand }

// OnMessage takes one whole message from the assembler. msg is a view of the term buffer (or
// of the assembler's buffer), valid only until OnMessage returns.
func (p *Pool) OnMessage(msg []byte) {
	d := p.dispatcher
	var f decodedFrame
	d.decode(msg, &f)
	switch f.kind {
	case frameDropped:
		d.malformed(&f.env, "")
		return
	case frameBad:
		p.publishIf(d.malformed(&f.env, f.message))
		return
	case frameCancel:
		d.Counters.Cancels.Add(1)
		p.cancel(f.env)
		return
	case frameRelease:
		d.payloads.release(f.release)
		return
	}
	e, reply, ok := d.route(&f)
	if e == nil {
		p.publishIf(reply, ok)
		return
	}
	if e.inline && !p.closed {
		p.publishIf(p.runInline(e, &f))
		d.payloads.doneReading(f.mapping)
		return
	}
	if !p.submit(e, &f) { // answered WORKER_UNAVAILABLE at once when the pool has stopped
		d.payloads.doneReading(f.mapping)
	}
}

func (p *Pool) publishIf(reply Reply, ok bool) {
	if ok {
		p.publish(reply)
	}
}

func (p *Pool) runInline(e *entry, f *decodedFrame) (Reply, bool) {
	// Inline handlers run one at a time on this goroutine: one reused context carries their
	// RequestInfo without an allocation per call.
	p.inlineInfo = requestState{RequestInfo{Handler: e.name, CorrelationID: f.env.correlationID, ReplyStreamID: f.env.replyStreamID}, f.metadata}
	ctx, release := requestContext(p.inlineCtx, f.timeoutNs)
	defer release()
	result, err, panicked := call(e.handler, ctx, f.payload)
	code, message, payload := p.dispatcher.outcome(e.name, ctx, result, err, panicked)
	return p.dispatcher.respond(&f.env, code, message, payload), true
}

// submit queues f for the pool; false when it was answered at once instead (the job does not
// hold f's mapping then).
func (p *Pool) submit(e *entry, f *decodedFrame) bool {
	if p.closed {
		p.dispatcher.Counters.HandlerErrors.Add(1)
		p.publish(p.dispatcher.respond(&f.env, polybridge.ErrorCode_WORKER_UNAVAILABLE, ErrWorkerStopping.Error(), nil))
		return false
	}
	if p.inHand >= p.capacity || len(p.jobs) == cap(p.jobs) {
		p.overloaded(f)
		return false
	}
	j := p.newJob()
	j.key = inflightKey{f.env.correlationID, f.env.replyStreamID, f.env.replyChannel}
	j.entry = e
	if f.mapping != nil {
		// In place: the client's region stays mapped while the job holds it (until finish),
		// and the client does not reuse the bytes before the response.
		j.payload, j.mapping = f.payload, f.mapping
	} else {
		// Copied: f.payload is a view of the Aeron term buffer (or of the assembler's
		// reassembly buffer), valid only during this poll callback, and the handler runs later
		// on another goroutine.
		j.copied = append(j.copied[:0], f.payload...)
		j.payload = j.copied
	}
	j.info = requestState{RequestInfo{Handler: e.name, CorrelationID: f.env.correlationID, ReplyStreamID: f.env.replyStreamID}, f.metadata}
	ctx, cancel := context.WithCancelCause(withRequestInfo(p.root, &j.info))
	j.ctx, j.release = requestContext(ctx, f.timeoutNs)
	j.cancel = cancel
	select {
	case p.jobs <- j:
	default: // unreachable: only this goroutine sends, and it checked for room
		cancel(nil)
		j.release()
		p.recycle(j)
		p.overloaded(f)
		return false
	}
	p.inHand++
	if _, dup := p.inflight[j.key]; !dup {
		p.inflight[j.key] = j // a duplicate id (a client bug) is served but cannot be cancelled
	}
	return true
}

func (p *Pool) overloaded(f *decodedFrame) {
	d := p.dispatcher
	d.Counters.Overloaded.Add(1)
	p.publish(d.respond(&f.env, polybridge.ErrorCode_OVERLOADED,
		fmt.Sprintf("worker queue full: %d requests in hand (pool %d, queue %d)", p.inHand, p.size, cap(p.jobs)), nil))
}

// cancel handles a Cancel: a queued request is answered CANCELLED without running when a pool
// goroutine reaches it; a running one sees its context cancelled and is answered with whatever
// its handler returns. Either way the client gets one final answer, which frees its window slot.
func (p *Pool) cancel(env envelope) {
	j, ok := p.inflight[inflightKey{env.correlationID, env.replyStreamID, env.replyChannel}]
	if !ok || j.cancelledByCaller {
		return // finished already, never seen, or cancelled twice
	}
	j.cancelledByCaller = true
	j.cancel(ErrCancelledByCaller)
	p.dispatcher.Counters.Cancelled.Add(1)
}

// serve is one pool goroutine.
func (p *Pool) serve() {
	defer p.wg.Done()
	for j := range p.jobs {
		p.run(j)
		p.done <- j // never blocks: done holds every job in hand
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *Pool) run(j *job) {
	d := p.dispatcher
	j.reply, j.loan, j.overloaded = false, regionRef{}, ""
	if j.ctx.Err() != nil { // ended while queued: do not start the handler
		var code polybridge.ErrorCode
		switch cause := context.Cause(j.ctx); cause {
		case ErrCancelledByCaller:
			code = polybridge.ErrorCode_CANCELLED
		case ErrDeadlinePassed:
			d.Counters.Timeouts.Add(1)
			code = polybridge.ErrorCode_TIMEOUT
		default:
			d.Counters.HandlerErrors.Add(1)
			code = polybridge.ErrorCode_WORKER_UNAVAILABLE
		}
		j.frame = writeResponse(j.frame, j.key.correlationID, code,
			fmt.Sprintf("request for '%s' not started: %v", j.entry.name, context.Cause(j.ctx)), nil)
		j.reply = true
		return
	}
	result, err, panicked := call(j.entry.handler, j.ctx, j.payload)
	code, message, payload := d.outcome(j.entry.name, j.ctx, result, err, panicked)
	j.frame, j.loan, j.overloaded = d.payloads.encode(j.frame, j.key.correlationID, j.key.replyChannel, code, message, payload)
	j.reply = true
}

// Drain publishes the responses of finished jobs and returns how many jobs it took back.
func (p *Pool) Drain() int {
	n := 0
	for {
		select {
		case j := <-p.done:
			p.finish(j)
			n++
		default:
			return n
		}
	}
}

func (p *Pool) finish(j *job) {
	if p.inflight[j.key] == j {
		delete(p.inflight, j.key)
	}
	p.inHand--
	d := p.dispatcher
	d.payloads.doneReading(j.mapping)
	if j.reply {
		d.payloads.lent(j.loan, j.key.correlationID, j.key.replyStreamID)
		p.publish(Reply{Channel: j.key.replyChannel, StreamID: j.key.replyStreamID, CorrelationID: j.key.correlationID, Frame: j.frame,
			Loan: j.loan, Overloaded: j.overloaded})
	}
	j.cancel(nil)
	j.release()
	p.recycle(j)
}

func (p *Pool) newJob() *job {
	if n := len(p.free); n > 0 {
		j := p.free[n-1]
		p.free = p.free[:n-1]
		return j
	}
	return new(job)
}

func (p *Pool) recycle(j *job) {
	copied, frame := j.copied, j.frame
	if cap(copied) > retainedPayloadCapacity {
		copied = nil
	}
	if cap(frame) > retainedPayloadCapacity {
		frame = nil
	}
	*j = job{copied: copied[:0], frame: frame[:0]}
	if len(p.free) < p.capacity {
		p.free = append(p.free, j)
	}
}

// Stop stops the pool without waiting: requests still queued are answered here and now, on
// the calling (poll) goroutine, without running (WORKER_UNAVAILABLE, or CANCELLED / TIMEOUT if
// that came first), rather than when a pool goroutine comes free; running handlers see their
// context cancelled (cause ErrWorkerStopping) and their responses come back through Drain.
// Later requests are answered WORKER_UNAVAILABLE. Called from the poll goroutine; idempotent.
func (p *Pool) Stop() {
	if p.closed {
		return
	}
	p.closed = true
	p.stop(ErrWorkerStopping)
	close(p.jobs)
	for j := range p.jobs { // pool goroutines may take some too: each job is answered once
		p.run(j)
		p.finish(j)
	}
}

// Close stops the pool: requests still queued are answered WORKER_UNAVAILABLE without running,
// running handlers see their context cancelled (cause ErrWorkerStopping), and their responses
// are published as they finish, for up to timeout. It returns how many requests were still
// in hand when it gave up (0 when all finished). Called from the poll goroutine; later calls
// only drain.
func (p *Pool) Close(timeout time.Duration) int {
	if p.closed {
		p.Drain()
		return p.inHand
	}
	p.Stop()
	finished := make(chan struct{})
	go func() { p.wg.Wait(); close(finished) }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case j := <-p.done:
			p.finish(j)
		case <-finished:
			p.Drain()
			return p.inHand
		case <-deadline.C:
			p.Drain()
			return p.inHand
		}
	}
}
