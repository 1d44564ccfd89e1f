package worker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lirm/aeron-go/aeron"
	"github.com/lirm/aeron-go/aeron/atomic"
	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// The tests in this file run workers against a real Java media driver that each test starts
// in its own directory under /dev/shm and kills at the end (the directory is removed too).
// They need a Java that can run one of these jars, and are skipped otherwise (and with -short):
//   - the aeron-all 1.43 jar that ships in aeron-go's module (systests/driver; Java 21+);
//   - ../../media-driver/target/polybridge-media-driver-*-all.jar (mvn -pl media-driver package;
//     Aeron 1.51, Java 17+).
// POLYBRIDGE_TEST_JAVA names the java to use; otherwise $JAVA_HOME, PATH and /usr/lib/jvm are
// tried. The driver gets 64 KiB IPC terms: a flood test adds dozens of publications.

type testDriver struct {
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been waited for
}

// startMediaDriver starts a media driver for the test, or skips the test if it cannot.
func startMediaDriver(t *testing.T) *testDriver {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Java media driver")
	}
	java, args, err := driverCommand()
	if err != nil {
		t.Skipf("no media driver to test against: %v", err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	dir := filepath.Join("/dev/shm", "pb-go-test-"+hex.EncodeToString(suffix))
	cmd := exec.Command(java, append([]string{
		"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
		"--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
		"-XX:+UseSerialGC", "-Xmx128m",
		"-Daeron.dir=" + dir,
		"-Daeron.dir.delete.on.start=true",
		"-Daeron.dir.delete.on.shutdown=true",
		"-Daeron.threading.mode=SHARED",
		"-Daeron.ipc.term.buffer.length=65536",
		"-Daeron.term.buffer.length=65536",
	}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	// The driver dies with the test binary even if the test never gets to its cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := startOnSpawnerThread(cmd); err != nil {
		t.Skipf("cannot start the media driver: %v", err)
	}
	d := &testDriver{dir: dir, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	t.Cleanup(d.kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "cnc.dat")); err == nil && driverAnswers(dir) {
			return d
		}
		select {
		case <-d.exited:
			t.Fatalf("the media driver exited at start: %s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the media driver in %s did not start within 30 s: %s", dir, stderr.String())
		}
	}
}

// Pdeathsig fires when the OS thread that forked the child exits, not the process: aeron-go's
// conductor goroutine locks its thread and never unlocks it, so when a client closes, Go
// ends that thread, and a driver forked from it earlier was SIGKILLed in the middle of a test.
// Drivers are forked from one goroutine locked to a thread that lives as long as the process.
var spawns = make(chan func())

func init() {
	go func() {
		runtime.LockOSThread() // never unlocked, never exits: the thread lives on
		for f := range spawns {
			f()
		}
	}()
}

func startOnSpawnerThread(cmd *exec.Cmd) error {
	done := make(chan error)
	spawns <- func() { done <- cmd.Start() }
	return <-done
}

// driverAnswers connects a client, adds and closes a publication: the driver is ready.
func driverAnswers(dir string) bool {
	InstallAeronFatalHook()
	client, err := aeron.Connect(aeron.NewContext().AeronDir(dir).MediaDriverTimeout(10 * time.Second).
		ErrorHandler(func(error) {}))
	if err != nil {
		return false
	}
	defer client.Close()
	pub, err := client.AddPublication("aeron:ipc", 1)
	if err != nil {
		return false
	}
	return pub.Close() == nil
}

// kill SIGKILLs the driver (no clean shutdown: like a crash) and removes its directory.
func (d *testDriver) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
	}
	_ = os.RemoveAll(d.dir)
}

// logBuffers counts the publication log buffers in the driver's directory: the shared memory
// publications cost.
func (d *testDriver) logBuffers() int {
	entries, _ := os.ReadDir(filepath.Join(d.dir, "publications"))
	return len(entries)
}

