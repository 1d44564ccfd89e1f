package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// The tests in this file play the client of payload regions against a real worker and media
// driver: they write request payloads into a region file of their own (as the Java client
// does), send Requests that refer to them, read lent responses in the worker's region and
// send PayloadRelease.

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// checksumHandler is the test workers' checksum: CRC32C of the payload, 8 bytes little-endian.
var checksumHandler = HandlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, uint64(crc32.Checksum(payload, crc32c))), nil
})

func regionRequest(correlationID int64, replyStream int32, handler string, ref regionRef) []byte {
	return encodeRequest(request{correlationID: correlationID, timeoutNs: int64(30 * time.Second), replyStreamID: replyStream,
		handler: handler, region: ref})
}

// awaitRegionAnnouncement returns the region id of the worker's next announcement.
func (c *testClient) awaitRegionAnnouncement() int64 {
	c.t.Helper()
	var id int64
	seen := false
	asm := NewAssembler(func(m []byte, _ int32) { id, seen = decodeAnnouncement(c.t, m).regionID, true })
	poll(c.t, 20*time.Second, func() bool { c.control.Poll(asm.FragmentHandler(), 10); return seen })
	return id
}

// mappedRange returns where path is mapped read-only in this process (/proc/self/maps): the
// worker's mapping, not the test's own writable one.
func mappedRange(t *testing.T, path string) (start, end uintptr) {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	for s := bufio.NewScanner(f); s.Scan(); {
		line := s.Text()
		if !strings.HasSuffix(line, " "+path) {
			continue
		}
		var lo, hi uint64
		var perms string
		if _, err := fmt.Sscanf(line, "%x-%x %s", &lo, &hi, &perms); err == nil && strings.HasPrefix(perms, "r--") {
			return uintptr(lo), uintptr(hi)
		}
	}
	t.Fatalf("%s is not mapped read-only", path)
	return 0, 0
}

