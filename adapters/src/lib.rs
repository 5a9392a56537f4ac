//! Transports that carry only pointer text (Telegram, Matrix, email, drop folder).
//!
//! Each transport lives behind its own cargo feature; none is built yet. Adapters never
//! see chat keys or plaintext: they move pointer text between the bridge and a service.
