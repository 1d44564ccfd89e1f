package worker

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestRegionPathNamesTheIdInSixteenHexDigits(t *testing.T) {
	if got := RegionPath("/dev/shm/aeron", 0x0000303A01020304); got != "/dev/shm/aeron/polybridge-payloads-0000303a01020304" {
		t.Errorf("got %s", got)
	}
	id := newRegionID()
	if id>>32 != int64(os.Getpid()) || uint32(id) == 0 {
		t.Errorf("region id %016x: want our pid %x in the high half and a non-zero nonce", id, os.Getpid())
	}
}

func TestRegionHeaderRoundTripsAndEveryFlawIsNamed(t *testing.T) {
	const id, size = 0x0000303A01020304, regionHeaderLength + 8192
	valid := func() []byte {
		b := make([]byte, regionHeaderLength)
		regionHeader{regionID: id, ownerPID: 4242, dataLength: 8192}.write(b)
		return b
	}
	b := valid()
	if string(b[:8]) != "PBREGION" || binary.LittleEndian.Uint32(b[8:]) != 1 || binary.LittleEndian.Uint32(b[12:]) != 4096 ||
		binary.LittleEndian.Uint64(b[16:]) != id || binary.LittleEndian.Uint64(b[24:]) != 4242 || binary.LittleEndian.Uint64(b[32:]) != 8192 {
		t.Fatalf("header bytes %x", b[:40])
	}
	if err := checkRegionHeader(b, "f", size, id); err != nil {
		t.Fatalf("valid header refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(b []byte) []byte
		size   int64
		want   string
	}{
		{"short", func(b []byte) []byte { return b[:100] }, size, "shorter than its 4096-byte header"},
		{"bad magic", func(b []byte) []byte { copy(b, "PBREGIOX"); return b }, size, "bad magic"},
		{"version 2", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 2); return b }, size, "version 2"},
		{"header length", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 64); return b }, size, "header length 64"},
		{"another region", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 7); return b }, size, "its header says region 0000000000000007"},
		{"data length and file size disagree", func(b []byte) []byte { return b }, size + 4096, "header says 8192 data bytes, the file holds 12288"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRegionHeader(tc.mutate(valid()), "f", tc.size, id)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRegionLendsFirstFitBlocksAndCoalescesReleases(t *testing.T) {
	dir := t.TempDir()
	r := newRegion(dir, newRegionID(), 5*regionBlock)
	t.Cleanup(func() { _ = r.close(true) })
	loan := func(n int64) int64 {
		t.Helper()
		offset, b, err := r.loan(n)
		if err != nil {
			t.Fatalf("loan of %d: %v", n, err)
		}
		if int64(len(b)) != n {
			t.Fatalf("loan of %d gave %d bytes", n, len(b))
		}
		return offset
	}
	a, b, c := loan(1), loan(regionBlock+1), loan(regionBlock)
	if a != 0 || b != regionBlock || c != 3*regionBlock {
		t.Fatalf("offsets %d %d %d, want 0, 4096, 12288: first fit in whole blocks", a, b, c)
	}
	if r.lentBytes() != 4*regionBlock {
		t.Errorf("lent %d, want 4 blocks", r.lentBytes())
	}
	if _, _, err := r.loan(2 * regionBlock); !errors.As(err, new(*regionFullError)) || !strings.Contains(err.Error(), "16384 of 20480 bytes lent") {
		t.Errorf("loan past the free block: %v, want region full naming lent and size", err)
	}
	if !r.release(a) || r.release(a) || r.release(5) {
		t.Error("release: want true once for a loan, false again or for no loan")
	}
	if got := loan(regionBlock); got != 0 { // the lowest free block first
		t.Errorf("after releasing block 0 the next loan is at %d", got)
	}
	r.release(0)
	r.release(b) // coalesces with block 0 before it ...
	r.release(c) // ... and with the free tail after it: one extent, the whole region
	if len(r.free) != 1 || r.free[0] != (extent{0, 5 * regionBlock}) || r.lentBytes() != 0 {
		t.Errorf("free %v, lent %d: want one extent of the whole region", r.free, r.lentBytes())
	}
	if got := loan(5 * regionBlock); got != 0 {
		t.Errorf("the whole region lent at %d", got)
	}
}

func TestRegionFileIsOwnerOnlyCreatedAtTheFirstLoanAndRemovedAtClose(t *testing.T) {
	dir := t.TempDir()
	r := newRegion(dir, newRegionID(), regionBlock)
	if _, err := os.Stat(r.path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file exists before the first loan: %v", err)
	}
	if _, _, err := r.loan(10); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(r.path())
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 || info.Size() != regionHeaderLength+regionBlock {
		t.Errorf("mode %v size %d, want 0600 and %d", info.Mode().Perm(), info.Size(), regionHeaderLength+regionBlock)
	}
	if err := r.close(true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file left after close: %v", err)
	}
	if _, _, err := r.loan(10); err == nil {
		t.Error("loan after close succeeded")
	}
}

func TestRegionRefusesToCreateAFileLargerThanTheFreeSpace(t *testing.T) {
	dir := t.TempDir()
	r := newRegion(dir, newRegionID(), 4*regionBlock)
	r.freeSpace = func(string) (uint64, error) { return 3 * regionBlock, nil } // tmpfs nearly full
	_, _, err := r.loan(1)
	want := "its filesystem has 12288 bytes free, the region needs 20480: lower --payload-region-mib"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), r.path()) {
		t.Errorf("got %v, want a message naming the path, the free and needed bytes and the knob", err)
	}
	if _, statErr := os.Stat(r.path()); !errors.Is(statErr, os.ErrNotExist) {
		t.Error("file left after a failed creation")
	}
	r.freeSpace = freeBytes // room again: the next loan creates it
	if _, _, err := r.loan(1); err != nil {
		t.Errorf("loan once there is room: %v", err)
	}
	_ = r.close(true)
}

