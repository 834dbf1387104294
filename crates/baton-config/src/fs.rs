//! Where configuration files come from: the real filesystem, or files held in memory (a
//! saved plan carries its configuration), behind [`ConfigFs`]; and lexical path
//! normalization for the latter.
//!
//! Must not parse or interpret the files: it only lists and reads them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where configuration files come from: the filesystem, or (for a saved plan) the files it
/// carries.
pub trait ConfigFs {
    /// The `*.tf` files directly in `dir`, sorted.
    fn tf_files(&self, dir: &Path) -> Result<Vec<PathBuf>, String>;
    fn read(&self, path: &Path) -> Result<String, String>;
    fn is_dir(&self, path: &Path) -> bool;
}

/// The real filesystem.
pub struct RealFs;

impl ConfigFs for RealFs {
    fn tf_files(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let rd = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "tf")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !n.starts_with('.'))
                    && p.is_file()
            })
            .collect();
        files.sort();
        Ok(files)
    }
    fn read(&self, path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
}

/// Files held in memory, keyed by normalized absolute path.
pub struct MemFs {
    pub files: BTreeMap<PathBuf, String>,
}

impl MemFs {
    /// Files given relative to `root`.
    pub fn new(root: &Path, files: &[(String, String)]) -> MemFs {
        MemFs {
            files: files
                .iter()
                .map(|(p, t)| (normalize(&root.join(p)), t.clone()))
                .collect(),
        }
    }
}

impl ConfigFs for MemFs {
    fn tf_files(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let dir = normalize(dir);
        Ok(self
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir.as_path()))
            .cloned()
            .collect())
    }
    fn read(&self, path: &Path) -> Result<String, String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| "not in the saved plan".to_string())
    }
    fn is_dir(&self, path: &Path) -> bool {
        let dir = normalize(path);
        self.files.keys().any(|p| p.starts_with(&dir))
    }
}

/// Lexical normalization: drops `.` and resolves `..` without touching the filesystem.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
