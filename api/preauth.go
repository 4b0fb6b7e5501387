package api

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// preauth caps the connections one IP address holds before any request on
// them has authenticated (Config.MaxPreauthConnsPerIP). A connection stops
// counting at its first authenticated request, so a carrier NAT with many
// signed-in phones behind one address is not held back; thousands of
// tokenless connections from one address (each stalling a body or a
// header) are refused before they take the node's file descriptors.
type preauth struct {
	limit int

	mu    sync.Mutex
	byIP  map[string]int
	conns map[net.Conn]*preauthConn
}

// preauthConn is one connection's standing, reachable from its requests'
// contexts (http.Server.ConnContext).
type preauthConn struct {
	p      *preauth
	ip     string
	counts bool // still counted against its IP
}

type preauthKey struct{}

func newPreauth(limit int) *preauth {
	return &preauth{limit: limit, byIP: map[string]int{}, conns: map[net.Conn]*preauthConn{}}
}

// connContext registers each new connection and gives its requests its
// standing. net/http calls it before the StateNew hook.
func (p *preauth) connContext(ctx context.Context, c net.Conn) context.Context {
	ip, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	st := &preauthConn{p: p, ip: ip}
	p.mu.Lock()
	p.conns[c] = st
	p.mu.Unlock()
	return context.WithValue(ctx, preauthKey{}, st)
}

// connState counts new connections against their address and refuses
// those over the cap: they are closed before a byte is read.
func (p *preauth) connState(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		p.mu.Lock()
		st := p.conns[c]
		over := st == nil || p.byIP[st.ip] >= p.limit
		if !over {
			p.byIP[st.ip]++
			st.counts = true
		}
		p.mu.Unlock()
		if over {
			c.Close()
		}
	case http.StateHijacked, http.StateClosed:
		p.mu.Lock()
		if st := p.conns[c]; st != nil {
			st.releaseLocked()
			delete(p.conns, c)
		}
		p.mu.Unlock()
	}
}

// authenticated stops counting the connection of an authenticated request.
func (p *preauth) authenticated(ctx context.Context) {
	if st, ok := ctx.Value(preauthKey{}).(*preauthConn); ok {
		p.mu.Lock()
		st.releaseLocked()
		p.mu.Unlock()
	}
}

func (st *preauthConn) releaseLocked() {
	if !st.counts {
		return
	}
	st.counts = false
	if st.p.byIP[st.ip]--; st.p.byIP[st.ip] <= 0 {
		delete(st.p.byIP, st.ip)
	}
}
