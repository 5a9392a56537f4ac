//! Writing sections with `config::edit`: comments and layout kept, new sections appear,
//! existing ones are refused without force, secrets stay out of the file.

use std::os::unix::fs::PermissionsExt as _;

use toml_edit::{Table, value};

use super::edit::{ConfigFile, EditError, write_secret_file};

const COMMENTED: &str = "\
# My bridge. Keep this line.
[identity]
name = \"Alice\" # inline comment kept

# The USB stick.
[drop.usb]
path = \"/media/usb/clm-drop\"
";

fn email_section(password_file: &str) -> Table {
    let mut table = Table::new();
    table.insert("address", value("alice@example.org"));
    table.insert("password_file", value(password_file));
    table.insert("smtp_host", value("smtp.example.org"));
    table.insert("imap_host", value("imap.example.org"));
    table
}

#[test]
fn a_new_section_keeps_the_comments_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, COMMENTED).unwrap();
    let mut file = ConfigFile::read(&path).unwrap();
    assert!(!file.has_section("email", "work"));
    file.set_section("email", "work", email_section("/s/pw"), "added by a test", false).unwrap();
    let settings = file.save("email.work").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(COMMENTED), "the old text is kept as it was:\n{text}");
    assert!(text.contains("\n# added by a test\n[email.work]\naddress = \"alice@example.org\"\n"), "{text}");
    assert_eq!(settings.emails["work"].smtp_host, "smtp.example.org");
    assert_eq!(settings.drops.len(), 1);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // No temporary file left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_missing_file_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clm-bridge").join("config.toml");
    let mut file = ConfigFile::read(&path).unwrap();
    file.set_section("email", "work", email_section("/s/pw"), "note", false).unwrap();
    file.save("email.work").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# note\n[email.work]\n"), "{text}");
}

#[test]
fn an_existing_section_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let mut file = ConfigFile::read(&path).unwrap();
    file.set_section("email", "work", email_section("/s/a"), "first", false).unwrap();
    file.save("email.work").unwrap();
    let before = std::fs::read_to_string(&path).unwrap();

    let mut again = ConfigFile::read(&path).unwrap();
    let refused = again.set_section("email", "work", email_section("/s/b"), "second", false);
    assert!(matches!(refused, Err(EditError::Exists { .. })), "{refused:?}");
    assert!(refused.unwrap_err().to_string().contains("--force"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);

    again.set_section("email", "work", email_section("/s/b"), "second", true).unwrap();
    again.save("email.work").unwrap();
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(after.matches("[email.work]").count(), 1, "{after}");
    assert!(after.contains("/s/b") && !after.contains("/s/a"), "{after}");
    assert!(after.contains("# first") && !after.contains("# second"), "the old comment stays: {after}");
}

#[test]
fn a_section_that_does_not_load_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, COMMENTED).unwrap();
    let mut file = ConfigFile::read(&path).unwrap();
    let mut broken = email_section("/s/pw");
    broken.insert("smtp_security", value("none"));
    file.set_section("email", "work", broken, "note", false).unwrap();
    let error = file.save("email.work").unwrap_err();
    assert!(error.to_string().contains("smtp_security"), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), COMMENTED);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_secret_goes_to_its_own_file_never_into_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let secret_path = dir.path().join("secrets").join("email.work.password");
    let secret = "correct horse battery staple";
    write_secret_file(&secret_path, secret).unwrap();
    let mut file = ConfigFile::read(&path).unwrap();
    file.set_section("email", "work", email_section(&secret_path.to_string_lossy()), "note", false).unwrap();
    file.save("email.work").unwrap();
    assert!(!std::fs::read_to_string(&path).unwrap().contains(secret));
    assert_eq!(std::fs::read_to_string(&secret_path).unwrap(), format!("{secret}\n"));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&secret_path), mode(secret_path.parent().unwrap())), (0o600, 0o700));
    let read = crate::secret::read_secret_file(&secret_path).unwrap();
    assert_eq!(read.as_str(), secret);
}

#[test]
fn a_kind_that_is_not_a_table_is_refused() {
    let path = std::path::Path::new("config.toml");
    let mut file = ConfigFile::parse(path, "email = 3\n").unwrap();
    let refused = file.set_section("email", "work", email_section("/s/pw"), "note", false);
    assert!(matches!(refused, Err(EditError::NotATable { .. })), "{refused:?}");
    assert!(matches!(ConfigFile::parse(path, "[a\n"), Err(EditError::Parse { .. })));
}
