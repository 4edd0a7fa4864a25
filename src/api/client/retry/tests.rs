//! Unit tests of the retry policy: delays, caps on the server's wait, attempt bounds, and which
//! failures each kind of request never retries.

use super::*;
use crate::api::error::{Answerer, DecodeError, JobError, StatusError};
use std::sync::Mutex;

fn cfg() -> ClientConfig {
    ClientConfig {
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(1000),
        ..Default::default()
    }
}

fn status(code: u16, retry_after: Option<Duration>) -> ApiError {
    ApiError::Status(StatusError {
        status: code,
        class: HttpClass::from_status(code),
        message: String::new(),
        retry_after,
        from: Answerer::Service,
    })
}

fn connect() -> ApiError {
    ApiError::Connect {
        url: "http://127.0.0.1:9".into(),
        detail: "refused".into(),
    }
}

fn no_answer() -> ApiError {
    ApiError::NoAnswer {
        detail: "reset".into(),
    }
}

fn decode() -> ApiError {
    ApiError::Decode(DecodeError::Empty)
}

fn retried(kind: RequestKind, e: &ApiError) -> bool {
    RetryPolicy::for_request(&cfg(), kind)
        .decide(e, 1, &mut Tally::default())
        .is_some()
}

#[test]
fn backoff_grows_and_is_capped() {
    let p = RetryPolicy::for_request(&cfg(), RequestKind::Generate);
    for _ in 0..50 {
        let d1 = p.backoff(1);
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
        let d10 = p.backoff(10);
        assert!(d10 >= Duration::from_millis(500) && d10 <= Duration::from_millis(1000));
    }
}

#[test]
fn delays_double_with_each_attempt_within_the_jitter() {
    let c = ClientConfig {
        max_retries: 10,
        ..cfg()
    };
    let p = RetryPolicy::for_request(&c, RequestKind::Generate);
    for (attempt, full_ms) in [(1u32, 100u64), (2, 200), (3, 400), (4, 800), (5, 1000)] {
        for _ in 0..20 {
            let d = p.next_delay(attempt, None).unwrap();
            assert!(
                d >= Duration::from_millis(full_ms / 2) && d <= Duration::from_millis(full_ms),
                "attempt {attempt}: {d:?}"
            );
        }
    }
    // Huge attempt numbers neither overflow nor pass the cap.
    assert!(p.backoff(u32::MAX) <= Duration::from_millis(1000));
}

#[test]
fn polling_backs_off_to_four_times_the_base_at_most() {
    let p = RetryPolicy::for_request(&cfg(), RequestKind::Poll);
    assert_eq!(p.max_delay, Duration::from_millis(400));
    for _ in 0..20 {
        assert!(p.backoff(8) <= Duration::from_millis(400));
        assert!(p.backoff(8) >= Duration::from_millis(200));
    }
}

#[test]
fn attempts_are_bounded() {
    let c = ClientConfig {
        max_retries: 2,
        ..cfg()
    };
    for kind in [
        RequestKind::Generate,
        RequestKind::Submit,
        RequestKind::Download,
    ] {
        let p = RetryPolicy::for_request(&c, kind);
        assert_eq!(p.max_attempts, 3, "{kind:?}");
        assert!(p.next_delay(2, None).is_some());
        assert!(p.next_delay(3, None).is_none());
        let mut t = Tally::default();
        assert!(p.decide(&connect(), 2, &mut t).is_some());
        assert!(p.decide(&connect(), 3, &mut t).is_none());
    }
    // Polling a paid job is more patient: 2 × max(retries, 3) consecutive failures.
    assert_eq!(
        RetryPolicy::for_request(&c, RequestKind::Poll).max_attempts,
        7
    );
    let c8 = ClientConfig {
        max_retries: 4,
        ..cfg()
    };
    assert_eq!(
        RetryPolicy::for_request(&c8, RequestKind::Poll).max_attempts,
        9
    );
    assert_eq!(
        RetryPolicy::for_request(&c8, RequestKind::Credits).max_attempts,
        1
    );
    // No overflow with an absurd setting.
    let huge = ClientConfig {
        max_retries: u32::MAX,
        ..cfg()
    };
    assert_eq!(
        RetryPolicy::for_request(&huge, RequestKind::Generate).max_attempts,
        u32::MAX
    );
}

