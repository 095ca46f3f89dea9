package memory

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// maxLoginStates bounds the started logins this process keeps at once,
// whatever their addresses: unlike a database, the memory store holds
// them in the server's own memory. Beyond it PutLoginState answers
// ErrUnavailable (the server's 503).
const maxLoginStates = 100_000

// loginStates keeps started logins. Its lock is its own: a flood of
// login starts does not hold up token requests.
type loginStates struct {
	mu      sync.Mutex
	m       map[string]store.LoginState // by key digest
	perAddr map[string]int              // live entries of m by Addr
	swept   time.Time                   // last removal of expired states
}

// PutLoginState implements LoginStateStore. Expired states are removed
// when the address's share or the whole table is full, at most once a
// second (a full table is a flood, and each sweep reads all of it).
func (s *Store) PutLoginState(_ context.Context, key []byte, st store.LoginState, now time.Time) error {
	if err := store.CheckLoginState(key, st); err != nil {
		return err
	}
	st.Binding = bytes.Clone(st.Binding)
	st.Expires = store.NormTime(st.Expires)
	l := &s.logins
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m, l.perAddr = make(map[string]store.LoginState), make(map[string]int)
	}
	full := func() bool {
		return len(l.m) >= maxLoginStates || l.perAddr[st.Addr] >= store.MaxLoginStatesPerAddress
	}
	if full() && now.Sub(l.swept) >= time.Second {
		l.swept = now
		for k, v := range l.m {
			if !now.Before(v.Expires) {
				l.remove(k, v)
			}
		}
	}
	switch {
	case l.perAddr[st.Addr] >= store.MaxLoginStatesPerAddress:
		return store.ErrTooManyLogins
	case len(l.m) >= maxLoginStates:
		return fmt.Errorf("%w: %d logins in progress", store.ErrUnavailable, len(l.m))
	}
	if _, ok := l.m[string(key)]; ok {
		return fmt.Errorf("%w: login state", store.ErrExists)
	}
	l.m[string(key)] = st
	l.perAddr[st.Addr]++
	return nil
}

// TakeLoginState implements LoginStateStore.
func (s *Store) TakeLoginState(_ context.Context, key []byte, now time.Time) (store.LoginState, error) {
	l := &s.logins
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.m[string(key)]
	if ok {
		l.remove(string(key), st)
	}
	if !ok || !now.Before(st.Expires) {
		return store.LoginState{}, fmt.Errorf("%w: login state", store.ErrNotFound)
	}
	st.Binding = bytes.Clone(st.Binding)
	return st, nil
}

// remove deletes the state k, v (l.mu held).
func (l *loginStates) remove(k string, v store.LoginState) {
	delete(l.m, k)
	if l.perAddr[v.Addr]--; l.perAddr[v.Addr] <= 0 {
		delete(l.perAddr, v.Addr)
	}
}
