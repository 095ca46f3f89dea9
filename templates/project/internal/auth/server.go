package auth

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rs/cors"
)

// Limits and timeouts of the HTTP server. They bound what one client can
// make the server hold: slow or huge headers, slow bodies, idle connections.
const (
	// MaxHeaderBytes bounds the request line and headers together.
	MaxHeaderBytes = 32 << 10
	// DefaultMaxBodyBytes is the body limit when Config.MaxBodyBytes is 0.
	DefaultMaxBodyBytes = 1 << 20

	maxHeaderFields   = 100     // header lines in one request
	maxRequestURI     = 8 << 10 // bytes of the request target
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownTimeout   = 30 * time.Second
	corsMaxAge        = 600 // seconds browsers may cache a preflight answer
)

// RequestIDHeader carries the request id. A client-supplied id is kept if
// it is short and plain; otherwise a new one replaces it. The id is set on
// the request (for handlers and logs) and on the response.
const RequestIDHeader = "X-Request-Id"

// HardenOptions are the parts of the hardening chain that depend on the
// spec rather than on the configuration.
type HardenOptions struct {
	// Logger receives the access log and panic reports; nil discards them.
	Logger *slog.Logger
	// RedactQuery names the query parameters that carry API keys: the
	// parameter of every apiKey scheme of the spec, whatever its location,
	// since a header or cookie key sent in the query is a key all the same.
	// Their values never reach the logs. Common credential names
	// (access_token, password, client_secret, ...) are redacted as well.
	RedactQuery []string
}

// Harden wraps h in the server's protective middleware, outermost first:
//
//   - a request id (X-Request-Id), sanitised or generated;
//   - an access log line per request at INFO, saying who the request
//     authenticated as (subject, schemes, token id, client id) and
//     holding no credentials: no Authorization header, no cookies, and the
//     values of credential query parameters replaced by REDACTED;
//   - panic recovery: a panicking handler gets a generic 500 JSON answer,
//     the panic and its stack go to the log, and the server keeps serving;
//   - security headers on every response (nosniff, no referrer, no
//     framing, a CSP for JSON APIs, Cache-Control: no-store unless the
//     handler sets its own, and HSTS on TLS connections);
//   - limits on the number of header lines and the request-target length
//     (431, 414), and on the body size (413 when Content-Length says so,
//     else reading stops at the limit);
//   - CORS by an exact origin allowlist (cfg.CORSAllowedOrigins): preflight
//     requests are answered here, before any authentication; the null
//     origin is never allowed; WWW-Authenticate, Retry-After, the request
//     id, RateLimit and RateLimit-Policy are exposed to scripts.
func Harden(cfg Config, opts HardenOptions, h http.Handler) http.Handler {
	log := orDiscard(opts.Logger)
	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	// Besides the spec's query API keys, redact the names under which
	// clients commonly, and wrongly, send credentials.
	redact := map[string]bool{
		"access_token": true, "refresh_token": true, "id_token": true, "token": true, "jwt": true,
		"password": true, "passwd": true, "client_secret": true, "client_assertion": true, "assertion": true,
		"code": true, "code_verifier": true, "secret": true, "authorization": true,
		"api_key": true, "apikey": true, "api-key": true, "x-api-key": true, "key": true,
	}
	for _, name := range opts.RedactQuery {
		redact[strings.ToLower(name)] = true
	}

	inner := newCORS(cfg).Handler(h)
	inner = limitRequest(maxBody, inner)
	return &hardened{cfg: cfg, log: log, redact: redact, next: inner}
}

// hardened is the outermost layer: request id, access log, recovery,
// security headers.
type hardened struct {
	cfg    Config
	log    *slog.Logger
	redact map[string]bool // lower-case query parameter names
	next   http.Handler
}

