package worker

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// FuzzDispatch feeds arbitrary frames to the dispatcher: no panic may escape, and whatever
// it answers must be one well-formed Response.
func FuzzDispatch(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join(goldenDir, "*.bin"))
	malformed, _ := filepath.Glob(filepath.Join(malformedDir, "*.bin"))
	for _, path := range append(golden, malformed...) {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Add(echoFrame([]byte("ping")))
	f.Add(echoFrame(nil))
	f.Add(encodeCancel(1, 2))
	f.Add(encodeRequest(request{correlationID: 1, replyStreamID: 2, metadata: []metadataEntry{{"traceparent", "00-01"}, {"k", ""}}, handler: "echo"}))
	f.Add(encodeCancelTo(1, 2, "aeron:udp?endpoint=10.42.0.1:41000"))
	f.Add(encodeRequest(request{correlationID: 1, replyStreamID: 2, replyChannel: "aeron:udp?endpoint=[::1]:41000", handler: "echo"}))
	f.Add(put32(echoFrame([]byte("abc")), handlerLengthAt+2+4, 0xFFFFFFFF))
	f.Add(put16(echoFrame(nil), handlerLengthAt, 0xFFFF))
	f.Add(put16(echoFrame(nil), 0, 0xFFFF))
	f.Add(put16(echoFrame(nil), 6, 0))
	f.Add(echoFrame(nil)[:headerLength+requestBlockLength])
	f.Add([]byte{})
	f.Add([]byte{20, 0, 1, 0, 0xBD, 0x1B, 1, 0})

	// Payload regions: a client's request region to read, and a response region lending every
	// echo of 16 bytes or more (until it is full: then inline), so references and releases,
	// good and bad, reach real mappings.
	dir := f.TempDir()
	clientID, offset, _ := clientRegion(f, dir, 4*regionBlock, []byte("a payload in a region"))
	f.Add(regionRequest(1, 2, "echo", regionRef{clientID, offset, 21}))
	f.Add(regionRequest(1, 2, "echo", regionRef{clientID, 3 * regionBlock, regionBlock + 1}))
	f.Add(regionRequest(1, 2, "echo", regionRef{clientID + 1, 0, 1}))
	f.Add(encodeRelease(payloadRelease{correlationID: 1, replyStreamID: 2, regionID: 0x0000303A01020304}))

	d := NewDispatcher(testRegistry(f), nil)
	d.payloads.maps, d.payloads.requestIPC = newRegionMaps(dir), true
	d.payloads.region, d.payloads.threshold, d.payloads.replyIPC = newRegion(dir, 0x0000303A01020304, 16*regionBlock), 16, true
	f.Cleanup(func() { _ = d.payloads.region.close(true); _ = d.payloads.maps.close() })
	f.Fuzz(func(t *testing.T, frame []byte) {
		reply, ok := d.Dispatch(frame)
		if !ok {
			return
		}
		r, err := decodeResponse(reply.Frame)
		if err != nil {
			t.Fatalf("reply is not a valid Response: %v", err)
		}
		if r.code == polybridge.ErrorCode_OK && r.correlationID != reply.CorrelationID {
			t.Fatalf("reply frame says correlation %d, Reply says %d", r.correlationID, reply.CorrelationID)
		}
	})
}

// FuzzPool feeds arbitrary frames to the pool the worker runs, with pooled handlers that
// echo, fail and panic, and its replies to an outbox as the worker's: no panic may escape,
// every reply is one well-formed Response to a stream > 0 that is not the worker's own, every
// admitted request is answered exactly once, and the outbox never holds more than its
// --max-reply-streams publications whatever reply streams the frames name.
func FuzzPool(f *testing.F) {
	malformed, _ := filepath.Glob(filepath.Join(malformedDir, "*.bin"))
	for _, path := range malformed {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	for _, name := range []string{"echo", "fail", "panic", "deadline", "nope"} {
		f.Add(encodeRequest(request{correlationID: 5, timeoutNs: 1e9, replyStreamID: 7, handler: name, payload: []byte("x")}))
	}
	f.Add(encodeCancel(5, 7))
	f.Add(encodeRequest(request{correlationID: 5, replyStreamID: 7, replyChannel: "aeron:udp?endpoint=10.42.0.1:41000", handler: "echo", payload: []byte("x")}))
	f.Add(encodeCancelTo(5, 7, "aeron:udp?endpoint=10.42.0.1:41000"))
	for _, stream := range []int32{0, -1, 100, 10} { // never replied on: <= 0, or the worker's own
		f.Add(encodeRequest(request{correlationID: 5, replyStreamID: stream, handler: "echo", payload: []byte("x")}))
	}

	const maxStreams = 4
	out := newOutboxHarness(8, maxStreams)
	out.adder.subscribed = true
	replies := 0
	d := NewDispatcher(testRegistry(f), nil)
	d.RefuseReplyStreams(100, 10)
	p, err := NewPool(d, 2, 4, func(reply Reply) {
		replies++
		if _, err := decodeResponse(reply.Frame); err != nil {
			panic(fmt.Sprintf("reply is not a valid Response: %v", err))
		}
		if reply.StreamID <= 0 || reply.StreamID == 100 || reply.StreamID == 10 {
			panic(fmt.Sprintf("reply to stream %d", reply.StreamID))
		}
		out.publish(reply, out.now)
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close(10 * time.Second) })
	f.Fuzz(func(t *testing.T, frame []byte) {
		before := p.dispatcher.Counters.Requests.Load()
		replies = 0
		p.OnMessage(frame)
		for p.InHand() > 0 {
			<-p.Wake()
			p.Drain()
		}
		if p.dispatcher.Counters.Requests.Load() > before && replies != 1 {
			t.Fatalf("a request got %d replies", replies)
		}
		if replies > 1 {
			t.Fatalf("%d replies to one frame", replies)
		}
		out.cycle(100 * time.Millisecond)
		if n := len(out.streams) + len(out.closedAt); n > maxStreams {
			t.Fatalf("%d reply publications, more than %d", n, maxStreams)
		}
	})
}
