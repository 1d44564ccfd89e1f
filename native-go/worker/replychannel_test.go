package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

func TestValidateReplyChannelAcceptsOnlyAUDPEndpoint(t *testing.T) {
	for _, tc := range []struct {
		channel string
		ok      bool
	}{
		{"", true},
		{"aeron:udp?endpoint=10.42.0.1:41000", true},
		{"aeron:udp?endpoint=127.0.0.1:1", true},
		{"aeron:udp?endpoint=[::1]:65535", true},
		{"aeron:udp?endpoint=[fe80::1:2]:40100", true},
		{"aeron:udp?endpoint=client-1.example.com:41000", true},
		{"aeron:udp?endpoint=x:1", true},
		{"aeron:ipc", false},
		{"aeron:udp?endpoint=x:1|term-length=64k", false},
		{"aeron:udp?endpoint=10.42.0.1:41000|interface=10.0.0.0/8", false},
		{"aeron:udp?control=10.42.0.1:41000", false},
		{"aeron:udp?endpoint=10.42.0.1:0", false},
		{"aeron:udp?endpoint=10.42.0.1:65536", false},
		{"aeron:udp?endpoint=10.42.0.1:08080", true}, // 5 digits, 1-65535
		{"aeron:udp?endpoint=10.42.0.1:041000", false},
		{"aeron:udp?endpoint=10.42.0.1:000041", false},
		{"aeron:udp?endpoint=10.42.0.1:+1", false},
		{"aeron:udp?endpoint=10.42.0.1", false},
		{"aeron:udp?endpoint=:41000", false},
		{"aeron:udp?endpoint=10.42.0.256:41000", true}, // a host name by the label rules; the driver cannot resolve it
		{"aeron:udp?endpoint=localhost:41000", true},
		{"aeron:udp?endpoint=10.0.0.1:41000 ", false},
		{"aeron:udp?endpoint=[::1:41000", false},
		{"aeron:udp?endpoint=::1:41000", false},
		{"aeron:udp?endpoint=[10.0.0.1]:41000", false},
		{"aeron:udp?endpoint=[fe80::1%eth0]:41000", false},
		{"aeron:udp?endpoint=-host:41000", false},
		{"aeron:udp?endpoint=a..b:41000", false},
		{"aeron:udp?endpoint=host_name:41000", false},
		{"aeron:udp?endpoint=\xff:41000", false},
		{"AERON:UDP?endpoint=10.42.0.1:41000", false},
		{" aeron:udp?endpoint=10.42.0.1:41000", false},
		{"aeron:udp?endpoint=" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 39) + ":41000", true},  // 256 bytes
		{"aeron:udp?endpoint=" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 40) + ":41000", false}, // 257 bytes
	} {
		err := ValidateReplyChannel(tc.channel)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateReplyChannel(%q) = %v, want ok %v", tc.channel, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "replyChannel must be empty or aeron:udp?endpoint=HOST:PORT") {
			t.Errorf("message %q does not state the rule", err)
		}
	}
}

func TestReplyChannelURIAddsTheWorkersParametersToTheCallersEndpoint(t *testing.T) {
	for _, tc := range []struct{ requested, params, want string }{
		{"", "term-length=16m", "aeron:ipc"},
		{"aeron:udp?endpoint=10.42.0.1:41000", "term-length=16m", "aeron:udp?endpoint=10.42.0.1:41000|term-length=16m"},
		{"aeron:udp?endpoint=10.42.0.1:41000", "term-length=16m|mtu=8192", "aeron:udp?endpoint=10.42.0.1:41000|term-length=16m|mtu=8192"},
		{"aeron:udp?endpoint=10.42.0.1:41000", "", "aeron:udp?endpoint=10.42.0.1:41000"},
	} {
		if got := replyChannelURI(tc.requested, "aeron:ipc", tc.params); got != tc.want {
			t.Errorf("replyChannelURI(%q, %q) = %q, want %q", tc.requested, tc.params, got, tc.want)
		}
	}
}

func TestARequestsValidReplyChannelIsWhereItsReplyGoes(t *testing.T) {
	const udp = "aeron:udp?endpoint=10.42.0.1:41000"
	d := NewDispatcher(testRegistry(t), nil)
	reply, ok := d.Dispatch(encodeRequest(request{correlationID: 5, replyStreamID: 1001, replyChannel: udp, handler: "echo", payload: []byte("hi")}))
	if !ok || reply.Channel != udp || reply.StreamID != 1001 {
		t.Fatalf("reply %v on %q stream %d, want one on %q 1001", ok, reply.Channel, reply.StreamID, udp)
	}
	if got := mustDecodeResponse(t, reply.Frame); got.code != polybridge.ErrorCode_OK || string(got.payload) != "hi" {
		t.Errorf("reply %+v, want OK hi", got)
	}

	reply, ok = d.Dispatch(encodeRequest(request{correlationID: 6, replyStreamID: 1001, replyChannel: "aeron:ipc", handler: "echo"}))
	got := mustDecodeResponse(t, reply.Frame)
	if !ok || reply.Channel != "" || got.code != polybridge.ErrorCode_BAD_REQUEST ||
		!strings.Contains(got.message, "replyChannel must be empty or aeron:udp?endpoint=HOST:PORT") {
		t.Errorf("an invalid reply channel got %v %q on %q, want BAD_REQUEST on the worker's own channel", got.code, got.message, reply.Channel)
	}
}

// Two clients on different hosts may use the same reply stream and correlation ids: a Cancel
// reaches only the call made on its own reply channel.
func TestCancelFindsTheCallByReplyChannelStreamAndID(t *testing.T) {
	const udpA, udpB = "aeron:udp?endpoint=10.42.0.1:41000", "aeron:udp?endpoint=10.42.0.3:41000"
	g := newGate()
	var replies []Reply
	p, err := NewPool(NewDispatcher(pooledRegistry(t, map[string]Handler{"gate": g}), nil), 2, 2, func(r Reply) {
		replies = append(replies, Reply{Channel: r.Channel, StreamID: r.StreamID, CorrelationID: r.CorrelationID, Frame: append([]byte(nil), r.Frame...)})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(10 * time.Second) })
	p.OnMessage(encodeRequest(request{correlationID: 1, replyStreamID: 1001, replyChannel: udpA, handler: "gate"}))
	<-g.started
	p.OnMessage(encodeRequest(request{correlationID: 1, replyStreamID: 1001, replyChannel: udpB, handler: "gate"}))
	<-g.started
	p.OnMessage(encodeCancelTo(1, 1001, ""))   // an IPC client's call 1: none here
	p.OnMessage(encodeCancelTo(1, 1001, udpB)) // B's call 1
	close(g.release)
	for p.InHand() > 0 {
		<-p.Wake()
		p.Drain()
	}
	codes := map[string]polybridge.ErrorCode{}
	for _, r := range replies {
		codes[r.Channel] = mustDecodeResponse(t, r.Frame).code
	}
	if len(replies) != 2 || codes[udpA] != polybridge.ErrorCode_OK || codes[udpB] != polybridge.ErrorCode_CANCELLED {
		t.Errorf("replies by channel %v (%d in all), want OK on A and CANCELLED on B", codes, len(replies))
	}
}
