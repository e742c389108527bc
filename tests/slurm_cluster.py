"""A throwaway single-node SLURM cluster for tests.

Starts, in a private temporary folder and on free local ports: munged (own key and
socket), MariaDB (own data folder), slurmdbd (job accounting, so `sacct` works as on a
production cluster), slurmctld and slurmd (one node with this machine's CPUs and memory,
one partition `debug`). Nothing is written outside that folder, and `stop()` ends only
the processes started here, by their PIDs.

Needs root and the Debian packages munge, mariadb-server, slurmdbd, slurmctld, slurmd
and slurm-client; `unavailable_reason()` says what is missing.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PARTITION = "debug"
CLUSTER_NAME = "imtfusiontest"

# executable -> Debian package that provides it
REQUIRED_EXECUTABLES = {
    "munged": "munge",
    "munge": "munge",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "slurmdbd": "slurmdbd",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "sbatch": "slurm-client",
    "srun": "slurm-client",
    "squeue": "slurm-client",
    "sacct": "slurm-client",
    "sacctmgr": "slurm-client",
    "sinfo": "slurm-client",
    "scancel": "slurm-client",
    "scontrol": "slurm-client",
}


def _which(name: str) -> str | None:
    # the daemons live in /usr/sbin, which is not always on a test runner's PATH
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def unavailable_reason() -> str | None:
    """Why a cluster cannot be started here, or None if it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "starting slurmd/slurmctld/munged needs root"
    missing = sorted(name for name in REQUIRED_EXECUTABLES if _which(name) is None)
    if missing:
        packages = sorted({REQUIRED_EXECUTABLES[m] for m in missing})
        return f"not installed: {', '.join(missing)} (apt-get install {' '.join(packages)})"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _node_hardware() -> tuple[int, int]:
    """CPUs and memory (MB) as slurmd itself detects them, so the node registers idle."""
    cpus, memory = os.cpu_count() or 1, 0
    try:
        out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, timeout=30).stdout
        fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
        cpus = int(fields.get("CPUs", cpus))
        memory = int(fields.get("RealMemory", 0))
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    if not memory:
        with open("/proc/meminfo") as fh:
            memory = int(fh.readline().split()[1]) // 1024
    return cpus, memory


class ClusterError(RuntimeError):
    pass


class SlurmCluster:
    """`with SlurmCluster() as cluster:` or start()/stop(); `cluster.env` is the
    environment for SLURM client commands (and for Snakemake) talking to it."""

    def __init__(self, root: str | Path | None = None, keep: bool = False):
        # A short path under /tmp: munged wants every folder up to its socket to be
        # searchable by all, and UNIX socket paths are limited to ~100 characters.
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="imtslurm-", dir="/tmp"))
        self.keep = keep
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.ports = {name: _free_port() for name in ("mariadb", "slurmdbd", "slurmctld", "slurmd")}
        self.cpus, self.memory_mb = _node_hardware()
        self.conf = self.root / "etc" / "slurm.conf"
        self.bin = self.root / "bin"
        self.log = self.root / "log"
        self.munge_socket = self.root / "munge" / "munge.socket"

    # ------------------------------------------------------------------ environment
    @property
    def env(self) -> dict[str, str]:
        """os.environ without inherited SLURM_* variables (e.g. when the tests themselves
        run inside a SLURM job), pointing the client commands at this cluster."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.bin), env.get("PATH", ""), "/usr/sbin", "/usr/bin"])
        return env

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise ClusterError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def sacct(self, *args: str, fields: tuple[str, ...] = ("JobIDRaw", "JobName", "State", "Comment")) -> list[dict]:
        """Allocations (no job steps) known to the accounting database, as dicts."""
        out = self.run(
            "sacct", "-X", "--allusers", "--parsable2", "--noheader", "--starttime", "now-1days",
            f"--format={','.join(fields)}", *args,
        ).stdout
        return [dict(zip(fields, row)) for row in csv.reader(io.StringIO(out), delimiter="|") if row]

    # ------------------------------------------------------------------ start
    def __enter__(self) -> "SlurmCluster":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 90) -> None:
        try:
            self._prepare()
            self._start_munge(timeout)
            self._start_mariadb(timeout)
            self._start_slurmdbd(timeout)
            self._start_slurmctld(timeout)
            self._start_slurmd(timeout)
        except BaseException:
            self.stop()
            raise

    def _prepare(self) -> None:
        for sub in ("etc", "bin", "log", "munge", "db", "state", "spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # munged refuses a socket folder that is not searchable by everyone
        for folder in (self.root, self.root / "munge"):
            folder.chmod(0o755)
        (self.root / "etc" / "plugstack.conf").write_text("")  # ignore the system's SPANK plugins
        self._write_slurm_conf()
        # The slurm-jobstep executor runs each rule with a nested `srun`, after removing
        # all SLURM_* variables from its environment (SLURM_CONF included), because on a
        # real cluster the configuration sits in /etc/slurm or is served by slurmctld
        # ("configless"). This cluster's configuration is in a temporary folder, so the
        # compute node gets an `srun` that knows where it is.
        wrapper = self.bin / "srun"
        wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {_which("srun")} "$@"\n')
        wrapper.chmod(0o755)

    def _write_slurm_conf(self) -> None:
        r = self.root
        self.conf.write_text(
            f"""\
