//! The matrix transport end to end, against a real server on loopback (scripts/test-servers.sh).
