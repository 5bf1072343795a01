"""The data directory on a hostile or broken filesystem: never a hang, never a crash.

What another program, a bad copy or a full disk can leave where the client expects
one of its small files: a FIFO (an ordinary open waits for a writer forever), a
device that never ends, a file of a gigabyte, JSON nested past the stack.
"""

import os
from pathlib import Path

import pytest
from client_helpers import assert_clean, clean_env, run_command, run_host

from sempervirens.client import _actions, _consent, _identity, _policy, _projects

# Every small file the client reads, and what reads it: a host's first recording
# and its exit (consent, id, projects, policies, drop counts, pauses), or a command.
STATE_FILES = (
    _consent.FILENAME,
    _identity.FILENAME,
    _projects.FILENAME,
    _policy.FILENAME,
    _actions.OPT_OUTS,
    "spool/dropped.json",
    "spool/pause.json",
)
COMMANDS = (("status",), ("show",), ("send",), ("opt-out", "hostpkg"))

# The host's own peak (VmHWM, KiB): ru_maxrss outlives exec, so it would report the
# pytest worker the host was forked from.
HOST = """\
    import sempervirens
    t = sempervirens.Telemetry("hostpkg", version="1", endpoint={endpoint!r})
    t.count("run")
    t.flush()
    with open("/proc/self/status") as status:
        hwm = next(line for line in status if line.startswith("VmHWM:"))
    print("peak", hwm.split()[1])
"""


def _user(tmp_path: Path) -> Path:
    """A user who opted in (every file is then read), with one usage ping pending."""
    home = tmp_path / "home"
    (home / "spool").mkdir(parents=True)
    _consent.update(str(home), "usage", "hostpkg", _consent.GRANTED)
    return home


def _plant(home: Path, name: str, kind: str) -> None:
    path = home / name
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "endless device":
        path.symlink_to("/dev/zero")
    elif kind == "1 GB":
        with open(path, "wb") as f:
            f.truncate(1 << 30)  # sparse: no disk, but a gigabyte to whoever reads it
    elif kind == "nested":
        path.write_bytes(b"[" * 1_000_000)


def _run_everything(home: Path, endpoint: str) -> int:
    """A host program and every command; each must end on its own. The host's peak RSS."""
    env = clean_env(SEMPERVIRENS_HOME=str(home), SEMPERVIRENS_EXIT_TIMEOUT="0.5")
    result = run_host(HOST.format(endpoint=endpoint), env, timeout=30)
    assert_clean(result)
    for command in COMMANDS:
        done = run_command(env, *command)
        assert "Traceback" not in done.stderr, (command, done.stderr)
    return int(result.stdout.split("peak")[1])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("kind", ["fifo", "endless device"])
@pytest.mark.parametrize("name", STATE_FILES)
def test_a_fifo_or_device_instead_of_a_file_never_blocks(tmp_path, closed_port, name, kind):
    home = _user(tmp_path)
    _plant(home, name, kind)
    _run_everything(home, closed_port)  # before: the first recording or the exit hung


@pytest.mark.parametrize("kind", ["1 GB", "nested"])
@pytest.mark.parametrize("name", ["consent.json", "projects.json", "spool/dropped.json"])
def test_a_huge_or_deeply_nested_file_is_corrupted_not_read(tmp_path, closed_port, name, kind):
    home = _user(tmp_path)
    _plant(home, name, kind)
    peak_kib = _run_everything(home, closed_port)
    assert peak_kib < 300 * 1024  # the host's memory: the gigabyte was never read


def test_a_fifo_in_the_spool_does_not_hang_show(tmp_path):
    home = _user(tmp_path)
    name = "0000000000001.0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405161.usage.hostpkg.ping"
    os.mkfifo(home / "spool" / name)
    env = clean_env(SEMPERVIRENS_HOME=str(home))
    shown = run_command(env, "show")
    assert shown.returncode == 0, shown.stderr
    assert f"# {name}: unreadable" in shown.stdout and "not a regular file" in shown.stdout


@pytest.mark.parametrize("kind", ["fifo", "1 GB"])
def test_a_broken_id_file_is_refused_or_replaced_without_reading_it(tmp_path, kind):
    _plant(tmp_path, "client_id", kind)
    value = _identity.get_or_create(str(tmp_path))
    if kind == "fifo":
        assert value is None  # not ours to replace; nothing is sent without an id
    else:
        assert _identity.is_uuid4(value) and (tmp_path / "client_id").stat().st_size == 37


# -- a data directory that is not the user's alone ------------------------------

PLANTED_ID = "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405199"  # another user's choice of our id
OTHER_UID = 65534  # nobody


def _as_root():
    return pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a file away needs root"
    )


def _shared(tmp_path: Path, how: str) -> Path:
    """A data directory on a shared /tmp that another user prepared, or can write to."""
    real = tmp_path / "prepared"
    real.mkdir()
    (real / "client_id").write_text(PLANTED_ID + "\n")
    (real / "spool").mkdir()
    if how == "writable by the group":
        real.chmod(0o770)
    elif how == "writable by all":
        real.chmod(0o1777)
    elif how == "owned by another user":
        real.chmod(0o755)
        os.chown(real, OTHER_UID, OTHER_UID)
    elif how == "another user's link to it":
        real.chmod(0o700)
        link = tmp_path / "link"
        link.symlink_to(real)
        os.lchown(link, OTHER_UID, OTHER_UID)
        return link
    return real


HOWS = [
    "writable by the group",
    "writable by all",
    pytest.param("owned by another user", marks=_as_root()),
    pytest.param("another user's link to it", marks=_as_root()),
]


@pytest.mark.parametrize("how", HOWS)
def test_a_data_directory_others_control_is_refused_with_one_warning(tmp_path, closed_port, how):
    data_dir = _shared(tmp_path, how)
    before = sorted(p.name for p in Path(os.path.realpath(data_dir)).rglob("*"))
    code = f"""\
        import sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint={closed_port!r})
        for _ in range(3):
            t.count("run")
        t.opt_in()
        t.flush()
        print("enabled", t.enabled)
    """
    env = clean_env(SEMPERVIRENS_HOME=str(data_dir), SEMPERVIRENS_EXIT_TIMEOUT="0.5")
    result = run_host(code, env)
    assert_clean(result)
    assert "enabled False" in result.stdout
    # Nothing written there: no consent, no notice, no ping carrying the planted id.
    assert sorted(p.name for p in Path(os.path.realpath(data_dir)).rglob("*")) == before
    [warning] = [line for line in result.stderr.splitlines() if "UserWarning" in line]
    assert str(data_dir) in warning and "nothing is kept" in warning
    decided = run_command(env, "opt-in", "hostpkg")
    assert decided.returncode == 1 and "nothing is kept" in decided.stderr, decided.stderr
    status = run_command(env, "status")
    assert "refused, nothing is kept" in status.stdout, status.stdout


def test_the_users_own_private_directory_is_used(tmp_path, closed_port):
    data_dir = tmp_path / "mine"
    data_dir.mkdir(mode=0o700)
    code = f"""\
        import sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint={closed_port!r})
        t.count("run")
        print("enabled", t.enabled)
    """
    result = run_host(code, clean_env(SEMPERVIRENS_HOME=str(data_dir)))
    assert_clean(result)
    assert "enabled True" in result.stdout and (data_dir / "client_id").exists()
