package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Log output is buffered so that a request does not cost a write(2) for
// its access log line: lines are appended to a buffer in memory, and one
// goroutine hands them to the destination in one write every
// logFlushInterval, or sooner once logFlushSize bytes wait. The request
// path never waits for the destination unless the buffer is full.
const (
	logFlushInterval = 200 * time.Millisecond
	logFlushSize     = 64 << 10
	// logBufferMax bounds the lines waiting while the destination is busy
	// with the previous batch; memory stays under twice that.
	logBufferMax = 1 << 20
	// logStallWait is how long a line waits for room in a full buffer.
	// Beyond it the destination is taken as stalled: the line and those
	// after it are dropped and counted until the destination takes the
	// batch it is writing, and the count is then logged (a WARN line,
	// "log lines dropped"). A stuck log destination so costs a server one
	// wait, never its requests.
	logStallWait = 500 * time.Millisecond
	// logCloseWait bounds how long Close waits for a destination that is
	// still writing a batch, so a stuck one cannot hold a process at exit.
	logCloseWait = 5 * time.Second
)

// LogWriter buffers log output for a destination such as os.Stderr (see
// the constants above). Each Write is one log line, as slog's handlers
// write them: lines reach the destination whole and in order, never split
// or interleaved. Close it before the process exits: it writes what is
// left. Writes after Close go straight to the destination.
type LogWriter struct {
	w                    io.Writer
	flushSize, maxBytes  int
	stallWait, closeWait time.Duration

	mu      sync.Mutex
	buf     []byte        // lines not yet handed to the destination
	spare   []byte        // the buffer of the previous batch, for reuse
	room    chan struct{} // closed when buf is handed over; nil when no line waits
	stalled bool          // a line timed out since the last batch was written
	dropped int           // lines dropped since the last batch was written
	closed  bool
	err     error        // the destination's first error
	log     *slog.Logger // where dropped lines are reported (Config.NewLogger sets it)

	kick      chan struct{} // asks the flusher for an early batch
	stop      chan struct{}
	done      chan struct{}
	reports   sync.WaitGroup // reports of dropped lines under way
	closeOnce sync.Once
	closeErr  error
}

// NewLogWriter returns a LogWriter writing to w, and starts its flusher.
func NewLogWriter(w io.Writer) *LogWriter {
	return newLogWriter(w, logFlushInterval, logFlushSize, logBufferMax, logStallWait)
}

func newLogWriter(w io.Writer, interval time.Duration, flushSize, maxBytes int, stallWait time.Duration) *LogWriter {
	lw := &LogWriter{
		w: w, flushSize: flushSize, maxBytes: maxBytes, stallWait: stallWait, closeWait: logCloseWait,
		buf: make([]byte, 0, flushSize), spare: make([]byte, 0, flushSize),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go lw.run(interval)
	return lw
}

// Write buffers p, one log line. It waits only when the buffer is full,
// at most logStallWait; a line it then drops is counted (see
// logStallWait). It never fails: a destination's error is Close's.
func (lw *LogWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.add(p) {
		return len(p), nil
	}
	return lw.w.Write(p)
}

// writeLine is Write for a line in a buffer the caller reuses: lw keeps
// no reference to p, so p may live on the caller's stack.
func (lw *LogWriter) writeLine(p []byte) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if !lw.add(p) {
		_, _ = lw.w.Write(bytes.Clone(p))
	}
}

// add buffers a copy of p, or drops and counts it (see logStallWait). It
// reports false when lw is closed: the caller writes p to the destination
// itself, holding lw.mu, so that lines stay in order.
func (lw *LogWriter) add(p []byte) bool {
	if !lw.closed && len(lw.buf) > 0 && len(lw.buf)+len(p) > lw.maxBytes && !lw.waitRoom(len(p)) {
		lw.dropped++
		return true
	}
	if lw.closed {
		return false
	}
	lw.buf = append(lw.buf, p...)
	if len(lw.buf) >= lw.flushSize {
		lw.wake()
	}
	return true
}

