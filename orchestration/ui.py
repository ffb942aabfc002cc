"""`make ui` / `make ui-stop`: the Dagster UI (webserver + daemon: sensor, schedule, run queue).

`dagster dev` started from a script or in the background inherits "ignore SIGINT" and did not stop on
Ctrl-C or a plain kill. This wrapper starts it in its own process group with the default signal
handlers restored, records the group in $DAGSTER_HOME/ui.pid, and on SIGINT/SIGTERM (Ctrl-C in the
terminal, or `make ui-stop` from another one) stops the whole group: SIGTERM, then SIGKILL after 20 s.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestration.pipeline import dagster_instance, prepare_dagster_home

GRACE_SECONDS = 20


def pid_file() -> Path:
    return prepare_dagster_home() / "ui.pid"


def _restore_default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def stop_group(pgid: int, grace: float = GRACE_SECONDS) -> bool:
    """SIGTERM the process group, then SIGKILL what is left after `grace` seconds. True if it was running."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def serve(host: str, port: int) -> int:
    dagster_instance()  # create DAGSTER_HOME's storages once, under the instance lock
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.Popen([str(dagster), "dev", "-m", "orchestration.definitions", "-h", host, "-p", str(port)],
                            start_new_session=True, preexec_fn=_restore_default_signals)
    pid_file().write_text(str(proc.pid), encoding="utf-8")
    print(f"Dagster UI on http://{host}:{port} (process group {proc.pid}); stop it with Ctrl-C or `make ui-stop`",
          flush=True)

    def _stop(signum, _frame):
        print(f"stopping the Dagster UI (signal {signum}) ...", flush=True)
        stop_group(proc.pid)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    try:
        return proc.wait()
    finally:
        stop_group(proc.pid, grace=0.5)
        pid_file().unlink(missing_ok=True)


def stop() -> int:
    path = pid_file()
    if not path.exists():
        print("no Dagster UI started by `make ui` is running (no ui.pid in DAGSTER_HOME)")
        return 0
    pgid = int(path.read_text(encoding="utf-8").strip())
    running = stop_group(pgid)
    path.unlink(missing_ok=True)
    print(f"Dagster UI (process group {pgid}) {'stopped' if running else 'was not running'}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["serve", "stop"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3000)
    args = ap.parse_args(argv)
    return serve(args.host, args.port) if args.command == "serve" else stop()


if __name__ == "__main__":
    sys.exit(main())
