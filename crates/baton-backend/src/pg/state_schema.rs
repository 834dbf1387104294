//! The PostgreSQL state store's schema: its tables and the server-side functions that make
//! each hot-path write (`put_object`, `journal_start`, `journal_finish`) one statement, one
//! round trip, and its own transaction. [`crate::pg::state`] runs these steps in order, inside
//! one transaction guarded by an advisory lock, and records how far it got in `meta`.
//!
//! Must not change a released step: a schema change is a new step appended to [`MIGRATIONS`].
//! Must not interpret stored values: bodies, plans and journal values are text (or bytes) kept
//! exactly as handed over.
//!
//! # Schema (version 1)
//! The tables mirror the SQLite store's (see `baton_state::sqlite`), in one schema:
//! - `meta(key, value)`: `schema_version`, `lineage`, `created_at`, and `audit_head` (the
//!   audit log's head, see `baton_state::audit`).
//! - `versions`, `objects`, `outputs`: version metadata and validity ranges of objects and
//!   root outputs; one current row per key (a unique partial index).
//! - `lock` (at most one row: holder, fencing token, lease expiry in Unix milliseconds by the
//!   *database server's* clock, so that holders on several hosts agree on it) and `fence` (the
//!   last token handed out; it only grows).
//! - `runs` (ordered by an identity column), `run_plans` (each plan as bytes), `journal`.
//! - `audit`: append-only (triggers refuse `UPDATE`, `DELETE` and `TRUNCATE`).
//!
//! # Locking
//! Writes lock the row they serialize on first (the version row, a run row, the lineage) and
//! then share-lock the `lock` row to check their fencing token (`baton_fence_held`): a
//! takeover, renewal or removal of the lock waits for the write's transaction to end, and a
//! write that comes after a takeover sees the new token. Lock acquisition and `force-unlock`
//! lock the `fence` row first, then the `lock` row.

/// Schema step `i` takes the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[SCHEMA_V1];

