package main

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSignInGuessing: after 10 failed sign-ins for a name within the
// window, an 11th attempt gets 429 with Retry-After, right password or not,
// at both sign-in routes; a wrong bearer token is no sign-in and counts not.
func TestSignInGuessing(t *testing.T) {
	ts, _ := newAccountsServer(t, config{}, "ada")
	for range 20 {
		ts.do(t, "GET", "/v1/me", "", "Authorization", bearer("todo_wrong")).problem(t, http.StatusUnauthorized)
	}
	for i := range maxGuesses {
		route := []string{"/v1/tokens", "/v1/session"}[i%2]
		if route == "/v1/tokens" {
			ts.do(t, "POST", route, "", "Authorization", basic("ada", "wrong password")).problem(t, http.StatusUnauthorized)
		} else {
			ts.do(t, "POST", route, `{"name":"ada","password":"wrong password"}`).problem(t, http.StatusUnauthorized)
		}
	}
	for _, r := range []result{
		ts.do(t, "POST", "/v1/tokens", "", "Authorization", basic("ada", passwordOf("ada"))),
		ts.do(t, "POST", "/v1/session", `{"name":"ada","password":"`+passwordOf("ada")+`"}`),
	} {
		r.problem(t, http.StatusTooManyRequests)
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 890 || s > 900 {
			t.Errorf("Retry-After %q, want about 900 s", r.header.Get("Retry-After"))
		}
	}
}

// TestSignUpsBounded: with -signup, an address makes at most 10 accounts
// in the window; an admin is not bounded.
func TestSignUpsBounded(t *testing.T) {
	ts, tokens := newAccountsServer(t, config{signup: true}, "ada")
	for i := range maxGuesses {
		ts.do(t, "POST", "/v1/users", `{"name":"user`+strconv.Itoa(i)+`","password":"long enough"}`).want(t, http.StatusCreated)
	}
	r := ts.do(t, "POST", "/v1/users", `{"name":"one.more","password":"long enough"}`)
	if r.problem(t, http.StatusTooManyRequests); r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	ts.do(t, "POST", "/v1/users", `{"name":"one.more","password":"long enough"}`, "Authorization", bearer(tokens["ada"])).want(t, http.StatusCreated)
}

// TestGuessLimiter: by name and by address, each on its own, and the window
// slides.
func TestGuessLimiter(t *testing.T) {
	var g guessLimiter
	now := time.Now()
	for i := range maxGuesses {
		g.fail(now.Add(time.Duration(i)*time.Minute), "name ada", "addr 10.0.0.1")
	}
	at := now.Add(10 * time.Minute)
	if w := g.wait(at, "name ada", "addr 10.0.0.2"); w != 5*time.Minute {
		t.Errorf("the name waits %s, want 5m", w)
	}
	if w := g.wait(at, "name bob", "addr 10.0.0.1"); w != 5*time.Minute {
		t.Errorf("the address waits %s, want 5m", w)
	}
	if w := g.wait(at, "name bob", "addr 10.0.0.2"); w != 0 {
		t.Errorf("another name from another address waits %s", w)
	}
	if w := g.wait(now.Add(guessWindow), "name ada"); w != 0 {
		t.Errorf("once the first failure left the window, it waits %s", w)
	}
	if w := g.wait(now.Add(guessWindow).Add(-time.Millisecond), "name ada"); w != time.Millisecond {
		t.Errorf("just before, it waits %s", w)
	}
}

