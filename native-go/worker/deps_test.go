package worker

import (
	"os/exec"
	"strings"
	"testing"
)

// The SDK package depends on Aeron and the transport codecs only (and what they pull in): an
// application's dependencies, such as the web-scan example's wappalyzergo, must never reach a
// module that requires the SDK. Asks the go command, as a user would (`go list -deps`).
func TestSDKDependsOnAeronAndTheTransportCodecsOnly(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/polybridge/polybridge/native-go/worker",
		"github.com/polybridge/polybridge/codecs/go/polybridge",
		"github.com/lirm/aeron-go/",   // the Aeron client
		"github.com/edsrzf/mmap-go",   // aeron-go: the driver's files
		"go.uber.org/",                // aeron-go: its logger (zap, multierr)
		"golang.org/x/sys/",           // mmap-go
		"github.com/stretchr/",        // aeron-go imports testify's assert outside its tests (testify, objx)
		"github.com/davecgh/go-spew/", // testify
		"github.com/pmezard/go-difflib/",
		"gopkg.in/yaml.v3",
	}
	for _, pkg := range strings.Fields(string(out)) {
		ok := false
		for _, prefix := range allowed {
			ok = ok || strings.HasPrefix(pkg, prefix)
		}
		if !ok {
			t.Errorf("native-go/worker depends on %s, which is neither Aeron nor the transport codecs", pkg)
		}
	}
	if strings.Contains(string(out), "wappalyzergo") {
		t.Error("native-go/worker depends on wappalyzergo")
	}
}
