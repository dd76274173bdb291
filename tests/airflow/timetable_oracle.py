"""Oracle for airless `timetable.rs`: prints Rust test tables computed by real Airflow.

Run with an Airflow 2.10.5 interpreter:

    /work/airflow-venv/v/bin/python airflow_oracle.py > tables.rs.txt

Every expected value in the printed tables comes from Airflow's own
``CronDataIntervalTimetable`` / ``CronTriggerTimetable.next_dagrun_info``;
``utcnow()`` is monkeypatched so "now" is an input of each case.
"""

from __future__ import annotations

import sys

import pendulum

import airflow
import airflow.timetables.interval as interval_mod
import airflow.utils.timezone as timezone_mod
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.timetables.trigger import CronTriggerTimetable

assert airflow.__version__ == "2.10.5", airflow.__version__

_NOW: list[pendulum.DateTime | None] = [None]


def _fake_utcnow():
    if _NOW[0] is None:
        raise AssertionError("utcnow() called but the case has no `now`")
    return _NOW[0]


# interval.py does `from airflow.utils.timezone import utcnow`; trigger.py calls
# `timezone.utcnow()` through the module. Patch both names.
interval_mod.utcnow = _fake_utcnow
timezone_mod.utcnow = _fake_utcnow


def ts(s: str | None) -> pendulum.DateTime | None:
    if s is None:
        return None
    d = pendulum.parse(s)
    assert d.utcoffset() is not None
    return d.in_timezone("UTC")


def fmt(d) -> str:
    d = pendulum.instance(d).in_timezone("UTC")
    assert d.microsecond == 0
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def rs_str(s: str | None) -> str:
    return "None" if s is None else f'Some("{s}")'


def make(kind: str, cron: str, tz: str):
    zone = pendulum.timezone(tz)
    if kind == "Interval":
        return CronDataIntervalTimetable(cron, zone)
    return CronTriggerTimetable(cron, timezone=zone)


def call(tt, last, restriction, now):
    _NOW[0] = ts(now) if now is not None else None
    try:
        return tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
    finally:
        _NOW[0] = None


