package wasm

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/experimental"
)

// limitedMemory backs one instance's linear memory and enforces the host's memory limit on
// every grow. It, rather than wazero's RuntimeConfig.WithMemoryLimitPages, holds the limit
// because it sees the refused grow: the guest only sees memory.grow return -1, and whatever it
// does next (a trap, "out of memory", exit 2) is reported together with the limit it hit.
type limitedMemory struct {
	limit uint64

	mu    sync.Mutex // wazero may Free from the goroutine that closes a module on ctx done
	buf   []byte
	asked uint64 // the largest size refused, 0 if none
}

func newLimitedMemory(limit uint64) *limitedMemory {
	return &limitedMemory{limit: limit}
}

// attach returns ctx carrying an allocator that hands wazero this memory, for
// InstantiateModule. An instance has at most one memory (multi-memory is not enabled).
func (m *limitedMemory) attach(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(
		func(_, _ uint64) experimental.LinearMemory { return m }))
}

// Reallocate implements experimental.LinearMemory: memory grows like wazero's own (append,
// doubling), never past the limit. Memory never shrinks, so what lies between len and cap is
// still zero from make.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if size > m.limit {
		m.asked = max(m.asked, size)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	capacity := min(max(size, 2*uint64(cap(m.buf))), m.limit)
	grown := make([]byte, size, capacity)
	copy(grown, m.buf)
	m.buf = grown
	return grown
}

// Free implements experimental.LinearMemory.
func (m *limitedMemory) Free() {
	m.mu.Lock()
	m.buf = nil
	m.mu.Unlock()
}

// refused returns the largest size, in bytes, the guest asked for beyond the limit, or 0.
func (m *limitedMemory) refused() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.asked
}

// outputCapture keeps the beginning and the end of what a module writes to stderr: a Go
// program says "fatal error: out of memory" before a long stack trace, a Rust panic says its
// message first, a C program's last line is often the one that matters.
type outputCapture struct {
	headSize, tailSize int
	head               []byte
	tail               []byte // the last tailSize bytes written after head filled
	dropped            bool   // bytes between head and tail were lost
}

func newOutputCapture(headSize, tailSize int) *outputCapture {
	return &outputCapture{headSize: headSize, tailSize: tailSize}
}

func (c *outputCapture) Write(p []byte) (int, error) {
	written := len(p)
	if room := c.headSize - len(c.head); room > 0 {
		n := min(room, len(p))
		c.head = append(c.head, p[:n]...)
		p = p[n:]
	}
	if len(p) >= c.tailSize {
		c.dropped = c.dropped || len(c.tail) > 0 || len(p) > c.tailSize
		c.tail = append(c.tail[:0], p[len(p)-c.tailSize:]...)
		return written, nil
	}
	if over := len(c.tail) + len(p) - c.tailSize; over > 0 {
		c.dropped = true
		c.tail = append(c.tail[:0], c.tail[over:]...)
	}
	c.tail = append(c.tail, p...)
	return written, nil
}

// String returns what was kept, trimmed, with " [...] " where bytes were dropped.
func (c *outputCapture) String() string {
	sep := ""
	if c.dropped {
		sep = " [...] "
	}
	return string(bytes.TrimSpace(append(append(append([]byte(nil), c.head...), sep...), c.tail...)))
}

// Reset forgets what was written.
func (c *outputCapture) Reset() {
	c.head, c.tail, c.dropped = c.head[:0], c.tail[:0], false
}

// errReplyTooLarge is what a command module's write to stdout gets past the limit.
var errReplyTooLarge = errors.New("reply too large")

// cappedBuffer collects a command module's stdout up to limit bytes: its reply is host memory,
// which the guest's memory limit does not cover.
type cappedBuffer struct {
	buf      bytes.Buffer
	limit    int
	overflow bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.limit {
		c.overflow = true
		return 0, errReplyTooLarge
	}
	return c.buf.Write(p)
}

// sleeper is WASI's clock wait (poll_oneoff on a clock, Go's time.Sleep) for one call: it
// sleeps for real but ends with the call's context, so a sleeping guest does not hold its
// goroutine past the deadline. (wazero's default does not sleep at all, turning a guest's
// sleep into a busy loop.)
type sleeper struct {
	ctx context.Context
}

func (s sleeper) sleep(ns int64) {
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
	}
}

// sleepCurrent is sleep for a reactor instance, whose context changes with each call.
func (s *sleeper) sleepCurrent(ns int64) { sleeper{s.ctx}.sleep(ns) }
