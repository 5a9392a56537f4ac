//! The `clm-bridge` application: command line, secrets, and (as it grows) the daemon, the
//! SQLite store and the vault. `main.rs` is a thin shell around [`cli`] and [`commands`].

pub mod api;
pub mod app;
pub mod backoff;
pub mod cli;
pub mod clm_db;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod display;
pub mod environ;
pub mod error;
pub mod import_clm;
pub mod input;
pub mod limits;
pub mod logging;
pub mod memory;
pub mod ops;
pub mod paths;
pub mod pipeline;
pub mod qr;
pub mod secret;
pub mod store;
pub mod strength;
pub mod times;
pub mod transports;
pub mod tui;
pub mod vault;
