//! Store tests against real SQLite files in temporary directories.

use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use clm_core::Format;
use tempfile::TempDir;

use super::*;
use crate::paths::DataDir;
use crate::vault::{KdfParams, Vault, VaultError};

pub(super) const CHEAP: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };
pub(super) const PASSPHRASE: &[u8] = b"test passphrase";

pub(super) struct Fixture {
    _temp: TempDir,
    pub(super) dir: DataDir,
    pub(super) store: Store,
    pub(super) vault: Vault,
}

impl Fixture {
    pub(super) fn new() -> Fixture {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::at(temp.path().join("data"));
        dir.create().unwrap();
        let mut store = Store::open(&dir.db_path()).unwrap();
        let (vault, header) = Vault::create(PASSPHRASE, CHEAP, getrandom::fill).unwrap();
        store.set_vault_header(&header).unwrap();
        store.unlock(&vault).unwrap();
        Fixture { _temp: temp, dir, store, vault }
    }

    pub(super) fn reopen(self) -> Fixture {
        let Fixture { _temp, dir, store, vault: _ } = self;
        drop(store);
        let mut store = Store::open(&dir.db_path()).unwrap();
        let vault = Vault::open(PASSPHRASE, &store.require_vault_header().unwrap()).unwrap();
        store.unlock(&vault).unwrap();
        Fixture { _temp, dir, store, vault }
    }

    pub(super) fn add_chat(&mut self, name: &str, secret: &[u8]) -> ChatId {
        self.store
            .add_chat(&NewChat {
                name,
                format: Format::Clm202,
                secret,
                clm201_chat_id: None,
                seed_suffix: None,
                native_root: None,
                native_salt: None,
                created_at: 1_000,
            })
            .unwrap()
    }

    pub(super) fn ingest(&mut self, batch: &[Arrival]) -> Vec<IngestOutcome> {
        self.store.ingest(batch, &[]).unwrap()
    }

    pub(super) fn history(&self, query: HistoryQuery) -> Vec<HistoryEntry> {
        self.store.history(&query).unwrap()
    }

    pub(super) fn all_history(&self) -> Vec<HistoryEntry> {
        self.history(HistoryQuery { include_trashed: true, ..HistoryQuery::default() })
    }
}

pub(super) fn digest(n: u32) -> Digest {
    let mut digest = [0xd1; 32];
    digest[..4].copy_from_slice(&n.to_be_bytes());
    digest
}

pub(super) fn opened(chat_id: ChatId, n: u32, text: &str) -> ArrivalItem {
    ArrivalItem::Opened {
        chat_id,
        digest: digest(n),
        pointer_text: format!("{{\"e\":{n},\"n\":\"x\",\"d\":\"00\"}}"),
        format: Format::Clm202,
        epoch: u64::from(n),
        sender: "alice".to_owned(),
        text: text.to_owned(),
        truncated: false,
    }
}

pub(super) fn unopened(n: u32) -> ArrivalItem {
    ArrivalItem::Unopened {
        digest: digest(n),
        pointer_text: format!("{{\"e\":{n},\"n\":\"y\",\"d\":\"ff\"}}"),
    }
}