func (s *hardened) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := sanitizeRequestID(firstValue(r.Header, RequestIDHeader))
	if id == "" {
		id = newRequestID()
	}
	rec := &statusRecorder{ResponseWriter: w}
	// Downstream code (the guard's logs, handlers) reads the id from here.
	r.Header[RequestIDHeader] = rec.value(0, id)
	hdr := w.Header()
	hdr[RequestIDHeader] = rec.value(1, id)
	// The security headers are set before the handler runs, so every
	// response carries them, errors and preflight answers included.
	for i, sh := range securityHeaderValues {
		hdr[sh.name] = rec.value(2+i, sh.value)
	}
	if r.TLS != nil {
		hdr[hstsHeader.name] = rec.value(2+len(securityHeaderValues), hstsHeader.value)
	}

	defer s.logRequest(r, rec, id, start)
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.LogAttrs(r.Context(), slog.LevelError, "handler panicked",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("panic", fmt.Sprint(v)),
			slog.String("stack", string(debug.Stack())))
		if rec.wroteHeader {
			// Part of a response is out: the only honest thing left is to
			// cut the connection, which net/http does for this value.
			panic(http.ErrAbortHandler)
		}
		// Drop whatever the handler had set (cookies, content type) and
		// answer generically.
		hdr := w.Header()
		for k := range hdr {
			delete(hdr, k)
		}
		setSecurityHeaders(hdr, r)
		hdr.Set(RequestIDHeader, id)
		WriteError(rec, http.StatusInternalServerError, "server_error", "internal error")
	}()
	s.next.ServeHTTP(rec, r)
}

// logRequest writes the access log line. User-supplied strings are escaped
// by the slog handler, so one request stays one line.
func (s *hardened) logRequest(r *http.Request, rec *statusRecorder, id string, start time.Time) {
	ctx := r.Context()
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	end := time.Now()
	status := rec.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends an empty 200
	}
	// Room for every attribute, so that appending never reallocates.
	var buf [accessLogMaxAttrs]slog.Attr
	attrs := append(buf[:0],
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		// Milliseconds with microsecond precision: readable, and a number
		// in JSON (slog.Duration writes nanoseconds there).
		slog.Float64("duration_ms", float64(end.Sub(start).Microseconds())/1000),
		slog.String("remote_addr", s.cfg.ClientAddr(r)),
	)
	if r.URL.RawQuery != "" {
		attrs = append(attrs, slog.String("query", redactQuery(r.URL.RawQuery, s.redact)))
	}
	if ua := firstValue(r.Header, "User-Agent"); ua != "" {
		attrs = append(attrs, slog.String("user_agent", truncate(ua, 256)))
	}
	if p := rec.auth.principal; p != nil {
		attrs = append(attrs,
			slog.String("subject", p.Subject),
			slog.String("schemes", rec.auth.schemes))
		if p.TokenID != "" {
			attrs = append(attrs, slog.String("token_id", p.TokenID))
		}
		if p.ClientID != "" {
			attrs = append(attrs, slog.String("client_id", p.ClientID))
		}
	}
	if j, ok := h.(*jsonLines); ok && j.writeLine(end, slog.LevelInfo, "request", attrs) {
		return
	}
	// Straight to the handler, as Logger.LogAttrs would hand it, but
	// without the caller's program counter: it costs a stack walk per
	// request, and a handler that reports sources would name this
	// function, which tells a reader nothing.
	line := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	line.AddAttrs(attrs...)
	_ = h.Handle(ctx, line)
}

// firstValue is h.Get(key) for a key in canonical form, without the cost
// of canonicalizing it again on every request.
func firstValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// accessLogMaxAttrs is the most attributes an access log line has.
const accessLogMaxAttrs = 13

// redactQuery returns raw with the values of the parameters named in
// redact (lower case) replaced by REDACTED. Names are compared after
// unescaping and case-insensitively, so %61pi_key and API_KEY are caught
// too, and parameters are split at ';' as well as '&', as some clients and
// servers do. It never fails: a piece that cannot be unescaped is redacted
// whole.
func redactQuery(raw string, redact map[string]bool) string {
	var b strings.Builder
	start := 0
	for i := 0; i <= len(raw); i++ {
		if i < len(raw) && raw[i] != '&' && raw[i] != ';' {
			continue
		}
		b.WriteString(redactParam(raw[start:i], redact))
		if i < len(raw) {
			b.WriteByte(raw[i])
		}
		start = i + 1
	}
	return truncate(b.String(), 1024)
}

