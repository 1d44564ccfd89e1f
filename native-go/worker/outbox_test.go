package worker

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/lirm/aeron-go/aeron"
	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// fakePub is a reply publication whose subscriber, back pressure and size limit the test sets.
type fakePub struct {
	subscriber    bool // a subscriber is there: offers succeed unless back pressured
	backPressured bool
	limited       bool // a slow subscriber: room frames fit in the log before back pressure
	room          int  // the test adds room as the subscriber reads
	maxLength     int  // 0: any length
	closed        bool
	sent          []int64 // correlation ids of the frames published, in order
	codes         []polybridge.ErrorCode
	position      int64
}

func (p *fakePub) Offer(frame []byte) (int64, error) {
	switch {
	case p.closed:
		return aeron.PublicationClosed, nil
	case p.maxLength > 0 && len(frame) > p.maxLength:
		return 0, &tooLargeError{cause: fmt.Sprintf("%d > %d", len(frame), p.maxLength)}
	case !p.subscriber:
		return aeron.NotConnected, nil
	case p.backPressured, p.limited && p.room <= 0:
		return aeron.BackPressured, nil
	}
	p.room--
	r, err := decodeResponse(frame)
	if err != nil {
		panic(fmt.Sprintf("published frame is not a Response: %v", err))
	}
	p.sent = append(p.sent, r.correlationID)
	p.codes = append(p.codes, r.code)
	p.position += int64(len(frame))
	return p.position, nil
}

func (p *fakePub) IsConnected() bool { return !p.closed && p.subscriber }
func (p *fakePub) Close() error      { p.closed = true; return nil }

// fakeAdder hands out fakePubs: one per channel and stream, configured through pub (the
// worker's own channel) or pubOn before or after the add.
type fakeAdder struct {
	pubs       map[replyKey]*fakePub
	pending    map[int64]replyKey // registration -> channel and stream, for adds not completed yet
	next       int64
	adds       int
	slow       bool  // adds stay in progress until slow is cleared
	subscribed bool  // new publications have a subscriber
	addErr     error // AddPublication fails
	driverErr  error // the add completes with this error
}

func newFakeAdder() *fakeAdder {
	return &fakeAdder{pubs: map[replyKey]*fakePub{}, pending: map[int64]replyKey{}}
}

func (a *fakeAdder) pub(stream int32) *fakePub { return a.pubOn("", stream) }

func (a *fakeAdder) pubOn(channel string, stream int32) *fakePub {
	key := replyKey{channel, stream}
	p := a.pubs[key]
	if p == nil {
		p = &fakePub{subscriber: a.subscribed}
		a.pubs[key] = p
	}
	return p
}

func (a *fakeAdder) AddPublication(channel string, streamID int32) (int64, error) {
	stream := replyKey{channel, streamID}
	if a.addErr != nil {
		return 0, a.addErr
	}
	a.next++
	a.adds++
	a.pending[a.next] = stream
	if p := a.pubs[stream]; p != nil && p.closed { // re-added after a close: a new publication
		a.pubs[stream] = &fakePub{subscriber: p.subscriber}
	}
	return a.next, nil
}

func (a *fakeAdder) Publication(channel string, registrationID int64) (replyPublication, error) {
	stream, ok := a.pending[registrationID]
	if !ok || stream.channel != channel {
		return nil, errors.New("unknown registration")
	}
	if a.slow {
		return nil, nil
	}
	delete(a.pending, registrationID)
	if a.driverErr != nil {
		return nil, a.driverErr
	}
	return a.pubOn(stream.channel, stream.streamID), nil
}

type outboxHarness struct {
	*outbox
	adder    *fakeAdder
	counters *Counters
	now      time.Time
}

func newOutboxHarness(queueLen, maxStreams int) *outboxHarness {
	h := &outboxHarness{adder: newFakeAdder(), counters: new(Counters), now: time.Unix(1_000_000, 0)}
	h.outbox = newOutbox(h.adder, h.counters, slog.New(slog.NewTextHandler(io.Discard, nil)), queueLen, time.Second, maxStreams)
	return h
}

func (h *outboxHarness) send(stream int32, correlationID int64) {
	h.sendSized(stream, correlationID, len("reply"))
}