// driverCommand finds a java and a driver jar it can run.
func driverCommand() (java string, args []string, err error) {
	javas := []string{os.Getenv("POLYBRIDGE_TEST_JAVA")}
	if home := os.Getenv("JAVA_HOME"); home != "" {
		javas = append(javas, filepath.Join(home, "bin", "java"))
	}
	if p, err := exec.LookPath("java"); err == nil {
		javas = append(javas, p)
	}
	more, _ := filepath.Glob("/usr/lib/jvm/*/bin/java")
	javas = append(javas, more...)
	best, bestVersion := "", 0
	for _, j := range javas {
		if v := javaVersion(j); v > bestVersion {
			best, bestVersion = j, v
		}
	}
	if best == "" {
		return "", nil, errors.New("no java found")
	}
	// Aeron's own driver first: these tests are about the worker, not polybridge's driver
	// settings (its directory reclaim and owner-only guard).
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/lirm/aeron-go").Output()
	if err != nil {
		return "", nil, fmt.Errorf("locating aeron-go's module: %w", err)
	}
	jar := filepath.Join(strings.TrimSpace(string(out)), "systests", "driver", "aeron-all-1.43.0.jar")
	if _, err := os.Stat(jar); err == nil && bestVersion >= 21 {
		return best, []string{"-cp", jar, "io.aeron.driver.MediaDriver"}, nil
	}
	if jars, _ := filepath.Glob(filepath.Join("..", "..", "media-driver", "target", "polybridge-media-driver-*-all.jar")); len(jars) > 0 && bestVersion >= 17 {
		return best, []string{"-jar", jars[0]}, nil
	}
	return "", nil, fmt.Errorf("%s needs Java 21 or later, the newest java found is %d, and ../media-driver is not built (mvn -pl media-driver package)", jar, bestVersion)
}

var javaVersionPattern = regexp.MustCompile(`version "(1\.)?(\d+)`)

func javaVersion(java string) int {
	if java == "" {
		return 0
	}
	out, err := exec.Command(java, "-version").CombinedOutput()
	if err != nil {
		return 0
	}
	m := javaVersionPattern.FindSubmatch(out)
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(string(m[2]))
	return v
}

// testWorker is a worker serving echo, running on its own goroutine until the test ends.
type testWorker struct {
	*Worker
	done chan struct{} // closed when Run has returned err
	err  error
	stop context.CancelFunc // as SIGTERM does
}

// inline marks a handler startWorker registers inline (on the poll goroutine).
type inline struct{ Handler }

func startWorker(t *testing.T, cfg Config, pooled ...any) *testWorker {
	t.Helper()
	registry := NewRegistry()
	if err := registry.RegisterInline("echo", Echo); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(pooled); i += 2 { // name, Handler (pooled) or inline pairs
		var err error
		if h, ok := pooled[i+1].(inline); ok {
			err = registry.RegisterInline(pooled[i].(string), h.Handler)
		} else {
			err = registry.Register(pooled[i].(string), pooled[i+1].(Handler))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.AnnounceInterval == 0 {
		cfg.AnnounceInterval = 100 * time.Millisecond
	}
	w, err := New(cfg, registry)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tw := &testWorker{Worker: w, done: make(chan struct{}), stop: cancel}
	go func() { tw.err = w.Run(ctx); close(tw.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-tw.done:
		case <-time.After(10 * time.Second):
			t.Error("worker did not stop")
		}
	})
	return tw
}

// testClient publishes requests to a worker and reads its replies and announcements.
type testClient struct {
	t        *testing.T
	client   *aeron.Aeron
	requests *aeron.Publication
	replies  *aeron.Subscription
	control  *aeron.Subscription
	got      []response
	asm      *Assembler
}

func newTestClient(t *testing.T, dir string, requestStream, controlStream, replyStream int32) *testClient {
	t.Helper()
	InstallAeronFatalHook()
	c := &testClient{t: t}
	if err := c.connect(dir, requestStream, controlStream, replyStream); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.client.Close() })
	c.asm = NewAssembler(func(m []byte, _ int32) {
		r, err := decodeResponse(m)
		if err != nil {
			t.Errorf("bad response: %v", err)
			return
		}
		c.got = append(c.got, r)
	})
	return c
}

