//! `[matrix.NAME]` sections: Matrix accounts. Plain types, compiled with or without the `matrix` feature.

use serde::Deserialize;

use super::ConfigError;

/// A `[matrix.NAME]` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatrix {}

/// A validated `[matrix.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixAccount {}

/// Validates section `name`; errors name the key (`matrix.NAME.KEY`).
pub(super) fn validate(
    _name: &str,
    _raw: RawMatrix,
    _invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<MatrixAccount, ConfigError> {
    Ok(MatrixAccount {})
}