pub(super) fn arrival(transport: &str, origin: &str, now: i64, item: ArrivalItem) -> Arrival {
    Arrival { transport: transport.to_owned(), origin: origin.to_owned(), now, item }
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[test]
fn a_fresh_database_gets_every_migration() {
    let fixture = Fixture::new();
    assert_eq!(fixture.store.schema_version().unwrap(), schema::current_version());
    let tables: Vec<String> = fixture
        .store
        .conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "arrivals",
            "chats",
            "cursors",
            "events",
            "messages",
            "meta",
            "outbox",
            "pending",
            "relayed",
            "routes",
            "sealed_meta",
            "sqlite_sequence",
            "tombstones",
            "transport_secrets",
            "vault"
        ]
    );
    let journal: String = fixture.store.conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
    assert_eq!(journal, "wal");
    let foreign_keys: bool =
        fixture.store.conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0)).unwrap();
    assert!(foreign_keys);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let fixture = Fixture::new();
    fixture.store.conn.pragma_update(None, "user_version", 99).unwrap();
    let path = fixture.dir.db_path();
    drop(fixture.store);
    match Store::open(&path) {
        Err(StoreError::NewerSchema { found: 99, supported }) => {
            assert_eq!(supported, schema::current_version())
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn reopening_keeps_everything() {
    let mut fixture = Fixture::new();
    fixture.store.set_identity("alice").unwrap();
    let chat = fixture.add_chat("friends", b"our secret");
    fixture.store.add_route(chat, "drop.usb", "/media/usb").unwrap();
    fixture
        .store
        .ingest(&[arrival("drop.usb", "f1", 5, opened(chat, 1, "hi"))], &[("drop.usb", "seen", "f1")])
        .unwrap();
    fixture.ingest(&[arrival("drop.usb", "f2", 6, unopened(2))]);

    let fixture = fixture.reopen();
    assert_eq!(fixture.store.identity().unwrap().as_deref(), Some("alice"));
    assert_eq!(fixture.store.chat("friends").unwrap().id, chat);
    assert_eq!(fixture.store.chat_secret(chat).unwrap().as_slice(), b"our secret");
    assert_eq!(fixture.store.routes(chat).unwrap().len(), 1);
    assert_eq!(fixture.all_history()[0].text, "hi");
    assert_eq!(fixture.store.pending_count().unwrap(), 1);
    assert_eq!(fixture.store.cursors("drop.usb").unwrap(), [("seen".to_owned(), "f1".to_owned())]);
}

#[test]
fn data_dir_is_0700_and_database_files_are_0600() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    fixture.ingest(&[arrival("t", "o", 1, opened(chat, 1, "hello"))]);
    let db = fixture.dir.db_path();
    assert_eq!(mode_of(fixture.dir.root()), 0o700);
    for path in [db.clone(), sibling(&db, "-wal"), sibling(&db, "-shm")] {
        assert!(path.exists(), "{} should exist while the store is open", path.display());
        assert_eq!(mode_of(&path), 0o600, "{}", path.display());
    }
}

#[test]
fn a_wider_existing_database_file_is_tightened_on_open() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("history.sqlite3");
    drop(Store::open(&path).unwrap());
    fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
    let _store = Store::open(&path).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(mode_of(&sibling(&path, "-wal")), 0o600);
}

#[test]
fn the_same_pointer_over_two_transports_is_one_message_with_two_arrivals() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let first = fixture.ingest(&[arrival("drop.usb", "a.clm", 10, opened(chat, 7, "once"))]);
    let second = fixture.ingest(&[
        arrival("email.work", "<m1@x>", 11, opened(chat, 7, "once")),
        // The same arrival again (a re-plugged stick) is not noted twice.
        arrival("drop.usb", "a.clm", 12, opened(chat, 7, "once")),
    ]);
    let IngestOutcome::New(id) = first[0] else { panic!("first arrival should be new: {first:?}") };
    assert_eq!(second, [IngestOutcome::Duplicate(id), IngestOutcome::Duplicate(id)]);

    let history = fixture.all_history();
    assert_eq!(history.len(), 1);
    let transports: Vec<(&str, &str, i64)> = history[0]
        .arrivals
        .iter()
        .map(|record| (record.transport.as_str(), record.origin.as_str(), record.arrived_at))
        .collect();
    assert_eq!(transports, [("drop.usb", "a.clm", 10), ("email.work", "<m1@x>", 11)]);
    assert_eq!(history[0].stored_at, 10);
}

#[test]
fn duplicates_inside_one_batch_are_stored_once() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let outcomes = fixture
        .ingest(&[arrival("t", "1", 1, opened(chat, 1, "x")), arrival("t", "2", 1, opened(chat, 1, "x"))]);
    assert!(matches!(outcomes[..], [IngestOutcome::New(a), IngestOutcome::Duplicate(b)] if a == b));
    assert_eq!(fixture.store.message_count().unwrap(), 1);
}

