package worker

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The sleep phase and the doorbell against a real media driver (driver_test.go). Workers here
// announce every 10 s (once at start), so that nothing but the doorbell, a finished handler or
// the sleep's own timer ends a sleep.

const sleepyAnnounceInterval = 10 * time.Second

// warmUp sends one echo and waits for its reply: the client's image and reply publication exist.
func warmUp(t *testing.T, c *testClient, id int64, replyStream int32) {
	t.Helper()
	c.send(echoRequest(id, replyStream, "warm-up"))
	c.awaitReply(id, 20*time.Second)
}

func TestSleepingWorkerWokenByItsDoorbellAnswersAtOnce(t *testing.T) {
	d := startMediaDriver(t)
	const stream = 4110
	path := DoorbellPath(d.dir, stream)
	// A killed predecessor's leftover: replaced.
	if err := os.WriteFile(path, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := workerGoroutines()
	slow := HandlerFunc(func(context.Context, []byte) ([]byte, error) {
		time.Sleep(300 * time.Millisecond) // longer than IdleSleepAfter: the loop must not sleep meanwhile
		return []byte("slow"), nil
	})
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: stream, ControlStream: 4020,
		AnnounceInterval: sleepyAnnounceInterval, IdleSleepAfter: 20 * time.Millisecond, IdleSleep: 10 * time.Second},
		"slow", slow)
	c := newTestClient(t, d.dir, stream, 4020, 4980)
	warmUp(t, c, 1, 4980)

	info, err := os.Lstat(path)
	if err != nil || info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Fatalf("doorbell %s while serving: %v %v; want a socket, mode 0600", path, info, err)
	}
	if n := workerGoroutines(); n < before+4 { // Run, pool, driver watch, doorbell accept
		t.Fatalf("%d worker goroutines while serving (%d before): the leak check would see nothing", n, before)
	}

	time.Sleep(200 * time.Millisecond) // asleep after 20 ms, for 10 s
	c.send(echoRequest(2, 4980, "wake up"))
	if err := RingDoorbell(path); err != nil {
		t.Fatal(err)
	}
	r, took := c.awaitReply(2, 20*time.Second)
	t.Logf("answered %v after the ring", took)
	if string(r.payload) != "wake up" || took > time.Second {
		t.Errorf("reply %q after %v; want it well under 1 s", r.payload, took)
	}
	if s, b := w.Counters.IdleSleeps.Load(), w.Counters.DoorbellWakes.Load(); s < 1 || b < 1 {
		t.Errorf("idle_sleeps %d, doorbell_wakes %d; want both at least 1", s, b)
	}

	// A pooled handler running past IdleSleepAfter: its reply is not held back by a sleep.
	time.Sleep(200 * time.Millisecond)
	c.send(encodeRequest(request{correlationID: 3, timeoutNs: int64(time.Minute), replyStreamID: 4980, handler: "slow"}))
	_ = RingDoorbell(path)
	if r, took := c.awaitReply(3, 20*time.Second); string(r.payload) != "slow" || took > 5*time.Second {
		t.Errorf("pooled reply %q after %v; want about 300 ms", r.payload, took)
	}

	w.stop()
	if err, _ := awaitExit(t, w, 10*time.Second); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("doorbell still there after the worker stopped: %v", err)
	}
	awaitNoDoorbellGoroutines(t)
	awaitWorkerGoroutines(t, before) // no goroutine of the worker's outlives it
}

func TestSleepingWorkerNotRungAnswersWhenTheSleepEnds(t *testing.T) {
	d := startMediaDriver(t)
	const stream, sleep = 4111, 1500 * time.Millisecond
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: stream, ControlStream: 4021,
		AnnounceInterval: sleepyAnnounceInterval, IdleSleepAfter: 20 * time.Millisecond, IdleSleep: sleep})
	c := newTestClient(t, d.dir, stream, 4021, 4981)
	warmUp(t, c, 1, 4981)
	// The counter moves when a sleep ends; the next one starts at once.
	poll(t, 20*time.Second, func() bool { return w.Counters.IdleSleeps.Load() >= 1 })
	c.send(echoRequest(2, 4981, "no ring"))
	_, took := c.awaitReply(2, 20*time.Second)
	t.Logf("answered after %v without a ring", took)
	if took < sleep/2 {
		t.Errorf("answered after %v without a ring; want the rest of a %v sleep", took, sleep)
	}
	if b := w.Counters.DoorbellWakes.Load(); b != 0 {
		t.Errorf("doorbell_wakes %d without a ring", b)
	}
}

func TestWorkerOnAUDPRequestChannelHasNoDoorbellAndNeverSleeps(t *testing.T) {
	d := startMediaDriver(t)
	const stream = 4112
	var log syncBuffer
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: stream, ControlStream: 4022,
		RequestChannel: "aeron:udp?endpoint=127.0.0.1:" + strconv.Itoa(freeUDPPort(t)),
		IdleSleepAfter: 20 * time.Millisecond, IdleSleep: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	c := newTestClient(t, d.dir, stream, 4022, 4982)
	c.awaitAnnouncement()
	time.Sleep(300 * time.Millisecond)
	if s := w.Counters.IdleSleeps.Load(); s != 0 {
		t.Errorf("idle_sleeps %d on a UDP request channel", s)
	}
	if _, err := os.Lstat(DoorbellPath(d.dir, stream)); !os.IsNotExist(err) {
		t.Errorf("a doorbell on a UDP request channel: %v", err)
	}
	if !strings.Contains(log.String(), "no doorbell") {
		t.Errorf("log does not say why there is no doorbell:\n%s", log.String())
	}
}

func TestEveryIdleStrategyServes(t *testing.T) {
	d := startMediaDriver(t)
	for i, name := range []string{"backoff", "sleep", "yield", "spin"} {
		t.Run(name, func(t *testing.T) {
			idle, err := NewIdleStrategy(name, time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			stream, control, reply := int32(4120+i), int32(4030+i), int32(4990-i)
			w := startWorker(t, Config{AeronDir: d.dir, RequestStream: stream, ControlStream: control, Idle: idle})
			c := newTestClient(t, d.dir, stream, control, reply)
			c.awaitAnnouncement()
			for id := int64(1); id <= 3; id++ {
				c.send(echoRequest(id, reply, name))
				if r, _ := c.awaitReply(id, 20*time.Second); string(r.payload) != name {
					t.Errorf("reply %q", r.payload)
				}
				time.Sleep(100 * time.Millisecond) // idle past sleep-after in between
			}
			w.stop()
			if err, _ := awaitExit(t, w, 10*time.Second); err != nil {
				t.Errorf("Run returned %v", err)
			}
		})
	}
}
