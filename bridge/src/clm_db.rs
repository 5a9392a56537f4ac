//! Reading CLM v2.0.1's own database (`~/.config/clm/clm.db`), read-only, and checking a
//! master seed against CLM's verifier; `import_clm.rs` brings what is read into the store.
//!
//! CLM v2.0.1 keeps (its `clm/database.py`):
//! - `config(key TEXT PRIMARY KEY, value TEXT NOT NULL)`: one row per setting, among them
//!   `username` and `public_key` (CLM's verifier of the master seed; the seed itself is never
//!   stored);
//! - `chats(id TEXT PRIMARY KEY, name, seed_suffix)`;
//! - `messages(id, type, chat_id, epoch_index, message, payload, timestamp, is_deleted, ...)`,
//!   `type` being `sent` or `received`, `payload` the pointer JSON, `message` the plaintext
//!   `"{username}: {text}"`, `timestamp` CLM's storage time (= the epoch) and `is_deleted` 1
//!   for messages in CLM's trash.
//!
//! The database is opened read-only and never changed (a WAL left by a running CLM is read).
//! The master seed is checked against CLM's verifier before anything is imported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use clm_core::HmacKey;
use clm_core::format::clm201::default_seed_suffix;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

/// CLM's HMAC key for the master seed verifier (`clm/auth.py`).
const AUTH_KEY: &[u8] = b"clm-auth-key";

/// Why a CLM database cannot be imported. Never names the seed or a message text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file is missing or SQLite cannot open it.
    #[error("cannot open the CLM database {}: {reason}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file opens, but is not laid out as CLM v2.0.1's database.
    #[error("{} is not a CLM v2.0.1 database: {reason}", path.display())]
    NotClm {
        /// The file.
        path: PathBuf,
        /// What is missing or unreadable.
        reason: String,
    },
    /// A config row CLM writes at setup is missing.
    #[error("the CLM database has no `{0}` in its config table (was `clm setup` run?)")]
    MissingConfig(&'static str),
    /// The master seed given is not the one CLM's verifier was made with.
    #[error("the master seed does not match this CLM database")]
    SeedMismatch,
}

/// A chat as CLM stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClmChat {
    /// CLM's chat id: the clm201 `c` value.
    pub id: String,
    /// CLM's display name.
    pub name: String,
    /// The seed suffix.
    pub seed_suffix: String,
}

/// A message row as CLM stores it, without its plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClmMessage {
    /// CLM's message id (the row id).
    pub row: i64,
    /// True for `type = 'sent'`.
    pub sent: bool,
    /// Its chat's CLM id, if the row names one.
    pub chat_id: Option<String>,
    /// The pointer JSON, if any.
    pub payload: Option<String>,
    /// When CLM stored it (Unix seconds), if readable.
    pub timestamp: Option<i64>,
    /// In CLM's trash.
    pub deleted: bool,
}

/// What a CLM database holds, read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClmDatabase {
    /// CLM's user name (the sender name of its pointers).
    pub username: String,
    /// CLM's verifier of the master seed: see [`public_key`].
    pub public_key: String,
    /// Its chats, by id.
    pub chats: Vec<ClmChat>,
    /// Its messages, oldest first.
    pub messages: Vec<ClmMessage>,
}

/// CLM's verifier: `base64(HMAC-SHA256(key = "clm-auth-key", "{username}:{master_seed}"))`,
/// standard alphabet with padding, as `clm/auth.py` computes it.
pub fn public_key(username: &str, master_seed: &str) -> String {
    let mac = HmacKey::new(AUTH_KEY).mac(&[username.as_bytes(), b":", master_seed.as_bytes()]);
    base64::engine::general_purpose::STANDARD.encode(mac)
}

impl ClmDatabase {
    /// Reads the CLM database at `path`, read-only.
    pub fn read(path: &Path) -> Result<ClmDatabase, ImportError> {
        let open_error = |reason: String| ImportError::Open { path: path.to_owned(), reason };
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(open_error("not a regular file".into())),
            Err(error) => return Err(open_error(error.to_string())),
        }
        let conn = open_read_only(path).map_err(|error| open_error(error.to_string()))?;
        let not_clm = |what: &str, error: rusqlite::Error| ImportError::NotClm {
            path: path.to_owned(),
            reason: format!("{what}: {error}"),
        };

        let config = read_rows::<2>(&conn, "SELECT key, value FROM config")
            .map_err(|error| not_clm("table config", error))?;
        let mut settings: HashMap<String, String> = HashMap::new();
        for [key, value] in config {
            if let (Some(key), Some(value)) = (text(key), text(value)) {
                settings.insert(key, value);
            }
        }
        let username = settings.remove("username").ok_or(ImportError::MissingConfig("username"))?;
        let public_key = settings.remove("public_key").ok_or(ImportError::MissingConfig("public_key"))?;

