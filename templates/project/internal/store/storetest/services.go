package storetest

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
)

// Unreachable skips the test because a service it needs (PostgreSQL,
// Redis) does not answer, naming the variable that points to it; under
// GATEHOUSE_REQUIRE_SERVICES=1 (CI) it fails instead.
func Unreachable(tb testing.TB, service, variable, target string, err error) {
	tb.Helper()
	msg := fmt.Sprintf("%s is unreachable at %s (%v); set %s to one that is", service, target, err, variable)
	if os.Getenv("GATEHOUSE_REQUIRE_SERVICES") == "1" {
		tb.Fatalf("%s, or unset GATEHOUSE_REQUIRE_SERVICES to skip", msg)
	}
	tb.Skip(msg)
}

// Proxy is a TCP proxy in front of a test's service (PostgreSQL, Redis),
// which a test can make refuse connections or swallow them without an
// answer, as a server that is down or hung would.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  ProxyMode
	conns map[net.Conn]bool
}

// ProxyMode is what a Proxy does with connections.
type ProxyMode int

const (
	Forward   ProxyMode = iota // pass everything through
	Refuse                     // close every connection at once
	Blackhole                  // accept, never answer
)

// NewProxy returns a proxy to target (host:port) in Forward mode, closed
// when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.accept()
	tb.Cleanup(func() {
		ln.Close()
		p.Set(Refuse)
	})
	return p
}

// Addr is the proxy's address (host:port), to connect to instead of
// target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		if mode != Refuse {
			p.conns[c] = true
		}
		p.mu.Unlock()
		switch mode {
		case Refuse:
			c.Close()
		case Forward:
			go p.forward(c)
		}
	}
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	go func() {
		io.Copy(up, c)
		up.Close()
	}()
	io.Copy(c, up)
	c.Close()
}

// Set changes the mode; leaving forward mode cuts every open connection,
// as a server restart does.
func (p *Proxy) Set(m ProxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	if m != Forward {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