// sendSized publishes a reply with a payload of size bytes.
func (h *outboxHarness) sendSized(stream int32, correlationID int64, size int) {
	frame := writeResponse(nil, correlationID, polybridge.ErrorCode_OK, "", make([]byte, size))
	h.publish(Reply{StreamID: stream, CorrelationID: correlationID, Frame: frame}, h.now)
}

// longest is the most replies one stream holds.
func (h *outboxHarness) longest() int {
	n := 0
	for _, rs := range h.streams {
		n = max(n, rs.n)
	}
	return n
}

// cycle advances the clock and runs what one duty cycle runs.
func (h *outboxHarness) cycle(d time.Duration) {
	h.now = h.now.Add(d)
	h.flush(h.now)
	h.housekeep(h.now)
}

func (h *outboxHarness) accountedFor(t *testing.T, published int) {
	t.Helper()
	if got := int(h.counters.Replies.Load()+h.counters.RepliesDropped.Load()) + h.queued; got != published {
		t.Errorf("replies %d + dropped %d + queued %d = %d, want the %d published",
			h.counters.Replies.Load(), h.counters.RepliesDropped.Load(), h.queued, got, published)
	}
}

func TestOutboxReplyToAStreamWithoutSubscriberDoesNotHoldBackOthers(t *testing.T) {
	h := newOutboxHarness(8, 8)
	h.adder.pub(1000).subscriber = true
	// Nobody subscribes to 2000. The old worker retried its reply for the whole reply timeout
	// inside the poll loop; now it waits in 2000's outbox while 1000 is served.
	h.send(2000, 1)
	h.send(1000, 2)
	h.cycle(time.Millisecond) // the adds complete
	if sent := h.adder.pub(1000).sent; len(sent) != 1 || sent[0] != 2 {
		t.Fatalf("stream 1000 got %v one duty cycle later, want [2]", sent)
	}
	if h.counters.RepliesDropped.Load() != 0 || h.queued != 1 {
		t.Fatalf("dropped %d, queued %d before the reply timeout; want 0 and 1", h.counters.RepliesDropped.Load(), h.queued)
	}
	h.cycle(time.Second)
	if h.counters.RepliesDropped.Load() != 1 || h.counters.Replies.Load() != 1 {
		t.Errorf("after the reply timeout: replies %d, dropped %d; want 1 and 1", h.counters.Replies.Load(), h.counters.RepliesDropped.Load())
	}
	if !h.adder.pub(2000).closed || h.adder.pub(1000).closed {
		t.Errorf("closed: 2000 %v, 1000 %v; want only the one without a subscriber", h.adder.pub(2000).closed, h.adder.pub(1000).closed)
	}
	if h.gauge.Load() != 1 {
		t.Errorf("%d reply publications, want 1", h.gauge.Load())
	}
	h.accountedFor(t, 2)
}

