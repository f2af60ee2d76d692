//! `tgtadm`, tgtd's control tool: the handful of calls the target needs, and a parser
//! for `tgtadm --op show --mode target`.
//!
//! tgtadm rather than `tgt-admin --update`: tgt-admin re-reads a whole config tree and
//! picks target ids itself, while tgtadm lets each step be checked and repeated on its
//! own, which is what idempotent verbs need. The CHAP secret is passed as an argument
//! (tgtadm has no other way); it is briefly visible in the process table to root and
//! the tgtadm process's owner, as with Cinder, and is never put in an error message.

use std::collections::BTreeMap;

use crate::drivers::DriverError;
use crate::drivers::command::{detail_contains, run, run_secret};

const TGTADM: &str = "tgtadm";
/// The LUN holding the disk; tgt puts its controller at LUN 0.
pub(crate) const LUN: u32 = 1;

/// One target as `--op show` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ShownTarget {
    /// tgtd's target id.
    pub(crate) tid: u32,
    /// The IQN.
    pub(crate) iqn: String,
    /// LUN number to backing-store path (`None` for LUN 0, the controller).
    pub(crate) luns: BTreeMap<u32, Option<String>>,
    /// Bound incoming CHAP users.
    pub(crate) accounts: Vec<String>,
    /// Initiator ACL entries (`ALL` or addresses).
    pub(crate) acls: Vec<String>,
    /// Open initiator sessions (I_T nexuses).
    pub(crate) sessions: usize,
}

/// Which part of a target's listing a line belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Section {
    Other,
    Nexus,
    Luns,
    Accounts,
    Acls,
}

/// Parses `tgtadm --lld iscsi --op show --mode target`. Targets start at column 0
/// (`Target <tid>: <iqn>`); sections are indented four spaces, their entries more.
pub(crate) fn parse_show(text: &str) -> Vec<ShownTarget> {
    let mut targets: Vec<ShownTarget> = Vec::new();
    let mut section = Section::Other;
    let mut lun = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Target ") {
            let Some((tid, iqn)) = rest.split_once(": ") else {
                continue;
            };
            let Ok(tid) = tid.parse() else { continue };
            targets.push(ShownTarget {
                tid,
                iqn: iqn.trim().to_string(),
                ..ShownTarget::default()
            });
            section = Section::Other;
            continue;
        }
        let Some(t) = targets.last_mut() else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let item = line.trim();
        if indent == 4 {
            section = match item {
                "I_T nexus information:" => Section::Nexus,
                "LUN information:" => Section::Luns,
                "Account information:" => Section::Accounts,
                "ACL information:" => Section::Acls,
                _ => Section::Other,
            };
            continue;
        }
        match section {
            Section::Nexus if item.starts_with("I_T nexus:") => t.sessions += 1,
            Section::Luns => {
                if let Some(n) = item.strip_prefix("LUN: ") {
                    lun = n.parse().ok();
                    if let Some(n) = lun {
                        t.luns.insert(n, None);
                    }
                } else if let (Some(n), Some(p)) = (lun, item.strip_prefix("Backing store path: "))
                {
                    let path = (p != "None").then(|| p.to_string());
                    t.luns.insert(n, path);
                }
            }
            // Outgoing (mutual CHAP) users carry a suffix; Clinker sets none.
            Section::Accounts if indent == 8 => t.accounts.push(item.to_string()),
            Section::Acls if indent == 8 => t.acls.push(item.to_string()),
            _ => {}
        }
    }
    targets
}

/// Every target tgtd serves. Fails when tgtd is not running.
pub(crate) fn show_targets() -> Result<Vec<ShownTarget>, DriverError> {
    let out = run(
        TGTADM,
        "list targets",
        ["--lld", "iscsi", "--op", "show", "--mode", "target"],
    )?;
    Ok(parse_show(&String::from_utf8_lossy(&out.stdout)))
}

/// The target serving `iqn`, if any.
pub(crate) fn find_target(iqn: &str) -> Result<Option<ShownTarget>, DriverError> {
    Ok(show_targets()?.into_iter().find(|t| t.iqn == iqn))
}

/// The CHAP users tgtd knows.
pub(crate) fn show_accounts() -> Result<Vec<String>, DriverError> {
    let out = run(
        TGTADM,
        "list accounts",
        ["--lld", "iscsi", "--op", "show", "--mode", "account"],
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter(|l| l.starts_with("    "))
        .map(|l| l.trim().to_string())
        .collect())
}

/// Creates target `tid` named `iqn`.
pub(crate) fn new_target(tid: u32, iqn: &str) -> Result<(), DriverError> {
    let tid = tid.to_string();
    let args = [
        "--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", &tid, "-T", iqn,
    ];
    run(TGTADM, "create a target", args).map(drop)
}

