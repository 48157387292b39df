package main

// Accounts and their secrets: the rules of a name and a password, password
// hashes (PBKDF2), and the random secrets of tokens and sessions, of which
// only a SHA-256 is kept. Nothing here knows of HTTP or SQL.

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The rules of an account (API.md, "Accounts").
const (
	maxNameLen     = 64
	minPasswordLen = 8     // bytes
	maxPasswordLen = 1_024 // bytes
	tokenPrefix    = "todo_"
)

// passwordIterations is PBKDF2's cost for a new hash; each hash keeps its
// own, so that raising it leaves the older hashes working. A variable only
// so that the tests, which hash many passwords, can lower it.
var passwordIterations = 600_000

// BuiltinUser is the user of the open and shared-token modes: everyone, when
// there are no accounts. The first account made is it, given a name.
const BuiltinUser = 1

// Everyone is the reader of the command line's export: every list is its.
// No account has its id, and it is not the zero Caller's (who reads nothing).
const Everyone = -1

// User is an account, or the built-in user before accounts (Name "").
type User struct {
	ID        int64     `json:"id"`
	Name      *string   `json:"name"` // nil: the built-in user, before accounts
	Admin     bool      `json:"admin"`
	CreatedAt Timestamp `json:"created_at"`
}

// checkName returns what is wrong with an account's name, or "".
func checkName(name string) string {
	if name == "" || len(name) > maxNameLen {
		return fmt.Sprintf("must be 1 to %d characters", maxNameLen)
	}
	for i, c := range []byte(name) {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return "must be lower-case letters, digits, '.', '_' and '-', starting with a letter or a digit"
		}
	}
	return ""
}

// checkPassword returns what is wrong with a new password, or "". There is
// no rule of composition (NIST SP 800-63B): only its length.
func checkPassword(password string) string {
	switch {
	case len(password) < minPasswordLen || len(password) > maxPasswordLen:
		return fmt.Sprintf("must be %d to %d bytes", minPasswordLen, maxPasswordLen)
	case !utf8.ValidString(password):
		return "must be UTF-8"
	}
	return ""
}

// hashPassword returns password's hash, with a random salt and the
// parameters it was made with: "pbkdf2-sha256$ITERATIONS$SALT$KEY".
func hashPassword(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	return encodeHash(passwordIterations, salt, derive(password, salt, passwordIterations))
}

func encodeHash(iterations int, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return "pbkdf2-sha256$" + strconv.Itoa(iterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
}

func derive(password string, salt []byte, iterations int) []byte {
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil { // only for parameters FIPS mode refuses; ours are fixed
		panic(err)
	}
	return key
}

// passwordMatches reports whether password is the one hash was made of, in
// a time that depends only on the hash's parameters.
func passwordMatches(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iterations, err1 := strconv.Atoi(parts[1])
	salt, err2 := base64.RawStdEncoding.DecodeString(parts[2])
	key, err3 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || iterations < 1 {
		return false
	}
	return subtle.ConstantTimeCompare(derive(password, salt, iterations), key) == 1
}

// newSecret returns a token's secret, "todo_" and 43 base64url characters
// (256 random bits), and the SHA-256 that is all the store keeps of it.
func newSecret() (secret string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, secretHash(secret)
}

func secretHash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
