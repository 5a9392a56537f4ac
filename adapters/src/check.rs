//! What a transport's self-check found: `clm-bridge doctor` runs each configured transport's
//! `check` (a live login, a capability, a folder) and prints these.

/// How a check came out. Ordered: the worst status of a run decides its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckStatus {
    /// Works.
    Ok,
    /// Works, but something will surprise the user (a bot in privacy mode, no IDLE).
    Warning,
    /// Does not work.
    Failure,
}

/// One finding of a transport's self-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `SMTP login`.
    pub what: String,
    /// How it came out.
    pub status: CheckStatus,
    /// What was found, or what to do about it. Never a secret.
    pub detail: String,
}

impl Check {
    /// A check that passed.
    pub fn ok(what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { what: what.into(), status: CheckStatus::Ok, detail: detail.into() }
    }

    /// A check that passed with a caveat.
    pub fn warning(what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { what: what.into(), status: CheckStatus::Warning, detail: detail.into() }
    }

    /// A check that failed.
    pub fn failure(what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { what: what.into(), status: CheckStatus::Failure, detail: detail.into() }
    }
}
