package worker

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

// A payload region (docs/protocol.md "Payload regions") is a file in the media driver's
// directory, owned by one process that writes payloads into it; others map it read-only and
// messages refer to a piece of it (regionId, regionOffset, regionLength) instead of carrying
// the bytes. The worker owns one, its response region, and reads its clients' request regions.
const (
	regionFilePrefix   = "polybridge-payloads-"
	regionMagic        = "PBREGION"
	regionVersion      = 1
	regionHeaderLength = 4096
	// regionBlock is the allocator's unit: loans are whole blocks, so offsets are page aligned.
	regionBlock = 4096
	// maxRegionData bounds the data area a reader accepts (and the owner creates): 1 GiB.
	maxRegionData = 1 << 30
)

// RegionPath returns the file of the payload region regionID in the media driver's directory.
func RegionPath(aeronDir string, regionID int64) string {
	return filepath.Join(aeronDir, fmt.Sprintf("%s%016x", regionFilePrefix, uint64(regionID)))
}

// newRegionID returns an id for a region this process owns: its pid in the high 32 bits (so a
// sweep can tell a dead owner's file) and a random non-zero nonce in the low ones.
func newRegionID() int64 {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		if nonce := binary.LittleEndian.Uint32(b[:]); nonce != 0 {
			return int64(os.Getpid())<<32 | int64(nonce)
		}
	}
}

// regionHeader is the first 4096 bytes of a region file (little-endian).
type regionHeader struct {
	regionID, ownerPID, dataLength int64
}

func (h regionHeader) write(b []byte) {
	copy(b[0:8], regionMagic)
	binary.LittleEndian.PutUint32(b[8:], regionVersion)
	binary.LittleEndian.PutUint32(b[12:], regionHeaderLength)
	binary.LittleEndian.PutUint64(b[16:], uint64(h.regionID))
	binary.LittleEndian.PutUint64(b[24:], uint64(h.ownerPID))
	binary.LittleEndian.PutUint64(b[32:], uint64(h.dataLength))
}

// checkRegionHeader validates the header of the region file path, of fileSize bytes, that
// should be regionID; the error says what is wrong.
func checkRegionHeader(b []byte, path string, fileSize int64, regionID int64) error {
	switch {
	case len(b) < regionHeaderLength:
		return fmt.Errorf("payload region %s: %d bytes, shorter than its %d-byte header", path, len(b), regionHeaderLength)
	case string(b[0:8]) != regionMagic:
		return fmt.Errorf("payload region %s: bad magic %q, expected %q", path, b[0:8], regionMagic)
	}
	version := binary.LittleEndian.Uint32(b[8:])
	headerLength := binary.LittleEndian.Uint32(b[12:])
	id := int64(binary.LittleEndian.Uint64(b[16:]))
	dataLength := int64(binary.LittleEndian.Uint64(b[32:]))
	switch {
	case version != regionVersion:
		return fmt.Errorf("payload region %s: version %d, this worker reads version %d", path, version, regionVersion)
	case headerLength != regionHeaderLength:
		return fmt.Errorf("payload region %s: header length %d, expected %d", path, headerLength, regionHeaderLength)
	case id != regionID:
		return fmt.Errorf("payload region %s: its header says region %016x", path, uint64(id))
	case dataLength != fileSize-regionHeaderLength:
		return fmt.Errorf("payload region %s: header says %d data bytes, the file holds %d", path, dataLength, fileSize-regionHeaderLength)
	}
	return nil
}

// extent is a run of free blocks, in bytes from the start of the data area.
type extent struct{ offset, length int64 }

// region is a payload region this process owns (the worker's response region): the file is
// created at the first loan, loans are first-fit runs of 4096-byte blocks from the lowest
// offset (few tmpfs pages touched), and a release coalesces with its free neighbours. Safe
// for concurrent use: pool goroutines loan, the poll goroutine releases.
//
// Pages once touched stay resident (tmpfs is RAM) until the file is removed at stop.
type region struct {
	dir        string
	id         int64
	dataLength int64

	mu      sync.Mutex
	mem     []byte          // the whole file mapped read-write; nil until the first loan
	free    []extent        // sorted by offset, never adjacent
	loans   map[int64]int64 // offset -> bytes taken (whole blocks)
	lent    int64           // bytes in loans (whole blocks)
	created bool            // the file exists: unlink it at close
	closed  bool
	failed  error // the last creation failure, for messages

	freeSpace func(dir string) (uint64, error) // freeBytes; tests replace it
}

// regionFullError is a loan the region cannot make now.
type regionFullError struct {
	need, lent, size int64
}

