//! `GET /api/scheduler/status` (`docs/http-api.md`, "Routes"): the timer's schedule, its
//! next firings (UTC), the local report time, catch-up, and the last run's result.

use chrono::{DateTime, Utc};
use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::daily_report::schedule::{self, RunResult};
use crate::http::error::ApiError;
use crate::http::response::json_response;

/// The reply.
#[derive(Debug, Serialize)]
pub struct SchedulerStatus {
    /// Always `daily_report_timer`.
    pub function: &'static str,
    /// The NCRONTAB expression (`DAILY_REPORT_SCHEDULE`).
    pub schedule: String,
    /// The next 5 firings, UTC.
    pub next_firings: Vec<DateTime<Utc>>,
    /// `HH:MM`: when an org's yesterday becomes due, in its own zone.
    pub report_time_local: String,
    pub catchup_days: u32,
    pub last_run: Option<RunResult>,
}

/// Handles the route.
pub async fn status(app: &App) -> Result<Response, ApiError> {
    let settings = &app.settings;
    let expression = settings.daily_report_schedule.clone();
    let now = app.clock.now();
    let next_firings = match cron_expression(&expression).parse::<cron::Schedule>() {
        Ok(s) => s.after(&now).take(5).collect(),
        Err(_) => vec![],
    };
    let reply = SchedulerStatus {
        function: "daily_report_timer",
        schedule: expression,
        next_firings,
        report_time_local: format!(
            "{:02}:{:02}",
            settings.scheduler_hour, settings.scheduler_minute
        ),
        catchup_days: settings.catchup_days,
        last_run: schedule::last_run(&app.storage).await?,
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// An NCRONTAB expression (the Functions timer's: 6 fields, day of week 0-6 from Sunday) in the
/// `cron` crate's syntax (day of week 1-7 from Sunday): numeric days of week are shifted by
/// one (the base of a step only: `*/2` keeps its step); names, `*` and `?` are left alone.
fn cron_expression(ncrontab: &str) -> String {
    let mut fields: Vec<String> = ncrontab.split_whitespace().map(str::to_string).collect();
    if fields.len() == 6 {
        let shift = |base: &str| -> String {
            base.split('-')
                .map(|t| match t.parse::<u8>() {
                    Ok(n @ 0..=6) => (n + 1).to_string(),
                    Ok(7) => "1".to_string(),
                    _ => t.to_string(),
                })
                .collect::<Vec<_>>()
                .join("-")
        };
        fields[5] = fields[5]
            .split(',')
            .map(|item| match item.split_once('/') {
                Some((base, step)) => format!("{}/{step}", shift(base)),
                None => shift(item),
            })
            .collect::<Vec<_>>()
            .join(",");
    }
    fields.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncrontab_days_of_week_become_the_cron_crates() {
        assert_eq!(cron_expression("0 0 * * * *"), "0 0 * * * *");
        // NCRONTAB 1-5 is Monday-Friday; the cron crate counts Sunday as 1.
        assert_eq!(cron_expression("0 30 6 * * 1-5"), "0 30 6 * * 2-6");
        assert_eq!(cron_expression("0 0 6 * * 0,6"), "0 0 6 * * 1,7");
        assert_eq!(cron_expression("0 0 6 * * */2"), "0 0 6 * * */2");
        assert_eq!(cron_expression("0 0 6 * * Mon-Fri"), "0 0 6 * * Mon-Fri");
        let monday: DateTime<Utc> = "2025-12-15T00:00:00Z".parse().unwrap();
        let weekdays: Vec<String> = cron_expression("0 0 6 * * 1-5")
            .parse::<cron::Schedule>()
            .unwrap()
            .after(&monday)
            .take(6)
            .map(|t| t.format("%a").to_string())
            .collect();
        assert_eq!(weekdays, ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]);
    }
}