#[test]
fn a_servers_wait_is_honoured_and_capped() {
    let c = ClientConfig {
        max_rate_limit_wait: Duration::from_secs(300),
        ..cfg()
    };
    let gen_p = RetryPolicy::for_request(&c, RequestKind::Generate);
    let s = |n| Some(Duration::from_secs(n));
    assert_eq!(gen_p.next_delay(1, s(7)), s(7));
    assert_eq!(gen_p.next_delay(1, s(300)), s(300));
    // Too long for a billed request: give up (the error says how long the server asked).
    assert_eq!(gen_p.next_delay(1, s(301)), None);
    assert!(
        gen_p
            .decide(&status(429, s(3600)), 1, &mut Tally::default())
            .is_none()
    );
    // A poll waits at most two minutes, then asks again.
    let poll = RetryPolicy::for_request(&c, RequestKind::Poll);
    assert_eq!(poll.max_server_wait, MAX_SERVER_WAIT);
    assert_eq!(poll.next_delay(1, s(30)), s(30));
    assert_eq!(poll.next_delay(1, s(86_400)), Some(MAX_SERVER_WAIT));
    let r = poll
        .decide(&status(503, s(86_400)), 1, &mut Tally::default())
        .unwrap();
    assert_eq!(r.delay, MAX_SERVER_WAIT);
    // …or less, when the configured ceiling is lower.
    let low = ClientConfig {
        max_rate_limit_wait: Duration::from_secs(5),
        ..cfg()
    };
    let poll = RetryPolicy::for_request(&low, RequestKind::Poll);
    assert_eq!(poll.next_delay(1, s(60)), s(5));
    // v1 honours the server's wait on a 429 only; a 503 backs off.
    let r = gen_p
        .decide(&status(503, s(30)), 1, &mut Tally::default())
        .unwrap();
    assert!(r.delay <= Duration::from_millis(100), "{r:?}");
    let r = gen_p
        .decide(&status(429, s(30)), 1, &mut Tally::default())
        .unwrap();
    assert_eq!(r.delay, Duration::from_secs(30));
    assert!(r.rate_limited);
}

#[test]
fn billed_requests_are_retried_only_when_the_job_cannot_have_run() {
    use RequestKind::{Generate, Submit};
    for kind in [Generate, Submit] {
        for e in [
            connect(),
            status(429, None),
            status(502, None),
            status(503, None),
        ] {
            assert!(retried(kind, &e), "{kind:?} {e:?}");
        }
        let never = [
            no_answer(),
            decode(),
            ApiError::Cancelled { after_send: true },
            ApiError::Cancelled { after_send: false },
            ApiError::MissingKey,
            ApiError::Job(JobError::Deadline {
                request_id: "x".into(),
                after: Duration::from_secs(3600),
            }),
        ];
        for e in never {
            assert!(!retried(kind, &e), "{kind:?} {e:?}");
        }
        for code in [
            301, 307, 400, 401, 403, 404, 405, 406, 410, 418, 422, 501, 505,
        ] {
            assert!(!retried(kind, &status(code, None)), "{kind:?} {code}");
        }
    }
    // 504 and 500: v1 only (on a submit it is unknown whether the job was queued).
    assert!(retried(Generate, &status(504, None)));
    assert!(retried(Generate, &status(500, None)));
    assert!(!retried(Submit, &status(504, None)));
    assert!(!retried(Submit, &status(500, None)));
}

