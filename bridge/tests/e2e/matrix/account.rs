//! `clm-bridge account add matrix` against the real Synapse: the first login is made with the
//! vault open (the session sealed there, as `run` keeps it), a wrong password writes nothing.

use super::PASSWORD;
use super::server::{Server, register_on, unique};
use crate::bridge_chats::Home;

#[test]
fn a_matrix_account_is_logged_in_once_and_written() {
    let user = register_on(&Server::shared(), &unique("account"));
    let home = Home::new("account_matrix");
    let config = home.dir.join("config").join("config.toml");
    std::fs::create_dir_all(config.parent().expect("a folder")).expect("the folder");
    std::fs::write(&config, "# mine\n").expect("the settings");
    let config = config.to_str().expect("UTF-8 path");
    home.run(&["--config", config, "init", "--name", "me"]).succeeds();
    let add = |name: &str, password: &str| {
        let args = ["--config", config, "account", "add", "matrix", name, "--homeserver", &user.server.url];
        home.run(&[&args[..], &["--user", &user.id, "--password-env", "MATRIX_PW"]].concat())
            .env("MATRIX_PW", password)
            .run()
    };

    let added = add("m", PASSWORD);
    assert_eq!(added.code, Some(0), "{added:?}");
    assert!(added.stdout.contains("ok    Matrix login"), "{}", added.stdout);
    let text = std::fs::read_to_string(config).expect("the settings");
    assert!(text.contains(&format!("[matrix.m]\nhomeserver = \"{}\"", user.server.url)), "{text}");
    assert!(text.contains("password_file = ") && !text.contains(PASSWORD), "{text}");
    // The session is kept: the daemon restores it rather than logging in again.
    // Before the first run: warnings only (no sync position, keys not uploaded yet), exit 1.
    let doctor = home.run(&["--config", config, "doctor"]).run();
    assert_eq!(doctor.code, Some(1), "{doctor:?}");
    assert!(!doctor.stdout.contains("FAIL"), "{}", doctor.stdout);

    let refused = add("other", "not the password");
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stdout.contains("FAIL  Matrix login"), "{}", refused.stdout);
    assert!(!refused.stdout.contains("not the password") && !refused.stderr.contains("not the password"));
    assert_eq!(std::fs::read_to_string(config).expect("the settings"), text, "unchanged");
}