func (c *testClient) connect(dir string, requestStream, controlStream, replyStream int32) (err error) {
	client, err := aeron.Connect(aeron.NewContext().AeronDir(dir).MediaDriverTimeout(10 * time.Second).
		ErrorHandler(func(err error) { c.t.Logf("test client: %v", err) }))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = client.Close()
		}
	}()
	if c.control, err = client.AddSubscription(DefaultChannel, controlStream); err != nil {
		return err
	}
	if c.replies, err = client.AddSubscription(DefaultChannel, replyStream); err != nil {
		return err
	}
	if c.requests, err = client.AddPublication(DefaultChannel, requestStream); err != nil {
		return err
	}
	c.client = client
	return nil
}

// awaitAnnouncement waits until the worker has announced itself: it is serving.
func (c *testClient) awaitAnnouncement() {
	c.t.Helper()
	seen := false
	asm := NewAssembler(func([]byte, int32) { seen = true })
	poll(c.t, 20*time.Second, func() bool { c.control.Poll(asm.FragmentHandler(), 10); return seen })
}

func (c *testClient) send(frame []byte) {
	c.t.Helper()
	buf := atomic.MakeBuffer(frame)
	poll(c.t, 10*time.Second, func() bool { return c.requests.Offer(buf, 0, int32(len(frame)), nil) > 0 })
}

// awaitReply waits for the reply to correlationID and returns it with how long it took.
func (c *testClient) awaitReply(correlationID int64, limit time.Duration) (response, time.Duration) {
	c.t.Helper()
	start := time.Now()
	for {
		for i, r := range c.got {
			if r.correlationID == correlationID {
				c.got = append(c.got[:i], c.got[i+1:]...)
				return r, time.Since(start)
			}
		}
		if time.Since(start) > limit {
			c.t.Fatalf("no reply to %d within %v", correlationID, limit)
		}
		if c.replies.Poll(c.asm.FragmentHandler(), 100) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

func echoRequest(correlationID int64, replyStream int32, payload string) []byte {
	return encodeRequest(request{correlationID: correlationID, timeoutNs: int64(10 * time.Second), replyStreamID: replyStream, handler: "echo", payload: []byte(payload)})
}

func awaitExit(t *testing.T, w *testWorker, limit time.Duration) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case <-w.done:
		return w.err, time.Since(start)
	case <-time.After(limit + 10*time.Second):
		t.Fatalf("the worker did not exit within %v", limit+10*time.Second)
		return nil, 0
	}
}

func TestWorkerExitsWhenItsMediaDriverDies(t *testing.T) {
	d := startMediaDriver(t)
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4100, ControlStream: 4010})
	c := newTestClient(t, d.dir, 4100, 4010, 4999)
	c.awaitAnnouncement()
	c.send(echoRequest(1, 4999, "ping"))
	c.awaitReply(1, 10*time.Second)
	bell := DoorbellPath(d.dir, 4100)
	if _, err := os.Lstat(bell); err != nil {
		t.Fatalf("no doorbell while serving: %v", err)
	}

	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	err, took := awaitExit(t, w, 2*time.Second)
	t.Logf("Run returned %v after %v", err, took)
	if !errors.Is(err, ErrDriverGone) || !strings.Contains(err.Error(), d.dir) {
		t.Errorf("Run returned %v, want an error naming %s", err, d.dir)
	}
	if _, err := os.Lstat(bell); !os.IsNotExist(err) {
		t.Errorf("doorbell left behind after Run failed: %v", err)
	}
	// The driver's process is watched every 200 ms (its heartbeat, 1 s, checked every 500 ms
	// by aeron-go, where it cannot be).
	if took > 2*time.Second {
		t.Errorf("the worker took %v to notice its driver died, want at most 2 s", took)
	}
}

func TestWorkerExitsWhenItsParentDies(t *testing.T) {
	d := startMediaDriver(t)
	parent := startSleeper(t)
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4101, ControlStream: 4011, ParentPID: parent.Process.Pid,
		DriverTimeout: 30 * time.Second})
	c := newTestClient(t, d.dir, 4101, 4011, 4998)
	c.awaitAnnouncement()

	_ = parent.Process.Kill()
	err, took := awaitExit(t, w, time.Second)
	t.Logf("Run returned %v after %v", err, took)
	if !errors.Is(err, ErrParentGone) || !strings.Contains(err.Error(), fmt.Sprintf("parent process %d is gone", parent.Process.Pid)) {
		t.Errorf("Run returned %v, want ErrParentGone", err)
	}
	if took > time.Second {
		t.Errorf("the worker took %v to exit after its parent died, want at most 1 s", took)
	}
}

