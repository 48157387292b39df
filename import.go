package main

// Reading a bulk import: NDJSON, one todo's input a line, as POST /v1/todos
// takes it with Content-Type application/x-ndjson and todo import reads it
// from a file. Every line is read and checked before anything is written, so
// that one bad line makes the whole import a 422 naming its lines. Nothing
// here knows of HTTP or SQL.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// The bounds of an import (API.md, "Bulk import").
const (
	maxImportLines    = 100_000
	maxImportBytes    = 64 << 20
	maxImportLineSize = maxBodyBytes // a line is a create's body
	maxImportProblems = 100          // bad lines named in a 422; the count says how many there were
)

// ImportLine is a todo read from a line of an import, numbered from 1.
type ImportLine struct {
	Line int
	Todo Todo
}

// importInput is a line of an import: a todo's input, and the members an
// exported todo also has, which an import accepts and ignores (an export's
// lines are valid import lines).
type importInput struct {
	TodoInput
	ID          json.RawMessage `json:"id"`
	URL         json.RawMessage `json:"url"`
	CreatedAt   json.RawMessage `json:"created_at"`
	UpdatedAt   json.RawMessage `json:"updated_at"`
	CompletedAt json.RawMessage `json:"completed_at"`
}

// readImport reads every line of r, an import, into the todos they describe.
// Blank lines are skipped (and counted). A bad line is EINVALID naming it; an
// import past its bounds is ETOOLARGE.
func readImport(r io.Reader) ([]ImportLine, error) {
	limited := &io.LimitedReader{R: r, N: maxImportBytes + 1}
	in := bufio.NewReaderSize(limited, 64<<10)
	var todos []ImportLine
	var problems []FieldError
	bad := 0
	for n := 1; ; n++ {
		line, long, err := readLine(in)
		if limited.N == 0 {
			return nil, Errorf(ETOOLARGE, "the import is larger than %d bytes", maxImportBytes)
		}
		if err != nil && err != io.EOF {
			return nil, &Error{Code: EMALFORMED, Message: "the import could not be read", Err: err}
		}
		if long || len(bytes.TrimSpace(line)) > 0 {
			if len(todos)+bad == maxImportLines {
				return nil, Errorf(ETOOLARGE, "the import has more than %d lines", maxImportLines)
			}
			if t, lineProblems := readImportLine(n, line, long); lineProblems != nil {
				bad++
				problems = append(problems, lineProblems...)
			} else {
				todos = append(todos, ImportLine{n, t})
			}
		}
		if err == io.EOF {
			break
		}
	}
	if bad > 0 {
		return nil, invalidImport(problems, bad)
	}
	return todos, nil
}

// readLine reads one line of in, without its newline; io.EOF with the last.
// A line longer than maxImportLineSize is read to its end and dropped: long.
// The line may be in's buffer, valid until the next read.
func readLine(in *bufio.Reader) (line []byte, long bool, err error) {
	for {
		var part []byte
		part, err = in.ReadSlice('\n')
		switch {
		case err == nil && line == nil && !long: // the whole line in the buffer, as most are
			return part[:len(part)-1], false, nil
		case long:
		case len(line)+len(part) > maxImportLineSize+1: // +1: its newline
			line, long = nil, true
		default:
			line = append(line, part...)
		}
		if err != bufio.ErrBufferFull {
			return bytes.TrimSuffix(line, []byte("\n")), long, err
		}
	}
}

// readImportLine reads line n, a todo's input, or one too long to keep. It returns the todo, or the line's problems.
func readImportLine(n int, line []byte, long bool) (Todo, []FieldError) {
	name := "line " + strconv.Itoa(n)
	if long {
		return Todo{}, []FieldError{{name, fmt.Sprintf("is longer than %d bytes", maxImportLineSize)}}
	}
	var in importInput
	if err := decodeObject(line, &in, "the line"); err != nil {
		e := err.(*Error) // decodeObject's errors are
		if len(e.Fields) > 0 {
			return Todo{}, prefixFields(name, e.Fields)
		}
		return Todo{}, []FieldError{{name, e.Message}}
	}
	t, problems := NewTodo(in.TodoInput)
	if problems != nil {
		return Todo{}, prefixFields(name, problems)
	}
	return t, nil
}

// prefixFields names each field as one of the line named name: "line 17: title".
func prefixFields(name string, fields []FieldError) []FieldError {
	for i := range fields {
		fields[i].Field = name + ": " + fields[i].Field
	}
	return fields
}

// invalidImport is the 422 of an import with bad lines (bad of them in all),
// naming at most maxImportProblems of their problems.
func invalidImport(problems []FieldError, bad int) error {
	message := fmt.Sprintf("%d line(s) of the import are not valid todos; nothing was imported", bad)
	if len(problems) > maxImportProblems {
		problems = problems[:maxImportProblems]
		message += fmt.Sprintf(" (the first %d problems are listed)", maxImportProblems)
	}
	return &Error{Code: EINVALID, Message: message, Fields: problems}
}
