//! `[matrix.NAME]` sections as matrix transports.

use std::sync::Arc;

use clm_adapters::matrix::{MatrixAuth, MatrixSettings, MatrixTransport, parse_homeserver};

use super::{Adapter, Context, Resolved};
use super::{SetupError, invalid};
use crate::config::{MatrixAccount, MatrixLogin, Settings};

/// The transport instance name of a matrix section: `matrix.NAME`.
fn instance_name(section: &str) -> String {
    format!("matrix.{section}")
}

fn transport(
    section: &str,
    account: &MatrixAccount,
    context: &Context,
) -> Result<Arc<MatrixTransport>, SetupError> {
    let name = instance_name(section);
    let homeserver = parse_homeserver(&account.homeserver)
        .map_err(|reason| invalid(format!("{name}.homeserver: {reason}")))?;
    let auth = match &account.login {
        MatrixLogin::Password(secret) => MatrixAuth::Password(secret.read()?),
        MatrixLogin::AccessToken(secret) => MatrixAuth::AccessToken(secret.read()?),
    };
    let mut settings =
        MatrixSettings::new(homeserver, account.user_id.clone(), auth, context.state_dir(&name));
    settings.allowed_inviters = account.allowed_inviters.clone();
    settings.backfill = account.backfill;
    settings.sync_timeout = account.sync_timeout;
    settings.file_threshold = account.file_threshold;
    let secrets = context.secrets(&name);
    Ok(Arc::new(MatrixTransport::new(name, settings, secrets)))
}

/// Every `[matrix.NAME]` section, in name order.
pub fn configured(settings: &Settings, context: &Context) -> Result<Vec<Adapter>, SetupError> {
    settings
        .matrices
        .iter()
        .map(|(section, account)| {
            let matrix = transport(section, account, context)?;
            let progress = Arc::clone(&matrix);
            Ok(Adapter { transport: matrix, backlog: Box::new(move || progress.backlog()) })
        })
        .collect()
}

/// The matrix instance `instance` (known to exist), delivering to `target` (a room id
/// `!room:server` or an alias `#alias:server`; checked when sending).
pub fn resolve(
    settings: &Settings,
    context: &Context,
    instance: &str,
    target: &str,
) -> Result<Resolved, SetupError> {
    if !target.starts_with(['!', '#']) {
        return Err(invalid(format!(
            "route `matrix.{instance}:{target}` names no room: write matrix.{instance}:!ROOM:SERVER or \
             matrix.{instance}:#ALIAS:SERVER"
        )));
    }
    let account = &settings.matrices[instance];
    Ok(Resolved {
        transport: transport(instance, account, context)?,
        route: clm_adapters::Route(target.to_owned()),
    })
}
