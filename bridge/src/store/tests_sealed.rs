//! What a stolen data dir shows (nothing but ids, counts, sizes and times), purged messages
//! staying purged, the sealing of a version-2 database, and claims on deliveries.

use clm_core::Format;

use super::tests::{CHEAP, Fixture, arrival, digest, opened, unopened};
use super::*;
use crate::vault::Vault;

/// Every byte the database keeps on disk: the file and its WAL.
fn on_disk(fixture: &Fixture) -> Vec<u8> {
    let mut bytes = fs_bytes(&fixture.dir.db_path());
    let mut wal = fixture.dir.db_path().into_os_string();
    wal.push("-wal");
    bytes.extend(fs_bytes(Path::new(&wal)));
    bytes
}

fn fs_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[test]
fn a_stolen_database_shows_no_name_address_origin_pointer_or_text() {
    let mut fixture = Fixture::new();
    fixture.store.set_identity("Identity-Alice-Liddell").unwrap();
    let chat = fixture
        .store
        .add_chat(&NewChat {
            name: "Chat-Family-Reunion",
            format: Format::Clm202,
            secret: b"Secret-correct-horse",
            clm201_chat_id: None,
            seed_suffix: None,
            native_root: None,
            native_salt: None,
            created_at: 1,
        })
        .unwrap();
    fixture.store.add_route(chat, "email.work", "route-bob@example.org").unwrap();
    let mut message = opened(chat, 1, "Text-meet-at-the-old-mill");
    if let ArrivalItem::Opened { sender, pointer_text, .. } = &mut message {
        *sender = "Sender-Grandma-Rose".into();
        *pointer_text = "{\"e\":1,\"n\":\"Pointer-nonce\",\"d\":\"00\"}".into();
    }
    fixture.store.ingest(&[arrival("drop.usb", "Origin-clm-evidence.json", 5, message)], &[]).unwrap();
    fixture
        .store
        .ingest(&[arrival("email.work", "Origin-stranger@evil.example", 6, unopened(2))], &[])
        .unwrap();
    fixture.store.ingest(&[], &[("email.work", "Cursor-INBOX-special", "Value-42:1001")]).unwrap();
    let sent = SentMessage {
        chat_id: chat,
        digest: digest(3),
        pointer_text: "{\"e\":3,\"n\":\"Sent-pointer\",\"d\":\"00\"}",
        epoch: 3,
        sender: "Identity-Alice-Liddell",
        text: "Text-sent-from-here",
        now: 7,
        deliveries: &[("matrix.home".to_owned(), "!Room-secret-id:server.example".to_owned())],
    };
    let IngestOutcome::New(id) = fixture.store.record_sent(&sent).unwrap() else { panic!("new") };
    let delivery = fixture.store.deliveries_of(id).unwrap()[0].id;
    fixture.store.delivery_deferred(delivery, "Error-host-mx.example.org refused", 100, 8).unwrap();
    fixture.store.set_transport_secret("matrix.home", "session", b"Token-syt-secret").unwrap();

    let everything = on_disk(&fixture);
    for needle in [
        "Identity-Alice-Liddell",
        "Chat-Family-Reunion",
        "Secret-correct-horse",
        "route-bob@example.org",
        "email.work",
        "Text-meet-at-the-old-mill",
        "Sender-Grandma-Rose",
        "Pointer-nonce",
        "Origin-clm-evidence.json",
        "Origin-stranger@evil.example",
        "Cursor-INBOX-special",
        "Value-42:1001",
        "Sent-pointer",
        "Text-sent-from-here",
        "Room-secret-id",
        "matrix.home",
        "mx.example.org",
        "Token-syt-secret",
        "clm202",
    ] {
        assert!(!contains(&everything, needle.as_bytes()), "{needle:?} is readable in the database");
    }
    for n in 1..=3 {
        assert!(!contains(&everything, &digest(n)), "the unkeyed digest of pointer {n} is stored");
    }
    // What the owner reads back is all there.
    let reopened = fixture.reopen();
    assert_eq!(reopened.store.identity().unwrap().as_deref(), Some("Identity-Alice-Liddell"));
    let history = reopened.all_history();
    assert_eq!(history[0].text, "Text-meet-at-the-old-mill");
    assert_eq!(history[0].arrivals[0].origin, "Origin-clm-evidence.json");
    assert_eq!(reopened.store.pending().unwrap()[0].origin, "Origin-stranger@evil.example");
    assert_eq!(
        reopened.store.cursors("email.work").unwrap(),
        [("Cursor-INBOX-special".into(), "Value-42:1001".into())]
    );
    assert_eq!(reopened.store.routes(chat).unwrap()[0].target, "route-bob@example.org");
}

