package main

import (
	"context"
	"errors"
	"testing"

	"github.com/polybridge/polybridge/examples/hello/go/hello"
	"github.com/polybridge/polybridge/native-go/worker"
)

func encodeGreet(name string) []byte {
	buf := make([]byte, int(hello.MessageHeaderEncodedLength)+int(hello.GreetSbeBlockLength)+2+len(name))
	var m hello.Greet
	m.WrapAndApplyHeader(buf, 0, uint64(len(buf))).PutName(name)
	return buf
}

func TestGreet(t *testing.T) {
	h := worker.Typed[hello.Greet, hello.Greeting](greet)
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string // the Greeting's text; empty: BAD_REQUEST
	}{
		{"a name is greeted", encodeGreet("Ada"), "Hello, Ada, from Go!"},
		{"an empty name is refused", encodeGreet(""), ""},
		{"a name length past the payload is refused", encodeGreet("Ada")[:10], ""},
		{"an empty payload is refused", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := h.Handle(context.Background(), tc.payload)
			if tc.want == "" {
				if !errors.Is(err, worker.ErrBadRequest) {
					t.Fatalf("err = %v, want BAD_REQUEST", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var g hello.Greeting
			g.WrapForDecode(out, hello.MessageHeaderEncodedLength, uint64(hello.GreetingSbeBlockLength), uint64(hello.GreetingSbeSchemaVersion), uint64(len(out)))
			if got := g.Text(); got != tc.want {
				t.Errorf("greeting %q, want %q", got, tc.want)
			}
		})
	}
}