#[test]
fn a_500_is_retried_once_per_call() {
    let p = RetryPolicy::for_request(&cfg(), RequestKind::Generate);
    let mut t = Tally::default();
    let r = p.decide(&status(500, None), 1, &mut t).unwrap();
    assert!(r.reason.contains("once more"), "{}", r.reason);
    assert!(p.decide(&status(500, None), 2, &mut t).is_none());
    // Other classes still retry after that.
    assert!(p.decide(&status(503, None), 2, &mut t).is_some());
    // A fresh call gets its own once.
    assert!(
        p.decide(&status(500, None), 1, &mut Tally::default())
            .is_some()
    );
}

#[test]
fn polls_retry_every_transient_failure_and_nothing_else() {
    let kind = RequestKind::Poll;
    for e in [
        connect(),
        no_answer(),
        decode(),
        status(429, None),
        status(500, None),
        status(502, None),
        status(503, None),
        status(504, None),
    ] {
        assert!(retried(kind, &e), "{e:?}");
    }
    let mut t = Tally::default();
    let p = RetryPolicy::for_request(&cfg(), kind);
    for attempt in 1..p.max_attempts {
        assert!(p.decide(&status(500, None), attempt, &mut t).is_some());
    }
    for code in [400, 401, 403, 404, 405, 406, 410, 422, 307] {
        assert!(!retried(kind, &status(code, None)), "{code}");
    }
    for e in [
        ApiError::Cancelled { after_send: true },
        ApiError::Job(JobError::Expired {
            request_id: "x".into(),
            detail: String::new(),
        }),
        ApiError::BadKey,
    ] {
        assert!(!retried(kind, &e), "{e:?}");
    }
}