// TestSignInTakesAsLongForAnyName: a sign-in for a name with no account
// costs the PBKDF2 of one with an account, at the service's own cost.
func TestSignInTakesAsLongForAnyName(t *testing.T) {
	ts, _ := newAccountsServer(t, config{}, "ada")
	passwordIterations = 600_000
	defer func() { passwordIterations = 1_000 }()
	if _, err := ts.store.ChangeAccount(t.Context(), "ada", hashPassword(passwordOf("ada")), nil, 0); err != nil {
		t.Fatal(err)
	}
	median := func(name string) time.Duration {
		var times []time.Duration
		for range 3 {
			start := time.Now()
			ts.do(t, "POST", "/v1/session", `{"name":"`+name+`","password":"wrong password"}`).problem(t, http.StatusUnauthorized)
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		return times[1]
	}
	known, unknown := median("ada"), median("nobody")
	t.Logf("a wrong password: %s for an account, %s for a name without one", known, unknown)
	// Without the decoy hash, the unknown name took well under 1 % of it.
	if ratio := float64(unknown) / float64(known); ratio < 0.5 || ratio > 2 {
		t.Errorf("an unknown name takes %.2f× what a known one does", ratio)
	}
}

// TestPasswordHash: PBKDF2-HMAC-SHA256, 600,000 iterations by default, a
// salt of its own for each hash, the parameters kept with it.
func TestPasswordHash(t *testing.T) {
	defer func(n int) { passwordIterations = n }(passwordIterations)
	passwordIterations = 600_000
	a, b := hashPassword("correct horse"), hashPassword("correct horse")
	parts := strings.Split(a, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" || parts[1] != "600000" || len(parts[2]) < 22 || a == b {
		t.Fatalf("hashes %q and %q", a, b)
	}
	if !passwordMatches(a, "correct horse") || passwordMatches(a, "correct horse ") || passwordMatches("junk", "x") {
		t.Error("passwordMatches is wrong")
	}
	// A hash keeps its parameters: raising the cost leaves it working.
	passwordIterations = 1_000
	old := hashPassword("pw")
	passwordIterations = 2_000
	if !passwordMatches(old, "pw") || !strings.Contains(hashPassword("pw"), "$2000$") {
		t.Error("a hash of another cost does not verify")
	}
}

// TestNoSecretInTheLog signs in, uses and revokes tokens and sessions,
// right and wrong, with the log at debug, and finds no password and no
// token's secret in it.
func TestNoSecretInTheLog(t *testing.T) {
	ts, tokens := newAccountsServer(t, config{}, "ada", "bob")
	secrets := []string{passwordOf("ada"), passwordOf("bob"), tokens["ada"], tokens["bob"], "wrong password", "a new password"}
	ts.do(t, "POST", "/v1/tokens", "", "Authorization", basic("ada", "wrong password")).problem(t, http.StatusUnauthorized)
	ts.do(t, "POST", "/v1/session", `{"name":"bob","password":"wrong password"}`).problem(t, http.StatusUnauthorized)
	r := ts.do(t, "POST", "/v1/session", `{"name":"bob","password":"`+passwordOf("bob")+`"}`).want(t, http.StatusNoContent)
	cookie := strings.Split(r.header.Get("Set-Cookie"), ";")[0]
	secrets = append(secrets, strings.TrimPrefix(cookie, "todo_session="))
	ts.do(t, "GET", "/v1/me", "", "Cookie", cookie).want(t, http.StatusOK)
	ts.do(t, "GET", "/v1/me", "", "Authorization", bearer(tokens["ada"])).want(t, http.StatusOK)
	ts.do(t, "GET", "/v1/me", "", "Authorization", bearer(tokens["ada"]+"x")).problem(t, http.StatusUnauthorized)
	ts.do(t, "PATCH", "/v1/me", `{"password":"a new password","current_password":"wrong password"}`, "Authorization", bearer(tokens["bob"])).problem(t, http.StatusForbidden)
	ts.do(t, "PATCH", "/v1/me", `{"password":"a new password","current_password":"`+passwordOf("bob")+`"}`, "Authorization", bearer(tokens["bob"])).want(t, http.StatusOK)
	ts.do(t, "POST", "/v1/users", `{"name":"carl","password":"carl's secret"}`, "Authorization", bearer(tokens["ada"])).want(t, http.StatusCreated)
	secrets = append(secrets, "carl's secret")
	ts.do(t, "DELETE", "/v1/session", "", "Cookie", cookie, "Sec-Fetch-Site", "same-origin").want(t, http.StatusNoContent)
	logs := ts.logs.String()
	if !strings.Contains(logs, `"route":"POST /v1/session"`) {
		t.Fatalf("the log has not the requests: %s", logs)
	}
	for _, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the secret %q", secret)
		}
	}
}

// TestModeAtStart: -token with accounts is refused, and so is the open mode
// beyond loopback without -open; the accounts mode may listen anywhere.
func TestModeAtStart(t *testing.T) {
	for _, tt := range []struct {
		cfg                config
		accounts, loopback bool
		refused            bool
	}{
		{config{}, false, true, false},
		{config{}, false, false, true},
		{config{open: true}, false, false, false},
		{config{token: "t"}, false, false, false},
		{config{token: "t"}, true, true, true},
		{config{}, true, false, false},
	} {
		if err := checkMode(tt.cfg, tt.accounts, tt.loopback); (err != nil) != tt.refused {
			t.Errorf("%+v accounts %t loopback %t: %v", tt.cfg, tt.accounts, tt.loopback, err)
		}
	}
}
