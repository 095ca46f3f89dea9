package auth

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lwDest is a log destination that records each write it is given, and
// can be made to block.
type lwDest struct {
	mu     sync.Mutex
	writes [][]byte
	gate   chan struct{} // when not nil, each write waits for a value
	err    error
}

func (d *lwDest) Write(p []byte) (int, error) {
	if d.gate != nil {
		<-d.gate
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes = append(d.writes, bytes.Clone(p))
	return len(p), d.err
}

func (d *lwDest) text() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return string(bytes.Join(d.writes, nil))
}

func (d *lwDest) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.writes)
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// Lines written at once by many goroutines all arrive, whole, each
// goroutine's in its order, and every write the destination gets holds
// whole lines only.
func TestLogWriterKeepsLinesWholeAndInOrder(t *testing.T) {
	dest := &lwDest{}
	// A small flush size and bound make many batches and full buffers.
	lw := newLogWriter(dest, time.Millisecond, 256, 2048, time.Minute)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				line := fmt.Sprintf("g%d line %d %s\n", g, i, strings.Repeat("x", i%50))
				if n, err := lw.Write([]byte(line)); n != len(line) || err != nil {
					t.Errorf("Write = %d, %v", n, err)
				}
			}
		})
	}
	wg.Wait()
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, w := range dest.writes {
		if len(w) == 0 || w[len(w)-1] != '\n' {
			t.Fatalf("a write to the destination ends inside a line: %q", w)
		}
	}
	next := make([]int, writers)
	for line := range strings.Lines(dest.text()) {
		var g, i int
		if _, err := fmt.Sscanf(line, "g%d line %d ", &g, &i); err != nil {
			t.Fatalf("mangled line %q", line)
		}
		if want := fmt.Sprintf("g%d line %d %s\n", g, i, strings.Repeat("x", i%50)); line != want {
			t.Fatalf("line %q, want %q", line, want)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d arrived where %d was due", g, i, next[g])
		}
		next[g]++
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("goroutine %d: %d lines arrived, want %d", g, n, lines)
		}
	}
}

// A line reaches the destination within the flush interval, without
// Close; lines written together go out in one write.
func TestLogWriterFlushesAtTheInterval(t *testing.T) {
	dest := &lwDest{}
	lw := newLogWriter(dest, 20*time.Millisecond, 1<<20, 1<<20, time.Minute)
	defer lw.Close()
	_, _ = lw.Write([]byte("one\n"))
	_, _ = lw.Write([]byte("two\n"))
	eventually(t, "the interval's flush", func() bool { return dest.text() == "one\ntwo\n" })
	if n := dest.count(); n != 1 {
		t.Errorf("%d writes to the destination, want 1", n)
	}
}

// Once the flush size is reached the lines go out at once, without
// waiting for the interval.
func TestLogWriterFlushesAtTheSize(t *testing.T) {
	dest := &lwDest{}
	lw := newLogWriter(dest, time.Hour, 10, 1<<20, time.Minute)
	defer lw.Close()
	_, _ = lw.Write([]byte("0123456789\n"))
	eventually(t, "the size's flush", func() bool { return dest.text() == "0123456789\n" })
}

