//! The `local` target: no export at all. The consumer runs on this node and opens the
//! volume's file itself, so `connection_info` is Cinder's `local` shape, the path, plus
//! `format` for anything but raw (a consumer reading `device_path` as a disk would
//! otherwise see qcow2 metadata as data).

use serde_json::Value;

use super::{Export, ExportSpec, Target};
use crate::drivers::{ConnectionInfo, DriverError, ImageFormat};
use crate::model::VolumeId;

/// The [`Target`] that hands out the file's path.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalTarget;

impl Target for LocalTarget {
    fn name(&self) -> &'static str {
        "local"
    }

    fn storage_protocol(&self) -> &'static str {
        "local"
    }

    fn supports(&self, _format: ImageFormat) -> bool {
        true
    }

    fn create_export(&self, spec: &ExportSpec<'_>) -> Result<Export, DriverError> {
        Ok(Export {
            location: spec.path.display().to_string(),
            auth: None,
        })
    }

    fn ensure_export(&self, _spec: &ExportSpec<'_>) -> Result<Option<Export>, DriverError> {
        Ok(None)
    }

    fn remove_export(&self, _volume: &VolumeId) -> Result<(), DriverError> {
        Ok(())
    }

    fn is_exported(&self, _volume: &VolumeId) -> Result<bool, DriverError> {
        Ok(false)
    }

    fn refresh_export(&self, _spec: &ExportSpec<'_>) -> Result<(), DriverError> {
        Ok(())
    }

    fn initialize_connection(
        &self,
        spec: &ExportSpec<'_>,
        _connector: &Value,
    ) -> Result<ConnectionInfo, DriverError> {
        let mut data = serde_json::Map::new();
        data.insert("device_path".into(), spec.path.display().to_string().into());
        if spec.format != ImageFormat::Raw {
            data.insert("format".into(), spec.format.as_str().into());
        }
        Ok(ConnectionInfo {
            driver_volume_type: "local".into(),
            data,
        })
    }

    fn terminate_connection(
        &self,
        _volume: &VolumeId,
        _connector: &Value,
    ) -> Result<bool, DriverError> {
        Ok(false)
    }
}
