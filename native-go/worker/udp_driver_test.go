package worker

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lirm/aeron-go/aeron"
	"github.com/lirm/aeron-go/aeron/atomic"
	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// freeUDPPort returns a loopback UDP port nobody holds right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).Port
}

// The cross-host path on one host: the worker takes requests on a UDP endpoint, announces on a
// dynamic multi-destination-cast channel carrying that endpoint as requestChannel, and replies
// to the endpoint each request names, over UDP through the driver (the same driver here: the
// bytes still go through the loopback sockets, which is what the worker's code sees).
func TestWorkerServesOverUDPAndRepliesToTheCallersEndpoint(t *testing.T) {
	d := startMediaDriver(t)
	requestPort, replyPort, announcePort := freeUDPPort(t), freeUDPPort(t), freeUDPPort(t)
	requestChannel := fmt.Sprintf("aeron:udp?endpoint=127.0.0.1:%d", requestPort)
	replyChannel := fmt.Sprintf("aeron:udp?endpoint=127.0.0.1:%d", replyPort)
	const requestStream, controlStream, replyStream, ipcReplyStream = 4120, 4020, 4995, 4994
	blocked := HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: requestStream, ControlStream: controlStream,
		RequestChannel:     requestChannel,
		AnnounceChannel:    fmt.Sprintf("aeron:udp?control=127.0.0.1:%d|control-mode=dynamic|term-length=64k", announcePort),
		ReplyChannelParams: "term-length=64k", // the test driver's small terms; the default is 16m
		DriverTimeout:      30 * time.Second}, "block", blocked)

	InstallAeronFatalHook()
	client, err := aeron.Connect(aeron.NewContext().AeronDir(d.dir).MediaDriverTimeout(10 * time.Second).
		ErrorHandler(func(err error) { t.Logf("test client: %v", err) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	subscribe := func(channel string, stream int32) *aeron.Subscription {
		s, err := client.AddSubscription(channel, stream)
		if err != nil {
			t.Fatalf("subscribe to %s %d: %v", channel, stream, err)
		}
		return s
	}
	// A dynamic MDC subscriber names only the publisher's control endpoint.
	announcements := subscribe(fmt.Sprintf("aeron:udp?control=127.0.0.1:%d", announcePort), controlStream)
	udpReplies := subscribe(replyChannel, replyStream)
	ipcReplies := subscribe(DefaultChannel, ipcReplyStream)

	var advertised string
	announced := NewAssembler(func(m []byte, _ int32) {
		var a polybridge.WorkerAnnouncement
		a.WrapForDecode(m, uint64(headerLength), uint64(polybridge.WorkerAnnouncementSbeBlockLength), uint64(SchemaVersion), uint64(len(m)))
		for g := a.Handlers(); g.HasNext(); {
			g.Next().Name()
		}
		a.WorkerId()
		advertised = a.RequestChannel()
	})
	poll(t, 30*time.Second, func() bool { announcements.Poll(announced.FragmentHandler(), 10); return advertised != "" })
	if advertised != requestChannel {
		t.Fatalf("announced requestChannel %q, want %q", advertised, requestChannel)
	}
	requests, err := client.AddPublication(advertised, requestStream)
	if err != nil {
		t.Fatal(err)
	}
	send := func(frame []byte) {
		t.Helper()
		buf := atomic.MakeBuffer(frame)
		poll(t, 10*time.Second, func() bool { return requests.Offer(buf, 0, int32(len(frame)), nil) > 0 })
	}
	got := map[int64][]response{}
	collect := func(s *aeron.Subscription) func() {
		asm := NewAssembler(func(m []byte, _ int32) {
			r := mustDecodeResponse(t, m)
			got[r.correlationID] = append(got[r.correlationID], r)
		})
		return func() { s.Poll(asm.FragmentHandler(), 100) }
	}
	pollUDP, pollIPC := collect(udpReplies), collect(ipcReplies)
	await := func(ids ...int64) {
		t.Helper()
		poll(t, 30*time.Second, func() bool {
			pollUDP()
			pollIPC()
			for _, id := range ids {
				if len(got[id]) == 0 {
					return false
				}
			}
			return true
		})
	}

	// Echo to the caller's endpoint, exactly once each: 500 × 1 KiB, so the 64 KiB terms of
	// the exclusive reply publication rotate several times.
	const calls = 500
	payload := func(id int64) string { return fmt.Sprintf("udp-%d-%s", id, strings.Repeat("x", 1000)) }
	ids := make([]int64, 0, calls)
	for id := int64(1); id <= calls; id++ {
		send(encodeRequest(request{correlationID: id, timeoutNs: int64(time.Minute), replyStreamID: replyStream,
			replyChannel: replyChannel, handler: "echo", payload: []byte(payload(id))}))
		ids = append(ids, id)
	}
	await(ids...)

	// An invalid reply channel is answered BAD_REQUEST on the worker's own channel (IPC), and an
	// empty one means that channel too.
	send(encodeRequest(request{correlationID: 1001, replyStreamID: ipcReplyStream, replyChannel: "aeron:ipc", handler: "echo"}))
	send(encodeRequest(request{correlationID: 1002, replyStreamID: ipcReplyStream,
		replyChannel: replyChannel + "|term-length=64m", handler: "echo"}))
	send(encodeRequest(request{correlationID: 1003, replyStreamID: ipcReplyStream, handler: "echo", payload: []byte("own")}))

	// A Cancel over UDP finds the call by (channel, stream, id): the IPC-channel Cancel of the
	// same stream and id does not.
	send(encodeRequest(request{correlationID: 2001, replyStreamID: replyStream, replyChannel: replyChannel, handler: "block"}))
	poll(t, 30*time.Second, func() bool { return w.Counters.Requests.Load() == calls+2 }) // 1001, 1002 are malformed
	send(encodeCancelTo(2001, replyStream, ""))
	send(encodeCancelTo(2001, replyStream, replyChannel))
	await(1001, 1002, 1003, 2001)

	// Anything still in flight would arrive within a few more polls: none may.
	poll(t, 10*time.Second, func() bool { return w.Counters.Cancels.Load() == 2 })
	for range 100 {
		pollUDP()
		pollIPC()
		time.Sleep(time.Millisecond)
	}
	for _, id := range ids {
		r := got[id]
		if len(r) != 1 || r[0].code != polybridge.ErrorCode_OK || string(r[0].payload) != payload(id) {
			t.Fatalf("call %d answered %+v, want one OK echo", id, r)
		}
	}
	for _, id := range []int64{1001, 1002} {
		if r := got[id]; len(r) != 1 || r[0].code != polybridge.ErrorCode_BAD_REQUEST ||
			r[0].message != fmt.Sprintf("replyChannel must be empty or aeron:udp?endpoint=HOST:PORT; got %q", map[int64]string{1001: "aeron:ipc", 1002: replyChannel + "|term-length=64m"}[id]) {
			t.Errorf("call %d with an invalid reply channel answered %+v, want one BAD_REQUEST stating the rule", id, r)
		}
	}
	if r := got[1003]; len(r) != 1 || r[0].code != polybridge.ErrorCode_OK || string(r[0].payload) != "own" {
		t.Errorf("call with no reply channel answered %+v, want one OK on the worker's own channel", r)
	}
	if r := got[2001]; len(r) != 1 || r[0].code != polybridge.ErrorCode_CANCELLED {
		t.Errorf("cancelled call answered %+v, want one CANCELLED", r)
	}
	if len(got) != calls+4 {
		t.Errorf("replies to %d calls, want %d", len(got), calls+4)
	}
	if c := w.Counters; c.Cancelled.Load() != 1 || c.RepliesDropped.Load() != 0 {
		t.Errorf("cancelled %d, replies dropped %d; want 1 and 0", c.Cancelled.Load(), c.RepliesDropped.Load())
	}
	// One reply publication per (channel, stream): UDP 4995 and IPC 4994.
	if n := w.ReplyPublications(); n != 2 {
		t.Errorf("%d reply publications, want 2", n)
	}
}