        let mut chats = Vec::new();
        for [id, name, seed_suffix] in read_rows::<3>(&conn, "SELECT id, name, seed_suffix FROM chats")
            .map_err(|error| not_clm("table chats", error))?
        {
            // A row without an id cannot be addressed by any pointer.
            let Some(id) = text(id) else { continue };
            let seed_suffix = text(seed_suffix).unwrap_or_else(|| default_seed_suffix(&id));
            let name = text(name).unwrap_or_default();
            chats.push(ClmChat { id, name, seed_suffix });
        }
        // CLM lists chats by numeric id.
        chats.sort_by(|a, b| (a.id.parse::<u64>().ok(), &a.id).cmp(&(b.id.parse::<u64>().ok(), &b.id)));

        let mut messages = Vec::new();
        for [row_id, kind, chat_id, payload, timestamp, deleted] in read_rows::<6>(
            &conn,
            "SELECT rowid, type, chat_id, payload, timestamp, is_deleted FROM messages ORDER BY timestamp, rowid",
        )
        .map_err(|error| not_clm("table messages", error))?
        {
            messages.push(ClmMessage {
                row: integer(row_id).unwrap_or_default(),
                sent: text(kind).is_some_and(|kind| kind == "sent"),
                chat_id: text(chat_id),
                payload: text(payload),
                timestamp: integer(timestamp),
                deleted: integer(deleted).is_some_and(|flag| flag != 0),
            });
        }
        Ok(ClmDatabase { username, public_key, chats, messages })
    }

    /// True when `master_seed` is the one CLM's verifier was made with.
    pub fn seed_matches(&self, master_seed: &str) -> bool {
        public_key(&self.username, master_seed) == self.public_key
    }
}

/// Opens `path` read-only, leaving CLM's folder as it was. CLM keeps its database in WAL
/// mode, and a plain read-only connection to a WAL database creates `-wal` and `-shm` files it
/// cannot remove on close. When there is no `-wal` file, every committed change is in the
/// database file itself (CLM closes its connections after each command), so it is opened as
/// `immutable`, which creates nothing; otherwise CLM is running or crashed, and the existing
/// WAL must be read with it.
fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if Path::new(&wal).exists() {
        return Connection::open_with_flags(path, flags);
    }
    let uri = format!("file:{}?immutable=1", uri_path(path));
    Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
}

/// A path as the path part of an SQLite `file:` URI: every byte but unreserved characters and
/// `/` percent-encoded (so `?`, `#` and `%` in a file name stay part of the name).
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let mut encoded = String::new();
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Every row of `sql`, as `N` raw values each (whatever their SQLite types).
fn read_rows<const N: usize>(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<[Value; N]>> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |row| {
        let mut values: [Value; N] = std::array::from_fn(|_| Value::Null);
        for (index, value) in values.iter_mut().enumerate() {
            *value = row.get(index)?;
        }
        Ok(values)
    })?;
    rows.collect()
}

/// A column as text: SQLite's loose typing lets an id be stored as a number.
fn text(value: Value) -> Option<String> {
    match value {
        Value::Text(text) => Some(text),
        Value::Integer(number) => Some(number.to_string()),
        Value::Blob(bytes) => String::from_utf8(bytes).ok(),
        Value::Real(_) | Value::Null => None,
    }
}