const SCHEMA_V1: &str = r#"
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE versions (
    serial BIGINT PRIMARY KEY,
    lineage TEXT NOT NULL,
    run_id TEXT NOT NULL,
    command TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    changes BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE objects (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    addr TEXT NOT NULL,
    deposed TEXT NOT NULL,
    valid_from BIGINT NOT NULL REFERENCES versions (serial),
    valid_to BIGINT REFERENCES versions (serial),
    body TEXT NOT NULL,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX objects_by_key ON objects (addr, deposed, valid_to);
CREATE UNIQUE INDEX objects_current ON objects (addr, deposed) WHERE valid_to IS NULL;

CREATE TABLE outputs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    valid_from BIGINT NOT NULL REFERENCES versions (serial),
    valid_to BIGINT REFERENCES versions (serial),
    body TEXT NOT NULL,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX outputs_by_name ON outputs (name, valid_to);
CREATE UNIQUE INDEX outputs_current ON outputs (name) WHERE valid_to IS NULL;

CREATE TABLE lock (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    id TEXT NOT NULL,
    pid BIGINT NOT NULL,
    host TEXT NOT NULL,
    since TEXT NOT NULL,
    info TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_ms BIGINT
);

CREATE TABLE fence (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last BIGINT NOT NULL
);
INSERT INTO fence (singleton, last) VALUES (1, 0);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    who TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    process_start TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    serial BIGINT NOT NULL,
    summary TEXT NOT NULL,
    parent TEXT,
    on_failure TEXT NOT NULL,
    ordinal BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

CREATE TABLE run_plans (
    run_id TEXT PRIMARY KEY REFERENCES runs (id),
    plan BYTEA NOT NULL
);

CREATE TABLE journal (
    run_id TEXT NOT NULL REFERENCES runs (id),
    seq BIGINT NOT NULL,
    addr TEXT NOT NULL,
    deposed TEXT NOT NULL,
    action TEXT NOT NULL,
    prior TEXT NOT NULL,
    planned TEXT NOT NULL,
    status TEXT NOT NULL,
    new_value TEXT,
    error TEXT,
    attempts BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    duration_ms BIGINT,
    phase TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE audit (
    id BIGINT PRIMARY KEY,
    time TEXT NOT NULL,
    command TEXT NOT NULL,
    run_id TEXT,
    hash TEXT NOT NULL,
    canonical TEXT NOT NULL
);
CREATE INDEX audit_by_run ON audit (run_id);

CREATE FUNCTION baton_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION baton_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION baton_audit_append_only();

-- The server's clock in Unix milliseconds: the clock leases are measured with.
CREATE FUNCTION baton_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
    SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
$$;

-- Whether acquisition p_fence holds the lock. Share-locks the lock row until the calling
-- transaction ends, so that no takeover, renewal or removal commits in between.
CREATE FUNCTION baton_fence_held(p_fence BIGINT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    t BIGINT;
BEGIN
    SELECT token INTO t FROM lock WHERE singleton = 1 FOR SHARE;
    RETURN FOUND AND t = p_fence;
END
$$;

-- Locks the row of version p_serial (if there is one) until the calling transaction ends,
-- serializing the writes to it, and says whether it is the open version: the latest, still in
-- progress.
CREATE FUNCTION baton_lock_version(p_serial BIGINT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    st TEXT;
BEGIN
    SELECT status INTO st FROM versions WHERE serial = p_serial FOR UPDATE;
    IF NOT FOUND OR st <> 'in_progress' THEN
        RETURN false;
    END IF;
    RETURN NOT EXISTS (SELECT 1 FROM versions WHERE serial > p_serial);
END
$$;

-- Gives object (p_addr, p_deposed) the body p_body (NULL: absent) from the open version
-- p_serial on (the caller holds its row): a row written by this same version is updated or
-- deleted in place; the version's change count grows on the first change of the object in it.
CREATE FUNCTION baton_write_object(p_serial BIGINT, p_addr TEXT, p_deposed TEXT, p_body TEXT)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    cur_id BIGINT;
    cur_from BIGINT;
    cur_body TEXT;
    touched BOOLEAN;
BEGIN
    SELECT id, valid_from, body INTO cur_id, cur_from, cur_body FROM objects
        WHERE addr = p_addr AND deposed = p_deposed AND valid_to IS NULL;
    IF NOT FOUND THEN
        IF p_body IS NULL THEN
            RETURN;
        END IF;
        touched := EXISTS (SELECT 1 FROM objects
            WHERE addr = p_addr AND deposed = p_deposed AND valid_to = p_serial);
        INSERT INTO objects (addr, deposed, valid_from, body)
            VALUES (p_addr, p_deposed, p_serial, p_body);
    ELSIF cur_body = p_body THEN
        RETURN;
    ELSIF cur_from = p_serial THEN
        touched := true;
        IF p_body IS NULL THEN
            DELETE FROM objects WHERE id = cur_id;
        ELSE
            UPDATE objects SET body = p_body WHERE id = cur_id;
        END IF;
    ELSE
        touched := EXISTS (SELECT 1 FROM objects
            WHERE addr = p_addr AND deposed = p_deposed AND valid_to = p_serial);
        UPDATE objects SET valid_to = p_serial WHERE id = cur_id;
        IF p_body IS NOT NULL THEN
            INSERT INTO objects (addr, deposed, valid_from, body)
                VALUES (p_addr, p_deposed, p_serial, p_body);
        END IF;
    END IF;
    IF NOT touched THEN
        UPDATE versions SET changes = changes + 1 WHERE serial = p_serial;
    END IF;
END
$$;

-- The same for root output p_name (outputs are not counted as changes).
CREATE FUNCTION baton_write_output(p_serial BIGINT, p_name TEXT, p_body TEXT)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    cur_id BIGINT;
    cur_from BIGINT;
    cur_body TEXT;
BEGIN
    SELECT id, valid_from, body INTO cur_id, cur_from, cur_body FROM outputs
        WHERE name = p_name AND valid_to IS NULL;
    IF NOT FOUND THEN
        IF p_body IS NOT NULL THEN
            INSERT INTO outputs (name, valid_from, body) VALUES (p_name, p_serial, p_body);
        END IF;
    ELSIF cur_body = p_body THEN
        RETURN;
    ELSIF cur_from = p_serial THEN
        IF p_body IS NULL THEN
            DELETE FROM outputs WHERE id = cur_id;
        ELSE
            UPDATE outputs SET body = p_body WHERE id = cur_id;
        END IF;
    ELSE
        UPDATE outputs SET valid_to = p_serial WHERE id = cur_id;
        IF p_body IS NOT NULL THEN
            INSERT INTO outputs (name, valid_from, body) VALUES (p_name, p_serial, p_body);
        END IF;
    END IF;
END
$$;

-- StateStore::put_object. Returns 0 when written, -1 when p_fence does not hold the lock,
-- 1 when p_serial is not the open version (nothing is written then).
CREATE FUNCTION baton_put_object(
    p_fence BIGINT, p_serial BIGINT, p_addr TEXT, p_deposed TEXT, p_body TEXT
) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    is_open BOOLEAN;
BEGIN
    is_open := baton_lock_version(p_serial);
    IF NOT baton_fence_held(p_fence) THEN
        RETURN -1;
    END IF;
    IF NOT is_open THEN
        RETURN 1;
    END IF;
    PERFORM baton_write_object(p_serial, p_addr, p_deposed, p_body);
    RETURN 0;
END
$$;

-- StateStore::put_outputs: every current output not in p_names is removed. Returns as
-- baton_put_object.
CREATE FUNCTION baton_put_outputs(
    p_fence BIGINT, p_serial BIGINT, p_names TEXT[], p_bodies TEXT[]
) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    is_open BOOLEAN;
    n TEXT;
BEGIN
    is_open := baton_lock_version(p_serial);
    IF NOT baton_fence_held(p_fence) THEN
        RETURN -1;
    END IF;
    IF NOT is_open THEN
        RETURN 1;
    END IF;
    FOR n IN
        SELECT name FROM outputs WHERE valid_to IS NULL
        UNION
        SELECT u.nm FROM unnest(p_names) AS u(nm)
    LOOP
        PERFORM baton_write_output(p_serial, n,
            (SELECT u.b FROM unnest(p_names, p_bodies) AS u(nm, b) WHERE u.nm = n LIMIT 1));
    END LOOP;
    RETURN 0;
END
$$;

-- StateStore::journal_start: appends an entry to run p_run_id's journal (appends to one run
-- are serialized on its row). Returns the entry's sequence number, or -1 when p_fence does not
-- hold the lock.
CREATE FUNCTION baton_journal_start(
    p_fence BIGINT, p_run_id TEXT, p_addr TEXT, p_deposed TEXT, p_action TEXT,
    p_prior TEXT, p_planned TEXT, p_status TEXT, p_new_value TEXT, p_error TEXT,
    p_attempts BIGINT, p_started_at TEXT, p_duration_ms BIGINT, p_phase TEXT
) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    s BIGINT;
BEGIN
    PERFORM 1 FROM runs WHERE id = p_run_id FOR NO KEY UPDATE;
    IF NOT baton_fence_held(p_fence) THEN
        RETURN -1;
    END IF;
    SELECT COALESCE(max(seq), 0) + 1 INTO s FROM journal WHERE run_id = p_run_id;
    INSERT INTO journal (run_id, seq, addr, deposed, action, prior, planned, status,
            new_value, error, attempts, started_at, duration_ms, phase)
        VALUES (p_run_id, s, p_addr, p_deposed, p_action, p_prior, p_planned, p_status,
            p_new_value, p_error, p_attempts, p_started_at, p_duration_ms, p_phase);
    RETURN s;
END
$$;

-- StateStore::journal_finish: records an entry's outcome and the object writes it implies
-- (element i of the four arrays is one write), all or nothing. Returns 0 when done, -1 when
-- p_fence does not hold the lock, i when write i is not to the open version.
CREATE FUNCTION baton_journal_finish(
    p_fence BIGINT, p_run_id TEXT, p_seq BIGINT, p_status TEXT, p_new_value TEXT,
    p_error TEXT, p_attempts BIGINT, p_duration_ms BIGINT,
    p_serials BIGINT[], p_addrs TEXT[], p_deposeds TEXT[], p_bodies TEXT[]
) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    n INTEGER := COALESCE(array_length(p_serials, 1), 0);
    bad INTEGER := 0;
    is_open BOOLEAN;
BEGIN
    FOR i IN 1..n LOOP
        is_open := baton_lock_version(p_serials[i]);
        IF bad = 0 AND NOT is_open THEN
            bad := i;
        END IF;
    END LOOP;
    IF NOT baton_fence_held(p_fence) THEN
        RETURN -1;
    END IF;
    IF bad > 0 THEN
        RETURN bad;
    END IF;
    UPDATE journal SET status = p_status, new_value = p_new_value, error = p_error,
            attempts = p_attempts, duration_ms = p_duration_ms
        WHERE run_id = p_run_id AND seq = p_seq;
    FOR i IN 1..n LOOP
        PERFORM baton_write_object(p_serials[i], p_addrs[i], p_deposeds[i], p_bodies[i]);
    END LOOP;
    RETURN 0;
END
$$;
"#;
