//! UTC times: the `--since` values `history` reads, and the times every message line shows.

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Reads a `--since` time: Unix seconds (`1763700000`), a UTC day (`2025-11-21`), or a UTC
/// time (`2025-11-21T04:40:00Z`, `2025-11-21 04:40`; seconds and the `Z` optional).
/// The error names the text (escaped) and the forms accepted.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "--since {}: expected Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z] (UTC)",
            text.escape_debug()
        )
    };
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time.strip_suffix(['Z', 'z']).unwrap_or(time))),
        None => (text, None),
    };
    let days = parse_date(date).ok_or_else(bad)?;
    let seconds = match time {
        None => 0,
        Some(time) => parse_clock(time).ok_or_else(bad)?,
    };
    Ok(days * DAY + seconds)
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let year: i64 = digits(year)?;
    let month: i64 = digits(month)?;
    let day: i64 = digits(day)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// `HH:MM` or `HH:MM:SS` as seconds into the day.
fn parse_clock(text: &str) -> Option<i64> {
    let mut parts = text.split(':');
    let hours: i64 = two_digits(parts.next()?)?;
    let minutes: i64 = two_digits(parts.next()?)?;
    let seconds: i64 = match parts.next() {
        Some(seconds) => two_digits(seconds)?,
        None => 0,
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(hours * 3600 + minutes * 60 + seconds)
}

fn digits(text: &str) -> Option<i64> {
    if text.bytes().all(|b| b.is_ascii_digit()) { text.parse().ok() } else { None }
}

fn two_digits(text: &str) -> Option<i64> {
    if text.len() == 2 { digits(text) } else { None }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12; // March is 0, so leap days end a year
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01: `(year, month, day)`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(seconds: i64) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(DAY));
    let in_day = seconds.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// A pointer's epoch as a time. The sender chose it, so it may be anything: epochs past year
/// 9999 are shown as the number.
pub fn format_epoch(epoch: u64) -> String {
    /// 10000-01-01T00:00:00Z.
    const YEAR_10000: u64 = 253_402_300_800;
    if epoch < YEAR_10000 { format_time(epoch.cast_signed()) } else { format!("epoch {epoch}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_dates() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(1_763_700_000), "2025-11-21T04:40:00Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59Z");
        for seconds in [0, 59, 86_399, 951_782_400, 1_763_700_000, 4_102_444_800, 253_402_300_799] {
            assert_eq!(parse_time(&format_time(seconds)).unwrap(), seconds, "{seconds}");
        }
        // Every day for eight years, through leap days and century rules.
        for days in (days_from_civil(1899, 1, 1)..days_from_civil(1907, 1, 1)).chain(10_900..14_000) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
            assert!(day >= 1 && day <= days_in_month(year, month), "{year}-{month}-{day}");
        }
    }

    #[test]
    fn since_accepts_seconds_days_and_times() {
        assert_eq!(parse_time("1763700000").unwrap(), 1_763_700_000);
        assert_eq!(parse_time("0").unwrap(), 0);
        assert_eq!(parse_time("2025-11-21").unwrap(), 1_763_683_200);
        assert_eq!(parse_time("2025-11-21T04:40:00Z").unwrap(), 1_763_700_000);
        assert_eq!(parse_time("2025-11-21 04:40").unwrap(), 1_763_700_000);
        assert_eq!(parse_time("2024-02-29").unwrap(), 1_709_164_800);
    }

    #[test]
    fn since_refuses_what_it_cannot_read() {
        for bad in [
            "",
            "yesterday",
            "2025-13-01",
            "2025-02-29",
            "2025-1-1",
            "2025-11-21T24:00",
            "2025-11-21T04:60",
            "2025-11-21T04:40:00+01:00",
            "99999999999999999999",
            "-5",
        ] {
            let error = parse_time(bad).expect_err(bad);
            assert!(error.contains("--since"), "{bad}: {error}");
        }
    }

    #[test]
    fn epochs_far_away_are_shown_as_numbers() {
        assert_eq!(format_epoch(1_763_700_000), "2025-11-21T04:40:00Z");
        assert_eq!(format_epoch(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(format_epoch(u64::MAX), format!("epoch {}", u64::MAX));
    }
}
