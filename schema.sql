-- The schema, one section per version. At start the store applies, in order and
-- each in its own transaction, every section above the database's
-- PRAGMA user_version, then sets user_version to the section's number.
-- Never edit a section that has shipped: add a new one.

-- version 1
CREATE TABLE todos (
    -- AUTOINCREMENT: an id is never reused, even after the newest row is deleted.
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT    NOT NULL,
    notes        TEXT    NOT NULL DEFAULT '',
    completed    INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
    "order"      INTEGER NOT NULL DEFAULT 0,
    -- Times are Unix milliseconds in UTC: exact, compact, and they sort.
    due          INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    completed_at INTEGER,
    version      INTEGER NOT NULL DEFAULT 1,
    -- The todo's JSON members but id and url (which depends on the request):
    -- rendered at every write, so that a read only copies them out.
    json         TEXT    NOT NULL
);

-- One index per sort key, ending in id, so that keyset paging is a seek.
-- A todo without a due time sorts after all others: the largest integer.
CREATE INDEX todos_by_due ON todos (ifnull(due, 9223372036854775807), id);
CREATE INDEX todos_by_order ON todos ("order", id);
CREATE INDEX todos_by_updated_at ON todos (updated_at, id);

-- A create with an Idempotency-Key, kept for 24 hours so that a retry gets
-- the same answer. todo_json is the todo as created, so that the answer is
-- the same even when the todo has changed or gone since.
CREATE TABLE idempotency_keys (
    key         TEXT    PRIMARY KEY,
    fingerprint BLOB    NOT NULL,
    todo_id     INTEGER NOT NULL,
    todo_json   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- version 2
-- Accounts, lists and sharing (API.md 1.1). User 1 is the built-in user: with
-- no accounts it is everyone, with no name and no password; the first account
-- made is it, given both, and so owns what was made before.
CREATE TABLE users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    UNIQUE, -- NULL only for the built-in user before accounts
    -- The PBKDF2 hash with its parameters (account.go); NULL: not an account.
    password   TEXT,
    admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_at INTEGER NOT NULL
);
INSERT INTO users (id, admin, created_at)
    VALUES (1, 1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

CREATE TABLE lists (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX lists_by_owner ON lists (owner_id, id);
CREATE UNIQUE INDEX lists_default ON lists (owner_id) WHERE is_default;
INSERT INTO lists (id, owner_id, title, is_default, created_at, updated_at)
    SELECT 1, 1, 'Inbox', 1, created_at, created_at FROM users WHERE id = 1;

-- The accounts a list is shared with. Its owner is never one of them.
CREATE TABLE members (
    list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT    NOT NULL CHECK (role IN ('editor', 'viewer')),
    PRIMARY KEY (list_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_by_user ON members (user_id, list_id);

-- Who may do what with which list: every query of a list or a todo goes
-- through it.
CREATE VIEW roles (user_id, list_id, role) AS
    SELECT owner_id, id, 'owner' FROM lists
    UNION ALL
    SELECT user_id, list_id, role FROM members;

-- The tokens of programs and the sessions of browsers: only a SHA-256 of
-- each secret is kept.
CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session      INTEGER NOT NULL CHECK (session IN (0, 1)),
    name         TEXT    NOT NULL,
    hash         BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER, -- NULL: never; a session's moves with its use
    last_used_at INTEGER
);
CREATE INDEX tokens_by_user ON tokens (user_id, id);

-- Every todo of a first-release database lands in the built-in user's Inbox.
-- (SQLite cannot add a column with REFERENCES and a default: the trigger
-- does the cascade.)
ALTER TABLE todos ADD COLUMN list_id INTEGER NOT NULL DEFAULT 1;
-- A list's todos, for a delete of the list. A page, of one list or of all
-- the lists a user can read, goes by the sort's index of version 1 and keeps
-- the todos of its lists as it goes: an index per list and sort key would
-- cost every write four more inserts.
CREATE INDEX todos_by_list ON todos (list_id);
CREATE TRIGGER todos_go_with_their_list AFTER DELETE ON lists
BEGIN
    DELETE FROM todos WHERE list_id = OLD.id;
END;

-- Idempotency keys belong to a user; the earlier ones, to the built-in user.
CREATE TABLE idempotency_keys_2 (
    user_id     INTEGER NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint BLOB    NOT NULL,
    todo_id     INTEGER NOT NULL,
    todo_json   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
INSERT INTO idempotency_keys_2 SELECT 1, key, fingerprint, todo_id, todo_json, created_at FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_2 RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- version 3
-- Sync (API.md 1.1). Every change to a list or a todo takes the next number
-- of one sequence, which only grows: a list or a todo keeps the number of its
-- last change, a sharing the number of its start (or of its last change of
-- role), and a deletion, or a loss of access, leaves a tombstone with its own.
-- What changed since a number is then what carries a larger one.
CREATE TABLE sequence (
    value  INTEGER NOT NULL, -- the last number given
    pruned INTEGER NOT NULL  -- the newest tombstone pruned: a sync from before it is 410
);
-- It starts at 1: the token "0" is a full sync, and the lists and todos
-- made before the change log have the number 0.
INSERT INTO sequence (value, pruned) VALUES (1, 0);

ALTER TABLE todos ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX todos_by_seq ON todos (seq);
ALTER TABLE lists ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
-- The live events read what each commit numbered, for everyone, by these.
CREATE INDEX lists_by_seq ON lists (seq);
CREATE INDEX members_by_seq ON members (seq);

-- The roles, with the number at which each began: 0 for an owner, whose
-- list's own number tells when it appeared.
DROP VIEW roles;
CREATE VIEW roles (user_id, list_id, role, granted) AS
    SELECT owner_id, id, 'owner', 0 FROM lists
    UNION ALL
    SELECT user_id, list_id, role, seq FROM members;

-- A todo deleted, or moved out of list_id: whoever can read list_id learns
-- it. A list deleted, or no longer shared with someone: users is the JSON
-- array of the users who lost it.
CREATE TABLE tombstones (
    seq     INTEGER PRIMARY KEY,
    kind    TEXT    NOT NULL CHECK (kind IN ('todo', 'list')),
    id      INTEGER NOT NULL,
    list_id INTEGER NOT NULL,
    users   TEXT,
    at      INTEGER NOT NULL -- Unix ms, for the pruning
);
CREATE INDEX tombstones_by_age ON tombstones (at);
