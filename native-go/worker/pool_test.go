package worker

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// poolHarness drives a Pool from the test goroutine, which plays the poll goroutine.
type poolHarness struct {
	t       *testing.T
	pool    *Pool
	replies []response
}

func newPoolHarness(t *testing.T, r *Registry, size, queueDepth int) *poolHarness {
	t.Helper()
	h := &poolHarness{t: t}
	p, err := NewPool(NewDispatcher(r, nil), size, queueDepth, func(reply Reply) {
		got := mustDecodeResponse(t, reply.Frame) // the frame is only valid during the call
		if got.correlationID != reply.CorrelationID || reply.StreamID != 1001 {
			t.Errorf("reply to stream %d for %d carries correlation %d", reply.StreamID, reply.CorrelationID, got.correlationID)
		}
		h.replies = append(h.replies, got)
	})
	if err != nil {
		t.Fatal(err)
	}
	h.pool = p
	t.Cleanup(func() { p.Close(10 * time.Second) })
	return h
}

func (h *poolHarness) send(id int64, handler string, payload []byte) {
	h.pool.OnMessage(encodeRequest(request{correlationID: id, replyStreamID: 1001, handler: handler, payload: payload}))
}

// await drains until n replies have arrived in all. The limit only turns a hang into a failure.
func (h *poolHarness) await(n int) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(h.replies) < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d replies after 10s, want %d: %+v", len(h.replies), n, h.replies)
		}
		select {
		case <-h.pool.Wake():
		case <-time.After(time.Millisecond):
		}
		h.pool.Drain()
	}
}

func (h *poolHarness) reply(id int64) response {
	h.t.Helper()
	for _, r := range h.replies {
		if r.correlationID == id {
			return r
		}
	}
	h.t.Fatalf("no reply for %d in %+v", id, h.replies)
	return response{}
}

// gate is a handler that blocks until released (or its context ends) and records what it saw.
type gate struct {
	started chan struct{}
	release chan struct{}
	calls   atomic.Int32
	cause   atomic.Value
}

func newGate() *gate { return &gate{started: make(chan struct{}, 16), release: make(chan struct{})} }

func (g *gate) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	g.calls.Add(1)
	g.started <- struct{}{}
	select {
	case <-g.release:
		return append([]byte("done:"), payload...), nil
	case <-ctx.Done():
		g.cause.Store(context.Cause(ctx))
		return nil, ctx.Err()
	}
}

