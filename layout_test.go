package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// The bounds of a room: past them, the concern inside has split in two.
const (
	maxFileLines = 450
	maxFuncLines = 60
)

// TestRoomSizes keeps the house readable: no source file (tests aside) over
// maxFileLines lines, no function or function literal over maxFuncLines.
func TestRoomSizes(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
			t.Errorf("%s has %d lines, more than %d: split its concerns", name, n, maxFileLines)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var body *ast.BlockStmt
			what := "a function literal"
			switch fn := n.(type) {
			case *ast.FuncDecl:
				body, what = fn.Body, fn.Name.Name
			case *ast.FuncLit:
				body = fn.Body
			}
			if body != nil {
				start := fset.Position(n.Pos())
				if lines := fset.Position(body.End()).Line - start.Line + 1; lines > maxFuncLines {
					t.Errorf("%s:%d: %s has %d lines, more than %d", name, start.Line, what, lines, maxFuncLines)
				}
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("only %d source files found: is the test running in the package's folder?", checked)
	}
}
