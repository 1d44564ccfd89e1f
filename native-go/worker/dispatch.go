package worker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

const (
	headerLength = int(polybridge.MessageHeaderEncodedLength)
	schemaID     = polybridge.MessageHeaderSbeSchemaID
	// SchemaVersion is the wire schema version this worker was built with.
	SchemaVersion = polybridge.MessageHeaderSbeSchemaVersion

	requestBlockLength = int(polybridge.RequestSbeBlockLength)
	cancelBlockLength  = int(polybridge.CancelSbeBlockLength)
	releaseBlockLength = int(polybridge.PayloadReleaseSbeBlockLength)

	// Byte offsets of the envelope fields inside each block; fixed by the schema.
	requestCorrelationOffset = 0
	requestReplyStreamOffset = 16
	cancelCorrelationOffset  = 0
	cancelReplyStreamOffset  = 8

	maxErrorMessageLength = 65534   // varStringEncoding.length maxValue
	maxPayloadLength      = 1 << 30 // varDataEncoding.length maxValue

	// responseFixedLength is header + block + both length prefixes of a Response.
	responseFixedLength = headerLength + int(polybridge.ResponseSbeBlockLength) + 2 + 4
)

// Counters count what a worker did. They are atomics so another goroutine (logs, a future
// metrics endpoint) can read them while the poll loop runs. The first nine are shared with the
// Rust worker under the same names (snake_case in logs: requests, replies, replies_dropped,
// malformed_replied, malformed_dropped, overloaded, cancelled, timeouts, panics); see
// docs/protocol.md. Every response produced ends as exactly one of Replies or RepliesDropped
// (or is still in an outbox).
type Counters struct {
	Requests         atomic.Uint64 // Request frames that decoded and reached handler lookup
	Replies          atomic.Uint64 // responses published on their reply stream
	RepliesDropped   atomic.Uint64 // responses given up: subscriber gone, no progress on the reply stream for the reply timeout, too many reply streams
	MalformedReplied atomic.Uint64 // undecodable frames answered with BAD_REQUEST
	MalformedDropped atomic.Uint64 // frames dropped unanswered: no readable correlation id, or a reply stream that cannot be one (<= 0)
	Overloaded       atomic.Uint64 // requests refused with OVERLOADED: the pool's queue was full
	Cancelled        atomic.Uint64 // requests a Cancel reached while queued or running
	Timeouts         atomic.Uint64 // requests whose deadline passed before or while their handler ran
	Panics           atomic.Uint64 // handlers that panicked

	// Go only.
	NotFound      atomic.Uint64 // requests naming no registered handler
	HandlerErrors atomic.Uint64 // handlers that returned an error
	BadPayloads   atomic.Uint64 // handlers that rejected their payload (ErrBadRequest)
	Cancels       atomic.Uint64 // Cancel frames received
	DecodePanics  atomic.Uint64 // panics caught by the dispatcher's last-resort recover

	// Idle, shared with the Rust worker.
	IdleSleeps    atomic.Uint64 // times the idle poll loop entered the sleep phase
	DoorbellWakes atomic.Uint64 // sleeps a doorbell ring ended

	// Payload regions, shared with the Rust worker.
	LoanedRequests  atomic.Uint64 // requests whose payload was read in place in a client's region
	LoanedResponses atomic.Uint64 // responses lent in the worker's response region
	LoanReleases    atomic.Uint64 // PayloadRelease frames that gave a loan back
	BadReleases     atomic.Uint64 // PayloadRelease frames that matched no loan
	BadRegionRefs   atomic.Uint64 // requests answered BAD_REQUEST for their region reference
	RegionFull      atomic.Uint64 // responses that could not be lent (region full or not created): inline or OVERLOADED
}