/// Deletes target `tid` even if initiators are logged in (the volume is being detached
/// or deleted; Cinder forces too). "Can't find" counts as done.
pub(crate) fn delete_target(tid: u32) -> Result<(), DriverError> {
    let tid = tid.to_string();
    let args = [
        "--lld", "iscsi", "--op", "delete", "--force", "--mode", "target", "--tid", &tid,
    ];
    ignore(
        run(TGTADM, "delete a target", args),
        "can't find the target",
    )
}

/// Adds the disk LUN backed by `path`.
pub(crate) fn new_lun(tid: u32, path: &str) -> Result<(), DriverError> {
    let (tid, lun) = (tid.to_string(), LUN.to_string());
    let args = [
        "--lld",
        "iscsi",
        "--op",
        "new",
        "--mode",
        "logicalunit",
        "--tid",
        &tid,
        "--lun",
        &lun,
        "--backing-store",
        path,
    ];
    run(TGTADM, "add a logical unit", args).map(drop)
}

/// Removes the disk LUN; a missing one counts as done.
pub(crate) fn delete_lun(tid: u32) -> Result<(), DriverError> {
    let (tid, lun) = (tid.to_string(), LUN.to_string());
    let args = [
        "--lld",
        "iscsi",
        "--op",
        "delete",
        "--mode",
        "logicalunit",
        "--tid",
        &tid,
        "--lun",
        &lun,
    ];
    ignore(
        run(TGTADM, "remove a logical unit", args),
        "can't find the logical unit",
    )
}

/// Lets every initiator address reach target `tid`; CHAP is what keeps strangers out.
pub(crate) fn bind_all(tid: u32) -> Result<(), DriverError> {
    let tid = tid.to_string();
    let args = [
        "--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", &tid, "-I", "ALL",
    ];
    ignore(run(TGTADM, "allow initiators", args), "already exists")
}

/// Creates the CHAP account; an existing one with that (random, per-export) name is ours.
pub(crate) fn new_account(user: &str, password: &str) -> Result<(), DriverError> {
    let args = [
        "--lld",
        "iscsi",
        "--op",
        "new",
        "--mode",
        "account",
        "--user",
        user,
        "--password",
        password,
    ];
    let created = run_secret(TGTADM, "create a CHAP account", args, &[user, password]);
    ignore(created, "already exists")
}

/// Requires `user`'s CHAP credentials to log in to target `tid`.
pub(crate) fn bind_account(tid: u32, user: &str) -> Result<(), DriverError> {
    let tid = tid.to_string();
    let args = [
        "--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", &tid, "--user", user,
    ];
    ignore(
        run_secret(TGTADM, "bind a CHAP account", args, &[user]),
        "already exists",
    )
}

/// Deletes the CHAP account; a missing one counts as done.
pub(crate) fn delete_account(user: &str) -> Result<(), DriverError> {
    let args = [
        "--lld", "iscsi", "--op", "delete", "--mode", "account", "--user", user,
    ];
    let deleted = run_secret(TGTADM, "delete a CHAP account", args, &[user]);
    ignore(deleted, "can't find the account")
}

/// Turns a failure whose text contains `benign` into success.
fn ignore<T>(r: Result<T, DriverError>, benign: &str) -> Result<(), DriverError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if detail_contains(&e, benign) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = "\
Target 1: iqn.2010-10.org.openstack:volume-a
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 3
            Initiator: iqn.x alias: h
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
            Size: 0 MB, Block size: 1
            Backing store path: None
        LUN: 1
            Type: disk
            Size: 1074 MB, Block size: 512
            Backing store path: /v/volume-a
    Account information:
        user1
    ACL information:
        ALL
Target 7: iqn.b
    System information:
    I_T nexus information:
    LUN information:
        LUN: 0
            Backing store path: None
    Account information:
    ACL information:
";

    #[test]
    fn show_output_parses() {
        let t = parse_show(SHOW);
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].tid, t[0].iqn.as_str()),
            (1, "iqn.2010-10.org.openstack:volume-a")
        );
        let luns = BTreeMap::from([(0, None), (1, Some("/v/volume-a".to_string()))]);
        assert_eq!(t[0].luns, luns);
        assert_eq!(
            (t[0].accounts.clone(), t[0].acls.clone()),
            (vec!["user1".into()], vec!["ALL".into()])
        );
        assert_eq!(t[0].sessions, 1);
        assert_eq!((t[1].tid, t[1].sessions, t[1].luns.len()), (7, 0, 1));
        assert!(t[1].accounts.is_empty() && t[1].acls.is_empty());
        assert!(parse_show("").is_empty());
    }
}