func TestReplyToAStreamWithoutSubscriberDoesNotDelayTheNextReply(t *testing.T) {
	d := startMediaDriver(t)
	const replyTimeout = 3 * time.Second
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4102, ControlStream: 4012, ReplyTimeout: replyTimeout,
		DriverTimeout: 30 * time.Second})
	c := newTestClient(t, d.dir, 4102, 4012, 4997)
	c.awaitAnnouncement()
	c.send(echoRequest(1, 4997, "warm up")) // the reply publication exists from now on
	c.awaitReply(1, 10*time.Second)

	c.send(echoRequest(2, 4996, "to nobody")) // nobody subscribes to 4996
	c.send(echoRequest(3, 4997, "next"))
	r, took := c.awaitReply(3, 10*time.Second)
	t.Logf("the next reply took %v", took)
	if r.code != polybridge.ErrorCode_OK || string(r.payload) != "next" {
		t.Errorf("reply %v %q", r.code, r.payload)
	}
	// The old worker retried the first reply inside its poll loop for the whole reply timeout.
	if took > replyTimeout/3 {
		t.Errorf("the next reply took %v behind one to a stream without a subscriber (reply timeout %v)", took, replyTimeout)
	}
	poll(t, replyTimeout+10*time.Second, func() bool { return w.Counters.RepliesDropped.Load() == 1 })
	poll(t, 2*replyTimeout+10*time.Second, func() bool { return w.ReplyPublications() == 1 })
	if w.Counters.Replies.Load() != 2 {
		t.Errorf("Replies = %d, want 2", w.Counters.Replies.Load())
	}
}

func TestFloodOfRandomReplyStreamsCreatesAtMostMaxReplyStreamsPublications(t *testing.T) {
	d := startMediaDriver(t)
	const maxStreams = 8
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4103, ControlStream: 4013,
		ReplyTimeout: 200 * time.Millisecond, MaxReplyStreams: maxStreams, DriverTimeout: 30 * time.Second})
	c := newTestClient(t, d.dir, 4103, 4013, 4995)
	c.awaitAnnouncement()
	c.send(echoRequest(1, 4995, "before"))
	c.awaitReply(1, 10*time.Second)
	before := d.logBuffers() // the worker's control and reply publications, the client's request one

	const flood = 400
	highBuffers, highPublications := 0, 0
	for i := range flood {
		stream, _ := rand.Int(rand.Reader, big.NewInt(1<<30))
		c.send(echoRequest(int64(100+i), int32(5000+stream.Int64()), "x"))
		if i%10 == 0 {
			highBuffers = max(highBuffers, d.logBuffers())
			highPublications = max(highPublications, w.ReplyPublications())
			time.Sleep(5 * time.Millisecond) // spread the flood over a few reply timeouts
		}
	}
	c.send(echoRequest(2, 4995, "after"))
	r, took := c.awaitReply(2, 10*time.Second)
	t.Logf("log buffers: %d before, at most %d during the flood; reply publications at most %d; the existing client's next reply took %v",
		before, highBuffers, highPublications, took)
	if string(r.payload) != "after" {
		t.Errorf("the existing client got %q", r.payload)
	}
	if highPublications > maxStreams {
		t.Errorf("%d reply publications at once, want at most %d", highPublications, maxStreams)
	}
	// The existing client's reply stream is one of the maxStreams.
	if limit := before + maxStreams - 1; highBuffers > limit {
		t.Errorf("%d log buffers in the driver during the flood, want at most %d", highBuffers, limit)
	}
	poll(t, 20*time.Second, func() bool {
		return w.Counters.Replies.Load()+w.Counters.RepliesDropped.Load() == flood+2
	})
}

// syncBuffer collects a worker's log for a test's failure message.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// grow answers each request with 4000 bytes: small requests, large replies, so that a client
// can have many requests in the worker's request log while its replies fill its own.
var grow = inline{HandlerFunc(func(context.Context, []byte) ([]byte, error) { return make([]byte, 4000), nil })}

func growRequest(correlationID int64, replyStream int32) []byte {
	return encodeRequest(request{correlationID: correlationID, timeoutNs: int64(time.Minute), replyStreamID: replyStream, handler: "grow"})
}

