//! Who drives a run: this process's identity as an owner (host, pid, the
//! pid's start time, boot id), and whether another owner is still alive. On
//! the same host and boot an owner whose pid is gone is dead at once; any
//! other owner is alive until its heartbeat is `lease_timeout` old.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::{Lease, Owner, OwnerKind};

/// How often an owner renews its heartbeat and its runs' leases.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// The default time after which a silent owner's leases are free.
pub const DEFAULT_LEASE_TIMEOUT: Duration = Duration::from_secs(15);

/// This process as an owner of kind `kind`, started now.
pub fn this_process(kind: OwnerKind, now: DateTime<Utc>) -> Owner {
    let pid = std::process::id();
    let pid_start = process_start(pid).unwrap_or(0);
    let host = hostname();
    Owner {
        id: format!("{}-{host}-{pid}-{pid_start}", kind.as_str()),
        kind,
        host,
        pid,
        pid_start,
        boot_id: boot_id(),
        started_at: now,
        heartbeat_at: now,
        stopped_at: None,
    }
}

/// The machine's name, as `hostname` prints it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// This boot of the machine (Linux's `boot_id`; empty elsewhere).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|b| b.trim().to_string())
        .unwrap_or_default()
}

/// When process `pid` started, in clock ticks since boot, if it exists and
/// is not a zombie.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name may hold spaces and parentheses: fields follow the last `)`
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    // field 22 of stat is the 20th after the command name
    fields.get(19)?.parse().ok()
}

/// Whether `owner` may still be driving runs at `now`.
pub fn is_alive(owner: &Owner, me: &Owner, now: DateTime<Utc>, timeout: Duration) -> bool {
    if owner.stopped_at.is_some() {
        return false;
    }
    if owner.id == me.id {
        return true;
    }
    if owner.host == me.host && !owner.boot_id.is_empty() && owner.boot_id == me.boot_id {
        return process_start(owner.pid) == Some(owner.pid_start);
    }
    let timeout = crate::model::time::chrono_duration(timeout);
    owner.heartbeat_at + timeout > now
}

/// Whether a run's lease can be taken at `now`: none, expired, or held by
/// an owner that is gone (`holder` is its row, if it has one).
pub fn is_free(
    lease: Option<&Lease>,
    holder: Option<&Owner>,
    me: &Owner,
    now: DateTime<Utc>,
    timeout: Duration,
) -> bool {
    match lease {
        None => true,
        Some(lease) if lease.expires_at <= now => true,
        Some(lease) if lease.owner == me.id => false,
        Some(_) => holder.is_none_or(|owner| !is_alive(owner, me, now, timeout)),
    }
}

/// How the holder of a lease is named in messages: `pid 123 on host, since T`.
pub fn describe(owner: &Owner) -> String {
    format!(
        "airless {} (pid {} on {}, since {})",
        match owner.kind {
            OwnerKind::Serve => "serve",
            OwnerKind::DagsTest => "dags test",
        },
        owner.pid,
        owner.host,
        crate::model::time::isoformat(owner.started_at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }

    fn other(host: &str, boot: &str, pid: u32, pid_start: u64) -> Owner {
        Owner {
            id: "other".into(),
            kind: OwnerKind::Serve,
            host: host.into(),
            pid,
            pid_start,
            boot_id: boot.into(),
            started_at: at(0),
            heartbeat_at: at(0),
            stopped_at: None,
        }
    }

    #[test]
    fn an_owner_on_this_boot_is_alive_exactly_while_its_process_is() {
        let me = this_process(OwnerKind::Serve, at(0));
        let alive = other(&me.host, &me.boot_id, me.pid, me.pid_start);
        assert!(is_alive(&alive, &me, at(1000), DEFAULT_LEASE_TIMEOUT));
        // the same pid with another start time is a reused pid
        let reused = other(&me.host, &me.boot_id, me.pid, me.pid_start + 1);
        assert!(!is_alive(&reused, &me, at(1), DEFAULT_LEASE_TIMEOUT));
    }

    #[test]
    fn an_owner_elsewhere_is_alive_until_its_heartbeat_is_a_lease_timeout_old() {
        let me = this_process(OwnerKind::Serve, at(0));
        let remote = other("elsewhere", "another-boot", 1, 1);
        assert!(is_alive(&remote, &me, at(14), DEFAULT_LEASE_TIMEOUT));
        assert!(!is_alive(&remote, &me, at(15), DEFAULT_LEASE_TIMEOUT));
    }

    #[test]
    fn a_lease_is_free_when_absent_expired_or_its_holder_is_gone() {
        let me = this_process(OwnerKind::Serve, at(0));
        let remote = other("elsewhere", "b", 1, 1);
        let lease = Lease {
            owner: "other".into(),
            expires_at: at(10),
        };
        assert!(is_free(None, None, &me, at(0), DEFAULT_LEASE_TIMEOUT));
        assert!(!is_free(
            Some(&lease),
            Some(&remote),
            &me,
            at(5),
            DEFAULT_LEASE_TIMEOUT
        ));
        assert!(is_free(
            Some(&lease),
            Some(&remote),
            &me,
            at(10),
            DEFAULT_LEASE_TIMEOUT
        ));
        let gone = other(&me.host, &me.boot_id, u32::MAX - 1, 1);
        assert!(is_free(
            Some(&lease),
            Some(&gone),
            &me,
            at(5),
            DEFAULT_LEASE_TIMEOUT
        ));
    }
}