// redactParam redacts one name=value piece of a query.
func redactParam(p string, redact map[string]bool) string {
	rawName, _, hasValue := strings.Cut(p, "=")
	name, err := url.QueryUnescape(rawName)
	switch {
	case err != nil:
		return "REDACTED"
	case redact[strings.ToLower(name)] && hasValue:
		return rawName + "=REDACTED"
	}
	return p
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sanitizeRequestID returns id if it is 1 to 64 characters of
// A-Z a-z 0-9 - _ . : and "" otherwise.
func sanitizeRequestID(id string) string {
	if id == "" || len(id) > 64 {
		return ""
	}
	for _, c := range []byte(id) {
		if !(isUnreserved(c) || c == ':') {
			return ""
		}
	}
	return id
}

// newRequestID returns 80 random bits as 16 base32 characters.
func newRequestID() string { return rand.Text()[:16] }

// statusRecorder remembers the status and size of a response for the
// access log and for panic recovery.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	auth        requestAuth // set by the guard when the request authenticated
	// values backs the header values hardened sets, one allocation for
	// all of them: the request id (request and response) and the
	// security headers.
	values [3 + len(securityHeaderValues)]string
}

// value returns v as a header value stored in slot i of w.values. The
// slice's capacity is 1, so that Header.Add appends to a copy.
func (w *statusRecorder) value(i int, v string) []string {
	w.values[i] = v
	return w.values[i : i+1 : i+1]
}

