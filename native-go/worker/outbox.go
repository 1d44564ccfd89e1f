package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lirm/aeron-go/aeron"
	aeronatomic "github.com/lirm/aeron-go/aeron/atomic"
	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// Outbox defaults; see Config.
const (
	DefaultReplyQueue      = 1024
	DefaultMaxReplyStreams = 64
	// maxQueuedReplyBytes bounds the bytes waiting in all outboxes together, so
	// --reply-queue frames of up to 2 MiB on --max-reply-streams streams cannot add up to
	// gigabytes. A reply beyond it is dropped like one beyond --reply-queue.
	maxQueuedReplyBytes = 256 << 20
	// publicationLinger is how long a closed reply publication's log buffer is assumed to stay
	// in the driver's shared memory: Aeron's default publication linger (5 s) plus a margin.
	// It counts against MaxReplyStreams meanwhile, so closing and re-adding cannot exceed it.
	publicationLinger = 6 * time.Second
	// addTimeout gives up on an add the driver never answers (aeron-go answers with an error
	// after its driver timeout first, so this is a backstop).
	addTimeout = 5 * time.Second
	// dropLogInterval rate-limits the warning about dropped replies: a flood of frames with
	// random reply streams must not become a flood of log lines.
	dropLogInterval = time.Second
)

// replyPublication is what the outbox needs of an Aeron publication: *aeron.Publication
// through aeronPublication, or a fake in tests.
type replyPublication interface {
	// Offer publishes frame once, never waiting. A frame longer than the publication's
	// largest message gives a *tooLargeError.
	Offer(frame []byte) (int64, error)
	// IsConnected reports whether a subscriber is there (Aeron's publication isConnected).
	IsConnected() bool
	Close() error
}

// publicationAdder adds publications without waiting for the driver: aeron-go's
// AsyncAddPublication and GetPublication, or a fake in tests.
type publicationAdder interface {
	AddPublication(streamID int32) (registrationID int64, err error)
	// Publication returns the added publication, nil and nil while the driver has not answered
	// yet, or the driver's error.
	Publication(registrationID int64) (replyPublication, error)
}

// aeronAdder adds reply publications on one channel of an aeron-go client.
//
// Cost on the poll goroutine: AsyncAddPublication writes one command into the driver's ring
// buffer and GetPublication looks the registration up; both take the client conductor's
// admin lock, which the conductor holds while it maps a new publication's log buffer
// (an mmap: microseconds). Nothing waits for the driver's round trip; the first reply to a
// new stream waits in its outbox meanwhile (typically a few milliseconds).
type aeronAdder struct {
	client  *aeron.Aeron
	channel string
	buf     aeronatomic.Buffer // shared by every aeronPublication: one poll goroutine offers
}

func (a *aeronAdder) AddPublication(streamID int32) (int64, error) {
	return a.client.AsyncAddPublication(a.channel, streamID)
}

func (a *aeronAdder) Publication(registrationID int64) (replyPublication, error) {
	pub, err := a.client.GetPublication(registrationID)
	if err != nil || pub == nil {
		return nil, err
	}
	return &aeronPublication{pub: pub, buf: &a.buf}, nil
}

// aeronPublication adapts *aeron.Publication to replyPublication.
type aeronPublication struct {
	pub *aeron.Publication
	buf *aeronatomic.Buffer
}

// Offer calls Publication.Offer, which panics on a message longer than the term allows.
func (p *aeronPublication) Offer(frame []byte) (result int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &tooLargeError{cause: r}
		}
	}()
	p.buf.Wrap(unsafe.Pointer(unsafe.SliceData(frame)), int32(len(frame)))
	return p.pub.Offer(p.buf, 0, int32(len(frame)), nil), nil
}

func (p *aeronPublication) IsConnected() bool { return p.pub.IsConnected() }
func (p *aeronPublication) Close() error      { return p.pub.Close() }

type tooLargeError struct{ cause any }

func (e *tooLargeError) Error() string { return fmt.Sprintf("message too large: %v", e.cause) }