# ---------------------------------------------------------------- single calls
# (name, kind, cron, tz, start_date, end_date, catchup, last(start, end) | None, now)
INFO_CASES = [
    ("interval daily first run aligns an off-tick start date to the next midnight",
     "Interval", "@daily", "UTC", "2024-01-01T10:15:00Z", None, True, None, "2024-06-01T00:00:00Z"),
    ("interval daily first run keeps a start date already on a tick",
     "Interval", "@daily", "UTC", "2024-01-01T00:00:00Z", None, True, None, "2024-06-01T00:00:00Z"),
    ("trigger daily first run aligns an off-tick start date to the next midnight",
     "Trigger", "@daily", "UTC", "2024-01-01T10:15:00Z", None, True, None, "2024-06-01T00:00:00Z"),
    ("interval with catchup and no start date has no run",
     "Interval", "@daily", "UTC", None, None, True, None, "2024-06-01T00:00:00Z"),
    ("trigger with catchup and no start date has no run",
     "Trigger", "@daily", "UTC", None, None, True, None, "2024-06-01T00:00:00Z"),
    ("interval follows the previous interval",
     "Interval", "@hourly", "UTC", "2024-01-01T00:00:00Z", None, True,
     ("2024-01-01T05:00:00Z", "2024-01-01T06:00:00Z"), "2024-06-01T00:00:00Z"),
    ("interval realigns a previous interval end left by an older schedule",
     "Interval", "@hourly", "UTC", "2024-01-01T00:00:00Z", None, True,
     ("2024-01-01T04:17:00Z", "2024-01-01T05:17:00Z"), "2024-06-01T00:00:00Z"),
    ("interval stops once the next start is past the end date",
     "Interval", "@daily", "UTC", "2024-01-01T00:00:00Z", "2024-01-03T12:00:00Z", True,
     ("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"), "2024-06-01T00:00:00Z"),
    ("interval still runs when the start equals the end date",
     "Interval", "@daily", "UTC", "2024-01-01T00:00:00Z", "2024-01-04T00:00:00Z", True,
     ("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"), "2024-06-01T00:00:00Z"),
    ("trigger stops once the next tick is past the end date",
     "Trigger", "@daily", "UTC", "2024-01-01T00:00:00Z", "2024-01-03T12:00:00Z", True,
     ("2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z"), "2024-06-01T00:00:00Z"),
    ("interval without catchup starts at the latest complete interval",
     "Interval", "@daily", "UTC", "2024-01-01T00:00:00Z", None, False, None, "2024-06-10T15:30:00Z"),
    ("interval without catchup exactly on a tick takes the interval ending now",
     "Interval", "@daily", "UTC", "2024-01-01T00:00:00Z", None, False, None, "2024-06-10T00:00:00Z"),
    ("interval without catchup respects a future start date",
     "Interval", "@daily", "UTC", "2024-07-01T06:00:00Z", None, False, None, "2024-06-10T15:30:00Z"),
    ("interval without catchup and no start date still schedules",
     "Interval", "@hourly", "UTC", None, None, False, None, "2024-06-10T15:30:00Z"),
    ("interval without catchup does not repeat the last interval",
     "Interval", "@daily", "UTC", "2024-01-01T00:00:00Z", None, False,
     ("2024-06-09T00:00:00Z", "2024-06-10T00:00:00Z"), "2024-06-10T15:30:00Z"),
    ("trigger without catchup runs the latest past tick",
     "Trigger", "@daily", "UTC", "2024-01-01T00:00:00Z", None, False, None, "2024-06-10T15:30:00Z"),
    ("trigger without catchup after the latest tick waits for the next",
     "Trigger", "@daily", "UTC", "2024-01-01T00:00:00Z", None, False,
     ("2024-06-10T00:00:00Z", "2024-06-10T00:00:00Z"), "2024-06-10T15:30:00Z"),
    ("trigger without catchup respects a future start date",
     "Trigger", "@daily", "UTC", "2024-07-01T06:00:00Z", None, False, None, "2024-06-10T15:30:00Z"),
    ("interval start date on the tick before the new york gap day is pushed past it",
     "Interval", "30 2 * * *", "America/New_York", "2024-03-09T07:30:00Z", None, True,
     ("2024-03-08T07:30:00Z", "2024-03-09T07:30:00Z"), "2024-06-01T00:00:00Z"),
    ("interval on new york spring forward maps 02:30 to 03:30 edt",
     "Interval", "30 2 * * *", "America/New_York", "2024-01-01T05:00:00Z", None, True,
     ("2024-03-08T07:30:00Z", "2024-03-09T07:30:00Z"), "2024-06-01T00:00:00Z"),
    ("interval on new york spring forward continues the day after",
     "Interval", "30 2 * * *", "America/New_York", "2024-03-09T07:30:00Z", None, True,
     ("2024-03-09T07:30:00Z", "2024-03-10T07:30:00Z"), "2024-06-01T00:00:00Z"),
    ("trigger on new york spring forward maps 02:30 to 03:30 edt",
     "Trigger", "30 2 * * *", "America/New_York", "2024-03-09T07:30:00Z", None, True,
     ("2024-03-09T07:30:00Z", "2024-03-09T07:30:00Z"), "2024-06-01T00:00:00Z"),
    ("interval on new york fall back picks the second 01:30",
     "Interval", "30 1 * * *", "America/New_York", "2024-11-01T05:30:00Z", None, True,
     ("2024-11-01T05:30:00Z", "2024-11-02T05:30:00Z"), "2024-12-01T00:00:00Z"),
    ("trigger on new york fall back picks the second 01:30",
     "Trigger", "30 1 * * *", "America/New_York", "2024-11-01T05:30:00Z", None, True,
     ("2024-11-02T05:30:00Z", "2024-11-02T05:30:00Z"), "2024-12-01T00:00:00Z"),
    ("interval hourly without catchup inside the first new york fold hour",
     "Interval", "0 * * * *", "America/New_York", "2024-01-01T00:00:00Z", None, False, None,
     "2024-11-03T05:45:00Z"),
    ("interval hourly without catchup inside the second new york fold hour",
     "Interval", "0 * * * *", "America/New_York", "2024-01-01T00:00:00Z", None, False, None,
     "2024-11-03T06:45:00Z"),
    ("interval daily 01:30 without catchup during the new york fold",
     "Interval", "30 1 * * *", "America/New_York", "2024-01-01T00:00:00Z", None, False, None,
     "2024-11-03T05:45:00Z"),
    ("trigger daily 01:30 without catchup between the two new york 01:30s",
     "Trigger", "30 1 * * *", "America/New_York", "2024-01-01T00:00:00Z", None, False, None,
     "2024-11-03T05:45:00Z"),
    ("trigger daily 02:30 without catchup on new york spring forward",
     "Trigger", "30 2 * * *", "America/New_York", "2024-01-01T00:00:00Z", None, False, None,
     "2024-03-10T07:45:00Z"),
    ("interval start date inside the new york gap aligns to the next tick",
     "Interval", "30 2 * * *", "America/New_York", "2024-03-10T07:10:00Z", None, True, None,
     "2024-06-01T00:00:00Z"),
    ("interval without catchup half a second after a tick takes the interval ending at that tick",
     "Interval", "@daily", "UTC", "2024-01-01T00:00:00Z", None, False, None, "2024-06-10T00:00:00.500000Z"),
    ("trigger without catchup half a second after a new york hourly tick runs that tick",
     "Trigger", "0 * * * *", "America/New_York", "2024-01-01T00:00:00Z", None, False, None,
     "2024-11-03T06:00:00.500000Z"),
    ("interval hourly without catchup half a second into the second new york fold hour",
     "Interval", "0 * * * *", "America/New_York", "2024-01-01T00:00:00Z", None, False, None,
     "2024-11-03T06:00:00.500000Z"),
    ("interval london fall back 01:30 picks the gmt one",
     "Interval", "30 1 * * *", "Europe/London", "2024-10-26T00:30:00Z", None, True,
     ("2024-10-25T00:30:00Z", "2024-10-26T00:30:00Z"), "2024-12-01T00:00:00Z"),
]

