package wasm

import (
	"strings"
	"testing"
)

func TestOutputCaptureKeepsTheBeginningAndTheEnd(t *testing.T) {
	cases := []struct {
		writes []string
		want   string
	}{
		{[]string{"short"}, "short"},
		{[]string{"abc", "def", "ghi"}, "abcdefghi"},          // exactly head + tail
		{[]string{"abcd", "efgh", "ijkl"}, "abcd [...] ijkl"}, // head 4, tail 4
		{[]string{"ab", strings.Repeat("x", 100), "yz"}, "abxx [...] xxyz"},
		{[]string{strings.Repeat("q", 50)}, "qqqq [...] qqqq"},
	}
	for _, tc := range cases {
		c := newOutputCapture(4, 4)
		if tc.want == "abcdefghi" {
			c = newOutputCapture(4, 5)
		}
		for _, w := range tc.writes {
			if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", w, n, err)
			}
		}
		if got := c.String(); got != tc.want {
			t.Errorf("after %q: %q, want %q", tc.writes, got, tc.want)
		}
		c.Reset()
		if got := c.String(); got != "" {
			t.Errorf("after Reset: %q", got)
		}
	}
}

func TestLimitedMemoryRefusesToGrowPastItsLimitAndRemembersTheAsk(t *testing.T) {
	m := newLimitedMemory(4 * pageSize)
	if b := m.Reallocate(pageSize); len(b) != pageSize {
		t.Fatalf("first page: %d bytes", len(b))
	}
	b := m.Reallocate(3 * pageSize)
	if len(b) != 3*pageSize || b[len(b)-1] != 0 {
		t.Fatalf("grown to %d bytes, last byte %d", len(b), b[len(b)-1])
	}
	b[0] = 42
	if b := m.Reallocate(4 * pageSize); len(b) != 4*pageSize || b[0] != 42 {
		t.Fatal("growing to the limit lost the contents or failed")
	}
	if m.refused() != 0 {
		t.Fatal("a refusal was recorded without one")
	}
	if b := m.Reallocate(5 * pageSize); b != nil {
		t.Fatal("grew past the limit")
	}
	if m.refused() != 5*pageSize {
		t.Fatalf("refused() = %d, want %d", m.refused(), 5*pageSize)
	}
	m.Free()
}

func TestCheckMemoriesReadsTheMemorySection(t *testing.T) {
	// (module (memory 3 10)) and (module (memory 3)): magic, version, section 5.
	withMax := []byte("\x00asm\x01\x00\x00\x00\x05\x04\x01\x01\x03\x0a")
	noMax := []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x03")
	for _, wasm := range [][]byte{withMax, noMax} {
		if err := checkMemories(wasm, 3*pageSize); err != nil {
			t.Errorf("3 pages under a 3-page limit: %v", err)
		}
		if err := checkMemories(wasm, 2*pageSize); err == nil || !strings.Contains(err.Error(), "declares 0.2 MiB") {
			t.Errorf("3 pages under a 2-page limit: %v", err)
		}
	}
	if err := checkMemories([]byte("\x00asm\x01\x00\x00\x00\x05\xff"), pageSize); err != nil {
		t.Errorf("a truncated section is left to the compiler to report: %v", err)
	}
}
