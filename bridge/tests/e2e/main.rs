//! End-to-end tests of the `clm-bridge` binary: they run the real executable, which cargo
//! builds with them (`cargo test -p clm-bridge --test e2e`).

mod account;
mod api;
mod bots;
mod bridge_chats;
mod bridge_daemon;
mod bridge_history;
mod bridge_import;
mod bridge_limits;
mod daemons;
mod detection;
mod email;
mod encode_decode;
mod exit_codes;
mod front_door;
mod gateway;
mod house;
mod invites;
mod matrix;
mod secrets;
mod support;
mod telegram;
mod tui;
mod vectors;
