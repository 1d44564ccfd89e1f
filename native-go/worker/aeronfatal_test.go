package worker

import (
	"encoding/binary"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/lirm/aeron-go/aeron/atomic"
	"github.com/lirm/aeron-go/aeron/broadcast"
	"github.com/lirm/aeron-go/aeron/driver"
)

// Driver-to-client response types of Aeron 1.51 that aeron-go 8b05ad14e456 does not know.
var unknownDriverEvents = map[string]int32{
	"ON_STATIC_COUNTER":            0x0F0B,
	"ON_PUBLICATION_ERROR":         0x0F0C,
	"ON_NEXT_AVAILABLE_SESSION_ID": 0x0F0D,
}

const (
	broadcastCapacity = 1024
	broadcastTrailer  = 128 // two cache lines: tail intent, tail, latest counters
)

// toClients is a minimal Agrona broadcast buffer, standing in for the driver's cnc.dat.
type toClients struct {
	mem  []byte
	tail int64
}

func newToClients() *toClients {
	return &toClients{mem: make([]byte, broadcastCapacity+broadcastTrailer)}
}

// transmit appends one record as the driver's BroadcastTransmitter does.
func (b *toClients) transmit(typeID int32, body []byte) {
	recordLength := 8 + len(body)
	at := int(b.tail) & (broadcastCapacity - 1)
	binary.LittleEndian.PutUint32(b.mem[at:], uint32(recordLength))
	binary.LittleEndian.PutUint32(b.mem[at+4:], uint32(typeID))
	copy(b.mem[at+8:], body)
	b.tail += int64((recordLength + 7) &^ 7)
	binary.LittleEndian.PutUint64(b.mem[broadcastCapacity:], uint64(b.tail))   // tail intent
	binary.LittleEndian.PutUint64(b.mem[broadcastCapacity+8:], uint64(b.tail)) // tail
	binary.LittleEndian.PutUint64(b.mem[broadcastCapacity+16:], uint64(at))    // latest
}

// receiveOneDriverEvent sends typeID through aeron-go's real ListenerAdapter, as the client
// conductor would on its duty cycle.
func receiveOneDriverEvent(t testing.TB, typeID int32) int {
	b := newToClients()
	receiver, err := broadcast.NewReceiver(atomic.MakeBuffer(b.mem))
	if err != nil {
		t.Fatal(err)
	}
	adapter := driver.NewAdapter(nopListener{}, broadcast.NewCopyReceiver(receiver))
	b.transmit(typeID, make([]byte, 16)) // correlation id + counter/session id, as the driver sends
	return adapter.ReceiveMessages()
}

func TestAeronClientSurvivesDriverEventsItDoesNotKnow(t *testing.T) {
	InstallAeronFatalHook()
	before := UnhandledDriverEvents.Load()
	for name, typeID := range unknownDriverEvents {
		if n := receiveOneDriverEvent(t, typeID); n != 1 {
			t.Errorf("%s: %d messages received, want 1", name, n)
		}
	}
	if got := UnhandledDriverEvents.Load() - before; got != uint64(len(unknownDriverEvents)) {
		t.Errorf("counted %d unhandled events, want %d", got, len(unknownDriverEvents))
	}
}

// TestUnpatchedAeronClientExitsOnDriverEventsItDoesNotKnow documents the problem the hook
// fixes: without it, each of these events terminates the process.
func TestUnpatchedAeronClientExitsOnDriverEventsItDoesNotKnow(t *testing.T) {
	if name := os.Getenv("POLYBRIDGE_FATAL_CHILD"); name != "" {
		receiveOneDriverEvent(t, unknownDriverEvents[name])
		os.Exit(0) // not reached without the hook
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for name, typeID := range unknownDriverEvents {
		cmd := exec.Command(exe, "-test.run=^TestUnpatchedAeronClientExitsOnDriverEventsItDoesNotKnow$")
		cmd.Env = append(os.Environ(), "POLYBRIDGE_FATAL_CHILD="+name)
		out, err := cmd.CombinedOutput()
		exit, ok := err.(*exec.ExitError)
		if !ok || exit.ExitCode() != 1 {
			t.Errorf("%s: child ended with %v, want exit status 1\n%s", name, err, out)
			continue
		}
		if want := "received unhandled " + strconv.Itoa(int(typeID)); !strings.Contains(string(out), want) {
			t.Errorf("%s: output lacks %q:\n%s", name, want, out)
		}
	}
}

type nopListener struct{}

func (nopListener) OnNewPublication(int32, int32, int32, int32, string, int64, int64)          {}
func (nopListener) OnNewExclusivePublication(int32, int32, int32, int32, string, int64, int64) {}
func (nopListener) OnAvailableImage(int32, int32, string, string, int32, int64, int64)         {}
func (nopListener) OnUnavailableImage(int64, int64)                                            {}
func (nopListener) OnOperationSuccess(int64)                                                   {}
func (nopListener) OnErrorResponse(int64, int32, string)                                       {}
func (nopListener) OnChannelEndpointError(int64, string)                                       {}
func (nopListener) OnSubscriptionReady(int64, int32)                                           {}
func (nopListener) OnAvailableCounter(int64, int32)                                            {}
func (nopListener) OnUnavailableCounter(int64, int32)                                          {}
func (nopListener) OnClientTimeout(int64)                                                      {}

var _ driver.Listener = nopListener{}