func TestRegionRequestsAreReadInPlaceAndLargeResponsesLentUntilReleased(t *testing.T) {
	d := startMediaDriver(t)
	var seenAt atomic.Uintptr // where the pooled handler saw its payload
	where := HandlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
		seenAt.Store(uintptr(unsafe.Pointer(unsafe.SliceData(payload))))
		return []byte("seen"), nil
	})
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4301, ControlStream: 4311, DriverTimeout: 30 * time.Second},
		"checksum", checksumHandler, "where", where)
	const replyStream = 4991
	c := newTestClient(t, d.dir, 4301, 4311, replyStream)
	if id := c.awaitRegionAnnouncement(); id == 0 || id != w.RegionID() || id>>32 != int64(os.Getpid()) {
		t.Fatalf("announced region %016x, worker's %016x: want the worker's, with its pid", id, w.RegionID())
	}

	const size = 64 << 20
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i*31 + 7)
	}
	clientID, offset, _ := clientRegion(t, d.dir, size+regionBlock, payload)
	ref := regionRef{clientID, offset, size}

	t.Run("a pooled handler reads the payload where it lies", func(t *testing.T) {
		c.send(regionRequest(1, replyStream, "where", regionRef{clientID, offset, 100}))
		if r, _ := c.awaitReply(1, 20*time.Second); r.code != polybridge.ErrorCode_OK {
			t.Fatalf("reply %v %q", r.code, r.message)
		}
		lo, hi := mappedRange(t, RegionPath(d.dir, clientID))
		at := seenAt.Load()
		if at < lo || at >= hi {
			t.Errorf("the handler saw its payload at %#x, outside the region's mapping [%#x, %#x): it was copied", at, lo, hi)
		}
	})

	t.Run("a 64 MiB echo is lent and freed by its release", func(t *testing.T) {
		c.send(regionRequest(2, replyStream, "echo", ref))
		r, took := c.awaitReply(2, 60*time.Second)
		t.Logf("64 MiB echo through the regions took %v", took)
		if r.code != polybridge.ErrorCode_OK || len(r.payload) != 0 || r.region.id != w.RegionID() || r.region.length != size {
			t.Fatalf("reply %v %q, %d inline bytes, region %+v: want OK lent in region %016x", r.code, r.message, len(r.payload), r.region, w.RegionID())
		}
		info, err := os.Stat(RegionPath(d.dir, w.RegionID()))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("the worker's region: %v, mode %v; want 0600", err, info.Mode().Perm())
		}
		maps := newRegionMaps(d.dir)
		got, mapped, err := maps.payload(r.region.id, r.region.offset, r.region.length)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload) {
			t.Error("the lent response differs from the request payload")
		}
		maps.done(mapped)
		_ = maps.close()
		if w.LentBytes() != size || w.Counters.LoanedResponses.Load() != 1 {
			t.Errorf("lent %d bytes in %d responses, want %d in 1", w.LentBytes(), w.Counters.LoanedResponses.Load(), size)
		}

		c.send(encodeRelease(payloadRelease{correlationID: 3, replyStreamID: replyStream, regionID: r.region.id, regionOffset: r.region.offset}))
		c.send(encodeRelease(payloadRelease{correlationID: 2, replyStreamID: replyStream, regionID: r.region.id + 1, regionOffset: r.region.offset}))
		poll(t, 10*time.Second, func() bool { return w.Counters.BadReleases.Load() == 2 })
		if w.LentBytes() != size {
			t.Fatal("a release naming another call or region freed the loan")
		}
		c.send(encodeRelease(payloadRelease{correlationID: 2, replyStreamID: replyStream, regionID: r.region.id, regionOffset: r.region.offset}))
		poll(t, 10*time.Second, func() bool { return w.Counters.LoanReleases.Load() == 1 && w.LentBytes() == 0 })
	})

	t.Run("a 64 MiB checksum answers the CRC32C inline", func(t *testing.T) {
		c.send(regionRequest(4, replyStream, "checksum", ref))
		r, took := c.awaitReply(4, 60*time.Second)
		t.Logf("64 MiB checksum through the region took %v", took)
		want := binary.LittleEndian.AppendUint64(nil, uint64(crc32.Checksum(payload, crc32c)))
		if r.code != polybridge.ErrorCode_OK || !bytes.Equal(r.payload, want) || r.region.id != 0 {
			t.Errorf("reply %v %q %x region %+v, want OK %x inline", r.code, r.message, r.payload, r.region, want)
		}
	})

	t.Run("bad references are answered BAD_REQUEST and the worker keeps serving", func(t *testing.T) {
		badMagicID, _, badMagic := clientRegion(t, d.dir, regionBlock, []byte("x"))
		copy(badMagic.mem, "NOREGION")
		before := w.Counters.BadRegionRefs.Load()
		for i, tc := range []struct {
			name string
			ref  regionRef
			want string
		}{
			{"out of bounds", regionRef{clientID, offset + 2*regionBlock, size}, "out of the bounds"},
			{"negative offset", regionRef{clientID, -4096, 10}, "out of the bounds"},
			{"missing file", regionRef{clientID + 1, 0, 10}, "cannot be opened"},
			{"bad magic", regionRef{badMagicID, 0, 1}, "bad magic"},
		} {
			id := int64(10 + i)
			c.send(regionRequest(id, replyStream, "checksum", tc.ref))
			r, _ := c.awaitReply(id, 20*time.Second)
			if r.code != polybridge.ErrorCode_BAD_REQUEST || !strings.Contains(r.message, tc.want) {
				t.Errorf("%s: %v %q, want BAD_REQUEST containing %q", tc.name, r.code, r.message, tc.want)
			}
		}
		if got := w.Counters.BadRegionRefs.Load() - before; got != 4 {
			t.Errorf("bad_region_refs counted %d, want 4", got)
		}
		c.send(echoRequest(20, replyStream, "still here"))
		if r, _ := c.awaitReply(20, 20*time.Second); r.code != polybridge.ErrorCode_OK || string(r.payload) != "still here" {
			t.Errorf("after the bad references: %v %q", r.code, r.payload)
		}
	})

	path := RegionPath(d.dir, w.RegionID())
	w.stop()
	<-w.done
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the worker's region is left after it stopped: %v", err)
	}
}

