//! The queue's groups (issue 26): a comparison's, a grid's or a batch's jobs are shown under one
//! collapsible heading with their progress and cost, where the group's first job stands. What a
//! group is and what its heading says are here; the queue panel draws them.

use std::collections::HashMap;

use super::session::{JobEntry, JobStatus, ResultEntry};
use crate::types::JobId;

/// What ties jobs together in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupKey {
    /// The cells of one comparison or X/Y grid.
    Cells(u64),
    /// The lines of one batch file (its path).
    Batch(String),
}

/// The group `job` belongs to, if any.
pub fn key_of(job: &JobEntry) -> Option<GroupKey> {
    if let Some(g) = &job.spec.group {
        return Some(GroupKey::Cells(g.group));
    }
    job.spec
        .batch
        .as_ref()
        .map(|b| GroupKey::Batch(b.batch.clone()))
}

/// One row of the queue as drawn: a job alone, or a group's heading with its jobs.
#[derive(Debug, PartialEq)]
pub enum Row {
    Job(usize),
    Group { key: GroupKey, jobs: Vec<usize> },
}

/// The queue's rows, in the order of `jobs`: a group of two or more jobs takes the place of its
/// first job, with all of its jobs in their order (linear in the number of jobs).
pub fn rows(jobs: &[JobEntry]) -> Vec<Row> {
    let keys: Vec<Option<GroupKey>> = jobs.iter().map(key_of).collect();
    let mut members: HashMap<&GroupKey, Vec<usize>> = HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        if let Some(k) = k {
            members.entry(k).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match k.as_ref().and_then(|k| members.get(k).map(|m| (k, m))) {
            Some((k, m)) if m.len() >= 2 => {
                if m[0] == i {
                    out.push(Row::Group {
                        key: k.clone(),
                        jobs: m.clone(),
                    });
                }
            }
            _ => out.push(Row::Job(i)),
        }
    }
    out
}

/// A group's heading: what it is, how far it got and what it cost (the account's figures for
/// the jobs done).
pub fn heading(key: &GroupKey, jobs: &[&JobEntry], results: &[ResultEntry]) -> String {
    let what = match key {
        GroupKey::Cells(_) => {
            let grid = jobs
                .iter()
                .filter_map(|j| j.spec.group.as_ref())
                .any(|g| g.row > 0)
                && jobs
                    .iter()
                    .filter_map(|j| j.spec.group.as_ref())
                    .any(|g| g.col > 0);
            if grid { "Grid" } else { "Comparison" }.to_owned()
        }
        GroupKey::Batch(path) => {
            let name = std::path::Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.clone());
            format!("Batch {name}")
        }
    };
    let done = jobs
        .iter()
        .filter(|j| matches!(j.status, JobStatus::Done { .. }))
        .count();
    let failed = jobs
        .iter()
        .filter(|j| matches!(j.status, JobStatus::Failed(_)))
        .count();
    let mut text = format!("{what} · {done}/{} done", jobs.len());
    if failed > 0 {
        text.push_str(&format!(" · {failed} failed"));
    }
    let cost: f64 = cost_by_job(results)
        .iter()
        .filter(|(id, _)| jobs.iter().any(|j| j.id == **id))
        .map(|(_, c)| c)
        .sum();
    if cost > 0.0 {
        text.push_str(&format!(" · ${cost:.2}"));
    }
    text
}

/// What each job cost, as the service said (a job's images share one figure).
fn cost_by_job(results: &[ResultEntry]) -> HashMap<JobId, f64> {
    let mut out = HashMap::new();
    for r in results {
        if let Some(c) = r.accounting.cost.filter(|c| c.is_finite()) {
            out.entry(r.job).or_insert(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{JobSpec, Stage};
    use crate::types::{GroupTag, InputSource};
    use crate::ui::clock::UiTime;

    fn job(id: JobId, group: Option<(u64, usize, usize)>) -> JobEntry {
        let spec = JobSpec {
            input: InputSource::Url("https://example.com/a.png".into()),
            params: Default::default(),
            api: Default::default(),
            group: group.map(|(group, row, col)| GroupTag {
                group,
                row,
                col,
                label: format!("cell {row},{col}"),
            }),
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        };
        JobEntry::new(id, spec, UiTime(0.0))
    }

    #[test]
    fn a_group_stands_where_its_first_job_is_with_all_its_jobs() {
        let jobs = vec![
            job(1, None),
            job(2, Some((7, 0, 0))),
            job(3, None),
            job(4, Some((7, 0, 1))),
            job(5, Some((8, 0, 0))),
        ];
        assert_eq!(
            rows(&jobs),
            [
                Row::Job(0),
                Row::Group {
                    key: GroupKey::Cells(7),
                    jobs: vec![1, 3]
                },
                Row::Job(2),
                Row::Job(4), // a group of one is a job alone
            ]
        );
    }

    #[test]
    fn the_heading_says_kind_progress_and_cost() {
        let mut a = job(1, Some((7, 0, 0)));
        a.status = JobStatus::Done { files: vec![] };
        let mut b = job(2, Some((7, 1, 1)));
        b.status = JobStatus::Active(Stage::Waiting);
        let c = job(3, Some((7, 0, 1)));
        let results = vec![];
        let h = heading(&GroupKey::Cells(7), &[&a, &b, &c], &results);
        assert_eq!(h, "Grid · 1/3 done");
        let h = heading(&GroupKey::Cells(7), &[&a, &c], &results);
        assert_eq!(h, "Comparison · 1/2 done");
        let h = heading(&GroupKey::Batch("/x/night.jsonl".into()), &[&a], &results);
        assert_eq!(h, "Batch night.jsonl · 1/1 done");
    }
}