// LogAttrs returns the counters as slog key-value pairs, for the worker's last log line: the
// shared nine first, then the Go-only ones, each under the name the Rust worker gives the same
// count, then the shared idle ones (docs/protocol.md).
func (c *Counters) LogAttrs() []any {
	return []any{
		"requests", c.Requests.Load(),
		"replies", c.Replies.Load(),
		"replies_dropped", c.RepliesDropped.Load(),
		"malformed_replied", c.MalformedReplied.Load(),
		"malformed_dropped", c.MalformedDropped.Load(),
		"overloaded", c.Overloaded.Load(),
		"cancelled", c.Cancelled.Load(),
		"timeouts", c.Timeouts.Load(),
		"panics", c.Panics.Load(),
		"not_found", c.NotFound.Load(),
		"handler_errors", c.HandlerErrors.Load(),
		"bad_payloads", c.BadPayloads.Load(),
		"cancels", c.Cancels.Load(),
		"decode_panics", c.DecodePanics.Load(),
		"idle_sleeps", c.IdleSleeps.Load(),
		"doorbell_wakes", c.DoorbellWakes.Load(),
		"loaned_requests", c.LoanedRequests.Load(),
		"loaned_responses", c.LoanedResponses.Load(),
		"loan_releases", c.LoanReleases.Load(),
		"bad_releases", c.BadReleases.Load(),
		"bad_region_refs", c.BadRegionRefs.Load(),
		"region_full", c.RegionFull.Load(),
	}
}

// Reply is a response ready to publish.
type Reply struct {
	// Channel is the caller's reply channel as the Request named it (Request.replyChannel,
	// validated: "" or aeron:udp?endpoint=HOST:PORT); "" means the worker's own channel. The
	// outbox adds the worker's --reply-channel-params to a non-empty one.
	Channel       string
	StreamID      int32  // the caller's reply stream (Request.replyStreamId)
	CorrelationID int64  // echoed from the request
	Frame         []byte // header + Response; valid until the next Dispatch
	// Loan is the response's payload in the worker's response region (id 0: inline); it is
	// given back if the reply is dropped.
	Loan regionRef
	// Overloaded, when set, is the OVERLOADED message that replaces this inline response if it
	// is too large for the reply stream: it was meant to be lent but the region was full.
	Overloaded string
}

// envelope holds what has been read of a frame so far, so a failure at any later point can
// still be answered.
type envelope struct {
	readable      bool // correlation id and reply stream id are in the frame, and the stream can be replied on
	correlationID int64
	replyStreamID int32
	// replyChannel is Request/Cancel.replyChannel once it has been read and found valid; until
	// then, and when it is invalid, "": what cannot be trusted is answered on the worker's own
	// channel.
	replyChannel string
}

// Dispatcher turns one request frame into at most one response frame. It is a pure function
// of its input apart from the reusable output buffer and the counters, so it is tested without
// Aeron. A Dispatcher is not safe for concurrent use: give each poll goroutine its own.
type Dispatcher struct {
	registry *Registry
	Counters *Counters
	payloads *payloads
	out      []byte
	req      polybridge.Request
	refused  []int32         // the worker's own streams, never reply streams (RefuseReplyStreams)
	info     requestState    // the request Dispatch is running
	infoCtx  context.Context // carries &info, reused: Dispatch runs one handler at a time
}

// RefuseReplyStreams makes frames naming one of ids as their reply stream be dropped
// unanswered, like a reply stream <= 0. The worker passes its request and control streams: a
// reply published there would land in its own request stream or among every client's
// announcements.
func (d *Dispatcher) RefuseReplyStreams(ids ...int32) {
	d.refused = append(d.refused[:0], ids...)
}

// canReplyOn says whether a frame's reply stream id can be published to. Ids <= 0 are never a
// client's reply stream (a zeroed or truncated frame says 0), and publishing there would cost
// a publication, and its log buffer in shared memory, for nobody.
func (d *Dispatcher) canReplyOn(streamID int32) bool {
	return streamID > 0 && !slices.Contains(d.refused, streamID)
}

// NewDispatcher returns a dispatcher over registry, counting into counters (new ones if nil).
func NewDispatcher(registry *Registry, counters *Counters) *Dispatcher {
	if counters == nil {
		counters = new(Counters)
	}
	d := &Dispatcher{
		registry: registry,
		Counters: counters,
		payloads: newPayloads(counters),
		out:      make([]byte, 4096),
	}
	d.infoCtx = withRequestInfo(context.Background(), &d.info)
	return d
}

// frameKind is what a frame turned out to be.
type frameKind uint8

