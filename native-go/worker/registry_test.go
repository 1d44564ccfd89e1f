package worker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

func constant(s string) Handler {
	return HandlerFunc(func(context.Context, []byte) ([]byte, error) { return []byte(s), nil })
}

func TestRegistryReplaceAndRemoveChangeWhatLaterRequestsReach(t *testing.T) {
	r := NewRegistry()
	v0 := r.Version()
	if err := r.Register("a", constant("a1")); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("a", constant("again")); err == nil {
		t.Fatal("Register accepted a duplicate name; only Replace may")
	}
	if err := r.Replace("a", constant("a2")); err != nil {
		t.Fatal(err)
	}
	if err := r.Replace("b", constant("b1")); err != nil { // Replace also adds
		t.Fatal(err)
	}
	h, ok := r.Lookup([]byte("a"))
	if !ok {
		t.Fatal("a is not registered")
	}
	if got, _ := h.Handle(context.Background(), nil); string(got) != "a2" {
		t.Fatalf("a answers %q after Replace, want a2", got)
	}
	if got := strings.Join(r.Names(), ","); got != "a,b" {
		t.Fatalf("names %q, want a,b", got)
	}
	if !r.Remove("a") || r.Remove("a") {
		t.Fatal("Remove should report true once, then false")
	}
	if _, ok := r.Lookup([]byte("a")); ok {
		t.Fatal("a is still found after Remove")
	}
	if got := r.Version(); got != v0+4 { // Register, Replace, Replace, Remove; failures do not count
		t.Fatalf("version %d after four changes from %d", got, v0)
	}
}

func TestNotFoundListsTheHandlersRegisteredNow(t *testing.T) {
	r := NewRegistry()
	d := NewDispatcher(r, nil)
	if err := r.Register("later", Echo); err != nil {
		t.Fatal(err)
	}
	reply, ok := d.Dispatch(encodeRequest(request{correlationID: 1, replyStreamID: 1001, handler: "nope"}))
	if !ok {
		t.Fatal("no reply")
	}
	got := mustDecodeResponse(t, reply.Frame)
	if got.code != polybridge.ErrorCode_NOT_FOUND || !strings.Contains(got.message, "this worker serves: later") {
		t.Fatalf("NOT_FOUND should list a handler registered after the dispatcher was made: %+v", got)
	}
}

// Run with -race: the poll goroutine's lookups never lock, writers publish snapshots.
func TestRegistryChangesWhileRequestsAreServed(t *testing.T) {
	r := pooledRegistry(t, nil)
	h := newPoolHarness(t, r, 2, 64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200 {
			name := fmt.Sprintf("m%d", i%4)
			if i%3 == 0 {
				r.Remove(name)
			} else if err := r.Replace(name, constant(name)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 200 {
		h.send(int64(i), fmt.Sprintf("m%d", i%4), nil)
		h.await(i + 1)
	}
	wg.Wait()
	for _, reply := range h.replies {
		if reply.code != polybridge.ErrorCode_OK && reply.code != polybridge.ErrorCode_NOT_FOUND {
			t.Fatalf("a request during registry changes got %+v", reply)
		}
	}
}

func TestHandlersSeeTheirRequestInfo(t *testing.T) {
	infos := make(chan RequestInfo, 2)
	record := HandlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		info, ok := RequestInfoFrom(ctx)
		if !ok {
			return nil, fmt.Errorf("no RequestInfo in the handler's context")
		}
		infos <- info
		return payload, nil
	})
	r := NewRegistry()
	if err := r.Register("pooled", record); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterInline("inline", record); err != nil {
		t.Fatal(err)
	}
	h := newPoolHarness(t, r, 1, 4)
	h.send(41, "pooled", nil)
	h.await(1)
	h.send(42, "inline", nil)
	h.await(2)
	for _, want := range []RequestInfo{{"pooled", 41, 1001}, {"inline", 42, 1001}} {
		if got := <-infos; got != want {
			t.Fatalf("RequestInfo %+v, want %+v", got, want)
		}
	}
	if _, ok := RequestInfoFrom(context.Background()); ok {
		t.Fatal("RequestInfoFrom found info in a plain context")
	}
}
