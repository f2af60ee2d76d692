//! The file driver: one sparse raw file per volume. To be written.