func pooledRegistry(t *testing.T, extra map[string]Handler) *Registry {
	t.Helper()
	r := NewRegistry()
	if err := r.Register("echo", Echo); err != nil {
		t.Fatal(err)
	}
	for name, h := range extra {
		if err := r.Register(name, h); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestPoolRunsHandlersOffThePollGoroutineOnACopyOfThePayload(t *testing.T) {
	g := newGate()
	h := newPoolHarness(t, pooledRegistry(t, map[string]Handler{"gate": g}), 2, 4)
	frame := encodeRequest(request{correlationID: 1, replyStreamID: 1001, handler: "gate", payload: []byte("abc")})
	h.pool.OnMessage(frame) // returns while the handler is blocked
	<-g.started
	copy(frame[len(frame)-3:], "XYZ") // the term buffer is reused after the poll callback

	h.send(2, "echo", []byte("while gate blocks"))
	h.await(1)
	if r := h.reply(2); r.code != polybridge.ErrorCode_OK || string(r.payload) != "while gate blocks" {
		t.Fatalf("echo behind a blocked handler: %+v", r)
	}
	close(g.release)
	h.await(2)
	if r := h.reply(1); string(r.payload) != "done:abc" {
		t.Errorf("handler saw %q, want its own copy of abc", r.payload)
	}
	if h.pool.InHand() != 0 {
		t.Errorf("%d requests still in hand", h.pool.InHand())
	}
}

func TestPoolAnswersOverloadedWhenTheQueueIsFull(t *testing.T) {
	g := newGate()
	h := newPoolHarness(t, pooledRegistry(t, map[string]Handler{"gate": g}), 1, 1)
	h.send(1, "gate", nil) // running
	<-g.started
	h.send(2, "gate", nil) // queued
	h.send(3, "gate", nil) // no room
	if len(h.replies) != 1 || h.replies[0].correlationID != 3 || h.replies[0].code != polybridge.ErrorCode_OVERLOADED {
		t.Fatalf("replies %+v, want OVERLOADED for 3 at once", h.replies)
	}
	if !strings.Contains(h.replies[0].message, "queue full") {
		t.Errorf("message %q", h.replies[0].message)
	}
	close(g.release)
	h.await(3)
	if h.reply(1).code != polybridge.ErrorCode_OK || h.reply(2).code != polybridge.ErrorCode_OK {
		t.Errorf("admitted requests: %+v", h.replies)
	}
	if h.pool.dispatcher.Counters.Overloaded.Load() != 1 {
		t.Errorf("Overloaded = %d", h.pool.dispatcher.Counters.Overloaded.Load())
	}
}

func TestCancelAnswersAQueuedRequestCancelledWithoutRunningIt(t *testing.T) {
	g := newGate()
	var counted atomic.Int32
	h := newPoolHarness(t, pooledRegistry(t, map[string]Handler{
		"gate": g,
		"count": HandlerFunc(func(context.Context, []byte) ([]byte, error) {
			counted.Add(1)
			return nil, nil
		}),
	}), 1, 4)
	h.send(1, "gate", nil)
	<-g.started
	h.send(2, "count", nil)
	h.pool.OnMessage(encodeCancel(2, 1001))
	h.pool.OnMessage(encodeCancel(2, 9999)) // another client's id 2: not ours to cancel
	close(g.release)
	h.send(3, "echo", nil)
	h.await(2)
	for h.pool.InHand() > 0 {
		h.await(len(h.replies))
		h.pool.Drain()
	}
	if counted.Load() != 0 {
		t.Error("cancelled queued request ran")
	}
	answers := 0
	for _, r := range h.replies {
		if r.correlationID == 2 {
			answers++
			if r.code != polybridge.ErrorCode_CANCELLED {
				t.Errorf("cancelled request answered %+v, want CANCELLED", r)
			}
		}
	}
	if answers != 1 {
		t.Errorf("cancelled request answered %d times, want once (the client frees its window slot on it)", answers)
	}
	c := h.pool.dispatcher.Counters
	if c.Cancels.Load() != 2 || c.Cancelled.Load() != 1 {
		t.Errorf("Cancels %d Cancelled %d, want 2 and 1", c.Cancels.Load(), c.Cancelled.Load())
	}
}

func TestCancelReachesARunningHandlerThroughItsContext(t *testing.T) {
	g := newGate()
	h := newPoolHarness(t, pooledRegistry(t, map[string]Handler{"gate": g}), 1, 1)
	h.send(1, "gate", nil)
	<-g.started
	h.pool.OnMessage(encodeCancel(1, 1001))
	for h.pool.InHand() > 0 {
		<-h.pool.Wake()
		h.pool.Drain()
	}
	if cause := g.cause.Load(); cause != ErrCancelledByCaller {
		t.Errorf("handler's context cause %v, want ErrCancelledByCaller", cause)
	}
	if len(h.replies) != 1 || h.replies[0].code != polybridge.ErrorCode_CANCELLED {
		t.Errorf("cancelled running request answered %+v, want one CANCELLED", h.replies)
	}
	h.send(2, "echo", []byte("still serving"))
	h.await(1)
}

func TestPooledHandlerOutcomes(t *testing.T) {
	h := newPoolHarness(t, pooledRegistry(t, map[string]Handler{
		"fail": HandlerFunc(func(context.Context, []byte) ([]byte, error) { return nil, errors.New("boom") }),
		"panic": HandlerFunc(func(context.Context, []byte) ([]byte, error) {
			var m map[string]int
			m["x"] = 1
			return nil, nil
		}),
		"reject": HandlerFunc(func(context.Context, []byte) ([]byte, error) {
			return nil, BadRequest("payload of %d bytes is not a FooRequest", 3)
		}),
		"deadline": HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}),
	}), 2, 8)
	h.send(1, "fail", nil)
	h.send(2, "panic", nil)
	h.send(3, "reject", []byte("abc"))
	h.pool.OnMessage(encodeRequest(request{correlationID: 4, timeoutNs: int64(time.Millisecond), replyStreamID: 1001, handler: "deadline"}))
	h.send(5, "nope", nil)
	h.send(6, "echo", []byte("after all that"))
	h.await(6)
	for id, want := range map[int64]struct {
		code    polybridge.ErrorCode
		message string
	}{
		1: {polybridge.ErrorCode_HANDLER_ERROR, "boom"},
		2: {polybridge.ErrorCode_PANIC, "handler 'panic' panicked: assignment to entry in nil map"},
		3: {polybridge.ErrorCode_BAD_REQUEST, "payload of 3 bytes is not a FooRequest"},
		4: {polybridge.ErrorCode_TIMEOUT, "the caller's deadline passed"},
		5: {polybridge.ErrorCode_NOT_FOUND, "no handler named 'nope'"},
		6: {polybridge.ErrorCode_OK, ""},
	} {
		r := h.reply(id)
		if r.code != want.code || !strings.Contains(r.message, want.message) {
			t.Errorf("request %d: %v %q, want %v containing %q", id, r.code, r.message, want.code, want.message)
		}
	}
}