#[test]
fn a_failing_item_rolls_back_the_whole_batch_and_its_cursor() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    fixture.store.set_cursor("drop.usb", "seen", "before").unwrap();
    let batch = [
        arrival("drop.usb", "1", 1, opened(chat, 1, "fine")),
        arrival("drop.usb", "2", 1, unopened(2)),
        arrival("drop.usb", "3", 1, opened(chat + 1000, 3, "no such chat")),
    ];
    let result = fixture.store.ingest(&batch, &[("drop.usb", "seen", "after")]);
    assert!(matches!(result, Err(StoreError::NoSuchChatId(id)) if id == chat + 1000), "{result:?}");
    assert_eq!(fixture.store.message_count().unwrap(), 0);
    assert_eq!(fixture.store.pending_count().unwrap(), 0);
    assert_eq!(fixture.store.cursors("drop.usb").unwrap(), [("seen".to_owned(), "before".to_owned())]);
    let arrivals: i64 =
        fixture.store.conn.query_row("SELECT count(*) FROM arrivals", [], |row| row.get(0)).unwrap();
    assert_eq!(arrivals, 0);

    // The same batch without the bad item goes through, cursor included.
    fixture.store.ingest(&batch[..2], &[("drop.usb", "seen", "after")]).unwrap();
    assert_eq!(fixture.store.message_count().unwrap(), 1);
    assert_eq!(fixture.store.cursors("drop.usb").unwrap(), [("seen".to_owned(), "after".to_owned())]);
}

#[test]
fn the_foreign_key_guards_messages_too() {
    let fixture = Fixture::new();
    let result = fixture.store.conn.execute(
        "INSERT INTO messages (chat_id, digest, direction, format, epoch, sender, body, truncated, pointer, stored_at)
         VALUES (42, zeroblob(32), 'received', 'clm202', 0, x'', x'', 0, '', 0)",
        [],
    );
    assert!(result.is_err(), "foreign_keys must be on");
}

#[test]
fn a_pending_pointer_is_resolved_by_ingesting_it_opened() {
    let mut fixture = Fixture::new();
    assert_eq!(
        fixture
            .ingest(&[arrival("drop.usb", "p.clm", 3, unopened(5)), arrival("mail", "<x>", 4, unopened(5))]),
        [IngestOutcome::Pending, IngestOutcome::Pending]
    );
    let pending = fixture.store.pending().unwrap();
    assert_eq!(pending.len(), 1, "kept once, from its first arrival");
    assert_eq!((pending[0].transport.as_str(), pending[0].first_seen), ("drop.usb", 3));

    // `chat add`: the new chat opens it.
    let chat = fixture.add_chat("late", b"s");
    let retried = arrival(&pending[0].transport, &pending[0].origin, 9, opened(chat, 5, "finally"));
    assert!(matches!(fixture.ingest(&[retried])[..], [IngestOutcome::New(_)]));
    assert!(fixture.store.pending().unwrap().is_empty());
    assert_eq!(fixture.all_history()[0].text, "finally");
}

#[test]
fn an_unopened_arrival_of_a_known_message_is_a_duplicate_not_pending() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let [IngestOutcome::New(id)] = fixture.ingest(&[arrival("a", "1", 1, opened(chat, 8, "x"))])[..] else {
        panic!("expected one new message")
    };
    assert_eq!(fixture.ingest(&[arrival("b", "2", 2, unopened(8))]), [IngestOutcome::Duplicate(id)]);
    assert_eq!(fixture.store.pending_count().unwrap(), 0);
    assert_eq!(fixture.all_history()[0].arrivals.len(), 2);
}

#[test]
fn sent_messages_are_history_and_their_echo_is_a_duplicate() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let sent = SentMessage {
        deliveries: &[],
        chat_id: chat,
        digest: digest(20),
        pointer_text: "{}",
        epoch: 20,
        sender: "me",
        text: "outgoing",
        now: 20,
    };
    let IngestOutcome::New(id) = fixture.store.record_sent(&sent).unwrap() else {
        panic!("first record is new")
    };
    assert_eq!(fixture.store.record_sent(&sent).unwrap(), IngestOutcome::Duplicate(id));
    assert_eq!(
        fixture.ingest(&[arrival("drop.d", "f", 21, opened(chat, 20, "outgoing"))]),
        [IngestOutcome::Duplicate(id)]
    );

    let history = fixture.all_history();
    assert_eq!(history.len(), 1);
    let entry = &history[0];
    assert_eq!(
        (entry.direction, entry.sender.as_str(), entry.text.as_str()),
        (Direction::Sent, "me", "outgoing")
    );
    assert_eq!(entry.format, Format::Clm202, "a sent message takes its chat's format");
    assert_eq!(entry.arrivals.len(), 1, "the echo is noted");

    let missing = SentMessage { chat_id: chat + 1, digest: digest(21), ..sent };
    assert!(matches!(fixture.store.record_sent(&missing), Err(StoreError::NoSuchChatId(_))));
}