# ---------------------------------------------------------------- run sequences
# next_runs: (name, kind, cron, tz, start_date, end_date, after, n)
SEQ_CASES = []
for kind in ("Interval", "Trigger"):
    k = kind.lower()
    SEQ_CASES += [
        (f"{k} hourly preset in utc", kind, "@hourly", "UTC", None, None, "2024-01-01T10:30:00Z", 3),
        (f"{k} daily preset in utc", kind, "@daily", "UTC", None, None, "2024-01-01T10:30:00Z", 3),
        (f"{k} weekly preset runs on sundays", kind, "@weekly", "UTC", None, None, "2024-01-01T00:00:00Z", 3),
        (f"{k} monthly preset in utc", kind, "@monthly", "UTC", None, None, "2024-01-15T00:00:00Z", 3),
        (f"{k} yearly preset in utc", kind, "@yearly", "UTC", None, None, "2024-03-01T00:00:00Z", 2),
        (f"{k} plain cron every fifteen minutes on weekdays", kind, "*/15 9-17 * * 1-5", "UTC", None, None,
         "2024-01-05T17:20:00Z", 3),
        (f"{k} first of month or monday", kind, "0 0 1 * MON", "UTC", None, None, "2024-01-25T00:00:00Z", 5),
        (f"{k} start date after the query start wins", kind, "@daily", "UTC", "2024-01-10T06:00:00Z", None,
         "2024-01-01T00:00:00Z", 2),
        (f"{k} end date stops the sequence", kind, "@daily", "UTC", None, "2024-01-03T00:00:00Z",
         "2024-01-01T00:00:00Z", 5),
        (f"{k} new york daily 02:30 across spring forward", kind, "30 2 * * *", "America/New_York", None, None,
         "2024-03-08T12:00:00Z", 4),
        (f"{k} new york daily 02:30 across fall back", kind, "30 2 * * *", "America/New_York", None, None,
         "2024-11-01T12:00:00Z", 4),
        (f"{k} new york daily 01:30 across fall back", kind, "30 1 * * *", "America/New_York", None, None,
         "2024-11-01T12:00:00Z", 4),
        (f"{k} new york daily 01:30 across spring forward", kind, "30 1 * * *", "America/New_York", None, None,
         "2024-03-08T12:00:00Z", 4),
        (f"{k} new york hourly across spring forward", kind, "0 * * * *", "America/New_York", None, None,
         "2024-03-10T05:00:00Z", 5),
        (f"{k} new york half past hourly across fall back", kind, "30 * * * *", "America/New_York", None, None,
         "2024-11-03T04:00:00Z", 5),
        (f"{k} london daily 02:30 across spring forward", kind, "30 2 * * *", "Europe/London", None, None,
         "2024-03-29T12:00:00Z", 4),
        (f"{k} london daily 01:30 across fall back", kind, "30 1 * * *", "Europe/London", None, None,
         "2024-10-25T12:00:00Z", 4),
        (f"{k} london daily 01:30 across spring forward", kind, "30 1 * * *", "Europe/London", None, None,
         "2024-03-29T12:00:00Z", 4),
        (f"{k} london hourly across fall back", kind, "0 * * * *", "Europe/London", None, None,
         "2024-10-26T23:00:00Z", 5),
        (f"{k} london half past hourly across spring forward", kind, "30 * * * *", "Europe/London", None, None,
         "2024-03-31T00:00:00Z", 4),
        (f"{k} new york every two hours across fall back", kind, "0 */2 * * *", "America/New_York", None, None,
         "2024-11-03T03:00:00Z", 4),
    ]

