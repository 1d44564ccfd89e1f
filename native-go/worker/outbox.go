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
	// maxQueuedReplyBytes is the byte budget of all outboxes together (as the Rust worker's
	// DEFAULT_MAX_QUEUED_BYTES): beyond it intake pauses, so --reply-queue frames of up to
	// 2 MiB on --max-reply-streams streams never add up to gigabytes. Nothing is dropped for it.
	maxQueuedReplyBytes = 64 << 20
	// pauseLogCount: the first pauses of intake are logged, then only every power of two, so
	// a client that keeps the worker at its budget does not fill the log.
	pauseLogCount = 10
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
// AsyncAddPublication / AsyncAddExclusivePublication and their Get, or a fake in tests.
type publicationAdder interface {
	// AddPublication adds a publication on channel (Reply.Channel: "" for the worker's own)
	// and stream.
	AddPublication(channel string, streamID int32) (registrationID int64, err error)
	// Publication returns the publication added on channel, nil and nil while the driver has
	// not answered yet, or the driver's error.
	Publication(channel string, registrationID int64) (replyPublication, error)
}

// replyKey names a reply publication: the caller's reply channel as the Request named it
// ("" for the worker's own channel) and its reply stream.
type replyKey struct {
	channel  string
	streamID int32
}

// aeronAdder adds reply publications of an aeron-go client: on the worker's own channel for
// Reply.Channel "", else on the caller's UDP endpoint with the worker's --reply-channel-params.
//
// UDP reply publications are exclusive: two workers on one host replying to the same
// endpoint and stream would otherwise share one driver publication, and a SIGKILLed worker's
// half-written frame would block the other's replies until the driver's unblock timeout. IPC
// replies keep the shared publication (one per stream on a host, as before).
//
// Cost on the poll goroutine: AsyncAddPublication writes one command into the driver's ring
// buffer and GetPublication looks the registration up; both take the client conductor's
// admin lock, which the conductor holds while it maps a new publication's log buffer
// (an mmap: microseconds). Nothing waits for the driver's round trip; the first reply to a
// new stream waits in its outbox meanwhile (typically a few milliseconds).
type aeronAdder struct {
	client  *aeron.Aeron
	channel string             // the worker's own channel, for Reply.Channel ""
	params  string             // --reply-channel-params, added to a caller's UDP channel
	buf     aeronatomic.Buffer // shared by every aeronPublication: one poll goroutine offers
	added   func()             // after an add: the client conductor should expect the driver's answer
}

func (a *aeronAdder) AddPublication(channel string, streamID int32) (int64, error) {
	if a.added != nil {
		defer a.added()
	}
	if channel == "" {
		return a.client.AsyncAddPublication(a.channel, streamID)
	}
	return a.client.AsyncAddExclusivePublication(replyChannelURI(channel, a.channel, a.params), streamID)
}