#[test]
fn history_filters_by_chat_time_and_trash() {
    let mut fixture = Fixture::new();
    let work = fixture.add_chat("work", b"w");
    let home = fixture.add_chat("home", b"h");
    fixture.ingest(&[
        arrival("t", "1", 100, opened(work, 1, "w1")),
        arrival("t", "2", 200, opened(home, 2, "h1")),
        arrival("t", "3", 300, opened(work, 3, "w2")),
    ]);
    let texts = |entries: Vec<HistoryEntry>| entries.into_iter().map(|entry| entry.text).collect::<Vec<_>>();

    assert_eq!(texts(fixture.history(HistoryQuery::default())), ["w1", "h1", "w2"]);
    assert_eq!(
        texts(fixture.history(HistoryQuery { chat: Some(work), ..HistoryQuery::default() })),
        ["w1", "w2"]
    );
    assert_eq!(
        texts(fixture.history(HistoryQuery { since: Some(200), ..HistoryQuery::default() })),
        ["h1", "w2"]
    );
    assert_eq!(
        texts(fixture.history(HistoryQuery {
            chat: Some(home),
            since: Some(201),
            ..HistoryQuery::default()
        })),
        Vec::<String>::new()
    );

    let w2 = fixture.history(HistoryQuery { since: Some(300), ..HistoryQuery::default() })[0].id;
    assert_eq!(fixture.store.trash(&[w2], 400).unwrap(), 1);
    assert_eq!(texts(fixture.history(HistoryQuery { chat: Some(work), ..HistoryQuery::default() })), ["w1"]);
    let with_trash = fixture.history(HistoryQuery { chat: Some(work), include_trashed: true, since: None });
    assert_eq!(with_trash.iter().map(|entry| entry.trashed_at).collect::<Vec<_>>(), [None, Some(400)]);

    let entry = &fixture.history(HistoryQuery { chat: Some(home), ..HistoryQuery::default() })[0];
    assert_eq!((entry.chat.as_str(), entry.sender.as_str(), entry.epoch), ("home", "alice", 2));
    assert_eq!(
        (entry.direction, entry.format, entry.truncated),
        (Direction::Received, Format::Clm202, false)
    );
}

#[test]
fn trash_restore_and_purge() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let ids: Vec<MessageId> = fixture
        .ingest(&[
            arrival("t", "1", 1, opened(chat, 1, "a")),
            arrival("t", "2", 1, opened(chat, 2, "b")),
            arrival("t", "3", 1, opened(chat, 3, "c")),
        ])
        .into_iter()
        .map(|outcome| match outcome {
            IngestOutcome::New(id) => id,
            other => panic!("expected new, got {other:?}"),
        })
        .collect();

    assert_eq!(fixture.store.trash(&[ids[0], ids[1], 9999], 5).unwrap(), 2);
    assert_eq!(fixture.store.trash(&[ids[0]], 6).unwrap(), 0, "already trashed");
    assert_eq!(fixture.store.restore(&[ids[1]]).unwrap(), 1);
    assert_eq!(fixture.store.restore(&[ids[1]]).unwrap(), 0, "not in the trash any more");

    // Purge never touches messages outside the trash.
    assert_eq!(fixture.store.purge(PurgeTarget::Ids(&[ids[1], ids[2]]), 8).unwrap(), 0);
    assert_eq!(fixture.store.purge(PurgeTarget::Ids(&[ids[0]]), 8).unwrap(), 1);
    assert_eq!(fixture.store.message_count().unwrap(), 2);

    fixture.store.trash(&ids[1..], 7).unwrap();
    assert_eq!(fixture.store.purge(PurgeTarget::AllTrashed, 8).unwrap(), 2);
    assert_eq!(fixture.store.message_count().unwrap(), 0);
    let arrivals: i64 =
        fixture.store.conn.query_row("SELECT count(*) FROM arrivals", [], |row| row.get(0)).unwrap();
    assert_eq!(arrivals, 0, "arrivals go with their message");
}

