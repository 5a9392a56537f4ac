//! The Matrix doctor self-check against the real server: a transport run inside the test.

use std::time::Duration;

use super::PASSWORD;
use super::server::{Server, User, register_on, unique};
use crate::support::doctor_lines;

/// Secrets kept in memory, for a transport run inside a test.
#[derive(Debug, Default)]
struct MemorySecrets(std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>);

impl clm_adapters::SecretStore for MemorySecrets {
    fn load(&self, key: &str) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, clm_adapters::TransportError> {
        Ok(self.0.lock().expect("not poisoned").get(key).cloned().map(zeroize::Zeroizing::new))
    }

    fn save(&self, key: &str, value: &[u8]) -> Result<(), clm_adapters::TransportError> {
        self.0.lock().expect("not poisoned").insert(key.to_owned(), value.to_vec());
        Ok(())
    }
}

/// A transport of `user` built in the test, logging in with `auth`.
fn in_process(
    test: &str,
    user: &User,
    auth: clm_adapters::matrix::MatrixAuth,
) -> clm_adapters::matrix::MatrixTransport {
    use clm_adapters::matrix::{MatrixSettings, MatrixTransport};
    let settings = MatrixSettings {
        password_env: Some("UNUSED".into()),
        ..MatrixSettings::new(&user.server.url, &user.id)
    };
    let state = crate::support::scratch_dir(test);
    MatrixTransport::new(
        "matrix.doctor".into(),
        settings,
        auth,
        state,
        std::sync::Arc::new(MemorySecrets::default()),
    )
}

#[test]
fn the_doctor_check_finds_the_session_the_position_and_the_keys_and_names_a_refused_token() {
    use clm_adapters::CheckStatus::{Failure, Ok as Fine};
    use clm_adapters::matrix::{MatrixAuth, check};
    use clm_adapters::{Committed, Transport as _};
    // Everything inside the runtime: the sdk's stores must be dropped within it.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let user = register_on(&Server::shared(), &unique("doctor"));
        let timeout = Duration::from_secs(60);

        // Run once: the first sync is stored (its cursor handed over), the session saved.
        let transport = std::sync::Arc::new(in_process(
            "matrix_doctor",
            &user,
            MatrixAuth::Password(zeroize::Zeroizing::new(PASSWORD.to_owned())),
        ));
        let cursor = {
            let (inbound, mut received) = tokio::sync::mpsc::channel(8);
            let stop = tokio_util::sync::CancellationToken::new();
            let running =
                tokio::spawn(std::sync::Arc::clone(&transport).run(Vec::new(), inbound, stop.clone()));
            let mut first = received.recv().await.expect("the first sync");
            let cursor = first.cursor.take().expect("the sync position");
            first.committed.take().expect("a commit signal").send(Committed::new(0, 0)).expect("sent");
            // matrix-sdk uploads the device keys before its first sync request.
            stop.cancel();
            running.await.expect("joined").expect("stopped cleanly");
            cursor
        };
        let checks = check(&transport, std::slice::from_ref(&cursor), timeout).await;
        let found: Vec<(&str, clm_adapters::CheckStatus)> =
            checks.iter().map(|c| (c.what.as_str(), c.status)).collect();
        assert_eq!(
            found,
            [
                ("Matrix sync position", Fine),
                ("Matrix login", Fine),
                ("Matrix encryption keys", Fine),
                ("Matrix cross-signing", Fine),
            ],
            "{checks:?}"
        );
        assert!(checks.iter().all(|c| !c.detail.contains(PASSWORD)));

        // A token the server does not know: the login fails, named, and the token is not shown.
        let wrong = "syt_not_a_token_the_server_gave";
        let refused = in_process(
            "matrix_doctor_wrong",
            &user,
            MatrixAuth::AccessToken(zeroize::Zeroizing::new(wrong.into())),
        );
        let checks = check(&refused, &[], timeout).await;
        let login = checks.iter().find(|c| c.what == "Matrix login").expect("a login check");
        assert_eq!(login.status, Failure, "{checks:?}");
        assert!(login.detail.contains("M_UNKNOWN_TOKEN") && !login.detail.contains(wrong), "{login:?}");
    });
}

#[test]
fn the_doctor_command_checks_the_account_with_the_stored_session_and_position() {
    let test = "matrix_doctor_command";
    let user = register_on(&Server::shared(), &unique("doctorcmd"));
    let node = super::matrix_node(test, "ann", &user, &user);
    let steps = |stdout: &str| -> Vec<String> {
        let lines = doctor_lines(stdout, "matrix.m");
        lines
            .iter()
            .map(|(status, detail)| format!("{status} {}", detail.split(':').next().unwrap_or("")))
            .collect()
    };

    // Never run: nothing is broken, but nothing is logged in or stored yet.
    let out = node.cli(&["doctor", "--timeout", "60"]).run();
    let never_run = ["warn Matrix sync position", "warn Matrix login"];
    assert_eq!(steps(&out.stdout), never_run, "{}{}", out.stdout, out.stderr);
    out.assert_code(1);

    // After a run: the session sealed in the vault and the position in the store are found.
    let ended = super::start_synced(&node).stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let out = node.cli(&["doctor", "--timeout", "60"]).run();
    assert_eq!(
        steps(&out.stdout),
        [
            "ok Matrix sync position",
            "ok Matrix login",
            "ok Matrix encryption keys",
            "ok Matrix cross-signing"
        ],
        "{}",
        out.stdout
    );
    out.assert_code(0);
    assert!(!out.stdout.contains(PASSWORD), "{}", out.stdout);

    // The vault does not open: the account is not checked, and says why.
    let out = node.home.with_passphrase("not the passphrase", &["doctor"]);
    let out = out.env("CLM_BRIDGE_CONFIG", node.config.to_str().expect("UTF-8")).run();
    out.assert_code(2);
    let lines = doctor_lines(&out.stdout, "matrix.m");
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert_eq!(lines[0].0, "FAIL");
    assert!(lines[0].1.contains("sealed in the vault, which did not open"), "{lines:?}");
}
