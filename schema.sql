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
