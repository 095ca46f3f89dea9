package auth

import (
	"bytes"
	"log/slog"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// handlerLine is what slog's JSON handler writes for the record.
func handlerLine(t testing.TB, at time.Time, level slog.Level, msg string, attrs []slog.Attr) string {
	t.Helper()
	var b bytes.Buffer
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	if err := slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}).Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkSameLine fails unless appendJSONRecord writes what the handler
// writes, or declines.
func checkSameLine(t testing.TB, at time.Time, level slog.Level, msg string, attrs []slog.Attr) bool {
	t.Helper()
	got, ok := appendJSONRecord(nil, at, level, msg, attrs)
	if !ok {
		return false
	}
	if want := handlerLine(t, at, level, msg, attrs); string(got) != want {
		t.Errorf("appendJSONRecord wrote\n%s\nslog's JSON handler writes\n%s", got, want)
	}
	return true
}

// Hostile strings: every byte the escaping treats apart, and invalid or
// unusual UTF-8.
var jsonLineStrings = []string{
	"", "plain", `quote " and \ backslash`, "new\nline\r\ttab", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "\u2028\u2029", "\xff\xfe", "caf\xc3", "é ü 日本 🙂",
	"\xed\xa0\x80", // a surrogate encoded in UTF-8: invalid
	strings.Repeat("x", 2000),
}

func TestAppendJSONRecordMatchesSlog(t *testing.T) {
	at := time.Date(2026, 11, 30, 21, 48, 41, 123456789, time.UTC)
	zones := []time.Time{at, at.In(time.FixedZone("CET", 3600)), at.Truncate(time.Second), time.Now()}
	for _, tm := range zones {
		for _, s := range jsonLineStrings {
			attrs := []slog.Attr{
				slog.String("request_id", s),
				slog.String(s+"k", s),
				slog.Int("status", 200),
				slog.Int64("bytes", -42),
				slog.Uint64("u", math.MaxUint64),
				slog.Float64("duration_ms", 0.123),
			}
			if !checkSameLine(t, tm, slog.LevelInfo, s, attrs) {
				t.Errorf("declined string attributes %q", s)
			}
		}
	}
	// Every byte at every place of a word, and after one (appendJSONString
	// reads eight bytes at a time).
	for c := range 256 {
		for i := range 9 {
			b := []byte("0123456789abcdef")
			b[i] = byte(c)
			checkSameLine(t, at, slog.LevelInfo, "m", []slog.Attr{slog.String("k", string(b))})
		}
	}
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2} {
		checkSameLine(t, at, level, "m", nil)
	}
	for _, f := range []float64{0, 1, 0.001, 12.5, 1234567.891, 1e20, 1e-6, math.Copysign(0, -1), -3.25} {
		if !checkSameLine(t, at, slog.LevelInfo, "request", []slog.Attr{slog.Float64("duration_ms", f)}) {
			t.Errorf("declined %v", f)
		}
	}
	// Declined: the handler's own forms, or errors.
	for _, a := range []slog.Attr{
		slog.Float64("f", 1e-7), slog.Float64("f", 1e21), slog.Float64("f", math.NaN()), slog.Float64("f", math.Inf(1)),
		slog.Bool("b", true), slog.Duration("d", time.Second), slog.Time("t", at), slog.Any("a", []int{1}),
		slog.Group("g", slog.String("k", "v")), {},
	} {
		if _, ok := appendJSONRecord(nil, at, slog.LevelInfo, "m", []slog.Attr{a}); ok {
			t.Errorf("attribute %v written, want it left to the handler", a)
		}
	}
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), {}} {
		if _, ok := appendJSONRecord(nil, tm, slog.LevelInfo, "m", nil); ok {
			t.Errorf("time %v written: the handler writes an error for it, or leaves it out", tm)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonLineStrings {
		f.Add(s)
	}
	at := time.Date(2026, 11, 30, 21, 48, 41, 5, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		checkSameLine(t, at, slog.LevelInfo, s, []slog.Attr{slog.String(s, s)})
	})
}

// The access log line of a server whose logger Config.NewLogger made is
// written by hand, and is the line the JSON handler writes.
func TestAccessLogLineWrittenByHand(t *testing.T) {
	var out bytes.Buffer
	lw := NewLogWriter(&out)
	log := Config{LogLevel: slog.LevelInfo}.NewLogger(lw)
	if _, ok := log.Handler().(*jsonLines); !ok {
		t.Fatalf("handler %T, want *jsonLines", log.Handler())
	}
	s := Harden(Config{}, HardenOptions{Logger: log}, nil).(*hardened)
	req := httptest.NewRequest("GET", "/items/42?q=\"x\"", nil)
	req.Header.Set("User-Agent", "evil\nagent\u2028")
	rec := &statusRecorder{status: 201, bytes: 42, auth: requestAuth{principal: &Principal{Subject: "al\"ice", TokenID: "jti-1"}, schemes: "bearerAuth"}}
	start := time.Now()
	s.logRequest(req, rec, "req-1", start)
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("want one line, got %q", line)
	}

	// The same request through the handler alone.
	var want bytes.Buffer
	plain := Harden(Config{}, HardenOptions{Logger: slog.New(slog.NewJSONHandler(&want, nil))}, nil).(*hardened)
	plain.logRequest(req, rec, "req-1", start)
	// Only the time and the duration differ (each call reads the clock).
	mask := func(s string) string {
		s = s[strings.Index(s, `"level"`):]
		i := strings.Index(s, `"duration_ms":`)
		j := strings.Index(s[i:], ",")
		return s[:i] + s[i+j:]
	}
	if mask(line) != mask(want.String()) {
		t.Errorf("written by hand:\n%s\nby the handler:\n%s", line, want.String())
	}
	for _, w := range []string{`"subject":"al\"ice"`, `"user_agent":"evil\nagent\u2028"`, `"status":201`} {
		if !strings.Contains(line, w) {
			t.Errorf("line lacks %s: %s", w, line)
		}
	}

	// A logger with attributes takes the handler's way.
	if _, ok := log.With("k", "v").Handler().(*jsonLines); ok {
		t.Error("a derived handler kept the hand-written way")
	}
}
