//! The CapabilitiesFilter (cinder-internals.md §5.3; Cinder's `capabilities_filter.py`):
//! finds the capability each extra spec names and matches it with [`extra_specs`].

use serde_json::Value;

use super::extra_specs::{self, CapValue};
use super::{PoolState, Rejection, ScheduleRequest};
use crate::drivers::{Capacity, CapacityWord, OverSubscription};

/// The CapabilitiesFilter: the first extra spec the pool fails, if any.
pub(crate) fn check(pool: &PoolState, request: &ScheduleRequest) -> Option<Rejection> {
    request.extra_specs.iter().find_map(|(key, wanted)| {
        check_spec(pool, key, wanted)
            .err()
            .map(|found| Rejection::Capability {
                key: key.clone(),
                wanted: wanted.clone(),
                found,
            })
    })
}

/// A capability found for an extra spec.
#[derive(Debug, Clone, Copy)]
enum Cap<'a> {
    /// A figure the pool keeps as a typed field.
    Field(CapValue<'a>),
    /// The storage protocol, which matches in any of its spellings.
    Protocol(&'a str),
    /// A value of the free-form capabilities map.
    Json(&'a Value),
}

/// Checks one extra spec: `Ok` when it passes or is not ours to check, else `Err` with
/// what the pool reports.
fn check_spec(pool: &PoolState, key: &str, wanted: &str) -> Result<(), Option<String>> {
    let mut scope = key.split(':');
    let first = scope.next().unwrap_or_default();
    let name = if first == "capabilities" {
        scope.next()
    } else if key.contains(':') {
        // Other scopes (`provisioning:`, `qos:`, `RESKEY:`, vendor keys) are not
        // capabilities; Cinder skips them here.
        return Ok(());
    } else {
        Some(first)
    };
    let mut cap = name.and_then(|name| lookup(pool, name)).ok_or(None)?;
    // `capabilities:a:b` walks nested mappings.
    for part in scope {
        cap = match cap {
            Cap::Json(Value::Object(map)) => map.get(part).filter(|v| !v.is_null()),
            _ => None,
        }
        .map(Cap::Json)
        .ok_or(None)?;
    }
    if cap_matches(cap, wanted) {
        Ok(())
    } else {
        Err(Some(render(cap)))
    }
}

/// A top-level capability: the pool's typed figures first, then its capabilities map.
fn lookup<'a>(pool: &'a PoolState, name: &str) -> Option<Cap<'a>> {
    let stats = &pool.stats;
    let field = match name {
        "volume_backend_name" => CapValue::Str(&pool.volume_backend_name),
        "vendor_name" => CapValue::Str(&pool.vendor_name),
        "driver_version" => CapValue::Str(&pool.driver_version),
        "storage_protocol" => return Some(Cap::Protocol(&pool.storage_protocol)),
        "pool_name" => CapValue::Str(&stats.pool_name),
        "thin_provisioning_support" => CapValue::Bool(stats.thin_provisioning_support),
        "thick_provisioning_support" => CapValue::Bool(stats.thick_provisioning_support),
        "reserved_percentage" => CapValue::Number {
            value: f64::from(stats.reserved_percentage),
            integer: true,
        },
        "total_capacity_gb" => capacity_value(stats.total_capacity_gb),
        "free_capacity_gb" => capacity_value(stats.free_capacity_gb),
        "allocated_capacity_gb" => float(stats.allocated_capacity_gb),
        "provisioned_capacity_gb" => float(stats.provisioned_capacity_gb),
        "max_over_subscription_ratio" => match stats.max_over_subscription_ratio {
            OverSubscription::Ratio(r) => float(r),
            OverSubscription::Auto(_) => CapValue::Str("auto"),
        },
        // JSON null is "not reported", as Python's None is to Cinder.
        _ => {
            return stats
                .capabilities
                .get(name)
                .filter(|v| !v.is_null())
                .map(Cap::Json);
        }
    };
    Some(Cap::Field(field))
}

fn float(value: f64) -> CapValue<'static> {
    CapValue::Number {
        value,
        integer: false,
    }
}

fn capacity_value(c: Capacity) -> CapValue<'static> {
    match c {
        Capacity::Gb(gb) => float(gb),
        Capacity::Word(CapacityWord::Infinite) => CapValue::Str("infinite"),
        Capacity::Word(CapacityWord::Unknown) => CapValue::Str("unknown"),
    }
}

/// Cinder's scheduler holds `storage_protocol` as the list of its spellings
/// (`cinder/common/constants.py`), so a type may ask for any of them. NBD is ours.
const PROTOCOL_VARIANTS: [&[&str]; 5] = [
    &["iSCSI", "iscsi"],
    &["FC", "fibre_channel", "fc"],
    &["NFS", "nfs"],
    &["NVMe-oF", "NVMeOF", "nvmeof"],
    &["NBD", "nbd"],
];