func (a *aeronAdder) Publication(channel string, registrationID int64) (replyPublication, error) {
	get := a.client.GetPublication
	if channel != "" {
		get = a.client.GetExclusivePublication
	}
	pub, err := get(registrationID)
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
// stream's queue and is tried again once per duty cycle (flush), in order.
//
// Flow control, not drops, bounds the queues: when they hold more than their budget (more than
// queueLen replies on one stream, or more than maxBytes in all), intakePaused says so and the
// worker stops polling its request stream (requests wait in the Aeron log, so clients feel back
// pressure on their publications) while its duty cycle keeps draining the outboxes. Intake
// resumes once both are down to half (a low-water mark, so it does not flap). What arrives while
// paused (handlers already running, one poll's worth of frames) is still queued: memory is the
// budget plus what was in hand when intake paused.
//
// Replies are dropped by progress, not by age: a stream's queued replies go (RepliesDropped)
// when it has made no progress (no successful offer) for the reply timeout while it had replies
// queued (a stuck subscriber: a stopped client, or a killed one whose image lingers; one that
// never connected; an add that never completed), when its subscriber has gone (NOT_CONNECTED
// after it was connected), or when Aeron refuses the frame or the publication. A reply that
// needs one publication more than maxStreams, counting those lingering after their close, is
// dropped too. Publications without a subscriber for the reply timeout are closed.
//
// Threading: used only by the poll goroutine. Its clock is the now passed in, so tests drive
// it without sleeping.
type outbox struct {
	adder      publicationAdder
	counters   *Counters
	log        *slog.Logger
	queueLen   int           // replies one stream may hold before intake pauses (--reply-queue)
	maxBytes   int           // bytes all streams may hold before intake pauses
	timeout    time.Duration // reply timeout: how long a stream may go without progress
	maxStreams int

	streams  map[replyKey]*replyStream
	closedAt []time.Time // publications closed less than publicationLinger ago, oldest first
	queued   int         // replies queued in all streams
	adding   int         // streams whose add is in progress
	bytes    int         // bytes queued in all streams
	free     [][]byte    // recycled frame buffers
	scratch  []byte      // TOO_LARGE replacement responses

	// Flow control: intake is paused since pausedSince (zero while it is not).
	pausedSince time.Time
	pausedTotal time.Duration // of the pauses that have ended

	// What the Worker reports (ReplyPublications, IntakePauses), written here and read by anyone.
	gauge  *atomic.Int64
	pauses *atomic.Uint64

	dropsSinceLog int
	lastDropLog   time.Time

	// Loans of the response region held by replies (optional): dropped gives back a dropped
	// reply's, closed every loan to a stream whose publication closed without a subscriber.
	dropped func(loan regionRef)
	closed  func(key replyKey)
}

// replyStream is one reply publication and its outbox.
type replyStream struct {
	key            replyKey
	pub            replyPublication // nil while the add is in progress
	registrationID int64            // of the add in progress
	addedAt        time.Time
	everConnected  bool      // it has had a subscriber: NOT_CONNECTED now means the subscriber left
	lastSubscriber time.Time // last time it was seen with a subscriber (or when it was added)
	// waitingSince is since when the stream has had replies queued without a successful offer:
	// set when a reply is queued, moved to now by each successful offer, zero once one empties
	// the queue. A stall keeps it when it drops the queue, so later replies to a stream that
	// still makes no progress are dropped at once instead of pausing intake again.
	waitingSince time.Time
	queue        []queuedReply
	head, n      int // ring over queue
}

type queuedReply struct {
	frame         []byte // owned copy
	correlationID int64
	loan          regionRef // Reply.Loan
	overloaded    string    // Reply.Overloaded
}

func newOutbox(adder publicationAdder, counters *Counters, log *slog.Logger, queueLen int, timeout time.Duration, maxStreams int) *outbox {
	return &outbox{
		adder: adder, counters: counters, log: log,
		queueLen: queueLen, maxBytes: maxQueuedReplyBytes, timeout: timeout, maxStreams: maxStreams,
		streams: make(map[replyKey]*replyStream),
		gauge:   new(atomic.Int64),
		pauses:  new(atomic.Uint64),
	}
}

// offerResult is what one offer came to.
type offerResult uint8

const (
	offered offerResult = iota // published
	retry                      // not now: back pressure, admin action, not connected yet
	dropped                    // never: counted and logged
)

// publish sends reply now if it can, queues it otherwise (pausing intake when that takes the
// outboxes over their budget), or drops it. reply.Frame is read only during the call.
func (o *outbox) publish(reply Reply, now time.Time) {
	if reply.StreamID <= 0 { // the dispatcher never lets one through; belt and braces
		o.dropLoan(reply.Loan)
		o.drop(replyKey{reply.Channel, reply.StreamID}, reply.CorrelationID, "reply stream id is not positive", now)
		return
	}
	key := replyKey{reply.Channel, reply.StreamID}
	rs := o.streams[key]
	if rs == nil {
		if rs = o.open(key, reply.CorrelationID, now); rs == nil {
			o.dropLoan(reply.Loan)
			return
		}
	}
	if rs.pub != nil && rs.n == 0 { // in order: nothing may overtake queued replies
		switch o.offer(rs, &queuedReply{reply.Frame, reply.CorrelationID, reply.Loan, reply.Overloaded}, now) {
		case offered:
			rs.waitingSince = time.Time{}
			return
		case dropped:
			return
		}
	}
	if o.stalled(rs, now) {
		// Still no progress since its queue was dropped: this one would only wait as long.
		o.dropLoan(reply.Loan)
		o.drop(rs.key, reply.CorrelationID, o.stallReason(), now)
		return
	}
	o.enqueue(rs, reply, now)
}

// stalled reports whether rs has had replies waiting without progress for the reply timeout.
func (o *outbox) stalled(rs *replyStream, now time.Time) bool {
	return !rs.waitingSince.IsZero() && now.Sub(rs.waitingSince) >= o.timeout
}

func (o *outbox) stallReason() string {
	return fmt.Sprintf("the reply stream made no progress for the reply timeout (%v): a stuck or missing subscriber", o.timeout)
}

// open adds a publication for a new reply stream, or drops the reply if there are too many
// (--max-reply-streams counts the publications on every channel together).
func (o *outbox) open(id replyKey, correlationID int64, now time.Time) *replyStream {
	o.forgetLingering(now)
	if len(o.streams)+len(o.closedAt) >= o.maxStreams {
		o.drop(id, correlationID, fmt.Sprintf("%d reply publications exist or linger already (--max-reply-streams)", o.maxStreams), now)
		return nil
	}
	registrationID, err := o.adder.AddPublication(id.channel, id.streamID)
	if err != nil {
		o.drop(id, correlationID, fmt.Sprintf("cannot add a reply publication: %v", err), now)
		return nil
	}
	rs := &replyStream{key: id, registrationID: registrationID, addedAt: now, lastSubscriber: now}
	o.streams[id] = rs
	o.adding++
	o.gauge.Store(int64(len(o.streams)))
	return rs
}

// offer tries q once on rs's publication; a dropped reply's loan is given back.
func (o *outbox) offer(rs *replyStream, q *queuedReply, now time.Time) offerResult {
	result := o.offerOnce(rs, q, now)
	if result == dropped {
		o.dropLoan(q.loan)
	}
	return result
}

func (o *outbox) offerOnce(rs *replyStream, q *queuedReply, now time.Time) offerResult {
	frame, correlationID := q.frame, q.correlationID
	result, err := rs.pub.Offer(frame)
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		if q.overloaded != "" { // meant to be lent, but the region was full
			o.scratch = writeResponse(o.scratch, correlationID, polybridge.ErrorCode_OVERLOADED, q.overloaded, nil)
		} else {
			o.scratch = writeResponse(o.scratch, correlationID, polybridge.ErrorCode_TOO_LARGE,
				fmt.Sprintf("response of %d bytes exceeds the reply stream's largest message: %v", len(frame), tooLarge.cause), nil)
		}
		result, err = rs.pub.Offer(o.scratch)
		// Back pressure on the replacement: it is small, and the caller keeps the original in
		// its queue, so the next try replaces it again.
	}
	switch {
	case err != nil:
		o.drop(rs.key, correlationID, err.Error(), now)
		return dropped
	case result > 0:
		rs.everConnected = true
		rs.lastSubscriber = now
		o.counters.Replies.Add(1)
		return offered
	case result == aeron.NotConnected && rs.everConnected:
		o.drop(rs.key, correlationID, "the reply stream's subscriber has gone", now)
		return dropped
	case result == aeron.PublicationClosed || result == aeron.MaxPositionExceeded:
		o.drop(rs.key, correlationID, fmt.Sprintf("reply publication unusable (offer returned %d)", result), now)
		return dropped
	}
	return retry // back pressured, admin action, or a new publication not connected yet
}