#[test]
fn secrets_and_texts_never_reach_the_disk_in_clear() {
    let mut fixture = Fixture::new();
    let secret = b"SECRET-chat-key-4f1d";
    let text = "TEXT-meet-under-the-clock-9a2b";
    let sender = "SENDER-zebediah-77";
    let chat = fixture.add_chat("c", secret);
    fixture
        .store
        .add_chat(&NewChat {
            name: "native",
            format: Format::Native,
            secret: b"SECRET-native-e3",
            clm201_chat_id: None,
            seed_suffix: None,
            native_root: Some(b"ROOT-native-root-32-bytes-long!!"),
            native_salt: None,
            created_at: 0,
        })
        .unwrap();
    let mut item = opened(chat, 1, text);
    if let ArrivalItem::Opened { sender: ref mut who, .. } = item {
        *who = sender.to_owned();
    }
    fixture.ingest(&[arrival("t", "o", 1, item)]);
    fixture
        .store
        .record_sent(&SentMessage {
            deliveries: &[],
            chat_id: chat,
            digest: digest(2),
            pointer_text: "{}",
            epoch: 2,
            sender,
            text: "TEXT-sent-out-5c",
            now: 2,
        })
        .unwrap();

    let db = fixture.dir.db_path();
    let needles: [&[u8]; 6] = [
        secret,
        text.as_bytes(),
        sender.as_bytes(),
        b"SECRET-native-e3",
        b"ROOT-native-root",
        b"TEXT-sent-out-5c",
    ];
    let check = |stage: &str| {
        for path in [db.clone(), sibling(&db, "-wal"), sibling(&db, "-shm")] {
            let bytes = fs::read(&path).unwrap_or_default();
            for needle in needles {
                assert!(
                    !contains(&bytes, needle),
                    "{stage}: {} holds {:?} in clear",
                    path.display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
    };
    check("before checkpoint");
    assert!(fs::metadata(sibling(&db, "-wal")).unwrap().len() > 0, "the WAL was written");
    fixture.store.checkpoint().unwrap();
    check("after checkpoint");
    // And the store still reads them back.
    assert_eq!(fixture.all_history()[0].text, text);
    assert_eq!(fixture.store.chat_secret(chat).unwrap().as_slice(), secret);
}

#[test]
fn a_wrong_passphrase_is_refused_and_changes_nothing() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    fixture.ingest(&[arrival("t", "o", 1, opened(chat, 1, "x"))]);
    let db = fixture.dir.db_path();
    fixture.store.checkpoint().unwrap();
    let before = fs::read(&db).unwrap();

    let header = fixture.store.require_vault_header().unwrap();
    assert!(matches!(Vault::open(b"not the passphrase", &header), Err(VaultError::WrongPassphrase)));
    assert_eq!(fs::read(&db).unwrap(), before);
    assert_eq!(header.params, CHEAP, "the header records the parameters it was made with");
}

#[test]
fn a_store_without_a_vault_says_so() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(&temp.path().join("db")).unwrap();
    assert!(store.vault_header().unwrap().is_none());
    assert!(matches!(store.require_vault_header(), Err(StoreError::NoVault)));
    assert_eq!(store.identity().unwrap(), None);
}

#[test]
fn chats_are_added_listed_renamed_and_removed() {
    let mut fixture = Fixture::new();
    let root = [9u8; 32];
    let general = fixture
        .store
        .add_chat(&NewChat {
            name: "general",
            format: Format::Clm201,
            secret: b"master seed",
            clm201_chat_id: Some("1"),
            seed_suffix: Some("general"),
            native_root: None,
            native_salt: None,
            created_at: 50,
        })
        .unwrap();
    let native = fixture
        .store
        .add_chat(&NewChat {
            name: "alpha",
            format: Format::Native,
            secret: b"native secret",
            clm201_chat_id: None,
            seed_suffix: None,
            native_root: Some(&root),
            native_salt: None,
            created_at: 51,
        })
        .unwrap();
    let again = NewChat {
        name: "general",
        format: Format::Clm202,
        secret: b"x",
        clm201_chat_id: None,
        seed_suffix: None,
        native_root: None,
        native_salt: None,
        created_at: 0,
    };
    assert!(matches!(fixture.store.add_chat(&again), Err(StoreError::ChatExists(name)) if name == "general"));

    let listed = fixture.store.list_chats().unwrap();
    assert_eq!(listed.iter().map(|chat| chat.name.as_str()).collect::<Vec<_>>(), ["alpha", "general"]);
    assert_eq!(
        listed[1],
        Chat {
            id: general,
            name: "general".to_owned(),
            format: Format::Clm201,
            clm201_chat_id: Some("1".to_owned()),
            seed_suffix: Some("general".to_owned()),
            native_salt: None,
            created_at: 50,
        }
    );
    assert_eq!(fixture.store.chat_by_id(native).unwrap().format, Format::Native);
    assert_eq!(fixture.store.chat_secret(general).unwrap().as_slice(), b"master seed");
    assert_eq!(*fixture.store.chat_native_root(native).unwrap().unwrap(), root);
    assert!(fixture.store.chat_native_root(general).unwrap().is_none());
    fixture.store.set_chat_native_root(general, &[1; 32]).unwrap();
    assert_eq!(*fixture.store.chat_native_root(general).unwrap().unwrap(), [1; 32]);

    assert!(matches!(fixture.store.rename_chat("general", "alpha"), Err(StoreError::ChatExists(_))));
    assert!(matches!(fixture.store.rename_chat("nope", "x"), Err(StoreError::NoSuchChat(_))));
    fixture.store.rename_chat("general", "lobby").unwrap();
    assert!(matches!(fixture.store.chat("general"), Err(StoreError::NoSuchChat(_))));
    assert_eq!(fixture.store.chat("lobby").unwrap().id, general);
    assert_eq!(
        fixture.store.chat_secret(general).unwrap().as_slice(),
        b"master seed",
        "secrets survive a rename"
    );

    assert_eq!(fixture.store.remove_chat("alpha", false, 9).unwrap(), 0);
    assert!(matches!(fixture.store.chat_secret(native), Err(StoreError::NoSuchChatId(_))));
    assert!(matches!(fixture.store.remove_chat("alpha", false, 9), Err(StoreError::NoSuchChat(_))));
}

#[test]
fn a_chat_with_messages_is_removed_only_with_purge() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let other = fixture.add_chat("other", b"o");
    fixture.store.add_route(chat, "drop.usb", "/mnt").unwrap();
    fixture
        .ingest(&[arrival("t", "1", 1, opened(chat, 1, "a")), arrival("t", "2", 1, opened(other, 2, "b"))]);

    match fixture.store.remove_chat("c", false, 9) {
        Err(StoreError::ChatHasMessages { name, messages: 1 }) => assert_eq!(name, "c"),
        other => panic!("expected ChatHasMessages, got {other:?}"),
    }
    assert_eq!(fixture.store.message_count().unwrap(), 2, "nothing changed");

    assert_eq!(fixture.store.remove_chat("c", true, 9).unwrap(), 1);
    assert_eq!(fixture.all_history().iter().map(|entry| entry.text.as_str()).collect::<Vec<_>>(), ["b"]);
    assert!(fixture.store.routes(chat).unwrap().is_empty(), "routes go with the chat");
}