/// A column as an integer, also when stored as text.
fn integer(value: Value) -> Option<i64> {
    match value {
        Value::Integer(number) => Some(number),
        Value::Text(text) => text.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fs;

    use clm_core::{Clm201Chat, Pointer};

    use super::*;

    pub(crate) const SEED: &str = "correct horse";
    pub(crate) const USER: &str = "alice";

    /// A CLM v2.0.1 database, with the schema of its `clm/database.py`.
    pub(crate) struct ClmFixture {
        pub(crate) conn: Connection,
        pub(crate) path: PathBuf,
    }

    impl ClmFixture {
        pub(crate) fn new(dir: &Path) -> ClmFixture {
            let path = dir.join("clm.db");
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE chats (id TEXT PRIMARY KEY, name TEXT NOT NULL, seed_suffix TEXT NOT NULL,
                     created_at INTEGER DEFAULT (strftime('%s', 'now')));
                 CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,
                     chat_id TEXT NOT NULL, epoch_index INTEGER NOT NULL, message TEXT NOT NULL,
                     payload TEXT NOT NULL, timestamp INTEGER NOT NULL, datetime TEXT NOT NULL,
                     created_at INTEGER DEFAULT (strftime('%s', 'now')), is_deleted INTEGER DEFAULT 0);
                 INSERT INTO chats (id, name, seed_suffix) VALUES
                     ('0', '⚡️ Urgent', 'urgent'), ('1', '💬 General chat', 'general'), ('2', '🤫 Secrets', 'secrets');",
            )
            .unwrap();
            conn.execute("INSERT INTO config VALUES ('username', ?1)", [USER]).unwrap();
            conn.execute("INSERT INTO config VALUES ('public_key', ?1)", [public_key(USER, SEED)]).unwrap();
            ClmFixture { conn, path }
        }

        pub(crate) fn add_chat(&self, id: &str, name: &str, seed_suffix: &str) {
            self.conn
                .execute(
                    "INSERT INTO chats (id, name, seed_suffix) VALUES (?1, ?2, ?3)",
                    [id, name, seed_suffix],
                )
                .unwrap();
        }

        /// Stores a message as CLM does, its pointer made with the chat's real keys.
        pub(crate) fn add_message(
            &self,
            kind: &str,
            chat_id: &str,
            from: &str,
            text: &str,
            epoch: u64,
            deleted: bool,
        ) {
            let suffix: String = self
                .conn
                .query_row("SELECT seed_suffix FROM chats WHERE id = ?1", [chat_id], |row| row.get(0))
                .unwrap();
            let pointer =
                Clm201Chat::new(SEED, chat_id, Some(&suffix)).unwrap().encode(from, text, epoch).unwrap();
            let payload = Pointer::Clm201(pointer).to_json();
            self.add_raw(kind, chat_id, &format!("{from}: {text}"), &payload, epoch, deleted);
        }

        pub(crate) fn add_raw(
            &self,
            kind: &str,
            chat_id: &str,
            message: &str,
            payload: &str,
            epoch: u64,
            deleted: bool,
        ) {
            self.conn
                .execute(
                    "INSERT INTO messages (type, chat_id, epoch_index, message, payload, timestamp, datetime, is_deleted)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?3, 'then', ?6)",
                    rusqlite::params![kind, chat_id, epoch.cast_signed(), message, payload, deleted],
                )
                .unwrap();
        }

        pub(crate) fn read(&self) -> ClmDatabase {
            ClmDatabase::read(&self.path).unwrap()
        }
    }

    #[test]
    fn public_key_is_clms_verifier() {
        // Computed with Python: base64.b64encode(hmac.new(b'clm-auth-key', f'{u}:{s}'.encode(),
        // hashlib.sha256).digest()), as clm/auth.py does.
        assert_eq!(public_key("alice", "correct horse"), "mPMY1wFdqiBxrYPqkL08UvoRPAOIOP+dfTF8lC/HzEQ=");
        assert_eq!(public_key("Алиса", "сид ✓"), "xgvkPklnK75lQaQ7GfEU36sa/VpuC4l9ca5klx6SUW8=");
    }
    #[test]
    fn reads_config_chats_and_messages() {
        let temp = tempfile::tempdir().unwrap();
        let clm = ClmFixture::new(temp.path());
        clm.add_chat("10", "Work", "chat_10");
        clm.add_message("sent", "1", USER, "hi", 1_700_000_002, false);
        clm.add_message("received", "10", "bob", "yo", 1_700_000_001, true);
        let read = clm.read();
        assert_eq!(read.username, USER);
        assert!(read.seed_matches(SEED));
        assert!(!read.seed_matches("correct horse "));
        let ids: Vec<&str> = read.chats.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["0", "1", "2", "10"], "numeric order");
        assert_eq!(
            read.chats[3],
            ClmChat { id: "10".into(), name: "Work".into(), seed_suffix: "chat_10".into() }
        );
        assert_eq!(read.messages.len(), 2);
        let first = &read.messages[0];
        assert_eq!(
            (first.row, first.sent, first.deleted, first.timestamp),
            (2, false, true, Some(1_700_000_001))
        );
        assert_eq!(first.chat_id.as_deref(), Some("10"));
        assert!(read.messages[1].sent);
    }
    #[test]
    fn refuses_what_is_not_a_clm_database() {
        let temp = tempfile::tempdir().unwrap();
        let missing = ClmDatabase::read(&temp.path().join("absent.db")).unwrap_err();
        assert!(matches!(missing, ImportError::Open { .. }), "{missing}");
        assert!(matches!(ClmDatabase::read(temp.path()).unwrap_err(), ImportError::Open { .. }));

        let text_file = temp.path().join("notes.txt");
        fs::write(&text_file, "just some notes, long enough to not be an empty database file".repeat(20))
            .unwrap();
        assert!(matches!(ClmDatabase::read(&text_file).unwrap_err(), ImportError::NotClm { .. }));

        let other = temp.path().join("other.db");
        Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
        let error = ClmDatabase::read(&other).unwrap_err();
        assert!(error.to_string().contains("table config"), "{error}");

        let clm = ClmFixture::new(temp.path());
        clm.conn.execute("DELETE FROM config WHERE key = 'public_key'", []).unwrap();
        assert!(matches!(
            ClmDatabase::read(&clm.path).unwrap_err(),
            ImportError::MissingConfig("public_key")
        ));
    }
    #[test]
    fn a_wal_left_by_a_running_clm_is_read() {
        let temp = tempfile::tempdir().unwrap();
        let clm = ClmFixture::new(temp.path());
        clm.conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        clm.conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        // Still open, as while CLM runs: this message is in the WAL only.
        clm.add_message("received", "1", "bob", "fresh", 1_700_000_000, false);
        assert!(temp.path().join("clm.db-wal").exists());
        assert_eq!(clm.read().messages.len(), 1);
    }
    #[test]
    fn uri_paths_keep_special_characters_in_the_name() {
        assert_eq!(uri_path(Path::new("/home/a b/clm?.db")), "/home/a%20b/clm%3F.db");
        assert_eq!(uri_path(Path::new("rel/x#%.db")), "rel/x%23%25.db");
        assert_eq!(uri_path(Path::new("/é")), "/%C3%A9");
    }
}