// outbox publishes replies without ever waiting: a reply that cannot be published at once
// (back pressure, a publication still being added or not yet connected) waits in its reply
// stream's bounded queue and is tried again once per duty cycle (flush) until it is
// published or its reply timeout passes. It also bounds how many reply publications exist,
// and closes those that have had no subscriber for the reply timeout.
//
// Threading: used only by the poll goroutine. Its clock is the now passed in, so tests drive
// it without sleeping.
type outbox struct {
	adder      publicationAdder
	counters   *Counters
	log        *slog.Logger
	queueLen   int           // replies one stream may hold
	timeout    time.Duration // reply timeout
	maxStreams int

	streams  map[int32]*replyStream
	closedAt []time.Time // publications closed less than publicationLinger ago, oldest first
	queued   int         // replies queued in all streams
	adding   int         // streams whose add is in progress
	bytes    int         // bytes queued in all streams
	free     [][]byte    // recycled frame buffers
	scratch  []byte      // TOO_LARGE replacement responses

	// What the Worker reports (ReplyPublications), written here and read by anyone.
	gauge *atomic.Int64

	dropsSinceLog int
	lastDropLog   time.Time
}

// replyStream is one reply publication and its outbox.
type replyStream struct {
	id             int32
	pub            replyPublication // nil while the add is in progress
	registrationID int64            // of the add in progress
	addedAt        time.Time
	everConnected  bool      // it has had a subscriber: NOT_CONNECTED now means the subscriber left
	lastSubscriber time.Time // last time it was seen with a subscriber (or when it was added)
	queue          []queuedReply
	head, n        int // ring over queue
}

type queuedReply struct {
	frame         []byte // owned copy
	correlationID int64
	deadline      time.Time
}

func newOutbox(adder publicationAdder, counters *Counters, log *slog.Logger, queueLen int, timeout time.Duration, maxStreams int) *outbox {
	return &outbox{
		adder: adder, counters: counters, log: log,
		queueLen: queueLen, timeout: timeout, maxStreams: maxStreams,
		streams: make(map[int32]*replyStream),
		gauge:   new(atomic.Int64),
	}
}

// offerResult is what one offer came to.
type offerResult uint8

const (
	offered offerResult = iota // published
	retry                      // not now: back pressure, admin action, not connected yet
	dropped                    // never: counted and logged
)

// publish sends reply now if it can, queues it otherwise, or drops it. reply.Frame is read
// only during the call.
func (o *outbox) publish(reply Reply, now time.Time) {
	if reply.StreamID <= 0 { // the dispatcher never lets one through; belt and braces
		o.drop(reply.StreamID, reply.CorrelationID, "reply stream id is not positive", now)
		return
	}
	rs := o.streams[reply.StreamID]
	if rs == nil {
		if rs = o.open(reply.StreamID, reply.CorrelationID, now); rs == nil {
			return
		}
	}
	if rs.pub != nil && rs.n == 0 { // in order: nothing may overtake queued replies
		if o.offer(rs, reply.Frame, reply.CorrelationID, now) != retry {
			return
		}
	}
	o.enqueue(rs, reply, now)
}

// open adds a publication for a new reply stream, or drops the reply if there are too many.
func (o *outbox) open(id int32, correlationID int64, now time.Time) *replyStream {
	o.forgetLingering(now)
	if len(o.streams)+len(o.closedAt) >= o.maxStreams {
		o.drop(id, correlationID, fmt.Sprintf("%d reply publications exist or linger already (--max-reply-streams)", o.maxStreams), now)
		return nil
	}
	registrationID, err := o.adder.AddPublication(id)
	if err != nil {
		o.drop(id, correlationID, fmt.Sprintf("cannot add a reply publication: %v", err), now)
		return nil
	}
	rs := &replyStream{id: id, registrationID: registrationID, addedAt: now, lastSubscriber: now}
	o.streams[id] = rs
	o.adding++
	o.gauge.Store(int64(len(o.streams)))
	return rs
}

