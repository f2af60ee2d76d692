//! No actor imports another: each depends on [`super::protocol`] for the messages and on
//! [`super::dispatch`] for the handles, so a message can change its delivery (local or
//! remote) without touching the actors at either end.
//!
//! The check reads the sources as text: every path into the `actors` module (`use` or
//! inline, `crate::actors::x` or `super::x` from an actor's own file, `super::super::x`
//! from its submodules) must not name another actor. The `*_tests.rs` files are left out:
//! tests wire real actors together on purpose.

use std::path::{Path, PathBuf};

/// The actor modules: a file `<name>.rs` and its submodules under `<name>/`.
const ACTORS: &[&str] = &["api", "scheduler", "volume", "journal"];

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The production sources of `actor`, each with its depth below `src/actors`
/// (0: `<actor>.rs`, 1: `<actor>/x.rs`).
fn sources_of(dir: &Path, actor: &str) -> std::io::Result<Vec<(PathBuf, usize)>> {
    let mut files = vec![(dir.join(format!("{actor}.rs")), 0)];
    let sub = dir.join(actor);
    if sub.is_dir() {
        for entry in std::fs::read_dir(&sub)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "rs") {
                files.push((path, 1));
            }
        }
    }
    files.retain(|(p, _)| !p.to_string_lossy().ends_with("_tests.rs"));
    files.sort();
    Ok(files)
}

/// The code without its comment lines.
fn code_of(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifier `text` starts with.
fn first_word(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The first segment of each path that follows `prefix` (the `actors` module as this file
/// names it), brace groups included: `prefix::{a::X, b}` gives `a` and `b`.
fn modules_named(code: &str, prefix: &str) -> Vec<String> {
    let needle = format!("{prefix}::");
    let mut found = Vec::new();
    for (at, _) in code.match_indices(&needle) {
        // `super::super::x` also contains `super::x`; a match must not continue a path.
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c == ':' || c.is_alphanumeric() || c == '_') {
            continue;
        }
        let after = &code[at + needle.len()..];
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        found.push(first_word(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(first_word(after));
        }
    }
    found
}

/// The other actors that a file of `actor` at `depth` reaches.
fn other_actors_reached(code: &str, actor: &str, depth: usize) -> Vec<String> {
    let parent = if depth == 0 { "super" } else { "super::super" };
    let mut named = modules_named(code, "crate::actors");
    named.extend(modules_named(code, parent));
    named.retain(|m| ACTORS.contains(&m.as_str()) && m != actor);
    named.sort();
    named.dedup();
    named
}

#[test]
fn no_actor_imports_another() -> TestResult {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/actors");
    let mut cycles = Vec::new();
    for actor in ACTORS {
        for (path, depth) in sources_of(&dir, actor)? {
            let code = code_of(&std::fs::read_to_string(&path)?);
            for other in other_actors_reached(&code, actor, depth) {
                cycles.push(format!("{} uses actor `{other}`", path.display()));
            }
        }
    }
    assert!(cycles.is_empty(), "actors import each other: {cycles:#?}");
    Ok(())
}

#[test]
fn the_protocol_names_no_actor() -> TestResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/actors/protocol.rs");
    let code = code_of(&std::fs::read_to_string(path)?);
    let mut named = modules_named(&code, "crate::actors");
    named.extend(modules_named(&code, "super"));
    named.retain(|m| ACTORS.contains(&m.as_str()));
    assert!(named.is_empty(), "the protocol imports actors: {named:?}");
    Ok(())
}

#[test]
fn the_check_sees_every_form_of_import() {
    let top = concat!(
        "use super::dispatch::X;\nuse super::volume::Y;\n",
        "use crate::actors::{error::E, scheduler::{A, B}};\nlet _ = super::journal::Flush;",
    );
    assert_eq!(
        other_actors_reached(top, "api", 0),
        ["journal", "scheduler", "volume"]
    );
    let sub = "use super::Ctx;\nuse super::super::scheduler::Z;\nuse crate::actors::protocol::P;";
    assert!(other_actors_reached("use super::super::scheduler::Z;", "api", 0).is_empty());
    assert_eq!(other_actors_reached(sub, "volume", 1), ["scheduler"]);
    assert!(other_actors_reached("use super::recovery::R;", "volume", 1).is_empty());
    assert!(other_actors_reached("// use super::volume::Y;", "api", 0).len() == 1);
    assert!(other_actors_reached(&code_of("// use super::volume::Y;"), "api", 0).is_empty());
}

#[test]
fn every_actor_has_sources() -> TestResult {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/actors");
    for actor in ACTORS {
        let files = sources_of(&dir, actor)?;
        assert!(files.iter().all(|(p, _)| p.is_file()), "{actor}: {files:?}");
    }
    Ok(())
}
