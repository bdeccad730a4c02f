package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

// TestRoutesListTheWholeAPI: routes.go is the map of the API. Every
// operation in the OpenAPI document is registered by one of the register
// functions that routes calls, and nothing registers an operation anywhere
// else, so a reader who starts at routes.go finds every operation.
func TestRoutesListTheWholeAPI(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	parsed := map[string]*ast.File{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed[name] = f
	}

	// The register functions routes calls.
	called := map[string]bool{}
	ast.Inspect(funcNamed(t, parsed["routes.go"], "routes"), func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "register") {
				called[sel.Sel.Name] = true
			}
		}
		return true
	})

	// The operations each function registers, and registrations outside them.
	var registered []string
	for name, f := range parsed {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || !isRegistration(call) {
					return true
				}
				if fn.Name.Name == "register" { // the helper itself
					return true
				}
				if !called[fn.Name.Name] {
					t.Errorf("%s: %s registers an operation, but routes does not call it", name, fn.Name.Name)
				}
				registered = append(registered, operationIDs(call)...)
				return true
			})
		}
	}

	s, _, _ := newTestServer(t, 4)
	var documented []string
	for _, item := range s.api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
			if op != nil {
				documented = append(documented, op.OperationID)
			}
		}
	}
	slices.Sort(registered)
	slices.Sort(documented)
	if !slices.Equal(registered, documented) {
		t.Errorf("registered from routes: %v\ndocumented: %v", registered, documented)
	}
	if len(documented) < 20 {
		t.Errorf("only %d operations documented", len(documented))
	}
}

func funcNamed(t *testing.T, f *ast.File, name string) *ast.FuncDecl {
	t.Helper()
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == name {
			return fn
		}
	}
	t.Fatalf("no func %s", name)
	return nil
}

// isRegistration reports whether call registers an operation: register,
// huma.Register or sse.Register.
func isRegistration(call *ast.CallExpr) bool {
	switch fun := call.Fun.(type) {
	case *ast.IndexListExpr:
		return isRegistration(&ast.CallExpr{Fun: fun.X})
	case *ast.Ident:
		return fun.Name == "register"
	case *ast.SelectorExpr:
		pkg, ok := fun.X.(*ast.Ident)
		return ok && fun.Sel.Name == "Register" && (pkg.Name == "huma" || pkg.Name == "sse")
	}
	return false
}

// operationIDs returns the OperationID written in a registration's
// operation, or in the variable it names.
func operationIDs(call *ast.CallExpr) []string {
	var ids []string
	for _, arg := range call.Args {
		ast.Inspect(arg, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			if k, isIdent := kv.Key.(*ast.Ident); isIdent && k.Name == "OperationID" {
				if lit, ok := kv.Value.(*ast.BasicLit); ok {
					id, _ := strconv.Unquote(lit.Value)
					ids = append(ids, id)
				}
			}
			return true
		})
	}
	return ids
}