// offer tries frame once on rs's publication.
func (o *outbox) offer(rs *replyStream, frame []byte, correlationID int64, now time.Time) offerResult {
	result, err := rs.pub.Offer(frame)
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		o.scratch = writeResponse(o.scratch, correlationID, polybridge.ErrorCode_TOO_LARGE,
			fmt.Sprintf("response of %d bytes exceeds the reply stream's largest message: %v", len(frame), tooLarge.cause), nil)
		result, err = rs.pub.Offer(o.scratch)
		// Back pressure on the replacement: it is small, and the caller keeps the original in
		// its queue, so the next try replaces it again.
	}
	switch {
	case err != nil:
		o.drop(rs.id, correlationID, err.Error(), now)
		return dropped
	case result > 0:
		rs.everConnected = true
		rs.lastSubscriber = now
		o.counters.Replies.Add(1)
		return offered
	case result == aeron.NotConnected && rs.everConnected:
		o.drop(rs.id, correlationID, "the reply stream's subscriber has gone", now)
		return dropped
	case result == aeron.PublicationClosed || result == aeron.MaxPositionExceeded:
		o.drop(rs.id, correlationID, fmt.Sprintf("reply publication unusable (offer returned %d)", result), now)
		return dropped
	}
	return retry // back pressured, admin action, or a new publication not connected yet
}

// enqueue keeps a copy of reply until the next flush.
func (o *outbox) enqueue(rs *replyStream, reply Reply, now time.Time) {
	switch {
	case rs.n >= o.queueLen:
		o.drop(rs.id, reply.CorrelationID, fmt.Sprintf("outbox full: %d replies wait for this stream (--reply-queue)", rs.n), now)
		return
	case o.bytes+len(reply.Frame) > maxQueuedReplyBytes:
		o.drop(rs.id, reply.CorrelationID, fmt.Sprintf("outboxes full: %d bytes of replies wait", o.bytes), now)
		return
	}
	if rs.n == len(rs.queue) { // grow the ring, unrolling it
		grown := make([]queuedReply, min(max(4, 2*len(rs.queue)), o.queueLen))
		for i := range rs.n {
			grown[i] = rs.queue[(rs.head+i)%len(rs.queue)]
		}
		rs.queue, rs.head = grown, 0
	}
	frame := o.buffer(len(reply.Frame))
	copy(frame, reply.Frame)
	rs.queue[(rs.head+rs.n)%len(rs.queue)] = queuedReply{frame: frame, correlationID: reply.CorrelationID, deadline: now.Add(o.timeout)}
	rs.n++
	o.queued++
	o.bytes += len(frame)
}

// flush completes adds in progress, tries each stream's queued replies in order (stopping at
// the first that cannot go yet) and drops those whose reply timeout has passed. It returns
// how many replies it published or dropped.
func (o *outbox) flush(now time.Time) int {
	if o.queued == 0 && o.adding == 0 {
		return 0
	}
	work := 0
	for _, rs := range o.streams {
		if rs.pub == nil && !o.completeAdd(rs, now) && o.streams[rs.id] != rs {
			continue // the add failed: rs is gone, and what it held was dropped
		}
		for rs.pub != nil && rs.n > 0 {
			q := &rs.queue[rs.head]
			if o.offer(rs, q.frame, q.correlationID, now) == retry {
				break
			}
			o.pop(rs)
			work++
		}
		for rs.n > 0 && !now.Before(rs.queue[rs.head].deadline) {
			q := rs.queue[rs.head]
			o.drop(rs.id, q.correlationID, fmt.Sprintf("not published within the reply timeout (%v)", o.timeout), now)
			o.pop(rs)
			work++
		}
	}
	return work
}

