//! Writing one `[KIND.NAME]` section into the settings file (`clm-bridge account add`): the
//! file is edited with `toml_edit`, so the user's comments, order and layout stay as they
//! were; the new text is validated by loading it the normal way ([`Settings::load`]) before
//! it replaces the file, atomically (a temporary file beside it, fsync, rename), mode 0600.
//! Secrets never go into this file: the section names a `*_file` instead.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table};

use super::Settings;
use crate::paths::{DIR_MODE, FILE_MODE};

/// Why a section could not be written. Nothing was changed when one of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The settings file is not TOML that can be edited.
    #[error("{}: cannot edit: {reason}", file.display())]
    Parse {
        /// The settings file.
        file: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The section is there already (and `--force` was not given).
    #[error("{}: [{section}] exists already: pass --force to replace it", file.display())]
    Exists {
        /// The settings file.
        file: PathBuf,
        /// `KIND.NAME`.
        section: String,
    },
    /// `KIND` is a key or an inline table in the file, not a table sections can go under.
    #[error("{}: `{kind}` is not a table of [{kind}.NAME] sections", file.display())]
    NotATable {
        /// The settings file.
        file: PathBuf,
        /// The transport kind.
        kind: String,
    },
    /// The file with the new section does not load: the section is not written.
    #[error("the new [{section}] would not load, so nothing was written: {reason}")]
    Invalid {
        /// `KIND.NAME`.
        section: String,
        /// What loading said.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file or folder.
        file: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// A settings file being edited: its path and its text as read (empty when it does not exist).
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    document: DocumentMut,
}

impl ConfigFile {
    /// Reads `path` (a missing file is an empty one).
    pub fn read(path: &Path) -> Result<ConfigFile, EditError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(EditError::Io { file: path.to_owned(), source }),
        };
        ConfigFile::parse(path, &text)
    }

    /// The file `path` holding `text`.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, EditError> {
        let document = text
            .parse::<DocumentMut>()
            .map_err(|error| EditError::Parse { file: path.to_owned(), reason: error.to_string() })?;
        Ok(ConfigFile { path: path.to_owned(), document })
    }

    /// The settings file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `[KIND.NAME]` is in the file.
    pub fn has_section(&self, kind: &str, name: &str) -> bool {
        self.document.get(kind).and_then(|item| item.get(name)).is_some()
    }

    /// Refuses when `[KIND.NAME]` exists, unless `force`.
    pub fn check_free(&self, kind: &str, name: &str, force: bool) -> Result<(), EditError> {
        if self.has_section(kind, name) && !force {
            return Err(EditError::Exists { file: self.path.clone(), section: format!("{kind}.{name}") });
        }
        Ok(())
    }

    /// Puts `[KIND.NAME]` holding `section` at the end of the file (or in the place of the
    /// one it replaces, when `force`), with `note` as a comment line above it.
    pub fn set_section(
        &mut self,
        kind: &str,
        name: &str,
        mut section: Table,
        note: &str,
        force: bool,
    ) -> Result<(), EditError> {
        self.check_free(kind, name, force)?;
        let end = self.end_position();
        let not_a_table = || EditError::NotATable { file: self.path.clone(), kind: kind.to_owned() };
        let kinds = self.document.entry(kind).or_insert_with(|| {
            let mut implicit = Table::new();
            implicit.set_implicit(true);
            Item::Table(implicit)
        });
        let kinds = kinds.as_table_mut().ok_or_else(not_a_table)?;
        let old = kinds.get(name).and_then(Item::as_table);
        let position = old.and_then(Table::position).unwrap_or(end);
        let blank = if end == 0 { "" } else { "\n" };
        let prefix = old.map_or_else(|| format!("{blank}# {note}\n"), prefix_of);
        section.set_position(Some(position));
        section.decor_mut().set_prefix(prefix);
        kinds.insert(name, Item::Table(section));
        Ok(())
    }

    /// One past the last table's position: a new table goes after everything.
    fn end_position(&self) -> isize {
        fn last(table: &Table) -> isize {
            table
                .iter()
                .filter_map(|(_, item)| item.as_table())
                .map(|t| t.position().unwrap_or(0).max(last(t)))
                .max()
                .unwrap_or(0)
        }
        let tables = self.document.as_table();
        let any = tables.iter().any(|(_, item)| item.is_table());
        if any { last(tables) + 1 } else { 0 }
    }

    /// The file's new text.
    pub fn text(&self) -> String {
        self.document.to_string()
    }

    /// Validates the new text by loading it as the bridge does, then writes it in place of the
    /// file: a temporary file in the same folder (mode 0600), fsync, rename, fsync the folder.
    /// The folder is made (0700) if missing. `section` names what is added, for errors.
    pub fn save(&self, section: &str) -> Result<Settings, EditError> {
        let folder = self.folder()?;
        let (temp, settings) = self.written_and_loaded(&folder, section)?;
        if let Err(source) = fs::rename(&temp, &self.path) {
            let _ = fs::remove_file(&temp);
            return Err(EditError::Io { file: self.path.clone(), source });
        }
        fs::File::open(&folder)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| EditError::Io { file: folder.clone(), source })?;
        Ok(settings)
    }

    /// Validates the new text by loading it as the bridge does; writes nothing but the
    /// settings file's folder (0700) when it is missing.
    pub fn validate(&self, section: &str) -> Result<Settings, EditError> {
        let folder = self.folder()?;
        let (temp, settings) = self.written_and_loaded(&folder, section)?;
        let _ = fs::remove_file(temp);
        Ok(settings)
    }

    /// The settings file's folder, made (0700) if missing.
    fn folder(&self) -> Result<PathBuf, EditError> {
        let folder = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(folder)
            .map_err(|source| EditError::Io { file: folder.to_owned(), source })?;
        Ok(folder.to_owned())
    }

    /// The new text written to a temporary file (mode 0600) in `folder`, and loaded from it;
    /// the file is removed when it does not load.
    fn written_and_loaded(&self, folder: &Path, section: &str) -> Result<(PathBuf, Settings), EditError> {
        let file_name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = folder.join(format!(".{file_name}.{}.tmp", std::process::id()));
        write_private(&temp, self.text().as_bytes())
            .map_err(|source| EditError::Io { file: temp.clone(), source })?;
        match Settings::load(Some(&temp), true) {
            Ok(settings) => Ok((temp, settings)),
            Err(error) => {
                let _ = fs::remove_file(&temp);
                let reason = error.to_string().replace(&temp.display().to_string(), "the settings");
                Err(EditError::Invalid { section: section.to_owned(), reason })
            }
        }
    }
}

/// The comments and blank lines above `table` in the file.
fn prefix_of(table: &Table) -> String {
    table.decor().prefix().and_then(|raw| raw.as_str()).unwrap_or("\n").to_owned()
}

/// Writes `bytes` to a new file `path` (replacing one there) with mode 0600, synced.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut file = OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes a secret to `path` atomically (a temporary file beside it, mode 0600, then rename),
/// making its folder (mode 0700) if missing.
pub fn write_secret_file(path: &Path, secret: &str) -> Result<(), EditError> {
    let io_error = |file: &Path| {
        let file = file.to_owned();
        move |source| EditError::Io { file, source }
    };
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(folder).map_err(io_error(folder))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = folder.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(secret.len() + 1));
    bytes.extend_from_slice(secret.as_bytes());
    bytes.push(b'\n');
    write_private(&temp, &bytes).map_err(io_error(&temp))?;
    fs::rename(&temp, path).map_err(|source| {
        let _ = fs::remove_file(&temp);
        EditError::Io { file: path.to_owned(), source }
    })
}
