//! Home of the end-to-end tests (see `tests/e2e`); this library is intentionally empty.
