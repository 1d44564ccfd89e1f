package worker

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// The typed tests use the transport schema's own generated messages as a service schema would
// use its own: WorkerAnnouncement (fixed fields, a group, var data) in, Response out.

// announcementHandler answers with a Response whose payload repeats the worker id n times,
// n being the announcement's pid, so a test controls the response size.
func announcementHandler(calls *int) TypedHandler[polybridge.WorkerAnnouncement, polybridge.Response] {
	return func(_ context.Context, req *polybridge.WorkerAnnouncement) (func(*polybridge.Response), error) {
		*calls++
		var handlers []string
		for g := req.Handlers(); g.HasNext(); {
			handlers = append(handlers, g.Next().Name())
		}
		id := req.WorkerId()
		if id == "bad" {
			return nil, BadRequest("worker id %q refused", id)
		}
		payload := strings.Repeat(id, int(req.Pid()))
		return func(resp *polybridge.Response) {
			resp.SetCorrelationId(int64(len(handlers))).SetErrorCode(polybridge.ErrorCode_OK)
			resp.PutErrorMessage(strings.Join(handlers, ","))
			resp.PutPayload(payload)
		}, nil
	}
}

func typedRegistry(t testing.TB, calls *int) *Registry {
	t.Helper()
	r := NewRegistry()
	if err := RegisterTyped[polybridge.WorkerAnnouncement, polybridge.Response](r, "typed", announcementHandler(calls)); err != nil {
		t.Fatal(err)
	}
	return r
}

func callTyped(t *testing.T, r *Registry, payload []byte) response {
	t.Helper()
	reply, ok := NewDispatcher(r, nil).Dispatch(encodeRequest(request{correlationID: 5, replyStreamID: 1001, handler: "typed", payload: payload}))
	if !ok {
		t.Fatal("no reply")
	}
	return mustDecodeResponse(t, reply.Frame)
}

func TestTypedHandlerDecodesTheRequestAndEncodesTheResponse(t *testing.T) {
	for _, tc := range []struct {
		name string
		pid  int64 // repetitions of the worker id in the response payload
	}{
		{"a small response", 2},
		{"a response larger than the first buffer", 30000}, // 150 KB: the buffer grows
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			req := EncodeAnnouncement(Announcement{Pid: tc.pid, Handlers: []string{"a", "bc"}, WorkerID: "w-1.2"})
			got := callTyped(t, typedRegistry(t, &calls), req)
			if got.code != polybridge.ErrorCode_OK || calls != 1 {
				t.Fatalf("%v %q after %d calls", got.code, got.message, calls)
			}
			resp, err := decodeResponse(got.payload) // the typed response is itself a Response message
			if err != nil {
				t.Fatal(err)
			}
			if resp.correlationID != 2 || resp.message != "a,bc" || !bytes.Equal(resp.payload, []byte(strings.Repeat("w-1.2", int(tc.pid)))) {
				t.Errorf("response %d %q %d bytes", resp.correlationID, resp.message, len(resp.payload))
			}
		})
	}
}

