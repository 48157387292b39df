package main

// The binary as its own tool: the commands that manage accounts (todo user
// add|passwd|rm|list), run beside a service on the same database or without
// one. A running service sees what they change within a second
// (Store.watch).

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// isCommand reports whether args name a command rather than the service's flags.
func isCommand(args []string) bool { return len(args) > 0 && args[0] == "user" }

// runCommand runs the command that args name: "user", then what to do.
func runCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		return errors.New("usage: todo user add|passwd|rm|list [-db FILE] [NAME]")
	}
	fs := flag.NewFlagSet("todo user "+args[1], flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := getenv("TODO_DB")
	if db == "" {
		db = "todo.db"
	}
	fs.StringVar(&db, "db", db, "SQLite file (TODO_DB)")
	admin := false
	if args[1] == "add" {
		fs.BoolVar(&admin, "admin", false, "the account is an admin (the first one always is)")
	}
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	wantArgs := 1
	if args[1] == "list" {
		wantArgs = 0
	}
	if fs.NArg() != wantArgs {
		return fmt.Errorf("todo user %s takes %d argument(s), not %d", args[1], wantArgs, fs.NArg())
	}
	name := fs.Arg(0)
	if wantArgs == 1 {
		if problem := checkName(name); problem != "" {
			return fmt.Errorf("the name %q %s", name, problem)
		}
	}
	store, err := openSharedStore(db)
	if err != nil {
		return err
	}
	defer store.Close()
	return userCommand(ctx, store, args[1], name, admin, stdin, stdout)
}

// userCommand does what todo user CMD NAME asks of store.
func userCommand(ctx context.Context, store *Store, cmd, name string, admin bool, stdin io.Reader, stdout io.Writer) error {
	switch cmd {
	case "add":
		password, err := readPassword(stdin)
		if err != nil {
			return err
		}
		u, err := store.CreateUser(ctx, name, hashPassword(password), admin)
		if err != nil {
			return commandError(err)
		}
		fmt.Fprintf(stdout, "added %s (id %d, admin %t)\n", *u.Name, u.ID, u.Admin)
	case "passwd":
		password, err := readPassword(stdin)
		if err != nil {
			return err
		}
		if _, err := store.ChangeAccount(ctx, name, hashPassword(password), nil, 0); err != nil {
			return commandError(err)
		}
		fmt.Fprintf(stdout, "changed the password of %s, and revoked its tokens and sessions\n", name)
	case "rm":
		if err := store.DeleteUser(ctx, name); err != nil {
			return commandError(err)
		}
		fmt.Fprintf(stdout, "removed %s, its lists and their todos\n", name)
	case "list":
		users, err := store.Users(ctx)
		if err != nil {
			return commandError(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tADMIN\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%d\t%s\t%t\t%s\n", u.ID, *u.Name, u.Admin, u.CreatedAt.Format(timeLayout))
		}
		return tw.Flush()
	default:
		return fmt.Errorf("todo user %s: no such command; add, passwd, rm or list", cmd)
	}
	return nil
}

// readPassword reads a password from the first line of r.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLen+3)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if problem := checkPassword(password); problem != "" {
		return "", fmt.Errorf("the password (the first line of standard input) %s", problem)
	}
	return password, nil
}

// commandError is err as one line for a person: an *Error's message, or err.
func commandError(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return errors.New(e.Message)
	}
	return err
}
