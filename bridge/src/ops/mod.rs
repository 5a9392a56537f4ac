//! What the CLI and the API both do to the bridge's state, below both of them: the commands
//! turn flags into these calls and print the results; the API (module `api`) turns JSON-RPC
//! requests into the same calls and answers in JSON. Neither owns them, so a command's rules (a
//! weak secret refused, routes resolved before anything is recorded) hold the same either way.

pub mod chat_names;
pub mod chats;
pub mod invites;
pub mod message_ids;
pub mod send;
