//! The email transport (feature `email`): see ARCHITECTURE.md.
