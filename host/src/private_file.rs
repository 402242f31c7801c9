//! Files and directories only their owner may use (0600 and 0700 on unix,
//! whatever the umask): the host's files hold personal data, state and
//! compiled code.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Creates `dir` and any missing parents 0700; an existing directory keeps
/// its mode (it may be one the user shares on purpose).
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Replaces `path` with `bytes` through a 0600 temporary file beside it,
/// synced then renamed: a reader sees the old file or the new one whole,
/// never a part.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // tempfile creates it 0600.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Creates `path` empty and 0600 unless it exists, so a library that opens
/// it next (SQLite) finds it instead of creating it with the umask's mode.
pub(crate) fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        // The umask can only remove bits; set the mode outright anyway.
        #[cfg(unix)]
        Ok(file) => file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600)),
        #[cfg(not(unix))]
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_0600_and_directories_0700() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);

        let file = dir.join("artifact");
        write_private(&file, b"one").unwrap();
        write_private(&file, b"two").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );

        let db = dir.join("db");
        create_private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        // An existing file is left as it is, contents and mode.
        fs::write(&db, b"data").unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o640)).unwrap();
        create_private_file(&db).unwrap();
        assert_eq!(
            (fs::read(&db).unwrap(), mode(&db)),
            (b"data".to_vec(), 0o640)
        );
    }
}
