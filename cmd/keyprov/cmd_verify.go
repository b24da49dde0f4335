package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/term"

	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/verify"
	"github.com/keyprov/keyprov/view"
)

var verifyCmd = &command{
	name:    "verify",
	summary: "check a token read from stdin and show its key",
	help: `Reads one token from standard input and checks it against the store the way
applications do (keyprov.verify_token, through the Go package
github.com/keyprov/keyprov/verify): the key must not be revoked, disabled or
expired, and the token must be the key's active token or its previous token
before the cutoff. Prints the key the token belongs to. Tokens must carry
one of the prefixes that applies recorded in the store (or --prefix).

The token is read from standard input, never from the command line, which
other users can see (ps, shell history). On a terminal it is read without
echo; otherwise one trailing line break is removed and nothing else.

  keyprov verify < token.txt
  printf '%s' "$WEBSITE_KEY_ACME" | keyprov verify --tenant acme

Exit status: 0 the token verifies (and reaches --tenant); 1 it does not,
with the reason (malformed, unknown, revoked, disabled, expired,
previous_expired, retired, scope_denied), or bad input; 3 store unavailable; 4 keyprov's
schema holds objects that are not keyprov's (SECURITY.md); 5 the server
rejected keyprov (authentication, no such database, no CONNECT).`,
	run: runVerify,
}

// maxTokenInput bounds what verify reads from stdin.
const maxTokenInput = 64 << 10

// verifyOptions are verify's flags and arguments. The token is not
// among them: it is read from standard input.
type verifyOptions struct {
	db     *dbFlags
	log    *logFlags
	output *oneOf
	// tenant is the tenant the key must reach too; prefix the token
	// prefix, when not the store's.
	tenant, prefix string
	args           []string
}

func newVerifyOptions(fs *flagSet, cfg Config) *verifyOptions {
	o := &verifyOptions{db: addDBFlags(fs, cfg)}
	fs.StringVar(&o.tenant, "tenant", "", "check that the key reaches `tenant` too (a universal key reaches every tenant)")
	fs.StringVar(&o.prefix, "prefix", "", "token `prefix` (default: the prefixes recorded in the store, from each spec's settings.token_prefix)")
	o.output = addOutputFlag(fs, "text or json", "text", "json")
	o.log = addLogFlags(fs, cfg)
	return o
}

func (o *verifyOptions) check() error {
	if len(o.args) > 0 {
		// Never echo the argument: it may well be the token.
		return errors.New("the token is read from standard input, never from arguments (other users can see command lines): keyprov verify < token.txt")
	}
	if looksLikeToken(o.tenant, cmp.Or(o.prefix, token.DefaultPrefix)) {
		// --tenant is printed and recorded in the answer: a token given
		// there by mistake must not be.
		return errors.New("--tenant looks like a token, not a tenant; it is not repeated here. The token is read from standard input: keyprov verify < token.txt")
	}
	return nil
}

func runVerify(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newVerifyOptions(fs, a.cfg)
	if code, ok := a.parseOptions(c, fs, args, &o.args, o, o.log); !ok {
		return code
	}
	tok, err := readToken(a)
	if err != nil {
		a.errorf("keyprov verify: %v", err)
		return exitInvalid
	}

	db, err := o.db.open(ctx, a, nil)
	if err != nil {
		return a.storeExit(err, "verify")
	}
	defer db.Close(context.Background())
	// One query on one connection: the store's connection serves.
	var vdb verify.DB = db.Conn()
	if err := db.CheckVersion(ctx); err != nil {
		switch {
		case errors.Is(err, store.ErrSchemaMissing):
			a.errorf("keyprov verify: schema %q holds no keys: no apply has run against this database", db.Schema())
			vdb = emptyStore{}
		case permissionDenied(err):
			// A role for applications reads keys and tokens only (README:
			// least privilege), not schema_version: verify as the
			// library does, without checking the version.
			a.log.Debug().Err(err).Msg("the schema version is not readable by this role: verifying without checking it")
		case outsider(err):
			// Such a role owns nothing in the schema, so the ownership
			// check refuses it (SECURITY.md): verify as the library does.
			a.log.Debug().Err(err).Msg("this role does not own keyprov's schema: verifying without checking it")
		default:
			return a.storeExit(err, "verify")
		}
	}
	opts := []verify.Option{verify.WithSchema(db.Schema())}
	if _, empty := vdb.(emptyStore); o.prefix != "" || empty {
		opts = append(opts, verify.WithPrefix(cmp.Or(o.prefix, token.DefaultPrefix)))
	}
	v, err := verify.New(vdb, opts...)
	if err != nil {
		a.errorf("keyprov verify: %v", err)
		return exitInvalid
	}
	key, err := v.Verify(ctx, tok)
	_ = v.Close(context.Background())
	if verr := (*verify.Error)(nil); err != nil && !errors.As(err, &verr) {
		return a.storeExit(err, "verify")
	}
	if err == nil && o.tenant != "" {
		err = key.Allows(o.tenant)
	}

	res := view.NewVerifyResult(key, err, o.tenant)
	if o.output.val == "json" {
		err = view.WriteVerifyJSON(a.out, res)
	} else {
		err = view.WriteVerifyText(a.out, res)
	}
	if err != nil {
		a.errorf("keyprov verify: %v", err)
	}
	ev := a.log.Info().Bool("valid", res.Valid)
	if res.Reason != "" {
		ev = ev.Str("reason", res.Reason)
	}
	if res.Address != "" {
		ev = ev.Str("key", res.Address)
	} else if key != nil {
		ev = ev.Str("key", key.Address)
	}
	ev.Msg("verify finished")
	if !res.Valid {
		return exitInvalid
	}
	return exitOK
}

// emptyStore is a store where no apply has run: it knows no token.
type emptyStore struct{}

func (emptyStore) QueryRow(context.Context, string, ...any) pgx.Row { return noRow{} }

type noRow struct{}

func (noRow) Scan(...any) error { return pgx.ErrNoRows }

// readToken reads the token from stdin: without echo on a terminal,
// otherwise everything up to EOF less one trailing line break.
func readToken(a *app) (string, error) {
	if f, ok := a.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// The prompt is for people: with --log-format json, stderr carries
		// nothing but events.
		a.humanPrompt("Token (not echoed): ")
		b, err := term.ReadPassword(int(f.Fd()))
		a.humanPrompt("\n")
		if err != nil {
			return "", fmt.Errorf("reading the token from the terminal: %w", err)
		}
		return string(b), nil
	}
	if a.in == nil {
		return "", errors.New("no token on standard input")
	}
	b, err := io.ReadAll(io.LimitReader(a.in, maxTokenInput+1))
	if err != nil {
		return "", fmt.Errorf("reading the token from standard input: %w", err)
	}
	if len(b) > maxTokenInput {
		return "", fmt.Errorf("standard input holds more than %d KiB: that is not a token", maxTokenInput>>10)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", errors.New("no token on standard input: keyprov verify < token.txt")
	}
	return string(b), nil
}

// permissionDenied reports whether err is PostgreSQL's insufficient_privilege.
func permissionDenied(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}

// outsider reports whether err is the ownership check's refusal of a role
// that neither owns keyprov's schema nor is a superuser: an application's.
func outsider(err error) bool {
	var fe *store.ForeignObjectError
	return errors.As(err, &fe) && fe.Outsider()
}