fn cap_matches(cap: Cap<'_>, wanted: &str) -> bool {
    match cap {
        Cap::Field(value) => extra_specs::matches(value, wanted),
        Cap::Protocol(protocol) => match PROTOCOL_VARIANTS.iter().find(|v| v.contains(&protocol)) {
            Some(variants) => variants
                .iter()
                .any(|v| extra_specs::matches(CapValue::Str(v), wanted)),
            None => extra_specs::matches(CapValue::Str(protocol), wanted),
        },
        // A list passes if any element does.
        Cap::Json(Value::Array(items)) => items
            .iter()
            .any(|item| json_value(item).is_some_and(|v| extra_specs::matches(v, wanted))),
        Cap::Json(value) => json_value(value).is_some_and(|v| extra_specs::matches(v, wanted)),
    }
}

/// A JSON value as the matcher sees it; `None` for null, which matches nothing.
fn json_value(value: &Value) -> Option<CapValue<'_>> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => CapValue::Bool(*b),
        Value::Number(n) => CapValue::Number {
            value: n.as_f64()?,
            integer: n.is_i64() || n.is_u64(),
        },
        Value::String(s) => CapValue::Str(s),
        Value::Array(_) | Value::Object(_) => CapValue::Other,
    })
}

/// What the pool reports, for the rejection: strings as they are, the rest as JSON.
fn render(cap: Cap<'_>) -> String {
    match cap {
        Cap::Field(CapValue::Str(s)) | Cap::Protocol(s) => s.to_string(),
        Cap::Json(Value::String(s)) => s.clone(),
        Cap::Field(CapValue::Bool(b)) => b.to_string(),
        Cap::Field(CapValue::Number { value, .. }) => value.to_string(),
        Cap::Field(CapValue::Other) => String::new(),
        Cap::Json(value) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::tests::{pool, request, stats};

    fn with_specs(specs: &[(&str, &str)]) -> ScheduleRequest {
        let mut r = request(1);
        for (k, v) in specs {
            r.extra_specs.insert((*k).to_string(), (*v).to_string());
        }
        r
    }

    fn capability_failure(p: &PoolState, specs: &[(&str, &str)]) -> Option<Option<String>> {
        match check(p, &with_specs(specs)) {
            Some(Rejection::Capability { found, .. }) => Some(found),
            _ => None,
        }
    }

    fn passes(p: &PoolState, specs: &[(&str, &str)]) -> bool {
        check(p, &with_specs(specs)).is_none()
    }

    #[test]
    fn pool_fields_are_capabilities() {
        let mut s = stats(100.0, 60.0);
        s.thin_provisioning_support = true;
        s.reserved_percentage = 5;
        let p = pool("n1", s);
        assert!(passes(&p, &[("volume_backend_name", "lvm")]));
        assert!(passes(&p, &[("pool_name", "pool-n1")]));
        assert!(passes(&p, &[("thin_provisioning_support", "<is> True")]));
        assert!(passes(&p, &[("thick_provisioning_support", "<is> True")]));
        assert!(passes(
            &p,
            &[("capabilities:thin_provisioning_support", "<is> true")]
        ));
        assert!(passes(&p, &[("reserved_percentage", "<= 5")]));
        assert!(passes(&p, &[("total_capacity_gb", "= 100")]));
        assert!(passes(&p, &[("free_capacity_gb", ">= 60")]));
        assert_eq!(
            capability_failure(&p, &[("free_capacity_gb", ">= 61")]),
            Some(Some("60".into()))
        );
        // A bool is not the string "True" (Cinder's quirk): use `<is>`.
        assert_eq!(
            capability_failure(&p, &[("thin_provisioning_support", "True")]),
            Some(Some("true".into()))
        );
    }

    #[test]
    fn vendor_name_and_driver_version_are_capabilities() {
        // Tempest's volume type test asks for `vendor_name` as the backend reports it.
        let p = pool("n1", stats(100.0, 100.0));
        assert!(passes(&p, &[("vendor_name", "Open Source")]));
        assert!(passes(&p, &[("driver_version", "3.0.0")]));
        assert_eq!(
            capability_failure(&p, &[("vendor_name", "Acme")]),
            Some(Some("Open Source".into()))
        );
        assert_eq!(
            capability_failure(&p, &[("capabilities:driver_version", "<in> 2.")]),
            Some(Some("3.0.0".into()))
        );
    }

    #[test]
    fn storage_protocol_matches_any_spelling() {
        let p = pool("n1", stats(100.0, 100.0));
        assert!(passes(&p, &[("storage_protocol", "iSCSI")]));
        assert!(passes(&p, &[("storage_protocol", "iscsi")]));
        assert!(passes(&p, &[("storage_protocol", "<or> FC <or> iscsi")]));
        assert_eq!(
            capability_failure(&p, &[("storage_protocol", "FC")]),
            Some(Some("iSCSI".into()))
        );
        let mut p = pool("n1", stats(100.0, 100.0));
        p.storage_protocol = "local".into();
        assert!(passes(&p, &[("storage_protocol", "local")]));
        assert!(!passes(&p, &[("storage_protocol", "LOCAL")]));
    }

    #[test]
    fn other_scopes_are_skipped() {
        let p = pool("n1", stats(100.0, 100.0));
        assert!(passes(
            &p,
            &[
                ("provisioning:type", "thin"),
                ("qos:maxIOPS", "100"),
                ("RESKEY:availability_zones", "az9"),
                ("netapp:raid_type", "raid4"),
            ]
        ));
    }

    #[test]
    fn missing_capability_fails() {
        let p = pool("n1", stats(100.0, 100.0));
        assert_eq!(
            capability_failure(&p, &[("multiattach", "<is> True")]),
            Some(None)
        );
        assert_eq!(
            capability_failure(&p, &[("capabilities:nope", "x")]),
            Some(None)
        );
        assert_eq!(capability_failure(&p, &[("capabilities", "x")]), Some(None));
        let mut s = stats(100.0, 100.0);
        s.capabilities.insert("multiattach".into(), Value::Null);
        assert_eq!(
            capability_failure(&pool("n1", s), &[("multiattach", "<is> False")]),
            Some(None)
        );
    }

    #[test]
    fn capabilities_map_values_keep_their_json_type() {
        let mut s = stats(100.0, 100.0);
        s.capabilities
            .insert("multiattach".into(), Value::Bool(true));
        s.capabilities.insert("QoS_support".into(), "False".into());
        s.capabilities.insert("max_iops".into(), 5000.into());
        s.capabilities.insert("tier".into(), "gold".into());
        let p = pool("n1", s);
        assert!(passes(&p, &[("multiattach", "<is> True")]));
        assert!(!passes(&p, &[("multiattach", "<is> False")]));
        assert!(passes(&p, &[("QoS_support", "<is> False")]));
        assert!(passes(&p, &[("max_iops", "= 1000"), ("tier", "gold")]));
        assert!(!passes(&p, &[("max_iops", "5000")]));
        assert!(passes(&p, &[("max_iops", "== 5000")]));
        assert_eq!(
            capability_failure(&p, &[("tier", "<or> silver <or> bronze")]),
            Some(Some("gold".into()))
        );
    }

    #[test]
    fn nested_capabilities_walk_mappings() {
        let mut s = stats(100.0, 100.0);
        s.capabilities.insert(
            "disk".into(),
            serde_json::json!({"media": {"kind": "ssd", "rpm": null}, "count": 4}),
        );
        let p = pool("n1", s);
        assert!(passes(&p, &[("capabilities:disk:media:kind", "ssd")]));
        assert!(passes(&p, &[("capabilities:disk:count", ">= 4")]));
        assert_eq!(
            capability_failure(&p, &[("capabilities:disk:media:kind", "hdd")]),
            Some(Some("ssd".into()))
        );
        // Missing, null, or walking into a non-mapping.
        assert_eq!(
            capability_failure(&p, &[("capabilities:disk:raid", "1")]),
            Some(None)
        );
        assert_eq!(
            capability_failure(&p, &[("capabilities:disk:media:rpm", "x")]),
            Some(None)
        );
        assert_eq!(
            capability_failure(&p, &[("capabilities:disk:count:x", "4")]),
            Some(None)
        );
        assert_eq!(
            capability_failure(&p, &[("capabilities:pool_name:x", "y")]),
            Some(None)
        );
    }

    #[test]
    fn list_capability_passes_if_any_element_matches() {
        let mut s = stats(100.0, 100.0);
        s.capabilities.insert(
            "features".into(),
            serde_json::json!(["dedup", "compression", 7, null]),
        );
        s.capabilities.insert("empty".into(), serde_json::json!([]));
        let p = pool("n1", s);
        assert!(passes(&p, &[("features", "compression")]));
        assert!(passes(&p, &[("features", "<in> dup")]));
        assert!(passes(&p, &[("features", ">= 5")]));
        assert_eq!(
            capability_failure(&p, &[("features", "encryption")]),
            Some(Some(r#"["dedup","compression",7,null]"#.into()))
        );
        assert!(!passes(&p, &[("empty", "s!= x")]));
    }
}
