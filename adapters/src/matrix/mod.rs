//! The matrix transport (feature `matrix`): see ARCHITECTURE.md.