const (
	frameDropped frameKind = iota // undecodable and no correlation id: nothing can be answered
	frameBad                      // undecodable but answerable: BAD_REQUEST with frame.message
	frameRequest                  // a well-formed Request
	frameCancel                   // a well-formed Cancel
	frameRelease                  // a well-formed PayloadRelease
)

// decodedFrame is the decoded meaning of one message. handlerName and payload are views of the
// message bytes, valid only as long as they are.
type decodedFrame struct {
	kind        frameKind
	env         envelope
	message     string // frameBad: what is wrong
	handlerName []byte
	payload     []byte
	metadata    map[string]string // nil when the request carries none
	timeoutNs   int64
	// region is the request's payload reference (id 0: inline); once route has read it,
	// payload is a view of mapping, which stays in hand until doneReading.
	region  regionRef
	mapping *mappedRegion
	release payloadRelease // frameRelease
}

// Dispatch decodes frame, runs the handler it names on the calling goroutine and encodes the
// response. ok is false when nothing is to be sent: a Cancel, or a frame so broken that no
// correlation id can be read. frame is only read, and not retained after Dispatch returns.
// The worker uses Dispatch's parts (decode, then a Pool); Dispatch itself serves tests, fuzzing
// and callers without a pool.
func (d *Dispatcher) Dispatch(msg []byte) (reply Reply, ok bool) {
	var f decodedFrame
	defer func() {
		// Last line of defence: the checks in decode are meant to make this unreachable.
		if r := recover(); r != nil {
			d.Counters.DecodePanics.Add(1)
			reply, ok = d.malformed(&f.env, fmt.Sprintf("frame could not be decoded: %v", r))
		}
	}()
	d.decodeFrame(msg, &f)
	switch f.kind {
	case frameBad:
		return d.malformed(&f.env, f.message)
	case frameDropped:
		return d.malformed(&f.env, "")
	case frameCancel:
		d.Counters.Cancels.Add(1) // handlers run inline here, so there is never queued work to drop
		return Reply{}, false
	case frameRelease:
		d.payloads.release(f.release)
		return Reply{}, false
	}
	e, reply, ok := d.route(&f)
	if e == nil {
		return reply, ok
	}
	defer d.payloads.doneReading(f.mapping)
	d.info = requestState{RequestInfo{Handler: e.name, CorrelationID: f.env.correlationID, ReplyStreamID: f.env.replyStreamID}, f.metadata}
	ctx, cancel := requestContext(d.infoCtx, f.timeoutNs)
	result, err, panicked := call(e.handler, ctx, f.payload)
	code, message, payload := d.outcome(e.name, ctx, result, err, panicked)
	cancel()
	return d.respond(&f.env, code, message, payload), true
}

// decode is decodeFrame behind the last-resort recover, for callers other than Dispatch.
func (d *Dispatcher) decode(msg []byte, f *decodedFrame) {
	defer func() {
		if r := recover(); r != nil {
			d.Counters.DecodePanics.Add(1)
			f.kind, f.message = frameBad, fmt.Sprintf("frame could not be decoded: %v", r)
			if !f.env.readable {
				f.kind = frameDropped
			}
		}
	}()
	d.decodeFrame(msg, f)
}

// route counts a decoded request and finds its handler. A nil entry means the request is
// answered already (NOT_FOUND, TIMEOUT): reply, ok are that answer.
func (d *Dispatcher) route(f *decodedFrame) (e *entry, reply Reply, ok bool) {
	d.Counters.Requests.Add(1)
	e, found := d.registry.lookup(f.handlerName)
	if !found {
		d.Counters.NotFound.Add(1)
		return nil, d.respond(&f.env, polybridge.ErrorCode_NOT_FOUND,
			fmt.Sprintf("no handler named '%s'; this worker serves: %s", f.handlerName, d.registry.served()), nil), true
	}
	if f.timeoutNs < 0 {
		d.Counters.Timeouts.Add(1)
		return nil, d.respond(&f.env, polybridge.ErrorCode_TIMEOUT, "the caller's deadline passed before the request was read", nil), true
	}
	if f.region.id != 0 {
		if problem := d.payloads.read(f); problem != "" {
			d.Counters.BadRegionRefs.Add(1)
			return nil, d.respond(&f.env, polybridge.ErrorCode_BAD_REQUEST, problem, nil), true
		}
	}
	return e, Reply{}, false
}

