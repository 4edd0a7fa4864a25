//! `fluxcn spend`: what the ledger says was spent, today, this month, all time, by control type,
//! and day by day for the last days.

use std::io::Write;

use super::commands::CliError;
use super::engine::{data_dir, open_ledger};

pub(super) fn run(days: u32) -> Result<(), CliError> {
    let ledger = open_ledger(&data_dir()?)?;
    let s = ledger
        .spend(chrono::Local::now(), days)
        .map_err(|e| CliError::Other(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    let budget = crate::jobs::budget::from_env().map_err(CliError::Other)?;
    let mut text = String::new();
    text.push_str(&format!("today:      ${:.2}", s.today));
    if let Some(b) = budget {
        text.push_str(&format!(
            " of a ${b:.2} daily budget (${:.2} left)",
            (b - s.today).max(0.0)
        ));
    }
    text.push('\n');
    text.push_str(&format!("this month: ${:.2}\n", s.month));
    text.push_str(&format!(
        "all time:   ${:.2} ({} job{}, {} image{})\n",
        s.all,
        s.jobs,
        if s.jobs == 1 { "" } else { "s" },
        s.images,
        if s.images == 1 { "" } else { "s" }
    ));
    if s.estimated_jobs > 0 {
        text.push_str(&format!(
            "            ({} job{} without a cost in the answer: counted at the usual ${:.3} an image)\n",
            s.estimated_jobs,
            if s.estimated_jobs == 1 { "" } else { "s" },
            crate::api::DEFAULT_COST_PER_IMAGE
        ));
    }
    if s.lost_images > 0 {
        text.push_str(&format!(
            "            ({} image{} paid for never arrived: the answers held fewer images than they billed)\n",
            s.lost_images,
            if s.lost_images == 1 { "" } else { "s" },
        ));
    }
    if !s.by_type.is_empty() {
        text.push_str("by control type:\n");
        for (t, cost, images) in &s.by_type {
            text.push_str(&format!(
                "  {t:<6} ${cost:.2} ({images} image{})\n",
                if *images == 1 { "" } else { "s" }
            ));
        }
    }
    if !s.per_day.is_empty() {
        text.push_str(&format!("last {} days:\n", s.per_day.len()));
        for (day, cost) in &s.per_day {
            text.push_str(&format!("  {day} ${cost:.2}\n"));
        }
    }
    // A closed stdout (`| head`) is not an error worth a message.
    let _ = out.write_all(text.as_bytes());
    Ok(())
}
