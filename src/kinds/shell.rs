//! `shell`: runs a command (`bash -c` for a string, argv for a list) in its
//! own process group, streams stdout/stderr to the try's log, and on
//! cancellation kills the whole group (SIGTERM, then SIGKILL after a grace).
//! The last line of stdout is the output, as BashOperator pushes it to XCom.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::{TaskContext, TaskError, TaskResult, output_from_text};
use crate::dag::{ShellCommand, ShellSpec};

/// How long a cancelled command gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How long a killed command's output is read for after the kill: what it
/// wrote before is in the pipes; only a process that left the group can
/// keep them open.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

pub async fn run(spec: &ShellSpec, ctx: &TaskContext) -> TaskResult {
    // The command waits at a gate until its process group is written down:
    // if airless dies before that, the gate's stdin closes and nothing of
    // the command ever runs; after it, an adopter finds the group to kill.
    let mut command = Command::new("bash");
    command.arg("-c");
    match &spec.command {
        ShellCommand::Script(script) => {
            ctx.log.line(&format!("running: bash -c {script:?}"));
            command
                .arg(r#"read -r _ || exit 97; exec bash -c "$0" </dev/null"#)
                .arg(script);
        }
        ShellCommand::Argv(argv) => {
            if argv.is_empty() {
                return Err(TaskError::permanent("the command list is empty"));
            }
            ctx.log.line(&format!("running: {argv:?}"));
            command
                .arg(r#"read -r _ || exit 97; exec "$@" </dev/null"#)
                .arg("airless-gate")
                .args(argv);
        }
    }
    // airless's own secrets (API tokens, database URL) stay with airless
    for name in ctx.hidden_env.iter() {
        command.env_remove(name);
    }
    command
        .env("AIRFLOW_CTX_DAG_ID", ctx.dag_id.as_str())
        .env("AIRFLOW_CTX_DAG_RUN_ID", ctx.run_id.as_str())
        .env("AIRFLOW_CTX_TASK_ID", ctx.task_id.as_str())
        .env("AIRFLOW_CTX_TRY_NUMBER", ctx.try_number.to_string())
        .envs(&spec.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = spec
        .cwd
        .as_ref()
        .map(std::path::PathBuf::from)
        .or_else(|| ctx.workdir.clone())
    {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().map_err(|err| {
        let message = if is_out_of_descriptors(&err) {
            "cannot start the command: airless is out of file descriptors (raise LimitNOFILE in its unit, or `ulimit -n`)"
        } else {
            "cannot start the command"
        };
        TaskError::transient(message).caused_by(err)
    })?;
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    ctx.log.line(&format!(
        "started process group {}",
        child.id().unwrap_or(0)
    ));
    // written down before anything else happens, so that if airless dies
    // now, whoever adopts the run kills this group before the retry
    if let Some(pgid) = pgid
        && let Err(err) = ctx.recorder.process_group(pgid.as_raw()).await
    {
        let _ = killpg(pgid, Signal::SIGKILL);
        return Err(TaskError::transient(format!(
            "cannot record process group {pgid}, so it was killed: {err}"
        )));
    }
    // open the gate
    if let Some(mut gate) = child.stdin.take() {
        use tokio::io::AsyncWriteExt;
        let _ = gate.write_all(b"go\n").await;
    }

    let stdout = child
        .stdout
        .take()
        .map(|out| tokio::spawn(pump(out, ctx.log.clone(), true)));
    let stderr = child
        .stderr
        .take()
        .map(|err| tokio::spawn(pump(err, ctx.log.clone(), false)));

    let status = tokio::select! {
        status = child.wait() => status.map_err(|err| TaskError::transient(format!("cannot wait for the command: {err}")))?,
        () = ctx.cancel.cancelled() => {
            kill_group(pgid, &mut child, ctx).await;
            // every line written before the kill reaches the log first
            let drained = async {
                for handle in [stdout, stderr].into_iter().flatten() {
                    let _ = handle.await;
                }
            };
            if tokio::time::timeout(DRAIN_WAIT, drained).await.is_err() {
                ctx.log.line("the command's output was still open after it was killed (a process that left its group?): the rest of it is not logged");
            }
            return Err(TaskError::cancelled("the command was killed"));
        }
    };
    // the group may still hold the pipes open (a background child): end it too
    if let Some(pgid) = pgid {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    let last_line = match stdout {
        Some(handle) => handle.await.ok().flatten(),
        None => None,
    };
    if let Some(handle) = stderr {
        let _ = handle.await;
    }
    if status.success() {
        ctx.log.line("command exited with code 0");
        Ok(last_line
            .map(|l| output_from_text(&l))
            .unwrap_or(serde_json::Value::Null))
    } else {
        let message = match status.code() {
            Some(code) => format!("command exited with code {code}"),
            None => "command was killed by a signal".to_string(),
        };
        ctx.log.line(&message);
        Err(TaskError::transient(message))
    }
}

/// Whether `err` says this process (EMFILE) or the whole system (ENFILE)
/// has no file descriptor left: the try fails, airless carries on.
fn is_out_of_descriptors(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(nix::libc::EMFILE | nix::libc::ENFILE)
    )
}

/// SIGTERM to the whole group, SIGKILL if it is still there after the grace.
async fn kill_group(pgid: Option<Pid>, child: &mut tokio::process::Child, ctx: &TaskContext) {
    let Some(pgid) = pgid else { return };
    ctx.log
        .line(&format!("sending SIGTERM to process group {pgid}"));
    let _ = killpg(pgid, Signal::SIGTERM);
    if tokio::time::timeout(KILL_GRACE, child.wait())
        .await
        .is_err()
    {
        ctx.log
            .line(&format!("sending SIGKILL to process group {pgid}"));
    }
    // whatever the leader did, nothing of the group may outlive the try
    let _ = killpg(pgid, Signal::SIGKILL);
    let _ = child.wait().await;
}

/// Copies a pipe to the log line by line; returns the last non-empty line.
async fn pump(
    pipe: impl AsyncRead + Unpin,
    log: super::TaskLog,
    is_stdout: bool,
) -> Option<String> {
    let mut lines = BufReader::new(pipe).lines();
    let mut last = None;
    while let Ok(Some(line)) = lines.next_line().await {
        log.line(&line);
        if is_stdout && !line.trim().is_empty() {
            last = Some(line);
        }
    }
    last
}