// enqueue keeps a copy of reply until a flush publishes it; past the budget it pauses intake
// rather than drop anything.
func (o *outbox) enqueue(rs *replyStream, reply Reply, now time.Time) {
	if rs.n == len(rs.queue) { // grow the ring, unrolling it
		grown := make([]queuedReply, max(4, 2*len(rs.queue)))
		for i := range rs.n {
			grown[i] = rs.queue[(rs.head+i)%len(rs.queue)]
		}
		rs.queue, rs.head = grown, 0
	}
	frame := o.buffer(len(reply.Frame))
	copy(frame, reply.Frame)
	rs.queue[(rs.head+rs.n)%len(rs.queue)] = queuedReply{frame: frame, correlationID: reply.CorrelationID,
		loan: reply.Loan, overloaded: reply.Overloaded}
	rs.n++
	o.queued++
	o.bytes += len(frame)
	if rs.waitingSince.IsZero() {
		rs.waitingSince = now
	}
	if rs.n > o.queueLen || o.bytes > o.maxBytes {
		o.pause(now)
	}
}

// flush completes adds in progress, tries each stream's queued replies in order (stopping at
// the first that cannot go yet), drops the queues of streams without progress for the reply
// timeout, and pauses or resumes intake. It returns how many replies it published or dropped.
func (o *outbox) flush(now time.Time) int {
	if o.queued == 0 && o.adding == 0 {
		if o.intakePaused() {
			o.updateIntake(now) // emptied by publish's drops, or by housekeep's closes
		}
		return 0
	}
	work := 0
	for _, rs := range o.streams {
		if rs.pub == nil && !o.completeAdd(rs, now) && o.streams[rs.key] != rs {
			continue // the add failed: rs is gone, and what it held was dropped
		}
		progressed := false
		for rs.pub != nil && rs.n > 0 {
			q := &rs.queue[rs.head]
			result := o.offer(rs, q, now)
			if result == retry {
				break
			}
			progressed = progressed || result == offered
			o.pop(rs)
			work++
		}
		if progressed {
			rs.waitingSince = now
			if rs.n == 0 {
				rs.waitingSince = time.Time{}
			}
		}
		// No progress for the reply timeout: a subscriber that is stuck (stopped, or killed
		// while its image lingers), one that never came, or an add that never completed.
		if rs.n > 0 && o.stalled(rs, now) {
			work += rs.n
			o.abandon(rs, o.stallReason(), now)
		}
	}
	o.updateIntake(now)
	return work
}

