package worker

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/lirm/aeron-go/aeron"
	"github.com/lirm/aeron-go/aeron/atomic"
	"github.com/lirm/aeron-go/aeron/logbuffer"
)

const (
	flagMiddle uint8 = 0
	// mtuPayload is what one fragment carries with Aeron's default 1408-byte MTU and 32-byte header.
	mtuPayload = 1408 - 32
)

type delivered struct {
	msg     []byte
	session int32
}

func collect() (*Assembler, *[]delivered) {
	var got []delivered
	a := NewAssembler(func(msg []byte, session int32) {
		got = append(got, delivered{append([]byte(nil), msg...), session})
	})
	return a, &got
}

func TestAssemblerPassesUnfragmentedMessagesThroughWithoutCopy(t *testing.T) {
	var seen []byte
	a := NewAssembler(func(msg []byte, _ int32) { seen = msg })
	data := []byte("whole")
	a.OnFragment(data, flagUnfragmented, 1)
	if &seen[0] != &data[0] {
		t.Fatal("unfragmented message was copied")
	}
}

func TestAssemblerDeliversEmptyMessages(t *testing.T) {
	a, got := collect()
	a.OnFragment([]byte{}, flagUnfragmented, 1)
	a.OnFragment(nil, flagBegin, 2)
	a.OnFragment(nil, flagEnd, 2)
	if len(*got) != 2 || len((*got)[0].msg) != 0 || len((*got)[1].msg) != 0 {
		t.Fatalf("got %v, want two empty messages", *got)
	}
}

func TestAssemblerJoinsBeginMiddleEnd(t *testing.T) {
	a, got := collect()
	a.OnFragment([]byte("ab"), flagBegin, 5)
	a.OnFragment([]byte("cd"), flagMiddle, 5)
	a.OnFragment([]byte("ef"), flagMiddle, 5)
	if len(*got) != 0 {
		t.Fatal("delivered before the end fragment")
	}
	a.OnFragment([]byte("g"), flagEnd, 5)
	if len(*got) != 1 || string((*got)[0].msg) != "abcdefg" || (*got)[0].session != 5 {
		t.Fatalf("got %q", *got)
	}
}

func TestAssemblerKeepsInterleavedSessionsApart(t *testing.T) {
	a, got := collect()
	a.OnFragment([]byte("A1"), flagBegin, 1)
	a.OnFragment([]byte("B1"), flagBegin, 2)
	a.OnFragment([]byte("x"), flagUnfragmented, 3)
	a.OnFragment([]byte("A2"), flagEnd, 1)
	a.OnFragment([]byte("B2"), flagMiddle, 2)
	a.OnFragment([]byte("B3"), flagEnd, 2)
	want := []delivered{{[]byte("x"), 3}, {[]byte("A1A2"), 1}, {[]byte("B1B2B3"), 2}}
	if len(*got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(*got), len(want))
	}
	for i, w := range want {
		if !bytes.Equal((*got)[i].msg, w.msg) || (*got)[i].session != w.session {
			t.Errorf("message %d is %q from %d, want %q from %d", i, (*got)[i].msg, (*got)[i].session, w.msg, w.session)
		}
	}
}

func TestAssemblerSkipsFragmentsWithoutABegin(t *testing.T) {
	a, got := collect()
	a.OnFragment([]byte("mid"), flagMiddle, 1) // joined mid-message
	a.OnFragment([]byte("end"), flagEnd, 1)
	a.OnFragment([]byte("a"), flagBegin, 1)
	a.OnFragment([]byte("b"), flagEnd, 1)
	a.OnFragment([]byte("stray"), flagEnd, 1) // end after end
	if len(*got) != 1 || string((*got)[0].msg) != "ab" {
		t.Fatalf("got %q, want only \"ab\"", *got)
	}
}

func TestAssemblerRestartsOnANewBegin(t *testing.T) {
	a, got := collect()
	a.OnFragment([]byte("lost"), flagBegin, 1)
	a.OnFragment([]byte("new"), flagBegin, 1)
	a.OnFragment([]byte("!"), flagEnd, 1)
	if len(*got) != 1 || string((*got)[0].msg) != "new!" {
		t.Fatalf("got %q", *got)
	}
}

