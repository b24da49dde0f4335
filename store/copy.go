package store

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyprov/keyprov/internal/keycontent"
)

// copyEncoder writes rows in PostgreSQL's binary COPY format. The store
// knows the type of every column it copies, so it encodes them directly:
// pgx's generic CopyFrom plans and encodes each value through its type map,
// which cost more CPU than the database spent storing the rows of a
// 100,000-key apply.
type copyEncoder struct {
	buf []byte
}

func (c *copyEncoder) row(fields int) { c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(fields)) }

func (c *copyEncoder) null() { c.buf = binary.BigEndian.AppendUint32(c.buf, 0xFFFFFFFF) }

func (c *copyEncoder) int8(v int64) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, 8)
	c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(v))
}

func (c *copyEncoder) bool(v bool) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, 1)
	if v {
		c.buf = append(c.buf, 1)
	} else {
		c.buf = append(c.buf, 0)
	}
}

// text encodes text (and bytea: raw bytes either way).
func (c *copyEncoder) text(s string) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(len(s)))
	c.buf = append(c.buf, s...)
}

func (c *copyEncoder) bytes(b []byte) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(len(b)))
	c.buf = append(c.buf, b...)
}

// nullText encodes "" as NULL.
func (c *copyEncoder) nullText(s string) {
	if s == "" {
		c.null()
		return
	}
	c.text(s)
}

// json encodes JSON text as json, whose binary format is the text.
func (c *copyEncoder) json(b []byte) { c.bytes(b) }

// jsonb encodes JSON text as jsonb: a version byte, then the text.
func (c *copyEncoder) jsonb(b []byte) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(len(b)+1))
	c.buf = append(c.buf, 1)
	c.buf = append(c.buf, b...)
}

// timestamptz encodes microseconds since 2000-01-01 UTC.
func (c *copyEncoder) timestamptz(t time.Time) {
	c.int8(keycontent.PGMicros(t))
}

func (c *copyEncoder) timestamptzPtr(t *time.Time) {
	if t == nil {
		c.null()
		return
	}
	c.timestamptz(*t)
}

// uuid encodes a UUID given in its text form.
func (c *copyEncoder) uuid(b [16]byte) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, 16)
	c.buf = append(c.buf, b[:]...)
}

func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return u, fmt.Errorf("invalid run id %q", s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("invalid run id %q", s)
	}
	return u, nil
}

// copyIn copies n rows into table: encode writes row i with e.row and the
// field methods. Rows are encoded in a goroutine while the database stores
// the previous ones.
func (t *Tx) copyIn(ctx context.Context, table string, columns []string, n int, encode func(e *copyEncoder, i int)) (int64, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e := &copyEncoder{buf: make([]byte, 0, 128<<10)}
		e.buf = append(e.buf, "PGCOPY\n\xff\r\n\x00"...)
		e.buf = binary.BigEndian.AppendUint32(e.buf, 0) // flags
		e.buf = binary.BigEndian.AppendUint32(e.buf, 0) // header extension
		for i := 0; i < n; i++ {
			encode(e, i)
			if len(e.buf) >= 64<<10 {
				if _, err := pw.Write(e.buf); err != nil {
					return // the copy failed; its error is reported below
				}
				e.buf = e.buf[:0]
			}
		}
		e.buf = binary.BigEndian.AppendUint16(e.buf, 0xFFFF) // trailer
		if _, err := pw.Write(e.buf); err != nil {
			return
		}
		pw.Close()
	}()
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	tag, err := t.tx.Conn().PgConn().CopyFrom(ctx, pr,
		"COPY "+t.db.table(table)+" ("+strings.Join(quoted, ", ")+") FROM STDIN (FORMAT binary)")
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the encoder if the copy ended early
	<-done
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
