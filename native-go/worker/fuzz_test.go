package worker

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// FuzzDispatch feeds arbitrary frames to the dispatcher: no panic may escape, and whatever
// it answers must be one well-formed Response.
func FuzzDispatch(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join(goldenDir, "*.bin"))
	for _, path := range golden {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Add(echoFrame([]byte("ping")))
	f.Add(echoFrame(nil))
	f.Add(encodeCancel(1, 2))
	f.Add(put32(echoFrame([]byte("abc")), handlerLengthAt+2+4, 0xFFFFFFFF))
	f.Add(put16(echoFrame(nil), handlerLengthAt, 0xFFFF))
	f.Add(put16(echoFrame(nil), 0, 0xFFFF))
	f.Add(put16(echoFrame(nil), 6, 0))
	f.Add(echoFrame(nil)[:headerLength+requestBlockLength])
	f.Add([]byte{})
	f.Add([]byte{20, 0, 1, 0, 0xBD, 0x1B, 1, 0})

	d := NewDispatcher(testRegistry(f), nil)
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