// completeAdd checks on an add in progress; false while it is still in progress or failed.
func (o *outbox) completeAdd(rs *replyStream, now time.Time) bool {
	pub, err := o.adder.Publication(rs.registrationID)
	if err == nil && pub == nil && now.Sub(rs.addedAt) < addTimeout {
		return false
	}
	o.adding--
	if pub == nil {
		if err == nil {
			err = fmt.Errorf("no answer from the media driver after %v", addTimeout)
		}
		o.abandon(rs, fmt.Sprintf("cannot add a reply publication: %v", err), now)
		delete(o.streams, rs.id)
		o.gauge.Store(int64(len(o.streams)))
		return false
	}
	rs.pub = pub
	return true
}

// housekeep closes publications that have had no subscriber for the reply timeout (their
// queues are empty by then: what they held has been dropped) and forgets lingering ones.
// Called every few tens of milliseconds, not every duty cycle.
func (o *outbox) housekeep(now time.Time) {
	for _, rs := range o.streams {
		if rs.pub == nil {
			continue
		}
		if rs.pub.IsConnected() {
			rs.lastSubscriber = now
			continue
		}
		if rs.n == 0 && now.Sub(rs.lastSubscriber) >= o.timeout {
			o.close(rs, now)
		}
	}
	o.forgetLingering(now)
}

// close closes rs's publication, dropping whatever it still holds.
func (o *outbox) close(rs *replyStream, now time.Time) {
	o.abandon(rs, "reply publication closed", now)
	if rs.pub != nil {
		if err := rs.pub.Close(); err != nil {
			o.log.Warn("closing a reply publication", "stream", rs.id, "err", err)
		}
		o.closedAt = append(o.closedAt, now)
	} else {
		o.adding-- // an add in progress: the driver may still create it; count it as lingering
		o.closedAt = append(o.closedAt, now)
	}
	delete(o.streams, rs.id)
	o.gauge.Store(int64(len(o.streams)))
}

// abandon drops everything queued on rs.
func (o *outbox) abandon(rs *replyStream, reason string, now time.Time) {
	for rs.n > 0 {
		o.drop(rs.id, rs.queue[rs.head].correlationID, reason, now)
		o.pop(rs)
	}
}

func (o *outbox) pop(rs *replyStream) {
	q := &rs.queue[rs.head]
	o.bytes -= len(q.frame)
	o.recycle(q.frame)
	*q = queuedReply{}
	rs.head = (rs.head + 1) % len(rs.queue)
	rs.n--
	o.queued--
}

func (o *outbox) forgetLingering(now time.Time) {
	i := 0
	for i < len(o.closedAt) && now.Sub(o.closedAt[i]) >= publicationLinger {
		i++
	}
	if i > 0 {
		o.closedAt = append(o.closedAt[:0], o.closedAt[i:]...)
	}
}

// empty reports whether no reply waits (the worker's shutdown flushes until it is).
func (o *outbox) empty() bool { return o.queued == 0 }

// drop counts a reply given up and logs it, at most once per dropLogInterval.
func (o *outbox) drop(streamID int32, correlationID int64, reason string, now time.Time) {
	o.counters.RepliesDropped.Add(1)
	o.dropsSinceLog++
	if now.Sub(o.lastDropLog) < dropLogInterval {
		return
	}
	o.log.Warn("reply dropped", "stream", streamID, "correlationId", correlationID, "reason", reason,
		"droppedSinceLastWarning", o.dropsSinceLog, "repliesDropped", o.counters.RepliesDropped.Load())
	o.dropsSinceLog = 0
	o.lastDropLog = now
}

// buffer returns a frame buffer of n bytes, recycled when one is large enough.
func (o *outbox) buffer(n int) []byte {
	for i := len(o.free) - 1; i >= 0; i-- {
		if b := o.free[i]; cap(b) >= n {
			o.free[i] = o.free[len(o.free)-1]
			o.free = o.free[:len(o.free)-1]
			return b[:n]
		}
	}
	return make([]byte, n, max(n, 256))
}

func (o *outbox) recycle(b []byte) {
	if cap(b) <= retainedPayloadCapacity && len(o.free) < 256 {
		o.free = append(o.free, b[:0])
	}
}
