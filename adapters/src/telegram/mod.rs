//! The telegram transport (feature `telegram`): see ARCHITECTURE.md.
