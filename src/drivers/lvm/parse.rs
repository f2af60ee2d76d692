//! Reading the lvm2 tools' output and error text.
//!
//! Reports are asked for in a fixed machine form: `--noheadings --nosuffix --separator |`
//! with explicit `-o` fields and `--units` (`b` for exact LV sizes, `g`, which LVM
//! means as GiB, for capacity), so each line is `|`-separated values with leading
//! blanks. LV and VG names cannot hold `|`.

use super::super::DriverError;

/// The separator asked of `lvs` and `vgs`.
pub(crate) const SEPARATOR: &str = "|";

/// The `-o` fields of a logical-volume listing, in the order [`parse_lvs`] reads them.
pub(crate) const LV_FIELDS: &str = "lv_name,lv_size,lv_attr,origin,pool_lv";

/// One row of an `lvs` listing with [`LV_FIELDS`] in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lv {
    /// The LV's name, without the VG.
    pub name: String,
    /// Its size in bytes: the virtual size, or for a thick snapshot its copy-on-write
    /// store.
    pub bytes: u64,
    /// `lv_attr`, e.g. `-wi-a-----`; the first letter is the type.
    pub attr: String,
    /// The LV this one is a snapshot of, or empty.
    pub origin: String,
    /// The thin pool holding this LV, or empty.
    pub pool: String,
}

impl Lv {
    /// Whether this is a thick (copy-on-write) snapshot, merging or not.
    pub fn is_thick_snapshot(&self) -> bool {
        self.attr.starts_with(['s', 'S'])
    }
}

fn bad_output(program: &'static str, what: &str, line: &str) -> DriverError {
    DriverError::Command {
        program,
        action: "report".into(),
        detail: format!("unexpected {what} line '{line}'"),
    }
}

/// Splits one report line into its trimmed fields; `None` unless there are `n`.
fn fields(line: &str, n: usize) -> Option<Vec<&str>> {
    let parts: Vec<&str> = line.split(SEPARATOR).map(str::trim).collect();
    (parts.len() == n).then_some(parts)
}

/// Parses `lvs --noheadings --nosuffix --units b --separator | -o` [`LV_FIELDS`].
pub(crate) fn parse_lvs(out: &str) -> Result<Vec<Lv>, DriverError> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let bad = || bad_output("lvs", "volume", line);
            let f = fields(line, 5).ok_or_else(bad)?;
            let bytes = f[1].parse::<u64>().map_err(|_| bad())?;
            if f[0].is_empty() {
                return Err(bad());
            }
            Ok(Lv {
                name: f[0].to_string(),
                bytes,
                attr: f[2].to_string(),
                origin: f[3].to_string(),
                pool: f[4].to_string(),
            })
        })
        .collect()
}

/// Parses a one-line report of `n` numbers (`vgs -o vg_size,vg_free`, `lvs -o
/// lv_size,data_percent`). An empty field (LVM leaves `data_percent` empty for an
/// inactive pool) reads as zero.
pub(crate) fn parse_numbers(
    program: &'static str,
    out: &str,
    n: usize,
) -> Result<Vec<f64>, DriverError> {
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let line = lines.next().unwrap_or_default();
    let bad = || bad_output(program, "report", line);
    if lines.next().is_some() {
        return Err(bad());
    }
    fields(line, n)
        .ok_or_else(bad)?
        .into_iter()
        .map(|f| match f {
            "" => Ok(0.0),
            f => f
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(bad),
        })
        .collect()
}

/// Texts by which lvm2 says there is no room for an allocation.
const NO_SPACE: &[&str] = &[
    "insufficient free space",
    "Insufficient free space",
    "Insufficient suitable allocatable extents",
    "insufficient suitable allocatable extents",
    "Thin pool capacity is full",
];

/// Turns lvm2's "no room" failures into [`DriverError::NoSpace`] (so the scheduler can
/// try elsewhere); other errors pass unchanged.
pub(crate) fn map_error(err: DriverError) -> DriverError {
    match err {
        DriverError::Command { detail, .. } if NO_SPACE.iter().any(|n| detail.contains(n)) => {
            DriverError::NoSpace(detail)
        }
        other => other,
    }
}

/// Whether an lvm2 failure says the named LV or VG does not exist.
pub(crate) fn is_missing(err: &DriverError) -> bool {
    ["Failed to find logical volume", "not found"]
        .iter()
        .any(|n| super::super::command::detail_contains(err, n))
}

/// The device-mapper name of `vg`/`lv`: each `-` in either doubled, joined by one `-`
/// (`/dev/mapper/<this>`, and `<this>-cow` for a thick snapshot's store).
pub(crate) fn mapper_name(vg: &str, lv: &str) -> String {
    format!("{}-{}", vg.replace('-', "--"), lv.replace('-', "--"))
}
