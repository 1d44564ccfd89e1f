package worker

import (
	"unsafe"

	"github.com/lirm/aeron-go/aeron/atomic"
	"github.com/lirm/aeron-go/aeron/logbuffer"
	"github.com/lirm/aeron-go/aeron/logbuffer/term"
)

// Aeron data frame flags.
const (
	flagBegin        uint8 = 0x80
	flagEnd          uint8 = 0x40
	flagUnfragmented       = flagBegin | flagEnd
)

// initialAssemblyCapacity is the first size of a session's reassembly buffer; it doubles as needed.
const initialAssemblyCapacity = 64 * 1024

// Assembler rebuilds whole messages from Aeron fragments.
//
// A message that arrived in one fragment is handed on as a view of the term buffer, without a
// copy. Fragments of a larger message are appended with copy() into a per-session buffer that
// is kept and reused, growing by doubling, so steady traffic allocates nothing.
// (aeron-go's FragmentAssembler appends byte by byte into a bytes.Buffer and wraps each whole
// message in a new atomic.Buffer built by reflection; see the README for the numbers.)
//
// The message passed to the delegate is valid only until the delegate returns.
// An Assembler is used from the one goroutine that polls the subscription.
type Assembler struct {
	deliver  func(msg []byte, sessionID int32)
	sessions map[int32]*session
}

type session struct {
	buf        []byte
	inProgress bool // a begin fragment was seen and its end has not been
}

// NewAssembler returns an assembler delivering whole messages to deliver.
func NewAssembler(deliver func(msg []byte, sessionID int32)) *Assembler {
	return &Assembler{deliver: deliver, sessions: make(map[int32]*session)}
}

// OnFragment takes one fragment: its data, its frame flags and the publication session it
// belongs to. Fragments of one session arrive in order; sessions may interleave.
func (a *Assembler) OnFragment(data []byte, flags uint8, sessionID int32) {
	if flags&flagUnfragmented == flagUnfragmented {
		a.deliver(data, sessionID)
		return
	}
	s := a.sessions[sessionID]
	if flags&flagBegin != 0 {
		if s == nil {
			s = &session{buf: make([]byte, 0, max(initialAssemblyCapacity, len(data)))}
			a.sessions[sessionID] = s
		}
		// A begin without the previous end means that message was lost; start over.
		s.buf = appendGrowing(s.buf[:0], data)
		s.inProgress = true
		return
	}
	if s == nil || !s.inProgress {
		return // a middle or end whose begin we never saw (joined mid-message): skip it
	}
	s.buf = appendGrowing(s.buf, data)
	if flags&flagEnd != 0 {
		s.inProgress = false
		a.deliver(s.buf, sessionID)
	}
}

// Forget drops the reassembly buffer of a session whose image went away.
func (a *Assembler) Forget(sessionID int32) {
	delete(a.sessions, sessionID)
}

// appendGrowing appends data to buf, doubling the capacity when it must grow.
func appendGrowing(buf, data []byte) []byte {
	need := len(buf) + len(data)
	if need > cap(buf) {
		grown := make([]byte, len(buf), max(need, 2*cap(buf)))
		copy(grown, buf)
		buf = grown
	}
	return append(buf, data...)
}

// FragmentHandler adapts the assembler to aeron-go's Subscription.Poll.
func (a *Assembler) FragmentHandler() term.FragmentHandler {
	return func(buffer *atomic.Buffer, offset int32, length int32, header *logbuffer.Header) {
		a.OnFragment(termBytes(buffer, offset, length), header.Flags(), header.SessionId())
	}
}

// termBytes views length bytes of an Aeron buffer at offset as a slice without copying.
func termBytes(buffer *atomic.Buffer, offset, length int32) []byte {
	if length <= 0 {
		return []byte{}
	}
	// The term buffer is a memory-mapped file that stays mapped while the image is polled,
	// and the slice does not outlive the fragment callback.
	return unsafe.Slice((*byte)(unsafe.Add(buffer.Ptr(), offset)), length)
}
