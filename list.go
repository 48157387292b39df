package main

// Lists and the roles of the people who share them: a list's fields and
// their rules, and what each role may do. Nothing here knows of HTTP or SQL.

import "strings"

const (
	maxListTitleLen = 200   // code points, after trimming
	maxOwnedLists   = 1_000 // lists one account owns at most
	defaultListName = "Inbox"
)

// Role is what a user may do with a list.
type Role string

const (
	RoleOwner  Role = "owner"  // everything, and only it deletes the list or shares it
	RoleEditor Role = "editor" // reads and writes its todos, renames it
	RoleViewer Role = "viewer" // reads only
	RoleNone   Role = ""       // not even reads: the list does not exist for the user
)

// CanWrite reports whether the role may change the list's todos and title.
func (r Role) CanWrite() bool { return r == RoleOwner || r == RoleEditor }

// List is a list of todos, as one user sees it. Its json tags are the API's shape.
type List struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Default   bool      `json:"default"`
	Owner     *string   `json:"owner"` // nil: the built-in user, before accounts
	Role      Role      `json:"role"`  // the user's
	CreatedAt Timestamp `json:"created_at"`
	UpdatedAt Timestamp `json:"updated_at"`
	URL       string    `json:"url"`
	TodosURL  string    `json:"todos_url"`
	Version   int64     `json:"-"`
}

// Member is a user a list is shared with, and the role it has.
type Member struct {
	User string `json:"user"`
	Role Role   `json:"role"`
}

// ListInput is the body of a create or a change of a list.
type ListInput struct {
	Title Optional[string] `json:"title"`
}

// listTitle returns the trimmed title in, or the field errors of a list's body.
func listTitle(in ListInput) (string, []FieldError) {
	title := strings.TrimSpace(in.Title.Value)
	bad := func(message string) (string, []FieldError) { return "", []FieldError{{"title", message}} }
	switch {
	case !in.Title.Present:
		return bad("is required")
	case in.Title.Null:
		return bad("must not be null")
	case in.Title.unpaired:
		return bad(unpairedMessage)
	case checkTitle(title, maxListTitleLen) != "":
		return bad(checkTitle(title, maxListTitleLen))
	}
	return title, nil
}

// MemberInput is the body of a share.
type MemberInput struct {
	Role Optional[Role] `json:"role"`
}