// A client that reads its replies slowly, but steadily, for several reply timeouts: the worker
// stops taking its requests while the outbox is over --reply-queue, and every reply arrives.
func TestSlowReplySubscriberPausesIntakeAndLosesNoReply(t *testing.T) {
	d := startMediaDriver(t)
	// Each reply waits a fraction of a second; the reply timeout is generous because the driver
	// (which moves the publication's limit) and this reader share a loaded machine.
	logs := new(syncBuffer)
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4106, ControlStream: 4016, ReplyQueue: 8,
		ReplyTimeout: 3 * time.Second, DriverTimeout: 30 * time.Second, Logger: slog.New(slog.NewTextHandler(logs, nil))},
		"grow", grow)
	c := newTestClient(t, d.dir, 4106, 4016, 4992)
	c.awaitAnnouncement()
	const calls = 200 // ~16 KiB of requests: they fit in the request log's window without being read
	start := time.Now()
	for id := int64(1); id <= calls; id++ {
		c.send(growRequest(id, 4992))
	}
	got := 0
	asm := NewAssembler(func(m []byte, _ int32) {
		r, err := decodeResponse(m)
		if err != nil || r.code != polybridge.ErrorCode_OK || r.correlationID != int64(got+1) || len(r.payload) != 4000 {
			t.Errorf("reply %d: %v %d %q (%d bytes), %v", got+1, r.code, r.correlationID, r.message, len(r.payload), err)
		}
		got++
	})
	deadline := time.Now().Add(time.Minute)
	longest, last := time.Duration(0), time.Now()
	for got < calls && w.Counters.RepliesDropped.Load() == 0 && time.Now().Before(deadline) {
		if c.replies.Poll(asm.FragmentHandler(), 1) > 0 { // one MTU-sized fragment every 5 ms: ~1 reply in 15 ms
			longest, last = max(longest, time.Since(last)), time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%d replies in %v (longest wait between fragments %v), intake paused %d times",
		got, time.Since(start), longest, w.IntakePauses())
	if got != calls || w.Counters.RepliesDropped.Load() != 0 {
		t.Errorf("%d of %d replies arrived, %d dropped; want all, none dropped; worker's log:\n%s",
			got, calls, w.Counters.RepliesDropped.Load(), logs.String())
	}
	if w.IntakePauses() == 0 {
		t.Errorf("intake never paused with %d replies for a slow reader and --reply-queue 8", calls)
	}
}

// A client that stops reading (SIGSTOPped, or SIGKILLed while its image lingers) pauses intake
// only until its stream has made no progress for the reply timeout: then its replies are
// dropped, the worker takes requests again, and its later replies are dropped at once.
func TestStuckReplySubscriberIsDroppedAfterTheReplyTimeoutAndIntakeResumes(t *testing.T) {
	d := startMediaDriver(t)
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4107, ControlStream: 4017, ReplyQueue: 8,
		DriverTimeout: 30 * time.Second}, "grow", grow)
	stuck := newTestClient(t, d.dir, 4107, 4017, 4991) // subscribes to 4991, never reads it
	c := newTestClient(t, d.dir, 4107, 4017, 4990)
	c.awaitAnnouncement()
	c.send(echoRequest(1, 4990, "before"))
	c.awaitReply(1, 10*time.Second)

	const calls = 60
	for id := int64(1); id <= calls; id++ {
		stuck.send(growRequest(id, 4991))
	}
	c.send(echoRequest(2, 4990, "behind the stuck client's requests"))
	r, took := c.awaitReply(2, 20*time.Second)
	t.Logf("the next client's reply took %v; replies %d, dropped %d, intake paused %d times",
		took, w.Counters.Replies.Load(), w.Counters.RepliesDropped.Load(), w.IntakePauses())
	if r.code != polybridge.ErrorCode_OK {
		t.Errorf("reply %v %q", r.code, r.message)
	}
	if took < DefaultReplyTimeout/2 || w.IntakePauses() != 1 {
		t.Errorf("the reply took %v, intake paused %d times; want intake paused once, until the stuck stream's reply timeout (%v)",
			took, w.IntakePauses(), DefaultReplyTimeout)
	}
	// The stuck client's log holds a few replies (8 KiB of a 64 KiB term's window); the rest
	// were dropped: those queued when the stream stalled, and later ones at once.
	poll(t, 10*time.Second, func() bool { return w.Counters.Replies.Load()+w.Counters.RepliesDropped.Load() == calls+2 })
	if dropped := w.Counters.RepliesDropped.Load(); dropped < calls-16 {
		t.Errorf("%d replies to the stuck client dropped, want most of %d", dropped, calls)
	}
	c.send(echoRequest(3, 4990, "after"))
	if _, took := c.awaitReply(3, 10*time.Second); took > DefaultReplyTimeout/2 {
		t.Errorf("a reply after the stuck stream was dropped took %v", took)
	}
}