func TestOutboxOutcomes(t *testing.T) {
	type step struct {
		send    []int64 // correlation ids published now, on stream 7
		set     func(p *fakePub)
		advance time.Duration
	}
	for _, tc := range []struct {
		name        string
		steps       []step
		wantSent    []int64
		wantDropped uint64
		wantQueued  int
	}{
		{name: "connected: published in order",
			steps:    []step{{set: func(p *fakePub) { p.subscriber = true }, send: []int64{1, 2, 3}}, {advance: time.Millisecond}},
			wantSent: []int64{1, 2, 3}},
		{name: "back pressure relieved within the reply timeout: published in order",
			steps: []step{
				{set: func(p *fakePub) { p.subscriber, p.backPressured = true, true }, send: []int64{1, 2}},
				{advance: 500 * time.Millisecond, send: []int64{3}},
				{set: func(p *fakePub) { p.backPressured = false }, advance: 400 * time.Millisecond},
			},
			wantSent: []int64{1, 2, 3}},
		{name: "no progress for the reply timeout: dropped",
			steps: []step{
				{set: func(p *fakePub) { p.subscriber, p.backPressured = true, true }, send: []int64{1, 2}},
				{advance: 999 * time.Millisecond, send: []int64{3}},
				{advance: time.Millisecond},
			},
			wantDropped: 3},
		{name: "slow but progressing past the reply timeout: nothing dropped",
			steps: []step{
				{set: func(p *fakePub) { p.subscriber, p.limited = true, true }, send: []int64{1, 2, 3}},
				{advance: 900 * time.Millisecond, set: func(p *fakePub) { p.room = 1 }},
				{advance: 900 * time.Millisecond, set: func(p *fakePub) { p.room = 1 }},
				{advance: 900 * time.Millisecond, set: func(p *fakePub) { p.room = 1 }},
			},
			wantSent: []int64{1, 2, 3}},
		{name: "never connected within the reply timeout: dropped",
			steps: []step{
				{send: []int64{1, 2}},
				{advance: time.Second},
			},
			wantDropped: 2},
		{name: "late subscriber within the reply timeout: published",
			steps: []step{
				{send: []int64{1}},
				{advance: 900 * time.Millisecond, set: func(p *fakePub) { p.subscriber = true }},
				{advance: time.Millisecond},
			},
			wantSent: []int64{1}},
		{name: "subscriber gone: dropped at once",
			steps: []step{
				{set: func(p *fakePub) { p.subscriber = true }, send: []int64{1}},
				{advance: time.Millisecond, set: func(p *fakePub) { p.subscriber = false }, send: []int64{2, 3}},
			},
			wantSent: []int64{1}, wantDropped: 2},
		{name: "more than --reply-queue: nothing is dropped (intake pauses instead)",
			steps: []step{
				{set: func(p *fakePub) { p.subscriber, p.backPressured = true, true }, send: []int64{1, 2, 3, 4, 5, 6}},
				{advance: time.Millisecond, set: func(p *fakePub) { p.backPressured = false }},
				{advance: time.Millisecond},
			},
			wantSent: []int64{1, 2, 3, 4, 5, 6}},
		{name: "publication closed under us: dropped",
			steps: []step{
				{set: func(p *fakePub) { p.subscriber = true }, send: []int64{1}},
				{advance: time.Millisecond, set: func(p *fakePub) { p.closed = true }, send: []int64{2}},
			},
			wantSent: []int64{1}, wantDropped: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newOutboxHarness(4, 8)
			pub := h.adder.pub(7)
			published := 0
			for i, s := range tc.steps {
				if s.advance > 0 {
					h.cycle(s.advance)
				}
				if s.set != nil {
					s.set(pub)
				}
				for _, id := range s.send {
					h.send(7, id)
					published++
				}
				if i == 0 {
					h.cycle(0) // the add completes on the first flush
				}
			}
			h.cycle(0)
			if fmt.Sprint(pub.sent) != fmt.Sprint(tc.wantSent) {
				t.Errorf("published %v, want %v", pub.sent, tc.wantSent)
			}
			if h.counters.RepliesDropped.Load() != tc.wantDropped || h.queued != tc.wantQueued {
				t.Errorf("dropped %d, queued %d; want %d and %d", h.counters.RepliesDropped.Load(), h.queued, tc.wantDropped, tc.wantQueued)
			}
			h.accountedFor(t, published)
		})
	}
}

func TestOutboxPausesIntakeOverTheReplyQueueAndResumesAtHalf(t *testing.T) {
	h := newOutboxHarness(8, 8)
	pub := h.adder.pub(7)
	pub.subscriber, pub.limited, pub.room = true, true, 1
	h.send(7, 0)
	h.cycle(time.Millisecond) // the add completes, 0 is published, the log is full
	for id := int64(1); id <= 8; id++ {
		h.send(7, id)
	}
	if h.intakePaused() {
		t.Fatalf("intake paused at %d replies queued, --reply-queue 8", h.queued)
	}
	h.send(7, 9)
	if !h.intakePaused() || h.pauses.Load() != 1 {
		t.Fatalf("intake paused %v (%d pauses) at %d replies queued, want paused once over --reply-queue 8",
			h.intakePaused(), h.pauses.Load(), h.queued)
	}
	h.send(7, 10) // a pooled handler that was running when intake paused: still queued
	for _, step := range []struct {
		room       int
		wantPaused bool
	}{{3, true}, {2, true}, {1, false}} { // 10 queued: 7 and 5 are above half of 8, 4 is not
		pub.room = step.room
		h.cycle(time.Millisecond)
		if h.intakePaused() != step.wantPaused {
			t.Fatalf("%d replies queued: intake paused %v, want %v", h.queued, h.intakePaused(), step.wantPaused)
		}
	}
	pub.limited = false
	h.cycle(time.Millisecond)
	if h.counters.RepliesDropped.Load() != 0 || len(pub.sent) != 11 {
		t.Errorf("dropped %d, published %d; want 0 and 11", h.counters.RepliesDropped.Load(), len(pub.sent))
	}
	if paused := h.intakePausedFor(h.now); paused != 3*time.Millisecond {
		t.Errorf("intake paused for %v in all, want 3ms", paused)
	}
	h.accountedFor(t, 11)
}

