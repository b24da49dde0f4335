package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// CheckDurationFields enforces the rule of keyprov's logs: a duration field
// carries its unit in its name. zerolog writes Dur values in milliseconds
// (its DurationFieldUnit, which nothing may change), so every Dur call's
// field name is a constant ending in "_ms". It reads the Go files below
// root, tests and testdata directories included only when root is one.
func CheckDurationFields(root string) ([]Finding, error) {
	var out []Finding
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Dur" && sel.Sel.Name != "Durs") || len(n.Args) != 2 {
					return true
				}
				lit, ok := n.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					out = append(out, Finding{fset.Position(n.Pos()), "a duration field's name must be a constant ending in _ms"})
					return true
				}
				if name, err := strconv.Unquote(lit.Value); err != nil || !strings.HasSuffix(name, "_ms") {
					out = append(out, Finding{fset.Position(lit.Pos()), "duration field " + lit.Value + " does not say its unit: name it " + strings.TrimSuffix(strings.Trim(lit.Value, "\"`"), "_") + "_ms"})
				}
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "zerolog" && (n.Sel.Name == "DurationFieldUnit" || n.Sel.Name == "DurationFieldInteger") {
					out = append(out, Finding{fset.Position(n.Pos()), "zerolog." + n.Sel.Name + " is left as it is: duration fields are milliseconds (_ms)"})
				}
			}
			return true
		})
		return nil
	})
	return out, err
}