#[test]
fn downloads_retry_transport_failures_only_and_credits_nothing() {
    let kind = RequestKind::Download;
    assert!(retried(kind, &connect()));
    assert!(retried(kind, &no_answer()));
    for code in [404, 429, 500, 503, 504] {
        assert!(!retried(kind, &status(code, None)), "{code}");
    }
    assert!(!retried(kind, &decode()));
    for e in [connect(), no_answer(), status(503, None), status(429, None)] {
        assert!(!retried(RequestKind::Credits, &e), "{e:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn run_stops_at_the_attempt_bound_and_reports_each_wait() {
    let p = RetryPolicy::for_request(
        &ClientConfig {
            max_retries: 2,
            ..cfg()
        },
        RequestKind::Generate,
    );
    let seen = Mutex::new(Vec::new());
    let sink = |pr: Progress| seen.lock().unwrap().push(pr);
    let mut calls = 0;
    let r: Result<(), ApiError> = p
        .run(&CancellationToken::new(), &sink, |_| {
            calls += 1;
            async { Err(status(429, Some(Duration::from_secs(1)))) }
        })
        .await;
    assert_eq!(r.unwrap_err().status(), Some(429));
    assert_eq!(calls, 3);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(matches!(
        &seen[0],
        Progress::Retrying {
            attempt: 2,
            rate_limited: true,
            ..
        }
    ));
    assert!(matches!(&seen[1], Progress::Retrying { attempt: 3, .. }));
}

#[tokio::test(start_paused = true)]
async fn run_never_resends_after_no_answer_and_returns_success() {
    let p = RetryPolicy::for_request(&cfg(), RequestKind::Generate);
    let mut calls = 0;
    let r: Result<(), ApiError> = p
        .run(
            &CancellationToken::new(),
            &crate::api::client::no_progress,
            |_| {
                calls += 1;
                async { Err(no_answer()) }
            },
        )
        .await;
    assert!(r.unwrap_err().maybe_billed());
    assert_eq!(calls, 1);
    let r = p
        .run(
            &CancellationToken::new(),
            &crate::api::client::no_progress,
            |attempt| async move {
                if attempt < 3 {
                    Err(status(503, None))
                } else {
                    Ok(attempt)
                }
            },
        )
        .await;
    assert_eq!(r.unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn run_stops_on_cancel_during_a_wait() {
    for (kind, after_send) in [
        (RequestKind::Generate, false),
        (RequestKind::Submit, false),
        (RequestKind::Poll, true),
        (RequestKind::Download, true),
    ] {
        let p = RetryPolicy::for_request(&cfg(), kind);
        let cancel = CancellationToken::new();
        let mut calls = 0;
        let r: Result<(), ApiError> = p
            .run(&cancel, &crate::api::client::no_progress, |_| {
                calls += 1;
                cancel.cancel();
                async { Err(connect()) }
            })
            .await;
        assert!(
            matches!(r, Err(ApiError::Cancelled { after_send: a }) if a == after_send),
            "{kind:?}: {r:?}"
        );
        assert_eq!(calls, 1, "{kind:?}");
    }
}

#[test]
fn no_configuration_makes_a_wait_unbounded() {
    let absurd = ClientConfig {
        backoff_base: Duration::MAX,
        backoff_max: Duration::MAX,
        max_rate_limit_wait: Duration::MAX,
        ..cfg()
    };
    let day = Some(Duration::from_secs(86_400));
    for kind in [
        RequestKind::Generate,
        RequestKind::Submit,
        RequestKind::Poll,
        RequestKind::Download,
    ] {
        let p = RetryPolicy::for_request(&absurd, kind);
        assert!(p.max_delay <= WAIT_CEILING, "{kind:?}: {p:?}");
        assert!(p.max_server_wait <= WAIT_CEILING, "{kind:?}: {p:?}");
        for attempt in 1..4 {
            assert!(p.backoff(attempt) <= WAIT_CEILING, "{kind:?}");
            if let Some(d) = p.next_delay(attempt, day) {
                assert!(d <= WAIT_CEILING, "{kind:?}: {d:?}");
            }
        }
    }
    // A poll told to wait a day waits the ceiling and asks again.
    let poll = RetryPolicy::for_request(&absurd, RequestKind::Poll);
    assert_eq!(poll.next_delay(1, day), Some(MAX_SERVER_WAIT));
}

#[tokio::test(start_paused = true)]
async fn no_wait_goes_past_the_deadline_and_a_server_wait_that_cannot_fit_stops_now() {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let poll = RetryPolicy::for_request(&cfg(), RequestKind::Poll).until(deadline);
    // The server's day-long wait cannot end before the deadline: no partial wait, stop now.
    assert!(
        poll.decide(
            &status(429, Some(Duration::from_secs(86_400))),
            1,
            &mut Tally::default(),
        )
        .is_none()
    );
    // A wait that fits is made as asked; our own backoff is cut at the deadline.
    let r = poll
        .decide(
            &status(429, Some(Duration::from_secs(2))),
            1,
            &mut Tally::default(),
        )
        .unwrap();
    assert_eq!(r.delay, Duration::from_secs(2));
    assert!(!r.reason.contains("try again"), "{}", r.reason);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(poll.next_delay(1, None), Some(Duration::ZERO));
    // What `run` announces is the wait it makes: none for a wait past the deadline.
    let poll = RetryPolicy::for_request(&cfg(), RequestKind::Poll)
        .until(tokio::time::Instant::now() + Duration::from_secs(2));
    let seen = Mutex::new(Vec::new());
    let record = |p: Progress| {
        if let Progress::Retrying { delay, .. } = p {
            seen.lock().unwrap().push(delay);
        }
    };
    let mut calls = 0;
    let r: Result<(), ApiError> = poll
        .run(&CancellationToken::new(), &record, |_| {
            calls += 1;
            let e = status(503, Some(Duration::from_secs(86_400)));
            async move { Err(e) }
        })
        .await;
    assert!(matches!(r, Err(ApiError::Status(_))), "{r:?}");
    assert_eq!(calls, 1);
    assert!(seen.lock().unwrap().is_empty());
}