func TestOutboxPausesIntakeOverTheByteBudget(t *testing.T) {
	h := newOutboxHarness(1000, 8)
	h.maxBytes = 10_000
	for _, stream := range []int32{7, 8} { // the budget is over all streams together
		pub := h.adder.pub(stream)
		pub.subscriber, pub.backPressured = true, true
	}
	for id := int64(0); h.bytes <= h.maxBytes; id++ {
		if h.intakePaused() {
			t.Fatalf("intake paused at %d bytes queued, budget %d", h.bytes, h.maxBytes)
		}
		h.sendSized(7+int32(id%2), id, 900)
	}
	if !h.intakePaused() {
		t.Fatalf("intake not paused at %d bytes queued, budget %d", h.bytes, h.maxBytes)
	}
	h.adder.pub(8).backPressured = false // 8's 5 replies go: 7's 6 are still more than half
	h.cycle(time.Millisecond)
	if !h.intakePaused() || h.bytes <= h.maxBytes/2 {
		t.Fatalf("intake paused %v at %d bytes queued, want paused above %d", h.intakePaused(), h.bytes, h.maxBytes/2)
	}
	h.adder.pub(7).limited, h.adder.pub(7).backPressured = true, false
	h.adder.pub(7).room = 1
	h.cycle(time.Millisecond)
	if h.intakePaused() {
		t.Errorf("intake still paused at %d bytes queued, budget %d", h.bytes, h.maxBytes)
	}
	if h.counters.RepliesDropped.Load() != 0 {
		t.Errorf("%d replies dropped, want none", h.counters.RepliesDropped.Load())
	}
}

// A client that reads slowly but steadily, much slower than the worker answers: replies wait in
// the outbox far longer than the reply timeout, intake pauses and resumes, none is lost, and
// the outbox never holds much more than its budget.
func TestOutboxSlowButProgressingSubscriberNeverLosesAReply(t *testing.T) {
	for _, tc := range []struct {
		name      string
		queueLen  int
		maxBytes  int
		replySize int
	}{
		{"over --reply-queue", 256, maxQueuedReplyBytes, 100},
		{"over the byte budget", 100_000, 1 << 20, 32 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const inHand = 16 // replies that reach the outbox per duty cycle: one poll's fragments
			h := newOutboxHarness(tc.queueLen, 8)
			h.maxBytes = tc.maxBytes
			pub := h.adder.pub(7)
			pub.subscriber, pub.limited = true, true
			published, longest, most, pausedCycles := 0, 0, 0, 0
			for cycle := range 6000 { // 60 s of 10 ms duty cycles
				if !h.intakePaused() {
					for range inHand {
						h.sendSized(7, int64(published), tc.replySize)
						published++
					}
				} else {
					pausedCycles++
				}
				longest, most = max(longest, h.longest()), max(most, h.bytes)
				if cycle%50 == 0 { // every 500 ms the subscriber reads a few replies: slow, but never stuck
					pub.room += 20
				}
				h.cycle(10 * time.Millisecond)
			}
			t.Logf("%d replies published, %d sent, longest queue %d, most bytes %d, %d pauses, paused %d of 6000 cycles",
				published, len(pub.sent), longest, most, h.pauses.Load(), pausedCycles)
			if h.counters.RepliesDropped.Load() != 0 {
				t.Errorf("%d replies dropped from a slow but progressing subscriber", h.counters.RepliesDropped.Load())
			}
			if h.pauses.Load() == 0 || pausedCycles < 3000 {
				t.Errorf("intake paused %d times, for %d of 6000 cycles; want it paused most of the time", h.pauses.Load(), pausedCycles)
			}
			if longest > tc.queueLen+inHand || most > tc.maxBytes+inHand*(tc.replySize+64) {
				t.Errorf("the outbox held up to %d replies and %d bytes, want at most the budget (%d, %d) and one cycle's replies",
					longest, most, tc.queueLen, tc.maxBytes)
			}
			for i, id := range pub.sent {
				if id != int64(i) {
					t.Fatalf("reply %d published as number %d: out of order", id, i)
				}
			}
			h.accountedFor(t, published)
		})
	}
}