ClusterName={CLUSTER_NAME}
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={self.ports['slurmctld']}
SlurmdPort={self.ports['slurmd']}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
# credentials for slurmdbd connections come from this munged too
AccountingStoragePass={self.munge_socket}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool/%n
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={self.log}/slurmctld.log
SlurmdLogFile={self.log}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={r}/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={self.ports['slurmdbd']}
AccountingStoreFlags=job_comment
NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
        )

    def _spawn(self, name: str, *cmd: str) -> subprocess.Popen:
        out = open(self.log / f"{name}.out", "ab")
        try:
            proc = subprocess.Popen(
                list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.root, start_new_session=True,
            )
        finally:
            out.close()
        self.processes.append((name, proc))
        return proc

    def _wait(self, what: str, ready, timeout: float, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise ClusterError(f"{what} exited with {proc.returncode}\n{self.log_tails()}")
            try:
                if ready():
                    return
            except (OSError, subprocess.SubprocessError, ClusterError):
                pass
            time.sleep(0.3)
        raise ClusterError(f"{what} not ready after {timeout:.0f}s\n{self.log_tails()}")

    def _start_munge(self, timeout: float) -> None:
        key = self.root / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        proc = self._spawn(
            "munged", _which("munged"), "--foreground", f"--key-file={key}",
            f"--socket={self.munge_socket}", f"--pid-file={self.root}/munge/munged.pid",
            f"--log-file={self.log}/munged.log", f"--seed-file={self.root}/munge/munged.seed",
        )

        def ready() -> bool:
            return subprocess.run(
                [_which("munge"), "-n", "-S", str(self.munge_socket)], capture_output=True, timeout=10
            ).returncode == 0

        self._wait("munged", ready, timeout, proc)

    def _start_mariadb(self, timeout: float) -> None:
        data = self.root / "db" / "data"
        with open(self.log / "mariadb-install-db.out", "wb") as out:
            subprocess.run(
                [_which("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--user=root",
                 "--skip-test-db"],
                stdout=out, stderr=subprocess.STDOUT, check=True, timeout=timeout, cwd=self.root,
            )
        self.db_password = secrets.token_hex(12)
        init = self.root / "db" / "init.sql"
        init.write_text(
            "".join(
                f"CREATE USER IF NOT EXISTS 'slurm'@'{host}' IDENTIFIED BY '{self.db_password}';\n"
                f"GRANT ALL ON slurm_acct_db.* TO 'slurm'@'{host}';\n"
                for host in ("127.0.0.1", "localhost")
            )
        )
        init.chmod(0o600)
        proc = self._spawn(
            "mariadbd", _which("mariadbd"), "--no-defaults", f"--datadir={data}", "--user=root",
            f"--socket={self.root}/db/mariadb.sock", f"--pid-file={self.root}/db/mariadb.pid",
            "--bind-address=127.0.0.1", f"--port={self.ports['mariadb']}", "--skip-name-resolve",
            f"--init-file={init}", f"--log-error={self.log}/mariadb.log", "--skip-log-bin",
            "--innodb-buffer-pool-size=64M", "--innodb-lock-wait-timeout=900",
        )
        self._wait("mariadbd", lambda: _port_open(self.ports["mariadb"]), timeout, proc)

    def _start_slurmdbd(self, timeout: float) -> None:
        # slurmdbd reads slurmdbd.conf from the folder of SLURM_CONF
        dbd_conf = self.conf.parent / "slurmdbd.conf"
        dbd_conf.write_text(
            f"""\
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={self.ports['slurmdbd']}
SlurmUser=root
PidFile={self.root}/slurmdbd.pid
LogFile={self.log}/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.ports['mariadb']}
StorageUser=slurm
StoragePass={self.db_password}
StorageLoc=slurm_acct_db
"""
        )
        dbd_conf.chmod(0o600)
        proc = self._spawn("slurmdbd", _which("slurmdbd"), "-D")

        def ready() -> bool:
            return _port_open(self.ports["slurmdbd"]) and self.run("sacctmgr", "-n", "list", "cluster").returncode == 0

        self._wait("slurmdbd", ready, timeout, proc)

    def _start_slurmctld(self, timeout: float) -> None:
        proc = self._spawn("slurmctld", _which("slurmctld"), "-D", "-i")
        self._wait("slurmctld", lambda: self.run("scontrol", "ping").stdout.count("UP") > 0, timeout, proc)

    def _start_slurmd(self, timeout: float) -> None:
        proc = self._spawn("slurmd", _which("slurmd"), "-D", "-N", "localhost")

        def idle() -> bool:
            return self.run("sinfo", "--noheader", "--Node", "--format=%T").stdout.strip() == "idle"

        self._wait("slurmd (node idle in sinfo)", idle, timeout, proc)

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        """Cancel this cluster's jobs, then end the daemons started here (newest first)."""
        if any(name == "slurmctld" and p.poll() is None for name, p in self.processes):
            try:
                self.run("scancel", "--full", "--user=root", check=False, timeout=20)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and self.run(
                    "squeue", "--noheader", "--format=%i", check=False, timeout=10
                ).stdout.strip():
                    time.sleep(0.5)
            except (OSError, subprocess.SubprocessError):
                pass
        for name, proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self.processes.clear()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tails(self, lines: int = 15) -> str:
        parts = []
        for path in sorted(self.log.glob("*")) if self.log.exists() else []:
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)