// intakePaused reports whether the outboxes are over their budget: the worker must not take
// new requests until it is false again (it keeps calling flush, which drains them).
func (o *outbox) intakePaused() bool { return !o.pausedSince.IsZero() }

// intakePausedFor returns how long intake has been paused in all, up to now.
func (o *outbox) intakePausedFor(now time.Time) time.Duration {
	if o.intakePaused() {
		return o.pausedTotal + now.Sub(o.pausedSince)
	}
	return o.pausedTotal
}

// pause pauses intake (the outboxes are over their budget).
func (o *outbox) pause(now time.Time) {
	if o.intakePaused() {
		return
	}
	o.pausedSince = now
	if n := o.pauses.Add(1); n <= pauseLogCount || n&(n-1) == 0 {
		o.log.Info("taking no requests until the outboxes drain", "repliesQueued", o.queued, "bytesQueued", o.bytes,
			"maxBytes", o.maxBytes, "replyQueue", o.queueLen, "pauses", n)
	}
}

// updateIntake pauses intake when the outboxes are over their budget and resumes it once they
// are down to half of it (a low-water mark, so that intake does not flap at the edge).
func (o *outbox) updateIntake(now time.Time) {
	longest := 0
	for _, rs := range o.streams {
		longest = max(longest, rs.n)
	}
	switch {
	case !o.intakePaused():
		if longest > o.queueLen || o.bytes > o.maxBytes {
			o.pause(now)
		}
	case longest <= o.queueLen/2 && o.bytes <= o.maxBytes/2:
		o.pausedTotal += now.Sub(o.pausedSince)
		o.pausedSince = time.Time{}
	}
}

// completeAdd checks on an add in progress; false while it is still in progress or failed.
func (o *outbox) completeAdd(rs *replyStream, now time.Time) bool {
	pub, err := o.adder.Publication(rs.key.channel, rs.registrationID)
	if err == nil && pub == nil && now.Sub(rs.addedAt) < addTimeout {
		return false
	}
	o.adding--
	if pub == nil {
		if err == nil {
			err = fmt.Errorf("no answer from the media driver after %v", addTimeout)
		}
		o.abandon(rs, fmt.Sprintf("cannot add a reply publication: %v", err), now)
		delete(o.streams, rs.key)
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
			o.log.Warn("closing a reply publication", "channel", rs.key.channel, "stream", rs.key.streamID, "err", err)
		}
		o.closedAt = append(o.closedAt, now)
	} else {
		o.adding-- // an add in progress: the driver may still create it; count it as lingering
		o.closedAt = append(o.closedAt, now)
	}
	delete(o.streams, rs.key)
	o.gauge.Store(int64(len(o.streams)))
	if o.closed != nil {
		o.closed(rs.key)
	}
}

// abandon drops everything queued on rs.
func (o *outbox) abandon(rs *replyStream, reason string, now time.Time) {
	for rs.n > 0 {
		o.dropLoan(rs.queue[rs.head].loan)
		o.drop(rs.key, rs.queue[rs.head].correlationID, reason, now)
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

// dropLoan gives back the loan of a reply given up (id 0: none).
func (o *outbox) dropLoan(loan regionRef) {
	if loan.id != 0 && o.dropped != nil {
		o.dropped(loan)
	}
}

// drop counts a reply given up and logs it, at most once per dropLogInterval.
func (o *outbox) drop(key replyKey, correlationID int64, reason string, now time.Time) {
	o.counters.RepliesDropped.Add(1)
	o.dropsSinceLog++
	if now.Sub(o.lastDropLog) < dropLogInterval {
		return
	}
	o.log.Warn("reply dropped", "channel", key.channel, "stream", key.streamID, "correlationId", correlationID, "reason", reason,
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
