package worker

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
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

// Counters are the dispatcher's outcome counts. They are atomics so another goroutine
// (logs, a future metrics endpoint) can read them while the poll loop runs.
type Counters struct {
	Requests         atomic.Uint64 // Request frames that decoded and reached handler lookup
	Replied          atomic.Uint64 // responses produced, of any error code
	NotFound         atomic.Uint64 // requests naming no registered handler
	HandlerErrors    atomic.Uint64 // handlers that returned an error
	Panics           atomic.Uint64 // handlers that panicked
	Timeouts         atomic.Uint64 // requests whose deadline had passed before the handler ran
	Cancels          atomic.Uint64 // Cancel frames (nothing is queued yet, so they are no-ops)
	MalformedReplied atomic.Uint64 // undecodable frames answered with BAD_REQUEST
	MalformedDropped atomic.Uint64 // undecodable frames without a readable correlation id
	DecodePanics     atomic.Uint64 // panics caught by the dispatcher's last-resort recover
}

// Reply is a response ready to publish.
type Reply struct {
	StreamID      int32  // the caller's reply stream (Request.replyStreamId)
	CorrelationID int64  // echoed from the request
	Frame         []byte // header + Response; valid until the next Dispatch
}

// envelope holds what has been read of a frame so far, so a failure at any later point can
// still be answered.
type envelope struct {
	readable      bool // correlation id and reply stream id are in the frame
	correlationID int64
	replyStreamID int32
}

// Dispatcher turns one request frame into at most one response frame. It is a pure function
// of its input apart from the reusable output buffer and the counters, so it is tested without
// Aeron. A Dispatcher is not safe for concurrent use: give each poll goroutine its own.
type Dispatcher struct {
	registry *Registry
	Counters *Counters
	out      []byte
	req      polybridge.Request
	resp     polybridge.Response
	served   string // "echo, ..." for NOT_FOUND messages
}

// NewDispatcher returns a dispatcher over registry, counting into counters (new ones if nil).
func NewDispatcher(registry *Registry, counters *Counters) *Dispatcher {
	if counters == nil {
		counters = new(Counters)
	}
	return &Dispatcher{
		registry: registry,
		Counters: counters,
		out:      make([]byte, 4096),
		served:   strings.Join(registry.Names(), ", "),
	}
}

// Dispatch decodes frame, runs the handler it names and encodes the response. ok is false when
// nothing is to be sent: a Cancel, or a frame so broken that no correlation id can be read.
// frame is only read, and not retained after Dispatch returns.
func (d *Dispatcher) Dispatch(frame []byte) (reply Reply, ok bool) {
	var env envelope
	defer func() {
		// Last line of defence: the checks in dispatch are meant to make this unreachable.
		if r := recover(); r != nil {
			d.Counters.DecodePanics.Add(1)
			reply, ok = d.malformed(&env, fmt.Sprintf("frame could not be decoded: %v", r))
		}
	}()
	return d.dispatch(frame, &env)
}

