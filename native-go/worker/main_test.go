package worker

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeDriverDir passes Config.Conclude's check that a driver directory holds a cnc.dat.
func fakeDriverDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cnc.dat"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Every case stops before connecting to a driver: the command line is checked first.
func TestRunChecksTheCommandLineBeforeConnecting(t *testing.T) {
	var appFlag string
	var sawEcho bool
	app := App{
		Name:  "test-worker",
		About: "A worker for this test.",
		Flags: func(fs *flag.FlagSet) { fs.StringVar(&appFlag, "mode", "ok", "what Start does: ok, usage, fail") },
		Start: func(_ context.Context, env *Env) (func(), error) {
			_, sawEcho = env.Registry.Lookup([]byte(EchoName))
			switch appFlag {
			case "usage":
				return nil, UsageError("--mode usage is not allowed")
			case "fail":
				return nil, errors.New("the app could not start")
			}
			return nil, nil
		},
	}
	driver := fakeDriverDir(t)
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"--help prints the common and the app's flags", []string{"--help"}, 0, "A worker for this test."},
		{"--help lists the app's flags", []string{"-h"}, 0, "-mode"},
		{"--aeron-dir is required", nil, 2, "--aeron-dir is required"},
		{"an unknown flag", []string{"--aeron-dir", driver, "--nope"}, 2, "flag provided but not defined: -nope"},
		{"an extra argument", []string{"--aeron-dir", driver, "extra"}, 2, `unexpected argument "extra"`},
		{"a common flag out of range", []string{"--aeron-dir", driver, "--pool-size", "0"}, 2, "--pool-size must be at least 1"},
		{"an unknown idle strategy", []string{"--aeron-dir", driver, "--idle", "nap"}, 2, "--idle"},
		{"an idle sleep-after under 20ms", []string{"--aeron-dir", driver, "--idle-sleep-after", "10ms"}, 2, "--idle-sleep-after must be 0 (never sleep) or at least 20ms, got 10ms"},
		{"a negative idle sleep-after", []string{"--aeron-dir", driver, "--idle-sleep-after", "-1s"}, 2, "--idle-sleep-after must be 0"},
		{"an idle sleep of 0", []string{"--aeron-dir", driver, "--idle-sleep", "0"}, 2, "--idle-sleep must be positive and at most 10s, got 0s"},
		{"an idle sleep over 10s", []string{"--aeron-dir", driver, "--idle-sleep", "11s"}, 2, "--idle-sleep must be positive and at most 10s, got 11s"},
		{"an app flag the app rejects", []string{"--aeron-dir", driver, "--mode", "usage"}, 2, "test-worker: --mode usage is not allowed"},
		{"an app that fails to start", []string{"--aeron-dir", driver, "--mode", "fail"}, 1, "test-worker: the app could not start"},
		{"a directory without a driver", []string{"--aeron-dir", t.TempDir()}, 2, "no media driver in"},
		{"reply channel params naming the endpoint", []string{"--aeron-dir", driver, "--reply-channel-params", "term-length=16m|endpoint=1.2.3.4:5"}, 2, "may not set endpoint"},
		{"reply channel params that are not key=value", []string{"--aeron-dir", driver, "--reply-channel-params", "term-length"}, 2, "want key=value pairs"},
		{"a request channel that is not an Aeron URI", []string{"--aeron-dir", driver, "--request-channel", "udp://10.0.0.2:40100"}, 2, "request channel \"udp://10.0.0.2:40100\" is not an aeron:ipc or aeron:udp URI"},
		{"an advertised request channel that is not an Aeron URI", []string{"--aeron-dir", driver, "--advertised-request-channel", "10.0.0.2:40100"}, 2, "advertised request channel"},
		{"reply channel params with a '?'", []string{"--aeron-dir", driver, "--reply-channel-params", "term-length=16m?x"}, 2, "want key=value pairs"},
		{"an announce channel that is not an Aeron URI", []string{"--aeron-dir", driver, "--announce-channel", "10.0.0.2:40102"}, 2, "announce channel"},
		{"a payload region over 1 GiB", []string{"--aeron-dir", driver, "--payload-region-mib", "1025"}, 2, "--payload-region-mib must be 0 (no region) to 1024, got 1025"},
		{"a max message of 0", []string{"--aeron-dir", driver, "--max-message-mib", "0"}, 2, "--max-message-mib must be 1 to 1024, got 0"},
		{"a max message larger than the region", []string{"--aeron-dir", driver, "--payload-region-mib", "32"}, 2, "--max-message-mib 64 exceeds --payload-region-mib 32"},
		{"a negative loan threshold", []string{"--aeron-dir", driver, "--payload-loan-threshold", "-5"}, 2, "--payload-loan-threshold must be 0 (never lend) or more bytes, got -5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			status := Run(app, tc.args, &stderr)
			if status != tc.status || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", status, stderr.String(), tc.status, tc.stderr)
			}
		})
	}
	if !sawEcho {
		t.Error("App.Start ran without echo in the registry")
	}
}

