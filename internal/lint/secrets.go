// Package lint holds keyprov's own vet-style checks, run as tests.
//
// CheckSecrets enforces the rule of token.Secret outside package token: a
// secret never reaches a formatting or logging call, not even redacted,
// and its value is revealed only at call sites listed, with the reason, in
// an allow-list (where it is hashed, compared or checksummed). Sensitivity
// lives in the type; this check makes sure the type is not bypassed.
package lint

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/types/typeutil"
)

// TokenPkg is the package of token.Secret.
const TokenPkg = "github.com/keyprov/keyprov/token"

// Allowed is a function in which Secret.Reveal may be called.
type Allowed struct {
	// Func is the function: "import/path.Func" or "import/path.Type.Method".
	Func string
	// Why says what the revealed value is used for.
	Why string
}

// Finding is a place where a secret may escape.
type Finding struct {
	Pos     token.Position
	Message string
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s", f.Pos, f.Message) }

// sinkPkgs are packages every function of which formats or logs its
// arguments (or builds an error from them).
var sinkPkgs = map[string]bool{
	"fmt":                       true,
	"log":                       true,
	"log/slog":                  true,
	"errors":                    true,
	"github.com/rs/zerolog":     true,
	"github.com/rs/zerolog/log": true,
	"github.com/pkg/errors":     true,
}

// CheckSecrets checks pkgs (loaded with syntax and types) and returns its
// findings, sorted by position: every call outside package token that
// passes a token.Secret, or a value whose type contains one, to fmt, log,
// log/slog, errors or zerolog (functions, and methods of their types such
// as *zerolog.Event); every call of Secret.Reveal outside the functions of
// allowed; and every entry of allowed that no call uses any more.
func CheckSecrets(pkgs []*packages.Package, allowed []Allowed) []Finding {
	var out []Finding
	allow := map[string]bool{}
	used := map[string]bool{}
	for _, a := range allowed {
		allow[a.Func] = true
	}
	for _, p := range pkgs {
		if p.PkgPath == TokenPkg || p.TypesInfo == nil {
			continue
		}
		for _, f := range p.Syntax {
			name := p.Fset.Position(f.Pos()).Filename
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			var fn string // the enclosing function
			for _, decl := range f.Decls {
				d, ok := decl.(*ast.FuncDecl)
				if !ok {
					// Package-level initialisers: their calls are checked too.
					fn = p.PkgPath + ".init"
					ast.Inspect(decl, func(n ast.Node) bool {
						out = append(out, checkCall(p, n, fn, allow, used)...)
						return true
					})
					continue
				}
				fn = funcName(p, d)
				ast.Inspect(d, func(n ast.Node) bool {
					out = append(out, checkCall(p, n, fn, allow, used)...)
					return true
				})
			}
		}
	}
	for _, a := range allowed {
		if !used[a.Func] {
			out = append(out, Finding{Message: fmt.Sprintf("the allow-list names %s, which no longer calls Secret.Reveal: remove it", a.Func)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pos.Filename != out[j].Pos.Filename {
			return out[i].Pos.Filename < out[j].Pos.Filename
		}
		return out[i].Pos.Offset < out[j].Pos.Offset
	})
	return out
}

// funcName names a function declaration as Allowed.Func does.
func funcName(p *packages.Package, d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return p.PkgPath + "." + d.Name.Name
	}
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return p.PkgPath + "." + id.Name + "." + d.Name.Name
	}
	return p.PkgPath + "." + d.Name.Name
}

func checkCall(p *packages.Package, n ast.Node, fn string, allow, used map[string]bool) []Finding {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return nil
	}
	callee := typeutil.StaticCallee(p.TypesInfo, call)
	if callee == nil || callee.Pkg() == nil {
		return nil
	}
	pos := p.Fset.Position(call.Pos())
	if isReveal(callee) {
		if allow[fn] {
			used[fn] = true
			return nil
		}
		return []Finding{{Pos: pos, Message: fmt.Sprintf("Secret.Reveal in %s, which is not in the allow-list: reveal a token only to hash, compare or checksum it, and list the function with the reason", fn)}}
	}
	if !sinkPkgs[callee.Pkg().Path()] {
		return nil
	}
	var out []Finding
	for _, arg := range call.Args {
		t := p.TypesInfo.TypeOf(arg)
		if t == nil {
			continue
		}
		if fields, ok := secretPath(t, map[types.Type]bool{}); ok {
			what := "is a token.Secret"
			if fields != "" {
				what = "holds a token.Secret in " + fields
			}
			out = append(out, Finding{Pos: p.Fset.Position(arg.Pos()), Message: fmt.Sprintf(
				"%s %s and is passed to %s: a secret must never reach formatting, logs or errors, even redacted; pass its hint or digest",
				types.ExprString(arg), what, callee.FullName())})
		}
	}
	return out
}

// isReveal reports whether f is token.Secret.Reveal.
func isReveal(f *types.Func) bool {
	if f.Name() != "Reveal" || f.Pkg().Path() != TokenPkg {
		return false
	}
	sig, ok := f.Type().(*types.Signature)
	return ok && sig.Recv() != nil
}

// secretPath reports whether t holds a token.Secret, and through which
// fields ("Token.Secret" for spec.Key); fields is empty when t is one.
func secretPath(t types.Type, seen map[types.Type]bool) (fields string, ok bool) {
	if seen[t] {
		return "", false
	}
	seen[t] = true
	switch t := t.(type) {
	case *types.Named:
		obj := t.Obj()
		if obj.Pkg() != nil && obj.Pkg().Path() == TokenPkg && obj.Name() == "Secret" {
			return "", true
		}
		return secretPath(t.Underlying(), seen)
	case *types.Alias:
		return secretPath(types.Unalias(t), seen)
	case *types.Pointer:
		return secretPath(t.Elem(), seen)
	case *types.Slice:
		return secretPath(t.Elem(), seen)
	case *types.Array:
		return secretPath(t.Elem(), seen)
	case *types.Map:
		if f, ok := secretPath(t.Elem(), seen); ok {
			return f, true
		}
		return secretPath(t.Key(), seen)
	case *types.Struct:
		for i := 0; i < t.NumFields(); i++ {
			f := t.Field(i)
			if sub, ok := secretPath(f.Type(), seen); ok {
				if sub == "" {
					return f.Name(), true
				}
				return f.Name() + "." + sub, true
			}
		}
	}
	return "", false
}
