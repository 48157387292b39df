package main

// The cap on connections: past it, a new connection is answered 503 and
// closed at once, so that a crowd of idle clients cannot leave a new one
// waiting without an answer, nor take the file descriptors that the database
// needs. Nothing here knows of routes or SQL.

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	maxConns = 4096
	// fdReserve are the file descriptors kept for all but connections: the
	// database's files for each connection to it, the lock, the log.
	fdReserve = 64
)

// connLimit is how many connections the service holds at once: maxConns,
// or fewer if the open-file limit allows fewer.
func connLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > maxConns+fdReserve {
		return maxConns
	}
	return max(16, int(lim.Cur)-fdReserve)
}

// busyAnswer is what a connection past the cap reads before it is closed.
var busyAnswer = func() []byte {
	body := `{"type":"about:blank","title":"Service Unavailable","status":503,` +
		`"detail":"the service holds as many connections as it can; retry in a moment"}` + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n" +
		"Retry-After: " + retryAfter + "\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// limitListener accepts at most limit connections at once.
type limitListener struct {
	net.Listener
	limit int64
	open  atomic.Int64
}

func newLimitListener(ln net.Listener, limit int) *limitListener {
	return &limitListener{Listener: ln, limit: int64(limit)}
}

// Accept returns the next connection under the cap; those past it are
// answered and closed here, without keeping the caller waiting.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.limit {
			return &limitedConn{Conn: c, release: func() { l.open.Add(-1) }}, nil
		}
		l.open.Add(-1)
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond)) // a client that reads nothing is not waited for
		c.Write(busyAnswer)                                        // its error only means the client is gone
		c.Close()
	}
}

// limitedConn gives its place back when it is closed, once.
type limitedConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