#[test]
fn routes_are_added_once_and_removed() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    assert!(fixture.store.add_route(chat, "drop.usb", "/b").unwrap());
    assert!(fixture.store.add_route(chat, "drop.usb", "/a").unwrap());
    assert!(!fixture.store.add_route(chat, "drop.usb", "/a").unwrap());
    assert!(matches!(fixture.store.add_route(chat + 1, "drop.usb", "/a"), Err(StoreError::NoSuchChatId(_))));
    let routes = fixture.store.routes(chat).unwrap();
    assert_eq!(
        routes.iter().map(|route| (route.transport.as_str(), route.target.as_str())).collect::<Vec<_>>(),
        [("drop.usb", "/a"), ("drop.usb", "/b")]
    );
    assert!(fixture.store.remove_route(chat, "drop.usb", "/a").unwrap());
    assert!(!fixture.store.remove_route(chat, "drop.usb", "/a").unwrap());
    assert_eq!(fixture.store.routes(chat).unwrap().len(), 1);
}

#[test]
fn sealed_values_moved_between_rows_do_not_open() {
    let mut fixture = Fixture::new();
    let first = fixture.add_chat("first", b"one");
    let second = fixture.add_chat("second", b"two");
    fixture
        .store
        .conn
        .execute(
            "UPDATE chats SET secret = (SELECT secret FROM chats WHERE id = ?1) WHERE id = ?2",
            [first, second],
        )
        .unwrap();
    assert!(matches!(fixture.store.chat_secret(second), Err(StoreError::Vault(VaultError::Tampered { .. }))));

    fixture
        .ingest(&[arrival("t", "1", 1, opened(first, 1, "a")), arrival("t", "2", 1, opened(first, 2, "b"))]);
    fixture
        .store
        .conn
        .execute("UPDATE messages SET record = (SELECT record FROM messages WHERE id = 1) WHERE id = 2", [])
        .unwrap();
    assert!(matches!(
        fixture.store.history(&HistoryQuery::default()),
        Err(StoreError::Vault(VaultError::Tampered { .. }))
    ));
}