// waitRoom waits, releasing lw.mu meanwhile, until n bytes fit in lw.buf
// or lw is closed. It reports false when the destination is stalled.
func (lw *LogWriter) waitRoom(n int) bool {
	if lw.stalled {
		return false
	}
	timeout := time.NewTimer(lw.stallWait)
	defer timeout.Stop()
	expired := false
	for !lw.closed && len(lw.buf) > 0 && len(lw.buf)+n > lw.maxBytes {
		if expired {
			lw.stalled = true
			return false
		}
		if lw.room == nil {
			lw.room = make(chan struct{})
		}
		room := lw.room
		lw.wake()
		lw.mu.Unlock()
		select {
		case <-room:
		case <-timeout.C:
			expired = true
		}
		lw.mu.Lock()
	}
	return true
}

// setLogger makes log the logger that reports dropped lines.
func (lw *LogWriter) setLogger(log *slog.Logger) {
	lw.mu.Lock()
	lw.log = log
	lw.mu.Unlock()
}

// wake asks the flusher for a batch now.
func (lw *LogWriter) wake() {
	select {
	case lw.kick <- struct{}{}:
	default: // already asked
	}
}

func (lw *LogWriter) run(interval time.Duration) {
	defer close(lw.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-lw.stop:
			return
		case <-tick.C:
		case <-lw.kick:
		}
		lw.flush()
	}
}

// flush hands the buffered lines to the destination in one write, outside
// the lock, so lines keep being buffered meanwhile.
func (lw *LogWriter) flush() {
	lw.mu.Lock()
	batch := lw.buf
	if len(batch) == 0 {
		lw.mu.Unlock()
		return
	}
	lw.buf = lw.spare[:0]
	if lw.room != nil {
		close(lw.room)
		lw.room = nil
	}
	lw.mu.Unlock()

	_, err := lw.w.Write(batch)

	lw.mu.Lock()
	if err != nil && lw.err == nil {
		lw.err = err
	}
	if cap(batch) <= lw.maxBytes { // not grown by a line larger than the bound
		lw.spare = batch[:0]
	}
	dropped, log := lw.dropped, lw.log
	lw.dropped, lw.stalled = 0, false
	lw.mu.Unlock()
	if dropped > 0 && log != nil {
		// Not from this goroutine: the report is a line like any other,
		// which may have to wait for the room only this goroutine makes.
		lw.reports.Go(func() { reportDropped(log, dropped) })
	}
}

// Close stops the flusher and writes the lines still buffered. It returns
// the first error the destination gave, if any. If the destination is
// still writing a batch after logCloseWait, Close gives up on the lines
// buffered behind it and says so.
func (lw *LogWriter) Close() error {
	lw.closeOnce.Do(func() {
		close(lw.stop)
		stuck := false
		select {
		case <-lw.done:
		case <-time.After(lw.closeWait):
			stuck = true
		}

		lw.mu.Lock()
		lw.closed = true
		if lw.room != nil {
			close(lw.room)
			lw.room = nil
		}
		var err error
		switch {
		case stuck:
			err = fmt.Errorf("log output stalled: %d bytes of log lines not written", len(lw.buf))
		case len(lw.buf) > 0:
			_, err = lw.w.Write(lw.buf)
		}
		lw.buf, lw.spare = nil, nil
		dropped, log := lw.dropped, lw.log
		lw.dropped = 0
		lw.closeErr = errors.Join(lw.err, err)
		lw.mu.Unlock()
		if stuck {
			return
		}
		// Reports now go straight through, after the lines.
		lw.reports.Wait()
		if dropped > 0 && log != nil {
			reportDropped(log, dropped)
		}
	})
	return lw.closeErr
}

// reportDropped logs that n lines were dropped.
func reportDropped(log *slog.Logger, n int) {
	log.LogAttrs(context.Background(), slog.LevelWarn, "log lines dropped: the log output did not take them in time",
		slog.Int("lines", n))
}