// A stream that makes no progress (a SIGSTOPped client, or a SIGKILLed one whose image lingers)
// loses its replies after the reply timeout, and intake resumes; its later replies are dropped
// at once, without pausing intake again, until it makes progress again.
func TestOutboxStuckStreamIsDroppedAfterTheReplyTimeoutAndIntakeResumes(t *testing.T) {
	h := newOutboxHarness(8, 8)
	stuck, other := h.adder.pub(7), h.adder.pub(8)
	stuck.subscriber, other.subscriber = true, true
	h.send(7, 0)
	h.send(8, 0)
	h.cycle(time.Millisecond)
	stuck.backPressured = true
	for id := int64(1); id <= 9; id++ {
		h.send(7, id)
	}
	if !h.intakePaused() {
		t.Fatal("intake not paused with 9 replies queued, --reply-queue 8")
	}
	h.cycle(999 * time.Millisecond)
	if !h.intakePaused() || h.counters.RepliesDropped.Load() != 0 {
		t.Fatalf("before the reply timeout: intake paused %v, %d dropped; want paused, none dropped",
			h.intakePaused(), h.counters.RepliesDropped.Load())
	}
	h.cycle(time.Millisecond)
	if h.intakePaused() || h.counters.RepliesDropped.Load() != 9 {
		t.Fatalf("after the reply timeout: intake paused %v, %d dropped; want resumed, 9 dropped",
			h.intakePaused(), h.counters.RepliesDropped.Load())
	}
	h.send(7, 10) // still stuck: dropped at once, intake does not pause again
	h.send(8, 1)  // the other client is served meanwhile
	if h.counters.RepliesDropped.Load() != 10 || h.queued != 0 || len(other.sent) != 2 {
		t.Errorf("dropped %d, queued %d, other stream got %d; want 10, 0, 2",
			h.counters.RepliesDropped.Load(), h.queued, len(other.sent))
	}
	stuck.backPressured = false // it runs again: its next reply goes, and it is not stalled any more
	h.send(7, 11)
	stuck.backPressured = true
	h.send(7, 12)
	h.cycle(500 * time.Millisecond)
	if fmt.Sprint(stuck.sent) != "[0 11]" || h.queued != 1 || h.counters.RepliesDropped.Load() != 10 {
		t.Errorf("stuck stream got %v, %d queued, %d dropped; want [0 11], 1, 10", stuck.sent, h.queued, h.counters.RepliesDropped.Load())
	}
	h.accountedFor(t, 15)
}

// A subscriber that goes away while its replies fill the outbox loses them at once, and intake
// resumes at once: nothing waits for the reply timeout.
func TestOutboxSubscriberGoneDropsItsRepliesAtOnceAndIntakeResumes(t *testing.T) {
	h := newOutboxHarness(8, 8)
	pub := h.adder.pub(7)
	pub.subscriber = true
	h.send(7, 0)
	h.cycle(time.Millisecond)
	pub.backPressured = true
	for id := int64(1); id <= 9; id++ {
		h.send(7, id)
	}
	pub.subscriber = false
	h.cycle(time.Millisecond)
	if h.intakePaused() || h.counters.RepliesDropped.Load() != 9 || h.queued != 0 {
		t.Errorf("intake paused %v, %d dropped, %d queued; want resumed, 9, 0", h.intakePaused(), h.counters.RepliesDropped.Load(), h.queued)
	}
	h.send(7, 10)
	if h.counters.RepliesDropped.Load() != 10 || h.queued != 0 {
		t.Errorf("a reply after the subscriber left: %d dropped, %d queued; want 10, 0", h.counters.RepliesDropped.Load(), h.queued)
	}
	h.accountedFor(t, 11)
}