// clientRegion writes data into a new region in dir as a client does and returns its id and
// the data's offset; the file goes with the test.
func clientRegion(t testing.TB, dir string, dataLength int64, data []byte) (int64, int64, *region) {
	t.Helper()
	r := newRegion(dir, newRegionID(), dataLength)
	t.Cleanup(func() { _ = r.close(false) }) // a handler of a failed test may still read it
	offset, b, err := r.loan(int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	copy(b, data)
	return r.id, offset, r
}

func TestRegionMapsReadInPlaceAndRefuseBadReferences(t *testing.T) {
	dir := t.TempDir()
	id, offset, owner := clientRegion(t, dir, 2*regionBlock, []byte("hello region"))
	m := newRegionMaps(dir)
	t.Cleanup(func() { _ = m.close() })

	payload, mapped, err := m.payload(id, offset, 12)
	if err != nil || string(payload) != "hello region" {
		t.Fatalf("payload %q, %v", payload, err)
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(mapped.mem)))
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(payload))); p != start+regionHeaderLength+uintptr(offset) {
		t.Error("the payload is not a view of the mapping")
	}
	if cap(payload) != len(payload) {
		t.Error("the view is not capped: an append could reach the next loan")
	}
	m.done(mapped)

	bad := newRegion(dir, newRegionID(), regionBlock)
	t.Cleanup(func() { _ = bad.close(true) })
	if _, _, err := bad.loan(1); err != nil {
		t.Fatal(err)
	}
	copy(bad.mem, "XXREGION")
	for _, tc := range []struct {
		name               string
		id, offset, length int64
		want               string
	}{
		{"past the end", id, 2 * regionBlock, 1, "out of the bounds"},
		{"overflowing", id, 1, 1<<63 - 1, "out of the bounds"},
		{"negative offset", id, -1, 1, "out of the bounds"},
		{"negative length", id, 0, -1, "out of the bounds"},
		{"no such file", id + 1, 0, 1, "cannot be opened"},
		{"bad magic", bad.id, 0, 1, "bad magic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := m.payload(tc.id, tc.offset, tc.length); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	tiny := newRegionID()
	if err := os.WriteFile(RegionPath(dir, tiny), []byte("PBREGION"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.payload(tiny, 0, 1); err == nil || !strings.Contains(err.Error(), "is 8 bytes: a region is 4096 to") {
		t.Errorf("a file shorter than the header: %v", err)
	}
	p, r, err := m.payload(id, 2*regionBlock, 0)
	if err != nil || len(p) != 0 {
		t.Fatalf("an empty payload at the end: %v", err)
	}
	m.done(r)

	// The owner removes its file: the mapping goes at the next sweep, unless a request reads it.
	_, held, _ := m.payload(id, offset, 1)
	_ = owner.close(false)
	m.sweep(time.Now().Add(2 * regionSweepInterval))
	if _, ok := m.byID[id]; !ok {
		t.Fatal("a mapping in hand was unmapped")
	}
	m.done(held)
	m.sweep(time.Now().Add(4 * regionSweepInterval))
	if _, ok := m.byID[id]; ok {
		t.Error("the mapping of a removed file was kept")
	}
}