func (w *statusRecorder) WriteHeader(code int) {
	// 1xx answers are interim: the final status comes later.
	if !w.wroteHeader && code >= 200 {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers flush through the recorder.
func (w *statusRecorder) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type headerValue struct{ name, value string } // name in canonical form

// securityHeaderValues are on every response; hstsHeader is on those sent
// over TLS.
var (
	securityHeaderValues = [...]headerValue{
		{"X-Content-Type-Options", "nosniff"},
		{"Referrer-Policy", "no-referrer"},
		{"X-Frame-Options", "DENY"},
		{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
		// API answers are personal unless a handler says otherwise.
		{"Cache-Control", "no-store"},
	}
	hstsHeader = headerValue{"Strict-Transport-Security", "max-age=63072000; includeSubDomains"}
)

// setSecurityHeaders sets the security headers on h, for the answer to a
// panic.
func setSecurityHeaders(h http.Header, r *http.Request) {
	for _, sh := range securityHeaderValues {
		h.Set(sh.name, sh.value)
	}
	if r.TLS != nil {
		h.Set(hstsHeader.name, hstsHeader.value)
	}
}

// limitRequest refuses requests with too many header lines or too long a
// target, and caps the body at maxBody bytes.
func limitRequest(maxBody int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields := 0
		for _, v := range r.Header {
			fields += len(v)
		}
		if fields > maxHeaderFields {
			WriteError(w, http.StatusRequestHeaderFieldsTooLarge, "invalid_request", "too many header fields")
			return
		}
		if len(r.RequestURI) > maxRequestURI {
			WriteError(w, http.StatusRequestURITooLong, "invalid_request", "the request target is too long")
			return
		}
		if r.ContentLength > maxBody {
			w.Header().Set("Connection", "close")
			WriteError(w, http.StatusRequestEntityTooLarge, "invalid_request", "the request body is too large")
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// newCORS builds the CORS handler. Origins are matched exactly (browsers
// send them in lower case, and the configuration is lower-cased when
// loaded); with no origins configured no cross-origin request is allowed,
// yet preflight requests are still answered (without permission) rather
// than reaching authentication.
func newCORS(cfg Config) *cors.Cors {
	allowed := make(map[string]bool, len(cfg.CORSAllowedOrigins))
	anyOrigin := false
	for _, o := range cfg.CORSAllowedOrigins {
		if o == "*" {
			anyOrigin = true
		}
		allowed[o] = true
	}
	return cors.New(cors.Options{
		// A function rather than AllowedOrigins: the library treats an
		// empty list as "every origin" and understands wildcards; neither
		// is wanted here.
		AllowOriginFunc: func(origin string) bool {
			if origin == "" || origin == "null" {
				return false
			}
			// "*" is refused with credentials when the configuration is
			// loaded; guard against a hand-built Config too.
			return allowed[origin] || (anyOrigin && !cfg.CORSAllowCredentials)
		},
		AllowedMethods: []string{
			http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		},
		// Which headers may be sent is for the origin check to decide; the
		// spec's header parameters and API key headers all need to pass.
		AllowedHeaders:   []string{"*"},
		ExposedHeaders:   []string{"WWW-Authenticate", "Retry-After", RequestIDHeader, "RateLimit", "RateLimit-Policy"},
		AllowCredentials: cfg.CORSAllowCredentials,
		MaxAge:           corsMaxAge,
	})
}

// ClientAddr returns the address of the client that sent r, for throttling
// and logs. It is the peer address unless the peer is one of
// TRUSTED_PROXIES; then X-Forwarded-For is read from the right, skipping
// trusted proxies, and the first address not trusted is the client. Entries
// a trusted proxy did not add cannot be told from forgeries, so nothing to
// the left of the first untrusted entry is believed.
func (c Config) ClientAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	if len(c.TrustedProxies) == 0 && strings.IndexByte(peer, ':') < 0 {
		// Not IPv6, and no proxy to look behind: what the parsing below
		// returns is peer itself, whether it parses or not.
		return peer
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil {
		return peer
	}
	if addr.Is4() && !c.trustedProxy(addr) {
		// ParseAddr takes IPv4 in its canonical form only: peer is
		// addr.String() already, without allocating it again.
		return peer
	}
	addr = addr.Unmap().WithZone("")
	if !c.trustedProxy(addr) {
		return addr.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := parseForwardedAddr(hops[i])
		if err != nil {
			// A trusted proxy passed on something that is not an address:
			// the last address known for sure is that proxy's.
			return addr.String()
		}
		addr = hop
		if !c.trustedProxy(addr) {
			return addr.String()
		}
	}
	return addr.String()
}

func (c Config) trustedProxy(a netip.Addr) bool {
	for _, p := range c.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseForwardedAddr parses one X-Forwarded-For entry: an address, possibly
// with a port or in brackets.
func parseForwardedAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap().WithZone(""), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap().WithZone(""), nil
}

// checkTLSKeyFile refuses a TLS key file other users may access, and logs
// a warning when its group may read it (see checkKeyFileMode).
func checkTLSKeyFile(ctx context.Context, path string, log *slog.Logger) error {
	info, err := os.Stat(path)
	if err != nil {
		return nil // loading the key pair reports it
	}
	warning, err := checkKeyFileMode(path, info)
	if err != nil {
		return fmt.Errorf("TLS_KEY_FILE: %w", err)
	}
	if warning != "" {
		log.LogAttrs(ctx, slog.LevelWarn, "WARNING: TLS_KEY_FILE: "+warning)
	}
	return nil
}

// NewHTTPServer returns an http.Server for h listening on cfg.ListenAddr,
// with timeouts and a header size limit so that slow or oversized requests
// cannot tie it up, and TLS 1.2 as the oldest protocol version.
func NewHTTPServer(cfg Config, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// Serve runs srv until ctx is cancelled, then shuts it down gracefully:
// requests in flight get up to 30 seconds to finish. It serves HTTPS when
// cfg names a certificate and key, which are loaded before listening so a
// bad file is reported at once. It returns nil after a graceful shutdown.
// Wire SIGINT and SIGTERM to ctx with signal.NotifyContext.
func Serve(ctx context.Context, srv *http.Server, cfg Config, log *slog.Logger) error {
	log = orDiscard(log)
	if srv.ErrorLog == nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	if cfg.TLS() {
		if err := checkTLSKeyFile(ctx, cfg.TLSKeyFile, log); err != nil {
			return err
		}
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("TLS_CERT_FILE, TLS_KEY_FILE: %w", err)
		}
		if srv.TLSConfig == nil {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		srv.TLSConfig.Certificates = []tls.Certificate{cert}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLS() {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	log.LogAttrs(ctx, slog.LevelInfo, "listening", slog.String("addr", ln.Addr().String()), slog.Bool("tls", cfg.TLS()))

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