# ---------------------------------------------------------------- scheduler loop
# due_runs: (name, kind, cron, tz, start_date, catchup, last | None, now, limit)
DUE_CASES = []
for kind in ("Interval", "Trigger"):
    k = kind.lower()
    last = (("2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z") if kind == "Interval"
            else ("2024-06-02T00:00:00Z", "2024-06-02T00:00:00Z"))
    DUE_CASES += [
        (f"{k} without catchup after three days down runs only the latest interval", kind, "@daily", "UTC",
         "2024-01-01T00:00:00Z", False, last, "2024-06-05T09:00:00Z", 100),
        (f"{k} with catchup after three days down runs every missed interval in order", kind, "@daily", "UTC",
         "2024-01-01T00:00:00Z", True, last, "2024-06-05T09:00:00Z", 100),
        (f"{k} with catchup is capped by the limit", kind, "@daily", "UTC",
         "2024-01-01T00:00:00Z", True, last, "2024-06-05T09:00:00Z", 2),
        (f"{k} with nothing due yields no run", kind, "@daily", "UTC",
         "2024-01-01T00:00:00Z", True, last, "2024-06-02T09:00:00Z", 100),
        (f"{k} new york hourly catchup through the fall back fold", kind, "0 * * * *", "America/New_York",
         "2024-11-03T03:00:00Z", True, None, "2024-11-03T07:30:00Z", 100),
    ]


# next_wakeup: (name, kind, cron, tz, start_date, end_date, catchup, last | None, now)
WAKEUP_CASES = [
    ("interval daily without catchup wakes at the next midnight", "Interval", "@daily", "UTC",
     "2024-01-01T00:00:00Z", None, False, ("2024-06-09T00:00:00Z", "2024-06-10T00:00:00Z"), "2024-06-10T15:30:00Z"),
    ("interval behind schedule wakes immediately", "Interval", "@daily", "UTC",
     "2024-01-01T00:00:00Z", None, True, ("2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z"), "2024-06-05T09:00:00Z"),
    ("interval past its end date never wakes", "Interval", "@daily", "UTC",
     "2024-01-01T00:00:00Z", "2024-06-02T00:00:00Z", True, ("2024-06-02T00:00:00Z", "2024-06-03T00:00:00Z"),
     "2024-06-03T09:00:00Z"),
    ("trigger hourly wakes at the repeated new york hour", "Trigger", "0 * * * *", "America/New_York",
     "2024-01-01T00:00:00Z", None, True, ("2024-11-03T05:00:00Z", "2024-11-03T05:00:00Z"), "2024-11-03T05:10:00Z"),
    ("interval daily 01:30 wakes at the second new york 01:30", "Interval", "30 1 * * *", "America/New_York",
     "2024-01-01T00:00:00Z", None, True, ("2024-11-01T05:30:00Z", "2024-11-02T05:30:00Z"), "2024-11-02T12:00:00Z"),
    ("trigger daily 02:30 wakes at 03:30 edt on the new york gap day", "Trigger", "30 2 * * *", "America/New_York",
     "2024-01-01T00:00:00Z", None, False, ("2024-03-09T07:30:00Z", "2024-03-09T07:30:00Z"), "2024-03-09T12:00:00Z"),
]


def restriction(start, end, catchup):
    return TimeRestriction(ts(start), ts(end), catchup)


def interval_rs(info) -> str:
    if info is None:
        return "None"
    di = info.data_interval
    return (f'Some(("{fmt(info.logical_date)}", "{fmt(di.start)}", "{fmt(di.end)}", '
            f'"{fmt(info.run_after)}"))')


def pairs_rs(infos) -> str:
    return "&[" + ", ".join(f'("{fmt(i.data_interval.start)}", "{fmt(i.data_interval.end)}")' for i in infos) + "]"


