//! The layers of `src/` point one way (STYLE habit 13): the C boundary
//! (`capi/`) calls submission (`submit/`), submission calls the engine
//! (`engine/`), the engine hands requests to backends (`backend/`), which
//! report through a `Sink` and never name the engine; `request/` is the
//! vocabulary every layer shares and names none of them. Read from the
//! source: a `use` or path that points up a layer fails here, with where.

use std::fs;
use std::path::{Path, PathBuf};

/// Each layer directory, and the names its code must not contain.
const RULES: &[(&str, &[&str])] = &[
    (
        "request",
        &[
            "crate::capi",
            "crate::submit",
            "crate::engine",
            "crate::backend",
            "Engine",
        ],
    ),
    (
        "backend",
        &["crate::capi", "crate::submit", "crate::engine", "Engine"],
    ),
    ("engine", &["crate::capi", "crate::submit"]),
    ("submit", &["crate::capi"]),
];

/// Files exempt from a layer's rule: the engine's unit tests drive it
/// through submission, as a program would.
const EXEMPT: &[&str] = &["engine/tests.rs"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The code of a line: comments (`//`, `///`, `//!`) say what a module is
/// for and may name any layer.
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// `name` as a whole identifier path in `text` (so `Engine` does not match
/// `EngineSeen`, nor `crate::engine` match `crate::engines`).
fn names(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let after = text[i + name.len()..].chars().next();
        let before = text[..i].chars().next_back();
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        !after.is_some_and(ident) && !before.is_some_and(ident)
    })
}

#[test]
fn layers_point_one_way() {
    let src = paio_ctests::workspace_root().join("src");
    let mut found = Vec::new();
    let mut files_read = 0;
    for (layer, forbidden) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "src/{layer}/ has no Rust files");
        for file in files {
            let rel = file
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            if EXEMPT.contains(&rel.as_str()) {
                continue;
            }
            files_read += 1;
            let text = fs::read_to_string(&file).expect("read a source file");
            for (n, line) in text.lines().enumerate() {
                for name in forbidden.iter().filter(|name| names(code(line), name)) {
                    found.push(format!(
                        "src/{rel}:{}: names `{name}`: {}",
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        files_read >= 15,
        "only {files_read} files read: is src/ laid out as expected?"
    );
    assert!(found.is_empty(), "a layer points up:\n{}", found.join("\n"));
}

#[test]
fn the_check_sees_what_it_must() {
    assert!(names("use crate::engine::Engine;", "crate::engine"));
    assert!(names("fn f(e: &Engine) {}", "Engine"));
    assert!(!names("EngineSeen::Kaio", "Engine"));
    assert!(!names("crate::engines", "crate::engine"));
    assert_eq!(code("let x = 1; // crate::engine"), "let x = 1; ");
    assert_eq!(code("/// see crate::engine"), "");
}