func TestOutboxTooLargeReplyBecomesATooLargeResponse(t *testing.T) {
	h := newOutboxHarness(4, 8)
	pub := h.adder.pub(7)
	pub.subscriber, pub.maxLength = true, 200
	h.send(7, 1) // queued: the add is in progress
	h.cycle(0)
	big := writeResponse(nil, 2, polybridge.ErrorCode_OK, "", make([]byte, 500))
	h.publish(Reply{StreamID: 7, CorrelationID: 2, Frame: big}, h.now)
	if len(pub.sent) != 2 || pub.sent[1] != 2 || pub.codes[1] != polybridge.ErrorCode_TOO_LARGE {
		t.Fatalf("published %v with codes %v, want [1 2], the second TOO_LARGE", pub.sent, pub.codes)
	}
	if h.counters.Replies.Load() != 2 {
		t.Errorf("Replies = %d, want 2", h.counters.Replies.Load())
	}
}

func TestOutboxBoundsReplyPublicationsAgainstAFlood(t *testing.T) {
	const maxStreams = 16
	h := newOutboxHarness(4, maxStreams)
	h.adder.pub(1000).subscriber = true
	h.send(1000, 0) // a client that was there before the flood
	h.cycle(time.Millisecond)
	published := 1
	high := 0
	for i := range 3000 { // 30 s of a hostile flood: 100 frames per 10 ms, each to a new stream
		h.send(int32(5000+i), int64(i+1))
		published++
		if i%100 == 99 {
			h.send(1000, int64(-i)) // the existing client keeps being served
			published++
			h.cycle(10 * time.Millisecond)
		}
		high = max(high, len(h.streams)+len(h.closedAt))
	}
	if high > maxStreams {
		t.Errorf("%d reply publications existed or lingered at once, want at most %d", high, maxStreams)
	}
	// Each publication lives for the reply timeout, then lingers; so about maxStreams adds
	// per (reply timeout + linger) window.
	if limit := maxStreams * (30/int((time.Second+publicationLinger)/time.Second) + 1); h.adder.adds > limit {
		t.Errorf("%d publications added in 30 s, want at most %d", h.adder.adds, limit)
	}
	if sent := len(h.adder.pub(1000).sent); sent != 31 {
		t.Errorf("the existing client got %d replies during the flood, want 31", sent)
	}
	h.accountedFor(t, published)
}

func TestOutboxAddThatFailsDropsWhatWaits(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(a *fakeAdder)
	}{
		{"the command cannot be sent", func(a *fakeAdder) { a.addErr = errors.New("ring buffer full") }},
		{"the driver refuses", func(a *fakeAdder) { a.driverErr = errors.New("no such channel") }},
		{"the driver never answers", func(a *fakeAdder) { a.slow = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newOutboxHarness(4, 8)
			tc.set(h.adder)
			h.send(7, 1)
			h.send(7, 2)
			for range 10 {
				h.cycle(time.Second)
			}
			if h.counters.RepliesDropped.Load() != 2 || h.queued != 0 || h.adding != 0 {
				t.Errorf("dropped %d, queued %d, adding %d; want 2, 0, 0", h.counters.RepliesDropped.Load(), h.queued, h.adding)
			}
		})
	}
}

func TestOutboxNeverPublishesToStreamZeroOrBelow(t *testing.T) {
	h := newOutboxHarness(4, 8)
	for _, stream := range []int32{0, -1, -1 << 31} {
		h.send(stream, 1)
	}
	h.cycle(time.Millisecond)
	if h.adder.adds != 0 || h.counters.RepliesDropped.Load() != 3 {
		t.Errorf("%d publications added, %d dropped; want 0 and 3", h.adder.adds, h.counters.RepliesDropped.Load())
	}
}

