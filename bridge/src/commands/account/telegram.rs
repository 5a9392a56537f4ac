//! `account add telegram NAME`: the bot token, the chats it reads, the live check (`getMe`,
//! privacy mode, `getChat` per allowed chat), then the `[telegram.NAME]` section with
//! `token_file`.

use std::io::Write;

use clm_adapters::settings::telegram::DEFAULT_API_URL;
use clm_adapters::telegram::{TelegramSettings, TelegramTransport, check};
use toml_edit::{Array, Table, value};

use super::ask::{Asker, SecretFlags};
use super::{Target, report, runtime};
use crate::app::Locations;
use crate::cli::TelegramAddArgs;
use crate::commands::Outcome;
use crate::error::Error;

/// Runs `account add telegram`.
pub fn add(locations: &Locations, args: TelegramAddArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let mut target = Target::new(locations, "telegram", &args.common, "token")?;
    let flags = SecretFlags { key: "token", env: args.token_env.as_deref(), stdin: args.token_stdin };
    let asker = Asker::new(flags);
    asker.require(&[], Some(flags))?;
    let token = asker.secret(flags, "bot token (from @BotFather)")?;
    let chats = match (args.chats.is_empty(), asker.can_prompt()) {
        (true, true) => ask_chats(&asker)?,
        _ => args.chats.clone(),
    };
    let mut settings = TelegramSettings::new(chats);
    if let Some(url) = &args.api_url {
        clm_adapters::settings::check_http_url(url)
            .map_err(|why| Error::Usage(format!("--api-url: {why}")))?;
        settings.api_url.clone_from(url);
    }
    settings.owner_id = args.owner_id;
    settings.token_file = Some(target.secret_path.clone());
    settings.validate().map_err(|error| Error::Usage(format!("[telegram.{}] {error}", target.name)))?;
    target.stage(section(&settings))?;
    if target.check {
        let name = target.section();
        let checks = runtime()?.block_on(async {
            let bot = TelegramTransport::new(name, token.clone(), settings.clone())
                .map_err(|error| Error::Usage(error.to_string()))?;
            Ok::<_, Error>(check(&bot, target.timeout).await)
        })?;
        report(&checks, out)?;
    }
    target.commit(Some(token.as_str()), out)?;
    writeln!(
        out,
        "route a chat over it: clm-bridge chat route CHAT --via telegram.{}:CHAT_ID",
        args.common.name
    )
    .map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// The chat ids typed on the terminal, separated by commas or blanks.
fn ask_chats(asker: &Asker) -> Result<Vec<i64>, Error> {
    let line = asker.line("chat ids the bot reads, e.g. -1001234567890 (none: it only sends)")?;
    line.split([',', ' '])
        .filter(|word| !word.is_empty())
        .map(|word| {
            word.parse().map_err(|_| Error::Usage(format!("`{}` is not a chat id", word.escape_debug())))
        })
        .collect()
}

/// The `[telegram.NAME]` section: where the token is, the chats, what differs from the defaults.
fn section(settings: &TelegramSettings) -> Table {
    let mut table = Table::new();
    if let Some(file) = &settings.token_file {
        table.insert("token_file", value(file.to_string_lossy().as_ref()));
    }
    if settings.api_url != DEFAULT_API_URL {
        table.insert("api_url", value(settings.api_url.as_str()));
    }
    let chats: Array = settings.allowed_chats.iter().copied().collect();
    table.insert("allowed_chats", value(chats));
    if let Some(owner) = settings.owner_id {
        // TOML integers are signed 64-bit; Telegram user ids are far below that.
        table.insert("owner_id", value(i64::try_from(owner).unwrap_or(i64::MAX)));
    }
    table
}