// decodeFrame fills f from msg. It never trusts a length: each is checked against the frame
// before the generated flyweight, which does not check, is asked to read past it.
func (d *Dispatcher) decodeFrame(msg []byte, f *decodedFrame) {
	env := &f.env
	f.kind = frameDropped
	n := len(msg)
	if n < headerLength {
		return
	}
	blockLength := int(binary.LittleEndian.Uint16(msg[0:]))
	templateID := binary.LittleEndian.Uint16(msg[2:])
	if binary.LittleEndian.Uint16(msg[4:]) != schemaID {
		return // another schema: its bytes say nothing about correlation ids
	}
	version := binary.LittleEndian.Uint16(msg[6:])

	var wantBlock, correlationOffset, replyStreamOffset int
	switch templateID {
	case polybridge.RequestSbeTemplateID:
		wantBlock, correlationOffset, replyStreamOffset = requestBlockLength, requestCorrelationOffset, requestReplyStreamOffset
	case polybridge.CancelSbeTemplateID:
		wantBlock, correlationOffset, replyStreamOffset = cancelBlockLength, cancelCorrelationOffset, cancelReplyStreamOffset
	case polybridge.PayloadReleaseSbeTemplateID:
		// Never answered: one that is not exactly a v3 PayloadRelease is dropped.
		if version == SchemaVersion && blockLength == releaseBlockLength && n == headerLength+releaseBlockLength {
			f.release = decodeRelease(msg[headerLength:])
			f.kind = frameRelease
		}
		return
	default:
		return
	}
	// Both fields lie inside the version-1 block, so a frame holding the whole block has them.
	if n < headerLength+wantBlock {
		return
	}
	env.correlationID = int64(binary.LittleEndian.Uint64(msg[headerLength+correlationOffset:]))
	env.replyStreamID = int32(binary.LittleEndian.Uint32(msg[headerLength+replyStreamOffset:]))
	if !d.canReplyOn(env.replyStreamID) {
		return // dropped, whatever else the frame holds: it cannot be answered
	}
	env.readable = true

	bad := func(message string) { f.kind, f.message = frameBad, message }
	if version != SchemaVersion {
		bad(fmt.Sprintf("schema version %d is not supported; this worker speaks version %d", version, SchemaVersion))
		return
	}
	if blockLength != wantBlock {
		bad(fmt.Sprintf("block length %d, expected %d for template %d version %d", blockLength, wantBlock, templateID, version))
		return
	}
	if templateID == polybridge.CancelSbeTemplateID {
		end, problem := readReplyChannel(msg, headerLength+cancelBlockLength, env)
		switch {
		case problem != "":
			bad(problem)
		case end != n:
			bad(fmt.Sprintf("%d bytes after the cancel's reply channel", n-end))
		default:
			f.kind = frameCancel
		}
		return
	}

	// The generated flyweight has no bounds checks of its own: the metadata group is read by
	// decodeMetadata, which checks each length and the limits, and the flyweight is only
	// pointed at the handler name once the group is known to end inside the frame.
	metadata, pos, problem := decodeMetadata(msg, headerLength+blockLength)
	if problem != "" {
		bad(problem)
		return
	}
	f.metadata = metadata
	pos, problem = readReplyChannel(msg, pos, env)
	if problem != "" {
		bad(problem)
		return
	}
	req := &d.req
	req.WrapForDecode(msg, uint64(headerLength), uint64(blockLength), uint64(version), uint64(n))
	req.SetSbePosition(uint64(pos))
	if pos+int(req.HandlerHeaderLength()) > n {
		bad("frame ends inside the handler length")
		return
	}
	handlerLength := int(req.HandlerLength())
	handlerStart := pos + int(req.HandlerHeaderLength())
	if handlerLength > n-handlerStart {
		bad(fmt.Sprintf("handler length %d runs past the frame (%d bytes left)", handlerLength, n-handlerStart))
		return
	}
	f.handlerName = msg[handlerStart : handlerStart+handlerLength]
	req.SetSbePosition(uint64(handlerStart + handlerLength))

	pos = int(req.SbePosition())
	if pos+int(req.PayloadHeaderLength()) > n {
		bad("frame ends inside the payload length")
		return
	}
	payloadLength := uint64(req.PayloadLength()) // uint64: a lying uint32 must not wrap an int on 32-bit
	payloadStart := pos + int(req.PayloadHeaderLength())
	if payloadLength > uint64(n-payloadStart) {
		bad(fmt.Sprintf("payload length %d runs past the frame (%d bytes left)", payloadLength, n-payloadStart))
		return
	}
	payloadEnd := payloadStart + int(payloadLength)
	if payloadEnd != n {
		bad(fmt.Sprintf("%d bytes after the payload", n-payloadEnd))
		return
	}
	// Zero copy: the payload is a view of the frame, capped so a handler's append cannot
	// write into whatever follows it.
	f.payload = msg[payloadStart:payloadEnd:payloadEnd]
	f.timeoutNs = req.TimeoutNs()
	f.region = regionRef{id: req.RegionId(), offset: req.RegionOffset(), length: req.RegionLength()}
	f.kind = frameRequest
}