func TestWorkerOutlivesADriverThatIsAliveButSilent(t *testing.T) {
	d := startMediaDriver(t)
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4104, ControlStream: 4014})
	c := newTestClient(t, d.dir, 4104, 4014, 4994)
	c.awaitAnnouncement()

	// A driver starved of CPU, or stopped, is not dead: its process is there.
	_ = d.cmd.Process.Signal(syscall.SIGSTOP)
	select {
	case <-w.done:
		_ = d.cmd.Process.Signal(syscall.SIGCONT)
		t.Fatalf("the worker exited while its driver was stopped: %v", w.err)
	case <-time.After(3 * time.Second): // three times DefaultDriverTimeout
	}
	_ = d.cmd.Process.Signal(syscall.SIGCONT)
	c.send(echoRequest(1, 4994, "still there"))
	if r, _ := c.awaitReply(1, 10*time.Second); string(r.payload) != "still there" {
		t.Errorf("reply %q", r.payload)
	}
}

func TestStoppingAnswersQueuedCallsAndFlushesRunningOnesWithinTheDrainTimeout(t *testing.T) {
	d := startMediaDriver(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	stuck := HandlerFunc(func(context.Context, []byte) ([]byte, error) { // ignores its context
		started <- struct{}{}
		<-release
		return []byte("finished"), nil
	})
	w := startWorker(t, Config{AeronDir: d.dir, RequestStream: 4105, ControlStream: 4015, PoolSize: 1,
		DrainTimeout: 20 * time.Second, DriverTimeout: 30 * time.Second}, "stuck", stuck)
	c := newTestClient(t, d.dir, 4105, 4015, 4993)
	c.awaitAnnouncement()
	call := func(id int64) []byte {
		return encodeRequest(request{correlationID: id, timeoutNs: int64(time.Minute), replyStreamID: 4993, handler: "stuck"})
	}
	c.send(call(1))
	<-started
	c.send(call(2))
	c.send(call(3))
	poll(t, 10*time.Second, func() bool { return w.Counters.Requests.Load() == 3 })

	w.stop()
	for _, id := range []int64{2, 3} {
		if r, _ := c.awaitReply(id, 10*time.Second); r.code != polybridge.ErrorCode_WORKER_UNAVAILABLE {
			t.Errorf("queued call %d: %v %q, want WORKER_UNAVAILABLE", id, r.code, r.message)
		}
	}
	// Still draining (call 1 runs): a request that arrives now is read and refused at once,
	// inline handler or not.
	c.send(echoRequest(4, 4993, "too late"))
	if r, _ := c.awaitReply(4, 10*time.Second); r.code != polybridge.ErrorCode_WORKER_UNAVAILABLE {
		t.Errorf("call during the drain: %v %q, want WORKER_UNAVAILABLE", r.code, r.message)
	}
	close(release)
	if r, _ := c.awaitReply(1, 10*time.Second); r.code != polybridge.ErrorCode_OK || string(r.payload) != "finished" {
		t.Errorf("running call: %v %q", r.code, r.payload)
	}
	if err, _ := awaitExit(t, w, 10*time.Second); err != nil {
		t.Errorf("Run returned %v after a stop", err)
	}
	if w.Counters.Replies.Load() != 4 || w.Counters.RepliesDropped.Load() != 0 {
		t.Errorf("replies %d, dropped %d; want 4 and 0", w.Counters.Replies.Load(), w.Counters.RepliesDropped.Load())
	}
}
