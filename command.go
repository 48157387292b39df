package main

// The binary as its own tool: the commands that manage accounts (todo user
// add|passwd|rm|list), back up and restore the database, export and import
// todos, and ask a running service whether it is ready. All but restore run
// beside a service on the same database, or without one; a running service
// sees what they change within a second (Store.watch).

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// commandNames are the commands; any other first argument is the service's.
var commandNames = []string{"user", "backup", "restore", "export", "import", "healthcheck"}

// isCommand reports whether args name a command rather than the service's flags.
func isCommand(args []string) bool { return len(args) > 0 && slices.Contains(commandNames, args[0]) }

// cmdline is what a command reads and writes.
type cmdline struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// runCommand runs the command that args name.
func runCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cmdline{getenv, stdin, stdout, stderr}
	switch args[0] {
	case "user":
		return c.user(ctx, args[1:])
	case "backup", "restore":
		return c.backupOrRestore(ctx, args[0], args[1:])
	case "export":
		return c.export(ctx, args[1:])
	case "import":
		return c.importFile(ctx, args[1:])
	default:
		return c.healthcheck(ctx, args[1:])
	}
}

// flags returns the flag set of command name, with -db (TODO_DB) in db.
func (c *cmdline) flags(name string, db *string) *flag.FlagSet {
	fs := flag.NewFlagSet("todo "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	*db = c.getenv("TODO_DB")
	if *db == "" {
		*db = "todo.db"
	}
	fs.StringVar(db, "db", *db, "SQLite file (TODO_DB)")
	return fs
}

// parse parses args into fs, which must leave n arguments.
func parse(fs *flag.FlagSet, args []string, n int) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != n {
		return fmt.Errorf("%s takes %d argument(s), not %d", fs.Name(), n, fs.NArg())
	}
	return nil
}

// user is todo user add|passwd|rm|list [-db FILE] [NAME].
func (c *cmdline) user(ctx context.Context, args []string) error {
	if len(args) < 1 {
		return errors.New("usage: todo user add|passwd|rm|list [-db FILE] [NAME]")
	}
	var db string
	fs := c.flags("user "+args[0], &db)
	admin := false
	if args[0] == "add" {
		fs.BoolVar(&admin, "admin", false, "the account is an admin (the first one always is)")
	}
	wantArgs := 1
	if args[0] == "list" {
		wantArgs = 0
	}
	if err := parse(fs, args[1:], wantArgs); err != nil {
		return err
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
	return userCommand(ctx, store, args[0], name, admin, c.stdin, c.stdout)
}

// backupOrRestore is todo backup FILE and todo restore FILE.
func (c *cmdline) backupOrRestore(ctx context.Context, cmd string, args []string) error {
	var db string
	fs := c.flags(cmd, &db)
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	file := fs.Arg(0)
	if cmd == "backup" {
		if err := backupDatabase(ctx, db, file); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "backed up %s to %s\n", db, file)
		return nil
	}
	migrations, err := parseMigrations(schemaSQL, goSteps)
	if err != nil {
		return err
	}
	if err := restoreDatabase(ctx, db, file, len(migrations)); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "restored %s from %s\n", db, file)
	return nil
}

// export is todo export [-user NAME] [-list ID]: the NDJSON export of every
// todo (that NAME can read) to standard output.
func (c *cmdline) export(ctx context.Context, args []string) error {
	var db string
	fs := c.flags("export", &db)
	name := fs.String("user", "", "only the todos this account can read")
	list := fs.Int64("list", 0, "only the todos of this list")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	store, user, err := c.openAs(ctx, db, *name, Everyone)
	if err != nil {
		return err
	}
	defer store.Close()
	collection := c.baseURL() + "/v1/todos/"
	out := bufio.NewWriter(c.stdout)
	var buf []byte
	each := func(t RenderedTodo) bool {
		buf = append(t.AppendJSON(buf, collection), '\n')
		return len(buf) >= exportBatch
	}
	flush := func() error {
		_, err := out.Write(buf)
		buf = buf[:0]
		return err
	}
	err = store.ExportTodos(ctx, user, Filter{ListID: *list, Sort: SortByID}, each, flush)
	if err == nil {
		err = flush()
	}
	return commandError(errors.Join(err, out.Flush()))
}

// importFile is todo import [-user NAME] [-list ID] FILE: the bulk import of
// FILE ("-": standard input), all or nothing.
func (c *cmdline) importFile(ctx context.Context, args []string) error {
	var db string
	fs := c.flags("import", &db)
	name := fs.String("user", "", "the account whose todos they become (default: the built-in user, or the first account)")
	list := fs.Int64("list", 0, "the list they go in (default: the account's default list, or each line's list_id)")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	in := c.stdin
	if file := fs.Arg(0); file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	store, user, err := c.openAs(ctx, db, *name, BuiltinUser)
	if err != nil {
		return err
	}
	defer store.Close()
	lines, err := readImport(in)
	if err == nil {
		err = store.ImportTodos(ctx, user, *list, lines)
	}
	if err != nil {
		return commandError(err)
	}
	fmt.Fprintf(c.stdout, "imported %d todos\n", len(lines))
	return nil
}

// openAs opens the database at db beside any service, and finds the
// account name: its id, or otherwise when name is "".
func (c *cmdline) openAs(ctx context.Context, db, name string, otherwise int64) (*Store, int64, error) {
	store, err := openSharedStore(db)
	if err != nil || name == "" {
		return store, otherwise, err
	}
	u, _, err := store.FindAccount(ctx, name)
	if err != nil {
		store.Close()
		return nil, 0, commandError(err)
	}
	return store, u.ID, nil
}

// baseURL is the service's public URL, for the url of an exported todo.
func (c *cmdline) baseURL() string {
	if base := c.getenv("TODO_BASE_URL"); base != "" {
		return strings.TrimSuffix(base, "/")
	}
	return "http://" + localAddr(c.getenv("TODO_ADDR"))
}

// localAddr is addr ("" for the default) as a client on the same machine
// reaches it: a listener on every address is reached on loopback.
func localAddr(addr string) string {
	if addr == "" {
		addr = "localhost:8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// healthcheck is todo healthcheck [-addr ADDR]: exit 0 when the service at
// ADDR answers /readyz with 200 (a container's health check has no curl).
func (c *cmdline) healthcheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("todo healthcheck", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	addr := fs.String("addr", c.getenv("TODO_ADDR"), "the service's listen address (TODO_ADDR)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + localAddr(*addr) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s answered %s", url, resp.Status)
	}
	fmt.Fprintf(c.stdout, "ready: %s\n", url)
	return nil
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

// commandError is err as one line for a person: an *Error's message and
// its fields, or err.
func commandError(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code == EINTERNAL {
		return err
	}
	message := e.Message
	for i, f := range e.Fields {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		message += sep + f.Field + " " + f.Message
	}
	return errors.New(message)
}