// Context causes, so a handler (context.Cause) and the pool can tell why a request stopped.
var (
	// ErrDeadlinePassed is the cause when the caller's deadline (Request.timeoutNs) passes.
	ErrDeadlinePassed = errors.New("the caller's deadline passed")
	// ErrCancelledByCaller is the cause when the caller sent a Cancel for the request.
	ErrCancelledByCaller = errors.New("the caller cancelled the request")
	// ErrWorkerStopping is the cause when the worker shuts down while the request is in hand.
	ErrWorkerStopping = errors.New("the worker is stopping")
	// ErrBadRequest marks a handler error as the caller's fault: a handler returning an error
	// that wraps it (see BadRequest) is answered BAD_REQUEST instead of HANDLER_ERROR.
	ErrBadRequest = errors.New("bad request")
)

// BadRequest returns an error answered with BAD_REQUEST and the formatted message, for a
// handler whose payload does not decode or is invalid.
func BadRequest(format string, args ...any) error {
	return &badRequestError{msg: fmt.Sprintf(format, args...)}
}

type badRequestError struct{ msg string }

func (e *badRequestError) Error() string        { return e.msg }
func (e *badRequestError) Is(target error) bool { return target == ErrBadRequest }

// requestContext returns parent with the caller's deadline, if any (timeoutNs > 0).
func requestContext(parent context.Context, timeoutNs int64) (context.Context, context.CancelFunc) {
	if timeoutNs > 0 {
		return context.WithDeadlineCause(parent, time.Now().Add(time.Duration(timeoutNs)), ErrDeadlinePassed)
	}
	return parent, func() {}
}

// call runs h, turning a panic into a value.
func call(h Handler, ctx context.Context, payload []byte) (result []byte, err error, panicked any) {
	defer func() {
		if r := recover(); r != nil {
			result, err, panicked = nil, nil, r
		}
	}()
	result, err = h.Handle(ctx, payload)
	return result, err, nil
}