#[test]
fn another_vault_cannot_read_the_store() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let (stranger, _) = Vault::create(PASSPHRASE, CHEAP, getrandom::fill).unwrap();
    fixture.store.vault = Some(stranger);
    assert!(matches!(
        fixture.store.chat_secret(chat),
        Err(StoreError::Vault(_) | StoreError::NoSuchChatId(_))
    ));
    assert!(matches!(fixture.store.list_chats(), Err(StoreError::Vault(_))), "records do not open either");
}

#[test]
fn cursors_are_per_transport_and_replaced() {
    let mut fixture = Fixture::new();
    fixture.store.ingest(&[], &[("imap.work", "uid", "10")]).unwrap();
    fixture.store.ingest(&[], &[("imap.work", "uid", "11")]).unwrap();
    fixture.store.set_cursor("imap.work", "uidvalidity", "7").unwrap();
    fixture.store.set_cursor("imap.home", "uid", "3").unwrap();
    assert_eq!(
        fixture.store.cursors("imap.work").unwrap(),
        [("uid".to_owned(), "11".to_owned()), ("uidvalidity".to_owned(), "7".to_owned())]
    );
    assert!(fixture.store.cursors("drop.usb").unwrap().is_empty());
}

#[test]
fn extreme_epochs_and_truncation_round_trip() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let mut item = opened(chat, 1, "cut");
    if let ArrivalItem::Opened { ref mut epoch, ref mut truncated, .. } = item {
        *epoch = u64::MAX;
        *truncated = true;
    }
    fixture.ingest(&[arrival("t", "o", 1, item)]);
    let entry = &fixture.all_history()[0];
    assert_eq!((entry.epoch, entry.truncated), (u64::MAX, true));
}

#[test]
fn an_unknown_format_in_a_row_is_reported_as_corrupt() {
    let mut fixture = Fixture::new();
    let id = fixture.add_chat("c", b"s");
    let record = serde_json::json!({
        "name": "c", "format": "clm999", "clm201_chat_id": null, "seed_suffix": null, "created_at": 1
    });
    let sealed = Sealer(&fixture.vault).seal(&format!("chat:{id}"), &record).unwrap();
    fixture.store.conn.execute("UPDATE chats SET record = ?1", [sealed]).unwrap();
    assert!(matches!(fixture.store.list_chats(), Err(StoreError::Corrupt(_))));
}

#[test]
fn processes_opening_a_fresh_database_at_once_migrate_it_once() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("history.sqlite3");
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || Store::open(&path).map(|store| store.schema_version().unwrap()))
        })
        .collect();
    for opener in openers {
        assert_eq!(opener.join().unwrap().unwrap(), schema::current_version());
    }
}

#[test]
fn message_counts_per_chat_include_the_trash() {
    let mut fixture = Fixture::new();
    let family = fixture.add_chat("family", b"one secret");
    let work = fixture.add_chat("work", b"another secret");
    let outcomes = fixture.ingest(&[
        arrival("t", "1", 1, opened(family, 1, "a")),
        arrival("t", "2", 1, opened(family, 2, "b")),
        arrival("t", "3", 1, opened(work, 3, "c")),
    ]);
    let IngestOutcome::New(first) = outcomes[0] else { panic!("expected a new message") };
    fixture.store.trash(&[first], 5).unwrap();
    let counts = fixture.store.message_counts().unwrap();
    assert_eq!((counts[&family], counts[&work], counts.len()), ((2, 1), (1, 0), 2));
}