def last_rs(last) -> str:
    return "None" if last is None else f'Some(("{last[0]}", "{last[1]}"))'


def to_interval(last):
    return None if last is None else DataInterval(ts(last[0]), ts(last[1]))


def main() -> None:
    out = sys.stdout
    out.write(f"    // Generated by airflow_oracle.py with Airflow {airflow.__version__}.\n")
    out.write("    #[rustfmt::skip]\n    const INFO_CASES: &[InfoCase] = &[\n")
    for name, kind, cron, tz, start, end, catchup, last, now in INFO_CASES:
        tt = make(kind, cron, tz)
        info = call(tt, to_interval(last), restriction(start, end, catchup), now)
        out.write(
            f'        InfoCase {{ name: "{name}", kind: {kind}, cron: "{cron}", tz: "{tz}", '
            f"start: {rs_str(start)}, end: {rs_str(end)}, catchup: {str(catchup).lower()}, "
            f'last: {last_rs(last)}, now: "{now}", want: {interval_rs(info)} }},\n'
        )
    out.write("    ];\n\n")

    out.write("    #[rustfmt::skip]\n    const SEQ_CASES: &[SeqCase] = &[\n")
    for name, kind, cron, tz, start, end, after, n in SEQ_CASES:
        tt = make(kind, cron, tz)
        earliest = max(ts(after), ts(start)) if start else ts(after)
        r = TimeRestriction(earliest, ts(end), True)
        infos, last = [], None
        while len(infos) < n:
            info = call(tt, last, r, None)
            if info is None:
                break
            infos.append(info)
            last = info.data_interval
        out.write(
            f'        SeqCase {{ name: "{name}", kind: {kind}, cron: "{cron}", tz: "{tz}", '
            f'start: {rs_str(start)}, end: {rs_str(end)}, after: "{after}", n: {n}, want: {pairs_rs(infos)} }},\n'
        )
    out.write("    ];\n\n")

    out.write("    #[rustfmt::skip]\n    const DUE_CASES: &[DueCase] = &[\n")
    for name, kind, cron, tz, start, catchup, last, now, limit in DUE_CASES:
        tt = make(kind, cron, tz)
        r = restriction(start, None, catchup)
        infos, prev = [], to_interval(last)
        # The scheduler loop: create the next run while it is due at `now`.
        while len(infos) < limit:
            info = call(tt, prev, r, now)
            if info is None or info.run_after > ts(now):
                break
            infos.append(info)
            prev = info.data_interval
        out.write(
            f'        DueCase {{ name: "{name}", kind: {kind}, cron: "{cron}", tz: "{tz}", '
            f'start: {rs_str(start)}, catchup: {str(catchup).lower()}, last: {last_rs(last)}, '
            f'now: "{now}", limit: {limit}, want: {pairs_rs(infos)} }},\n'
        )
    out.write("    ];\n\n")

    # The wakeup is the run_after of Airflow's next run, or `now` when that run is already due.
    out.write("    #[rustfmt::skip]\n    const WAKEUP_CASES: &[WakeupCase] = &[\n")
    for name, kind, cron, tz, start, end, catchup, last, now in WAKEUP_CASES:
        tt = make(kind, cron, tz)
        info = call(tt, to_interval(last), restriction(start, end, catchup), now)
        want = None if info is None else fmt(max(info.run_after, ts(now)))
        out.write(
            f'        WakeupCase {{ name: "{name}", kind: {kind}, cron: "{cron}", tz: "{tz}", '
            f"start: {rs_str(start)}, end: {rs_str(end)}, catchup: {str(catchup).lower()}, "
            f'last: {last_rs(last)}, now: "{now}", want: {rs_str(want)} }},\n'
        )
    out.write("    ];\n\n")

    # Evidence for the rejection table: what Airflow's own validation says.
    for expr in ("61 * * * *", "0 24 * * *", "0 0 32 * *", "0 0 * 13 *", "0 0 * * 8", "0 0 * *",
                 "0 0 * * * *", "@fortnightly", "0 0 1 * MON", "@quarterly"):
        tt = CronDataIntervalTimetable(expr, pendulum.timezone("UTC"))
        try:
            tt.validate()
            verdict = "accepted"
        except AirflowTimetableInvalid as e:
            verdict = f"rejected: {e}"
        out.write(f"    // airflow validate({expr!r}): {verdict}\n")


if __name__ == "__main__":
    main()
