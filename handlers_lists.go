package main

// The handlers of lists and of their sharing. Who may do what is the
// store's to check; a handler passes the caller on.

import (
	"net/http"
	"strconv"
)

func (s *server) listLists(w http.ResponseWriter, r *http.Request) {
	lists, err := s.store.Lists(r.Context(), callerFrom(r.Context()).User)
	if err != nil {
		writeError(w, r, err)
		return
	}
	for i := range lists {
		s.addListURLs(r, &lists[i])
	}
	encode(w, r, http.StatusOK, lists)
}

func (s *server) createList(w http.ResponseWriter, r *http.Request) {
	title, err := decodeListTitle(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	l, err := s.store.CreateList(r.Context(), callerFrom(r.Context()).User, title)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeList(w, r, http.StatusCreated, l)
}

func (s *server) getList(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	l, err := s.store.FindList(r.Context(), callerFrom(r.Context()).User, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if inm := ifNoneMatch(r.Header); inm != nil && inm.Has(l.Version) {
		w.Header().Set("ETag", etag(l.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.writeList(w, r, http.StatusOK, l)
}

func (s *server) renameList(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	title, err := decodeListTitle(w, r, "application/json", "application/merge-patch+json")
	if err != nil {
		writeError(w, r, err)
		return
	}
	l, err := s.store.RenameList(r.Context(), callerFrom(r.Context()).User, id, title, ifMatch(r.Header))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeList(w, r, http.StatusOK, l)
}

func (s *server) deleteList(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.store.DeleteList(r.Context(), callerFrom(r.Context()).User, id, ifMatch(r.Header)); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listMembers(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	members, err := s.store.Members(r.Context(), callerFrom(r.Context()).User, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	encode(w, r, http.StatusOK, members)
}

func (s *server) share(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in MemberInput
	if _, err := decode(w, r, &in, "application/json"); err != nil {
		writeError(w, r, err)
		return
	}
	if in.Role.Value != RoleEditor && in.Role.Value != RoleViewer {
		writeError(w, r, &Error{Code: EINVALID, Message: "the sharing is not valid",
			Fields: []FieldError{{"role", `must be "editor" or "viewer"`}}})
		return
	}
	name := r.PathValue("name")
	created, err := s.store.Share(r.Context(), callerFrom(r.Context()).User, id, name, in.Role.Value)
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", s.listURL(r, id)+"/members/"+name)
	}
	encode(w, r, status, Member{User: name, Role: in.Role.Value})
}

func (s *server) unshare(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.store.Unshare(r.Context(), callerFrom(r.Context()).User, id, r.PathValue("name")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeListTitle reads a list's body, and returns its title or its field errors.
func decodeListTitle(w http.ResponseWriter, r *http.Request, mediaTypes ...string) (string, error) {
	if len(mediaTypes) == 0 {
		mediaTypes = []string{"application/json"}
	}
	var in ListInput
	if _, err := decode(w, r, &in, mediaTypes...); err != nil {
		return "", err
	}
	title, problems := listTitle(in)
	if problems != nil {
		return "", &Error{Code: EINVALID, Message: "the list is not valid", Fields: problems}
	}
	return title, nil
}

func (s *server) writeList(w http.ResponseWriter, r *http.Request, status int, l List) {
	s.addListURLs(r, &l)
	w.Header().Set("ETag", etag(l.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", l.URL)
	}
	encode(w, r, status, l)
}

func (s *server) addListURLs(r *http.Request, l *List) { setListURLs(s.baseURL(r), l) }

// setListURLs sets l's URLs, under base, where clients reach the API.
func setListURLs(base string, l *List) {
	l.URL = base + "/v1/lists/" + strconv.FormatInt(l.ID, 10)
	l.TodosURL = base + "/v1/todos?list_id=" + strconv.FormatInt(l.ID, 10)
}

func (s *server) listURL(r *http.Request, id int64) string {
	return s.baseURL(r) + "/v1/lists/" + strconv.FormatInt(id, 10)
}
