package worker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

func testRegistry(t testing.TB) *Registry {
	t.Helper()
	r := NewRegistry()
	for name, h := range map[string]Handler{
		"echo": Echo,
		"fail": HandlerFunc(func(context.Context, []byte) ([]byte, error) { return nil, errors.New("boom") }),
		"panic": HandlerFunc(func(context.Context, []byte) ([]byte, error) {
			var m map[string]int
			m["x"] = 1 // nil map write: a real runtime panic
			return nil, nil
		}),
		"deadline": HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
			if _, ok := ctx.Deadline(); !ok {
				return []byte("none"), nil
			}
			return []byte("set"), nil
		}),
	} {
		if err := r.Register(name, h); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// put16/put32 patch a frame in place for malformed cases.
func put16(b []byte, at int, v uint16) []byte { binary.LittleEndian.PutUint16(b[at:], v); return b }
func put32(b []byte, at int, v uint32) []byte { binary.LittleEndian.PutUint32(b[at:], v); return b }

const (
	// replyChannelAt is where the reply channel's length sits in a request without metadata:
	// after the header, the block and the empty metadata group's header.
	replyChannelAt = headerLength + requestBlockLength + groupHeaderLength // 32
	// handlerLengthAt is where the handler name's length sits in a request without metadata
	// and with an empty reply channel.
	handlerLengthAt = replyChannelAt + 2 // 34
)

func echoFrame(payload []byte) []byte {
	return encodeRequest(request{correlationID: 77, timeoutNs: 0, replyStreamID: 1001, handler: "echo", payload: payload})
}

func TestDispatch(t *testing.T) {
	big := pattern(1 << 20)
	tests := []struct {
		name        string
		frame       []byte
		wantReply   bool
		wantCode    polybridge.ErrorCode
		wantPayload []byte
		wantMessage string // substring
		counter     func(*Counters) uint64
	}{
		{name: "echo returns the payload", frame: echoFrame([]byte("ping")),
			wantReply: true, wantCode: polybridge.ErrorCode_OK, wantPayload: []byte("ping"),
			counter: func(c *Counters) uint64 { return c.Requests.Load() }},
		{name: "echo of an empty payload", frame: echoFrame(nil),
			wantReply: true, wantCode: polybridge.ErrorCode_OK, wantPayload: []byte{}},
		{name: "echo of a 1 MiB payload", frame: echoFrame(big),
			wantReply: true, wantCode: polybridge.ErrorCode_OK, wantPayload: big},
		{name: "unknown handler is NOT_FOUND and lists what is served",
			frame:     encodeRequest(request{correlationID: 77, replyStreamID: 1001, handler: "nope"}),
			wantReply: true, wantCode: polybridge.ErrorCode_NOT_FOUND,
			wantMessage: "no handler named 'nope'; this worker serves: deadline, echo, fail, panic",
			counter:     func(c *Counters) uint64 { return c.NotFound.Load() }},
		{name: "handler error is HANDLER_ERROR with its message",
			frame:     encodeRequest(request{correlationID: 77, replyStreamID: 1001, handler: "fail"}),
			wantReply: true, wantCode: polybridge.ErrorCode_HANDLER_ERROR, wantMessage: "boom",
			counter: func(c *Counters) uint64 { return c.HandlerErrors.Load() }},
		{name: "panicking handler is recovered as PANIC",
			frame:     encodeRequest(request{correlationID: 77, replyStreamID: 1001, handler: "panic"}),
			wantReply: true, wantCode: polybridge.ErrorCode_PANIC, wantMessage: "handler 'panic' panicked: assignment to entry in nil map",
			counter: func(c *Counters) uint64 { return c.Panics.Load() }},
		{name: "positive timeout becomes a context deadline",
			frame:     encodeRequest(request{correlationID: 77, timeoutNs: 5e9, replyStreamID: 1001, handler: "deadline"}),
			wantReply: true, wantCode: polybridge.ErrorCode_OK, wantPayload: []byte("set")},
		{name: "zero timeout means no deadline",
			frame:     encodeRequest(request{correlationID: 77, replyStreamID: 1001, handler: "deadline"}),
			wantReply: true, wantCode: polybridge.ErrorCode_OK, wantPayload: []byte("none")},
		{name: "negative timeout is TIMEOUT without running the handler",
			frame:     encodeRequest(request{correlationID: 77, timeoutNs: -1, replyStreamID: 1001, handler: "panic"}),
			wantReply: true, wantCode: polybridge.ErrorCode_TIMEOUT,
			counter: func(c *Counters) uint64 { return c.Timeouts.Load() }},
		{name: "wrong version is BAD_REQUEST", frame: put16(echoFrame(nil), 6, 1),
			wantReply: true, wantCode: polybridge.ErrorCode_BAD_REQUEST, wantMessage: "schema version 1 is not supported",
			counter: func(c *Counters) uint64 { return c.MalformedReplied.Load() }},
		{name: "wrong block length is BAD_REQUEST", frame: put16(echoFrame(nil), 0, 24),
			wantReply: true, wantCode: polybridge.ErrorCode_BAD_REQUEST, wantMessage: "block length 24, expected 44"},
		{name: "handler length past the frame is BAD_REQUEST", frame: put16(echoFrame(nil), handlerLengthAt, 500),
			wantReply: true, wantCode: polybridge.ErrorCode_BAD_REQUEST, wantMessage: "handler length 500 runs past the frame"},
		{name: "lying payload length is BAD_REQUEST", frame: put32(echoFrame([]byte("abc")), handlerLengthAt+2+4, 0xFFFFFFFF),
			wantReply: true, wantCode: polybridge.ErrorCode_BAD_REQUEST, wantMessage: "payload length 4294967295 runs past the frame"},
		{name: "short payload length leaves trailing bytes: BAD_REQUEST", frame: put32(echoFrame([]byte("abc")), handlerLengthAt+2+4, 1),
			wantReply: true, wantCode: polybridge.ErrorCode_BAD_REQUEST, wantMessage: "2 bytes after the payload"},
		{name: "truncated inside the handler length is BAD_REQUEST", frame: echoFrame(nil)[:handlerLengthAt+1],
			wantReply: true, wantCode: polybridge.ErrorCode_BAD_REQUEST, wantMessage: "frame ends inside the handler length"},
		{name: "truncated inside the payload length is BAD_REQUEST", frame: echoFrame(nil)[:handlerLengthAt+2+4+2],
			wantReply: true, wantCode: polybridge.ErrorCode_BAD_REQUEST, wantMessage: "frame ends inside the payload length"},
		{name: "truncated inside the payload is BAD_REQUEST", frame: echoFrame([]byte("abcdef"))[:handlerLengthAt+2+4+4+3],
			wantReply: true, wantCode: polybridge.ErrorCode_BAD_REQUEST, wantMessage: "payload length 6 runs past the frame (3 bytes left)"},
		{name: "cancel is accepted without a reply", frame: encodeCancel(77, 1001),
			counter: func(c *Counters) uint64 { return c.Cancels.Load() }},
		{name: "cancel with a wrong version is BAD_REQUEST", frame: put16(encodeCancel(77, 1001), 6, 9),
			wantReply: true, wantCode: polybridge.ErrorCode_BAD_REQUEST},
		{name: "wrong schema id is dropped", frame: put16(echoFrame(nil), 4, 7102),
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "unknown template is dropped", frame: put16(echoFrame(nil), 2, 99),
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "a Response sent as a request is dropped",
			frame:   encodeResponse(response{correlationID: 77, code: polybridge.ErrorCode_OK}),
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "frame shorter than the header is dropped", frame: []byte{1, 2, 3},
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "empty frame is dropped", frame: []byte{},
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "request cut before the reply stream id is dropped", frame: echoFrame(nil)[:headerLength+18],
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "valid request with reply stream 0 is dropped", frame: encodeRequest(request{correlationID: 77, replyStreamID: 0, handler: "echo", payload: []byte("x")}),
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "valid request with a negative reply stream is dropped", frame: encodeRequest(request{correlationID: 77, replyStreamID: -1, handler: "echo", payload: []byte("x")}),
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "valid request with reply stream MinInt32 is dropped", frame: encodeRequest(request{correlationID: 77, replyStreamID: math.MinInt32, handler: "nope"}),
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "bad request with reply stream 0 is dropped, not answered", frame: put16(encodeRequest(request{correlationID: 77, replyStreamID: 0, handler: "echo"}), 6, 2),
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "cancel with reply stream 0 is dropped", frame: encodeCancel(77, 0),
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
		{name: "truncated cancel with reply stream 0 is dropped", frame: append(encodeCancel(77, 0), 1, 2),
			counter: func(c *Counters) uint64 { return c.MalformedDropped.Load() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDispatcher(testRegistry(t), nil)
			reply, ok := d.Dispatch(tc.frame)
			if ok != tc.wantReply {
				t.Fatalf("reply produced = %v, want %v", ok, tc.wantReply)
			}
			if tc.counter != nil && tc.counter(d.Counters) != 1 {
				t.Errorf("expected counter is %d, want 1", tc.counter(d.Counters))
			}
			if !ok {
				return
			}
			if reply.StreamID != 1001 || reply.CorrelationID != 77 {
				t.Errorf("reply to stream %d for correlation %d, want 1001 and 77", reply.StreamID, reply.CorrelationID)
			}
			got := mustDecodeResponse(t, reply.Frame)
			if got.correlationID != 77 {
				t.Errorf("correlation id %d, want 77", got.correlationID)
			}
			if got.code != tc.wantCode {
				t.Errorf("error code %v (message %q), want %v", got.code, got.message, tc.wantCode)
			}
			if tc.wantPayload != nil && !bytes.Equal(got.payload, tc.wantPayload) {
				t.Errorf("payload of %d bytes differs from the expected %d bytes", len(got.payload), len(tc.wantPayload))
			}
			if !strings.Contains(got.message, tc.wantMessage) {
				t.Errorf("message %q does not contain %q", got.message, tc.wantMessage)
			}
			if tc.wantCode != polybridge.ErrorCode_OK && len(got.payload) != 0 {
				t.Errorf("error response carries a %d-byte payload", len(got.payload))
			}
		})
	}
}

func TestDispatchPayloadIsAViewOfTheFrame(t *testing.T) {
	var seen []byte
	r := NewRegistry()
	_ = r.Register("look", HandlerFunc(func(_ context.Context, p []byte) ([]byte, error) { seen = p; return nil, nil }))
	frame := encodeRequest(request{correlationID: 1, replyStreamID: 1, handler: "look", payload: []byte("xyz")})
	NewDispatcher(r, nil).Dispatch(frame)
	if len(seen) != 3 || &seen[0] != &frame[len(frame)-3] {
		t.Fatalf("payload was copied, not sliced from the frame")
	}
	if cap(seen) != 3 {
		t.Errorf("payload capacity %d lets a handler append over the frame", cap(seen))
	}
}

func TestDispatchReusesItsBuffer(t *testing.T) {
	d := NewDispatcher(testRegistry(t), nil)
	frame := echoFrame(pattern(100))
	first, _ := d.Dispatch(frame)
	allocs := testing.AllocsPerRun(100, func() { d.Dispatch(frame) })
	second, _ := d.Dispatch(frame)
	if &first.Frame[0] != &second.Frame[0] {
		t.Errorf("response buffer was reallocated between same-sized replies")
	}
	if allocs > 0 {
		t.Errorf("echo dispatch allocates %.1f times per request, want 0", allocs)
	}
}

func TestDispatchTruncatesLongErrorMessagesOnARuneBoundary(t *testing.T) {
	r := NewRegistry()
	long := strings.Repeat("é", 40000) // 80000 bytes
	_ = r.Register("long", HandlerFunc(func(context.Context, []byte) ([]byte, error) { return nil, errors.New(long) }))
	reply, ok := NewDispatcher(r, nil).Dispatch(encodeRequest(request{correlationID: 3, replyStreamID: 1, handler: "long"}))
	if !ok {
		t.Fatal("no reply")
	}
	got := mustDecodeResponse(t, reply.Frame)
	if len(got.message) != 65534 || !strings.HasPrefix(long, got.message) {
		t.Errorf("message of %d bytes, want the first 65534 bytes of the error", len(got.message))
	}
}

func TestRegistryRejectsBadNames(t *testing.T) {
	r := NewRegistry()
	if err := r.Register("", Echo); err == nil {
		t.Error("empty name accepted")
	}
	if err := r.Register("a", nil); err == nil {
		t.Error("nil handler accepted")
	}
	if err := r.Register("a", Echo); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("a", Echo); err == nil {
		t.Error("duplicate name accepted")
	}
}

func TestDispatchRecoversFromAnUnexpectedPanic(t *testing.T) {
	// A dispatcher without a registry panics on lookup: the last-resort recover must still
	// answer, since the correlation id had been read.
	counters := new(Counters)
	d := &Dispatcher{Counters: counters, payloads: newPayloads(counters)}
	reply, ok := d.Dispatch(echoFrame([]byte("ok")))
	if !ok {
		t.Fatal("no reply after a recovered panic")
	}
	got := mustDecodeResponse(t, reply.Frame)
	if got.code != polybridge.ErrorCode_BAD_REQUEST || got.correlationID != 77 || !strings.Contains(got.message, "could not be decoded") {
		t.Errorf("got %v %d %q", got.code, got.correlationID, got.message)
	}
	if d.Counters.DecodePanics.Load() != 1 || d.Counters.MalformedReplied.Load() != 1 {
		t.Errorf("panic not counted")
	}
}
