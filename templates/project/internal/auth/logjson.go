package auth

import (
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonLines is the handler Config.NewLogger makes for LOG_FORMAT=json when
// it writes to a LogWriter: slog's JSON handler, which handles every
// record, and beside it the writer, into which the access log line is
// written by appendJSONRecord instead: the same bytes the JSON handler
// writes, for about a third of its cost (BenchmarkAccessLogLine), which
// is paid on every request. A handler derived from it (WithAttrs,
// WithGroup) is the JSON handler's own, so the access log of a logger
// carrying attributes takes the handler's way.
type jsonLines struct {
	slog.Handler
	w *LogWriter
}

func (h *jsonLines) WithAttrs(attrs []slog.Attr) slog.Handler { return h.Handler.WithAttrs(attrs) }
func (h *jsonLines) WithGroup(name string) slog.Handler       { return h.Handler.WithGroup(name) }

// writeLine writes the record of t, level, msg and attrs, as the JSON
// handler would, and reports whether it did: attributes of other kinds
// than strings, integers and floats written in plain decimal are left to
// the handler (the caller hands it the record instead).
func (h *jsonLines) writeLine(t time.Time, level slog.Level, msg string, attrs []slog.Attr) bool {
	var b [768]byte // an access log line fits, so it needs no allocation
	line, ok := appendJSONRecord(b[:0], t, level, msg, attrs)
	if !ok {
		return false
	}
	h.w.writeLine(line)
	return true
}

// appendJSONRecord appends to buf the line slog's JSON handler, without
// options but a level, writes for the record: time (RFC 3339 with
// nanoseconds), level and message, then attrs in order. It reports false
// for an attribute it does not write the handler's way (see writeLine), a
// time the handler writes an error for, and the zero time, which it leaves
// out.
func appendJSONRecord(buf []byte, t time.Time, level slog.Level, msg string, attrs []slog.Attr) ([]byte, bool) {
	if y := t.Year(); y < 0 || y >= 10000 || t.IsZero() { // the handler writes an error, or no time
		return buf, false
	}
	buf = append(buf, `{"time":"`...)
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","level":"`...)
	buf = appendJSONString(buf, level.String())
	buf = append(buf, `","msg":"`...)
	buf = appendJSONString(buf, msg)
	buf = append(buf, '"')
	for _, a := range attrs {
		if a.Key == "" {
			return buf, false
		}
		buf = append(buf, `,"`...)
		buf = appendJSONString(buf, a.Key)
		buf = append(buf, `":`...)
		switch v := a.Value; v.Kind() {
		case slog.KindString:
			buf = append(buf, '"')
			buf = appendJSONString(buf, v.String())
			buf = append(buf, '"')
		case slog.KindInt64:
			buf = strconv.AppendInt(buf, v.Int64(), 10)
		case slog.KindUint64:
			buf = strconv.AppendUint(buf, v.Uint64(), 10)
		case slog.KindFloat64:
			// encoding/json, which the handler uses for floats, writes
			// these in the shortest 'f' form; smaller and larger ones in
			// an 'e' form of its own.
			f := v.Float64()
			if abs := math.Abs(f); math.IsNaN(f) || math.IsInf(f, 0) || abs != 0 && (abs < 1e-6 || abs >= 1e21) {
				return buf, false
			}
			buf = strconv.AppendFloat(buf, f, 'f', -1, 64)
		default:
			return buf, false
		}
	}
	return append(buf, "}\n"...), true
}

// jsonPlain marks the bytes appendJSONString copies as they are: ASCII
// from space on, but quote and backslash.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plain8 reports whether the 8 bytes of s are all plain (jsonPlain), all
// at once: none has its top bit set (non-ASCII), none is under 0x20, and
// none is a quote or a backslash (a zero byte after XOR with it). Each
// test is exact as a whole, though not in which byte it flags.
func plain8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	q, b := w^'"'*ones, w^'\\'*ones
	return (w|(w-0x20*ones)|(q-ones)&^q|(b-ones)&^b)&highs == 0
}

// appendJSONString appends s escaped for the inside of a JSON string as
// slog's JSON handler escapes it: quote, backslash and control characters
// (\n, \r, \t by name, others as \u00XX), invalid UTF-8 as \ufffd, and
// U+2028 and U+2029, which some JavaScript parsers take for line ends.
// <, > and & are written as they are.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
			continue
		}
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(buf, s[start:]...)
}