func TestChannelFlagsDefaultToTodaysIPCBehaviour(t *testing.T) {
	driver := fakeDriverDir(t)
	const udpRequests, advertised = "aeron:udp?endpoint=0.0.0.0:40100", "aeron:udp?endpoint=10.0.0.2:40100"
	const announce = "aeron:udp?control=10.0.0.2:40102|control-mode=dynamic|term-length=64k"
	for _, tc := range []struct {
		name                                       string
		args                                       []string
		request, advertised, announce, replyParams string
	}{
		{"no channel flags: everything on --channel, nothing advertised", nil,
			"aeron:ipc", "", "aeron:ipc", "term-length=16m"},
		{"--channel alone moves all three", []string{"--channel", "aeron:ipc?term-length=64k"},
			"aeron:ipc?term-length=64k", "", "aeron:ipc?term-length=64k", "term-length=16m"},
		{"a UDP request channel is advertised as it is", []string{"--request-channel", udpRequests},
			udpRequests, udpRequests, "aeron:ipc", "term-length=16m"},
		{"a bind address advertised as the reachable one", []string{"--request-channel", udpRequests, "--advertised-request-channel", advertised,
			"--announce-channel", announce, "--reply-channel-params", "term-length=16m|mtu=8192"},
			udpRequests, advertised, announce, "term-length=16m|mtu=8192"},
		{"explicitly empty: nothing advertised, no reply parameters", []string{"--request-channel", udpRequests,
			"--advertised-request-channel", "", "--reply-channel-params", ""},
			udpRequests, "", "aeron:ipc", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := concludedConfig(t, driver, tc.args)
			got := [4]string{cfg.RequestChannel, cfg.AdvertisedRequestChannel, cfg.AnnounceChannel, cfg.ReplyChannelParams}
			if want := [4]string{tc.request, tc.advertised, tc.announce, tc.replyParams}; got != want {
				t.Errorf("request, advertised, announce, reply params = %q, want %q", got, want)
			}
		})
	}
}

// concludedConfig parses the common flags (with --aeron-dir driver) and concludes the Config.
func concludedConfig(t *testing.T, driver string, args []string) Config {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f := declareCommonFlags(fs)
	if err := fs.Parse(append([]string{"--aeron-dir", driver}, args...)); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Conclude(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPayloadFlagsSetTheRegionTheMessageLimitAndTheThreshold(t *testing.T) {
	driver := fakeDriverDir(t)
	for _, tc := range []struct {
		name                       string
		args                       []string
		regionMiB, maxMiB, minLoan int
	}{
		{"defaults", nil, 256, 64, 65536},
		{"no region, no loans", []string{"--payload-region-mib", "0", "--payload-loan-threshold", "0"}, -1, 64, -1},
		{"a 1 GiB message in a 1 GiB region", []string{"--payload-region-mib", "1024", "--max-message-mib", "1024"}, 1024, 1024, 65536},
		{"a large max message without a region", []string{"--payload-region-mib", "0", "--max-message-mib", "512"}, -1, 512, 65536},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := concludedConfig(t, driver, tc.args)
			if cfg.PayloadRegionMiB != tc.regionMiB || cfg.MaxMessageMiB != tc.maxMiB || cfg.PayloadLoanThreshold != tc.minLoan {
				t.Errorf("region %d MiB, max message %d MiB, threshold %d; want %d, %d, %d",
					cfg.PayloadRegionMiB, cfg.MaxMessageMiB, cfg.PayloadLoanThreshold, tc.regionMiB, tc.maxMiB, tc.minLoan)
			}
		})
	}
}

func TestIdleFlagsSetTheBackoffsSleepPhase(t *testing.T) {
	driver := fakeDriverDir(t)
	for _, tc := range []struct {
		name              string
		args              []string
		sleepAfter, sleep time.Duration
	}{
		{"defaults", nil, 50 * time.Millisecond, 100 * time.Millisecond},
		{"both given", []string{"--idle-sleep-after", "20ms", "--idle-sleep", "10s"}, 20 * time.Millisecond, 10 * time.Second},
		{"0: never sleep", []string{"--idle-sleep-after", "0"}, 0, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := concludedConfig(t, driver, tc.args)
			b := cfg.Idle.(*Backoff)
			if b.SleepAfter != tc.sleepAfter || b.Sleep != tc.sleep || b.Sleeps() != (tc.sleepAfter > 0) {
				t.Errorf("sleep after %v, sleep %v; want %v, %v", b.SleepAfter, b.Sleep, tc.sleepAfter, tc.sleep)
			}
		})
	}
}

func TestConfigRefusesAnIdleSleepOutOfRange(t *testing.T) {
	driver := fakeDriverDir(t)
	for _, cfg := range []Config{
		{AeronDir: driver, IdleSleepAfter: 5 * time.Millisecond},
		{AeronDir: driver, IdleSleep: time.Minute},
	} {
		if err := cfg.Conclude(); err == nil || !strings.Contains(err.Error(), "idle sleep") {
			t.Errorf("%v, %v: Conclude = %v", cfg.IdleSleepAfter, cfg.IdleSleep, err)
		}
	}
}