// FuzzOutbox drives an outbox through arbitrary sequences of replies, subscriber changes, back
// pressure, failing adds and time, taking new requests only while intake is not paused (as the
// worker does): it never panics, never holds more than --max-reply-streams publications, holds
// no more than its budget plus what was in hand when intake paused, pauses intake only while
// over the budget and until it is down to half, accounts for every reply exactly once, and
// once every subscriber is healthy again it empties and takes requests again.
func FuzzOutbox(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x10, 0x20, 0x30, 0x41, 0x52, 0x63, 0x74, 0x85, 0x96, 0xa7, 0xb8, 0xc9})
	f.Add([]byte("a flood of replies to random streams, then silence"))
	f.Add([]byte{0x35, 0x30, 0x30, 0x30, 0x30, 0x36, 0x30, 0x30, 0x30, 0x33, 0x33, 0x33, 0x34, 0x34, 0x0b, 0xfd, 0xfd, 0xfd})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const queueLen, maxStreams, inHand, maxBytes = 3, 4, 4, 600
		const largest = 0xff + 64 // reply payloads are up to 0xff bytes, plus the frame's header
		if len(ops) > 512 {       // longer runs add nothing but time
			ops = ops[:512]
		}
		h := newOutboxHarness(queueLen, maxStreams)
		h.maxBytes = maxBytes
		published, sincePause := 0, 0
		for i, op := range ops {
			stream := int32(op>>4) - 2 // -2..13: a few invalid, more than maxStreams valid
			switch op & 0x0f {
			case 0, 1, 2: // a request answered at once: not taken while intake is paused
				if !h.intakePaused() {
					h.sendSized(stream, int64(i), int(op))
					published++
				}
			case 3, 4: // a pooled handler finishing: happens while paused, up to what was in hand
				if !h.intakePaused() || sincePause < inHand {
					h.sendSized(stream, int64(i), int(op))
					published++
					if h.intakePaused() {
						sincePause++
					}
				}
			case 5:
				h.adder.pub(stream).subscriber = !h.adder.pub(stream).subscriber
			case 6:
				h.adder.pub(stream).backPressured = !h.adder.pub(stream).backPressured
			case 7:
				h.adder.pub(stream).closed = true
			case 8:
				h.adder.pub(stream).maxLength = int(op)
			case 9:
				h.adder.slow = !h.adder.slow
			case 10:
				if h.adder.driverErr == nil {
					h.adder.driverErr = errors.New("refused")
				} else {
					h.adder.driverErr = nil
				}
			case 11, 12:
				h.cycle(time.Duration(op) * time.Millisecond)
			default:
				h.cycle(time.Duration(op) * 30 * time.Millisecond)
			}
			if !h.intakePaused() {
				sincePause = 0
			}
			if n := len(h.streams) + len(h.closedAt); n > maxStreams {
				t.Fatalf("%d reply publications, more than %d", n, maxStreams)
			}
			for _, rs := range h.streams {
				if rs.n > queueLen+1+inHand || rs.key.streamID <= 0 {
					t.Fatalf("stream %d holds %d replies", rs.key.streamID, rs.n)
				}
			}
			if h.bytes > maxBytes+(1+inHand)*largest {
				t.Fatalf("the outboxes hold %d bytes, budget %d", h.bytes, maxBytes)
			}
			if over := h.longest() > queueLen || h.bytes > maxBytes; over && !h.intakePaused() {
				t.Fatalf("intake not paused with %d replies on a stream and %d bytes queued", h.longest(), h.bytes)
			}
			if op&0x0f >= 11 && h.intakePaused() && h.longest() <= queueLen/2 && h.bytes <= maxBytes/2 {
				t.Fatalf("intake still paused after a duty cycle with %d replies on a stream and %d bytes queued", h.longest(), h.bytes)
			}
		}
		h.accountedFor(t, published)

		// Every subscriber healthy again: what waits goes, and intake resumes.
		h.adder.slow, h.adder.driverErr, h.adder.subscribed = false, nil, true
		for _, p := range h.adder.pubs {
			p.subscriber, p.backPressured, p.maxLength = true, false, 0
		}
		h.cycle(time.Millisecond)
		h.cycle(time.Millisecond)
		if h.queued != 0 || h.intakePaused() {
			t.Fatalf("with every subscriber healthy: %d replies still queued, intake paused %v", h.queued, h.intakePaused())
		}
		h.accountedFor(t, published)
	})
}