func TestClosingThePoolAnswersWhatIsInHand(t *testing.T) {
	g := newGate()
	h := newPoolHarness(t, pooledRegistry(t, map[string]Handler{"gate": g}), 1, 4)
	h.send(1, "gate", nil) // running: sees ErrWorkerStopping
	<-g.started
	h.send(2, "gate", nil) // queued: answered without running
	if left := h.pool.Close(10 * time.Second); left != 0 {
		t.Fatalf("%d requests left after Close", left)
	}
	for _, id := range []int64{1, 2} {
		if r := h.reply(id); r.code != polybridge.ErrorCode_WORKER_UNAVAILABLE {
			t.Errorf("request %d: %v %q, want WORKER_UNAVAILABLE", id, r.code, r.message)
		}
	}
	if g.calls.Load() != 1 {
		t.Errorf("handler ran %d times, want 1", g.calls.Load())
	}
}

func TestStopAnswersQueuedRequestsAtOnceWhileAHandlerIgnoresItsContext(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	stuck := HandlerFunc(func(context.Context, []byte) ([]byte, error) { // like a library call that cannot be interrupted
		started <- struct{}{}
		<-release
		return []byte("late"), nil
	})
	h := newPoolHarness(t, pooledRegistry(t, map[string]Handler{"stuck": stuck}), 1, 4)
	h.send(1, "stuck", nil)
	<-started
	h.send(2, "stuck", nil)
	h.send(3, "stuck", nil)
	h.pool.Stop() // the only pool goroutine is busy: the poll goroutine answers the queue itself
	if len(h.replies) != 2 {
		t.Fatalf("%d replies right after Stop, want the 2 queued ones", len(h.replies))
	}
	for _, id := range []int64{2, 3} {
		if r := h.reply(id); r.code != polybridge.ErrorCode_WORKER_UNAVAILABLE {
			t.Errorf("request %d: %v %q, want WORKER_UNAVAILABLE", id, r.code, r.message)
		}
	}
	close(release)
	h.await(3)
	if r := h.reply(1); r.code != polybridge.ErrorCode_OK || h.pool.InHand() != 0 {
		t.Errorf("the running request: %v %q, %d in hand", r.code, r.message, h.pool.InHand())
	}
}

func TestInlineHandlersRunOnThePollGoroutineOnTheFrameItself(t *testing.T) {
	var seen []byte
	r := NewRegistry()
	_ = r.RegisterInline("look", HandlerFunc(func(_ context.Context, p []byte) ([]byte, error) { seen = p; return nil, nil }))
	h := newPoolHarness(t, r, 1, 1)
	frame := encodeRequest(request{correlationID: 1, replyStreamID: 1001, handler: "look", payload: []byte("xyz")})
	h.pool.OnMessage(frame)
	if len(h.replies) != 1 || len(seen) != 3 || &seen[0] != &frame[len(frame)-3] {
		t.Fatalf("inline handler did not run synchronously on a view of the frame")
	}
}

func TestPoolRejectsBadSizes(t *testing.T) {
	d := NewDispatcher(NewRegistry(), nil)
	if _, err := NewPool(d, 0, 1, func(Reply) {}); err == nil {
		t.Error("pool of 0 goroutines accepted")
	}
	if _, err := NewPool(d, 1, -1, func(Reply) {}); err == nil {
		t.Error("negative queue accepted")
	}
}
