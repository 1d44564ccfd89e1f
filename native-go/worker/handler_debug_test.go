package worker

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
)

func TestDebugSleepEchoesItsPayload(t *testing.T) {
	payload := binary.LittleEndian.AppendUint32(nil, 1)
	got, err := DebugSleep.Handle(context.Background(), payload)
	if err != nil || string(got) != string(payload) {
		t.Fatalf("DebugSleep(1 ms) = %v, %v; want the payload back", got, err)
	}
}

func TestDebugSleepRejectsBadPayloadsAsBadRequest(t *testing.T) {
	for _, payload := range [][]byte{nil, {1, 2}, binary.LittleEndian.AppendUint32(nil, 60001)} {
		if _, err := DebugSleep.Handle(context.Background(), payload); !errors.Is(err, ErrBadRequest) {
			t.Errorf("DebugSleep(%v) error %v, want ErrBadRequest", payload, err)
		}
	}
}