func TestAssemblerReusesItsBufferAcrossMessages(t *testing.T) {
	a := NewAssembler(func([]byte, int32) {})
	msg := pattern(1 << 20)
	feed(a, msg, 9) // warm up: grow once
	allocs := testing.AllocsPerRun(20, func() { feed(a, msg, 9) })
	if allocs != 0 {
		t.Errorf("reassembling a 1 MiB message allocates %.1f times once warm, want 0", allocs)
	}
}

func TestAssemblerRebuildsAMegabyteFromMTUFragments(t *testing.T) {
	a, got := collect()
	msg := pattern(1 << 20)
	feed(a, msg, 9)
	if len(*got) != 1 || !bytes.Equal((*got)[0].msg, msg) {
		t.Fatal("1 MiB message not rebuilt intact")
	}
	a.Forget(9)
	if len(a.sessions) != 0 {
		t.Error("Forget kept the session")
	}
}

// feed splits msg into MTU-sized fragments with Aeron's flags.
func feed(a *Assembler, msg []byte, session int32) {
	for off := 0; off < len(msg); off += mtuPayload {
		end := min(off+mtuPayload, len(msg))
		var flags uint8
		if off == 0 {
			flags |= flagBegin
		}
		if end == len(msg) {
			flags |= flagEnd
		}
		a.OnFragment(msg[off:end], flags, session)
	}
}

// termLog lays a message out as Aeron would in a term: 32-byte data headers each followed by
// up to mtuPayload bytes, frames aligned to 32 bytes.
type termLog struct {
	mem     []byte
	buf     *atomic.Buffer
	frames  []frame
	headers []logbuffer.Header
}

type frame struct{ headerAt, dataAt, length int32 }

func newTermLog(msg []byte, session int32) *termLog {
	l := &termLog{}
	var frames []frame
	at := int32(0)
	for off := 0; off < len(msg); off += mtuPayload {
		n := int32(min(mtuPayload, len(msg)-off))
		frames = append(frames, frame{at, at + 32, n})
		at += (32 + n + 31) &^ 31
	}
	l.mem = make([]byte, at)
	l.buf = atomic.MakeBuffer(l.mem)
	for i, f := range frames {
		copy(l.mem[f.dataAt:], msg[i*mtuPayload:i*mtuPayload+int(f.length)])
		var flags uint8
		if i == 0 {
			flags |= flagBegin
		}
		if i == len(frames)-1 {
			flags |= flagEnd
		}
		l.mem[f.headerAt+5] = flags
		var h logbuffer.Header
		h.Wrap(unsafe.Pointer(&l.mem[0]), int32(len(l.mem)))
		h.SetOffset(f.headerAt)
		h.SetSessionId(session)
		l.headers = append(l.headers, h)
	}
	l.frames = frames
	return l
}

func (l *termLog) replay(handler func(*atomic.Buffer, int32, int32, *logbuffer.Header)) {
	for i, f := range l.frames {
		handler(l.buf, f.dataAt, f.length, &l.headers[i])
	}
}

func TestAssemblerFragmentHandlerReadsAeronFrames(t *testing.T) {
	msg := pattern(300000)
	a, got := collect()
	newTermLog(msg, 4).replay(a.FragmentHandler())
	if len(*got) != 1 || !bytes.Equal((*got)[0].msg, msg) || (*got)[0].session != 4 {
		t.Fatal("message rebuilt from Aeron frames differs")
	}
}

// BenchmarkAssemble1MiB reassembles a 1 MiB message from MTU-sized fragments (763 of them)
// with our assembler and with aeron-go's FragmentAssembler, from identical term layouts.
func BenchmarkAssemble1MiB(b *testing.B) {
	msg := pattern(1 << 20)
	log := newTermLog(msg, 1)
	var sink int
	b.Run("polybridge", func(b *testing.B) {
		a := NewAssembler(func(m []byte, _ int32) { sink += len(m) })
		h := a.FragmentHandler()
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			log.replay(h)
		}
	})
	b.Run("aeron-go", func(b *testing.B) {
		a := aeron.NewFragmentAssembler(func(buf *atomic.Buffer, off, n int32, _ *logbuffer.Header) { sink += int(n) },
			aeron.DefaultFragmentAssemblyBufferLength)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			log.replay(a.OnFragment)
		}
	})
	if sink == 0 {
		b.Fatal("nothing delivered")
	}
}
