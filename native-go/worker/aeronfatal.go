package worker

import (
	"sync"
	"sync/atomic"
	_ "unsafe" // for go:linkname

	"github.com/lirm/aeron-go/aeron/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// aeron-go (pinned at 8b05ad14e456) decodes driver broadcasts in driver.ListenerAdapter and
// calls logger.Fatalf("received unhandled %d", typeID) for any response type it does not know.
// Aeron 1.45+ drivers broadcast three such types to every client of the driver:
// ON_STATIC_COUNTER (0x0F0B), ON_PUBLICATION_ERROR (0x0F0C), ON_NEXT_AVAILABLE_SESSION_ID
// (0x0F0D). The Fatalf is zap's, which by default calls os.Exit(1). The Java client, like this
// hook, ignores event types it does not handle. aeron-go offers no public way to reach that
// logger, so we link to its package variable and give it a fatal hook that returns instead of
// exiting; the listener then falls out of its switch and carries on with the next broadcast.

//go:linkname aeronDriverLogger github.com/lirm/aeron-go/aeron/driver.logger
var aeronDriverLogger *logging.ZapLogger

// UnhandledDriverEvents counts driver broadcasts that aeron-go would have exited on.
var UnhandledDriverEvents atomic.Uint64

var installFatalHookOnce sync.Once

// survivingFatalHook replaces zap's exit-on-fatal for aeron-go's driver listener.
type survivingFatalHook struct{}

func (survivingFatalHook) OnWrite(*zapcore.CheckedEntry, []zapcore.Field) {
	UnhandledDriverEvents.Add(1)
}

// InstallAeronFatalHook makes aeron-go's driver listener survive driver events it does not
// know. Worker.Run calls it; a process that connects other aeron-go clients must call it
// before the first aeron.Connect, because client conductor goroutines read that logger without
// synchronisation.
func InstallAeronFatalHook() {
	installFatalHookOnce.Do(func() {
		l := aeronDriverLogger.Logger().WithOptions(zap.WithFatalHook(survivingFatalHook{}))
		aeronDriverLogger.SetLogger(l)
		aeronDriverLogger.SetSugar(l.Sugar())
	})
}