#[test]
fn a_new_passphrase_reseals_everything_and_the_old_one_opens_nothing() {
    let mut fixture = Fixture::new();
    fixture.store.set_identity("alice").unwrap();
    let chat = fixture.add_chat("Family", b"family secret");
    fixture.store.add_route(chat, "drop.usb", "sub").unwrap();
    fixture.ingest(&[
        arrival("drop.usb", "a.json", 1, opened(chat, 1, "hello")),
        arrival("mail", "x@y", 2, unopened(2)),
    ]);
    fixture.store.ingest(&[], &[("drop.usb", "seen:a", "1")]).unwrap();
    fixture.store.set_transport_secret("matrix.home", "session", b"token").unwrap();
    let [IngestOutcome::New(purged)] = fixture.ingest(&[arrival("t", "p", 3, opened(chat, 3, "bye"))])[..]
    else {
        panic!("new")
    };
    fixture.store.trash(&[purged], 4).unwrap();
    fixture.store.purge(PurgeTarget::Ids(&[purged]), 5).unwrap();
    let before = (fixture.all_history(), fixture.store.pending().unwrap());

    let (new_vault, new_header) = Vault::create(b"new passphrase", CHEAP, getrandom::fill).unwrap();
    fixture.store.rekey(&new_vault, &new_header).unwrap();
    let path = fixture.dir.db_path();
    drop(fixture.store);

    let mut store = Store::open(&path).unwrap();
    let header = store.require_vault_header().unwrap();
    assert!(Vault::open(tests::PASSPHRASE, &header).is_err(), "the old passphrase no longer opens it");
    let vault = Vault::open(b"new passphrase", &header).unwrap();
    store.unlock(&vault).unwrap();
    assert_eq!(store.identity().unwrap().as_deref(), Some("alice"));
    assert_eq!(store.chat_secret(chat).unwrap().as_slice(), b"family secret");
    assert_eq!(store.chat("Family").unwrap().id, chat, "names are found by their new keyed hash");
    assert_eq!(store.routes(chat).unwrap()[0].target, "sub");
    let history = store.history(&HistoryQuery { include_trashed: true, ..HistoryQuery::default() }).unwrap();
    assert_eq!((history, store.pending().unwrap()), before);
    assert_eq!(store.cursors("drop.usb").unwrap(), [("seen:a".into(), "1".into())]);
    assert_eq!(store.transport_secret("matrix.home", "session").unwrap().unwrap().as_slice(), b"token");
    let again = store
        .ingest(
            &[arrival("t", "p", 6, opened(chat, 3, "bye")), arrival("t", "a", 6, opened(chat, 1, "hello"))],
            &[],
        )
        .unwrap();
    assert!(matches!(again[..], [IngestOutcome::Purged, IngestOutcome::Duplicate(_)]), "{again:?}");
}

#[test]
fn regression_a_purged_message_came_back_when_its_pointer_was_read_again() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let [IngestOutcome::New(id)] =
        fixture.ingest(&[arrival("drop.usb", "f", 1, opened(chat, 1, "gone"))])[..]
    else {
        panic!("new")
    };
    fixture.store.trash(&[id], 2).unwrap();
    assert_eq!(fixture.store.purge(PurgeTarget::Ids(&[id]), 3).unwrap(), 1);
    // The drop folder is read again (a restart without its cursor, a copy on another stick).
    let again = fixture.ingest(&[arrival("drop.usb", "f", 4, opened(chat, 1, "gone"))]);
    assert_eq!(again, [IngestOutcome::Purged]);
    let unopened_again = fixture.ingest(&[arrival("drop.usb", "g", 5, unopened(1))]);
    assert_eq!(unopened_again, [IngestOutcome::Purged], "nor kept as pending");
    assert!(fixture.all_history().is_empty());
    assert_eq!(fixture.store.pending_count().unwrap(), 0);
    // Removing a chat with purge leaves tombstones too.
    let other = fixture.add_chat("d", b"t");
    fixture.ingest(&[arrival("t", "1", 6, opened(other, 9, "also gone"))]);
    fixture.store.remove_chat("d", true, 7).unwrap();
    let other = fixture.add_chat("d", b"t");
    assert_eq!(
        fixture.ingest(&[arrival("t", "1", 8, opened(other, 9, "also gone"))]),
        [IngestOutcome::Purged]
    );
}

#[test]
fn a_delivery_is_tried_by_one_process_at_a_time() {
    let mut fixture = Fixture::new();
    let chat = fixture.add_chat("c", b"s");
    let sent = SentMessage {
        chat_id: chat,
        digest: digest(1),
        pointer_text: "{}",
        epoch: 1,
        sender: "me",
        text: "hi",
        now: 1_000,
        deliveries: &[("drop.usb".to_owned(), String::new())],
    };
    fixture.store.record_sent(&sent).unwrap();
    // `send` claimed it when it recorded it: a daemon beside it does not take it.
    assert!(fixture.store.claim_due(1_000, 10).unwrap().is_empty(), "claimed by send");
    // `send` was killed before recording the attempt: the claim runs out, the daemon takes it.
    let later = 1_000 + outbox::CLAIM_SECONDS;
    let claimed = fixture.store.claim_due(later, 10).unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(fixture.store.claim_due(later, 10).unwrap().is_empty(), "claimed once");
    // A deferred attempt gives the claim up: due again at its next attempt.
    fixture.store.delivery_deferred(claimed[0].id, "down", later + 15, later).unwrap();
    assert!(fixture.store.claim_due(later + 14, 10).unwrap().is_empty());
    assert_eq!(fixture.store.claim_due(later + 15, 10).unwrap().len(), 1);
}

