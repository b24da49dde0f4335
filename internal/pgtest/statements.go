package pgtest

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// StatementLog is a TCP proxy in front of PostgreSQL that records the
// statements its clients send: the text of simple Query and Parse
// messages of the wire protocol, one per round trip a client waits for
// (pipelined statements aside). Tests count round trips with it.
type StatementLog struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	stmts  []string
}

// NewStatementLog starts a proxy in front of the server of u, stopped when
// the test ends, and returns it with u pointing at it (without TLS, so
// that the proxy can read).
func NewStatementLog(t testing.TB, u string) (*StatementLog, string) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("statement log: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("statement log: %v", err)
	}
	l := &StatementLog{ln: ln, target: p.Host}
	l.wg.Add(1)
	go l.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		l.wg.Wait()
	})
	p.Host = ln.Addr().String()
	q := p.Query()
	q.Set("sslmode", "disable")
	p.RawQuery = q.Encode()
	return l, p.String()
}

// Take returns the statements recorded since the last Take, and forgets them.
func (l *StatementLog) Take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stmts
	l.stmts = nil
	return s
}

func (l *StatementLog) serve() {
	defer l.wg.Done()
	for {
		client, err := l.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", l.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		l.wg.Add(2)
		go func() {
			defer l.wg.Done()
			_, _ = io.Copy(client, server)
			_ = client.Close()
		}()
		go func() {
			defer l.wg.Done()
			l.relay(client, server)
			_ = server.Close()
		}()
	}
}

// relay forwards the client's messages, recording Query ('Q') and Parse ('P').
func (l *StatementLog) relay(client io.Reader, server io.Writer) {
	var head [5]byte
	// The startup message has a length and no type byte.
	if _, err := io.ReadFull(client, head[:4]); err != nil {
		return
	}
	if _, err := server.Write(head[:4]); err != nil {
		return
	}
	if _, err := io.CopyN(server, client, int64(binary.BigEndian.Uint32(head[:4]))-4); err != nil {
		return
	}
	for {
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		body := make([]byte, int(binary.BigEndian.Uint32(head[1:]))-4)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		switch head[0] {
		case 'Q': // query text
			l.record(body)
		case 'P': // statement name, query text, …
			if i := bytes.IndexByte(body, 0); i >= 0 {
				l.record(body[i+1:])
			}
		}
		if _, err := server.Write(append(head[:], body...)); err != nil {
			return
		}
	}
}

func (l *StatementLog) record(b []byte) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	l.mu.Lock()
	l.stmts = append(l.stmts, string(b))
	l.mu.Unlock()
}
