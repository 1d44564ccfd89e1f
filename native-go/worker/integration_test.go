package worker

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/lirm/aeron-go/aeron"
	"github.com/lirm/aeron-go/aeron/atomic"
	"github.com/lirm/aeron-go/aeron/idlestrategy"
	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// TestWorkerAgainstMediaDriver runs a worker and a client against a real media driver.
// Opt-in: POLYBRIDGE_AERON_DIR=/dev/shm/... names the running driver's directory.
func TestWorkerAgainstMediaDriver(t *testing.T) {
	dir := os.Getenv("POLYBRIDGE_AERON_DIR")
	if dir == "" {
		t.Skip("set POLYBRIDGE_AERON_DIR to a running media driver's directory to run")
	}
	// Streams away from the defaults so a running worker does not interfere.
	const requestStream, controlStream, replyStream = 4100, 4010, 4999

	// Before any aeron.Connect in this process: the hook swaps a logger the conductors read.
	InstallAeronFatalHook()
	registry := NewRegistry()
	if err := registry.Register("echo", Echo); err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{
		AeronDir: dir, RequestStream: requestStream, ControlStream: controlStream,
		WorkerID: "go-it", AnnounceInterval: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, registry)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	client, err := aeron.Connect(aeron.NewContext().AeronDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	control, err := client.AddSubscription(DefaultChannel, controlStream)
	if err != nil {
		t.Fatal(err)
	}
	replies, err := client.AddSubscription(DefaultChannel, replyStream)
	if err != nil {
		t.Fatal(err)
	}
	requests, err := client.AddPublication(DefaultChannel, requestStream)
	if err != nil {
		t.Fatal(err)
	}

	// The worker is ready once it has announced itself.
	var announced []byte
	controlAssembler := NewAssembler(func(m []byte, _ int32) { announced = append([]byte(nil), m...) })
	poll(t, 10*time.Second, func() bool {
		control.Poll(controlAssembler.FragmentHandler(), 10)
		return announced != nil
	})
	if a := decodeAnnouncement(t, announced); a.workerID != "go-it" || a.requestStreamID != requestStream ||
		a.language != polybridge.Language_GO || len(a.handlers) != 1 || a.handlers[0] != "echo" {
		t.Fatalf("announcement %+v", a)
	}

	var got *response
	replyAssembler := NewAssembler(func(m []byte, _ int32) {
		r, err := decodeResponse(m)
		if err != nil {
			t.Errorf("bad response: %v", err)
		}
		got = &r
	})
	call := func(frame []byte) response {
		t.Helper()
		got = nil
		buf := atomic.MakeBuffer(frame)
		poll(t, 10*time.Second, func() bool { return requests.Offer(buf, 0, int32(len(frame)), nil) > 0 })
		poll(t, 10*time.Second, func() bool {
			replies.Poll(replyAssembler.FragmentHandler(), 100)
			return got != nil
		})
		return *got
	}

	big := pattern(1 << 20)
	for _, tc := range []struct {
		name    string
		frame   []byte
		code    polybridge.ErrorCode
		payload []byte
	}{
		{"echo", encodeRequest(request{1, 0, replyStream, nil, "echo", []byte("ping"), "", regionRef{}}), polybridge.ErrorCode_OK, []byte("ping")},
		{"echo 1 MiB, fragmented both ways", encodeRequest(request{2, 0, replyStream, nil, "echo", big, "", regionRef{}}), polybridge.ErrorCode_OK, big},
		{"not found", encodeRequest(request{3, 0, replyStream, nil, "nope", nil, "", regionRef{}}), polybridge.ErrorCode_NOT_FOUND, []byte{}},
		{"bad request", put16(encodeRequest(request{4, 0, replyStream, nil, "echo", nil, "", regionRef{}}), 6, 3), polybridge.ErrorCode_BAD_REQUEST, []byte{}},
	} {
		r := call(tc.frame)
		if r.code != tc.code || !bytes.Equal(r.payload, tc.payload) {
			t.Errorf("%s: got %v %q with %d payload bytes", tc.name, r.code, r.message, len(r.payload))
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop")
	}
}

func poll(t *testing.T, limit time.Duration, done func() bool) {
	t.Helper()
	idle := idlestrategy.NewDefaultBackoffIdleStrategy()
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("nothing after %v", limit)
		}
		idle.Idle(0)
	}
}
