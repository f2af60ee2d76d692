//! Clinker: a block-storage controller that speaks OpenStack Cinder's Block Storage v3 API.

pub mod actors;
pub mod config;
pub mod db;
pub mod drivers;
pub mod flow;
pub mod http;
pub mod keystone;
pub mod logging;
pub mod model;
pub mod policy;
pub mod scheduler;
pub mod service;
pub mod telemetry;
