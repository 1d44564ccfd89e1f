// Command fingerprint-reference fingerprints pages with wappalyzergo directly, in process,
// with no polybridge code in between: the reference that GoFingerprintParityTest (Java)
// compares the Java -> Aeron -> Go worker -> Java results against.
//
//	fingerprint-reference [-H 'Name: value']... FILE...
//
// For each FILE it prints
//
//	page FILE
//	tech KEY<TAB>CATEGORY<TAB>CATEGORY...     one line per technology, keys sorted
//	end
//
// where KEY is wappalyzergo's result key ("name" or "name:version") and the categories are
// FingerprintWithInfo's, in its order. Backslash, tab, CR and newline in any field are written
// as \\, \t, \r, \n.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"

	wappalyzer "github.com/projectdiscovery/wappalyzergo"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	var headers headerFlags
	flag.Var(&headers, "H", "a response header 'Name: value' given to wappalyzergo (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: fingerprint-reference [-H 'Name: value']... FILE...\n\n"+
			"Prints wappalyzergo's FingerprintWithInfo result for each file (see the package doc).\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	// As a Go program would receive them from net/http: http.Header, names canonicalised.
	header := http.Header{}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(os.Stderr, "fingerprint-reference: header %q has no ':'\n", h)
			os.Exit(2)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	wap, err := wappalyzer.New()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fingerprint-reference: %v\n", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, path := range flag.Args() {
		body, err := os.ReadFile(path)
		if err != nil {
			out.Flush()
			fmt.Fprintf(os.Stderr, "fingerprint-reference: %v\n", err)
			os.Exit(1)
		}
		found := wap.FingerprintWithInfo(header, body)
		keys := make([]string, 0, len(found))
		for k := range found {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(out, "page %s\n", escape(path))
		for _, k := range keys {
			fields := append([]string{k}, found[k].Categories...)
			for i := range fields {
				fields[i] = escape(fields[i])
			}
			fmt.Fprintf(out, "tech %s\n", strings.Join(fields, "\t"))
		}
		fmt.Fprintln(out, "end")
	}
}

var escaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\r", `\r`, "\n", `\n`)

func escape(s string) string { return escaper.Replace(s) }