/// The version-2 schema and rows as clm-bridge wrote them before rows were sealed.
fn version_2_database(path: &Path, vault: &Vault, header: &VaultHeader) {
    let conn = Connection::open(path).unwrap();
    for (version, step) in schema::MIGRATIONS[..2].iter().enumerate() {
        conn.execute_batch(step).unwrap();
        conn.pragma_update(None, "user_version", version + 1).unwrap();
    }
    conn.execute(
        "INSERT INTO vault (id, kdf, m_kib, t, p, salt, check_blob) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            header.kdf,
            header.params.m_kib,
            header.params.t,
            header.params.p,
            header.salt,
            header.check
        ],
    )
    .unwrap();
    conn.execute("INSERT INTO meta (key, value) VALUES ('identity', 'old alice')", []).unwrap();
    let secret = vault.seal("chat-secret:1", b"old secret").unwrap();
    conn.execute(
        "INSERT INTO chats (id, name, format, secret, created_at) VALUES (1, 'Old chat', 'clm202', ?1, 5)",
        [secret],
    )
    .unwrap();
    conn.execute("INSERT INTO routes VALUES (1, 'drop.usb', '')", []).unwrap();
    let d = digest(7);
    let hex = sealer::hex(&d);
    let sender = vault.seal(&format!("message-sender:{hex}"), b"bob").unwrap();
    let body = vault.seal(&format!("message-text:{hex}"), b"old text").unwrap();
    conn.execute(
        "INSERT INTO messages (id, chat_id, digest, direction, format, epoch, sender, body, truncated, pointer,
             stored_at, trashed_at) VALUES (3, 1, ?1, 'received', 'clm202', 9, ?2, ?3, 0, '{}', 10, NULL)",
        rusqlite::params![d, sender, body],
    )
    .unwrap();
    conn.execute("INSERT INTO arrivals VALUES (3, 'drop.usb', 'old-file.json', 11)", []).unwrap();
    conn.execute("INSERT INTO cursors VALUES ('drop.usb', 'seen:x', 'abc')", []).unwrap();
    conn.execute("INSERT INTO pending VALUES (?1, '{\"e\":1}', 'mail', 'stranger@x', 12)", [digest(8)])
        .unwrap();
    conn.execute(
        "INSERT INTO outbox (id, message_id, transport, target, pointer, next_attempt, last_error, created_at)
         VALUES (4, 3, 'email.w', 'bob@x', '{}', 13, 'down', 13)",
        [],
    )
    .unwrap();
}

#[test]
fn a_database_written_before_sealing_is_sealed_on_first_unlock() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("bridge.db");
    let (vault, header) = Vault::create(b"pass", CHEAP, getrandom::fill).unwrap();
    version_2_database(&path, &vault, &header);

    let mut store = Store::open(&path).unwrap();
    store.unlock(&vault).unwrap();
    assert_eq!(store.identity().unwrap().as_deref(), Some("old alice"));
    let chat = store.chat("Old chat").unwrap();
    assert_eq!((chat.id, chat.format), (1, Format::Clm202));
    assert_eq!(store.chat_secret(1).unwrap().as_slice(), b"old secret");
    assert_eq!(store.routes(1).unwrap()[0].transport, "drop.usb");
    let history = store.history(&HistoryQuery::default()).unwrap();
    assert_eq!((history[0].id, history[0].text.as_str(), history[0].sender.as_str()), (3, "old text", "bob"));
    assert_eq!(history[0].arrivals[0].origin, "old-file.json");
    assert_eq!(store.cursors("drop.usb").unwrap(), [("seen:x".into(), "abc".into())]);
    assert_eq!(store.pending().unwrap()[0].origin, "stranger@x");
    let outbox = store.outbox().unwrap();
    assert_eq!(
        (outbox[0].id, outbox[0].target.as_str(), outbox[0].last_error.as_deref()),
        (4, "bob@x", Some("down"))
    );
    let clear_left: i64 = store
        .conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name LIKE 'clear_%'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(clear_left, 0, "the clear tables are gone");
    store.checkpoint().unwrap();
    drop(store);
    let bytes = std::fs::read(&path).unwrap();
    for needle in ["Old chat", "old alice", "old-file.json", "stranger@x", "bob@x"] {
        // Freed pages may keep old bytes until reused: the upgrade's VACUUM must have removed them.
        assert!(!contains(&bytes, needle.as_bytes()), "{needle:?} left readable after the upgrade");
    }
    // A second unlock finds nothing left to do.
    let mut store = Store::open(&path).unwrap();
    store.unlock(&vault).unwrap();
    assert_eq!(store.history(&HistoryQuery::default()).unwrap().len(), 1);
}