// outcome turns what a handler did into a response code, message and payload, and counts it.
// A handler error caused by its context ending is reported by why the context ended.
func (d *Dispatcher) outcome(name string, ctx context.Context, result []byte, err error, panicked any) (polybridge.ErrorCode, string, []byte) {
	switch {
	case panicked != nil:
		d.Counters.Panics.Add(1)
		return polybridge.ErrorCode_PANIC, fmt.Sprintf("handler '%s' panicked: %v", name, panicked), nil
	case err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		switch cause := context.Cause(ctx); cause {
		case ErrDeadlinePassed:
			d.Counters.Timeouts.Add(1)
			return polybridge.ErrorCode_TIMEOUT, fmt.Sprintf("handler '%s' stopped: %v", name, cause), nil
		case ErrWorkerStopping:
			d.Counters.HandlerErrors.Add(1)
			return polybridge.ErrorCode_WORKER_UNAVAILABLE, fmt.Sprintf("handler '%s' stopped: %v", name, cause), nil
		case ErrCancelledByCaller:
			return polybridge.ErrorCode_CANCELLED, fmt.Sprintf("handler '%s' stopped: %v", name, cause), nil
		}
		d.Counters.HandlerErrors.Add(1)
		return polybridge.ErrorCode_HANDLER_ERROR, err.Error(), nil
	case errors.Is(err, ErrBadRequest):
		d.Counters.BadPayloads.Add(1)
		return polybridge.ErrorCode_BAD_REQUEST, err.Error(), nil
	case err != nil:
		d.Counters.HandlerErrors.Add(1)
		return polybridge.ErrorCode_HANDLER_ERROR, err.Error(), nil
	case len(result) > d.payloads.maxMessage:
		d.Counters.HandlerErrors.Add(1)
		return polybridge.ErrorCode_TOO_LARGE, fmt.Sprintf("handler '%s' returned %d bytes; the limit is %d (--max-message-mib)", name, len(result), d.payloads.maxMessage), nil
	}
	return polybridge.ErrorCode_OK, "", result
}

// malformed counts an undecodable frame and answers it with BAD_REQUEST when the envelope
// could be read.
func (d *Dispatcher) malformed(env *envelope, message string) (Reply, bool) {
	if !env.readable {
		d.Counters.MalformedDropped.Add(1)
		return Reply{}, false
	}
	d.Counters.MalformedReplied.Add(1)
	return d.respond(env, polybridge.ErrorCode_BAD_REQUEST, message, nil), true
}

// EncodeResponse writes a Response into the dispatcher's buffer; the worker loop uses it to
// replace a reply that cannot be published (TOO_LARGE).
func (d *Dispatcher) EncodeResponse(streamID int32, correlationID int64, code polybridge.ErrorCode, message string) Reply {
	return d.respond(&envelope{readable: true, correlationID: correlationID, replyStreamID: streamID}, code, message, nil)
}

// respond encodes a response on the poll goroutine, lending its payload when it should be
// (see payloads.encode); the loan is recorded before the reply is published.
func (d *Dispatcher) respond(env *envelope, code polybridge.ErrorCode, message string, payload []byte) Reply {
	var loan regionRef
	var overloaded string
	d.out, loan, overloaded = d.payloads.encode(d.out, env.correlationID, env.replyChannel, code, message, payload)
	d.payloads.lent(loan, env.correlationID, env.replyStreamID)
	return Reply{Channel: env.replyChannel, StreamID: env.replyStreamID, CorrelationID: env.correlationID, Frame: d.out,
		Loan: loan, Overloaded: overloaded}
}

// writeResponse writes header + Response into buf, growing it if needed, and returns the
// frame (a prefix of buf's backing array). Safe for concurrent use on distinct buffers.
func writeResponse(buf []byte, correlationID int64, code polybridge.ErrorCode, message string, payload []byte) []byte {
	return writeResponseRef(buf, correlationID, code, message, payload, regionRef{})
}

// writeResponseRef is writeResponse with the payload reference written too (all three fields
// always: buffers are reused).
func writeResponseRef(buf []byte, correlationID int64, code polybridge.ErrorCode, message string, payload []byte, ref regionRef) []byte {
	message = truncateUTF8(message, maxErrorMessageLength)
	size := responseFixedLength + len(message) + len(payload)
	if cap(buf) < size {
		buf = make([]byte, max(size, 2*cap(buf)))
	}
	out := buf[:size]
	var resp polybridge.Response
	resp.WrapAndApplyHeader(out, 0, uint64(size))
	resp.SetCorrelationId(correlationID)
	resp.SetErrorCode(code)
	resp.SetRegionId(ref.id).SetRegionOffset(ref.offset).SetRegionLength(ref.length)
	resp.PutErrorMessage(message)
	lengthAt := resp.SbePosition()
	// The generated PutPayload takes a string; write the length through the codec with an
	// empty source and copy the bytes ourselves to avoid a []byte->string copy.
	resp.PutPayloadLen("", uint32(len(payload)))
	copy(out[lengthAt+4:], payload)
	return out
}

// truncateUTF8 shortens s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
