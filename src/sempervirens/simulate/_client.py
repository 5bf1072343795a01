"""One simulated installation running today, in a process of its own, through the
real client library: consent files, installation id, spool, uploader, atexit flush.

Started by run.py as `python -m sempervirens.simulate._client` with a JSON spec on
stdin.  Three things are simulated, each in the open:
- the platform: the client's cached environment is set to the installation's;
- the network: `_transport.SIMULATION_HEADERS` carries X-Forwarded-For with the
  installation's address (the server believes it only from --trusted-proxies);
- durations: timings are recorded with the simulated duration instead of a clock.
Everything else (consent, ids, bodies, gzip, HTTP, retries) is the library's.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    spec = json.load(sys.stdin)
    home = spec["home"]
    os.environ["SEMPERVIRENS_HOME"] = home
    os.environ["SEMPERVIRENS_EXIT_TIMEOUT"] = "10"  # the upload completes before exit
    for name in ("DO_NOT_TRACK", "SEMPERVIRENS_OPT_OUT", "SEMPERVIRENS_ENDPOINT"):
        os.environ.pop(name, None)

    from sempervirens.client import _actions, _environment, _paths, _transport

    _environment._cache = dict(spec["environment"])
    _transport.SIMULATION_HEADERS["X-Forwarded-For"] = spec["ip"]
    _paths.ensure_dir(home)
    id_path = os.path.join(home, "client_id")
    if not os.path.exists(id_path):  # the id an earlier run (the history) made
        with open(id_path, "w", encoding="ascii") as f:
            f.write(spec["client_id"] + "\n")
    for run in spec["runs"]:
        # The user's yes, said in an earlier run (after the one-time notice).
        _actions.opt_in(home, run["project"])
        if spec["crash_permission"]:
            _actions.opt_in(home, run["project"], crash_only=True)

    import sempervirens
    from sempervirens.client._uploader import uploader

    for run in spec["runs"]:
        telemetry = sempervirens.Telemetry(run["project"], version=run["version"],
                                           endpoint=spec["endpoint"])
        for name, n in run["counters"].items():
            telemetry.count(name, n)
        for name, labels in run["labeled"].items():
            for label, n in labels.items():
                telemetry.count(name, n, label=label)
        if telemetry.enabled:
            for name, durations in run["timings"].items():
                for duration in durations:
                    telemetry._add_timing(name, duration)  # what timer() records, simulated
        if run["crash"]:
            telemetry.report_crash(_crash(run["crash"]))
        if spec["opt_out"]:
            # Today's usage goes first (opting out deletes what is still pending),
            # then the user says no.
            telemetry.flush()
            uploader.wait(uploader.request(), 10)
            telemetry.opt_out()
    return 0


def _crash(kind: str) -> BaseException:
    """An exception of that type, raised so it carries a real traceback."""
    module, _, name = kind.rpartition(".")
    import builtins

    cls = getattr(builtins, name, None) if not module else None
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = type(name, (Exception,), {"__module__": module or "builtins"})
    try:
        raise cls("simulated failure")
    except BaseException as error:  # noqa: BLE001 - made to be reported
        return error


if __name__ == "__main__":
    sys.exit(main())