func TestFullRegionAnswersInlineWhenItFitsElseOverloadedAndLoansOfAGoneClientAreFreed(t *testing.T) {
	d := startMediaDriver(t)
	grow := HandlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
		return make([]byte, binary.LittleEndian.Uint32(payload)), nil
	})
	const replyTimeout = 300 * time.Millisecond
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4302, ControlStream: 4312, DriverTimeout: 30 * time.Second,
		PayloadRegionMiB: 1, MaxMessageMiB: 1, PayloadLoanThreshold: 1024, ReplyTimeout: replyTimeout}, "grow", grow)
	const replyStream = 4992
	c := newTestClient(t, d.dir, 4302, 4312, replyStream)
	c.awaitAnnouncement()
	ask := func(id int64, n uint32) response {
		t.Helper()
		c.send(encodeRequest(request{correlationID: id, replyStreamID: replyStream, handler: "grow", payload: binary.LittleEndian.AppendUint32(nil, n)}))
		r, _ := c.awaitReply(id, 20*time.Second)
		return r
	}

	whole := ask(1, 1<<20-100) // takes every block
	if whole.code != polybridge.ErrorCode_OK || whole.region.id != w.RegionID() || w.LentBytes() != 1<<20 {
		t.Fatalf("%v %q region %+v, lent %d: want the whole region lent", whole.code, whole.message, whole.region, w.LentBytes())
	}
	if r := ask(2, 5000); r.code != polybridge.ErrorCode_OK || len(r.payload) != 5000 || r.region.id != 0 {
		t.Errorf("full region, 5000 bytes: %v %q %d inline bytes, region %+v; want OK inline", r.code, r.message, len(r.payload), r.region)
	}
	// The test driver's IPC terms are 64 KiB: 100000 bytes do not fit a message.
	if r := ask(3, 100000); r.code != polybridge.ErrorCode_OVERLOADED || !strings.Contains(r.message, "payload region is full (1048576 of 1048576 bytes lent") {
		t.Errorf("full region, 100000 bytes: %v %q; want OVERLOADED naming what is lent", r.code, r.message)
	}
	if r := ask(4, 2<<20); r.code != polybridge.ErrorCode_TOO_LARGE || !strings.Contains(r.message, "--max-message-mib") {
		t.Errorf("2 MiB result over the 1 MiB max message: %v %q; want TOO_LARGE", r.code, r.message)
	}
	if got := w.Counters.RegionFull.Load(); got != 2 {
		t.Errorf("region_full %d, want 2", got)
	}

	// A client that goes away without releasing: its loans go when its reply publication is
	// closed for having had no subscriber for the reply timeout.
	gone := newTestClient(t, d.dir, 4302, 4312, 4993)
	c.send(encodeRelease(payloadRelease{correlationID: 1, replyStreamID: replyStream, regionID: whole.region.id, regionOffset: whole.region.offset}))
	poll(t, 10*time.Second, func() bool { return w.LentBytes() == 0 })
	gone.send(encodeRequest(request{correlationID: 5, replyStreamID: 4993, handler: "grow", payload: binary.LittleEndian.AppendUint32(nil, 300000)}))
	if r, _ := gone.awaitReply(5, 20*time.Second); r.region.id != w.RegionID() {
		t.Fatalf("reply %v %q region %+v: want it lent", r.code, r.message, r.region)
	}
	if err := gone.replies.Close(); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*replyTimeout+10*time.Second, func() bool { return w.LentBytes() == 0 })
}

func TestRegionReferencesOnANonIPCRequestChannelAreRefused(t *testing.T) {
	dir := t.TempDir()
	id, offset, _ := clientRegion(t, dir, regionBlock, []byte("ping"))
	d := NewDispatcher(testRegistry(t), nil)
	d.payloads.maps = newRegionMaps(dir)
	for _, tc := range []struct {
		requestIPC bool
		code       polybridge.ErrorCode
		want       string
	}{
		{false, polybridge.ErrorCode_BAD_REQUEST, "non-IPC request channel"},
		{true, polybridge.ErrorCode_OK, ""},
	} {
		d.payloads.requestIPC = tc.requestIPC
		reply, ok := d.Dispatch(regionRequest(1, 1001, "echo", regionRef{id, offset, 4}))
		r := mustDecodeResponse(t, reply.Frame)
		if !ok || r.code != tc.code || !strings.Contains(r.message, tc.want) {
			t.Errorf("request IPC %v: %v %q, want %v %q", tc.requestIPC, r.code, r.message, tc.code, tc.want)
		}
	}
	if d.payloads.maps.byID[id].inHand != 0 {
		t.Error("the mapping is still in hand after the reply")
	}
}