func (e *regionFullError) Error() string {
	return fmt.Sprintf("the worker's payload region is full (%d of %d bytes lent, %d needed)", e.lent, e.size, e.need)
}

func newRegion(dir string, id int64, dataLength int64) *region {
	return &region{dir: dir, id: id, dataLength: dataLength,
		free: []extent{{0, dataLength}}, loans: map[int64]int64{}, freeSpace: freeBytes}
}

func (r *region) path() string { return RegionPath(r.dir, r.id) }

// loan takes n bytes (rounded up to whole blocks) and returns their offset in the data area
// and a writable view of exactly n bytes. The file is created first if it is not yet.
func (r *region) loan(n int64) (int64, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, nil, errors.New("the worker's payload region is closed")
	}
	if r.mem == nil {
		if err := r.create(); err != nil {
			r.failed = err
			return 0, nil, err
		}
	}
	need := (max(n, 1) + regionBlock - 1) / regionBlock * regionBlock
	for i, e := range r.free {
		if e.length < need {
			continue
		}
		offset := e.offset
		if e.length == need {
			r.free = append(r.free[:i], r.free[i+1:]...)
		} else {
			r.free[i] = extent{e.offset + need, e.length - need}
		}
		r.loans[offset] = need
		r.lent += need
		start := regionHeaderLength + offset
		return offset, r.mem[start : start+n : start+n], nil
	}
	return 0, nil, &regionFullError{need: need, lent: r.lent, size: r.dataLength}
}

// release gives back the loan at offset; false if there is none there.
func (r *region) release(offset int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	length, ok := r.loans[offset]
	if !ok {
		return false
	}
	delete(r.loans, offset)
	r.lent -= length
	i := sort.Search(len(r.free), func(i int) bool { return r.free[i].offset > offset })
	e := extent{offset, length}
	if i > 0 && r.free[i-1].offset+r.free[i-1].length == offset { // joins the one before
		i--
		e = extent{r.free[i].offset, r.free[i].length + length}
		r.free = append(r.free[:i], r.free[i+1:]...)
	}
	if i < len(r.free) && e.offset+e.length == r.free[i].offset { // and the one after
		e.length += r.free[i].length
		r.free = append(r.free[:i], r.free[i+1:]...)
	}
	r.free = append(r.free, extent{})
	copy(r.free[i+1:], r.free[i:])
	r.free[i] = e
	return true
}

// lentBytes returns the bytes lent now (whole blocks).
func (r *region) lentBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lent
}

// create makes the file: owner-only, sized only if the filesystem has the room (tmpfs is
// sparse, and touching a page past its free space is SIGBUS), mapped, header written. r.mu held.
func (r *region) create() error {
	path := r.path()
	size := regionHeaderLength + r.dataLength
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o600)
	if errors.Is(err, syscall.EEXIST) {
		// Our pid in the name: a file left by an earlier process that had our pid. Ours now.
		if err = os.Remove(path); err == nil {
			fd, err = syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o600)
		}
	}
	if err != nil {
		return fmt.Errorf("cannot create the payload region %s: %w", path, err)
	}
	defer syscall.Close(fd)
	r.created = true
	fail := func(err error) error {
		_ = os.Remove(path)
		r.created = false
		return err
	}
	free, err := r.freeSpace(r.dir)
	if err != nil {
		return fail(fmt.Errorf("cannot create the payload region %s: free space unknown: %w", path, err))
	}
	if free < uint64(size) {
		return fail(fmt.Errorf("cannot create the payload region %s: its filesystem has %d bytes free, the region needs %d: lower --payload-region-mib",
			path, free, size))
	}
	if err := syscall.Ftruncate(fd, size); err != nil {
		return fail(fmt.Errorf("cannot size the payload region %s to %d bytes: %w", path, size, err))
	}
	mem, err := syscall.Mmap(fd, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fail(fmt.Errorf("cannot map the payload region %s: %w", path, err))
	}
	regionHeader{regionID: r.id, ownerPID: int64(os.Getpid()), dataLength: r.dataLength}.write(mem)
	r.mem = mem
	return nil
}

// close removes the file and, when unmap is true (nothing may still write into a loan),
// unmaps it. Later loans fail. Idempotent.
func (r *region) close(unmap bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	var err error
	if r.created {
		r.created = false
		if e := os.Remove(r.path()); e != nil && !errors.Is(e, os.ErrNotExist) {
			err = e
		}
	}
	if unmap && r.mem != nil {
		if e := syscall.Munmap(r.mem); e != nil && err == nil {
			err = e
		}
		r.mem = nil
	}
	return err
}