// Clients on two hosts may both use reply stream 1001: each gets its own publication, on its
// own channel, and --max-reply-streams counts publications on every channel together.
func TestOutboxKeysPublicationsByChannelAndStream(t *testing.T) {
	const udpA, udpB = "aeron:udp?endpoint=10.42.0.1:41000", "aeron:udp?endpoint=10.42.0.3:41000"
	h := newOutboxHarness(8, 3)
	h.adder.subscribed = true
	frame := func(id int64) []byte { return writeResponse(nil, id, polybridge.ErrorCode_OK, "", nil) }
	h.publish(Reply{Channel: "", StreamID: 1001, CorrelationID: 1, Frame: frame(1)}, h.now)
	h.publish(Reply{Channel: udpA, StreamID: 1001, CorrelationID: 2, Frame: frame(2)}, h.now)
	h.publish(Reply{Channel: udpB, StreamID: 1001, CorrelationID: 3, Frame: frame(3)}, h.now)
	h.publish(Reply{Channel: udpA, StreamID: 1002, CorrelationID: 4, Frame: frame(4)}, h.now) // a fourth publication: over the bound
	h.cycle(time.Millisecond)
	for _, tc := range []struct {
		channel string
		want    int64
	}{{"", 1}, {udpA, 2}, {udpB, 3}} {
		if sent := h.adder.pubOn(tc.channel, 1001).sent; len(sent) != 1 || sent[0] != tc.want {
			t.Errorf("%q stream 1001 got %v, want [%d]", tc.channel, sent, tc.want)
		}
	}
	if h.adder.adds != 3 || h.counters.RepliesDropped.Load() != 1 {
		t.Errorf("%d publications added, %d replies dropped; want 3 and 1 (--max-reply-streams 3)", h.adder.adds, h.counters.RepliesDropped.Load())
	}
	h.accountedFor(t, 4)
}

// A lent reply that is never published gives its loan back; one published keeps it for the
// client's PayloadRelease; closing a publication without a subscriber names its stream.
func TestOutboxGivesBackTheLoansOfDroppedRepliesAndReportsClosedStreams(t *testing.T) {
	h := newOutboxHarness(4, 8)
	var freed []int64
	var closed []replyKey
	h.dropped = func(loan regionRef) { freed = append(freed, loan.offset) }
	h.closed = func(key replyKey) { closed = append(closed, key) }
	pub := h.adder.pub(7)
	pub.subscriber = true
	lent := func(id, offset int64) Reply {
		return Reply{StreamID: 7, CorrelationID: id, Frame: writeResponseRef(nil, id, polybridge.ErrorCode_OK, "", nil, regionRef{1, offset, 100}),
			Loan: regionRef{1, offset, 100}}
	}
	h.publish(lent(1, 0), h.now) // queued while the add is in progress, then published
	h.cycle(time.Millisecond)
	pub.subscriber = false // its subscriber goes: the next is dropped
	h.publish(lent(2, 4096), h.now)
	if fmt.Sprint(pub.sent) != "[1]" || fmt.Sprint(freed) != "[4096]" {
		t.Fatalf("published %v, loans given back %v; want [1] and [4096]", pub.sent, freed)
	}
	h.cycle(2 * time.Second) // no subscriber for the reply timeout: the publication is closed
	if fmt.Sprint(closed) != fmt.Sprint([]replyKey{{"", 7}}) {
		t.Errorf("closed %v, want the worker's own channel, stream 7", closed)
	}
}

// A reply that was meant to be lent (the region was full) and is too large for its stream is
// answered OVERLOADED with the region's message rather than TOO_LARGE.
func TestOutboxTooLargeReplyOfAFullRegionBecomesOverloaded(t *testing.T) {
	h := newOutboxHarness(4, 8)
	pub := h.adder.pub(7)
	pub.subscriber, pub.maxLength = true, 200
	h.send(7, 1)
	h.cycle(0)
	big := writeResponse(nil, 2, polybridge.ErrorCode_OK, "", make([]byte, 500))
	h.publish(Reply{StreamID: 7, CorrelationID: 2, Frame: big, Overloaded: "response of 500 bytes: the worker's payload region is full"}, h.now)
	if len(pub.sent) != 2 || pub.codes[1] != polybridge.ErrorCode_OVERLOADED {
		t.Fatalf("published %v with codes %v, want the second OVERLOADED", pub.sent, pub.codes)
	}
}