// A payload that is not exactly one request message is BAD_REQUEST naming what is wrong, and
// the handler never runs; the handler's own BadRequest is BAD_REQUEST too.
func TestTypedHandlerAnswersPayloadsThatAreNotItsRequestWithBadRequest(t *testing.T) {
	valid := func() []byte {
		return EncodeAnnouncement(Announcement{Pid: 1, Handlers: []string{"echo"}, WorkerID: "w"})
	}
	blockEnd := headerLength + int(polybridge.WorkerAnnouncementSbeBlockLength)
	for _, tc := range []struct {
		name, message string
		payload       []byte
		handlerRuns   bool
	}{
		{"an empty payload", "the 8-byte message header is cut short", nil, false},
		{"another schema", "payload is schema 7102 template 4, expected a polybridge.WorkerAnnouncement (schema 7101 template 4)", put16(valid(), 4, 7102), false},
		{"another message of the schema", "expected a polybridge.WorkerAnnouncement", encodeCancel(1, 2), false},
		{"another version", "payload is version 9 of schema 7101; this handler reads version 3", put16(valid(), 6, 9), false},
		{"a wrong block length", "with block length 3, expected", put16(valid(), 0, 3), false},
		{"a payload cut inside the block", "ends inside the", valid()[:blockEnd-1], false},
		{"a group count past the payload", "payload is not a valid polybridge.WorkerAnnouncement", put16(valid(), blockEnd+2, 500), false},
		{"a var data length past the payload", "payload is not a valid polybridge.WorkerAnnouncement", put16(valid(), blockEnd+4, 9000), false},
		{"bytes after the message", "3 bytes after the polybridge.WorkerAnnouncement", append(valid(), 1, 2, 3), false},
		{"the handler's own BadRequest", `worker id "bad" refused`, EncodeAnnouncement(Announcement{WorkerID: "bad"}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got := callTyped(t, typedRegistry(t, &calls), tc.payload)
			if got.code != polybridge.ErrorCode_BAD_REQUEST || !strings.Contains(got.message, tc.message) {
				t.Errorf("%v %q, want BAD_REQUEST containing %q", got.code, got.message, tc.message)
			}
			if (calls == 1) != tc.handlerRuns {
				t.Errorf("handler ran %d times", calls)
			}
		})
	}
}

func TestTypedHandlerFailuresKeepTheirCodes(t *testing.T) {
	r := NewRegistry()
	fail := func(_ context.Context, _ *polybridge.Cancel) (func(*polybridge.Response), error) {
		return nil, errors.New("no luck")
	}
	crash := func(_ context.Context, _ *polybridge.Cancel) (func(*polybridge.Response), error) {
		return func(*polybridge.Response) { panic("encoder bug") }, nil
	}
	for name, h := range map[string]TypedHandler[polybridge.Cancel, polybridge.Response]{"fail": fail, "crash": crash} {
		if err := RegisterTyped[polybridge.Cancel, polybridge.Response](r, name, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := RegisterTyped[polybridge.Cancel, polybridge.Response](r, "nil", nil); err == nil {
		t.Error("a nil typed handler was registered")
	}
	for handler, want := range map[string]polybridge.ErrorCode{"fail": polybridge.ErrorCode_HANDLER_ERROR, "crash": polybridge.ErrorCode_PANIC} {
		reply, _ := NewDispatcher(r, nil).Dispatch(encodeRequest(request{correlationID: 1, replyStreamID: 1001, handler: handler, payload: encodeCancel(3, 4)}))
		if got := mustDecodeResponse(t, reply.Frame); got.code != want {
			t.Errorf("%s: %v %q, want %v", handler, got.code, got.message, want)
		}
	}
}

// FuzzTypedDecode feeds arbitrary payloads to a typed handler: nothing may panic out of it, and
// the handler only ever sees payloads its message decodes from end to end.
func FuzzTypedDecode(f *testing.F) {
	f.Add(EncodeAnnouncement(Announcement{Pid: 1, Handlers: []string{"echo", "x"}, WorkerID: "w"}))
	f.Add(EncodeAnnouncement(Announcement{}))
	f.Add([]byte{})
	// Reads every field, as a handler would, and answers with what it read.
	h := Typed[polybridge.WorkerAnnouncement, polybridge.Response](func(_ context.Context, req *polybridge.WorkerAnnouncement) (func(*polybridge.Response), error) {
		var names []string
		for g := req.Handlers(); g.HasNext(); {
			names = append(names, g.Next().Name())
		}
		id, joined := req.WorkerId(), strings.Join(names, ",")
		if len(joined) > 1000 {
			joined = joined[:1000] // errorMessage holds at most 65534 bytes
		}
		return func(resp *polybridge.Response) {
			resp.SetCorrelationId(req.Pid()).PutErrorMessage(joined)
			resp.PutPayload(id)
		}, nil
	})
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := h.Handle(context.Background(), payload)
		if err != nil && !errors.Is(err, ErrBadRequest) {
			t.Fatalf("error %v is not BAD_REQUEST", err)
		}
		if err == nil {
			if _, derr := decodeResponse(out); derr != nil {
				t.Fatalf("response does not decode: %v", derr)
			}
		}
	})
}
