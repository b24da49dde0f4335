package store

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrRejected: the server rejected keyprov. Authentication failed, the
// role or the database does not exist, the role may not connect or create
// keyprov's schema, or the URL requires TLS and the server does not offer
// it (or offers a certificate that does not verify). Retrying cannot help:
// the configuration must change. Checked with errors.Is; the error is a
// *RejectedError.
var ErrRejected = errors.New("store: the server rejected keyprov")

// RejectedError says why the server rejected keyprov (ErrRejected).
type RejectedError struct {
	// Doing is what keyprov was doing: "connecting to user@host:port/db",
	// `creating schema "keyprov"`.
	Doing string
	// Reason is the cause in a few words, the server's message when there
	// is one, with its SQLSTATE.
	Reason string
	// Fix says what to change.
	Fix string
	// Err is the cause: a *pgconn.PgError, or the TLS error.
	Err error
}

func (e *RejectedError) Error() string {
	msg := fmt.Sprintf("%v (%s): %s", ErrRejected, e.Doing, e.Reason)
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// Unwrap returns the cause and ErrRejected.
func (e *RejectedError) Unwrap() []error { return []error{ErrRejected, e.Err} }

// SQLSTATE codes of a rejection.
const (
	codeInvalidAuthorization = "28000" // no such role, no pg_hba.conf entry
	codeInvalidPassword      = "28P01"
	codeInvalidCatalogName   = "3D000" // no such database
	codeInsufficientPrivs    = "42501" // CONNECT privilege, CREATE on the database
)

// retryableCode reports whether a server error at connection time may go
// away by itself: the server is starting or stopping, out of connections
// or resources, or the connection broke.
func retryableCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
		"08000", "08003", "08006": // connection_exception, connection_does_not_exist, connection_failure
		return true
	}
	return strings.HasPrefix(code, "53") // insufficient_resources: too many connections, out of memory, disk full
}

// rejection returns the *RejectedError for a failed connection attempt when
// the server rejected keyprov, nil when a retry may succeed. tlsRefused
// says whether the server answered a TLS request with no.
func rejection(err error, target string, tlsRefused bool) *RejectedError {
	doing := "connecting to " + target
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if retryableCode(pe.Code) {
			return nil
		}
		fix := ""
		switch pe.Code {
		case codeInvalidPassword:
			fix = "check the user and password of the database URL"
		case codeInvalidAuthorization:
			fix = "check the user of the database URL, and that the server's pg_hba.conf lets it in"
		case codeInvalidCatalogName:
			fix = "check the database of the URL"
		case codeInsufficientPrivs:
			fix = "grant the role CONNECT on the database"
		}
		return &RejectedError{Doing: doing, Reason: serverReason(pe), Fix: fix, Err: pe}
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return &RejectedError{Doing: doing, Reason: "the server's TLS certificate does not verify: " + lastLine(err),
			Fix: "check sslmode and sslrootcert in the database URL", Err: err}
	case tlsRefused:
		return &RejectedError{Doing: doing, Reason: "the database URL requires TLS (sslmode), and the server does not offer it",
			Fix: "enable TLS on the server, or change sslmode in the database URL", Err: err}
	}
	return nil
}

// rejectedStatement returns a *RejectedError for err, a failed statement,
// when the server refused it for want of a privilege (42501): nil
// otherwise. doing says what keyprov was doing and fix what to change.
func rejectedStatement(err error, doing, fix string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == codeInsufficientPrivs {
		return &RejectedError{Doing: doing, Reason: serverReason(pe), Fix: fix, Err: err}
	}
	return nil
}

// serverReason is a server error's message, detail and SQLSTATE.
func serverReason(pe *pgconn.PgError) string {
	s := pe.Message
	if pe.Detail != "" {
		s += " (" + strings.TrimSuffix(pe.Detail, ".") + ")"
	}
	return s + " (SQLSTATE " + pe.Code + ")"
}

// connectCause is the error that ended a connection attempt. pgx tries
// each address of the host and, with the default sslmode=prefer, TLS and
// then plain text, and joins every failure in one *pgconn.ConnectError
// whose first line is often the TLS fallback's ("server refused TLS
// connection"). The cause is the server's error when it answered one,
// else the last failure.
func connectCause(err error) error {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return err
	}
	inner := ce.Unwrap()
	multi, ok := inner.(interface{ Unwrap() []error })
	if !ok || len(multi.Unwrap()) == 0 {
		return inner
	}
	errs := multi.Unwrap()
	for _, e := range errs {
		var pe *pgconn.PgError
		if errors.As(e, &pe) {
			return e
		}
	}
	return errs[len(errs)-1]
}

func lastLine(err error) string {
	s := connectCause(err).Error()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

// sslRequest is the SSLRequest message (length 8, code 80877103).
var sslRequest = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}

// tlsProbe notes whether a server answered a TLS request with 'N' (no
// TLS here): pgx reports that with an error of text only, and keyprov
// tells it from a broken connection, which a retry may mend.
type tlsProbe struct{ refused atomic.Bool }

func (p *tlsProbe) dial(dial pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &probeConn{Conn: c, probe: p}, nil
	}
}

// probeConn watches the first message written and the first byte read.
type probeConn struct {
	net.Conn
	probe               *tlsProbe
	wrote, asked, heard bool
}

func (c *probeConn) Write(b []byte) (int, error) {
	if !c.wrote {
		c.wrote = true
		c.asked = bytes.Equal(b, sslRequest)
	}
	return c.Conn.Write(b)
}

func (c *probeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.asked && !c.heard && n > 0 {
		c.heard = true
		if b[0] == 'N' {
			c.probe.refused.Store(true)
		}
	}
	return n, err
}
