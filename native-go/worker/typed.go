package worker

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
)

// Message is what every message type sbe-tool generates for Go (with flyweights) offers about
// itself: the schema it belongs to, its template and its fixed block.
type Message interface {
	SbeSchemaId() uint16
	SbeTemplateId() uint16
	SbeSchemaVersion() uint16
	SbeBlockLength() uint16
}

// DecodableMessage is a pointer to a generated message that wraps a buffer to read it. The
// generated decoder checks nothing it is not asked to; DecodeLength walks every group and var
// data field, so it panics on any length that runs past the buffer.
type DecodableMessage[T any] interface {
	*T
	Message
	WrapForDecode(buffer []byte, offset, actingBlockLength, actingVersion, bufferLength uint64) *T
	DecodeLength() uint64
}

// EncodableMessage is a pointer to a generated message that writes itself, header first, into
// a buffer.
type EncodableMessage[T any] interface {
	*T
	Message
	WrapAndApplyHeader(buffer []byte, offset, bufferLength uint64) *T
	EncodedLength() uint64
}

// TypedHandler serves one method of a service schema. req is the request's message, already
// checked: its header names req's schema, template, version and block length, and every
// length in it lies inside the payload, so reading any field of req cannot run past it. req is
// a view of the request's payload, valid until the handler returns. The handler returns a
// function that writes the response into resp, a flyweight already wrapped (header applied)
// over the worker's buffer; it may be called more than once, over a larger buffer when the
// response did not fit, so it must only write. An error is answered as a Handler's is
// (BadRequest for the caller's fault, HANDLER_ERROR otherwise).
type TypedHandler[Req, Resp any] func(ctx context.Context, req *Req) (encode func(resp *Resp), err error)

// Typed sizes of the response buffer: a response starts in typedInitialBuffer bytes and
// grows, doubling, up to maxTypedResponse (the largest message the drivers polybridge starts
// carry is 2 MiB; past that the response could not be published anyway).
const (
	typedInitialBuffer = 4096
	maxTypedResponse   = 64 << 20
)

// RegisterTyped registers h under name in r, to run on the worker's pool, as a method whose
// request payload is exactly one Req message and whose response payload is exactly one Resp
// message (8-byte messageHeader and body) of the generated flyweight codecs of a service
// schema:
//
//	worker.RegisterTyped[hello.Greet, hello.Greeting](registry, "hello.greet", greet)
//
// A payload that is not one Req (another schema, template or version, a wrong block length, a
// length running past the payload, bytes after the message) is answered BAD_REQUEST naming
// what is wrong, without calling h: the service author writes no bounds checks.
func RegisterTyped[Req, Resp any, PReq DecodableMessage[Req], PResp EncodableMessage[Resp]](r *Registry, name string, h TypedHandler[Req, Resp]) error {
	if h == nil {
		return fmt.Errorf("handler %q is nil", name)
	}
	return r.Register(name, Typed[Req, Resp, PReq, PResp](h))
}

// Typed adapts h to a Handler, for Registry.Replace or RegisterInline; see RegisterTyped.
func Typed[Req, Resp any, PReq DecodableMessage[Req], PResp EncodableMessage[Resp]](h TypedHandler[Req, Resp]) Handler {
	return HandlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		var req Req
		if err := decodeTyped[Req, PReq](&req, payload); err != nil {
			return nil, err
		}
		encode, err := h(ctx, &req)
		if err != nil {
			return nil, err
		}
		if encode == nil {
			return nil, fmt.Errorf("typed handler returned no response and no error")
		}
		return encodeTyped[Resp, PResp](encode)
	})
}

// decodeTyped wraps req over payload once the header matches PReq's and the whole message
// is known to lie inside the payload.
func decodeTyped[Req any, PReq DecodableMessage[Req]](req *Req, payload []byte) (err error) {
	m := PReq(req)
	want := messageName(m)
	if len(payload) < headerLength {
		return BadRequest("payload of %d bytes is not a %s: the %d-byte message header is cut short", len(payload), want, headerLength)
	}
	blockLength := binary.LittleEndian.Uint16(payload[0:])
	templateID := binary.LittleEndian.Uint16(payload[2:])
	schema := binary.LittleEndian.Uint16(payload[4:])
	version := binary.LittleEndian.Uint16(payload[6:])
	switch {
	case schema != m.SbeSchemaId() || templateID != m.SbeTemplateId():
		return BadRequest("payload is schema %d template %d, expected a %s (schema %d template %d)", schema, templateID, want, m.SbeSchemaId(), m.SbeTemplateId())
	case version != m.SbeSchemaVersion():
		return BadRequest("payload is version %d of schema %d; this handler reads version %d", version, schema, m.SbeSchemaVersion())
	case blockLength != m.SbeBlockLength():
		return BadRequest("%s with block length %d, expected %d", want, blockLength, m.SbeBlockLength())
	case len(payload) < headerLength+int(blockLength):
		return BadRequest("payload of %d bytes ends inside the %d-byte block of a %s", len(payload), blockLength, want)
	}
	// Cap the view so the decoder cannot see past the payload whatever it is asked.
	payload = payload[:len(payload):len(payload)]
	defer func() {
		if r := recover(); r != nil {
			err = BadRequest("payload is not a valid %s: %v", want, r)
		}
	}()
	m.WrapForDecode(payload, uint64(headerLength), uint64(blockLength), uint64(version), uint64(len(payload)))
	if end := headerLength + int(m.DecodeLength()); end != len(payload) {
		return BadRequest("%d bytes after the %s", len(payload)-end, want)
	}
	return nil
}

// encodeTyped runs encode over a buffer that grows until the response fits.
func encodeTyped[Resp any, PResp EncodableMessage[Resp]](encode func(*Resp)) ([]byte, error) {
	for size := typedInitialBuffer; ; size *= 2 {
		buf := make([]byte, size)
		var resp Resp
		n, fits := tryEncode[Resp, PResp](&resp, buf, encode)
		if fits {
			return buf[:n], nil
		}
		if size >= maxTypedResponse {
			return nil, fmt.Errorf("the %s response does not fit in %d bytes", messageName(PResp(&resp)), maxTypedResponse)
		}
	}
}

// tryEncode reports whether encode's response fits buf: the generated encoder panics on a
// write past its buffer (its own bounds check, or the runtime's). Any other panic is the
// handler's and propagates (answered PANIC).
func tryEncode[Resp any, PResp EncodableMessage[Resp]](resp *Resp, buf []byte, encode func(*Resp)) (n int, fits bool) {
	defer func() {
		if r := recover(); r != nil {
			if !isBufferOverrun(r) {
				panic(r)
			}
			n, fits = 0, false
		}
	}()
	m := PResp(resp)
	m.WrapAndApplyHeader(buf, 0, uint64(len(buf)))
	encode(resp)
	// A group header is written before its position is checked: an empty group at the very end
	// can leave the position past the buffer without a panic.
	if n = headerLength + int(m.EncodedLength()); n > len(buf) {
		return 0, false
	}
	return n, true
}

// isBufferOverrun recognises the panics of a write past the end of an encoder's buffer: the
// generated code's "buffer too short" checks and the runtime's index and slice bounds errors.
func isBufferOverrun(r any) bool {
	if s, ok := r.(string); ok {
		return strings.Contains(s, "buffer too short")
	}
	if e, ok := r.(runtime.Error); ok {
		msg := e.Error()
		return strings.Contains(msg, "index out of range") || strings.Contains(msg, "slice bounds out of range")
	}
	return false
}

// messageName names a generated message type for error messages, e.g. "hello.Greet".
func messageName(m Message) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", m), "*")
}