// Close writes what is buffered; later lines go straight through.
func TestLogWriterCloseFlushes(t *testing.T) {
	dest := &lwDest{}
	lw := newLogWriter(dest, time.Hour, 1<<20, 1<<20, time.Minute)
	_, _ = lw.Write([]byte("before\n"))
	if dest.text() != "" {
		t.Fatal("written before the interval or the size")
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dest.text(); got != "before\n" {
		t.Fatalf("after Close the destination has %q", got)
	}
	_, _ = lw.Write([]byte("after\n"))
	if got := dest.text(); got != "before\nafter\n" {
		t.Fatalf("a line written after Close: the destination has %q", got)
	}
	if err := lw.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Close reports the destination's error.
func TestLogWriterCloseReportsTheError(t *testing.T) {
	failure := errors.New("disk full")
	dest := &lwDest{err: failure}
	lw := newLogWriter(dest, time.Millisecond, 1<<20, 1<<20, time.Minute)
	_, _ = lw.Write([]byte("lost\n"))
	eventually(t, "a flush", func() bool { return dest.count() > 0 })
	if err := lw.Close(); !errors.Is(err, failure) {
		t.Fatalf("Close = %v, want %v", err, failure)
	}
}

// When the destination stops taking lines, the buffer stays bounded: a
// line waits at most the stall wait, then it and those after it are
// dropped without waiting, and once the destination takes lines again the
// count is logged.
func TestLogWriterBoundsMemoryWhenTheDestinationStalls(t *testing.T) {
	dest := &lwDest{gate: make(chan struct{})}
	const maxBytes, wait = 100, 50 * time.Millisecond
	lw := newLogWriter(dest, time.Millisecond, 10, maxBytes, wait)
	Config{}.NewLogger(lw) // the logger that reports the dropped lines
	line := []byte(strings.Repeat("x", 19) + "\n")

	// The first batch is taken by the flusher, which then blocks in the
	// destination's write; the next lines fill the buffer.
	_, _ = lw.Write(line)
	eventually(t, "the flusher taking a batch", func() bool {
		lw.mu.Lock()
		defer lw.mu.Unlock()
		return len(lw.buf) == 0
	})
	for range maxBytes / len(line) {
		_, _ = lw.Write(line)
	}

	start := time.Now()
	_, _ = lw.Write(line) // waits, then is dropped
	if d := time.Since(start); d < wait {
		t.Errorf("a line met a full buffer and returned after %v, want a wait of %v", d, wait)
	}
	start = time.Now()
	for range 100 {
		_, _ = lw.Write(line) // dropped at once: the destination is stalled
	}
	if d := time.Since(start); d > wait {
		t.Errorf("100 lines for a stalled destination took %v", d)
	}
	lw.mu.Lock()
	held, dropped := len(lw.buf), lw.dropped
	lw.mu.Unlock()
	if held > maxBytes || dropped != 101 {
		t.Errorf("buffer %d bytes (bound %d), %d lines dropped, want 101", held, maxBytes, dropped)
	}

	close(dest.gate) // the destination takes lines again
	eventually(t, "the drop report", func() bool { return strings.Contains(dest.text(), `"lines":101`) })
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	got := dest.text()
	if n := strings.Count(got, string(line)); n != 1+maxBytes/len(line) {
		t.Errorf("%d lines arrived, want the %d buffered", n, 1+maxBytes/len(line))
	}
	if !strings.Contains(got, `"level":"WARN","msg":"log lines dropped: the log output did not take them in time","lines":101`) {
		t.Errorf("no report of the dropped lines in:\n%s", got)
	}
}

// A line larger than the bound still goes out whole.
func TestLogWriterTakesALineLargerThanTheBound(t *testing.T) {
	dest := &lwDest{}
	lw := newLogWriter(dest, time.Millisecond, 10, 100, time.Minute)
	big := strings.Repeat("y", 1000) + "\n"
	_, _ = lw.Write([]byte(big))
	_, _ = lw.Write([]byte("small\n"))
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dest.text(); got != big+"small\n" {
		t.Fatalf("destination has %d bytes, want the large line and the small one", len(got))
	}
}

// A request's access log line costs no write to the destination.
func BenchmarkLogWriterLine(b *testing.B) {
	lw := NewLogWriter(discardCounter{})
	defer lw.Close()
	line := []byte(`{"time":"2026-01-02T03:04:05.123456789Z","level":"INFO","msg":"request","request_id":"ABCDEFGHIJKLMNOP","method":"GET","path":"/items/42","status":200}` + "\n")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = lw.Write(line)
	}
}

type discardCounter struct{}

func (discardCounter) Write(p []byte) (int, error) { return len(p), nil }

// Close does not wait forever for a destination that never returns.
func TestLogWriterCloseGivesUpOnAStuckDestination(t *testing.T) {
	dest := &lwDest{gate: make(chan struct{})}
	defer close(dest.gate)
	lw := newLogWriter(dest, time.Millisecond, 1, 1<<20, time.Minute)
	lw.closeWait = 50 * time.Millisecond
	_, _ = lw.Write([]byte("taken\n"))
	eventually(t, "the flusher taking a batch", func() bool {
		lw.mu.Lock()
		defer lw.mu.Unlock()
		return len(lw.buf) == 0
	})
	_, _ = lw.Write([]byte("behind\n"))
	err := lw.Close()
	if err == nil || !strings.Contains(err.Error(), "log output stalled: 7 bytes") {
		t.Fatalf("Close = %v, want the stall and the bytes not written", err)
	}
}
