//! The database schema, as a list of migrations. `PRAGMA user_version` holds how many have run;
//! each runs in its own transaction together with the version bump, so a crash leaves the
//! database at one version or the next, never between. Never edit a released step: append one.

/// Migration steps: `MIGRATIONS[i]` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;

    -- How to derive the vault key, and a check value; at most one row.
    CREATE TABLE vault (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        kdf        TEXT NOT NULL,
        m_kib      INTEGER NOT NULL,
        t          INTEGER NOT NULL,
        p          INTEGER NOT NULL,
        salt       BLOB NOT NULL,
        check_blob BLOB NOT NULL
    ) STRICT;

    CREATE TABLE chats (
        id             INTEGER PRIMARY KEY,
        name           TEXT NOT NULL UNIQUE,
        format         TEXT NOT NULL,
        clm201_chat_id TEXT,
        seed_suffix    TEXT,
        secret         BLOB NOT NULL,  -- vault-sealed, context chat-secret:<id>
        native_root    BLOB,           -- vault-sealed Argon2id root, context chat-native-root:<id>
        created_at     INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE routes (
        chat_id   INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        transport TEXT NOT NULL,
        target    TEXT NOT NULL,
        PRIMARY KEY (chat_id, transport, target)
    ) STRICT, WITHOUT ROWID;

    -- No cascade from chats: removing a chat that has messages must be an explicit purge.
    CREATE TABLE messages (
        id         INTEGER PRIMARY KEY,
        chat_id    INTEGER NOT NULL REFERENCES chats(id),
        digest     BLOB NOT NULL UNIQUE CHECK (length(digest) = 32),
        direction  TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
        format     TEXT NOT NULL,
        epoch      INTEGER NOT NULL,  -- the pointer's u64 epoch, stored as its i64 bit pattern
        sender     BLOB NOT NULL,     -- vault-sealed, context message-sender:<digest hex>
        body       BLOB NOT NULL,     -- vault-sealed, context message-text:<digest hex>
        truncated  INTEGER NOT NULL CHECK (truncated IN (0, 1)),
        pointer    TEXT NOT NULL,     -- the pointer as it travelled: ciphertext only
        stored_at  INTEGER NOT NULL,
        trashed_at INTEGER
    ) STRICT;
    CREATE INDEX messages_by_chat ON messages (chat_id, id);

    CREATE TABLE arrivals (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        transport  TEXT NOT NULL,
        origin     TEXT NOT NULL,
        arrived_at INTEGER NOT NULL,
        PRIMARY KEY (message_id, transport, origin)
    ) STRICT, WITHOUT ROWID;

    -- Pointers no known chat opens yet.
    CREATE TABLE pending (
        digest     BLOB PRIMARY KEY NOT NULL CHECK (length(digest) = 32),
        pointer    TEXT NOT NULL,
        transport  TEXT NOT NULL,
        origin     TEXT NOT NULL,
        first_seen INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;

    -- Each transport's position, written in the transaction of the messages it produced.
    CREATE TABLE cursors (
        transport TEXT NOT NULL,
        key       TEXT NOT NULL,
        value     TEXT NOT NULL,
        PRIMARY KEY (transport, key)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 2: the outbox and transports' secret state.
    r#"
    -- Deliveries not yet made: a pointer waiting for its transport (an SMTP server down, a
    -- stick not plugged in). Written with the sent message, removed once delivered; a delivery
    -- refused for good stays, marked failed, until retried or dropped by hand.
    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY,
        message_id   INTEGER REFERENCES messages(id) ON DELETE SET NULL,
        transport    TEXT NOT NULL,
        target       TEXT NOT NULL,
        pointer      TEXT NOT NULL,   -- ciphertext only, as in messages
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error   TEXT,
        failed       INTEGER NOT NULL DEFAULT 0 CHECK (failed IN (0, 1)),
        created_at   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX outbox_due ON outbox (failed, next_attempt);

    -- Small secret state of transports (a Matrix session's access token), vault-sealed with
    -- context transport-secret:<transport>:<key>.
    CREATE TABLE transport_secrets (
        transport TEXT NOT NULL,
        key       TEXT NOT NULL,
        value     BLOB NOT NULL,
        PRIMARY KEY (transport, key)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 3: nothing readable at rest. Every name, address, route, origin, epoch, pointer and text
    // is sealed under the vault (records, each bound to its row and owner); lookups go by
    // keyed hashes. The clear tables of version 2 are kept under `clear_*` until the vault is
    // unlocked, which seals their rows into these tables and drops them (store/upgrade.rs).
    r#"
    DROP INDEX messages_by_chat;
    DROP INDEX outbox_due;
    ALTER TABLE chats RENAME TO clear_chats;
    ALTER TABLE routes RENAME TO clear_routes;
    ALTER TABLE messages RENAME TO clear_messages;
    ALTER TABLE arrivals RENAME TO clear_arrivals;
    ALTER TABLE pending RENAME TO clear_pending;
    ALTER TABLE cursors RENAME TO clear_cursors;
    ALTER TABLE outbox RENAME TO clear_outbox;
    ALTER TABLE transport_secrets RENAME TO clear_transport_secrets;

    -- Small sealed values (the identity), context meta:<key>.
    CREATE TABLE sealed_meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL
    ) STRICT;

    CREATE TABLE chats (
        id          INTEGER PRIMARY KEY,
        name_key    BLOB NOT NULL UNIQUE,  -- keyed hash of the name
        record      BLOB NOT NULL,         -- sealed: name, format, parameters; context chat:<id>
        secret      BLOB NOT NULL,         -- sealed, context chat-secret:<id>:<format>
        native_root BLOB                   -- sealed, context chat-native-root:<id>:<format>
    ) STRICT;

    CREATE TABLE routes (
        chat_id   INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        route_key BLOB NOT NULL,           -- keyed hash of (chat, transport, target)
        record    BLOB NOT NULL,           -- sealed: transport, target; context route:<chat>:<key>
        PRIMARY KEY (chat_id, route_key)
    ) STRICT, WITHOUT ROWID;

    -- No cascade from chats: removing a chat that has messages must be an explicit purge.
    CREATE TABLE messages (
        id         INTEGER PRIMARY KEY,
        chat_id    INTEGER NOT NULL REFERENCES chats(id),
        digest_key BLOB NOT NULL UNIQUE,   -- keyed hash of the pointer digest
        record     BLOB NOT NULL,          -- sealed: direction, format, epoch, sender, text,
                                           -- truncated, pointer; context message:<id>:<chat>
        stored_at  INTEGER NOT NULL,
        trashed_at INTEGER
    ) STRICT;
    CREATE INDEX messages_of_chat ON messages (chat_id, id);

    CREATE TABLE arrivals (
        message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        arrival_key BLOB NOT NULL,         -- keyed hash of (message, transport, origin)
        record      BLOB NOT NULL,         -- sealed: transport, origin; context arrival:<message>:<key>
        arrived_at  INTEGER NOT NULL,
        PRIMARY KEY (message_id, arrival_key)
    ) STRICT, WITHOUT ROWID;

    -- Pointers no known chat opens yet.
    CREATE TABLE pending (
        digest_key BLOB PRIMARY KEY NOT NULL,
        record     BLOB NOT NULL,          -- sealed: pointer, transport, origin; context pending:<key>
        bytes      INTEGER NOT NULL,       -- the record's size, for the limits
        first_seen INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX pending_by_age ON pending (first_seen);

    -- Each transport's position, written in the transaction of the messages it produced.
    CREATE TABLE cursors (
        cursor_key    BLOB PRIMARY KEY NOT NULL,  -- keyed hash of (transport, key)
        transport_key BLOB NOT NULL,              -- keyed hash of the transport
        record        BLOB NOT NULL               -- sealed: key, value; context cursor:<key>
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX cursors_of_transport ON cursors (transport_key);

    CREATE TABLE outbox (
        id            INTEGER PRIMARY KEY,
        message_id    INTEGER REFERENCES messages(id) ON DELETE SET NULL,
        record        BLOB NOT NULL,       -- sealed: transport, target, pointer; context outbox:<id>
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_attempt  INTEGER NOT NULL,
        last_error    BLOB,                -- sealed, context outbox-error:<id>
        failed        INTEGER NOT NULL DEFAULT 0 CHECK (failed IN (0, 1)),
        created_at    INTEGER NOT NULL,
        claimed_until INTEGER              -- a delivery being tried: nobody else tries it before then
    ) STRICT;
    CREATE INDEX outbox_due_at ON outbox (failed, next_attempt);

    CREATE TABLE transport_secrets (
        secret_key BLOB PRIMARY KEY NOT NULL,  -- keyed hash of (transport, key)
        record     BLOB NOT NULL               -- sealed: transport, key, value;
                                               -- context transport-secret:<secret key>
    ) STRICT, WITHOUT ROWID;

    -- What happened, numbered for the API's resumable event stream; written in the transaction
    -- of what it tells of. AUTOINCREMENT: an id is never reused, even after pruning.
    CREATE TABLE events (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        kind   TEXT NOT NULL,           -- message, delivery or health
        record BLOB NOT NULL,           -- sealed details; context event:<id>
        at     INTEGER NOT NULL
    ) STRICT;

    -- Digests of purged messages: the same pointer read again (a drop folder, a re-delivered
    -- mail) is not shown as new.
    CREATE TABLE tombstones (
        digest_key BLOB PRIMARY KEY NOT NULL,
        record     BLOB NOT NULL,          -- sealed: the digest (to re-key); context tombstone:<key>
        purged_at  INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    "#,
    // 4: pending limits (clm-bridge's [limits]): the pending table's row count and bytes (the
    // sealed records' sizes) kept up to date by triggers, in `meta` as decimal text, so each
    // batch keeps within the caps without counting the table. Counts and sizes only.
    r#"
    INSERT INTO meta (key, value) SELECT 'pending_count', CAST(count(*) AS TEXT) FROM pending;
    INSERT INTO meta (key, value) SELECT 'pending_bytes', CAST(coalesce(sum(bytes), 0) AS TEXT) FROM pending;
    CREATE TRIGGER pending_added AFTER INSERT ON pending BEGIN
        UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'pending_count';
        UPDATE meta SET value = CAST(CAST(value AS INTEGER) + NEW.bytes AS TEXT) WHERE key = 'pending_bytes';
    END;
    CREATE TRIGGER pending_removed AFTER DELETE ON pending BEGIN
        UPDATE meta SET value = CAST(CAST(value AS INTEGER) - 1 AS TEXT) WHERE key = 'pending_count';
        UPDATE meta SET value = CAST(CAST(value AS INTEGER) - OLD.bytes AS TEXT) WHERE key = 'pending_bytes';
    END;
    "#,
    // 5: gateways (`[gateway.NAME]`): which route of which gateway holds which pointer, so
    // each is relayed to a route at most once. Keyed hashes and times only.
    r#"
    CREATE TABLE relayed (
        relay_key BLOB PRIMARY KEY NOT NULL,  -- keyed hash of (gateway, route, digest)
        record    BLOB NOT NULL,              -- sealed: gateway, route, digest; context relayed:<key>
        at        INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX relayed_at ON relayed (at);
    "#,
];

/// The schema version this code writes and understands.
pub fn current_version() -> u32 {
    // A handful of migrations: the length always fits.
    u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX)
}