func (d *Dispatcher) dispatch(frame []byte, env *envelope) (Reply, bool) {
	n := len(frame)
	if n < headerLength {
		return d.malformed(env, "")
	}
	blockLength := int(binary.LittleEndian.Uint16(frame[0:]))
	templateID := binary.LittleEndian.Uint16(frame[2:])
	if binary.LittleEndian.Uint16(frame[4:]) != schemaID {
		return d.malformed(env, "") // another schema: its bytes say nothing about correlation ids
	}
	version := binary.LittleEndian.Uint16(frame[6:])

	var wantBlock, correlationOffset, replyStreamOffset int
	switch templateID {
	case polybridge.RequestSbeTemplateID:
		wantBlock, correlationOffset, replyStreamOffset = requestBlockLength, requestCorrelationOffset, requestReplyStreamOffset
	case polybridge.CancelSbeTemplateID:
		wantBlock, correlationOffset, replyStreamOffset = cancelBlockLength, cancelCorrelationOffset, cancelReplyStreamOffset
	default:
		return d.malformed(env, "")
	}
	// Both fields lie inside the version-1 block, so a frame holding the whole block has them.
	if n < headerLength+wantBlock {
		return d.malformed(env, "")
	}
	env.correlationID = int64(binary.LittleEndian.Uint64(frame[headerLength+correlationOffset:]))
	env.replyStreamID = int32(binary.LittleEndian.Uint32(frame[headerLength+replyStreamOffset:]))
	env.readable = true

	if version != SchemaVersion {
		return d.malformed(env, fmt.Sprintf("schema version %d is not supported; this worker speaks version %d", version, SchemaVersion))
	}
	if blockLength != wantBlock {
		return d.malformed(env, fmt.Sprintf("block length %d, expected %d for template %d version %d", blockLength, wantBlock, templateID, version))
	}
	if templateID == polybridge.CancelSbeTemplateID {
		if n != headerLength+cancelBlockLength {
			return d.malformed(env, fmt.Sprintf("cancel frame of %d bytes, expected %d", n, headerLength+cancelBlockLength))
		}
		d.Counters.Cancels.Add(1) // handlers run inline, so there is never queued work to drop
		return Reply{}, false
	}

	// The flyweight reads without checking var-data lengths against the frame, so every length
	// is checked here before the flyweight is asked to move past it.
	req := &d.req
	req.WrapForDecode(frame, uint64(headerLength), uint64(blockLength), uint64(version), uint64(n))
	pos := int(req.SbePosition())
	if pos+int(req.HandlerHeaderLength()) > n {
		return d.malformed(env, "frame ends inside the handler length")
	}
	handlerLength := int(req.HandlerLength())
	handlerStart := pos + int(req.HandlerHeaderLength())
	if handlerLength > n-handlerStart {
		return d.malformed(env, fmt.Sprintf("handler length %d runs past the frame (%d bytes left)", handlerLength, n-handlerStart))
	}
	handlerName := frame[handlerStart : handlerStart+handlerLength]
	req.SetSbePosition(uint64(handlerStart + handlerLength))

	pos = int(req.SbePosition())
	if pos+int(req.PayloadHeaderLength()) > n {
		return d.malformed(env, "frame ends inside the payload length")
	}
	payloadLength := uint64(req.PayloadLength()) // uint64: a lying uint32 must not wrap an int on 32-bit
	payloadStart := pos + int(req.PayloadHeaderLength())
	if payloadLength > uint64(n-payloadStart) {
		return d.malformed(env, fmt.Sprintf("payload length %d runs past the frame (%d bytes left)", payloadLength, n-payloadStart))
	}
	payloadEnd := payloadStart + int(payloadLength)
	if payloadEnd != n {
		return d.malformed(env, fmt.Sprintf("%d bytes after the payload", n-payloadEnd))
	}
	// Zero copy: the payload is a view of the frame, capped so a handler's append cannot
	// write into whatever follows it.
	payload := frame[payloadStart:payloadEnd:payloadEnd]
	timeoutNs := req.TimeoutNs()

	d.Counters.Requests.Add(1)
	handler, found := d.registry.Lookup(handlerName)
	if !found {
		d.Counters.NotFound.Add(1)
		return d.respond(env, polybridge.ErrorCode_NOT_FOUND,
			fmt.Sprintf("no handler named '%s'; this worker serves: %s", handlerName, d.served), nil), true
	}
	if timeoutNs < 0 {
		d.Counters.Timeouts.Add(1)
		return d.respond(env, polybridge.ErrorCode_TIMEOUT, "the caller's deadline passed before the request was read", nil), true
	}
	result, err, panicked := call(handler, timeoutNs, payload)
	switch {
	case panicked != nil:
		d.Counters.Panics.Add(1)
		return d.respond(env, polybridge.ErrorCode_PANIC, fmt.Sprintf("handler '%s' panicked: %v", handlerName, panicked), nil), true
	case err != nil:
		d.Counters.HandlerErrors.Add(1)
		return d.respond(env, polybridge.ErrorCode_HANDLER_ERROR, err.Error(), nil), true
	case len(result) > maxPayloadLength:
		d.Counters.HandlerErrors.Add(1)
		return d.respond(env, polybridge.ErrorCode_TOO_LARGE, fmt.Sprintf("handler '%s' returned %d bytes; the limit is %d", handlerName, len(result), maxPayloadLength), nil), true
	}
	return d.respond(env, polybridge.ErrorCode_OK, "", result), true
}

// call runs h with the caller's deadline, turning a panic into a value.
func call(h Handler, timeoutNs int64, payload []byte) (result []byte, err error, panicked any) {
	defer func() {
		if r := recover(); r != nil {
			result, err, panicked = nil, nil, r
		}
	}()
	ctx := context.Background()
	if timeoutNs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeoutNs))
		defer cancel()
	}
	result, err = h.Handle(ctx, payload)
	return result, err, nil
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

func (d *Dispatcher) respond(env *envelope, code polybridge.ErrorCode, message string, payload []byte) Reply {
	message = truncateUTF8(message, maxErrorMessageLength)
	size := responseFixedLength + len(message) + len(payload)
	if cap(d.out) < size {
		d.out = make([]byte, max(size, 2*cap(d.out)))
	}
	out := d.out[:size]
	resp := &d.resp
	resp.WrapAndApplyHeader(out, 0, uint64(size))
	resp.SetCorrelationId(env.correlationID)
	resp.SetErrorCode(code)
	resp.PutErrorMessage(message)
	lengthAt := resp.SbePosition()
	// The generated PutPayload takes a string; write the length through the codec with an
	// empty source and copy the bytes ourselves to avoid a []byte->string copy.
	resp.PutPayloadLen("", uint32(len(payload)))
	copy(out[lengthAt+4:], payload)
	d.Counters.Replied.Add(1)
	return Reply{StreamID: env.replyStreamID, CorrelationID: env.correlationID, Frame: out}
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
